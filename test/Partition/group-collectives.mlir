// RUN: autopar-opt %s --pass-pipeline="builtin.module(func.func(autopar-group-collectives))" --split-input-file | FileCheck %s
// RUN: autopar-opt %s --pass-pipeline="builtin.module(func.func(autopar-group-collectives{max-bytes=48}))" --split-input-file | FileCheck %s --check-prefix=LIMIT
// RUN: autopar-opt %s --pass-pipeline="builtin.module(func.func(autopar-group-collectives{unit-bytes=32}))" --split-input-file | FileCheck %s --check-prefix=UNIT
// RUN: autopar-opt %s --pass-pipeline="builtin.module(func.func(autopar-group-collectives{unit-bytes=32 prefetch=false}))" --split-input-file | FileCheck %s --check-prefix=NOPF
// RUN: autopar-opt %s --pass-pipeline="builtin.module(func.func(autopar-group-collectives{unit-bytes=48 max-bytes=16}))" --split-input-file | FileCheck %s --check-prefix=SPLIT
// Independent all_reduces of one kind share one buffer, emitted once the
// last of their operands is made; the others stay.

autopar.mesh @mesh <x = 2, y = 2>
// Three gradients (2-D, 1-D, 0-D) reduced over x: one packed all_reduce of
// 8 + 4 + 1 elements before the first update; the max over x and the sum
// over y are other groups of one, emitted likewise as soon as their operand
// is made (here at once: it is an argument).
// CHECK-LABEL: func.func @buckets(
// CHECK-SAME: %[[A:[^:]*]]: tensor<2x4xf32>, %[[B:[^:]*]]: tensor<4xf32>, %[[C:[^:]*]]: tensor<f32>
// CHECK: %[[E:.*]] = tensor.empty() : tensor<1x13xf32>
// CHECK: %[[P0:.*]] = tensor.insert_slice %{{.*}} into %[[E]][0, 0] [1, 8] [1, 1]
// CHECK: %[[P1:.*]] = tensor.insert_slice %{{.*}} into %[[P0]][0, 8] [1, 4] [1, 1]
// CHECK: %[[P2:.*]] = tensor.insert_slice %{{.*}} into %[[P1]][0, 12] [1, 1] [1, 1]
// CHECK: %[[R:.*]] = autopar.all_reduce %[[P2]] on @mesh axes [x] reduction = sum : tensor<1x13xf32> -> tensor<1x13xf32>
// CHECK: tensor.extract_slice %[[R]][0, 0] [1, 8] [1, 1]
// CHECK: tensor.expand_shape %{{.*}} {{\[\[}}0, 1]] output_shape [2, 4] : tensor<8xf32> into tensor<2x4xf32>
// CHECK: tensor.extract_slice %[[R]][0, 8] [1, 4] [1, 1]
// CHECK: tensor.extract_slice %[[R]][0, 12] [1, 1] [1, 1]
// CHECK: tensor.collapse_shape %{{.*}} [] : tensor<1xf32> into tensor<f32>
// CHECK: autopar.all_reduce %[[B]] on @mesh axes [x] reduction = max
// CHECK: autopar.all_reduce %[[B]] on @mesh axes [y] reduction = sum
// CHECK: linalg.generic
// CHECK-NOT: autopar.all_reduce
// With a 48-byte limit, the 32-byte and 16-byte gradients share a buffer
// and the scalar gets its own.
// LIMIT-LABEL: func.func @buckets(
// LIMIT: autopar.all_reduce %{{.*}} on @mesh axes [x] reduction = sum : tensor<1x12xf32> -> tensor<1x12xf32>
// LIMIT: autopar.all_reduce %{{.*}} on @mesh axes [x] reduction = sum : tensor<f32> -> tensor<f32>
func.func @buckets(%a: tensor<2x4xf32>, %b: tensor<4xf32>, %c: tensor<f32>)
    -> (tensor<2x4xf32>, tensor<4xf32>, tensor<f32>, tensor<4xf32>, tensor<4xf32>) {
  %ra = autopar.all_reduce %a on @mesh axes [x] reduction = sum : tensor<2x4xf32> -> tensor<2x4xf32>
  %rb = autopar.all_reduce %b on @mesh axes [x] reduction = sum : tensor<4xf32> -> tensor<4xf32>
  %e = tensor.empty() : tensor<2x4xf32>
  %ua = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>],
                        iterator_types = ["parallel", "parallel"]}
      ins(%ra : tensor<2x4xf32>) outs(%e : tensor<2x4xf32>) {
  ^bb0(%in: f32, %out: f32):
    %n = arith.negf %in : f32
    linalg.yield %n : f32
  } -> tensor<2x4xf32>
  %rc = autopar.all_reduce %c on @mesh axes [x] reduction = sum : tensor<f32> -> tensor<f32>
  %mb = autopar.all_reduce %b on @mesh axes [x] reduction = max : tensor<4xf32> -> tensor<4xf32>
  %yb = autopar.all_reduce %b on @mesh axes [y] reduction = sum : tensor<4xf32> -> tensor<4xf32>
  return %ua, %rb, %rc, %mb, %yb : tensor<2x4xf32>, tensor<4xf32>, tensor<f32>, tensor<4xf32>, tensor<4xf32>
}

