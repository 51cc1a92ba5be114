#!/usr/bin/env bash
# Load test (issue 15): SECONDS of mixed reads and writes through the JSON API at a
# constant RATE of requests/s, split evenly over two `kanta serve` instances on one
# PostgreSQL database. Targets: no error, p99 <= 20 ms, memory flat (each server's RSS
# at the end within 10% of its RSS at minute 2).
#
#   bash benches/load.sh [SECONDS] [RATE]        (default 600 s, 2000 requests/s)
#
# Environment:
#   KANTA_BIN            the binary (default target/release/kanta; built only if missing)
#   KANTA_LOAD_PG        PostgreSQL admin URL (default postgres://postgres@127.0.0.1:5432/postgres,
#                        trust auth); the database kanta_load is made afresh and dropped at the end
#   LOAD_CONNECTIONS     connections per instance (default 64)
#   (the API's rate limit per caller, api_rate_limit, is set to its maximum where the
#   build has it: one token sends the whole load)
#   LOAD_ROUTE_SECONDS   afterwards, each route alone for this long (default 10; 0: skip), at
#                        RATE/20 requests/s, the rate one of the mix's 20 slots gets; with the CPU
#                        PostgreSQL and the two servers spent per request of it
#   KANTA_LOAD_SERVE_URL the URL the two servers use instead (e.g. the same database over the
#                        Unix socket: postgres://postgres@localhost/kanta_load?host=/var/run/postgresql)
#   LOAD_ONLY=K          the main run sends route K alone (1-13, the order of the table printed by
#                        LOAD_ROUTE_SECONDS) instead of the mix, e.g. for pg_statement_profile.sh
#   LOAD_KEEP=1          keep the database kanta_load afterwards (bench-data/load keeps the
#                        servers' logs, wrk's output and the RSS samples in any case)
#
# The load generator is Debian's wrk with a Lua script (written below) that makes it an
# open-loop, constant-rate generator as wrk2 is (wrk2 is not packaged for Debian, and
# the project's machines reach only package registries): each wrk thread drives one
# instance; its `delay()` hands every request a slot on a fixed schedule (1/rate apart,
# taken from CLOCK_MONOTONIC through LuaJIT's FFI), and wrk measures latency from the
# moment the slot's request is written. A slot that finds no free connection is sent
# late, at once; such sends are counted (late > 1 ms, > 5 ms, > 20 ms, the worst lag)
# because their latency misses the wait (coordinated omission). With 64 connections per
# instance, that needs 64 requests outstanding on one instance at once.
#
# The mix, per 20 requests (80% reads, 20% writes; a random café customer each):
#   4 GET /api/v1/customers/{id}                  2 GET /api/v1/customers/{id}/timeline?limit=20
#   1 GET /api/v1/customers?limit=50              1 GET /api/v1/customers?sort=-revenue&limit=50
#   1 GET /api/v1/customers?search=NNN&limit=50   2 GET /api/v1/queue?limit=20
#   2 GET /api/v1/customers/{id}/health           1 GET /api/v1/customers/{id}/scores
#   1 GET /api/v1/transactions?customer_id={id}&sort=-occurred_at&limit=50
#   1 GET /api/v1/health/model
#   2 POST /api/v1/interactions (a new id)        1 POST /api/v1/transactions (a new id)
#   1 PATCH /api/v1/customers/{id} (acquisition_channel, a real change each time)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-600}
rate=${2:-2000}
conns=${LOAD_CONNECTIONS:-64}
route_secs=${LOAD_ROUTE_SECONDS:-10}
admin=${KANTA_LOAD_PG:-postgres://postgres@127.0.0.1:5432/postgres}
dbname=kanta_load
db="${admin%/*}/$dbname"
serve_db=${KANTA_LOAD_SERVE_URL:-$db}
kanta=${KANTA_BIN:-target/release/kanta}
out=bench-data/load
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
command -v psql >/dev/null || { apt-get update -qq && apt-get install -y -qq postgresql-client >/dev/null; }
if [ ! -x "$kanta" ]; then
  echo "no $kanta: building it" >&2
  nice -n 10 cargo build --release -p kanta >&2
fi
rm -rf "$out"
mkdir -p "$out"
sql() { psql "$admin" -qAtX -v ON_ERROR_STOP=1 -c "$1"; }

pids=()
sampler=
cleanup() {
  [ -n "$sampler" ] && kill "$sampler" 2>/dev/null || true
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ "${LOAD_KEEP:-0}" != 1 ]; then
    sql "DROP DATABASE IF EXISTS $dbname WITH (FORCE)" || true
  fi
}
trap cleanup EXIT

