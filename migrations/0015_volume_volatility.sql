-- Volume, volatility and taker flow (issue 15): every field a provider gives is stored
-- beside the prices, and the study measures abnormal volume, abnormal (range-based)
-- volatility and taker-buy share per event, token and category. See docs/study.md,
-- "Volume and volatility".

ALTER TABLE price_bars
    ADD COLUMN base_volume     double precision CHECK (base_volume >= 0),
    ADD COLUMN trades          bigint CHECK (trades >= 0),
    ADD COLUMN taker_buy_base  double precision CHECK (taker_buy_base >= 0),
    ADD COLUMN taker_buy_quote double precision CHECK (taker_buy_quote >= 0),
    ADD COLUMN volume_24h      double precision CHECK (volume_24h >= 0);
COMMENT ON COLUMN price_bars.volume IS 'Traded volume over the bar in the quote currency (USDT), if known (Binance quote_asset_volume; a CSV quote_volume column).';
COMMENT ON COLUMN price_bars.base_volume IS 'Traded volume over the bar in the base asset (BTC for BTC), if known (Binance volume; a CSV volume column). The study''s abnormal volume uses it, or the quote volume when it is missing.';
COMMENT ON COLUMN price_bars.trades IS 'Number of trades in the bar (Binance klines), if known.';
COMMENT ON COLUMN price_bars.taker_buy_base IS 'Base-asset volume bought by takers (aggressive buyers), if known: taker_buy_base / base_volume is the taker-buy share.';
COMMENT ON COLUMN price_bars.taker_buy_quote IS 'Quote-currency volume bought by takers, if known.';
COMMENT ON COLUMN price_bars.volume_24h IS 'Rolling 24-hour quote volume at the bar''s close (CoinGecko total_volumes): not the bar''s own volume, so the study does not use it.';

------------------------------------------------------------------------------
-- Study results
------------------------------------------------------------------------------
CREATE TABLE study_activity (
    run_id                 bigint NOT NULL REFERENCES study_runs (id) ON DELETE CASCADE,
    event_id               bigint NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    -- Exactly one of token_id and category_id: a token's own series or a category's.
    token_id               integer REFERENCES tokens (id) ON DELETE CASCADE,
    category_id            integer REFERENCES categories (id) ON DELETE CASCADE,
    measure                text NOT NULL CHECK (measure IN ('volume', 'volatility', 'taker-buy')),
    window_start           integer NOT NULL,
    window_end             integer NOT NULL,
    n_tokens               integer NOT NULL CHECK (n_tokens > 0),
    raw_excess             double precision NOT NULL,
    abnormal               double precision NOT NULL,
    z                      double precision,
    p_value                double precision CHECK (p_value BETWEEN 0 AND 1),
    null_hours             integer NOT NULL DEFAULT 0 CHECK (null_hours >= 0),
    CHECK ((token_id IS NULL) <> (category_id IS NULL)),
    CHECK (window_end > window_start)
);
CREATE UNIQUE INDEX study_activity_token_key ON study_activity (run_id, event_id, token_id, measure, window_start, window_end) WHERE token_id IS NOT NULL;
CREATE UNIQUE INDEX study_activity_category_key ON study_activity (run_id, event_id, category_id, measure, window_start, window_end) WHERE category_id IS NOT NULL;
CREATE INDEX study_activity_event_idx ON study_activity (event_id);
COMMENT ON TABLE study_activity IS 'Per run, event, token or category, measure and window: abnormal volume, abnormal range-based volatility or abnormal taker-buy share against the estimation window, with its test calibrated at ordinary hours. See docs/study.md, "Volume and volatility".';
COMMENT ON COLUMN study_activity.token_id IS 'The token, for a token''s own series (NULL for a category).';
COMMENT ON COLUMN study_activity.category_id IS 'The category, for its equal-weighted aggregate (NULL for a token).';
COMMENT ON COLUMN study_activity.measure IS 'volume: log volume; volatility: Parkinson range variance; taker-buy: taker-buy share of daily volume.';
COMMENT ON COLUMN study_activity.window_start IS 'First bar of the window relative to bar 0 (hours; days for taker-buy).';
COMMENT ON COLUMN study_activity.window_end IS 'Bar after the window''s last bar (exclusive).';
COMMENT ON COLUMN study_activity.n_tokens IS 'Tokens in the aggregate (1 for a token).';
COMMENT ON COLUMN study_activity.raw_excess IS 'volume: mean log volume in the window minus its estimation-window mean (0.8 = 2.2x); volatility: ln of the window''s mean range variance over the estimation mean (ln 8 = 8x); taker-buy: window share minus the estimation mean share. No seasonal adjustment.';
COMMENT ON COLUMN study_activity.abnormal IS 'The same excess against the seasonal normal (hour-of-day and weekday profile fitted on the estimation window): what the test judges.';
COMMENT ON COLUMN study_activity.z IS 'abnormal divided by the standard deviation of the same measure over window-long stretches of the estimation window.';
COMMENT ON COLUMN study_activity.p_value IS 'Calibrated two-sided p: the share of ordinary hours (the study''s null sample) whose z for this series and window is at least as extreme; NULL when too few ordinary hours.';
COMMENT ON COLUMN study_activity.null_hours IS 'Ordinary hours in the calibration of this series and window.';

