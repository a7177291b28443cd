// RUN: autopar-opt %s --autopar-export-shard --split-input-file | FileCheck %s
// RUN: autopar-opt %s --autopar-export-shard="results=false" --split-input-file | FileCheck %s --check-prefix=BOUNDARY
// RUN: autopar-opt %s --autopar-export-shard --split-input-file | %mlir_opt --pass-pipeline="builtin.module(func.func(sharding-propagation,shard-partition))" --split-input-file | FileCheck %s --check-prefix=UPSTREAM
// An autopar plan as upstream shard IR: the mesh becomes a grid (axis names
// kept), argument shardings annotate the arguments for their users, op
// results are annotated after the op (partial axes dropped: upstream has
// none), pins become shard.shard, and results leave in the layout the
// function returns. Stock mlir-opt then partitions it.

autopar.mesh @mesh <x = 2, y = 2>
// CHECK: shard.grid @mesh(shape = 2x2) {autopar.axis_names = ["x", "y"]}
// CHECK-LABEL: func.func @matmul(
// CHECK-SAME: %[[A:[^:]*]]: tensor<8x16xf32>, %[[B:[^:]*]]: tensor<16x4xf32>)
// CHECK-SAME: -> tensor<8x4xf32>
// CHECK-NOT: autopar.sharding
// CHECK: %[[SA:.*]] = shard.sharding @mesh split_axes = {{\[\[}}0], [1]] : !shard.sharding
// CHECK: %[[AA:.*]] = shard.shard %[[A]] to %[[SA]] annotate_for_users : tensor<8x16xf32>
// CHECK: %[[SB:.*]] = shard.sharding @mesh split_axes = {{\[\[}}1], []] : !shard.sharding
// CHECK: %[[BB:.*]] = shard.shard %[[B]] to %[[SB]] annotate_for_users : tensor<16x4xf32>
// CHECK: %[[M:.*]] = linalg.matmul ins(%[[AA]], %[[BB]] :
// CHECK-NOT: autopar.strategy
// The partial sum over y is dropped from the annotation.
// CHECK: %[[SM:.*]] = shard.sharding @mesh split_axes = {{\[\[}}0], []] : !shard.sharding
// CHECK: %[[MM:.*]] = shard.shard %[[M]] to %[[SM]] : tensor<8x4xf32>
// CHECK: %[[SR:.*]] = shard.sharding @mesh split_axes = {{\[\[}}0], []] : !shard.sharding
// CHECK: %[[R:.*]] = shard.shard %[[MM]] to %[[SR]] : tensor<8x4xf32>
// CHECK: return %[[R]]
// BOUNDARY-LABEL: func.func @matmul(
// BOUNDARY: shard.shard %{{.*}} annotate_for_users
// BOUNDARY: shard.shard %{{.*}} annotate_for_users
// BOUNDARY: linalg.matmul
// BOUNDARY-NEXT: shard.sharding
// BOUNDARY-NEXT: shard.shard %
// BOUNDARY-NEXT: return
// Upstream partitions it: local blocks, the partial sum all-reduced.
// UPSTREAM-LABEL: func.func @matmul(
// UPSTREAM-SAME: tensor<4x8xf32>
// UPSTREAM-SAME: tensor<8x4xf32>
// UPSTREAM-SAME: -> tensor<4x4xf32>
// UPSTREAM: linalg.matmul {{.*}} -> tensor<4x4xf32>
// UPSTREAM: shard.all_reduce %{{.*}} on @mesh grid_axes = [1] : tensor<4x4xf32> -> tensor<4x4xf32>
func.func @matmul(%a: tensor<8x16xf32> {autopar.sharding = #autopar.sharding<@mesh, [[x], [y]]>},
                  %b: tensor<16x4xf32> {autopar.sharding = #autopar.sharding<@mesh, [[y], []]>})
    -> (tensor<8x4xf32> {autopar.sharding = #autopar.sharding<@mesh, [[x], []]>}) {
  %cst = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<8x4xf32>
  %f = linalg.fill ins(%cst : f32) outs(%e : tensor<8x4xf32>) -> tensor<8x4xf32>
  %m = linalg.matmul {autopar.strategy = #autopar.strategy<@mesh, [[x], [], [y]]>,
                      autopar.shardings = [#autopar.sharding<@mesh, [[x], []], partial = sum [y]>]}
      ins(%a, %b : tensor<8x16xf32>, tensor<16x4xf32>) outs(%f : tensor<8x4xf32>) -> tensor<8x4xf32>
  return %m : tensor<8x4xf32>
}

// -----

// A pin becomes an annotation of the value; roles and updates stay.
autopar.mesh @mesh <gpus = 2>
// CHECK: shard.grid @mesh(shape = 2) {autopar.axis_names = ["gpus"]}
// CHECK-LABEL: func.func @pin(
// CHECK-SAME: {autopar.role = "param"}
// CHECK-SAME: {autopar.updates = 0 : i64}
// CHECK: %[[S:.*]] = shard.sharding @mesh split_axes = {{\[\[}}], [0]] : !shard.sharding
// CHECK: %[[P:.*]] = shard.shard %{{.*}} to %[[S]] : tensor<4x8xf32>
// CHECK-NOT: autopar.shard
func.func @pin(%x: tensor<4x8xf32> {autopar.role = "param"}) -> (tensor<4x8xf32> {autopar.updates = 0 : i64}) {
  %p = autopar.shard %x : tensor<4x8xf32> to #autopar.sharding<@mesh, [[], [gpus]]>
  return %p : tensor<4x8xf32>
}
