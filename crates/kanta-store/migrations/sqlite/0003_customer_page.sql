-- The customers list and the customer page (SQLite). Never edit once applied.
--
-- tier: the customer's value tier (A best), set by scoring or imported.
-- transactions_count, revenue_minor, last_purchase_at: per-customer totals of the
-- transactions, kept by the store's writer in the same transaction as the rows they
-- sum (kanta-store totals.rs), so the list sorts by revenue or last purchase through
-- an index instead of summing every customer's transactions per page.
-- interactions.kind gains 'note' (SQLite changes a CHECK only by rebuilding the table).

ALTER TABLE customers ADD COLUMN tier TEXT CHECK (tier IN ('A','B','C','D'));
ALTER TABLE customers ADD COLUMN transactions_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE customers ADD COLUMN revenue_minor INTEGER NOT NULL DEFAULT 0;
ALTER TABLE customers ADD COLUMN last_purchase_at TEXT;

UPDATE customers SET transactions_count = a.n, revenue_minor = a.revenue, last_purchase_at = a.last_order
FROM (
    SELECT customer_id, count(*) AS n, coalesce(sum(amount_minor), 0) AS revenue,
           max(CASE WHEN kind = 'order' THEN occurred_at END) AS last_order
    FROM transactions GROUP BY customer_id
) a
WHERE customers.id = a.customer_id;

CREATE INDEX customers_tier_idx ON customers (tier);
CREATE INDEX customers_kind_idx ON customers (kind);
-- Index order is each sort's order: a page is a walk along one index.
CREATE INDEX customers_name_sort_idx ON customers (name IS NULL, name, id);
CREATE INDEX customers_revenue_sort_idx ON customers (revenue_minor DESC, id);
CREATE INDEX customers_last_purchase_sort_idx ON customers (last_purchase_at DESC, id);

CREATE TABLE interactions_new (
    id INTEGER PRIMARY KEY,
    external_id TEXT NOT NULL,
    customer_id INTEGER REFERENCES customers(id) ON DELETE CASCADE NOT NULL,
    occurred_at TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('call','meeting','email','visit','chat','note','other')),
    direction TEXT CHECK (direction IN ('inbound','outbound')),
    staff_id INTEGER REFERENCES staff(id) ON DELETE SET NULL,
    outcome TEXT CHECK (outcome IN ('positive','neutral','negative')),
    proactive INTEGER,
    note TEXT,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;
INSERT INTO interactions_new SELECT id, external_id, customer_id, occurred_at, kind, direction,
    staff_id, outcome, proactive, note, created_at, updated_at FROM interactions;
DROP TABLE interactions;
ALTER TABLE interactions_new RENAME TO interactions;
CREATE UNIQUE INDEX interactions_external_id_key ON interactions (external_id);
CREATE INDEX interactions_customer_id_occurred_at_idx ON interactions (customer_id, occurred_at);
CREATE INDEX interactions_staff_id_idx ON interactions (staff_id);
