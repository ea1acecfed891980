#!/usr/bin/env bash
# test.sh - install what the tests need, build, and run the whole suite:
#   1. the normal build (gcc, -Werror) and every ctest test: unit, system, fuzz corpus replay;
#   2. a 5-minute soak of the normal build (scripts/soak.sh: agents flapping, overrides,
#      reloads, key syncs and DNS load; RSS, fds and store size flat, no error lines);
#   3. the same suite built with AddressSanitizer + UndefinedBehaviorSanitizer;
#   4. the libFuzzer targets (clang) run for a short bounded time each;
#   5. compile-only builds a packager would make: Release with gcc and with clang, -Werror.
# Exits non-zero on the first failing stage. Set GSLB_TEST_QUICK=1 to run stage 1 only;
# GSLB_SOAK=DURATION changes the soak's length (default 5m).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test

jobs=$(nproc)
summary=()
built=()
soaked=()

run_stage() {
    local name=$1 dir=$2 filter=$3
    shift 3
    echo "=== $name: build ($dir) ==="
    scripts/build.sh "$dir" "$@"
    echo "=== $name: ctest ==="
    local log="$dir.ctest.log"
    set +e
    ctest --test-dir "$dir" -j"$jobs" --output-on-failure ${filter:+-R "$filter"} 2>&1 | tee "$log"
    local rc=${PIPESTATUS[0]}
    set -e
    summary+=("$name: $(grep -E 'tests passed' "$log" | tail -n1)")
    [ "$rc" -eq 0 ] || { echo "test.sh: stage '$name' failed"; printf '%s\n' "${summary[@]}"; exit "$rc"; }
}

compile_only() {
    local name=$1 dir=$2 cc=$3
    echo "=== $name: build only ($dir) ==="
    CC=$cc BUILD_TYPE=Release scripts/build.sh "$dir" -DGSLB_WERROR=ON -DGSLB_BUILD_TESTS=OFF
    built+=("$name: compiled (Release, $cc, -Werror)")
}

soak_stage() {
    local dir=$1 duration=$2
    echo "=== soak: $duration ($dir) ==="
    local log="$dir.soak.log"
    set +e
    BUILD_DIR=$dir scripts/soak.sh "$duration" 2>&1 | tee "$log"
    local rc=${PIPESTATUS[0]}
    set -e
    soaked+=("$(grep -E '^soak verdict:' "$log" | tail -n1 || echo "soak verdict: none (exit $rc)")")
    [ "$rc" -eq 0 ] || {
        echo "test.sh: stage 'soak' failed"
        printf '%s\n' "${soaked[@]}" "${summary[@]}"
        exit "$rc"
    }
}

run_stage "normal" build-test "" -DGSLB_WERROR=ON
if [ "${GSLB_TEST_QUICK:-0}" != 1 ]; then
    soak_stage build-test "${GSLB_SOAK:-5m}"
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        run_stage "asan+ubsan" build-asan "" -DGSLB_WERROR=ON -DGSLB_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
    CC=clang run_stage "libfuzzer" build-fuzz '^fuzz\.' -DGSLB_FUZZ=ON -DGSLB_BUILD_TESTS=OFF -DGSLB_WERROR=ON -DCMAKE_BUILD_TYPE=Debug
    compile_only "release-gcc" build-release-gcc gcc
    compile_only "release-clang" build-release-clang clang
fi
echo "=== summary ==="
[ ${#built[@]} -eq 0 ] || printf '%s\n' "${built[@]}"
[ ${#soaked[@]} -eq 0 ] || printf '%s\n' "${soaked[@]}"
printf '%s\n' "${summary[@]}"
