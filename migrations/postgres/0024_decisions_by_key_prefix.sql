-- The records of one decision share their business key's first part, the decision's 文书号
-- (the catalogue's decision_key starts with the key's first part), so the decision checks
-- find them by that prefix on the business key's unique index (business_key is COLLATE "C",
-- so the prefix range is bytewise). The decision index, a random b-tree insert on the
-- writer's path for every ingested row, is dropped.
DROP INDEX records_decision;

-- A rejected decision's business-key prefix, for the 漏报 figure's lookup of its records.
ALTER TABLE rejected_decisions ADD COLUMN key_prefix TEXT COLLATE "C";
UPDATE rejected_decisions SET key_prefix = split_part(decision_key, chr(31), 1) || chr(31);

-- Each item's decision fields as last reconciled with the catalogue: an item that has none
-- is cleared once of the decision keys and duplicate marks an earlier catalogue gave it.
CREATE TABLE decision_key_items (
    item   TEXT PRIMARY KEY,
    fields TEXT NOT NULL
);
