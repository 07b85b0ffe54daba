-- Divisions with their history, the registry of older people, and import batches.
CREATE TABLE division (
    code        TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    level       BIGINT NOT NULL,
    parent_code TEXT,
    valid_from  TEXT,
    valid_to    TEXT,
    source      TEXT NOT NULL
);
CREATE INDEX division_parent ON division (parent_code);
CREATE TABLE division_move (
    code        TEXT NOT NULL,
    from_parent TEXT NOT NULL,
    to_parent   TEXT NOT NULL,
    effective   TEXT NOT NULL,
    note        TEXT NOT NULL,
    PRIMARY KEY (code, effective)
);
CREATE TABLE division_change (
    kind      TEXT NOT NULL,
    from_code TEXT NOT NULL,
    to_code   TEXT NOT NULL,
    effective TEXT NOT NULL,
    note      TEXT NOT NULL,
    PRIMARY KEY (kind, from_code, to_code, effective)
);
CREATE TABLE import_batch (
    id             INTEGER PRIMARY KEY,
    source         TEXT NOT NULL,
    department     TEXT NOT NULL,
    file_name      TEXT NOT NULL,
    sha256         TEXT NOT NULL,
    size_bytes     BIGINT NOT NULL,
    encoding       TEXT NOT NULL,
    archive_path   TEXT,
    rows_total     BIGINT NOT NULL DEFAULT 0,
    rows_ok        BIGINT NOT NULL DEFAULT 0,
    rows_bad       BIGINT NOT NULL DEFAULT 0,
    rows_duplicate BIGINT NOT NULL DEFAULT 0,
    persons_new    BIGINT NOT NULL DEFAULT 0,
    facts_new      BIGINT NOT NULL DEFAULT 0,
    facts_ended    BIGINT NOT NULL DEFAULT 0,
    conflicts      BIGINT NOT NULL DEFAULT 0,
    started_at     TEXT NOT NULL,
    finished_at    TEXT,
    UNIQUE (source, sha256)
);
CREATE TABLE import_error (
    batch_id    BIGINT NOT NULL REFERENCES import_batch (id),
    row_no      BIGINT NOT NULL,
    severity    TEXT NOT NULL,
    column_name TEXT NOT NULL,
    value       TEXT NOT NULL,
    reason      TEXT NOT NULL
);
CREATE INDEX import_error_batch ON import_error (batch_id, row_no);
CREATE TABLE person (
    id          INTEGER PRIMARY KEY,
    id_number   TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    sex         BIGINT NOT NULL,
    birth_date  TEXT NOT NULL,
    first_batch BIGINT NOT NULL
);
CREATE TABLE fact (
    id             INTEGER PRIMARY KEY,
    person_id      BIGINT NOT NULL REFERENCES person (id),
    kind           TEXT NOT NULL,
    value          TEXT NOT NULL,
    valid_from     TEXT NOT NULL,
    valid_to       TEXT,
    source         TEXT NOT NULL,
    batch_id       BIGINT NOT NULL REFERENCES import_batch (id),
    ended_by_batch BIGINT,
    recorded_at    TEXT NOT NULL,
    -- Kind and source lead: a department file adds to its own region of the index (in person
    -- order) instead of touching every person's entries, which keeps batch writes sequential.
    UNIQUE (kind, source, person_id, valid_from, value)
);
CREATE INDEX fact_person ON fact (person_id);
-- Who lives where: division searches on 户籍/常住 codes.
CREATE INDEX fact_division ON fact (kind, value) WHERE kind IN ('hukou', 'residence');
-- Deaths are few and every batch asks for them.
CREATE INDEX fact_death ON fact (person_id) WHERE kind = 'death';
CREATE TABLE fact_source_kind (
    kind   TEXT NOT NULL,
    source TEXT NOT NULL,
    PRIMARY KEY (kind, source)
);
CREATE TABLE fact_conflict (
    fact_id       BIGINT NOT NULL REFERENCES fact (id),
    other_fact_id BIGINT NOT NULL REFERENCES fact (id),
    batch_id      BIGINT NOT NULL,
    PRIMARY KEY (fact_id, other_fact_id)
);
CREATE INDEX fact_conflict_other ON fact_conflict (other_fact_id);
