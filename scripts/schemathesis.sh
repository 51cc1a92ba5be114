#!/usr/bin/env bash
# Property-based tests of the API against its own contract, docs/openapi.json, with
# schemathesis (from PyPI, in a virtual environment under target/ made on first use).
#
#   bash scripts/schemathesis.sh [--max-examples N] [--max-time SECONDS] [--seed N]
#        [--roles viewer,staff,manager,admin] [--port PORT] [--workers N]
#        [--checks LIST] [--extra-checks LIST] [--phases LIST] [--no-ids]
#        [--out DIR] [--report FILE] [--keep] [-- ARGS FOR st run]
#
# DIR is --out (default target/schemathesis-out), emptied at each start. It builds
# a throw-away demo store (`kanta demo --no-serve`) in DIR/data, makes an
# API token of each role, serves the store on 127.0.0.1 (the server's log in
# DIR/serve.log) and runs `st run` once per role, in the order given (the admin
# last: an admin's calls erase customers and change settings). The server is
# stopped on exit, whatever happens.
#
# Checks: the gating ones (--checks, default not_a_server_error and
# response_schema_conformance) decide the exit status; the advisory ones
# (--extra-checks, default status_code_conformance and content_type_conformance;
# `none` for none) are reported but do not fail the run.
#
# Path parameters get, besides generated values, real ids of the store (first page
# of each collection, scripts/schemathesis/make_config.py; --no-ids leaves them out).
#
# Each 5xx is sent again at the end, dropping body fields and query parameters
# while it still fails, for a minimal curl line.
#
# The default budget (30 examples an operation) took about 4 minutes on two busy
# cores (3 with 20, 6 with 50). Which failures a run finds varies with the seed:
# the 5xx of a rare input may take a few runs or a larger budget.
#
# Output: a Markdown report (default /tmp/schemathesis-report.md, and DIR/report.md)
# with, per role, the operations tested, the answers by status class and each
# distinct failure with a curl line that reproduces it; DIR/<role>.txt is
# schemathesis' own output, DIR/<role>.json its report (DIR/<role>.ndjson, every
# request and answer, and the store are kept only with --keep),
# DIR/tokens.env the tokens (source it, with KANTA_URL, to replay a curl line
# while a server runs on the store).
#
# Exit status: 0 when no gating check failed, 1 when one did (or schemathesis
# could not test), 2 on a usage or setup error.
#
# The kanta binary is $KANTA_BIN, default target/release/kanta if present, else
# target/debug/kanta; it is copied into DIR first, so a rebuild during the run
# does not disturb it. Nothing here compiles.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

max_examples=30
max_time=""
seed=""
roles="viewer,staff,manager,admin"
port=""
workers=2
checks="not_a_server_error,response_schema_conformance"
extra_checks="status_code_conformance,content_type_conformance"
phases=""
use_ids=1
out="${CARGO_TARGET_DIR:-target}/schemathesis-out"
report=/tmp/schemathesis-report.md
keep=0
passthrough=()

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }
die() { echo "schemathesis.sh: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
    case $1 in
        -n|--max-examples) max_examples=${2:?}; shift 2 ;;
        --max-time) max_time=${2:?}; shift 2 ;;
        --seed) seed=${2:?}; shift 2 ;;
        --roles) roles=${2:?}; shift 2 ;;
        --port) port=${2:?}; shift 2 ;;
        -w|--workers) workers=${2:?}; shift 2 ;;
        -c|--checks) checks=${2:?}; shift 2 ;;
        --extra-checks) extra_checks=${2:?}; shift 2 ;;
        --phases) phases=${2:?}; shift 2 ;;
        --no-ids) use_ids=0; shift ;;
        --out) out=${2:?}; shift 2 ;;
        --report) report=${2:?}; shift 2 ;;
        --keep) keep=1; shift ;;
        -h|--help) usage; exit 0 ;;
        --) shift; passthrough=("$@"); break ;;
        *) die "unknown option '$1' (see --help)" ;;
    esac
