-- Objections (异议) against records: registered by the credit office, routed to the department
-- that provided the record, answered (upheld / rejected) within the `objection` deadline rule,
-- replied to the applicant, closed. Dates are Asia/Shanghai days (YYYY-MM-DD); stamps UTC.
CREATE TABLE objections (
    id                  BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    record_id           BIGINT NOT NULL,
    department          TEXT    NOT NULL,
    item                TEXT    NOT NULL,
    ground              TEXT    NOT NULL,            -- code in config/objections.toml
    applicant           TEXT    NOT NULL,
    contact             TEXT,
    text                TEXT    NOT NULL,
    received_on         TEXT    NOT NULL,
    routed_on           TEXT    NOT NULL,            -- day 0 of the answer deadline
    due_on              TEXT    NOT NULL,
    due_soon_from       TEXT    NOT NULL,
    due_provisional     BIGINT NOT NULL,
    suspended           BIGINT NOT NULL,            -- publication suspended while open
    status              TEXT    NOT NULL,            -- open | upheld | rejected | closed
    outcome             TEXT,                        -- correction | withdrawal | repair (upheld)
    answer_text         TEXT,
    answered_on         TEXT,
    answered_by         TEXT,
    record_version      BIGINT NOT NULL,            -- the version objected to
    reply_text          TEXT,
    replied_on          TEXT,
    closed_on           TEXT,
    registered_by       TEXT    NOT NULL,
    created_at          TEXT    NOT NULL,
    updated_at          TEXT    NOT NULL
);
-- A record's open cases (the 异议处理中 mark) and a department's queue.
CREATE INDEX objections_record ON objections (record_id, status);
CREATE INDEX objections_department ON objections (department, status, due_on);
