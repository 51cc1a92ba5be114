-- The customers whose contact-queue rows wait to be recomputed (see PostgreSQL's
-- migration 0024). Never edit once applied.
--
-- Marks are only inserted; `mark` is an AUTOINCREMENT id, never given twice, so the
-- `queue.refresh` job deletes exactly the marks it read.
CREATE TABLE queue_pending (
    mark INTEGER PRIMARY KEY AUTOINCREMENT,
    customer_id INTEGER NOT NULL
);
