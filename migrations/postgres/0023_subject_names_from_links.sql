-- The 重码 check (one credit code, one name) reads the names the link pass keeps for every
-- subject (subject_aliases, linked at the start of each ingest run) and, for the run's own
-- rows, a compact map in memory. Its own code-keyed table cost a random b-tree insert per
-- ingested row on the writer's path, for names the link pass stores anyway.
DROP TABLE subject_names;
