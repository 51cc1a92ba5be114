#!/usr/bin/env bash
# Create the Python virtualenv used to regenerate the kanta-models reference fixtures.
# The venv lives at the repository root as .venv-lifetimes (gitignored). Python and
# these packages are test tools only, never runtime dependencies of Kanta.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
venv="$root/.venv-lifetimes"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --upgrade pip
"$venv/bin/pip" install --quiet "lifetimes==0.11.3" "numpy<2" "pandas<2" "scipy<1.14" mpmath lifelines
echo "ready: $venv/bin/python"
