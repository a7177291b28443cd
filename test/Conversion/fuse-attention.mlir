// autopar-fuse-attention: the scores, scale and causal mask, softmax and
// context of an attention become one autopar.attention (the mask's index
// predicate moved into its region), in the one-op-per-step form and in the
// form PyTorch exports (scores reshaped to [batch, heads, rows, keys], an
// additive mask tensor computed from iotas, an argmax beside the row
// maximum, keepdim rows; a padding mask given as integer data, which the
// op reads as a mask input; TOSA's reductions and reciprocal); a chain
// whose probabilities are used
// elsewhere, or whose mask is float data, stays. Decomposed again
// (autopar-prepare-lowering), it is the same chain, plus the row
// log-sum-exp, which nothing reads here.
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
// DECOMPOSED: math.log
// DECOMPOSED: linalg.batch_matmul
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
// The scale as torch-mlir writes a Python float: an f64 constant
// truncated to f32 in the body; the attention's scale is the f32 value.
// CHECK-LABEL: func.func @truncated_scale
// CHECK: autopar.attention {{.*}} scale 0.35355338454246521 masked
func.func @truncated_scale(%q: tensor<2x8x4xf32>, %k: tensor<2x4x8xf32>, %v: tensor<2x8x4xf32>) -> tensor<2x8x4xf32> {
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %half64 = arith.constant 0.35355339059327379 : f64
  %c4 = arith.constant 4 : index
  %e = tensor.empty() : tensor<2x8x8xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<2x8x8xf32>) -> tensor<2x8x8xf32>
  %s = linalg.batch_matmul ins(%q, %k : tensor<2x8x4xf32>, tensor<2x4x8xf32>) outs(%z : tensor<2x8x8xf32>) -> tensor<2x8x8xf32>
  %m = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel"]} ins(%s : tensor<2x8x8xf32>) outs(%e : tensor<2x8x8xf32>) {
  ^bb0(%in: f32, %out: f32):
    %half = arith.truncf %half64 : f64 to f32
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
  // expected-remark @+1 {{autopar-fuse-attention: attention formed (scale 3.535534e-01, masked)}}
  %o = linalg.batch_matmul ins(%p, %v : tensor<2x8x8xf32>, tensor<2x8x4xf32>) outs(%zo : tensor<2x8x4xf32>) -> tensor<2x8x4xf32>
  return %o : tensor<2x8x4xf32>
}

// -----

