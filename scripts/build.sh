#!/usr/bin/env bash
# Installs what is missing (Debian packages), configures and builds autopar.
#   scripts/build.sh [build-dir]      (default: build)
# Idempotent: silent and fast when everything is present.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build}

# python3-psutil: lit's per-test time limit (test/lit.cfg.py); python3-pip:
# the cuDNN frontend's headers (scripts/cudnn-frontend.sh).
packages=(cmake ninja-build python3 python3-pip python3-psutil llvm-22-dev libmlir-22-dev mlir-22-tools
          llvm-22-tools libopenmpi-dev openmpi-bin)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "autopar: installing ${missing[*]}" >&2
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -f "$build/build.ninja" ]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DMLIR_DIR=/usr/lib/llvm-22/lib/cmake/mlir >/dev/null
fi
cmake --build "$build"
