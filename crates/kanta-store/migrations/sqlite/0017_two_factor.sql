-- Two-factor sign-in (SQLite). Never edit once applied.
--
-- users.totp_secret: the user's TOTP key (RFC 6238, base32) once two-factor sign-in
-- is on; totp_pending: a key shown on the set-up page and not yet confirmed by a code;
-- totp_last_step: the newest 30-second step whose code was accepted (a code works
-- once); totp_enabled_ms: when it was turned on.
-- recovery_codes: one-use codes shown once when two-factor sign-in is turned on, kept
-- as SHA-256 digests.
-- sign_in_challenges: a sign-in whose password was right and that still needs a code
-- (purpose 'code') or must set two-factor sign-in up first ('enrol'); the browser
-- holds the secret, the store its digest, for ten minutes and five tries.

ALTER TABLE users ADD COLUMN totp_secret TEXT;
ALTER TABLE users ADD COLUMN totp_pending TEXT;
ALTER TABLE users ADD COLUMN totp_last_step INTEGER;
ALTER TABLE users ADD COLUMN totp_enabled_ms INTEGER;

CREATE TABLE recovery_codes (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    digest TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    used_ms INTEGER
) STRICT;
CREATE INDEX recovery_codes_user_idx ON recovery_codes (user_id);

CREATE TABLE sign_in_challenges (
    id INTEGER PRIMARY KEY,
    digest TEXT NOT NULL,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose TEXT NOT NULL CHECK (purpose IN ('code','enrol')),
    tries INTEGER NOT NULL DEFAULT 0,
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX sign_in_challenges_digest_key ON sign_in_challenges (digest);
