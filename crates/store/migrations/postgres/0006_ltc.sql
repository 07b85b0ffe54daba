-- 长期护理失能等级评估 (医保办发〔2021〕37号, issue #5 §7). The grading cut-offs and the 0–5
-- combination table are unconfirmed, so each jurisdiction loads its own table (the checked spec as
-- JSON text) from a date; an assessment keeps the table it was graded by, or NULL grade and table
-- when none was in force, so a later table never regrades an earlier assessment.
CREATE TABLE ltc_grading_table (
    id              BIGSERIAL PRIMARY KEY,
    division        TEXT NOT NULL,
    valid_from      DATE NOT NULL,
    spec            TEXT NOT NULL,
    source_document TEXT NOT NULL,
    loaded_by       TEXT NOT NULL,
    loaded_at       TIMESTAMPTZ NOT NULL,
    UNIQUE (division, valid_from)
);
CREATE TABLE ltc_assessment (
    id               BIGSERIAL PRIMARY KEY,
    person_id        BIGINT NOT NULL REFERENCES person (id),
    assessed_on      DATE NOT NULL,
    hukou            TEXT NOT NULL,
    agency_id        BIGINT NOT NULL REFERENCES assessment_agency (id),
    assessor1_id     BIGINT NOT NULL REFERENCES assessor (id),
    assessor2_id     BIGINT NOT NULL REFERENCES assessor (id),
    answers          TEXT NOT NULL,
    adl              BIGINT NOT NULL,
    cognition        BIGINT NOT NULL,
    perception       BIGINT NOT NULL,
    grade            BIGINT,
    grading_table_id BIGINT REFERENCES ltc_grading_table (id),
    created_by       TEXT NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL
);
CREATE INDEX ltc_assessment_person ON ltc_assessment (person_id, assessed_on);
