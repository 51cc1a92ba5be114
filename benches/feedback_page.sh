#!/usr/bin/env bash
# Feedback analytics page benchmark (issue 13): 10,000 customers and 100,000 answers
# over the last 24 months (benches/gen_feedback.py, seed 13: NPS on every answer,
# CSAT on 60 %, CES on 30 %, segments, tiers, five channels, free text on two in
# three) imported into SQLite and PostgreSQL, themes found (`kanta themes run`),
# then `kanta serve` and GET /feedback asked over loopback with curl, signed in as a
# viewer (and /today, whose word-of-mouth card reads the last six months' answers);
# also GET /api/v1/feedback/report with an API token, and
# `kanta report feedback --json` (a process of its own).
#
#   bash benches/feedback_page.sh [REPEATS] [N]   (default 5 requests, 100000 answers)
#   BACKENDS=sqlite bash benches/feedback_page.sh
#
# Prints per backend the first view's time (curl's time_total: server time plus a
# loopback round trip; the page keeps no cache, so every view computes the figures),
# the median, min and max of the views after it, and kanta's CPU time per view.
# The server's own start-up jobs (the daily health score and themes) are let finish
# before the timing starts.
set -euo pipefail
cd "$(dirname "$0")/.."
repeats=${1:-5}
n=${2:-100000}
work=bench-data/feedback-page
data=$work/csv-$n
mkdir -p "$work"
pg_admin=${KANTA_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
pg_base=${pg_admin%/*}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
if [ -z "${KANTA_BIN:-}" ]; then cargo build --release -p kanta >&2; fi
kanta=${KANTA_BIN:-$CARGO_TARGET_DIR/release/kanta}
[ -f "$data/feedback.csv" ] || python3 benches/gen_feedback.py "$data" "$n"

port=$(python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])")
server=
db="kanta_bench_feedback_$$"
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null || true
  psql "$pg_admin" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
}
trap cleanup EXIT

cpu() { awk '{print $14+$15}' "/proc/$1/stat"; }

# Waits until the server spends under 5 % of a core for two seconds in a row (its
# start-up jobs done), at most two minutes.
idle() {
  local quiet=0 a b
  for _ in $(seq 1 120); do
    a=$(cpu "$server"); sleep 1; b=$(cpu "$server")
    if [ $((b - a)) -le $(($(getconf CLK_TCK) / 20)) ]; then quiet=$((quiet + 1)); else quiet=0; fi
    [ "$quiet" -ge 2 ] && return 0
  done
  echo "  (the server did not go idle in two minutes)" >&2
}

# stats NAME FIRST TIMES...: prints the first time and the others' median, min, max.
stats() {
  python3 - "$@" <<'PY'
import statistics, sys
name, cpu, tck, first, *t = sys.argv[1:]
t = [float(x) * 1000 for x in t]
cpu_ms = int(cpu) * 1000 / int(tck) / max(len(t), 1)
print(f"  {name:34} first {float(first) * 1000:7.1f} ms, then median {statistics.median(t):7.1f} ms"
      f"  min {min(t):7.1f}  max {max(t):7.1f}  kanta CPU {cpu_ms:5.0f} ms/view ({len(t)} requests)")
PY
}

bench() {
  local name=$1; shift
  local t0 t1
  t0=$(date +%s.%N)
  "$kanta" "$@" import customers "$data/customers.csv" >/dev/null
  "$kanta" "$@" import feedback "$data/feedback.csv" >/dev/null
  t1=$(date +%s.%N)
  echo "== $name: imported in $(echo "$t1 - $t0" | bc) s"
  t0=$(date +%s.%N)
  "$kanta" "$@" themes run --json >/dev/null
  t1=$(date +%s.%N)
  echo "  themes run $(echo "$t1 - $t0" | bc) s"
  t0=$(date +%s.%N)
  "$kanta" "$@" report feedback --json >"$work/$name.json"
  t1=$(date +%s.%N)
  echo "  kanta report feedback --json: $(echo "$t1 - $t0" | bc) s wall (process start to exit; $(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["total"]["answers"], "answers,", len(r["themes"]), "themes")' "$work/$name.json"))"
  echo "bench-password-123" | "$kanta" "$@" user add bench@kanta.test --role viewer --password-stdin >/dev/null
  local token
  token=$("$kanta" "$@" token create "feedback bench" --role viewer 2>/dev/null)
  "$kanta" "$@" serve --bind "127.0.0.1:$port" --score-every-hours 0 2>/dev/null &
  server=$!
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
  idle
  local jar="$work/$name.cookies" csrf
  rm -f "$jar"
  csrf=$(curl -sf -c "$jar" "http://127.0.0.1:$port/login" | grep -o 'name="csrf" value="[^"]*"' | head -1 | sed 's/.*value="//; s/"$//')
  curl -sf -b "$jar" -c "$jar" -o /dev/null --data-urlencode "csrf=$csrf" --data-urlencode "email=bench@kanta.test" \
    --data-urlencode "password=bench-password-123" "http://127.0.0.1:$port/login"
  grep -q kanta_session "$jar" || { echo "sign-in failed" >&2; exit 1; }
  local path first ts c0 c1
  for path in "/feedback" "/feedback?by=quarter" "/today"; do
    first=$(curl -sf -b "$jar" -o "$work/$name.html" -w '%{time_total}' "http://127.0.0.1:$port$path")
    ts=(); c0=$(cpu "$server")
    for _ in $(seq 1 "$repeats"); do
      ts+=("$(curl -sf -b "$jar" -o /dev/null -w '%{time_total}' "http://127.0.0.1:$port$path")")
    done
    c1=$(cpu "$server")
    stats "GET $path ($(($(wc -c < "$work/$name.html") / 1024)) KiB)" "$((c1 - c0))" "$(getconf CLK_TCK)" "$first" "${ts[@]}"
  done
  if [ -n "$token" ]; then
    path=/api/v1/feedback/report
    first=$(curl -sf -H "Authorization: Bearer $token" -o "$work/$name.api.json" -w '%{time_total}' "http://127.0.0.1:$port$path")
    ts=(); c0=$(cpu "$server")
    for _ in $(seq 1 "$repeats"); do
      ts+=("$(curl -sf -H "Authorization: Bearer $token" -o /dev/null -w '%{time_total}' "http://127.0.0.1:$port$path")")
    done
    c1=$(cpu "$server")
    stats "GET $path ($(($(wc -c < "$work/$name.api.json") / 1024)) KiB)" "$((c1 - c0))" "$(getconf CLK_TCK)" "$first" "${ts[@]}"
  fi
  kill "$server"; wait "$server" 2>/dev/null || true; server=
}

echo "GET /feedback over loopback, $n answers, $repeats requests after the first, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
for backend in ${BACKENDS:-sqlite postgres}; do
  if [ "$backend" = sqlite ]; then
    rm -rf "$work/sqlite"
    bench sqlite --data "$work/sqlite"
  else
    psql "$pg_admin" -qc "CREATE DATABASE $db" >/dev/null
    bench postgres --database-url "$pg_base/$db"
  fi
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
