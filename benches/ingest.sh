#!/usr/bin/env bash
# Event ingest over loopback: POST /api/v1/events with batches of 10,000 events
# (70 % transactions, 10 % interactions, 20 % usage, over the demo's café customers)
# into a served demo store, CONNECTIONS requests at a time (curl), on the same cores
# as the server. Then the same batches again: every event is found unchanged.
#
#   bash benches/ingest.sh [EVENTS] [CONNECTIONS] [sqlite|postgres]
#        (default 200000 events, 2 connections, sqlite)
#   INGEST_SETUP_SQL   PostgreSQL: SQL run on the demo store before the server starts
set -euo pipefail
cd "$(dirname "$0")/.."
events=${1:-200000}
conns=${2:-2}
backend=${3:-sqlite}
per_batch=10000
batches=$(( (events + per_batch - 1) / per_batch ))
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
if [ -z "${KANTA_BIN:-}" ]; then cargo build --release -p kanta >&2; fi
kanta=${KANTA_BIN:-$CARGO_TARGET_DIR/release/kanta}
data=bench-data/ingest
rm -rf "$data"
mkdir -p "$data"
store=(--data "$data")
if [ "$backend" = postgres ]; then
  pg_admin=${KANTA_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
  db=kanta_bench_ingest
  psql "$pg_admin" -q -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null
  store=(--database-url "${pg_admin%/*}/$db")
fi
"$kanta" "${store[@]}" demo --no-serve --as-of 2026-11-01 >/dev/null 2>&1
# INGEST_SETUP_SQL (PostgreSQL): statements run on the demo store before the server
# starts, for comparisons (e.g. an index a migration dropped, put back).
if [ "$backend" = postgres ] && [ -n "${INGEST_SETUP_SQL:-}" ]; then
  psql "${pg_admin%/*}/$db" -q -v ON_ERROR_STOP=1 -c "$INGEST_SETUP_SQL" >/dev/null
fi
token=$("$kanta" "${store[@]}" token create "ingest bench" --role staff 2>/dev/null)
port=$(python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])")
"$kanta" "${store[@]}" serve --bind "127.0.0.1:$port" 2>/dev/null &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
# A benchmark measures the server, not the API rate limit (api_rate_limit, 6,000 a
# minute per token by default): an admin lifts it first.
admin=$("$kanta" "${store[@]}" token create "bench admin" --role admin 2>/dev/null)
curl -sf -X PUT -H "Authorization: Bearer $admin" -H "Content-Type: application/json" \
  -d '{"value": "10000000"}' "http://127.0.0.1:$port/api/v1/settings/api_rate_limit" >/dev/null
# The server's start-up jobs (the daily health pass, the profitability pass, the first
# scoring) write the customers too: wait until none has run for 3 s, so that the
# figure is the ingest's (up to 4 minutes).
quiet=0
for _ in $(seq 1 240); do
  running=$(curl -sf -H "Authorization: Bearer $admin" "http://127.0.0.1:$port/api/v1/jobs" |
    python3 -c "import json, sys; print(json.load(sys.stdin)['counts']['running'])" || echo 1)
  if [ "$running" = 0 ]; then quiet=$((quiet + 1)); else quiet=0; fi
  [ "$quiet" -ge 3 ] && break
  sleep 1
done

python3 - "$data/batches" "$batches" "$per_batch" <<'PY'
import json, os, random, sys
out, batches, per = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
os.makedirs(out, exist_ok=True)
rng = random.Random(1)
kinds = ["call", "email", "visit", "chat"]
for b in range(batches):
    evs = []
    for i in range(per):
        c = f"cafe-{rng.randrange(5000) + 1:05d}"
        at = f"2026-{rng.randrange(1, 11):02d}-{rng.randrange(1, 29):02d}T{rng.randrange(24):02d}:{rng.randrange(60):02d}:00Z"
        r = rng.random()
        if r < 0.7:
            evs.append({"type": "transaction", "id": f"bench-t-{b}-{i}", "customer_id": c,
                        "occurred_at": at, "amount": rng.randrange(150, 2500), "channel": "pos"})
        elif r < 0.8:
            evs.append({"type": "interaction", "id": f"bench-i-{b}-{i}", "customer_id": c,
                        "occurred_at": at, "kind": rng.choice(kinds), "note": "asked about opening hours"})
        else:
            evs.append({"type": "usage", "id": f"bench-u-{b}-{i}", "customer_id": c,
                        "occurred_at": at, "metric": "app_opens", "value": rng.randrange(1, 20)})
    with open(f"{out}/{b:04d}.json", "w") as f:
        json.dump({"events": evs}, f, separators=(",", ":"))
PY
size=$(du -sh "$data/batches" | cut -f1)

now() { date +%s.%N; }
run() {
  local label=$1 t0 t1
  t0=$(now)
  ls "$data"/batches/*.json | xargs -P "$conns" -I{} curl -s -o /dev/null \
    -w "%{http_code} %{time_total}\n" -H "Authorization: Bearer $token" \
    -H "Content-Type: application/json" --data-binary @{} \
    "http://127.0.0.1:$port/api/v1/events" > "$data/times"
  t1=$(now)
  python3 - "$label" "$t0" "$t1" "$events" "$batches" "$data/times" <<'PY'
import sys
label, t0, t1, events, batches, path = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
rows = [l.split() for l in open(path)]
codes = sorted({r[0] for r in rows})
times = sorted(float(r[1]) for r in rows)
secs = t1 - t0
print(f"{label}: {batches} requests of 10,000 events in {secs:.2f} s = {events / secs:,.0f} events/s; "
      f"request median {times[len(times) // 2] * 1000:.0f} ms, max {times[-1] * 1000:.0f} ms; statuses {codes}")
PY
}
echo "POST /api/v1/events, $backend, $batches batches of $per_batch events ($size of JSON), $conns connections, $(nproc) cores shared with the server"
run "new events      "
run "the same again  "
curl -s -H "Authorization: Bearer $token" "http://127.0.0.1:$port/api/v1/stats"; echo
if [ "$backend" = postgres ]; then kill $server; wait $server 2>/dev/null || true; psql "$pg_admin" -q -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null; fi
