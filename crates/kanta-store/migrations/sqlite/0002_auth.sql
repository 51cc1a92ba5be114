-- Staff users, their sessions, API tokens and failed logins (SQLite).
-- Times here are INTEGER milliseconds since the Unix epoch (UTC) on both backends:
-- these tables are read and compared by the server, never imported.
-- Session ids and API tokens are stored only as SHA-256 digests (hex); passwords as
-- argon2id PHC strings.

CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin','manager','staff','viewer')),
    password_hash TEXT NOT NULL,
    lang TEXT CHECK (lang IN ('fi','en')),
    active INTEGER NOT NULL DEFAULT 1,
    created_ms INTEGER NOT NULL,
    last_login_ms INTEGER
) STRICT;
CREATE UNIQUE INDEX users_email_key ON users (email);

CREATE TABLE sessions (
    id INTEGER PRIMARY KEY,
    digest TEXT NOT NULL,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX sessions_digest_key ON sessions (digest);
CREATE INDEX sessions_user_idx ON sessions (user_id);

CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin','manager','staff','viewer')),
    digest TEXT NOT NULL,
    prefix TEXT NOT NULL,
    created_by INTEGER REFERENCES users (id) ON DELETE SET NULL,
    created_ms INTEGER NOT NULL,
    last_used_ms INTEGER,
    revoked_ms INTEGER
) STRICT;
CREATE UNIQUE INDEX api_tokens_digest_key ON api_tokens (digest);

CREATE TABLE login_failures (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL,
    ip TEXT NOT NULL,
    at_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX login_failures_email_idx ON login_failures (email, at_ms);
CREATE INDEX login_failures_ip_idx ON login_failures (ip, at_ms);
