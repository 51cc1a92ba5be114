#!/usr/bin/env bash
# kill -9 at random moments during imports, event ingest and survey waves, on SQLite
# and PostgreSQL (issue 15): the store is each time as before or as after, and no
# invitation is sent twice. Four cases per backend, KILLS_PER_CASE kills each (default
# 9: 72 kills), each SIGKILL at a moment drawn uniformly within the duration of an
# unkilled run of the same work, measured first:
#
#   import   kanta import transactions (1,000,000 rows): the store as before or after
#   usage    kanta import usage (1,000,000 usage events): the same
#   events   POST /api/v1/events, kanta serve killed: every batch answered 200 is
#            whole, none is partly there, kanta stats moved by whole batches only
#   wave     a survey wave mailed by kanta serve through the outbox to a loopback
#            SMTP sink (benches/kill9_sink.py), kanta serve killed and restarted:
#            no invitation or recipient received twice, none lost, none left queued
#
# What each case checks, exactly: benches/kill9.py. A summary table is printed and kept
# in bench-data/kill9/summary.txt (results.json beside it); exit 1 on any failure.
#
#   bash benches/kill9.sh [KILLS_PER_CASE]
#
# Kanta: KANTA_BIN, default target/release/kanta (built only when missing).
# PostgreSQL: KANTA_TEST_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/postgres;
# databases kanta_kill_<pid>_* are created there and dropped at the end.
# KILL9_BACKENDS (sqlite postgres), KILL9_CASES (import usage events wave), KILL9_SEED,
# KILL9_ROWS, KILL9_USAGE_ROWS, KILL9_CUSTOMERS (the wave's size, 3000),
# KILL9_BATCHES (50), KILL9_BATCH (2000) change the work.
set -euo pipefail
cd "$(dirname "$0")/.."
kanta=${KANTA_BIN:-target/release/kanta}
if [ ! -x "$kanta" ]; then
  if [ -n "${KANTA_BIN:-}" ]; then echo "KANTA_BIN=$kanta is not an executable" >&2; exit 2; fi
  nice -n 10 cargo build --release -p kanta >&2
fi
grep -qx '/bench-data' .gitignore || { echo "bench-data is not in .gitignore" >&2; exit 2; }
mkdir -p bench-data/kill9
KANTA_BIN=$(realpath "$kanta") exec python3 benches/kill9.py "$@"
