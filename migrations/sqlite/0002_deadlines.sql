-- Deadlines (SPEC §4): dates are Asia/Shanghai days, YYYY-MM-DD.
ALTER TABLE records ADD COLUMN deadline TEXT;
ALTER TABLE records ADD COLUMN due_soon_from TEXT;
ALTER TABLE records ADD COLUMN deadline_provisional INTEGER NOT NULL DEFAULT 0;
-- First acceptance by the provincial platform: the instant (UTC) and its Shanghai day.
ALTER TABLE records ADD COLUMN reported_at TEXT;
ALTER TABLE records ADD COLUMN reported_on TEXT;
-- Returned by the platform and not yet corrected (退回 awaiting 补正).
ALTER TABLE records ADD COLUMN returned INTEGER NOT NULL DEFAULT 0;

-- A month's figures read these covering indexes, never the table.
CREATE INDEX records_by_decision ON records (decision_date, department, item, deadline, due_soon_from, reported_on, returned);
CREATE INDEX records_by_report ON records (reported_on, department, item, deadline) WHERE reported_on IS NOT NULL;
CREATE INDEX records_provisional ON records (item, decision_date) WHERE deadline_provisional = 1;

-- What a department declares it decided (台账): makes missing reports (漏报) measurable.
CREATE TABLE ledgers (
    department   TEXT    NOT NULL,
    item         TEXT    NOT NULL,
    month        TEXT    NOT NULL,      -- YYYY-MM of the decisions
    declared     INTEGER NOT NULL,
    source       TEXT    NOT NULL,
    received_at  TEXT    NOT NULL,
    PRIMARY KEY (department, item, month)
);
