-- Profitability, clean endings, offers with control groups (SQLite). Never edit once
-- applied.
--
-- customers.let_lapse: "let lapse" (seed 002's quiet way): the contact cadence stops,
-- no notice is sent. customers.end_reason_code: why the relationship ended, as a code
-- (unprofitable, breaks_agreements, abusive, moved_away, other); end_reason keeps words.
-- transactions.offer_code: the offer code an order used (a redemption).
-- offers: an offer to an audience (everyone, a segment, a tier, a list, the contact
-- queue) with a random control group (control_percent, stratified by tier, the draw's
-- seed recorded); channel email (through the outbox), manual (staff tell) or none (an
-- A/A check: nobody is told). offer_members: who was drawn into which arm.
-- customer_endings: the "end cleanly" workflow: proposed with a reason, approved or
-- refused by a manager, a notice mailed from a template, ended on the end date.
-- profit_runs and customer_profit: the newest profitability pass per customer (12
-- months up to as_of): revenue, goods cost, cost to serve by component, margin after
-- cost to serve and expected future margin.

ALTER TABLE customers ADD COLUMN let_lapse INTEGER NOT NULL DEFAULT 0;
ALTER TABLE customers ADD COLUMN end_reason_code TEXT
    CHECK (end_reason_code IN ('unprofitable','breaks_agreements','abusive','moved_away','other'));
ALTER TABLE transactions ADD COLUMN offer_code TEXT;
CREATE INDEX transactions_offer_code_idx ON transactions (offer_code) WHERE offer_code IS NOT NULL;

CREATE TABLE offers (
    id INTEGER PRIMARY KEY,
    external_id TEXT NOT NULL,
    name TEXT NOT NULL,
    text_fi TEXT,
    text_en TEXT,
    channel TEXT NOT NULL DEFAULT 'email' CHECK (channel IN ('email','manual','none')),
    audience TEXT NOT NULL DEFAULT 'everyone'
        CHECK (audience IN ('everyone','segment','tier','list','queue')),
    audience_value TEXT,
    valid_from TEXT NOT NULL,
    valid_until TEXT NOT NULL,
    cost_per_redemption_minor INTEGER,
    currency TEXT,
    code TEXT,
    control_percent INTEGER NOT NULL DEFAULT 20 CHECK (control_percent BETWEEN 0 AND 90),
    hoped_points REAL NOT NULL DEFAULT 5,
    seed INTEGER,
    status TEXT NOT NULL DEFAULT 'draft' CHECK (status IN ('draft','sent','closed')),
    sent_at TEXT,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;
CREATE UNIQUE INDEX offers_external_id_key ON offers (external_id);

CREATE TABLE offer_members (
    offer_id INTEGER REFERENCES offers(id) ON DELETE CASCADE NOT NULL,
    customer_id INTEGER REFERENCES customers(id) ON DELETE CASCADE NOT NULL,
    arm TEXT NOT NULL CHECK (arm IN ('offer','control')),
    tier TEXT NOT NULL,
    told_ms INTEGER,
    mail_id INTEGER,
    PRIMARY KEY (offer_id, customer_id)
) STRICT;
CREATE INDEX offer_members_customer_idx ON offer_members (customer_id, offer_id);

CREATE TABLE customer_endings (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER REFERENCES customers(id) ON DELETE CASCADE NOT NULL,
    reason TEXT NOT NULL
        CHECK (reason IN ('unprofitable','breaks_agreements','abusive','moved_away','other')),
    note TEXT,
    end_on TEXT NOT NULL,
    notify INTEGER NOT NULL DEFAULT 1,
    status TEXT NOT NULL DEFAULT 'proposed'
        CHECK (status IN ('proposed','approved','refused','ended','cancelled')),
    proposed_by INTEGER,
    proposed_ms INTEGER NOT NULL,
    decided_by INTEGER,
    decided_ms INTEGER,
    decision_note TEXT,
    mail_id INTEGER,
    ended_ms INTEGER
) STRICT;
CREATE INDEX customer_endings_customer_idx ON customer_endings (customer_id, proposed_ms);
CREATE INDEX customer_endings_status_idx ON customer_endings (status, end_on);
-- At most one ending in progress per customer.
CREATE UNIQUE INDEX customer_endings_open_key ON customer_endings (customer_id)
    WHERE status IN ('proposed','approved');

CREATE TABLE profit_runs (
    id INTEGER PRIMARY KEY,
    as_of TEXT NOT NULL,
    ran_ms INTEGER NOT NULL,
    millis INTEGER NOT NULL,
    customers INTEGER NOT NULL,
    currency TEXT NOT NULL,
    details TEXT NOT NULL
) STRICT;

CREATE TABLE customer_profit (
    customer_id INTEGER REFERENCES customers(id) ON DELETE CASCADE PRIMARY KEY,
    run_id INTEGER REFERENCES profit_runs(id) ON DELETE CASCADE NOT NULL,
    revenue_minor INTEGER NOT NULL,
    goods_cost_minor INTEGER NOT NULL,
    gross_margin_minor INTEGER NOT NULL,
    interactions INTEGER NOT NULL,
    cost_interactions_minor INTEGER NOT NULL,
    cases INTEGER NOT NULL,
    cost_cases_minor INTEGER NOT NULL,
    cost_compensations_minor INTEGER NOT NULL,
    redemptions INTEGER NOT NULL,
    cost_offers_minor INTEGER NOT NULL,
    cost_to_serve_minor INTEGER NOT NULL,
    margin_after_minor INTEGER NOT NULL,
    expected_margin_minor INTEGER,
    unprofitable INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX customer_profit_margin_idx ON customer_profit (margin_after_minor, customer_id);
CREATE INDEX customer_profit_unprofitable_idx ON customer_profit (unprofitable, margin_after_minor);
