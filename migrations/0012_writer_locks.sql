-- 0012: the locks writers take, as rows. An advisory lock can be taken by any role,
-- including a read-only one, which could then stall every ingest for as long as it held
-- it. A row lock (SELECT ... FOR UPDATE) needs the UPDATE privilege, which read-only
-- roles do not have: a reader cannot block a writer.
CREATE TABLE writer_locks (
    name     text PRIMARY KEY,
    purpose  text NOT NULL
);
COMMENT ON TABLE writer_locks IS 'One row per lock that writers take with SELECT ... FOR UPDATE (held to the end of their transaction); read-only roles cannot take them.';
COMMENT ON COLUMN writer_locks.name IS 'The lock.';
COMMENT ON COLUMN writer_locks.purpose IS 'What it serialises.';
INSERT INTO writer_locks (name, purpose) VALUES
    ('stories', 'storing articles: two writers storing the same new story at once make one event'),
    ('sources-sync', 'syncing the sources file into the sources table'),
    ('proxies', 'rebuilding the materialised market proxies');
