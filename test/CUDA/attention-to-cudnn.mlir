// RUN: autopar-opt %s --autopar-attention-to-cudnn --split-input-file | FileCheck %s
// RUN: autopar-opt %s --autopar-attention-to-cudnn="host-functions=causal_heads" --split-input-file | FileCheck %s --check-prefix=HOST

// A causal bf16 attention over the heads' views of [b, s, h * d]
// projections: cuDNN reads the projections in place (strides 512, 16 and
// 32: batch, head, position) and writes the context in the layout the
// transpose back makes; no transpose is left.
// CHECK-LABEL: func.func @causal_heads
// CHECK-SAME: (%[[Q:.*]]: tensor<2x16x32xbf16>, %[[K:.*]]: tensor<2x16x32xbf16>, %[[V:.*]]: tensor<2x16x32xbf16>)
// CHECK-NOT: linalg.transpose
// CHECK: %[[O:.*]] = tensor.empty() : tensor<2x16x2x16xbf16>
// CHECK: %[[L:.*]] = tensor.empty() : tensor<4x16xf32>
// CHECK: %[[C:.*]]:2 = autopar.library_call "autopar_cuda_attention" ins(%[[Q]], %[[K]], %[[V]] : tensor<2x16x32xbf16>, tensor<2x16x32xbf16>, tensor<2x16x32xbf16>) outs(%[[O]], %[[L]] : tensor<2x16x2x16xbf16>, tensor<4x16xf32>)
// CHECK-SAME: values [512, 16, 32, 512, 16, 32, 512, 16, 32, 512, 16, 32, 2, 2, 2, 16, 16, 16, 16, 2.500000e-01, 1 : i32, 2 : i32] scalars(%[[ZERO:.*]] : index) stream_ordered
// CHECK-NOT: linalg.transpose
// CHECK: %[[R:.*]] = tensor.collapse_shape %[[C]]#0 {{\[}}[0], [1], [2, 3]]
// CHECK: return %[[R]], %[[C]]#1
// HOST-LABEL: func.func @causal_heads
// HOST: autopar.attention
// HOST-NOT: library_call
// HOST-LABEL: func.func @plain
// HOST: library_call
func.func @causal_heads(%q: tensor<2x16x32xbf16>, %k: tensor<2x16x32xbf16>, %v: tensor<2x16x32xbf16>) -> (tensor<2x16x32xbf16>, tensor<4x16xf32>) {
  %qe = tensor.expand_shape %q [[0], [1], [2, 3]] output_shape [2, 16, 2, 16] : tensor<2x16x32xbf16> into tensor<2x16x2x16xbf16>
  %qi = tensor.empty() : tensor<2x2x16x16xbf16>
  %qt = linalg.transpose ins(%qe : tensor<2x16x2x16xbf16>) outs(%qi : tensor<2x2x16x16xbf16>) permutation = [0, 2, 1, 3]
  %qc = tensor.collapse_shape %qt [[0, 1], [2], [3]] : tensor<2x2x16x16xbf16> into tensor<4x16x16xbf16>
  %ke = tensor.expand_shape %k [[0], [1], [2, 3]] output_shape [2, 16, 2, 16] : tensor<2x16x32xbf16> into tensor<2x16x2x16xbf16>
  %ki = tensor.empty() : tensor<2x2x16x16xbf16>
  %kt = linalg.transpose ins(%ke : tensor<2x16x2x16xbf16>) outs(%ki : tensor<2x2x16x16xbf16>) permutation = [0, 2, 3, 1]
  %kc = tensor.collapse_shape %kt [[0, 1], [2], [3]] : tensor<2x2x16x16xbf16> into tensor<4x16x16xbf16>
  %ve = tensor.expand_shape %v [[0], [1], [2, 3]] output_shape [2, 16, 2, 16] : tensor<2x16x32xbf16> into tensor<2x16x2x16xbf16>
  %vi = tensor.empty() : tensor<2x2x16x16xbf16>
  %vt = linalg.transpose ins(%ve : tensor<2x16x2x16xbf16>) outs(%vi : tensor<2x2x16x16xbf16>) permutation = [0, 2, 1, 3]
  %vc = tensor.collapse_shape %vt [[0, 1], [2], [3]] : tensor<2x2x16x16xbf16> into tensor<4x16x16xbf16>
  %oi = tensor.empty() : tensor<4x16x16xbf16>
  %li = tensor.empty() : tensor<4x16xf32>
  %o, %lse = autopar.attention ins(%qc, %kc, %vc : tensor<4x16x16xbf16>, tensor<4x16x16xbf16>, tensor<4x16x16xbf16>) outs(%oi, %li : tensor<4x16x16xbf16>, tensor<4x16xf32>) scale 2.500000e-01 masked 0xFFF0000000000000 mask {
  ^bb0(%b: index, %i: index, %j: index):
    %c = arith.cmpi ugt, %j, %i : index
    autopar.yield %c : i1
  } -> tensor<4x16x16xbf16>, tensor<4x16xf32>
  %oe = tensor.expand_shape %o [[0, 1], [2], [3]] output_shape [2, 2, 16, 16] : tensor<4x16x16xbf16> into tensor<2x2x16x16xbf16>
  %ot = tensor.empty() : tensor<2x16x2x16xbf16>
  %otr = linalg.transpose ins(%oe : tensor<2x2x16x16xbf16>) outs(%ot : tensor<2x16x2x16xbf16>) permutation = [0, 2, 1, 3]
  %r = tensor.collapse_shape %otr [[0], [1], [2, 3]] : tensor<2x16x2x16xbf16> into tensor<2x16x32xbf16>
  return %r, %lse : tensor<2x16x32xbf16>, tensor<4x16xf32>
}

