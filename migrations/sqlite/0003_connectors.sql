-- One row per connector: where it stopped (checkpoint) and how it is doing (health).
CREATE TABLE connector_state (
    connector     TEXT    PRIMARY KEY,
    checkpoint    TEXT,                      -- kind-specific JSON; NULL before the first commit
    last_run_at   TEXT,
    last_status   TEXT,                      -- ok | idle | error
    last_error    TEXT,
    last_rows     INTEGER NOT NULL DEFAULT 0,
    rows_total    INTEGER NOT NULL DEFAULT 0,
    files_total   INTEGER NOT NULL DEFAULT 0,
    errors_total  INTEGER NOT NULL DEFAULT 0,
    next_run_at   TEXT,
    updated_at    TEXT    NOT NULL
);
