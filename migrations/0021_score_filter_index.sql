-- 0021: the counts of a filtered list from an index.
--
-- A filtered list (a category, a search, the list sorted by a category's |CAAR|) counts
-- its matching stories and how many are significant: a join of the matches with the run's
-- scores on (run_id, event_id) that reads p_value and impact_score (the "min score" and
-- "significant" filters). Each score row is about 2 KB (components, confounder lists),
-- so the join read the whole table (21 MB at 10,000 events: 6-9 ms of a 17 ms count);
-- this index holds just what the counts read (52 pages), scanned index-only (the study
-- vacuums the scores after every run).
CREATE INDEX study_event_scores_filter_idx ON study_event_scores (run_id, event_id)
    INCLUDE (p_value, impact_score);
COMMENT ON INDEX study_event_scores_filter_idx IS 'The list''s counts: the scores a filter joins, with the two figures it tests (p_value, impact_score), read index-only.';
