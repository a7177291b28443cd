// The planner follows the batch from the inputs' batch dimension through
// the ops, not each op's first dimension: a sequence-first model
// (autopar.batch_dim = 1, PyTorch's default for nn.Transformer and LSTMs)
// is data parallel along its samples and runs as microbatches, and a value
// transposed so that the batch is its second dimension still splits into
// microbatches (both were refused: the first dimension was taken for the
// batch); microbatches that would cut the groups a reshape made of the
// samples are refused at the op that sees the groups, and so are
// microbatches of a model whose op pairs samples with one another (an
// attention whose sequence is the batch), at planning rather than in
// autopar-partition; its batch still splits across devices, and a pipeline
// of one microbatch runs it (the gathers of its keys over a microbatch axis
// of size 1 are the keys themselves; autopar-partition had refused them).
// RUN: autopar-opt %s -split-input-file --autopar-plan="mesh=2 parallelism=data target=a100-dgx report=" | FileCheck %s
// RUN: split-file %s %t
// RUN: autopar-opt %t/seq.mlir --autopar-training="loss=mse optimizer=sgd" --autopar-plan="mesh=2 parallelism=data microbatches=2 target=a100-dgx report=" | FileCheck %s --check-prefix=MICRO
// RUN: autopar-run -O0 -n 2 %t/seq.mlir --train --check --training="loss=mse optimizer=sgd" --plan="parallelism=data microbatches=2" | FileCheck %s --check-prefix=RUNSEQ
// RUN: not autopar-opt %t/grouped.mlir --autopar-training="loss=mse optimizer=sgd" --autopar-plan="mesh=1 microbatches=2 target=a100-dgx report=" -o /dev/null 2>&1 | FileCheck %s --check-prefix=GROUPED
// RUN: autopar-opt %t/grouped.mlir --autopar-training="loss=mse optimizer=sgd" --autopar-plan="mesh=1 microbatches=3 target=a100-dgx report=" | FileCheck %s --check-prefix=GROUPED3
// RUN: autopar-run -O0 -n 2 %t/transposed.mlir --train --check --training="loss=mse optimizer=sgd" --plan="stages=2 microbatches=2" | FileCheck %s --check-prefix=RUNT
// RUN: not autopar-opt %t/paired.mlir --autopar-training="loss=mse optimizer=sgd" --autopar-plan="mesh=2 parallelism=data microbatches=2 target=a100-dgx report=" -o /dev/null 2>&1 | FileCheck %s --check-prefix=PAIRED
// RUN: autopar-opt %t/paired.mlir --autopar-training="loss=mse optimizer=sgd" --autopar-plan="mesh=1 target=a100-dgx report=" | FileCheck %s --check-prefix=PAIRED-SEARCH
// RUN: autopar-run -O0 -n 2 %t/paired.mlir --train --check --training="loss=mse optimizer=sgd" --plan="parallelism=data" | FileCheck %s --check-prefix=RUNP
// RUN: autopar-run -O0 -n 2 %t/paired.mlir --train --check --training="loss=softmax-cross-entropy optimizer=momentum" --plan="stages=2 schedule=gpipe" | FileCheck %s --check-prefix=RUNP1

// CHECK-LABEL: func.func @forward
// CHECK: linalg.generic {{.*}}autopar.strategy = #autopar.strategy<@mesh, {{\[\[\], \[gpus\], \[\], \[\]\]}}>
// CHECK: linalg.generic {{.*}}autopar.strategy = #autopar.strategy<@mesh, {{\[\[\], \[gpus\], \[\]\]}}>
// MICRO: autopar.step = {microbatches = 2 : i64
// RUNSEQ: check: {{.*}}PASS
// RUNT: collectives per step: send 2
// RUNT: check: {{.*}}PASS
// GROUPED: grouped.mlir:6:11: error: autopar: microbatches=2 cannot split this op: the batch of 6 samples reaches it as a loop of 3 (the samples grouped, as a reshape into sequences groups them), which 2 microbatches would cut through; choose a count that divides 3
// GROUPED3: autopar.step = {microbatches = 3 : i64
// PAIRED: paired.mlir:17:14: error: autopar-plan: microbatches=2, but this op pairs samples of the batch with one another (its operands carry the batch along different loops, as an attention whose sequence is the samples), which microbatches would separate; use microbatches=1
// PAIRED-SEARCH: autopar.step = {microbatches = 1 : i64
// RUNP: collectives per step: all_gather
// RUNP: check: {{.*}}PASS
// RUNP1: collectives per step: send 3
// RUNP1: check: {{.*}}PASS

//--- seq.mlir
// x is [S = 3, B = 8, F = 4].
func.func @forward(%w: tensor<4x4xf32> {autopar.role = "param"}, %x: tensor<3x8x4xf32> {autopar.role = "input", autopar.batch_dim = 1 : i64}) -> tensor<3x8x4xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<3x8x4xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<3x8x4xf32>) -> tensor<3x8x4xf32>
  %y = linalg.generic {indexing_maps = [affine_map<(s, b, o, i) -> (s, b, i)>, affine_map<(s, b, o, i) -> (i, o)>, affine_map<(s, b, o, i) -> (s, b, o)>], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%x, %w : tensor<3x8x4xf32>, tensor<4x4xf32>) outs(%f : tensor<3x8x4xf32>) {
  ^bb0(%a: f32, %b: f32, %c: f32):
    %m = arith.mulf %a, %b : f32
    %s = arith.addf %c, %m : f32
    linalg.yield %s : f32
  } -> tensor<3x8x4xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(s, b, o) -> (s, b, o)>, affine_map<(s, b, o) -> (s, b, o)>], iterator_types = ["parallel", "parallel", "parallel"]} ins(%y : tensor<3x8x4xf32>) outs(%e : tensor<3x8x4xf32>) {
  ^bb0(%a: f32, %c: f32):
    %m = arith.maximumf %a, %zero : f32
    linalg.yield %m : f32
  } -> tensor<3x8x4xf32>
  return %r : tensor<3x8x4xf32>
}