echo "== setup: database $dbname, demo data, an API token, two servers"
sql "DROP DATABASE IF EXISTS $dbname WITH (FORCE)"
sql "CREATE DATABASE $dbname"
t0=$(date +%s)
"$kanta" demo --no-serve --database-url "$db" >"$out/demo.log" 2>&1
echo "demo data loaded in $(( $(date +%s) - t0 )) s"
# Made as `kanta token create` makes it (the command line acts as the administrator);
# the admin role reads everything and writes everything the mix writes.
token=$("$kanta" token create "load test" --role admin --database-url "$db" 2>/dev/null)
free_port() { python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])"; }
ports=()
for i in 0 1; do
  port=$(free_port)
  "$kanta" serve --database-url "$serve_db" --bind "127.0.0.1:$port" >"$out/serve-$i.log" 2>&1 &
  pids+=($!)
  ports+=("$port")
done
for port in "${ports[@]}"; do
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
  curl -sf -H "Authorization: Bearer $token" "http://127.0.0.1:$port/api/v1/customers/cafe-00001" >/dev/null \
    || { echo "instance on $port does not accept the token" >&2; exit 1; }
done
echo "servers: pid ${pids[0]} on ${ports[0]}, pid ${pids[1]} on ${ports[1]}, over $serve_db; $(nproc) cores shared by both, PostgreSQL and wrk"
# With autovacuum off (as on the project's CI machines), the servers vacuum and analyse
# their own tables (Store::vacuum_due); the figures depend on it, so say which.
echo "PostgreSQL: autovacuum $(sql "SHOW autovacuum")"
# One token sends the whole load: lift the API's rate limit per caller to its maximum
# where this build has the setting api_rate_limit (issue 15; default 6,000 a minute).
api() { curl -sf -H "Authorization: Bearer $token" -H 'Content-Type: application/json' "$@"; }
if api "http://127.0.0.1:${ports[0]}/api/v1/settings" | grep -q '"api_rate_limit"'; then
  api -X PUT -d '{"value": "10000000"}' "http://127.0.0.1:${ports[0]}/api/v1/settings/api_rate_limit" >/dev/null
  sleep 6 # another process reads the settings again within 5 s
  for port in "${ports[@]}"; do
    api "http://127.0.0.1:$port/api/v1/settings" | python3 -c "
import json, sys
v = [s for s in json.load(sys.stdin)['items'] if s.get('key') == 'api_rate_limit']
print('api_rate_limit on $port:', v[0].get('value') if v else 'absent')"
  done
else
  echo "this build has no api_rate_limit setting: nothing to lift"
fi

# The servers' start-up jobs (the daily health pass, the profitability pass, the first
# scoring: about a minute of both cores on the demo store) would share the first
# minute with the load: wait until no job has run for 3 s (up to 4 minutes), so that
# the figures are the mix's.
quiet=0
t0=$(date +%s)
for _ in $(seq 1 240); do
  running=$(api "http://127.0.0.1:${ports[0]}/api/v1/jobs" |
    python3 -c "import json, sys; print(json.load(sys.stdin)['counts']['running'])" || echo 1)
  if [ "$running" = 0 ]; then quiet=$((quiet + 1)); else quiet=0; fi
  [ "$quiet" -ge 3 ] && break
  sleep 1
done
echo "start-up jobs done after $(( $(date +%s) - t0 )) s more"