done
[[ $max_examples =~ ^[1-9][0-9]*$ ]] || die "--max-examples wants a whole number above 0"
[ -z "$max_time" ] || [[ $max_time =~ ^[1-9][0-9]*$ ]] || die "--max-time wants whole seconds"
[ -z "$seed" ] || [[ $seed =~ ^[0-9]+$ ]] || die "--seed wants a whole number"
IFS=, read -r -a role_list <<<"$roles"
for r in "${role_list[@]}"; do
    case $r in viewer|staff|manager|admin) ;; *) die "unknown role '$r' (viewer, staff, manager, admin)" ;; esac
done
[ "$extra_checks" = none ] && extra_checks=""
all_checks=$checks${extra_checks:+,$extra_checks}

# The binary: copied, so that a rebuild of target/ during the run does not disturb it.
if [ -z "${KANTA_BIN:-}" ]; then
    if [ -x target/release/kanta ]; then KANTA_BIN=target/release/kanta; else KANTA_BIN=target/debug/kanta; fi
fi
[ -x "$KANTA_BIN" ] || die "no kanta binary at $KANTA_BIN (build it, or set KANTA_BIN)"

# schemathesis, pinned to the major version whose CLI this script speaks.
venv=${CARGO_TARGET_DIR:-target}/schemathesis-venv
if ! "$venv/bin/python" -c 'import schemathesis, sys; sys.exit(not schemathesis.__version__.startswith("4."))' 2>/dev/null; then
    echo "== installing schemathesis into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check 'schemathesis>=4.32,<5'
