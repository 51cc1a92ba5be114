-- What the customers' totals update of one event batch costs on PostgreSQL, before and
-- after migration 0020 (BENCHMARKS.md, "Issue 15: event ingest on PostgreSQL"), and
-- what 0020's triggers cost a bulk load. On a demo store made by this version:
--
--   kanta demo --no-serve --database-url postgres://postgres@127.0.0.1:5432/kanta_w
--   psql postgres://postgres@127.0.0.1:5432/kanta_w -f benches/pg_totals_update.sql
--
-- Each case runs in a transaction rolled back at the end; the update sets about 88% of
-- the customers' totals (4,600 of the demo's 5,311), as a 10,000-event batch does.
\timing on
SELECT setseed(0.5);
CREATE TEMP TABLE a AS SELECT id AS customer_id, 3 AS n, 1000 AS revenue
    FROM customers WHERE random() < 0.88;
ANALYZE a;
\set upd 'UPDATE customers SET transactions_count = transactions_count + a.n, revenue_minor = revenue_minor + a.revenue, last_purchase_at = now() FROM a WHERE customers.id = a.customer_id'
\set before0020 'DROP TRIGGER customers_sort_keys_update ON customers; CREATE INDEX bench_revenue_sort_idx ON customers ((revenue_minor + subscription_revenue_minor) DESC, id); CREATE INDEX bench_last_purchase_sort_idx ON customers (last_purchase_at DESC NULLS LAST, id)'

\echo '== before 0020: the two sort indexes on customers (every index written)'
BEGIN;
:before0020;
:upd;
ROLLBACK;
\echo '== before 0020, without the three trigram indexes'
BEGIN;
:before0020;
DROP INDEX customers_name_trgm_idx, customers_email_trgm_idx, customers_external_id_trgm_idx;
:upd;
ROLLBACK;
\echo '== 0020 without its update trigger (the HOT update alone)'
BEGIN;
DROP TRIGGER customers_sort_keys_update ON customers;
:upd;
ROLLBACK;
\echo '== 0020 (the HOT update and the trigger''s update of customer_sort_keys)'
BEGIN;
:upd;
ROLLBACK;
\echo '== 0020 again (a second run of the same, for the spread)'
BEGIN;
:upd;
ROLLBACK;
\echo '== 0020 with the sort keys set in the same statement instead of by the row trigger (not done: a comparison)'
BEGIN;
DROP TRIGGER customers_sort_keys_update ON customers;
WITH u AS (UPDATE customers SET transactions_count = transactions_count + a.n, revenue_minor = revenue_minor + a.revenue, last_purchase_at = now() FROM a WHERE customers.id = a.customer_id RETURNING customers.id, revenue_minor + subscription_revenue_minor AS rk, last_purchase_at)
UPDATE customer_sort_keys k SET revenue_key = u.rk, last_purchase_at = u.last_purchase_at FROM u WHERE k.customer_id = u.id;
ROLLBACK;

\set ins 'INSERT INTO customers (external_id) SELECT ''bench-'' || g FROM generate_series(1, 100000) g'
\set tot 'UPDATE customers SET revenue_minor = revenue_minor + 100, last_purchase_at = now() WHERE external_id LIKE ''bench-%'''
\echo '== a bulk load of 100,000 customers, then their totals: with 0020''s triggers'
BEGIN;
:ins;
:tot;
ROLLBACK;
\echo '== the same with the triggers disabled'
BEGIN;
ALTER TABLE customers DISABLE TRIGGER customers_sort_keys_insert;
ALTER TABLE customers DISABLE TRIGGER customers_sort_keys_update;
:ins;
:tot;
ROLLBACK;
