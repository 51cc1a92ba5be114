-- The customers whose contact-queue rows wait to be recomputed (see PostgreSQL's
-- migration 0024). Never edit once applied.
--
-- `mark` is the row's AUTOINCREMENT id, never given twice: a write marks a customer
-- with `INSERT OR REPLACE`, which gives the row a new mark, so the `queue.refresh`
-- job deletes only the marks it read.
CREATE TABLE queue_pending (
    mark INTEGER PRIMARY KEY AUTOINCREMENT,
    customer_id INTEGER NOT NULL UNIQUE REFERENCES customers (id) ON DELETE CASCADE
);
