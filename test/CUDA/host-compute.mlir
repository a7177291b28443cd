// Host compute that linalg leaves without parallel loops, as one-thread
// kernels (autopar-host-compute-to-kernels, CUDA pipeline): a loss's
// final sum over partials and its scale (one kernel: the partials' free
// between them moves after it), Adam's bias correction from the step
// counter; a run whose value the host uses after it stays on the host;
// functions named in functions= are left alone. The same program runs on
// the CPU before and after: identical values (without its deallocations,
// which the CPU pipeline's bufferization refuses in its input).
// RUN: autopar-opt %s --autopar-host-compute-to-kernels="functions=reference" | FileCheck %s
// RUN: sed -e '/memref.dealloc/d' %s > %t.mlir
// RUN: autopar-opt %t.mlir --autopar-lower-to-cpu | %mlir_runner -e main -entry-point-result=void -shared-libs=%mlir_libs/libmlir_c_runner_utils.so,%mlir_libs/libmlir_runner_utils.so | sed "s/base@ = 0x[0-9a-f]*//" > %t.host.txt
// RUN: autopar-opt %t.mlir --autopar-host-compute-to-kernels | autopar-opt --autopar-lower-to-cpu | %mlir_runner -e main -entry-point-result=void -shared-libs=%mlir_libs/libmlir_c_runner_utils.so,%mlir_libs/libmlir_runner_utils.so | sed "s/base@ = 0x[0-9a-f]*//" > %t.kernels.txt
// RUN: diff %t.host.txt %t.kernels.txt
// RUN: FileCheck %s --input-file=%t.kernels.txt --check-prefix=VALUES

// CHECK-LABEL: func.func @step(
// The fill of the loss, then the partials' loop (a kernel already).
// CHECK: scf.parallel
// CHECK-NEXT: scf.parallel
// CHECK-NEXT: memref.store %{{.*}}, %[[LOSS:.*]][]
// CHECK: scf.parallel
// CHECK: scf.parallel
// CHECK: memref.store %{{.*}}, %[[PARTIALS:.*]][
// The sum, the scale and Adam's bias correction from the step counter:
// one kernel of one thread, the partials freed after it.
// CHECK: scf.parallel (%{{.*}}) = (%[[Z:.*]]) to (%[[O:.*]]) step (%[[O]])
// CHECK-NEXT: scf.parallel (%{{.*}}) = (%[[Z]]) to (%[[O]]) step (%[[O]])
// CHECK-NEXT: scf.for
// CHECK: memref.load %[[LOSS]][]
// CHECK: arith.divf
// CHECK: memref.load %arg1[]
// CHECK: math.powf
// CHECK: scf.reduce
// CHECK: scf.reduce
// CHECK-NEXT: }
// CHECK-NEXT: memref.dealloc %[[PARTIALS]]
// A scalar the host uses after (an allocation's size) stays on the host,
// with what follows it.
// CHECK-NEXT: %[[N:.*]] = memref.load %arg2[]
// CHECK-NEXT: arith.fptosi %[[N]]
// CHECK-NEXT: arith.index_cast
// CHECK-NEXT: memref.alloc(
// CHECK-NEXT: memref.dim
// CHECK-NEXT: memref.store
// CHECK-NEXT: memref.dealloc
// CHECK-NEXT: return
// CHECK-LABEL: func.func @reference(
// CHECK-NOT: scf.parallel
// CHECK: return

// The loss (0 + ... + 15) / 4, the correction 1 - 0.9^3, the size 3.
// VALUES: data =
// VALUES-NEXT: [30]
// VALUES: data =
// VALUES-NEXT: [0.271]
// VALUES: data =
// VALUES-NEXT: [3]

func.func @step(%x: memref<16xf32>, %t: memref<f32>, %n: memref<f32>,
                %loss: memref<f32>, %correction: memref<f32>, %count: memref<index>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %c16 = arith.constant 16 : index
  %zero = arith.constant 0.0 : f32
  %scale = arith.constant 4.0 : f32
  %beta = arith.constant 0.9 : f32
  %one = arith.constant 1.0 : f32
  memref.store %zero, %loss[] : memref<f32>
  %partials = memref.alloc() : memref<4xf32>
  scf.parallel (%b) = (%c0) to (%c4) step (%c4) {
    scf.parallel (%i) = (%c0) to (%c4) step (%c1) {
      %p = arith.addi %b, %i : index
      memref.store %zero, %partials[%p] : memref<4xf32>
      scf.for %k = %c0 to %c4 step %c1 {
        %row = arith.muli %p, %c4 : index
        %at = arith.addi %row, %k : index
        %v = memref.load %x[%at] : memref<16xf32>
        %s = memref.load %partials[%p] : memref<4xf32>
        %a = arith.addf %s, %v : f32
        memref.store %a, %partials[%p] : memref<4xf32>
      }
      scf.reduce
    }
    scf.reduce
  }
  scf.for %k = %c0 to %c4 step %c1 {
    %v = memref.load %partials[%k] : memref<4xf32>
    %s = memref.load %loss[] : memref<f32>
    %a = arith.addf %s, %v : f32
    memref.store %a, %loss[] : memref<f32>
  }
  memref.dealloc %partials : memref<4xf32>
  %total = memref.load %loss[] : memref<f32>
  %mean = arith.divf %total, %scale : f32
  memref.store %mean, %loss[] : memref<f32>
  %step = memref.load %t[] : memref<f32>
  %power = math.powf %beta, %step : f32
  %c = arith.subf %one, %power : f32
  memref.store %c, %correction[] : memref<f32>
  %nf = memref.load %n[] : memref<f32>
  %ni = arith.fptosi %nf : f32 to i32
  %nidx = arith.index_cast %ni : i32 to index
  %buffer = memref.alloc(%nidx) : memref<?xf32>
  %size = memref.dim %buffer, %c0 : memref<?xf32>
  memref.store %size, %count[] : memref<index>
  memref.dealloc %buffer : memref<?xf32>
  return
}

func.func @reference(%a: memref<f32>) {
  %c0 = arith.constant 0.0 : f32
  memref.store %c0, %a[] : memref<f32>
  return
}

func.func private @printMemrefF32(memref<*xf32>)
func.func private @printMemrefInd(memref<*xindex>)

func.func @main() {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c16 = arith.constant 16 : index
  %x = memref.alloc() : memref<16xf32>
  scf.for %i = %c0 to %c16 step %c1 {
    %j = arith.index_cast %i : index to i32
    %f = arith.sitofp %j : i32 to f32
    memref.store %f, %x[%i] : memref<16xf32>
  }
  %t = memref.alloc() : memref<f32>
  %three = arith.constant 3.0 : f32
  memref.store %three, %t[] : memref<f32>
  %n = memref.alloc() : memref<f32>
  memref.store %three, %n[] : memref<f32>
  %loss = memref.alloc() : memref<f32>
  %correction = memref.alloc() : memref<f32>
  %count = memref.alloc() : memref<index>
  call @step(%x, %t, %n, %loss, %correction, %count) : (memref<16xf32>, memref<f32>, memref<f32>, memref<f32>, memref<f32>, memref<index>) -> ()
  %l = memref.cast %loss : memref<f32> to memref<*xf32>
  %c = memref.cast %correction : memref<f32> to memref<*xf32>
  %k = memref.cast %count : memref<index> to memref<*xindex>
  call @printMemrefF32(%l) : (memref<*xf32>) -> ()
  call @printMemrefF32(%c) : (memref<*xf32>) -> ()
  call @printMemrefInd(%k) : (memref<*xindex>) -> ()
  return
}
