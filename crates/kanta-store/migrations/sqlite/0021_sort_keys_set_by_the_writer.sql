-- Nothing to do on SQLite. Never edit once applied.
--
-- PostgreSQL's migration 0021 of the same number lets the writer set the customer
-- list's sort keys (a table SQLite does not have, see its 0020) in the same statement
-- as the totals, instead of a row trigger.
SELECT 1;
