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

CREATE TABLE ingest_runs (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source_id    bigint REFERENCES sources (id) ON DELETE CASCADE,
    input        text NOT NULL,
    started_at   timestamptz NOT NULL,
    finished_at  timestamptz NOT NULL DEFAULT now(),
    status       text NOT NULL CHECK (status IN ('ok', 'failed')),
    fetched      integer NOT NULL DEFAULT 0 CHECK (fetched >= 0),
    new          integer NOT NULL DEFAULT 0 CHECK (new >= 0),
    duplicates   integer NOT NULL DEFAULT 0 CHECK (duplicates >= 0),
    skipped      integer NOT NULL DEFAULT 0 CHECK (skipped >= 0),
    error        text
);
CREATE INDEX ingest_runs_source_idx ON ingest_runs (source_id, started_at DESC);
COMMENT ON TABLE ingest_runs IS 'Every ingest of a feed: when, what it found, or why it failed.';
COMMENT ON COLUMN ingest_runs.source_id IS 'The source, when it is known (a feed that never parsed has none).';
COMMENT ON COLUMN ingest_runs.input IS 'The feed URL or file as given.';
COMMENT ON COLUMN ingest_runs.status IS 'ok, or failed with error.';
COMMENT ON COLUMN ingest_runs.fetched IS 'Items in the feed.';
COMMENT ON COLUMN ingest_runs.new IS 'Articles stored by this run.';
COMMENT ON COLUMN ingest_runs.duplicates IS 'Items already stored (same URL, guid or content).';
COMMENT ON COLUMN ingest_runs.skipped IS 'Items without a title, a date or an identity.';
COMMENT ON COLUMN ingest_runs.error IS 'Why the run failed.';

CREATE TABLE events (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_time  timestamptz NOT NULL,
    headline    text NOT NULL CHECK (headline <> ''),
    kind        text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    headline_tsv tsvector GENERATED ALWAYS AS (to_tsvector('english', headline)) STORED
);
CREATE INDEX events_event_time_idx ON events (event_time DESC, id DESC);
CREATE INDEX events_headline_tsv_idx ON events USING gin (headline_tsv);
COMMENT ON TABLE events IS 'A story: one or more articles about the same happening. The unit the event study measures.';
COMMENT ON COLUMN events.event_time IS 'Earliest publication time (UTC) among the event''s articles: t0 of the event study.';
COMMENT ON COLUMN events.headline IS 'Title of the earliest article.';
COMMENT ON COLUMN events.headline_tsv IS 'Full-text search vector of the headline (English), GIN-indexed: WHERE headline_tsv @@ websearch_to_tsquery(''english'', ...).';
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

-- The event filters of the ranked list (web, API, CSV), as one predicate. A plain SQL
-- function, so the planner inlines it into each query that calls it. NULL means "any".
CREATE FUNCTION event_matches(
    p_event_id bigint, p_event_time timestamptz, p_headline_tsv tsvector, p_kind text,
    q text, category text, token text, from_time timestamptz, to_time timestamptz,
    kind text, source text
) RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT (q IS NULL OR p_headline_tsv @@ websearch_to_tsquery('english', q))
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
COMMENT ON FUNCTION event_matches IS 'The ranked list''s filters: headline search (websearch syntax), tagged category slug, named token symbol, time range [from, to), event kind, source name; NULL means any.';

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
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    params_key         text NOT NULL UNIQUE,
    model              text NOT NULL CHECK (model IN ('market-adjusted', 'mean-adjusted', 'market-model')),
    return_kind        text NOT NULL CHECK (return_kind IN ('simple', 'log')),
    market_proxy       text NOT NULL,
    interval           text NOT NULL,
    params             jsonb NOT NULL,
    input_fingerprint  text,
    started_at         timestamptz NOT NULL DEFAULT now(),
    finished_at        timestamptz,
    status             text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'complete', 'failed')),
    events_computed    integer NOT NULL DEFAULT 0
);
COMMENT ON TABLE study_runs IS 'One parameter set of the event study. Results belong to a run, so different parameters never mix; re-running a parameter set updates its results.';
COMMENT ON COLUMN study_runs.params_key IS 'Canonical JSON of the parameters; one run per distinct parameter set.';
COMMENT ON COLUMN study_runs.model IS 'Normal-return model: market-model (OLS alpha, beta; the default), market-adjusted (AR = R - R_market), mean-adjusted.';
COMMENT ON COLUMN study_runs.return_kind IS 'simple: P_t / P_t-1 - 1; log: ln(P_t / P_t-1).';
COMMENT ON COLUMN study_runs.market_proxy IS 'Market return series: BTC (ETH for BTC itself), ETH, equal-weighted index, value-weighted index.';
COMMENT ON COLUMN study_runs.params IS 'All parameters as JSON: windows in bars relative to bar 0, estimation window, minimum tokens per category, confounder rules.';
COMMENT ON COLUMN study_runs.input_fingerprint IS 'SHA-256 over every event''s input fingerprint at the last run: equal fingerprints mean equal inputs.';
COMMENT ON COLUMN study_runs.status IS 'running while a run writes; complete when every event''s results are written; failed if it stopped.';
COMMENT ON COLUMN study_runs.events_computed IS 'Events recomputed by the last run (the others'' inputs had not changed).';

