// RUN: autopar-opt %s --split-input-file --autopar-analyze=report=- -o /dev/null 2>&1 | FileCheck %s
// Which tensor constants are weights. Beside parameter arguments (a
// params-as-args export, every autopar-import-torch default) a constant is
// a constant of the model, with no gradient: the bias-like [0.5, 1, 2]
// here adds no parameters and no gradient to synchronise (the planner had
// priced an all-reduce for each, a clamp's bounds included). With no
// parameter argument (a params-as-constants export) the constants are the
// weights, as autopar-training lift-constants=true trains them.

// CHECK-LABEL: autopar workload report: @forward
// CHECK: linalg.matmul {{.*}} tensor<2x3xf32> 48 12
// CHECK: linalg.generic {{.*}} tensor<2x3xf32> 6 0
// CHECK: parameters 12 (48 B)
// CHECK: gradients to sync 1 tensors, 48 B
func.func @forward(%x: tensor<2x4xf32> {autopar.role = "input"}, %w: tensor<4x3xf32> {autopar.role = "param"}) -> tensor<2x3xf32> {
  %b = arith.constant dense<[0.5, 1.0, 2.0]> : tensor<3xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<2x3xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<2x3xf32>) -> tensor<2x3xf32>
  %y = linalg.matmul ins(%x, %w : tensor<2x4xf32>, tensor<4x3xf32>) outs(%f : tensor<2x3xf32>) -> tensor<2x3xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]}
      ins(%y, %b : tensor<2x3xf32>, tensor<3xf32>) outs(%e : tensor<2x3xf32>) {
  ^bb0(%a: f32, %c: f32, %o: f32):
    %v = arith.addf %a, %c : f32
    linalg.yield %v : f32
  } -> tensor<2x3xf32>
  return %r : tensor<2x3xf32>
}

// -----

// CHECK-LABEL: autopar workload report: @forward
// CHECK: linalg.matmul {{.*}} tensor<2x3xf32> 48 12
// CHECK: linalg.generic {{.*}} tensor<2x3xf32> 6 3
// CHECK: parameters 15 (60 B)
// CHECK: gradients to sync 2 tensors, 60 B
func.func @forward(%x: tensor<2x4xf32> {autopar.role = "input"}) -> tensor<2x3xf32> {
  %b = arith.constant dense<[0.5, 1.0, 2.0]> : tensor<3xf32>
  %zero = arith.constant 0.0 : f32
  %w = arith.constant dense<0.25> : tensor<4x3xf32>
  %e = tensor.empty() : tensor<2x3xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<2x3xf32>) -> tensor<2x3xf32>
  %y = linalg.matmul ins(%x, %w : tensor<2x4xf32>, tensor<4x3xf32>) outs(%f : tensor<2x3xf32>) -> tensor<2x3xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]}
      ins(%y, %b : tensor<2x3xf32>, tensor<3xf32>) outs(%e : tensor<2x3xf32>) {
  ^bb0(%a: f32, %c: f32, %o: f32):
    %v = arith.addf %a, %c : f32
    linalg.yield %v : f32
  } -> tensor<2x3xf32>
  return %r : tensor<2x3xf32>
}
