-- Periodic jobs that are not per source (price upkeep), claimed like sources: a row per
-- job, `FOR UPDATE SKIP LOCKED` plus a lease, so one worker runs it at a time and a
-- killed worker's claim expires.
CREATE TABLE worker_jobs (
    name              text PRIMARY KEY CHECK (name <> ''),
    next_due_at       timestamptz NOT NULL DEFAULT now(),
    claimed_by        text,
    claim_expires_at  timestamptz,
    last_started_at   timestamptz,
    last_finished_at  timestamptz,
    last_status       text CHECK (last_status IN ('ok', 'failed')),
    last_summary      text,
    CONSTRAINT worker_jobs_claim_complete CHECK ((claimed_by IS NULL) = (claim_expires_at IS NULL))
);
CREATE INDEX worker_jobs_due_idx ON worker_jobs (next_due_at);
COMMENT ON TABLE worker_jobs IS 'Periodic worker jobs other than news sources (e.g. prices-upkeep): when each is next due and which worker holds it.';
COMMENT ON COLUMN worker_jobs.name IS 'Job name: prices-upkeep.';
COMMENT ON COLUMN worker_jobs.next_due_at IS 'When the job is next due.';
COMMENT ON COLUMN worker_jobs.claimed_by IS 'Worker id holding the job, while it runs.';
COMMENT ON COLUMN worker_jobs.claim_expires_at IS 'End of the claim''s lease; after it another worker may take the job (the holder was killed).';
COMMENT ON COLUMN worker_jobs.last_started_at IS 'When the last run started.';
COMMENT ON COLUMN worker_jobs.last_finished_at IS 'When the last run finished.';
COMMENT ON COLUMN worker_jobs.last_status IS 'ok or failed.';
COMMENT ON COLUMN worker_jobs.last_summary IS 'What the last run did (counts), or its error.';
