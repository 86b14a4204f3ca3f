-- Reverse feeds (逆向推送): what the upper platforms send down, with its history, routed to the
-- lower destinations through the same outbox as upward delivery.

-- Each feed's cursor and health. The cursor is written in the transaction that stores the
-- page's records, so a restart resumes exactly after what was committed.
CREATE TABLE feed_state (
    feed        TEXT PRIMARY KEY,
    cursor      TEXT,
    pulled_at   TEXT,
    ok_at       TEXT,
    last_error  TEXT,
    accepted    BIGINT  NOT NULL DEFAULT 0,
    rejected    BIGINT  NOT NULL DEFAULT 0
);

-- The current version of each record sent down, keyed like `records` (item, business key).
CREATE TABLE feed_records (
    id            BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    feed          TEXT    NOT NULL,
    item          TEXT    COLLATE "C" NOT NULL,
    business_key  TEXT    COLLATE "C" NOT NULL,
    version       BIGINT  NOT NULL,
    operation     TEXT    NOT NULL,              -- add | update | withdraw | delete
    publicity     BIGINT  NOT NULL,              -- 0 normal | 1 withdrawn | 2 deleted
    region        TEXT,                          -- deciding authority's division, after renames
    source_id     TEXT,                          -- the platform's own record id
    repair        BIGINT  NOT NULL DEFAULT 0,    -- a 信用修复 result
    content       TEXT    NOT NULL,
    content_hash  TEXT    NOT NULL,
    received_at   TEXT    NOT NULL,
    updated_at    TEXT    NOT NULL,
    UNIQUE (item, business_key)
);
CREATE INDEX feed_records_region ON feed_records (region);

-- Every version, the current one included: what each delivery of a version pushes.
CREATE TABLE feed_record_versions (
    feed_record_id  BIGINT  NOT NULL,
    version         BIGINT  NOT NULL,
    operation       TEXT    NOT NULL,
    publicity       BIGINT  NOT NULL,
    region          TEXT,
    content         TEXT    NOT NULL,
    content_hash    TEXT    NOT NULL,
    received_at     TEXT    NOT NULL,
    PRIMARY KEY (feed_record_id, version)
);

-- Feed records refused (malformed), with the reason in Chinese for ops staff.
CREATE TABLE feed_rejects (
    id           BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    feed         TEXT    NOT NULL,
    cursor       TEXT,
    position     BIGINT  NOT NULL,
    source_id    TEXT,
    reason       TEXT    NOT NULL,
    raw          TEXT    NOT NULL,
    received_at  TEXT    NOT NULL
);

-- Repair results (信用修复) that withdraw one of our published penalties: the 3-working-day
-- SLA runs from `received_on` to `due_on`; done when every withdrawal queued is accepted.
CREATE TABLE repairs (
    id              BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    feed_record_id  BIGINT  NOT NULL,
    record_id       BIGINT  NOT NULL,
    received_at     TEXT    NOT NULL,
    received_on     TEXT    NOT NULL,
    due_on          TEXT    NOT NULL,
    due_at          TEXT    NOT NULL,            -- end of due_on in Shanghai, as UTC
    provisional     BIGINT  NOT NULL,
    UNIQUE (feed_record_id, record_id)
);

-- A delivery of a feed record version (`feed`) names a feed_records row in record_id.
ALTER TABLE deliveries ADD COLUMN source TEXT NOT NULL DEFAULT 'record';

-- A record's new version supersedes only its own pending deliveries, not a feed record's
-- that happens to share the id.
CREATE OR REPLACE FUNCTION records_deliver() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF old.content_hash = new.content_hash THEN
            RETURN NULL;
        END IF;
        UPDATE deliveries SET status = 'superseded', updated_at = new.updated_at
        WHERE record_id = new.id AND status = 'pending' AND source = 'record';
    END IF;
    INSERT INTO deliveries (record_id, version, destination, operation, idempotency_key, status, next_attempt_at, created_at, updated_at)
    SELECT new.id, new.version, d.destination, op.operation,
           new.id || ':' || new.version || ':' || d.destination, 'pending', new.updated_at, new.updated_at, new.updated_at
    FROM destination_items d
    CROSS JOIN LATERAL (SELECT CASE WHEN TG_OP = 'UPDATE' AND EXISTS (
            SELECT 1 FROM deliveries x WHERE x.record_id = new.id AND x.destination = d.destination
            AND x.status = 'accepted' AND x.source = 'record')
        THEN 'update' ELSE 'add' END AS operation) op
    WHERE d.item = new.item;
    RETURN NULL;
END $$;