CREATE TABLE study_token_estimates (
    run_id        bigint NOT NULL REFERENCES study_runs (id) ON DELETE CASCADE,
    event_id      bigint NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    token_id      integer NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
    alpha         double precision NOT NULL,
    beta          double precision NOT NULL,
    sigma         double precision NOT NULL CHECK (sigma >= 0),
    df            double precision NOT NULL CHECK (df > 0),
    n_estimation  integer NOT NULL CHECK (n_estimation > 0),
    path_start    integer NOT NULL,
    ar_path       double precision[] NOT NULL,
    PRIMARY KEY (run_id, event_id, token_id)
);
COMMENT ON TABLE study_token_estimates IS 'Per event and token: the normal-return model fitted on the estimation window, and the abnormal-return path.';
COMMENT ON COLUMN study_token_estimates.alpha IS 'Intercept per bar (market model; the mean return for mean-adjusted; 0 for market-adjusted).';
COMMENT ON COLUMN study_token_estimates.beta IS 'Slope on the market return (market model; 1 for market-adjusted; 0 for mean-adjusted).';
COMMENT ON COLUMN study_token_estimates.sigma IS 'Residual standard deviation per bar on the estimation window.';
COMMENT ON COLUMN study_token_estimates.df IS 'Residual degrees of freedom: m - 2 for the market model, m - 1 otherwise.';
COMMENT ON COLUMN study_token_estimates.n_estimation IS 'Bars with returns in the estimation window (m).';
COMMENT ON COLUMN study_token_estimates.path_start IS 'Bar (relative to bar 0) of the first element of ar_path.';
COMMENT ON COLUMN study_token_estimates.ar_path IS 'Abnormal return of each bar of the event span, from path_start.';

CREATE TABLE study_token_results (
    run_id               bigint NOT NULL REFERENCES study_runs (id) ON DELETE CASCADE,
    event_id             bigint NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    token_id             integer NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
    window_start         integer NOT NULL,
    window_end           integer NOT NULL,
    car                  double precision NOT NULL,
    car_variance         double precision NOT NULL CHECK (car_variance >= 0),
    scar                 double precision,
    token_return         double precision NOT NULL,
    market_return        double precision NOT NULL,
    car_market_adjusted  double precision NOT NULL,
    PRIMARY KEY (run_id, event_id, token_id, window_start, window_end),
    CHECK (window_end > window_start)
);
CREATE INDEX study_token_results_event_idx ON study_token_results (event_id);
CREATE INDEX study_token_results_token_idx ON study_token_results (token_id);
COMMENT ON TABLE study_token_results IS 'Per event, token and event window: cumulative abnormal return and its variance.';
COMMENT ON COLUMN study_token_results.window_start IS 'First bar of the window, relative to bar 0 (the first bar opening at or after the event time).';
COMMENT ON COLUMN study_token_results.window_end IS 'Bar after the last bar of the window (exclusive): [-24, 24) on hourly bars is t0-24h to t0+24h.';
COMMENT ON COLUMN study_token_results.car IS 'Cumulative abnormal return: the sum of the bars'' abnormal returns (fraction, -0.05 = -5%).';
COMMENT ON COLUMN study_token_results.car_variance IS 'Variance of the CAR corrected for estimation error: sigma^2 (L + L^2/m + (sum Rm_event - L mean Rm_est)^2 / SSm) for the market model, sigma^2 (L + L^2/m) otherwise.';
COMMENT ON COLUMN study_token_results.scar IS 'Standardised CAR: car / sqrt(car_variance).';
COMMENT ON COLUMN study_token_results.token_return IS 'The token''s own compounded return over the window.';
COMMENT ON COLUMN study_token_results.market_return IS 'Its market series'' compounded return over the window.';
COMMENT ON COLUMN study_token_results.car_market_adjusted IS 'Sum of (R - R_market) over the window: the naive market-adjusted CAR, shown beside the model''s.';

