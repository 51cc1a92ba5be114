-- Service recovery (SQLite). Never edit once applied.
--
-- cases gain a life cycle (status: open, in_progress, waiting, resolved, closed; a
-- reopened case is open again), a channel, the first response and closing times, what
-- was fixed, whether we apologised and whether it was fixed while the customer was
-- there. Severity `medium` becomes `normal`. Derived columns, never imported:
-- first_response_due_at and resolution_due_at (the SLA policy of the case's severity,
-- counted in business or calendar hours by the core) and escalation_of (the trust
-- ledger entry whose mistake opened this escalation case: one case per mistake).
-- SQLite cannot change a CHECK, so cases is rebuilt (nothing references it yet).
--
-- claims: compensation claimed on a case (amount, kind), approved at once up to the
-- small-claim threshold or decided by a manager, and paid. Derived columns:
-- customer_id (the case's customer), auto_approved (the small-claim rule approved it),
-- claimed_by, decided_by, paid_by (who, as the audit log names them).
-- case_events: each step of a case (opened, status changes, owner changes, notes,
-- claims, alerts) with who and when: the case's own timeline.
-- sla_alerts: the warnings sent before a target and the breaches told to managers,
-- once per case, step and kind.
-- trust_entries.source_id: the external id of the record an entry came from.
-- customers.owner_id: the staff member who owns the customer (escalations mail them).

CREATE TABLE cases_new (
    id INTEGER PRIMARY KEY,
    external_id TEXT NOT NULL,
    customer_id INTEGER REFERENCES customers(id) ON DELETE CASCADE NOT NULL,
    opened_at TEXT NOT NULL,
    category TEXT NOT NULL,
    severity TEXT NOT NULL DEFAULT 'normal' CHECK (severity IN ('low','normal','high','critical')),
    status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open','in_progress','waiting','resolved','closed')),
    channel TEXT CHECK (channel IN ('phone','email','chat','visit','web','survey','other')),
    our_fault INTEGER,
    summary TEXT,
    first_response_at TEXT,
    resolved_at TEXT,
    closed_at TEXT,
    resolution TEXT,
    apology INTEGER,
    fixed_in_presence INTEGER,
    compensation_minor INTEGER,
    currency TEXT,
    staff_id INTEGER REFERENCES staff(id) ON DELETE SET NULL,
    first_response_due_at TEXT,
    resolution_due_at TEXT,
    escalation_of INTEGER,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;
INSERT INTO cases_new (id, external_id, customer_id, opened_at, category, severity, status,
    our_fault, summary, resolved_at, compensation_minor, currency, staff_id, created_at,
    updated_at)
SELECT id, external_id, customer_id, opened_at, category,
    CASE severity WHEN 'medium' THEN 'normal' ELSE severity END,
    CASE WHEN resolved_at IS NULL THEN 'open' ELSE 'resolved' END,
    our_fault, summary, resolved_at, compensation_minor, currency, staff_id, created_at,
    updated_at
FROM cases;
DROP TABLE cases;
ALTER TABLE cases_new RENAME TO cases;
CREATE UNIQUE INDEX cases_external_id_key ON cases (external_id);
CREATE INDEX cases_customer_id_opened_at_idx ON cases (customer_id, opened_at);
CREATE INDEX cases_status_resolution_due_idx ON cases (status, resolution_due_at, id);
CREATE INDEX cases_status_first_response_due_idx ON cases (status, first_response_due_at, id);
CREATE INDEX cases_staff_id_status_idx ON cases (staff_id, status, id);
CREATE INDEX cases_opened_at_idx ON cases (opened_at, id);
CREATE INDEX cases_resolved_at_idx ON cases (resolved_at);
CREATE INDEX cases_category_idx ON cases (category);
CREATE UNIQUE INDEX cases_escalation_of_key ON cases (escalation_of) WHERE escalation_of IS NOT NULL;

CREATE TABLE claims (
    id INTEGER PRIMARY KEY,
    external_id TEXT NOT NULL,
    case_id INTEGER REFERENCES cases(id) ON DELETE CASCADE NOT NULL,
    claimed_at TEXT NOT NULL,
    amount_minor INTEGER NOT NULL,
    currency TEXT,
    kind TEXT NOT NULL DEFAULT 'refund' CHECK (kind IN ('refund','replacement','voucher','other')),
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending','approved','refused')),
    decided_at TEXT,
    decision_reason TEXT,
    paid_at TEXT,
    customer_id INTEGER REFERENCES customers(id) ON DELETE CASCADE,
    auto_approved INTEGER NOT NULL DEFAULT 0,
    claimed_by TEXT,
    decided_by TEXT,
    paid_by TEXT,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;
CREATE UNIQUE INDEX claims_external_id_key ON claims (external_id);
CREATE INDEX claims_case_id_idx ON claims (case_id);
CREATE INDEX claims_status_claimed_at_idx ON claims (status, claimed_at, id);
CREATE INDEX claims_customer_id_claimed_at_idx ON claims (customer_id, claimed_at);
CREATE INDEX claims_claimed_at_idx ON claims (claimed_at);

CREATE TABLE case_events (
    id INTEGER PRIMARY KEY,
    case_id INTEGER REFERENCES cases(id) ON DELETE CASCADE NOT NULL,
    at TEXT NOT NULL,
    kind TEXT NOT NULL,
    from_value TEXT,
    to_value TEXT,
    note TEXT,
    actor TEXT NOT NULL,
    user_id INTEGER
) STRICT;
CREATE INDEX case_events_case_id_at_idx ON case_events (case_id, at, id);

CREATE TABLE sla_alerts (
    id INTEGER PRIMARY KEY,
    case_id INTEGER REFERENCES cases(id) ON DELETE CASCADE NOT NULL,
    step TEXT NOT NULL CHECK (step IN ('first_response','resolution')),
    kind TEXT NOT NULL CHECK (kind IN ('warning','breach')),
    at TEXT NOT NULL
) STRICT;
CREATE UNIQUE INDEX sla_alerts_case_step_kind_key ON sla_alerts (case_id, step, kind);

ALTER TABLE trust_entries ADD COLUMN source_id TEXT;
CREATE INDEX trust_entries_source_idx ON trust_entries (source, source_id);

ALTER TABLE customers ADD COLUMN owner_id INTEGER REFERENCES staff(id) ON DELETE SET NULL;
CREATE INDEX customers_owner_id_idx ON customers (owner_id);
