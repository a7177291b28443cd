// RUN: autopar-opt %s --autopar-allocs-to-gpu | FileCheck %s
// Host buffers in managed memory, freed through the runtime; a constant is
// copied into managed memory where it is taken (kernels cannot read host
// globals) and freed at the function's end.

memref.global "private" constant @weights : memref<4xf32> = dense<[1.0, 2.0, 3.0, 4.0]>

// CHECK: func.func private @autopar_cuda_free(i64)
// CHECK-LABEL: func.func @scale(
// CHECK: %[[G:.*]] = memref.get_global @weights : memref<4xf32>
// CHECK: %[[W:.*]] = gpu.alloc  host_shared () : memref<4xf32>
// CHECK: memref.copy %[[G]], %[[W]]
// CHECK: %[[T:.*]] = gpu.alloc  host_shared () : memref<4xf32>
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %[[W]] : {{.*}}) outs(%[[T]] : memref<4xf32>)
// CHECK: %[[P:.*]] = memref.extract_aligned_pointer_as_index %[[T]]
// CHECK: %[[A:.*]] = arith.index_cast %[[P]] : index to i64
// CHECK: call @autopar_cuda_free(%[[A]])
// CHECK: %[[Q:.*]] = memref.extract_aligned_pointer_as_index %[[W]]
// CHECK: %[[B:.*]] = arith.index_cast %[[Q]] : index to i64
// CHECK: call @autopar_cuda_free(%[[B]])
// CHECK-NEXT: return
func.func @scale(%x: memref<4xf32>, %out: memref<4xf32>) {
  %w = memref.get_global @weights : memref<4xf32>
  %t = memref.alloc() : memref<4xf32>
  linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]}
      ins(%x, %w : memref<4xf32>, memref<4xf32>) outs(%t : memref<4xf32>) {
  ^bb0(%a: f32, %b: f32, %c: f32):
    %m = arith.mulf %a, %b : f32
    linalg.yield %m : f32
  }
  memref.copy %t, %out : memref<4xf32> to memref<4xf32>
  memref.dealloc %t : memref<4xf32>
  return
}
