-- 0016: equities context. Other assets (equities, ETFs, indices) stored as context
-- series beside the tokens, never as tokens: their daily bars aligned to US sessions,
-- the move of each around an event (view event_context), and each crypto category's
-- beta to each of them (context_betas). docs/context.md explains the method.

CREATE TABLE context_assets (
    id                 integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    symbol             text NOT NULL UNIQUE CHECK (symbol ~ '^[A-Z0-9][A-Z0-9.^-]{0,19}$'),
    name               text NOT NULL CHECK (name <> ''),
    kind               text NOT NULL CHECK (kind IN ('equity', 'etf', 'index')),
    -- Only US sessions are computed (src/context/sessions.rs): the check says so.
    exchange_timezone  text NOT NULL DEFAULT 'America/New_York'
                       CHECK (exchange_timezone = 'America/New_York'),
    market_wide        boolean NOT NULL DEFAULT false,
    source             text NOT NULL CHECK (source <> ''),
    updated_at         timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE context_assets IS 'Equities, ETFs and indices shown as context around crypto news (not tokens: never in the study). From config/context.toml by `catalyst context import`.';
COMMENT ON COLUMN context_assets.id IS 'Surrogate key.';
COMMENT ON COLUMN context_assets.symbol IS 'Ticker (NVDA, SMH, SPY).';
COMMENT ON COLUMN context_assets.name IS 'Display name (NVIDIA, VanEck Semiconductor ETF).';
COMMENT ON COLUMN context_assets.kind IS 'equity, etf or index.';
COMMENT ON COLUMN context_assets.exchange_timezone IS 'Time zone of the exchange''s sessions; America/New_York (regular session 09:30-16:00 local) is the only one supported.';
COMMENT ON COLUMN context_assets.market_wide IS 'True for market-wide context (SPY, QQQ): shown for every event; otherwise shown for the events about one of its categories (context_asset_categories).';
COMMENT ON COLUMN context_assets.source IS 'Where the bars come from (csv:FILE).';
COMMENT ON COLUMN context_assets.updated_at IS 'When the asset was last imported.';

CREATE TABLE context_asset_categories (
    asset_id     integer NOT NULL REFERENCES context_assets (id) ON DELETE CASCADE,
    category_id  integer NOT NULL REFERENCES categories (id) ON DELETE CASCADE,
    PRIMARY KEY (asset_id, category_id)
);
CREATE INDEX context_asset_categories_category_idx ON context_asset_categories (category_id);
COMMENT ON TABLE context_asset_categories IS 'Which token categories an asset gives context for (NVDA and SMH for ai and ai-agents): events about such a category show the asset''s move.';
COMMENT ON COLUMN context_asset_categories.asset_id IS 'context_assets.id.';
COMMENT ON COLUMN context_asset_categories.category_id IS 'categories.id.';

CREATE TABLE context_bars (
    asset_id      integer NOT NULL REFERENCES context_assets (id) ON DELETE CASCADE,
    session_date  date NOT NULL,
    open_at       timestamptz NOT NULL,
    close_at      timestamptz NOT NULL,
    open          double precision CHECK (open > 0),
    high          double precision CHECK (high > 0),
    low           double precision CHECK (low > 0),
    close         double precision NOT NULL CHECK (close > 0),
    adj_close     double precision CHECK (adj_close > 0),
    volume        double precision CHECK (volume >= 0),
    source        text NOT NULL CHECK (source <> ''),
    PRIMARY KEY (asset_id, session_date),
    CONSTRAINT context_bars_high_low CHECK (high IS NULL OR low IS NULL OR high >= low),
    CONSTRAINT context_bars_session_order CHECK (close_at > open_at),
    CONSTRAINT context_bars_weekday CHECK (extract(isodow FROM session_date) < 6)
);
-- Finding the first close after a publication time.
CREATE UNIQUE INDEX context_bars_close_idx ON context_bars (asset_id, close_at);
COMMENT ON TABLE context_bars IS 'Daily bars of the context assets, one per US trading session. A weekday without a row inside the stored span is a market holiday. Imports are idempotent upserts.';
COMMENT ON COLUMN context_bars.asset_id IS 'context_assets.id.';
COMMENT ON COLUMN context_bars.session_date IS 'The trading day (New York date).';
COMMENT ON COLUMN context_bars.open_at IS 'The regular session''s opening time in UTC: 09:30 New York (14:30 UTC in winter, 13:30 in summer).';
COMMENT ON COLUMN context_bars.close_at IS 'The regular session''s closing time in UTC: 16:00 New York (21:00 UTC in winter, 20:00 in summer). Early-close days (13:00) are not known to the daily files and count as full sessions.';
COMMENT ON COLUMN context_bars.open IS 'Opening price, if known.';
COMMENT ON COLUMN context_bars.high IS 'High of the session, if known.';
COMMENT ON COLUMN context_bars.low IS 'Low of the session, if known.';
COMMENT ON COLUMN context_bars.close IS 'Closing price, adjusted for splits, not for dividends (the Yahoo close). Every context return uses it.';
COMMENT ON COLUMN context_bars.adj_close IS 'Close adjusted for dividends too, when the source gives it (NULL otherwise); stored for analysts, not used by Catalyst.';
COMMENT ON COLUMN context_bars.volume IS 'Shares traded in the session, if known.';
COMMENT ON COLUMN context_bars.source IS 'Where the bar came from (csv:FILE).';

CREATE TABLE context_betas (
    category_id    integer NOT NULL REFERENCES categories (id) ON DELETE CASCADE,
    asset_id       integer NOT NULL REFERENCES context_assets (id) ON DELETE CASCADE,
    first_session  date NOT NULL,
    last_session   date NOT NULL CHECK (last_session >= first_session),
    n_sessions     integer NOT NULL CHECK (n_sessions >= 3),
    n_tokens       integer NOT NULL CHECK (n_tokens >= 1),
    beta           double precision NOT NULL,
    beta_se        double precision,
    alpha          double precision NOT NULL,
    correlation    double precision CHECK (correlation BETWEEN -1 AND 1),
    computed_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (category_id, asset_id)
);
CREATE INDEX context_betas_asset_idx ON context_betas (asset_id);
COMMENT ON TABLE context_betas IS 'Crypto category versus equity: the category''s session returns (equal-weighted mean of its tokens'' returns between the hourly closes at consecutive US session closes) regressed by least squares on the asset''s session returns, over the last 250 sessions both have. Rebuilt by `catalyst context import` and `catalyst context betas`.';
COMMENT ON COLUMN context_betas.category_id IS 'categories.id.';
COMMENT ON COLUMN context_betas.asset_id IS 'context_assets.id.';
COMMENT ON COLUMN context_betas.first_session IS 'First session of the regression window.';
COMMENT ON COLUMN context_betas.last_session IS 'Last session of the regression window.';
COMMENT ON COLUMN context_betas.n_sessions IS 'Sessions in the regression (N).';
COMMENT ON COLUMN context_betas.n_tokens IS 'Tokens of the category that contributed at least one session return.';
COMMENT ON COLUMN context_betas.beta IS 'Equity beta: the category''s session return per unit of the asset''s (slope of the least-squares line).';
COMMENT ON COLUMN context_betas.beta_se IS 'Standard error of the beta (residual variance over N - 2 degrees of freedom).';
COMMENT ON COLUMN context_betas.alpha IS 'Intercept: the category''s mean session return when the asset does not move.';
COMMENT ON COLUMN context_betas.correlation IS 'Pearson correlation of the two session return series.';
COMMENT ON COLUMN context_betas.computed_at IS 'When the row was computed.';

INSERT INTO writer_locks (name, purpose) VALUES
    ('context', 'importing context assets and rebuilding their betas');

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['context_assets', 'context_asset_categories', 'context_bars', 'context_betas']
    LOOP
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON %I
                        FOR EACH STATEMENT EXECUTE FUNCTION bump_data_version()',
                       t || '_bump_data_version', t);
    END LOOP;
