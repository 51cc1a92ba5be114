#!/usr/bin/env bash
# The job queue's claim rate on PostgreSQL with two instances: JOBS jobs are queued,
# then two processes with WORKERS workers each claim (FOR UPDATE SKIP LOCKED, with a
# lease) and complete them until none is left, at the same time on the machine's
# cores. Prints each process's figures, the total rate, and checks in SQL that every
# job ran exactly once.
#
#   bash benches/jobs.sh [JOBS] [WORKERS]      (default 20000 jobs, 2 workers each)
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${1:-20000}
workers=${2:-2}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
cargo build --release -p kanta-core --example jobs_bench >&2
bin=$CARGO_TARGET_DIR/release/examples/jobs_bench
pg_admin=${KANTA_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
db=kanta_bench_jobs
psql "$pg_admin" -q -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null
url="${pg_admin%/*}/$db"
"$bin" "$url" enqueue "$jobs"
start=$(date +%s.%N)
"$bin" "$url" work "$workers" > /tmp/kanta-jobs-a.json &
a=$!
"$bin" "$url" work "$workers" > /tmp/kanta-jobs-b.json &
b=$!
wait $a $b
end=$(date +%s.%N)
cat /tmp/kanta-jobs-a.json /tmp/kanta-jobs-b.json
psql "$url" -At -c "SELECT 'done ' || count(*) FILTER (WHERE status = 'done') || ', attempts other than 1: ' || count(*) FILTER (WHERE attempts <> 1) || ', not done: ' || count(*) FILTER (WHERE status <> 'done') FROM jobs"
python3 - "$jobs" "$start" "$end" <<'PY'
import sys
n, a, b = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
print(f"two instances: {n} jobs in {b - a:.2f} s = {n / (b - a):.0f} jobs/s")
PY
psql "$pg_admin" -q -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null
