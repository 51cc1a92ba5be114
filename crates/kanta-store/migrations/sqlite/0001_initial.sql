-- Kanta's initial schema (SQLite). Never edit once applied: add a new migration.
-- Columns follow crates/kanta-domain/src/schema.rs; a test checks that they match.
-- transactions and usage_events carry no foreign key: they are the bulk tables, and the
-- store resolves every reference inside its write transaction (kanta-store write.rs).
-- Indexes are named, never implied by constraints: a bulk load into an empty table drops
-- and rebuilds them inside its transaction.
-- Times are TEXT in RFC 3339 UTC with milliseconds ('2024-12-31T10:00:00.000Z'), dates 'YYYY-MM-DD'.

CREATE TABLE staff (
    id INTEGER PRIMARY KEY,
    external_id TEXT NOT NULL,
    name TEXT NOT NULL,
    email TEXT,
    title TEXT,
    active INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;
CREATE UNIQUE INDEX staff_external_id_key ON staff (external_id);

CREATE TABLE customers (
    id INTEGER PRIMARY KEY,
    external_id TEXT NOT NULL,
    kind TEXT NOT NULL DEFAULT 'person' CHECK (kind IN ('person','company')),
    name TEXT,
    email TEXT,
    phone TEXT,
    segment TEXT,
    locale TEXT CHECK (locale IN ('fi','en')),
    survey_consent INTEGER,
    survey_consent_at TEXT,
    marketing_consent INTEGER,
    marketing_consent_at TEXT,
    acquired_on TEXT,
    acquisition_channel TEXT,
    acquisition_cost_minor INTEGER,
    currency TEXT,
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active','ended')),
    ended_on TEXT,
    end_reason TEXT,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;
CREATE UNIQUE INDEX customers_external_id_key ON customers (external_id);
CREATE INDEX customers_segment_idx ON customers (segment);
CREATE INDEX customers_status_idx ON customers (status);
CREATE INDEX customers_email_idx ON customers (email);
CREATE INDEX customers_name_idx ON customers (name);

CREATE TABLE contacts (
    id INTEGER PRIMARY KEY,
    external_id TEXT NOT NULL,
    customer_id INTEGER REFERENCES customers(id) ON DELETE CASCADE NOT NULL,
    name TEXT NOT NULL,
    email TEXT,
    phone TEXT,
    title TEXT,
    is_primary INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;
CREATE UNIQUE INDEX contacts_external_id_key ON contacts (external_id);
CREATE INDEX contacts_customer_id_idx ON contacts (customer_id);

CREATE TABLE transactions (
    id INTEGER PRIMARY KEY,
    external_id TEXT NOT NULL,
    customer_id INTEGER NOT NULL,
    occurred_at TEXT NOT NULL,
    amount_minor INTEGER NOT NULL,
    currency TEXT NOT NULL,
    cost_minor INTEGER,
    channel TEXT,
    order_id TEXT,
    quantity INTEGER,
    kind TEXT NOT NULL DEFAULT 'order' CHECK (kind IN ('order','refund')),
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;
CREATE UNIQUE INDEX transactions_external_id_key ON transactions (external_id);
CREATE INDEX transactions_customer_id_occurred_at_idx ON transactions (customer_id, occurred_at);

CREATE TABLE subscriptions (
    id INTEGER PRIMARY KEY,
    external_id TEXT NOT NULL,
    customer_id INTEGER REFERENCES customers(id) ON DELETE CASCADE NOT NULL,
    plan TEXT NOT NULL,
    amount_minor INTEGER NOT NULL,
    currency TEXT NOT NULL,
    period TEXT NOT NULL DEFAULT 'month' CHECK (period IN ('week','month','quarter','year')),
    started_on TEXT NOT NULL,
    ended_on TEXT,
    renews_on TEXT,
    end_reason TEXT,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;
CREATE UNIQUE INDEX subscriptions_external_id_key ON subscriptions (external_id);
CREATE INDEX subscriptions_customer_id_idx ON subscriptions (customer_id);

CREATE TABLE interactions (
    id INTEGER PRIMARY KEY,
    external_id TEXT NOT NULL,
    customer_id INTEGER REFERENCES customers(id) ON DELETE CASCADE NOT NULL,
    occurred_at TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('call','meeting','email','visit','chat','other')),
    direction TEXT CHECK (direction IN ('inbound','outbound')),
    staff_id INTEGER REFERENCES staff(id) ON DELETE SET NULL,
    outcome TEXT CHECK (outcome IN ('positive','neutral','negative')),
    proactive INTEGER,
    note TEXT,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;
CREATE UNIQUE INDEX interactions_external_id_key ON interactions (external_id);
CREATE INDEX interactions_customer_id_occurred_at_idx ON interactions (customer_id, occurred_at);
CREATE INDEX interactions_staff_id_idx ON interactions (staff_id);

CREATE TABLE cases (
    id INTEGER PRIMARY KEY,
    external_id TEXT NOT NULL,
    customer_id INTEGER REFERENCES customers(id) ON DELETE CASCADE NOT NULL,
    opened_at TEXT NOT NULL,
    category TEXT NOT NULL,
    severity TEXT NOT NULL DEFAULT 'medium' CHECK (severity IN ('low','medium','high','critical')),
    our_fault INTEGER,
    summary TEXT,
    resolved_at TEXT,
    compensation_minor INTEGER,
    currency TEXT,
    staff_id INTEGER REFERENCES staff(id) ON DELETE SET NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;
CREATE UNIQUE INDEX cases_external_id_key ON cases (external_id);
CREATE INDEX cases_customer_id_opened_at_idx ON cases (customer_id, opened_at);

CREATE TABLE feedback (
    id INTEGER PRIMARY KEY,
    external_id TEXT NOT NULL,
    customer_id INTEGER REFERENCES customers(id) ON DELETE SET NULL,
    answered_at TEXT NOT NULL,
    survey_ref TEXT,
    nps INTEGER CHECK (nps BETWEEN 0 AND 10),
    csat INTEGER CHECK (csat BETWEEN 1 AND 5),
    ces INTEGER CHECK (ces BETWEEN 1 AND 7),
    did_well TEXT,
    do_better TEXT,
    comment TEXT,
    language TEXT CHECK (language IN ('fi','en')),
    staff_id INTEGER REFERENCES staff(id) ON DELETE SET NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;
CREATE UNIQUE INDEX feedback_external_id_key ON feedback (external_id);
CREATE INDEX feedback_customer_id_answered_at_idx ON feedback (customer_id, answered_at);
CREATE INDEX feedback_answered_at_idx ON feedback (answered_at);

CREATE TABLE usage_events (
    id INTEGER PRIMARY KEY,
    external_id TEXT NOT NULL,
    customer_id INTEGER NOT NULL,
    occurred_at TEXT NOT NULL,
    metric TEXT NOT NULL,
    value REAL NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;
CREATE UNIQUE INDEX usage_events_external_id_key ON usage_events (external_id);
CREATE INDEX usage_events_customer_id_metric_occurred_at_idx ON usage_events (customer_id, metric, occurred_at);

CREATE TABLE trust_entries (
    id INTEGER PRIMARY KEY,
    external_id TEXT NOT NULL,
    customer_id INTEGER REFERENCES customers(id) ON DELETE CASCADE NOT NULL,
    occurred_at TEXT NOT NULL,
    delta INTEGER NOT NULL,
    reason TEXT NOT NULL,
    source TEXT NOT NULL DEFAULT 'import',
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;
CREATE UNIQUE INDEX trust_entries_external_id_key ON trust_entries (external_id);
CREATE INDEX trust_entries_customer_id_occurred_at_idx ON trust_entries (customer_id, occurred_at);

CREATE TRIGGER trust_entries_no_update BEFORE UPDATE ON trust_entries
BEGIN
    SELECT RAISE(ABORT, 'trust ledger entries are append-only: add a correcting entry instead');
END;

-- Store-wide settings (currency, trust ratio, ...), as key and JSON text.
CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;

-- One row per import or other bulk write: what came in, and what it did.
CREATE TABLE import_runs (
    id INTEGER PRIMARY KEY,
    entity TEXT NOT NULL,
    source TEXT NOT NULL,
    rows_read INTEGER NOT NULL,
    inserted INTEGER NOT NULL,
    updated INTEGER NOT NULL,
    unchanged INTEGER NOT NULL,
    rejected INTEGER NOT NULL,
    customers_created INTEGER NOT NULL,
    finished_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;
