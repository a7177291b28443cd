// RUN: autopar-opt %s --autopar-plan="mesh=2 target=a100-dgx report=" --autopar-partition | FileCheck %s
// RUN: autopar-opt %s --autopar-lower-to-cpu -o /dev/null
// RUN: autopar-opt %s --autopar-prepare-lowering | FileCheck %s --check-prefix=PREPARE
// Tensors with no elements (a batch of 0, found by bench/fuzz.py) stay
// whole: a slice along any dimension would start out of bounds in the empty
// one. Before bufferization, ops whose results are all empty become
// tensor.empty (upstream's concat bufferization writes an out-of-bounds
// subview for them).

// CHECK-LABEL: func.func @forward(
// CHECK-NOT: tensor.extract_slice
// CHECK: linalg.matmul ins(%{{.*}}, %{{.*}} : tensor<0x4xf32>, tensor<4x2xf32>) outs(%{{.*}} : tensor<0x2xf32>)
// CHECK-NOT: tensor.extract_slice
// PREPARE-LABEL: func.func @forward(
// PREPARE-NOT: tensor.concat
// PREPARE-NOT: linalg.matmul
// PREPARE: %[[E:.*]] = tensor.empty() : tensor<0x2xf32>
// PREPARE-NOT: tensor.concat
// PREPARE-NOT: linalg.matmul
// PREPARE: return %{{.*}} : tensor<0x2xf32>
func.func @forward(%w: tensor<4x2xf32> {autopar.role = "param"},
                   %x: tensor<0x2xf32> {autopar.role = "input"}) -> tensor<0x2xf32> {
  %zero = arith.constant 0.0 : f32
  %c = tensor.concat dim(1) %x, %x : (tensor<0x2xf32>, tensor<0x2xf32>) -> tensor<0x4xf32>
  %e = tensor.empty() : tensor<0x2xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<0x2xf32>) -> tensor<0x2xf32>
  %m = linalg.matmul ins(%c, %w : tensor<0x4xf32>, tensor<4x2xf32>) outs(%f : tensor<0x2xf32>) -> tensor<0x2xf32>
  return %m : tensor<0x2xf32>
}
