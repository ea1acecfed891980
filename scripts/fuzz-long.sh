#!/usr/bin/env bash
# fuzz-long.sh - a long libFuzzer campaign, one target at a time, at nice 10:
#   scripts/fuzz-long.sh TARGET|all [RUNS]          (default RUNS: 10000000)
# TARGET is a fuzz/fuzz_<TARGET>.c name (api_json, config, dns, gossip, gossip_rx, key_export,
# records).
# Environment:
#   FUZZ_BUILD=DIR        clang build dir (default /tmp/gslb-fuzz-long; configured and built
#                         here with -DGSLB_FUZZ=ON: ASan + UBSan + libFuzzer)
#   FUZZ_MAX_TIME=SECS    also stop a target after SECS seconds (for slow targets; 0 = no bound)
# Each target reads the committed seed corpus (fuzz/corpus/<target>, never written) and keeps
# what it finds in DIR/long-corpus-<target> (so a second campaign goes on from there); a crash,
# leak or timeout is written to DIR/artifacts-<target>/ and makes the script exit 1.
# The last lines are one per target: executions, exec/s, new units, peak RSS and the verdict.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:?usage: scripts/fuzz-long.sh TARGET|all [RUNS]}
runs=${2:-10000000}
build=${FUZZ_BUILD:-/tmp/gslb-fuzz-long}
max_time=${FUZZ_MAX_TIME:-0}

if [ ! -x "$build/fuzz/fuzz_dns" ]; then
    CC=clang cmake -S . -B "$build" -DGSLB_FUZZ=ON -DGSLB_BUILD_TESTS=OFF \
        -DCMAKE_BUILD_TYPE=Debug >"$build.configure.log" 2>&1 ||
        { cat "$build.configure.log"; exit 1; }
fi
nice -n 10 cmake --build "$build" -j2 >/dev/null

if [ "$target" = all ]; then
    targets=()
    for src in fuzz/fuzz_*.c; do
        t=$(basename "$src" .c)
        targets+=("${t#fuzz_}")
    done
else
    [ -f "fuzz/fuzz_$target.c" ] || { echo "fuzz-long.sh: no fuzz/fuzz_$target.c" >&2; exit 2; }
    targets=("$target")
fi

results=()
failed=0
for t in "${targets[@]}"; do
    corpus="$build/long-corpus-$t"
    artifacts="$build/artifacts-$t/"
    log="$build/fuzz-long-$t.log"
    mkdir -p "$corpus" "$artifacts"
    echo "=== fuzz_$t: up to $runs runs${max_time:+ (max ${max_time}s)}, log $log ==="
    set +e
    nice -n 10 "$build/fuzz/fuzz_$t" -runs="$runs" -max_total_time="$max_time" -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$artifacts" \
        "$corpus" "fuzz/corpus/$t" >"$log" 2>&1
    rc=$?
    set -e
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n1)
    units=$(sed -n 's/^stat::new_units_added: *//p' "$log" | tail -n1)
    rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -n1)
    if [ "$rc" -eq 0 ]; then
        verdict="no finding"
    else
        verdict="FINDING (exit $rc): $(ls "$artifacts" | head -n3 | tr '\n' ' ')"
        failed=1
        tail -n 40 "$log"
    fi
    line="fuzz_$t: ${execs:-?} executions, ${rate:-?} exec/s, ${units:-?} new units, peak RSS ${rss:-?} MB: $verdict"
    echo "$line"
    results+=("$line")
done
echo "=== fuzz-long summary ==="
printf '%s\n' "${results[@]}"
exit "$failed"
