-- A delivery is one per (record version, destination, operation) of its source: `record_id`
-- names a `records` row or a `feed_records` row (`source`), and since a lower destination
-- takes both — the reverse feeds' records and our own 分级分类结果 records — a record and a
-- feed record sharing an id must not take each other's place (ON CONFLICT … DO NOTHING would
-- drop the second silently).
DROP INDEX deliveries_record;
CREATE UNIQUE INDEX deliveries_record ON deliveries (record_id, destination, version, operation, source);
