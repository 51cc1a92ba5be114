-- The writer sets `customer_sort_keys` itself when it adds or sets customers' totals
-- from a batch. Never edit once applied.
--
-- Migration 0020's row trigger updates a customer's sort keys one row at a time: for
-- the 4,600 customers of a 10,000-event batch, 76-83 ms where the customers' own
-- (HOT) update takes 23 ms; one set-based update of `customer_sort_keys` in the same
-- statement takes 51 ms in all (`benches/pg_totals_update.sql`). The writer's totals
-- statements now do that, and say so for their transaction with
-- `set_config('kanta.sort_keys_set', 'on', true)`, which this trigger's condition reads
-- (a setting, not a column: checked without calling PL/pgSQL). Every other update of
-- revenue or last purchase (a staged merge's recompute, subscriptions, erasure) still
-- fires the trigger.

DROP TRIGGER customers_sort_keys_update ON customers;
CREATE TRIGGER customers_sort_keys_update
    AFTER UPDATE OF revenue_minor, subscription_revenue_minor, last_purchase_at ON customers
    FOR EACH ROW
    WHEN ((OLD.revenue_minor + OLD.subscription_revenue_minor
              IS DISTINCT FROM NEW.revenue_minor + NEW.subscription_revenue_minor
           OR OLD.last_purchase_at IS DISTINCT FROM NEW.last_purchase_at)
          AND current_setting('kanta.sort_keys_set', true) IS DISTINCT FROM 'on')
    EXECUTE FUNCTION kanta_sort_keys_update();
