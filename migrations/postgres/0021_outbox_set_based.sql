-- The outbox rows of new versions are written by the record writer, in the statement that
-- stores the versions (store::records: a data-modifying CTE, one INSERT … SELECT from the
-- chunk's new versions joined to destination_items), no longer by a plpgsql trigger per row.
DROP TRIGGER records_deliver_new ON records;
DROP TRIGGER records_deliver_change ON records;
DROP FUNCTION records_deliver();
