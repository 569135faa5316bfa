-- The public SQL interface for analysts: stable views over the tables.
--
-- Tables may change between releases; these views keep their names and columns (new
-- columns may be appended). docs/sql.md documents them with worked queries.
--
-- Each *_all_runs view covers every complete study run (one per parameter set); the view
-- without the suffix keeps only the current run, the one the web pages show: the default
-- parameters' run when complete, else the latest complete run.

ALTER TABLE study_runs ADD COLUMN is_default boolean NOT NULL DEFAULT false;
COMMENT ON COLUMN study_runs.is_default IS 'True for the run of the built-in default parameters (hourly market model, BTC proxy): the run the web and the SQL views show first.';

CREATE VIEW current_study_run AS
SELECT id AS run_id, model, return_kind, market_proxy, interval, params, finished_at
FROM study_runs
WHERE status = 'complete'
ORDER BY is_default DESC, finished_at DESC
LIMIT 1;
COMMENT ON VIEW current_study_run IS 'The study run the web pages and the un-suffixed views show: the default parameters'' run when complete, else the latest complete run. Zero rows before the first study.';
COMMENT ON COLUMN current_study_run.run_id IS 'study_runs.id of the run.';
COMMENT ON COLUMN current_study_run.model IS 'Normal-return model: market-model, market-adjusted or mean-adjusted.';
COMMENT ON COLUMN current_study_run.return_kind IS 'simple or log returns.';
COMMENT ON COLUMN current_study_run.market_proxy IS 'Market return series: BTC, ETH, equal-weighted index or value-weighted index.';
COMMENT ON COLUMN current_study_run.interval IS 'Bar interval of the price grid: 1h or 1d. Windows are counted in these bars.';
COMMENT ON COLUMN current_study_run.params IS 'Every parameter as JSON (estimation window, windows, ranking_window, min_category_tokens, ...).';
COMMENT ON COLUMN current_study_run.finished_at IS 'When the run last completed.';

------------------------------------------------------------------------------
-- event_impact: one row per event.
------------------------------------------------------------------------------
CREATE VIEW event_impact AS
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
    s.computed_at
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
    SELECT c.slug, cr.caar, cr.portfolio_t
    FROM study_category_results cr JOIN categories c ON c.id = cr.category_id
    WHERE cr.run_id = r.run_id AND cr.event_id = e.id
      AND cr.window_start = (r.params -> 'ranking_window' ->> 'start')::int
      AND cr.window_end = (r.params -> 'ranking_window' ->> 'end')::int
      AND cr.n_tokens >= (r.params ->> 'min_category_tokens')::int
    ORDER BY abs(cr.caar) DESC, c.slug
    LIMIT 1
) mm ON true;
COMMENT ON VIEW event_impact IS 'One row per event with its impact in the current study run (see current_study_run). Events the run has not scored have NULL score columns.';
COMMENT ON COLUMN event_impact.event_id IS 'events.id; the web page is /events/{event_id}.';
COMMENT ON COLUMN event_impact.event_time IS 'Earliest publication time of the event''s articles (UTC): t0 of the study.';
COMMENT ON COLUMN event_impact.headline IS 'Headline of the earliest article.';
COMMENT ON COLUMN event_impact.kind IS 'Event type from the feed''s item category, when given (ai, etf, macro, hack, ...).';
COMMENT ON COLUMN event_impact.sources IS 'Names of the sources that reported the event.';
COMMENT ON COLUMN event_impact.n_articles IS 'Articles grouped into the event.';
COMMENT ON COLUMN event_impact.tagged_tokens IS 'Symbols of the tokens the articles name (unambiguous tags only).';
COMMENT ON COLUMN event_impact.tagged_categories IS 'Slugs of the categories the articles are about (keywords or tagged tokens).';
COMMENT ON COLUMN event_impact.impact_score IS 'The event''s impact score (|z| of the strongest corrected evidence; README "Impact score"). NULL when not scored.';
COMMENT ON COLUMN event_impact.driver IS 'What gave the score: targets (tagged categories/tokens), market (the market''s own move) or spillover (an untagged category).';
COMMENT ON COLUMN event_impact.top_kind IS 'The component behind the score: target-category, target-token, market or spillover.';
COMMENT ON COLUMN event_impact.top_category IS 'Category slug of that component, when it is a category.';
COMMENT ON COLUMN event_impact.top_token IS 'Token symbol of that component, when it is a token.';
COMMENT ON COLUMN event_impact.top_value IS 'That component''s move over the ranking window (fraction: -0.05 = -5%).';
COMMENT ON COLUMN event_impact.top_stat IS 'That component''s test statistic, before correction.';
COMMENT ON COLUMN event_impact.top_p IS 'Its two-sided p-value, before correction.';
COMMENT ON COLUMN event_impact.most_moved_category IS 'Category (with at least min_category_tokens tokens) with the largest |CAAR| over the ranking window.';
COMMENT ON COLUMN event_impact.most_moved_caar IS 'That category''s CAAR over the ranking window.';
COMMENT ON COLUMN event_impact.most_moved_t IS 'That category''s portfolio t (robust to cross-correlation).';
COMMENT ON COLUMN event_impact.market_return IS 'The market proxy''s compounded return over the ranking window.';
COMMENT ON COLUMN event_impact.market_z IS 'That return against the proxy''s estimation-window volatility.';
COMMENT ON COLUMN event_impact.overlapping_events IS 'Other events whose event span overlaps this one (possible confounders).';
COMMENT ON COLUMN event_impact.run_id IS 'The study run the score columns come from.';
COMMENT ON COLUMN event_impact.computed_at IS 'When the score was computed.';

