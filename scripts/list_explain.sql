-- Generate :n events (psql -v n=10000 -f scripts/list_explain.sql) on a freshly migrated
-- database, then EXPLAIN the list's filters old (event_matches) and new (matching_events).
-- docs/performance.md, "List queries on indexes". Do not run it on a real database.
-- :n events with one article each, word headlines, tags on some, a complete run scoring all.
SELECT setseed(0.42);
INSERT INTO sources (name, kind, url) SELECT 'src' || i, 'rss', 'https://s' || i || '.example/feed' FROM generate_series(1, 5) i;
INSERT INTO tokens (symbol, name) SELECT 'TK' || i, 'tokenname' || i FROM generate_series(1, 50) i ON CONFLICT DO NOTHING;
INSERT INTO categories (slug, name) SELECT 'cat' || i, 'Category ' || i FROM generate_series(1, 10) i ON CONFLICT DO NOTHING;
CREATE TEMP TABLE vocab AS SELECT i, 'w' || substr(md5(i::text), 1, 6) AS w FROM generate_series(1, 2000) i;
INSERT INTO events (event_time, headline, kind)
SELECT timestamptz '2024-03-01' + (random() * 450) * interval '1 day',
       (SELECT string_agg(v.w, ' ') FROM vocab v WHERE v.i IN (SELECT 1 + floor(random() * 2000)::int + 0 * g FROM generate_series(1, 8))),
       (ARRAY['ai','etf','macro','hack'])[1 + floor(random() * 4)::int]
FROM generate_series(1, :n) g;
INSERT INTO articles (source_id, event_id, canonical_url, title, published_at, content_hash)
SELECT (SELECT id FROM sources ORDER BY id LIMIT 1) + (e.id % 5), e.id, 'https://a.example/' || e.id, e.headline, e.event_time, md5(e.id::text)
FROM events e;
INSERT INTO article_token_tags (article_id, token_id, rule, matched_text)
SELECT a.id, (SELECT min(id) FROM tokens) + (a.id % 50)::int, 'ticker', 'TK' FROM articles a WHERE a.id % 3 = 0;
INSERT INTO article_category_tags (article_id, category_id, rule, matched_text)
SELECT a.id, (SELECT min(id) FROM categories) + (a.id % 10)::int, 'keyword', 'kw' FROM articles a WHERE a.id % 2 = 0;
INSERT INTO study_runs (params_key, model, return_kind, market_proxy, interval, params, status, is_default)
SELECT 'bench', 'market-model', 'simple', 'btc', '1h', '{}'::jsonb, 'complete', true;
INSERT INTO study_event_scores (run_id, event_id, input_fingerprint, impact_score, p_value, driver)
SELECT (SELECT max(id) FROM study_runs), e.id, 'x', r * 4, exp(-r * 4), 'targets'
FROM (SELECT id, random() AS r FROM events) e;
INSERT INTO categories (slug, name) VALUES ('empty', 'Empty') ON CONFLICT DO NOTHING;
VACUUM ANALYZE;
SELECT split_part(headline, ' ', 3) AS word FROM events ORDER BY id OFFSET 77 LIMIT 1 \gset
\timing off
PREPARE old_impact(text, text) AS
SELECT sc.event_id, sc.rank_key FROM study_event_scores sc JOIN events e ON e.id = sc.event_id
WHERE sc.run_id = 1 AND event_matches(e.id, e.event_time, e.headline_tsv, e.kind, $1, $2, NULL, NULL, NULL, NULL, NULL)
ORDER BY sc.rank_key DESC, sc.event_id DESC LIMIT 51;
PREPARE new_impact(text, text) AS
SELECT sc.event_id, sc.rank_key FROM study_event_scores sc JOIN matching_events($1, $2, NULL, NULL, NULL, NULL, NULL) e ON e.id = sc.event_id
WHERE sc.run_id = 1
ORDER BY sc.rank_key DESC, sc.event_id DESC LIMIT 51;
PREPARE old_count(text, text) AS
SELECT count(*) FROM events e LEFT JOIN study_event_scores sc ON sc.run_id = 1 AND sc.event_id = e.id
WHERE event_matches(e.id, e.event_time, e.headline_tsv, e.kind, $1, $2, NULL, NULL, NULL, NULL, NULL);
PREPARE new_count(text, text) AS
SELECT count(*) FROM matching_events($1, $2, NULL, NULL, NULL, NULL, NULL) e LEFT JOIN study_event_scores sc ON sc.run_id = 1 AND sc.event_id = e.id;
\echo ===== search old
EXPLAIN (ANALYZE, COSTS OFF) EXECUTE old_impact(:'word', NULL);
\echo ===== search new
EXPLAIN (ANALYZE, COSTS OFF) EXECUTE new_impact(:'word', NULL);
\echo ===== empty category old
EXPLAIN (ANALYZE, COSTS OFF) EXECUTE old_impact(NULL, 'empty');
\echo ===== empty category new
EXPLAIN (ANALYZE, COSTS OFF) EXECUTE new_impact(NULL, 'empty');
\echo ===== no filter old
EXPLAIN (ANALYZE, COSTS OFF) EXECUTE old_impact(NULL, NULL);
\echo ===== no filter new
EXPLAIN (ANALYZE, COSTS OFF) EXECUTE new_impact(NULL, NULL);
\echo ===== count search old
EXPLAIN (ANALYZE, COSTS OFF) EXECUTE old_count(:'word', NULL);
\echo ===== count search new
EXPLAIN (ANALYZE, COSTS OFF) EXECUTE new_count(:'word', NULL);
\echo ===== count no filter new
EXPLAIN (ANALYZE, COSTS OFF) EXECUTE new_count(NULL, NULL);
