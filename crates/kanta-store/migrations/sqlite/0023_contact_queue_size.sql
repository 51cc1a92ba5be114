-- PostgreSQL's migration 0023 keeps the contact queue's size in a table of its own,
-- kept by triggers. SQLite still counts the queue's rows at each page: this migration
-- keeps the two backends' versions equal, as backups and restores compare them. Never edit once applied.
SELECT 1;
