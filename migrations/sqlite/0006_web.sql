-- Who may use the dashboard and the API, their sessions and API tokens, and what they saw.
CREATE TABLE web_users (
    name           TEXT    PRIMARY KEY,
    role           TEXT    NOT NULL,              -- admin | ops | department
    department     TEXT,                          -- set for the department role only
    password_hash  TEXT    NOT NULL,              -- argon2id, PHC string
    created_at     TEXT    NOT NULL
);

-- Sessions and API tokens: only a BLAKE3 hash of the random token is kept.
CREATE TABLE web_tokens (
    token_hash     TEXT    PRIMARY KEY,
    user_name      TEXT    NOT NULL REFERENCES web_users (name) ON DELETE CASCADE,
    kind           TEXT    NOT NULL,              -- session | api
    expires_at     TEXT,                          -- NULL: until revoked
    created_at     TEXT    NOT NULL
);

CREATE TABLE audit_log (
    id             INTEGER PRIMARY KEY,
    at             TEXT    NOT NULL,
    user_name      TEXT    NOT NULL,
    action         TEXT    NOT NULL,              -- view | export | retry | login
    target         TEXT    NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at);

-- The overview counts what is open now without reading every record.
CREATE INDEX records_open_deadlines ON records (deadline, due_soon_from, department) WHERE reported_on IS NULL;
