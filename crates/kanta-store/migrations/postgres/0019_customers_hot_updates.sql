-- Room on each page of `customers` for a new version of its rows, and scores written
-- without a lookup of their customer. Never edit once applied.
--
-- PostgreSQL writes an updated row as a new version. When that version fits on the
-- row's own page and no indexed column changed, it is a HOT update: none of the
-- table's 18 indexes (three of them trigram GIN indexes) is touched. A scoring run
-- sets every customer's `tier` in one transaction; on full pages each of those
-- updates inserted into every index: 136 s for 1,000,000 customers, against 9.6 s as
-- HOT updates on pages half full (measured on a copy of the scale bench's customers,
-- BENCHMARKS.md "Issue 15: scale"). So:
--
-- * `tier` is no longer indexed: four values, each held by many customers (at the
--   scale bench A 7%, B 10%, C 15%, D 68%), so a list filtered by tier walks its sort
--   order's index and skips the others, and counts by tier read the table anyway.
-- * New pages are filled to half, leaving room for one new version of every row. The
--   heap grows from about 170 to 340 bytes a customer; the indexes do not change.
--   Pages written before this migration keep their fill until rewritten (`VACUUM
--   FULL customers` applies it at once).
-- * A run's scores no longer check each customer against `customers`: inserting
--   1,000,000 scores took 21.3 s with that foreign key and 11.7 s without. Customers
--   are never deleted (erasure anonymises the row in place and keeps the figures), so
--   the check only ever found them there. The key to `model_runs` stays.

DROP INDEX IF EXISTS customers_tier_idx;
ALTER TABLE customers SET (fillfactor = 50);
ALTER TABLE customer_scores DROP CONSTRAINT IF EXISTS customer_scores_customer_id_fkey;
