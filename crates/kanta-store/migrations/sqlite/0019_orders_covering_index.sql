-- Customers' orders readable from an index alone. Never edit once applied.
--
-- (PostgreSQL's migration 0019 of the same number leaves room on `customers`' pages
-- for HOT updates of the tier; SQLite rewrites a row in place and has no need.)
--
-- `kanta score` reads every order as (customer, time, amount), customer by customer,
-- and the health pass counts each customer's orders by time. The index on
-- (customer_id, occurred_at) gave the order but sent each row to the table for its
-- amount and kind: near-sequential when the orders were stored customer by customer,
-- a random read per order when they were stored as they happened. The index now
-- carries the amount and the kind too (about 10 bytes more per order) and replaces
-- the old one, which every reader of a customer's orders by time still finds as its
-- first two columns.

DROP INDEX transactions_customer_id_occurred_at_idx;
CREATE INDEX transactions_customer_id_occurred_at_idx
    ON transactions (customer_id, occurred_at, amount_minor, kind);
