-- The entitlement engine's results (issue #4): runs, what each person is entitled to on a
-- date, what people actually receive, and the work lists that compare the two.
CREATE TABLE entitlement_run (
    id          INTEGER PRIMARY KEY,
    as_of       TEXT NOT NULL,
    kind        TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    persons     BIGINT NOT NULL DEFAULT 0,
    versions    TEXT NOT NULL,
    entitled    BIGINT NOT NULL DEFAULT 0,
    added       BIGINT NOT NULL DEFAULT 0,
    removed     BIGINT NOT NULL DEFAULT 0,
    changed     BIGINT NOT NULL DEFAULT 0,
    by_user     TEXT NOT NULL
);
-- Only 应享 and 无法判定 outcomes are stored: "not entitled" is the absence of a row.
CREATE TABLE entitlement (
    as_of          TEXT NOT NULL,
    person_id      BIGINT NOT NULL,
    version_id     BIGINT NOT NULL,
    item_code      TEXT NOT NULL,
    status         TEXT NOT NULL,
    amount_fen     BIGINT,
    period         TEXT,
    param_division TEXT NOT NULL,
    run_id         BIGINT NOT NULL,
    PRIMARY KEY (as_of, person_id, version_id, item_code)
) WITHOUT ROWID;
-- The parameter values a run used, per division it placed people in.
CREATE TABLE entitlement_param (
    run_id   BIGINT NOT NULL,
    division TEXT NOT NULL,
    name     TEXT NOT NULL,
    value    TEXT NOT NULL,
    source   TEXT NOT NULL,
    PRIMARY KEY (run_id, division, name)
);
CREATE TABLE benefit_receipt (
    id          INTEGER PRIMARY KEY,
    person_id   BIGINT NOT NULL REFERENCES person (id),
    item_code   TEXT NOT NULL,
    amount_fen  BIGINT,
    valid_from  TEXT NOT NULL,
    valid_to    TEXT,
    source      TEXT NOT NULL,
    recorded_by TEXT NOT NULL,
    recorded_at TEXT NOT NULL
);
CREATE INDEX benefit_receipt_person ON benefit_receipt (person_id, item_code);
CREATE TABLE work_item (
    id           INTEGER PRIMARY KEY,
    kind         TEXT NOT NULL,
    person_id    BIGINT NOT NULL REFERENCES person (id),
    version_id   BIGINT NOT NULL,
    item_code    TEXT NOT NULL,
    division     TEXT NOT NULL,
    reason       TEXT NOT NULL,
    amount_fen   BIGINT,
    received_fen BIGINT,
    first_as_of  TEXT NOT NULL,
    last_as_of   TEXT NOT NULL,
    status       TEXT NOT NULL,
    assignee     TEXT,
    outcome      TEXT,
    closed_at    TEXT,
    closed_by    TEXT
);
-- One open item per person, item and kind; closed ones are history.
CREATE UNIQUE INDEX work_item_open ON work_item (kind, person_id, item_code) WHERE status <> 'closed';
CREATE INDEX work_item_division ON work_item (division, status);
