-- The records of one decision share their business key's first part, the decision's 文书号
-- (the catalogue's decision_key starts with the key's first part), so the decision checks
-- find them by that prefix on the business key's unique index. The decision index, a random
-- b-tree insert on the writer's path for every ingested row, is dropped.
DROP INDEX records_decision;

-- A rejected decision's business-key prefix, for the 漏报 figure's lookup of its records.
ALTER TABLE rejected_decisions ADD COLUMN key_prefix TEXT;
UPDATE rejected_decisions
   SET key_prefix = substr(decision_key || char(31), 1, instr(decision_key || char(31), char(31)));

-- Each item's decision fields as last reconciled with the catalogue: an item that has none
-- is cleared once of the decision keys and duplicate marks an earlier catalogue gave it.
CREATE TABLE decision_key_items (
    item   TEXT PRIMARY KEY,
    fields TEXT NOT NULL
);