// -----

// Operands that are no such views: read as [B, 1] heads, the keys
// ([B, D, J]) transposed to [B, J, D] first; no mask, f16.
// CHECK-LABEL: func.func @plain
// CHECK: %[[KT:.*]] = linalg.transpose ins(%arg1 : tensor<3x8x24xf16>) outs(%{{.*}} : tensor<3x24x8xf16>) permutation = [0, 2, 1]
// CHECK: autopar.library_call "autopar_cuda_attention" ins(%arg0, %[[KT]], %arg2 : tensor<3x12x8xf16>, tensor<3x24x8xf16>, tensor<3x24x16xf16>) outs(%{{.*}}, %{{.*}} : tensor<3x12x16xf16>, tensor<3x12xf32>)
// CHECK-SAME: values [96, 96, 8, 192, 192, 8, 384, 384, 16, 192, 192, 16, 3, 1, 1, 12, 24, 8, 16, 5.000000e-01, 0 : i32, 1 : i32]
func.func @plain(%q: tensor<3x12x8xf16>, %kt: tensor<3x8x24xf16>, %v: tensor<3x24x16xf16>) -> (tensor<3x12x16xf16>, tensor<3x12xf32>) {
  %oi = tensor.empty() : tensor<3x12x16xf16>
  %li = tensor.empty() : tensor<3x12xf32>
  %o, %lse = autopar.attention ins(%q, %kt, %v : tensor<3x12x8xf16>, tensor<3x8x24xf16>, tensor<3x24x16xf16>) outs(%oi, %li : tensor<3x12x16xf16>, tensor<3x12xf32>) scale 5.000000e-01 -> tensor<3x12x16xf16>, tensor<3x12xf32>
  return %o, %lse : tensor<3x12x16xf16>, tensor<3x12xf32>
}

// -----