CREATE TABLE study_dropped_tokens (
    run_id     bigint NOT NULL REFERENCES study_runs (id) ON DELETE CASCADE,
    event_id   bigint NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    token_id   integer NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
    reason     text NOT NULL,
    PRIMARY KEY (run_id, event_id, token_id)
);
COMMENT ON TABLE study_dropped_tokens IS 'Tokens left out of an event''s study, and why (no price data, a gap in a window, estimation window too short, constant prices).';

CREATE TABLE study_category_results (
    run_id                  bigint NOT NULL REFERENCES study_runs (id) ON DELETE CASCADE,
    event_id                bigint NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    category_id             integer NOT NULL REFERENCES categories (id) ON DELETE CASCADE,
    window_start            integer NOT NULL,
    window_end              integer NOT NULL,
    n_tokens                integer NOT NULL CHECK (n_tokens > 0),
    caar                    double precision NOT NULL,
    caar_value_weighted     double precision,
    cross_sd                double precision,
    t_stat                  double precision,
    p_value                 double precision CHECK (p_value BETWEEN 0 AND 1),
    patell_z                double precision,
    patell_p                double precision,
    bmp_t                   double precision,
    bmp_p                   double precision,
    kp_t                    double precision,
    kp_p                    double precision,
    mean_cross_correlation  double precision,
    portfolio_car           double precision,
    portfolio_t             double precision,
    portfolio_p             double precision,
    portfolio_sigma         double precision,
    rank_z                  double precision,
    rank_p                  double precision,
    sign_z                  double precision,
    sign_p                  double precision,
    n_positive              integer NOT NULL DEFAULT 0,
    caar_path               double precision[],
    PRIMARY KEY (run_id, event_id, category_id, window_start, window_end),
    CHECK (window_end > window_start)
);
CREATE INDEX study_category_results_event_idx ON study_category_results (event_id);
CREATE INDEX study_category_results_category_idx ON study_category_results (run_id, category_id, window_start, window_end, abs(caar) DESC, event_id DESC);
COMMENT ON TABLE study_category_results IS 'Per event, category and window: the cumulative average abnormal return (CAAR) and the test battery. portfolio_* and kp_* are robust to the tokens'' cross-correlation; t_stat, patell_* and bmp_* are naive.';
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
COMMENT ON COLUMN study_category_results.caar_path IS 'Cumulative mean abnormal return per bar of the event span (from the span''s first bar).';

CREATE TABLE study_market_moves (
    run_id         bigint NOT NULL REFERENCES study_runs (id) ON DELETE CASCADE,
    event_id       bigint NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    window_start   integer NOT NULL,
    window_end     integer NOT NULL,
    market_return  double precision NOT NULL,
    z              double precision NOT NULL,
    p_value        double precision NOT NULL CHECK (p_value BETWEEN 0 AND 1),
    PRIMARY KEY (run_id, event_id, window_start, window_end)
);
COMMENT ON TABLE study_market_moves IS 'The market proxy''s own move per event and window: abnormal returns hide a fall of the whole market, this shows it.';
COMMENT ON COLUMN study_market_moves.market_return IS 'The proxy''s compounded return over the window.';
COMMENT ON COLUMN study_market_moves.z IS '(sum of proxy returns - L * estimation mean) / (estimation sigma * sqrt(L)).';

