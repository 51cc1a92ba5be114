#!/usr/bin/env bash
# A survey wave of N customers (default 10,000) with the release build:
#   1. queued: `kanta survey send` (one transaction: the wave, the invitation log, the
#      outbox rows and their mail.send jobs); the CLI prints the seconds it took.
#      Target: <= 2 s on SQLite and PostgreSQL.
#   2. sent: `kanta serve` (KANTA_SERVE__WORKERS workers, default 4) to a loopback SMTP
#      sink (benches/smtp_sink.py); rate = messages / (last - first arrival).
#      Target: >= 200 messages/s.
#   3. PostgreSQL only: two `kanta serve` on the one database, one killed with
#      kill -9 at a quarter of the wave; the sink counts recipients received twice
#      (must be 0) and the outbox the messages that ended "may have
#      been sent".
#
#   bash benches/survey_wave.sh [N]
#
# PostgreSQL runs when KANTA_TEST_POSTGRES_URL (a server URL, e.g.
# postgres://postgres@127.0.0.1:5432/postgres) is set; a database kanta_bench_wave is
# created there (dropped first). Kanta is the release build (KANTA_BIN overrides).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-10000}
workers=${KANTA_SERVE__WORKERS:-4}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
if [ -z "${KANTA_BIN:-}" ]; then cargo build --release -p kanta >&2; fi
kanta=$(realpath "${KANTA_BIN:-$CARGO_TARGET_DIR/release/kanta}")
sink=$(realpath benches/smtp_sink.py)
work=$(realpath -m bench-data/survey_wave)
rm -rf "$work"
mkdir -p "$work"
python3 - "$n" >"$work/customers.csv" <<'PY'
import sys
n = int(sys.argv[1])
print("id,name,email,locale,survey_consent")
for i in range(n):
    print(f"c{i},Asiakas {i},asiakas{i}@example.fi,{'en' if i % 4 == 0 else 'fi'},true")
PY
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
stat() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d.get(sys.argv[2]) or 0)' "$1" "$2"; }
pids=()
cleanup() { for p in "${pids[@]:-}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

serve() { # log file; prints the pid
  KANTA_MAIL__SMTP_URL="smtp://127.0.0.1:$sink_port" KANTA_SERVE__WORKERS=$workers \
    KANTA_JOBS__LEASE_SECONDS=5 KANTA_JOBS__POLL_MS=50 KANTA_JOBS__RETRY_SECONDS=1 \
    "$kanta" serve --bind 127.0.0.1:0 --score-every-hours 0 >"$1" 2>&1 &
  echo $!
}

# Outbox rows of a status (measurement only: the bench reads the table directly).
outbox() { # status [error substring]
  local where="status = '$1'"
  [ -n "${2:-}" ] && where="$where AND last_error LIKE '%$2%'"
  if [ "$backend" = postgres ]; then
    psql "$KANTA_DATABASE_URL" -Atc "SELECT count(*) FROM outbox WHERE $where"
  else
    python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM outbox WHERE " + sys.argv[2]).fetchone()[0])' "$dir/kanta.db" "$where"
  fi
}

wait_sent() { # waits until the outbox has nothing queued (at most 10 minutes)
  local deadline=$((SECONDS + 600))
  while [ "$(outbox queued)" != 0 ]; do
    [ $SECONDS -lt $deadline ] || { echo "timed out" >&2; break; }
    sleep 0.5
  done
  sleep 1
}

backends=sqlite
base=${KANTA_TEST_POSTGRES_URL:-}
[ -n "$base" ] && backends="sqlite postgres"
for backend in $backends; do
  dir="$work/$backend"
  mkdir -p "$dir"
  cd "$dir"
  if [ "$backend" = postgres ]; then
    psql "$base" -q -c "DROP DATABASE IF EXISTS kanta_bench_wave" -c "CREATE DATABASE kanta_bench_wave" >/dev/null
    export KANTA_DATABASE_URL="${base%/*}/kanta_bench_wave"
  else
    export KANTA_DATABASE_URL="sqlite://$dir/kanta.db"
  fi
  unset KANTA_DATA || true
  "$kanta" import customers "$work/customers.csv" >/dev/null
  "$kanta" survey create --name "Bench wave" --id wave >/dev/null
  "$kanta" survey activate wave >/dev/null
  # No quiet hours, whatever the time of day (a manager's token, the settings API).
  token=$("$kanta" token create bench --role manager)
  sink_port=$(free_port)
  cfg=$(serve "$dir/setup.log"); pids+=("$cfg")
  for _ in $(seq 100); do grep -q " on http://" "$dir/setup.log" && break; sleep 0.1; done
  addr=$(grep -o ' on http://[^/]*' "$dir/setup.log" | head -1 | sed 's| on http://||')
  curl -sf -X PUT -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    -d '{"value": "none"}' "http://$addr/api/v1/settings/survey_quiet_hours" >/dev/null
  kill -9 "$cfg"; wait "$cfg" 2>/dev/null || true

  echo "== $backend: $n customers =="
  "$kanta" survey send wave | sed -n 1p

  python3 "$sink" --port "$sink_port" --stats "$dir/sink.json" & pids+=($!)
  sleep 0.5
  a=$(serve "$dir/a.log"); pids+=("$a")
  if [ "$backend" = postgres ]; then
    b=$(serve "$dir/b.log"); pids+=("$b")
    while [ "$(stat "$dir/sink.json" messages 2>/dev/null || echo 0)" -lt $((n / 4)) ]; do sleep 0.1; done
    kill -9 "$a"; wait "$a" 2>/dev/null || true
    echo "server A killed (kill -9) at $(stat "$dir/sink.json" messages) messages received"
  fi
  wait_sent
  python3 - "$dir/sink.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
span = (d["last"] or 0) - (d["first"] or 0)
rate = d["messages"] / span if span > 0 else float("nan")
print(f"sent: {d['messages']} messages to {d['recipients']} recipients in {span:.2f} s = {rate:.0f} messages/s; recipients received twice: {d['duplicates']}")
PY
  echo "outbox: $(outbox sent) sent, $(outbox failed 'may have been sent') \"may have been sent\", $(outbox failed) failed in all"
  cleanup
  pids=()
  cd - >/dev/null
done