// What cuDNN's fused attention does not compute stays: f32, a head
// dimension that is no multiple of 8, an additive mask, a mask other than
// the causal one.
// CHECK-LABEL: func.func @left
// CHECK-NOT: library_call
// CHECK-COUNT-4: autopar.attention ins
// CHECK-NOT: library_call
func.func @left(%q: tensor<2x8x8xf32>, %kt: tensor<2x8x8xf32>, %v: tensor<2x8x8xf32>, %q12: tensor<2x8x12xbf16>, %k12: tensor<2x12x8xbf16>, %v12: tensor<2x8x12xbf16>, %qb: tensor<2x8x8xbf16>, %kb: tensor<2x8x8xbf16>, %vb: tensor<2x8x8xbf16>) -> (tensor<2x8x8xf32>, tensor<2x8x12xbf16>, tensor<2x8x8xbf16>, tensor<2x8x8xbf16>) {
  %li = tensor.empty() : tensor<2x8xf32>
  %oi = tensor.empty() : tensor<2x8x8xf32>
  %o, %l = autopar.attention ins(%q, %kt, %v : tensor<2x8x8xf32>, tensor<2x8x8xf32>, tensor<2x8x8xf32>) outs(%oi, %li : tensor<2x8x8xf32>, tensor<2x8xf32>) scale 1.0 -> tensor<2x8x8xf32>, tensor<2x8xf32>
  %oi12 = tensor.empty() : tensor<2x8x12xbf16>
  %o12, %l12 = autopar.attention ins(%q12, %k12, %v12 : tensor<2x8x12xbf16>, tensor<2x12x8xbf16>, tensor<2x8x12xbf16>) outs(%oi12, %li : tensor<2x8x12xbf16>, tensor<2x8xf32>) scale 1.0 -> tensor<2x8x12xbf16>, tensor<2x8xf32>
  %oib = tensor.empty() : tensor<2x8x8xbf16>
  %oa, %la = autopar.attention ins(%qb, %kb, %vb : tensor<2x8x8xbf16>, tensor<2x8x8xbf16>, tensor<2x8x8xbf16>) outs(%oib, %li : tensor<2x8x8xbf16>, tensor<2x8xf32>) scale 1.0 masked -1.0e+09 additive mask {
  ^bb0(%b: index, %i: index, %j: index):
    %c = arith.cmpi ugt, %j, %i : index
    autopar.yield %c : i1
  } -> tensor<2x8x8xbf16>, tensor<2x8xf32>
  %ow, %lw = autopar.attention ins(%qb, %kb, %vb : tensor<2x8x8xbf16>, tensor<2x8x8xbf16>, tensor<2x8x8xbf16>) outs(%oib, %li : tensor<2x8x8xbf16>, tensor<2x8xf32>) scale 1.0 masked 0xFFF0000000000000 mask {
  ^bb0(%b: index, %i: index, %j: index):
    %c = arith.cmpi ult, %j, %i : index
    autopar.yield %c : i1
  } -> tensor<2x8x8xbf16>, tensor<2x8xf32>
  return %o, %o12, %oa, %ow : tensor<2x8x8xf32>, tensor<2x8x12xbf16>, tensor<2x8x8xbf16>, tensor<2x8x8xbf16>
}

// -----

