-- The application core's tables and the customers' refund totals (PostgreSQL). Never
-- edit once applied.
--
-- audit_log, jobs and outbox are the server's own tables: as in 0002_auth.sql, times
-- are BIGINT milliseconds since the Unix epoch (UTC), in `*_ms` columns; JSON is
-- JSONB.

-- Who did what, through what, to which record: one row per event, never changed.
-- actor_id: a user's or token's id, the OS user of the command line, a job's kind;
-- actor_name: an email, a token's name, ...; record_id: the record's external id.
-- changes: {"field": {"before": v, "after": v}, ...} (may be {}); details: free JSON
-- (an import's file and counts, ...).
CREATE TABLE audit_log (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at_ms BIGINT NOT NULL,
    actor_kind TEXT NOT NULL CHECK (actor_kind IN ('user','token','cli','job','import','system')),
    actor_id TEXT,
    actor_name TEXT NOT NULL,
    channel TEXT NOT NULL CHECK (channel IN ('ui','api','cli','import','job')),
    entity TEXT NOT NULL,
    record_id TEXT,
    action TEXT NOT NULL,
    changes JSONB NOT NULL DEFAULT '{}',
    details JSONB NOT NULL DEFAULT '{}',
    ip TEXT
);
-- Filters (an actor, a record, a period); pages walk newest first by id.
CREATE INDEX audit_log_actor_name_idx ON audit_log (actor_name, id);
CREATE INDEX audit_log_actor_id_idx ON audit_log (actor_id, id);
CREATE INDEX audit_log_record_idx ON audit_log (entity, record_id, id);
CREATE INDEX audit_log_at_idx ON audit_log (at_ms);

-- Append-only. NOTE: erasure (GDPR) will have to anonymise the personal data in
-- entries (actor_name, ip, values in changes); a later migration must then replace
-- these triggers with ones that let only that anonymisation through.
CREATE FUNCTION kanta_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only: % is refused', TG_OP;
END;
$$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION kanta_audit_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION kanta_audit_append_only();

-- Background jobs. A worker claims a job (status running, locked_by, lease_until_ms)
-- and completes or fails it; a job whose lease ran out (its worker died) is claimed
-- again. unique_key: a job of a kind is enqueued at most once per key.
CREATE TABLE jobs (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'queued' CHECK (status IN ('queued','running','done','failed')),
    payload JSONB NOT NULL DEFAULT '{}',
    unique_key TEXT,
    run_at_ms BIGINT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    locked_by TEXT,
    lease_until_ms BIGINT,
    last_error TEXT,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL,
    finished_ms BIGINT
);
CREATE UNIQUE INDEX jobs_kind_unique_key ON jobs (kind, unique_key);
CREATE INDEX jobs_claim_idx ON jobs (status, run_at_ms);

-- Mail to send, queued in the transaction of what caused it (with its mail.send
-- job); unique_key: a message is queued at most once.
CREATE TABLE outbox (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    unique_key TEXT NOT NULL,
    to_addr TEXT NOT NULL,
    subject TEXT NOT NULL,
    body_text TEXT NOT NULL,
    body_html TEXT,
    status TEXT NOT NULL DEFAULT 'queued' CHECK (status IN ('queued','sent','failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    created_ms BIGINT NOT NULL,
    sent_ms BIGINT
);
CREATE UNIQUE INDEX outbox_unique_key ON outbox (unique_key);

-- Refunds apart from orders: their count and their amounts summed as stored
-- (negative), per customer, kept by the store's writer beside transactions_count and
-- revenue_minor (which count and sum orders and refunds alike; orders =
-- transactions_count - refunds_count).
ALTER TABLE customers ADD COLUMN refunds_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE customers ADD COLUMN refunds_minor BIGINT NOT NULL DEFAULT 0;

UPDATE customers SET refunds_count = a.n, refunds_minor = a.total
FROM (
    SELECT customer_id, count(*) AS n, coalesce(sum(amount_minor), 0)::BIGINT AS total
    FROM transactions WHERE kind = 'refund' GROUP BY customer_id
) a
WHERE customers.id = a.customer_id;
