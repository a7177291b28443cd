// RUN: autopar-opt %s --autopar-partition --split-input-file 2>/dev/null | FileCheck %s
// RUN: autopar-opt %s --autopar-partition --split-input-file -o /dev/null 2>&1 | FileCheck %s --check-prefix=REMARK
// RUN: autopar-opt %s --autopar-partition --canonicalize --split-input-file 2>/dev/null | FileCheck %s --check-prefix=CLEAN
// The SPMD form of annotated functions: local shapes, slices by mesh
// coordinate, collectives where shardings change, and reductions whose
// init is added once.

autopar.mesh @mesh <x = 2, y = 2>
// A matmul split by rows over x and by its reduction over y: each device
// multiplies a 4x8 block by an 8x4 block; the init (ones, a constant fill
// made in the device's 4x4 block) counts on y = 0 only; the partial result
// is all-reduced over y where it leaves.
// CHECK-LABEL: func.func @reduction_split(
// CHECK-SAME: %[[A:.*]]: tensor<4x16xf32> {autopar.sharding = #autopar.sharding<@mesh, {{\[\[}}x], []]>}
// CHECK-SAME: %[[B:.*]]: tensor<16x4xf32>
// CHECK-SAME: -> (tensor<4x4xf32> {autopar.sharding = #autopar.sharding<@mesh, {{\[\[}}x], []]>})
// CHECK: %[[Y:.*]] = autopar.device_coord on @mesh axes [y] : index
// CHECK-NOT: autopar.device_coord
// CHECK: tensor.extract_slice %[[A]][0, %{{.*}}] [4, 8] [1, 1] : tensor<4x16xf32> to tensor<4x8xf32>
// CHECK: tensor.extract_slice %[[B]][%{{.*}}, 0] [8, 4] [1, 1] : tensor<16x4xf32> to tensor<8x4xf32>
// CHECK: %[[ONES:.*]] = linalg.fill ins(%{{.*}} : f32) outs(%{{.*}} : tensor<4x4xf32>)
// CHECK: %[[FIRST:.*]] = arith.cmpi eq, %[[Y]], %{{.*}} : index
// CHECK: %[[INIT:.*]] = arith.select %[[FIRST]], %[[ONES]], %{{.*}} : tensor<4x4xf32>
// CHECK: %[[M:.*]] = linalg.matmul ins(%{{.*}}, %{{.*}} : tensor<4x8xf32>, tensor<8x4xf32>) outs(%[[INIT]] : tensor<4x4xf32>)
// CHECK: %[[R:.*]] = autopar.all_reduce %[[M]] on @mesh axes [y] reduction = sum : tensor<4x4xf32> -> tensor<4x4xf32>
// CHECK: return %[[R]]
func.func @reduction_split(%a: tensor<8x16xf32> {autopar.sharding = #autopar.sharding<@mesh, [[x], []]>},
                           %b: tensor<16x4xf32>) -> tensor<8x4xf32> {
  %cst = arith.constant 1.0 : f32
  %e = tensor.empty() : tensor<8x4xf32>
  %f = linalg.fill ins(%cst : f32) outs(%e : tensor<8x4xf32>) -> tensor<8x4xf32>
  %m = linalg.matmul {autopar.strategy = #autopar.strategy<@mesh, [[x], [], [y]]>}
      ins(%a, %b : tensor<8x16xf32>, tensor<16x4xf32>) outs(%f : tensor<8x4xf32>) -> tensor<8x4xf32>
  return %m : tensor<8x4xf32>
}

// -----

autopar.mesh @mesh <gpus = 4>
// A split that moves from rows to columns is one all_to_all; a result
// leaves with its producer's sharding; a reduction by max over a split loop
// is combined with max, and its identity fill needs no select.
// CHECK-LABEL: func.func @moves(
// CHECK-SAME: %[[A:.*]]: tensor<2x8xf32>
// CHECK-SAME: -> (tensor<8x2xf32> {autopar.sharding = #autopar.sharding<@mesh, {{\[\[}}], [gpus]]>}, tensor<f32>
// CHECK: %[[T:.*]] = autopar.all_to_all %[[A]] on @mesh axes [gpus] split_dim = 1 concat_dim = 0 : tensor<2x8xf32> -> tensor<8x2xf32>
// CHECK: %[[E:.*]] = linalg.generic {{.*}} ins(%[[T]] : tensor<8x2xf32>)
// CHECK-NOT: arith.select
// CHECK: %[[MAX:.*]] = linalg.generic {{.*}} iterator_types = ["reduction"]} ins(%{{.*}} : tensor<2xf32>)
// CHECK: %[[R:.*]] = autopar.all_reduce %[[MAX]] on @mesh axes [gpus] reduction = max : tensor<f32> -> tensor<f32>
// CHECK: return %[[E]], %[[R]] : tensor<8x2xf32>, tensor<f32>
#id = affine_map<(d0, d1) -> (d0, d1)>
func.func @moves(%a: tensor<8x8xf32> {autopar.sharding = #autopar.sharding<@mesh, [[gpus], []]>},
                 %v: tensor<8xf32>) -> (tensor<8x8xf32>, tensor<f32>) {
  %e = tensor.empty() : tensor<8x8xf32>
  %t = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"],
                       autopar.strategy = #autopar.strategy<@mesh, [[], [gpus]]>}
      ins(%a : tensor<8x8xf32>) outs(%e : tensor<8x8xf32>) {
  ^bb0(%in: f32, %out: f32):
    %n = arith.negf %in : f32
    linalg.yield %n : f32
  } -> tensor<8x8xf32>
  %ninf = arith.constant 0xFF800000 : f32
  %s = tensor.empty() : tensor<f32>
  %init = linalg.fill ins(%ninf : f32) outs(%s : tensor<f32>) -> tensor<f32>
  %max = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> ()>],
                         iterator_types = ["reduction"],
                         autopar.strategy = #autopar.strategy<@mesh, [[gpus]]>}
      ins(%v : tensor<8xf32>) outs(%init : tensor<f32>) {
  ^bb0(%in: f32, %out: f32):
    %m = arith.maximumf %in, %out : f32
    linalg.yield %m : f32
  } -> tensor<f32>
  return %t, %max : tensor<8x8xf32>, tensor<f32>
}

// -----

autopar.mesh @mesh <gpus = 2>
// linalg.index of a split loop counts from the device's first row.
// CHECK-LABEL: func.func @index(
// CHECK: %[[C:.*]] = autopar.device_coord on @mesh axes [gpus] : index
// CHECK: %[[OFF:.*]] = arith.muli %[[C]], %c2 : index
// CHECK: linalg.generic
// CHECK: %[[I:.*]] = linalg.index 0 : index
// CHECK: arith.addi %[[I]], %[[OFF]] : index
func.func @index() -> tensor<4xf32> {
  %e = tensor.empty() : tensor<4xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>], iterator_types = ["parallel"],
                       autopar.strategy = #autopar.strategy<@mesh, [[gpus]]>}
      outs(%e : tensor<4xf32>) {
  ^bb0(%out: f32):
    %i = linalg.index 0 : index
    %w = arith.index_cast %i : index to i32
    %f = arith.sitofp %w : i32 to f32
    linalg.yield %f : f32
  } -> tensor<4xf32>
  return %r : tensor<4xf32>
}

// -----

autopar.mesh @mesh <gpus = 2>
// A pin reshards its value; an op without a sharding rule gets its operand
// whole and runs replicated. softmax keeps the pin's rows: only its
// normalised dimension must stay whole.
// REMARK: remark: autopar-partition: no sharding rule for 'tensor.gather'; its operands are gathered and it runs replicated on every device
// CHECK-LABEL: func.func @pin_and_unknown(
// CHECK: %[[S:.*]] = tensor.extract_slice %{{.*}}[%{{.*}}, 0] [2, 4] [1, 1] : tensor<4x4xf32> to tensor<2x4xf32>
// CHECK: %[[G:.*]] = autopar.all_gather %[[S]] on @mesh axes [gpus] gather_dim = 0 : tensor<2x4xf32> -> tensor<4x4xf32>
// CHECK: tensor.gather %[[G]]
// CHECK: linalg.softmax dimension(1) ins(%[[S]] : tensor<2x4xf32>)
// Canonicalization removes the pair: gathering a device's own slice.
// CLEAN-LABEL: func.func @pin_and_unknown(
// CLEAN-NOT: autopar.all_gather
// CLEAN: tensor.gather %arg0
func.func @pin_and_unknown(%a: tensor<4x4xf32>, %i: tensor<2x1xindex>)
    -> (tensor<2x4xf32>, tensor<4x4xf32>) {
  %p = autopar.shard %a : tensor<4x4xf32> to #autopar.sharding<@mesh, [[gpus], []]>
  %g = tensor.gather %p[%i] gather_dims([0]) : (tensor<4x4xf32>, tensor<2x1xindex>) -> tensor<2x4xf32>
  %e = tensor.empty() : tensor<4x4xf32>
  %s = linalg.softmax {autopar.strategy = #autopar.strategy<@mesh, [[gpus], []]>}
      dimension(1) ins(%p : tensor<4x4xf32>) outs(%e : tensor<4x4xf32>) -> tensor<4x4xf32>
  return %g, %s : tensor<2x4xf32>, tensor<4x4xf32>
}

// -----

autopar.mesh @mesh <gpus = 2>
// A reshape splits a merged group through its leading dimension that is not
// a unit: the 16 positions that become dimension 2 of 1x1x16x1 are sliced
// in the source; collapsing 1x8x4 splits the source's dimension 1.
// CHECK-LABEL: func.func @reshape_unit_dims(
// CHECK: %[[S:.*]] = tensor.extract_slice %{{.*}}[%{{.*}}] [8] [1] : tensor<16xi64> to tensor<8xi64>
// CHECK: tensor.expand_shape %[[S]] {{\[\[}}0, 1, 2, 3]] output_shape [1, 1, 8, 1] : tensor<8xi64> into tensor<1x1x8x1xi64>
// CHECK: %[[T:.*]] = tensor.extract_slice %{{.*}}[0, %{{.*}}, 0] [1, 4, 4] [1, 1, 1] : tensor<1x8x4xf32> to tensor<1x4x4xf32>
// CHECK: tensor.collapse_shape %[[T]] {{\[\[}}0, 1, 2]] : tensor<1x4x4xf32> into tensor<16xf32>
func.func @reshape_unit_dims(%a: tensor<16xi64>, %b: tensor<1x8x4xf32>)
    -> (tensor<1x1x16x1xi64>, tensor<32xf32>) {
  %e = tensor.expand_shape %a [[0, 1, 2, 3]] output_shape [1, 1, 16, 1]
      {autopar.strategy = #autopar.strategy<@mesh, [[], [], [gpus], []]>}
      : tensor<16xi64> into tensor<1x1x16x1xi64>
  %c = tensor.collapse_shape %b [[0, 1, 2]]
      {autopar.strategy = #autopar.strategy<@mesh, [[gpus]]>}
      : tensor<1x8x4xf32> into tensor<32xf32>
  return %e, %c : tensor<1x1x16x1xi64>, tensor<32xf32>
}

// -----

autopar.mesh @mesh <gpus = 2>
// An attention split by query rows: each device takes 4 of the 8 rows
// (keys and values whole), and its causal mask compares the key row with
// the global query row, the local one offset by the device's first row.
// CHECK-LABEL: func.func @attention_rows(
// CHECK: %[[C:.*]] = autopar.device_coord on @mesh axes [gpus] : index
// CHECK: %[[Q:.*]] = tensor.extract_slice %{{.*}}[0, %{{.*}}, 0] [2, 4, 4] [1, 1, 1] : tensor<2x8x4xf32> to tensor<2x4x4xf32>
// CHECK: %[[OFFSET:.*]] = arith.muli %[[C]], %{{.*}} : index
// CHECK: autopar.attention ins(%[[Q]], %{{.*}}, %{{.*}} : tensor<2x4x4xf32>, tensor<2x4x8xf32>, tensor<2x8x4xf32>) outs(%{{.*}}, %{{.*}} : tensor<2x4x4xf32>, tensor<2x4xf32>)
// CHECK-NEXT: ^bb0(%{{.*}}: index, %[[I:.*]]: index, %[[J:.*]]: index):
// CHECK-NEXT: %[[ROW:.*]] = arith.addi %[[I]], %[[OFFSET]] : index
// CHECK-NEXT: arith.cmpi ugt, %[[J]], %[[ROW]] : index
func.func @attention_rows(%q: tensor<2x8x4xf32>, %k: tensor<2x4x8xf32>, %v: tensor<2x8x4xf32>) -> tensor<2x8x4xf32> {
  %o = tensor.empty() : tensor<2x8x4xf32>
  %l = tensor.empty() : tensor<2x8xf32>
  %r, %lse = autopar.attention
      ins(%q, %k, %v : tensor<2x8x4xf32>, tensor<2x4x8xf32>, tensor<2x8x4xf32>)
      outs(%o, %l : tensor<2x8x4xf32>, tensor<2x8xf32>)
      scale 5.000000e-01 masked 0xFFF0000000000000 mask {
    ^bb0(%b: index, %i: index, %j: index):
      %c = arith.cmpi ugt, %j, %i : index
      autopar.yield %c : i1
    } {autopar.strategy = #autopar.strategy<@mesh, [[], [gpus], [], [], []]>} -> tensor<2x8x4xf32>, tensor<2x8xf32>
  return %r : tensor<2x8x4xf32>
}


// -----

autopar.mesh @mesh <gpus = 2>
// Its gradient split the same way: the query gradient comes out split by
// rows, the key and value gradients (sums over the query rows) partial and
// all-reduced where they leave; the outs are destinations only (empty), so
// nothing is added once.
// CHECK-LABEL: func.func @attention_grad_rows(
// CHECK: %[[C:.*]] = autopar.device_coord on @mesh axes [gpus] : index
// CHECK-NOT: arith.select
// CHECK: tensor.empty() : tensor<2x8x4xf32>
// CHECK-NEXT: arith.constant 4 : index
// CHECK-NEXT: %[[OFFSET:.*]] = arith.muli %[[C]], %{{.*}} : index
// CHECK-NEXT: %[[DQ:.*]], %[[DK:.*]], %[[DV:.*]] = autopar.attention_grad ins(%{{.*}} : tensor<2x4x4xf32>, tensor<2x4x8xf32>, tensor<2x8x4xf32>, tensor<2x4x4xf32>, tensor<2x4xf32>, tensor<2x4x4xf32>, tensor<2x4xf32>)
// CHECK-NEXT: ^bb0(%{{.*}}: index, %[[I:.*]]: index, %[[J:.*]]: index):
// CHECK-NEXT: %[[ROW:.*]] = arith.addi %[[I]], %[[OFFSET]] : index
// CHECK-NEXT: arith.cmpi ugt, %[[J]], %[[ROW]] : index
// CHECK: %[[SK:.*]] = autopar.all_reduce %[[DK]] on @mesh axes [gpus] reduction = sum : tensor<2x4x8xf32>
// CHECK: %[[SV:.*]] = autopar.all_reduce %[[DV]] on @mesh axes [gpus] reduction = sum : tensor<2x8x4xf32>
// CHECK: return %[[DQ]], %[[SK]], %[[SV]]
func.func @attention_grad_rows(%q: tensor<2x8x4xf32>, %k: tensor<2x4x8xf32>, %v: tensor<2x8x4xf32>, %o: tensor<2x8x4xf32>, %l: tensor<2x8xf32>, %do: tensor<2x8x4xf32>, %dl: tensor<2x8xf32>) -> (tensor<2x8x4xf32>, tensor<2x4x8xf32>, tensor<2x8x4xf32>) {
  %eq = tensor.empty() : tensor<2x8x4xf32>
  %ek = tensor.empty() : tensor<2x4x8xf32>
  %ev = tensor.empty() : tensor<2x8x4xf32>
  %dq, %dk, %dv = autopar.attention_grad
      ins(%q, %k, %v, %o, %l, %do, %dl : tensor<2x8x4xf32>, tensor<2x4x8xf32>, tensor<2x8x4xf32>, tensor<2x8x4xf32>, tensor<2x8xf32>, tensor<2x8x4xf32>, tensor<2x8xf32>)
      outs(%eq, %ek, %ev : tensor<2x8x4xf32>, tensor<2x4x8xf32>, tensor<2x8x4xf32>)
      scale 5.000000e-01 masked 0xFFF0000000000000 mask {
    ^bb0(%b: index, %i: index, %j: index):
      %c = arith.cmpi ugt, %j, %i : index
      autopar.yield %c : i1
    } {autopar.strategy = #autopar.strategy<@mesh, [[], [gpus], [], [], []]>} -> tensor<2x8x4xf32>, tensor<2x4x8xf32>, tensor<2x8x4xf32>
  return %dq, %dk, %dv : tensor<2x8x4xf32>, tensor<2x4x8xf32>, tensor<2x8x4xf32>
}
