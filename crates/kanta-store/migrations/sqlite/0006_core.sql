-- The application core's tables and the customers' refund totals (SQLite). Never
-- edit once applied.
--
-- audit_log, jobs and outbox are the server's own tables: as in 0002_auth.sql, times
-- are INTEGER milliseconds since the Unix epoch (UTC), in `*_ms` columns; JSON is
-- TEXT checked by json_valid.

-- Who did what, through what, to which record: one row per event, never changed.
-- actor_id: a user's or token's id, the OS user of the command line, a job's kind;
-- actor_name: an email, a token's name, ...; record_id: the record's external id.
-- changes: {"field": {"before": v, "after": v}, ...} (may be {}); details: free JSON
-- (an import's file and counts, ...).
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    at_ms INTEGER NOT NULL,
    actor_kind TEXT NOT NULL CHECK (actor_kind IN ('user','token','cli','job','import','system')),
    actor_id TEXT,
    actor_name TEXT NOT NULL,
    channel TEXT NOT NULL CHECK (channel IN ('ui','api','cli','import','job')),
    entity TEXT NOT NULL,
    record_id TEXT,
    action TEXT NOT NULL,
    changes TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(changes)),
    details TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(details)),
    ip TEXT
) STRICT;
-- Filters (an actor, a record, a period); pages walk newest first by id.
CREATE INDEX audit_log_actor_name_idx ON audit_log (actor_name, id);
CREATE INDEX audit_log_actor_id_idx ON audit_log (actor_id, id);
CREATE INDEX audit_log_record_idx ON audit_log (entity, record_id, id);
CREATE INDEX audit_log_at_idx ON audit_log (at_ms);

-- Append-only. NOTE: erasure (GDPR) will have to anonymise the personal data in
-- entries (actor_name, ip, values in changes); a later migration must then replace
-- these triggers with ones that let only that anonymisation through.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only: entries are never changed');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only: entries are never deleted');
END;

-- Background jobs. A worker claims a job (status running, locked_by, lease_until_ms)
-- and completes or fails it; a job whose lease ran out (its worker died) is claimed
-- again. unique_key: a job of a kind is enqueued at most once per key.
CREATE TABLE jobs (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'queued' CHECK (status IN ('queued','running','done','failed')),
    payload TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(payload)),
    unique_key TEXT,
    run_at_ms INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    locked_by TEXT,
    lease_until_ms INTEGER,
    last_error TEXT,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    finished_ms INTEGER
) STRICT;
CREATE UNIQUE INDEX jobs_kind_unique_key ON jobs (kind, unique_key);
CREATE INDEX jobs_claim_idx ON jobs (status, run_at_ms);

-- Mail to send, queued in the transaction of what caused it (with its mail.send
-- job); unique_key: a message is queued at most once.
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    unique_key TEXT NOT NULL,
    to_addr TEXT NOT NULL,
    subject TEXT NOT NULL,
    body_text TEXT NOT NULL,
    body_html TEXT,
    status TEXT NOT NULL DEFAULT 'queued' CHECK (status IN ('queued','sent','failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    created_ms INTEGER NOT NULL,
    sent_ms INTEGER
) STRICT;
CREATE UNIQUE INDEX outbox_unique_key ON outbox (unique_key);

-- Refunds apart from orders: their count and their amounts summed as stored
-- (negative), per customer, kept by the store's writer beside transactions_count and
-- revenue_minor (which count and sum orders and refunds alike; orders =
-- transactions_count - refunds_count).
ALTER TABLE customers ADD COLUMN refunds_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE customers ADD COLUMN refunds_minor INTEGER NOT NULL DEFAULT 0;

UPDATE customers SET refunds_count = a.n, refunds_minor = a.total
FROM (
    SELECT customer_id, count(*) AS n, coalesce(sum(amount_minor), 0) AS total
    FROM transactions WHERE kind = 'refund' GROUP BY customer_id
) a
WHERE customers.id = a.customer_id;
