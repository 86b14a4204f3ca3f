-- Lists and 今日催办 leave out a record repeating a stored decision (`duplicate`), as the
-- figures do: the open-deadline index carries the mark, so their counts stay index-only
-- (reading each open record's row for it took seconds at a million records).
DROP INDEX IF EXISTS records_open_deadlines;
CREATE INDEX records_open_deadlines ON records (deadline, due_soon_from, department, returned, created_at, duplicate) WHERE reported_on IS NULL;
