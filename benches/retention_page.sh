#!/usr/bin/env bash
# Retention dashboard benchmark: customers_page.sh's data (100,000 customers,
# 1,000,000 transactions over 2021-2023) imported into SQLite and PostgreSQL, then
# GET /retention asked over loopback with curl, for three days: the end of the data,
# the middle of it (most customers' newest order lies after it) and today.
#
#   bash benches/retention_page.sh [REPEATS]      (default 10 requests per day)
#
# Prints per backend and day the first view's time (the figures computed), then the
# median, min and max of curl's time_total over the views after it (the figures
# reused; server time plus a loopback round trip), and the CPU time the kanta process
# spent per view.
set -euo pipefail
cd "$(dirname "$0")/.."
repeats=${1:-10}
data=bench-data/customers-page
work=bench-data/retention-page
mkdir -p "$data" "$work"
pg_admin=${KANTA_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
pg_base=${pg_admin%/*}
cargo build --release -p kanta >&2
kanta=${CARGO_TARGET_DIR:-target}/release/kanta

# The same files as customers_page.sh (same generators, same seeds).
tx="$data/transactions.csv"
customers="$data/customers.csv"
[ -f "$tx" ] || python3 benches/gen_transactions.py 1000000 "$tx"
[ -f "$customers" ] || python3 benches/gen_customers.py "$customers"

port=$(python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])")
server=
trap '[ -n "$server" ] && kill $server 2>/dev/null || true' EXIT

# bench NAME URL-ARGS...: imports into a fresh store, serves it, times the dashboard.
bench() {
  local name=$1; shift
  "$kanta" "$@" import customers "$customers" >/dev/null
  "$kanta" "$@" import transactions "$tx" >/dev/null
  echo "bench-password-123" | "$kanta" "$@" user add bench@kanta.test --role viewer --password-stdin >/dev/null
  # no background scoring while the page is timed
  "$kanta" "$@" serve --bind "127.0.0.1:$port" --score-every-hours 0 2>/dev/null &
  server=$!
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
  local jar="$work/$name.cookies"
  rm -f "$jar"
  local csrf
  csrf=$(curl -sf -c "$jar" "http://127.0.0.1:$port/login" | grep -o 'name="csrf" value="[^"]*"' | head -1 | sed 's/.*value="//; s/"$//')
  curl -sf -b "$jar" -c "$jar" -o /dev/null --data-urlencode "csrf=$csrf" --data-urlencode "email=bench@kanta.test" \
    --data-urlencode "password=bench-password-123" "http://127.0.0.1:$port/login"
  grep -q kanta_session "$jar" || { echo "sign-in failed" >&2; exit 1; }
  local q ts cpu0 cpu1
  for q in "as_of=2023-12-31" "as_of=2022-06-30" ""; do
    # the first view computes the figures; the views after it reuse them (the page
    # caches them until data are written through the server, at most 60 s)
    first=$(curl -sf -b "$jar" -o "$work/$name.html" -w '%{time_total}' "http://127.0.0.1:$port/retention?$q")
    ts=()
    cpu0=$(awk '{print $14+$15}' "/proc/$server/stat")
    for _ in $(seq 1 "$repeats"); do
      ts+=("$(curl -sf -b "$jar" -o /dev/null -w '%{time_total}' "http://127.0.0.1:$port/retention?$q")")
    done
    cpu1=$(awk '{print $14+$15}' "/proc/$server/stat")
    python3 - "$name" "${q:-today}" "$(wc -c < "$work/$name.html")" "$((cpu1 - cpu0))" "$(getconf CLK_TCK)" "$first" "${ts[@]}" <<'PY'
import statistics, sys
name, q, size, cpu, tck, first, *t = sys.argv[1:]
t = [float(x) * 1000 for x in t]
cpu_ms = int(cpu) * 1000 / int(tck) / len(t)
print(f"  {name:8} /retention?{q:17} first {float(first) * 1000:6.1f} ms, then median {statistics.median(t):6.1f} ms  min {min(t):6.1f}  max {max(t):6.1f}"
      f"  kanta CPU {cpu_ms:4.0f} ms/view  ({len(t)} requests, page {int(size) // 1024} KiB)")
PY
  done
  kill $server; wait $server 2>/dev/null || true; server=
}

echo "GET /retention over loopback, $repeats requests per day after one warm-up, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
rm -rf "$work/sqlite"
bench sqlite --data "$work/sqlite"
db="kanta_bench_retention_$$"
psql "$pg_admin" -qc "CREATE DATABASE $db" >/dev/null
trap '[ -n "$server" ] && kill $server 2>/dev/null; psql "$pg_admin" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null || true' EXIT
bench postgres --database-url "$pg_base/$db"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
