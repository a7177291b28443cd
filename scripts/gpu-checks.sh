#!/usr/bin/env bash
# Every check that needs a GPU, in one run (for a machine lent with one):
# runs the CUDA backend's programs on the GPU against the CPU path
# (`autopar-run --backend=cuda --check`: an MLP, a CNN, a bf16 CNN and a
# 2-block GPT, forward and training), calibrates the GPU, times a full
# AlexNet training step beside the calibrated cost model's prediction, and
# PyTorch eager on the same GPU (bench/gpu/torch_reference.py) when torch
# is there. On 2 GPUs or more also partitioned programs (NCCL).
#   scripts/gpu-checks.sh [build-dir]    builds autopar (scripts/build.sh),
#                                        runs the CUDA lit tests too
#   scripts/gpu-checks.sh --bundle DIR   a machine that cannot build autopar
#                                        (no LLVM 22, MPI or package
#                                        archive): uses DIR/bundle.tar.xz of
#                                        scripts/gpu-bundle.sh
# Writes its log to $OUT/gpu-checks.log when OUT is set, and a summary of
# every check last. Each check has a time limit (GPU_CHECKS_LIMIT seconds,
# default 90; GPU_CHECKS_DEADLINE seconds for all of them); a failed check is run again with AUTOPAR_CUDA_BLOCKING=1
# (the host waits after every launch and library call, so the error names
# it). GPU_CHECKS_SKIP_TORCH=1 leaves out the PyTorch reference;
# GPU_CHECKS_ONLY=REGEX runs only the checks whose names match (a rerun of
# some on a machine's last minutes: GPU_CHECKS_ONLY='calibrate|gpt-2').
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${OUT:-/tmp}
log=$out/gpu-checks.log
exec > >(tee "$log") 2>&1
start=$(date +%s)
limit=${GPU_CHECKS_LIMIT:-90}
# Past this many seconds the remaining checks are skipped (a lent machine's
# time is short): the summary says which.
deadline=${GPU_CHECKS_DEADLINE:-100000}
summary=()
status=0

bundle=
if [ "${1:-}" = "--bundle" ]; then
  bundle=$(cd "$2" && pwd)
fi
nvidia-smi -L || echo "gpu-checks: nvidia-smi lists no GPU"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv 2>/dev/null