END $$;

------------------------------------------------------------------------------
-- event_context: each event's context assets and their move around it. The same rules
-- as src/context/sessions.rs (tests/context.rs checks that both agree on every event).
------------------------------------------------------------------------------
CREATE VIEW event_context AS
WITH targets AS (
    SELECT DISTINCT g.event_id, g.category_id
    FROM event_category_tags g
    WHERE COALESCE(g.salience, 'subject') = 'subject'
), relevant AS (
    SELECT e.id AS event_id, e.event_time, a.id AS asset_id, a.symbol, a.name, a.kind,
           a.market_wide, a.exchange_timezone,
           ARRAY(SELECT c.slug FROM targets t
                 JOIN context_asset_categories ac ON ac.category_id = t.category_id
                 JOIN categories c ON c.id = t.category_id
                 WHERE t.event_id = e.id AND ac.asset_id = a.id ORDER BY c.slug) AS for_categories
    FROM events e CROSS JOIN context_assets a
), placed AS (
    SELECT r.*, (r.event_time AT TIME ZONE r.exchange_timezone)::date AS local_date,
           s.session_date, s.open_at, s.close_at, s.open, s.close,
           p.session_date AS previous_session_date, p.close AS previous_close
    FROM relevant r
    LEFT JOIN LATERAL (SELECT * FROM context_bars b
                       WHERE b.asset_id = r.asset_id AND b.close_at > r.event_time
                       ORDER BY b.close_at LIMIT 1) s ON true
    LEFT JOIN LATERAL (SELECT * FROM context_bars b
                       WHERE b.asset_id = r.asset_id AND b.close_at <= r.event_time
                       ORDER BY b.close_at DESC LIMIT 1) p ON true
    WHERE cardinality(r.for_categories) > 0 OR r.market_wide
), timed AS (
    SELECT x.*,
           CASE
               WHEN x.session_date IS NULL OR x.previous_session_date IS NULL THEN NULL
               WHEN x.event_time >= x.open_at THEN 'during-session'
               WHEN x.local_date = x.session_date THEN 'before-open'
               WHEN x.local_date = x.previous_session_date THEN 'after-close'
               WHEN extract(isodow FROM x.local_date) >= 6 THEN 'weekend'
               ELSE 'holiday'
           END AS timing,
           -- Weekdays without a session after the publication day, before the session.
           (SELECT string_agg(to_char(d, 'FMDay YYYY-MM-DD'), ', ' ORDER BY d)
            FROM generate_series((x.local_date + 1)::timestamp, (x.session_date - 1)::timestamp,
                                 interval '1 day') d
            WHERE x.previous_session_date IS NOT NULL AND extract(isodow FROM d) < 6) AS closed_days
    FROM placed x
)
SELECT
    event_id,
    event_time,
    symbol,
    name AS asset_name,
    kind AS asset_kind,
    CASE WHEN cardinality(for_categories) > 0 THEN 'category' ELSE 'market-wide' END AS relevance,
    for_categories,
    session_date,
    close_at AS session_close_at,
    previous_session_date,
    previous_close,
    open AS session_open,
    close AS session_close,
    close / previous_close - 1 AS session_return,
    open / previous_close - 1 AS gap_return,
    timing,
    CASE
        WHEN session_date IS NULL THEN 'no stored session closes after the news'
        WHEN previous_session_date IS NULL THEN 'no stored session before the news'
        ELSE CASE timing
            WHEN 'during-session' THEN 'published during the session of ' || to_char(session_date, 'FMDay YYYY-MM-DD') || ' (its return includes the hours before the news)'
            WHEN 'before-open' THEN 'published before the open of ' || to_char(session_date, 'FMDay YYYY-MM-DD')
            WHEN 'after-close' THEN 'published after the close of ' || to_char(previous_session_date, 'FMDay YYYY-MM-DD') || ': first session ' || to_char(session_date, 'FMDay YYYY-MM-DD')
            WHEN 'weekend' THEN 'published on ' || to_char(local_date, 'FMDay') || ': first session ' || to_char(session_date, 'FMDay YYYY-MM-DD')
            ELSE 'published on ' || to_char(local_date, 'FMDay YYYY-MM-DD') || ', a market holiday: first session ' || to_char(session_date, 'FMDay YYYY-MM-DD')
        END || COALESCE(' (market closed on ' || closed_days || ': holiday)', '')
    END AS note
