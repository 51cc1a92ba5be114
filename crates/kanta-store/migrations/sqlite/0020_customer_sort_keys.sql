-- Nothing to do on SQLite. Never edit once applied.
--
-- PostgreSQL's migration 0020 of the same number moves the customer list's revenue
-- and last-purchase sort indexes to a narrow table, so that updates of the totals do
-- not write every index of `customers`. SQLite updates only the indexes whose columns
-- changed, so its sort indexes on `customers` stay where they are.
SELECT 1;
