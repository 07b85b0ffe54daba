-- Capability assessment to GB/T 42195-2022 (issue #5): agencies and assessors with their
-- qualifications, requests and their steps, records (draft entries per field, then the frozen
-- answers and scores), and amendments of a result with the reason. A result reaches the registry
-- as a `capability_level` fact through an import batch; the record keeps that batch's id.
CREATE TABLE assessment_agency (
    id             BIGSERIAL PRIMARY KEY,
    name           TEXT NOT NULL UNIQUE,
    division       TEXT NOT NULL,
    qualification  TEXT NOT NULL,
    qualified_from DATE NOT NULL,
    qualified_to   DATE,
    created_by     TEXT NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL
);
CREATE TABLE assessor (
    id             BIGSERIAL PRIMARY KEY,
    agency_id      BIGINT NOT NULL REFERENCES assessment_agency (id),
    name           TEXT NOT NULL,
    certificate    TEXT NOT NULL UNIQUE,
    qualification  TEXT NOT NULL,
    qualified_from DATE NOT NULL,
    qualified_to   DATE,
    created_by     TEXT NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX assessor_agency ON assessor (agency_id);
CREATE TABLE assessment_request (
    id                 BIGSERIAL PRIMARY KEY,
    person_id          BIGINT NOT NULL REFERENCES person (id),
    requested_by       TEXT NOT NULL,
    requester          TEXT NOT NULL,
    reason             TEXT NOT NULL,
    reason_note        TEXT NOT NULL,
    disputed_record_id BIGINT,
    status             TEXT NOT NULL,
    requested_on       DATE NOT NULL,
    agency_id          BIGINT REFERENCES assessment_agency (id),
    scheduled_on       DATE,
    created_by         TEXT NOT NULL,
    created_at         TIMESTAMPTZ NOT NULL
);
CREATE INDEX assessment_request_person ON assessment_request (person_id);
CREATE INDEX assessment_request_status ON assessment_request (status, id);
CREATE TABLE assessment_request_step (
    id          BIGSERIAL PRIMARY KEY,
    request_id  BIGINT NOT NULL REFERENCES assessment_request (id),
    from_status TEXT,
    to_status   TEXT NOT NULL,
    by_user     TEXT NOT NULL,
    at          TIMESTAMPTZ NOT NULL,
    note        TEXT NOT NULL
);
CREATE INDEX assessment_request_step_request ON assessment_request_step (request_id);
CREATE TABLE assessment_record (
    id                BIGSERIAL PRIMARY KEY,
    request_id        BIGINT NOT NULL UNIQUE REFERENCES assessment_request (id),
    person_id         BIGINT NOT NULL REFERENCES person (id),
    record_no         TEXT NOT NULL,
    agency_id         BIGINT NOT NULL REFERENCES assessment_agency (id),
    assessor1_id      BIGINT REFERENCES assessor (id),
    assessor2_id      BIGINT REFERENCES assessor (id),
    assessed_on       DATE NOT NULL,
    status            TEXT NOT NULL,
    origin            TEXT NOT NULL,
    answers           TEXT,
    conditions        TEXT,
    basic_info        TEXT,
    subtotals         TEXT,
    total             BIGINT,
    preliminary_level BIGINT,
    final_level       BIGINT,
    changes           TEXT,
    amended_level     BIGINT,
    submitted_by      TEXT,
    submitted_at      TIMESTAMPTZ,
    reviewer          TEXT,
    reviewed_at       TIMESTAMPTZ,
    review_note       TEXT,
    result_batch_id   BIGINT REFERENCES import_batch (id),
    created_at        TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL
);
CREATE INDEX assessment_record_person ON assessment_record (person_id, assessed_on);
CREATE INDEX assessment_record_no ON assessment_record (record_no);
-- The draft as entered, one row per form field ("B.1.1", "A.2.14.1", "assessor1" …): a save is
-- an upsert of the fields that changed, so two quick saves cannot overwrite each other.
CREATE TABLE assessment_entry (
    record_id  BIGINT NOT NULL REFERENCES assessment_record (id),
    field      TEXT NOT NULL,
    value      TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (record_id, field)
);
CREATE TABLE assessment_amendment (
    id        BIGSERIAL PRIMARY KEY,
    record_id BIGINT NOT NULL REFERENCES assessment_record (id),
    old_level BIGINT NOT NULL,
    new_level BIGINT NOT NULL,
    reason    TEXT NOT NULL,
    by_user   TEXT NOT NULL,
    at        TIMESTAMPTZ NOT NULL,
    batch_id  BIGINT NOT NULL REFERENCES import_batch (id)
);
CREATE INDEX assessment_amendment_record ON assessment_amendment (record_id);
