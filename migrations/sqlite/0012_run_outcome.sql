-- Which configuration a run's outcome came from (a hash of the mapping, catalogue, code tables
-- and deadline rules as loaded): a file is refused as a duplicate only when an earlier run of
-- the same bytes ended `done`, rejected nothing, and was made under the configuration loaded now.
-- The department's error report, written after the rows are committed: where it goes, and why
-- it could not be written yet (NULL once written); the connector writes it again later.
-- A run's status may now also be `changed`: the file changed while it was read, and is taken
-- again from its new content.
ALTER TABLE ingest_runs ADD COLUMN config_hash TEXT;
ALTER TABLE ingest_runs ADD COLUMN report_path TEXT;
ALTER TABLE ingest_runs ADD COLUMN report_error TEXT;
CREATE INDEX ingest_runs_report_pending ON ingest_runs (connector) WHERE report_error IS NOT NULL;
