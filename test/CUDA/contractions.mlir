// RUN: autopar-opt %s --pass-pipeline="builtin.module(one-shot-bufferize{bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map},autopar-contractions-to-cublas)" | FileCheck %s
// RUN: %cxx -x c -shared -fPIC %S/Inputs/gemm_reference.c -o %t.gemm.so
// RUN: autopar-opt %s --pass-pipeline="builtin.module(one-shot-bufferize{bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map},autopar-contractions-to-cublas,autopar-lower-to-cpu)" | %mlir_runner -e main -entry-point-result=void -shared-libs=%mlir_libs/libmlir_c_runner_utils.so,%mlir_libs/libmlir_runner_utils.so,%t.gemm.so | sed "s/base@ = 0x[0-9a-f]*//" > %t.gemm.txt
// RUN: autopar-opt %s --autopar-lower-to-cpu | %mlir_runner -e main -entry-point-result=void -shared-libs=%mlir_libs/libmlir_c_runner_utils.so,%mlir_libs/libmlir_runner_utils.so | sed "s/base@ = 0x[0-9a-f]*//" > %t.loops.txt
// RUN: diff %t.gemm.txt %t.loops.txt
// RUN: FileCheck %s --input-file=%t.gemm.txt --check-prefix=VALUES
// Which contractions go to cuBLAS, and with which shapes and transposes:
// the calls run here against a host implementation of autopar_cuda_gemm's
// contract and must print what the same program prints as plain loops.

