// RUN: autopar-opt %s -split-input-file -autopar-update-in-place | FileCheck %s
// RUN: autopar-opt %s -split-input-file --pass-pipeline="builtin.module(autopar-update-in-place,one-shot-bufferize{bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map},drop-equivalent-buffer-results)" | FileCheck %s --check-prefix=BUF
// RUN: autopar-opt %s -split-input-file --pass-pipeline="builtin.module(autopar-update-in-place,one-shot-bufferize{bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map},func.func(canonicalize),drop-equivalent-buffer-results)" | FileCheck %s --check-prefix=CANON

// A private step's update of argument 0 is computed into that argument;
// once bufferized it is written over the argument's buffer, the result is
// gone and the caller keeps passing the same buffer. The loss (no
// autopar.updates) stays a result.
#id = affine_map<(d0) -> (d0)>
// CHECK-LABEL: func.func private @step(
// CHECK-SAME: %[[P:[^:]*]]: tensor<4xf32> {autopar.in_place}, %[[G:[^:]*]]: tensor<4xf32>)
// CHECK: linalg.generic {{.*}} ins(%[[P]], %[[G]] : tensor<4xf32>, tensor<4xf32>) outs(%[[P]] : tensor<4xf32>)
// BUF-LABEL: func.func private @step(
// BUF-SAME: %[[P:[^:]*]]: memref<4xf32> {autopar.in_place}, %[[G:[^:]*]]: memref<4xf32>) -> memref<f32>
// BUF: linalg.generic {{.*}} ins(%[[P]], %[[G]] : memref<4xf32>, memref<4xf32>) outs(%[[P]] : memref<4xf32>)
// BUF-NOT: memref.copy
// BUF: return %{{.*}} : memref<f32>
// BUF-LABEL: func.func @main(
// BUF-SAME: %[[P0:[^:]*]]: memref<4xf32>
// BUF: call @step(%[[P0]], %{{.*}}) : (memref<4xf32>, memref<4xf32>) -> memref<f32>
// BUF-NOT: memref.alloc
// BUF: call @step(%[[P0]], %{{.*}}) : (memref<4xf32>, memref<4xf32>) -> memref<f32>
func.func private @step(%p: tensor<4xf32>, %g: tensor<4xf32>)
    -> (tensor<4xf32> {autopar.updates = 0 : i64}, tensor<f32>) {
  %e = tensor.empty() : tensor<4xf32>
  %r = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel"]}
      ins(%p, %g : tensor<4xf32>, tensor<4xf32>) outs(%e : tensor<4xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %s = arith.subf %a, %b : f32
    linalg.yield %s : f32
  } -> tensor<4xf32>
  %z = arith.constant dense<0.0> : tensor<f32>
  return %r, %z : tensor<4xf32>, tensor<f32>
}
func.func @main(%p0: tensor<4xf32>, %g: tensor<4xf32>) -> (tensor<4xf32>, tensor<f32>) {
  %p1, %l1 = func.call @step(%p0, %g) : (tensor<4xf32>, tensor<4xf32>) -> (tensor<4xf32>, tensor<f32>)
  %p2, %l2 = func.call @step(%p1, %g) : (tensor<4xf32>, tensor<4xf32>) -> (tensor<4xf32>, tensor<f32>)
  return %p2, %l2 : tensor<4xf32>, tensor<f32>
}

// -----

