-- 0014: how exactly a report's time is known (shown beside the time, so a day-precision
-- placeholder hour is never read as exact), and search that knows token names.

ALTER TABLE articles ADD COLUMN time_precision text NOT NULL DEFAULT 'exact'
    CHECK (time_precision IN ('exact', 'hour', 'day'));
COMMENT ON COLUMN articles.time_precision IS 'How exactly published_at is known: exact (to the minute or better), hour (to the hour), day (only the date: the time of day is a placeholder). From the feed item''s <category domain="time-precision">; exact otherwise.';

ALTER TABLE events ADD COLUMN time_precision text NOT NULL DEFAULT 'exact'
    CHECK (time_precision IN ('exact', 'hour', 'day'));
COMMENT ON COLUMN events.time_precision IS 'The time precision of the earliest article, whose time is event_time.';

-- The list's search also finds the stories tagged with a token when the search is that
-- token's symbol, name or alias ("ethereum" finds the stories about ether).
CREATE OR REPLACE FUNCTION event_matches(
    p_event_id bigint, p_event_time timestamptz, p_headline_tsv tsvector, p_kind text,
    q text, category text, token text, from_time timestamptz, to_time timestamptz,
    kind text, source text
) RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT (q IS NULL OR p_headline_tsv @@ websearch_to_tsquery('english', q)
            OR EXISTS (
             SELECT 1 FROM event_token_tags g JOIN tokens t ON t.id = g.token_id
             WHERE g.event_id = p_event_id AND NOT g.ambiguous
               AND (lower(t.symbol) = lower(btrim(q)) OR lower(t.name) = lower(btrim(q))
                    OR EXISTS (SELECT 1 FROM token_aliases a
                               WHERE a.token_id = t.id AND lower(a.alias) = lower(btrim(q))))))
       AND (category IS NULL OR EXISTS (
             SELECT 1 FROM event_category_tags g JOIN categories c ON c.id = g.category_id
             WHERE g.event_id = p_event_id AND c.slug = category))
       AND (token IS NULL OR EXISTS (
             SELECT 1 FROM event_token_tags g JOIN tokens t ON t.id = g.token_id
             WHERE g.event_id = p_event_id AND t.symbol = token AND NOT g.ambiguous))
       AND (from_time IS NULL OR p_event_time >= from_time)
       AND (to_time IS NULL OR p_event_time < to_time)
       AND (kind IS NULL OR p_kind = kind)
       AND (source IS NULL OR EXISTS (
             SELECT 1 FROM articles a JOIN sources s ON s.id = a.source_id
             WHERE a.event_id = p_event_id AND s.name = source))
$$;
COMMENT ON FUNCTION event_matches IS 'The ranked list''s filters: headline search (websearch syntax; a token''s symbol, name or alias also finds the stories tagged with it), tagged category slug, named token symbol, time range [from, to), event kind, source name; NULL means any.';

CREATE OR REPLACE VIEW event_impact AS
SELECT
    e.id AS event_id,
    e.event_time,
    e.headline,
    e.kind,
    src.sources,
    COALESCE(src.n_articles, 0) AS n_articles,
    COALESCE(tok.tokens, '{}') AS tagged_tokens,
    COALESCE(cat.categories, '{}') AS tagged_categories,
    s.impact_score,
    s.driver,
    s.top_kind,
    tc.slug AS top_category,
    tt.symbol AS top_token,
    s.top_value,
    s.top_stat,
    s.top_p,
    mm.slug AS most_moved_category,
    mm.caar AS most_moved_caar,
    mm.portfolio_t AS most_moved_t,
    s.market_return,
    s.market_z,
    s.overlapping_events,
    r.run_id,
    s.computed_at,
    s.not_ranked_reason,
    s.p_value,
    s.q_value,
    (s.p_value < 0.05) AS significant,
    s.model_dependent,
    s.p_primary,
    s.p_alternative,
    s.stronger_than,
    s.top_window_start,
    s.top_window_end,
    s.top_pre_report,
    s.top_p_calibrated,
    s.top_mde,
    s.credited_to,
    s.episode_size,
    COALESCE(subj.tokens, '{}') AS subject_tokens,
    COALESCE(subj.categories, '{}') AS subject_categories,
    e.time_precision
FROM events e
LEFT JOIN current_study_run r ON true
LEFT JOIN study_event_scores s ON s.run_id = r.run_id AND s.event_id = e.id
LEFT JOIN categories tc ON tc.id = s.top_category_id
LEFT JOIN tokens tt ON tt.id = s.top_token_id
LEFT JOIN LATERAL (
    SELECT array_agg(DISTINCT so.name ORDER BY so.name) AS sources, count(*) AS n_articles
    FROM articles a JOIN sources so ON so.id = a.source_id
    WHERE a.event_id = e.id
) src ON true
LEFT JOIN LATERAL (
    SELECT array_agg(DISTINCT t.symbol ORDER BY t.symbol) AS tokens
    FROM event_token_tags g JOIN tokens t ON t.id = g.token_id
    WHERE g.event_id = e.id AND NOT g.ambiguous
) tok ON true
LEFT JOIN LATERAL (
    SELECT array_agg(DISTINCT c.slug ORDER BY c.slug) AS categories
    FROM event_category_tags g JOIN categories c ON c.id = g.category_id
    WHERE g.event_id = e.id
) cat ON true
LEFT JOIN LATERAL (
    SELECT (SELECT array_agg(DISTINCT t.symbol ORDER BY t.symbol)
            FROM event_token_tags g JOIN tokens t ON t.id = g.token_id
            WHERE g.event_id = e.id AND NOT g.ambiguous AND g.salience = 'subject') AS tokens,
           (SELECT array_agg(DISTINCT c.slug ORDER BY c.slug)
            FROM event_category_tags g JOIN categories c ON c.id = g.category_id
            WHERE g.event_id = e.id AND g.salience = 'subject') AS categories
) subj ON true
LEFT JOIN LATERAL (
    SELECT c.slug, cr.caar, cr.portfolio_t
    FROM study_category_results cr JOIN categories c ON c.id = cr.category_id
    WHERE cr.run_id = r.run_id AND cr.event_id = e.id
      AND cr.window_start = (r.params -> 'ranking_window' ->> 'start')::int
      AND cr.window_end = (r.params -> 'ranking_window' ->> 'end')::int
      AND cr.n_tokens >= (r.params ->> 'min_category_tokens')::int
    ORDER BY abs(cr.caar) DESC, c.slug
    LIMIT 1
) mm ON true;
COMMENT ON COLUMN event_impact.time_precision IS 'How exactly event_time is known: exact, hour, or day (the time of day is a placeholder).';
