// RUN: autopar-opt %s --autopar-fuse-elementwise -split-input-file | FileCheck %s

// Softmax as the frontends write it: the scale runs inside both users (the
// max and the exponential), the exponential inside the sum and the
// division. Four kernels become three.
#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
// CHECK-LABEL: func.func @softmax
func.func @softmax(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %ninf = arith.constant 0xFF800000 : f32
  %zero = arith.constant 0.0 : f32
  %c = arith.constant 0.125 : f32
  %e = tensor.empty() : tensor<4x8xf32>
  %r = tensor.empty() : tensor<4xf32>
  %scaled = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x : tensor<4x8xf32>) outs(%e : tensor<4x8xf32>) {
  ^bb0(%a: f32, %o: f32):
    %m = arith.mulf %a, %c : f32
    linalg.yield %m : f32
  } -> tensor<4x8xf32>
  %minit = linalg.fill ins(%ninf : f32) outs(%r : tensor<4xf32>) -> tensor<4xf32>
  %max = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]}
      ins(%scaled : tensor<4x8xf32>) outs(%minit : tensor<4xf32>) {
  ^bb0(%a: f32, %o: f32):
    %m = arith.maximumf %a, %o : f32
    linalg.yield %m : f32
  } -> tensor<4xf32>
  %exp = linalg.generic {indexing_maps = [#id, #row, #id], iterator_types = ["parallel", "parallel"]}
      ins(%scaled, %max : tensor<4x8xf32>, tensor<4xf32>) outs(%e : tensor<4x8xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %d = arith.subf %a, %b : f32
    %x2 = math.exp %d : f32
    linalg.yield %x2 : f32
  } -> tensor<4x8xf32>
  %sinit = linalg.fill ins(%zero : f32) outs(%r : tensor<4xf32>) -> tensor<4xf32>
  %sum = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]}
      ins(%exp : tensor<4x8xf32>) outs(%sinit : tensor<4xf32>) {
  ^bb0(%a: f32, %o: f32):
    %s = arith.addf %a, %o : f32
    linalg.yield %s : f32
  } -> tensor<4xf32>
  %div = linalg.generic {indexing_maps = [#id, #row, #id], iterator_types = ["parallel", "parallel"]}
      ins(%exp, %sum : tensor<4x8xf32>, tensor<4xf32>) outs(%e : tensor<4x8xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %q = arith.divf %a, %b : f32
    linalg.yield %q : f32
  } -> tensor<4x8xf32>
  return %div : tensor<4x8xf32>
}
// The max: the scale inside.
// CHECK: %[[MAX:.*]] = linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]} ins(%arg0 : tensor<4x8xf32>)
// CHECK:   arith.mulf
// CHECK:   arith.maximumf
// The sum: scale, subtraction and exponential inside, reading x and the max.
// CHECK: %[[SUM:.*]] = linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]} ins(%arg0, %[[MAX]] : tensor<4x8xf32>, tensor<4xf32>)
// CHECK:   arith.mulf
// CHECK:   arith.subf
// CHECK:   math.exp
// CHECK:   arith.addf
// The division: the same again, over x, the max and the sum.
// CHECK: %[[DIV:.*]] = linalg.generic {{.*}}iterator_types = ["parallel", "parallel"]} ins(%arg0, %[[MAX]], %[[SUM]] :
// CHECK:   math.exp
// CHECK:   arith.divf
// CHECK-NOT: linalg.generic
// CHECK: return %[[DIV]]

// -----

// Not fused: a producer whose result a contraction reads (cuBLAS takes it
// from memory), one the function returns, one a loop's body reads, and
// one with five users.
#id = affine_map<(d0, d1) -> (d0, d1)>
#a = affine_map<(d0, d1, d2) -> (d0, d2)>
#b = affine_map<(d0, d1, d2) -> (d2, d1)>
#c = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-LABEL: func.func @kept
func.func @kept(%x: tensor<4x4xf32>, %w: tensor<4x4xf32>, %n: index) -> (tensor<4x4xf32>, tensor<4x4xf32>, tensor<4x4xf32>, tensor<4x4xf32>, tensor<4x4xf32>, tensor<4x4xf32>, tensor<4x4xf32>, tensor<4x4xf32>) {
  %e = tensor.empty() : tensor<4x4xf32>
  // CHECK: %[[RELU:.*]] = linalg.generic
  // CHECK-SAME: ins(%arg0 :
  %relu = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x : tensor<4x4xf32>) outs(%e : tensor<4x4xf32>) {
  ^bb0(%v: f32, %o: f32):
    %z = arith.constant 0.0 : f32
    %r = arith.maximumf %v, %z : f32
    linalg.yield %r : f32
  } -> tensor<4x4xf32>
  // CHECK: linalg.generic {{.*}} ins(%[[RELU]], %arg1 :
  %mm = linalg.generic {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%relu, %w : tensor<4x4xf32>, tensor<4x4xf32>) outs(%x : tensor<4x4xf32>) {
  ^bb0(%p: f32, %q: f32, %o: f32):
    %m = arith.mulf %p, %q : f32
    %s = arith.addf %o, %m : f32
    linalg.yield %s : f32
  } -> tensor<4x4xf32>
  // CHECK: %[[NEG:.*]] = linalg.generic
  %neg = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x : tensor<4x4xf32>) outs(%e : tensor<4x4xf32>) {
  ^bb0(%v: f32, %o: f32):
    %r = arith.negf %v : f32
    linalg.yield %r : f32
  } -> tensor<4x4xf32>
  // CHECK: scf.for
  // CHECK:   linalg.add ins(%{{.*}}, %[[NEG]] :
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %loop = scf.for %i = %c0 to %n step %c1 iter_args(%acc = %x) -> tensor<4x4xf32> {
    %next = linalg.add ins(%acc, %neg : tensor<4x4xf32>, tensor<4x4xf32>) outs(%e : tensor<4x4xf32>) -> tensor<4x4xf32>
    scf.yield %next : tensor<4x4xf32>
  }
  // CHECK: %[[SQ:.*]] = linalg.generic
  %sq = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x : tensor<4x4xf32>) outs(%e : tensor<4x4xf32>) {
  ^bb0(%v: f32, %o: f32):
    %r = arith.mulf %v, %v : f32
    linalg.yield %r : f32
  } -> tensor<4x4xf32>
  // CHECK-COUNT-5: linalg.exp ins(%[[SQ]] :
  %u1 = linalg.exp ins(%sq : tensor<4x4xf32>) outs(%e : tensor<4x4xf32>) -> tensor<4x4xf32>
  %u2 = linalg.exp ins(%sq : tensor<4x4xf32>) outs(%e : tensor<4x4xf32>) -> tensor<4x4xf32>
  %u3 = linalg.exp ins(%sq : tensor<4x4xf32>) outs(%e : tensor<4x4xf32>) -> tensor<4x4xf32>
  %u4 = linalg.exp ins(%sq : tensor<4x4xf32>) outs(%e : tensor<4x4xf32>) -> tensor<4x4xf32>
  %u5 = linalg.exp ins(%sq : tensor<4x4xf32>) outs(%e : tensor<4x4xf32>) -> tensor<4x4xf32>
  return %mm, %relu, %loop, %u1, %u2, %u3, %u4, %u5 : tensor<4x4xf32>, tensor<4x4xf32>, tensor<4x4xf32>, tensor<4x4xf32>, tensor<4x4xf32>, tensor<4x4xf32>, tensor<4x4xf32>, tensor<4x4xf32>
}

