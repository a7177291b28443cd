#!/bin/bash
# Every combination of ZeRO stage (0-3) x microbatches (1, 2) x
# recomputation (none, selective, full) on an MLP, a CNN and a GPT block,
# on 2 ranks (data) and 4 ranks (2x2 data x tensor): autopar-run --check
# against one process (f32, momentum, 2 steps, tolerance 1e-5). 144 runs,
# about 11 minutes on 2 cores. One line per run, then a count.
#
# Usage: bench/step_matrix.sh [build-dir]
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build}
RUN=$BUILD/bin/autopar-run
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
python3 "$ROOT/models/generate.py" mlp --batch 8 --layers 16,32,4 -o "$WORK/mlp.mlir"
python3 "$ROOT/models/generate.py" alexnet --batch 4 --image 67 --width 16 --classes 8 -o "$WORK/cnn.mlir"
python3 "$ROOT/models/generate.py" gpt --batch 4 --layers 1 --seq 8 --hidden 16 --heads 4 --ffn 32 --vocab 12 --max-pos 8 -o "$WORK/gpt.mlir"
pass=0
fail=0
for model in mlp cnn gpt; do
  loss=softmax-cross-entropy
  [ $model = mlp ] && loss=mse
  for ranks in 2 4; do
    mesh="parallelism=data"
    [ $ranks = 4 ] && mesh="mesh=2x2 parallelism=data-tensor"
    for zero in 0 1 2 3; do for micro in 1 2; do for rec in none selective full; do
      out=$("$RUN" -O0 -n $ranks "$WORK/$model.mlir" \
        --training="loss=$loss optimizer=momentum lr=0.05 recompute=$rec" \
        --steps 2 --check --plan="$mesh zero=$zero microbatches=$micro" 2>&1)
      line=$(echo "$out" | grep -m1 "^check:")
      if [[ "$line" == *PASS ]]; then pass=$((pass + 1)); else fail=$((fail + 1)); fi
      [ -z "$line" ] && line="ERROR: $(echo "$out" | grep -m1 error)"
      echo "$model n=$ranks zero=$zero microbatches=$micro recompute=$rec: $line"
    done; done; done
  done
done
echo "$pass passed, $fail failed"
[ $fail = 0 ]
