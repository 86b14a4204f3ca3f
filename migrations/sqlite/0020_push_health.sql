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

-- Overdue split by cause (today's chase list and its lists) reads whether a record was
-- returned and when it reached the gateway: the open-deadline index carries both, so the
-- counts stay index-only. Replaces 0006's narrower index (same number of indexes to keep up).
DROP INDEX IF EXISTS records_open_deadlines;
CREATE INDEX records_open_deadlines ON records (deadline, due_soon_from, department, returned, created_at) WHERE reported_on IS NULL;
