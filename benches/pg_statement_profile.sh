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
#       divide by SECONDS x RATE for a figure per request.
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
tail -n +"$((start + 1))" "$log" | python3 -c '
import collections, re, sys
total, count = collections.Counter(), collections.Counter()
for line in sys.stdin:
    m = re.search(r"duration: ([0-9.]+) ms\s+(statement|execute [^:]*|bind [^:]*|parse [^:]*):\s*(.*)", line)
    if not m:
        continue
    kind = "(parse/bind) " if m.group(2).startswith(("parse", "bind")) else ""
    key = kind + re.sub(r"\s+", " ", m.group(3))[:90]
    total[key] += float(m.group(1))
    count[key] += 1
for key, ms in total.most_common(40):
    print(f"{ms:9.1f} ms {count[key]:5d}x  {key}")
print(f"total {sum(total.values()):.0f} ms")
'
