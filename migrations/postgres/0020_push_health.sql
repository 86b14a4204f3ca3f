-- Each destination's push health, written after every push: while its pushes fail, since when
-- and with what error; when the last one went through. The dashboard's outage banner reads it,
-- and an overdue record whose push is failing is charged to the gateway, not to a department.
CREATE TABLE push_health (
    destination     TEXT PRIMARY KEY,
    failing_since   TEXT,
    last_error      TEXT,
    last_failure_at TEXT,
    last_ok_at      TEXT
);
