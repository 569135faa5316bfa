-- The live tracker (`catalyst serve`): the first-start price backfill reports its
-- progress, and writers of new articles or bars ask for the study to run.

ALTER TABLE worker_jobs
    ADD COLUMN progress_done  integer CHECK (progress_done >= 0),
    ADD COLUMN progress_total integer CHECK (progress_total >= 0),
    ADD COLUMN wanted_at      timestamptz;
COMMENT ON COLUMN worker_jobs.name IS 'Job name: prices-upkeep, prices-backfill or study.';
COMMENT ON COLUMN worker_jobs.progress_done IS 'While the job runs (prices-backfill): tokens done so far; NULL when the job reports no progress.';
COMMENT ON COLUMN worker_jobs.progress_total IS 'While the job runs (prices-backfill): tokens to do.';
COMMENT ON COLUMN worker_jobs.wanted_at IS 'When a writer last asked for the job before its schedule (new articles or bars ask for the study); cleared by the run that covers the request.';

-- The sources page shows the jobs (and the event list the backfill's progress): a
-- change to them is a change to the pages. Per row, unlike the other tables' statement
-- triggers: a worker's claim attempt that finds nothing due updates no row, and must not
-- empty the page cache every few seconds.
CREATE TRIGGER worker_jobs_bump_data_version AFTER INSERT OR UPDATE OR DELETE
    ON worker_jobs FOR EACH ROW EXECUTE FUNCTION bump_data_version();
