-- The customers list and the customer page (PostgreSQL). Never edit once applied.
--
-- tier: the customer's value tier (A best), set by scoring or imported.
-- transactions_count, revenue_minor, last_purchase_at: per-customer totals of the
-- transactions, kept by the store's writer in the same transaction as the rows they
-- sum (kanta-store totals.rs), so the list sorts by revenue or last purchase through
-- an index instead of summing every customer's transactions per page.
-- interactions.kind gains 'note'.

ALTER TABLE customers ADD COLUMN tier TEXT CHECK (tier IN ('A','B','C','D'));
ALTER TABLE customers ADD COLUMN transactions_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE customers ADD COLUMN revenue_minor BIGINT NOT NULL DEFAULT 0;
ALTER TABLE customers ADD COLUMN last_purchase_at TIMESTAMPTZ;

UPDATE customers SET transactions_count = a.n, revenue_minor = a.revenue, last_purchase_at = a.last_order
FROM (
    SELECT customer_id, count(*) AS n, coalesce(sum(amount_minor), 0)::BIGINT AS revenue,
           max(CASE WHEN kind = 'order' THEN occurred_at END) AS last_order
    FROM transactions GROUP BY customer_id
) a
WHERE customers.id = a.customer_id;

CREATE INDEX customers_tier_idx ON customers (tier);
CREATE INDEX customers_kind_idx ON customers (kind);
-- Index order is each sort's order: a page is a walk along one index.
CREATE INDEX customers_name_sort_idx ON customers (name, id);
CREATE INDEX customers_revenue_sort_idx ON customers (revenue_minor DESC, id);
CREATE INDEX customers_last_purchase_sort_idx ON customers (last_purchase_at DESC NULLS LAST, id);

ALTER TABLE interactions DROP CONSTRAINT interactions_kind_check;
ALTER TABLE interactions ADD CONSTRAINT interactions_kind_check
    CHECK (kind IN ('call','meeting','email','visit','chat','note','other'));

-- Search by part of the name, email or id (ILIKE '%...%') through trigram indexes when
-- pg_trgm can be had (a trusted extension since PostgreSQL 13); without it the search
-- scans the table, slower but the same answers. The id's index is on lower(external_id)
-- (the search asks `lower(external_id) LIKE`): on external_id itself the planner took
-- it for the writer's `external_id = ANY($1)` lookups, seconds each, over the unique one.
DO $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
    CREATE INDEX customers_name_trgm_idx ON customers USING gin (name gin_trgm_ops);
    CREATE INDEX customers_email_trgm_idx ON customers USING gin (email gin_trgm_ops);
    CREATE INDEX customers_external_id_trgm_idx ON customers USING gin (lower(external_id) gin_trgm_ops);
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'pg_trgm is not available (%): the customer search scans the table', SQLERRM;
END
$$;