// The argument is read after its update: bufferization keeps the update
// out of place (a buffer of its own, still returned), so the later read
// sees the old value. The argument stays marked: one the function does not
// write may share a buffer only with arguments it does not write either,
// which no pass minds.
#id = affine_map<(d0) -> (d0)>
// CHECK-LABEL: func.func private @read_after(
// CHECK-SAME: %[[P:[^:]*]]: tensor<4xf32>
// CHECK: linalg.generic {{.*}} outs(%[[P]] : tensor<4xf32>)
// BUF-LABEL: func.func private @read_after(
// BUF-SAME: %[[P:[^:]*]]: memref<4xf32> {autopar.in_place}) -> (memref<4xf32> {autopar.updates = 0 : i64}, memref<4xf32>)
// BUF: %[[NEW:.*]] = memref.alloc() {{.*}} : memref<4xf32>
// BUF: linalg.generic {{.*}} ins(%[[P]] : memref<4xf32>) outs(%[[NEW]] : memref<4xf32>)
// BUF: linalg.generic {{.*}} ins(%[[P]] : memref<4xf32>)
// BUF: return %[[NEW]], %{{.*}} : memref<4xf32>, memref<4xf32>
func.func private @read_after(%p: tensor<4xf32>)
    -> (tensor<4xf32> {autopar.updates = 0 : i64}, tensor<4xf32>) {
  %e = tensor.empty() : tensor<4xf32>
  %r = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]}
      ins(%p : tensor<4xf32>) outs(%e : tensor<4xf32>) {
  ^bb0(%a: f32, %o: f32):
    %s = arith.addf %a, %a : f32
    linalg.yield %s : f32
  } -> tensor<4xf32>
  %e2 = tensor.empty() : tensor<4xf32>
  %old = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]}
      ins(%p : tensor<4xf32>) outs(%e2 : tensor<4xf32>) {
  ^bb0(%a: f32, %o: f32):
    %s = arith.mulf %a, %a : f32
    linalg.yield %s : f32
  } -> tensor<4xf32>
  return %r, %old : tensor<4xf32>, tensor<4xf32>
}

// -----

// Left alone: a public function (its callers may be outside the module:
// its calling convention stays), a result whose op reads its empty
// destination, a result that is not an op's (the argument itself).
#id = affine_map<(d0) -> (d0)>
// CHECK-LABEL: func.func @public(
// CHECK: outs(%{{.*}} : tensor<4xf32>)
// CHECK-NOT: outs(%arg0
func.func @public(%p: tensor<4xf32>) -> (tensor<4xf32> {autopar.updates = 0 : i64}) {
  %e = tensor.empty() : tensor<4xf32>
  %r = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]}
      ins(%p : tensor<4xf32>) outs(%e : tensor<4xf32>) {
  ^bb0(%a: f32, %o: f32):
    linalg.yield %a : f32
  } -> tensor<4xf32>
  return %r : tensor<4xf32>
}
// CHECK-LABEL: func.func private @reads_init(
// CHECK: %[[E:.*]] = tensor.empty
// CHECK: outs(%[[E]] : tensor<4xf32>)
func.func private @reads_init(%p: tensor<4xf32>) -> (tensor<4xf32> {autopar.updates = 0 : i64}) {
  %e = tensor.empty() : tensor<4xf32>
  %r = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]}
      ins(%p : tensor<4xf32>) outs(%e : tensor<4xf32>) {
  ^bb0(%a: f32, %o: f32):
    %s = arith.addf %a, %o : f32
    linalg.yield %s : f32
  } -> tensor<4xf32>
  return %r : tensor<4xf32>
}
// CHECK-LABEL: func.func private @same(
// CHECK-NEXT: return %arg0
func.func private @same(%p: tensor<4xf32>) -> (tensor<4xf32> {autopar.updates = 0 : i64}) {
  return %p : tensor<4xf32>
}

// -----

