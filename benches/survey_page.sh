#!/usr/bin/env bash
# The public survey answer page over loopback with wrk (Debian's package): GET of a
# personal link's page /s/{token} (signature check, one query for the survey, the
# customer and the token's use, the form rendered), SECONDS long. The store's
# survey_rate_limit is raised to its maximum first, so the per-address limiter (all of
# wrk comes from 127.0.0.1) does not answer 429 during the run.
#
#   bash benches/survey_page.sh [SECONDS] [CONNECTIONS]   (default 10 s, 32 connections)
#   KANTA_BIN=PATH bash benches/survey_page.sh ...         (another build)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
conns=${2:-32}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
if [ -z "${KANTA_BIN:-}" ]; then cargo build --release -p kanta >&2; fi
kanta=${KANTA_BIN:-$CARGO_TARGET_DIR/release/kanta}
data=bench-data/survey_page
rm -rf "$data"
mkdir -p "$data"
cat > "$data/customers.csv" <<CSV
id,name,email,locale,survey_consent
bench-1,Bench Customer,bench@example.fi,fi,true
CSV
"$kanta" import customers "$data/customers.csv" --data "$data" >/dev/null
survey=$("$kanta" survey create --name "Bench survey" --id bench --data "$data" 2>/dev/null)
"$kanta" survey activate "$survey" --data "$data" >/dev/null
url=$("$kanta" survey link "$survey" --customer bench-1 --data "$data")
path=/${url#*://*/}
# No command sets a store setting; write the row as the settings page would (JSON text).
python3 - "$data" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1] + "/kanta.db")
c.execute("INSERT INTO settings (key, value, updated_at) VALUES ('survey_rate_limit', '\"100000\"', '2026-01-01T00:00:00.000Z') "
          "ON CONFLICT (key) DO UPDATE SET value = excluded.value")
c.commit()
PY
port=$(python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])")
"$kanta" serve --data "$data" --bind "127.0.0.1:$port" 2>/dev/null &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port$path")
[ "$code" = 200 ] || { echo "the page answers $code, not 200" >&2; exit 1; }
echo "GET /s/{token} (the answer form), ${secs}s, $conns connections, 2 wrk threads, $(nproc) cores shared with the server"
timeout $((secs + 30)) wrk -t2 -c"$conns" -d"${secs}s" --latency "http://127.0.0.1:$port$path" \
  | grep -E "Requests/sec|Latency|99%|50%|requests in|Non-2xx"