#id = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#row = affine_map<(d0, d1, d2) -> (d0, d1)>
// Query, keys and values made by collapsing [b, h] into B (as every
// exported transformer makes them): the attention keeps batch and heads
// apart, reading the uncollapsed tensors, and its result is what the
// expansion made (docs/dialect.md). Decomposed, it merges them again.
// CHECK-LABEL: func.func @heads
// CHECK-SAME: (%[[Q:.*]]: tensor<2x3x8x4xf32>, %[[K:.*]]: tensor<2x3x4x8xf32>, %[[V:.*]]: tensor<2x3x8x4xf32>)
// CHECK-NOT: tensor.collapse_shape
// CHECK: %[[O:.*]], %{{.*}} = autopar.attention ins(%[[Q]], %[[K]], %[[V]] : tensor<2x3x8x4xf32>, tensor<2x3x4x8xf32>, tensor<2x3x8x4xf32>) outs(%{{.*}}, %{{.*}} : tensor<2x3x8x4xf32>, tensor<2x3x8xf32>) scale 5.000000e-01 masked 0xFFF0000000000000 mask {
// CHECK: } -> tensor<2x3x8x4xf32>, tensor<2x3x8xf32>
// CHECK-NOT: tensor.expand_shape
// CHECK: return %[[O]]
// DECOMPOSED-LABEL: func.func @heads
// DECOMPOSED: tensor.collapse_shape %{{.*}} {{\[\[}}0, 1], [2], [3]] : tensor<2x3x8x4xf32> into tensor<6x8x4xf32>
// DECOMPOSED: linalg.batch_matmul ins({{.*}} : tensor<6x8x4xf32>, tensor<6x4x8xf32>)
// DECOMPOSED: linalg.batch_matmul
// DECOMPOSED: tensor.expand_shape %{{.*}} {{\[\[}}0, 1], [2], [3]] output_shape [2, 3, 8, 4]
func.func @heads(%q4: tensor<2x3x8x4xf32>, %k4: tensor<2x3x4x8xf32>, %v4: tensor<2x3x8x4xf32>) -> tensor<2x3x8x4xf32> {
  %q = tensor.collapse_shape %q4 [[0, 1], [2], [3]] : tensor<2x3x8x4xf32> into tensor<6x8x4xf32>
  %k = tensor.collapse_shape %k4 [[0, 1], [2], [3]] : tensor<2x3x4x8xf32> into tensor<6x4x8xf32>
  %v = tensor.collapse_shape %v4 [[0, 1], [2], [3]] : tensor<2x3x8x4xf32> into tensor<6x8x4xf32>
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %half = arith.constant 0.5 : f32
  %c4 = arith.constant 4 : index
  %e = tensor.empty() : tensor<6x8x8xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<6x8x8xf32>) -> tensor<6x8x8xf32>
  %s = linalg.batch_matmul ins(%q, %k : tensor<6x8x4xf32>, tensor<6x4x8xf32>) outs(%z : tensor<6x8x8xf32>) -> tensor<6x8x8xf32>
  %m = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel"]} ins(%s : tensor<6x8x8xf32>) outs(%e : tensor<6x8x8xf32>) {
  ^bb0(%in: f32, %out: f32):
    %x = arith.mulf %in, %half : f32
    %i = linalg.index 1 : index
    %j = linalg.index 2 : index
    %c = arith.cmpi ugt, %j, %i : index
    %y = arith.select %c, %ninf, %x : f32
    linalg.yield %y : f32
  } -> tensor<6x8x8xf32>
  %er = tensor.empty() : tensor<6x8xf32>
  %mi = linalg.fill ins(%ninf : f32) outs(%er : tensor<6x8xf32>) -> tensor<6x8xf32>
  %mx = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "parallel", "reduction"]} ins(%m : tensor<6x8x8xf32>) outs(%mi : tensor<6x8xf32>) {
  ^bb0(%in: f32, %out: f32):
    %y = arith.maximumf %in, %out : f32
    linalg.yield %y : f32
  } -> tensor<6x8xf32>
  %ex = linalg.generic {indexing_maps = [#id, #row, #id], iterator_types = ["parallel", "parallel", "parallel"]} ins(%m, %mx : tensor<6x8x8xf32>, tensor<6x8xf32>) outs(%e : tensor<6x8x8xf32>) {
  ^bb0(%in: f32, %mm: f32, %out: f32):
    %d = arith.subf %in, %mm : f32
    %y = math.exp %d : f32
    linalg.yield %y : f32
  } -> tensor<6x8x8xf32>
  %si = linalg.fill ins(%zero : f32) outs(%er : tensor<6x8xf32>) -> tensor<6x8xf32>
  %sm = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "parallel", "reduction"]} ins(%ex : tensor<6x8x8xf32>) outs(%si : tensor<6x8xf32>) {
  ^bb0(%in: f32, %out: f32):
    %y = arith.addf %in, %out : f32
    linalg.yield %y : f32
  } -> tensor<6x8xf32>
  %p = linalg.generic {indexing_maps = [#id, #row, #id], iterator_types = ["parallel", "parallel", "parallel"]} ins(%ex, %sm : tensor<6x8x8xf32>, tensor<6x8xf32>) outs(%e : tensor<6x8x8xf32>) {
  ^bb0(%in: f32, %ss: f32, %out: f32):
    %y = arith.divf %in, %ss : f32
    linalg.yield %y : f32
  } -> tensor<6x8x8xf32>
  %eo = tensor.empty() : tensor<6x8x4xf32>
  %zo = linalg.fill ins(%zero : f32) outs(%eo : tensor<6x8x4xf32>) -> tensor<6x8x4xf32>
  // expected-remark @+1 {{autopar-fuse-attention: attention formed (scale 5.000000e-01, masked)}}
  %o = linalg.batch_matmul ins(%p, %v : tensor<6x8x8xf32>, tensor<6x8x4xf32>) outs(%zo : tensor<6x8x4xf32>) -> tensor<6x8x4xf32>
  %o4 = tensor.expand_shape %o [[0, 1], [2], [3]] output_shape [2, 3, 8, 4] : tensor<6x8x4xf32> into tensor<2x3x8x4xf32>
  return %o4 : tensor<2x3x8x4xf32>
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
// A bias added from a float function argument (a learned bias, say) is
// data the fused op would not differentiate: the chain stays, and report=1
// says so at the scores.
// CHECK-LABEL: func.func @tensor_mask
// CHECK-NOT: autopar.attention
func.func @tensor_mask(%q: tensor<1x4x2xf64>, %k: tensor<1x2x4xf64>, %v: tensor<1x4x2xf64>, %bias: tensor<1x4x4xf64>) -> tensor<1x4x2xf64> {
  %zero = arith.constant 0.0 : f64
  %ninf = arith.constant 0xFFF0000000000000 : f64
  %e = tensor.empty() : tensor<1x4x4xf64>
  %z = linalg.fill ins(%zero : f64) outs(%e : tensor<1x4x4xf64>) -> tensor<1x4x4xf64>
  // expected-remark @+1 {{no attention formed: the mask reads argument #3, data of a float type (which may need a gradient the fused attention does not give)}}
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

// -----

// The form torch-mlir exports (Hugging Face GPT-2, BERT, LLaMA): batch 1,
// 2 heads, 4 positions. The scores are reshaped to [1, 2, 4, 4], scaled,
// and added to a [1, 1, 4, 4] mask that iotas compute (0 where the key is
// at or before the query, -3.4e38 elsewhere); the row maximum also
// returns its argmax (unused); subtraction and exponential are two ops;
// the sums keep their dimension. The mask becomes the region (the iotas
// rebuilt at the region's indices), and every op of the chain and of the
// mask goes.
#i4 = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
#bias = affine_map<(d0, d1, d2, d3) -> (d0, 0, d2, d3)>
#rows = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
#keep = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, 0)>
#col = affine_map<(d0, d1, d2, d3) -> (d0, d1, 0, d3)>
#scalar = affine_map<(d0, d1, d2, d3) -> ()>
#iota = affine_map<(d0) -> (d0)>
// CHECK-LABEL: func.func @exported
// CHECK-SAME: (%[[Q:.*]]: tensor<2x4x2xf32>, %[[K:.*]]: tensor<2x2x4xf32>, %[[V:.*]]: tensor<2x4x2xf32>)
// CHECK-NOT: linalg.
// CHECK-NOT: tensor.expand_shape
// CHECK: %[[O:.*]], %{{.*}} = autopar.attention ins(%[[Q]], %[[K]], %[[V]] : {{.*}}) scale 5.000000e-01 masked -3.4028234663852886E+38 additive mask {
// CHECK-NEXT: ^bb0(%{{.*}}: index, %[[I:.*]]: index, %[[J:.*]]: index):
// CHECK-NEXT: %[[JJ:.*]] = arith.index_cast %[[J]] : index to i64
// CHECK-NEXT: %[[II:.*]] = arith.index_cast %[[I]] : index to i64
// CHECK-NEXT: %[[KEEP:.*]] = arith.cmpi sle, %[[JJ]], %[[II]] : i64
// CHECK-NEXT: %[[TRUE:.*]] = arith.constant true
// CHECK-NEXT: %[[P:.*]] = arith.xori %[[KEEP]], %[[TRUE]] : i1
// CHECK-NEXT: autopar.yield %[[P]] : i1
// CHECK-NEXT: } -> tensor<2x4x2xf32>, tensor<2x4xf32>
// CHECK-NOT: linalg.
// CHECK-NOT: tensor.
// CHECK: return %[[O]]
func.func @exported(%q: tensor<2x4x2xf32>, %k: tensor<2x2x4xf32>, %v: tensor<2x4x2xf32>) -> tensor<2x4x2xf32> {
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %half = arith.constant 0.5 : f32
  %c0 = arith.constant 0 : i64
  %min = arith.constant dense<-3.40282347E+38> : tensor<f32>
  %zt = arith.constant dense<0.0> : tensor<f32>
  // The mask: iota(4) as [1, 1, 1, 4] (keys) and [1, 1, 4, 1] (queries).
  %ie = tensor.empty() : tensor<4xi64>
  %iota = linalg.generic {indexing_maps = [#iota], iterator_types = ["parallel"]} outs(%ie : tensor<4xi64>) {
  ^bb0(%out: i64):
    %x = linalg.index 0 : index
    %y = arith.index_cast %x : index to i64
    linalg.yield %y : i64
  } -> tensor<4xi64>
  %keys = tensor.expand_shape %iota [[0, 1, 2, 3]] output_shape [1, 1, 1, 4] : tensor<4xi64> into tensor<1x1x1x4xi64>
  %queries = tensor.expand_shape %iota [[0, 1, 2, 3]] output_shape [1, 1, 4, 1] : tensor<4xi64> into tensor<1x1x4x1xi64>
  %be = tensor.empty() : tensor<1x1x4x4xi1>
  %causal = linalg.generic {indexing_maps = [#col, #keep, #i4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%keys, %queries : tensor<1x1x1x4xi64>, tensor<1x1x4x1xi64>) outs(%be : tensor<1x1x4x4xi1>) {
  ^bb0(%kk: i64, %qq: i64, %out: i1):
    %c = arith.cmpi sle, %kk, %qq : i64
    linalg.yield %c : i1
  } -> tensor<1x1x4x4xi1>
  %fe = tensor.empty() : tensor<1x1x4x4xf32>
  %mask = linalg.generic {indexing_maps = [#i4, #scalar, #scalar, #i4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%causal, %zt, %min : tensor<1x1x4x4xi1>, tensor<f32>, tensor<f32>) outs(%fe : tensor<1x1x4x4xf32>) {
  ^bb0(%p: i1, %a: f32, %b: f32, %out: f32):
    %y = arith.select %p, %a, %b : f32
    linalg.yield %y : f32
  } -> tensor<1x1x4x4xf32>
  // The chain.
  %e = tensor.empty() : tensor<2x4x4xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<2x4x4xf32>) -> tensor<2x4x4xf32>
  %s = linalg.batch_matmul ins(%q, %k : tensor<2x4x2xf32>, tensor<2x2x4xf32>) outs(%z : tensor<2x4x4xf32>) -> tensor<2x4x4xf32>
  %s4 = tensor.expand_shape %s [[0, 1], [2], [3]] output_shape [1, 2, 4, 4] : tensor<2x4x4xf32> into tensor<1x2x4x4xf32>
  %e4 = tensor.empty() : tensor<1x2x4x4xf32>
  %scaled = linalg.generic {indexing_maps = [#i4, #i4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%s4 : tensor<1x2x4x4xf32>) outs(%e4 : tensor<1x2x4x4xf32>) {
  ^bb0(%in: f32, %out: f32):
    %y = arith.mulf %in, %half : f32
    linalg.yield %y : f32
  } -> tensor<1x2x4x4xf32>
  %masked = linalg.generic {indexing_maps = [#i4, #bias, #i4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%scaled, %mask : tensor<1x2x4x4xf32>, tensor<1x1x4x4xf32>) outs(%e4 : tensor<1x2x4x4xf32>) {
  ^bb0(%in: f32, %m: f32, %out: f32):
    %y = arith.addf %in, %m : f32
    linalg.yield %y : f32
  } -> tensor<1x2x4x4xf32>
  %ae = tensor.empty() : tensor<1x2x4xi64>
  %ai = linalg.fill ins(%c0 : i64) outs(%ae : tensor<1x2x4xi64>) -> tensor<1x2x4xi64>
  %re = tensor.empty() : tensor<1x2x4xf32>
  %mi = linalg.fill ins(%ninf : f32) outs(%re : tensor<1x2x4xf32>) -> tensor<1x2x4xf32>
  %mx:2 = linalg.generic {indexing_maps = [#i4, #rows, #rows], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%masked : tensor<1x2x4x4xf32>) outs(%mi, %ai : tensor<1x2x4xf32>, tensor<1x2x4xi64>) {
  ^bb0(%in: f32, %out: f32, %arg: i64):
    %j = linalg.index 3 : index
    %jj = arith.index_cast %j : index to i64
    %y = arith.maximumf %in, %out : f32
    %gt = arith.cmpf ogt, %in, %out : f32
    %a = arith.select %gt, %jj, %arg : i64
    linalg.yield %y, %a : f32, i64
  } -> (tensor<1x2x4xf32>, tensor<1x2x4xi64>)
  %mk = tensor.expand_shape %mx#0 [[0], [1], [2, 3]] output_shape [1, 2, 4, 1] : tensor<1x2x4xf32> into tensor<1x2x4x1xf32>
  %d = linalg.generic {indexing_maps = [#i4, #keep, #i4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%masked, %mk : tensor<1x2x4x4xf32>, tensor<1x2x4x1xf32>) outs(%e4 : tensor<1x2x4x4xf32>) {
  ^bb0(%in: f32, %mm: f32, %out: f32):
    %y = arith.subf %in, %mm : f32
    linalg.yield %y : f32
  } -> tensor<1x2x4x4xf32>
  %ex = linalg.generic {indexing_maps = [#i4, #i4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%d : tensor<1x2x4x4xf32>) outs(%e4 : tensor<1x2x4x4xf32>) {
  ^bb0(%in: f32, %out: f32):
    %y = math.exp %in : f32
    linalg.yield %y : f32
  } -> tensor<1x2x4x4xf32>
  %se = tensor.empty() : tensor<1x2x4x1xf32>
  %si = linalg.fill ins(%zero : f32) outs(%se : tensor<1x2x4x1xf32>) -> tensor<1x2x4x1xf32>
  %sm = linalg.generic {indexing_maps = [#i4, #keep], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%ex : tensor<1x2x4x4xf32>) outs(%si : tensor<1x2x4x1xf32>) {
  ^bb0(%in: f32, %out: f32):
    %y = arith.addf %in, %out : f32
    linalg.yield %y : f32
  } -> tensor<1x2x4x1xf32>
  %p = linalg.generic {indexing_maps = [#i4, #keep, #i4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%ex, %sm : tensor<1x2x4x4xf32>, tensor<1x2x4x1xf32>) outs(%e4 : tensor<1x2x4x4xf32>) {
  ^bb0(%in: f32, %ss: f32, %out: f32):
    %y = arith.divf %in, %ss : f32
    linalg.yield %y : f32
  } -> tensor<1x2x4x4xf32>
  %p3 = tensor.collapse_shape %p [[0, 1], [2], [3]] : tensor<1x2x4x4xf32> into tensor<2x4x4xf32>
  %eo = tensor.empty() : tensor<2x4x2xf32>
  %zo = linalg.fill ins(%zero : f32) outs(%eo : tensor<2x4x2xf32>) -> tensor<2x4x2xf32>
  // expected-remark @+1 {{autopar-fuse-attention: attention formed (scale 5.000000e-01, masked)}}
  %o = linalg.batch_matmul ins(%p3, %v : tensor<2x4x4xf32>, tensor<2x4x2xf32>) outs(%zo : tensor<2x4x2xf32>) -> tensor<2x4x2xf32>
  return %o : tensor<2x4x2xf32>
}

// -----

// BERT's export adds a padding mask that iotas compute too; with no
// padding it holds 0 everywhere (the query index is >= 0), which the
// indices' ranges decide: the attention forms unmasked, and the mask's
// ops go. The scale is a division here.
#i4 = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
#bias = affine_map<(d0, d1, d2, d3) -> (d0, 0, d2, d3)>
#keep = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, 0)>
#scalar = affine_map<(d0, d1, d2, d3) -> ()>
#q = affine_map<(d0, d1, d2, d3) -> (0, 0, d2, 0)>
#iota = affine_map<(d0) -> (d0)>
// CHECK-LABEL: func.func @unpadded
// CHECK-NOT: linalg.
// CHECK: autopar.attention ins({{.*}}) scale 2.500000e-01 ->
// CHECK-NOT: linalg.
// CHECK: return
func.func @unpadded(%q: tensor<2x4x2xf32>, %k: tensor<2x2x4xf32>, %v: tensor<2x4x2xf32>) -> tensor<2x4x2xf32> {
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %four = arith.constant 4.0 : f32
  %c0 = arith.constant 0 : i64
  %min = arith.constant dense<-3.40282347E+38> : tensor<f32>
  %zt = arith.constant dense<0.0> : tensor<f32>
  %ie = tensor.empty() : tensor<4xi64>
  %iota = linalg.generic {indexing_maps = [#iota], iterator_types = ["parallel"]} outs(%ie : tensor<4xi64>) {
  ^bb0(%out: i64):
    %x = linalg.index 0 : index
    %y = arith.index_cast %x : index to i64
    linalg.yield %y : i64
  } -> tensor<4xi64>
  %queries = tensor.expand_shape %iota [[0, 1, 2, 3]] output_shape [1, 1, 4, 1] : tensor<4xi64> into tensor<1x1x4x1xi64>
  %be = tensor.empty() : tensor<1x1x4x4xi1>
  %pad = linalg.generic {indexing_maps = [#q, #i4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%queries : tensor<1x1x4x1xi64>) outs(%be : tensor<1x1x4x4xi1>) {
  ^bb0(%qq: i64, %out: i1):
    %c = arith.cmpi sge, %qq, %c0 : i64
    linalg.yield %c : i1
  } -> tensor<1x1x4x4xi1>
  %fe = tensor.empty() : tensor<1x1x4x4xf32>
  %mask = linalg.generic {indexing_maps = [#i4, #scalar, #scalar, #i4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%pad, %zt, %min : tensor<1x1x4x4xi1>, tensor<f32>, tensor<f32>) outs(%fe : tensor<1x1x4x4xf32>) {
  ^bb0(%p: i1, %a: f32, %b: f32, %out: f32):
    %y = arith.select %p, %a, %b : f32
    linalg.yield %y : f32
  } -> tensor<1x1x4x4xf32>
  %e = tensor.empty() : tensor<2x4x4xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<2x4x4xf32>) -> tensor<2x4x4xf32>
  %s = linalg.batch_matmul ins(%q, %k : tensor<2x4x2xf32>, tensor<2x2x4xf32>) outs(%z : tensor<2x4x4xf32>) -> tensor<2x4x4xf32>
  %s4 = tensor.expand_shape %s [[0, 1], [2], [3]] output_shape [1, 2, 4, 4] : tensor<2x4x4xf32> into tensor<1x2x4x4xf32>
  %e4 = tensor.empty() : tensor<1x2x4x4xf32>
  %masked = linalg.generic {indexing_maps = [#i4, #bias, #i4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%s4, %mask : tensor<1x2x4x4xf32>, tensor<1x1x4x4xf32>) outs(%e4 : tensor<1x2x4x4xf32>) {
  ^bb0(%in: f32, %m: f32, %out: f32):
    %x = arith.divf %in, %four : f32
    %y = arith.addf %x, %m : f32
    linalg.yield %y : f32
  } -> tensor<1x2x4x4xf32>
  %se = tensor.empty() : tensor<1x2x4x1xf32>
  %mi = linalg.fill ins(%ninf : f32) outs(%se : tensor<1x2x4x1xf32>) -> tensor<1x2x4x1xf32>
  %mx = linalg.generic {indexing_maps = [#i4, #keep], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%masked : tensor<1x2x4x4xf32>) outs(%mi : tensor<1x2x4x1xf32>) {
  ^bb0(%in: f32, %out: f32):
    %y = arith.maximumf %in, %out : f32
    linalg.yield %y : f32
  } -> tensor<1x2x4x1xf32>
  %ex = linalg.generic {indexing_maps = [#i4, #keep, #i4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%masked, %mx : tensor<1x2x4x4xf32>, tensor<1x2x4x1xf32>) outs(%e4 : tensor<1x2x4x4xf32>) {
  ^bb0(%in: f32, %mm: f32, %out: f32):
    %d = arith.subf %in, %mm : f32
    %y = math.exp %d : f32
    linalg.yield %y : f32
  } -> tensor<1x2x4x4xf32>
  %si = linalg.fill ins(%zero : f32) outs(%se : tensor<1x2x4x1xf32>) -> tensor<1x2x4x1xf32>
  %sm = linalg.generic {indexing_maps = [#i4, #keep], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%ex : tensor<1x2x4x4xf32>) outs(%si : tensor<1x2x4x1xf32>) {
  ^bb0(%in: f32, %out: f32):
    %y = arith.addf %in, %out : f32
    linalg.yield %y : f32
  } -> tensor<1x2x4x1xf32>
  %p = linalg.generic {indexing_maps = [#i4, #keep, #i4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%ex, %sm : tensor<1x2x4x4xf32>, tensor<1x2x4x1xf32>) outs(%e4 : tensor<1x2x4x4xf32>) {
  ^bb0(%in: f32, %ss: f32, %out: f32):
    %y = arith.divf %in, %ss : f32
    linalg.yield %y : f32
  } -> tensor<1x2x4x4xf32>
  %p3 = tensor.collapse_shape %p [[0, 1], [2], [3]] : tensor<1x2x4x4xf32> into tensor<2x4x4xf32>
  %eo = tensor.empty() : tensor<2x4x2xf32>
  %zo = linalg.fill ins(%zero : f32) outs(%eo : tensor<2x4x2xf32>) -> tensor<2x4x2xf32>
  // expected-remark @+1 {{autopar-fuse-attention: attention formed (scale 2.500000e-01)}}
  %o = linalg.batch_matmul ins(%p3, %v : tensor<2x4x4xf32>, tensor<2x4x2xf32>) outs(%zo : tensor<2x4x2xf32>) -> tensor<2x4x2xf32>
  return %o : tensor<2x4x2xf32>
}

// -----

#id = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#row = affine_map<(d0, d1, d2) -> (d0, d1)>
// A predicate on a narrowed index: keys 128 to 255 wrap negative in i8, so
// `j8 < 0` masks half the row; the indices' ranges ([0, 255]) do not fit
// i8 and decide nothing (they once decided it false and dropped the mask).
// CHECK-LABEL: func.func @narrowed
// CHECK: autopar.attention {{.*}} masked 0xFFF0000000000000 mask {
// CHECK: arith.index_cast %{{.*}} : index to i8
// CHECK: arith.cmpi slt
func.func @narrowed(%q: tensor<1x2x4xf32>, %k: tensor<1x4x256xf32>, %v: tensor<1x256x4xf32>) -> tensor<1x2x4xf32> {
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %half = arith.constant 0.5 : f32
  %c4 = arith.constant 4 : index
  %e = tensor.empty() : tensor<1x2x256xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<1x2x256xf32>) -> tensor<1x2x256xf32>
  %s = linalg.batch_matmul ins(%q, %k : tensor<1x2x4xf32>, tensor<1x4x256xf32>) outs(%z : tensor<1x2x256xf32>) -> tensor<1x2x256xf32>
  %m = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel"]} ins(%s : tensor<1x2x256xf32>) outs(%e : tensor<1x2x256xf32>) {
  ^bb0(%in: f32, %out: f32):
    %x = arith.mulf %in, %half : f32
    %j = linalg.index 2 : index
    %j8 = arith.index_cast %j : index to i8
    %c0i8 = arith.constant 0 : i8
    %c = arith.cmpi slt, %j8, %c0i8 : i8
    %y = arith.select %c, %ninf, %x : f32
    linalg.yield %y : f32
  } -> tensor<1x2x256xf32>
  %er = tensor.empty() : tensor<1x2xf32>
  %mi = linalg.fill ins(%ninf : f32) outs(%er : tensor<1x2xf32>) -> tensor<1x2xf32>
  %mx = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "parallel", "reduction"]} ins(%m : tensor<1x2x256xf32>) outs(%mi : tensor<1x2xf32>) {
  ^bb0(%in: f32, %out: f32):
    %y = arith.maximumf %in, %out : f32
    linalg.yield %y : f32
  } -> tensor<1x2xf32>
  %ex = linalg.generic {indexing_maps = [#id, #row, #id], iterator_types = ["parallel", "parallel", "parallel"]} ins(%m, %mx : tensor<1x2x256xf32>, tensor<1x2xf32>) outs(%e : tensor<1x2x256xf32>) {
  ^bb0(%in: f32, %mm: f32, %out: f32):
    %d = arith.subf %in, %mm : f32
    %y = math.exp %d : f32
    linalg.yield %y : f32
  } -> tensor<1x2x256xf32>
  %si = linalg.fill ins(%zero : f32) outs(%er : tensor<1x2xf32>) -> tensor<1x2xf32>
  %sm = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "parallel", "reduction"]} ins(%ex : tensor<1x2x256xf32>) outs(%si : tensor<1x2xf32>) {
  ^bb0(%in: f32, %out: f32):
    %y = arith.addf %in, %out : f32
    linalg.yield %y : f32
  } -> tensor<1x2xf32>
  %p = linalg.generic {indexing_maps = [#id, #row, #id], iterator_types = ["parallel", "parallel", "parallel"]} ins(%ex, %sm : tensor<1x2x256xf32>, tensor<1x2xf32>) outs(%e : tensor<1x2x256xf32>) {
  ^bb0(%in: f32, %ss: f32, %out: f32):
    %y = arith.divf %in, %ss : f32
    linalg.yield %y : f32
  } -> tensor<1x2x256xf32>
  %eo = tensor.empty() : tensor<1x2x4xf32>
  %zo = linalg.fill ins(%zero : f32) outs(%eo : tensor<1x2x4xf32>) -> tensor<1x2x4xf32>
  // expected-remark @+1 {{autopar-fuse-attention: attention formed (scale 5.000000e-01, masked)}}
  %o = linalg.batch_matmul ins(%p, %v : tensor<1x2x256xf32>, tensor<1x256x4xf32>) outs(%zo : tensor<1x2x4xf32>) -> tensor<1x2x4xf32>
  return %o : tensor<1x2x4xf32>
}

// -----

// A padding mask given as data (BERT's and GPT-2's attention_mask input,
// [batch, keys] of 0 and 1): PyTorch turns it into booleans and indexes
// them with tensor.extract at (batch, key); the region does the same on
// the input itself, which the op reads whole (2 sequences of 2 heads: the
// sequence is b / 2). The additive mask stays additive.
#i4 = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
#i2 = affine_map<(d0, d1) -> (d0, d1)>
#bias = affine_map<(d0, d1, d2, d3) -> (d0, 0, 0, d3)>
#keep = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, 0)>
#scalar = affine_map<(d0, d1, d2, d3) -> ()>
// CHECK-LABEL: func.func @padded
// CHECK-SAME: %[[PAD:[a-z0-9]*]]: tensor<2x4xi64>)
// CHECK-NOT: linalg.
// CHECK: autopar.attention ins({{.*}}) scale 5.000000e-01 masked -3.4028234663852886E+38 additive reading(%[[PAD]] : tensor<2x4xi64>) mask {
// CHECK-NEXT: ^bb0(%[[B:.*]]: index, %{{.*}}: index, %[[J:.*]]: index, %[[M:.*]]: tensor<2x4xi64>):
// CHECK: %[[SEQ:.*]] = arith.divui %[[B]], %{{.*}} : index
// CHECK-NEXT: %[[KEEP:.*]] = tensor.extract %[[M]][%[[SEQ]], %[[J]]] : tensor<2x4xi64>
// CHECK: arith.cmpi ne, %[[KEEP]]
// CHECK: autopar.yield
// CHECK-NOT: linalg.
// CHECK: return
// The decomposition reads the input in the scores' generic, adds the
// masked value where the mask holds.
// DECOMPOSED-LABEL: func.func @padded
// DECOMPOSED-SAME: %[[PAD:[a-z0-9]*]]: tensor<2x4xi64>)
// DECOMPOSED: linalg.batch_matmul
// DECOMPOSED: linalg.generic
// DECOMPOSED: tensor.extract %[[PAD]]
// DECOMPOSED: %[[SUM:.*]] = arith.addf %{{.*}}, %{{.*}} : f32
// DECOMPOSED-NEXT: arith.select %{{.*}}, %[[SUM]], %{{.*}} : f32
func.func @padded(%q: tensor<4x4x2xf32>, %k: tensor<4x2x4xf32>, %v: tensor<4x4x2xf32>, %pad: tensor<2x4xi64>) -> tensor<4x4x2xf32> {
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %half = arith.constant 0.5 : f32
  %c0 = arith.constant 0 : i64
  %min = arith.constant dense<-3.40282347E+38> : tensor<f32>
  %zt = arith.constant dense<0.0> : tensor<f32>
  // The mask: the input as booleans, indexed at (batch, key).
  %pe = tensor.empty() : tensor<2x4xi1>
  %ok = linalg.generic {indexing_maps = [#i2, #i2], iterator_types = ["parallel", "parallel"]} ins(%pad : tensor<2x4xi64>) outs(%pe : tensor<2x4xi1>) {
  ^bb0(%in: i64, %out: i1):
    %y = arith.cmpi ne, %in, %c0 : i64
    linalg.yield %y : i1
  } -> tensor<2x4xi1>
  %be = tensor.empty() : tensor<2x1x1x4xi1>
  %keep = linalg.generic {indexing_maps = [#i4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} outs(%be : tensor<2x1x1x4xi1>) {
  ^bb0(%out: i1):
    %b = linalg.index 0 : index
    %j = linalg.index 3 : index
    %y = tensor.extract %ok[%b, %j] : tensor<2x4xi1>
    linalg.yield %y : i1
  } -> tensor<2x1x1x4xi1>
  %fe = tensor.empty() : tensor<2x1x1x4xf32>
  %mask = linalg.generic {indexing_maps = [#i4, #scalar, #scalar, #i4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%keep, %zt, %min : tensor<2x1x1x4xi1>, tensor<f32>, tensor<f32>) outs(%fe : tensor<2x1x1x4xf32>) {
  ^bb0(%p: i1, %a: f32, %b: f32, %out: f32):
    %y = arith.select %p, %a, %b : f32
    linalg.yield %y : f32
  } -> tensor<2x1x1x4xf32>
  // The chain.
  %e = tensor.empty() : tensor<4x4x4xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<4x4x4xf32>) -> tensor<4x4x4xf32>
  %s = linalg.batch_matmul ins(%q, %k : tensor<4x4x2xf32>, tensor<4x2x4xf32>) outs(%z : tensor<4x4x4xf32>) -> tensor<4x4x4xf32>
  %s4 = tensor.expand_shape %s [[0, 1], [2], [3]] output_shape [2, 2, 4, 4] : tensor<4x4x4xf32> into tensor<2x2x4x4xf32>
  %e4 = tensor.empty() : tensor<2x2x4x4xf32>
  %scaled = linalg.generic {indexing_maps = [#i4, #i4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%s4 : tensor<2x2x4x4xf32>) outs(%e4 : tensor<2x2x4x4xf32>) {
  ^bb0(%in: f32, %out: f32):
    %y = arith.mulf %in, %half : f32
    linalg.yield %y : f32
  } -> tensor<2x2x4x4xf32>
  %masked = linalg.generic {indexing_maps = [#i4, #bias, #i4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%scaled, %mask : tensor<2x2x4x4xf32>, tensor<2x1x1x4xf32>) outs(%e4 : tensor<2x2x4x4xf32>) {
  ^bb0(%in: f32, %m: f32, %out: f32):
    %y = arith.addf %in, %m : f32
    linalg.yield %y : f32
  } -> tensor<2x2x4x4xf32>
  %re = tensor.empty() : tensor<2x2x4x1xf32>
  %mi = linalg.fill ins(%ninf : f32) outs(%re : tensor<2x2x4x1xf32>) -> tensor<2x2x4x1xf32>
  %mx = linalg.generic {indexing_maps = [#i4, #keep], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%masked : tensor<2x2x4x4xf32>) outs(%mi : tensor<2x2x4x1xf32>) {
  ^bb0(%in: f32, %out: f32):
    %y = arith.maximumf %in, %out : f32
    linalg.yield %y : f32
  } -> tensor<2x2x4x1xf32>
  %ex = linalg.generic {indexing_maps = [#i4, #keep, #i4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%masked, %mx : tensor<2x2x4x4xf32>, tensor<2x2x4x1xf32>) outs(%e4 : tensor<2x2x4x4xf32>) {
  ^bb0(%in: f32, %mm: f32, %out: f32):
    %d = arith.subf %in, %mm : f32
    %y = math.exp %d : f32
    linalg.yield %y : f32
  } -> tensor<2x2x4x4xf32>
  %si = linalg.fill ins(%zero : f32) outs(%re : tensor<2x2x4x1xf32>) -> tensor<2x2x4x1xf32>
  %sm = linalg.generic {indexing_maps = [#i4, #keep], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%ex : tensor<2x2x4x4xf32>) outs(%si : tensor<2x2x4x1xf32>) {
  ^bb0(%in: f32, %out: f32):
    %y = arith.addf %in, %out : f32
    linalg.yield %y : f32
  } -> tensor<2x2x4x1xf32>
  %p = linalg.generic {indexing_maps = [#i4, #keep, #i4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%ex, %sm : tensor<2x2x4x4xf32>, tensor<2x2x4x1xf32>) outs(%e4 : tensor<2x2x4x4xf32>) {
  ^bb0(%in: f32, %ss: f32, %out: f32):
    %y = arith.divf %in, %ss : f32
    linalg.yield %y : f32
  } -> tensor<2x2x4x4xf32>
  %p3 = tensor.collapse_shape %p [[0, 1], [2], [3]] : tensor<2x2x4x4xf32> into tensor<4x4x4xf32>
  %eo = tensor.empty() : tensor<4x4x2xf32>
  %zo = linalg.fill ins(%zero : f32) outs(%eo : tensor<4x4x2xf32>) -> tensor<4x4x2xf32>
  // expected-remark @+1 {{autopar-fuse-attention: attention formed (scale 5.000000e-01, masked)}}
  %o = linalg.batch_matmul ins(%p3, %v : tensor<4x4x4xf32>, tensor<4x4x2xf32>) outs(%zo : tensor<4x4x2xf32>) -> tensor<4x4x2xf32>
  return %o : tensor<4x4x2xf32>
}

// -----

// The form TOSA exports lower to (`autopar-import-torch --dialect tosa`,
// then autopar-import): the scale a product with a [1, 1, 1, 1] constant
// tensor, the row maximum and sum `linalg.reduce`s (the maximum from the
// lowest finite float), the division a product with the sums'
// reciprocals; BERT's padding mask of an unpadded batch reads a constant
// iota [0, 1, 2, 3] narrowed to i32, which the indices' ranges decide: the
// attention forms unmasked.
#i4 = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
#one = affine_map<(d0, d1, d2, d3) -> (0, 0, 0, 0)>
#keep = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, 0)>
#bias = affine_map<(d0, d1, d2, d3) -> (0, 0, 0, d3)>
#key = affine_map<(d0, d1, d2, d3) -> (d3)>
#scalar = affine_map<(d0, d1, d2, d3) -> ()>
// CHECK-LABEL: func.func @tosa
// CHECK-NOT: linalg.
// CHECK: autopar.attention ins({{.*}}) scale 2.500000e-01 ->
// CHECK-NOT: linalg.
// CHECK: return
func.func @tosa(%q: tensor<2x4x2xf32>, %k: tensor<2x2x4xf32>, %v: tensor<2x4x2xf32>) -> tensor<2x4x2xf32> {
  %zero = arith.constant 0.0 : f32
  %lowest = arith.constant -3.40282347E+38 : f32
  %c0 = arith.constant 0 : i64
  %quarter = arith.constant dense<0.25> : tensor<1x1x1x1xf32>
  %positions = arith.constant dense<[0, 1, 2, 3]> : tensor<4xi64>
  %min = arith.constant dense<-3.40282347E+38> : tensor<f32>
  %zt = arith.constant dense<0.0> : tensor<f32>
  %fe = tensor.empty() : tensor<1x1x1x4xf32>
  %mask = linalg.generic {indexing_maps = [#key, #scalar, #scalar, #i4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%positions, %zt, %min : tensor<4xi64>, tensor<f32>, tensor<f32>) outs(%fe : tensor<1x1x1x4xf32>) {
  ^bb0(%p: i64, %a: f32, %b: f32, %out: f32):
    %n = arith.trunci %p : i64 to i32
    %w = arith.extsi %n : i32 to i64
    %kept = arith.cmpi sge, %w, %c0 : i64
    %y = arith.select %kept, %a, %b : f32
    linalg.yield %y : f32
  } -> tensor<1x1x1x4xf32>
  %e = tensor.empty() : tensor<2x4x4xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<2x4x4xf32>) -> tensor<2x4x4xf32>
  %s = linalg.batch_matmul ins(%q, %k : tensor<2x4x2xf32>, tensor<2x2x4xf32>) outs(%z : tensor<2x4x4xf32>) -> tensor<2x4x4xf32>
  %s4 = tensor.expand_shape %s [[0, 1], [2], [3]] output_shape [1, 2, 4, 4] : tensor<2x4x4xf32> into tensor<1x2x4x4xf32>
  %e4 = tensor.empty() : tensor<1x2x4x4xf32>
  %scaled = linalg.generic {indexing_maps = [#i4, #one, #i4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%s4, %quarter : tensor<1x2x4x4xf32>, tensor<1x1x1x1xf32>) outs(%e4 : tensor<1x2x4x4xf32>) {
  ^bb0(%in: f32, %c: f32, %out: f32):
    %y = arith.mulf %in, %c : f32
    linalg.yield %y : f32
  } -> tensor<1x2x4x4xf32>
  %masked = linalg.generic {indexing_maps = [#i4, #bias, #i4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%scaled, %mask : tensor<1x2x4x4xf32>, tensor<1x1x1x4xf32>) outs(%e4 : tensor<1x2x4x4xf32>) {
  ^bb0(%in: f32, %m: f32, %out: f32):
    %y = arith.addf %in, %m : f32
    linalg.yield %y : f32
  } -> tensor<1x2x4x4xf32>
  %re = tensor.empty() : tensor<1x2x4xf32>
  %mi = linalg.fill ins(%lowest : f32) outs(%re : tensor<1x2x4xf32>) -> tensor<1x2x4xf32>
  %mx = linalg.reduce ins(%masked : tensor<1x2x4x4xf32>) outs(%mi : tensor<1x2x4xf32>) dimensions = [3]
    (%in: f32, %init: f32) {
      %y = arith.maximumf %in, %init : f32
      linalg.yield %y : f32
    }
  %mk = tensor.expand_shape %mx [[0], [1], [2, 3]] output_shape [1, 2, 4, 1] : tensor<1x2x4xf32> into tensor<1x2x4x1xf32>
  %d = linalg.generic {indexing_maps = [#i4, #keep, #i4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%masked, %mk : tensor<1x2x4x4xf32>, tensor<1x2x4x1xf32>) outs(%e4 : tensor<1x2x4x4xf32>) {
  ^bb0(%in: f32, %mm: f32, %out: f32):
    %y = arith.subf %in, %mm : f32
    linalg.yield %y : f32
  } -> tensor<1x2x4x4xf32>
  %ex = linalg.generic {indexing_maps = [#i4, #i4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%d : tensor<1x2x4x4xf32>) outs(%e4 : tensor<1x2x4x4xf32>) {
  ^bb0(%in: f32, %out: f32):
    %y = math.exp %in : f32
    linalg.yield %y : f32
  } -> tensor<1x2x4x4xf32>
  %si = linalg.fill ins(%zero : f32) outs(%re : tensor<1x2x4xf32>) -> tensor<1x2x4xf32>
  %sm = linalg.reduce ins(%ex : tensor<1x2x4x4xf32>) outs(%si : tensor<1x2x4xf32>) dimensions = [3]
    (%in: f32, %init: f32) {
      %y = arith.addf %in, %init : f32
      linalg.yield %y : f32
    }
  %sk = tensor.expand_shape %sm [[0], [1], [2, 3]] output_shape [1, 2, 4, 1] : tensor<1x2x4xf32> into tensor<1x2x4x1xf32>
  %ie = tensor.empty() : tensor<1x2x4x1xf32>
  %inv = linalg.generic {indexing_maps = [#i4, #i4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%sk : tensor<1x2x4x1xf32>) outs(%ie : tensor<1x2x4x1xf32>) {
  ^bb0(%in: f32, %out: f32):
    %one = arith.constant 1.0 : f32
    %y = arith.divf %one, %in : f32
    linalg.yield %y : f32
  } -> tensor<1x2x4x1xf32>
  %p = linalg.generic {indexing_maps = [#i4, #keep, #i4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%ex, %inv : tensor<1x2x4x4xf32>, tensor<1x2x4x1xf32>) outs(%e4 : tensor<1x2x4x4xf32>) {
  ^bb0(%in: f32, %r: f32, %out: f32):
    %y = arith.mulf %in, %r : f32
    linalg.yield %y : f32
  } -> tensor<1x2x4x4xf32>
  %p3 = tensor.collapse_shape %p [[0, 1], [2], [3]] : tensor<1x2x4x4xf32> into tensor<2x4x4xf32>
  %eo = tensor.empty() : tensor<2x4x2xf32>
  %zo = linalg.fill ins(%zero : f32) outs(%eo : tensor<2x4x2xf32>) -> tensor<2x4x2xf32>
  // expected-remark @+1 {{autopar-fuse-attention: attention formed (scale 2.500000e-01)}}
  %o = linalg.batch_matmul ins(%p3, %v : tensor<2x4x4xf32>, tensor<2x4x2xf32>) outs(%zo : tensor<2x4x2xf32>) -> tensor<2x4x2xf32>
  return %o : tensor<2x4x2xf32>
}

// -----

// A float padding mask fuses when its role says it gets no gradient (an
// input, as a user's module passing a 0/1 float mask exports it); the
// same mask read from a parameter stays (see @tensor_mask).
#id = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#row = affine_map<(d0, d1, d2) -> (d0, d1)>
#key = affine_map<(d0, d1, d2) -> (d0, d2)>
// CHECK-LABEL: func.func @float_input
// CHECK: autopar.attention {{.*}} masked -1.0000000150474662E+30 additive reading(%{{.*}} : tensor<1x4xf32>) mask {
// CHECK: arith.cmpf oeq
func.func @float_input(%q: tensor<1x4x2xf32> {autopar.role = "input"}, %k: tensor<1x2x4xf32> {autopar.role = "input"}, %v: tensor<1x4x2xf32> {autopar.role = "input"}, %pad: tensor<1x4xf32> {autopar.role = "input"}) -> tensor<1x4x2xf32> {
  %zero = arith.constant 0.0 : f32
  %big = arith.constant -1.0e30 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %e = tensor.empty() : tensor<1x4x4xf32>
  %bias = linalg.generic {indexing_maps = [#key, #id], iterator_types = ["parallel", "parallel", "parallel"]} ins(%pad : tensor<1x4xf32>) outs(%e : tensor<1x4x4xf32>) {
  ^bb0(%p: f32, %out: f32):
    %padded = arith.cmpf oeq, %p, %zero : f32
    %y = arith.select %padded, %big, %zero : f32
    linalg.yield %y : f32
  } -> tensor<1x4x4xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<1x4x4xf32>) -> tensor<1x4x4xf32>
  %s = linalg.batch_matmul ins(%q, %k : tensor<1x4x2xf32>, tensor<1x2x4xf32>) outs(%z : tensor<1x4x4xf32>) -> tensor<1x4x4xf32>
  %b = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel", "parallel"]} ins(%s, %bias : tensor<1x4x4xf32>, tensor<1x4x4xf32>) outs(%e : tensor<1x4x4xf32>) {
  ^bb0(%in: f32, %m: f32, %out: f32):
    %y = arith.addf %in, %m : f32
    linalg.yield %y : f32
  } -> tensor<1x4x4xf32>
  %er = tensor.empty() : tensor<1x4xf32>
  %mi = linalg.fill ins(%ninf : f32) outs(%er : tensor<1x4xf32>) -> tensor<1x4xf32>
  %mx = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "parallel", "reduction"]} ins(%b : tensor<1x4x4xf32>) outs(%mi : tensor<1x4xf32>) {
  ^bb0(%in: f32, %out: f32):
    %y = arith.maximumf %in, %out : f32
    linalg.yield %y : f32
  } -> tensor<1x4xf32>
  %ex = linalg.generic {indexing_maps = [#id, #row, #id], iterator_types = ["parallel", "parallel", "parallel"]} ins(%b, %mx : tensor<1x4x4xf32>, tensor<1x4xf32>) outs(%e : tensor<1x4x4xf32>) {
  ^bb0(%in: f32, %m: f32, %out: f32):
    %d = arith.subf %in, %m : f32
    %y = math.exp %d : f32
    linalg.yield %y : f32
  } -> tensor<1x4x4xf32>
  %si = linalg.fill ins(%zero : f32) outs(%er : tensor<1x4xf32>) -> tensor<1x4xf32>
  %sm = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "parallel", "reduction"]} ins(%ex : tensor<1x4x4xf32>) outs(%si : tensor<1x4xf32>) {
  ^bb0(%in: f32, %out: f32):
    %y = arith.addf %in, %out : f32
    linalg.yield %y : f32
  } -> tensor<1x4xf32>
  %p = linalg.generic {indexing_maps = [#id, #row, #id], iterator_types = ["parallel", "parallel", "parallel"]} ins(%ex, %sm : tensor<1x4x4xf32>, tensor<1x4xf32>) outs(%e : tensor<1x4x4xf32>) {
  ^bb0(%in: f32, %t: f32, %out: f32):
    %y = arith.divf %in, %t : f32
    linalg.yield %y : f32
  } -> tensor<1x4x4xf32>
  %eo = tensor.empty() : tensor<1x4x2xf32>
  %zo = linalg.fill ins(%zero : f32) outs(%eo : tensor<1x4x2xf32>) -> tensor<1x4x2xf32>
  // expected-remark @+1 {{autopar-fuse-attention: attention formed (scale 1.000000e+00, masked)}}
  %o = linalg.batch_matmul ins(%p, %v : tensor<1x4x4xf32>, tensor<1x4x2xf32>) outs(%zo : tensor<1x4x2xf32>) -> tensor<1x4x2xf32>
  return %o : tensor<1x4x2xf32>
}