// -----

autopar.mesh @mesh <gpus = 2>
// A reduction of a reduced value depends on it: two collectives stay.
// CHECK-LABEL: func.func @chain(
// CHECK: %[[R1:.*]] = autopar.all_reduce %{{.*}} : tensor<4xf32> -> tensor<4xf32>
// CHECK: %[[M:.*]] = arith.mulf %[[R1]], %[[R1]]
// CHECK: autopar.all_reduce %[[M]]
// CHECK-NOT: tensor.insert_slice
func.func @chain(%a: tensor<4xf32>, %b: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
  %r1 = autopar.all_reduce %a on @mesh axes [gpus] reduction = sum : tensor<4xf32> -> tensor<4xf32>
  %m = arith.mulf %r1, %r1 : tensor<4xf32>
  %r2 = autopar.all_reduce %m on @mesh axes [gpus] reduction = sum : tensor<4xf32> -> tensor<4xf32>
  return %r1, %r2 : tensor<4xf32>, tensor<4xf32>
}

// -----

autopar.mesh @mesh <gpus = 2>
// A split optimizer update (ZeRO-1): gradients reduce-scattered along dim 0
// (the group right after its operands), parameters all-gathered along dim 0
// (the group just before its first use). Each gradient becomes [2, n] (row d
// is device d's block), side by side in [2, 8 + 4]; each device keeps its
// row. The gathered parameters come back as the rows of their columns.
// Scatters along another dimension stay.
// CHECK-LABEL: func.func @zero(
// CHECK-SAME: %[[G1:[^:]*]]: tensor<4x4xf32>, %[[G2:[^:]*]]: tensor<8xf32>, %[[P1:[^:]*]]: tensor<2x4xf32>, %[[P2:[^:]*]]: tensor<4xf32>, %[[G3:[^:]*]]: tensor<4x4xf32>
// CHECK: tensor.expand_shape %{{.*}} {{\[\[}}0, 1]] output_shape [2, 8] : tensor<16xf32> into tensor<2x8xf32>
// CHECK: tensor.expand_shape %[[G2]] {{\[\[}}0, 1]] output_shape [2, 4] : tensor<8xf32> into tensor<2x4xf32>
// CHECK: %[[BUF:.*]] = tensor.empty() : tensor<2x12xf32>
// CHECK: %[[S:.*]] = autopar.reduce_scatter %{{.*}} on @mesh axes [gpus] scatter_dim = 0 reduction = sum : tensor<2x12xf32> -> tensor<1x12xf32>
// CHECK: tensor.extract_slice %[[S]][0, 0] [1, 8] [1, 1]
// CHECK: tensor.expand_shape %{{.*}} {{\[\[}}0, 1]] output_shape [2, 4] : tensor<8xf32> into tensor<2x4xf32>
// CHECK: tensor.extract_slice %[[S]][0, 8] [1, 4] [1, 1]
// CHECK: autopar.reduce_scatter %[[G3]] on @mesh axes [gpus] scatter_dim = 1
// CHECK: %[[GA:.*]] = autopar.all_gather %{{.*}} on @mesh axes [gpus] gather_dim = 0 : tensor<1x12xf32> -> tensor<2x12xf32>
// CHECK: tensor.extract_slice %[[GA]][0, 0] [2, 8] [1, 1] : tensor<2x12xf32> to tensor<2x8xf32>
// CHECK: tensor.expand_shape %{{.*}} {{\[\[}}0, 1]] output_shape [4, 4] : tensor<16xf32> into tensor<4x4xf32>
// CHECK: tensor.extract_slice %[[GA]][0, 8] [2, 4] [1, 1] : tensor<2x12xf32> to tensor<2x4xf32>
// CHECK: tensor.collapse_shape %{{.*}} {{\[\[}}0, 1]] : tensor<2x4xf32> into tensor<8xf32>
// CHECK: return
func.func @zero(%g1: tensor<4x4xf32>, %g2: tensor<8xf32>, %p1: tensor<2x4xf32>, %p2: tensor<4xf32>, %g3: tensor<4x4xf32>)
    -> (tensor<2x4xf32>, tensor<4xf32>, tensor<4x4xf32>, tensor<8xf32>, tensor<4x2xf32>) {
  %s1 = autopar.reduce_scatter %g1 on @mesh axes [gpus] scatter_dim = 0 reduction = sum : tensor<4x4xf32> -> tensor<2x4xf32>
  %s2 = autopar.reduce_scatter %g2 on @mesh axes [gpus] scatter_dim = 0 reduction = sum : tensor<8xf32> -> tensor<4xf32>
  %s3 = autopar.reduce_scatter %g3 on @mesh axes [gpus] scatter_dim = 1 reduction = sum : tensor<4x4xf32> -> tensor<4x2xf32>
  %a1 = autopar.all_gather %p1 on @mesh axes [gpus] gather_dim = 0 : tensor<2x4xf32> -> tensor<4x4xf32>
  %a2 = autopar.all_gather %p2 on @mesh axes [gpus] gather_dim = 0 : tensor<4xf32> -> tensor<8xf32>
  return %s1, %s2, %a1, %a2, %s3 : tensor<2x4xf32>, tensor<4xf32>, tensor<4x4xf32>, tensor<8xf32>, tensor<4x2xf32>
}

