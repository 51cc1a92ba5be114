#!/usr/bin/env bash
# Where PostgreSQL's time goes, statement by statement, during one of two workloads,
# with every statement logged (log_min_duration_statement = 0, set with ALTER SYSTEM and
# reset afterwards); then sums the logged durations by statement (its first 90
# characters), largest first.
#
#   KANTA_BIN=target/release/kanta bash benches/pg_statement_profile.sh [ingest]
#       benches/ingest.sh against PostgreSQL (100,000 events, one connection). The ingest
#       sends its batches twice (new events, then the same again), so divide by the batch
#       count for a figure per batch. BENCHMARKS.md, "Issue 15: new rows straight into
#       their table".
#   KANTA_BIN=target/release/kanta bash benches/pg_statement_profile.sh load [SECONDS] [RATE]
#       benches/load.sh's mix (default 30 s at 200 requests/s, below what the machine
#       serves, so that the durations are the statements' own, not time in a queue);
#       divide by SECONDS x RATE for a figure per request. Only the statements of the
#       load's last SECONDS count (not the demo's load or the start-up jobs).
#
#   PG_ADMIN  admin URL (default postgres://postgres@127.0.0.1:5432/postgres, trust auth)
#   PG_LOG    the server's log file (default Debian's /var/log/postgresql/postgresql-15-main.log)
set -euo pipefail
cd "$(dirname "$0")/.."
admin=${PG_ADMIN:-postgres://postgres@127.0.0.1:5432/postgres}
log=${PG_LOG:-/var/log/postgresql/postgresql-15-main.log}
psql "$admin" -qc "ALTER SYSTEM SET log_min_duration_statement = 0" -c "SELECT pg_reload_conf()" >/dev/null
trap 'psql "$admin" -qc "ALTER SYSTEM RESET log_min_duration_statement" -c "SELECT pg_reload_conf()" >/dev/null' EXIT
start=$(wc -l < "$log")
if [ "${1:-ingest}" = load ]; then
  KANTA_LOAD_PG=$admin LOAD_ROUTE_SECONDS=0 bash benches/load.sh "${2:-30}" "${3:-200}" | tail -n 25
else
  KANTA_TEST_POSTGRES_URL=$admin bash benches/ingest.sh 100000 1 postgres | grep -E "new events|same again"
fi
# For the load, only the mix's statements count: those of the database kanta_load in
# its last SECONDS (the demo's load and the start-up jobs come before).
window=0
[ "${1:-ingest}" = load ] && window=${2:-30}
tail -n +"$((start + 1))" "$log" | WINDOW=$window python3 -c '
import collections, datetime, os, re, sys
window = float(os.environ["WINDOW"])
rows = []
for line in sys.stdin:
    m = re.search(r"duration: ([0-9.]+) ms\s+(statement|execute [^:]*|bind [^:]*|parse [^:]*):\s*(.*)", line)
    if not m or (window and "kanta_load" not in line) or "DROP DATABASE" in line:
        continue
    at = datetime.datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S.%f")
    rows.append((at, float(m.group(1)), m.group(2), m.group(3)))
if window and rows:
    end = max(r[0] for r in rows)
    rows = [r for r in rows if (end - r[0]).total_seconds() <= window]
total, count = collections.Counter(), collections.Counter()
bind = execute = 0.0
for _, ms, what, text in rows:
    planning = what.startswith(("parse", "bind"))
    key = ("(parse/bind) " if planning else "") + re.sub(r"\s+", " ", text)[:90]
    total[key] += ms
    count[key] += 1
    if planning:
        bind += ms
    else:
        execute += ms
for key, ms in total.most_common(40):
    print(f"{ms:9.1f} ms {count[key]:5d}x  {key}")
print(f"total {bind + execute:.0f} ms: parse and bind {bind:.0f} ms, execute {execute:.0f} ms")
'
