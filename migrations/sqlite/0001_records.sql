-- One ingest of one file (or one pull): what came in and how it ended.
CREATE TABLE ingest_runs (
    id            INTEGER PRIMARY KEY,
    connector     TEXT    NOT NULL,
    department    TEXT    NOT NULL,
    item          TEXT    NOT NULL,
    source        TEXT    NOT NULL,
    sheet         TEXT,
    fingerprint   TEXT,
    status        TEXT    NOT NULL,          -- running | done | failed
    error         TEXT,
    rows_read     INTEGER NOT NULL DEFAULT 0,
    accepted      INTEGER NOT NULL DEFAULT 0,
    new_versions  INTEGER NOT NULL DEFAULT 0,
    unchanged     INTEGER NOT NULL DEFAULT 0,
    rejected      INTEGER NOT NULL DEFAULT 0,
    skipped       INTEGER NOT NULL DEFAULT 0,
    started_at    TEXT    NOT NULL,
    finished_at   TEXT
);
CREATE INDEX ingest_runs_fingerprint ON ingest_runs (connector, fingerprint);

-- The current version of every record, one row per business key.
CREATE TABLE records (
    id             INTEGER PRIMARY KEY,
    item           TEXT    NOT NULL,
    business_key   TEXT    NOT NULL,
    department     TEXT    NOT NULL,
    version        INTEGER NOT NULL,
    content_hash   TEXT    NOT NULL,
    content        TEXT    NOT NULL,
    decision_date  TEXT,
    region         TEXT,
    ingest_run_id  INTEGER NOT NULL,
    source_line    INTEGER NOT NULL,
    created_at     TEXT    NOT NULL,
    updated_at     TEXT    NOT NULL,
    UNIQUE (item, business_key)
);

-- Superseded versions: the row a new version replaced, with its provenance.
CREATE TABLE record_versions (
    record_id      INTEGER NOT NULL,
    version        INTEGER NOT NULL,
    content_hash   TEXT    NOT NULL,
    content        TEXT    NOT NULL,
    ingest_run_id  INTEGER NOT NULL,
    source_line    INTEGER NOT NULL,
    created_at     TEXT    NOT NULL,
    PRIMARY KEY (record_id, version)
);

-- Keeping history in the database makes it atomic with the upsert that replaces a version.
CREATE TRIGGER records_keep_version
BEFORE UPDATE OF content_hash ON records
WHEN old.content_hash <> new.content_hash
BEGIN
    INSERT INTO record_versions (record_id, version, content_hash, content, ingest_run_id, source_line, created_at)
    VALUES (old.id, old.version, old.content_hash, old.content, old.ingest_run_id, old.source_line, old.updated_at);
END;

-- Problems of rejected rows (and warnings of accepted ones), for reports and the problem queue.
CREATE TABLE row_problems (
    id             INTEGER PRIMARY KEY,
    ingest_run_id  INTEGER NOT NULL,
    line           INTEGER NOT NULL,
    field          TEXT,
    code           TEXT    NOT NULL,
    severity       TEXT    NOT NULL,
    reason         TEXT    NOT NULL,
    value          TEXT
);
CREATE INDEX row_problems_run ON row_problems (ingest_run_id, line);
