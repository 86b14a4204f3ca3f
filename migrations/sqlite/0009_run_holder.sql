-- Which process started an ingest run (service::instance_id: host, pid, random), so a run a
-- dead process left `running` can be told from one still going, and closed as `interrupted`.
ALTER TABLE ingest_runs ADD COLUMN holder TEXT;
