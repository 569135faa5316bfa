-- Catalyst schema, version 1.
-- Tables are grouped by stage: news (sources, articles, events, tags), taxonomy
-- (tokens, categories), prices (price_bars), study (runs and results).
-- Every table and column an analyst would query carries a COMMENT: `\d+ name` in psql shows it.

------------------------------------------------------------------------------
-- Taxonomy
------------------------------------------------------------------------------
CREATE TABLE tokens (
    id          integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    symbol      text NOT NULL UNIQUE CHECK (symbol ~ '^[A-Z0-9]{1,20}$'),
    name        text NOT NULL CHECK (name <> ''),
    created_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE tokens IS 'Tracked crypto tokens. The symbol is the current ticker; former tickers live in token_aliases.';
COMMENT ON COLUMN tokens.id IS 'Surrogate key, stable across ticker renames (RNDR to RENDER).';
COMMENT ON COLUMN tokens.symbol IS 'Current ticker, upper case (BTC, RENDER).';
COMMENT ON COLUMN tokens.name IS 'Display name (Bitcoin, The Graph).';

CREATE TABLE token_aliases (
    token_id    integer NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
    alias       text NOT NULL CHECK (alias <> ''),
    PRIMARY KEY (token_id, alias)
);
CREATE INDEX token_aliases_alias_idx ON token_aliases (alias);
COMMENT ON TABLE token_aliases IS 'Other names and former tickers of a token (RNDR for RENDER, Fetch.ai for FET), used by tagging.';
COMMENT ON COLUMN token_aliases.alias IS 'The alias as written; all-upper-case aliases are matched like tickers (case-sensitive).';

CREATE TABLE categories (
    id                      integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug                    text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$'),
    name                    text NOT NULL,
    excluded_from_aggregates boolean NOT NULL DEFAULT false
);
COMMENT ON TABLE categories IS 'Token categories (ai, meme, layer-1, ...), from config/taxonomy.csv.';
COMMENT ON COLUMN categories.slug IS 'Stable lower-case identifier used in URLs and filters.';
COMMENT ON COLUMN categories.excluded_from_aggregates IS 'True for categories (stablecoin) whose tokens never enter category averages.';

CREATE TABLE token_categories (
    token_id     integer NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
    category_id  integer NOT NULL REFERENCES categories (id) ON DELETE CASCADE,
    PRIMARY KEY (token_id, category_id)
);
CREATE INDEX token_categories_category_idx ON token_categories (category_id);
COMMENT ON TABLE token_categories IS 'Many-to-many: which categories a token belongs to (NEAR is layer-1 and ai).';

CREATE TABLE category_keywords (
    category_id  integer NOT NULL REFERENCES categories (id) ON DELETE CASCADE,
    keyword      text NOT NULL CHECK (keyword <> ''),
    PRIMARY KEY (category_id, keyword)
);
COMMENT ON TABLE category_keywords IS 'Words that tag a category directly (DeepSeek, OpenAI, GPU for ai), from config/tagging.toml.';

CREATE TABLE ambiguous_patterns (
    pattern  text PRIMARY KEY CHECK (pattern <> '')
);
COMMENT ON TABLE ambiguous_patterns IS 'Token names or tickers that are also common words (AI, World); they tag a token only as $X or "Name (X)". From config/tagging.toml.';

------------------------------------------------------------------------------
-- News
------------------------------------------------------------------------------
CREATE TABLE sources (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL UNIQUE CHECK (name <> ''),
    kind        text NOT NULL CHECK (kind IN ('feed', 'html')),
    url         text NOT NULL UNIQUE,
    enabled     boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE sources IS 'Where articles come from: a feed (RSS, Atom, JSON Feed) or a scraped HTML listing.';
COMMENT ON COLUMN sources.name IS 'Short unique name shown in the UI.';
COMMENT ON COLUMN sources.kind IS 'feed: RSS/Atom/JSON Feed; html: a listing page scraped with CSS selectors.';
COMMENT ON COLUMN sources.url IS 'The feed or listing URL (http/https), or file:// for a local file.';

CREATE TABLE events (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_time  timestamptz NOT NULL,
    headline    text NOT NULL CHECK (headline <> ''),
    kind        text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX events_event_time_idx ON events (event_time);
COMMENT ON TABLE events IS 'A story: one or more articles about the same happening. The unit the event study measures.';
COMMENT ON COLUMN events.event_time IS 'Earliest publication time (UTC) among the event''s articles: t0 of the event study.';
COMMENT ON COLUMN events.headline IS 'Title of the earliest article.';
COMMENT ON COLUMN events.kind IS 'Event type from the feed''s item category (ai, etf, macro, hack, ...), if given.';

CREATE TABLE articles (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source_id      bigint NOT NULL REFERENCES sources (id),
    event_id       bigint NOT NULL REFERENCES events (id),
    canonical_url  text UNIQUE CHECK (canonical_url ~ '^https?://'),
    guid           text,
    title          text NOT NULL CHECK (title <> ''),
    summary        text,
    author         text,
    published_at   timestamptz NOT NULL,
    fetched_at     timestamptz NOT NULL DEFAULT now(),
    content_hash   text NOT NULL,
    CONSTRAINT articles_identified CHECK (canonical_url IS NOT NULL OR guid IS NOT NULL),
    CONSTRAINT articles_source_guid_key UNIQUE (source_id, guid)
);
CREATE INDEX articles_event_idx ON articles (event_id);
CREATE INDEX articles_published_at_idx ON articles (published_at);
CREATE INDEX articles_content_hash_idx ON articles (content_hash);
COMMENT ON TABLE articles IS 'One news article (feed item or scraped page), deduplicated by canonical URL, or by the feed''s guid when the item has no link.';
COMMENT ON COLUMN articles.source_id IS 'The source it was fetched from.';
COMMENT ON COLUMN articles.event_id IS 'The event (story) the article belongs to.';
COMMENT ON COLUMN articles.canonical_url IS 'Canonical link of the article; NULL only for items that carry no link.';
COMMENT ON COLUMN articles.guid IS 'The feed''s item id (RSS guid, Atom id), unique per source.';
COMMENT ON COLUMN articles.title IS 'Headline as published (stored raw; always HTML-escaped when shown).';
COMMENT ON COLUMN articles.summary IS 'Feed description or page meta description, as published.';
COMMENT ON COLUMN articles.published_at IS 'Publication time, normalised to UTC.';
COMMENT ON COLUMN articles.fetched_at IS 'When Catalyst first stored the article.';
COMMENT ON COLUMN articles.content_hash IS 'SHA-256 (hex) of the normalised title and summary, for duplicate detection across URLs.';

CREATE TABLE article_token_tags (
    article_id    bigint NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    token_id      integer NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
    rule          text NOT NULL CHECK (rule IN ('ticker', 'cashtag', 'name', 'alias', 'name-with-ticker')),
    matched_text  text NOT NULL,
    ambiguous     boolean NOT NULL DEFAULT false,
    PRIMARY KEY (article_id, token_id, rule, matched_text)
);
CREATE INDEX article_token_tags_token_idx ON article_token_tags (token_id);
COMMENT ON TABLE article_token_tags IS 'Tokens an article mentions, with why the tag was made.';
COMMENT ON COLUMN article_token_tags.rule IS 'ticker: bare upper-case ticker; cashtag: $TICKER; name / alias: the token''s name or an alias; name-with-ticker: "Name (TICKER)".';
COMMENT ON COLUMN article_token_tags.matched_text IS 'The exact text that matched.';
COMMENT ON COLUMN article_token_tags.ambiguous IS 'True when the matched text is also a common word or another asset''s ticker.';

CREATE TABLE article_category_tags (
    article_id    bigint NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    category_id   integer NOT NULL REFERENCES categories (id) ON DELETE CASCADE,
    rule          text NOT NULL CHECK (rule IN ('keyword', 'token')),
    matched_text  text NOT NULL,
    PRIMARY KEY (article_id, category_id, rule, matched_text)
);
CREATE INDEX article_category_tags_category_idx ON article_category_tags (category_id);
COMMENT ON TABLE article_category_tags IS 'Categories an article is about, with why: a category keyword, or a tagged token of that category.';
COMMENT ON COLUMN article_category_tags.rule IS 'keyword: a word from config/tagging.toml; token: a tagged token belongs to the category.';
COMMENT ON COLUMN article_category_tags.matched_text IS 'The keyword as found, or the token symbol.';

CREATE VIEW event_token_tags AS
SELECT a.event_id, t.token_id, t.rule, t.matched_text, t.ambiguous, t.article_id
FROM article_token_tags t JOIN articles a ON a.id = t.article_id;
COMMENT ON VIEW event_token_tags IS 'Token tags of each event: the union of its articles'' tags.';

CREATE VIEW event_category_tags AS
SELECT a.event_id, c.category_id, c.rule, c.matched_text, c.article_id
FROM article_category_tags c JOIN articles a ON a.id = c.article_id;
COMMENT ON VIEW event_category_tags IS 'Category tags of each event: the union of its articles'' tags.';

------------------------------------------------------------------------------
-- Prices
------------------------------------------------------------------------------
CREATE TABLE price_bars (
    token_id    integer NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
    interval    text NOT NULL CHECK (interval IN ('1m', '5m', '15m', '1h', '4h', '1d')),
    open_time   timestamptz NOT NULL,
    open        double precision CHECK (open > 0),
    high        double precision CHECK (high > 0),
    low         double precision CHECK (low > 0),
    close       double precision NOT NULL CHECK (close > 0),
    volume      double precision CHECK (volume >= 0),
    market_cap  double precision CHECK (market_cap >= 0),
    source      text NOT NULL,
    PRIMARY KEY (token_id, interval, open_time),
    CONSTRAINT price_bars_high_low CHECK (high IS NULL OR low IS NULL OR high >= low)
);
COMMENT ON TABLE price_bars IS 'OHLCV price bars in USD(T) per token and bar interval. The primary key makes every load an idempotent upsert.';
COMMENT ON COLUMN price_bars.interval IS 'Bar length: 1h (default) or 1d, ...';
COMMENT ON COLUMN price_bars.open_time IS 'Opening time of the bar (UTC). The bar covers [open_time, open_time + interval).';
COMMENT ON COLUMN price_bars.open IS 'Open price; NULL when the source gives only closes.';
COMMENT ON COLUMN price_bars.close IS 'Close price: the price at open_time + interval.';
COMMENT ON COLUMN price_bars.volume IS 'Traded volume in the quote currency, if known.';
COMMENT ON COLUMN price_bars.market_cap IS 'Market capitalisation at the close, if the source provides it.';
COMMENT ON COLUMN price_bars.source IS 'Where the bar came from (csv:FILE, binance, coingecko).';

------------------------------------------------------------------------------
-- Event study
------------------------------------------------------------------------------
CREATE TABLE study_runs (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    params_key    text NOT NULL UNIQUE,
    model         text NOT NULL CHECK (model IN ('market-adjusted', 'mean-adjusted', 'market-model')),
    return_kind   text NOT NULL CHECK (return_kind IN ('simple', 'log')),
    market_proxy  text NOT NULL,
    interval      text NOT NULL,
    params        jsonb NOT NULL,
    started_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz,
    status        text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'complete', 'failed'))
);
COMMENT ON TABLE study_runs IS 'One parameter set of the event study. Results belong to a run, so different parameters never mix; re-running a parameter set replaces its results.';
COMMENT ON COLUMN study_runs.params_key IS 'Canonical text of the parameters; one run per distinct parameter set.';
COMMENT ON COLUMN study_runs.model IS 'Normal-return model: market-adjusted (AR = R - R_market), mean-adjusted, market-model (OLS).';
COMMENT ON COLUMN study_runs.return_kind IS 'simple: P_t / P_t-1 - 1; log: ln(P_t / P_t-1).';
COMMENT ON COLUMN study_runs.market_proxy IS 'Market return series (BTC, ...).';
COMMENT ON COLUMN study_runs.params IS 'All parameters as JSON (windows in bars relative to bar 0, minimum tokens per category).';
COMMENT ON COLUMN study_runs.status IS 'complete once every event''s results are written.';

CREATE TABLE study_token_results (
    run_id         bigint NOT NULL REFERENCES study_runs (id) ON DELETE CASCADE,
    event_id       bigint NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    token_id       integer NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
    window_start   integer NOT NULL,
    window_end     integer NOT NULL,
    car            double precision NOT NULL,
    token_return   double precision NOT NULL,
    market_return  double precision NOT NULL,
    n_bars         integer NOT NULL CHECK (n_bars > 0),
    PRIMARY KEY (run_id, event_id, token_id, window_start, window_end),
    CHECK (window_end > window_start)
);
CREATE INDEX study_token_results_event_idx ON study_token_results (event_id);
COMMENT ON TABLE study_token_results IS 'Per event, token and event window: cumulative abnormal return.';
COMMENT ON COLUMN study_token_results.window_start IS 'First bar of the window, relative to bar 0 (the first bar opening at or after the event time).';
COMMENT ON COLUMN study_token_results.window_end IS 'Bar after the last bar of the window (exclusive): [-24, 24) on hourly bars is t0-24h to t0+24h.';
COMMENT ON COLUMN study_token_results.car IS 'Cumulative abnormal return: sum of the bars'' abnormal returns (fraction, -0.05 = -5%).';
COMMENT ON COLUMN study_token_results.token_return IS 'The token''s own compounded return over the window.';
COMMENT ON COLUMN study_token_results.market_return IS 'The market proxy''s compounded return over the window.';
COMMENT ON COLUMN study_token_results.n_bars IS 'Bars in the window (L).';

CREATE TABLE study_dropped_tokens (
    run_id     bigint NOT NULL REFERENCES study_runs (id) ON DELETE CASCADE,
    event_id   bigint NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    token_id   integer NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
    reason     text NOT NULL,
    PRIMARY KEY (run_id, event_id, token_id)
);
COMMENT ON TABLE study_dropped_tokens IS 'Tokens left out of an event''s study, and why (no data, gap in the window, is the market proxy, ...).';

CREATE TABLE study_category_results (
    run_id        bigint NOT NULL REFERENCES study_runs (id) ON DELETE CASCADE,
    event_id      bigint NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    category_id   integer NOT NULL REFERENCES categories (id) ON DELETE CASCADE,
    window_start  integer NOT NULL,
    window_end    integer NOT NULL,
    n_tokens      integer NOT NULL CHECK (n_tokens > 0),
    caar          double precision NOT NULL,
    cross_sd      double precision,
    t_stat        double precision,
    p_value       double precision CHECK (p_value BETWEEN 0 AND 1),
    PRIMARY KEY (run_id, event_id, category_id, window_start, window_end),
    CHECK (window_end > window_start)
);
CREATE INDEX study_category_results_event_idx ON study_category_results (event_id);
COMMENT ON TABLE study_category_results IS 'Per event, category and window: equal-weighted cumulative average abnormal return (CAAR) and its test statistics.';
COMMENT ON COLUMN study_category_results.n_tokens IS 'Tokens of the category with results (N).';
COMMENT ON COLUMN study_category_results.caar IS 'Mean CAR over the category''s tokens.';
COMMENT ON COLUMN study_category_results.cross_sd IS 'Cross-sectional sample standard deviation of the CARs (N - 1); NULL when N < 2.';
COMMENT ON COLUMN study_category_results.t_stat IS 'Cross-sectional t = CAAR / (cross_sd / sqrt(N)); NULL when N < 2 or cross_sd = 0.';
COMMENT ON COLUMN study_category_results.p_value IS 'Two-sided p-value of t_stat under Student''s t with N - 1 degrees of freedom.';

CREATE TABLE study_event_scores (
    run_id             bigint NOT NULL REFERENCES study_runs (id) ON DELETE CASCADE,
    event_id           bigint NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    impact_score       double precision,
    top_category_id    integer REFERENCES categories (id) ON DELETE SET NULL,
    top_caar           double precision,
    market_return      double precision,
    PRIMARY KEY (run_id, event_id)
);
CREATE INDEX study_event_scores_rank_idx ON study_event_scores (run_id, impact_score DESC NULLS LAST);
COMMENT ON TABLE study_event_scores IS 'One impact score per event and run, used to rank events. See README "Impact score".';
COMMENT ON COLUMN study_event_scores.impact_score IS 'Largest |CAAR| over categories with enough tokens, in the ranking window; NULL when no category qualifies.';
COMMENT ON COLUMN study_event_scores.top_category_id IS 'The category that gave the score (the most-moved category).';
COMMENT ON COLUMN study_event_scores.top_caar IS 'That category''s signed CAAR in the ranking window.';
COMMENT ON COLUMN study_event_scores.market_return IS 'The market proxy''s own return over the ranking window.';
