-- 0011: an honest ranking. Tags carry their salience (subject of the story or a passing
-- mention); scores are calibrated against ordinary hours, corrected for every component
-- they take the best of, checked against a second market model, and a move shared by
-- several stories is credited to one (docs/study.md, "Impact score").

------------------------------------------------------------------------------
-- Salience of tags.
------------------------------------------------------------------------------
CREATE TABLE salience_rules (
    kind     text NOT NULL CHECK (kind IN ('off-market', 'roundup', 'modifier-suffix',
                                           'market-wide-category', 'market-token')),
    pattern  text NOT NULL CHECK (pattern <> ''),
    PRIMARY KEY (kind, pattern)
);
COMMENT ON TABLE salience_rules IS 'The [salience] rules of config/tagging.toml: headline words that make a story about something else (off-market) or a roundup, suffixes that make a name a modifier, and the categories and tokens whose stories are about the market as a whole.';

ALTER TABLE article_token_tags
    ADD COLUMN salience text CHECK (salience IN ('subject', 'mention')),
    ADD COLUMN salience_note text;
COMMENT ON COLUMN article_token_tags.salience IS 'subject: the story is about the token; mention: a passing mention (only in the description, a modifier like "Bitcoin-inspired", one item of a list, a headline about something else). Only subjects are scored. NULL: tagged before salience existed, treated as subject (catalyst events retag recomputes it).';
COMMENT ON COLUMN article_token_tags.salience_note IS 'Why the tag is a mention (or how a subject was declared).';

ALTER TABLE article_category_tags
    ADD COLUMN salience text CHECK (salience IN ('subject', 'mention')),
    ADD COLUMN salience_note text;
COMMENT ON COLUMN article_category_tags.salience IS 'subject or mention, as for token tags; a token tag''s categories inherit its salience. NULL: tagged before salience existed, treated as subject.';
COMMENT ON COLUMN article_category_tags.salience_note IS 'Why the tag is a mention.';

CREATE OR REPLACE VIEW event_token_tags AS
SELECT a.event_id, t.token_id, t.rule, t.matched_text, t.ambiguous, t.article_id,
       COALESCE(t.salience, 'subject') AS salience, t.salience_note
FROM article_token_tags t JOIN articles a ON a.id = t.article_id;
COMMENT ON COLUMN event_token_tags.salience IS 'subject or mention (see article_token_tags.salience).';
COMMENT ON COLUMN event_token_tags.salience_note IS 'Why the tag is a mention.';

CREATE OR REPLACE VIEW event_category_tags AS
SELECT a.event_id, c.category_id, c.rule, c.matched_text, c.article_id,
       COALESCE(c.salience, 'subject') AS salience, c.salience_note
FROM article_category_tags c JOIN articles a ON a.id = c.article_id;
COMMENT ON COLUMN event_category_tags.salience IS 'subject or mention (see article_category_tags.salience).';
COMMENT ON COLUMN event_category_tags.salience_note IS 'Why the tag is a mention.';

------------------------------------------------------------------------------
-- Calibrated, attributed scores.
------------------------------------------------------------------------------
ALTER TABLE study_event_scores
    ADD COLUMN not_ranked_reason text,
    ADD COLUMN p_value double precision CHECK (p_value BETWEEN 0 AND 1),
    ADD COLUMN ln_p double precision CHECK (ln_p <= 0),
    ADD COLUMN p_primary double precision CHECK (p_primary BETWEEN 0 AND 1),
    ADD COLUMN p_alternative double precision CHECK (p_alternative BETWEEN 0 AND 1),
    ADD COLUMN alternative_proxy text,
    ADD COLUMN model_dependent boolean NOT NULL DEFAULT false,
    ADD COLUMN calibrated boolean NOT NULL DEFAULT false,
    ADD COLUMN k_eff double precision,
    ADD COLUMN null_hours integer,
    ADD COLUMN stronger_than double precision CHECK (stronger_than BETWEEN 0 AND 1),
    ADD COLUMN q_value double precision CHECK (q_value BETWEEN 0 AND 1),
    ADD COLUMN top_window_start integer,
    ADD COLUMN top_window_end integer,
    ADD COLUMN top_pre_report boolean,
    ADD COLUMN top_p_calibrated double precision CHECK (top_p_calibrated BETWEEN 0 AND 1),
    ADD COLUMN top_stronger_than double precision CHECK (top_stronger_than BETWEEN 0 AND 1),
    ADD COLUMN top_mde double precision,
    ADD COLUMN publication_bar_abnormal double precision,
    ADD COLUMN publication_bar_return double precision,
    ADD COLUMN move_peak_at timestamptz,
    ADD COLUMN top_component integer,
    ADD COLUMN credited_to bigint REFERENCES events (id) ON DELETE SET NULL,
    ADD COLUMN episode_size integer NOT NULL DEFAULT 1 CHECK (episode_size >= 1);