// -----

autopar.mesh @mesh <gpus = 2>
// ZeRO-3's gathers, tagged with the layer they serve, go by units of
// consecutive parameters in the order of their first use, a unit closing
// once it holds unit-bytes. By default (25 MiB) the four parameters are one
// unit: one packed gather of 4 x 2 floats before the first use.
// CHECK-LABEL: func.func @prefetch(
// CHECK: autopar.all_gather %{{.*}} on @mesh axes [gpus] gather_dim = 0 {autopar.layer = 1 : i64} : tensor<1x8xf32> -> tensor<2x8xf32>
// CHECK-NOT: autopar.all_gather
// CHECK: return
// With units of 32 bytes each layer's weight and bias (16 gathered bytes
// each) are a unit, and units are prefetched: layer 2's pack and gather go
// just before the first read of layer 1's gathered parameters, so they run
// behind layer 1's compute; every gather's pieces are unpacked at their
// own first use (where the collective lowering then waits). The first
// unit stays at its first use; with prefetch=false (prefix NOPF) every
// unit does.
// UNIT-LABEL: func.func @prefetch(
// UNIT: %[[L1:.*]] = autopar.all_gather %{{.*}} on @mesh axes [gpus] gather_dim = 0 {autopar.layer = 1 : i64} : tensor<1x4xf32> -> tensor<2x4xf32>
// UNIT-NOT: arith.mulf
// UNIT: %[[L2:.*]] = autopar.all_gather %{{.*}} on @mesh axes [gpus] gather_dim = 0 {autopar.layer = 2 : i64} : tensor<1x4xf32> -> tensor<2x4xf32>
// UNIT-NEXT: tensor.extract_slice %[[L1]][0, 0] [2, 2]
// UNIT-NEXT: tensor.collapse_shape
// UNIT-NEXT: %[[Y:.*]] = arith.mulf
// UNIT-NEXT: tensor.extract_slice %[[L1]][0, 2] [2, 2]
// UNIT-NEXT: tensor.collapse_shape
// UNIT-NEXT: %[[Z:.*]] = arith.addf %[[Y]]
// UNIT-NEXT: tensor.extract_slice %[[L2]][0, 0] [2, 2]
// UNIT-NEXT: tensor.collapse_shape
// UNIT-NEXT: arith.mulf %[[Z]]
// NOPF-LABEL: func.func @prefetch(
// NOPF: autopar.all_gather {{.*}} {autopar.layer = 1 : i64}
// NOPF: arith.addf
// NOPF: autopar.all_gather {{.*}} {autopar.layer = 2 : i64}
// NOPF: arith.mulf
func.func @prefetch(%x: tensor<4xf32>, %w1: tensor<2xf32>, %b1: tensor<2xf32>, %w2: tensor<2xf32>, %b2: tensor<2xf32>) -> tensor<4xf32> {
  %gw1 = autopar.all_gather %w1 on @mesh axes [gpus] gather_dim = 0 {autopar.layer = 1 : i64} : tensor<2xf32> -> tensor<4xf32>
  %gb1 = autopar.all_gather %b1 on @mesh axes [gpus] gather_dim = 0 {autopar.layer = 1 : i64} : tensor<2xf32> -> tensor<4xf32>
  %y = arith.mulf %x, %gw1 : tensor<4xf32>
  %z = arith.addf %y, %gb1 : tensor<4xf32>
  %gw2 = autopar.all_gather %w2 on @mesh axes [gpus] gather_dim = 0 {autopar.layer = 2 : i64} : tensor<2xf32> -> tensor<4xf32>
  %gb2 = autopar.all_gather %b2 on @mesh axes [gpus] gather_dim = 0 {autopar.layer = 2 : i64} : tensor<2xf32> -> tensor<4xf32>
  %u = arith.mulf %z, %gw2 : tensor<4xf32>
  %v = arith.addf %u, %gb2 : tensor<4xf32>
  return %v : tensor<4xf32>
}

