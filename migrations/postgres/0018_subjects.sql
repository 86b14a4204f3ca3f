-- Subjects (信用档案, issue 19). Which subject each record and feed record concerns, derived
-- from the records as stored (the catalogue's subject code and name fields of their content)
-- by a catch-up pass that follows the records' ids (`Store::link_subjects`), off the ingest
-- writer's path. The first pass after this migration is the backfill of the records before it.
CREATE TABLE subject_records (
    subject_code  TEXT    COLLATE "C" NOT NULL,
    source        TEXT    NOT NULL,          -- record | feed
    record_id     BIGINT  NOT NULL,          -- records.id or feed_records.id
    PRIMARY KEY (subject_code, source, record_id)
);
CREATE INDEX subject_records_by_record ON subject_records (source, record_id);

-- Every name a subject's records gave it, in the folded form searches compare
-- (`subject::search_key`: width, brackets, spaces, 有限责任公司 = 有限公司).
CREATE TABLE subject_aliases (
    subject_code  TEXT COLLATE "C" NOT NULL,
    name          TEXT NOT NULL,
    name_key      TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (subject_code, name)
);
CREATE INDEX subject_aliases_key ON subject_aliases (name_key);

-- How far the catch-up pass has read each source (the last id linked).
CREATE TABLE subject_link_state (
    source   TEXT PRIMARY KEY,
    last_id  BIGINT NOT NULL
);
INSERT INTO subject_link_state (source, last_id) VALUES ('record', 0), ('feed', 0);

-- Grades (SPEC §8, config/grading.toml): a row when a subject's grade or its reasons change,
-- so the latest row on or before a day is the grade then, and the rows are its history.
CREATE TABLE subject_grades (
    credit_code  TEXT    COLLATE "C" NOT NULL,
    as_of        TEXT    NOT NULL,           -- the evaluation day (Asia/Shanghai)
    grade        TEXT    NOT NULL,           -- A | B | C | D
    previous     TEXT,                       -- the grade before (none: first evaluation)
    general      BIGINT NOT NULL,
    serious      BIGINT NOT NULL,
    reasons      TEXT    NOT NULL,           -- the record ids behind the grade, comma-separated
    rule         TEXT    NOT NULL,           -- the rule that gave it, as shown
    record_id    BIGINT,                     -- the 分级分类结果 record made of a change of grade
    computed_at  TEXT    NOT NULL,
    PRIMARY KEY (credit_code, as_of)
);
CREATE INDEX subject_grades_day ON subject_grades (as_of);

-- The credit file reads a record's feed repairs by the record.
CREATE INDEX repairs_record ON repairs (record_id);
