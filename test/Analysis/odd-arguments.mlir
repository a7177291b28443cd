// Arguments that are no trainable weights: an index (a device's first
// row), an index tensor and a buffer computed on. The analysis, the plan
// and auto-shard take them without a gradient (no crash: the report read
// an index's bit width, the softmax matcher a buffer op's result).
// RUN: autopar-opt %s --split-input-file --autopar-analyze=report=- -o /dev/null | FileCheck %s
// RUN: autopar-opt %s --split-input-file --autopar-plan=mesh=2 -o /dev/null
// RUN: autopar-opt %s --split-input-file --auto-shard -o /dev/null

// CHECK: gradients to sync 1 tensors, 64 B
func.func @scalars(%x: tensor<4x4xf32>, %w: tensor<4x4xf32>, %first: index, %ids: tensor<2x1xindex>) -> tensor<4x4xf32> {
  %c = arith.constant 0.0 : f32
  %init = tensor.empty() : tensor<4x4xf32>
  %z = linalg.fill ins(%c : f32) outs(%init : tensor<4x4xf32>) -> tensor<4x4xf32>
  %y = linalg.matmul ins(%x, %w : tensor<4x4xf32>, tensor<4x4xf32>) outs(%z : tensor<4x4xf32>) -> tensor<4x4xf32>
  %e = tensor.extract %ids[%first, %first] : tensor<2x1xindex>
  %s = tensor.insert %c into %y[%e, %first] : tensor<4x4xf32>
  return %s : tensor<4x4xf32>
}

// -----

// CHECK: autopar workload report: @buffers
#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
func.func @buffers(%x: memref<4x8xf32>, %m: memref<4xf32>) {
  linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]} ins(%x : memref<4x8xf32>) outs(%m : memref<4xf32>) {
  ^bb0(%a: f32, %b: f32):
    %r = arith.maximumf %a, %b : f32
    linalg.yield %r : f32
  }
  return
}