// CHECK-LABEL: func.func @main
// A plain matmul: m=2, n=3, k=4, accumulating into its result filled with
// ones (accumulate 1, the fill kept).
// CHECK: linalg.fill
// CHECK: call @autopar_cuda_gemm(%{{.*}}, %{{.*}}, %{{.*}}, %c2_i64, %c3_i64, %c4_i64, %c1_i64, %c0_i32, %c0_i32{{[_0-9]*}}, %c0_i32{{[_0-9]*}}, %c0_i32{{[_0-9]*}}, %c1_i32{{[_0-9]*}}) {autopar.writes = array<i32: 2>}
// The weight-gradient form sum_b dY[b, j] X[b, i] into W[i, j]: stored
// [n, m], so the inputs are exchanged and the left one is transposed. Its
// result starts at zero: written (accumulate 0), the fill dropped.
// CHECK-NOT: linalg.fill
// CHECK: call @autopar_cuda_gemm(%{{.*}}, %{{.*}}, %{{.*}}, %c4_i64{{.*}}, %c3_i64{{.*}}, %c2_i64{{.*}}, %c1_i64{{.*}}, %c1_i32{{.*}}, %c0_i32{{[_0-9]*}}, %c0_i32{{[_0-9]*}}, %c0_i32{{[_0-9]*}}, %c0_i32{{[_0-9]*}})
// A x B^T with B stored [n, k].
// CHECK: call @autopar_cuda_gemm(%{{.*}}, %{{.*}}, %{{.*}}, %c2_i64{{.*}}, %c2_i64{{.*}}, %c4_i64{{.*}}, %c1_i64{{.*}}, %c0_i32{{.*}}, %c1_i32{{.*}})
// A batch of 2.
// CHECK: call @autopar_cuda_gemm(%{{.*}}, %{{.*}}, %{{.*}}, %c2_i64{{.*}}, %c3_i64{{.*}}, %c4_i64{{.*}}, %c2_i64{{.*}}, %c0_i32{{.*}}, %c0_i32{{.*}})
// bf16 inputs and result (element types 2, 2), f16 inputs accumulated in
// f32 (1, 0).
// CHECK: call @autopar_cuda_gemm(%{{.*}}, %{{.*}}, %{{.*}}, %c2_i64{{.*}}, %c3_i64{{.*}}, %c4_i64{{.*}}, %c1_i64{{.*}}, %c0_i32{{.*}}, %c0_i32{{.*}}, %c2_i32{{.*}}, %c2_i32{{.*}})
// CHECK: call @autopar_cuda_gemm(%{{.*}}, %{{.*}}, %{{.*}}, %c2_i64{{.*}}, %c3_i64{{.*}}, %c4_i64{{.*}}, %c1_i64{{.*}}, %c0_i32{{.*}}, %c0_i32{{.*}}, %c1_i32{{.*}}, %c0_i32{{.*}})
// A dense layer: the bias + ReLU op after the product folds into one
// cuBLASLt call (relu 1), a bias alone too (relu 0); a product that is also
// read elsewhere keeps its own gemm and bias kernel.
// CHECK: call @autopar_cuda_gemm_epilogue(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %c2_i64{{.*}}, %c3_i64{{.*}}, %c4_i64{{.*}}, %c0_i32{{.*}}, %c0_i32{{.*}}, %c1_i32{{.*}}) {autopar.writes = array<i32: 3>}
// CHECK: call @autopar_cuda_gemm_epilogue(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %c2_i64{{.*}}, %c3_i64{{.*}}, %c4_i64{{.*}}, %c0_i32{{.*}}, %c0_i32{{.*}}, %c0_i32{{.*}})
// CHECK: call @autopar_cuda_gemm(
// CHECK-NEXT: linalg.generic
// A 3-D dense layer (the bias added to the [1, 2, 3] view of the [2, 3]
// product) folds too.
// CHECK: call @autopar_cuda_gemm_epilogue(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %c2_i64{{.*}}, %c3_i64{{.*}}, %c4_i64{{.*}}, %c0_i32{{.*}}, %c0_i32{{.*}}, %c0_i32{{.*}}, %c0_i32{{.*}})
// A bf16 dense layer: its bias and ReLU fold too (element type 2).
// CHECK: call @autopar_cuda_gemm_epilogue(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %c2_i64{{.*}}, %c3_i64{{.*}}, %c4_i64{{.*}}, %c0_i32{{.*}}, %c0_i32{{.*}}, %c1_i32{{.*}}, %c2_i32{{.*}})
// bf16 inputs into f32 zeros, then rounded to bf16 by the next op (a
// 16-bit attention's products): one call writes the rounded product
// (element types 2, 2; accumulate 0), the rounding's op goes.
// CHECK: call @autopar_cuda_gemm(%{{.*}}, %{{.*}}, %{{.*}}, %c2_i64{{.*}}, %c3_i64{{.*}}, %c4_i64{{.*}}, %c1_i64{{.*}}, %c0_i32{{.*}}, %c0_i32{{.*}}, %c2_i32{{.*}}, %c2_i32{{.*}}, %c0_i32{{.*}})
// CHECK-NOT: arith.truncf
// Not a contraction (a max reduction) stays.
// CHECK: linalg.generic
// CHECK-NOT: call @autopar_cuda_gemm

