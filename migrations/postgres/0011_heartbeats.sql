-- Each instance's last proof that the database takes writes (`/readyz` upserts its row): a
-- database that answers reads but refuses writes is not ready.
CREATE TABLE instance_heartbeats (
    instance  TEXT PRIMARY KEY,
    seen_at   TEXT NOT NULL
);
