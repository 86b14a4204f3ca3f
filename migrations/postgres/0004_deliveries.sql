-- Which destination carries which catalogue item; kept equal to config/destinations at start-up.
CREATE TABLE destination_items (
    destination  TEXT NOT NULL,
    item         TEXT NOT NULL,
    PRIMARY KEY (destination, item)
);

-- The outbox: one delivery per (record version, destination, operation). Created by the
-- triggers below in the same statement, hence the same transaction, that stores the version.
CREATE TABLE deliveries (
    id                BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    record_id         BIGINT  NOT NULL,
    version           BIGINT  NOT NULL,
    destination       TEXT    NOT NULL,
    operation         TEXT    NOT NULL,              -- add | update | withdraw | delete
    idempotency_key   TEXT    NOT NULL,
    status            TEXT    NOT NULL,              -- pending | in_flight | accepted | returned | dead | superseded
    attempts          BIGINT  NOT NULL DEFAULT 0,
    next_attempt_at   TEXT    NOT NULL,
    claimed_by        TEXT,
    claim_expires_at  TEXT,
    pushed_at         TEXT,
    package_id        TEXT,
    last_error        TEXT,
    rule              TEXT,
    reason            TEXT,
    created_at        TEXT    NOT NULL,
    updated_at        TEXT    NOT NULL,
    done_at           TEXT
);
CREATE INDEX deliveries_pending ON deliveries (destination, next_attempt_at, id) WHERE status = 'pending';
CREATE INDEX deliveries_in_flight ON deliveries (destination, claim_expires_at) WHERE status = 'in_flight';
-- One delivery per (record version, destination, operation); also the trigger's lookup.
-- Few indexes on purpose: every stored version writes a delivery per destination.
CREATE UNIQUE INDEX deliveries_record ON deliveries (record_id, destination, version, operation);

CREATE FUNCTION records_deliver() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF old.content_hash = new.content_hash THEN
            RETURN NULL;
        END IF;
        UPDATE deliveries SET status = 'superseded', updated_at = new.updated_at
        WHERE record_id = new.id AND status = 'pending';
    END IF;
    INSERT INTO deliveries (record_id, version, destination, operation, idempotency_key, status, next_attempt_at, created_at, updated_at)
    SELECT new.id, new.version, d.destination, op.operation,
           new.id || ':' || new.version || ':' || d.destination, 'pending', new.updated_at, new.updated_at, new.updated_at
    FROM destination_items d
    CROSS JOIN LATERAL (SELECT CASE WHEN TG_OP = 'UPDATE' AND EXISTS (
            SELECT 1 FROM deliveries x WHERE x.record_id = new.id AND x.destination = d.destination AND x.status = 'accepted')
        THEN 'update' ELSE 'add' END AS operation) op
    WHERE d.item = new.item;
    RETURN NULL;
END $$;

CREATE TRIGGER records_deliver_new AFTER INSERT ON records FOR EACH ROW EXECUTE FUNCTION records_deliver();
CREATE TRIGGER records_deliver_change AFTER UPDATE OF content_hash ON records FOR EACH ROW EXECUTE FUNCTION records_deliver();

-- Records a platform returned (退回), until a corrected version is accepted (补正).
CREATE TABLE returns (
    id                 BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    record_id          BIGINT  NOT NULL,
    delivery_id        BIGINT  NOT NULL,
    destination        TEXT    NOT NULL,
    department         TEXT    NOT NULL,
    item               TEXT    NOT NULL,
    version            BIGINT  NOT NULL,
    rule               TEXT,
    reason             TEXT    NOT NULL,
    returned_at        TEXT    NOT NULL,
    returned_on        TEXT    NOT NULL,
    reminded_at        TEXT,
    closed_at          TEXT,
    closed_by_version  BIGINT
);
CREATE INDEX returns_open ON returns (department, returned_on) WHERE closed_at IS NULL;
CREATE INDEX returns_record ON returns (record_id, destination);
