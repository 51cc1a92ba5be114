#!/usr/bin/env bash
# Customer list benchmark: 100,000 customers and 1,000,000 transactions imported with
# `kanta import` into SQLite and PostgreSQL, then every sort's first, middle and last
# page, and filtered pages (segment, tier, kind, status, search), asked over loopback with curl;
# curl's time_total is the server time plus a loopback round trip.
#
#   bash benches/customers_page.sh [REPEATS]      (default 5 requests per page)
#   PROFILE=dev bash benches/customers_page.sh    (the dev build instead of release)
#
# Prints median and max per sort and over all requests, and a MISSED line per backend
# when any request took 100 ms or more.
set -euo pipefail
cd "$(dirname "$0")/.."
repeats=${1:-5}
work=bench-data/customers-page
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

tx="$work/transactions.csv"
customers="$work/customers.csv"
[ -f "$tx" ] || python3 benches/gen_transactions.py 1000000 "$tx"
[ -f "$customers" ] || python3 benches/gen_customers.py "$customers"
[ -f "$work/trust.csv" ] || python3 benches/gen_accounts.py "$work"

port=$(python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])")
server=
trap '[ -n "$server" ] && kill $server 2>/dev/null || true' EXIT

pages=()
for sort in name id newest revenue last-purchase; do
  for offset in 0 50000 99950; do pages+=("sort=$sort&offset=$offset"); done
done
# Issue 10: sorts by value, risk and relationship (scores of a run, trust, cases,
# subscriptions), and the one-click trust deficit.
for sort in clv p-alive renewal-probability trust open-cases mrr; do
  for offset in 0 50000; do pages+=("sort=$sort&offset=$offset"); done
done
pages+=("trust=deficit&sort=trust" "cases=open&sort=clv")
pages+=("segment=yritys&sort=revenue" "tier=A&sort=last-purchase" "kind=company&sort=revenue&offset=5000"
        "status=ended&sort=name" "search=virtanen&sort=revenue" "search=c012345" "tier=B&status=active&sort=last-purchase&offset=8000")

# bench NAME URL-ARGS...: imports into a fresh store, serves it, times every page.
bench() {
  local name=$1; shift
  local t0 t1
  t0=$(date +%s.%N)
  "$kanta" "$@" import customers "$customers" >/dev/null
  "$kanta" "$@" import transactions "$tx" >/dev/null
  "$kanta" "$@" import trust "$work/trust.csv" >/dev/null
  "$kanta" "$@" import cases "$work/cases.csv" >/dev/null
  "$kanta" "$@" import subscriptions "$work/subscriptions.csv" >/dev/null
  # Scores (CLV, P(alive), renewal) as of the data's end: the transactions run to 2023.
  "$kanta" "$@" score --as-of 2023-12-31 >/dev/null
  t1=$(date +%s.%N)
  echo "$name: imported 100,000 customers, 1,000,000 transactions, 300,000 trust entries, 30,000 cases and 20,000 subscriptions, and scored them, in $(python3 -c "print(f'{$t1-$t0:.1f}')") s"
  echo "bench-password-123" | "$kanta" "$@" user add bench@kanta.test --role viewer --password-stdin >/dev/null
  "$kanta" "$@" serve --bind "127.0.0.1:$port" 2>/dev/null &
  server=$!
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
  # Sign in as a person does: the form's CSRF token, then the session cookie.
  local jar="$work/$name.cookies"
  rm -f "$jar"
  local csrf
  csrf=$(curl -sf -c "$jar" "http://127.0.0.1:$port/login" | grep -o 'name="csrf" value="[^"]*"' | head -1 | sed 's/.*value="//; s/"$//')
  curl -sf -b "$jar" -c "$jar" -o /dev/null --data-urlencode "csrf=$csrf" --data-urlencode "email=bench@kanta.test" \
    --data-urlencode "password=bench-password-123" "http://127.0.0.1:$port/login"
  grep -q kanta_session "$jar" || { echo "sign-in failed" >&2; exit 1; }
  local out="$work/$name.times"
  : > "$out"
  for p in "${pages[@]}"; do
    curl -sf -b "$jar" -o /dev/null "http://127.0.0.1:$port/customers?$p"   # warm
    for _ in $(seq 1 "$repeats"); do
      t=$(curl -sf -b "$jar" -o /dev/null -w '%{time_total}' "http://127.0.0.1:$port/customers?$p")
      echo "$p $t" >> "$out"
    done
  done
  kill $server; wait $server 2>/dev/null || true; server=
  python3 - "$name" "$out" <<'PY'
import statistics, sys, collections
name, path = sys.argv[1], sys.argv[2]
by = collections.defaultdict(list)
allt = []
for line in open(path):
    p, t = line.split()
    t = float(t) * 1000
    sort = next((kv.split("=")[1] for kv in p.split("&") if kv.startswith("sort=")), "name")
    key = sort if all(kv.split("=")[0] in ("sort", "offset") for kv in p.split("&")) else "filtered"
    by[key].append(t); allt.append(t)
    by[p].append(t)
for k in ["name", "id", "newest", "revenue", "last-purchase", "clv", "p-alive", "renewal-probability", "trust", "open-cases", "mrr", "filtered"]:
    v = by[k]
    print(f"  {k:14} median {statistics.median(v):6.1f} ms  max {max(v):6.1f} ms  ({len(v)} requests)")
worst = max((max(v), p) for p, v in by.items() if "=" in p)
print(f"  {'all':14} median {statistics.median(allt):6.1f} ms  max {max(allt):6.1f} ms  (slowest: {worst[1]})")
if max(allt) >= 100:
    print(f"  MISSED: {sum(t >= 100 for t in allt)} of {len(allt)} requests took 100 ms or more")
PY
}

echo "GET /customers?... over loopback, $repeats requests per page after one warm-up, $(nproc) cores"
rm -rf "$work/sqlite"
bench sqlite --data "$work/sqlite"
db="kanta_bench_customers_$$"
psql "$pg_admin" -qc "CREATE DATABASE $db" >/dev/null
trap '[ -n "$server" ] && kill $server 2>/dev/null; psql "$pg_admin" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null || true' EXIT
bench postgres --database-url "$pg_base/$db"
