-- Per-host request spacing shared by every process that fetches (workers, one-shot
-- `catalyst ingest`): each request books the host's next slot here, so two workers on
-- one site keep `host_interval_ms` / Crawl-delay between them, not only within each.
CREATE TABLE fetch_hosts (
    host             text PRIMARY KEY CHECK (host <> ''),
    next_allowed_at  timestamptz NOT NULL
);
COMMENT ON TABLE fetch_hosts IS 'When each news host may next be asked: every fetch books a slot (see src/ingest/host_store.rs). Operational state, safe to truncate.';
COMMENT ON COLUMN fetch_hosts.host IS 'scheme://host:port of the site.';
COMMENT ON COLUMN fetch_hosts.next_allowed_at IS 'The earliest time the next request to this host may start.';
