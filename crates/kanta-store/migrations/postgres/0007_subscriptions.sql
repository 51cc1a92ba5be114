-- Subscriptions' figures on customers (PostgreSQL). Never edit once applied.
--
-- Derived columns (kanta_domain::schema::CUSTOMER_TOTALS_COLUMNS), never imported:
-- mrr_minor: the monthly amounts of the customer's active subscriptions;
-- subscription_revenue_minor: what their subscriptions billed up to the day they were
--   computed (billed periods: kanta_domain::subscription);
-- next_renewal_on: the nearest renewal of a subscription that has not ended;
-- plan: the active subscriptions' plans, comma-joined.
-- The store's writer recomputes them for the customers whose subscriptions a write
-- touches, in its transaction; the daily `subscriptions.refresh` job recomputes every
-- subscriber's as the days pass. Stores made before this migration get theirs on the
-- first refresh (billing periods are not SQL: no backfill here).
--
-- The revenue sort becomes the customer's whole revenue: orders net of refunds plus
-- subscriptions billed.

ALTER TABLE customers ADD COLUMN mrr_minor BIGINT NOT NULL DEFAULT 0;
ALTER TABLE customers ADD COLUMN subscription_revenue_minor BIGINT NOT NULL DEFAULT 0;
ALTER TABLE customers ADD COLUMN next_renewal_on DATE;
ALTER TABLE customers ADD COLUMN plan TEXT;

DROP INDEX customers_revenue_sort_idx;
CREATE INDEX customers_revenue_sort_idx ON customers ((revenue_minor + subscription_revenue_minor) DESC, id);
CREATE INDEX customers_mrr_sort_idx ON customers (mrr_minor DESC, id);
CREATE INDEX customers_renewal_sort_idx ON customers (next_renewal_on, id);
