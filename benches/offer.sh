#!/usr/bin/env bash
# Offer uplift benchmark (issue 14): an offer to a whole segment over about 1,000,000
# orders. Reuses benches/gen_value.py's customers and orders (100,000
# customers, 1,000,000 orders; made afresh for the current UTC day, shared with
# benches/value.sh in bench-data/value), imports them into a fresh SQLite store (and
# PostgreSQL database), imports one offer (channel manual, audience the segment
# SEGMENT: `kanta`, the 90,000 people, or `yritys`, the 10,000 companies; 20 % control,
# valid the 30 days before yesterday, code BENCH), sends it (`kanta offer send`), then
# times:
#   kanta report offer bench-offer --json        (the whole process, REPEATS times)
#   GET /api/v1/offers/bench-offer/report        (curl, viewer API token: first, then REPEATS;
#                                                 after the server's start-up jobs ended)
#
#   bash benches/offer.sh [REPEATS] [CUSTOMERS] [SEGMENT]   (defaults 10, 100000, kanta)
#   KANTA_BIN=PATH bash benches/offer.sh                     (default target/release/kanta; never builds)
#   BACKENDS=sqlite bash benches/offer.sh                    (one backend: sqlite or postgres)
#
# Target: the report < 200 ms.
set -euo pipefail
cd "$(dirname "$0")/.."
repeats=${1:-10}
customers=${2:-100000}
segment=${3:-kanta}
kanta=${KANTA_BIN:-target/release/kanta}
"$kanta" offer --help >/dev/null 2>&1 || { echo "$kanta has no 'kanta offer' (build it first)" >&2; exit 2; }
work=bench-data/offer
data=bench-data/value
mkdir -p "$work" "$data"
pg_admin=${KANTA_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
pg_base=${pg_admin%/*}
db=kanta_bench_offer
backends=${BACKENDS:-sqlite postgres}
today=$(date -u +%F)
csv=$data/csv-$today-$customers
if [ ! -f "$csv/transactions.csv" ]; then
  python3 benches/gen_value.py "$csv" "$today" "$customers"
fi
# The offer: every customer of the segment.
from=$(date -u -d "$today - 31 days" +%F)
until=$(date -u -d "$today - 2 days" +%F)
{
  echo "id,name,text_fi,text_en,channel,audience,audience_value,valid_from,valid_until,code,cost_per_redemption,control_percent,seed"
  echo "bench-offer,Bench offer,Etu,Offer,manual,segment,$segment,$from,$until,BENCH,1.00,20,42"
} > "$work/offers.csv"
port=$(python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])")
server=
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null
  case " $backends " in *" postgres "*) psql "$pg_admin" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 ;; esac
  true
}
trap cleanup EXIT
results=$work/results.tsv
: > "$results"
record() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >> "$results"; }
stats() { python3 - "$@" <<'PY'
import math, statistics, sys
first = float(sys.argv[1]) * 1000
v = sorted(float(x) * 1000 for x in sys.argv[2:])
p95 = v[max(0, math.ceil(0.95 * len(v)) - 1)]
print(f"{first:.1f} {statistics.median(v):.1f} {p95:.1f}")
PY
}
# sql BACKEND QUERY: one query on the store, rows as text.
sql() {
  if [ "$1" = sqlite ]; then sqlite3 "$work/sqlite/kanta.db" "$2"
  else psql "$pg_base/$db" -Atc "$2"; fi
}
bench() {
  local backend=$1; shift
  local store=("$@")
  echo "== $backend"
  for entity in customers transactions; do
    /usr/bin/time -f "%e" -o "$work/time" "$kanta" import "${store[@]}" "$entity" "$csv/$entity.csv" >/dev/null
    printf '  import %-14s %8.2f s\n' "$entity" "$(cat "$work/time")"
  done
  if [ "$backend" = postgres ]; then psql "$pg_base/$db" -qc "ANALYZE" >/dev/null; fi
  "$kanta" import "${store[@]}" offers "$work/offers.csv" >/dev/null
  "$kanta" offer send "${store[@]}" bench-offer --json > "$work/sent.json"
  python3 -c "import json,sys; s=json.load(open(sys.argv[1])); print(f\"  sent: offer arm {s['offer_arm']}, control {s['control_arm']}\")" "$work/sent.json"
  local list=() first="" t
  for i in $(seq 0 "$repeats"); do
    t=$( { /usr/bin/time -f "%e" "$kanta" report offer "${store[@]}" bench-offer --json > "$work/report.json"; } 2>&1 | tail -1)
    if [ "$i" = 0 ]; then first=$t; else list+=("$t"); fi
  done
  local f med p95
  read -r f med p95 <<< "$(stats "$first" "${list[@]}")"
  printf '  %-44s first %7.1f ms  then median %7.1f ms  p95 %7.1f ms\n' "kanta report offer --json (process)" "$f" "$med" "$p95"
  record "kanta report offer --json (process)" "$backend" "$f/$med/$p95"
  local token
  token=$("$kanta" token create "${store[@]}" "offer bench" --role viewer 2>/dev/null)
  KANTA_LOG=warn "$kanta" serve "${store[@]}" --bind "127.0.0.1:$port" 2>"$work/serve-$backend.log" &
  server=$!
  for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
  # The server's start-up jobs (the daily health pass, the profitability pass, a
  # score run on a store without one) take both cores for a minute: the report is
  # timed after them, on an idle server.
  local waited=0 busy
  while :; do
    busy=$(sql "$backend" "SELECT count(*) FROM jobs WHERE status = 'running' OR (status = 'queued' AND run_at_ms <= $(date +%s%3N))")
    [ "$busy" = 0 ] && break
    [ "$waited" -ge 900 ] && { echo "  start-up jobs still running after 900 s" >&2; break; }
    sleep 1; waited=$((waited + 1))
  done
  echo "  (waited $waited s for the server's start-up jobs)"
  local url=/api/v1/offers/bench-offer/report code
  read -r code first < <(curl -s -o "$work/page.out" -w '%{http_code} %{time_total}\n' -H "Authorization: Bearer $token" "http://127.0.0.1:$port$url")
  if [ "$code" != 200 ]; then
    echo "  FAILED: GET $url -> $code" >&2; head -c 300 "$work/page.out" >&2; echo >&2
    record "GET $url" "$backend" failed
  else
    list=()
    for _ in $(seq 1 "$repeats"); do
      list+=("$(curl -s -o /dev/null -w '%{time_total}' -H "Authorization: Bearer $token" "http://127.0.0.1:$port$url")")
    done
    read -r f med p95 <<< "$(stats "$first" "${list[@]}")"
    printf '  %-44s first %7.1f ms  then median %7.1f ms  p95 %7.1f ms\n' "GET $url" "$f" "$med" "$p95"
    record "GET $url" "$backend" "$f/$med/$p95"
  fi
  kill "$server" 2>/dev/null; wait "$server" 2>/dev/null || true
  server=
}

echo "Offer uplift benchmark: segment $segment, $customers customers on $(nproc) cores, $(date -u +%FT%TZ), $kanta"
for backend in $backends; do
  case $backend in
    sqlite) rm -rf "$work/sqlite"; bench sqlite --data "$work/sqlite" ;;
    postgres)
      PGOPTIONS="-c client_min_messages=warning" psql "$pg_admin" -q -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null
      bench postgres --database-url "$pg_base/$db" ;;
  esac
done
echo
echo "task	backend	first/median/p95 ms"
cat "$results"
