// When the fastest configuration does not fit, the search falls back to
// the leanest configuration among those with the most ZeRO; that must be
// one whose microbatches divide its batch split. It took the leanest of
// all: 8 microbatches of 1 sample, which a batch split over 2 devices
// cannot run, so it reported "microbatches=8 leaves microbatches of 1
// samples, which the batch split ... does not divide" for a search that
// pinned no microbatches, and missed the plan below that fits (ZeRO-3, 2
// microbatches: 972 B of 1 KiB). A random program of bench/fuzz.py
// (--target tight, seed 350, program 38: an embedding, matmuls, a layer
// norm, residual blocks) on a GPU with 1 KiB of memory.
// RUN: autopar-opt %s --autopar-plan="mesh=2 target=%S/Inputs/tight-target.json report=-" -o /dev/null | FileCheck %s
// CHECK: chosen: 2 GPUs, mesh gpus=2; {{.*}} 972 B per GPU of 1.00 KiB
// CHECK: step: in the model's precision, momentum, zero 3, recompute none, 2 microbatches of 4
// With 1 microbatch pinned nothing fits, and the error says by how much.
// RUN: not autopar-opt %s --autopar-plan="mesh=2 microbatches=1 target=%S/Inputs/tight-target.json report=" -o /dev/null 2>&1 | FileCheck %s --check-prefix=ONE
// ONE: error: autopar: no plan fits in the 1.00 KiB of a tight: the least memory per GPU found is {{.*}}1 microbatch;

