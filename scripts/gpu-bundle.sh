#!/usr/bin/env bash
# Packs what autopar-run needs on a GPU machine that cannot build autopar
# (the lent device machine: CUDA, cuDNN, NCCL and PyTorch, but no LLVM 22,
# no MPI, no package archive) into one file that travels with the working
# tree:
#   scripts/gpu-bundle.sh [build-dir] [out-dir]     (default: build .gpu)
# writes out-dir/bundle.tar.xz with
#   usr/lib/llvm-22/lib/   libLLVM, libMLIR, libmlir_c_runner_utils (and
#                          the float16 and APFloat libraries it loads)
#   fallback/              the shared libraries those need beyond libc and
#                          libstdc++ (used only where the machine lacks them)
#   mpi/libmpi.so.40       the one-rank MPI (lib/Runtime/MPISingleRank)
#   build/bin, build/lib   autopar-run, autopar-calibrate and
#                          the CPU and CUDA runtimes
# scripts/gpu-checks.sh --bundle out-dir unpacks and uses it. Add out-dir to
# .git/info/exclude and name it in the device tool's carry.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
out=${2:-$root/.gpu}
mkdir -p "$out"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
llvm=/usr/lib/llvm-22/lib
mkdir -p "$stage$llvm" "$stage/fallback" "$stage/mpi" "$stage/build/bin" "$stage/build/lib"
cp -L "$llvm"/libLLVM.so.22.1 "$llvm"/libMLIR.so.22.1 "$stage$llvm/"
cp -a "$llvm"/libmlir_c_runner_utils.so* "$llvm"/libmlir_float16_utils.so* \
  "$llvm"/libmlir_apfloat_wrappers.so* "$stage$llvm/"
# Every library the LLVM, MLIR and autopar objects load, but the C and C++
# runtimes, which the target machine has (newer).
objects=("$llvm/libLLVM.so.22.1" "$llvm/libMLIR.so.22.1" "$build/bin/autopar-run")
ldd "${objects[@]}" | awk '$2 == "=>" && $3 ~ /^\// {print $3}' | sort -u |
  grep -v -e '/libc\.so' -e '/libm\.so' -e '/libstdc++' -e '/libgcc_s' \
    -e '/ld-linux' -e '/libpthread' -e '/libdl\.so' -e '/librt\.so' \
    -e "$llvm" -e "$build" -e 'openmpi' -e '/libmpi' -e '/libopen-' \
    -e '/libhwloc' -e '/libevent' -e '/libudev' -e '/cuda' |
  while read -r lib; do cp -L "$lib" "$stage/fallback/"; done
cp "$build/lib/mpi-single-rank/libmpi.so.40" "$stage/mpi/"
cp "$build"/bin/autopar-run "$build"/bin/autopar-calibrate "$stage/build/bin/"
cp "$build"/lib/libautopar_cpu_runtime.so "$build"/lib/libautopar_cuda_runtime.so "$stage/build/lib/"
ls "$stage/fallback"
tar -C "$stage" -cf - . | xz -T2 --x86 --lzma2=preset=9e > "$out/bundle.tar.xz"
ls -la "$out/bundle.tar.xz"
