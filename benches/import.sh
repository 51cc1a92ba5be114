#!/usr/bin/env bash
# Import benchmark: `kanta import transactions` of a generated CSV into SQLite and
# PostgreSQL, beside what users would otherwise do on the same file in the same run:
# pandas read_csv + to_sql into SQLite, and psql \copy into a bare PostgreSQL table
# (no validation, no idempotency: the floor of what a database load costs).
#
#   bash benches/import.sh [ROWS]        (default 1000000)
#
# Prints rows/s for each and the ratios; exits non-zero if Kanta misses its targets
# (200,000 rows/s into SQLite, 100,000 rows/s into PostgreSQL).
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-1000000}
work=bench-data
mkdir -p "$work"
csv="$work/transactions-$rows.csv"
pg_admin=${KANTA_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
pg_base=${pg_admin%/*}

if [ -z "${KANTA_BIN:-}" ]; then cargo build --release -p kanta >&2; fi
kanta=${KANTA_BIN:-target/release/kanta}
[ -f "$csv" ] || python3 benches/gen_transactions.py "$rows" "$csv"

now() { date +%s.%N; }
rate() { python3 -c "print(f'{$1/($3-$2):,.0f}')"; }
secs() { python3 -c "print(f'{$2-$1:.2f}')"; }

echo "Import of $rows transaction rows ($(du -h "$csv" | cut -f1) CSV) on $(nproc) cores"

median() { python3 -c "import statistics,sys; print(statistics.median(float(x) for x in sys.argv[1:]))" "$@"; }
runs=${RUNS:-3}

# Kanta into SQLite: a fresh store each run (the median of $runs is reported), then
# the same file again into the last one (all rows unchanged).
times=()
for _ in $(seq 1 "$runs"); do
  rm -rf "$work/sqlite"
  t0=$(now); "$kanta" import transactions "$csv" --data "$work/sqlite" >/dev/null; t1=$(now)
  times+=("$(python3 -c "print($t1-$t0)")")
done
t_sqlite=$(median "${times[@]}")
t1=$(now); "$kanta" import transactions "$csv" --data "$work/sqlite" >/dev/null; t2=$(now)
k_sqlite=$(rate "$rows" 0 "$t_sqlite")
echo "kanta  -> SQLite      $(secs 0 "$t_sqlite") s  $k_sqlite rows/s  (median of $runs: ${times[*]/%/ s}; again, all unchanged: $(secs "$t1" "$t2") s)"

# Kanta into PostgreSQL: a fresh database each run.
db=kanta_bench_$$
trap 'psql "$pg_admin" -q -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true' EXIT
times=()
for _ in $(seq 1 "$runs"); do
  PGOPTIONS="-c client_min_messages=warning" psql "$pg_admin" -q -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null
  t0=$(now); "$kanta" import transactions "$csv" --database-url "$pg_base/$db" >/dev/null; t1=$(now)
  times+=("$(python3 -c "print($t1-$t0)")")
done
t_pg=$(median "${times[@]}")
k_pg=$(rate "$rows" 0 "$t_pg")
echo "kanta  -> PostgreSQL  $(secs 0 "$t_pg") s  $k_pg rows/s  (median of $runs: ${times[*]/%/ s})"

# psql \copy into a bare table: no checks, no customers, no indexes but the key.
psql "$pg_base/$db" -q -c "CREATE TABLE bare (id text PRIMARY KEY, customer_id text, occurred_at timestamptz, amount numeric, currency text, channel text)"
t0=$(now); psql "$pg_base/$db" -q -c "\\copy bare FROM '$csv' CSV HEADER"; t1=$(now)
echo "psql \\copy -> bare PostgreSQL table  $(secs "$t0" "$t1") s  $(rate "$rows" "$t0" "$t1") rows/s"

# pandas read_csv + to_sql into SQLite, in a virtualenv of its own.
venv=.venv-bench
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "pandas<3" >&2
fi
rm -f "$work/pandas.db"
"$venv/bin/python" - "$csv" "$work/pandas.db" "$rows" <<'PY'
import sqlite3, sys, time
import pandas as pd
csv, db, rows = sys.argv[1], sys.argv[2], int(sys.argv[3])
t0 = time.time()
df = pd.read_csv(csv, parse_dates=["occurred_at"])
con = sqlite3.connect(db)
df.to_sql("transactions", con, index=False, chunksize=50_000)
con.commit()
t1 = time.time()
print(f"pandas read_csv + to_sql -> SQLite  {t1 - t0:.2f} s  {rows / (t1 - t0):,.0f} rows/s (no validation, no ids, no indexes)")
PY

python3 - "$k_sqlite" "$k_pg" <<'PY'
import sys
s, p = (float(x.replace(",", "")) for x in sys.argv[1:3])
ok = s >= 200_000 and p >= 100_000
print(f"targets: SQLite {s:,.0f} / 200,000 rows/s {'met' if s >= 200_000 else 'MISSED'}; "
      f"PostgreSQL {p:,.0f} / 100,000 rows/s {'met' if p >= 100_000 else 'MISSED'}")
sys.exit(0 if ok else 1)
PY
