// RUN: autopar-opt %s --one-shot-bufferize="bufferize-function-boundaries" --autopar-lower-collectives-to-mpi | FileCheck %s
// RUN: autopar-opt %s --one-shot-bufferize="bufferize-function-boundaries" --autopar-lower-collectives-to-nccl | FileCheck %s --check-prefix=NCCL
// The CUDA backend's lowering makes the same calls under the NCCL runtime's
// prefix.
// NCCL-DAG: func.func private @autopar_nccl_all_reduce_start(i64, i64, i64, i32, i32, i64, i64) -> i64
// NCCL-DAG: func.func private @autopar_nccl_wait(i64)
// NCCL-NOT: autopar.mesh
// NCCL: %[[H:.*]] = call @autopar_nccl_all_reduce_start(%{{.*}}, %{{.*}}, %c24_i64, %c0_i32, %c0_i32, %c131074_i64, %c2_i64)
// NCCL: %[[G:.*]] = call @autopar_nccl_all_gather_start(%{{.*}}, %{{.*}}, %c1_i64, %c24_i64, %c0_i32, %c131074_i64, %c1_i64)
// NCCL: call @autopar_nccl_reduce_scatter_start(%{{.*}}, %{{.*}}, %c4_i64, %c3_i64, %c0_i32, %c3_i32, %c131074_i64, %c2_i64)
// NCCL: call @autopar_nccl_all_to_all(%{{.*}}, %{{.*}}, %c4_i64, %c3_i64, %c1_i64, %c12_i64, %c0_i32, %c131074_i64, %c1_i64)
// NCCL: call @autopar_nccl_wait(%[[H]])
// NCCL-NEXT: call @autopar_nccl_wait(%[[G]])
// Bufferized collectives become MPI runtime calls on contiguous buffers
// (a strided operand is copied first); mesh <x = 2, y = 2> is encoded as
// 2 | 2 << 16 = 131074, axis lists as index + 1 per 4 bits (x: 1, y: 2).
// CHECK-DAG: func.func private @autopar_rt_all_reduce_start(i64, i64, i64, i32, i32, i64, i64) -> i64
// CHECK-DAG: func.func private @autopar_rt_wait(i64)
// CHECK-DAG: func.func private @autopar_rt_all_to_all(i64, i64, i64, i64, i64, i64, i32, i64, i64)
// CHECK-NOT: autopar.mesh
// The all_reduce runs in place, on a copy of %a (which the other
// collectives read after it): 24 floats (type 0), sum (0), over y. All-
// reduces, all-gathers and reduce-scatters start, and are waited for where
// their buffers are next touched: here nothing touches the results before
// the return, so the three waits are there, after the all-to-all, and the
// gather's and reduce-scatter's input copies are freed after their waits
// (overlap.mlir: a gradient's wait).
// CHECK: memref.copy %arg0, %[[IN:.*]] : memref<4x6xf32, strided<[?, ?], offset: ?>> to memref<4x6xf32>
// CHECK: memref.extract_aligned_pointer_as_index %[[IN]]
// CHECK: memref.extract_aligned_pointer_as_index %[[IN]]
// CHECK: %[[H:.*]] = call @autopar_rt_all_reduce_start(%{{.*}}, %{{.*}}, %c24_i64, %c0_i32, %c0_i32, %c131074_i64, %c2_i64)
// Gather along dim 0 over x: [outer 1, chunk 24].
// CHECK: %[[G:.*]] = call @autopar_rt_all_gather_start(%{{.*}}, %{{.*}}, %c1_i64, %c24_i64, %c0_i32, %c131074_i64, %c1_i64)
// Reduce-scatter along dim 1 by max (3): output [outer 4, chunk 3].
// CHECK: %[[S:.*]] = call @autopar_rt_reduce_scatter_start(%{{.*}}, %{{.*}}, %c4_i64, %c3_i64, %c0_i32, %c3_i32, %c131074_i64, %c2_i64)
// All-to-all, split dim 1 / concat dim 0 of a 4x3 slice: [4, 3] and [1, 12].
// CHECK: call @autopar_rt_all_to_all(%{{.*}}, %{{.*}}, %c4_i64, %c3_i64, %c1_i64, %c12_i64, %c0_i32, %c131074_i64, %c1_i64)
// CHECK: call @autopar_rt_wait(%[[H]])
// CHECK-NEXT: call @autopar_rt_wait(%[[G]])
// CHECK-NEXT: memref.dealloc
// CHECK-NEXT: call @autopar_rt_wait(%[[S]])
// CHECK-NEXT: memref.dealloc
// CHECK-NEXT: return

autopar.mesh @mesh <x = 2, y = 2>
func.func @f(%a: tensor<4x6xf32>) -> (tensor<4x6xf32>, tensor<8x6xf32>, tensor<4x3xf32>, tensor<8x3xf32>) {
  %r = autopar.all_reduce %a on @mesh axes [y] reduction = sum : tensor<4x6xf32> -> tensor<4x6xf32>
  %g = autopar.all_gather %a on @mesh axes [x] gather_dim = 0 : tensor<4x6xf32> -> tensor<8x6xf32>
  %s = autopar.reduce_scatter %a on @mesh axes [y] scatter_dim = 1 reduction = max : tensor<4x6xf32> -> tensor<4x3xf32>
  %t = autopar.all_to_all %a on @mesh axes [x] split_dim = 1 concat_dim = 0 : tensor<4x6xf32> -> tensor<8x3xf32>
  return %r, %g, %s, %t : tensor<4x6xf32>, tensor<8x6xf32>, tensor<4x3xf32>, tensor<8x3xf32>
}
