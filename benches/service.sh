#!/usr/bin/env bash
# Service recovery benchmark: 100,000 customers, 1,000,000 transactions, 300,000 cases
# and about 59,000 claims (benches/gen_service.py) imported with `kanta import` into
# SQLite and PostgreSQL; then, over loopback with curl as a signed-in manager: the
# cases list with every filter (first page and the page after it), the approval
# queue, the repeat claimants, the case page, the cases API, and the service page
# (its first view after the server starts, then warm); and the SLA job
# (`kanta cases sla-check`, as the job runs it) twice: the first run sees the imported
# backlog, the second only what became due since.
#
#   bash benches/service.sh [REPEATS]      (default 5 requests per page)
#   PROFILE=dev bash benches/service.sh    (the dev build instead of release)
#
# curl's time_total is the server time plus a loopback round trip. Prints median and
# max per page, and a MISSED line when a target is missed (lists 100 ms, service page
# 1 s, SLA job 2 s).
set -euo pipefail
cd "$(dirname "$0")/.."
repeats=${1:-5}
work=bench-data/service
mkdir -p "$work"
pg_admin=${KANTA_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
pg_base=${pg_admin%/*}
if [ "${PROFILE:-release}" = dev ]; then
  cargo build -p kanta >&2
  kanta=${CARGO_TARGET_DIR:-target}/debug/kanta
else
  cargo build --release -p kanta >&2
  kanta=${CARGO_TARGET_DIR:-target}/release/kanta
fi

tx=bench-data/customers-page/transactions.csv
customers=bench-data/customers-page/customers.csv
mkdir -p bench-data/customers-page
[ -f "$tx" ] || python3 benches/gen_transactions.py 1000000 "$tx"
[ -f "$customers" ] || python3 benches/gen_customers.py "$customers"
# Open cases are dated relative to now: made afresh each run.
python3 benches/gen_service.py "$work"

port=$(python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])")
server=
trap '[ -n "$server" ] && kill $server 2>/dev/null || true' EXIT

lists=("status=open" "status=all" "sla=breaching" "sla=due_soon" "owner=st07" "category=billing&status=all"
       "severity=critical" "status=waiting" "customer=c012345&status=all" "sla=breaching&owner=st03")

ms() { python3 -c "import sys; print(f'{float(sys.argv[1])*1000:.1f}')" "$1"; }

# bench NAME STORE-FLAGS...: imports into a fresh store, serves it, times every page.
bench() {
  local name=$1; shift
  local t0 t1
  t0=$(date +%s.%N)
  "$kanta" "$@" import customers "$customers" >/dev/null
  "$kanta" "$@" import transactions "$tx" >/dev/null
  "$kanta" "$@" import staff "$work/staff.csv" >/dev/null
  "$kanta" "$@" import cases "$work/cases.csv" >/dev/null
  "$kanta" "$@" import claims "$work/claims.csv" >/dev/null
  t1=$(date +%s.%N)
  echo "$name: imported 100,000 customers, 1,000,000 transactions, 300,000 cases and $(($(wc -l < "$work/claims.csv") - 1)) claims in $(python3 -c "print(f'{$t1-$t0:.1f}')") s"
  for run in first second; do
    t0=$(date +%s.%N)
    "$kanta" "$@" cases sla-check >/dev/null
    t1=$(date +%s.%N)
    echo "  SLA job ($run run): $(python3 -c "print(f'{$t1-$t0:.2f}')") s (the whole command: process start, store open, check)"
  done
  echo "bench-password-123" | "$kanta" "$@" user add bench@kanta.test --role manager --password-stdin >/dev/null
  "$kanta" "$@" serve --bind "127.0.0.1:$port" 2>/dev/null &
  server=$!
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
  local jar="$work/$name.cookies"
  rm -f "$jar"
  local csrf
  csrf=$(curl -sf -c "$jar" "http://127.0.0.1:$port/login" | grep -o 'name="csrf" value="[^"]*"' | head -1 | sed 's/.*value="//; s/"$//')
  curl -sf -b "$jar" -c "$jar" -o /dev/null --data-urlencode "csrf=$csrf" --data-urlencode "email=bench@kanta.test" \
    --data-urlencode "password=bench-password-123" "http://127.0.0.1:$port/login"
  grep -q kanta_session "$jar" || { echo "sign-in failed" >&2; exit 1; }
  local first
  first=$(curl -sf -b "$jar" -o /dev/null -w '%{time_total}' "http://127.0.0.1:$port/service")
  echo "  /service first view after start: $(ms "$first") ms"
  local out="$work/$name.times"
  : > "$out"
  local urls=()
  for q in "${lists[@]}"; do
    urls+=("/cases?$q")
    # The page after the first: the list's own "next" link.
    local next
    next=$(curl -sf -b "$jar" "http://127.0.0.1:$port/cases?$q" | grep -o 'href="/cases?[^"]*after=[^"]*"' | head -1 | sed 's/^href="//; s/"$//; s/&amp;/\&/g; s/&#38;/\&/g' || true)
    [ -n "$next" ] && urls+=("$next")
  done
  urls+=("/claims" "/claims/repeat" "/cases/k284000" "/cases/k299999" "/api/v1/cases?sla=breaching" "/api/v1/cases?status=open" "/service")
  for u in "${urls[@]}"; do
    curl -sf -b "$jar" -o /dev/null "http://127.0.0.1:$port$u" || { echo "  FAILED: GET $u" >&2; continue; }
    for _ in $(seq 1 "$repeats"); do
      t=$(curl -sf -b "$jar" -o /dev/null -w '%{time_total}' "http://127.0.0.1:$port$u")
      echo "$u $t" >> "$out"
    done
  done
  kill $server; wait $server 2>/dev/null || true; server=
  python3 - "$out" "$first" <<'PY'
import statistics, sys, collections
path, first = sys.argv[1], float(sys.argv[2]) * 1000
by = collections.defaultdict(list)
for line in open(path):
    u, t = line.split()
    by[u].append(float(t) * 1000)
missed = []
for u, v in by.items():
    limit = 1000 if u == "/service" else 100
    print(f"  {u:60} median {statistics.median(v):7.1f} ms  max {max(v):7.1f} ms")
    if max(v) >= limit:
        missed.append(u)
if first >= 1000:
    missed.append("/service (first view)")
if missed:
    print("  MISSED: " + ", ".join(missed))
PY
}

echo "service recovery over loopback, $repeats requests per page after one warm-up, $(nproc) cores"
rm -rf "$work/sqlite"
bench sqlite --data "$work/sqlite"
db="kanta_bench_service_$$"
psql "$pg_admin" -qc "CREATE DATABASE $db" >/dev/null
trap '[ -n "$server" ] && kill $server 2>/dev/null; psql "$pg_admin" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null || true' EXIT
bench postgres --database-url "$pg_base/$db"
