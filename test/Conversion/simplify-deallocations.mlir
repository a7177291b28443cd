// RUN: autopar-opt %s -autopar-simplify-deallocations | FileCheck %s

// Upstream's simplification proves a new allocation apart from an argument:
// the retained argument goes, and with it the run-time check.
// CHECK-LABEL: func.func @simplified
// CHECK: %[[ALLOC:.*]] = memref.alloc()
// CHECK: bufferization.dealloc (%[[ALLOC]] : memref<2xf32>) if (%{{.*}}){{$}}
// CHECK-NOT: retain
// CHECK: return %false
func.func @simplified(%arg: memref<2xf32>, %cond: i1, %x: f32) -> i1 {
  %c0 = arith.constant 0 : index
  %alloc = memref.alloc() : memref<2xf32>
  memref.store %x, %alloc[%c0] : memref<2xf32>
  %keep = bufferization.dealloc (%alloc : memref<2xf32>) if (%cond) retain (%arg : memref<2xf32>)
  return %keep : i1
}

// A function marked autopar.runtime_deallocation (autopar-run's driver)
// keeps the dealloc as it is: lowered, it compares the addresses at run time.
// CHECK-LABEL: func.func @checked
// CHECK: %[[ALLOC:.*]] = memref.alloc()
// CHECK: %[[KEEP:.*]] = bufferization.dealloc (%[[ALLOC]] : memref<2xf32>) if (%{{.*}}) retain (%{{.*}} : memref<2xf32>)
// CHECK: return %[[KEEP]]
func.func @checked(%arg: memref<2xf32>, %cond: i1, %x: f32) -> i1 attributes {autopar.runtime_deallocation} {
  %c0 = arith.constant 0 : index
  %alloc = memref.alloc() : memref<2xf32>
  memref.store %x, %alloc[%c0] : memref<2xf32>
  %keep = bufferization.dealloc (%alloc : memref<2xf32>) if (%cond) retain (%arg : memref<2xf32>)
  return %keep : i1
}
