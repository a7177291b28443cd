// One-shot-bufferize carries the collectives from tensors to buffers: each
// tensor collective becomes the `into` form on a new allocation, but an
// all_reduce, which writes over its input where nothing reads it after.
// RUN: autopar-opt %s -one-shot-bufferize="bufferize-function-boundaries" | FileCheck %s
// RUN: autopar-opt %s -one-shot-bufferize="bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map" --autopar-lower-library-calls | FileCheck %s --check-prefix=LIB

autopar.mesh @m <nodes = 2, gpus = 4>

// CHECK-LABEL: func.func @chain
// CHECK-SAME: (%[[X:.*]]: memref<8x16xf32{{.*}}>) -> memref<8x64xf32>
func.func @chain(%x: tensor<8x16xf32>) -> tensor<8x64xf32> {
  // CHECK-NOT: memref.alloc
  // CHECK: autopar.all_reduce %[[X]] into %[[X]] on @m axes [gpus] reduction = sum : memref<8x16xf32{{.*}}> -> memref<8x16xf32{{.*}}>
  %0 = autopar.all_reduce %x on @m axes [gpus] reduction = sum : tensor<8x16xf32> -> tensor<8x16xf32>
  // CHECK: %[[B:.*]] = memref.alloc() {{.*}}: memref<8x64xf32>
  // CHECK: autopar.all_gather %[[X]] into %[[B]] on @m axes [gpus] gather_dim = 1 : memref<8x16xf32{{.*}}> -> memref<8x64xf32>
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

// The input is read after the all_reduce (an in-place update of it): the
// all_reduce writes over a copy, and the update goes to the input.
// CHECK-LABEL: func.func @input_is_read_only
// CHECK-SAME: (%[[IN:.*]]: memref
func.func @input_is_read_only(%x: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
  %c0 = arith.constant 0 : index
  %f = arith.constant 1.0 : f32
  // CHECK: %[[COPY:.*]] = memref.alloc
  // CHECK: memref.copy %[[IN]], %[[COPY]]
  // CHECK: autopar.all_reduce %[[COPY]] into %[[COPY]] on
  %0 = autopar.all_reduce %x on @m axes [gpus] reduction = sum : tensor<4xf32> -> tensor<4xf32>
  // CHECK: memref.store %{{.*}}, %[[IN]]
  %1 = tensor.insert %f into %x[%c0] : tensor<4xf32>
  return %0, %1 : tensor<4xf32>, tensor<4xf32>
}

// A send reads its value's buffer; a recv writes a new allocation.
// CHECK-LABEL: func.func @transfers
// CHECK-SAME: (%[[X:.*]]: memref<8x16xf32{{.*}}>) -> memref<8x16xf32>
func.func @transfers(%x: tensor<8x16xf32>) -> tensor<8x16xf32> {
  // CHECK: autopar.send %[[X]] to 1 on @m axes [gpus] tag 2 : memref<8x16xf32{{.*}}>
  autopar.send %x to 1 on @m axes [gpus] tag 2 : tensor<8x16xf32>
  // CHECK: %[[NEW:.*]] = memref.alloc() {{.*}}: memref<8x16xf32>
  // CHECK: autopar.recv from 3 on @m axes [gpus] tag 4 into %[[NEW]] : memref<8x16xf32>
  %0 = autopar.recv from 3 on @m axes [gpus] tag 4 : tensor<8x16xf32>
  // CHECK: return %[[NEW]]
  return %0 : tensor<8x16xf32>
}

// A library call bufferizes as a destination-style op: the inputs' buffers
// (a strided view copied into a contiguous one first), its output the
// init's buffer; then autopar-lower-library-calls makes it the call, its
// run-time scalars (an index, an i32) last, as i64.
// LIB: func.func private @lib_f(i64, i64, i64, f64, i64, i64) attributes {autopar.stream_ordered}
// LIB-LABEL: func.func @library_call
// LIB: %[[OUT:.*]] = memref.alloc() {{.*}}: memref<4x4xf32>
// LIB: %[[COPY:.*]] = memref.alloc() : memref<4x4xf32>
// LIB: memref.copy %{{.*}}, %[[COPY]] : memref<4x4xf32, strided<[8, 1]>> to memref<4x4xf32>
// LIB: memref.extract_aligned_pointer_as_index %[[COPY]]
// LIB: memref.extract_aligned_pointer_as_index %[[OUT]]
// LIB: %[[N:.*]] = arith.constant 16 : i64
// LIB: %[[S:.*]] = arith.constant 5.000000e-01 : f64
// LIB: %[[I:.*]] = arith.index_cast %[[ROW:.*]] : index to i64
// LIB: %[[C:.*]] = arith.extsi %[[COUNT:.*]] : i32 to i64
// LIB: call @lib_f(%{{.*}}, %{{.*}}, %[[N]], %[[S]], %[[I]], %[[C]]) {autopar.writes = array<i32: 1>} : (i64, i64, i64, f64, i64, i64) -> ()
// LIB: return %[[OUT]]
func.func @library_call(%wide: tensor<4x8xf32>, %row: index, %count: i32) -> tensor<4x4xf32> {
  %view = tensor.extract_slice %wide[0, 0] [4, 4] [1, 1] : tensor<4x8xf32> to tensor<4x4xf32>
  %init = tensor.empty() : tensor<4x4xf32>
  %r = autopar.library_call "lib_f" ins(%view : tensor<4x4xf32>) outs(%init : tensor<4x4xf32>) values [16, 5.000000e-01 : f64] scalars(%row, %count : index, i32) stream_ordered -> tensor<4x4xf32>
  return %r : tensor<4x4xf32>
}