lua="$out/load.lua"
cat >"$lua" <<'LUA'
-- Constant-rate, open-loop mixed load; see benches/load.sh.
local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } load_timespec;
int clock_gettime(int clk_id, load_timespec *tp);
]]
local ts = ffi.new("load_timespec")
local function now_us()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1e6 + tonumber(ts.tv_nsec) / 1e3
end

local threads = {}
local made = 0

function setup(thread)
  local ports = {}
  for p in string.gmatch(os.getenv("LOAD_PORTS"), "%d+") do table.insert(ports, p) end
  made = made + 1
  local port = ports[(made - 1) % #ports + 1]
  thread.addr = wrk.lookup("127.0.0.1", port)[1]
  thread:set("tid", made)
  table.insert(threads, thread)
end

-- Per thread (each thread has its own Lua state).
local interval, next_slot, n
local get_headers, body_headers, run, only, customers, mix

local function cust()
  return string.format("cafe-%05d", math.random(customers))
end

local routes = {
  -- reads
  function() return wrk.format("GET", "/api/v1/customers/" .. cust(), get_headers) end,
  function() return wrk.format("GET", "/api/v1/customers?limit=50", get_headers) end,
  function() return wrk.format("GET", "/api/v1/customers?sort=-revenue&limit=50", get_headers) end,
  function()
    return wrk.format("GET", string.format("/api/v1/customers?search=%03d&limit=50", math.random(0, 999)), get_headers)
  end,
  function() return wrk.format("GET", "/api/v1/customers/" .. cust() .. "/timeline?limit=20", get_headers) end,
  function() return wrk.format("GET", "/api/v1/queue?limit=20", get_headers) end,
  function() return wrk.format("GET", "/api/v1/customers/" .. cust() .. "/health", get_headers) end,
  function() return wrk.format("GET", "/api/v1/customers/" .. cust() .. "/scores", get_headers) end,
  function()
    return wrk.format("GET", "/api/v1/transactions?customer_id=" .. cust() .. "&sort=-occurred_at&limit=50", get_headers)
  end,
  function() return wrk.format("GET", "/api/v1/health/model", get_headers) end,
  -- writes
  function()
    local body = string.format(
      '{"id":"load-%s-%d-%d","customer_id":"%s","kind":"call","direction":"outbound",' ..
      '"outcome":"positive","purpose":"check_in","proactive":true,' ..
      '"occurred_at":"%s","note":"load test call %d"}',
      run, tid, n, cust(), os.date("!%Y-%m-%dT%H:%M:%SZ"), n)
    return wrk.format("POST", "/api/v1/interactions", body_headers, body)
  end,
  function()
    local body = string.format(
      '{"id":"load-%s-%d-%d","customer_id":"%s","occurred_at":"%s","amount":%d}',
      run, tid, n, cust(), os.date("!%Y-%m-%dT%H:%M:%SZ"), math.random(200, 5000))
    return wrk.format("POST", "/api/v1/transactions", body_headers, body)
  end,
  function()
    local body = string.format('{"acquisition_channel":"load-%s-%d-%d"}', run, tid, n)
    return wrk.format("PATCH", "/api/v1/customers/" .. cust(), body_headers, body)
  end,
}
-- 20 slots: 16 reads, 4 writes, writes spread out.
local MIX = { 1, 2, 5, 11, 6, 7, 1, 3, 12, 8, 1, 5, 4, 11, 9, 6, 1, 10, 13, 7 }

function init(args)
  interval = 1e6 / tonumber(os.getenv("LOAD_RATE_PER_THREAD"))
  run = os.getenv("LOAD_RUN")
  only = tonumber(os.getenv("LOAD_ONLY") or "0")
  customers = tonumber(os.getenv("LOAD_CUSTOMERS") or "5000")
  local auth = "Bearer " .. os.getenv("LOAD_TOKEN")
  get_headers = { ["Authorization"] = auth }
  body_headers = { ["Authorization"] = auth, ["Content-Type"] = "application/json" }
  math.randomseed(tid * 7919 + os.time())
  n = 0
  slots, late1, late5, late20, maxlag = 0, 0, 0, 0, 0
  statuses, samples = {}, {}
end

function delay()
  local now = now_us()
  if next_slot == nil then next_slot = now end
  local d = next_slot - now
  next_slot = next_slot + interval
  slots = slots + 1
  if d >= 0 then return math.floor(d / 1000 + 0.5) end
  local lag = -d
  if lag > maxlag then maxlag = lag end
  if lag > 1000 then late1 = late1 + 1 end
  if lag > 5000 then late5 = late5 + 1 end
  if lag > 20000 then late20 = late20 + 1 end
  return 0
end

function request()
  n = n + 1
  local k = only
  if k == 0 then k = MIX[(n - 1) % #MIX + 1] end
  return routes[k]()
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if (status < 200 or status > 299) and #samples < 8 then
    table.insert(samples, status .. " " .. string.sub(body or "", 1, 300))
  end
end

function done(summary, latency, requests)
  local s = { slots = 0, late1 = 0, late5 = 0, late20 = 0, maxlag = 0 }
  local st, smp = {}, {}
  for _, t in ipairs(threads) do
    for _, k in ipairs({ "slots", "late1", "late5", "late20" }) do s[k] = s[k] + (t:get(k) or 0) end
    s.maxlag = math.max(s.maxlag, t:get("maxlag") or 0)
    for code, c in pairs(t:get("statuses") or {}) do st[code] = (st[code] or 0) + c end
    for _, x in ipairs(t:get("samples") or {}) do table.insert(smp, x) end
  end
  local ok, other, codes = 0, 0, {}
  for code, c in pairs(st) do
    if code >= 200 and code <= 299 then ok = ok + c else other = other + c end
    table.insert(codes, code .. ":" .. c)
  end
  table.sort(codes)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_s=%.1f rate=%.1f ok=%d non2xx=%d statuses=%s " ..
    "connect=%d read=%d write=%d timeout=%d " ..
    "p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f p999_ms=%.2f max_ms=%.2f " ..
    "slots=%d late1=%d late5=%d late20=%d maxlag_ms=%.1f\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    ok, other, table.concat(codes, ","),
    e.connect, e.read, e.write, e.timeout,
    latency:percentile(50) / 1e3, latency:percentile(90) / 1e3, latency:percentile(99) / 1e3,
    latency:percentile(99.9) / 1e3, latency.max / 1e3,
    s.slots, s.late1, s.late5, s.late20, s.maxlag / 1e3))
  for _, x in ipairs(smp) do io.write("SAMPLE " .. x .. "\n") end
