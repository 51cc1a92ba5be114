#!/usr/bin/env bash
# The public survey answer page over loopback with wrk (Debian's package): GET of a
# personal link's page /s/{token} (signature check, one query for the survey, the
# customer and the token's use, the form rendered), SECONDS long, over the links of
# 200 customers in turn (a wrk Lua script). The store's survey_rate_limit is raised to
# its maximum first, so neither the per-address limiter (all of wrk comes from
# 127.0.0.1) nor the per-link one answers 429 during the run; the script fails if any
# response is not a 200.
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
python3 - "$data/customers.csv" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("id,name,email,locale,survey_consent\n")
    for i in range(1, 201):
        f.write(f"bench-{i},Bench Customer {i},bench{i}@example.fi,{'fi' if i % 3 else 'en'},true\n")
PY
"$kanta" import customers "$data/customers.csv" --data "$data" >/dev/null
survey=$("$kanta" survey create --name "Bench survey" --id bench --data "$data" 2>/dev/null)
"$kanta" survey activate "$survey" --data "$data" >/dev/null
: > "$data/paths.txt"
for i in $(seq 1 200); do
  url=$("$kanta" survey link "$survey" --customer "bench-$i" --data "$data")
  echo "/${url#*://*/}" >> "$data/paths.txt"
done
path=$(head -1 "$data/paths.txt")
cat > "$data/rotate.lua" <<LUA
paths = {}
for line in io.lines("$data/paths.txt") do paths[#paths + 1] = line end
i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i % #paths) + 1])
end
LUA
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
out=$(timeout $((secs + 30)) wrk -t2 -c"$conns" -d"${secs}s" --latency -s "$data/rotate.lua" "http://127.0.0.1:$port")
echo "$out" | grep -E "Requests/sec|Latency|99%|50%|requests in|Non-2xx"
if echo "$out" | grep -q "Non-2xx"; then echo "some responses were not 200: the figure does not count" >&2; exit 1; fi
