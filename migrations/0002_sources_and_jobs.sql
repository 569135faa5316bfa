-- Sources as configured (config/sources.toml) and scheduled: kinds, HTML selectors,
-- politeness settings, conditional-GET validators, health, and the job claim that keeps
-- several workers from fetching one source at once.

------------------------------------------------------------------------------
-- Sources
------------------------------------------------------------------------------
ALTER TABLE sources DROP CONSTRAINT sources_kind_check;
ALTER TABLE sources ADD CONSTRAINT sources_kind_check
    CHECK (kind IN ('feed', 'rss', 'atom', 'json', 'html'));
COMMENT ON COLUMN sources.kind IS 'feed: any of RSS/Atom/JSON Feed (detected); rss, atom, json: that feed format (documentation only, the parser detects it); html: a listing page scraped with CSS selectors, each article page then fetched for its metadata.';

ALTER TABLE sources
    ADD COLUMN from_config        boolean NOT NULL DEFAULT false,
    ADD COLUMN poll_interval_secs integer NOT NULL DEFAULT 900 CHECK (poll_interval_secs >= 10),
    ADD COLUMN user_agent         text CHECK (user_agent <> ''),
    ADD COLUMN item_selector      text CHECK (item_selector <> ''),
    ADD COLUMN link_selector      text CHECK (link_selector <> ''),
    ADD COLUMN title_selector     text CHECK (title_selector <> ''),
    ADD COLUMN time_selector      text CHECK (time_selector <> ''),
    ADD COLUMN max_articles       integer NOT NULL DEFAULT 30 CHECK (max_articles > 0),
    ADD COLUMN etag               text,
    ADD COLUMN last_modified      text,
    ADD COLUMN last_status        text CHECK (last_status IN ('ok', 'failed', 'not_modified')),
    ADD COLUMN last_run_at        timestamptz,
    ADD COLUMN last_error         text,
    ADD COLUMN consecutive_failures integer NOT NULL DEFAULT 0 CHECK (consecutive_failures >= 0),
    ADD COLUMN next_due_at        timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN claimed_by         text,
    ADD COLUMN claim_expires_at   timestamptz,
    ADD CONSTRAINT sources_html_has_selectors
        CHECK (kind <> 'html' OR (item_selector IS NOT NULL AND link_selector IS NOT NULL)),
    ADD CONSTRAINT sources_claim_complete
        CHECK ((claimed_by IS NULL) = (claim_expires_at IS NULL));

-- The scheduler's query: enabled sources by due time.
CREATE INDEX sources_next_due_idx ON sources (next_due_at) WHERE enabled;

COMMENT ON COLUMN sources.enabled IS 'Polled by workers and `catalyst ingest` only when true. Config sources removed from the file are disabled, not deleted (their articles stay).';
COMMENT ON COLUMN sources.from_config IS 'True for sources synced from the sources file; false for ad-hoc `ingest --feed` sources.';
COMMENT ON COLUMN sources.poll_interval_secs IS 'Seconds between polls of this source by the worker.';
COMMENT ON COLUMN sources.user_agent IS 'User-Agent for this source, overriding the default; NULL: the default.';
COMMENT ON COLUMN sources.item_selector IS 'html sources: CSS selector of one listing item.';
COMMENT ON COLUMN sources.link_selector IS 'html sources: CSS selector, inside an item, of the element whose href is the article link.';
COMMENT ON COLUMN sources.title_selector IS 'html sources: CSS selector, inside an item, of the title text; NULL: the link text (the article page''s own title wins when it has one).';
COMMENT ON COLUMN sources.time_selector IS 'html sources: CSS selector, inside an item, of the publication time (datetime attribute, else text); NULL: the article page''s time.';
COMMENT ON COLUMN sources.max_articles IS 'html sources: at most this many article pages fetched per run (newest listing items first).';
COMMENT ON COLUMN sources.etag IS 'ETag of the last 200 answer, sent back as If-None-Match.';
COMMENT ON COLUMN sources.last_modified IS 'Last-Modified of the last 200 answer, sent back as If-Modified-Since.';
COMMENT ON COLUMN sources.last_status IS 'Status of the latest run: ok, failed, or not_modified (304).';
COMMENT ON COLUMN sources.last_run_at IS 'When the latest run finished.';
COMMENT ON COLUMN sources.last_error IS 'Error of the latest run, NULL when it succeeded.';
COMMENT ON COLUMN sources.consecutive_failures IS 'Failed runs in a row; 0 after any success.';
COMMENT ON COLUMN sources.next_due_at IS 'When a worker should poll the source next.';
COMMENT ON COLUMN sources.claimed_by IS 'Worker id (host:pid:random) holding the job claim on this source, if any.';
COMMENT ON COLUMN sources.claim_expires_at IS 'End of the claim''s lease: after it another worker may take the source (a killed worker''s claim lapses).';

------------------------------------------------------------------------------
-- Ingest runs
------------------------------------------------------------------------------
ALTER TABLE ingest_runs DROP CONSTRAINT ingest_runs_status_check;
ALTER TABLE ingest_runs ADD CONSTRAINT ingest_runs_status_check
    CHECK (status IN ('ok', 'failed', 'not_modified'));
ALTER TABLE ingest_runs ADD COLUMN worker text;
COMMENT ON COLUMN ingest_runs.status IS 'ok; not_modified (the server answered 304 to a conditional GET, nothing parsed); or failed with error.';
COMMENT ON COLUMN ingest_runs.worker IS 'Worker id that made the run; NULL for one-shot `catalyst ingest`.';
COMMENT ON COLUMN ingest_runs.skipped IS 'Items without a title, a date or an identity, with an implausible time (future, before 2009), or whose article page could not be read; the reasons are logged.';
