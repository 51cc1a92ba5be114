-- Staff users, their sessions, API tokens and failed logins (PostgreSQL).
-- Times here are BIGINT milliseconds since the Unix epoch (UTC) on both backends:
-- these tables are read and compared by the server, never imported.
-- Session ids and API tokens are stored only as SHA-256 digests (hex); passwords as
-- argon2id PHC strings.

CREATE TABLE users (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email TEXT NOT NULL,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin','manager','staff','viewer')),
    password_hash TEXT NOT NULL,
    lang TEXT CHECK (lang IN ('fi','en')),
    active BOOLEAN NOT NULL DEFAULT true,
    created_ms BIGINT NOT NULL,
    last_login_ms BIGINT
);
CREATE UNIQUE INDEX users_email_key ON users (email);

CREATE TABLE sessions (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    digest TEXT NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL
);
CREATE UNIQUE INDEX sessions_digest_key ON sessions (digest);
CREATE INDEX sessions_user_idx ON sessions (user_id);

CREATE TABLE api_tokens (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin','manager','staff','viewer')),
    digest TEXT NOT NULL,
    prefix TEXT NOT NULL,
    created_by BIGINT REFERENCES users (id) ON DELETE SET NULL,
    created_ms BIGINT NOT NULL,
    last_used_ms BIGINT,
    revoked_ms BIGINT
);
CREATE UNIQUE INDEX api_tokens_digest_key ON api_tokens (digest);

CREATE TABLE login_failures (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email TEXT NOT NULL,
    ip TEXT NOT NULL,
    at_ms BIGINT NOT NULL
);
CREATE INDEX login_failures_email_idx ON login_failures (email, at_ms);
CREATE INDEX login_failures_ip_idx ON login_failures (ip, at_ms);