-- The ranked list's key: ranked events by score, then stories whose move is credited to
-- another story, then stories that are not ranked.
DROP INDEX study_event_scores_rank_idx;
ALTER TABLE study_event_scores DROP COLUMN rank_key;
ALTER TABLE study_event_scores ADD COLUMN rank_key double precision GENERATED ALWAYS AS (
    CASE WHEN impact_score IS NULL OR not_ranked_reason IS NOT NULL THEN -2
         WHEN credited_to IS NOT NULL THEN -1
         ELSE impact_score END) STORED;
CREATE INDEX study_event_scores_rank_idx ON study_event_scores (run_id, rank_key DESC, event_id DESC);
CREATE INDEX study_event_scores_credited_idx ON study_event_scores (run_id, credited_to) WHERE credited_to IS NOT NULL;

COMMENT ON COLUMN study_event_scores.impact_score IS 'The evidence that the story moved what it is about, as |z|: the corrected calibrated p (p_value) on the normal scale. 1.96 = p 0.05. NULL when not ranked.';
COMMENT ON COLUMN study_event_scores.driver IS 'targets: the score comes from a subject of the story (a category or token); market: from the market''s own move (stories about the market as a whole).';
COMMENT ON COLUMN study_event_scores.top_kind IS 'The component behind the score: target-category, target-token or market.';
COMMENT ON COLUMN study_event_scores.top_value IS 'That component''s abnormal move over its window (fraction): a CAR, a category portfolio CAR, or the market''s move beyond its mean.';
COMMENT ON COLUMN study_event_scores.top_stat IS 'That component''s t (abnormal move / its standard deviation), under the run''s model.';
COMMENT ON COLUMN study_event_scores.top_p IS 'That component''s t-based two-sided p (normal, independent returns assumed), before any correction. See top_p_calibrated.';
COMMENT ON COLUMN study_event_scores.targets_p IS 'Not used since migration 0011 (see p_value).';
COMMENT ON COLUMN study_event_scores.spillover_p IS 'Not used since migration 0011: moves of categories a story is not about are not credited to it.';
COMMENT ON COLUMN study_event_scores.naive_score IS 'Not used since migration 0011.';
COMMENT ON COLUMN study_event_scores.components IS 'Every score component: series (market, token, category), window, pre_report, and per market model (run''s first, then the alternative) the abnormal move, raw return, t, ln_p_t, ln_p_calibrated, stronger_than, null_hours, sd; mde. Query it through the view event_evidence.';
COMMENT ON COLUMN study_event_scores.not_ranked_reason IS 'Why the story is not ranked: no tag, only passing mentions, or nothing it is about can be measured. NULL when ranked.';
COMMENT ON COLUMN study_event_scores.p_value IS 'The corrected calibrated p: the chance that an ordinary hour gives evidence at least this strong, over the same components (subjects x windows) and the weaker of the two market models. Significant: below 0.05.';
COMMENT ON COLUMN study_event_scores.ln_p IS 'ln(p_value), exact where p_value underflows.';
COMMENT ON COLUMN study_event_scores.p_primary IS 'The corrected calibrated p under the run''s market model alone.';
COMMENT ON COLUMN study_event_scores.p_alternative IS 'The corrected calibrated p under the alternative market model alone (alternative_proxy).';
COMMENT ON COLUMN study_event_scores.alternative_proxy IS 'The second market model''s proxy: the equal-weighted index (BTC when the run''s proxy is that index).';
COMMENT ON COLUMN study_event_scores.model_dependent IS 'Significant under the run''s model but not under the alternative: the evidence depends on the model (ranked by the weaker).';
COMMENT ON COLUMN study_event_scores.calibrated IS 'True when every component was calibrated on ordinary hours; false: t-based p-values with a Bonferroni correction (too few ordinary hours).';
COMMENT ON COLUMN study_event_scores.k_eff IS 'Effective number of independent looks the correction charges for (fitted on ordinary hours; the number of components when not calibrated).';
COMMENT ON COLUMN study_event_scores.null_hours IS 'Ordinary hours the calibration used.';
COMMENT ON COLUMN study_event_scores.stronger_than IS 'Share of ordinary hours whose evidence over the same components is weaker.';
COMMENT ON COLUMN study_event_scores.q_value IS 'Benjamini-Hochberg q-value of p_value across every ranked event of the run.';
COMMENT ON COLUMN study_event_scores.top_component IS 'Position (1-based) in components of the component the score comes from.';
COMMENT ON COLUMN study_event_scores.top_window_start IS 'First bar of the top component''s window, relative to bar 0.';
COMMENT ON COLUMN study_event_scores.top_window_end IS 'Bar after its last bar.';
COMMENT ON COLUMN study_event_scores.top_pre_report IS 'True when the evidence is the move before the first report.';
COMMENT ON COLUMN study_event_scores.top_p_calibrated IS 'The top component''s calibrated p, before correction.';
COMMENT ON COLUMN study_event_scores.top_stronger_than IS 'Share of ordinary hours with a weaker statistic for the top component.';
COMMENT ON COLUMN study_event_scores.top_mde IS 'Minimum detectable abnormal move of the top component (fraction): 80% power at the event''s corrected 5% level, from the calibrated null.';
COMMENT ON COLUMN study_event_scores.publication_bar_abnormal IS 'Abnormal return of the top series in the bar containing the publication time (neither before nor after the report; not scored). NULL when the publication time is on a bar''s opening.';
COMMENT ON COLUMN study_event_scores.publication_bar_return IS 'That series'' raw return in the publication bar.';
COMMENT ON COLUMN study_event_scores.move_peak_at IS 'Opening of the bar with the largest abnormal return of the top component: when the move happened.';
COMMENT ON COLUMN study_event_scores.credited_to IS 'Another event credited with the same move (same series, direction and overlapping window): this story is "same move" and not ranked on its own. NULL when this story is credited or alone.';
COMMENT ON COLUMN study_event_scores.episode_size IS 'Significant stories claiming the same move (1: this story alone).';
COMMENT ON COLUMN study_event_scores.rank_key IS 'Sort key of the ranked list: impact_score for ranked events, -1 for stories whose move is credited to another, -2 for stories not ranked.';

