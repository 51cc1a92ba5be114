#!/usr/bin/env bash
# `kanta score` on a store of N customers (default 100,000) whose transactions are
# drawn from BG/NBD and Gamma-Gamma (benches/score_data.py, ~10.7 per customer),
# imported into SQLite and PostgreSQL; beside it, the same scoring done with Python
# lifetimes 0.11.3 (benches/score_lifetimes.py, installed into a virtualenv by
# scripts/lifetimes/setup.sh) on the same CSV, in one run.
#
#   bash benches/score.sh [N]
#
# Kanta is timed end to end (process start to exit: summaries in SQL, the model
# choice on a 91-day holdout with three candidates, the refit, Gamma-Gamma, scores,
# the simulated forecast interval, writing every score and tier); lifetimes from
# its data in memory.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-100000}
as_of=2026-11-01
work=bench-data/score
mkdir -p "$work"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
if [ -z "${KANTA_BIN:-}" ]; then cargo build --release -p kanta >&2; fi
kanta=${KANTA_BIN:-$CARGO_TARGET_DIR/release/kanta}
[ -x .venv-lifetimes/bin/python ] || bash scripts/lifetimes/setup.sh >&2
py=.venv-lifetimes/bin/python
tx="$work/tx-$n.csv"
[ -f "$tx" ] || python3 benches/score_data.py "$n" "$tx" "$as_of"
pg_admin=${KANTA_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
pg_base=${pg_admin%/*}

echo "kanta score and lifetimes on $n customers ($(($(wc -l < "$tx") - 1)) transactions), $(nproc) cores"
summary() {
  python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(f\"  {sys.argv[2]:10} {d['seconds']:7.2f} s  model {d['model']}  \" + ', '.join(f'{k} {v:.2f}' for k, v in d['phases']) + '  params ' + ', '.join(f'{k} {v:.4f}' for k, v in d['fit']['params'].items()))" "$1" "$2"
}
for backend in sqlite postgres; do
  if [ "$backend" = sqlite ]; then
    rm -rf "$work/sqlite"; url="sqlite://$work/sqlite/kanta.db"
  else
    psql "$pg_admin" -q -c "DROP DATABASE IF EXISTS kanta_bench_score" -c "CREATE DATABASE kanta_bench_score" >/dev/null
    url="$pg_base/kanta_bench_score"
  fi
  KANTA_DATABASE_URL=$url "$kanta" import transactions "$tx" >/dev/null 2>&1
  /usr/bin/time -f "%e %M" -o "$work/time" env KANTA_DATABASE_URL=$url "$kanta" score --as-of "$as_of" --json > "$work/k-$backend.json"
  read -r secs kb < "$work/time"
  summary "$work/k-$backend.json" "$backend"
  echo "             wall ${secs} s, peak $((kb / 1024)) MB"
done
$py benches/score_lifetimes.py "$tx" "$as_of" > "$work/lifetimes.json"
python3 - "$work" <<'PY'
import json, sys
w = sys.argv[1]
l = json.load(open(f"{w}/lifetimes.json"))
print(f"  lifetimes  {l['seconds']:7.2f} s  " + ", ".join(f"{k} {v:.2f}" for k, v in l["phases"].items())
      + "  params " + ", ".join(f"{k} {v:.4f}" for k, v in l["params"].items()) + f"  peak {l['peak_mb']:.0f} MB")
for b in ("sqlite", "postgres"):
    k = json.load(open(f"{w}/k-{b}.json"))
    print(f"  ratio lifetimes / kanta ({b}): {l['seconds'] / k['seconds']:.1f}x")
PY
