-- The sector (领域, `config/sectors.toml`) of each record sent down, kept with the record and
-- each version: lower destinations may take records by sector (seed 001), and a withdrawal
-- that names only its key keeps the sector of the record it withdraws.
ALTER TABLE feed_records ADD COLUMN sector TEXT;
ALTER TABLE feed_record_versions ADD COLUMN sector TEXT;