fi
st=$root/$venv/bin/st
py=$root/$venv/bin/python
case $venv in /*) st=$venv/bin/st; py=$venv/bin/python ;; esac

# A fresh run folder every time (idempotent), outside the sources.
case $out in /*) ;; *) out=$root/$out ;; esac
if [ -d "$out" ] && [ -n "$(ls -A "$out")" ] && [ ! -e "$out/.schemathesis-run" ]; then
    die "$out is not empty and not a folder of an earlier run: give another --out"
fi
rm -rf "$out"
mkdir -p "$out"
touch "$out/.schemathesis-run"
cp "$KANTA_BIN" "$out/kanta"
kanta=$out/kanta
data=$out/data
# The environment's own store settings must not leak in.
unset KANTA_DATA KANTA_DATABASE_URL KANTA_CONFIG

server_pid=""
st_pid=""
cleanup() {
    local rc=$?
    if [ -n "$st_pid" ]; then kill "$st_pid" 2>/dev/null || true; wait "$st_pid" 2>/dev/null || true; fi
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill "$server_pid" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    [ "$keep" = 1 ] || rm -rf "$data" "$out/kanta"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

started=$(date +%s)
echo "== demo store in $data"
"$kanta" --data "$data" demo --no-serve >"$out/demo.log" 2>&1 || { cat "$out/demo.log" >&2; die "kanta demo failed"; }

: >"$out/tokens.env"
declare -A token
for r in viewer staff manager admin; do
    token[$r]=$("$kanta" --data "$data" token create "schemathesis-$r" --role "$r" 2>/dev/null | tail -n 1)
    [[ ${token[$r]} =~ ^[A-Za-z0-9_]+$ ]] || die "could not create a $r token"
    echo "KANTA_${r^^}_TOKEN=${token[$r]}" >>"$out/tokens.env"
done

if [ -z "$port" ]; then
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
fi
url=http://127.0.0.1:$port
echo "KANTA_URL=$url" >>"$out/tokens.env"

echo "== serving on $url (log: $out/serve.log)"
RUST_LOG=${RUST_LOG:-info} NO_COLOR=1 "$kanta" --data "$data" serve --bind "127.0.0.1:$port" \
    --score-every-hours 0 >"$out/serve.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
    curl -fsS -o /dev/null "$url/healthz" 2>/dev/null && break
    kill -0 "$server_pid" 2>/dev/null || { tail -20 "$out/serve.log" >&2; die "the server stopped at start"; }
    sleep 0.2
done
curl -fsS -o /dev/null "$url/healthz" || die "the server did not answer $url/healthz"

config_args=()
if [ "$use_ids" = 1 ]; then
    # Real ids of the store for the path parameters (besides generated ones).
    "$py" scripts/schemathesis/make_config.py --spec docs/openapi.json --url "$url" \
        --token "${token[admin]}" --out "$out/schemathesis.toml"
    config_args=(--config-file "$out/schemathesis.toml")
else
    : >"$out/schemathesis.toml"
    config_args=(--config-file "$out/schemathesis.toml")
fi

[ -n "$seed" ] || seed=$(( (RANDOM << 15 | RANDOM) ))
summary_args=()
status=0
for r in "${role_list[@]}"; do
    echo "== $r: st run, $max_examples examples an operation${max_time:+, at most $max_time s}, seed $seed"
    args=(run "$root/docs/openapi.json" --url "$url"
        --header "Authorization: Bearer ${token[$r]}"
        --checks "$all_checks"
        --max-examples "$max_examples" --seed "$seed" --workers "$workers"
        --generation-with-security-parameters false
        --generation-database none
        --no-color
        --report json,ndjson --report-dir "$out"
        --report-json-path "$out/$r.json" --report-ndjson-path "$out/$r.ndjson")
    [ -z "$max_time" ] || args+=(--max-time "$max_time")
    [ -z "$phases" ] || args+=(--phases "$phases")
    t0=$(date +%s)
    # schemathesis exits 1 on any failure; the summary below decides. In the
    # background, so that a signal reaches the traps at once.
    (cd "$out" && exec "$st" "${config_args[@]}" "${args[@]}" "${passthrough[@]}") >"$out/$r.txt" 2>&1 &
    st_pid=$!
    wait "$st_pid" || true
    st_pid=""
    echo "   $(($(date +%s) - t0)) s; $(grep -E '^=+ .* in [0-9.]+s =+$' "$out/$r.txt" | tr -d '=' | sed 's/^ *//' || echo 'no summary line: see '"$out/$r.txt")"
    summary_args+=("$r=$out/$r.ndjson:$out/$r.json")
done

elapsed=$(($(date +%s) - started))
preamble="$(date -u +%Y-%m-%dT%H:%M:%SZ), $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD 2>/dev/null || echo ' (with local changes)'), binary $KANTA_BIN; schemathesis $("$py" -c 'import schemathesis; print(schemathesis.__version__)'); --max-examples $max_examples${max_time:+ --max-time $max_time} --seed $seed, roles $roles; $elapsed s in all. Checks: $all_checks. Run folder: $out."
"$py" scripts/schemathesis/summarize.py --spec docs/openapi.json --server-log "$out/serve.log" \
    --report "$out/report.md" --gating "$checks" --base-url "$url" \
    --tokens "$out/tokens.env" --preamble "$preamble" "${summary_args[@]}" || status=$?
# the summary sends each 5xx again to minimise it: the server stops only now
kill "$server_pid" 2>/dev/null || true
wait "$server_pid" 2>/dev/null || true
server_pid=""
[ "$report" = "$out/report.md" ] || cp "$out/report.md" "$report"
# keep the big event streams only with --keep
[ "$keep" = 1 ] || rm -f "$out"/*.ndjson
sed -n '/^## Per role/,/^Gating checks/p' "$out/report.md"
echo "== report: $report ($elapsed s)"
case $status in
    0) echo "== no 5xx and no answer off its documented schema" ;;
    1) echo "== FAILED: see the gating failures in $report" ;;
    *) echo "== the summary could not be made (exit $status)"; status=2 ;;
esac
exit "$status"
