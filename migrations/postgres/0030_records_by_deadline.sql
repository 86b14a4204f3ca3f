-- The reported records in deadline order: with `records_open_deadlines` (the open ones) it
-- serves every list in a deadline order without sorting (the 记录总数 card's 全部, a
-- department's records, 已报送, 补报, searches), where such a page sorted every record.
-- Partial, so an ingest writes nothing to it (a new record is open): an entry is added when a
-- record is accepted.
CREATE INDEX records_reported_by_deadline ON records (deadline, id) WHERE reported_on IS NOT NULL;
