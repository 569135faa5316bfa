-- Moves and news lag (issue 16): the market's own moves, found in the prices, matched with
-- the stories that explain them, and how late each report came. `catalyst moves scan`
-- rewrites both tables in one transaction. See docs/moves.md.

CREATE TABLE moves (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Which series moved: the market proxy, a category portfolio or one token.
    series_kind     text NOT NULL CHECK (series_kind IN ('market', 'category', 'token')),
    token_id        integer REFERENCES tokens (id) ON DELETE CASCADE,
    category_id     integer REFERENCES categories (id) ON DELETE CASCADE,
    basis           text NOT NULL CHECK (basis IN ('raw', 'abnormal')),
    direction       smallint NOT NULL CHECK (direction IN (-1, 1)),
    onset           timestamptz NOT NULL,
    extreme_at      timestamptz NOT NULL,
    resolution      text NOT NULL CHECK (resolution IN ('1m', '5m', '1h')),
    size_log        double precision NOT NULL,
    raw_log         double precision NOT NULL,
    z               double precision NOT NULL,
    window_hours    integer NOT NULL CHECK (window_hours > 0),
    p_value         double precision NOT NULL CHECK (p_value > 0 AND p_value <= 1),
    null_hours      integer NOT NULL CHECK (null_hours > 0),
    n_tokens        integer NOT NULL CHECK (n_tokens > 0),
    -- The chart: the series' cumulative log path (the basis's), one point per step.
    path_start      timestamptz NOT NULL,
    path_step_s     integer NOT NULL CHECK (path_step_s > 0),
    path            real[] NOT NULL,
    scanned_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (extreme_at > onset),
    CHECK ((series_kind = 'market' AND token_id IS NULL AND category_id IS NULL)
        OR (series_kind = 'category' AND token_id IS NULL AND category_id IS NOT NULL)
        OR (series_kind = 'token' AND token_id IS NOT NULL AND category_id IS NULL)),
    CHECK (series_kind <> 'market' OR basis = 'raw')
);
CREATE UNIQUE INDEX moves_series_onset_key
    ON moves (series_kind, COALESCE(token_id, 0), COALESCE(category_id, 0), basis, onset);
CREATE INDEX moves_onset_idx ON moves (onset DESC);
CREATE INDEX moves_token_idx ON moves (token_id) WHERE token_id IS NOT NULL;
CREATE INDEX moves_category_idx ON moves (category_id) WHERE category_id IS NOT NULL;
COMMENT ON TABLE moves IS 'Abnormal moves found in the prices by `catalyst moves scan`: the market proxy (raw), every category portfolio of at least 5 tokens (raw and abnormal) and every token (abnormal), each judged against ordinary hours. See docs/moves.md.';
COMMENT ON COLUMN moves.series_kind IS 'market (the study''s market proxy), category (equal-weighted portfolio of its tokens) or token.';
COMMENT ON COLUMN moves.basis IS 'raw: the series'' own log return; abnormal: its return minus beta times the market''s (beta fitted on the 720 hours ending 24 hours before the move).';
COMMENT ON COLUMN moves.direction IS '-1 a fall, +1 a rise.';
COMMENT ON COLUMN moves.onset IS 'When the move began: the last high before a fall (low before a rise), at the finest interval stored for that span.';
COMMENT ON COLUMN moves.extreme_at IS 'When it ended: the trough of a fall (peak of a rise), at the same resolution.';
COMMENT ON COLUMN moves.resolution IS 'Interval of the bars that placed onset and extreme_at (1m, 5m or 1h).';
COMMENT ON COLUMN moves.size_log IS 'The move in its basis, in log terms, from onset to extreme_at on hourly bars (-0.16 = a 14.8% fall).';
COMMENT ON COLUMN moves.raw_log IS 'The series'' own (raw) log move over the same hours.';
COMMENT ON COLUMN moves.z IS 'The detection statistic: the sum of the basis returns over the detection window divided by sigma sqrt(hours), sigma the robust (1.4826 MAD) hourly volatility of the 720 hours ending 24 hours before the window''s day.';
COMMENT ON COLUMN moves.window_hours IS 'Length of the detection window (1 to 24 hours) that gave the statistic.';
COMMENT ON COLUMN moves.p_value IS 'Calibrated at ordinary hours: the share of ordinary hours of the same series and basis at which some window ending there is at least as extreme (min-p over window lengths, calibrated again).';
COMMENT ON COLUMN moves.null_hours IS 'Ordinary hours in that calibration.';
COMMENT ON COLUMN moves.n_tokens IS 'Tokens in the series (category members with data; 1 for a token or the market proxy).';
COMMENT ON COLUMN moves.path IS 'Cumulative log move of the basis series from path_start, one value per path_step_s seconds (0 at path_start), for charts.';

