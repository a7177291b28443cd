// RUN: autopar-opt %s --autopar-order-on-stream | FileCheck %s
// Kernel launches run on the function's compute stream without the host
// waiting; the host waits (autopar_cuda_synchronize) only before it touches
// a buffer while GPU work may be in flight.

module attributes {gpu.container_module} {
  gpu.module @kernels {
    gpu.func @fill(%a: memref<8xf32>) kernel {
      %c0 = arith.constant 0 : index
      %zero = arith.constant 0.0 : f32
      memref.store %zero, %a[%c0] : memref<8xf32>
      gpu.return
    }
    gpu.func @sum(%a: memref<8xf32>, %out: memref<f32>) kernel {
      %c0 = arith.constant 0 : index
      %v = memref.load %a[%c0] : memref<8xf32>
      memref.store %v, %out[] : memref<f32>
      gpu.return
    }
  }
  func.func private @gemm(i64) attributes {autopar.stream_ordered}
  func.func private @gemm2(i64, i64) attributes {autopar.stream_ordered}
  func.func private @wtime() -> f64

  // CHECK-LABEL: func.func @step(
  // CHECK: %[[STREAM:.*]] = gpu.wait async
  // CHECK: gpu.launch_func async [%[[STREAM]]] @kernels::@fill
  // A stream-ordered library call: no wait.
  // CHECK-NEXT: call @gemm
  // The host reads a buffer: one wait before the loop nest, none inside.
  // CHECK-NEXT: call @autopar_cuda_synchronize()
  // CHECK-NEXT: scf.for
  // CHECK-NOT: autopar_cuda_synchronize
  // CHECK: memref.load
  // CHECK: memref.store
  // CHECK: }
  // Nothing launched since: the store after the loop does not wait.
  // CHECK-NEXT: memref.store
  // A loop that launches and reads: each iteration waits before its read
  // (the previous iteration's launch may still run).
  // CHECK-NEXT: scf.for
  // CHECK-NEXT: gpu.launch_func async [%[[STREAM]]] @kernels::@fill
  // CHECK-NEXT: call @autopar_cuda_synchronize()
  // CHECK-NEXT: memref.load
  // CHECK: }
  // An external function that is not stream-ordered (a clock, a report):
  // the host waits first.
  // CHECK-NEXT: call @autopar_cuda_synchronize()
  // CHECK-NEXT: call @wtime()
  // A call into a function with a body: its host code waits for itself,
  // but what it launched may still run after it returns.
  // CHECK-NEXT: call @helper
  // CHECK-NEXT: call @autopar_cuda_synchronize()
  // CHECK-NEXT: memref.load
  // A public function's results are ready when it returns.
  // CHECK-NEXT: gpu.launch_func async [%[[STREAM]]] @kernels::@fill
  // CHECK-NEXT: call @autopar_cuda_synchronize()
  // CHECK-NEXT: return
  func.func @step(%x: memref<8xf32>, %acc: memref<f32>, %address: i64) -> memref<8xf32> {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c8 = arith.constant 8 : index
    %zero = arith.constant 0.0 : f32
    gpu.launch_func @kernels::@fill blocks in (%c1, %c1, %c1) threads in (%c8, %c1, %c1) args(%x : memref<8xf32>)
    call @gemm(%address) : (i64) -> ()
    scf.for %i = %c0 to %c8 step %c1 {
      %v = memref.load %x[%i] : memref<8xf32>
      %s = memref.load %acc[] : memref<f32>
      %t = arith.addf %s, %v : f32
      memref.store %t, %acc[] : memref<f32>
    }
    memref.store %zero, %x[%c0] : memref<8xf32>
    scf.for %i = %c0 to %c8 step %c1 {
      gpu.launch_func @kernels::@fill blocks in (%c1, %c1, %c1) threads in (%c8, %c1, %c1) args(%x : memref<8xf32>)
      %v = memref.load %x[%i] : memref<8xf32>
      memref.store %v, %acc[] : memref<f32>
    }
    %clock = call @wtime() : () -> f64
    call @helper(%x) : (memref<8xf32>) -> ()
    %w = memref.load %x[%c0] : memref<8xf32>
    gpu.launch_func @kernels::@fill blocks in (%c1, %c1, %c1) threads in (%c8, %c1, %c1) args(%x : memref<8xf32>)
    return %x : memref<8xf32>
  }

