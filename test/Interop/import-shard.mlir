// RUN: autopar-opt %s --autopar-import-shard --split-input-file | FileCheck %s
// Upstream shard IR read back: grids become meshes, annotations pins, and
// the SPMD ops of shard-partition autopar's collectives and coordinates.

// Annotations become pins that autopar-plan respects; a grid without
// autopar.axis_names gets axes a0, a1.
// CHECK: autopar.mesh @grid <a0 = 2, a1 = 2>
// CHECK-LABEL: func.func @annotated(
// CHECK-SAME: %[[X:.*]]: tensor<8x16xf32>
// CHECK: %[[P:.*]] = autopar.shard %[[X]] : tensor<8x16xf32> to #autopar.sharding<@grid, {{\[\[}}a0], [a1]]>
// CHECK: %[[Y:.*]] = math.exp %[[P]]
// CHECK: %[[Q:.*]] = autopar.shard %[[Y]] : tensor<8x16xf32> to #autopar.sharding<@grid, {{\[\[}}a1, a0], []]>
// CHECK: return %[[Q]]
// CHECK-NOT: shard.
shard.grid @grid(shape = 2x2)
func.func @annotated(%x: tensor<8x16xf32>) -> tensor<8x16xf32> {
  %s = shard.sharding @grid split_axes = [[0], [1]] : !shard.sharding
  %a = shard.shard %x to %s annotate_for_users : tensor<8x16xf32>
  %y = math.exp %a : tensor<8x16xf32>
  %t = shard.sharding @grid split_axes = [[1, 0]] : !shard.sharding
  %b = shard.shard %y to %t : tensor<8x16xf32>
  return %b : tensor<8x16xf32>
}

// -----

// SPMD ops: collectives with their axes (names kept by export), the
// device's slice, coordinates and the grid's shape.
// CHECK: autopar.mesh @mesh <x = 2, y = 4>
// CHECK-LABEL: func.func @spmd(
// CHECK: autopar.all_reduce %{{.*}} on @mesh axes [y] reduction = max : tensor<4x8xf32> -> tensor<4x8xf32>
// CHECK: autopar.all_gather %{{.*}} on @mesh axes [x] gather_dim = 0 : tensor<4x8xf32> -> tensor<8x8xf32>
// CHECK: autopar.all_to_all %{{.*}} on @mesh axes [y] split_dim = 1 concat_dim = 0 : tensor<8x8xf32> -> tensor<32x2xf32>
// CHECK: autopar.reduce_scatter %{{.*}} on @mesh axes [x, y] scatter_dim = 0 reduction = sum : tensor<32x2xf32> -> tensor<4x2xf32>
// CHECK-DAG: %[[C:.*]] = autopar.device_coord on @mesh axes [x] : index
// CHECK-DAG: %[[SIZE:.*]] = arith.constant 2 : index
// CHECK: %[[OFF:.*]] = arith.muli %[[C]], %[[SIZE]] : index
// CHECK: tensor.extract_slice %{{.*}}[0, %[[OFF]]] [4, 2] [1, 1] : tensor<4x4xf32> to tensor<4x2xf32>
// CHECK: %[[I:.*]] = autopar.device_coord on @mesh axes [y] : index
// CHECK: %[[L:.*]] = autopar.device_coord on @mesh axes [x, y] : index
// CHECK: %[[N:.*]] = arith.constant 4 : index
// CHECK: return {{.*}}, %[[I]], %[[L]], %[[N]]
shard.grid @mesh(shape = 2x4) {autopar.axis_names = ["x", "y"]}
func.func @spmd(%a: tensor<4x8xf32>, %b: tensor<4x4xf32>) -> (tensor<4x2xf32>, tensor<4x2xf32>, index, index, index) {
  %r = shard.all_reduce %a on @mesh grid_axes = [1] reduction = max : tensor<4x8xf32> -> tensor<4x8xf32>
  %g = shard.all_gather %r on @mesh grid_axes = [0] gather_axis = 0 : tensor<4x8xf32> -> tensor<8x8xf32>
  %m = shard.all_to_all %g on @mesh grid_axes = [1] split_axis = 1 concat_axis = 0 : tensor<8x8xf32> -> tensor<32x2xf32>
  %s = shard.reduce_scatter %m on @mesh grid_axes = [0, 1] scatter_axis = 0 : tensor<32x2xf32> -> tensor<4x2xf32>
  %l = shard.all_slice %b on @mesh grid_axes = [0] slice_axis = 1 : tensor<4x4xf32> -> tensor<4x2xf32>
  %i = shard.process_multi_index on @mesh axes = [1] : index
  %n = shard.process_linear_index on @mesh : index
  %z = shard.grid_shape @mesh axes = [1] : index
  return %s, %l, %i, %n, %z : tensor<4x2xf32>, tensor<4x2xf32>, index, index, index
}
