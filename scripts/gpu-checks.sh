#!/usr/bin/env bash
# Every check that needs a GPU, in one run (for a machine lent with one):
# builds autopar, runs the CUDA lit tests with the GPU present (execution
# tests included), calibrates the GPU, runs the zoo's small models (an
# MLP, a CNN, a 2-block GPT) through
# `autopar-run --backend=cuda --check` (against the CPU path; on 2 GPUs or
# more also partitioned, collectives through NCCL), times a full AlexNet
# training step beside the calibrated cost model's prediction, and PyTorch
# eager on the same GPU (bench/gpu/torch_reference.py) when torch is there.
#   scripts/gpu-checks.sh [build-dir]       (default: build)
# Writes its log to $OUT/gpu-checks.log when OUT is set.
# GPU_CHECKS_SKIP_TORCH=1 leaves out the PyTorch reference (a minute or two).
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build}
log=${OUT:-/tmp}/gpu-checks.log
exec > >(tee "$log") 2>&1
nvidia-smi -L || echo "gpu-checks: nvidia-smi lists no GPU"
"$root/scripts/build.sh" "$build" || exit 1
status=0
lit=$(command -v lit || echo /usr/lib/llvm-22/bin/lit)
"$lit" -v "$build/test/CUDA" || status=1
# The GPU measured, as a target the cost model loads.
out=${OUT:-/tmp}
base=h100-dgx
nvidia-smi -L 2>/dev/null | grep -q H200 && base=h200-dgx
"$build/bin/autopar-calibrate" --base=$base -o "$out/calibrated.json" || status=1
cat "$out/calibrated.json" 2>/dev/null
models=$(mktemp -d)
python3 "$root/models/generate.py" mlp --batch 64 --layers 512,1024,1024,16 -o "$models/mlp.mlir"
python3 "$root/models/generate.py" alexnet --batch 8 --image 67 --width 8 --classes 16 -o "$models/cnn.mlir"
for model in mlp cnn; do
  for training in "" "--training=loss=mse optimizer=momentum lr=0.01"; do
    echo "== $model ${training:-forward}"
    "$build/bin/autopar-run" -n 1 "$models/$model.mlir" --backend=cuda --steps 5 --check ${training:+"$training"} || status=1
  done
done
# The same training step with the host waiting after every launch and
# library call (a failure then names the kernel or call), and a bf16 CNN
# (cuDNN and cuBLASLt on tensor cores), against the CPU path.
echo "== mlp training, AUTOPAR_CUDA_BLOCKING=1"
AUTOPAR_CUDA_BLOCKING=1 "$build/bin/autopar-run" -n 1 "$models/mlp.mlir" --backend=cuda --steps 3 --check \
  --training="loss=mse optimizer=momentum lr=0.01" || status=1
python3 "$root/models/generate.py" alexnet --batch 8 --image 67 --width 8 --classes 16 --dtype bf16 -o "$models/cnn-bf16.mlir"
echo "== cnn bf16 training"
# (cuDNN and cuBLAS round once per sum, the CPU loops after every bf16
# addition: bf16's 8-bit significand sets the tolerance.)
"$build/bin/autopar-run" -n 1 "$models/cnn-bf16.mlir" --backend=cuda --steps 3 --check --tol 0.05 \
  --training="loss=softmax-cross-entropy optimizer=momentum lr=0.01" || status=1
# A transformer: a 2-block GPT forward and Adam training step (the
# scatter-add kernel, merged optimizer kernels near the 4 KiB parameter
# limit, the one-thread kernels of the loss sum and Adam's bias
# corrections, 3-D cuBLASLt epilogues) against the CPU path.
python3 "$root/models/generate.py" gpt --batch 4 --layers 2 --seq 64 --hidden 128 --heads 4 \
  --ffn 512 --vocab 512 --max-pos 64 -o "$models/gpt.mlir"
# (Adam divides by the square root of the squared gradients: where a
# gradient is tiny, cuBLAS's summation order, not the CPU loops', moves the
# update; under emulation with sums in double precision this step differed
# by 1.6e-4 relative, and by 0 with the CPU's order: hence 1e-3 for Adam.)
echo "== gpt forward"
"$build/bin/autopar-run" -n 1 "$models/gpt.mlir" --backend=cuda --steps 3 --check --int-range 512 || status=1
echo "== gpt adam"
"$build/bin/autopar-run" -n 1 "$models/gpt.mlir" --backend=cuda --steps 3 --check --int-range 512 --tol 1e-3 \
  --training="loss=softmax-cross-entropy optimizer=adam lr=0.001" || status=1
# Several GPUs: partitioned programs, collectives through NCCL.
gpus=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true)
if [ "${gpus:-0}" -ge 2 ]; then
  for plan in data tensor; do
    for model in mlp cnn; do
      echo "== $model training, 2 GPUs, $plan"
      "$build/bin/autopar-run" -n 2 "$models/$model.mlir" --backend=cuda --steps 3 --check \
        --training="loss=mse optimizer=momentum lr=0.01" --plan="parallelism=$plan" || status=1
    done
  done
  echo "== NCCL links over $gpus GPUs"
  "$build/bin/autopar-calibrate" -n "$gpus" --base=$base -o "$out/calibrated-links.json" || status=1
else
  echo "== one GPU: NCCL collectives not exercised"
fi
# A full AlexNet step (f32, momentum; no --check: the CPU reference would
# take hours), measured beside the calibrated cost model's prediction.
python3 "$root/models/generate.py" alexnet --batch 128 -o "$models/alexnet.mlir"
echo "== alexnet b128 training step, 1 GPU"
plan="parallelism=data"
[ -f "$out/calibrated.json" ] && plan="$plan target=$out/calibrated.json"
"$build/bin/autopar-run" -n 1 "$models/alexnet.mlir" --backend=cuda --steps 5 --profile \
  --training="loss=softmax-cross-entropy optimizer=momentum lr=0.0001" --plan="$plan" || status=1
if [ -z "${GPU_CHECKS_SKIP_TORCH:-}" ] && python3 -c "import torch" 2>/dev/null; then
  echo "== PyTorch eager on the same GPU"
  python3 "$root/bench/gpu/torch_reference.py" --out "$out/torch_reference.json" || status=1
fi
exit $status