------------------------------------------------------------------------------
-- The public views gain the new columns (appended).
------------------------------------------------------------------------------
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
    COALESCE(subj.categories, '{}') AS subject_categories
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
COMMENT ON COLUMN event_impact.impact_score IS 'The event''s impact score: the corrected calibrated p (p_value) as |z|. NULL when not ranked (see not_ranked_reason).';
COMMENT ON COLUMN event_impact.driver IS 'What gave the score: targets (a category or token the story is about) or market (the market''s own move, for stories about the market as a whole).';
COMMENT ON COLUMN event_impact.top_kind IS 'The component behind the score: target-category, target-token or market.';
COMMENT ON COLUMN event_impact.top_value IS 'That component''s abnormal move over its window (top_window_start, top_window_end; fraction: -0.05 = -5%).';
COMMENT ON COLUMN event_impact.top_stat IS 'That component''s t under the run''s model.';
COMMENT ON COLUMN event_impact.top_p IS 'Its t-based two-sided p-value, before correction (assumes normal, independent returns; see top_p_calibrated).';
COMMENT ON COLUMN event_impact.tagged_tokens IS 'Symbols of the tokens the articles name (unambiguous tags, subjects and mentions).';
COMMENT ON COLUMN event_impact.tagged_categories IS 'Slugs of the categories the articles name (subjects and mentions).';
COMMENT ON COLUMN event_impact.not_ranked_reason IS 'Why the story is not ranked (no tag, only passing mentions, nothing measurable); NULL when ranked.';
COMMENT ON COLUMN event_impact.p_value IS 'Corrected calibrated p: the share of ordinary hours with evidence at least this strong over the same components and both market models.';
COMMENT ON COLUMN event_impact.q_value IS 'Benjamini-Hochberg q-value across the ranked events.';
COMMENT ON COLUMN event_impact.significant IS 'p_value below 0.05.';
COMMENT ON COLUMN event_impact.model_dependent IS 'Significant under the run''s market model but not under the equal-weighted index (or the reverse proxy).';
COMMENT ON COLUMN event_impact.p_primary IS 'Corrected calibrated p under the run''s model alone.';
COMMENT ON COLUMN event_impact.p_alternative IS 'Corrected calibrated p under the alternative model alone.';
COMMENT ON COLUMN event_impact.stronger_than IS 'Share of ordinary hours whose evidence is weaker.';
COMMENT ON COLUMN event_impact.top_window_start IS 'First bar of the window carrying the evidence, relative to bar 0.';
COMMENT ON COLUMN event_impact.top_window_end IS 'Bar after its last bar.';
COMMENT ON COLUMN event_impact.top_pre_report IS 'True when the evidence is a move before the first report.';
COMMENT ON COLUMN event_impact.top_p_calibrated IS 'The top component''s calibrated p before correction.';
COMMENT ON COLUMN event_impact.top_mde IS 'Minimum detectable abnormal move of the top component (80% power, corrected 5% level).';
COMMENT ON COLUMN event_impact.credited_to IS 'The event credited with the same move; this one is "same move" and not ranked on its own.';
COMMENT ON COLUMN event_impact.episode_size IS 'Significant stories claiming the same move.';
COMMENT ON COLUMN event_impact.subject_tokens IS 'Tokens the story is about (not passing mentions): the score''s token targets.';
COMMENT ON COLUMN event_impact.subject_categories IS 'Categories the story is about: the score''s category targets (those with enough tokens).';