// C = 1 + A B, then the weight-gradient form, A A^T, the batch.
// VALUES: sizes = [2, 3]
// VALUES-NEXT: {{\[\[}}2, 14.5, 10],
// VALUES-NEXT: [10, 32.5, 20]]
// VALUES: sizes = [4, 3]
// VALUES-NEXT: {{\[\[}}52, 177, 110],
// VALUES: sizes = [2, 2]
// VALUES-NEXT: {{\[\[}}30, 70],
// The dense layers: relu(A B + bias), A B + bias, and A B with its biased
// copy.
// VALUES: sizes = [2, 3]
// VALUES-NEXT: {{\[\[}}1.5, 0, 9.5],
// VALUES-NEXT: [9.5, 11.5, 19.5]]
// VALUES: sizes = [2, 3]
// VALUES-NEXT: {{\[\[}}1.5, -6.5, 9.5],
// VALUES: sizes = [2, 3]
// VALUES-NEXT: {{\[\[}}1, 13.5, 9],
// VALUES: sizes = [2, 3]
// VALUES-NEXT: {{\[\[}}1.5, -6.5, 9.5],
// The 16-bit products (integers and halves: exact), widened to print.
// VALUES: sizes = [2, 3]
// VALUES-NEXT: {{\[\[}}2, 14.5, 10],
// VALUES: sizes = [2, 3]
// VALUES-NEXT: {{\[\[}}2, 14.5, 10],
// The bf16 dense layer (exact), widened, after the row max.
// VALUES: sizes = [2]
// VALUES: sizes = [2, 3]
// VALUES-NEXT: {{\[\[}}1.5, 0, 9.5],
// VALUES-NEXT: [9.5, 11.5, 19.5]]
// The 3-D dense layer.
// VALUES: sizes = [1, 2, 3]
// VALUES-NEXT: {{\[\[\[}}1.5, -6.5, 9.5],
// The bf16 product rounded by the call.
// VALUES: sizes = [2, 3]
// VALUES-NEXT: {{\[\[}}1, 13.5, 9],
// VALUES-NEXT: [9, 31.5, 19]]
#a = affine_map<(i, j, p) -> (i, p)>
#b = affine_map<(i, j, p) -> (p, j)>
#bt = affine_map<(i, j, p) -> (j, p)>
#c = affine_map<(i, j, p) -> (i, j)>
#dy = affine_map<(b, j, i) -> (b, j)>
#x = affine_map<(b, j, i) -> (b, i)>
#w = affine_map<(b, j, i) -> (i, j)>
func.func private @printMemrefF32(tensor<*xf32>)
func.func @main() {
  %A = arith.constant dense<[[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]]> : tensor<2x4xf32>
  %B = arith.constant dense<[[1.0, 0.5, -1.0], [2.0, 0.0, 1.0], [0.0, 3.0, 2.0], [-1.0, 1.0, 0.5]]> : tensor<4x3xf32>
  %zero = arith.constant 0.0 : f32
  %one = arith.constant 1.0 : f32
  // C = 1 + A B
  %e0 = tensor.empty() : tensor<2x3xf32>
  %f0 = linalg.fill ins(%one : f32) outs(%e0 : tensor<2x3xf32>) -> tensor<2x3xf32>
  %C = linalg.matmul ins(%A, %B : tensor<2x4xf32>, tensor<4x3xf32>) outs(%f0 : tensor<2x3xf32>) -> tensor<2x3xf32>
  // W[i, j] = sum_b C[b, j] A[b, i]   (W: 4x3)
  %e1 = tensor.empty() : tensor<4x3xf32>
  %f1 = linalg.fill ins(%zero : f32) outs(%e1 : tensor<4x3xf32>) -> tensor<4x3xf32>
  %W = linalg.generic {indexing_maps = [#dy, #x, #w], iterator_types = ["reduction", "parallel", "parallel"]}
      ins(%C, %A : tensor<2x3xf32>, tensor<2x4xf32>) outs(%f1 : tensor<4x3xf32>) {
  ^bb0(%y: f32, %xx: f32, %acc: f32):
    %p = arith.mulf %y, %xx : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  } -> tensor<4x3xf32>
  // T = A A^T through a [n, k] right operand: (2x4) x (2x4)^T
  %e2 = tensor.empty() : tensor<2x2xf32>
  %f2 = linalg.fill ins(%zero : f32) outs(%e2 : tensor<2x2xf32>) -> tensor<2x2xf32>
  %T = linalg.generic {indexing_maps = [#a, #bt, #c], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%A, %A : tensor<2x4xf32>, tensor<2x4xf32>) outs(%f2 : tensor<2x2xf32>) {
  ^bb0(%x0: f32, %x1: f32, %acc: f32):
    %p = arith.mulf %x0, %x1 : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  } -> tensor<2x2xf32>
  // A batch of two products: [A, 2A] x [B, B]
  %AA = tensor.concat dim(0) %A, %A : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<4x4xf32>
  %AB = tensor.expand_shape %AA [[0, 1], [2]] output_shape [2, 2, 4] : tensor<4x4xf32> into tensor<2x2x4xf32>
  %BB = tensor.concat dim(0) %B, %B : (tensor<4x3xf32>, tensor<4x3xf32>) -> tensor<8x3xf32>
  %BBB = tensor.expand_shape %BB [[0, 1], [2]] output_shape [2, 4, 3] : tensor<8x3xf32> into tensor<2x4x3xf32>
  %e3 = tensor.empty() : tensor<2x2x3xf32>
  %f3 = linalg.fill ins(%zero : f32) outs(%e3 : tensor<2x2x3xf32>) -> tensor<2x2x3xf32>
  %P = linalg.batch_matmul ins(%AB, %BBB : tensor<2x2x4xf32>, tensor<2x4x3xf32>) outs(%f3 : tensor<2x2x3xf32>) -> tensor<2x2x3xf32>
  // The first product in bf16, and with f16 inputs into f32.
  %Abe = tensor.empty() : tensor<2x4xbf16>
  %Ab = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]}
      ins(%A : tensor<2x4xf32>) outs(%Abe : tensor<2x4xbf16>) {
  ^bb0(%x0: f32, %o: bf16):
    %t = arith.truncf %x0 : f32 to bf16
    linalg.yield %t : bf16
  } -> tensor<2x4xbf16>
  %Bbe = tensor.empty() : tensor<4x3xbf16>
  %Bb = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]}
      ins(%B : tensor<4x3xf32>) outs(%Bbe : tensor<4x3xbf16>) {
  ^bb0(%x0: f32, %o: bf16):
    %t = arith.truncf %x0 : f32 to bf16
    linalg.yield %t : bf16
  } -> tensor<4x3xbf16>
  %oneb = arith.constant 1.0 : bf16
  %e5 = tensor.empty() : tensor<2x3xbf16>
  %f5 = linalg.fill ins(%oneb : bf16) outs(%e5 : tensor<2x3xbf16>) -> tensor<2x3xbf16>
  %Cb = linalg.matmul ins(%Ab, %Bb : tensor<2x4xbf16>, tensor<4x3xbf16>) outs(%f5 : tensor<2x3xbf16>) -> tensor<2x3xbf16>
  %Ahe = tensor.empty() : tensor<2x4xf16>
  %Ah = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]}
      ins(%A : tensor<2x4xf32>) outs(%Ahe : tensor<2x4xf16>) {
  ^bb0(%x0: f32, %o: f16):
    %t = arith.truncf %x0 : f32 to f16
    linalg.yield %t : f16
  } -> tensor<2x4xf16>
  %Bhe = tensor.empty() : tensor<4x3xf16>
  %Bh = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]}
      ins(%B : tensor<4x3xf32>) outs(%Bhe : tensor<4x3xf16>) {
  ^bb0(%x0: f32, %o: f16):
    %t = arith.truncf %x0 : f32 to f16
    linalg.yield %t : f16
  } -> tensor<4x3xf16>
  %Ch = linalg.matmul ins(%Ah, %Bh : tensor<2x4xf16>, tensor<4x3xf16>) outs(%f0 : tensor<2x3xf32>) -> tensor<2x3xf32>
  // Dense layers: bias over n, with and without ReLU, and one whose
  // product is read again.
  %bias = arith.constant dense<[0.5, -20.0, 0.5]> : tensor<3xf32>
  %e7 = tensor.empty() : tensor<2x3xf32>
  %f7 = linalg.fill ins(%zero : f32) outs(%e7 : tensor<2x3xf32>) -> tensor<2x3xf32>
  %D1 = linalg.matmul ins(%A, %B : tensor<2x4xf32>, tensor<4x3xf32>) outs(%f7 : tensor<2x3xf32>) -> tensor<2x3xf32>
  %e8 = tensor.empty() : tensor<2x3xf32>
  %R1 = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]}
      ins(%D1, %bias : tensor<2x3xf32>, tensor<3xf32>) outs(%e8 : tensor<2x3xf32>) {
  ^bb0(%x0: f32, %x1: f32, %o: f32):
    %s = arith.addf %x0, %x1 : f32
    %r = arith.maximumf %s, %zero : f32
    linalg.yield %r : f32
  } -> tensor<2x3xf32>
  %D2 = linalg.matmul ins(%A, %B : tensor<2x4xf32>, tensor<4x3xf32>) outs(%f7 : tensor<2x3xf32>) -> tensor<2x3xf32>
  %R2 = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]}
      ins(%D2, %bias : tensor<2x3xf32>, tensor<3xf32>) outs(%e8 : tensor<2x3xf32>) {
  ^bb0(%x0: f32, %x1: f32, %o: f32):
    %s = arith.addf %x1, %x0 : f32
    linalg.yield %s : f32
  } -> tensor<2x3xf32>
  %D3 = linalg.matmul ins(%A, %B : tensor<2x4xf32>, tensor<4x3xf32>) outs(%f7 : tensor<2x3xf32>) -> tensor<2x3xf32>
  %R3 = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]}
      ins(%D3, %bias : tensor<2x3xf32>, tensor<3xf32>) outs(%e8 : tensor<2x3xf32>) {
  ^bb0(%x0: f32, %x1: f32, %o: f32):
    %s = arith.addf %x0, %x1 : f32
    linalg.yield %s : f32
  } -> tensor<2x3xf32>
  // The bias layer again, on a 3-D view of the product.
  %D5 = linalg.matmul ins(%A, %B : tensor<2x4xf32>, tensor<4x3xf32>) outs(%f7 : tensor<2x3xf32>) -> tensor<2x3xf32>
  %D5e = tensor.expand_shape %D5 [[0, 1], [2]] output_shape [1, 2, 3] : tensor<2x3xf32> into tensor<1x2x3xf32>
  %e10 = tensor.empty() : tensor<1x2x3xf32>
  %R5 = linalg.generic {indexing_maps = [affine_map<(b, i, j) -> (b, i, j)>, affine_map<(b, i, j) -> (j)>, affine_map<(b, i, j) -> (b, i, j)>], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%D5e, %bias : tensor<1x2x3xf32>, tensor<3xf32>) outs(%e10 : tensor<1x2x3xf32>) {
  ^bb0(%x0: f32, %x1: f32, %o: f32):
    %s = arith.addf %x0, %x1 : f32
    linalg.yield %s : f32
  } -> tensor<1x2x3xf32>
  // The ReLU layer again in bf16.
  %zerob = arith.constant 0.0 : bf16
  %biasb = arith.constant dense<[0.5, -20.0, 0.5]> : tensor<3xbf16>
  %f9 = linalg.fill ins(%zerob : bf16) outs(%e5 : tensor<2x3xbf16>) -> tensor<2x3xbf16>
  %D4 = linalg.matmul ins(%Ab, %Bb : tensor<2x4xbf16>, tensor<4x3xbf16>) outs(%f9 : tensor<2x3xbf16>) -> tensor<2x3xbf16>
  %R4 = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]}
      ins(%D4, %biasb : tensor<2x3xbf16>, tensor<3xbf16>) outs(%e5 : tensor<2x3xbf16>) {
  ^bb0(%x0: bf16, %x1: bf16, %o: bf16):
    %s = arith.addf %x0, %x1 : bf16
    %r = arith.maximumf %s, %zerob : bf16
    linalg.yield %r : bf16
  } -> tensor<2x3xbf16>
  // A bf16 product into f32 zeros, rounded to bf16.
  %e11 = tensor.empty() : tensor<2x3xf32>
  %f11 = linalg.fill ins(%zero : f32) outs(%e11 : tensor<2x3xf32>) -> tensor<2x3xf32>
  %D6 = linalg.matmul ins(%Ab, %Bb : tensor<2x4xbf16>, tensor<4x3xbf16>) outs(%f11 : tensor<2x3xf32>) -> tensor<2x3xf32>
  %e12 = tensor.empty() : tensor<2x3xbf16>
  %R6 = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]}
      ins(%D6 : tensor<2x3xf32>) outs(%e12 : tensor<2x3xbf16>) {
  ^bb0(%x0: f32, %o: bf16):
    %t = arith.truncf %x0 : f32 to bf16
    linalg.yield %t : bf16
  } -> tensor<2x3xbf16>
  // Not a contraction: a row max.
  %e4 = tensor.empty() : tensor<2xf32>
  %f4 = linalg.fill ins(%zero : f32) outs(%e4 : tensor<2xf32>) -> tensor<2xf32>
  %M = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i)>], iterator_types = ["parallel", "reduction"]}
      ins(%C : tensor<2x3xf32>) outs(%f4 : tensor<2xf32>) {
  ^bb0(%x0: f32, %acc: f32):
    %m = arith.maximumf %acc, %x0 : f32
    linalg.yield %m : f32
  } -> tensor<2xf32>
  %u0 = tensor.cast %C : tensor<2x3xf32> to tensor<*xf32>
  %u1 = tensor.cast %W : tensor<4x3xf32> to tensor<*xf32>
  %u2 = tensor.cast %T : tensor<2x2xf32> to tensor<*xf32>
  %u3 = tensor.cast %P : tensor<2x2x3xf32> to tensor<*xf32>
  %u4 = tensor.cast %M : tensor<2xf32> to tensor<*xf32>
  %e6 = tensor.empty() : tensor<2x3xf32>
  %Cbf = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]}
      ins(%Cb : tensor<2x3xbf16>) outs(%e6 : tensor<2x3xf32>) {
  ^bb0(%x0: bf16, %o: f32):
    %w = arith.extf %x0 : bf16 to f32
    linalg.yield %w : f32
  } -> tensor<2x3xf32>
  %R4f = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]}
      ins(%R4 : tensor<2x3xbf16>) outs(%e6 : tensor<2x3xf32>) {
  ^bb0(%x0: bf16, %o: f32):
    %w = arith.extf %x0 : bf16 to f32
    linalg.yield %w : f32
  } -> tensor<2x3xf32>
  %R6f = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]}
      ins(%R6 : tensor<2x3xbf16>) outs(%e6 : tensor<2x3xf32>) {
  ^bb0(%x0: bf16, %o: f32):
    %w = arith.extf %x0 : bf16 to f32
    linalg.yield %w : f32
  } -> tensor<2x3xf32>
  %u13 = tensor.cast %R6f : tensor<2x3xf32> to tensor<*xf32>
  %u11 = tensor.cast %R4f : tensor<2x3xf32> to tensor<*xf32>
  %u12 = tensor.cast %R5 : tensor<1x2x3xf32> to tensor<*xf32>
  %u7 = tensor.cast %R1 : tensor<2x3xf32> to tensor<*xf32>
  %u8 = tensor.cast %R2 : tensor<2x3xf32> to tensor<*xf32>
  %u9 = tensor.cast %D3 : tensor<2x3xf32> to tensor<*xf32>
  %u10 = tensor.cast %R3 : tensor<2x3xf32> to tensor<*xf32>
  %u5 = tensor.cast %Cbf : tensor<2x3xf32> to tensor<*xf32>
  %u6 = tensor.cast %Ch : tensor<2x3xf32> to tensor<*xf32>
  call @printMemrefF32(%u0) : (tensor<*xf32>) -> ()
  call @printMemrefF32(%u1) : (tensor<*xf32>) -> ()
  call @printMemrefF32(%u2) : (tensor<*xf32>) -> ()
  call @printMemrefF32(%u3) : (tensor<*xf32>) -> ()
  call @printMemrefF32(%u7) : (tensor<*xf32>) -> ()
  call @printMemrefF32(%u8) : (tensor<*xf32>) -> ()
  call @printMemrefF32(%u9) : (tensor<*xf32>) -> ()
  call @printMemrefF32(%u10) : (tensor<*xf32>) -> ()
  call @printMemrefF32(%u5) : (tensor<*xf32>) -> ()
  call @printMemrefF32(%u6) : (tensor<*xf32>) -> ()
  call @printMemrefF32(%u4) : (tensor<*xf32>) -> ()
  call @printMemrefF32(%u11) : (tensor<*xf32>) -> ()
  call @printMemrefF32(%u12) : (tensor<*xf32>) -> ()
  call @printMemrefF32(%u13) : (tensor<*xf32>) -> ()
  return
}