func.func @forward(%p0: tensor<4x6xf32> {autopar.role = "param"}, %p1: tensor<4x6xf32> {autopar.role = "param"}, %p2: tensor<4x6xf32> {autopar.role = "param"}, %p3: tensor<2x6xf32> {autopar.role = "param"}, %x: tensor<8x4xf32> {autopar.role = "input"}, %ids: tensor<8xi64> {autopar.role = "input"}) -> tensor<8x6xf32> {
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %scale = arith.constant 0.5 : f32
  %v2 = tensor.empty() : tensor<4x8xf32>
  %v1 = linalg.transpose ins(%x : tensor<8x4xf32>) outs(%v2 : tensor<4x8xf32>) permutation = [1, 0]
  %v4 = tensor.empty() : tensor<4x8xf32>
  %v3 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%v1 : tensor<4x8xf32>) outs(%v4 : tensor<4x8xf32>) {
    ^bb0(%a0: f32, %acc: f32):
      %m = arith.maximumf %a0, %zero : f32
      linalg.yield %m : f32
    } -> tensor<4x8xf32>
  %v6 = tensor.empty() : tensor<8x4xf32>
  %v5 = linalg.transpose ins(%v3 : tensor<4x8xf32>) outs(%v6 : tensor<8x4xf32>) permutation = [1, 0]
  %v8 = tensor.empty() : tensor<8x4xf32>
  %v7 = linalg.softmax dimension(1) ins(%v5 : tensor<8x4xf32>) outs(%v8 : tensor<8x4xf32>) -> tensor<8x4xf32>
  %v10 = tensor.empty() : tensor<8x6xf32>
  %v9 = linalg.fill ins(%zero : f32) outs(%v10 : tensor<8x6xf32>) -> tensor<8x6xf32>
  %v11 = linalg.matmul ins(%v7, %p0 : tensor<8x4xf32>, tensor<4x6xf32>) outs(%v9 : tensor<8x6xf32>) -> tensor<8x6xf32>
  %v13 = tensor.empty() : tensor<8x6xf32>
  %v12 = linalg.fill ins(%zero : f32) outs(%v13 : tensor<8x6xf32>) -> tensor<8x6xf32>
  %v14 = linalg.matmul ins(%v7, %p1 : tensor<8x4xf32>, tensor<4x6xf32>) outs(%v12 : tensor<8x6xf32>) -> tensor<8x6xf32>
  %v16 = tensor.empty() : tensor<8x6xf32>
  %v15 = linalg.fill ins(%zero : f32) outs(%v16 : tensor<8x6xf32>) -> tensor<8x6xf32>
  %v17 = linalg.matmul ins(%v7, %p2 : tensor<8x4xf32>, tensor<4x6xf32>) outs(%v15 : tensor<8x6xf32>) -> tensor<8x6xf32>
  %v18 = tensor.expand_shape %v11 [[0, 1], [2]] output_shape [2, 4, 6] : tensor<8x6xf32> into tensor<2x4x6xf32>
  %v19 = tensor.expand_shape %v14 [[0, 1], [2]] output_shape [2, 4, 6] : tensor<8x6xf32> into tensor<2x4x6xf32>
  %v20 = tensor.expand_shape %v17 [[0, 1], [2]] output_shape [2, 4, 6] : tensor<8x6xf32> into tensor<2x4x6xf32>
  %v22 = tensor.empty() : tensor<2x6x4xf32>
  %v21 = linalg.transpose ins(%v19 : tensor<2x4x6xf32>) outs(%v22 : tensor<2x6x4xf32>) permutation = [0, 2, 1]
  %v25 = tensor.empty() : tensor<2x4x4xf32>
  %v24 = linalg.fill ins(%zero : f32) outs(%v25 : tensor<2x4x4xf32>) -> tensor<2x4x4xf32>
  %v23 = linalg.batch_matmul ins(%v18, %v21 : tensor<2x4x6xf32>, tensor<2x6x4xf32>) outs(%v24 : tensor<2x4x4xf32>) -> tensor<2x4x4xf32>
  %v27 = tensor.empty() : tensor<2x4x4xf32>
  %v26 = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d1, d2)>, affine_map<(d0, d1, d2) -> (d0, d1, d2)>], iterator_types = ["parallel", "parallel", "parallel"]} ins(%v23 : tensor<2x4x4xf32>) outs(%v27 : tensor<2x4x4xf32>) {
    ^bb0(%a0: f32, %acc: f32):
      %sx = arith.mulf %a0, %scale : f32
      %i = linalg.index 1 : index
      %j = linalg.index 2 : index
      %c = arith.cmpi ugt, %j, %i : index
      %sy = arith.select %c, %ninf, %sx : f32
      linalg.yield %sy : f32
    } -> tensor<2x4x4xf32>
  %v29 = tensor.empty() : tensor<2x4xf32>
  %v28 = linalg.fill ins(%ninf : f32) outs(%v29 : tensor<2x4xf32>) -> tensor<2x4xf32>
  %v30 = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d1, d2)>, affine_map<(d0, d1, d2) -> (d0, d1)>], iterator_types = ["parallel", "parallel", "reduction"]} ins(%v26 : tensor<2x4x4xf32>) outs(%v28 : tensor<2x4xf32>) {
    ^bb0(%a0: f32, %acc: f32):
      %r = arith.maximumf %a0, %acc : f32
      linalg.yield %r : f32
    } -> tensor<2x4xf32>
  %v32 = tensor.empty() : tensor<2x4x4xf32>
  %v31 = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d1, d2)>, affine_map<(d0, d1, d2) -> (d0, d1)>, affine_map<(d0, d1, d2) -> (d0, d1, d2)>], iterator_types = ["parallel", "parallel", "parallel"]} ins(%v26, %v30 : tensor<2x4x4xf32>, tensor<2x4xf32>) outs(%v32 : tensor<2x4x4xf32>) {
    ^bb0(%a0: f32, %a1: f32, %acc: f32):
      %t = arith.subf %a0, %a1 : f32
      %r = math.exp %t : f32
      linalg.yield %r : f32
    } -> tensor<2x4x4xf32>
  %v35 = tensor.empty() : tensor<2x4xf32>
  %v34 = linalg.fill ins(%zero : f32) outs(%v35 : tensor<2x4xf32>) -> tensor<2x4xf32>
  %v33 = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d1, d2)>, affine_map<(d0, d1, d2) -> (d0, d1)>], iterator_types = ["parallel", "parallel", "reduction"]} ins(%v31 : tensor<2x4x4xf32>) outs(%v34 : tensor<2x4xf32>) {
    ^bb0(%a0: f32, %acc: f32):
      %r = arith.addf %a0, %acc : f32
      linalg.yield %r : f32
    } -> tensor<2x4xf32>
  %v37 = tensor.empty() : tensor<2x4x4xf32>
  %v36 = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d1, d2)>, affine_map<(d0, d1, d2) -> (d0, d1)>, affine_map<(d0, d1, d2) -> (d0, d1, d2)>], iterator_types = ["parallel", "parallel", "parallel"]} ins(%v31, %v33 : tensor<2x4x4xf32>, tensor<2x4xf32>) outs(%v37 : tensor<2x4x4xf32>) {
    ^bb0(%a0: f32, %a1: f32, %acc: f32):
      %r = arith.divf %a0, %a1 : f32
      linalg.yield %r : f32
    } -> tensor<2x4x4xf32>
  %v40 = tensor.empty() : tensor<2x4x6xf32>
  %v39 = linalg.fill ins(%zero : f32) outs(%v40 : tensor<2x4x6xf32>) -> tensor<2x4x6xf32>
  %v38 = linalg.batch_matmul ins(%v36, %v20 : tensor<2x4x4xf32>, tensor<2x4x6xf32>) outs(%v39 : tensor<2x4x6xf32>) -> tensor<2x4x6xf32>
  %v41 = tensor.collapse_shape %v38 [[0, 1], [2]] : tensor<2x4x6xf32> into tensor<8x6xf32>
  %v43 = tensor.empty() : tensor<8x6xf32>
  %v42 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%ids : tensor<8xi64>) outs(%v43 : tensor<8x6xf32>) {
    ^bb0(%id: i64, %out: f32):
      %i = arith.index_cast %id : i64 to index
      %j = linalg.index 1 : index
      %e = tensor.extract %p3[%i, %j] : tensor<2x6xf32>
      linalg.yield %e : f32
    } -> tensor<8x6xf32>
  %v45 = tensor.empty() : tensor<8x6xf32>
  %v44 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%v41, %v42 : tensor<8x6xf32>, tensor<8x6xf32>) outs(%v45 : tensor<8x6xf32>) {
    ^bb0(%a0: f32, %a1: f32, %acc: f32):
      %r = arith.addf %a0, %a1 : f32
      linalg.yield %r : f32
    } -> tensor<8x6xf32>
  return %v44 : tensor<8x6xf32>
}
