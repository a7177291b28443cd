// RUN: autopar-opt %s --split-input-file --pass-pipeline="builtin.module(one-shot-bufferize{bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map},autopar-contractions-to-cublas)" | FileCheck %s

// A training step's ReLU after a bias epilogue, folded with its backward
// into the two products around them (autopar-contractions-to-cublas,
// matchReluTraining): the forward's call writes relu(x W + b) and a
// bitmask of where the sum is positive (cuBLASLt's RELU_AUX_BIAS; 8 rows
// of 32 columns, each row padded to 128 bits: 128 bytes); the product
// that makes the ReLU's output gradient (dy V^T) moves down to the
// backward and writes the masked gradient and the bias's gradient
// (DRELU_BGRAD, reading the mask). Neither product's buffer is written:
// the step keeps the mask instead of x W.

#mk = affine_map<(m, n, k) -> (m, k)>
#nk = affine_map<(m, n, k) -> (n, k)>
#km = affine_map<(m, n, k) -> (k, m)>
#kn = affine_map<(m, n, k) -> (k, n)>
#mn = affine_map<(m, n, k) -> (m, n)>
#id = affine_map<(m, n) -> (m, n)>
#col = affine_map<(m, n) -> (n)>

// CHECK-LABEL: func.func @relu_training(
// CHECK-SAME: %[[X:[^:]*]]: memref<8x24xf32>, %[[W:[^:]*]]: memref<24x32xf32>, %[[B:[^:]*]]: memref<32xf32>, %[[DY:[^:]*]]: memref<8x16xf32>, %[[V:[^:]*]]: memref<32x16xf32>
// CHECK: %[[H:.*]] = memref.alloc() {{.*}} : memref<8x32xf32>
// CHECK-NEXT: %[[MASK:.*]] = memref.alloc() {{.*}} : memref<128xi8>
// CHECK: call @autopar_cuda_gemm_relu_aux(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %c8_i64{{.*}}, %c32_i64{{.*}}, %c24_i64{{.*}}, %c0_i32{{.*}}, %c0_i32{{.*}}, %c0_i32{{.*}}, %c0_i32{{.*}}) {autopar.writes = array<i32: 3, 5>}
// CHECK-NOT: memref.alloc() {{.*}} : memref<8x32xf32>
// CHECK: call @autopar_cuda_gemm(
// CHECK: %[[DB:.*]] = memref.alloc() {{.*}} : memref<32xf32>
// CHECK: call @autopar_cuda_gemm_drelu(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %c8_i64{{.*}}, %c32_i64{{.*}}, %c16_i64{{.*}}, %c0_i32{{.*}}, %c1_i32{{.*}}, %c0_i32{{.*}}) {autopar.writes = array<i32: 2, 3>}
// CHECK-NEXT: memref.dealloc %[[MASK]]
// CHECK-NOT: linalg.generic
// CHECK-NOT: linalg.fill
// CHECK: return
func.func @relu_training(%x: tensor<8x24xf32>, %w: tensor<24x32xf32>, %b: tensor<32xf32>, %dy: tensor<8x16xf32>, %v: tensor<32x16xf32>) -> (tensor<8x32xf32>, tensor<8x32xf32>, tensor<32xf32>, tensor<32x16xf32>) {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<8x32xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<8x32xf32>) -> tensor<8x32xf32>
  %p = linalg.matmul ins(%x, %w : tensor<8x24xf32>, tensor<24x32xf32>) outs(%z : tensor<8x32xf32>) -> tensor<8x32xf32>
  %eh = tensor.empty() : tensor<8x32xf32>
  %h = linalg.generic {indexing_maps = [#id, #col, #id], iterator_types = ["parallel", "parallel"]}
      ins(%p, %b : tensor<8x32xf32>, tensor<32xf32>) outs(%eh : tensor<8x32xf32>) {
  ^bb0(%s: f32, %c: f32, %o: f32):
    %t = arith.addf %s, %c : f32
    %r = arith.maximumf %t, %zero : f32
    linalg.yield %r : f32
  } -> tensor<8x32xf32>
  // The next layer's data gradient (dy V^T), then its weight gradient.
  %eg = tensor.empty() : tensor<8x32xf32>
  %zg = linalg.fill ins(%zero : f32) outs(%eg : tensor<8x32xf32>) -> tensor<8x32xf32>
  %g = linalg.generic {indexing_maps = [#mk, #nk, #mn], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%dy, %v : tensor<8x16xf32>, tensor<32x16xf32>) outs(%zg : tensor<8x32xf32>) {
  ^bb0(%l: f32, %r: f32, %o: f32):
    %m = arith.mulf %l, %r : f32
    %s = arith.addf %o, %m : f32
    linalg.yield %s : f32
  } -> tensor<8x32xf32>
  %ew = tensor.empty() : tensor<32x16xf32>
  %zw = linalg.fill ins(%zero : f32) outs(%ew : tensor<32x16xf32>) -> tensor<32x16xf32>
  %dv = linalg.generic {indexing_maps = [#km, #kn, #mn], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%h, %dy : tensor<8x32xf32>, tensor<8x16xf32>) outs(%zw : tensor<32x16xf32>) {
  ^bb0(%l: f32, %r: f32, %o: f32):
    %m = arith.mulf %l, %r : f32
    %s = arith.addf %o, %m : f32
    linalg.yield %s : f32
  } -> tensor<32x16xf32>
  // The ReLU's backward (autodiff's form), and its bias's gradient.
  %ed = tensor.empty() : tensor<8x32xf32>
  %dx = linalg.generic {indexing_maps = [#id, #id, #col, #id], iterator_types = ["parallel", "parallel"]}
      ins(%g, %p, %b : tensor<8x32xf32>, tensor<8x32xf32>, tensor<32xf32>) outs(%ed : tensor<8x32xf32>) {
  ^bb0(%gi: f32, %s: f32, %c: f32, %o: f32):
    %t = arith.addf %s, %c : f32
    %pos = arith.cmpf oge, %t, %zero : f32
    %r = arith.select %pos, %gi, %zero : f32
    linalg.yield %r : f32
  } -> tensor<8x32xf32>
  %eb = tensor.empty() : tensor<32xf32>
  %zb = linalg.fill ins(%zero : f32) outs(%eb : tensor<32xf32>) -> tensor<32xf32>
  %db = linalg.generic {indexing_maps = [#id, #id, #col, #col], iterator_types = ["reduction", "parallel"]}
      ins(%g, %p, %b : tensor<8x32xf32>, tensor<8x32xf32>, tensor<32xf32>) outs(%zb : tensor<32xf32>) {
  ^bb0(%gi: f32, %s: f32, %c: f32, %o: f32):
    %t = arith.addf %s, %c : f32
    %pos = arith.cmpf oge, %t, %zero : f32
    %r = arith.select %pos, %gi, %zero : f32
    %a = arith.addf %o, %r : f32
    linalg.yield %a : f32
  } -> tensor<32xf32>
  return %h, %dx, %db, %dv : tensor<8x32xf32>, tensor<8x32xf32>, tensor<32xf32>, tensor<32x16xf32>
}

// -----

#mk = affine_map<(m, n, k) -> (m, k)>
#nk = affine_map<(m, n, k) -> (n, k)>
#mn = affine_map<(m, n, k) -> (m, n)>
#id = affine_map<(m, n) -> (m, n)>
#col = affine_map<(m, n) -> (n)>

// The derivative written another way (the gradient times the comparison
// as a float, the sum's terms the other way round, `>`), and a bias
// without a gradient (frozen): DRELU alone, the bias gradient's address
// null. 200 columns pad to 256 bits: 32 bytes a row, 4 rows.
// CHECK-LABEL: func.func @relu_no_bias_gradient(
// CHECK: memref.alloc() {{.*}} : memref<128xi8>
// CHECK: call @autopar_cuda_gemm_relu_aux(
// CHECK: call @autopar_cuda_gemm_drelu(%{{.*}}, %{{.*}}, %{{.*}}, %c0_i64{{.*}}, %{{.*}}, %c4_i64{{.*}}, %c200_i64{{.*}}, %c16_i64{{.*}}, %c0_i32{{.*}}, %c1_i32{{.*}}, %c0_i32{{.*}}) {autopar.writes = array<i32: 2>}
// CHECK-NOT: linalg.generic
func.func @relu_no_bias_gradient(%x: tensor<4x24xf32>, %w: tensor<24x200xf32>, %b: tensor<200xf32>, %dy: tensor<4x16xf32>, %v: tensor<200x16xf32>) -> (tensor<4x200xf32>, tensor<4x200xf32>) {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4x200xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<4x200xf32>) -> tensor<4x200xf32>
  %p = linalg.matmul ins(%x, %w : tensor<4x24xf32>, tensor<24x200xf32>) outs(%z : tensor<4x200xf32>) -> tensor<4x200xf32>
  %eh = tensor.empty() : tensor<4x200xf32>
  %h = linalg.generic {indexing_maps = [#id, #col, #id], iterator_types = ["parallel", "parallel"]}
      ins(%p, %b : tensor<4x200xf32>, tensor<200xf32>) outs(%eh : tensor<4x200xf32>) {
  ^bb0(%s: f32, %c: f32, %o: f32):
    %t = arith.addf %s, %c : f32
    %r = arith.maximumf %t, %zero : f32
    linalg.yield %r : f32
  } -> tensor<4x200xf32>
  %eg = tensor.empty() : tensor<4x200xf32>
  %zg = linalg.fill ins(%zero : f32) outs(%eg : tensor<4x200xf32>) -> tensor<4x200xf32>
  %g = linalg.generic {indexing_maps = [#mk, #nk, #mn], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%dy, %v : tensor<4x16xf32>, tensor<200x16xf32>) outs(%zg : tensor<4x200xf32>) {
  ^bb0(%l: f32, %r: f32, %o: f32):
    %m = arith.mulf %l, %r : f32
    %s = arith.addf %o, %m : f32
    linalg.yield %s : f32
  } -> tensor<4x200xf32>
  %ed = tensor.empty() : tensor<4x200xf32>
  %dx = linalg.generic {indexing_maps = [#id, #id, #col, #id], iterator_types = ["parallel", "parallel"]}
      ins(%g, %p, %b : tensor<4x200xf32>, tensor<4x200xf32>, tensor<200xf32>) outs(%ed : tensor<4x200xf32>) {
  ^bb0(%gi: f32, %s: f32, %c: f32, %o: f32):
    %t = arith.addf %c, %s : f32
    %pos = arith.cmpf ogt, %t, %zero : f32
    %f = arith.uitofp %pos : i1 to f32
    %r = arith.mulf %gi, %f : f32
    linalg.yield %r : f32
  } -> tensor<4x200xf32>
  return %h, %dx : tensor<4x200xf32>, tensor<4x200xf32>
}

// -----

#mk = affine_map<(m, n, k) -> (m, k)>
#nk = affine_map<(m, n, k) -> (n, k)>
#mn = affine_map<(m, n, k) -> (m, n)>
#id = affine_map<(m, n) -> (m, n)>
#col = affine_map<(m, n) -> (n)>

// Not a ReLU's derivative (the mask at 1, not at 0): nothing folds; the
// products stay GEMMs, the ReLU and the masking op kernels.
// CHECK-LABEL: func.func @not_relu_gradient(
// CHECK-NOT: autopar_cuda_gemm_relu_aux
// CHECK-NOT: autopar_cuda_gemm_drelu
// CHECK: call @autopar_cuda_gemm(
// CHECK: linalg.generic
// CHECK: call @autopar_cuda_gemm(
// CHECK: linalg.generic
func.func @not_relu_gradient(%x: tensor<4x24xf32>, %w: tensor<24x32xf32>, %b: tensor<32xf32>, %dy: tensor<4x16xf32>, %v: tensor<32x16xf32>) -> (tensor<4x32xf32>, tensor<4x32xf32>) {
  %zero = arith.constant 0.0 : f32
  %one = arith.constant 1.0 : f32
  %e = tensor.empty() : tensor<4x32xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<4x32xf32>) -> tensor<4x32xf32>
  %p = linalg.matmul ins(%x, %w : tensor<4x24xf32>, tensor<24x32xf32>) outs(%z : tensor<4x32xf32>) -> tensor<4x32xf32>
  %eh = tensor.empty() : tensor<4x32xf32>
  %h = linalg.generic {indexing_maps = [#id, #col, #id], iterator_types = ["parallel", "parallel"]}
      ins(%p, %b : tensor<4x32xf32>, tensor<32xf32>) outs(%eh : tensor<4x32xf32>) {
  ^bb0(%s: f32, %c: f32, %o: f32):
    %t = arith.addf %s, %c : f32
    %r = arith.maximumf %t, %zero : f32
    linalg.yield %r : f32
  } -> tensor<4x32xf32>
  %eg = tensor.empty() : tensor<4x32xf32>
  %zg = linalg.fill ins(%zero : f32) outs(%eg : tensor<4x32xf32>) -> tensor<4x32xf32>
  %g = linalg.generic {indexing_maps = [#mk, #nk, #mn], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%dy, %v : tensor<4x16xf32>, tensor<32x16xf32>) outs(%zg : tensor<4x32xf32>) {
  ^bb0(%l: f32, %r: f32, %o: f32):
    %m = arith.mulf %l, %r : f32
    %s = arith.addf %o, %m : f32
    linalg.yield %s : f32
  } -> tensor<4x32xf32>
  %ed = tensor.empty() : tensor<4x32xf32>
  %dx = linalg.generic {indexing_maps = [#id, #id, #col, #id], iterator_types = ["parallel", "parallel"]}
      ins(%g, %p, %b : tensor<4x32xf32>, tensor<4x32xf32>, tensor<32xf32>) outs(%ed : tensor<4x32xf32>) {
  ^bb0(%gi: f32, %s: f32, %c: f32, %o: f32):
    %t = arith.addf %s, %c : f32
    %pos = arith.cmpf ogt, %t, %one : f32
    %r = arith.select %pos, %gi, %zero : f32
    linalg.yield %r : f32
  } -> tensor<4x32xf32>
  return %h, %dx : tensor<4x32xf32>, tensor<4x32xf32>
}

// -----

#id = affine_map<(m, n) -> (m, n)>
#col = affine_map<(m, n) -> (n)>

// The product read by something else after the ReLU (returned): its
// buffer must be written, so the ReLU cannot keep a mask instead; the
// ReLU stays a kernel.
// CHECK-LABEL: func.func @product_returned(
// CHECK-NOT: autopar_cuda_gemm_relu_aux
// CHECK: call @autopar_cuda_gemm(
// CHECK: linalg.generic
func.func @product_returned(%x: tensor<4x24xf32>, %w: tensor<24x32xf32>, %b: tensor<32xf32>) -> (tensor<4x32xf32>, tensor<4x32xf32>) {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4x32xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<4x32xf32>) -> tensor<4x32xf32>
  %p = linalg.matmul ins(%x, %w : tensor<4x24xf32>, tensor<24x32xf32>) outs(%z : tensor<4x32xf32>) -> tensor<4x32xf32>
  %eh = tensor.empty() : tensor<4x32xf32>
  %h = linalg.generic {indexing_maps = [#id, #col, #id], iterator_types = ["parallel", "parallel"]}
      ins(%p, %b : tensor<4x32xf32>, tensor<32xf32>) outs(%eh : tensor<4x32xf32>) {
  ^bb0(%s: f32, %c: f32, %o: f32):
    %t = arith.addf %s, %c : f32
    %r = arith.maximumf %t, %zero : f32
    linalg.yield %r : f32
  } -> tensor<4x32xf32>
  return %h, %p : tensor<4x32xf32>, tensor<4x32xf32>
}

// -----

#id = affine_map<(m, n) -> (m, n)>

// torch-mlir's ReLU (a select of x where x > 0) of a bias-less product, in
// a forward pass: a ReLU epilogue (activation 1), the bias address null.
// ReLUs are recognised by evaluating the body against max(s, 0) at points
// on both sides of 0 and beyond 6, so ReLU6 is not one.
// CHECK-LABEL: func.func @relu_select(
// CHECK: call @autopar_cuda_gemm_epilogue(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %c0_i64, %c4_i64, %c32_i64, %c24_i64, %c0_i32, %c0_i32_{{[0-9]*}}, %c1_i32, %c0_i32_{{[0-9]*}}, %c0_i32_{{[0-9]*}})
// CHECK-NOT: linalg.generic
// CHECK-LABEL: func.func @relu6(
// CHECK: call @autopar_cuda_gemm(
// CHECK: linalg.generic
func.func @relu_select(%x: tensor<4x24xf32>, %w: tensor<24x32xf32>) -> tensor<4x32xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4x32xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<4x32xf32>) -> tensor<4x32xf32>
  %p = linalg.matmul ins(%x, %w : tensor<4x24xf32>, tensor<24x32xf32>) outs(%z : tensor<4x32xf32>) -> tensor<4x32xf32>
  %eh = tensor.empty() : tensor<4x32xf32>
  %h = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%p : tensor<4x32xf32>) outs(%eh : tensor<4x32xf32>) {
  ^bb0(%s: f32, %o: f32):
    %pos = arith.cmpf ugt, %s, %zero : f32
    %r = arith.select %pos, %s, %zero : f32
    linalg.yield %r : f32
  } -> tensor<4x32xf32>
  return %h : tensor<4x32xf32>
}

func.func @relu6(%x: tensor<4x24xf32>, %w: tensor<24x32xf32>) -> tensor<4x32xf32> {
  %zero = arith.constant 0.0 : f32
  %six = arith.constant 6.0 : f32
  %e = tensor.empty() : tensor<4x32xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<4x32xf32>) -> tensor<4x32xf32>
  %p = linalg.matmul ins(%x, %w : tensor<4x24xf32>, tensor<24x32xf32>) outs(%z : tensor<4x32xf32>) -> tensor<4x32xf32>
  %eh = tensor.empty() : tensor<4x32xf32>
  %h = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%p : tensor<4x32xf32>) outs(%eh : tensor<4x32xf32>) {
  ^bb0(%s: f32, %o: f32):
    %m = arith.maximumf %s, %zero : f32
    %r = arith.minimumf %m, %six : f32
    linalg.yield %r : f32
  } -> tensor<4x32xf32>
  return %h : tensor<4x32xf32>
}
