// autopar-fuse-attention: the scores, scale and causal mask, softmax and
// context of an attention become one autopar.attention (the mask's index
// predicate moved into its region); a chain whose probabilities are used
// elsewhere stays. Decomposed again (autopar-prepare-lowering), it is the
// same chain, plus the row log-sum-exp, which nothing reads here.
// RUN: autopar-opt %s --autopar-fuse-attention=report=1 -split-input-file -verify-diagnostics | FileCheck %s
// RUN: autopar-opt %s --autopar-fuse-attention --autopar-prepare-lowering -split-input-file | FileCheck %s --check-prefix=DECOMPOSED

#id = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#row = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-LABEL: func.func @causal
// CHECK-SAME: (%[[Q:.*]]: tensor<2x8x4xf32>, %[[K:.*]]: tensor<2x4x8xf32>, %[[V:.*]]: tensor<2x8x4xf32>)
// CHECK: %[[O:.*]], %{{.*}} = autopar.attention ins(%[[Q]], %[[K]], %[[V]] : tensor<2x8x4xf32>, tensor<2x4x8xf32>, tensor<2x8x4xf32>) outs(%{{.*}}, %{{.*}} : tensor<2x8x4xf32>, tensor<2x8xf32>) scale 5.000000e-01 masked 0xFFF0000000000000 mask {
// CHECK-NEXT: ^bb0(%{{.*}}: index, %[[I:.*]]: index, %[[J:.*]]: index):
// CHECK-NEXT: %[[C4:.*]] = arith.constant 4 : index
// CHECK-NEXT: %[[R:.*]] = arith.remui %[[I]], %[[C4]] : index
// CHECK-NEXT: %[[P:.*]] = arith.cmpi ugt, %[[J]], %[[R]] : index
// CHECK-NEXT: autopar.yield %[[P]] : i1
// CHECK-NEXT: } -> tensor<2x8x4xf32>, tensor<2x8xf32>
// CHECK-NOT: linalg.
// CHECK: return %[[O]]

// DECOMPOSED-LABEL: func.func @causal
// DECOMPOSED: linalg.batch_matmul
// DECOMPOSED: linalg.generic
// DECOMPOSED: arith.mulf %{{.*}}, %{{.*}} : f32
// DECOMPOSED: arith.remui
// DECOMPOSED: arith.cmpi ugt
// DECOMPOSED: arith.select
// DECOMPOSED: arith.maximumf
// DECOMPOSED: math.exp
// DECOMPOSED: arith.addf
// DECOMPOSED: arith.divf
// DECOMPOSED: linalg.batch_matmul
// DECOMPOSED: math.log
func.func @causal(%q: tensor<2x8x4xf32>, %k: tensor<2x4x8xf32>, %v: tensor<2x8x4xf32>) -> tensor<2x8x4xf32> {
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %half = arith.constant 0.5 : f32
  %c4 = arith.constant 4 : index
  %e = tensor.empty() : tensor<2x8x8xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<2x8x8xf32>) -> tensor<2x8x8xf32>
  %s = linalg.batch_matmul ins(%q, %k : tensor<2x8x4xf32>, tensor<2x4x8xf32>) outs(%z : tensor<2x8x8xf32>) -> tensor<2x8x8xf32>
  %m = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel"]} ins(%s : tensor<2x8x8xf32>) outs(%e : tensor<2x8x8xf32>) {
  ^bb0(%in: f32, %out: f32):
    %x = arith.mulf %in, %half : f32
    %i = linalg.index 1 : index
    %r = arith.remui %i, %c4 : index
    %j = linalg.index 2 : index
    %c = arith.cmpi ugt, %j, %r : index
    %y = arith.select %c, %ninf, %x : f32
    linalg.yield %y : f32
  } -> tensor<2x8x8xf32>
  %er = tensor.empty() : tensor<2x8xf32>
  %mi = linalg.fill ins(%ninf : f32) outs(%er : tensor<2x8xf32>) -> tensor<2x8xf32>
  %mx = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "parallel", "reduction"]} ins(%m : tensor<2x8x8xf32>) outs(%mi : tensor<2x8xf32>) {
  ^bb0(%in: f32, %out: f32):
    %y = arith.maximumf %in, %out : f32
    linalg.yield %y : f32
  } -> tensor<2x8xf32>
  %ex = linalg.generic {indexing_maps = [#id, #row, #id], iterator_types = ["parallel", "parallel", "parallel"]} ins(%m, %mx : tensor<2x8x8xf32>, tensor<2x8xf32>) outs(%e : tensor<2x8x8xf32>) {
  ^bb0(%in: f32, %mm: f32, %out: f32):
    %d = arith.subf %in, %mm : f32
    %y = math.exp %d : f32
    linalg.yield %y : f32
  } -> tensor<2x8x8xf32>
  %si = linalg.fill ins(%zero : f32) outs(%er : tensor<2x8xf32>) -> tensor<2x8xf32>
  %sm = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "parallel", "reduction"]} ins(%ex : tensor<2x8x8xf32>) outs(%si : tensor<2x8xf32>) {
  ^bb0(%in: f32, %out: f32):
    %y = arith.addf %in, %out : f32
    linalg.yield %y : f32
  } -> tensor<2x8xf32>
  %p = linalg.generic {indexing_maps = [#id, #row, #id], iterator_types = ["parallel", "parallel", "parallel"]} ins(%ex, %sm : tensor<2x8x8xf32>, tensor<2x8xf32>) outs(%e : tensor<2x8x8xf32>) {
  ^bb0(%in: f32, %ss: f32, %out: f32):
    %y = arith.divf %in, %ss : f32
    linalg.yield %y : f32
  } -> tensor<2x8x8xf32>
  %eo = tensor.empty() : tensor<2x8x4xf32>
  %zo = linalg.fill ins(%zero : f32) outs(%eo : tensor<2x8x4xf32>) -> tensor<2x8x4xf32>
  // expected-remark @+1 {{autopar-fuse-attention: attention formed (scale 5.000000e-01, masked)}}
  %o = linalg.batch_matmul ins(%p, %v : tensor<2x8x8xf32>, tensor<2x8x4xf32>) outs(%zo : tensor<2x8x4xf32>) -> tensor<2x8x4xf32>
  return %o : tensor<2x8x4xf32>
}

