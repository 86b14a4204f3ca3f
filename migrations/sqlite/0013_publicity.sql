-- Publicity periods (SPEC §5, config/publicity.toml): each record's block as computed at
-- ingest for its current version, `regime|class|defaulted|sector|decided|min|max|department|planned|held`.
ALTER TABLE records ADD COLUMN publicity TEXT;
-- The planned end (Shanghai day): withdrawn the day after. NULL when held back or none.
ALTER TABLE records ADD COLUMN publicity_end TEXT;
-- A minor penalty not published (2026 regime): its deliveries are held, never pushed.
ALTER TABLE records ADD COLUMN publicity_held INTEGER NOT NULL DEFAULT 0;
-- Set once the record's publication is over (withdrawals queued, or it ended unpublished):
-- the daily pass reads only open records, through the partial index below.
ALTER TABLE records ADD COLUMN publicity_closed INTEGER NOT NULL DEFAULT 0;
CREATE INDEX records_publicity_due ON records (publicity_end) WHERE publicity_closed = 0 AND publicity_end IS NOT NULL;

-- Early ends of publication: a credit repair entered by the credit office, or a department's
-- revocation (撤销) or deletion (删除) of its decision. `due_on` is the withdrawal deadline.
CREATE TABLE publicity_events (
    id             INTEGER PRIMARY KEY,
    record_id      INTEGER NOT NULL,
    kind           TEXT    NOT NULL,          -- repair | withdraw | delete
    source         TEXT    NOT NULL,          -- office | department
    decided        TEXT    NOT NULL,          -- the repair decision's or the revocation's date
    reference      TEXT,
    reason         TEXT,
    ingest_run_id  INTEGER,
    line           INTEGER,
    due_on         TEXT    NOT NULL,
    provisional    INTEGER NOT NULL DEFAULT 0,
    created_at     TEXT    NOT NULL,
    UNIQUE (record_id, kind, decided)
);
CREATE INDEX publicity_events_record ON publicity_events (record_id);
