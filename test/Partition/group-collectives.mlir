// RUN: autopar-opt %s --pass-pipeline="builtin.module(func.func(autopar-group-collectives))" --split-input-file | FileCheck %s
// RUN: autopar-opt %s --pass-pipeline="builtin.module(func.func(autopar-group-collectives{max-bytes=48}))" --split-input-file | FileCheck %s --check-prefix=LIMIT
// Independent all_reduces of one kind share one buffer, emitted before the
// first use; the others stay.

autopar.mesh @mesh <x = 2, y = 2>
// Three gradients (2-D, 1-D, 0-D) reduced over x: one packed all_reduce of
// 8 + 4 + 1 elements before the first update; the max over x and the sum
// over y are other groups of one and stay as they are.
// CHECK-LABEL: func.func @buckets(
// CHECK-SAME: %[[A:[^:]*]]: tensor<2x4xf32>, %[[B:[^:]*]]: tensor<4xf32>, %[[C:[^:]*]]: tensor<f32>
// CHECK: %[[E:.*]] = tensor.empty() : tensor<13xf32>
// CHECK: %[[FA:.*]] = tensor.collapse_shape %[[A]] {{\[\[}}0, 1]] : tensor<2x4xf32> into tensor<8xf32>
// CHECK: %[[P0:.*]] = tensor.insert_slice %[[FA]] into %[[E]][0] [8] [1]
// CHECK: %[[P1:.*]] = tensor.insert_slice %[[B]] into %[[P0]][8] [4] [1]
// CHECK: %[[FC:.*]] = tensor.expand_shape %[[C]] [] output_shape [1] : tensor<f32> into tensor<1xf32>
// CHECK: %[[P2:.*]] = tensor.insert_slice %[[FC]] into %[[P1]][12] [1] [1]
// CHECK: %[[R:.*]] = autopar.all_reduce %[[P2]] on @mesh axes [x] reduction = sum : tensor<13xf32> -> tensor<13xf32>
// CHECK: %[[RA:.*]] = tensor.extract_slice %[[R]][0] [8] [1] : tensor<13xf32> to tensor<8xf32>
// CHECK: tensor.expand_shape %[[RA]] {{\[\[}}0, 1]] output_shape [2, 4] : tensor<8xf32> into tensor<2x4xf32>
// CHECK: tensor.extract_slice %[[R]][8] [4] [1] : tensor<13xf32> to tensor<4xf32>
// CHECK: %[[RC:.*]] = tensor.extract_slice %[[R]][12] [1] [1] : tensor<13xf32> to tensor<1xf32>
// CHECK: tensor.collapse_shape %[[RC]] [] : tensor<1xf32> into tensor<f32>
// CHECK: linalg.generic
// CHECK-NOT: autopar.all_reduce {{.*}}axes [x] reduction = sum
// CHECK: autopar.all_reduce %[[B]] on @mesh axes [x] reduction = max
// CHECK: autopar.all_reduce %[[B]] on @mesh axes [y] reduction = sum
// With a 48-byte limit, the 32-byte and 16-byte gradients share a buffer
// and the scalar gets its own.
// LIMIT-LABEL: func.func @buckets(
// LIMIT: autopar.all_reduce %{{.*}} on @mesh axes [x] reduction = sum : tensor<12xf32> -> tensor<12xf32>
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
