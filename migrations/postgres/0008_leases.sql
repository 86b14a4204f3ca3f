-- Several instances on one database: which instance runs a connector now (a lease that runs
-- out when its instance dies), and the last schedule tick taken, so each connector runs on one
-- instance at a time and each scheduled pull runs once.
CREATE TABLE connector_leases (
    connector   TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    last_tick   TEXT
);
