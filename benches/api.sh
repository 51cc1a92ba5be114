#!/usr/bin/env bash
# API benchmark over loopback with wrk (Debian's package), each run bounded to
# SECONDS, with a bearer token on every request (as clients send it):
#   1. GET /api/v1/customers/{id}, ids varied across the café's customers;
#   2. GET /api/v1/transactions?customer_id=…&sort=-occurred_at&limit=50, a
#      customer's latest purchases (keyset list, customers varied);
#   3. PATCH /api/v1/customers/{id} with a staff token, each request a real change
#      of the customer's segment (a write, and its audit entry, per request).
#
#   bash benches/api.sh [SECONDS] [CONNECTIONS]     (default 10 s, 32 connections)
#   KANTA_BIN=PATH bash benches/api.sh ...          (another build, e.g. an older one)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
conns=${2:-32}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
if [ -z "${KANTA_BIN:-}" ]; then cargo build --release -p kanta >&2; fi
kanta=${KANTA_BIN:-$CARGO_TARGET_DIR/release/kanta}
data=bench-data/api
rm -rf "$data"
"$kanta" demo --no-serve --data "$data" --as-of 2026-11-01 >/dev/null 2>&1
token=$("$kanta" token create "api bench" --role viewer --data "$data" 2>/dev/null)
staff=$("$kanta" token create "api bench writer" --role staff --data "$data" 2>/dev/null)
port=$(python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])")
"$kanta" serve --data "$data" --bind "127.0.0.1:$port" 2>/dev/null &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
# A benchmark measures the server, not the API rate limit (api_rate_limit, 6,000 a
# minute per token by default): an admin lifts it first.
admin=$("$kanta" token create "bench admin" --role admin --data "$data" 2>/dev/null)
curl -sf -X PUT -H "Authorization: Bearer $admin" -H "Content-Type: application/json" \
  -d '{"value": "10000000"}' "http://127.0.0.1:$port/api/v1/settings/api_rate_limit" >/dev/null
curl -sf -H "Authorization: Bearer $token" "http://127.0.0.1:$port/api/v1/customers/cafe-00001" >/dev/null \
  || { echo "the token is not accepted" >&2; exit 1; }
lua=$(mktemp --suffix .lua)
bench() {
  local what=$1 format=$2
  cat > "$lua" <<LUA
-- Each request asks about another café customer.
local n = 0
request = function()
  n = n % 5000 + 1
  return wrk.format("GET", string.format("$format", n))
end
LUA
  echo "$what, ${secs}s, $conns connections, 2 wrk threads, $(nproc) cores shared with the server"
  timeout $((secs + 30)) wrk -t2 -c"$conns" -d"${secs}s" --latency -s "$lua" \
    -H "Authorization: Bearer $token" "http://127.0.0.1:$port" \
    | grep -E "Requests/sec|Latency|99%|50%|requests in|Non-2xx"
}
bench "GET /api/v1/customers/{id}" "/api/v1/customers/cafe-%05d"
bench "GET /api/v1/transactions?customer_id={id}&sort=-occurred_at&limit=50" \
  "/api/v1/transactions?customer_id=cafe-%05d&sort=-occurred_at&limit=50"
cat > "$lua" <<'LUA'
-- Each request changes another café customer's segment (never to the value it has).
-- wrk.format replaces the headers given with -H when it is passed headers: keep them.
local n = 0
local headers = {}
request = function()
  if headers["Authorization"] == nil then
    for k, v in pairs(wrk.headers) do headers[k] = v end
    headers["Content-Type"] = "application/json"
  end
  n = n + 1
  local id = string.format("/api/v1/customers/cafe-%05d", n % 5000 + 1)
  local body = string.format('{"segment": "bench-%d-%d"}', n, math.random(1, 1000000000))
  return wrk.format("PATCH", id, headers, body)
end
LUA
echo "PATCH /api/v1/customers/{id} (a write per request), ${secs}s, $conns connections, 2 wrk threads, $(nproc) cores shared with the server"
timeout $((secs + 30)) wrk -t2 -c"$conns" -d"${secs}s" --latency -s "$lua" \
  -H "Authorization: Bearer $staff" "http://127.0.0.1:$port" \
  | grep -E "Requests/sec|Latency|99%|50%|requests in|Non-2xx"
rm -f "$lua"