------------------------------------------------------------------------------
-- Views
------------------------------------------------------------------------------
CREATE VIEW activity_reaction_all_runs AS
SELECT
    a.run_id,
    a.event_id,
    e.event_time,
    e.headline,
    CASE WHEN a.token_id IS NULL THEN 'category' ELSE 'token' END AS level,
    COALESCE(t.symbol, c.slug) AS series,
    a.measure,
    a.window_start,
    a.window_end,
    format('[%s,%s)', a.window_start, a.window_end) AS window_label,
    a.n_tokens,
    a.raw_excess,
    CASE a.measure WHEN 'taker-buy' THEN NULL ELSE exp(a.raw_excess) END AS raw_ratio,
    a.abnormal,
    CASE a.measure WHEN 'taker-buy' THEN NULL ELSE exp(a.abnormal) END AS abnormal_ratio,
    a.z,
    a.p_value,
    a.null_hours
FROM study_activity a
JOIN study_runs sr ON sr.id = a.run_id AND sr.status = 'complete'
JOIN events e ON e.id = a.event_id
LEFT JOIN tokens t ON t.id = a.token_id
LEFT JOIN categories c ON c.id = a.category_id;
COMMENT ON VIEW activity_reaction_all_runs IS 'Per complete study run, event, token or category, measure and window: abnormal volume, volatility and taker-buy share. activity_reaction keeps the current run.';

CREATE VIEW activity_reaction AS
SELECT v.* FROM activity_reaction_all_runs v JOIN current_study_run c ON c.run_id = v.run_id;
COMMENT ON VIEW activity_reaction IS 'Per event, token or category, measure and window, in the current study run: volume, volatility and taker flow against their normal levels, with calibrated p-values.';

DO $$
DECLARE v text;
BEGIN
    FOREACH v IN ARRAY ARRAY['activity_reaction_all_runs', 'activity_reaction'] LOOP
        EXECUTE format($c$
            COMMENT ON COLUMN %1$I.run_id IS 'study_runs.id: one run per parameter set.';
            COMMENT ON COLUMN %1$I.event_id IS 'events.id.';
            COMMENT ON COLUMN %1$I.event_time IS 'Event time (UTC), t0.';
            COMMENT ON COLUMN %1$I.headline IS 'Event headline.';
            COMMENT ON COLUMN %1$I.level IS 'token (the token''s own series) or category (the equal-weighted aggregate of its tokens).';
            COMMENT ON COLUMN %1$I.series IS 'Token symbol or category slug.';
            COMMENT ON COLUMN %1$I.measure IS 'volume (log volume), volatility (Parkinson range variance) or taker-buy (taker-buy share of daily volume).';
            COMMENT ON COLUMN %1$I.window_start IS 'First bar of the window relative to bar 0 (hours; days for taker-buy).';
            COMMENT ON COLUMN %1$I.window_end IS 'Bar after the window''s last bar (exclusive).';
            COMMENT ON COLUMN %1$I.window_label IS 'The window as text, [start,end).';
            COMMENT ON COLUMN %1$I.n_tokens IS 'Tokens in the aggregate (1 for a token).';
            COMMENT ON COLUMN %1$I.raw_excess IS 'Excess over the estimation-window mean, no seasonal adjustment: log volume, ln variance ratio, or taker-buy share points.';
            COMMENT ON COLUMN %1$I.raw_ratio IS 'exp(raw_excess): volume or range variance as a multiple of the estimation-window level (NULL for taker-buy).';
            COMMENT ON COLUMN %1$I.abnormal IS 'Excess over the seasonal normal (hour-of-day and weekday profile): what the test judges.';
            COMMENT ON COLUMN %1$I.abnormal_ratio IS 'exp(abnormal): the multiple of the seasonal normal (NULL for taker-buy).';
            COMMENT ON COLUMN %1$I.z IS 'abnormal over its standard deviation across window-long stretches of the estimation window.';
            COMMENT ON COLUMN %1$I.p_value IS 'Calibrated two-sided p against ordinary hours (NULL when too few).';
            COMMENT ON COLUMN %1$I.null_hours IS 'Ordinary hours in the calibration.';
        $c$, v);
    END LOOP;
END $$;

-- price_bars_hourly gains the new fields and the range variance (columns appended: the
-- view's existing columns keep their names and order).
CREATE OR REPLACE VIEW price_bars_hourly AS
SELECT
    t.symbol AS token,
    p.open_time,
    p.open_time + interval '1 hour' AS close_time,
    p.open,
    p.high,
    p.low,
    p.close,
    p.volume,
    p.market_cap,
    p.close / prev.close - 1 AS simple_return,
    ln(p.close / prev.close) AS log_return,
    p.source,
    p.base_volume,
    p.trades,
    p.taker_buy_base,
    p.taker_buy_quote,
    ln(p.high / p.low) ^ 2 / (4 * ln(2)) AS range_variance
FROM price_bars p
JOIN tokens t ON t.id = p.token_id
LEFT JOIN price_bars prev ON prev.token_id = p.token_id AND prev.interval = '1h'
    AND prev.open_time = p.open_time - interval '1 hour'
WHERE p.interval = '1h';
COMMENT ON COLUMN price_bars_hourly.volume IS 'Traded volume in the quote currency (USDT), if known.';
COMMENT ON COLUMN price_bars_hourly.base_volume IS 'Traded volume in the base asset, if known.';
COMMENT ON COLUMN price_bars_hourly.trades IS 'Number of trades, if known.';
COMMENT ON COLUMN price_bars_hourly.taker_buy_base IS 'Base-asset volume bought by takers, if known.';
COMMENT ON COLUMN price_bars_hourly.taker_buy_quote IS 'Quote volume bought by takers, if known.';
COMMENT ON COLUMN price_bars_hourly.range_variance IS 'Parkinson range variance of the bar, ln(high/low)^2 / (4 ln 2), when high and low are known: the per-bar volatility the study''s abnormal volatility sums.';
