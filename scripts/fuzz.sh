#!/usr/bin/env bash
# Fuzzes Kanta's parsers with cargo-fuzz and libFuzzer (issue 15).
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
# Runs each target (default: all five, 720 s each, one hour in all) for the given time
# and prints, per target, the runs executed, the corpus size and the crashes; exits
# non-zero when any target crashed (or did not build), naming the artifact.
#
# The targets live in fuzz/ (a cargo project outside the main workspace) and need
# nightly flags (-Zsanitizer=address): on the stable toolchain they are built with
# RUSTC_BOOTSTRAP=1, with debug assertions and overflow checks on (-a).
#
# Inputs, per target T:
#   fuzz/seeds/T/        the seed inputs (tracked; read only)
#   fuzz/regressions/T/  minimised crashes kept as regression tests (tracked; run
#                        first, so a crash that comes back fails at once)
#   fuzz/corpus/T/       the corpus the runs grow (not tracked)
#   fuzz/dicts/T.dict    a libFuzzer dictionary, when there is one
# Output: fuzz/artifacts/T/ (crashes, timeouts, OOMs), fuzz/logs/T.log, fuzz/target/.
#
# FUZZ_ARGS adds libFuzzer flags (e.g. FUZZ_ARGS="-fork=1 -ignore_crashes=1" to go
# on past a crash and collect several).
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
FUZZ="$ROOT/fuzz"
ALL=(import_row money_date csv_sniff survey_token events_json)

SECS=${1:-720}
if ! [[ "$SECS" =~ ^[0-9]+$ ]] || [ "$SECS" -lt 1 ]; then
    echo "usage: $0 [SECONDS_PER_TARGET] [TARGET...]   (targets: ${ALL[*]})" >&2
    exit 2
fi
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -eq 0 ] && TARGETS=("${ALL[@]}")
for t in "${TARGETS[@]}"; do
    if [ ! -f "$FUZZ/fuzz_targets/$t.rs" ]; then
        echo "no fuzz target '$t' (targets: ${ALL[*]})" >&2
        exit 2
    fi
done

export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="$FUZZ/target"
NICE=(nice -n 19)

if ! command -v cargo-fuzz >/dev/null 2>&1; then
    echo "== installing cargo-fuzz"
    "${NICE[@]}" cargo install cargo-fuzz --locked || "${NICE[@]}" cargo install cargo-fuzz || exit 1
fi

cd "$ROOT" || exit 1
echo "== building ${TARGETS[*]} (address sanitizer, debug assertions)"
built=()
for t in "${TARGETS[@]}"; do
    if "${NICE[@]}" cargo fuzz build -a --fuzz-dir "$FUZZ" "$t"; then
        built+=("$t")
    else
        echo "!! $t did not build" >&2
    fi
done

mkdir -p "$FUZZ/logs"
failed=0
summary=()
for t in "${TARGETS[@]}"; do
    if [[ ! " ${built[*]} " == *" $t "* ]]; then
        summary+=("$t: did not build")
        failed=1
        continue
    fi
    corpus="$FUZZ/corpus/$t"
    artifacts="$FUZZ/artifacts/$t"
    log="$FUZZ/logs/$t.log"
    mkdir -p "$corpus" "$artifacts"
    dirs=("$corpus")
    [ -d "$FUZZ/seeds/$t" ] && dirs+=("$FUZZ/seeds/$t")
    [ -d "$FUZZ/regressions/$t" ] && dirs+=("$FUZZ/regressions/$t")
    flags=(-max_total_time="$SECS" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1
           -artifact_prefix="$artifacts/")
    [ -f "$FUZZ/dicts/$t.dict" ] && flags+=(-dict="$FUZZ/dicts/$t.dict")
    # The events target's store (sqlx's connection threads, SQLite's caches) holds
    # memory across inputs, so libFuzzer's leak check would scan the heap after
    # nearly every input and find nothing: off for it.
    [ "$t" = events_json ] && flags+=(-detect_leaks=0)
    # shellcheck disable=SC2206
    [ -n "${FUZZ_ARGS:-}" ] && flags+=(${FUZZ_ARGS})
    marker=$(mktemp)
    echo "== fuzzing $t for ${SECS}s (log: ${log#"$ROOT"/})"
    "${NICE[@]}" cargo fuzz run -a --fuzz-dir "$FUZZ" "$t" "${dirs[@]}" -- "${flags[@]}" >"$log" 2>&1
    rc=$?
    runs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | tail -1 | awk '{print $2}')
    if [ -z "$runs" ]; then
        # A crash ends the run before the final stats: the last status line has the count.
        runs=$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#')
    fi
    corp=$(grep -oE 'corp: [0-9]+/[0-9]+[bKM]?b?' "$log" | tail -1 | sed 's/corp: //')
    files=$(find "$corpus" -type f | wc -l)
    mapfile -t new < <(find "$artifacts" -type f -newer "$marker" | sort)
    rm -f "$marker"
    crashes=${#new[@]}
    line="$t: ${runs:-?} runs, corpus ${files} files (libFuzzer corp ${corp:-?}), crashes ${crashes}"
    if [ "$rc" -ne 0 ] || [ "$crashes" -gt 0 ]; then
        failed=1
        line+=" (exit $rc)"
        for a in "${new[@]}"; do line+=$'\n'"    artifact: ${a#"$ROOT"/}"; done
        # The panic's message and the first frame in Kanta's code, or the
        # sanitizer's summary, or why libFuzzer did not run.
        what=$(grep -m1 -A1 "panicked at" "$log" | tail -n +2)
        frame=$(grep -m1 -E "at \./crates/" "$log" | sed 's/^ *//')
        asan=$(grep -m1 -E "^SUMMARY: |ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)" "$log")
        for l in "$what" "$frame" "$asan"; do
            [ -n "$l" ] && line+=$'\n'"    $l"
        done
        if [ "$crashes" -eq 0 ] && [ -z "$what$asan" ]; then
            line+=$'\n'"    $(grep -v '^ ' "$log" | grep -m1 -iE 'error' )"
        fi
    fi
    echo "$line"
    summary+=("$line")
done

echo
echo "== summary (${SECS}s per target)"
printf '%s\n' "${summary[@]}"
if [ "$failed" -ne 0 ]; then
    echo "FAILED: a target crashed or did not build; see the artifacts and fuzz/logs/" >&2
    exit 1
fi
echo "no crashes"
