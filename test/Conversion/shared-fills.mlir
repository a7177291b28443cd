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

#id = affine_map<(m, n) -> (m, n)>
#bias = affine_map<(m, n) -> (n)>

// Fills of their own but of one tensor.empty (CSE merges them in
// autopar-run's partitioned programs): each fill gets its own tensor, else
// bufferization reuses one buffer for product after product (the q, k and
// v projections), written again after each bias add, and no GEMM epilogue
// can take the add (autopar-run's GPT steps had none).
// CHECK-LABEL: func.func @one_empty(
// CHECK: %[[E0:.*]] = tensor.empty() : tensor<8x32xf32>
// CHECK-NEXT: %[[E1:.*]] = tensor.empty() : tensor<8x32xf32>
// CHECK-NEXT: linalg.fill ins(%{{.*}} : f32) outs(%[[E1]] : tensor<8x32xf32>)
// CHECK: linalg.fill ins(%{{.*}} : f32) outs(%[[E0]] : tensor<8x32xf32>)

// GEMM-LABEL: func.func @one_empty(
// GEMM-COUNT-2: call @autopar_cuda_gemm_epilogue(
// GEMM-NOT: linalg.generic
func.func @one_empty(%a: tensor<8x16xf32>, %b: tensor<16x32xf32>, %c: tensor<16x32xf32>, %bias: tensor<32xf32>) -> (tensor<8x32xf32>, tensor<8x32xf32>) {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<8x32xf32>
  %z0 = linalg.fill ins(%zero : f32) outs(%e : tensor<8x32xf32>) -> tensor<8x32xf32>
  %p = linalg.matmul ins(%a, %b : tensor<8x16xf32>, tensor<16x32xf32>) outs(%z0 : tensor<8x32xf32>) -> tensor<8x32xf32>
  %e2 = tensor.empty() : tensor<8x32xf32>
  %y = linalg.generic {indexing_maps = [#id, #bias, #id], iterator_types = ["parallel", "parallel"]}
      ins(%p, %bias : tensor<8x32xf32>, tensor<32xf32>) outs(%e2 : tensor<8x32xf32>) {
  ^bb0(%v: f32, %s: f32, %o: f32):
    %t = arith.addf %v, %s : f32
    linalg.yield %t : f32
  } -> tensor<8x32xf32>
  %z1 = linalg.fill ins(%zero : f32) outs(%e : tensor<8x32xf32>) -> tensor<8x32xf32>
  %q = linalg.matmul ins(%a, %c : tensor<8x16xf32>, tensor<16x32xf32>) outs(%z1 : tensor<8x32xf32>) -> tensor<8x32xf32>
  %e3 = tensor.empty() : tensor<8x32xf32>
  %w = linalg.generic {indexing_maps = [#id, #bias, #id], iterator_types = ["parallel", "parallel"]}
      ins(%q, %bias : tensor<8x32xf32>, tensor<32xf32>) outs(%e3 : tensor<8x32xf32>) {
  ^bb0(%v: f32, %s: f32, %o: f32):
    %t = arith.addf %v, %s : f32
    linalg.yield %t : f32
  } -> tensor<8x32xf32>
  return %y, %w : tensor<8x32xf32>, tensor<8x32xf32>
}