// Grouped-query attention as autopar-fuse-attention makes it of a LLaMA
// block (2 key-value heads, 2 query heads each): the query rows of the
// heads sharing a key-value head stacked ([b * 2, 2 * 16, 16]), each
// stack masked causally on its own (j > i mod 16). cuDNN reads 4 query
// heads (strides 1024, 16, 64: the projection [2, 16, 64] in place) over
// 2 key-value heads; the output is written as the transpose back lays it
// out ([2, 16, 2, 2, 16]).
// CHECK-LABEL: func.func @grouped
// CHECK-SAME: (%[[Q:.*]]: tensor<2x16x64xbf16>, %[[K:.*]]: tensor<2x16x32xbf16>, %[[V:.*]]: tensor<2x16x32xbf16>)
// CHECK-NOT: linalg.transpose
// CHECK: %[[C:.*]]:2 = autopar.library_call "autopar_cuda_attention" ins(%[[Q]], %[[K]], %[[V]] : tensor<2x16x64xbf16>, tensor<2x16x32xbf16>, tensor<2x16x32xbf16>) outs(%{{.*}}, %{{.*}} : tensor<2x16x2x2x16xbf16>, tensor<4x32xf32>)
// CHECK-SAME: values [1024, 16, 64, 512, 16, 32, 512, 16, 32, 1024, 16, 64, 2, 4, 2, 16, 16, 16, 16, 2.500000e-01, 1 : i32, 2 : i32]
// CHECK-NOT: linalg.transpose
// CHECK: tensor.collapse_shape %[[C]]#0 {{\[}}[0], [1], [2, 3, 4]]
func.func @grouped(%q: tensor<2x16x64xbf16>, %k: tensor<2x16x32xbf16>, %v: tensor<2x16x32xbf16>) -> tensor<2x16x64xbf16> {
  %qe = tensor.expand_shape %q [[0], [1], [2, 3, 4]] output_shape [2, 16, 2, 2, 16] : tensor<2x16x64xbf16> into tensor<2x16x2x2x16xbf16>
  %qi = tensor.empty() : tensor<2x2x2x16x16xbf16>
  %qt = linalg.transpose ins(%qe : tensor<2x16x2x2x16xbf16>) outs(%qi : tensor<2x2x2x16x16xbf16>) permutation = [0, 2, 3, 1, 4]
  %qc = tensor.collapse_shape %qt [[0, 1], [2, 3], [4]] : tensor<2x2x2x16x16xbf16> into tensor<4x32x16xbf16>
  %ke = tensor.expand_shape %k [[0], [1], [2, 3]] output_shape [2, 16, 2, 16] : tensor<2x16x32xbf16> into tensor<2x16x2x16xbf16>
  %ki = tensor.empty() : tensor<2x2x16x16xbf16>
  %kt = linalg.transpose ins(%ke : tensor<2x16x2x16xbf16>) outs(%ki : tensor<2x2x16x16xbf16>) permutation = [0, 2, 3, 1]
  %kc = tensor.collapse_shape %kt [[0, 1], [2], [3]] : tensor<2x2x16x16xbf16> into tensor<4x16x16xbf16>
  %ve = tensor.expand_shape %v [[0], [1], [2, 3]] output_shape [2, 16, 2, 16] : tensor<2x16x32xbf16> into tensor<2x16x2x16xbf16>
  %vi = tensor.empty() : tensor<2x2x16x16xbf16>
  %vt = linalg.transpose ins(%ve : tensor<2x16x2x16xbf16>) outs(%vi : tensor<2x2x16x16xbf16>) permutation = [0, 2, 1, 3]
  %vc = tensor.collapse_shape %vt [[0, 1], [2], [3]] : tensor<2x2x16x16xbf16> into tensor<4x16x16xbf16>
  %oi = tensor.empty() : tensor<4x32x16xbf16>
  %li = tensor.empty() : tensor<4x32xf32>
  %o, %lse = autopar.attention ins(%qc, %kc, %vc : tensor<4x32x16xbf16>, tensor<4x16x16xbf16>, tensor<4x16x16xbf16>) outs(%oi, %li : tensor<4x32x16xbf16>, tensor<4x32xf32>) scale 2.500000e-01 masked 0xFFF0000000000000 mask {
  ^bb0(%b: index, %i: index, %j: index):
    %c16 = arith.constant 16 : index
    %r = arith.remui %i, %c16 : index
    %c = arith.cmpi ugt, %j, %r : index
    autopar.yield %c : i1
  } -> tensor<4x32x16xbf16>, tensor<4x32xf32>
  %oe = tensor.expand_shape %o [[0, 1], [2, 3], [4]] output_shape [2, 2, 2, 16, 16] : tensor<4x32x16xbf16> into tensor<2x2x2x16x16xbf16>
  %ot = tensor.empty() : tensor<2x16x2x2x16xbf16>
  %otr = linalg.transpose ins(%oe : tensor<2x2x2x16x16xbf16>) outs(%ot : tensor<2x16x2x2x16xbf16>) permutation = [0, 3, 1, 2, 4]
  %r = tensor.collapse_shape %otr [[0], [1], [2, 3, 4]] : tensor<2x16x2x2x16xbf16> into tensor<2x16x64xbf16>
  return %r : tensor<2x16x64xbf16>
}

// -----

