-- Where `kanta score`'s store step goes on PostgreSQL (BENCHMARKS.md, "Issue 15:
-- scale", third session). On a database the scale bench kept after a scoring run
-- (`KEEP=1 BACKENDS=postgres bash benches/scale.sh`):
--
--   psql postgres://postgres@127.0.0.1:5432/kanta_bench_scale -f benches/pg_score_store.sql
--
-- Twice, in a transaction rolled back at the end: a new run's scores inserted (a copy
-- of the newest run's, each tier moved one step so every customer's tier changes), then
-- every customer's tier set from them as `save_model_run` does. The first time with a
-- foreign key from the scores to `customers` (the one migration 0019 drops), the second
-- without.
\timing on
-- One scoring run's store step, run in both transactions below.
\set store_run 'CREATE TEMP TABLE run_copy AS SELECT * FROM customer_scores WHERE run_id = (SELECT max(run_id) FROM customer_scores); INSERT INTO model_runs (created_ms, model, spend_model, as_of, calibration_end, first_purchase_on, customers, currency, details, forecast) SELECT created_ms, model, spend_model, as_of, calibration_end, first_purchase_on, customers, currency, details, forecast FROM model_runs ORDER BY id DESC LIMIT 1; INSERT INTO customer_scores SELECT (SELECT max(id) FROM model_runs), customer_id, repeat_purchases, p_alive, expected_purchases_30, expected_purchases_90, expected_purchases_365, expected_spend_minor, clv_12_minor, clv_36_minor, CASE tier WHEN ''A'' THEN ''B'' WHEN ''B'' THEN ''C'' WHEN ''C'' THEN ''D'' ELSE ''A'' END, purchase_clv_12_minor, purchase_clv_36_minor, renewal_probability, expected_remaining_periods, subscription_clv_12_minor, subscription_clv_36_minor FROM run_copy; UPDATE customers SET tier = s.tier FROM customer_scores s WHERE s.run_id = (SELECT max(id) FROM model_runs) AND customers.id = s.customer_id AND (customers.tier IS NULL OR customers.tier <> s.tier)'
\echo '== with a foreign key from the scores to customers'
BEGIN;
ALTER TABLE customer_scores ADD CONSTRAINT bench_scores_customer_fkey
    FOREIGN KEY (customer_id) REFERENCES customers (id) ON DELETE CASCADE;
:store_run;
ROLLBACK;
\echo '== without it (migration 0019)'
BEGIN;
:store_run;
ROLLBACK;
