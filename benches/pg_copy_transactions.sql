-- What writing one event batch's 7,000 transactions costs PostgreSQL by itself: COPY
-- into `transactions` with its indexes, with triggers off (`session_replication_role =
-- replica`), and without issue 14's covering `occurred_at` index (BENCHMARKS.md,
-- "Issue 15: new rows straight into their table"). On a demo store:
--
--   kanta demo --no-serve --database-url postgres://postgres@127.0.0.1:5432/kanta_exp
--   psql postgres://postgres@127.0.0.1:5432/kanta_exp -f benches/pg_copy_transactions.sql
--
-- Each case runs twice, in a transaction rolled back at the end.
\timing off
\! python3 -c "import random; r = random.Random(3); print('\n'.join(f'copy-bench-{i}\t{r.randrange(1, 5000)}\t2026-0{r.randrange(1, 10)}-{r.randrange(10, 28)} 10:00:00+00\t{r.randrange(150, 2500)}\tEUR\torder' for i in range(7000)))" > /tmp/kanta-copy-bench.tsv
\timing on
\echo '== COPY 7,000 transactions (twice)'
BEGIN;
\copy transactions (external_id, customer_id, occurred_at, amount_minor, currency, kind) from '/tmp/kanta-copy-bench.tsv'
ROLLBACK;
BEGIN;
\copy transactions (external_id, customer_id, occurred_at, amount_minor, currency, kind) from '/tmp/kanta-copy-bench.tsv'
ROLLBACK;
\echo '== the same with triggers off (twice)'
BEGIN;
SET LOCAL session_replication_role = replica;
\copy transactions (external_id, customer_id, occurred_at, amount_minor, currency, kind) from '/tmp/kanta-copy-bench.tsv'
ROLLBACK;
BEGIN;
SET LOCAL session_replication_role = replica;
\copy transactions (external_id, customer_id, occurred_at, amount_minor, currency, kind) from '/tmp/kanta-copy-bench.tsv'
ROLLBACK;
\echo '== the same without the covering occurred_at index (twice)'
BEGIN;
DROP INDEX transactions_occurred_at_idx;
\copy transactions (external_id, customer_id, occurred_at, amount_minor, currency, kind) from '/tmp/kanta-copy-bench.tsv'
ROLLBACK;
BEGIN;
DROP INDEX transactions_occurred_at_idx;
\copy transactions (external_id, customer_id, occurred_at, amount_minor, currency, kind) from '/tmp/kanta-copy-bench.tsv'
ROLLBACK;
\! rm -f /tmp/kanta-copy-bench.tsv
