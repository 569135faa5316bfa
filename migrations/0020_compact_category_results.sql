-- Compact category results: one row per study run, event and category instead of one per
-- window (issue #17; migration 0019 did the same for tokens). At 10,000 events the old
-- table held 1.2 M rows and took 28 s of a 52 s study to write. The per-window figures
-- are a float8[window][22] array (window k is study_run_windows.ord = k), the CAAR path a
-- real[] stored once. study_category_results becomes a view with the old columns, so the
-- SQL interface (docs/sql.md) is unchanged.

-- Columns ordered to avoid alignment padding.
CREATE TABLE study_category_outcomes (
    run_id         bigint NOT NULL REFERENCES study_runs (id) ON DELETE CASCADE,
    event_id       bigint NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    category_id    integer NOT NULL REFERENCES categories (id) ON DELETE CASCADE,
    window_values  double precision[] NOT NULL
        CHECK (array_ndims(window_values) = 2 AND array_length(window_values, 2) = 22),
    caar_path      real[],
    window_mask    integer NOT NULL CHECK (window_mask >= 0),
    PRIMARY KEY (run_id, event_id, category_id)
);
-- The foreign key's deletes of an event.
CREATE INDEX study_category_outcomes_event_idx ON study_category_outcomes (event_id);
-- The list's counts when it is sorted by a category's |CAAR| (which stories have one in
-- the window): an index-only scan, where reading window_values would fetch every row.
CREATE INDEX study_category_outcomes_category_idx ON study_category_outcomes
    (run_id, category_id, event_id) INCLUDE (window_mask);
-- The list sorted by a category's |CAAR| in a window walks one of these (keyset pages):
-- an expression index cannot take the window as a parameter, so there is one per window
-- position. The pages plan each query with its parameters (plan_cache_mode =
-- force_custom_plan), which turns window_values[$k] into window_values[3] and lets the
-- planner match the index. Runs have six windows (hourly and daily defaults); a seventh
-- window of custom parameters is sorted by reading the category's rows (no index).
CREATE INDEX study_category_outcomes_caar1_idx ON study_category_outcomes
    (run_id, category_id, abs(window_values[1][2]) DESC NULLS LAST, event_id DESC);
CREATE INDEX study_category_outcomes_caar2_idx ON study_category_outcomes
    (run_id, category_id, abs(window_values[2][2]) DESC NULLS LAST, event_id DESC);
CREATE INDEX study_category_outcomes_caar3_idx ON study_category_outcomes
    (run_id, category_id, abs(window_values[3][2]) DESC NULLS LAST, event_id DESC);
CREATE INDEX study_category_outcomes_caar4_idx ON study_category_outcomes
    (run_id, category_id, abs(window_values[4][2]) DESC NULLS LAST, event_id DESC);
CREATE INDEX study_category_outcomes_caar5_idx ON study_category_outcomes
    (run_id, category_id, abs(window_values[5][2]) DESC NULLS LAST, event_id DESC);
CREATE INDEX study_category_outcomes_caar6_idx ON study_category_outcomes
    (run_id, category_id, abs(window_values[6][2]) DESC NULLS LAST, event_id DESC);
COMMENT ON TABLE study_category_outcomes IS 'Per study run, event and token category: every window''s CAAR and test battery, and the CAAR path, in one row. Read it through the views study_category_results (one row per window) and category_reaction.';
COMMENT ON COLUMN study_category_outcomes.window_values IS 'Per window (first subscript: study_run_windows.ord), 22 figures in the column order of the view study_category_results: n_tokens, caar, caar_value_weighted, cross_sd, t_stat, p_value, patell_z, patell_p, bmp_t, bmp_p, kp_t, kp_p, mean_cross_correlation, portfolio_car, portfolio_t, portfolio_p, portfolio_sigma, rank_z, rank_p, sign_z, sign_p, n_positive. A window without results is a row of NULLs.';
COMMENT ON COLUMN study_category_outcomes.window_mask IS 'Bit k - 1 set when window k (study_run_windows.ord) has results: the windows whose row of window_values is not NULL.';
COMMENT ON COLUMN study_category_outcomes.caar_path IS 'Cumulative mean abnormal return per bar of the event span (from the span''s first bar), as float4 (7 significant digits): the same in every window.';

INSERT INTO study_category_outcomes (run_id, event_id, category_id, window_values, caar_path,
                                     window_mask)
SELECT k.run_id, k.event_id, k.category_id,
       (SELECT array_agg(COALESCE(
                   (SELECT ARRAY[r.n_tokens::float8, r.caar, r.caar_value_weighted, r.cross_sd, r.t_stat, r.p_value, r.patell_z, r.patell_p, r.bmp_t, r.bmp_p, r.kp_t, r.kp_p, r.mean_cross_correlation, r.portfolio_car, r.portfolio_t, r.portfolio_p, r.portfolio_sigma, r.rank_z, r.rank_p, r.sign_z, r.sign_p, r.n_positive::float8]
                    FROM study_category_results r
                    WHERE r.run_id = k.run_id AND r.event_id = k.event_id
                      AND r.category_id = k.category_id AND r.window_start = w.window_start
                      AND r.window_end = w.window_end),
                   array_fill(NULL::float8, ARRAY[22])) ORDER BY w.ord)
        FROM study_run_windows w WHERE w.run_id = k.run_id),
       (SELECT r.caar_path::real[] FROM study_category_results r
        WHERE r.run_id = k.run_id AND r.event_id = k.event_id AND r.category_id = k.category_id
          AND r.caar_path IS NOT NULL
        LIMIT 1),
       (SELECT COALESCE(sum(1 << (w.ord - 1)), 0)::integer
        FROM study_run_windows w
        JOIN study_category_results r ON r.run_id = k.run_id AND r.event_id = k.event_id
            AND r.category_id = k.category_id AND r.window_start = w.window_start
            AND r.window_end = w.window_end
        WHERE w.run_id = k.run_id)
FROM (SELECT DISTINCT run_id, event_id, category_id FROM study_category_results) k
WHERE EXISTS (SELECT 1 FROM study_run_windows w WHERE w.run_id = k.run_id);

-- The dependent views read the table by identity: rename it away, create the view under
-- its name, restate the dependents (CREATE OR REPLACE keeps their column comments), drop it.
ALTER TABLE study_category_results RENAME TO study_category_results_before_0020;

CREATE VIEW study_category_results AS
SELECT o.run_id, o.event_id, o.category_id, w.window_start, w.window_end,
       o.window_values[w.ord][1]::integer AS n_tokens,
       o.window_values[w.ord][2] AS caar,
       o.window_values[w.ord][3] AS caar_value_weighted,
       o.window_values[w.ord][4] AS cross_sd,
       o.window_values[w.ord][5] AS t_stat,
       o.window_values[w.ord][6] AS p_value,
       o.window_values[w.ord][7] AS patell_z,
       o.window_values[w.ord][8] AS patell_p,
       o.window_values[w.ord][9] AS bmp_t,
       o.window_values[w.ord][10] AS bmp_p,
       o.window_values[w.ord][11] AS kp_t,
       o.window_values[w.ord][12] AS kp_p,
       o.window_values[w.ord][13] AS mean_cross_correlation,
       o.window_values[w.ord][14] AS portfolio_car,
       o.window_values[w.ord][15] AS portfolio_t,
       o.window_values[w.ord][16] AS portfolio_p,
       o.window_values[w.ord][17] AS portfolio_sigma,
       o.window_values[w.ord][18] AS rank_z,
       o.window_values[w.ord][19] AS rank_p,
       o.window_values[w.ord][20] AS sign_z,
       o.window_values[w.ord][21] AS sign_p,
       o.window_values[w.ord][22]::integer AS n_positive,
       o.caar_path::double precision[] AS caar_path
FROM study_category_outcomes o
JOIN study_run_windows w ON w.run_id = o.run_id
WHERE o.window_values[w.ord][1] IS NOT NULL;
COMMENT ON VIEW study_category_results IS 'Per event, category and window: the cumulative average abnormal return (CAAR) and the test battery (stored compactly in study_category_outcomes). portfolio_* and kp_* are robust to the tokens'' cross-correlation; t_stat, patell_* and bmp_* are naive.';
COMMENT ON COLUMN study_category_results.n_tokens IS 'Tokens of the category with results (N).';
COMMENT ON COLUMN study_category_results.caar IS 'Equal-weighted mean CAR of the category''s tokens.';
COMMENT ON COLUMN study_category_results.caar_value_weighted IS 'Market-cap-weighted mean CAR (caps at the bar before the window); NULL unless every token has a cap.';
COMMENT ON COLUMN study_category_results.cross_sd IS 'Cross-sectional sample standard deviation of the CARs (N - 1).';
COMMENT ON COLUMN study_category_results.t_stat IS 'Naive cross-sectional t = CAAR / (cross_sd / sqrt(N)), N - 1 df.';
COMMENT ON COLUMN study_category_results.p_value IS 'Two-sided p-value of t_stat.';
COMMENT ON COLUMN study_category_results.patell_z IS 'Naive Patell Z: sum of standardised CARs / sqrt(sum df/(df - 2)).';
COMMENT ON COLUMN study_category_results.bmp_t IS 'Naive Boehmer-Musumeci-Poulsen t: cross-sectional t of the standardised CARs.';
COMMENT ON COLUMN study_category_results.kp_t IS 'Kolari-Pynnonen adjusted BMP: bmp_t sqrt((1 - r)/(1 + (N - 1) r)), r = mean_cross_correlation. Robust.';
COMMENT ON COLUMN study_category_results.mean_cross_correlation IS 'Average pairwise correlation of the tokens'' standardised estimation-window residuals.';
COMMENT ON COLUMN study_category_results.portfolio_car IS 'CAR of the category''s equal-weighted portfolio treated as one series through the same model.';
COMMENT ON COLUMN study_category_results.portfolio_t IS 'Portfolio test: portfolio_car / sqrt(its CAR variance), t with the portfolio''s residual df. Robust; the default for ranking.';
COMMENT ON COLUMN study_category_results.portfolio_sigma IS 'Residual standard deviation per bar of the portfolio series on the estimation window (for the no-event band on charts).';
COMMENT ON COLUMN study_category_results.rank_z IS 'Corrado rank test, multi-bar form (Cowan 1992).';
COMMENT ON COLUMN study_category_results.sign_z IS 'Generalised sign test (Cowan 1992): positive CARs against the estimation-window share of positive ARs.';
COMMENT ON COLUMN study_category_results.n_positive IS 'Tokens with a positive CAR.';
COMMENT ON COLUMN study_category_results.caar_path IS 'Cumulative mean abnormal return per bar of the event span (from the span''s first bar; stored as float4, the same in every window).';
COMMENT ON COLUMN study_category_results.patell_p IS 'Two-sided p-value of patell_z.';
COMMENT ON COLUMN study_category_results.bmp_p IS 'Two-sided p-value of bmp_t.';
COMMENT ON COLUMN study_category_results.kp_p IS 'Two-sided p-value of kp_t.';
COMMENT ON COLUMN study_category_results.portfolio_p IS 'Two-sided p-value of portfolio_t.';
COMMENT ON COLUMN study_category_results.rank_p IS 'Two-sided p-value of rank_z.';
COMMENT ON COLUMN study_category_results.sign_p IS 'Two-sided p-value of sign_z.';
COMMENT ON COLUMN study_category_results.run_id IS 'study_runs.id.';
COMMENT ON COLUMN study_category_results.event_id IS 'events.id.';
COMMENT ON COLUMN study_category_results.category_id IS 'categories.id.';
COMMENT ON COLUMN study_category_results.window_start IS 'First bar of the window, relative to bar 0.';
COMMENT ON COLUMN study_category_results.window_end IS 'Bar after the window''s last bar (exclusive).';

CREATE OR REPLACE VIEW category_reaction_all_runs AS
SELECT
    cr.run_id,
    sr.model,
    sr.market_proxy,
    sr.interval,
    cr.event_id,
    e.event_time,
    e.headline,
    c.slug AS category,
    c.name AS category_name,
    EXISTS (SELECT 1 FROM event_category_tags g
            WHERE g.event_id = cr.event_id AND g.category_id = cr.category_id) AS is_tagged,
    cr.window_start,
    cr.window_end,
    format('[%s,%s)', cr.window_start, cr.window_end) AS window_label,
    cr.n_tokens,
    cr.caar,
    cr.caar_value_weighted,
    cr.cross_sd,
    cr.t_stat,
    cr.p_value,
    cr.patell_z,
    cr.patell_p,
    cr.bmp_t,
    cr.bmp_p,
    cr.kp_t,
    cr.kp_p,
    cr.mean_cross_correlation,
    cr.portfolio_car,
    cr.portfolio_t,
    cr.portfolio_p,
    cr.rank_z,
    cr.rank_p,
    cr.sign_z,
    cr.sign_p,
    cr.n_positive,
    mv.market_return,
    mv.z AS market_z
FROM study_category_results cr
JOIN study_runs sr ON sr.id = cr.run_id AND sr.status = 'complete'
JOIN events e ON e.id = cr.event_id
JOIN categories c ON c.id = cr.category_id
LEFT JOIN study_market_moves mv ON mv.run_id = cr.run_id AND mv.event_id = cr.event_id
    AND mv.window_start = cr.window_start AND mv.window_end = cr.window_end;

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

DROP TABLE study_category_results_before_0020;