------------------------------------------------------------------------------
-- category_reaction: event x category x window.
------------------------------------------------------------------------------
CREATE VIEW category_reaction_all_runs AS
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
COMMENT ON VIEW category_reaction_all_runs IS 'Per complete study run, event, token category and event window: the CAAR and every test statistic. category_reaction keeps the current run.';

CREATE VIEW category_reaction AS
SELECT v.* FROM category_reaction_all_runs v JOIN current_study_run r ON r.run_id = v.run_id;
COMMENT ON VIEW category_reaction IS 'Per event, token category and event window, in the current study run: the cumulative average abnormal return (CAAR) and every test statistic. portfolio_* and kp_* are robust to the tokens'' cross-correlation (use them); t_stat, patell_* and bmp_* are the naive textbook tests, shown for comparison.';

DO $$
DECLARE v text;
BEGIN
    FOREACH v IN ARRAY ARRAY['category_reaction_all_runs', 'category_reaction'] LOOP
        EXECUTE format($c$
            COMMENT ON COLUMN %1$I.run_id IS 'study_runs.id: one run per parameter set.';
            COMMENT ON COLUMN %1$I.model IS 'Normal-return model of the run.';
            COMMENT ON COLUMN %1$I.market_proxy IS 'Market proxy of the run (BTC, ETH, equal-weighted index, value-weighted index).';
            COMMENT ON COLUMN %1$I.interval IS 'Bar interval (1h, 1d); windows count these bars.';
            COMMENT ON COLUMN %1$I.event_id IS 'events.id.';
            COMMENT ON COLUMN %1$I.event_time IS 'Event time (UTC), t0.';
            COMMENT ON COLUMN %1$I.headline IS 'Event headline.';
            COMMENT ON COLUMN %1$I.category IS 'Category slug (ai, meme, defi, layer-1, ...).';
            COMMENT ON COLUMN %1$I.category_name IS 'Category display name.';
            COMMENT ON COLUMN %1$I.is_tagged IS 'True when the event''s articles are about this category (a target); false for a spillover.';
            COMMENT ON COLUMN %1$I.window_start IS 'First bar of the window relative to bar 0 (the first bar opening at or after t0).';
            COMMENT ON COLUMN %1$I.window_end IS 'Bar after the window''s last bar: [0,24) on 1h bars is t0 to t0+24h.';
            COMMENT ON COLUMN %1$I.window_label IS 'The window as text, [start,end).';
            COMMENT ON COLUMN %1$I.n_tokens IS 'Tokens of the category with results (N).';
            COMMENT ON COLUMN %1$I.caar IS 'Cumulative average abnormal return: equal-weighted mean CAR of the tokens (fraction, -0.05 = -5%%).';
            COMMENT ON COLUMN %1$I.caar_value_weighted IS 'Market-cap-weighted mean CAR; NULL unless every token has a market cap.';
            COMMENT ON COLUMN %1$I.cross_sd IS 'Cross-sectional standard deviation of the CARs (N - 1).';
            COMMENT ON COLUMN %1$I.t_stat IS 'Naive cross-sectional t = CAAR / (cross_sd / sqrt(N)).';
            COMMENT ON COLUMN %1$I.p_value IS 'Two-sided p-value of t_stat (N - 1 df).';
            COMMENT ON COLUMN %1$I.patell_z IS 'Naive Patell Z.';
            COMMENT ON COLUMN %1$I.patell_p IS 'Two-sided p-value of patell_z.';
            COMMENT ON COLUMN %1$I.bmp_t IS 'Naive Boehmer-Musumeci-Poulsen t.';
            COMMENT ON COLUMN %1$I.bmp_p IS 'Two-sided p-value of bmp_t.';
            COMMENT ON COLUMN %1$I.kp_t IS 'Kolari-Pynnonen adjusted BMP t (robust to cross-correlation).';
            COMMENT ON COLUMN %1$I.kp_p IS 'Two-sided p-value of kp_t.';
            COMMENT ON COLUMN %1$I.mean_cross_correlation IS 'Average pairwise correlation of the tokens'' estimation-window residuals.';
            COMMENT ON COLUMN %1$I.portfolio_car IS 'CAR of the category''s equal-weighted portfolio as one series.';
            COMMENT ON COLUMN %1$I.portfolio_t IS 'Portfolio t: robust to cross-correlation; what the impact score uses.';
            COMMENT ON COLUMN %1$I.portfolio_p IS 'Two-sided p-value of portfolio_t.';
            COMMENT ON COLUMN %1$I.rank_z IS 'Corrado-Cowan rank test Z (non-parametric).';
            COMMENT ON COLUMN %1$I.rank_p IS 'Two-sided p-value of rank_z.';
            COMMENT ON COLUMN %1$I.sign_z IS 'Generalised sign test Z (Cowan 1992).';
            COMMENT ON COLUMN %1$I.sign_p IS 'Two-sided p-value of sign_z.';
            COMMENT ON COLUMN %1$I.n_positive IS 'Tokens with a positive CAR.';
            COMMENT ON COLUMN %1$I.market_return IS 'The market proxy''s compounded return over the same window.';
            COMMENT ON COLUMN %1$I.market_z IS 'That return against the proxy''s estimation-window volatility.';
        $c$, v);
    END LOOP;
