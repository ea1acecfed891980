#!/usr/bin/env bash
# crash-loop.sh - kill -9 gslb-overwatch during API writes and gossip, N times, and count
# corrupted environments, lost acknowledged writes and the time to the first DNS answer
# after each restart (tests/tools/crash_loop.py; docs/testing.md, "Crash safety").
#   scripts/crash-loop.sh [N] [--seed S] [--writers W] [--keep]     (default N: 100)
# Environment: BUILD_DIR (default build; built here first), loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
[ -d "$build" ] || scripts/build.sh "$build" >/dev/null
cmake --build "$build" -j2 >/dev/null
GSLB_BIN_DIR=$(cd "$build" && pwd) exec /usr/bin/python3 tests/tools/crash_loop.py "$@"