// The same attention with batch and heads apart (autopar-fuse-attention's
// form: [b, h_kv, g S, d] read straight from the transposes): merged
// again, it is the same call on the same buffers.
// CHECK-LABEL: func.func @grouped_apart
// CHECK-SAME: (%[[Q:.*]]: tensor<2x16x64xbf16>, %[[K:.*]]: tensor<2x16x32xbf16>, %[[V:.*]]: tensor<2x16x32xbf16>)
// CHECK-NOT: linalg.transpose
// CHECK: %[[C:.*]]:2 = autopar.library_call "autopar_cuda_attention" ins(%[[Q]], %[[K]], %[[V]] : tensor<2x16x64xbf16>, tensor<2x16x32xbf16>, tensor<2x16x32xbf16>) outs(%{{.*}}, %{{.*}} : tensor<2x16x2x2x16xbf16>, tensor<4x32xf32>)
// CHECK-SAME: values [1024, 16, 64, 512, 16, 32, 512, 16, 32, 1024, 16, 64, 2, 4, 2, 16, 16, 16, 16, 2.500000e-01, 1 : i32, 2 : i32]
// CHECK-NOT: linalg.transpose
// CHECK: tensor.collapse_shape %[[C]]#0 {{\[}}[0], [1], [2, 3, 4]]
func.func @grouped_apart(%q: tensor<2x16x64xbf16>, %k: tensor<2x16x32xbf16>, %v: tensor<2x16x32xbf16>) -> tensor<2x16x64xbf16> {
  %qe = tensor.expand_shape %q [[0], [1], [2, 3, 4]] output_shape [2, 16, 2, 2, 16] : tensor<2x16x64xbf16> into tensor<2x16x2x2x16xbf16>
  %qi = tensor.empty() : tensor<2x2x2x16x16xbf16>
  %qt = linalg.transpose ins(%qe : tensor<2x16x2x2x16xbf16>) outs(%qi : tensor<2x2x2x16x16xbf16>) permutation = [0, 2, 3, 1, 4]
  %qc = tensor.collapse_shape %qt [[0], [1], [2, 3], [4]] : tensor<2x2x2x16x16xbf16> into tensor<2x2x32x16xbf16>
  %ke = tensor.expand_shape %k [[0], [1], [2, 3]] output_shape [2, 16, 2, 16] : tensor<2x16x32xbf16> into tensor<2x16x2x16xbf16>
  %ki = tensor.empty() : tensor<2x2x16x16xbf16>
  %kt = linalg.transpose ins(%ke : tensor<2x16x2x16xbf16>) outs(%ki : tensor<2x2x16x16xbf16>) permutation = [0, 2, 3, 1]
  %ve = tensor.expand_shape %v [[0], [1], [2, 3]] output_shape [2, 16, 2, 16] : tensor<2x16x32xbf16> into tensor<2x16x2x16xbf16>
  %vi = tensor.empty() : tensor<2x2x16x16xbf16>
  %vt = linalg.transpose ins(%ve : tensor<2x16x2x16xbf16>) outs(%vi : tensor<2x2x16x16xbf16>) permutation = [0, 2, 1, 3]
  %oi = tensor.empty() : tensor<2x2x32x16xbf16>
  %li = tensor.empty() : tensor<2x2x32xf32>
  %o, %lse = autopar.attention ins(%qc, %kt, %vt : tensor<2x2x32x16xbf16>, tensor<2x2x16x16xbf16>, tensor<2x2x16x16xbf16>) outs(%oi, %li : tensor<2x2x32x16xbf16>, tensor<2x2x32xf32>) scale 2.500000e-01 masked 0xFFF0000000000000 mask {
  ^bb0(%b: index, %i: index, %j: index):
    %c16 = arith.constant 16 : index
    %r = arith.remui %i, %c16 : index
    %c = arith.cmpi ugt, %j, %r : index
    autopar.yield %c : i1
  } -> tensor<2x2x32x16xbf16>, tensor<2x2x32xf32>
  %oe = tensor.expand_shape %o [[0], [1], [2, 3], [4]] output_shape [2, 2, 2, 16, 16] : tensor<2x2x32x16xbf16> into tensor<2x2x2x16x16xbf16>
  %ot = tensor.empty() : tensor<2x16x2x2x16xbf16>
  %otr = linalg.transpose ins(%oe : tensor<2x2x2x16x16xbf16>) outs(%ot : tensor<2x16x2x2x16xbf16>) permutation = [0, 3, 1, 2, 4]
  %r = tensor.collapse_shape %otr [[0], [1], [2, 3, 4]] : tensor<2x16x2x2x16xbf16> into tensor<2x16x64xbf16>
  return %r : tensor<2x16x64xbf16>
}

