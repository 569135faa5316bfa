-- Compact token results: one row per study run, event and token instead of one per
-- window (issue #17). The per-window figures are a float8[window][6] array, the
-- abnormal-return path a real[] (float4: the path feeds charts; every published figure
-- stays float8). The old tables become views with the same names and columns, so the SQL
-- interface (docs/sql.md) is unchanged.

-- The windows of each run, in the order of its parameters: window k's figures are
-- study_token_outcomes.window_values[k].
CREATE TABLE study_run_windows (
    run_id        bigint NOT NULL REFERENCES study_runs (id) ON DELETE CASCADE,
    ord           smallint NOT NULL CHECK (ord >= 1),
    window_start  integer NOT NULL,
    window_end    integer NOT NULL,
    PRIMARY KEY (run_id, ord),
    UNIQUE (run_id, window_start, window_end),
    CHECK (window_end > window_start)
);
COMMENT ON TABLE study_run_windows IS 'The event windows of each study run, numbered in the order of its parameters: window ord''s figures are study_token_outcomes.window_values[ord].';
COMMENT ON COLUMN study_run_windows.ord IS 'Position of the window (1-based), the first subscript of study_token_outcomes.window_values.';
COMMENT ON COLUMN study_run_windows.window_start IS 'First bar of the window, relative to bar 0.';
COMMENT ON COLUMN study_run_windows.window_end IS 'Bar after the window''s last bar (exclusive).';

INSERT INTO study_run_windows (run_id, ord, window_start, window_end)
SELECT r.id, w.ord, (w.v->>'start')::int, (w.v->>'end')::int
FROM study_runs r, jsonb_array_elements(r.params->'windows') WITH ORDINALITY AS w(v, ord)
ON CONFLICT DO NOTHING;

-- Columns ordered to avoid alignment padding.
CREATE TABLE study_token_outcomes (
    run_id         bigint NOT NULL REFERENCES study_runs (id) ON DELETE CASCADE,
    event_id       bigint NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    token_id       integer NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
    n_estimation   integer NOT NULL CHECK (n_estimation > 0),
    alpha          double precision NOT NULL,
    beta           double precision NOT NULL,
    sigma          double precision NOT NULL CHECK (sigma >= 0),
    df             double precision NOT NULL CHECK (df > 0),
    path_start     integer NOT NULL,
    window_values  double precision[] NOT NULL
        CHECK (array_ndims(window_values) = 2 AND array_length(window_values, 2) = 6),
    ar_path        real[] NOT NULL,
    PRIMARY KEY (run_id, event_id, token_id)
);
-- The foreign keys' deletes and the per-token history read by these.
CREATE INDEX study_token_outcomes_event_idx ON study_token_outcomes (event_id);
CREATE INDEX study_token_outcomes_token_idx ON study_token_outcomes (token_id, run_id);
COMMENT ON TABLE study_token_outcomes IS 'Per study run, event and token: the normal-return model fitted on the estimation window, every window''s figures and the abnormal-return path, in one row. Read it through the views study_token_results (one row per window), study_token_estimates and token_reaction.';
COMMENT ON COLUMN study_token_outcomes.n_estimation IS 'Bars with returns in the estimation window (m).';
COMMENT ON COLUMN study_token_outcomes.alpha IS 'Intercept per bar (market model; the mean return for mean-adjusted; 0 for market-adjusted).';
COMMENT ON COLUMN study_token_outcomes.beta IS 'Slope on the market return (market model; 1 for market-adjusted; 0 for mean-adjusted).';
COMMENT ON COLUMN study_token_outcomes.sigma IS 'Residual standard deviation per bar on the estimation window.';
COMMENT ON COLUMN study_token_outcomes.df IS 'Residual degrees of freedom: m - 2 for the market model, m - 1 otherwise.';
COMMENT ON COLUMN study_token_outcomes.path_start IS 'Bar (relative to bar 0) of the first element of ar_path.';
COMMENT ON COLUMN study_token_outcomes.window_values IS 'Per window (first subscript: study_run_windows.ord), six figures: car, car_variance, scar (NULL when undefined), token_return, market_return, car_market_adjusted; see the view study_token_results.';
COMMENT ON COLUMN study_token_outcomes.ar_path IS 'Abnormal return of each bar of the event span, from path_start, as float4 (7 significant digits).';

INSERT INTO study_token_outcomes (run_id, event_id, token_id, n_estimation, alpha, beta, sigma,
                                  df, path_start, window_values, ar_path)
SELECT e.run_id, e.event_id, e.token_id, e.n_estimation, e.alpha, e.beta, e.sigma, e.df,
       e.path_start, v.vals, e.ar_path::real[]
FROM study_token_estimates e
CROSS JOIN LATERAL (
    SELECT array_agg(ARRAY[r.car, r.car_variance, r.scar, r.token_return, r.market_return,
                           r.car_market_adjusted] ORDER BY w.ord) AS vals
    FROM study_run_windows w
    JOIN study_token_results r ON r.run_id = w.run_id AND r.event_id = e.event_id
        AND r.token_id = e.token_id AND r.window_start = w.window_start
        AND r.window_end = w.window_end
    WHERE w.run_id = e.run_id) v
WHERE v.vals IS NOT NULL;

DROP VIEW token_reaction;
DROP VIEW token_reaction_all_runs;
DROP TABLE study_token_results;
DROP TABLE study_token_estimates;

-- The old tables' names and columns, as views.
CREATE VIEW study_token_results AS
SELECT o.run_id, o.event_id, o.token_id, w.window_start, w.window_end,
       o.window_values[w.ord][1] AS car,
       o.window_values[w.ord][2] AS car_variance,
       o.window_values[w.ord][3] AS scar,
       o.window_values[w.ord][4] AS token_return,
       o.window_values[w.ord][5] AS market_return,
       o.window_values[w.ord][6] AS car_market_adjusted
FROM study_token_outcomes o
JOIN study_run_windows w ON w.run_id = o.run_id;
COMMENT ON VIEW study_token_results IS 'Per study run, event, token and event window: cumulative abnormal return and its variance (stored compactly in study_token_outcomes).';
COMMENT ON COLUMN study_token_results.run_id IS 'study_runs.id.';
COMMENT ON COLUMN study_token_results.event_id IS 'events.id.';
COMMENT ON COLUMN study_token_results.token_id IS 'tokens.id.';
COMMENT ON COLUMN study_token_results.window_start IS 'First bar of the window, relative to bar 0 (the first bar opening at or after the event time).';
COMMENT ON COLUMN study_token_results.window_end IS 'Bar after the last bar of the window (exclusive): [-24, 24) on hourly bars is t0-24h to t0+24h.';
COMMENT ON COLUMN study_token_results.car IS 'Cumulative abnormal return: the sum of the bars'' abnormal returns (fraction, -0.05 = -5%).';
COMMENT ON COLUMN study_token_results.car_variance IS 'Variance of the CAR corrected for estimation error: sigma^2 (L + L^2/m + (sum Rm_event - L mean Rm_est)^2 / SSm) for the market model, sigma^2 (L + L^2/m) otherwise.';
COMMENT ON COLUMN study_token_results.scar IS 'Standardised CAR: car / sqrt(car_variance).';
COMMENT ON COLUMN study_token_results.token_return IS 'The token''s own compounded return over the window.';
COMMENT ON COLUMN study_token_results.market_return IS 'Its market series'' compounded return over the window.';
COMMENT ON COLUMN study_token_results.car_market_adjusted IS 'Sum of (R - R_market) over the window: the naive market-adjusted CAR, shown beside the model''s.';

CREATE VIEW study_token_estimates AS
SELECT run_id, event_id, token_id, alpha, beta, sigma, df, n_estimation, path_start,
       ar_path::double precision[] AS ar_path
FROM study_token_outcomes;
COMMENT ON VIEW study_token_estimates IS 'Per study run, event and token: the normal-return model fitted on the estimation window, and the abnormal-return path (stored in study_token_outcomes).';
COMMENT ON COLUMN study_token_estimates.run_id IS 'study_runs.id.';
COMMENT ON COLUMN study_token_estimates.event_id IS 'events.id.';
COMMENT ON COLUMN study_token_estimates.token_id IS 'tokens.id.';
COMMENT ON COLUMN study_token_estimates.alpha IS 'Intercept per bar (market model; the mean return for mean-adjusted; 0 for market-adjusted).';
COMMENT ON COLUMN study_token_estimates.beta IS 'Slope on the market return (market model; 1 for market-adjusted; 0 for mean-adjusted).';
COMMENT ON COLUMN study_token_estimates.sigma IS 'Residual standard deviation per bar on the estimation window.';
COMMENT ON COLUMN study_token_estimates.df IS 'Residual degrees of freedom: m - 2 for the market model, m - 1 otherwise.';
COMMENT ON COLUMN study_token_estimates.n_estimation IS 'Bars with returns in the estimation window (m).';
COMMENT ON COLUMN study_token_estimates.path_start IS 'Bar (relative to bar 0) of the first element of ar_path.';
COMMENT ON COLUMN study_token_estimates.ar_path IS 'Abnormal return of each bar of the event span, from path_start (stored as float4).';

------------------------------------------------------------------------------
-- token_reaction: event x token x window.
------------------------------------------------------------------------------
CREATE VIEW token_reaction_all_runs AS
SELECT
    r.run_id,
    sr.model,
    sr.market_proxy,
    sr.interval,
    r.event_id,
    e.event_time,
    e.headline,
    t.symbol AS token,
    t.name AS token_name,
    ARRAY(SELECT c.slug FROM token_categories tc JOIN categories c ON c.id = tc.category_id
          WHERE tc.token_id = t.id ORDER BY c.slug) AS categories,
    EXISTS (SELECT 1 FROM event_token_tags g
            WHERE g.event_id = r.event_id AND g.token_id = r.token_id AND NOT g.ambiguous) AS is_tagged,
    r.window_start,
    r.window_end,
    format('[%s,%s)', r.window_start, r.window_end) AS window_label,
    r.car,
    r.car_variance,
    r.scar,
    r.token_return,
    r.market_return,
    r.car_market_adjusted,
    est.alpha,
    est.beta,
    est.sigma,
    est.n_estimation
FROM study_token_results r
JOIN study_runs sr ON sr.id = r.run_id AND sr.status = 'complete'
JOIN events e ON e.id = r.event_id
JOIN tokens t ON t.id = r.token_id
JOIN study_token_outcomes est ON est.run_id = r.run_id AND est.event_id = r.event_id
    AND est.token_id = r.token_id;
COMMENT ON VIEW token_reaction_all_runs IS 'Per complete study run, event, token and event window: the token''s CAR, its variance and the fitted model. token_reaction keeps the current run.';

CREATE VIEW token_reaction AS
SELECT v.* FROM token_reaction_all_runs v JOIN current_study_run c ON c.run_id = v.run_id;
COMMENT ON VIEW token_reaction IS 'Per event, token and event window, in the current study run: the cumulative abnormal return (CAR), its estimation-corrected variance, and the normal-return model fitted on the estimation window.';

DO $$
DECLARE v text;
BEGIN
    FOREACH v IN ARRAY ARRAY['token_reaction_all_runs', 'token_reaction'] LOOP
        EXECUTE format($c$
            COMMENT ON COLUMN %1$I.run_id IS 'study_runs.id: one run per parameter set.';
            COMMENT ON COLUMN %1$I.model IS 'Normal-return model of the run.';
            COMMENT ON COLUMN %1$I.market_proxy IS 'Market proxy of the run (BTC, ETH, equal-weighted index, value-weighted index).';
            COMMENT ON COLUMN %1$I.interval IS 'Bar interval (1h, 1d); windows count these bars.';
            COMMENT ON COLUMN %1$I.event_id IS 'events.id.';
            COMMENT ON COLUMN %1$I.event_time IS 'Event time (UTC), t0.';
            COMMENT ON COLUMN %1$I.headline IS 'Event headline.';
            COMMENT ON COLUMN %1$I.token IS 'Token symbol (BTC, FET, ...).';
            COMMENT ON COLUMN %1$I.token_name IS 'Token display name.';
            COMMENT ON COLUMN %1$I.categories IS 'Slugs of the token''s categories.';
            COMMENT ON COLUMN %1$I.is_tagged IS 'True when the event''s articles name this token (unambiguously).';
            COMMENT ON COLUMN %1$I.window_start IS 'First bar of the window relative to bar 0.';
            COMMENT ON COLUMN %1$I.window_end IS 'Bar after the window''s last bar (exclusive).';
            COMMENT ON COLUMN %1$I.window_label IS 'The window as text, [start,end).';
            COMMENT ON COLUMN %1$I.car IS 'Cumulative abnormal return over the window (fraction, -0.05 = -5%%).';
            COMMENT ON COLUMN %1$I.car_variance IS 'Variance of the CAR, corrected for estimation error.';
            COMMENT ON COLUMN %1$I.scar IS 'Standardised CAR, car / sqrt(car_variance): the token''s own t statistic.';
            COMMENT ON COLUMN %1$I.token_return IS 'The token''s compounded return over the window.';
            COMMENT ON COLUMN %1$I.market_return IS 'The market proxy''s compounded return over the window.';
            COMMENT ON COLUMN %1$I.car_market_adjusted IS 'Sum of (R - R_market): the naive market-adjusted CAR.';
            COMMENT ON COLUMN %1$I.alpha IS 'Fitted intercept per bar.';
            COMMENT ON COLUMN %1$I.beta IS 'Fitted slope on the market return.';
            COMMENT ON COLUMN %1$I.sigma IS 'Residual standard deviation per bar on the estimation window.';
            COMMENT ON COLUMN %1$I.n_estimation IS 'Bars with returns in the estimation window.';
        $c$, v);
    END LOOP;
END $$;


------------------------------------------------------------------------------
-- The pages at 100,000 events: counts without scans.
------------------------------------------------------------------------------
-- The front page counts the run's significant scores, and the live status the stories
-- awaiting prices: both are few, and found through these partial indexes.
CREATE INDEX study_event_scores_significant_idx ON study_event_scores (run_id)
    WHERE p_value < 0.05;
CREATE INDEX study_event_scores_awaiting_idx ON study_event_scores (run_id)
    WHERE not_ranked_reason LIKE 'awaiting prices%';
