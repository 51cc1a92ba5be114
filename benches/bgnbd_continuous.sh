#!/usr/bin/env bash
# BG/NBD on customers whose (frequency, recency, T) rows are nearly all distinct
# (issue 12): `kanta fit --model bgnbd` beside lifetimes' BetaGeoFitter on the same
# file, in one run.
#
#   bash benches/bgnbd_continuous.sh [N]      (N customers, default 1,000,000)
#
# The file comes from `benches/models_data.py bgnbd-continuous N FILE`: BG/NBD
# customers at the CDNOW parameters (r .243, alpha 4.41, a .793, b 2.43), observed
# for T ~ U(20, 78) weeks, with recency and T written to 6 decimals, so that rows do
# not collapse. lifetimes 0.11.3 comes from scripts/lifetimes/setup.sh.
#
# Kanta's time is the one it reports as "seconds" (collapsing identical rows and
# fitting, not reading the CSV), and its whole run from process start to exit;
# lifetimes' time is the fit call alone, the data already in memory (as in
# benches/models.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000000}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
if [ -z "${KANTA_BIN:-}" ]; then cargo build --release -p kanta >&2; fi
kanta=${KANTA_BIN:-$CARGO_TARGET_DIR/release/kanta}
[ -x .venv-lifetimes/bin/python ] || bash scripts/lifetimes/setup.sh >&2
py=.venv-lifetimes/bin/python
data=bench-data/models
mkdir -p "$data"
file="$data/bgnbd-continuous-$n.csv"
[ -f "$file" ] || $py benches/models_data.py bgnbd-continuous "$n" "$file"

echo "BG/NBD on $n customers in continuous time, $(nproc) cores, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
runs=${RUNS:-5}
fits=()
for i in $(seq "$runs"); do
  /usr/bin/time -f "%e" -o "$data/time" "$kanta" fit --model bgnbd --input "$file" --json > "$data/k-bgnbd-continuous.json"
  fit=$(python3 -c "import json; print(json.load(open('$data/k-bgnbd-continuous.json'))['seconds'])")
  fits+=("$fit")
  echo "  kanta run $i: fit $(printf '%.3f' "$fit") s, end to end $(cat "$data/time") s"
done
k_fit=$(printf '%s\n' "${fits[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
l=$($py benches/models_lifetimes.py fit-bgnbd "$file")
l_fit=$(echo "$l" | python3 -c 'import json,sys; print(json.load(sys.stdin)["seconds"])')
printf '%-44s %10s %10s %8s\n' "task" "kanta" "lifetimes" "ratio"
printf '%-44s %9.3fs %9.2fs %7.0fx\n' "BG/NBD fit, $n customers (median of $runs)" "$k_fit" "$l_fit" "$(python3 -c "print($l_fit/$k_fit)")"
python3 - "$data/k-bgnbd-continuous.json" "$l" <<'PY'
import json, sys
k = json.load(open(sys.argv[1]))
l = json.loads(sys.argv[2])
names = ["r", "alpha", "a", "b"]
print(f"  distinct rows (kanta): {k['rows']} of {int(k['n'])} customers; converged {k['converged']}, {k['iterations']} iterations")
print(f"  kanta     " + "  ".join(f"{p} {k['params'][p]:.6f}" for p in names) + f"  log-likelihood {k['log_likelihood']:.3f}")
print(f"  lifetimes " + "  ".join(f"{p} {l['params'][p]:.6f}" for p in names))
print("  largest relative difference: %.1e" % max(abs(k['params'][p] / l['params'][p] - 1) for p in names))
PY
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
