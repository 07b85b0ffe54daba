-- Service list versions. A version's content (items, rules, parameters) is kept as the checked
-- TOML it was saved as: a published version is that text, byte for byte, for ever.
CREATE TABLE service_list_version (
    id             BIGSERIAL PRIMARY KEY,
    jurisdiction   TEXT NOT NULL,
    level          TEXT NOT NULL,
    title          TEXT NOT NULL,
    effective_from DATE NOT NULL,
    change_note    TEXT NOT NULL,
    source_title   TEXT NOT NULL,
    status         TEXT NOT NULL,
    author         TEXT NOT NULL,
    content        TEXT NOT NULL,
    content_sha256 TEXT NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX service_list_version_jurisdiction ON service_list_version (jurisdiction, effective_from);
CREATE TABLE service_list_step (
    id         BIGSERIAL PRIMARY KEY,
    version_id BIGINT NOT NULL REFERENCES service_list_version (id),
    status     TEXT NOT NULL,
    by_user    TEXT NOT NULL,
    at         TIMESTAMPTZ NOT NULL
);
CREATE INDEX service_list_step_version ON service_list_step (version_id);
