-- Values of list parameters set by a jurisdiction from a date. Nothing is overwritten: a
-- correction is a newer row for the same (name, division, valid_from); the latest set wins.
CREATE TABLE param_value (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    division   TEXT NOT NULL,
    valid_from TEXT NOT NULL,
    value      TEXT NOT NULL,
    set_by     TEXT NOT NULL,
    set_at     TEXT NOT NULL,
    note       TEXT NOT NULL
);
CREATE INDEX param_value_lookup ON param_value (name, division, valid_from);
