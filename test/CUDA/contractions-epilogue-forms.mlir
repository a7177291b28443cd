// RUN: autopar-opt %s --split-input-file --pass-pipeline="builtin.module(one-shot-bufferize{bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map},autopar-contractions-to-cublas)" | FileCheck %s

// The epilogue forms autopar-contractions-to-cublas folds into a product's
// cuBLASLt call, D = act(A B + C + bias) (Analysis/Fusion.h,
// matchEpilogueForm): a residual added with the bias is C (beta = 1, the
// product's zero fill dropped); tanh-GELU is cuBLASLt's GELU epilogue
// (activation 2), however its cube and constants are written; erf-GELU is
// not; nor is a residual when the product does not start from zeros. A
// 16-bit product accumulated in f32 may be read rounded (truncf), into
// zeros: the call writes D in the inputs' type.

#id = affine_map<(m, n) -> (m, n)>
#bias = affine_map<(m, n) -> (n)>

// A transformer's output projection: x + (A B + b). C is the residual
// (the call's third operand, %arg2), accumulate 1; no fill, no kernel.
// CHECK-LABEL: func.func @residual(
// CHECK-SAME: %[[A:.*]]: memref<8x16xf32>, %[[B:.*]]: memref<16x32xf32>, %[[X:.*]]: memref<8x32xf32>, %[[BIAS:.*]]: memref<32xf32>
// CHECK-NOT: linalg.fill
// CHECK: %[[XP:.*]] = memref.extract_aligned_pointer_as_index %[[X]]
// CHECK-NEXT: %[[C:.*]] = arith.index_cast %[[XP]]
// CHECK: call @autopar_cuda_gemm_epilogue(%{{.*}}, %{{.*}}, %[[C]], %{{.*}}, %{{.*}}, %c8_i64, %c32_i64, %c16_i64, %c0_i32, %c0_i32_{{[0-9]*}}, %c0_i32_{{[0-9]*}}, %c0_i32_{{[0-9]*}}, %c1_i32) {autopar.writes = array<i32: 3>}
// CHECK-NOT: linalg.generic
func.func @residual(%a: tensor<8x16xf32>, %b: tensor<16x32xf32>, %x: tensor<8x32xf32>, %bias: tensor<32xf32>) -> tensor<8x32xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<8x32xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<8x32xf32>) -> tensor<8x32xf32>
  %p = linalg.matmul ins(%a, %b : tensor<8x16xf32>, tensor<16x32xf32>) outs(%z : tensor<8x32xf32>) -> tensor<8x32xf32>
  %e2 = tensor.empty() : tensor<8x32xf32>
  %y = linalg.generic {indexing_maps = [#id, #id, #bias, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x, %p, %bias : tensor<8x32xf32>, tensor<8x32xf32>, tensor<32xf32>) outs(%e2 : tensor<8x32xf32>) {
  ^bb0(%r: f32, %v: f32, %c: f32, %o: f32):
    %s = arith.addf %v, %c : f32
    %t = arith.addf %r, %s : f32
    linalg.yield %t : f32
  } -> tensor<8x32xf32>
  return %y : tensor<8x32xf32>
}

// -----

#id = affine_map<(m, n) -> (m, n)>
#bias = affine_map<(m, n) -> (n)>

