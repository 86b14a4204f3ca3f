-- The reported records in deadline order: with `records_open_deadlines` (the open ones) it
-- serves every list in a deadline order without sorting (the 记录总数 card's 全部, a
-- department's records, 已报送, 补报, searches): such a page sorted every record (170 ms for
-- the first page of 全部 at 1,000,000 records), now it merges the first rows of each index.
-- Partial, so an ingest writes nothing to it (a new record is open; a full index of every
-- record cost bench ingest 5-10% at 1,000,000 rows): an entry is added when a record is
-- accepted. The department and `duplicate` ride along so that the lists' conditions are
-- checked on the index alone.
CREATE INDEX records_reported_by_deadline ON records (deadline, department, duplicate) WHERE reported_on IS NOT NULL;
