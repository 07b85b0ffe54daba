-- Accounts, sessions, API tokens, the hash-chained audit log and encrypted contact details
-- (issue #6). Times are RFC 3339 text in both backends here so that the audit hash covers
-- exactly the stored text.
CREATE TABLE app_user (
    id                  BIGSERIAL PRIMARY KEY,
    username            TEXT NOT NULL UNIQUE,
    display_name        TEXT NOT NULL,
    password_hash       TEXT NOT NULL,
    roles               TEXT NOT NULL,
    scope               TEXT NOT NULL,
    active              BIGINT NOT NULL DEFAULT 1,
    failed_logins       BIGINT NOT NULL DEFAULT 0,
    locked_until        TEXT,
    created_by          TEXT NOT NULL,
    created_at          TEXT NOT NULL,
    password_changed_at TEXT NOT NULL
);
CREATE TABLE app_session (
    token_hash TEXT PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES app_user (id),
    created_at TEXT NOT NULL,
    last_seen  TEXT NOT NULL,
    ip         TEXT NOT NULL,
    ended_at   TEXT
);
CREATE INDEX app_session_user ON app_session (user_id);
CREATE TABLE api_token (
    id         BIGSERIAL PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    roles      TEXT NOT NULL,
    scope      TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE TABLE audit_log (
    seq       BIGINT PRIMARY KEY,
    at        TEXT NOT NULL,
    actor     TEXT NOT NULL,
    ip        TEXT NOT NULL,
    action    TEXT NOT NULL,
    target    TEXT NOT NULL,
    detail    TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);
CREATE INDEX audit_log_target ON audit_log (target, seq);
-- One row: the chain's head. Every append updates it in the same transaction, which serialises
-- appenders (several server processes, the CLI) and lets `verify` notice a truncated tail.
CREATE TABLE audit_head (
    id   BIGINT PRIMARY KEY,
    seq  BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
-- Append-only in the database too; the hash chain catches whoever drops these triggers.
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
-- Contact details, each value SM4-GCM encrypted with a key kept outside the database.
CREATE TABLE person_contact (
    person_id    BIGINT PRIMARY KEY REFERENCES person (id),
    phone_enc    TEXT,
    address_enc  TEXT,
    guardian_enc TEXT,
    updated_by   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
