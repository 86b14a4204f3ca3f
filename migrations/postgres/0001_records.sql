-- One ingest of one file (or one pull): what came in and how it ended.
CREATE TABLE ingest_runs (
    id            BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    connector     TEXT    NOT NULL,
    department    TEXT    NOT NULL,
    item          TEXT    NOT NULL,
    source        TEXT    NOT NULL,
    sheet         TEXT,
    fingerprint   TEXT,
    status        TEXT    NOT NULL,          -- running | done | failed
    error         TEXT,
    rows_read     BIGINT  NOT NULL DEFAULT 0,
    accepted      BIGINT  NOT NULL DEFAULT 0,
    new_versions  BIGINT  NOT NULL DEFAULT 0,
    unchanged     BIGINT  NOT NULL DEFAULT 0,
    rejected      BIGINT  NOT NULL DEFAULT 0,
    skipped       BIGINT  NOT NULL DEFAULT 0,
    started_at    TEXT    NOT NULL,
    finished_at   TEXT
);
CREATE INDEX ingest_runs_fingerprint ON ingest_runs (connector, fingerprint);

-- The current version of every record, one row per business key.
CREATE TABLE records (
    id             BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Keys compare byte-wise: a locale collation only makes the unique index slower.
    item           TEXT    COLLATE "C" NOT NULL,
    business_key   TEXT    COLLATE "C" NOT NULL,
    department     TEXT    COLLATE "C" NOT NULL,
    version        BIGINT  NOT NULL,
    content_hash   TEXT    NOT NULL,
    content        TEXT    NOT NULL,
    decision_date  TEXT    COLLATE "C",
    region         TEXT    COLLATE "C",
    ingest_run_id  BIGINT  NOT NULL,
    source_line    BIGINT  NOT NULL,
    created_at     TEXT    NOT NULL,
    updated_at     TEXT    NOT NULL,
    UNIQUE (item, business_key)
);

-- Superseded versions: the row a new version replaced, with its provenance.
CREATE TABLE record_versions (
    record_id      BIGINT  NOT NULL,
    version        BIGINT  NOT NULL,
    content_hash   TEXT    NOT NULL,
    content        TEXT    NOT NULL,
    ingest_run_id  BIGINT  NOT NULL,
    source_line    BIGINT  NOT NULL,
    created_at     TEXT    NOT NULL,
    PRIMARY KEY (record_id, version)
);

-- Keeping history in the database makes it atomic with the upsert that replaces a version.
CREATE FUNCTION records_keep_version() RETURNS trigger AS $$
BEGIN
    INSERT INTO record_versions (record_id, version, content_hash, content, ingest_run_id, source_line, created_at)
    VALUES (OLD.id, OLD.version, OLD.content_hash, OLD.content, OLD.ingest_run_id, OLD.source_line, OLD.updated_at);
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER records_keep_version
BEFORE UPDATE OF content_hash ON records
FOR EACH ROW WHEN (OLD.content_hash <> NEW.content_hash)
EXECUTE FUNCTION records_keep_version();

-- Problems of rejected rows (and warnings of accepted ones), for reports and the problem queue.
CREATE TABLE row_problems (
    id             BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ingest_run_id  BIGINT  NOT NULL,
    line           BIGINT  NOT NULL,
    field          TEXT,
    code           TEXT    NOT NULL,
    severity       TEXT    NOT NULL,
    reason         TEXT    NOT NULL,
    value          TEXT
);
CREATE INDEX row_problems_run ON row_problems (ingest_run_id, line);
