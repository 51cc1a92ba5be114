#!/usr/bin/env bash
# Scale run (issue 15): a store of CUSTOMERS customers (default 1,000,000) with about
# ten orders each (9,900,000), three interactions each, a case per ten and a fifth of
# them subscribers: benches/gen_value.py's store at that size with its `bgnbd` orders
# (each customer's orders drawn from BG/NBD and Gamma-Gamma, times to the second, so
# customers drop out, differ in spend, and their summaries hardly collapse;
# deterministic, seed 14, made afresh for the current UTC day). On SQLite and on
# PostgreSQL, each step timed with its peak memory (`/usr/bin/time`, the kanta
# process alone):
#
#   kanta import customers|transactions|subscriptions|interactions|cases|claims
#   kanta score                   (the model choice, the fit, every customer's scores and
#                                  tiers, the +5 points figure; target < 60 s, < 2 GB)
#   kanta health refresh          (the contact-queue job: every customer's health, then
#                                  the whole queue)
#   GET /retention                (the retention dashboard, signed in as a viewer: the
#                                  first view after `kanta serve` started, then REPEATS more)
#
#   bash benches/scale.sh [CUSTOMERS] [REPEATS]     (defaults 1000000 and 5)
#   KANTA_BIN=PATH bash benches/scale.sh            (default target/release/kanta; never builds)
#   BACKENDS=sqlite bash benches/scale.sh           (one backend: sqlite or postgres)
#   SKIP_IMPORT=1 bash benches/scale.sh             (the stores of the last run, kept
#                                                    with KEEP=1; from `kanta score` on)
#   KEEP=1                                          (keep the PostgreSQL database)
#   PG_URL_QUERY='?options=-c%20plan_cache_mode%3Dauto'
#                                                   (appended to the PostgreSQL URL kanta
#                                                    is given: e.g. PostgreSQL's own choice
#                                                    of plans instead of the generic plans
#                                                    Kanta's connections ask for)
#   ORDERS=customer                                 (import the orders as generated,
#                                                    customer by customer; the default
#                                                    imports them sorted by time, as a
#                                                    shop's history arrives, so a
#                                                    customer's orders lie all over the
#                                                    store's pages)
#
# PostgreSQL is ANALYZEd after the import (as autovacuum would do within minutes). The
# store's size is printed after the import.
set -euo pipefail
cd "$(dirname "$0")/.."
customers=${1:-1000000}
repeats=${2:-5}
kanta=${KANTA_BIN:-target/release/kanta}
[ -x "$kanta" ] || { echo "no $kanta: cargo build --release -p kanta first" >&2; exit 2; }
work=bench-data/scale
mkdir -p "$work"
pg_admin=${KANTA_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
pg_base=${pg_admin%/*}
db=kanta_bench_scale
backends=${BACKENDS:-sqlite postgres}
today=$(date -u +%F)
csv=$work/csv-$today-$customers
if [ ! -f "$csv/claims.csv" ]; then
  rm -rf "$work"/csv-*
  echo "generating $customers customers' data into $csv" >&2
  python3 benches/gen_value.py "$csv" "$today" "$customers" bgnbd
fi
orders_csv=$csv/transactions.csv
if [ "${ORDERS:-time}" = time ]; then
  orders_csv=$csv/transactions-by-time.csv
  if [ ! -f "$orders_csv" ]; then
    { head -1 "$csv/transactions.csv"; tail -n +2 "$csv/transactions.csv" | LC_ALL=C sort -t, -k3,3 -s; } > "$orders_csv.tmp"
    mv "$orders_csv.tmp" "$orders_csv"
  fi
fi
port=$(python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])")
server=
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null
  if [ "${KEEP:-0}" != 1 ]; then
    case " $backends " in *" postgres "*) psql "$pg_admin" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 ;; esac
  fi
  true
}
trap cleanup EXIT
results=$work/results.tsv
: > "$results"
record() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >> "$results"; }
timed() {
  local backend=$1 task=$2; shift 2
  /usr/bin/time -f "%e %M" -o "$work/time" "$@" > "$work/last.out" 2> "$work/last.err" || {
    echo "  FAILED: $task" >&2; tail -5 "$work/last.err" >&2; record "$task" "$backend" failed; return 0; }
  local secs kb
  read -r secs kb < "$work/time"
  printf '  %-36s %8.2f s  peak %6d MB\n' "$task" "$secs" $((kb / 1024))
  record "$task" "$backend" "$secs s, $((kb / 1024)) MB"
}
# times BACKEND TASK URL [CURL-ARGS...]: the first view, then REPEATS more.
times() {
  local backend=$1 task=$2 url=$3; shift 3
  local code first
  read -r code first < <(curl -s -o "$work/page.out" -w '%{http_code} %{time_total}\n' "$@" "http://127.0.0.1:$port$url")
  if [ "$code" != 200 ]; then
    echo "  FAILED: GET $url -> $code" >&2; record "$task" "$backend" failed; return 0
  fi
  local list=()
  for _ in $(seq 1 "$repeats"); do
    list+=("$(curl -s -o /dev/null -w '%{time_total}' "$@" "http://127.0.0.1:$port$url")")
  done
  local stats
  stats=$(python3 - "$first" "${list[@]}" <<'PY'
import statistics, sys
first = float(sys.argv[1]) * 1000
v = sorted(float(x) * 1000 for x in sys.argv[2:])
print(f"{first:.0f} {statistics.median(v):.0f} {v[-1]:.0f}")
PY
)
  local f med max
  read -r f med max <<< "$stats"
  printf '  %-36s first %7s ms, then median %6s ms, max %6s ms\n' "$task" "$f" "$med" "$max"
  record "$task" "$backend" "first $f ms, median $med ms"
}
size_of() {
  if [ "$1" = sqlite ]; then du -sh "$work/sqlite" | cut -f1
  else psql "$pg_base/$db" -Atc "SELECT pg_size_pretty(pg_database_size('$db'))"; fi
}

bench() {
  local backend=$1; shift
  local store=("$@")
  echo "== $backend"
  if [ -z "${SKIP_IMPORT:-}" ]; then
    for entity in customers transactions subscriptions interactions cases claims; do
      local file=$csv/$entity.csv
      [ "$entity" = transactions ] && file=$orders_csv
      timed "$backend" "import $entity ($(($(wc -l < "$file") - 1)) rows)" \
        "$kanta" import "${store[@]}" "$entity" "$file"
    done
    if [ "$backend" = postgres ]; then psql "$pg_base/$db" -qc "ANALYZE" >/dev/null; fi
    echo "  store size after the import: $(size_of "$backend")"
  fi
  timed "$backend" "kanta score" "$kanta" score "${store[@]}" --json
  python3 - "$work/last.out" <<'PY' || true
import json, sys
d = json.load(open(sys.argv[1]))
print(f"    | model {d['model']}, {d['customers']} customers; phases: " + ", ".join(f"{k} {v:.1f}" for k, v in d['phases']))
PY
  timed "$backend" "kanta health refresh (queue job)" "$kanta" health refresh "${store[@]}"
  echo "bench-password-123" | "$kanta" user add "${store[@]}" bench-viewer@kanta.test --role viewer --password-stdin >/dev/null 2>&1 || true
  KANTA_LOG=warn "$kanta" serve "${store[@]}" --bind "127.0.0.1:$port" 2>"$work/serve-$backend.log" &
  server=$!
  for _ in $(seq 1 600); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
  local jar="$work/$backend.cookies" csrf
  rm -f "$jar"
  csrf=$(curl -sf -c "$jar" "http://127.0.0.1:$port/login" | grep -o 'name="csrf" value="[^"]*"' | head -1 | sed 's/.*value="//; s/"$//')
  curl -sf -b "$jar" -c "$jar" -o /dev/null --data-urlencode "csrf=$csrf" --data-urlencode "email=bench-viewer@kanta.test" \
    --data-urlencode "password=bench-password-123" "http://127.0.0.1:$port/login"
  times "$backend" "/retention (first view, then again)" "/retention" -b "$jar"
  local rss
  rss=$(awk '/VmHWM/ {print int($2 / 1024)}' "/proc/$server/status")
  echo "  kanta serve peak memory so far: $rss MB"
  record "kanta serve peak memory" "$backend" "$rss MB"
  kill "$server" 2>/dev/null; wait "$server" 2>/dev/null || true
  server=
}

echo "Scale run: $customers customers on $(nproc) cores, $(date -u +%FT%TZ), $kanta"
for backend in $backends; do
  case $backend in
    sqlite)
      [ -n "${SKIP_IMPORT:-}" ] || rm -rf "$work/sqlite"
      bench sqlite --data "$work/sqlite" ;;
    postgres)
      if [ -z "${SKIP_IMPORT:-}" ]; then
        PGOPTIONS="-c client_min_messages=warning" psql "$pg_admin" -q -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null
      fi
      bench postgres --database-url "$pg_base/$db${PG_URL_QUERY:-}" ;;
  esac
done
echo
echo "task	backend	figure"
cat "$results"
