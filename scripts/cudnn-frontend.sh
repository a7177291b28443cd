#!/usr/bin/env bash
# Fetches NVIDIA's cuDNN frontend (header-only C++, Apache-2.0), whose
# graph API builds the fused attention's cuDNN graphs
# (lib/Runtime/CUDAAttention.cpp), and prints the directory holding its
# headers. The headers come from the pinned PyPI wheel (nothing is
# installed into Python); they are kept under ~/.cache/autopar, so a second
# run is instant:
#   scripts/cudnn-frontend.sh        -> .../cudnn-frontend-1.32.0/include
# Exits non-zero (printing nothing) where PyPI cannot be reached: the CUDA
# runtime is then built without the fused attention, which reports so.
set -euo pipefail
version=1.32.0
wheel=nvidia_cudnn_frontend-$version-cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl
sha256=c6006556017a4d1c914c52a556c71b1267f2d6a0500f742e7b4edef539878df0
cache=${AUTOPAR_CACHE:-$HOME/.cache/autopar}/cudnn-frontend-$version
if [ -f "$cache/include/cudnn_frontend.h" ]; then
  echo "$cache/include"
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.11 \
  --platform manylinux_2_28_x86_64 -d "$tmp" "nvidia-cudnn-frontend==$version" >&2 || exit 1
echo "$sha256  $tmp/$wheel" | sha256sum -c --quiet - >&2 || exit 1
python3 - "$tmp/$wheel" "$tmp/x" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as wheel:
    for name in wheel.namelist():
        if name.startswith("include/"):
            wheel.extract(name, sys.argv[2])
PY
mkdir -p "$(dirname "$cache")"
rm -rf "$cache.partial"
mkdir -p "$cache.partial"
mv "$tmp/x/include" "$cache.partial/include"
rm -rf "$cache"
mv "$cache.partial" "$cache"
echo "$cache/include"