// -----

#id = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#row = affine_map<(d0, d1, d2) -> (d0, d1)>
// The probabilities are returned too: the chain stays, and report=1 says
// why.
// CHECK-LABEL: func.func @probabilities_used
// CHECK-NOT: autopar.attention
// CHECK: linalg.batch_matmul
// CHECK: arith.divf
// CHECK: linalg.batch_matmul
func.func @probabilities_used(%q: tensor<1x4x2xf64>, %k: tensor<1x2x4xf64>, %v: tensor<1x4x2xf64>) -> (tensor<1x4x2xf64>, tensor<1x4x4xf64>) {
  %zero = arith.constant 0.0 : f64
  %ninf = arith.constant 0xFFF0000000000000 : f64
  %e = tensor.empty() : tensor<1x4x4xf64>
  %z = linalg.fill ins(%zero : f64) outs(%e : tensor<1x4x4xf64>) -> tensor<1x4x4xf64>
  // expected-remark @+1 {{no attention formed: the probabilities are not the left operand of one zero-filled product (and nothing else)}}
  %s = linalg.batch_matmul ins(%q, %k : tensor<1x4x2xf64>, tensor<1x2x4xf64>) outs(%z : tensor<1x4x4xf64>) -> tensor<1x4x4xf64>
  %er = tensor.empty() : tensor<1x4xf64>
  %mi = linalg.fill ins(%ninf : f64) outs(%er : tensor<1x4xf64>) -> tensor<1x4xf64>
  %mx = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "parallel", "reduction"]} ins(%s : tensor<1x4x4xf64>) outs(%mi : tensor<1x4xf64>) {
  ^bb0(%in: f64, %out: f64):
    %y = arith.maximumf %in, %out : f64
    linalg.yield %y : f64
  } -> tensor<1x4xf64>
  %ex = linalg.generic {indexing_maps = [#id, #row, #id], iterator_types = ["parallel", "parallel", "parallel"]} ins(%s, %mx : tensor<1x4x4xf64>, tensor<1x4xf64>) outs(%e : tensor<1x4x4xf64>) {
  ^bb0(%in: f64, %mm: f64, %out: f64):
    %d = arith.subf %in, %mm : f64
    %y = math.exp %d : f64
    linalg.yield %y : f64
  } -> tensor<1x4x4xf64>
  %si = linalg.fill ins(%zero : f64) outs(%er : tensor<1x4xf64>) -> tensor<1x4xf64>
  %sm = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "parallel", "reduction"]} ins(%ex : tensor<1x4x4xf64>) outs(%si : tensor<1x4xf64>) {
  ^bb0(%in: f64, %out: f64):
    %y = arith.addf %in, %out : f64
    linalg.yield %y : f64
  } -> tensor<1x4xf64>
  %p = linalg.generic {indexing_maps = [#id, #row, #id], iterator_types = ["parallel", "parallel", "parallel"]} ins(%ex, %sm : tensor<1x4x4xf64>, tensor<1x4xf64>) outs(%e : tensor<1x4x4xf64>) {
  ^bb0(%in: f64, %ss: f64, %out: f64):
    %y = arith.divf %in, %ss : f64
    linalg.yield %y : f64
  } -> tensor<1x4x4xf64>
  %eo = tensor.empty() : tensor<1x4x2xf64>
  %zo = linalg.fill ins(%zero : f64) outs(%eo : tensor<1x4x2xf64>) -> tensor<1x4x2xf64>
  %o = linalg.batch_matmul ins(%p, %v : tensor<1x4x4xf64>, tensor<1x4x2xf64>) outs(%zo : tensor<1x4x2xf64>) -> tensor<1x4x2xf64>
  return %o, %p : tensor<1x4x2xf64>, tensor<1x4x4xf64>
}