  // The host waits only for work on the buffers it touches: a fresh
  // allocation is written while a kernel runs on another; a loop that reads
  // indices on the host and launches a kernel per index on other buffers
  // waits once, before it (the scatter of an embedding's gradient).
  // CHECK-LABEL: func.func private @apart(
  // CHECK: %[[S:.*]] = gpu.wait async
  // CHECK: gpu.launch_func async [%[[S]]] @kernels::@fill {{.*}} args(%[[A:.*]] : memref<8xf32>)
  // CHECK-NEXT: memref.store %{{.*}}, %[[FRESH:.*]][]
  // CHECK-NEXT: call @autopar_cuda_synchronize()
  // CHECK-NEXT: scf.for
  // CHECK-NEXT: memref.load %[[IDX:.*]][
  // CHECK-NOT: autopar_cuda_synchronize
  // CHECK: gpu.launch_func async
  // CHECK: }
  // The wait before the loop covered the kernel on %a; the loop's kernels
  // write %b.
  // CHECK-NEXT: memref.load %[[FRESH]][]
  // CHECK-NEXT: memref.load %[[A]][
  // CHECK-NEXT: call @autopar_cuda_synchronize()
  // CHECK-NEXT: memref.load %[[B:.*]][
  func.func private @apart(%idx: memref<8xindex>) -> f32 {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c8 = arith.constant 8 : index
    %one = arith.constant 1.0 : f32
    %a = memref.alloc() : memref<8xf32>
    %b = memref.alloc() : memref<8x8xf32>
    %fresh = memref.alloc() : memref<f32>
    gpu.launch_func @kernels::@fill blocks in (%c1, %c1, %c1) threads in (%c8, %c1, %c1) args(%a : memref<8xf32>)
    memref.store %one, %fresh[] : memref<f32>
    scf.for %i = %c0 to %c8 step %c1 {
      %row = memref.load %idx[%i] : memref<8xindex>
      %view = memref.subview %b[%row, 0] [1, 8] [1, 1] : memref<8x8xf32> to memref<8xf32, strided<[1], offset: ?>>
      %cast = memref.cast %view : memref<8xf32, strided<[1], offset: ?>> to memref<8xf32, strided<[1], offset: ?>>
      gpu.launch_func @kernels::@fill blocks in (%c1, %c1, %c1) threads in (%c8, %c1, %c1) args(%cast : memref<8xf32, strided<[1], offset: ?>>)
    }
    %f = memref.load %fresh[] : memref<f32>
    %v = memref.load %a[%c0] : memref<8xf32>
    %w = memref.load %b[%c0, %c0] : memref<8x8xf32>
    %fv = arith.addf %f, %v : f32
    %sum = arith.addf %fv, %w : f32
    return %sum : f32
  }

  // Reads and writes apart: the host reads a buffer that work in flight
  // only reads without waiting (a kernel whose body only loads from it, a
  // library call whose lowering lists the operands it writes), and waits
  // before it reads what they write or writes what they read. Arguments
  // may be one buffer twice, so %w's reads and writes count for %p too.
  // CHECK-LABEL: func.func @reads(
  // The caller's work on the arguments: one wait at the first read.
  // CHECK: call @autopar_cuda_synchronize()
  // CHECK-NEXT: memref.load
  // CHECK: gpu.launch_func async [%{{.*}}] @kernels::@sum
  // CHECK-NEXT: call @gemm2
  // CHECK-NEXT: memref.load %[[P:.*]][
  // CHECK-NEXT: memref.load %[[A:.*]][
  // CHECK-NEXT: call @autopar_cuda_synchronize()
  // CHECK-NEXT: memref.load %[[OUT:.*]][]
  // CHECK-NEXT: gpu.launch_func async [%{{.*}}] @kernels::@sum
  // CHECK-NEXT: call @autopar_cuda_synchronize()
  // CHECK-NEXT: memref.store %{{.*}}, %[[P]][
  // CHECK-NEXT: gpu.launch_func async [%{{.*}}] @kernels::@fill
  // CHECK-NEXT: call @autopar_cuda_synchronize()
  // CHECK-NEXT: memref.load %[[P]][
  func.func @reads(%p: memref<8xf32>, %w: memref<8xf32>) {
    %c0 = arith.constant 0 : index
    %one = arith.constant 1.0 : f32
    %out = memref.alloc() : memref<f32>
    %a = memref.alloc() : memref<8xf32>
    %c = memref.alloc() : memref<8xf32>
    %pa = memref.extract_aligned_pointer_as_index %a : memref<8xf32> -> index
    %ai = arith.index_cast %pa : index to i64
    %pc = memref.extract_aligned_pointer_as_index %c : memref<8xf32> -> index
    %ci = arith.index_cast %pc : index to i64
    %c1 = arith.constant 1 : index
    %first = memref.load %p[%c0] : memref<8xf32>
    gpu.launch_func @kernels::@sum blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%p : memref<8xf32>, %out : memref<f32>)
    call @gemm2(%ai, %ci) {autopar.writes = array<i32: 1>} : (i64, i64) -> ()
    %x = memref.load %p[%c0] : memref<8xf32>
    %y = memref.load %a[%c0] : memref<8xf32>
    %z = memref.load %out[] : memref<f32>
    gpu.launch_func @kernels::@sum blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%p : memref<8xf32>, %out : memref<f32>)
    memref.store %one, %p[%c0] : memref<8xf32>
    gpu.launch_func @kernels::@fill blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%w : memref<8xf32>)
    %u = memref.load %p[%c0] : memref<8xf32>
    return
  }

  // A private function: its caller waits where it needs to, not its return.
  // CHECK-LABEL: func.func private @helper(
  // CHECK-NEXT: %[[S:.*]] = gpu.wait async
  // CHECK: gpu.launch_func async [%[[S]]] @kernels::@fill
  // CHECK-NEXT: return
  func.func private @helper(%x: memref<8xf32>) {
    %c1 = arith.constant 1 : index
    %c8 = arith.constant 8 : index
    gpu.launch_func @kernels::@fill blocks in (%c1, %c1, %c1) threads in (%c8, %c1, %c1) args(%x : memref<8xf32>)
    return
  }
}
