#!/usr/bin/env bash
# build.sh - configure and build into a build directory.
#   scripts/build.sh [BUILD_DIR] [extra cmake args...]     (default BUILD_DIR: build)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}
shift || true
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=${BUILD_TYPE:-RelWithDebInfo} "$@" >"$dir.configure.log" 2>&1 ||
    { cat "$dir.configure.log"; exit 1; }
cmake --build "$dir" -j"$(nproc)"
