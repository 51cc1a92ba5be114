#!/usr/bin/env bash
# The health scorecard (`kanta health fit`) beside scikit-learn's LogisticRegression
# (one-hot + scaling, default C) and HistGradientBoostingClassifier (native
# categorical support, defaults) on THE SAME train/holdout splits of a churn file:
# for each seed Kanta draws its stratified 30% holdout and writes the held-out ids
# (`--split-out FILE`); benches/health_sklearn.py fits both scikit-learn models on the
# other rows and scores the same held-out rows. Each seed is one `--repeats 1` run
# (`kanta health fit` defaults to the mean of 10 holdouts, seeds S..S+9): the script
# below hands health_sklearn.py a wrapper that adds it, so the per-seed AUC, Brier and
# `fit_seconds` (the first split's) are that seed's split alone. With seeds 1..10 the
# mean of this table's Kanta column is what a default `kanta health fit --seed 1`
# reports, except that each seed here chooses its own penalty by cross-validation.
#
#   bash benches/health.sh [SEEDS] [FILE TARGET ID]
#     defaults: 10  ../shared/datasets/Telco-Customer-Churn.csv  Churn  customerID
#
# scikit-learn comes from PyPI into .venv-sklearn (created on first run). Kanta is the
# release build (KANTA_BIN overrides; CARGO_TARGET_DIR is honoured). Fit times: Kanta's
# own `fit_seconds` (binning, cross-validation of the penalty, fit, holdout scoring;
# not reading the CSV) against the scikit-learn `fit` calls (data already in memory).
set -euo pipefail
cd "$(dirname "$0")/.."
seeds=${1:-10}
file=${2:-../shared/datasets/Telco-Customer-Churn.csv}
target=${3:-Churn}
id=${4:-customerID}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
if [ -z "${KANTA_BIN:-}" ]; then cargo build --release -p kanta >&2; fi
kanta=${KANTA_BIN:-$CARGO_TARGET_DIR/release/kanta}
mkdir -p bench-data/health
kanta_abs=$(cd "$(dirname "$kanta")" && pwd)/$(basename "$kanta")
printf '#!/usr/bin/env bash\nexec %q "$@" --repeats 1\n' "$kanta_abs" >bench-data/health/kanta-one-split
chmod +x bench-data/health/kanta-one-split
kanta=bench-data/health/kanta-one-split
if [ ! -x .venv-sklearn/bin/python ]; then
  python3 -m venv .venv-sklearn >&2
  .venv-sklearn/bin/pip install --quiet scikit-learn pandas >&2
fi
.venv-sklearn/bin/python benches/health_sklearn.py --kanta "$kanta" --input "$file" \
  --target "$target" --id "$id" --seeds "$seeds" --work bench-data/health
