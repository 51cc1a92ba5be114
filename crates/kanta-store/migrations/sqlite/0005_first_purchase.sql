-- customers.first_purchase_at (SQLite). Never edit once applied.
--
-- The customer's first order, kept by the store's writer beside last_purchase_at in
-- the same transaction as the rows (kanta-store totals.rs), so the retention
-- dashboard reads each customer's first and last order from 100,000 customer rows
-- instead of a million transactions.

ALTER TABLE customers ADD COLUMN first_purchase_at TEXT;

UPDATE customers SET first_purchase_at = a.first_order
FROM (
    SELECT customer_id, min(occurred_at) AS first_order
    FROM transactions WHERE kind = 'order' GROUP BY customer_id
) a
WHERE customers.id = a.customer_id;
