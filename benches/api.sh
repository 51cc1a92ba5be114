#!/usr/bin/env bash
# API benchmark over loopback: `GET /api/v1/customers/{id}` on the demo store, with
# wrk (Debian's package) for a bounded 10 s, ids varied across the café's customers.
#
#   bash benches/api.sh [SECONDS] [CONNECTIONS]     (default 10 s, 32 connections)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
conns=${2:-32}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
cargo build --release -p kanta >&2
kanta=target/release/kanta
data=bench-data/api
rm -rf "$data"
"$kanta" demo --no-serve --data "$data" --as-of 2026-11-01 >/dev/null 2>&1
port=$(python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])")
"$kanta" serve --data "$data" --bind "127.0.0.1:$port" 2>/dev/null &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
lua=$(mktemp --suffix .lua)
cat > "$lua" <<'LUA'
-- Each request asks for another café customer.
local n = 0
request = function()
  n = n % 5000 + 1
  return wrk.format("GET", string.format("/api/v1/customers/cafe-%05d", n))
end
LUA
echo "GET /api/v1/customers/{id}, ${secs}s, $conns connections, 2 wrk threads, $(nproc) cores shared with the server"
wrk -t2 -c"$conns" -d"${secs}s" --latency -s "$lua" "http://127.0.0.1:$port" | grep -E "Requests/sec|Latency|99%|50%|requests in|Non-2xx"