CREATE TABLE move_matches (
    move_id         bigint NOT NULL REFERENCES moves (id) ON DELETE CASCADE,
    event_id        bigint NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    first_report    timestamptz NOT NULL,
    lag_s           bigint NOT NULL,
    share_before    double precision CHECK (share_before BETWEEN 0 AND 1),
    is_best         boolean NOT NULL,
    PRIMARY KEY (move_id, event_id)
);
CREATE INDEX move_matches_event_idx ON move_matches (event_id);
CREATE UNIQUE INDEX move_matches_one_best ON move_matches (move_id) WHERE is_best;
COMMENT ON TABLE move_matches IS 'Candidate stories of each move: a story whose subjects include the moved series (a market-wide story for a market move), first reported from 24 hours before the onset to 24 hours after the extreme. The best one is chosen by the ranking''s attribution rule (the report closest to the move''s largest bar).';
COMMENT ON COLUMN move_matches.first_report IS 'The story''s first report (events.event_time).';
COMMENT ON COLUMN move_matches.lag_s IS 'News lag in seconds: first report minus the move''s onset (negative: reported before the move began).';
COMMENT ON COLUMN move_matches.share_before IS 'Share of the move (onset to extreme) that had already happened at the first report, 0 to 1, from the move''s path.';
COMMENT ON COLUMN move_matches.is_best IS 'The story the move is attributed to.';

------------------------------------------------------------------------------
-- Views
------------------------------------------------------------------------------
CREATE VIEW market_moves AS
SELECT m.id AS move_id,
       m.series_kind,
       CASE m.series_kind WHEN 'market' THEN 'market'
                          WHEN 'category' THEN c.slug
                          ELSE t.symbol END AS series,
       m.token_id, m.category_id, m.basis, m.direction,
       m.onset, m.extreme_at, m.extreme_at - m.onset AS duration, m.resolution,
       m.size_log, m.raw_log, exp(m.size_log) - 1 AS size_pct_simple,
       m.z, m.window_hours, m.p_value, m.null_hours, m.n_tokens,
       b.event_id AS best_event_id, e.headline AS best_headline,
       b.lag_s AS best_lag_s, b.share_before AS best_share_before,
       (SELECT count(*) FROM move_matches x WHERE x.move_id = m.id) AS candidate_stories,
       (b.event_id IS NOT NULL) AS explained
FROM moves m
LEFT JOIN tokens t ON t.id = m.token_id
LEFT JOIN categories c ON c.id = m.category_id
LEFT JOIN move_matches b ON b.move_id = m.id AND b.is_best
LEFT JOIN events e ON e.id = b.event_id;
COMMENT ON VIEW market_moves IS 'Every detected move with its series'' name, size (log and simple), evidence and the story it is attributed to (NULL: no story explains it). One row per move.';
COMMENT ON COLUMN market_moves.move_id IS 'The move (moves.id).';
COMMENT ON COLUMN market_moves.series_kind IS 'market, category or token.';
COMMENT ON COLUMN market_moves.series IS '"market", a category slug or a token symbol.';
COMMENT ON COLUMN market_moves.token_id IS 'The token, for a token''s move.';
COMMENT ON COLUMN market_moves.category_id IS 'The category, for a category''s move.';
COMMENT ON COLUMN market_moves.basis IS 'raw (the series'' own return) or abnormal (beyond beta times the market''s).';
COMMENT ON COLUMN market_moves.direction IS '-1 a fall, +1 a rise.';
COMMENT ON COLUMN market_moves.onset IS 'When the move began (UTC), at the finest interval stored.';
COMMENT ON COLUMN market_moves.extreme_at IS 'Its trough (a fall) or peak (a rise).';
COMMENT ON COLUMN market_moves.duration IS 'extreme_at - onset.';
COMMENT ON COLUMN market_moves.resolution IS 'Bars that placed onset and extreme_at: 1m, 5m or 1h.';
COMMENT ON COLUMN market_moves.size_log IS 'The move in its basis, log, onset to extreme on hourly bars.';
COMMENT ON COLUMN market_moves.raw_log IS 'The series'' own log move over the same hours.';
COMMENT ON COLUMN market_moves.z IS 'Detection statistic: summed returns of the detection window over sigma sqrt(hours).';
COMMENT ON COLUMN market_moves.window_hours IS 'Length of the detection window (1 to 24 hours).';
COMMENT ON COLUMN market_moves.p_value IS 'Calibrated at ordinary hours (see moves.p_value).';
COMMENT ON COLUMN market_moves.null_hours IS 'Ordinary hours behind the p-value.';
COMMENT ON COLUMN market_moves.n_tokens IS 'Tokens in the series.';
COMMENT ON COLUMN market_moves.best_event_id IS 'The story the move is attributed to (NULL: none).';
COMMENT ON COLUMN market_moves.best_headline IS 'Its headline.';
COMMENT ON COLUMN market_moves.best_share_before IS 'Share of the move done at that story''s first report, 0 to 1.';
COMMENT ON COLUMN market_moves.candidate_stories IS 'Stories matched with the move (about the moved series, first reported from 24 h before the onset to 24 h after the extreme).';
COMMENT ON COLUMN market_moves.size_pct_simple IS 'exp(size_log) - 1: the move as a simple return (-0.148 = -14.8%).';
COMMENT ON COLUMN market_moves.best_lag_s IS 'News lag of the attributed story in seconds (first report minus onset).';
COMMENT ON COLUMN market_moves.explained IS 'True when some story is matched with the move.';

