-- Issue 17: the scores' confounder lists compress with LZ4 rather than pglz.
--
-- At 100,000 events a score's `overlapping_events` holds about 1,800 ids (and
-- `estimation_confounders`, the high-impact events of its estimation window, can grow
-- the same way): kilobytes, past the TOAST threshold, where PostgreSQL compresses each
-- value. With its default, pglz, the scores' COPY spent 91% of the server's time in
-- `pglz_compress` (perf, 100,000-event study: 20-30 score rows a second). LZ4 compresses the same
-- arrays about five times faster (1,000 arrays of 5,000 ids: 5.3 s → 0.96 s) at a
-- slightly larger size (16 → 21 MB). Only values written from now on are affected.
--
-- A server built without LZ4 (or older than PostgreSQL 14, which has no per-column
-- compression) keeps these values uncompressed instead: storage EXTERNAL, as fast to
-- write as LZ4, about twice its size on disk.
DO $$
BEGIN
    ALTER TABLE study_event_scores
        ALTER COLUMN overlapping_events SET COMPRESSION lz4,
        ALTER COLUMN estimation_confounders SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported OR syntax_error THEN
    ALTER TABLE study_event_scores
        ALTER COLUMN overlapping_events SET STORAGE EXTERNAL,
        ALTER COLUMN estimation_confounders SET STORAGE EXTERNAL;
END
$$;