// -----

#id = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#row = affine_map<(d0, d1, d2) -> (d0, d1)>
// A mask added from a tensor (as PyTorch exports pass an attention mask)
// is data a mask region cannot rebuild: the chain stays, and report=1
// says so at the scores.
// CHECK-LABEL: func.func @tensor_mask
// CHECK-NOT: autopar.attention
func.func @tensor_mask(%q: tensor<1x4x2xf64>, %k: tensor<1x2x4xf64>, %v: tensor<1x4x2xf64>, %bias: tensor<1x4x4xf64>) -> tensor<1x4x2xf64> {
  %zero = arith.constant 0.0 : f64
  %ninf = arith.constant 0xFFF0000000000000 : f64
  %e = tensor.empty() : tensor<1x4x4xf64>
  %z = linalg.fill ins(%zero : f64) outs(%e : tensor<1x4x4xf64>) -> tensor<1x4x4xf64>
  // expected-remark @+1 {{no attention formed: the op after the scores reads a tensor (a mask or bias given as data), which a mask region cannot rebuild}}
  %s = linalg.batch_matmul ins(%q, %k : tensor<1x4x2xf64>, tensor<1x2x4xf64>) outs(%z : tensor<1x4x4xf64>) -> tensor<1x4x4xf64>
  %b = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel", "parallel"]} ins(%s, %bias : tensor<1x4x4xf64>, tensor<1x4x4xf64>) outs(%e : tensor<1x4x4xf64>) {
  ^bb0(%in: f64, %m: f64, %out: f64):
    %y = arith.addf %in, %m : f64
    linalg.yield %y : f64
  } -> tensor<1x4x4xf64>
  %er = tensor.empty() : tensor<1x4xf64>
  %mi = linalg.fill ins(%ninf : f64) outs(%er : tensor<1x4xf64>) -> tensor<1x4xf64>
  %mx = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "parallel", "reduction"]} ins(%b : tensor<1x4x4xf64>) outs(%mi : tensor<1x4xf64>) {
  ^bb0(%in: f64, %out: f64):
    %y = arith.maximumf %in, %out : f64
    linalg.yield %y : f64
  } -> tensor<1x4xf64>
  %ex = linalg.generic {indexing_maps = [#id, #row, #id], iterator_types = ["parallel", "parallel", "parallel"]} ins(%b, %mx : tensor<1x4x4xf64>, tensor<1x4xf64>) outs(%e : tensor<1x4x4xf64>) {
  ^bb0(%in: f64, %mm: f64, %out: f64):
    %d = arith.subf %in, %mm : f64
    %y = math.exp %d : f64
    linalg.yield %y : f64
  } -> tensor<1x4x4xf64>
  %si = linalg.fill ins(%zero : f64) outs(%er : tensor<1x4xf64>) -> tensor<1x4xf64>
  %sm = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "parallel", "reduction"]} ins(%ex : tensor<1x4x4xf64>) outs(%si : tensor<1x4xf64>) {
  ^bb0(%in: f64, %out: f64):
    %y = arith.addf %in, %out : f64
    linalg.yield %y : f64
  } -> tensor<1x4xf64>
  %p = linalg.generic {indexing_maps = [#id, #row, #id], iterator_types = ["parallel", "parallel", "parallel"]} ins(%ex, %sm : tensor<1x4x4xf64>, tensor<1x4xf64>) outs(%e : tensor<1x4x4xf64>) {
  ^bb0(%in: f64, %ss: f64, %out: f64):
    %y = arith.divf %in, %ss : f64
    linalg.yield %y : f64
  } -> tensor<1x4x4xf64>
  %eo = tensor.empty() : tensor<1x4x2xf64>
  %zo = linalg.fill ins(%zero : f64) outs(%eo : tensor<1x4x2xf64>) -> tensor<1x4x2xf64>
  %o = linalg.batch_matmul ins(%p, %v : tensor<1x4x4xf64>, tensor<1x4x2xf64>) outs(%zo : tensor<1x4x2xf64>) -> tensor<1x4x2xf64>
  return %o : tensor<1x4x2xf64>
}