end
LUA

# RSS (kB) and CPU seconds of each server every 10 s.
ticks=$(getconf CLK_TCK)
cpu_s() { awk -v t="$ticks" '{printf "%.1f", ($14 + $15) / t}' "/proc/$1/stat"; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
pg_cpu_s() {
  local sum=0
  for p in $(pgrep -u postgres || true); do
    sum=$(( sum + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0) ))
  done
  awk -v s="$sum" -v t="$ticks" 'BEGIN {printf "%.1f", s / t}'
}

# Busy CPU seconds of the whole machine (every process: also wrk and anything else running).
machine_cpu_s() { awk -v t="$ticks" '/^cpu / {printf "%.1f", ($2 + $3 + $4 + $7 + $8) / t}' /proc/stat; }

run_wrk() { # SECONDS RATE ONLY RUN-ID
  LOAD_PORTS="${ports[0]},${ports[1]}" LOAD_RATE_PER_THREAD=$(( $2 / 2 )) LOAD_ONLY=$3 LOAD_RUN=$4 \
    LOAD_TOKEN="$token" LOAD_CUSTOMERS=5000 \
    timeout $(( $1 + 60 )) wrk -t2 -c$(( conns * 2 )) -d"${1}s" --timeout 10s -s "$lua" \
    "http://127.0.0.1:${ports[0]}"
}

