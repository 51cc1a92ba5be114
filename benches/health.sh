#!/usr/bin/env bash
# The health scorecard (`kanta health fit`) beside scikit-learn's LogisticRegression
# (one-hot + scaling, default C) and HistGradientBoostingClassifier (native
# categorical support, defaults) on THE SAME train/holdout splits of a churn file:
# for each seed Kanta draws its stratified 30% holdout and writes the held-out ids
# (`--split-out FILE`); benches/health_sklearn.py fits both scikit-learn models on the
# other rows and scores the same held-out rows.
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
if [ ! -x .venv-sklearn/bin/python ]; then
  python3 -m venv .venv-sklearn >&2
  .venv-sklearn/bin/pip install --quiet scikit-learn pandas >&2
fi
.venv-sklearn/bin/python benches/health_sklearn.py --kanta "$kanta" --input "$file" \
  --target "$target" --id "$id" --seeds "$seeds" --work bench-data/health