-- One row per event, score component and market model.
CREATE VIEW event_evidence_all_runs AS
SELECT
    s.run_id,
    s.event_id,
    e.event_time,
    e.headline,
    comp.ordinality::int AS component,
    comp.ordinality::int = s.top_component AS is_top,
    comp.value->>'series' AS series,
    c.slug AS category,
    t.symbol AS token,
    (comp.value->'window'->>'start')::int AS window_start,
    (comp.value->'window'->>'end')::int AS window_end,
    (comp.value->>'pre_report')::boolean AS pre_report,
    m.ordinality::int = 1 AS run_model,
    m.value->>'proxy' AS proxy,
    (m.value->>'abnormal')::float8 AS abnormal,
    (m.value->>'raw')::float8 AS raw_return,
    (m.value->>'t')::float8 AS t,
    exp((m.value->>'ln_p_t')::float8) AS p_t,
    exp((m.value->>'ln_p_calibrated')::float8) AS p_calibrated,
    (m.value->>'stronger_than')::float8 AS stronger_than,
    (m.value->>'null_hours')::int AS null_hours,
    CASE WHEN m.ordinality = 1 THEN (comp.value->>'mde')::float8 END AS mde
FROM study_event_scores s
JOIN study_runs sr ON sr.id = s.run_id AND sr.status = 'complete'
JOIN events e ON e.id = s.event_id
CROSS JOIN LATERAL jsonb_array_elements(s.components) WITH ORDINALITY AS comp(value, ordinality)
CROSS JOIN LATERAL jsonb_array_elements(
    CASE WHEN jsonb_typeof(comp.value->'models') = 'array' THEN comp.value->'models' ELSE '[]' END
) WITH ORDINALITY AS m(value, ordinality)
LEFT JOIN categories c ON c.id = (comp.value->>'category_id')::int
LEFT JOIN tokens t ON t.id = (comp.value->>'token_id')::int;
COMMENT ON VIEW event_evidence_all_runs IS 'Per complete study run, event, score component (a series in a window) and market model: the abnormal move, its t, the t-based p, the calibrated p and the minimum detectable effect. event_evidence keeps the current run.';