// -----

// PyTorch's causal mask as torch-mlir exports it: the negation of j <= i on
// indices cast to i64, the score added to bf16's lowest value (no row is
// masked everywhere, so adding it is replacing): cuDNN's causal mask.
// CHECK-LABEL: func.func @exported_causal
// CHECK: autopar.library_call "autopar_cuda_attention"
// CHECK-SAME: 1 : i32, 2 : i32]
// CHECK-NOT: autopar.attention
func.func @exported_causal(%q: tensor<4x16x16xbf16>, %kt: tensor<4x16x16xbf16>, %v: tensor<4x16x16xbf16>) -> tensor<4x16x16xbf16> {
  %oi = tensor.empty() : tensor<4x16x16xbf16>
  %li = tensor.empty() : tensor<4x16xf32>
  %o, %lse = autopar.attention ins(%q, %kt, %v : tensor<4x16x16xbf16>, tensor<4x16x16xbf16>, tensor<4x16x16xbf16>) outs(%oi, %li : tensor<4x16x16xbf16>, tensor<4x16xf32>) scale 2.500000e-01 masked -3.3895313892515355E+38 additive mask {
  ^bb0(%b: index, %i: index, %j: index):
    %jj = arith.index_cast %j : index to i64
    %ii = arith.index_cast %i : index to i64
    %le = arith.cmpi sle, %jj, %ii : i64
    %true = arith.constant true
    %c = arith.xori %le, %true : i1
    autopar.yield %c : i1
  } -> tensor<4x16x16xbf16>, tensor<4x16xf32>
  return %o : tensor<4x16x16xbf16>
}

// -----

// The same stacking on plain operands: each of the B = 3 entries is 2
// query heads of 8 rows (strides 256, 128, 16) over one key-value head;
// the keys transposed first. A mask whose stacks do not divide the rows
// (j > i mod 5 of 16) is no causal mask cuDNN knows: that one stays.
// CHECK-LABEL: func.func @grouped_plain
// CHECK: autopar.library_call "autopar_cuda_attention"
// CHECK-SAME: values [256, 128, 16, 128, 128, 16, 128, 128, 16, 256, 128, 16, 3, 2, 1, 8, 8, 16, 16, 2.500000e-01, 1 : i32, 1 : i32]
// CHECK: autopar.attention ins
// CHECK-NOT: library_call
func.func @grouped_plain(%q: tensor<3x16x16xf16>, %kt: tensor<3x16x8xf16>, %v: tensor<3x8x16xf16>) -> (tensor<3x16x16xf16>, tensor<3x16x16xf16>) {
  %oi = tensor.empty() : tensor<3x16x16xf16>
  %li = tensor.empty() : tensor<3x16xf32>
  %o, %lse = autopar.attention ins(%q, %kt, %v : tensor<3x16x16xf16>, tensor<3x16x8xf16>, tensor<3x8x16xf16>) outs(%oi, %li : tensor<3x16x16xf16>, tensor<3x16xf32>) scale 2.500000e-01 masked 0xFFF0000000000000 mask {
  ^bb0(%b: index, %i: index, %j: index):
    %c8 = arith.constant 8 : index
    %r = arith.remui %i, %c8 : index
    %c = arith.cmpi ugt, %j, %r : index
    autopar.yield %c : i1
  } -> tensor<3x16x16xf16>, tensor<3x16xf32>
  %o5, %lse5 = autopar.attention ins(%q, %kt, %v : tensor<3x16x16xf16>, tensor<3x16x8xf16>, tensor<3x8x16xf16>) outs(%oi, %li : tensor<3x16x16xf16>, tensor<3x16xf32>) scale 2.500000e-01 masked 0xFFF0000000000000 mask {
  ^bb0(%b: index, %i: index, %j: index):
    %c5 = arith.constant 5 : index
    %r = arith.remui %i, %c5 : index
    %c = arith.cmpi ugt, %j, %r : index
    autopar.yield %c : i1
  } -> tensor<3x16x16xf16>, tensor<3x16xf32>
  return %o, %o5 : tensor<3x16x16xf16>, tensor<3x16x16xf16>
}

// -----