// A pipeline stage's program: each case of the switch over stages updates
// its own parameter (computed into the argument) and passes the other's
// argument through. Once bufferized every case yields the argument's
// buffer; canonicalization forwards it and the results go.
#id = affine_map<(d0) -> (d0)>
// CHECK-LABEL: func.func private @stages(
// CHECK-SAME: %[[S:[^:]*]]: index, %[[P:[^:]*]]: tensor<4xf32> {autopar.in_place}, %[[Q:[^:]*]]: tensor<4xf32> {autopar.in_place}, %[[G:[^:]*]]: tensor<4xf32>)
// CHECK: case 0 {
// CHECK: %[[U:.*]] = linalg.generic {{.*}} outs(%[[P]] : tensor<4xf32>)
// CHECK: scf.yield %[[U]], %[[Q]]
// CHECK: default {
// CHECK: %[[V:.*]] = linalg.generic {{.*}} outs(%[[Q]] : tensor<4xf32>)
// CHECK: scf.yield %[[P]], %[[V]]
// CANON-LABEL: func.func private @stages(
// CANON-SAME: -> memref<f32>
func.func private @stages(%stage: index, %p: tensor<4xf32>, %q: tensor<4xf32>, %g: tensor<4xf32>)
    -> (tensor<4xf32> {autopar.updates = 1 : i64}, tensor<4xf32> {autopar.updates = 2 : i64}, tensor<f32>) {
  %r:2 = scf.index_switch %stage -> tensor<4xf32>, tensor<4xf32>
  case 0 {
    %e = tensor.empty() : tensor<4xf32>
    %u = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel"]}
        ins(%p, %g : tensor<4xf32>, tensor<4xf32>) outs(%e : tensor<4xf32>) {
    ^bb0(%a: f32, %b: f32, %o: f32):
      %s = arith.subf %a, %b : f32
      linalg.yield %s : f32
    } -> tensor<4xf32>
    scf.yield %u, %q : tensor<4xf32>, tensor<4xf32>
  }
  default {
    %e = tensor.empty() : tensor<4xf32>
    %v = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel"]}
        ins(%q, %g : tensor<4xf32>, tensor<4xf32>) outs(%e : tensor<4xf32>) {
    ^bb0(%a: f32, %b: f32, %o: f32):
      %s = arith.subf %a, %b : f32
      linalg.yield %s : f32
    } -> tensor<4xf32>
    scf.yield %p, %v : tensor<4xf32>, tensor<4xf32>
  }
  %z = arith.constant dense<0.0> : tensor<f32>
  return %r#0, %r#1, %z : tensor<4xf32>, tensor<4xf32>, tensor<f32>
}

// -----

// An update that arrives from another stage (a tied weight) or from a
// collective (ZeRO's all-gather of the updated shards, unpacked by slices
// and reshapes) has no destination at the tensor level: it is copied into
// the argument.
autopar.mesh @mesh <gpus = 2>
// CHECK-LABEL: func.func private @communicated(
// CHECK-SAME: %[[P:[^:]*]]: tensor<4xf32> {autopar.in_place}, %[[W:[^:]*]]: tensor<2x2xf32> {autopar.in_place}, %[[S:[^:]*]]: tensor<1x4xf32>)
// CHECK: %[[R:.*]] = autopar.recv from 0
// CHECK: %[[G:.*]] = autopar.all_gather
// CHECK: %[[X:.*]] = tensor.extract_slice %[[G]]
// CHECK: %[[E:.*]] = tensor.expand_shape %[[X]]
// The copies go where the values are returned: the received value's other
// use (the sum) still reads it, and nothing reads the argument after it is
// written.
// CHECK: %[[SUM:.*]] = linalg.add ins(%[[R]], %[[P]] : tensor<4xf32>, tensor<4xf32>)
// CHECK: %[[RC:.*]] = linalg.copy ins(%[[R]] : tensor<4xf32>) outs(%[[P]] : tensor<4xf32>)
// CHECK: %[[EC:.*]] = linalg.copy ins(%[[E]] : tensor<2x2xf32>) outs(%[[W]] : tensor<2x2xf32>)
// CHECK: return %[[RC]], %[[EC]], %[[SUM]]
func.func private @communicated(%p: tensor<4xf32>, %w: tensor<2x2xf32>, %shard: tensor<1x4xf32>)
    -> (tensor<4xf32> {autopar.updates = 0 : i64}, tensor<2x2xf32> {autopar.updates = 1 : i64}, tensor<4xf32>) {
  %r = autopar.recv from 0 on @mesh axes [gpus] tag 3 : tensor<4xf32>
  %g = autopar.all_gather %shard on @mesh axes [gpus] gather_dim = 0 : tensor<1x4xf32> -> tensor<2x4xf32>
  %x = tensor.extract_slice %g[0, 0] [1, 4] [1, 1] : tensor<2x4xf32> to tensor<4xf32>
  %e = tensor.expand_shape %x [[0, 1]] output_shape [2, 2] : tensor<4xf32> into tensor<2x2xf32>
  %z = tensor.empty() : tensor<4xf32>
  %sum = linalg.add ins(%r, %p : tensor<4xf32>, tensor<4xf32>) outs(%z : tensor<4xf32>) -> tensor<4xf32>
  return %r, %e, %sum : tensor<4xf32>, tensor<2x2xf32>, tensor<4xf32>
}