stamp=$(date -u +%Y%m%dT%H%M%S)
echo "== load: ${secs} s at ${rate} requests/s, ${conns} connections per instance, 2 wrk threads (one per instance)$([ "${LOAD_ONLY:-0}" != 0 ] && echo ", route ${LOAD_ONLY} alone")"
start=$(date +%s)
{
  echo "t_s rss_kb_0 rss_kb_1 cpu_s_0 cpu_s_1 pg_cpu_s"
  while :; do
    echo "$(( $(date +%s) - start )) $(rss_kb "${pids[0]}") $(rss_kb "${pids[1]}") $(cpu_s "${pids[0]}") $(cpu_s "${pids[1]}") $(pg_cpu_s)"
    sleep 10
  done
} >"$out/rss.txt" &
sampler=$!
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
cpu_before="$(cpu_s "${pids[0]}") $(cpu_s "${pids[1]}") $(pg_cpu_s) $(machine_cpu_s)"
run_wrk "$secs" "$rate" "${LOAD_ONLY:-0}" "$stamp" | tee "$out/wrk.txt"
cpu_after="$(cpu_s "${pids[0]}") $(cpu_s "${pids[1]}") $(pg_cpu_s) $(machine_cpu_s)"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
# One last sample at the very end.
echo "$(( $(date +%s) - start )) $(rss_kb "${pids[0]}") $(rss_kb "${pids[1]}") $(cpu_s "${pids[0]}") $(cpu_s "${pids[1]}") $(pg_cpu_s)" >>"$out/rss.txt"
kill "$sampler" 2>/dev/null || true
sampler=

echo "== RSS of each server (kB), every 10 s"
column -t "$out/rss.txt" | awk 'NR == 1 || (NR - 2) % 6 == 0 || 0' | head -40
echo "(all samples: $out/rss.txt)"

python3 - "$out/wrk.txt" "$out/rss.txt" "$secs" "$rate" "$cpu_before" "$cpu_after" <<'PY'
import sys
wrk, rss, secs, rate = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
before = [float(x) for x in sys.argv[5].split()]
after = [float(x) for x in sys.argv[6].split()]
line = next((l for l in open(wrk) if l.startswith("RESULT ")), None)
if line is None:
    print("no RESULT line from wrk"); sys.exit(1)
