-- Sources made by ad-hoc `catalyst ingest --feed` (not from the sources file) are ingested
-- when asked, not polled: a worker or a one-shot `catalyst ingest` would otherwise keep
-- fetching them, and one read from a file (the demo's) fails at every poll.
UPDATE sources SET enabled = false WHERE NOT from_config;

COMMENT ON COLUMN sources.enabled IS 'Polled by workers and `catalyst ingest` only when true. Config sources removed from the file are disabled, not deleted (their articles stay); ad-hoc `ingest --feed` sources are never enabled (ingested on demand).';
