-- Corrections by decision (issue 16). A record also knows its decision apart from its
-- subject — (文书号, decision date) — so a correction that changes the credit code or the
-- name finds the returned record it corrects (same department and item), and a row repeating
-- a decision under another key is noticed.
ALTER TABLE records ADD COLUMN decision_key TEXT COLLATE "C";
CREATE INDEX records_decision ON records (item, decision_key) WHERE decision_key IS NOT NULL;

-- One credit code belongs to one subject (SPEC §3): the name it was first seen under, and
-- that record, so the same code under another name (重码) is warned with both.
CREATE TABLE subject_names (
    subject_code  TEXT COLLATE "C" PRIMARY KEY,
    name          TEXT NOT NULL,
    item          TEXT NOT NULL,
    business_key  TEXT NOT NULL
);

-- A withdrawal of a key the record no longer has (the key a correction replaced) is pushed
-- under this key instead of the record's current one.
ALTER TABLE deliveries ADD COLUMN business_key TEXT COLLATE "C";

-- Decisions whose row failed validation (SPEC §7: a source row that failed and was never
-- corrected is 漏报 until a record of the same decision arrives).
CREATE TABLE rejected_decisions (
    department     TEXT COLLATE "C" NOT NULL,
    item           TEXT COLLATE "C" NOT NULL,
    decision_key   TEXT COLLATE "C" NOT NULL,
    decision_date  TEXT COLLATE "C" NOT NULL,
    ingest_run_id  BIGINT NOT NULL,
    line           BIGINT NOT NULL
);
CREATE INDEX rejected_decisions_month ON rejected_decisions (decision_date, department, item);

-- Rows a department marks as 补报 (back-filled history: a 补报 column, or 补报 in the file's
-- name) are counted apart in the figures, never as 迟报. The acceptance index covers it.
ALTER TABLE records ADD COLUMN backfill INTEGER NOT NULL DEFAULT 0;
DROP INDEX records_by_report;
CREATE INDEX records_by_report ON records (reported_on, department, item, deadline, backfill) WHERE reported_on IS NOT NULL;

-- The provincial platform's subject base library (主体库: 名称 + 统一社会信用代码), as last
-- pushed down. Before a record is pushed, a name that differs from the library's under its
-- code is returned at once as a predicted 1001, so the department fixes it first.
CREATE TABLE subject_library (
    credit_code  TEXT COLLATE "C" PRIMARY KEY,
    name         TEXT NOT NULL,
    source       TEXT NOT NULL,
    received_at  TEXT NOT NULL
);

-- A record repeating a decision already stored under another key (warned `duplicate_decision`)
-- is kept, but the figures count the decision once. The figures' covering indexes cover it.
ALTER TABLE records ADD COLUMN duplicate INTEGER NOT NULL DEFAULT 0;
DROP INDEX records_by_decision;
CREATE INDEX records_by_decision ON records (decision_date, department, item, deadline, due_soon_from, reported_on, returned, duplicate);
DROP INDEX records_by_report;
CREATE INDEX records_by_report ON records (reported_on, department, item, deadline, backfill, duplicate) WHERE reported_on IS NOT NULL;
