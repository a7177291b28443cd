// RUN: autopar-opt %s --autopar-fuse-parallel-loops="align=4" -split-input-file | FileCheck %s
// RUN: autopar-opt %s --autopar-fuse-parallel-loops="horizontal=false" -split-input-file | FileCheck %s --check-prefix=VERTICAL

// A fill, the product that accumulates into it, and the bias op reading the
// product at the same index: the buffer the bias op writes is allocated
// between them and the product's freed after, which stopped upstream's
// fusion. The allocation moves before the fill, the free after the last
// nest: one nest.
// CHECK-LABEL: func.func @dense
// CHECK: %[[ACC:.*]] = memref.alloc() : memref<8x4xf32>
// CHECK-NEXT: %[[OUT:.*]] = memref.alloc() : memref<8x4xf32>
// CHECK-NEXT: scf.parallel (%[[I:.*]], %[[J:.*]]) =
// CHECK-NEXT: memref.store %{{.*}}, %[[ACC]][%[[I]], %[[J]]]
// CHECK: scf.for
// CHECK: memref.store %{{.*}}, %[[OUT]][%[[I]], %[[J]]]
// CHECK: }
// CHECK-NEXT: memref.dealloc %[[ACC]]
// CHECK-NOT: scf.parallel
// CHECK: return %[[OUT]]
func.func @dense(%x: memref<8x16xf32>, %w: memref<16x4xf32>, %b: memref<4xf32>) -> memref<8x4xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %c8 = arith.constant 8 : index
  %c16 = arith.constant 16 : index
  %zero = arith.constant 0.0 : f32
  %acc = memref.alloc() : memref<8x4xf32>
  scf.parallel (%i, %j) = (%c0, %c0) to (%c8, %c4) step (%c1, %c1) {
    memref.store %zero, %acc[%i, %j] : memref<8x4xf32>
    scf.reduce
  }
  scf.parallel (%i, %j) = (%c0, %c0) to (%c8, %c4) step (%c1, %c1) {
    scf.for %k = %c0 to %c16 step %c1 {
      %a = memref.load %x[%i, %k] : memref<8x16xf32>
      %v = memref.load %w[%k, %j] : memref<16x4xf32>
      %s = memref.load %acc[%i, %j] : memref<8x4xf32>
      %m = arith.mulf %a, %v : f32
      %n = arith.addf %s, %m : f32
      memref.store %n, %acc[%i, %j] : memref<8x4xf32>
    }
    scf.reduce
  }
  %out = memref.alloc() : memref<8x4xf32>
  scf.parallel (%i, %j) = (%c0, %c0) to (%c8, %c4) step (%c1, %c1) {
    %s = memref.load %acc[%i, %j] : memref<8x4xf32>
    %v = memref.load %b[%j] : memref<4xf32>
    %n = arith.addf %s, %v : f32
    memref.store %n, %out[%i, %j] : memref<8x4xf32>
    scf.reduce
  }
  memref.dealloc %acc : memref<8x4xf32>
  return %out : memref<8x4xf32>
}

// -----