// -----

// A gradient accumulated into zeros (autopar-training's form) is the value
// itself, and then fuses; a producer that reads its own initial value (an
// accumulation into something else) is kept: fused under the consumer's
// broadcast it would add once per broadcast element.
#id1 = affine_map<(d0) -> (d0)>
#bcast = affine_map<(d0, d1) -> (d0)>
#id2 = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-LABEL: func.func @accumulations
func.func @accumulations(%x: tensor<6xf32>, %acc: tensor<6xf32>, %y: tensor<6x2xf32>) -> (tensor<6x2xf32>, tensor<6x2xf32>) {
  %zero = arith.constant 0.0 : f32
  %e1 = tensor.empty() : tensor<6xf32>
  %e2 = tensor.empty() : tensor<6x2xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e1 : tensor<6xf32>) -> tensor<6xf32>
  %g = linalg.generic {indexing_maps = [#id1, #id1], iterator_types = ["parallel"]}
      ins(%x : tensor<6xf32>) outs(%z : tensor<6xf32>) {
  ^bb0(%v: f32, %o: f32):
    %t = arith.mulf %v, %v : f32
    %s = arith.addf %o, %t : f32
    linalg.yield %s : f32
  } -> tensor<6xf32>
  %use1 = linalg.generic {indexing_maps = [#bcast, #id2, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%g, %y : tensor<6xf32>, tensor<6x2xf32>) outs(%e2 : tensor<6x2xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %m = arith.mulf %a, %b : f32
    linalg.yield %m : f32
  } -> tensor<6x2xf32>
  %a = linalg.generic {indexing_maps = [#id1, #id1], iterator_types = ["parallel"]}
      ins(%x : tensor<6xf32>) outs(%acc : tensor<6xf32>) {
  ^bb0(%v: f32, %o: f32):
    %s = arith.addf %o, %v : f32
    linalg.yield %s : f32
  } -> tensor<6xf32>
  %use2 = linalg.generic {indexing_maps = [#bcast, #id2, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%a, %y : tensor<6xf32>, tensor<6x2xf32>) outs(%e2 : tensor<6x2xf32>) {
  ^bb0(%a2: f32, %b: f32, %o: f32):
    %m = arith.mulf %a2, %b : f32
    linalg.yield %m : f32
  } -> tensor<6x2xf32>
  return %use1, %use2 : tensor<6x2xf32>, tensor<6x2xf32>
}
// The squared gradient inside its user: no fill, no accumulation.
// CHECK-NOT: linalg.fill
// CHECK: %[[USE1:.*]] = linalg.generic {{.*}} ins(%arg0, %arg2 : tensor<6xf32>, tensor<6x2xf32>)
// CHECK-NEXT: ^bb0
// CHECK-NEXT: arith.mulf
// CHECK-NEXT: arith.mulf
// CHECK-NEXT: linalg.yield
// The accumulation into %acc kept, and read by its user.
// CHECK: %[[ACC:.*]] = linalg.generic {{.*}} ins(%arg0 : tensor<6xf32>) outs(%arg1 : tensor<6xf32>)
// CHECK: %[[USE2:.*]] = linalg.generic {{.*}} ins(%[[ACC]], %arg2 :
// CHECK: return %[[USE1]], %[[USE2]]

// -----

// A bias add's backward (autopar-training): the activation's gradient is
// the result's, accumulated into zeros, and read by the bias gradient and
// by a contraction (so never fused). Left a copy, it would be a buffer and
// a kernel: the contraction and the reduction read the gradient itself.
// A copy through a transposing map stays (a kernel of its own).
#id3 = affine_map<(d0, d1) -> (d0, d1)>
#col = affine_map<(d0, d1) -> (d1)>
#tr = affine_map<(d0, d1) -> (d1, d0)>
#mk = affine_map<(m, n, k) -> (m, k)>
#kn = affine_map<(m, n, k) -> (k, n)>
#mn = affine_map<(m, n, k) -> (m, n)>
// CHECK-LABEL: func.func @passed_gradient
// CHECK-SAME: (%[[DY:.*]]: tensor<4x8xf32>, %[[W:.*]]: tensor<8x2xf32>)
// CHECK: linalg.generic {{.*}} ins(%[[DY]] : tensor<4x8xf32>) outs(%{{.*}} : tensor<8xf32>)
// CHECK: linalg.generic {{.*}} ins(%[[DY]], %[[W]] : tensor<4x8xf32>, tensor<8x2xf32>)
// CHECK: %[[T:.*]] = linalg.generic {{.*}} ins(%[[DY]] : tensor<4x8xf32>) outs(%{{.*}} : tensor<8x4xf32>)
// CHECK-NOT: linalg.generic
// CHECK: return
func.func @passed_gradient(%dy: tensor<4x8xf32>, %w: tensor<8x2xf32>) -> (tensor<8xf32>, tensor<4x2xf32>, tensor<8x4xf32>) {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4x8xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<4x8xf32>) -> tensor<4x8xf32>
  %dx = linalg.generic {indexing_maps = [#id3, #id3], iterator_types = ["parallel", "parallel"]}
      ins(%dy : tensor<4x8xf32>) outs(%z : tensor<4x8xf32>) {
  ^bb0(%a: f32, %o: f32):
    %s = arith.addf %o, %a : f32
    linalg.yield %s : f32
  } -> tensor<4x8xf32>
  %eb = tensor.empty() : tensor<8xf32>
  %zb = linalg.fill ins(%zero : f32) outs(%eb : tensor<8xf32>) -> tensor<8xf32>
  %db = linalg.generic {indexing_maps = [#id3, #col], iterator_types = ["reduction", "parallel"]}
      ins(%dy : tensor<4x8xf32>) outs(%zb : tensor<8xf32>) {
  ^bb0(%a: f32, %o: f32):
    %s = arith.addf %o, %a : f32
    linalg.yield %s : f32
  } -> tensor<8xf32>
  %ep = tensor.empty() : tensor<4x2xf32>
  %zp = linalg.fill ins(%zero : f32) outs(%ep : tensor<4x2xf32>) -> tensor<4x2xf32>
  %p = linalg.generic {indexing_maps = [#mk, #kn, #mn], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%dx, %w : tensor<4x8xf32>, tensor<8x2xf32>) outs(%zp : tensor<4x2xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %m = arith.mulf %a, %b : f32
    %s = arith.addf %o, %m : f32
    linalg.yield %s : f32
  } -> tensor<4x2xf32>
  %et = tensor.empty() : tensor<8x4xf32>
  %t = linalg.generic {indexing_maps = [#tr, #id3], iterator_types = ["parallel", "parallel"]}
      ins(%dx : tensor<4x8xf32>) outs(%et : tensor<8x4xf32>) {
  ^bb0(%a: f32, %o: f32):
    linalg.yield %a : f32
  } -> tensor<8x4xf32>
  return %db, %p, %t : tensor<8xf32>, tensor<4x2xf32>, tensor<8x4xf32>
}

// -----

// The same copy of a value its producer makes inside its users (a loss
// gradient): forwarded, the producer would be a kernel that the bias
// gradient's sum waits for; kept, the producer runs inside the copy and
// inside the sum, which need not wait for each other.
#id3 = affine_map<(d0, d1) -> (d0, d1)>
#col = affine_map<(d0, d1) -> (d1)>
#mk = affine_map<(m, n, k) -> (m, k)>
#kn = affine_map<(m, n, k) -> (k, n)>
#mn = affine_map<(m, n, k) -> (m, n)>
// CHECK-LABEL: func.func @made_in_users
// CHECK-SAME: (%[[X:.*]]: tensor<4x8xf32>, %[[W:.*]]: tensor<8x2xf32>)
// CHECK: %[[COPY:.*]] = linalg.generic {{.*}} ins(%[[X]] : tensor<4x8xf32>) outs(%{{.*}} : tensor<4x8xf32>)
// CHECK: math.exp
// CHECK: linalg.generic {{.*}} ins(%[[X]] : tensor<4x8xf32>) outs(%{{.*}} : tensor<8xf32>)
// CHECK: math.exp
// CHECK: linalg.generic {{.*}} ins(%[[COPY]], %[[W]] : tensor<4x8xf32>, tensor<8x2xf32>)
func.func @made_in_users(%x: tensor<4x8xf32>, %w: tensor<8x2xf32>) -> (tensor<8xf32>, tensor<4x2xf32>) {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4x8xf32>
  %g = linalg.generic {indexing_maps = [#id3, #id3], iterator_types = ["parallel", "parallel"]}
      ins(%x : tensor<4x8xf32>) outs(%e : tensor<4x8xf32>) {
  ^bb0(%a: f32, %o: f32):
    %t = math.exp %a : f32
    linalg.yield %t : f32
  } -> tensor<4x8xf32>
  %e2 = tensor.empty() : tensor<4x8xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e2 : tensor<4x8xf32>) -> tensor<4x8xf32>
  %dx = linalg.generic {indexing_maps = [#id3, #id3], iterator_types = ["parallel", "parallel"]}
      ins(%g : tensor<4x8xf32>) outs(%z : tensor<4x8xf32>) {
  ^bb0(%a: f32, %o: f32):
    %s = arith.addf %o, %a : f32
    linalg.yield %s : f32
  } -> tensor<4x8xf32>
  %eb = tensor.empty() : tensor<8xf32>
  %zb = linalg.fill ins(%zero : f32) outs(%eb : tensor<8xf32>) -> tensor<8xf32>
  %db = linalg.generic {indexing_maps = [#id3, #col], iterator_types = ["reduction", "parallel"]}
      ins(%g : tensor<4x8xf32>) outs(%zb : tensor<8xf32>) {
  ^bb0(%a: f32, %o: f32):
    %s = arith.addf %o, %a : f32
    linalg.yield %s : f32
  } -> tensor<8xf32>
  %ep = tensor.empty() : tensor<4x2xf32>
  %zp = linalg.fill ins(%zero : f32) outs(%ep : tensor<4x2xf32>) -> tensor<4x2xf32>
  %p = linalg.generic {indexing_maps = [#mk, #kn, #mn], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%dx, %w : tensor<4x8xf32>, tensor<8x2xf32>) outs(%zp : tensor<4x2xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %m = arith.mulf %a, %b : f32
    %s = arith.addf %o, %m : f32
    linalg.yield %s : f32
  } -> tensor<4x2xf32>
  return %db, %p : tensor<8xf32>, tensor<4x2xf32>
}

// -----

// Not an accumulation into zeros: the sum does not add the init (which
// another op of the body reads), so the body stays as it is.
#id = affine_map<(d0) -> (d0)>
// CHECK-LABEL: func.func @not_accumulating
// CHECK: linalg.fill
// CHECK: arith.mulf %{{.*}}, %out
// CHECK: arith.addf
func.func @not_accumulating(%x: tensor<6xf32>, %y: tensor<6xf32>) -> tensor<6xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<6xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<6xf32>) -> tensor<6xf32>
  %r = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel"]}
      ins(%x, %y : tensor<6xf32>, tensor<6xf32>) outs(%z : tensor<6xf32>) {
  ^bb0(%a: f32, %b: f32, %out: f32):
    %m = arith.mulf %a, %out : f32
    %s = arith.addf %m, %b : f32
    linalg.yield %s : f32
  } -> tensor<6xf32>
  return %r : tensor<6xf32>
}

// -----

#mk = affine_map<(m, n, k) -> (m, k)>
#kn = affine_map<(m, n, k) -> (k, n)>
#mn = affine_map<(m, n, k) -> (m, n)>
#id = affine_map<(m, n) -> (m, n)>
#vec = affine_map<(n) -> (n)>
#id3 = affine_map<(b, s, n) -> (b, s, n)>
#bias3 = affine_map<(b, s, n) -> (n)>

// A bf16 training step's dense layer (f32 masters, autopar-training's mixed
// precision): the product accumulates in f32, is rounded, viewed [b, s, n]
// and its bias added. The bias's bf16 copy stays its own op (a GEMM
// epilogue reads its bias from memory, Analysis/Fusion.h: isEpilogueBias);
// the view moves before the rounding, which fuses into the bias add: the
// add reads the f32 product and rounds it (the cuBLASLt epilogue's form).
// CHECK-LABEL: func.func @rounded_dense
// CHECK: %[[B16:.*]] = linalg.generic {{.*}} ins(%{{.*}} : tensor<32xf32>) outs(%{{.*}} : tensor<32xbf16>)
// CHECK: %[[P:.*]] = linalg.generic {{.*}} outs(%{{.*}} : tensor<8x32xf32>)
// CHECK: %[[V:.*]] = tensor.expand_shape %[[P]] {{.*}} : tensor<8x32xf32> into tensor<2x4x32xf32>
// CHECK: linalg.generic {{.*}} ins(%[[V]], %[[B16]] : tensor<2x4x32xf32>, tensor<32xbf16>) outs(%{{.*}} : tensor<2x4x32xbf16>)
// CHECK-NEXT: ^bb0(%[[S:.*]]: f32, %[[C:.*]]: bf16,
// CHECK-NEXT: %[[R:.*]] = arith.truncf %[[S]] : f32 to bf16
// CHECK-NEXT: arith.addf %[[R]], %[[C]] : bf16
// CHECK-NOT: linalg.generic
func.func @rounded_dense(%a: tensor<8x16xbf16>, %w: tensor<16x32xbf16>, %b32: tensor<32xf32>) -> tensor<2x4x32xbf16> {
  %e1 = tensor.empty() : tensor<32xbf16>
  %b = linalg.generic {indexing_maps = [#vec, #vec], iterator_types = ["parallel"]}
      ins(%b32 : tensor<32xf32>) outs(%e1 : tensor<32xbf16>) {
  ^bb0(%x: f32, %o: bf16):
    %t = arith.truncf %x : f32 to bf16
    linalg.yield %t : bf16
  } -> tensor<32xbf16>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<8x32xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<8x32xf32>) -> tensor<8x32xf32>
  %p = linalg.generic {indexing_maps = [#mk, #kn, #mn], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %w : tensor<8x16xbf16>, tensor<16x32xbf16>) outs(%z : tensor<8x32xf32>) {
  ^bb0(%x: bf16, %y: bf16, %acc: f32):
    %xf = arith.extf %x : bf16 to f32
    %yf = arith.extf %y : bf16 to f32
    %m = arith.mulf %xf, %yf : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  } -> tensor<8x32xf32>
  %e16 = tensor.empty() : tensor<8x32xbf16>
  %r = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%p : tensor<8x32xf32>) outs(%e16 : tensor<8x32xbf16>) {
  ^bb0(%x: f32, %o: bf16):
    %t = arith.truncf %x : f32 to bf16
    linalg.yield %t : bf16
  } -> tensor<8x32xbf16>
  %v = tensor.expand_shape %r [[0, 1], [2]] output_shape [2, 4, 32] : tensor<8x32xbf16> into tensor<2x4x32xbf16>
  %e2 = tensor.empty() : tensor<2x4x32xbf16>
  %y = linalg.generic {indexing_maps = [#id3, #bias3, #id3], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%v, %b : tensor<2x4x32xbf16>, tensor<32xbf16>) outs(%e2 : tensor<2x4x32xbf16>) {
  ^bb0(%x: bf16, %c: bf16, %o: bf16):
    %s = arith.addf %x, %c : bf16
    linalg.yield %s : bf16
  } -> tensor<2x4x32xbf16>
  return %y : tensor<2x4x32xbf16>
}

// -----

#mk = affine_map<(m, n, k) -> (m, k)>
#kn = affine_map<(m, n, k) -> (k, n)>
#mn = affine_map<(m, n, k) -> (m, n)>
#id = affine_map<(m, n) -> (m, n)>
#id3 = affine_map<(b, s, n) -> (b, s, n)>
#bias3 = affine_map<(b, s, n) -> (n)>

// The view read by a second op too (a GELU's backward reading the sum): no
// epilogue can take the product, so the rounding and view stay (cuBLAS
// writes the rounded product, read twice in bf16).
// CHECK-LABEL: func.func @rounded_read_twice
// CHECK: linalg.generic {{.*}} outs(%{{.*}} : tensor<8x32xf32>)
// CHECK: %[[R:.*]] = linalg.generic {{.*}} ins(%{{.*}} : tensor<8x32xf32>) outs(%{{.*}} : tensor<8x32xbf16>)
// CHECK: tensor.expand_shape %[[R]] {{.*}} : tensor<8x32xbf16> into tensor<2x4x32xbf16>
func.func @rounded_read_twice(%a: tensor<8x16xbf16>, %w: tensor<16x32xbf16>, %b: tensor<32xbf16>) -> (tensor<2x4x32xbf16>, tensor<2x4x32xbf16>) {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<8x32xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<8x32xf32>) -> tensor<8x32xf32>
  %p = linalg.generic {indexing_maps = [#mk, #kn, #mn], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %w : tensor<8x16xbf16>, tensor<16x32xbf16>) outs(%z : tensor<8x32xf32>) {
  ^bb0(%x: bf16, %y: bf16, %acc: f32):
    %xf = arith.extf %x : bf16 to f32
    %yf = arith.extf %y : bf16 to f32
    %m = arith.mulf %xf, %yf : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  } -> tensor<8x32xf32>
  %e16 = tensor.empty() : tensor<8x32xbf16>
  %r = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%p : tensor<8x32xf32>) outs(%e16 : tensor<8x32xbf16>) {
  ^bb0(%x: f32, %o: bf16):
    %t = arith.truncf %x : f32 to bf16
    linalg.yield %t : bf16
  } -> tensor<8x32xbf16>
  %v = tensor.expand_shape %r [[0, 1], [2]] output_shape [2, 4, 32] : tensor<8x32xbf16> into tensor<2x4x32xbf16>
  %e2 = tensor.empty() : tensor<2x4x32xbf16>
  %y = linalg.generic {indexing_maps = [#id3, #bias3, #id3], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%v, %b : tensor<2x4x32xbf16>, tensor<32xbf16>) outs(%e2 : tensor<2x4x32xbf16>) {
  ^bb0(%x: bf16, %c: bf16, %o: bf16):
    %s = arith.addf %x, %c : bf16
    linalg.yield %s : bf16
  } -> tensor<2x4x32xbf16>
  %e3 = tensor.empty() : tensor<2x4x32xbf16>
  %g = linalg.generic {indexing_maps = [#id3, #id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%v, %y : tensor<2x4x32xbf16>, tensor<2x4x32xbf16>) outs(%e3 : tensor<2x4x32xbf16>) {
  ^bb0(%x: bf16, %t: bf16, %o: bf16):
    %s = arith.mulf %x, %t : bf16
    linalg.yield %s : bf16
  } -> tensor<2x4x32xbf16>
  return %y, %g : tensor<2x4x32xbf16>, tensor<2x4x32xbf16>
}

// -----

#id = affine_map<(m, n) -> (m, n)>
#bias = affine_map<(m, n) -> (n)>

// A training step's GELU layer: the bias add's sum, read by the GELU and by
// another op (the GELU's backward), stays its own op (Analysis/Fusion.h,
// isGeluAuxSum): the product's cuBLASLt call writes it as AUX beside the
// GELU's result, and the backward reads it. (Fused, each user would make
// the sum again from the product, which no epilogue could then take.)
// CHECK-LABEL: func.func @gelu_sum_kept
// CHECK: %[[P:.*]] = linalg.matmul
// CHECK: %[[H:.*]] = linalg.generic {{.*}} ins(%[[P]], %{{.*}} : tensor<8x32xf32>, tensor<32xf32>)
// CHECK: linalg.generic {{.*}} ins(%[[H]] : tensor<8x32xf32>)
// CHECK: linalg.generic {{.*}} ins(%[[H]], %{{.*}} : tensor<8x32xf32>, tensor<8x32xf32>)
func.func @gelu_sum_kept(%a: tensor<8x16xf32>, %b: tensor<16x32xf32>, %bias: tensor<32xf32>, %dg: tensor<8x32xf32>) -> (tensor<8x32xf32>, tensor<8x32xf32>) {
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
  %e3 = tensor.empty() : tensor<8x32xf32>
  %back = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%h, %dg : tensor<8x32xf32>, tensor<8x32xf32>) outs(%e3 : tensor<8x32xf32>) {
  ^bb0(%x: f32, %d: f32, %o: f32):
    %m = arith.mulf %x, %d : f32
    linalg.yield %m : f32
  } -> tensor<8x32xf32>
  return %g, %back : tensor<8x32xf32>, tensor<8x32xf32>
}

// -----

// A 16-bit model as torch-mlir exports it (Analysis/Fusion.h): a linear
// layer's operands widened to f32 and multiplied in f32, and the backward's
// products reading the gradient widened from bf16. Each widening goes into
// the contractions reading it, whose other operand holds bf16 too (itself
// widened, through a copy): the products read bf16 and widen in their
// bodies (16-bit GEMMs accumulating in f32). The weight's bf16 working
// copy (truncf) is not fused into its widening: the products read it.
// CHECK-LABEL: func.func @widened_products(
// CHECK-SAME: %[[X:[^:]*]]: tensor<8x16xbf16>, %[[W:[^:]*]]: tensor<16x32xf32>, %[[G:[^:]*]]: tensor<8x32xbf16>
// CHECK: %[[W16:.*]] = linalg.generic {{.*}} ins(%[[W]] : tensor<16x32xf32>) outs(%{{.*}} : tensor<16x32xbf16>)
// CHECK: arith.truncf
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[X]], %[[W16]] : tensor<8x16xbf16>, tensor<16x32xbf16>) outs(%{{.*}} : tensor<8x32xf32>)
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[G]], %[[W16]] : tensor<8x32xbf16>, tensor<16x32xbf16>) outs(%{{.*}} : tensor<8x16xf32>)
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[X]], %[[G]] : tensor<8x16xbf16>, tensor<8x32xbf16>) outs(%{{.*}} : tensor<16x32xf32>)
// CHECK-NOT: linalg.generic
#id = affine_map<(m, n) -> (m, n)>
#mk = affine_map<(m, n, k) -> (m, k)>
#nk = affine_map<(m, n, k) -> (n, k)>
#mn = affine_map<(m, n, k) -> (m, n)>
#km = affine_map<(m, n, k) -> (k, m)>
#kn = affine_map<(m, n, k) -> (k, n)>
func.func @widened_products(%x: tensor<8x16xbf16>, %w: tensor<16x32xf32>, %g: tensor<8x32xbf16>) -> (tensor<8x32xf32>, tensor<8x16xf32>, tensor<16x32xf32>) {
  %zero = arith.constant 0.0 : f32
  %e16 = tensor.empty() : tensor<16x32xbf16>
  %w16 = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%w : tensor<16x32xf32>) outs(%e16 : tensor<16x32xbf16>) {
  ^bb0(%a: f32, %o: bf16):
    %t = arith.truncf %a : f32 to bf16
    linalg.yield %t : bf16
  } -> tensor<16x32xbf16>
  %ex = tensor.empty() : tensor<8x16xf32>
  %xw = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<8x16xbf16>) outs(%ex : tensor<8x16xf32>) {
  ^bb0(%a: bf16, %o: f32):
    %t = arith.extf %a : bf16 to f32
    linalg.yield %t : f32
  } -> tensor<8x16xf32>
  %ew = tensor.empty() : tensor<16x32xf32>
  %ww = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%w16 : tensor<16x32xbf16>) outs(%ew : tensor<16x32xf32>) {
  ^bb0(%a: bf16, %o: f32):
    %t = arith.extf %a : bf16 to f32
    linalg.yield %t : f32
  } -> tensor<16x32xf32>
  %e = tensor.empty() : tensor<8x32xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<8x32xf32>) -> tensor<8x32xf32>
  %p = linalg.matmul ins(%xw, %ww : tensor<8x16xf32>, tensor<16x32xf32>) outs(%z : tensor<8x32xf32>) -> tensor<8x32xf32>
  %gw = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%g : tensor<8x32xbf16>) outs(%e : tensor<8x32xf32>) {
  ^bb0(%a: bf16, %o: f32):
    %t = arith.extf %a : bf16 to f32
    linalg.yield %t : f32
  } -> tensor<8x32xf32>
  %zc = linalg.fill ins(%zero : f32) outs(%e : tensor<8x32xf32>) -> tensor<8x32xf32>
  %gc = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%gw : tensor<8x32xf32>) outs(%zc : tensor<8x32xf32>) {
  ^bb0(%a: f32, %o: f32):
    %t = arith.addf %o, %a : f32
    linalg.yield %t : f32
  } -> tensor<8x32xf32>
  %zx = linalg.fill ins(%zero : f32) outs(%ex : tensor<8x16xf32>) -> tensor<8x16xf32>
  %dx = linalg.generic {indexing_maps = [#mk, #nk, #mn], iterator_types = ["parallel", "parallel", "reduction"]} ins(%gc, %ww : tensor<8x32xf32>, tensor<16x32xf32>) outs(%zx : tensor<8x16xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %m = arith.mulf %a, %b : f32
    %s = arith.addf %o, %m : f32
    linalg.yield %s : f32
  } -> tensor<8x16xf32>
  %zw = linalg.fill ins(%zero : f32) outs(%ew : tensor<16x32xf32>) -> tensor<16x32xf32>
  %dw = linalg.generic {indexing_maps = [#km, #kn, #mn], iterator_types = ["parallel", "parallel", "reduction"]} ins(%xw, %gc : tensor<8x16xf32>, tensor<8x32xf32>) outs(%zw : tensor<16x32xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %m = arith.mulf %a, %b : f32
    %s = arith.addf %o, %m : f32
    linalg.yield %s : f32
  } -> tensor<16x32xf32>
  return %p, %dx, %dw : tensor<8x32xf32>, tensor<8x16xf32>, tensor<16x32xf32>
}

// -----

#id = affine_map<(b, v) -> (b, v)>
#row = affine_map<(b, v) -> (b)>
#all = affine_map<(b, v) -> ()>

// A 16-bit export's loss reads its logits widened to f32: the widening
// goes into every reader, the sum to one value among them (a consumer
// without a parallel loop, which the lowerings split into parallel partial
// sums), so the wide copy is never written and each reads the bf16 logits.
// A max to one value (not split) keeps its producer out.
// CHECK-LABEL: func.func @widened_loss(
// CHECK-SAME: %[[L:[^:]*]]: tensor<4x64xbf16>
// CHECK-NOT: linalg.generic {{.*}} outs(%{{.*}} : tensor<4x64xf32>)
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "reduction"]} ins(%[[L]] : tensor<4x64xbf16>)
// CHECK: arith.extf
// CHECK: linalg.generic {{.*}} iterator_types = ["reduction", "reduction"]} ins(%[[L]] : tensor<4x64xbf16>)
// CHECK: arith.extf
// CHECK-LABEL: func.func @widened_max(
// CHECK: %[[W:.*]] = linalg.generic {{.*}} outs(%{{.*}} : tensor<4x64xf32>)
// CHECK: linalg.generic {{.*}} ins(%[[W]] : tensor<4x64xf32>)
func.func @widened_loss(%logits: tensor<4x64xbf16>) -> (tensor<4xf32>, tensor<f32>) {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4x64xf32>
  %w = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%logits : tensor<4x64xbf16>) outs(%e : tensor<4x64xf32>) {
  ^bb0(%a: bf16, %o: f32):
    %t = arith.extf %a : bf16 to f32
    linalg.yield %t : f32
  } -> tensor<4x64xf32>
  %er = tensor.empty() : tensor<4xf32>
  %zr = linalg.fill ins(%zero : f32) outs(%er : tensor<4xf32>) -> tensor<4xf32>
  %rows = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]} ins(%w : tensor<4x64xf32>) outs(%zr : tensor<4xf32>) {
  ^bb0(%a: f32, %o: f32):
    %t = arith.maximumf %o, %a : f32
    linalg.yield %t : f32
  } -> tensor<4xf32>
  %es = tensor.empty() : tensor<f32>
  %zs = linalg.fill ins(%zero : f32) outs(%es : tensor<f32>) -> tensor<f32>
  %sum = linalg.generic {indexing_maps = [#id, #all], iterator_types = ["reduction", "reduction"]} ins(%w : tensor<4x64xf32>) outs(%zs : tensor<f32>) {
  ^bb0(%a: f32, %o: f32):
    %t = arith.addf %o, %a : f32
    linalg.yield %t : f32
  } -> tensor<f32>
  return %rows, %sum : tensor<4xf32>, tensor<f32>
}

func.func @widened_max(%logits: tensor<4x64xbf16>) -> tensor<f32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4x64xf32>
  %w = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%logits : tensor<4x64xbf16>) outs(%e : tensor<4x64xf32>) {
  ^bb0(%a: bf16, %o: f32):
    %t = arith.extf %a : bf16 to f32
    linalg.yield %t : f32
  } -> tensor<4x64xf32>
  %es = tensor.empty() : tensor<f32>
  %zs = linalg.fill ins(%zero : f32) outs(%es : tensor<f32>) -> tensor<f32>
  %max = linalg.generic {indexing_maps = [#id, #all], iterator_types = ["reduction", "reduction"]} ins(%w : tensor<4x64xf32>) outs(%zs : tensor<f32>) {
  ^bb0(%a: f32, %o: f32):
    %t = arith.maximumf %o, %a : f32
    linalg.yield %t : f32
  } -> tensor<f32>
  return %max : tensor<f32>
}
