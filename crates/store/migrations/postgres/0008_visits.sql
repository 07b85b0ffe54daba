-- Care visits for special-difficulty older people (issue #7): visitors registered per village,
-- who visits whom (dated assignments), visit records with findings under the seeds' four
-- headings, follow-ups tracked until closed, campaign windows (extreme weather, festivals) a
-- jurisdiction declares, and the hours/points volunteers earn. Who is on the visit list is not
-- stored: it is computed from registry facts on a date, so it follows the registry.
CREATE TABLE visitor (
    id           BIGSERIAL PRIMARY KEY,
    name         TEXT NOT NULL,
    kind         TEXT NOT NULL,
    division     TEXT NOT NULL,
    phone        TEXT NOT NULL DEFAULT '',
    active_from  DATE NOT NULL,
    left_on      DATE,
    successor_id BIGINT REFERENCES visitor (id),
    created_by   TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX visitor_division ON visitor (division);
CREATE TABLE visit_assignment (
    id          BIGSERIAL PRIMARY KEY,
    person_id   BIGINT NOT NULL REFERENCES person (id),
    visitor_id  BIGINT NOT NULL REFERENCES visitor (id),
    valid_from  DATE NOT NULL,
    valid_to    DATE,
    assigned_by TEXT NOT NULL,
    assigned_at TIMESTAMPTZ NOT NULL,
    end_reason  TEXT
);
CREATE INDEX visit_assignment_person ON visit_assignment (person_id);
CREATE INDEX visit_assignment_visitor ON visit_assignment (visitor_id);
CREATE TABLE visit (
    id          BIGSERIAL PRIMARY KEY,
    idem_key    TEXT NOT NULL UNIQUE,
    person_id   BIGINT NOT NULL REFERENCES person (id),
    visitor_id  BIGINT NOT NULL REFERENCES visitor (id),
    visited_on  DATE NOT NULL,
    mode        TEXT NOT NULL,
    note        TEXT NOT NULL,
    recorded_by TEXT NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX visit_person ON visit (person_id, visited_on);
CREATE INDEX visit_date ON visit (visited_on);
CREATE TABLE visit_finding (
    visit_id BIGINT NOT NULL REFERENCES visit (id),
    heading  TEXT NOT NULL,
    status   TEXT NOT NULL,
    note     TEXT NOT NULL,
    PRIMARY KEY (visit_id, heading)
);
CREATE TABLE visit_followup (
    id         BIGSERIAL PRIMARY KEY,
    visit_id   BIGINT NOT NULL REFERENCES visit (id),
    person_id  BIGINT NOT NULL REFERENCES person (id),
    kind       TEXT NOT NULL,
    detail     TEXT NOT NULL,
    status     TEXT NOT NULL,
    opened_on  DATE NOT NULL,
    closed_by  TEXT,
    closed_on  DATE,
    closed_at  TIMESTAMPTZ,
    outcome    TEXT
);
CREATE INDEX visit_followup_status ON visit_followup (status);
CREATE TABLE visit_campaign (
    id         BIGSERIAL PRIMARY KEY,
    division   TEXT NOT NULL,
    name       TEXT NOT NULL,
    reason     TEXT NOT NULL,
    starts_on  DATE NOT NULL,
    ends_on    DATE NOT NULL,
    tiers      TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE volunteer_credit (
    id         BIGSERIAL PRIMARY KEY,
    visitor_id BIGINT NOT NULL REFERENCES visitor (id),
    visit_id   BIGINT NOT NULL UNIQUE REFERENCES visit (id),
    minutes    BIGINT NOT NULL,
    points     BIGINT NOT NULL,
    earned_on  DATE NOT NULL
);
CREATE INDEX volunteer_credit_visitor ON volunteer_credit (visitor_id);
