-- The page-cache counter `data_version` was bumped by a statement-level trigger on every
-- write, inside the writing transaction: every writer then held the one data_version row
-- until it committed, and writers that also lock other rows in different orders (a worker
-- claiming a source, another syncing the sources file) deadlocked through it.
--
-- Now a write only marks its transaction (one row per transaction in
-- data_version_marks, which no other transaction touches), and a deferred trigger on the
-- mark bumps data_version once, at commit: the row is locked last, by a transaction that
-- waits for nothing else, so it cannot close a lock cycle. Readers still see the new
-- version exactly when the data becomes visible.
CREATE UNLOGGED TABLE data_version_marks (
    txid  bigint PRIMARY KEY
);
COMMENT ON TABLE data_version_marks IS 'Transactions that wrote what the pages show and will bump data_version at commit (internal; rows live only inside their transaction).';

CREATE OR REPLACE FUNCTION bump_data_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO data_version_marks (txid) VALUES (txid_current()) ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;

CREATE FUNCTION apply_data_version_mark() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE data_version SET version = version + 1;
    DELETE FROM data_version_marks WHERE txid = NEW.txid;
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER data_version_marks_apply AFTER INSERT ON data_version_marks
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION apply_data_version_mark();