FROM timed;
COMMENT ON VIEW event_context IS 'Per event and context asset shown for it (configured for one of the categories the event is about, or market-wide): the session the event falls in (the first session closing after publication), its return from the previous close, and when the news came relative to it. docs/context.md.';
COMMENT ON COLUMN event_context.event_id IS 'events.id.';
COMMENT ON COLUMN event_context.event_time IS 'The event''s first report (UTC).';
COMMENT ON COLUMN event_context.symbol IS 'The context asset''s ticker.';
COMMENT ON COLUMN event_context.asset_name IS 'The asset''s display name.';
COMMENT ON COLUMN event_context.asset_kind IS 'equity, etf or index.';
COMMENT ON COLUMN event_context.relevance IS 'category: configured for one of the event''s categories; market-wide: shown for every event.';
COMMENT ON COLUMN event_context.for_categories IS 'The event''s categories (slugs) the asset gives context for; empty for market-wide rows.';
COMMENT ON COLUMN event_context.session_date IS 'The event''s session: the first stored session whose close (session_close_at) is after event_time (news at the closing minute cannot be in that close). NULL when none is stored yet.';
COMMENT ON COLUMN event_context.session_close_at IS 'That session''s close in UTC (16:00 New York).';
COMMENT ON COLUMN event_context.previous_session_date IS 'The session before it: the last close before the news.';
COMMENT ON COLUMN event_context.previous_close IS 'Close of the previous session.';
COMMENT ON COLUMN event_context.session_open IS 'Open of the event''s session, if known.';
COMMENT ON COLUMN event_context.session_close IS 'Close of the event''s session.';
COMMENT ON COLUMN event_context.session_return IS 'Session return: session_close / previous_close - 1, the move from the last close before the news to the first close after it (fraction: -0.1697 = -16.97%).';
COMMENT ON COLUMN event_context.gap_return IS 'Opening gap: session_open / previous_close - 1, the move before the session opened (the first reaction to news published outside trading hours).';
COMMENT ON COLUMN event_context.timing IS 'When the news came: before-open, during-session, after-close (of the previous session), weekend or holiday (on a day without a session); NULL when a session is missing.';
COMMENT ON COLUMN event_context.note IS 'The timing in words, with the first session and any weekday holiday skipped ("published on Saturday: first session Monday 2025-01-27").';

