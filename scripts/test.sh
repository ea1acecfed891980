#!/usr/bin/env bash
# test.sh - install what the tests need, build, and run the whole suite:
#   1. the normal build (gcc, -Werror) and every ctest test: unit, system, fuzz corpus replay;
#   2. the same suite built with AddressSanitizer + UndefinedBehaviorSanitizer;
#   3. the libFuzzer targets (clang) run for a short bounded time each;
#   4. compile-only builds a packager would make: Release with gcc and with clang, -Werror.
# Exits non-zero on the first failing stage. Set GSLB_TEST_QUICK=1 to run stage 1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test

jobs=$(nproc)
summary=()
built=()

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

run_stage "normal" build-test "" -DGSLB_WERROR=ON
if [ "${GSLB_TEST_QUICK:-0}" != 1 ]; then
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        run_stage "asan+ubsan" build-asan "" -DGSLB_WERROR=ON -DGSLB_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
    CC=clang run_stage "libfuzzer" build-fuzz '^fuzz\.' -DGSLB_FUZZ=ON -DGSLB_BUILD_TESTS=OFF -DGSLB_WERROR=ON -DCMAKE_BUILD_TYPE=Debug
    compile_only "release-gcc" build-release-gcc gcc
    compile_only "release-clang" build-release-clang clang
fi
echo "=== summary ==="
[ ${#built[@]} -eq 0 ] || printf '%s\n' "${built[@]}"
printf '%s\n' "${summary[@]}"
