-- PostgreSQL's migration 0022 shortens the pending list of the customers' trigram
-- indexes. SQLite has no such index (its search reads the customers, see
-- `records::search_condition`): this migration keeps the two backends' versions
-- equal, as backups and restores compare them. Never edit once applied.
SELECT 1;