CREATE VIEW unexplained_moves AS
SELECT * FROM market_moves WHERE NOT explained;
-- Its columns mean what market_moves' do.
DO $$
DECLARE c record;
BEGIN
    FOR c IN SELECT a.attname, col_description('market_moves'::regclass, a.attnum) AS d
             FROM pg_attribute a
             WHERE a.attrelid = 'market_moves'::regclass AND a.attnum > 0 AND NOT a.attisdropped
    LOOP
        EXECUTE format('COMMENT ON COLUMN unexplained_moves.%I IS %L', c.attname, c.d);
    END LOOP;
END $$;
COMMENT ON VIEW unexplained_moves IS 'Moves no story explains: "the market moved and none of your sources said why". Also what to look at when a feed is missing.';

CREATE VIEW article_move_lags AS
SELECT a.id AS article_id, a.event_id, a.source_id, s.name AS source,
       a.published_at, a.time_precision, mm.move_id,
       EXTRACT(EPOCH FROM a.published_at - m.onset)::bigint AS lag_s,
       a.published_at = min(a.published_at) OVER (PARTITION BY mm.move_id) AS first_for_move
FROM move_matches mm
JOIN moves m ON m.id = mm.move_id
JOIN articles a ON a.event_id = mm.event_id
JOIN sources s ON s.id = a.source_id;
COMMENT ON COLUMN article_move_lags.article_id IS 'The article.';
COMMENT ON COLUMN article_move_lags.event_id IS 'Its story, matched with the move.';
COMMENT ON COLUMN article_move_lags.source_id IS 'The article''s source.';
COMMENT ON COLUMN article_move_lags.source IS 'The source''s name.';
COMMENT ON COLUMN article_move_lags.published_at IS 'When the article was published (UTC).';
COMMENT ON COLUMN article_move_lags.time_precision IS 'exact, hour or day: with day, published_at is a placeholder hour and the lag is not meaningful.';
COMMENT ON COLUMN article_move_lags.move_id IS 'The move.';
COMMENT ON COLUMN article_move_lags.lag_s IS 'published_at minus the move''s onset, in seconds (negative: before the move began).';
COMMENT ON COLUMN article_move_lags.first_for_move IS 'True for the earliest article among all stories matched with the move.';
COMMENT ON VIEW article_move_lags IS 'Each article of each story matched with a move, with its lag to the move''s onset; first_for_move marks the earliest article among all stories matched with that move.';

CREATE VIEW source_timeliness AS
WITH per_move AS (
    SELECT source_id, source, move_id,
           min(lag_s) AS lag_s,
           bool_or(first_for_move) AS first
    FROM article_move_lags
    WHERE time_precision <> 'day'
    GROUP BY source_id, source, move_id
)
SELECT source_id, source,
       count(*) AS moves_reported,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY lag_s) AS median_lag_s,
       count(*) FILTER (WHERE first) AS first_to_report
FROM per_move
GROUP BY source_id, source;
COMMENT ON COLUMN source_timeliness.source_id IS 'The source.';
COMMENT ON COLUMN source_timeliness.source IS 'Its name.';
COMMENT ON COLUMN source_timeliness.moves_reported IS 'Moves with an article of this source in a matched story.';
COMMENT ON COLUMN source_timeliness.median_lag_s IS 'Median over those moves of the source''s first article minus the onset, in seconds.';
COMMENT ON COLUMN source_timeliness.first_to_report IS 'Moves for which this source had the earliest article of all.';
COMMENT ON VIEW source_timeliness IS 'Per source: moves it reported (an article in a story matched with the move), the median lag of its first article to the onset, and how often it was first among all sources. Day-precision reports are left out.';

CREATE TRIGGER moves_bump_data_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON moves FOR EACH STATEMENT EXECUTE FUNCTION bump_data_version();
CREATE TRIGGER move_matches_bump_data_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON move_matches FOR EACH STATEMENT EXECUTE FUNCTION bump_data_version();
