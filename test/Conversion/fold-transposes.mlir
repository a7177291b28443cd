// RUN: autopar-opt %s --autopar-fuse-elementwise | FileCheck %s
// RUN: autopar-opt %s --autopar-lower-to-cpu="fuse=false" | %mlir_runner -e main -entry-point-result=void -shared-libs=%mlir_libs/libmlir_c_runner_utils.so,%mlir_libs/libmlir_runner_utils.so | sed "s/base@ = 0x[0-9a-f]*//" > %t.unfused.txt
// RUN: autopar-opt %s --autopar-lower-to-cpu | %mlir_runner -e main -entry-point-result=void -shared-libs=%mlir_libs/libmlir_c_runner_utils.so,%mlir_libs/libmlir_runner_utils.so | sed "s/base@ = 0x[0-9a-f]*//" > %t.fused.txt
// RUN: diff %t.unfused.txt %t.fused.txt
// RUN: FileCheck %s --input-file=%t.fused.txt --check-prefix=VALUES

// Transposes folded into contractions (Analysis/Fusion.h, the fifth rule;
// autopar-fuse-elementwise): PyTorch's linear layer, x W^T, exports as a
// transpose of W and a matmul; the matmul reads W through the composed map
// (cuBLAS's transB) and the transpose goes. A training step's weight
// gradient, the transpose of a product, is written transposed by the
// product itself. The folded program prints what the unfolded one prints.

#id = affine_map<(i, j) -> (i, j)>
#swap = affine_map<(i, j) -> (j, i)>

// CHECK-LABEL: func.func @linear(
// CHECK-SAME: %[[X:.*]]: tensor<2x4xf32>, %[[W:.*]]: tensor<3x4xf32>
// CHECK-NOT: linalg.transpose
// CHECK: linalg.generic {indexing_maps = [#[[A:.*]], #[[B:.*]], #[[C:.*]]], iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[X]], %[[W]] : tensor<2x4xf32>, tensor<3x4xf32>)
func.func @linear(%x: tensor<2x4xf32>, %w: tensor<3x4xf32>) -> tensor<2x3xf32> {
  %zero = arith.constant 0.0 : f32
  %et = tensor.empty() : tensor<4x3xf32>
  %wt = linalg.transpose ins(%w : tensor<3x4xf32>) outs(%et : tensor<4x3xf32>) permutation = [1, 0]
  %e = tensor.empty() : tensor<2x3xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<2x3xf32>) -> tensor<2x3xf32>
  %y = linalg.matmul ins(%x, %wt : tensor<2x4xf32>, tensor<4x3xf32>) outs(%z : tensor<2x3xf32>) -> tensor<2x3xf32>
  return %y : tensor<2x3xf32>
}

// A transpose written as a generic, read by two products: both read W.
// CHECK-LABEL: func.func @shared(
// CHECK-SAME: %{{.*}}: tensor<2x4xf32>, %[[W2:.*]]: tensor<3x4xf32>
// CHECK-NOT: linalg.transpose
// CHECK: ins(%{{.*}}, %[[W2]] : tensor<2x4xf32>, tensor<3x4xf32>)
// CHECK: ins(%{{.*}}, %[[W2]] : tensor<2x4xf32>, tensor<3x4xf32>)
func.func @shared(%x: tensor<2x4xf32>, %w: tensor<3x4xf32>) -> (tensor<2x3xf32>, tensor<2x3xf32>) {
  %zero = arith.constant 0.0 : f32
  %et = tensor.empty() : tensor<4x3xf32>
  %wt = linalg.generic {indexing_maps = [#swap, #id], iterator_types = ["parallel", "parallel"]}
      ins(%w : tensor<3x4xf32>) outs(%et : tensor<4x3xf32>) {
  ^bb0(%a: f32, %o: f32):
    linalg.yield %a : f32
  } -> tensor<4x3xf32>
  %e = tensor.empty() : tensor<2x3xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<2x3xf32>) -> tensor<2x3xf32>
  %y = linalg.matmul ins(%x, %wt : tensor<2x4xf32>, tensor<4x3xf32>) outs(%z : tensor<2x3xf32>) -> tensor<2x3xf32>
  %ex = tensor.empty() : tensor<2x4xf32>
  %x2 = linalg.add ins(%x, %x : tensor<2x4xf32>, tensor<2x4xf32>) outs(%ex : tensor<2x4xf32>) -> tensor<2x4xf32>
  %y2 = linalg.matmul ins(%x2, %wt : tensor<2x4xf32>, tensor<4x3xf32>) outs(%z : tensor<2x3xf32>) -> tensor<2x3xf32>
  return %y, %y2 : tensor<2x3xf32>, tensor<2x3xf32>
}

// A weight gradient dW = (x^T dy)^T: the product writes [3, 4] itself, into
// a fill of that shape; the transpose goes.
// CHECK-LABEL: func.func @gradient(
// CHECK: %[[FILL:.*]] = linalg.fill ins(%{{.*}}) outs(%{{.*}} : tensor<3x4xf32>)
// CHECK: linalg.generic {{.*}} outs(%[[FILL]] : tensor<3x4xf32>)
// CHECK-NOT: linalg.transpose
// CHECK: return
func.func @gradient(%x: tensor<2x4xf32>, %dy: tensor<2x3xf32>) -> tensor<3x4xf32> {
  %zero = arith.constant 0.0 : f32
  %xt = tensor.empty() : tensor<4x2xf32>
  %xT = linalg.transpose ins(%x : tensor<2x4xf32>) outs(%xt : tensor<4x2xf32>) permutation = [1, 0]
  %e = tensor.empty() : tensor<4x3xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<4x3xf32>) -> tensor<4x3xf32>
  %g = linalg.matmul ins(%xT, %dy : tensor<4x2xf32>, tensor<2x3xf32>) outs(%z : tensor<4x3xf32>) -> tensor<4x3xf32>
  %et = tensor.empty() : tensor<3x4xf32>
  %gT = linalg.transpose ins(%g : tensor<4x3xf32>) outs(%et : tensor<3x4xf32>) permutation = [1, 0]
  return %gT : tensor<3x4xf32>
}

