-- The customer list's revenue and last-purchase orders in a narrow table of their own,
-- so that the writer's updates of the customers' totals are HOT. Never edit once applied.
--
-- An update is HOT (no index touched) only when no indexed column changes. Every
-- batch of orders changes its customers' `revenue_minor` and `last_purchase_at`, and
-- each of those was in a sort index on `customers`: every such update inserted into
-- all 17 of the table's indexes (three of them trigram GIN indexes). On the demo
-- store, setting the totals of 4,600 customers took 459 ms that way; with the two
-- sort indexes here instead, 93 ms (the HOT update and this table's triggered one),
-- and `POST /api/v1/events` spends most of its time on that statement
-- (BENCHMARKS.md, "Event ingest on PostgreSQL").
--
-- `customer_sort_keys` holds, per customer, the two values those indexes sorted on.
-- Triggers keep it: a statement's new customers are added in one insert, and a row
-- trigger fires only when a customer's revenue (orders plus subscriptions billed) or
-- last purchase really changes, so updates of other columns (the tier of a scoring
-- run, the health score, names) do not run it. Customers are never deleted (erasure
-- anonymises in place), but a deletion removes the row here too.

CREATE TABLE customer_sort_keys (
    customer_id BIGINT PRIMARY KEY,
    revenue_key BIGINT NOT NULL DEFAULT 0,
    last_purchase_at TIMESTAMPTZ
);
INSERT INTO customer_sort_keys (customer_id, revenue_key, last_purchase_at)
    SELECT id, revenue_minor + subscription_revenue_minor, last_purchase_at FROM customers;
CREATE INDEX customer_sort_keys_revenue_idx
    ON customer_sort_keys (revenue_key DESC, customer_id);
CREATE INDEX customer_sort_keys_last_purchase_idx
    ON customer_sort_keys (last_purchase_at DESC NULLS LAST, customer_id);

DROP INDEX customers_revenue_sort_idx;
DROP INDEX customers_last_purchase_sort_idx;

CREATE FUNCTION kanta_sort_keys_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO customer_sort_keys (customer_id, revenue_key, last_purchase_at)
        SELECT id, revenue_minor + subscription_revenue_minor, last_purchase_at FROM new_rows;
    RETURN NULL;
END;
$$;
CREATE TRIGGER customers_sort_keys_insert AFTER INSERT ON customers
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION kanta_sort_keys_insert();

CREATE FUNCTION kanta_sort_keys_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE customer_sort_keys
        SET revenue_key = NEW.revenue_minor + NEW.subscription_revenue_minor,
            last_purchase_at = NEW.last_purchase_at
        WHERE customer_id = NEW.id;
    RETURN NULL;
END;
$$;
CREATE TRIGGER customers_sort_keys_update
    AFTER UPDATE OF revenue_minor, subscription_revenue_minor, last_purchase_at ON customers
    FOR EACH ROW
    WHEN (OLD.revenue_minor + OLD.subscription_revenue_minor
              IS DISTINCT FROM NEW.revenue_minor + NEW.subscription_revenue_minor
          OR OLD.last_purchase_at IS DISTINCT FROM NEW.last_purchase_at)
    EXECUTE FUNCTION kanta_sort_keys_update();

CREATE FUNCTION kanta_sort_keys_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM customer_sort_keys WHERE customer_id IN (SELECT id FROM old_rows);
    RETURN NULL;
END;
$$;
CREATE TRIGGER customers_sort_keys_delete AFTER DELETE ON customers
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION kanta_sort_keys_delete();
