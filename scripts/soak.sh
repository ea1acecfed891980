#!/usr/bin/env bash
# soak.sh - one overwatch (and a second one as its DNSSEC key sync peer) under agents with
# flapping backends, overrides, reloads, key syncs and dnsperf load for DURATION; samples RSS,
# open fds and the store size every 10 s and ends with a table and a verdict line
# (tests/tools/soak.py; docs/testing.md, "Soak").
#   scripts/soak.sh [DURATION] [--seed S] [--keep]       (default DURATION: 30m; e.g. 5m, 600s)
# Environment: BUILD_DIR (default build; built here first). Loopback only; everything started
# is stopped by PID on exit. Exit status 1 when a check fails.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
[ -d "$build" ] || scripts/build.sh "$build" >/dev/null
cmake --build "$build" -j2 >/dev/null
pid=
stop() { [ -z "$pid" ] || kill -TERM "$pid" 2>/dev/null || true; }
trap stop EXIT INT TERM
GSLB_BIN_DIR=$(cd "$build" && pwd) /usr/bin/python3 tests/tools/soak.py "$@" &
pid=$!
set +e
wait "$pid"
rc=$?
# A signal interrupts the first wait: wait again for the soak to stop its processes.
while kill -0 "$pid" 2>/dev/null; do wait "$pid"; rc=$?; done
pid=
exit "$rc"
