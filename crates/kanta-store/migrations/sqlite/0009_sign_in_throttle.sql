-- The sign-in throttle counts failed sign-ins by account and address together
-- (issue 10): the failures of one email from one address, newest last. This index
-- serves that count, the unlock of an email on every address (its first column) and
-- the admin's list of current locks; the one on (ip, at_ms) keeps serving the
-- per-address ceiling.
DROP INDEX login_failures_email_idx;
CREATE INDEX login_failures_pair_idx ON login_failures (email, ip, at_ms);
