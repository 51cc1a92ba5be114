-- Why PostgreSQL's migration 0019 puts `customers` at fillfactor 50 without a tier
-- index (BENCHMARKS.md, "Issue 15: scale", third session). On a database the scale
-- bench kept (`KEEP=1 BACKENDS=postgres bash benches/scale.sh`):
--
--   psql postgres://postgres@127.0.0.1:5432/kanta_bench_scale -f benches/pg_tier_update.sql
--
-- Two copies of `customers` with all of its indexes: `cy` as imported (full pages,
-- the tier indexed), `cx` at fillfactor 50 without the tier's index. Each has every
-- row's tier set in one statement, as a first scoring run does; the last query shows
-- how many of those updates were HOT. Both copies are dropped at the end.
\timing on
DROP TABLE IF EXISTS cy;
DROP TABLE IF EXISTS cx;
CREATE TABLE cy (LIKE customers INCLUDING ALL);
CREATE INDEX ON cy (tier);
INSERT INTO cy SELECT * FROM customers;
VACUUM ANALYZE cy;
UPDATE cy SET tier = 'A';
CREATE TABLE cx (LIKE customers INCLUDING ALL) WITH (fillfactor = 50);
INSERT INTO cx SELECT * FROM customers;
VACUUM ANALYZE cx;
UPDATE cx SET tier = 'A';
SELECT pg_sleep(1);
SELECT relname, n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname IN ('cx', 'cy');
DROP TABLE cy;
DROP TABLE cx;