CREATE TABLE study_event_scores (
    run_id                  bigint NOT NULL REFERENCES study_runs (id) ON DELETE CASCADE,
    event_id                bigint NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    impact_score            double precision,
    driver                  text CHECK (driver IN ('targets', 'market', 'spillover')),
    top_kind                text,
    top_category_id         integer REFERENCES categories (id) ON DELETE SET NULL,
    top_token_id            integer REFERENCES tokens (id) ON DELETE SET NULL,
    top_value               double precision,
    top_stat                double precision,
    top_p                   double precision,
    targets_p               double precision,
    spillover_p             double precision,
    spillover_tests         integer NOT NULL DEFAULT 0,
    components              jsonb NOT NULL DEFAULT '[]',
    naive_score             double precision,
    naive_category_id       integer REFERENCES categories (id) ON DELETE SET NULL,
    market_return           double precision,
    market_z                double precision,
    overlapping_events      bigint[] NOT NULL DEFAULT '{}',
    estimation_confounders  bigint[] NOT NULL DEFAULT '{}',
    input_fingerprint       text NOT NULL,
    computed_at             timestamptz NOT NULL DEFAULT now(),
    rank_key                double precision GENERATED ALWAYS AS (COALESCE(impact_score, -1)) STORED,
    PRIMARY KEY (run_id, event_id)
);
-- The ranked list walks this index: a page costs the same however many events exist.
CREATE INDEX study_event_scores_rank_idx ON study_event_scores (run_id, rank_key DESC, event_id DESC);
COMMENT ON TABLE study_event_scores IS 'One impact score per event and run, used to rank events; see README "Impact score".';
COMMENT ON COLUMN study_event_scores.impact_score IS 'Strongest evidence of a move as |z|: max of the targets (Bonferroni over them), the market''s own move, and the spillovers (Bonferroni over all other categories).';
COMMENT ON COLUMN study_event_scores.driver IS 'Which of the three gave the score.';
COMMENT ON COLUMN study_event_scores.top_kind IS 'The component behind the score: target-category, target-token, market or spillover.';
COMMENT ON COLUMN study_event_scores.top_value IS 'That component''s move (portfolio CAR, token CAR, or market return).';
COMMENT ON COLUMN study_event_scores.top_stat IS 'That component''s test statistic (uncorrected).';
COMMENT ON COLUMN study_event_scores.targets_p IS 'Smallest target p-value times the number of targets (capped at 1).';
COMMENT ON COLUMN study_event_scores.spillover_p IS 'Smallest spillover p-value times spillover_tests (capped at 1).';
COMMENT ON COLUMN study_event_scores.components IS 'Every target''s, the market''s and the strongest spillover''s move, statistic and p-value ("why this rank").';
COMMENT ON COLUMN study_event_scores.naive_score IS 'Naive score for comparison: the largest |market-adjusted CAAR| of any category, however few its tokens.';
COMMENT ON COLUMN study_event_scores.market_return IS 'The market proxy''s return over the ranking window.';
COMMENT ON COLUMN study_event_scores.market_z IS 'Its z against its estimation-window volatility.';
COMMENT ON COLUMN study_event_scores.overlapping_events IS 'Other events whose event span overlaps this one''s (confounders).';
COMMENT ON COLUMN study_event_scores.estimation_confounders IS 'High-impact events inside this event''s estimation window.';
COMMENT ON COLUMN study_event_scores.rank_key IS 'impact_score, or -1 without one: the ranked list''s sort key (indexed).';
COMMENT ON COLUMN study_event_scores.input_fingerprint IS 'SHA-256 of the event''s inputs (time, tags, prices in its windows, parameters); unchanged inputs are not recomputed.';

------------------------------------------------------------------------------
-- Data version: bumped by every statement that writes what the pages show, so the web
-- server can cache rendered pages and know when they are stale (one cheap read).
------------------------------------------------------------------------------
CREATE TABLE data_version (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    version    bigint NOT NULL DEFAULT 0
);
INSERT INTO data_version DEFAULT VALUES;
COMMENT ON TABLE data_version IS 'One row: a counter bumped by any write to the tables the web pages read.';

CREATE FUNCTION bump_data_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE data_version SET version = version + 1;
    RETURN NULL;
END $$;

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['sources', 'ingest_runs', 'events', 'articles', 'article_token_tags',
        'article_category_tags', 'tokens', 'token_aliases', 'categories', 'token_categories',
        'price_bars', 'study_runs', 'study_event_scores']
    LOOP
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON %I
                        FOR EACH STATEMENT EXECUTE FUNCTION bump_data_version()',
                       t || '_bump_data_version', t);
    END LOOP;
END $$;
