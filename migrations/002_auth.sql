-- Accounts, sessions, API tokens and the audit log. Secrets are stored
-- only as hashes: argon2id for passwords, SHA-256 for random tokens.
CREATE TABLE users (
    id            bigserial   PRIMARY KEY,
    name          text        NOT NULL UNIQUE CHECK (name ~ '^[a-z0-9][a-z0-9_.@-]{0,63}$'),
    role          text        NOT NULL CHECK (role IN ('admin', 'operator', 'planner', 'officer', 'device', 'viewer')),
    scope         text        NOT NULL DEFAULT '',   -- area code; '' is the whole service
    password_hash text,                              -- NULL: no password login (devices)
    demo          boolean     NOT NULL DEFAULT false, -- created by serve --demo
    disabled      boolean     NOT NULL DEFAULT false,
    created       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sessions (
    token_hash bytea       PRIMARY KEY,
    user_id    bigint      NOT NULL REFERENCES users ON DELETE CASCADE,
    csrf       text        NOT NULL,
    created    timestamptz NOT NULL DEFAULT now(),
    expires    timestamptz NOT NULL,
    ip         text        NOT NULL DEFAULT ''
);
CREATE INDEX sessions_user_idx ON sessions (user_id);

CREATE TABLE api_tokens (
    id         bigserial   PRIMARY KEY,
    user_id    bigint      NOT NULL REFERENCES users ON DELETE CASCADE,
    name       text        NOT NULL,
    token_hash bytea       NOT NULL UNIQUE,
    created    timestamptz NOT NULL DEFAULT now(),
    expires    timestamptz NOT NULL,
    revoked    timestamptz,
    last_used  timestamptz
);
CREATE INDEX api_tokens_user_idx ON api_tokens (user_id);

CREATE TABLE setup_tokens (
    token_hash bytea       PRIMARY KEY,
    expires    timestamptz NOT NULL
);

-- The audit log is append-only: no row is ever changed or removed.
CREATE TABLE audit_log (
    seq     bigserial   PRIMARY KEY,
    at      timestamptz NOT NULL DEFAULT now(),
    actor   text        NOT NULL DEFAULT '',
    role    text        NOT NULL DEFAULT '',
    ip      text        NOT NULL DEFAULT '',
    action  text        NOT NULL,
    target  text        NOT NULL DEFAULT '',
    outcome text        NOT NULL CHECK (outcome IN ('ok', 'denied', 'failed')),
    detail  text        NOT NULL DEFAULT '',
    before  jsonb,
    after   jsonb
);
CREATE INDEX audit_log_at_idx ON audit_log (at);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END $$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
