-- The daily pass's index keyed by an integer month the writer stores beside the planned end
-- (202705 for 2027-05-xx), in place of the text expression substr(publicity_end, 1, 7): an
-- ingest then compares integers, not text, at each insert and evaluates no expression (the
-- text index was about half of what publicity added to bench ingest). Same order, same
-- condition: the pass reads the months up to the current one and checks the day.
ALTER TABLE records ADD COLUMN publicity_end_month INTEGER;
UPDATE records SET publicity_end_month = CAST(substr(publicity_end, 1, 4) || substr(publicity_end, 6, 2) AS INTEGER)
    WHERE publicity_end IS NOT NULL;
DROP INDEX records_publicity_due_month;
CREATE INDEX records_publicity_due_month ON records (publicity_end_month)
    WHERE publicity_closed = 0 AND publicity_end_month IS NOT NULL;