CREATE VIEW category_equity_betas AS
SELECT c.slug AS category, c.name AS category_name, a.symbol, a.name AS asset_name,
       b.beta, b.beta_se, b.alpha, b.correlation, b.n_sessions, b.n_tokens,
       b.first_session, b.last_session, b.computed_at
FROM context_betas b
JOIN categories c ON c.id = b.category_id
JOIN context_assets a ON a.id = b.asset_id;
COMMENT ON VIEW category_equity_betas IS 'context_betas with category slugs and tickers: each crypto category''s beta to each context asset (docs/context.md, "Betas").';
COMMENT ON COLUMN category_equity_betas.category IS 'Category slug.';
COMMENT ON COLUMN category_equity_betas.category_name IS 'Category display name.';
COMMENT ON COLUMN category_equity_betas.symbol IS 'Context asset ticker.';
COMMENT ON COLUMN category_equity_betas.asset_name IS 'Context asset name.';
COMMENT ON COLUMN category_equity_betas.beta IS 'Equity beta: the category''s session return per unit of the asset''s.';
COMMENT ON COLUMN category_equity_betas.beta_se IS 'Standard error of the beta.';
COMMENT ON COLUMN category_equity_betas.alpha IS 'Intercept of the regression (per session).';
COMMENT ON COLUMN category_equity_betas.correlation IS 'Correlation of the two session return series.';
COMMENT ON COLUMN category_equity_betas.n_sessions IS 'Sessions in the regression (N).';
COMMENT ON COLUMN category_equity_betas.n_tokens IS 'Tokens of the category that contributed.';
COMMENT ON COLUMN category_equity_betas.first_session IS 'First session of the window.';
COMMENT ON COLUMN category_equity_betas.last_session IS 'Last session of the window.';
COMMENT ON COLUMN category_equity_betas.computed_at IS 'When it was computed.';