if [ -n "$bundle" ]; then
  # Unpack: LLVM/MLIR where autopar's binaries look for them, the fallback
  # libraries only where the machine lacks them, and the one-rank MPI.
  unpack=/tmp/autopar-bundle
  rm -rf "$unpack" && mkdir -p "$unpack"
  if ! tar -C "$unpack" -xJf "$bundle/bundle.tar.xz" 2>/dev/null; then
    python3 -c "import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])" \
      "$bundle/bundle.tar.xz" "$unpack" || { echo "gpu-checks: cannot unpack the bundle"; exit 1; }
  fi
  mkdir -p /usr/lib/llvm-22/lib
  for lib in "$unpack"/usr/lib/llvm-22/lib/*; do
    cmp -s "$lib" "/usr/lib/llvm-22/lib/$(basename "$lib")" || cp -a "$lib" /usr/lib/llvm-22/lib/
  done
  mkdir -p "$unpack/use"
  for lib in "$unpack"/fallback/*; do
    name=$(basename "$lib")
    ldconfig -p | grep -q "^[[:space:]]*$name " || cp "$lib" "$unpack/use/"
  done
  echo "gpu-checks: libraries taken from the bundle: $(ls "$unpack/use" | tr '\n' ' ')"
  # The CUDA libraries: where the dynamic linker or a Python package has them.
  cudadirs=
  for name in libcuda.so.1 libcudart.so.13 libcublas.so.13 libcublasLt.so.13 libcudnn.so.9 libnccl.so.2; do
    path=$(ldconfig -p | awk -v n="$name" '$1 == n {print $NF; exit}')
    [ -z "$path" ] && path=$(find /usr/local/cuda/ /usr/local/nvidia/ /opt/ /usr/lib/ -name "$name" 2>/dev/null | head -1)
    echo "gpu-checks: $name: ${path:-not found}"
    [ -n "$path" ] && cudadirs="$cudadirs:$(dirname "$path")"
  done
  export LD_LIBRARY_PATH="$unpack/mpi:$unpack/build/lib:$unpack/use$cudadirs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  # One rank, no launcher: autopar-run runs in this process.
  export OMPI_COMM_WORLD_SIZE=1 OMPI_COMM_WORLD_RANK=0
  build=$unpack/build
  command -v ptxas >/dev/null || export PATH="$PATH:/usr/local/cuda/bin"
  echo "gpu-checks: ptxas: $(command -v ptxas || echo missing)"
  ldd "$build/bin/autopar-run" "$build/lib/libautopar_cuda_runtime.so" | grep -i "not found" &&
    echo "gpu-checks: libraries missing (above)"
else
  build=${1:-$root/build}
  "$root/scripts/build.sh" "$build" || exit 1
  lit=$(command -v lit || echo /usr/lib/llvm-22/bin/lit)
  "$lit" -v "$build/test/CUDA" && summary+=("PASS lit test/CUDA") || { summary+=("FAIL lit test/CUDA"); status=1; }
fi
run=$build/bin/autopar-run

# check NAME COMMAND...: runs one check under the time limit; a failure is
# run again with the host waiting after every launch.
check() {
  local name=$1
  shift
  local t0=$(date +%s)
  if [ -n "${GPU_CHECKS_ONLY:-}" ] && ! [[ $name =~ $GPU_CHECKS_ONLY ]]; then
    summary+=("SKIP (not in GPU_CHECKS_ONLY) $name")
    return 0
  fi
  if [ $((t0 - start)) -ge "$deadline" ]; then
    summary+=("SKIP (deadline) $name")
    return 1
  fi
  echo "== $name"
  timeout "$limit" "$@"
  local rc=$?
  local took=$(($(date +%s) - t0))
  if [ $rc -eq 0 ]; then
    summary+=("PASS ${took}s $name")
    return 0
  fi
  summary+=("FAIL(rc=$rc) ${took}s $name")
  status=1
  echo "== $name, again with AUTOPAR_CUDA_BLOCKING=1"
  AUTOPAR_CUDA_BLOCKING=1 timeout 45 "$@" 2>&1 | tail -40
  return $rc
}

# expect_replays N COMMAND...: COMMAND (an autopar-run with --cuda-graph)
# passes only if its step's CUDA graph was replayed N times.
expect_replays() {
  local want=$1
  shift
  local log
  log=$(mktemp)
  "$@" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  [ "$rc" -eq 0 ] || return "$rc"
  if ! grep -q "replayed $want time(s)" "$log"; then
    echo "== expected the CUDA graph replayed $want time(s)"
    return 3
  fi
}
export -f expect_replays

models=$(mktemp -d)
gen() { python3 "$root/models/generate.py" "$@"; }
gen mlp --batch 8 --layers 16,32,4 -o "$models/tiny.mlir"
gen mlp --batch 64 --layers 512,1024,1024,16 -o "$models/mlp.mlir"
gen alexnet --batch 8 --image 67 --width 8 --classes 16 -o "$models/cnn.mlir"
gen alexnet --batch 8 --image 67 --width 8 --classes 16 --dtype bf16 -o "$models/cnn-bf16.mlir"
gen gpt --batch 4 --layers 2 --seq 64 --hidden 128 --heads 4 --ffn 512 --vocab 512 --max-pos 64 -o "$models/gpt.mlir"
gen alexnet --batch 128 -o "$models/alexnet.mlir"
gen alexnet --batch 128 --dtype bf16 -o "$models/alexnet-bf16.mlir"
gen alexnet --batch 2 --image 67 --width 16 --classes 8 -o "$models/tiny-cnn.mlir"
gen gpt --batch 8 -o "$models/gpt2.mlir"
gen gpt --batch 8 --dtype bf16 -o "$models/gpt2-bf16.mlir"
gen gpt --batch 4 --layers 2 --seq 64 --hidden 128 --heads 4 --ffn 512 --vocab 512 --max-pos 64 --dtype bf16 -o "$models/gpt-bf16.mlir"
gen llama --batch 4 --layers 2 --seq 64 --hidden 256 --heads 4 --kv-heads 2 --ffn 512 --vocab 512 --dtype bf16 -o "$models/llama-bf16.mlir"
momentum="loss=mse optimizer=momentum lr=0.01"

# The smallest program first: if the runtime cannot start, this says why.
check "tiny mlp forward" "$run" -n 1 "$models/tiny.mlir" --backend=cuda --check
if [ $? -ne 0 ] && command -v compute-sanitizer >/dev/null; then
  echo "== tiny mlp forward under compute-sanitizer"
  timeout 90 compute-sanitizer --tool memcheck "$run" -n 1 "$models/tiny.mlir" --backend=cuda --check 2>&1 | tail -60
fi
# test/CUDA/run-device.test's programs.
check "run-device.test: tiny mlp training" "$run" -n 1 "$models/tiny.mlir" --backend=cuda --check \
  --training="loss=mse optimizer=momentum lr=0.1" --steps 3
check "run-device.test: tiny cnn forward" "$run" -n 1 "$models/tiny-cnn.mlir" --backend=cuda --check
check "run-device.test: tiny cnn training" "$run" -n 1 "$models/tiny-cnn.mlir" --backend=cuda --check \
  --training="loss=softmax-cross-entropy optimizer=momentum lr=0.01" --steps 2
for model in mlp cnn; do
  check "$model forward" "$run" -n 1 "$models/$model.mlir" --backend=cuda --steps 5 --check
  check "$model training (momentum)" "$run" -n 1 "$models/$model.mlir" --backend=cuda --steps 5 --check --training="$momentum"
done
# (cuDNN and cuBLAS round once per sum, the CPU loops after every bf16
# addition: bf16's 8-bit significand sets the tolerance.)
check "cnn bf16 training" "$run" -n 1 "$models/cnn-bf16.mlir" --backend=cuda --steps 3 --check --tol 0.05 \
  --training="loss=softmax-cross-entropy optimizer=momentum lr=0.01"
# A bf16 transformer whose attention (forward and gradient) is cuDNN's fused
# flash attention through the cuDNN frontend (first run on a GPU: the
# graphs' build, the heads' strided views, the lse as cuDNN's statistics),
# then decomposed (cudnn-attention=0) for comparison.
check "gpt bf16 training, cuDNN fused attention" "$run" -n 1 "$models/gpt-bf16.mlir" --backend=cuda --steps 3 --check --tol 0.05 \
  --int-range 512 --training="loss=softmax-cross-entropy optimizer=momentum lr=0.01"
check "gpt bf16 training, attention decomposed" "$run" -n 1 "$models/gpt-bf16.mlir" --backend=cuda --steps 3 --check --tol 0.05 \
  --int-range 512 --training="loss=softmax-cross-entropy optimizer=momentum lr=0.01" --cuda-options="cudnn-attention=0"
# Grouped-query attention (4 query heads on 2 key-value heads): cuDNN's
# own GQA support, the query's stacked heads read in place.
check "llama gqa bf16 training, cuDNN fused attention" "$run" -n 1 "$models/llama-bf16.mlir" --backend=cuda --steps 3 --check --tol 0.05 \
  --int-range 512 --training="loss=softmax-cross-entropy optimizer=momentum lr=0.01"
# A device's share of a causal attention's rows (the last 8 of 16): the
# mask offset by its first row, cuDNN's diagonal band with a right bound
# of 8 (first run on a GPU), forward and 2 momentum steps.
check "attention rows 8..15 of 16, cuDNN diagonal band forward" "$run" -n 1 "$root/test/CUDA/Inputs/attention-row-offset.mlir" \
  --backend=cuda --steps 1 --check --tol 0.02
check "attention rows 8..15 of 16, cuDNN diagonal band training" "$run" -n 1 "$root/test/CUDA/Inputs/attention-row-offset.mlir" \
  --backend=cuda --steps 2 --check --tol 0.02 --training="loss=mse optimizer=momentum lr=0.01"
# A transformer: the scatter-add kernel, merged optimizer kernels near the
# 4 KiB parameter limit, one-thread kernels, 3-D cuBLASLt epilogues.
# (Adam divides by the square root of the squared gradients: where a
# gradient is tiny, cuBLAS's summation order moves the update: 1e-3.)
check "gpt forward" "$run" -n 1 "$models/gpt.mlir" --backend=cuda --steps 3 --check --int-range 512
check "gpt adam" "$run" -n 1 "$models/gpt.mlir" --backend=cuda --steps 3 --check --int-range 512 --tol 1e-3 \
  --training="loss=softmax-cross-entropy optimizer=adam lr=0.001"
# --cuda-graph: step 1 captured, steps 2 and 3 replayed from the graph
# (the emulator cannot replay: this is the replay's only check).
check "gpt adam, CUDA graph replayed" bash -c 'expect_replays "$@"' _ 2 "$run" -n 1 "$models/gpt.mlir" --backend=cuda --steps 4 --check --int-range 512 \
  --tol 1e-3 --training="loss=softmax-cross-entropy optimizer=adam lr=0.001" --cuda-graph
check "cnn training (momentum), CUDA graph replayed" bash -c 'expect_replays "$@"' _ 2 "$run" -n 1 "$models/cnn.mlir" --backend=cuda --steps 4 --check \
  --training="$momentum" --cuda-graph
check "gpt adam, 2 microbatches" "$run" -n 1 "$models/gpt.mlir" --backend=cuda --steps 2 --check \
  --int-range 512 --tol 1e-3 --training="loss=softmax-cross-entropy optimizer=adam lr=0.001" --plan="microbatches=2"
# Row kernels (a block per row, shared memory, barriers: what emulation
# runs one thread after another cannot race) on every row of the small GPT
# (its softmax alone qualifies at the default sizes), momentum so that the
# tolerance is tight.
check "gpt training, every row a row kernel" "$run" -n 1 "$models/gpt.mlir" --backend=cuda --steps 3 --check \
  --int-range 512 --tol 1e-4 --training="loss=softmax-cross-entropy optimizer=momentum lr=0.01" \
  --cuda-options="row-min-rows=1 row-min-length=8"

# The GPU measured, as a target the cost model loads.
base=h100-dgx
nvidia-smi -L 2>/dev/null | grep -q H200 && base=h200-dgx
check "calibrate" "$build/bin/autopar-calibrate" --base=$base --repeat 3 -o "$out/calibrated.json"
cat "$out/calibrated.json" 2>/dev/null

# Several GPUs: partitioned programs, collectives through NCCL.
gpus=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true)
if [ "${gpus:-0}" -ge 2 ] && [ -z "$bundle" ]; then
  for plan in data tensor; do
    for model in mlp cnn; do
      check "$model training, 2 GPUs, $plan" "$run" -n 2 "$models/$model.mlir" --backend=cuda --steps 3 --check \
        --training="$momentum" --plan="parallelism=$plan"
    done
  done
  check "NCCL links over $gpus GPUs" "$build/bin/autopar-calibrate" -n "$gpus" --base=$base -o "$out/calibrated-links.json"
else
  echo "== NCCL collectives between GPUs not exercised (${gpus:-0} GPU(s)${bundle:+, one-rank MPI})"
fi

# Full steps (no --check: the CPU reference would take hours), against
# PyTorch eager on the same GPU (bench/gpu/results/h200-torch-2.11.json:
# AlexNet b128 13.1 ms; GPT-2 small b8x1024 191 ms f32, 55 ms bf16): the
# step time alone, then AlexNet per layer (--profile) beside the calibrated
# cost model's prediction.
plan="parallelism=data target=$base"
[ -s "$out/calibrated.json" ] && plan="parallelism=data target=$out/calibrated.json"
sgd="loss=softmax-cross-entropy optimizer=momentum lr=0.0001"
check "alexnet b128 training step (timed)" "$run" -n 1 "$models/alexnet.mlir" --backend=cuda --steps 6 \
  --training="$sgd" --plan="$plan"
check "alexnet b128 training step, CUDA graph (timed)" bash -c 'expect_replays "$@"' _ 4 "$run" -n 1 "$models/alexnet.mlir" --backend=cuda --steps 6 \
  --training="$sgd" --plan="$plan" --cuda-graph
check "alexnet b128 per layer (--profile)" "$run" -n 1 "$models/alexnet.mlir" --backend=cuda --steps 4 --profile \
  --training="$sgd" --plan="$plan"
# bf16: its 14 training-step convolutions read bf16 into f32 results, widened
# and run on TF32 tensor cores (exact for bf16 inputs; docs/cuda.md), its
# products on bf16 tensor cores (PyTorch's reference: alexnet_128_bf16).
check "alexnet b128 bf16 training step (timed)" "$run" -n 1 "$models/alexnet-bf16.mlir" --backend=cuda --steps 6 \
  --training="$sgd" --plan="$plan"
# GPT-2 small: 124M parameters; lowering and ptxas take 15-20 s
# (autopar-run prints each phase's time), the host program's JIT at -O0
# 7-9 s on the H200 machine, hence the longer limit. Five steps timed
# (until 2026-12-04 each step's updates were new buffers and the second
# step's still fresh managed pages; they are now written over the
# arguments: whether steps 1 and 2 still differ is worth reading; the
# median of steps 1..4), f32 and bf16, then both
# per op (--profile; its per-kind table sums the 12 blocks), also over 5
# steps.
limit=150 check "gpt-2 small b8x1024 f32 training step (timed)" "$run" -n 1 -O0 "$models/gpt2.mlir" \
  --backend=cuda --steps 5 --int-range 50257 --training="$sgd" --plan="$plan"
limit=150 check "gpt-2 small b8x1024 f32 training step, CUDA graph (timed)" bash -c 'expect_replays "$@"' _ 3 "$run" -n 1 -O0 "$models/gpt2.mlir" \
  --backend=cuda --steps 5 --int-range 50257 --training="$sgd" --plan="$plan" --cuda-graph
limit=150 check "gpt-2 small b8x1024 bf16 training step (timed)" "$run" -n 1 -O0 "$models/gpt2-bf16.mlir" \
  --backend=cuda --steps 5 --int-range 50257 --training="$sgd" --plan="$plan"
# A/B: its 12 attentions decomposed (products, row kernels, score-sized
# buffers) instead of cuDNN's fused attention (the default since #45).
limit=150 check "gpt-2 small b8x1024 bf16 training step, attention decomposed (timed)" "$run" -n 1 -O0 "$models/gpt2-bf16.mlir" \
  --backend=cuda --steps 5 --int-range 50257 --training="$sgd" --plan="$plan" --cuda-options="cudnn-attention=0"
# A/B: without row kernels (autopar-row-kernels: each softmax, LayerNorm
# and the loss one kernel with a block per row; docs/cuda.md).
limit=150 check "gpt-2 small b8x1024 f32 training step, row-kernels=0 (timed)" "$run" -n 1 -O0 "$models/gpt2.mlir" \
  --backend=cuda --steps 5 --int-range 50257 --training="$sgd" --plan="$plan" --cuda-options="row-kernels=0"
limit=150 check "gpt-2 small b8x1024 f32 per op (--profile)" "$run" -n 1 -O0 "$models/gpt2.mlir" \
  --backend=cuda --steps 5 --profile --int-range 50257 --training="$sgd" --plan="$plan"
limit=150 check "gpt-2 small b8x1024 bf16 per op (--profile)" "$run" -n 1 -O0 "$models/gpt2-bf16.mlir" \
  --backend=cuda --steps 5 --profile --int-range 50257 --training="$sgd" --plan="$plan"

if [ -z "${GPU_CHECKS_SKIP_TORCH:-}" ] && python3 -c "import torch" 2>/dev/null; then
  limit=150 check "PyTorch eager reference" python3 "$root/bench/gpu/torch_reference.py" --out "$out/torch_reference.json"
fi
echo "== summary ($(($(date +%s) - start)) s)"
printf '%s\n' "${summary[@]}"
exit $status
