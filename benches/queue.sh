#!/usr/bin/env bash
# Contact queue and health score benchmark (issue 12): 100,000 customers, 1,000,000
# orders and 5,000,000 usage events, with 400,000 interactions, 150,000 NPS answers,
# 60,000 cases, 200,000 trust entries and 20,000 subscriptions (benches/gen_queue.py,
# made afresh for the current UTC day: the usage weeks and open cases are relative to
# it), imported with `kanta import` into a fresh SQLite store and a fresh PostgreSQL
# database. On each: `kanta score` (P(alive), CLV and tiers for the queue's value at
# risk), then the daily job as a command, `kanta health refresh` (scores every
# customer's health, then refreshes the whole queue) and, for comparison, `kanta queue
# refresh` alone when the command exists; then `kanta serve` on a loopback port and,
# with curl, REPEATS requests (after one warm-up) of:
#   /today                       signed in as staff00@kanta.test, owner of 806 customers
#                                (among them c000000) and a staff user: "my customers"
#   /today with the team filter  every owner's customers
#   GET /api/v1/queue            with a viewer API token, first page, and one owner's
#   /customers/c012340           an ordinary company with an owner, usage and orders
#   /customers/c000000           the heaviest account: 100,000 usage events
#
#   bash benches/queue.sh [REPEATS]          (default 20)
#   KANTA_BIN=PATH bash benches/queue.sh     (another build; no cargo build)
#   BACKENDS=sqlite bash benches/queue.sh    (one backend only: sqlite or postgres)
#   KEEP_DB=1 bash benches/queue.sh          (keep the PostgreSQL database kanta_bench_queue)
#   SKIP_IMPORT=1 KEEP_DB=1 bash benches/queue.sh   (the pages again on the kept stores)
#
# Times are curl's time_total over loopback: the server's time plus a loopback round
# trip (a fraction of a millisecond); the server writes no timing of its own. Prints
# median and p95 per page, then one table: task, SQLite, PostgreSQL, target, met?
# (daily job < 30 s, /today and the queue API < 100 ms, customer page < 50 ms, by p95).
# PostgreSQL is ANALYZEd after the import (as autovacuum would do within minutes of a
# real one), so its plans are those of a store that has settled.
set -euo pipefail
cd "$(dirname "$0")/.."
repeats=${1:-20}
work=bench-data/queue
mkdir -p "$work"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
if [ -z "${KANTA_BIN:-}" ]; then cargo build --release -p kanta >&2; fi
kanta=${KANTA_BIN:-$CARGO_TARGET_DIR/release/kanta}
pg_admin=${KANTA_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
pg_base=${pg_admin%/*}
db=kanta_bench_queue
backends=${BACKENDS:-sqlite postgres}
today=$(date -u +%F)
csv=$work/csv-$today
if [ ! -f "$csv/trust.csv" ]; then
  rm -rf "$work"/csv-*
  python3 benches/gen_queue.py "$csv" "$today"
fi
results=$work/results.tsv
: > "$results"
owner_email=staff00@kanta.test
heavy=c000000
ordinary=c012340

port=$(python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])")
server=
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null
  [ -z "${KEEP_DB:-}" ] && case " $backends " in *" postgres "*) psql "$pg_admin" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 ;; esac
  true
}
trap cleanup EXIT

has_command() { "$kanta" "$@" --help >/dev/null 2>&1; }
secs=0
# count_queue BACKEND: rows in contact_queue.
count_queue() {
  if [ "$1" = sqlite ]; then sqlite3 "$work/sqlite/kanta.db" "SELECT count(*) FROM contact_queue"
  else psql "$pg_base/$db" -Atc "SELECT count(*) FROM contact_queue"; fi
}
# sql BACKEND QUERY: one query on the store, rows as text.
sql() {
  if [ "$1" = sqlite ]; then sqlite3 "$work/sqlite/kanta.db" "$2"
  else psql "$pg_base/$db" -Atc "$2"; fi
}
# wait_jobs BACKEND: waits until the server's workers have run the jobs the server
# queued at start (health.daily, once a day) and the imports queued (queue.refresh);
# prints how long each took in the server, from its creation to its end.
wait_jobs() {
  local backend=$1 t0 n
  t0=$(date +%s)
  while :; do
    n=$(sql "$backend" "SELECT count(*) FROM jobs WHERE kind IN ('health.daily', 'queue.refresh') AND status IN ('queued', 'running')")
    [ "$n" = 0 ] && [ $(($(date +%s) - t0)) -ge 5 ] && break
    if [ $(($(date +%s) - t0)) -gt 900 ]; then echo "  jobs still running after 900 s" >&2; break; fi
    sleep 1
  done
  sql "$backend" "SELECT id, kind, status, CAST(finished_ms - created_ms AS DOUBLE PRECISION) / 1000, substr(CAST(payload AS TEXT), 1, 40) \
      FROM jobs WHERE kind IN ('health.daily', 'queue.refresh') ORDER BY id" | while IFS='|' read -r id kind status took payload; do
    printf '  server job %s %-13s %s %s: created to finished %.2f s\n' "$id" "$kind" "$payload" "$status" "$took"
    if [ "$kind" = health.daily ] && [ "$status" = done ] && [ -z "${SKIP_IMPORT:-}" ]; then
      record "daily job in the server (health.daily: health, then the queue)" "$backend" "$(printf '%.2f' "$took")"
    fi
  done
}
record() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >> "$results"; }
# timed BACKEND TASK CMD...: runs the command, prints and records its wall time.
timed() {
  local backend=$1 task=$2; shift 2
  /usr/bin/time -f "%e %M" -o "$work/time" "$@" > "$work/last.out" 2> "$work/last.err" || {
    echo "  FAILED: $task" >&2; tail -5 "$work/last.err" >&2; secs=nan; record "$task" "$backend" "failed"; return 0; }
  local kb
  read -r secs kb < "$work/time"
  printf '  %-44s %8.2f s  (peak %d MB)\n' "$task" "$secs" $((kb / 1024))
  record "$task" "$backend" "$secs"
}

# times BACKEND TASK URL [CURL-ARGS...]: a warm-up, then REPEATS timed requests.
times() {
  local backend=$1 task=$2 url=$3; shift 3
  local code
  code=$(curl -s -o "$work/page.out" -w '%{http_code}' "$@" "http://127.0.0.1:$port$url")
  if [ "$code" != 200 ]; then
    echo "  FAILED: GET $url -> $code" >&2; head -c 300 "$work/page.out" >&2; echo >&2
    record "$task" "$backend" "failed"; return 0
  fi
  local list=()
  for _ in $(seq 1 "$repeats"); do
    list+=("$(curl -s -o /dev/null -w '%{time_total}' "$@" "http://127.0.0.1:$port$url")")
  done
  local stats
  stats=$(python3 - "${list[@]}" <<'PY'
import math, statistics, sys
v = sorted(float(x) * 1000 for x in sys.argv[1:])
p95 = v[max(0, math.ceil(0.95 * len(v)) - 1)]
print(f"{statistics.median(v):.1f} {p95:.1f} {v[-1]:.1f}")
PY
)
  local med p95 max
  read -r med p95 max <<< "$stats"
  printf '  %-44s median %7.1f ms  p95 %7.1f ms  max %7.1f ms  (%s bytes)\n' "$task" "$med" "$p95" "$max" "$(wc -c < "$work/page.out")"
  record "$task" "$backend" "$med/$p95"
}

bench() {
  local backend=$1; shift
  local store=("$@")
  echo "== $backend"
  if [ -z "${SKIP_IMPORT:-}" ]; then
    local t0 t1
    t0=$(date +%s.%N)
    for entity in staff customers transactions subscriptions usage interactions feedback cases trust; do
      timed "$backend" "import $entity" "$kanta" import "${store[@]}" "$entity" "$csv/$entity.csv"
    done
    t1=$(date +%s.%N)
    record "import (all files)" "$backend" "$(python3 -c "print(f'{$t1-$t0:.1f}')")"
    if [ "$backend" = postgres ]; then
      psql "$pg_base/$db" -qc "ANALYZE" >/dev/null
    fi
    timed "$backend" "kanta score" "$kanta" score "${store[@]}"
  fi
  local queue_rows
  if [ -n "${SKIP_IMPORT:-}" ]; then
    echo "  (SKIP_IMPORT: the stores of the last run, no import, score or refresh)"
  elif has_command health refresh; then
    timed "$backend" "kanta health refresh" "$kanta" health refresh "${store[@]}"
    local health_secs=$secs
    queue_rows=$(count_queue "$backend")
    echo "    contact_queue rows after it: $queue_rows"
    if [ "$queue_rows" = 0 ] && has_command queue refresh; then
      # The health command scores health only: the daily job is both commands.
      timed "$backend" "kanta queue refresh" "$kanta" queue refresh "${store[@]}"
      record "daily job: health refresh + queue refresh" "$backend" \
        "$(python3 -c "print(f'{$health_secs + $secs:.2f}')")"
      echo "    contact_queue rows after it: $(count_queue "$backend")"
    elif [ "$queue_rows" != 0 ]; then
      record "daily job: health refresh + queue refresh" "$backend" "$health_secs"
      if has_command queue refresh; then
        timed "$backend" "kanta queue refresh (alone, again)" "$kanta" queue refresh "${store[@]}"
      fi
    else
      echo "    (no 'kanta queue refresh' in this build: the server's health.daily job below is the daily job)"
    fi
  else
    echo "  (no 'kanta health refresh' in this build)"
  fi
  if has_command queue; then
    timed "$backend" "kanta queue --owner EMAIL (whole process)" "$kanta" queue "${store[@]}" --owner "$owner_email"
    head -4 "$work/last.out" | cut -c1-150 | sed 's/^/    | /'
  fi
  echo "bench-password-123" | "$kanta" user add "${store[@]}" "$owner_email" --role staff --password-stdin >/dev/null 2>&1 || true
  local token
  token=$("$kanta" token create "${store[@]}" "queue bench" --role viewer 2>/dev/null)
  KANTA_LOG=${KANTA_LOG:-warn,kanta_core::jobs=info} "$kanta" serve "${store[@]}" --bind "127.0.0.1:$port" \
    2>"$work/serve-$backend.log" &
  server=$!
  for _ in $(seq 1 200); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
  wait_jobs "$backend"
  grep -a "health scored" "$work/serve-$backend.log" | sed 's/\x1b\[[0-9;]*m//g; s/^/    server log: /' || true
  local jar="$work/$backend.cookies"
  rm -f "$jar"
  local csrf
  csrf=$(curl -sf -c "$jar" "http://127.0.0.1:$port/login" | grep -o 'name="csrf" value="[^"]*"' | head -1 | sed 's/.*value="//; s/"$//')
  curl -sf -b "$jar" -c "$jar" -o /dev/null --data-urlencode "csrf=$csrf" --data-urlencode "email=$owner_email" \
    --data-urlencode "password=bench-password-123" "http://127.0.0.1:$port/login"
  grep -q kanta_session "$jar" || { echo "sign-in failed" >&2; exit 1; }
  times "$backend" "/today (mine)" "/today" -b "$jar"
  times "$backend" "/today (team)" "/today?owner=all" -b "$jar"
  local next_page
  next_page=$(curl -s -b "$jar" "http://127.0.0.1:$port/today?owner=all" | grep -o 'href="/today?[^"]*cursor=[^"]*"' | head -1 \
    | sed 's/^href="//; s/"$//; s/&amp;/\&/g; s/&#38;/\&/g' || true)
  if [ -n "$next_page" ]; then
    times "$backend" "/today (team, the page after the first)" "$next_page" -b "$jar"
  fi
  times "$backend" "/today (team, reason usage_drop)" "/today?owner=all&reason=usage_drop" -b "$jar"
  times "$backend" "GET /api/v1/queue (all)" "/api/v1/queue" -H "Authorization: Bearer $token"
  local next
  next=$(curl -s -H "Authorization: Bearer $token" "http://127.0.0.1:$port/api/v1/queue" | python3 -c \
    "import json, sys, urllib.parse; c = json.load(sys.stdin).get('next_cursor'); print(urllib.parse.quote(c) if c else '')" 2>/dev/null || true)
  if [ -n "$next" ]; then
    times "$backend" "GET /api/v1/queue (the page after the first)" "/api/v1/queue?cursor=$next" -H "Authorization: Bearer $token"
  fi
  times "$backend" "GET /api/v1/queue?owner=EMAIL" "/api/v1/queue?owner=$owner_email" -H "Authorization: Bearer $token"
  times "$backend" "GET /api/v1/queue?reason=usage_drop&tier=A" "/api/v1/queue?reason=usage_drop&tier=A" -H "Authorization: Bearer $token"
  times "$backend" "/customers/$ordinary (ordinary)" "/customers/$ordinary" -b "$jar"
  times "$backend" "/customers/$heavy (100,000 usage events)" "/customers/$heavy" -b "$jar"
  kill "$server"; wait "$server" 2>/dev/null || true; server=
}

echo "contact queue and health at 100,000 customers, 1,000,000 orders, 5,000,000 usage events; $repeats requests per page, $(nproc) cores, $(date -u '+%F %H:%M') UTC"
for backend in $backends; do
  if [ "$backend" = sqlite ]; then
    [ -n "${SKIP_IMPORT:-}" ] || rm -rf "$work/sqlite"
    bench sqlite --data "$work/sqlite"
  else
    [ -n "${SKIP_IMPORT:-}" ] || psql "$pg_admin" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null
    bench postgres --database-url "$pg_base/$db"
  fi
done

python3 - "$results" <<'PY'
import sys
rows, order = {}, []
for line in open(sys.argv[1]):
    task, backend, value = line.rstrip("\n").split("\t")
    if task not in rows:
        rows[task] = {}
        order.append(task)
    rows[task][backend] = value
def target(task):
    if task.startswith("daily job"):
        return 30.0, "< 30 s"
    if task.startswith("/today") or task.startswith("GET /api/v1/queue"):
        return 100.0, "< 100 ms"
    if task.startswith("/customers/"):
        return 50.0, "< 50 ms"
    return None, ""
def show(task, v):
    if v is None:
        return "-"
    if "/" in v:
        med, p95 = v.split("/")
        return f"{med} / {p95} ms"
    try:
        float(v)
        return f"{v} s"
    except ValueError:
        return v
def met(limit, values):
    verdicts = []
    for v in values:
        if v is None:
            continue
        try:
            x = float(v.split("/")[1]) if "/" in v else float(v)
        except ValueError:
            verdicts.append("no (" + v + ")")
            continue
        verdicts.append("yes" if x < limit else "no")
    if not verdicts:
        return ""
    return "yes" if all(x == "yes" for x in verdicts) else "NO"
print()
print("| task | SQLite | PostgreSQL | target | met? |")
print("|---|---:|---:|---|---|")
for task in order:
    r = rows[task]
    limit, text = target(task)
    print(f"| {task} | {show(task, r.get('sqlite'))} | {show(task, r.get('postgres'))} | {text} | "
          f"{met(limit, [r.get('sqlite'), r.get('postgres')]) if limit else ''} |")
print()
print("Pages: median / p95 of the timed requests (curl time_total over loopback); met? by the p95.")
PY
