#!/usr/bin/env bash
# Kanta's models beside the Python `lifetimes` 0.11.3 (installed into a virtualenv from
# PyPI by scripts/lifetimes/setup.sh), on the same generated files, in one run:
#
#   - BG/NBD fit of 1,000,000 customers (frequency, recency, T; benches/models_data.py)
#   - Pareto/NBD fit of 100,000 customers
#   - per-customer summary of a 10,000,000-row transaction CSV (benches/gen_transactions.py)
#   - scoring 1,000,000 customers: P(alive) and expected purchases in 30 days
#
#   bash benches/models.sh [--quick]      (--quick: a tenth of every size)
#
# Kanta is timed end to end as a user runs it (process start to exit, reading the CSV
# included) and, where it reports one, by its own fit time; lifetimes by the call
# itself, with its data already in memory (reading the CSV with pandas not counted).
set -euo pipefail
cd "$(dirname "$0")/.."
scale=1
[ "${1:-}" = "--quick" ] && scale=10
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
if [ -z "${KANTA_BIN:-}" ]; then cargo build --release -p kanta >&2; fi
kanta=${KANTA_BIN:-$CARGO_TARGET_DIR/release/kanta}
[ -x .venv-lifetimes/bin/python ] || bash scripts/lifetimes/setup.sh >&2
py=.venv-lifetimes/bin/python
data=bench-data/models
mkdir -p "$data"
n_bg=$((1000000 / scale)); n_pn=$((100000 / scale)); n_tx=$((10000000 / scale))
[ -f "$data/bgnbd-$n_bg.csv" ] || $py benches/models_data.py bgnbd "$n_bg" "$data/bgnbd-$n_bg.csv"
[ -f "$data/pnbd-$n_pn.csv" ] || $py benches/models_data.py pnbd "$n_pn" "$data/pnbd-$n_pn.csv"
[ -f "$data/tx-$n_tx.csv" ] || python3 benches/gen_transactions.py "$n_tx" "$data/tx-$n_tx.csv"

# Wall seconds and peak MB of a command (its stdout to $2).
timed() {
  local out=$1; shift
  /usr/bin/time -f "%e %M" -o "$data/time" "$@" > "$out"
  read -r secs kb < "$data/time"
  echo "$secs $((kb / 1024))"
}

echo "Kanta and lifetimes 0.11.3 on the same files, $(nproc) cores"
printf '%-48s %12s %12s %8s\n' "task" "kanta" "lifetimes" "ratio"
row() { printf '%-48s %11.2fs %11.2fs %7.1fx\n' "$1" "$2" "$3" "$(python3 -c "print($3/$2)")"; }

read -r k_s k_mb < <(timed "$data/k-bgnbd.json" "$kanta" fit --model bgnbd --input "$data/bgnbd-$n_bg.csv" --json)
k_fit=$(python3 -c "import json; print(json.load(open('$data/k-bgnbd.json'))['seconds'])")
l=$($py benches/models_lifetimes.py fit-bgnbd "$data/bgnbd-$n_bg.csv")
row "BG/NBD fit, $n_bg customers (end to end)" "$k_s" "$(echo "$l" | python3 -c 'import json,sys; print(json.load(sys.stdin)["seconds"])')"
row "BG/NBD fit, $n_bg customers (fit only)" "$k_fit" "$(echo "$l" | python3 -c 'import json,sys; print(json.load(sys.stdin)["seconds"])')"
echo "  kanta     $(python3 -c "import json; d=json.load(open('$data/k-bgnbd.json')); print({k: round(v, 4) for k, v in d['params'].items()}, 'LL', round(d['log_likelihood'], 2), 'rows', d['rows'])")"
echo "  lifetimes $(echo "$l" | python3 -c 'import json,sys; d=json.load(sys.stdin); print({k: round(v, 4) for k, v in d["params"].items()})')"

read -r k_s k_mb < <(timed "$data/k-pnbd.json" "$kanta" fit --model pnbd --input "$data/pnbd-$n_pn.csv" --json)
k_fit=$(python3 -c "import json; print(json.load(open('$data/k-pnbd.json'))['seconds'])")
l=$($py benches/models_lifetimes.py fit-pnbd "$data/pnbd-$n_pn.csv")
row "Pareto/NBD fit, $n_pn customers (end to end)" "$k_s" "$(echo "$l" | python3 -c 'import json,sys; print(json.load(sys.stdin)["seconds"])')"
row "Pareto/NBD fit, $n_pn customers (fit only)" "$k_fit" "$(echo "$l" | python3 -c 'import json,sys; print(json.load(sys.stdin)["seconds"])')"
echo "  kanta     $(python3 -c "import json; d=json.load(open('$data/k-pnbd.json')); print({k: round(v, 4) for k, v in d['params'].items()}, 'LL', round(d['log_likelihood'], 2))")"
echo "  lifetimes $(echo "$l" | python3 -c 'import json,sys; d=json.load(sys.stdin); print({k: round(v, 4) for k, v in d["params"].items()})')"

read -r k_s k_mb < <(timed "$data/k-summary.csv" "$kanta" summary --transactions "$data/tx-$n_tx.csv" --calibration-end 2024-01-01)
l=$($py benches/models_lifetimes.py summary "$data/tx-$n_tx.csv" 2024-01-01)
l_s=$(echo "$l" | python3 -c 'import json,sys; print(json.load(sys.stdin)["seconds"])')
l_mb=$(echo "$l" | python3 -c 'import json,sys; print(round(json.load(sys.stdin)["peak_mb"]))')
row "summary of $n_tx transactions" "$k_s" "$l_s"
echo "  peak memory: kanta ${k_mb} MB (whole process, CSV read included); lifetimes ${l_mb} MB (process, data in memory)"
echo "  customers: kanta $(($(wc -l < "$data/k-summary.csv") - 1)), lifetimes $(echo "$l" | python3 -c 'import json,sys; print(json.load(sys.stdin)["customers"])')"

params=$(python3 -c "import json; print(json.dumps(json.load(open('$data/k-bgnbd.json'))['params']))")
read -r k_s k_mb < <(timed "$data/k-score.csv" "$kanta" predict --model bgnbd --params "@$data/k-bgnbd.json" --input "$data/bgnbd-$n_bg.csv" --horizon 4.2857)
l=$($py benches/models_lifetimes.py score "$data/bgnbd-$n_bg.csv" "$params")
row "scoring $n_bg customers, CSV in and out" "$k_s" "$(echo "$l" | python3 -c 'import json,sys; print(json.load(sys.stdin)["seconds_end_to_end"])')"
echo "  lifetimes' computation alone: $(echo "$l" | python3 -c 'import json,sys; print(round(json.load(sys.stdin)["seconds"], 3))') s (Kanta's library alone: cargo run --release -p kanta-models --example timings)"
