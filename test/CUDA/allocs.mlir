// RUN: autopar-opt %s --autopar-allocs-to-gpu | FileCheck %s
// Where each host buffer lives: device memory from the stream-ordered pool
// when only the GPU touches it (kernels, stream-ordered runtime calls by
// address, views of it), managed memory when the host does (a load, a
// copy, a result of the function). Every buffer is freed through the
// runtime; a constant is copied into managed memory where it is taken
// (kernels cannot read host globals) and freed at the function's end.

module attributes {gpu.container_module} {
  memref.global "private" constant @weights : memref<4xf32> = dense<[1.0, 2.0, 3.0, 4.0]>
  gpu.module @kernels {
    gpu.func @scale(%a: memref<4xf32>, %b: memref<4xf32>, %c: memref<4xf32>) kernel {
      gpu.return
    }
  }
  func.func private @library(i64) attributes {autopar.stream_ordered}
  func.func private @host_reader(i64)

  // CHECK-DAG: func.func private @autopar_cuda_free_device(i64) attributes {autopar.stream_ordered}
  // CHECK-DAG: func.func private @autopar_cuda_free_managed(i64) attributes {autopar.stream_ordered}
  // CHECK-LABEL: func.func @place(
  // CHECK: %[[STREAM:.*]] = gpu.wait async
  // CHECK: %[[G:.*]] = memref.get_global @weights : memref<4xf32>
  // CHECK: %[[W:.*]] = gpu.alloc  host_shared () : memref<4xf32>
  // CHECK: memref.copy %[[G]], %[[W]]
  // A kernel's operand and a stream-ordered call's (through a view):
  // device memory, on the stream.
  // CHECK: %[[T:.*]], %{{.*}} = gpu.alloc async [%[[STREAM]]] () : memref<4xf32>
  // Read by host code: managed.
  // CHECK: %[[H:.*]] = gpu.alloc  host_shared () : memref<4xf32>
  // Its address given to a function that is not stream-ordered: managed.
  // CHECK: %[[X:.*]] = gpu.alloc  host_shared () : memref<4xf32>
  // Returned: managed.
  // CHECK: %[[R:.*]] = gpu.alloc  host_shared () : memref<4xf32>
  // CHECK: gpu.launch_func  @kernels::@scale {{.*}} args(%[[W]] : memref<4xf32>, %[[T]] : memref<4xf32>, %[[H]] : memref<4xf32>)
  // CHECK: memref.load %[[H]]
  // Freed by placement (no driver query): the device buffer to the pool,
  // the managed ones through the reuse cache, the constant's copy last.
  // CHECK: call @autopar_cuda_free_device
  // CHECK: call @autopar_cuda_free_managed
  // CHECK: call @autopar_cuda_free_managed
  // CHECK: call @autopar_cuda_free_managed
  // CHECK-NEXT: return %[[R]]
  func.func @place(%i: index) -> (memref<4xf32>, f32) {
    %c1 = arith.constant 1 : index
    %w = memref.get_global @weights : memref<4xf32>
    %t = memref.alloc() : memref<4xf32>
    %h = memref.alloc() : memref<4xf32>
    %x = memref.alloc() : memref<4xf32>
    %r = memref.alloc() : memref<4xf32>
    gpu.launch_func @kernels::@scale blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1)
        args(%w : memref<4xf32>, %t : memref<4xf32>, %h : memref<4xf32>)
    %view = memref.subview %t[1] [2] [1] : memref<4xf32> to memref<2xf32, strided<[1], offset: 1>>
    %p = memref.extract_aligned_pointer_as_index %view : memref<2xf32, strided<[1], offset: 1>> -> index
    %a = arith.index_cast %p : index to i64
    call @library(%a) : (i64) -> ()
    %q = memref.extract_aligned_pointer_as_index %x : memref<4xf32> -> index
    %b = arith.index_cast %q : index to i64
    call @host_reader(%b) : (i64) -> ()
    %v = memref.load %h[%i] : memref<4xf32>
    memref.dealloc %t : memref<4xf32>
    memref.dealloc %h : memref<4xf32>
    memref.dealloc %x : memref<4xf32>
    return %r, %v : memref<4xf32>, f32
  }
}
