-- The outbox rows of new versions are written by the record writer, per statement and in the
-- same transaction as the versions (store::records: one INSERT … SELECT from the chunk's new
-- versions joined to destination_items), no longer by a trigger row by row.
DROP TRIGGER records_deliver_new;
DROP TRIGGER records_deliver_change;
