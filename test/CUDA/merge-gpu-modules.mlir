// RUN: autopar-opt %s --autopar-merge-gpu-modules | FileCheck %s
// Outlined kernels (one module each, same function name) end up in one
// module, each named after its old module; the launches follow; a helper
// copied into both modules is kept once.

// CHECK: gpu.module @autopar_kernels {
// CHECK-DAG: gpu.func @f_kernel(
// CHECK-DAG: gpu.func @f_kernel_0(
// CHECK-DAG: func.func private @helper
// CHECK: }
// CHECK-NOT: gpu.module
// CHECK: func.func @f
// CHECK: gpu.launch_func @autopar_kernels::@f_kernel blocks
// CHECK: gpu.launch_func @autopar_kernels::@f_kernel_0 blocks
module attributes {gpu.container_module} {
  gpu.module @f_kernel {
    func.func private @helper(f32) -> f32
    gpu.func @f_kernel(%x: memref<4xf32>) kernel {
      gpu.return
    }
  }
  gpu.module @f_kernel_0 {
    func.func private @helper(f32) -> f32
    gpu.func @f_kernel(%x: memref<4xf32>) kernel {
      gpu.return
    }
  }
  func.func @f(%x: memref<4xf32>) {
    %c1 = arith.constant 1 : index
    gpu.launch_func @f_kernel::@f_kernel blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%x : memref<4xf32>)
    gpu.launch_func @f_kernel_0::@f_kernel blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%x : memref<4xf32>)
    return
  }
}