// -----

autopar.mesh @mesh <gpus = 2>
// A unit of two groups (unit-bytes=48: w, b and c, 16 gathered bytes
// each; max-bytes=16: w and b packed, c alone): both of its groups go
// before either is unpacked, then the next unit's prefetched gather, so
// the communication stream runs the whole unit before the next.
// SPLIT-LABEL: func.func @prefetch_split(
// SPLIT-SAME: %{{[^:]*}}: tensor<4xf32>, %{{[^:]*}}: tensor<2xf32>, %{{[^:]*}}: tensor<2xf32>, %[[C:[^:]*]]: tensor<2xf32>, %[[W2:[^:]*]]: tensor<2xf32>
// SPLIT: autopar.all_gather %{{.*}} {autopar.layer = 1 : i64} : tensor<1x4xf32> -> tensor<2x4xf32>
// SPLIT-NEXT: autopar.all_gather %[[C]] {{.*}} {autopar.layer = 1 : i64}
// SPLIT-NEXT: autopar.all_gather %[[W2]] {{.*}} {autopar.layer = 2 : i64}
// SPLIT-NEXT: tensor.extract_slice
// SPLIT: arith.mulf
func.func @prefetch_split(%x: tensor<4xf32>, %w: tensor<2xf32>, %b: tensor<2xf32>, %c: tensor<2xf32>, %w2: tensor<2xf32>) -> tensor<4xf32> {
  %gw = autopar.all_gather %w on @mesh axes [gpus] gather_dim = 0 {autopar.layer = 1 : i64} : tensor<2xf32> -> tensor<4xf32>
  %gb = autopar.all_gather %b on @mesh axes [gpus] gather_dim = 0 {autopar.layer = 1 : i64} : tensor<2xf32> -> tensor<4xf32>
  %gc = autopar.all_gather %c on @mesh axes [gpus] gather_dim = 0 {autopar.layer = 1 : i64} : tensor<2xf32> -> tensor<4xf32>
  %y = arith.mulf %x, %gw : tensor<4xf32>
  %z = arith.addf %y, %gb : tensor<4xf32>
  %z2 = arith.subf %z, %gc : tensor<4xf32>
  %gw2 = autopar.all_gather %w2 on @mesh axes [gpus] gather_dim = 0 {autopar.layer = 2 : i64} : tensor<2xf32> -> tensor<4xf32>
  %u = arith.mulf %z2, %gw2 : tensor<4xf32>
  return %u : tensor<4xf32>
}