END $$;

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
JOIN study_token_estimates est ON est.run_id = r.run_id AND est.event_id = r.event_id
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
-- price_bars_hourly: the hourly grid with symbols and returns.
------------------------------------------------------------------------------
CREATE VIEW price_bars_hourly AS
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
    p.source
FROM price_bars p
JOIN tokens t ON t.id = p.token_id
LEFT JOIN price_bars prev ON prev.token_id = p.token_id AND prev.interval = '1h'
    AND prev.open_time = p.open_time - interval '1 hour'
WHERE p.interval = '1h';
COMMENT ON VIEW price_bars_hourly IS 'Hourly price bars with token symbols and the return since the previous bar. A missing bar is a missing row (never interpolated); the bar after a gap has NULL returns.';
COMMENT ON COLUMN price_bars_hourly.token IS 'Token symbol.';
COMMENT ON COLUMN price_bars_hourly.open_time IS 'Opening time of the bar (UTC); the bar covers [open_time, close_time).';
COMMENT ON COLUMN price_bars_hourly.close_time IS 'open_time + 1 hour: the time of the close price.';
COMMENT ON COLUMN price_bars_hourly.open IS 'Open price (USD/USDT); NULL when the source gives closes only.';
COMMENT ON COLUMN price_bars_hourly.high IS 'High price, if known.';
COMMENT ON COLUMN price_bars_hourly.low IS 'Low price, if known.';
COMMENT ON COLUMN price_bars_hourly.close IS 'Close price (USD/USDT).';
COMMENT ON COLUMN price_bars_hourly.volume IS 'Traded volume in the quote currency, if known.';
COMMENT ON COLUMN price_bars_hourly.market_cap IS 'Market capitalisation at the close, if known.';
COMMENT ON COLUMN price_bars_hourly.simple_return IS 'close / previous close - 1, when the previous hour''s bar exists; NULL after a gap.';
COMMENT ON COLUMN price_bars_hourly.log_return IS 'ln(close / previous close), when the previous hour''s bar exists.';
COMMENT ON COLUMN price_bars_hourly.source IS 'Where the bar came from (csv:FILE, binance, coingecko).';

------------------------------------------------------------------------------
-- Column comments for the tag views of 0001.
------------------------------------------------------------------------------
COMMENT ON COLUMN event_token_tags.event_id IS 'events.id.';
COMMENT ON COLUMN event_token_tags.token_id IS 'tokens.id of the tagged token.';
COMMENT ON COLUMN event_token_tags.rule IS 'Why the tag was made: ticker, cashtag, name, alias or name-with-ticker.';
COMMENT ON COLUMN event_token_tags.matched_text IS 'The exact text that matched.';
COMMENT ON COLUMN event_token_tags.ambiguous IS 'True when the matched text is also a common word or another asset''s ticker.';
COMMENT ON COLUMN event_token_tags.article_id IS 'The article the tag comes from.';
COMMENT ON COLUMN event_category_tags.event_id IS 'events.id.';
COMMENT ON COLUMN event_category_tags.category_id IS 'categories.id of the tagged category.';
COMMENT ON COLUMN event_category_tags.rule IS 'keyword: a category keyword matched; token: a tagged token belongs to the category.';
COMMENT ON COLUMN event_category_tags.matched_text IS 'The keyword as found, or the token symbol.';
COMMENT ON COLUMN event_category_tags.article_id IS 'The article the tag comes from.';