// Also read by an elementwise op: the transpose stays (it is written once
// for that user) and the product reads it.
// CHECK-LABEL: func.func @kept(
// CHECK: linalg.transpose
// CHECK: linalg.matmul
func.func @kept(%x: tensor<2x4xf32>, %w: tensor<3x4xf32>) -> (tensor<2x3xf32>, tensor<4x3xf32>) {
  %zero = arith.constant 0.0 : f32
  %et = tensor.empty() : tensor<4x3xf32>
  %wt = linalg.transpose ins(%w : tensor<3x4xf32>) outs(%et : tensor<4x3xf32>) permutation = [1, 0]
  %e = tensor.empty() : tensor<2x3xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<2x3xf32>) -> tensor<2x3xf32>
  %y = linalg.matmul ins(%x, %wt : tensor<2x4xf32>, tensor<4x3xf32>) outs(%z : tensor<2x3xf32>) -> tensor<2x3xf32>
  %d = linalg.mul ins(%wt, %wt : tensor<4x3xf32>, tensor<4x3xf32>) outs(%et : tensor<4x3xf32>) -> tensor<4x3xf32>
  return %y, %d : tensor<2x3xf32>, tensor<4x3xf32>
}

// x = [[1 2 3 4] [5 6 7 8]], W = [[1 0 -1 2] [0.5 1 0 0] [2 -1 1 0.5]],
// dy = [[1 0 2] [0 1 -1]].
// VALUES: sizes = [2, 3]
// VALUES-NEXT: {{\[\[}}6, 2.5, 5],
// VALUES-NEXT: [14, 8.5, 15]]
// VALUES: sizes = [2, 3]
// VALUES-NEXT: {{\[\[}}6, 2.5, 5],
// VALUES: sizes = [2, 3]
// VALUES-NEXT: {{\[\[}}12, 5, 10],
// VALUES: sizes = [3, 4]
// VALUES-NEXT: {{\[\[}}1, 2, 3, 4],
// VALUES-NEXT: [5, 6, 7, 8],
// VALUES-NEXT: [-3, -2, -1, 0]]
// VALUES: sizes = [2, 3]
// VALUES-NEXT: {{\[\[}}6, 2.5, 5],
func.func private @printMemrefF32(tensor<*xf32>)
func.func @main() {
  %x = arith.constant dense<[[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]]> : tensor<2x4xf32>
  %w = arith.constant dense<[[1.0, 0.0, -1.0, 2.0], [0.5, 1.0, 0.0, 0.0], [2.0, -1.0, 1.0, 0.5]]> : tensor<3x4xf32>
  %dy = arith.constant dense<[[1.0, 0.0, 2.0], [0.0, 1.0, -1.0]]> : tensor<2x3xf32>
  %y = call @linear(%x, %w) : (tensor<2x4xf32>, tensor<3x4xf32>) -> tensor<2x3xf32>
  %s1, %s2 = call @shared(%x, %w) : (tensor<2x4xf32>, tensor<3x4xf32>) -> (tensor<2x3xf32>, tensor<2x3xf32>)
  %g = call @gradient(%x, %dy) : (tensor<2x4xf32>, tensor<2x3xf32>) -> tensor<3x4xf32>
  %k, %d = call @kept(%x, %w) : (tensor<2x4xf32>, tensor<3x4xf32>) -> (tensor<2x3xf32>, tensor<4x3xf32>)
  %u0 = tensor.cast %y : tensor<2x3xf32> to tensor<*xf32>
  %u1 = tensor.cast %s1 : tensor<2x3xf32> to tensor<*xf32>
  %u2 = tensor.cast %s2 : tensor<2x3xf32> to tensor<*xf32>
  %u3 = tensor.cast %g : tensor<3x4xf32> to tensor<*xf32>
  %u4 = tensor.cast %k : tensor<2x3xf32> to tensor<*xf32>
  call @printMemrefF32(%u0) : (tensor<*xf32>) -> ()
  call @printMemrefF32(%u1) : (tensor<*xf32>) -> ()
  call @printMemrefF32(%u2) : (tensor<*xf32>) -> ()
  call @printMemrefF32(%u3) : (tensor<*xf32>) -> ()
  call @printMemrefF32(%u4) : (tensor<*xf32>) -> ()
  return
}
