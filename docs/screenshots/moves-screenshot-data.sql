-- The rows behind docs/screenshots/moves-*.png (made up, not real data): load into a migrated database with the taxonomy, then `catalyst serve --no-ingest --no-prices --no-study --no-worker`.
CREATE OR REPLACE FUNCTION pg_temp.mv(kind text, sym text, cat text, basis text, onset timestamptz, hours int, size float8, p float8)
RETURNS bigint LANGUAGE sql AS $$
  INSERT INTO moves (series_kind, token_id, category_id, basis, direction, onset, extreme_at, resolution,
                     size_log, raw_log, z, window_hours, p_value, null_hours, n_tokens, path_start, path_step_s, path)
  VALUES (kind, (SELECT id FROM tokens WHERE symbol = sym), (SELECT id FROM categories WHERE slug = cat), basis,
          sign(size)::smallint, onset, onset + make_interval(hours => hours), '5m', size, size, 4.2 * sign(size),
          hours, p, 5000, CASE WHEN kind = 'category' THEN 14 ELSE 1 END, onset - interval '3 hours', 3600,
          ARRAY(SELECT (CASE WHEN k <= 3 THEN 0.004 * sin(k) WHEN k >= 3 + hours THEN size + 0.01 * sin(k)
                             ELSE size * (k - 3) / hours END)::real FROM generate_series(0, hours + 6) k))
  RETURNING id $$;
INSERT INTO sources (name, kind, url) VALUES ('CoinDesk', 'rss', 'https://coindesk.example/feed'),
  ('The Block', 'rss', 'https://theblock.example/feed'), ('Reuters', 'rss', 'https://reuters.example/feed');
INSERT INTO events (event_time, headline) VALUES ('2025-01-27 10:00+00', 'DeepSeek R1 tops the App Store; AI tokens slide'),
  ('2025-02-21 15:00+00', 'Bybit hacked for $1.4 billion in ETH');
INSERT INTO articles (source_id, event_id, canonical_url, title, published_at, content_hash)
SELECT s.id, e.id, 'https://news.example/' || s.id || '-' || e.id, e.headline, e.event_time + (s.id - 1) * interval '47 minutes', md5(s.name || e.headline)
FROM sources s, events e;
INSERT INTO article_token_tags (article_id, token_id, rule, matched_text, salience)
SELECT a.id, t.id, 'ticker', t.symbol, 'subject' FROM articles a JOIN events e ON e.id = a.event_id
JOIN tokens t ON t.symbol = CASE WHEN e.headline LIKE 'DeepSeek%' THEN 'FET' ELSE 'ETH' END;
SELECT pg_temp.mv('category', NULL, 'ai', 'abnormal', '2025-01-27 06:00+00', 8, -0.16, 0.0004);
SELECT pg_temp.mv('token', 'ETH', NULL, 'abnormal', '2025-02-21 14:10+00', 3, -0.075, 0.003);
SELECT pg_temp.mv('market', NULL, NULL, 'raw', '2025-03-03 01:00+00', 5, -0.091, 0.001);
SELECT pg_temp.mv('token', 'SOL', NULL, 'abnormal', '2025-03-10 19:00+00', 2, 0.064, 0.012);
SELECT pg_temp.mv('category', NULL, 'meme', 'raw', '2025-03-14 07:00+00', 11, 0.21, 0.0002);
SELECT pg_temp.mv('token', 'RENDER', NULL, 'abnormal', '2025-03-18 22:00+00', 4, -0.052, 0.02);
SELECT pg_temp.mv('token', 'LINK', NULL, 'abnormal', '2025-03-21 13:00+00', 1, 0.038, 0.04);
INSERT INTO move_matches (move_id, event_id, first_report, lag_s, share_before, is_best)
SELECT m.id, e.id, e.event_time, EXTRACT(EPOCH FROM e.event_time - m.onset)::bigint, 0.35, true
FROM moves m JOIN events e ON (m.series_kind = 'category' AND e.headline LIKE 'DeepSeek%' AND m.onset < '2025-02-01')
  OR (m.series_kind = 'token' AND e.headline LIKE 'Bybit%' AND m.onset < '2025-03-01');
-- Prices around the two stories: FET on 5m bars, the market (BTC) and ETH on 1h bars.
INSERT INTO price_bars (token_id, interval, open_time, close, source)
SELECT t.id, iv, g, 100 * exp(CASE WHEN g < e.event_time - interval '4 hours' THEN 0
       ELSE -0.09 * (1 - exp(-EXTRACT(EPOCH FROM g - (e.event_time - interval '4 hours')) / 20000.0)) END
       * CASE WHEN t.symbol = 'BTC' THEN 0.2 ELSE 1 END + 0.003 * sin(EXTRACT(EPOCH FROM g) / 1500.0)), 'shots'
FROM events e, tokens t, LATERAL (VALUES (CASE WHEN t.symbol = 'FET' THEN '5m' ELSE '1h' END)) v(iv),
     generate_series(e.event_time - interval '7 hours', e.event_time + interval '13 hours',
                     CASE WHEN t.symbol = 'FET' THEN interval '5 minutes' ELSE interval '1 hour' END) g
WHERE t.symbol IN ('FET', 'BTC', 'ETH') AND (t.symbol <> 'FET' OR e.headline LIKE 'DeepSeek%')
ON CONFLICT DO NOTHING;
