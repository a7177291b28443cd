// RUN: autopar-opt %s --autopar-prepare-lowering | FileCheck %s
// RUN: autopar-opt %s --pass-pipeline="builtin.module(autopar-prepare-lowering,one-shot-bufferize{bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map},autopar-contractions-to-cublas)" | FileCheck %s --check-prefix=GEMM

// torch-mlir fills one zero tensor for every product of a shape. Each user
// gets its own fill (autopar-prepare-lowering): shared, bufferization
// filled one buffer and copied it into each product's (HF LLaMA's forward:
// 63 copies, each a kernel), where a product's own fill is made in its
// GEMM (beta = 0) as the cost model prices it (Analysis/Fusion.h,
// isMadeFromScalar).

// CHECK-LABEL: func.func @two_products(
// CHECK: %[[E0:.*]] = tensor.empty() : tensor<8x32xf32>
// CHECK-NEXT: %[[F0:.*]] = linalg.fill ins(%{{.*}} : f32) outs(%[[E0]] : tensor<8x32xf32>)
// CHECK-NEXT: linalg.matmul ins(%{{.*}}, %{{.*}} : tensor<8x16xf32>, tensor<16x32xf32>) outs(%[[F0]] : tensor<8x32xf32>)
// CHECK-NEXT: %[[E1:.*]] = tensor.empty() : tensor<8x32xf32>
// CHECK-NEXT: %[[F1:.*]] = linalg.fill ins(%{{.*}} : f32) outs(%[[E1]] : tensor<8x32xf32>)
// CHECK-NEXT: linalg.matmul ins(%{{.*}}, %{{.*}} : tensor<8x16xf32>, tensor<16x32xf32>) outs(%[[F1]] : tensor<8x32xf32>)

// GEMM-LABEL: func.func @two_products(
// GEMM-NOT: memref.copy
// GEMM-NOT: linalg.copy
// GEMM: call @autopar_cuda_gemm({{.*}}, %c0_i32{{[_0-9]*}}) {autopar.writes
// GEMM-NOT: linalg.copy
// GEMM: call @autopar_cuda_gemm({{.*}}, %c0_i32{{[_0-9]*}}) {autopar.writes
func.func @two_products(%a: tensor<8x16xf32>, %b: tensor<16x32xf32>, %c: tensor<16x32xf32>) -> (tensor<8x32xf32>, tensor<8x32xf32>) {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<8x32xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<8x32xf32>) -> tensor<8x32xf32>
  %p = linalg.matmul ins(%a, %b : tensor<8x16xf32>, tensor<16x32xf32>) outs(%z : tensor<8x32xf32>) -> tensor<8x32xf32>
  %q = linalg.matmul ins(%a, %c : tensor<8x16xf32>, tensor<16x32xf32>) outs(%z : tensor<8x32xf32>) -> tensor<8x32xf32>
  return %p, %q : tensor<8x32xf32>, tensor<8x32xf32>
}