CREATE VIEW event_evidence AS
SELECT v.* FROM event_evidence_all_runs v JOIN current_study_run r ON r.run_id = v.run_id;
COMMENT ON VIEW event_evidence IS 'Per event, score component and market model, in the current study run: what the impact score is made of. One row per (component, model); run_model marks the run''s own market model.';

DO $$
DECLARE v text;
BEGIN
    FOREACH v IN ARRAY ARRAY['event_evidence_all_runs', 'event_evidence'] LOOP
        EXECUTE format($c$
            COMMENT ON COLUMN %1$I.run_id IS 'study_runs.id.';
            COMMENT ON COLUMN %1$I.event_id IS 'events.id.';
            COMMENT ON COLUMN %1$I.event_time IS 'Event time (UTC): the first report.';
            COMMENT ON COLUMN %1$I.headline IS 'Event headline.';
            COMMENT ON COLUMN %1$I.component IS 'Position of the component in the score (1-based).';
            COMMENT ON COLUMN %1$I.is_top IS 'The component the score comes from.';
            COMMENT ON COLUMN %1$I.series IS 'market (the proxy''s own move), token or category (its portfolio of the tokens kept for the event).';
            COMMENT ON COLUMN %1$I.category IS 'Category slug, for a category component.';
            COMMENT ON COLUMN %1$I.token IS 'Token symbol, for a token component.';
            COMMENT ON COLUMN %1$I.window_start IS 'First bar of the window relative to bar 0 (the first bar opening at or after the first report).';
            COMMENT ON COLUMN %1$I.window_end IS 'Bar after the window''s last bar.';
            COMMENT ON COLUMN %1$I.pre_report IS 'The window before the first report (moved before the first report).';
            COMMENT ON COLUMN %1$I.run_model IS 'True for the run''s market model, false for the alternative.';
            COMMENT ON COLUMN %1$I.proxy IS 'The model''s market proxy.';
            COMMENT ON COLUMN %1$I.abnormal IS 'Abnormal move over the window (fraction): CAR, portfolio CAR, or the market''s move beyond its mean.';
            COMMENT ON COLUMN %1$I.raw_return IS 'The series'' own compounded return over the window.';
            COMMENT ON COLUMN %1$I.t IS 'abnormal / its standard deviation.';
            COMMENT ON COLUMN %1$I.p_t IS 'Two-sided p of t assuming normal, independent returns (0 when it underflows).';
            COMMENT ON COLUMN %1$I.p_calibrated IS 'Share of ordinary hours with |t| at least this large (a generalised Pareto tail beyond the 90th percentile); NULL with too few ordinary hours.';
            COMMENT ON COLUMN %1$I.stronger_than IS 'Share of ordinary hours with a smaller |t|.';
            COMMENT ON COLUMN %1$I.null_hours IS 'Ordinary hours behind p_calibrated.';
            COMMENT ON COLUMN %1$I.mde IS 'Minimum detectable |abnormal move| (80%% power at the event''s corrected 5%% level), run''s model only.';
        $c$, v);
    END LOOP;
END $$;
