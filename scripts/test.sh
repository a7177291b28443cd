#!/usr/bin/env bash
# Sets everything up, builds autopar and runs the whole test suite.
#   scripts/test.sh [build-dir]       (default: build)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build}
"$root/scripts/build.sh" "$build"
cmake --build "$build" --target check-autopar