r = dict(kv.split("=", 1) for kv in line.split()[1:])
f = {k: float(v) for k, v in r.items() if k != "statuses"}
rows = [list(map(float, l.split())) for l in open(rss).read().splitlines()[1:] if l.strip()]
# Minute 2 (or, in a run shorter than 3 minutes, a third of the way in) against the end.
at = 120 if secs >= 180 else max(10, secs // 3 // 10 * 10)
base = min(rows, key=lambda x: abs(x[0] - at))
end = rows[-1]
sock = f["connect"] + f["read"] + f["write"] + f["timeout"]
print(f"requests {int(f['requests'])} in {f['duration_s']:.1f} s = {f['rate']:.0f}/s (asked {rate}/s); "
      f"statuses {r['statuses']}")
print(f"non-2xx {int(f['non2xx'])}; socket errors {int(sock)} (connect {int(f['connect'])}, read {int(f['read'])}, "
      f"write {int(f['write'])}, timeout {int(f['timeout'])})")
print(f"latency p50 {f['p50_ms']:.2f} ms, p90 {f['p90_ms']:.2f} ms, p99 {f['p99_ms']:.2f} ms, "
      f"p99.9 {f['p999_ms']:.2f} ms, max {f['max_ms']:.2f} ms")
print(f"sent late (no free connection at the slot): >1 ms {int(f['late1'])}, >5 ms {int(f['late5'])}, "
      f">20 ms {int(f['late20'])} of {int(f['slots'])} slots; worst lag {f['maxlag_ms']:.1f} ms")
used = [a - b for a, b in zip(after, before)]
used.append(used[3] - sum(used[:3]))
names = ["server 0", "server 1", "PostgreSQL", "machine", "wrk and everything else"]
print("CPU seconds during the load: " + ", ".join(
    f"{n} {u:.0f} s ({u / f['duration_s'] * 100:.0f}% of a core)" for n, u in zip(names, used)))
ratios = []
for i in (0, 1):
    ratio = end[1 + i] / base[1 + i]
    ratios.append(ratio)
    print(f"server {i} RSS: {base[1 + i] / 1024:.1f} MiB at {int(base[0])} s, {end[1 + i] / 1024:.1f} MiB at the end "
          f"({int(end[0])} s): ratio {ratio:.3f}")
checks = [
    ("no error (no non-2xx, no socket error)", f["non2xx"] == 0 and sock == 0),
    (f"rate held ({f['rate']:.0f}/s >= 99% of {rate}/s)", f["rate"] >= 0.99 * rate),
    (f"p99 <= 20 ms ({f['p99_ms']:.2f} ms)", f["p99_ms"] <= 20),
    (f"memory flat (RSS at the end within 10% of {int(base[0])} s: {ratios[0]:.3f}, {ratios[1]:.3f})",
     all(abs(x - 1) <= 0.10 for x in ratios)),
]
for name, ok in checks:
    print(f"{'PASS' if ok else 'FAIL'}  {name}")
PY
grep '^SAMPLE' "$out/wrk.txt" | head -8 || true
errs=$(grep -ciE ' (ERROR|WARN) ' "$out"/serve-*.log || true)
echo "server log lines at WARN or ERROR: $(echo "$errs" | tr '\n' ' ')"
grep -hE ' (ERROR|WARN) ' "$out"/serve-*.log | head -5 || true

if [ "$route_secs" -gt 0 ]; then
  echo "== each route alone, ${route_secs} s at $(( rate / 20 )) requests/s (its slot's share of the mix) over both instances"
  printf "%-72s %8s %8s %8s %8s %6s %9s %9s %9s\n" route "req/s" "p50 ms" "p99 ms" "max ms" non2xx \
    "PG ms/r" "srv ms/r" "all ms/r"
  names=("GET /api/v1/customers/{id}" "GET /api/v1/customers?limit=50"
    "GET /api/v1/customers?sort=-revenue&limit=50" "GET /api/v1/customers?search=NNN&limit=50"
    "GET /api/v1/customers/{id}/timeline?limit=20" "GET /api/v1/queue?limit=20"
    "GET /api/v1/customers/{id}/health" "GET /api/v1/customers/{id}/scores"
    "GET /api/v1/transactions?customer_id={id}&sort=-occurred_at&limit=50" "GET /api/v1/health/model"
    "POST /api/v1/interactions (new id)" "POST /api/v1/transactions (new id)" "PATCH /api/v1/customers/{id}")
  for k in $(seq 1 13); do
    name=${names[$((k - 1))]}
    b="$(cpu_s "${pids[0]}") $(cpu_s "${pids[1]}") $(pg_cpu_s) $(machine_cpu_s)"
    res=$(run_wrk "$route_secs" $(( rate / 20 )) "$k" "$stamp-r$k" | grep '^RESULT')
    a="$(cpu_s "${pids[0]}") $(cpu_s "${pids[1]}") $(pg_cpu_s) $(machine_cpu_s)"
    python3 - "$name" "$res" "$b" "$a" <<'PY'
import sys
r = dict(kv.split("=", 1) for kv in sys.argv[2].split()[1:])
b = [float(x) for x in sys.argv[3].split()]
a = [float(x) for x in sys.argv[4].split()]
n = max(float(r['requests']), 1)
# CPU of PostgreSQL, of both servers and of the whole machine (wrk and background jobs
# too) per request of this route alone. CPU seconds are read at 10 ms resolution; a
# PostgreSQL process that ends meanwhile (an autovacuum worker) takes its CPU with it,
# so the machine's figure is the one to sum.
pg = (a[2] - b[2]) / n * 1e3
srv = (a[0] - b[0] + a[1] - b[1]) / n * 1e3
print(f"{sys.argv[1]:<72} {float(r['rate']):8.0f} {float(r['p50_ms']):8.2f} {float(r['p99_ms']):8.2f} "
      f"{float(r['max_ms']):8.2f} {r['non2xx']:>6} {pg:9.2f} {srv:9.2f} {(a[3] - b[3]) / n * 1e3:9.2f}")
PY
  done
fi
