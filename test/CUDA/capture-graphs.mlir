// RUN: autopar-opt %s --autopar-capture-graphs="functions=step,returns,waits,managed,host,calls,clock" -split-input-file -verify-diagnostics | FileCheck %s
// RUN: not autopar-opt %s --autopar-capture-graphs="functions=missing" -split-input-file 2>&1 | FileCheck %s --check-prefix=MISSING
// A step whose host code only enqueues GPU work (after
// autopar-order-on-stream) is wrapped: its buffers' addresses make the
// graph's key, autopar_cuda_graph_begin says whether its host code runs (as
// is, or captured) or was replayed (2), autopar_cuda_graph_end ends a
// capture. Steps that return buffers, wait for the GPU, allocate managed
// memory, touch a buffer on the host, call a function of the module or a
// host function keep running as they are, with a warning naming why.

// MISSING: error: autopar-capture-graphs: no function @missing with a body

module attributes {gpu.container_module} {
  gpu.module @kernels {
    gpu.func @fill(%a: memref<8xf32>) kernel {
      gpu.return
    }
  }
  func.func private @gemm(i64) attributes {autopar.stream_ordered}
  func.func private @autopar_cuda_free_device(i64) attributes {autopar.stream_ordered}
  func.func private @autopar_cuda_synchronize()
  func.func private @wtime() -> f64

  // CHECK: llvm.mlir.global internal constant @autopar_graph_name_step("step\00")
  // CHECK-LABEL: func.func private @step(
  // CHECK-SAME: %[[A:.*]]: memref<8xf32>, %[[B:.*]]: memref<f32>)
  // CHECK: %[[PA:.*]] = memref.extract_aligned_pointer_as_index %[[A]]
  // CHECK: %[[IA:.*]] = arith.index_cast %[[PA]] : index to i64
  // CHECK: call @autopar_cuda_graph_key(%[[IA]])
  // CHECK: %[[PB:.*]] = memref.extract_aligned_pointer_as_index %[[B]]
  // CHECK: %[[IB:.*]] = arith.index_cast %[[PB]] : index to i64
  // CHECK: call @autopar_cuda_graph_key(%[[IB]])
  // CHECK: %[[GLOBAL:.*]] = llvm.mlir.addressof @autopar_graph_name_step
  // CHECK: %[[NAME:.*]] = llvm.getelementptr %[[GLOBAL]][0, 0]
  // CHECK: %[[ACTION:.*]] = call @autopar_cuda_graph_begin(%[[NAME]]) : (!llvm.ptr) -> i32
  // CHECK: %[[REPLAYED:.*]] = arith.constant 2 : i32
  // CHECK: %[[GO:.*]] = arith.cmpi ne, %[[ACTION]], %[[REPLAYED]]
  // CHECK: scf.if %[[GO]] {
  // CHECK: gpu.wait async
  // CHECK: gpu.alloc async
  // CHECK: gpu.launch_func async
  // CHECK: call @gemm
  // CHECK: call @autopar_cuda_free_device
  // CHECK: call @autopar_cuda_graph_end(%[[NAME]])
  // CHECK-NEXT: }
  // CHECK-NEXT: return
  func.func private @step(%a: memref<8xf32>, %b: memref<f32>) {
    %s = gpu.wait async
    %c1 = arith.constant 1 : index
    %t, %token = gpu.alloc async [%s] () : memref<8xf32>
    %t1 = gpu.launch_func async [%s] @kernels::@fill blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%t : memref<8xf32>)
    %p = memref.extract_aligned_pointer_as_index %a : memref<8xf32> -> index
    %i = arith.index_cast %p : index to i64
    call @gemm(%i) : (i64) -> ()
    %q = memref.extract_aligned_pointer_as_index %t : memref<8xf32> -> index
    %j = arith.index_cast %q : index to i64
    call @autopar_cuda_free_device(%j) : (i64) -> ()
    return
  }

  // expected-warning @below {{@returns runs without a CUDA graph: it returns 1 buffer(s) that a replay would not make}}
  func.func private @returns(%a: memref<8xf32>) -> memref<8xf32> {
    return %a : memref<8xf32>
  }

  // expected-warning @below {{@waits runs without a CUDA graph: it waits for the GPU before the host touches a buffer}}
  func.func private @waits(%a: memref<8xf32>) {
    // expected-note @below {{here}}
    call @autopar_cuda_synchronize() : () -> ()
    return
  }

  // expected-warning @below {{@managed runs without a CUDA graph: it allocates managed memory}}
  func.func private @managed(%a: memref<8xf32>) {
    // expected-note @below {{here}}
    %m = gpu.alloc host_shared () : memref<8xf32>
    return
  }

  // expected-warning @below {{@host runs without a CUDA graph: the host touches a buffer ('memref.load')}}
  func.func private @host(%a: memref<8xf32>) {
    %c0 = arith.constant 0 : index
    // expected-note @below {{here}}
    %v = memref.load %a[%c0] : memref<8xf32>
    return
  }

  // expected-warning @below {{@calls runs without a CUDA graph: it calls @step, whose host code is not checked}}
  func.func private @calls(%a: memref<8xf32>, %b: memref<f32>) {
    // expected-note @below {{here}}
    call @step(%a, %b) : (memref<8xf32>, memref<f32>) -> ()
    return
  }

  // expected-warning @below {{@clock runs without a CUDA graph: it calls @wtime on the host}}
  func.func private @clock(%a: memref<8xf32>) {
    // expected-note @below {{here}}
    %t = call @wtime() : () -> f64
    return
  }
}