// A product accumulating into the residual already (no zero fill): its C
// is taken, so the residual add stays a kernel.
// CHECK-LABEL: func.func @residual_after_accumulation(
// CHECK: call @autopar_cuda_gemm(
// CHECK: linalg.generic
func.func @residual_after_accumulation(%a: tensor<8x16xf32>, %b: tensor<16x32xf32>, %x: tensor<8x32xf32>, %init: tensor<8x32xf32>, %bias: tensor<32xf32>) -> tensor<8x32xf32> {
  %p = linalg.matmul ins(%a, %b : tensor<8x16xf32>, tensor<16x32xf32>) outs(%init : tensor<8x32xf32>) -> tensor<8x32xf32>
  %e2 = tensor.empty() : tensor<8x32xf32>
  %y = linalg.generic {indexing_maps = [#id, #bias, #id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%p, %bias, %x : tensor<8x32xf32>, tensor<32xf32>, tensor<8x32xf32>) outs(%e2 : tensor<8x32xf32>) {
  ^bb0(%v: f32, %c: f32, %r: f32, %o: f32):
    %s = arith.addf %v, %c : f32
    %t = arith.addf %s, %r : f32
    linalg.yield %t : f32
  } -> tensor<8x32xf32>
  return %y : tensor<8x32xf32>
}

// -----

#id3 = affine_map<(b, s, n) -> (b, s, n)>
#bias3 = affine_map<(b, s, n) -> (n)>

// GPT-2's MLP: tanh-GELU of the bias add on the [b, s, n] view, x^3 as
// two products (as models/generate.py writes it): activation 2.
// CHECK-LABEL: func.func @gelu_tanh(
// CHECK: call @autopar_cuda_gemm_epilogue(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %c8_i64, %c32_i64, %c16_i64, %c0_i32, %c0_i32_{{[0-9]*}}, %c2_i32, %c0_i32_{{[0-9]*}}, %c0_i32_{{[0-9]*}})
// CHECK-NOT: linalg.generic
func.func @gelu_tanh(%a: tensor<8x16xf32>, %b: tensor<16x32xf32>, %bias: tensor<32xf32>) -> tensor<2x4x32xf32> {
  %zero = arith.constant 0.0 : f32
  %half = arith.constant 0.5 : f32
  %one = arith.constant 1.0 : f32
  %k = arith.constant 0.797884583 : f32
  %c = arith.constant 0.044715 : f32
  %e = tensor.empty() : tensor<8x32xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<8x32xf32>) -> tensor<8x32xf32>
  %p = linalg.matmul ins(%a, %b : tensor<8x16xf32>, tensor<16x32xf32>) outs(%z : tensor<8x32xf32>) -> tensor<8x32xf32>
  %v = tensor.expand_shape %p [[0, 1], [2]] output_shape [2, 4, 32] : tensor<8x32xf32> into tensor<2x4x32xf32>
  %e2 = tensor.empty() : tensor<2x4x32xf32>
  %y = linalg.generic {indexing_maps = [#id3, #bias3, #id3], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%v, %bias : tensor<2x4x32xf32>, tensor<32xf32>) outs(%e2 : tensor<2x4x32xf32>) {
  ^bb0(%x0: f32, %x1: f32, %o: f32):
    %s = arith.addf %x0, %x1 : f32
    %s2 = arith.mulf %s, %s : f32
    %s3 = arith.mulf %s2, %s : f32
    %t0 = arith.mulf %s3, %c : f32
    %t1 = arith.addf %s, %t0 : f32
    %t2 = arith.mulf %t1, %k : f32
    %t3 = math.tanh %t2 : f32
    %h = arith.mulf %s, %half : f32
    %t4 = arith.addf %t3, %one : f32
    %g = arith.mulf %h, %t4 : f32
    linalg.yield %g : f32
  } -> tensor<2x4x32xf32>
  return %y : tensor<2x4x32xf32>
}

// -----

#id = affine_map<(m, n) -> (m, n)>
#bias = affine_map<(m, n) -> (n)>

// The same GELU written as x * sigmoid(2 sqrt(2/pi) (x + 0.044715 x^3))
// with a power: the same function, activation 2.
// CHECK-LABEL: func.func @gelu_sigmoid(
// CHECK: call @autopar_cuda_gemm_epilogue(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %c8_i64, %c32_i64, %c16_i64, %c0_i32, %c0_i32_{{[0-9]*}}, %c2_i32, %c0_i32_{{[0-9]*}}, %c0_i32_{{[0-9]*}})
func.func @gelu_sigmoid(%a: tensor<8x16xf32>, %b: tensor<16x32xf32>, %bias: tensor<32xf32>) -> tensor<8x32xf32> {
  %zero = arith.constant 0.0 : f32
  %one = arith.constant 1.0 : f32
  %three = arith.constant 3.0 : f32
  %k2 = arith.constant -1.59576917 : f32
  %c = arith.constant 0.044715 : f32
  %e = tensor.empty() : tensor<8x32xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<8x32xf32>) -> tensor<8x32xf32>
  %p = linalg.matmul ins(%a, %b : tensor<8x16xf32>, tensor<16x32xf32>) outs(%z : tensor<8x32xf32>) -> tensor<8x32xf32>
  %e2 = tensor.empty() : tensor<8x32xf32>
  %y = linalg.generic {indexing_maps = [#bias, #id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%bias, %p : tensor<32xf32>, tensor<8x32xf32>) outs(%e2 : tensor<8x32xf32>) {
  ^bb0(%x1: f32, %x0: f32, %o: f32):
    %s = arith.addf %x1, %x0 : f32
    %s3 = math.powf %s, %three : f32
    %t0 = arith.mulf %c, %s3 : f32
    %t1 = arith.addf %t0, %s : f32
    %t2 = arith.mulf %k2, %t1 : f32
    %t3 = math.exp %t2 : f32
    %t4 = arith.addf %one, %t3 : f32
    %g = arith.divf %s, %t4 : f32
    linalg.yield %g : f32
  } -> tensor<8x32xf32>
  return %y : tensor<8x32xf32>
}

// -----

#id = affine_map<(m, n) -> (m, n)>
#bias = affine_map<(m, n) -> (n)>

// erf-GELU (PyTorch's default nn.GELU) is no cuBLASLt epilogue: a gemm and
// a kernel.
// CHECK-LABEL: func.func @gelu_erf(
// CHECK-NOT: autopar_cuda_gemm_epilogue
// CHECK: call @autopar_cuda_gemm(
// CHECK: linalg.generic
func.func @gelu_erf(%a: tensor<8x16xf32>, %b: tensor<16x32xf32>, %bias: tensor<32xf32>) -> tensor<8x32xf32> {
  %zero = arith.constant 0.0 : f32
  %half = arith.constant 0.5 : f32
  %one = arith.constant 1.0 : f32
  %r2 = arith.constant 0.707106769 : f32
  %e = tensor.empty() : tensor<8x32xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<8x32xf32>) -> tensor<8x32xf32>
  %p = linalg.matmul ins(%a, %b : tensor<8x16xf32>, tensor<16x32xf32>) outs(%z : tensor<8x32xf32>) -> tensor<8x32xf32>
  %e2 = tensor.empty() : tensor<8x32xf32>
  %y = linalg.generic {indexing_maps = [#id, #bias, #id], iterator_types = ["parallel", "parallel"]}
      ins(%p, %bias : tensor<8x32xf32>, tensor<32xf32>) outs(%e2 : tensor<8x32xf32>) {
  ^bb0(%x0: f32, %x1: f32, %o: f32):
    %s = arith.addf %x0, %x1 : f32
    %t = arith.mulf %s, %r2 : f32
    %f = math.erf %t : f32
    %h = arith.mulf %s, %half : f32
    %u = arith.addf %f, %one : f32
    %g = arith.mulf %h, %u : f32
    linalg.yield %g : f32
  } -> tensor<8x32xf32>
  return %y : tensor<8x32xf32>
}

// -----

#id3 = affine_map<(b, s, n) -> (b, s, n)>

// LLaMA's output projection, x + A B on the [b, s, n] view, has no bias:
// C is the residual and the bias address null (CUBLASLT_EPILOGUE_DEFAULT).
// CHECK-LABEL: func.func @residual_no_bias(
// CHECK: call @autopar_cuda_gemm_epilogue(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %c0_i64, %c8_i64, %c32_i64, %c16_i64, %c0_i32, %c0_i32_{{[0-9]*}}, %c0_i32_{{[0-9]*}}, %c0_i32_{{[0-9]*}}, %c1_i32)
// CHECK-NOT: linalg.generic
func.func @residual_no_bias(%a: tensor<8x16xf32>, %b: tensor<16x32xf32>, %x: tensor<2x4x32xf32>) -> tensor<2x4x32xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<8x32xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<8x32xf32>) -> tensor<8x32xf32>
  %p = linalg.matmul ins(%a, %b : tensor<8x16xf32>, tensor<16x32xf32>) outs(%z : tensor<8x32xf32>) -> tensor<8x32xf32>
  %v = tensor.expand_shape %p [[0, 1], [2]] output_shape [2, 4, 32] : tensor<8x32xf32> into tensor<2x4x32xf32>
  %e2 = tensor.empty() : tensor<2x4x32xf32>
  %y = linalg.generic {indexing_maps = [#id3, #id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%x, %v : tensor<2x4x32xf32>, tensor<2x4x32xf32>) outs(%e2 : tensor<2x4x32xf32>) {
  ^bb0(%r: f32, %s: f32, %o: f32):
    %t = arith.addf %r, %s : f32
    linalg.yield %t : f32
  } -> tensor<2x4x32xf32>
  return %y : tensor<2x4x32xf32>
}

// -----

#mk = affine_map<(m, n, k) -> (m, k)>
#kn = affine_map<(m, n, k) -> (k, n)>
#mn = affine_map<(m, n, k) -> (m, n)>
#id3 = affine_map<(b, s, n) -> (b, s, n)>
#bias3 = affine_map<(b, s, n) -> (n)>

// A bf16 training step's dense layer (autopar-training's mixed precision,
// after autopar-fuse-elementwise): bf16 inputs accumulated into an f32
// zero fill, read on the [b, s, n] view rounded to bf16 with the bf16 bias
// added. One call in bf16 (dtype 2) that rounds once after the bias; C is
// D (beta = 0); the f32 product's buffer goes.
// CHECK-LABEL: func.func @rounded_bias(
// CHECK-NOT: memref.alloc() {{.*}} : memref<8x32xf32>
// CHECK: %[[D:.*]] = memref.alloc() {{.*}} : memref<2x4x32xbf16>
// CHECK-NOT: memref.alloc() {{.*}} : memref<8x32xf32>
// CHECK: %[[DP:.*]] = memref.extract_aligned_pointer_as_index %[[D]]
// CHECK-NEXT: %[[C:.*]] = arith.index_cast %[[DP]]
// CHECK: call @autopar_cuda_gemm_epilogue(%{{.*}}, %{{.*}}, %[[C]], %{{.*}}, %{{.*}}, %c8_i64, %c32_i64, %c16_i64, %c0_i32, %c0_i32_{{[0-9]*}}, %c0_i32_{{[0-9]*}}, %c2_i32, %c0_i32_{{[0-9]*}})
// CHECK-NOT: linalg.generic
func.func @rounded_bias(%a: tensor<8x16xbf16>, %b: tensor<16x32xbf16>, %bias: tensor<32xbf16>) -> tensor<2x4x32xbf16> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<8x32xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<8x32xf32>) -> tensor<8x32xf32>
  %p = linalg.generic {indexing_maps = [#mk, #kn, #mn], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %b : tensor<8x16xbf16>, tensor<16x32xbf16>) outs(%z : tensor<8x32xf32>) {
  ^bb0(%x: bf16, %y: bf16, %acc: f32):
    %xf = arith.extf %x : bf16 to f32
    %yf = arith.extf %y : bf16 to f32
    %m = arith.mulf %xf, %yf : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  } -> tensor<8x32xf32>
  %v = tensor.expand_shape %p [[0, 1], [2]] output_shape [2, 4, 32] : tensor<8x32xf32> into tensor<2x4x32xf32>
  %e2 = tensor.empty() : tensor<2x4x32xbf16>
  %y = linalg.generic {indexing_maps = [#id3, #bias3, #id3], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%v, %bias : tensor<2x4x32xf32>, tensor<32xbf16>) outs(%e2 : tensor<2x4x32xbf16>) {
  ^bb0(%s: f32, %c: bf16, %o: bf16):
    %r = arith.truncf %s : f32 to bf16
    %t = arith.addf %r, %c : bf16
    linalg.yield %t : bf16
  } -> tensor<2x4x32xbf16>
  return %y : tensor<2x4x32xbf16>
}

// -----

#mk = affine_map<(m, n, k) -> (m, k)>
#kn = affine_map<(m, n, k) -> (k, n)>
#mn = affine_map<(m, n, k) -> (m, n)>
#id = affine_map<(m, n) -> (m, n)>
#bias = affine_map<(m, n) -> (n)>

// The same with a bf16 residual: C is the residual (beta = 1), in bf16.
// CHECK-LABEL: func.func @rounded_residual(
// CHECK-SAME: %{{.*}}: memref<8x16xbf16>, %{{.*}}: memref<16x32xbf16>, %[[X:.*]]: memref<8x32xbf16>
// CHECK: %[[XP:.*]] = memref.extract_aligned_pointer_as_index %[[X]]
// CHECK-NEXT: %[[C:.*]] = arith.index_cast %[[XP]]
// CHECK: call @autopar_cuda_gemm_epilogue(%{{.*}}, %{{.*}}, %[[C]], %{{.*}}, %{{.*}}, %c8_i64, %c32_i64, %c16_i64, %c0_i32, %c0_i32_{{[0-9]*}}, %c0_i32_{{[0-9]*}}, %c2_i32, %c1_i32)
// CHECK-NOT: linalg.generic
func.func @rounded_residual(%a: tensor<8x16xbf16>, %b: tensor<16x32xbf16>, %x: tensor<8x32xbf16>, %bias: tensor<32xbf16>) -> tensor<8x32xbf16> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<8x32xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<8x32xf32>) -> tensor<8x32xf32>
  %p = linalg.generic {indexing_maps = [#mk, #kn, #mn], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %b : tensor<8x16xbf16>, tensor<16x32xbf16>) outs(%z : tensor<8x32xf32>) {
  ^bb0(%u: bf16, %w: bf16, %acc: f32):
    %uf = arith.extf %u : bf16 to f32
    %wf = arith.extf %w : bf16 to f32
    %m = arith.mulf %uf, %wf : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  } -> tensor<8x32xf32>
  %e2 = tensor.empty() : tensor<8x32xbf16>
  %y = linalg.generic {indexing_maps = [#id, #id, #bias, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x, %p, %bias : tensor<8x32xbf16>, tensor<8x32xf32>, tensor<32xbf16>) outs(%e2 : tensor<8x32xbf16>) {
  ^bb0(%r: bf16, %s: f32, %c: bf16, %o: bf16):
    %q = arith.truncf %s : f32 to bf16
    %t = arith.addf %q, %c : bf16
    %u = arith.addf %r, %t : bf16
    linalg.yield %u : bf16
  } -> tensor<8x32xbf16>
  return %y : tensor<8x32xbf16>
}

// -----

#mk = affine_map<(m, n, k) -> (m, k)>
#kn = affine_map<(m, n, k) -> (k, n)>
#mn = affine_map<(m, n, k) -> (m, n)>
#id = affine_map<(m, n) -> (m, n)>
#bias = affine_map<(m, n) -> (n)>

// Rounded, but accumulating into an f32 buffer it did not fill: C would be
// that f32 buffer, D bf16; no epilogue (and no rounding folded: the
// product is not written whole).
// CHECK-LABEL: func.func @rounded_after_accumulation(
// CHECK: call @autopar_cuda_gemm(
// CHECK: linalg.generic
func.func @rounded_after_accumulation(%a: tensor<8x16xbf16>, %b: tensor<16x32xbf16>, %init: tensor<8x32xf32>, %bias: tensor<32xbf16>) -> tensor<8x32xbf16> {
  %p = linalg.generic {indexing_maps = [#mk, #kn, #mn], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %b : tensor<8x16xbf16>, tensor<16x32xbf16>) outs(%init : tensor<8x32xf32>) {
  ^bb0(%u: bf16, %w: bf16, %acc: f32):
    %uf = arith.extf %u : bf16 to f32
    %wf = arith.extf %w : bf16 to f32
    %m = arith.mulf %uf, %wf : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  } -> tensor<8x32xf32>
  %e2 = tensor.empty() : tensor<8x32xbf16>
  %y = linalg.generic {indexing_maps = [#id, #bias, #id], iterator_types = ["parallel", "parallel"]}
      ins(%p, %bias : tensor<8x32xf32>, tensor<32xbf16>) outs(%e2 : tensor<8x32xbf16>) {
  ^bb0(%s: f32, %c: bf16, %o: bf16):
    %q = arith.truncf %s : f32 to bf16
    %t = arith.addf %q, %c : bf16
    linalg.yield %t : bf16
  } -> tensor<8x32xbf16>
  return %y : tensor<8x32xbf16>
}

// -----

#id = affine_map<(m, n) -> (m, n)>
#bias = affine_map<(m, n) -> (n)>

// A training step's GELU layer: the bias add's sum is read by the GELU and
// by the GELU's backward (here: returned). One call writes the GELU's
// result as D and the sum as AUX (cuBLASLt's GELU_AUX_BIAS): the operands
// A, B, C, D, bias, aux.
// CHECK-LABEL: func.func @gelu_aux(
// CHECK: memref.alloc() {{.*}} : memref<8x32xf32>
// CHECK-NEXT: %[[H:.*]] = memref.alloc() {{.*}} : memref<8x32xf32>
// CHECK-NEXT: %[[G:.*]] = memref.alloc() {{.*}} : memref<8x32xf32>
// CHECK: %[[GP:.*]] = memref.extract_aligned_pointer_as_index %[[G]]
// CHECK-NEXT: %[[D:.*]] = arith.index_cast %[[GP]]
// CHECK: %[[HP:.*]] = memref.extract_aligned_pointer_as_index %[[H]]
// CHECK-NEXT: %[[AUX:.*]] = arith.index_cast %[[HP]]
// CHECK: call @autopar_cuda_gemm_gelu_aux(%{{.*}}, %{{.*}}, %{{.*}}, %[[D]], %{{.*}}, %[[AUX]], %c8_i64, %c32_i64, %c16_i64, %c0_i32, %c0_i32_{{[0-9]*}}, %c0_i32_{{[0-9]*}}, %c0_i32_{{[0-9]*}}) {autopar.writes = array<i32: 3, 5>}
// CHECK-NOT: linalg.generic
// CHECK: return %[[G]], %[[H]]
func.func @gelu_aux(%a: tensor<8x16xf32>, %b: tensor<16x32xf32>, %bias: tensor<32xf32>) -> (tensor<8x32xf32>, tensor<8x32xf32>) {
  %zero = arith.constant 0.0 : f32
  %half = arith.constant 0.5 : f32
  %one = arith.constant 1.0 : f32
  %k = arith.constant 0.797884583 : f32
  %c = arith.constant 0.044715 : f32
  %e = tensor.empty() : tensor<8x32xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<8x32xf32>) -> tensor<8x32xf32>
  %p = linalg.matmul ins(%a, %b : tensor<8x16xf32>, tensor<16x32xf32>) outs(%z : tensor<8x32xf32>) -> tensor<8x32xf32>
  %e1 = tensor.empty() : tensor<8x32xf32>
  %h = linalg.generic {indexing_maps = [#id, #bias, #id], iterator_types = ["parallel", "parallel"]}
      ins(%p, %bias : tensor<8x32xf32>, tensor<32xf32>) outs(%e1 : tensor<8x32xf32>) {
  ^bb0(%v: f32, %s: f32, %o: f32):
    %t = arith.addf %v, %s : f32
    linalg.yield %t : f32
  } -> tensor<8x32xf32>
  %e2 = tensor.empty() : tensor<8x32xf32>
  %g = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%h : tensor<8x32xf32>) outs(%e2 : tensor<8x32xf32>) {
  ^bb0(%x: f32, %o: f32):
    %x2 = arith.mulf %x, %x : f32
    %x3 = arith.mulf %x2, %x : f32
    %cx3 = arith.mulf %c, %x3 : f32
    %inner = arith.addf %x, %cx3 : f32
    %scaled = arith.mulf %k, %inner : f32
    %t = math.tanh %scaled : f32
    %onep = arith.addf %one, %t : f32
    %hx = arith.mulf %half, %x : f32
    %r = arith.mulf %hx, %onep : f32
    linalg.yield %r : f32
  } -> tensor<8x32xf32>
  return %g, %h : tensor<8x32xf32>, tensor<8x32xf32>
}

// -----

#id = affine_map<(m, n) -> (m, n)>
#bias = affine_map<(m, n) -> (n)>
#id3 = affine_map<(b, s, n) -> (b, s, n)>

// The same as a Hugging Face GPT-2 exports it (Conv1D: the sum [b * s, n]
// viewed [b, s, n]; torch-mlir's GELU: the cube by fpowi, its constants f64
// rounded to f32): the GELU reads the sum's rows split into leading
// dimensions; D is its [b, s, n] result, AUX the sum.
// CHECK-LABEL: func.func @gelu_aux_view(
// CHECK: %[[H:.*]] = memref.alloc() {{.*}} : memref<8x32xf32>
// CHECK: %[[HV:.*]] = memref.expand_shape %[[H]] {{\[\[}}0, 1], [2]] output_shape [2, 4, 32]
// CHECK: %[[G:.*]] = memref.alloc() {{.*}} : memref<2x4x32xf32>
// CHECK: %[[GP:.*]] = memref.extract_aligned_pointer_as_index %[[G]]
// CHECK-NEXT: %[[D:.*]] = arith.index_cast %[[GP]]
// CHECK: %[[HP:.*]] = memref.extract_aligned_pointer_as_index %[[H]]
// CHECK-NEXT: %[[AUX:.*]] = arith.index_cast %[[HP]]
// CHECK: call @autopar_cuda_gemm_gelu_aux(%{{.*}}, %{{.*}}, %{{.*}}, %[[D]], %{{.*}}, %[[AUX]], %c8_i64, %c32_i64, %c16_i64,
// CHECK-NOT: linalg.generic
// CHECK: return %[[G]], %[[HV]]
func.func @gelu_aux_view(%a: tensor<8x16xf32>, %b: tensor<16x32xf32>, %bias: tensor<32xf32>) -> (tensor<2x4x32xf32>, tensor<2x4x32xf32>) {
  %zero = arith.constant 0.0 : f32
  %half = arith.constant 5.000000e-01 : f32
  %one = arith.constant 1.000000e+00 : f32
  %k = arith.constant 0.79788456080286541 : f64
  %c = arith.constant 4.471500e-02 : f64
  %three = arith.constant 3 : i64
  %e = tensor.empty() : tensor<8x32xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<8x32xf32>) -> tensor<8x32xf32>
  %p = linalg.matmul ins(%a, %b : tensor<8x16xf32>, tensor<16x32xf32>) outs(%z : tensor<8x32xf32>) -> tensor<8x32xf32>
  %h = linalg.generic {indexing_maps = [#id, #bias, #id], iterator_types = ["parallel", "parallel"]}
      ins(%p, %bias : tensor<8x32xf32>, tensor<32xf32>) outs(%e : tensor<8x32xf32>) {
  ^bb0(%v: f32, %s: f32, %o: f32):
    %t = arith.addf %v, %s : f32
    linalg.yield %t : f32
  } -> tensor<8x32xf32>
  %hv = tensor.expand_shape %h [[0, 1], [2]] output_shape [2, 4, 32] : tensor<8x32xf32> into tensor<2x4x32xf32>
  %e2 = tensor.empty() : tensor<2x4x32xf32>
  %g = linalg.generic {indexing_maps = [#id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%hv : tensor<2x4x32xf32>) outs(%e2 : tensor<2x4x32xf32>) {
  ^bb0(%x: f32, %o: f32):
    %hx = arith.mulf %x, %half : f32
    %x3 = math.fpowi %x, %three : f32, i64
    %c32 = arith.truncf %c : f64 to f32
    %cx3 = arith.mulf %x3, %c32 : f32
    %inner = arith.addf %x, %cx3 : f32
    %k32 = arith.truncf %k : f64 to f32
    %scaled = arith.mulf %inner, %k32 : f32
    %t = math.tanh %scaled : f32
    %onep = arith.addf %t, %one : f32
    %r = arith.mulf %hx, %onep : f32
    linalg.yield %r : f32
  } -> tensor<2x4x32xf32>
  return %g, %hv : tensor<2x4x32xf32>, tensor<2x4x32xf32>
}

// -----

#id = affine_map<(m, n) -> (m, n)>
#bias = affine_map<(m, n) -> (n)>
#id3 = affine_map<(b, s, n) -> (b, s, n)>

// A Hugging Face GPT-2's attention or MLP output: Conv1D's bias add over
// [b * s, n], then the residual added to it viewed [b, s, n]. One call: the
// residual is C (beta = 1, the last operand), D the add's result; the
// sum's buffer and the product's go.
// CHECK-LABEL: func.func @residual_after_view(
// CHECK-SAME: %[[A:[^:]*]]: memref<8x16xf32>, %[[B:[^:]*]]: memref<16x32xf32>, %[[BIAS:[^:]*]]: memref<32xf32>, %[[R:[^:]*]]: memref<2x4x32xf32>
// CHECK-NOT: memref.alloc() {{.*}} : memref<8x32xf32>
// CHECK: %[[OUT:.*]] = memref.alloc() {{.*}} : memref<2x4x32xf32>
// CHECK: %[[RP:.*]] = memref.extract_aligned_pointer_as_index %[[R]]
// CHECK-NEXT: %[[C:.*]] = arith.index_cast %[[RP]]
// CHECK-NEXT: %[[DP:.*]] = memref.extract_aligned_pointer_as_index %[[OUT]]
// CHECK-NEXT: %[[D:.*]] = arith.index_cast %[[DP]]
// CHECK: call @autopar_cuda_gemm_epilogue(%{{.*}}, %{{.*}}, %[[C]], %[[D]], %{{.*}}, %c8_i64, %c32_i64, %c16_i64, %c0_i32, %c0_i32_{{[0-9]*}}, %c0_i32_{{[0-9]*}}, %c0_i32_{{[0-9]*}}, %c1_i32) {autopar.writes = array<i32: 3>}
// CHECK-NOT: linalg.generic
// CHECK: return %[[OUT]]
func.func @residual_after_view(%a: tensor<8x16xf32>, %b: tensor<16x32xf32>, %bias: tensor<32xf32>, %r: tensor<2x4x32xf32>) -> tensor<2x4x32xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<8x32xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<8x32xf32>) -> tensor<8x32xf32>
  %p = linalg.matmul ins(%a, %b : tensor<8x16xf32>, tensor<16x32xf32>) outs(%z : tensor<8x32xf32>) -> tensor<8x32xf32>
  %h = linalg.generic {indexing_maps = [#id, #bias, #id], iterator_types = ["parallel", "parallel"]}
      ins(%p, %bias : tensor<8x32xf32>, tensor<32xf32>) outs(%e : tensor<8x32xf32>) {
  ^bb0(%v: f32, %s: f32, %o: f32):
    %t = arith.addf %v, %s : f32
    linalg.yield %t : f32
  } -> tensor<8x32xf32>
  %hv = tensor.expand_shape %h [[0, 1], [2]] output_shape [2, 4, 32] : tensor<8x32xf32> into tensor<2x4x32xf32>
  %e2 = tensor.empty() : tensor<2x4x32xf32>
  %y = linalg.generic {indexing_maps = [#id3, #id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%hv, %r : tensor<2x4x32xf32>, tensor<2x4x32xf32>) outs(%e2 : tensor<2x4x32xf32>) {
  ^bb0(%x: f32, %y0: f32, %o: f32):
    %t = arith.addf %x, %y0 : f32
    linalg.yield %t : f32
  } -> tensor<2x4x32xf32>
  return %y : tensor<2x4x32xf32>
}

// -----

#id = affine_map<(m, n) -> (m, n)>
#bias = affine_map<(m, n) -> (n)>
#id3 = affine_map<(b, s, n) -> (b, s, n)>

// The same with the sum returned too: read after the residual add, so the
// call must write it; the residual add stays a kernel.
// CHECK-LABEL: func.func @residual_after_view_kept(
// CHECK: call @autopar_cuda_gemm_epilogue(
// CHECK-SAME: %c0_i32_{{[0-9]*}}) {autopar.writes = array<i32: 3>}
// CHECK: linalg.generic
func.func @residual_after_view_kept(%a: tensor<8x16xf32>, %b: tensor<16x32xf32>, %bias: tensor<32xf32>, %r: tensor<2x4x32xf32>) -> (tensor<2x4x32xf32>, tensor<8x32xf32>) {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<8x32xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<8x32xf32>) -> tensor<8x32xf32>
  %p = linalg.matmul ins(%a, %b : tensor<8x16xf32>, tensor<16x32xf32>) outs(%z : tensor<8x32xf32>) -> tensor<8x32xf32>
  %h = linalg.generic {indexing_maps = [#id, #bias, #id], iterator_types = ["parallel", "parallel"]}
      ins(%p, %bias : tensor<8x32xf32>, tensor<32xf32>) outs(%e : tensor<8x32xf32>) {
  ^bb0(%v: f32, %s: f32, %o: f32):
    %t = arith.addf %v, %s : f32
    linalg.yield %t : f32
  } -> tensor<8x32xf32>
  %hv = tensor.expand_shape %h [[0, 1], [2]] output_shape [2, 4, 32] : tensor<8x32xf32> into tensor<2x4x32xf32>
  %e2 = tensor.empty() : tensor<2x4x32xf32>
  %y = linalg.generic {indexing_maps = [#id3, #id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%hv, %r : tensor<2x4x32xf32>, tensor<2x4x32xf32>) outs(%e2 : tensor<2x4x32xf32>) {
  ^bb0(%x: f32, %y0: f32, %o: f32):
    %t = arith.addf %x, %y0 : f32
    linalg.yield %t : f32
  } -> tensor<2x4x32xf32>
  return %y, %h : tensor<2x4x32xf32>, tensor<8x32xf32>
}

// -----

#id = affine_map<(m, n) -> (m, n)>
#bias = affine_map<(m, n) -> (n)>

// The same with 12 columns: cuBLASLt wants AUX's leading dimension a
// multiple of 8, so the bias add folds alone and the GELU stays a kernel.
// CHECK-LABEL: func.func @gelu_aux_unaligned(
// CHECK: call @autopar_cuda_gemm_epilogue(
// CHECK: linalg.generic
// CHECK-NOT: call @autopar_cuda_gemm_gelu_aux(
func.func @gelu_aux_unaligned(%a: tensor<8x16xf32>, %b: tensor<16x12xf32>, %bias: tensor<12xf32>) -> (tensor<8x12xf32>, tensor<8x12xf32>) {
  %zero = arith.constant 0.0 : f32
  %half = arith.constant 0.5 : f32
  %one = arith.constant 1.0 : f32
  %k = arith.constant 0.797884583 : f32
  %c = arith.constant 0.044715 : f32
  %e = tensor.empty() : tensor<8x12xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<8x12xf32>) -> tensor<8x12xf32>
  %p = linalg.matmul ins(%a, %b : tensor<8x16xf32>, tensor<16x12xf32>) outs(%z : tensor<8x12xf32>) -> tensor<8x12xf32>
  %e1 = tensor.empty() : tensor<8x12xf32>
  %h = linalg.generic {indexing_maps = [#id, #bias, #id], iterator_types = ["parallel", "parallel"]}
      ins(%p, %bias : tensor<8x12xf32>, tensor<12xf32>) outs(%e1 : tensor<8x12xf32>) {
  ^bb0(%v: f32, %s: f32, %o: f32):
    %t = arith.addf %v, %s : f32
    linalg.yield %t : f32
  } -> tensor<8x12xf32>
  %e2 = tensor.empty() : tensor<8x12xf32>
  %g = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%h : tensor<8x12xf32>) outs(%e2 : tensor<8x12xf32>) {
  ^bb0(%x: f32, %o: f32):
    %x2 = arith.mulf %x, %x : f32
    %x3 = arith.mulf %x2, %x : f32
    %cx3 = arith.mulf %c, %x3 : f32
    %inner = arith.addf %x, %cx3 : f32
    %scaled = arith.mulf %k, %inner : f32
    %t = math.tanh %scaled : f32
    %onep = arith.addf %one, %t : f32
    %hx = arith.mulf %half, %x : f32
    %r = arith.mulf %hx, %onep : f32
    linalg.yield %r : f32
  } -> tensor<8x12xf32>
  return %g, %h : tensor<8x12xf32>, tensor<8x12xf32>
}

// -----

#mk = affine_map<(m, n, k) -> (m, k)>
#nk = affine_map<(m, n, k) -> (n, k)>
#km = affine_map<(m, n, k) -> (k, m)>
#kn = affine_map<(m, n, k) -> (k, n)>
#mn = affine_map<(m, n, k) -> (m, n)>
#id3 = affine_map<(b, s, n) -> (b, s, n)>
#col3 = affine_map<(b, s, n) -> (n)>

// A training step's GELU backward: the product that makes the GELU's
// output gradient (dy W^T, viewed [b, s, n]), the weight gradient autodiff
// puts between them, then dy * GELU'(h) with h the kept sum, then the
// bias's gradient (its column sum into zeros). The product moves down to
// the backward: one call writes the gradient as D and the bias gradient
// (cuBLASLt's DGELU_BGRAD, h as AUX): the operands A, B, D, bias gradient,
// aux, m, n, k, transA, transB, dtype. The weight gradient stays a GEMM.
// CHECK-LABEL: func.func @gelu_gradient(
// CHECK-SAME: %[[DY:[^:]*]]: memref<8x16xf32>
// CHECK: call @autopar_cuda_gemm(
// CHECK: %[[DB:.*]] = memref.alloc() {{.*}} : memref<32xf32>
// CHECK: call @autopar_cuda_gemm_dgelu(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %c8_i64{{.*}}, %c32_i64{{.*}}, %c16_i64{{.*}}, %c0_i32{{.*}}, %c1_i32{{.*}}, %c0_i32{{.*}}) {autopar.writes = array<i32: 2, 3>}
// CHECK-NOT: linalg.generic
// CHECK-NOT: linalg.fill
// CHECK: return
func.func @gelu_gradient(%dy: tensor<8x16xf32>, %w: tensor<32x16xf32>, %x: tensor<8x32xf32>, %h: tensor<2x4x32xf32>) -> (tensor<2x4x32xf32>, tensor<32xf32>, tensor<32x16xf32>) {
  %zero = arith.constant 0.0 : f32
  %half = arith.constant 0.5 : f32
  %one = arith.constant 1.0 : f32
  %k = arith.constant 0.797884583 : f32
  %c = arith.constant 0.044715 : f32
  %c3 = arith.constant 0.134145 : f32
  %e = tensor.empty() : tensor<8x32xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<8x32xf32>) -> tensor<8x32xf32>
  %da = linalg.generic {indexing_maps = [#mk, #nk, #mn], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%dy, %w : tensor<8x16xf32>, tensor<32x16xf32>) outs(%z : tensor<8x32xf32>) {
  ^bb0(%p: f32, %q: f32, %o: f32):
    %m = arith.mulf %p, %q : f32
    %s = arith.addf %o, %m : f32
    linalg.yield %s : f32
  } -> tensor<8x32xf32>
  %ew = tensor.empty() : tensor<32x16xf32>
  %zw = linalg.fill ins(%zero : f32) outs(%ew : tensor<32x16xf32>) -> tensor<32x16xf32>
  %dw = linalg.generic {indexing_maps = [#km, #kn, #mn], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %dy : tensor<8x32xf32>, tensor<8x16xf32>) outs(%zw : tensor<32x16xf32>) {
  ^bb0(%p: f32, %q: f32, %o: f32):
    %m = arith.mulf %p, %q : f32
    %s = arith.addf %o, %m : f32
    linalg.yield %s : f32
  } -> tensor<32x16xf32>
  %v = tensor.expand_shape %da [[0, 1], [2]] output_shape [2, 4, 32] : tensor<8x32xf32> into tensor<2x4x32xf32>
  %eg = tensor.empty() : tensor<2x4x32xf32>
  %dh = linalg.generic {indexing_maps = [#id3, #id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%v, %h : tensor<2x4x32xf32>, tensor<2x4x32xf32>) outs(%eg : tensor<2x4x32xf32>) {
  ^bb0(%g: f32, %y: f32, %o: f32):
    %y2 = arith.mulf %y, %y : f32
    %y3 = arith.mulf %y2, %y : f32
    %cy3 = arith.mulf %y3, %c : f32
    %in = arith.addf %y, %cy3 : f32
    %s = arith.mulf %in, %k : f32
    %t = math.tanh %s : f32
    %onep = arith.addf %t, %one : f32
    %left = arith.mulf %onep, %half : f32
    %t2 = arith.mulf %t, %t : f32
    %sech = arith.subf %one, %t2 : f32
    %c3y2 = arith.mulf %y2, %c3 : f32
    %dp = arith.addf %one, %c3y2 : f32
    %kdp = arith.mulf %dp, %k : f32
    %hy = arith.mulf %y, %half : f32
    %a = arith.mulf %hy, %sech : f32
    %b = arith.mulf %a, %kdp : f32
    %d = arith.addf %left, %b : f32
    %r = arith.mulf %g, %d : f32
    linalg.yield %r : f32
  } -> tensor<2x4x32xf32>
  %eb = tensor.empty() : tensor<32xf32>
  %zb = linalg.fill ins(%zero : f32) outs(%eb : tensor<32xf32>) -> tensor<32xf32>
  %db = linalg.generic {indexing_maps = [#id3, #col3], iterator_types = ["reduction", "reduction", "parallel"]}
      ins(%dh : tensor<2x4x32xf32>) outs(%zb : tensor<32xf32>) {
  ^bb0(%p: f32, %o: f32):
    %s = arith.addf %o, %p : f32
    linalg.yield %s : f32
  } -> tensor<32xf32>
  return %dh, %db, %dw : tensor<2x4x32xf32>, tensor<32xf32>, tensor<32x16xf32>
}

// -----

#mk = affine_map<(m, n, k) -> (m, k)>
#nk = affine_map<(m, n, k) -> (n, k)>
#km = affine_map<(m, n, k) -> (k, m)>
#kn = affine_map<(m, n, k) -> (k, n)>
#mn = affine_map<(m, n, k) -> (m, n)>
#id2 = affine_map<(m, n) -> (m, n)>
#id3 = affine_map<(b, s, n) -> (b, s, n)>
#col3 = affine_map<(b, s, n) -> (n)>

// The same backward in a 16-bit PyTorch export: the data gradient is a
// product of bf16 operands into f32 zeros, rounded to bf16 after the
// weight gradient autodiff puts between them, and the GELU's backward
// reads the rounded gradient and the kept bf16 sum in bf16 arithmetic.
// The product moves down past the weight gradient (which writes none of
// its inputs) to the backward: one DGELU call with a bf16 D and AUX
// (dtype 2: f32 accumulation, rounded once), the rounding and its f32
// buffer gone. The bias's gradient, an f32 sum of the widened bf16
// gradient, is not BGRAD's (which would sum into D's type): it stays.
// CHECK-LABEL: func.func @gelu_gradient_rounded(
// CHECK: call @autopar_cuda_gemm({{.*}}, %c2_i32{{.*}}, %c0_i32{{.*}}, %c0_i32{{.*}})
// CHECK: call @autopar_cuda_gemm_dgelu(%{{.*}}, %{{.*}}, %{{.*}}, %c0_i64{{.*}}, %{{.*}}, %c8_i64{{.*}}, %c32_i64{{.*}}, %c16_i64{{.*}}, %c0_i32{{.*}}, %c1_i32{{.*}}, %c2_i32{{.*}}) {autopar.writes = array<i32: 2>}
// CHECK-NOT: arith.truncf %{{.*}} : f32 to bf16
// CHECK-NOT: math.tanh
// CHECK: linalg.fill
// CHECK: linalg.generic
// CHECK: arith.extf
// CHECK-NOT: linalg.generic
// CHECK: return
func.func @gelu_gradient_rounded(%dy: tensor<8x16xbf16>, %w: tensor<32x16xbf16>, %x: tensor<8x32xbf16>, %h: tensor<2x4x32xbf16>) -> (tensor<2x4x32xbf16>, tensor<32xf32>, tensor<32x16xf32>) {
  %zero = arith.constant 0.0 : f32
  %half = arith.constant 0.5 : bf16
  %one = arith.constant 1.0 : bf16
  %k = arith.constant 0.797884583 : bf16
  %c = arith.constant 0.044715 : bf16
  %c3 = arith.constant 0.134145 : bf16
  %e = tensor.empty() : tensor<8x32xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<8x32xf32>) -> tensor<8x32xf32>
  %da = linalg.generic {indexing_maps = [#mk, #nk, #mn], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%dy, %w : tensor<8x16xbf16>, tensor<32x16xbf16>) outs(%z : tensor<8x32xf32>) {
  ^bb0(%p: bf16, %q: bf16, %o: f32):
    %pw = arith.extf %p : bf16 to f32
    %qw = arith.extf %q : bf16 to f32
    %m = arith.mulf %pw, %qw : f32
    %s = arith.addf %o, %m : f32
    linalg.yield %s : f32
  } -> tensor<8x32xf32>
  %ew = tensor.empty() : tensor<32x16xf32>
  %zw = linalg.fill ins(%zero : f32) outs(%ew : tensor<32x16xf32>) -> tensor<32x16xf32>
  %dw = linalg.generic {indexing_maps = [#km, #kn, #mn], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %dy : tensor<8x32xbf16>, tensor<8x16xbf16>) outs(%zw : tensor<32x16xf32>) {
  ^bb0(%p: bf16, %q: bf16, %o: f32):
    %pw = arith.extf %p : bf16 to f32
    %qw = arith.extf %q : bf16 to f32
    %m = arith.mulf %pw, %qw : f32
    %s = arith.addf %o, %m : f32
    linalg.yield %s : f32
  } -> tensor<32x16xf32>
  %er = tensor.empty() : tensor<8x32xbf16>
  %r16 = linalg.generic {indexing_maps = [#id2, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%da : tensor<8x32xf32>) outs(%er : tensor<8x32xbf16>) {
  ^bb0(%p: f32, %o: bf16):
    %t = arith.truncf %p : f32 to bf16
    linalg.yield %t : bf16
  } -> tensor<8x32xbf16>
  %v = tensor.expand_shape %r16 [[0, 1], [2]] output_shape [2, 4, 32] : tensor<8x32xbf16> into tensor<2x4x32xbf16>
  %eg = tensor.empty() : tensor<2x4x32xbf16>
  %dh = linalg.generic {indexing_maps = [#id3, #id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%v, %h : tensor<2x4x32xbf16>, tensor<2x4x32xbf16>) outs(%eg : tensor<2x4x32xbf16>) {
  ^bb0(%g: bf16, %y: bf16, %o: bf16):
    %y2 = arith.mulf %y, %y : bf16
    %y3 = arith.mulf %y2, %y : bf16
    %cy3 = arith.mulf %y3, %c : bf16
    %in = arith.addf %y, %cy3 : bf16
    %s = arith.mulf %in, %k : bf16
    %t = math.tanh %s : bf16
    %onep = arith.addf %t, %one : bf16
    %left = arith.mulf %onep, %half : bf16
    %t2 = arith.mulf %t, %t : bf16
    %sech = arith.subf %one, %t2 : bf16
    %c3y2 = arith.mulf %y2, %c3 : bf16
    %dp = arith.addf %one, %c3y2 : bf16
    %kdp = arith.mulf %dp, %k : bf16
    %hy = arith.mulf %y, %half : bf16
    %a = arith.mulf %hy, %sech : bf16
    %b = arith.mulf %a, %kdp : bf16
    %d = arith.addf %left, %b : bf16
    %r = arith.mulf %g, %d : bf16
    linalg.yield %r : bf16
  } -> tensor<2x4x32xbf16>
  %eb = tensor.empty() : tensor<32xf32>
  %zb = linalg.fill ins(%zero : f32) outs(%eb : tensor<32xf32>) -> tensor<32xf32>
  %db = linalg.generic {indexing_maps = [#id3, #col3], iterator_types = ["reduction", "reduction", "parallel"]}
      ins(%dh : tensor<2x4x32xbf16>) outs(%zb : tensor<32xf32>) {
  ^bb0(%p: bf16, %o: f32):
    %pw = arith.extf %p : bf16 to f32
    %s = arith.addf %o, %pw : f32
    linalg.yield %s : f32
  } -> tensor<32xf32>
  return %dh, %db, %dw : tensor<2x4x32xbf16>, tensor<32xf32>, tensor<32x16xf32>
}

// -----

#mk = affine_map<(m, n, k) -> (m, k)>
#nk = affine_map<(m, n, k) -> (n, k)>
#km = affine_map<(m, n, k) -> (k, m)>
#kn = affine_map<(m, n, k) -> (k, n)>
#mn = affine_map<(m, n, k) -> (m, n)>
#id2 = affine_map<(m, n) -> (m, n)>

// A rounded data gradient read by more than the GELU's backward (here
// returned) keeps its rounding; the product still writes it rounded (the
// rounding is its first reader, past the weight gradient): a GEMM whose
// result type is bf16 (2) after the weight gradient's, and no DGELU.
// CHECK-LABEL: func.func @rounded_past_weight_gradient(
// CHECK: call @autopar_cuda_gemm({{.*}}, %c2_i32{{.*}}, %c0_i32{{.*}}, %c0_i32{{.*}})
// CHECK: call @autopar_cuda_gemm({{.*}}, %c2_i32{{.*}}, %c2_i32{{.*}}, %c0_i32{{.*}})
// CHECK-NOT: call @autopar_cuda_gemm_dgelu
// CHECK-NOT: arith.truncf
// CHECK: return
func.func @rounded_past_weight_gradient(%dy: tensor<8x16xbf16>, %w: tensor<32x16xbf16>, %x: tensor<8x32xbf16>) -> (tensor<8x32xbf16>, tensor<32x16xf32>) {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<8x32xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<8x32xf32>) -> tensor<8x32xf32>
  %da = linalg.generic {indexing_maps = [#mk, #nk, #mn], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%dy, %w : tensor<8x16xbf16>, tensor<32x16xbf16>) outs(%z : tensor<8x32xf32>) {
  ^bb0(%p: bf16, %q: bf16, %o: f32):
    %pw = arith.extf %p : bf16 to f32
    %qw = arith.extf %q : bf16 to f32
    %m = arith.mulf %pw, %qw : f32
    %s = arith.addf %o, %m : f32
    linalg.yield %s : f32
  } -> tensor<8x32xf32>
  %ew = tensor.empty() : tensor<32x16xf32>
  %zw = linalg.fill ins(%zero : f32) outs(%ew : tensor<32x16xf32>) -> tensor<32x16xf32>
  %dw = linalg.generic {indexing_maps = [#km, #kn, #mn], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %dy : tensor<8x32xbf16>, tensor<8x16xbf16>) outs(%zw : tensor<32x16xf32>) {
  ^bb0(%p: bf16, %q: bf16, %o: f32):
    %pw = arith.extf %p : bf16 to f32
    %qw = arith.extf %q : bf16 to f32
    %m = arith.mulf %pw, %qw : f32
    %s = arith.addf %o, %m : f32
    linalg.yield %s : f32
  } -> tensor<32x16xf32>
  %er = tensor.empty() : tensor<8x32xbf16>
  %r16 = linalg.generic {indexing_maps = [#id2, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%da : tensor<8x32xf32>) outs(%er : tensor<8x32xbf16>) {
  ^bb0(%p: f32, %o: bf16):
    %t = arith.truncf %p : f32 to bf16
    linalg.yield %t : bf16
  } -> tensor<8x32xbf16>
  return %r16, %dw : tensor<8x32xbf16>, tensor<32x16xf32>
}

// -----

#mk = affine_map<(m, n, k) -> (m, k)>
#kn = affine_map<(m, n, k) -> (k, n)>
#mn = affine_map<(m, n, k) -> (m, n)>
#id = affine_map<(m, n) -> (m, n)>
#col = affine_map<(m, n) -> (n)>

// A 16-bit PyTorch export's linear layer after fusion: a product of bf16
// operands accumulated in f32, then the bias widened from bf16, added in
// f32 and the sum rounded to bf16 (EpilogueForm::roundsResult). cuBLASLt
// computes exactly that with a bf16 D and a bf16 bias: one call (dtype 2),
// C = D unread, the f32 product's buffer gone. With an f32 bias (not one
// in D's type) nothing folds.
// CHECK-LABEL: func.func @export_bias_rounded(
// CHECK-NOT: memref.alloc() {{.*}} : memref<8x32xf32>
// CHECK: call @autopar_cuda_gemm_epilogue(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %c8_i64, %c32_i64, %c16_i64, %c0_i32, %c0_i32_{{[0-9]*}}, %c0_i32_{{[0-9]*}}, %c2_i32, %c0_i32_{{[0-9]*}})
// CHECK-NOT: linalg.generic
// CHECK-LABEL: func.func @export_f32_bias(
// CHECK: call @autopar_cuda_gemm(
// CHECK: linalg.generic
func.func @export_bias_rounded(%a: tensor<8x16xbf16>, %b: tensor<16x32xbf16>, %bias: tensor<32xbf16>) -> tensor<8x32xbf16> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<8x32xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<8x32xf32>) -> tensor<8x32xf32>
  %p = linalg.generic {indexing_maps = [#mk, #kn, #mn], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %b : tensor<8x16xbf16>, tensor<16x32xbf16>) outs(%z : tensor<8x32xf32>) {
  ^bb0(%x: bf16, %y: bf16, %o: f32):
    %xw = arith.extf %x : bf16 to f32
    %yw = arith.extf %y : bf16 to f32
    %m = arith.mulf %xw, %yw : f32
    %s = arith.addf %o, %m : f32
    linalg.yield %s : f32
  } -> tensor<8x32xf32>
  %e16 = tensor.empty() : tensor<8x32xbf16>
  %r = linalg.generic {indexing_maps = [#id, #col, #id], iterator_types = ["parallel", "parallel"]}
      ins(%p, %bias : tensor<8x32xf32>, tensor<32xbf16>) outs(%e16 : tensor<8x32xbf16>) {
  ^bb0(%v: f32, %c: bf16, %o: bf16):
    %cw = arith.extf %c : bf16 to f32
    %t = arith.addf %v, %cw : f32
    %t16 = arith.truncf %t : f32 to bf16
    linalg.yield %t16 : bf16
  } -> tensor<8x32xbf16>
  return %r : tensor<8x32xbf16>
}

func.func @export_f32_bias(%a: tensor<8x16xbf16>, %b: tensor<16x32xbf16>, %bias: tensor<32xf32>) -> tensor<8x32xbf16> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<8x32xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<8x32xf32>) -> tensor<8x32xf32>
  %p = linalg.generic {indexing_maps = [#mk, #kn, #mn], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %b : tensor<8x16xbf16>, tensor<16x32xbf16>) outs(%z : tensor<8x32xf32>) {
  ^bb0(%x: bf16, %y: bf16, %o: f32):
    %xw = arith.extf %x : bf16 to f32
    %yw = arith.extf %y : bf16 to f32
    %m = arith.mulf %xw, %yw : f32
    %s = arith.addf %o, %m : f32
    linalg.yield %s : f32
  } -> tensor<8x32xf32>
  %e16 = tensor.empty() : tensor<8x32xbf16>
  %r = linalg.generic {indexing_maps = [#id, #col, #id], iterator_types = ["parallel", "parallel"]}
      ins(%p, %bias : tensor<8x32xf32>, tensor<32xf32>) outs(%e16 : tensor<8x32xbf16>) {
  ^bb0(%v: f32, %c: f32, %o: bf16):
    %t = arith.addf %v, %c : f32
    %t16 = arith.truncf %t : f32 to bf16
    linalg.yield %t16 : bf16
  } -> tensor<8x32xbf16>
  return %r : tensor<8x32xbf16>
}

// -----

#mk = affine_map<(m, n, k) -> (m, k)>
#kn = affine_map<(m, n, k) -> (k, n)>
#mn = affine_map<(m, n, k) -> (m, n)>
#id = affine_map<(m, n) -> (m, n)>
#col = affine_map<(m, n) -> (n)>
#id3 = affine_map<(b, s, n) -> (b, s, n)>

// A 16-bit export's attention or MLP output: the bias epilogue rounded to
// bf16 (EpilogueForm::roundsResult), its rows viewed [b, s, n], and the
// residual added in bf16. The residual is C of the same call (beta = 1,
// dtype 2): cuBLASLt adds it to the f32 sum and rounds once, where the IR
// rounds the sum and then the addition (within a bf16 ulp). Nothing else
// reads the sum: no buffer for it, no kernel for the add.
// CHECK-LABEL: func.func @export_residual_after(
// CHECK-SAME: %[[R:[^:]*]]: memref<2x4x32xbf16>)
// CHECK-NOT: memref.alloc() {{.*}} : memref<8x32x
// CHECK: %[[OUT:.*]] = memref.alloc() {{.*}} : memref<2x4x32xbf16>
// CHECK: %[[RP:.*]] = memref.extract_aligned_pointer_as_index %[[R]]
// CHECK-NEXT: %[[C:.*]] = arith.index_cast %[[RP]]
// CHECK-NEXT: %[[DP:.*]] = memref.extract_aligned_pointer_as_index %[[OUT]]
// CHECK-NEXT: %[[D:.*]] = arith.index_cast %[[DP]]
// CHECK: call @autopar_cuda_gemm_epilogue(%{{.*}}, %{{.*}}, %[[C]], %[[D]], %{{.*}}, %c8_i64, %c32_i64, %c16_i64, %c0_i32, %c0_i32_{{[0-9]*}}, %c0_i32_{{[0-9]*}}, %c2_i32, %c1_i32)
// CHECK-NOT: linalg.generic
// CHECK: return %[[OUT]]
func.func @export_residual_after(%a: tensor<8x16xbf16>, %b: tensor<16x32xbf16>, %bias: tensor<32xbf16>, %res: tensor<2x4x32xbf16>) -> tensor<2x4x32xbf16> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<8x32xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<8x32xf32>) -> tensor<8x32xf32>
  %p = linalg.generic {indexing_maps = [#mk, #kn, #mn], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %b : tensor<8x16xbf16>, tensor<16x32xbf16>) outs(%z : tensor<8x32xf32>) {
  ^bb0(%x: bf16, %y: bf16, %o: f32):
    %xw = arith.extf %x : bf16 to f32
    %yw = arith.extf %y : bf16 to f32
    %m = arith.mulf %xw, %yw : f32
    %s = arith.addf %o, %m : f32
    linalg.yield %s : f32
  } -> tensor<8x32xf32>
  %e16 = tensor.empty() : tensor<8x32xbf16>
  %r = linalg.generic {indexing_maps = [#id, #col, #id], iterator_types = ["parallel", "parallel"]}
      ins(%p, %bias : tensor<8x32xf32>, tensor<32xbf16>) outs(%e16 : tensor<8x32xbf16>) {
  ^bb0(%v: f32, %c: bf16, %o: bf16):
    %cw = arith.extf %c : bf16 to f32
    %t = arith.addf %v, %cw : f32
    %t16 = arith.truncf %t : f32 to bf16
    linalg.yield %t16 : bf16
  } -> tensor<8x32xbf16>
  %rv = tensor.expand_shape %r [[0, 1], [2]] output_shape [2, 4, 32] : tensor<8x32xbf16> into tensor<2x4x32xbf16>
  %e3 = tensor.empty() : tensor<2x4x32xbf16>
  %y = linalg.generic {indexing_maps = [#id3, #id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%rv, %res : tensor<2x4x32xbf16>, tensor<2x4x32xbf16>) outs(%e3 : tensor<2x4x32xbf16>) {
  ^bb0(%x: bf16, %y0: bf16, %o: bf16):
    %t = arith.addf %x, %y0 : bf16
    linalg.yield %t : bf16
  } -> tensor<2x4x32xbf16>
  return %y : tensor<2x4x32xbf16>
}
