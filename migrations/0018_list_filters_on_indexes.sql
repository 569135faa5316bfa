-- 0018: the list's filters, answered from indexes.
--
-- event_matches (0001, 0014) is a scalar SQL function with sub-selects, and PostgreSQL
-- never inlines such a function: the list called it once per candidate row, each call a
-- fresh executor (about 160 us), so a filter matching nothing walked every scored event
-- (1.6 s at 10,000 events) and the headline's GIN index was never used.
--
-- matching_events is a set-returning SQL function with a single SELECT, STABLE, neither
-- STRICT nor SECURITY DEFINER nor SET: PostgreSQL inlines it into the calling query as a
-- subquery on events. Each filter is an uncorrelated `e.id IN (SELECT ...)`, which the
-- planner runs once (the search through the GIN index, the tags through their token or
-- category index) and probes as a hashed set per row; when the filter is NULL the OR
-- short-circuits and the set is never built. The arguments are qualified with the
-- function's name: an unqualified `kind` or `source` would be read as a column.
CREATE FUNCTION matching_events(
    q text, category text, token text, from_time timestamptz, to_time timestamptz,
    kind text, source text
) RETURNS SETOF events LANGUAGE sql STABLE AS $$
    SELECT e.* FROM events e
    WHERE (matching_events.q IS NULL
           OR e.id IN (SELECT x.id FROM events x
                       WHERE x.headline_tsv @@ websearch_to_tsquery('english', matching_events.q))
           OR e.id IN (SELECT g.event_id
                       FROM event_token_tags g JOIN tokens t ON t.id = g.token_id
                       WHERE NOT g.ambiguous
                         AND (lower(t.symbol) = lower(btrim(matching_events.q))
                              OR lower(t.name) = lower(btrim(matching_events.q))
                              OR EXISTS (SELECT 1 FROM token_aliases a
                                         WHERE a.token_id = t.id
                                           AND lower(a.alias) = lower(btrim(matching_events.q))))))
      AND (matching_events.category IS NULL
           OR e.id IN (SELECT g.event_id
                       FROM event_category_tags g JOIN categories c ON c.id = g.category_id
                       WHERE c.slug = matching_events.category))
      AND (matching_events.token IS NULL
           OR e.id IN (SELECT g.event_id
                       FROM event_token_tags g JOIN tokens t ON t.id = g.token_id
                       WHERE t.symbol = matching_events.token AND NOT g.ambiguous))
      AND (matching_events.from_time IS NULL OR e.event_time >= matching_events.from_time)
      AND (matching_events.to_time IS NULL OR e.event_time < matching_events.to_time)
      AND (matching_events.kind IS NULL OR e.kind = matching_events.kind)
      AND (matching_events.source IS NULL
           OR e.id IN (SELECT a.event_id
                       FROM articles a JOIN sources s ON s.id = a.source_id
                       WHERE s.name = matching_events.source))
$$;
COMMENT ON FUNCTION matching_events IS 'The events that pass the ranked list''s filters: headline search (websearch syntax; a token''s symbol, name or alias also finds the stories tagged with it), tagged category slug, named token symbol, time range [from, to), event kind, source name; NULL means any. Inlined by the planner: use it in FROM (FROM matching_events(''etf'', NULL, NULL, NULL, NULL, NULL, NULL) e), where the search uses the headline''s GIN index.';

COMMENT ON FUNCTION event_matches IS 'The ranked list''s filters for one event: headline search (websearch syntax; a token''s symbol, name or alias also finds the stories tagged with it), tagged category slug, named token symbol, time range [from, to), event kind, source name; NULL means any. Evaluated row by row (never inlined, no index): to filter many events, use matching_events in FROM.';