// An optimizer step over three parameters (4x3, 5, 7 elements), each
// updated into a new buffer: independent nests of different bounds become
// one nest over 4x3 + 5 + 7 elements, each part starting at a multiple of
// 4 (0, 12, 20; 27 in all). A binary search over the starts picks the
// part; the 2-D part splits its index back (last loop fastest); the middle
// part, padded to 20, is guarded.
// CHECK-LABEL: func.func @update
// CHECK: %[[C27:.*]] = arith.constant 27 : index
// CHECK: scf.parallel (%[[K:.*]]) = (%{{.*}}) to (%[[C27]]) step (%{{.*}}) {
// CHECK: %[[C12:.*]] = arith.constant 12 : index
// CHECK: %[[FIRST:.*]] = arith.cmpi ult, %[[K]], %[[C12]]
// CHECK: scf.if %[[FIRST]] {
// CHECK: %[[C3:.*]] = arith.constant 3 : index
// CHECK: %[[COL:.*]] = arith.remui %[[K]], %[[C3]]
// CHECK: %[[ROW:.*]] = arith.divui %[[K]], %[[C3]]
// CHECK: memref.load %arg0[%[[ROW]], %[[COL]]] : memref<4x3xf32>
// CHECK: } else {
// CHECK: %[[C20:.*]] = arith.constant 20 : index
// CHECK: %[[SECOND:.*]] = arith.cmpi ult, %[[K]], %[[C20]]
// CHECK: scf.if %[[SECOND]] {
// CHECK: %[[LOCAL:.*]] = arith.subi %[[K]], %[[C12]]
// CHECK: %[[C5:.*]] = arith.constant 5 : index
// CHECK: %[[INSIDE:.*]] = arith.cmpi ult, %[[LOCAL]], %[[C5]]
// CHECK: scf.if %[[INSIDE]] {
// CHECK: memref.load %arg2[%[[LOCAL]]] : memref<5xf32>
// CHECK: } else {
// CHECK: %[[LAST:.*]] = arith.subi %[[K]], %{{.*}}
// CHECK: memref.load %arg4[%[[LAST]]] : memref<7xf32>
// CHECK-NOT: scf.parallel
// CHECK: return
// Vertically only: the three nests stay.
// VERTICAL-LABEL: func.func @update
// VERTICAL-COUNT-3: scf.parallel
// VERTICAL-NOT: scf.parallel
// VERTICAL: return
func.func @update(%p0: memref<4x3xf32>, %g0: memref<4x3xf32>, %p1: memref<5xf32>, %g1: memref<5xf32>, %p2: memref<7xf32>, %g2: memref<7xf32>) -> (memref<4x3xf32>, memref<5xf32>, memref<7xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c3 = arith.constant 3 : index
  %c4 = arith.constant 4 : index
  %c5 = arith.constant 5 : index
  %c7 = arith.constant 7 : index
  %lr = arith.constant 0.5 : f32
  %n0 = memref.alloc() : memref<4x3xf32>
  scf.parallel (%i, %j) = (%c0, %c0) to (%c4, %c3) step (%c1, %c1) {
    %p = memref.load %p0[%i, %j] : memref<4x3xf32>
    %g = memref.load %g0[%i, %j] : memref<4x3xf32>
    %s = arith.mulf %g, %lr : f32
    %n = arith.subf %p, %s : f32
    memref.store %n, %n0[%i, %j] : memref<4x3xf32>
    scf.reduce
  }
  %n1 = memref.alloc() : memref<5xf32>
  scf.parallel (%i) = (%c0) to (%c5) step (%c1) {
    %p = memref.load %p1[%i] : memref<5xf32>
    %g = memref.load %g1[%i] : memref<5xf32>
    %s = arith.mulf %g, %lr : f32
    %n = arith.subf %p, %s : f32
    memref.store %n, %n1[%i] : memref<5xf32>
    scf.reduce
  }
  %n2 = memref.alloc() : memref<7xf32>
  scf.parallel (%i) = (%c0) to (%c7) step (%c1) {
    %p = memref.load %p2[%i] : memref<7xf32>
    %g = memref.load %g2[%i] : memref<7xf32>
    %s = arith.mulf %g, %lr : f32
    %n = arith.subf %p, %s : f32
    memref.store %n, %n2[%i] : memref<7xf32>
    scf.reduce
  }
  return %n0, %n1, %n2 : memref<4x3xf32>, memref<5xf32>, memref<7xf32>
}

// -----

