#!/usr/bin/env bash
# Validates docs/openapi.json as an OpenAPI 3.1 document with openapi-spec-validator
# (from PyPI, in a virtual environment under target/ made on first use).
#
#   bash scripts/check_openapi.sh [FILE]        (default docs/openapi.json)
#
# The test `api::openapi_lists_every_route_and_matches_the_committed_copy` checks
# that the file is what the code generates; this checks that it is valid OpenAPI.
set -euo pipefail
cd "$(dirname "$0")/.."
file=${1:-docs/openapi.json}
venv=${CARGO_TARGET_DIR:-target}/openapi-venv
if [ ! -x "$venv/bin/openapi-spec-validator" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check 'openapi-spec-validator>=0.7,<0.9'
fi
python3 - "$file" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
if doc.get("openapi") != "3.1.0":
    sys.exit(f"{sys.argv[1]}: says openapi {doc.get('openapi')!r}, not 3.1.0")
PY
"$venv/bin/openapi-spec-validator" --schema 3.1.0 "$file"
