// RUN: autopar-opt %s --autopar-copies-to-kernels | FileCheck %s
// Host copies between buffers become linalg copies (kernels, in stream
// order, on device memory); a copy out of a host constant stays a host copy
// (kernels cannot read host globals).

memref.global "private" constant @c : memref<4xf32> = dense<1.0>

// CHECK-LABEL: func.func @copies(
// CHECK: linalg.copy ins(%{{.*}} : memref<4xf32>) outs(%{{.*}} : memref<4xf32>)
// CHECK: linalg.copy ins(%{{.*}} : memref<2xf32, strided<[2]>>) outs(%{{.*}} : memref<2xf32>)
// CHECK: memref.copy %{{.*}}, %{{.*}} : memref<2xf32, strided<[1], offset: 2>> to memref<2xf32>
// CHECK-NOT: linalg.copy
func.func @copies(%a: memref<4xf32>, %b: memref<4xf32>, %c: memref<2xf32>) {
  memref.copy %a, %b : memref<4xf32> to memref<4xf32>
  %s = memref.subview %a[0] [2] [2] : memref<4xf32> to memref<2xf32, strided<[2]>>
  memref.copy %s, %c : memref<2xf32, strided<[2]>> to memref<2xf32>
  %g = memref.get_global @c : memref<4xf32>
  %h = memref.subview %g[2] [2] [1] : memref<4xf32> to memref<2xf32, strided<[1], offset: 2>>
  memref.copy %h, %c : memref<2xf32, strided<[1], offset: 2>> to memref<2xf32>
  return
}