// -----
//--- transposed.mlir
// The batch of 6 transposed to the second dimension and back (found by
// bench/fuzz.py).
func.func @forward(%w: tensor<2x1xf32> {autopar.role = "param"}, %x: tensor<6x1xf32> {autopar.role = "input"}) -> tensor<6x1xf32> {
  %zero = arith.constant 0.0 : f32
  %t0 = tensor.empty() : tensor<1x6xf32>
  %t = linalg.transpose ins(%x : tensor<6x1xf32>) outs(%t0 : tensor<1x6xf32>) permutation = [1, 0]
  %r = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%t : tensor<1x6xf32>) outs(%t0 : tensor<1x6xf32>) {
  ^bb0(%a: f32, %c: f32):
    %m = arith.maximumf %a, %zero : f32
    linalg.yield %m : f32
  } -> tensor<1x6xf32>
  %b0 = tensor.empty() : tensor<6x1xf32>
  %back = linalg.transpose ins(%r : tensor<1x6xf32>) outs(%b0 : tensor<6x1xf32>) permutation = [1, 0]
  %cat = tensor.concat dim(1) %x, %back : (tensor<6x1xf32>, tensor<6x1xf32>) -> tensor<6x2xf32>
  %e = tensor.empty() : tensor<6x1xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<6x1xf32>) -> tensor<6x1xf32>
  %y = linalg.matmul ins(%cat, %w : tensor<6x2xf32>, tensor<2x1xf32>) outs(%f : tensor<6x1xf32>) -> tensor<6x1xf32>
  return %y : tensor<6x1xf32>
}

// -----
//--- grouped.mlir
// The batch of 6 grouped by a reshape into 3 rows of 2 samples: 2
// microbatches of 3 samples would cut a row.
func.func @forward(%w: tensor<4x2xf32> {autopar.role = "param"}, %x: tensor<6x2xf32> {autopar.role = "input"}) -> tensor<3x2xf32> {
  %zero = arith.constant 0.0 : f32
  %g = tensor.collapse_shape %x [[0, 1]] : tensor<6x2xf32> into tensor<12xf32>
  %rows = tensor.expand_shape %g [[0, 1]] output_shape [3, 4] : tensor<12xf32> into tensor<3x4xf32>
  %e = tensor.empty() : tensor<3x2xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<3x2xf32>) -> tensor<3x2xf32>
  %y = linalg.matmul ins(%rows, %w : tensor<3x4xf32>, tensor<4x2xf32>) outs(%f : tensor<3x2xf32>) -> tensor<3x2xf32>
  return %y : tensor<3x2xf32>
}

// -----
//--- paired.mlir
// An attention whose sequence is the batch of 6 samples: its keys pair
// every sample with every other.
func.func @forward(%x: tensor<6x4xf32> {autopar.role = "input"}, %wq: tensor<4x4xf32>, %wk: tensor<4x4xf32>, %wv: tensor<4x4xf32>) -> tensor<6x4xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<6x4xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<6x4xf32>) -> tensor<6x4xf32>
  %q = linalg.matmul ins(%x, %wq : tensor<6x4xf32>, tensor<4x4xf32>) outs(%f : tensor<6x4xf32>) -> tensor<6x4xf32>
  %k = linalg.matmul ins(%x, %wk : tensor<6x4xf32>, tensor<4x4xf32>) outs(%f : tensor<6x4xf32>) -> tensor<6x4xf32>
  %v = linalg.matmul ins(%x, %wv : tensor<6x4xf32>, tensor<4x4xf32>) outs(%f : tensor<6x4xf32>) -> tensor<6x4xf32>
  %q3 = tensor.expand_shape %q [[0, 1], [2]] output_shape [1, 6, 4] : tensor<6x4xf32> into tensor<1x6x4xf32>
  %k3 = tensor.expand_shape %k [[0, 1], [2]] output_shape [1, 6, 4] : tensor<6x4xf32> into tensor<1x6x4xf32>
  %v3 = tensor.expand_shape %v [[0, 1], [2]] output_shape [1, 6, 4] : tensor<6x4xf32> into tensor<1x6x4xf32>
  %et = tensor.empty() : tensor<1x4x6xf32>
  %kt = linalg.transpose ins(%k3 : tensor<1x6x4xf32>) outs(%et : tensor<1x4x6xf32>) permutation = [0, 2, 1]
  %o = tensor.empty() : tensor<1x6x4xf32>
  %l = tensor.empty() : tensor<1x6xf32>
  %r, %lse = autopar.attention ins(%q3, %kt, %v3 : tensor<1x6x4xf32>, tensor<1x4x6xf32>, tensor<1x6x4xf32>) outs(%o, %l : tensor<1x6x4xf32>, tensor<1x6xf32>) scale 0.5 -> tensor<1x6x4xf32>, tensor<1x6xf32>
  %y = tensor.collapse_shape %r [[0, 1], [2]] : tensor<1x6x4xf32> into tensor<6x4xf32>
  return %y : tensor<6x4xf32>
}