// A device's share of whole stacks (rows split over devices by
// partitioning): the rows are offset by the device's first row, a
// multiple of the stack (16 x %rank), which the remainder drops. An
// offset that is no multiple of it (8 x %rank) is another mask: that one
// stays.
// CHECK-LABEL: func.func @stack_share
// CHECK: autopar.library_call "autopar_cuda_attention"
// CHECK-SAME: values [256, 256, 16, 256, 256, 16, 256, 256, 16, 256, 256, 16, 4, 1, 1, 16, 16, 16, 16, 2.500000e-01, 1 : i32, 2 : i32]
// CHECK: autopar.attention ins
// CHECK-NOT: library_call
func.func @stack_share(%q: tensor<4x16x16xbf16>, %kt: tensor<4x16x16xbf16>, %v: tensor<4x16x16xbf16>, %rank: index) -> (tensor<4x16x16xbf16>, tensor<4x16x16xbf16>) {
  %c8 = arith.constant 8 : index
  %c16 = arith.constant 16 : index
  %first = arith.muli %rank, %c16 : index
  %half = arith.muli %rank, %c8 : index
  %oi = tensor.empty() : tensor<4x16x16xbf16>
  %li = tensor.empty() : tensor<4x16xf32>
  %o, %lse = autopar.attention ins(%q, %kt, %v : tensor<4x16x16xbf16>, tensor<4x16x16xbf16>, tensor<4x16x16xbf16>) outs(%oi, %li : tensor<4x16x16xbf16>, tensor<4x16xf32>) scale 2.500000e-01 masked 0xFFF0000000000000 mask {
  ^bb0(%b: index, %i: index, %j: index):
    %row = arith.addi %i, %first : index
    %r = arith.remui %row, %c16 : index
    %c = arith.cmpi ugt, %j, %r : index
    autopar.yield %c : i1
  } -> tensor<4x16x16xbf16>, tensor<4x16xf32>
  %o8, %lse8 = autopar.attention ins(%q, %kt, %v : tensor<4x16x16xbf16>, tensor<4x16x16xbf16>, tensor<4x16x16xbf16>) outs(%oi, %li : tensor<4x16x16xbf16>, tensor<4x16xf32>) scale 2.500000e-01 masked 0xFFF0000000000000 mask {
  ^bb0(%b: index, %i: index, %j: index):
    %row = arith.addi %i, %half : index
    %r = arith.remui %row, %c16 : index
    %c = arith.cmpi ugt, %j, %r : index
    autopar.yield %c : i1
  } -> tensor<4x16x16xbf16>, tensor<4x16xf32>
  return %o, %o8 : tensor<4x16x16xbf16>, tensor<4x16x16xbf16>
}

// -----

