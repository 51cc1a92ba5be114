#!/usr/bin/env bash
# Themes in free-text answers (issue 13): 100,000 answers (166,767 texts: did_well and
# two in three do_better, 60 % Finnish, 40 % English) with PLANTED themes
# (benches/gen_themes.py, seed 13).
#
# 1. The clustering alone: `kanta_models::text::find_themes` on the texts in memory
#    (examples/themes_bench.rs), with the purity of the themes against the planted
#    ones and how many texts are in a theme.
# 2. The whole job, `kanta themes run` (what the daily `feedback.themes` job does):
#    read every text from the store, cluster, match to the stored themes, write the
#    themes, members, run and audit entry in one transaction. Run twice (the second
#    matches and replaces the first run's themes). On SQLite, and on PostgreSQL when
#    BACKENDS includes it (default: sqlite postgres).
#
#   bash benches/themes.sh [N]          (N answers, default 100000)
#   KANTA_BIN=PATH bash benches/themes.sh
#   BACKENDS=sqlite bash benches/themes.sh
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-100000}
work=bench-data/themes
mkdir -p "$work"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
if [ -z "${KANTA_BIN:-}" ]; then cargo build --release -p kanta >&2; fi
kanta=${KANTA_BIN:-$CARGO_TARGET_DIR/release/kanta}
csv=$work/csv-$n
if [ ! -f "$csv/labels.csv" ]; then python3 benches/gen_themes.py "$csv" "$n"; fi

echo "== clustering alone (find_themes, release)"
cargo run --release -q -p kanta-models --example themes_bench -- "$csv" | tail -1

pg_admin=${KANTA_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
pg_base=${pg_admin%/*}
db=kanta_bench_themes
cleanup() { psql "$pg_admin" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true; }
trap cleanup EXIT
for backend in ${BACKENDS:-sqlite postgres}; do
  if [ "$backend" = sqlite ]; then
    rm -rf "$work/sqlite"; store=(--data "$work/sqlite")
  else
    cleanup; psql "$pg_admin" -qc "CREATE DATABASE $db" >/dev/null; store=(--database-url "$pg_base/$db")
  fi
  "$kanta" import "${store[@]}" customers "$csv/customers.csv" >/dev/null
  "$kanta" import "${store[@]}" feedback "$csv/feedback.csv" >/dev/null
  for run in 1 2; do
    t0=$(date +%s.%N)
    out=$("$kanta" themes run "${store[@]}" --json)
    t1=$(date +%s.%N)
    echo "== $backend run $run: wall $(echo "$t1 - $t0" | bc) s (process start to exit), job $(echo "$out" | python3 -c 'import json,sys; r=json.load(sys.stdin); print("%.2f s, %d texts, %d themes, %d matched, %d new" % (r["millis"]/1000, r["texts"], r["themes"], r["matched"], r["created"]))')"
  done
done
