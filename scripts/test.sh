#!/usr/bin/env bash
# Sets everything up, builds autopar and runs the whole test suite.
#   scripts/test.sh [build-dir]       (default: build)
# Installs what is missing (Debian packages; the PyTorch importer's venv).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build}
"$root/scripts/build.sh" "$build"
# The PyTorch importer's environment (created once, ~3 GB from PyPI; reused
# after). AUTOPAR_SKIP_TORCH=1 skips creating it; without it the front-end
# tests (REQUIRES: torch) are reported unsupported, and a failed install
# says so here rather than stopping the rest of the suite.
if [ "${AUTOPAR_SKIP_TORCH:-0}" != 1 ]; then
  "$root/scripts/torch-env.sh" > /dev/null ||
    echo "autopar: WARNING: the PyTorch importer's environment could not be created; test/Frontend will be unsupported" >&2
fi
cmake --build "$build" --target check-autopar