// The same update written over the parameters, as autopar-update-in-place
// makes a private step's (each updated argument marked autopar.in_place:
// bufferization passes it a buffer no other argument shares), merges as
// well: one nest of 12 + 5 elements. Unmarked, two written arguments may be
// one buffer, and the nests stay apart.
// CHECK-LABEL: func.func private @update_in_place
// CHECK: %[[C17:.*]] = arith.constant 17 : index
// CHECK: scf.parallel (%{{.*}}) = (%{{.*}}) to (%[[C17]])
// CHECK-NOT: scf.parallel
// CHECK: return
// CHECK-LABEL: func.func private @update_unmarked
// CHECK-COUNT-2: scf.parallel
// CHECK-NOT: scf.parallel
// CHECK: return
func.func private @update_in_place(%p0: memref<4x3xf32> {autopar.in_place}, %g0: memref<4x3xf32>, %p1: memref<5xf32> {autopar.in_place}, %g1: memref<5xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c3 = arith.constant 3 : index
  %c4 = arith.constant 4 : index
  %c5 = arith.constant 5 : index
  %lr = arith.constant 0.5 : f32
  scf.parallel (%i, %j) = (%c0, %c0) to (%c4, %c3) step (%c1, %c1) {
    %p = memref.load %p0[%i, %j] : memref<4x3xf32>
    %g = memref.load %g0[%i, %j] : memref<4x3xf32>
    %s = arith.mulf %g, %lr : f32
    %n = arith.subf %p, %s : f32
    memref.store %n, %p0[%i, %j] : memref<4x3xf32>
    scf.reduce
  }
  scf.parallel (%i) = (%c0) to (%c5) step (%c1) {
    %p = memref.load %p1[%i] : memref<5xf32>
    %g = memref.load %g1[%i] : memref<5xf32>
    %s = arith.mulf %g, %lr : f32
    %n = arith.subf %p, %s : f32
    memref.store %n, %p1[%i] : memref<5xf32>
    scf.reduce
  }
  return
}
func.func private @update_unmarked(%p0: memref<4x3xf32>, %g0: memref<4x3xf32>, %p1: memref<5xf32>, %g1: memref<5xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c3 = arith.constant 3 : index
  %c4 = arith.constant 4 : index
  %c5 = arith.constant 5 : index
  %lr = arith.constant 0.5 : f32
  scf.parallel (%i, %j) = (%c0, %c0) to (%c4, %c3) step (%c1, %c1) {
    %p = memref.load %p0[%i, %j] : memref<4x3xf32>
    %g = memref.load %g0[%i, %j] : memref<4x3xf32>
    %s = arith.mulf %g, %lr : f32
    %n = arith.subf %p, %s : f32
    memref.store %n, %p0[%i, %j] : memref<4x3xf32>
    scf.reduce
  }
  scf.parallel (%i) = (%c0) to (%c5) step (%c1) {
    %p = memref.load %p1[%i] : memref<5xf32>
    %g = memref.load %g1[%i] : memref<5xf32>
    %s = arith.mulf %g, %lr : f32
    %n = arith.subf %p, %s : f32
    memref.store %n, %p1[%i] : memref<5xf32>
    scf.reduce
  }
  return
}

// -----

// Not merged: the second nest reads what the first writes (over other
// bounds); the third writes an argument and the second another, which may
// be the same buffer (one buffer may be passed twice); a call stands
// before the last.
// CHECK-LABEL: func.func @dependent
// CHECK-COUNT-4: scf.parallel
// CHECK-NOT: scf.parallel
func.func private @opaque()
func.func @dependent(%a: memref<4xf32>, %b: memref<8xf32>, %out0: memref<4xf32>, %out1: memref<4xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %c8 = arith.constant 8 : index
  %t = memref.alloc() : memref<4xf32>
  scf.parallel (%i) = (%c0) to (%c4) step (%c1) {
    %v = memref.load %a[%i] : memref<4xf32>
    memref.store %v, %t[%i] : memref<4xf32>
    scf.reduce
  }
  scf.parallel (%i) = (%c0) to (%c8) step (%c1) {
    %v = memref.load %t[%c0] : memref<4xf32>
    memref.store %v, %b[%i] : memref<8xf32>
    scf.reduce
  }
  scf.parallel (%i) = (%c0) to (%c4) step (%c1) {
    %v = memref.load %t[%i] : memref<4xf32>
    memref.store %v, %out0[%i] : memref<4xf32>
    scf.reduce
  }
  func.call @opaque() : () -> ()
  scf.parallel (%i) = (%c0) to (%c4) step (%c1) {
    %v = memref.load %a[%i] : memref<4xf32>
    memref.store %v, %out1[%i] : memref<4xf32>
    scf.reduce
  }
  memref.dealloc %t : memref<4xf32>
  return
}