// A device's share of one stack of query rows (rows split over devices:
// 8 of 16 rows, all 16 keys): the mask is offset by the device's first row
// (8 x %rank, computed outside it), which the call takes at run time: key
// j > i + first masked (cuDNN's diagonal band, its right bound the
// offset). An offset computed inside the mask (a constant) or one added
// to the key is another mask: those stay. A share of one stack of 16
// rows ((i + first) mod 16, grouped-query rows split finer than their
// stacks: 8 rows never cross a stack's end) is offset by first mod 16;
// with a first row that is no multiple of 8 (4 x %rank) it could cross,
// and stays.
// CHECK-LABEL: func.func @row_share
// CHECK: %[[FIRST:.*]] = arith.muli %arg3, %{{.*}} : index
// CHECK: autopar.library_call "autopar_cuda_attention"
// CHECK-SAME: values [128, 128, 16, 256, 256, 16, 256, 256, 16, 128, 128, 16, 4, 1, 1, 8, 16, 16, 16, 2.500000e-01, 1 : i32, 2 : i32] scalars(%[[FIRST]] : index)
// CHECK: %[[WITHIN:.*]] = arith.remui %[[FIRST]], %{{.*}} : index
// CHECK: autopar.library_call "autopar_cuda_attention"
// CHECK-SAME: scalars(%[[WITHIN]] : index)
// CHECK-COUNT-3: autopar.attention ins
// CHECK-NOT: library_call
func.func @row_share(%q: tensor<4x8x16xbf16>, %kt: tensor<4x16x16xbf16>, %v: tensor<4x16x16xbf16>, %rank: index) -> (tensor<4x8x16xbf16>, tensor<4x8x16xbf16>, tensor<4x8x16xbf16>, tensor<4x8x16xbf16>, tensor<4x8x16xbf16>) {
  %c4 = arith.constant 4 : index
  %c8 = arith.constant 8 : index
  %c16 = arith.constant 16 : index
  %first = arith.muli %rank, %c8 : index
  %quarter = arith.muli %rank, %c4 : index
  %oi = tensor.empty() : tensor<4x8x16xbf16>
  %li = tensor.empty() : tensor<4x8xf32>
  %o, %lse = autopar.attention ins(%q, %kt, %v : tensor<4x8x16xbf16>, tensor<4x16x16xbf16>, tensor<4x16x16xbf16>) outs(%oi, %li : tensor<4x8x16xbf16>, tensor<4x8xf32>) scale 2.500000e-01 masked 0xFFF0000000000000 mask {
  ^bb0(%b: index, %i: index, %j: index):
    %row = arith.addi %i, %first : index
    %c = arith.cmpi ugt, %j, %row : index
    autopar.yield %c : i1
  } -> tensor<4x8x16xbf16>, tensor<4x8xf32>
  %os, %lses = autopar.attention ins(%q, %kt, %v : tensor<4x8x16xbf16>, tensor<4x16x16xbf16>, tensor<4x16x16xbf16>) outs(%oi, %li : tensor<4x8x16xbf16>, tensor<4x8xf32>) scale 2.500000e-01 masked 0xFFF0000000000000 mask {
  ^bb0(%b: index, %i: index, %j: index):
    %row = arith.addi %i, %first : index
    %r = arith.remui %row, %c16 : index
    %c = arith.cmpi ugt, %j, %r : index
    autopar.yield %c : i1
  } -> tensor<4x8x16xbf16>, tensor<4x8xf32>
  %oq, %lseq = autopar.attention ins(%q, %kt, %v : tensor<4x8x16xbf16>, tensor<4x16x16xbf16>, tensor<4x16x16xbf16>) outs(%oi, %li : tensor<4x8x16xbf16>, tensor<4x8xf32>) scale 2.500000e-01 masked 0xFFF0000000000000 mask {
  ^bb0(%b: index, %i: index, %j: index):
    %row = arith.addi %i, %quarter : index
    %r = arith.remui %row, %c16 : index
    %c = arith.cmpi ugt, %j, %r : index
    autopar.yield %c : i1
  } -> tensor<4x8x16xbf16>, tensor<4x8xf32>
  %oc, %lsec = autopar.attention ins(%q, %kt, %v : tensor<4x8x16xbf16>, tensor<4x16x16xbf16>, tensor<4x16x16xbf16>) outs(%oi, %li : tensor<4x8x16xbf16>, tensor<4x8xf32>) scale 2.500000e-01 masked 0xFFF0000000000000 mask {
  ^bb0(%b: index, %i: index, %j: index):
    %c8i = arith.constant 8 : index
    %row = arith.addi %i, %c8i : index
    %c = arith.cmpi ugt, %j, %row : index
    autopar.yield %c : i1
  } -> tensor<4x8x16xbf16>, tensor<4x8xf32>
  %ok, %lsek = autopar.attention ins(%q, %kt, %v : tensor<4x8x16xbf16>, tensor<4x16x16xbf16>, tensor<4x16x16xbf16>) outs(%oi, %li : tensor<4x8x16xbf16>, tensor<4x8xf32>) scale 2.500000e-01 masked 0xFFF0000000000000 mask {
  ^bb0(%b: index, %i: index, %j: index):
    %key = arith.addi %j, %first : index
    %c = arith.cmpi ugt, %key, %i : index
    autopar.yield %c : i1
  } -> tensor<4x8x16xbf16>, tensor<4x8xf32>
  return %o, %os, %oq, %oc, %ok : tensor<4x8x16xbf16>, tensor<4x8x16xbf16>, tensor<4x8x16xbf16>, tensor<4x8x16xbf16>, tensor<4x8x16xbf16>
}
