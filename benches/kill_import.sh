#!/usr/bin/env bash
# Kills `kanta import` of a large file at random moments and checks that the store
# holds all of the file or none of it, on SQLite and PostgreSQL.
#
#   bash benches/kill_import.sh [ROWS] [KILLS]      (default 5000000 rows, 5 kills per backend)
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-5000000}
kills=${2:-5}
work=bench-data
mkdir -p "$work"
csv="$work/transactions-$rows.csv"
pg_admin=${KANTA_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
cargo build --release -p kanta >&2
kanta=target/release/kanta
[ -f "$csv" ] || python3 benches/gen_transactions.py "$rows" "$csv"

count() { "$kanta" stats --json "$@" | python3 -c "import json,sys; print(json.load(sys.stdin)['transactions'])"; }

check() { # the store's arguments: --data DIR or --database-url URL
  local t0 t1 full n at pid
  t0=$(date +%s.%N); "$kanta" import transactions "$csv" "$@" >/dev/null; t1=$(date +%s.%N)
  full=$(python3 -c "print($t1-$t0)")
  n=$(count "$@")
  echo "  a whole import: ${full}s, $n transactions"
  [ "$n" = "$rows" ] || { echo "  FAIL: the whole import holds $n" >&2; return 1; }
  for _ in $(seq 1 "$kills"); do
    reset "$@"
    at=$(python3 -c "import random; print(round(random.uniform(0.05, 1.0) * $full, 2))")
    "$kanta" import transactions "$csv" "$@" >/dev/null 2>&1 &
    pid=$!
    sleep "$at"; kill -9 "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
    n=$(count "$@")
    echo "  killed (SIGKILL) after ${at}s: $n transactions"
    if [ "$n" != 0 ] && [ "$n" != "$rows" ]; then echo "  FAIL: neither none nor all" >&2; return 1; fi
  done
}

reset() {
  case "$1" in
    --data) rm -rf "$2" ;;
    --database-url) psql "$pg_admin" -q -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" ;;
  esac
}

echo "SQLite, $rows rows:"
sq="$work/kill-sqlite"; rm -rf "$sq"
check --data "$sq"
db=kanta_kill_$$
psql "$pg_admin" -q -c "CREATE DATABASE $db"
trap 'psql "$pg_admin" -q -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true' EXIT
echo "PostgreSQL, $rows rows:"
check --database-url "${pg_admin%/*}/$db"
echo "all kills left none or all of the file"
