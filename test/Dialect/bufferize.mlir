// One-shot-bufferize carries the collectives from tensors to buffers: each
// tensor collective becomes the `into` form on a new allocation.
// RUN: autopar-opt %s -one-shot-bufferize="bufferize-function-boundaries" | FileCheck %s

autopar.mesh @m <nodes = 2, gpus = 4>

// CHECK-LABEL: func.func @chain
// CHECK-SAME: (%[[X:.*]]: memref<8x16xf32{{.*}}>) -> memref<8x64xf32>
func.func @chain(%x: tensor<8x16xf32>) -> tensor<8x64xf32> {
  // CHECK: %[[A:.*]] = memref.alloc() {{.*}}: memref<8x16xf32>
  // CHECK: autopar.all_reduce %[[X]] into %[[A]] on @m axes [gpus] reduction = sum : memref<8x16xf32{{.*}}> -> memref<8x16xf32>
  %0 = autopar.all_reduce %x on @m axes [gpus] reduction = sum : tensor<8x16xf32> -> tensor<8x16xf32>
  // CHECK: %[[B:.*]] = memref.alloc() {{.*}}: memref<8x64xf32>
  // CHECK: autopar.all_gather %[[A]] into %[[B]] on @m axes [gpus] gather_dim = 1 : memref<8x16xf32> -> memref<8x64xf32>
  %1 = autopar.all_gather %0 on @m axes [gpus] gather_dim = 1 : tensor<8x16xf32> -> tensor<8x64xf32>
  // CHECK: return %[[B]]
  return %1 : tensor<8x64xf32>
}

// CHECK-LABEL: func.func @all_kinds
func.func @all_kinds(%x: tensor<8x16xf32>) -> (tensor<4x16xf32>, tensor<16x8xf32>, tensor<8x16xf32>, tensor<8x16xf32>) {
  // CHECK: autopar.reduce_scatter %{{.*}} into %{{.*}} on @m axes [nodes] scatter_dim = 0 reduction = max : memref<8x16xf32{{.*}}> -> memref<4x16xf32>
  %0 = autopar.reduce_scatter %x on @m axes [nodes] scatter_dim = 0 reduction = max : tensor<8x16xf32> -> tensor<4x16xf32>
  // CHECK: autopar.all_to_all %{{.*}} into %{{.*}} on @m axes [nodes] split_dim = 1 concat_dim = 0 : memref<8x16xf32{{.*}}> -> memref<16x8xf32>
  %1 = autopar.all_to_all %x on @m axes [nodes] split_dim = 1 concat_dim = 0 : tensor<8x16xf32> -> tensor<16x8xf32>
  // CHECK: autopar.broadcast %{{.*}} into %{{.*}} on @m axes [gpus] root = [3] : memref<8x16xf32{{.*}}> -> memref<8x16xf32>
  %2 = autopar.broadcast %x on @m axes [gpus] root = [3] : tensor<8x16xf32> -> tensor<8x16xf32>
  // CHECK: autopar.permute %{{.*}} into %{{.*}} on @m axes [gpus] pairs = [0 -> 1] : memref<8x16xf32{{.*}}> -> memref<8x16xf32>
  %3 = autopar.permute %x on @m axes [gpus] pairs = [0 -> 1] : tensor<8x16xf32> -> tensor<8x16xf32>
  return %0, %1, %2, %3 : tensor<4x16xf32>, tensor<16x8xf32>, tensor<8x16xf32>, tensor<8x16xf32>
}

// The input is only read: an in-place update of it after the collective
// must not clobber what the collective reads (the result is a new buffer).
// CHECK-LABEL: func.func @input_is_read_only
func.func @input_is_read_only(%x: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
  %c0 = arith.constant 0 : index
  %f = arith.constant 1.0 : f32
  // CHECK: autopar.all_reduce %[[IN:.*]] into %[[OUT:.*]] on
  %0 = autopar.all_reduce %x on @m axes [gpus] reduction = sum : tensor<4xf32> -> tensor<4xf32>
  // CHECK: memref.store %{{.*}}, %[[IN]]
  %1 = tensor.insert %f into %x[%c0] : tensor<4xf32>
  return %0, %1 : tensor<4xf32>, tensor<4xf32>
}
