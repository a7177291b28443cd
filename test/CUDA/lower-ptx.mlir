// RUN: autopar-opt %s --autopar-lower-to-cuda="format=isa chip=sm_80 block-threads=64" | FileCheck %s
// Kernels as PTX text (format=isa: the LLVM NVPTX backend only, no CUDA
// toolkit needed): a 1-D elementwise op becomes one kernel of 64-thread
// blocks, guarded for the remainder.

// 1000 elements: 16 blocks of 64 threads.
// CHECK: llvm.func @scale(
// CHECK-DAG: %[[BLOCKS:.*]] = llvm.mlir.constant(16 : index) : i64
// CHECK-DAG: %[[THREADS:.*]] = llvm.mlir.constant(64 : index) : i64
// CHECK-DAG: %[[ONE:.*]] = llvm.mlir.constant(1 : index) : i64
// CHECK: %[[STREAM:.*]] = llvm.call @mgpuStreamCreate()
// CHECK: gpu.launch_func <%[[STREAM]] : !llvm.ptr> @scale_kernel::@scale_kernel blocks in (%[[BLOCKS]], %[[ONE]], %[[ONE]]) threads in (%[[THREADS]], %[[ONE]], %[[ONE]]) : i64
// The properties carry no compile times (the output is reproducible).
// CHECK: gpu.binary @scale_kernel  [#gpu.object<#nvvm.target<chip = "sm_80"{{.*}}>, properties = {O = 2 : i32}, assembly = "{{.*}}.version
// CHECK-SAME: .target sm_80
// The constants sit in the kernel (gpu-launch-sink-index-computations):
// its parameters are the two buffers' descriptors and the block size, the
// bound 999 is an immediate, and x * 2 folds to x + x.
// CHECK-SAME: .visible .entry scale_kernel(
// CHECK-SAME: setp.gt.u64 {{.*}}, 999;
// CHECK-SAME: add.rn.f32
func.func @scale(%x: tensor<1000xf32>) -> tensor<1000xf32> {
  %c = arith.constant 2.0 : f32
  %e = tensor.empty() : tensor<1000xf32>
  %y = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>],
                       iterator_types = ["parallel"]}
      ins(%x : tensor<1000xf32>) outs(%e : tensor<1000xf32>) {
  ^bb0(%a: f32, %b: f32):
    %m = arith.mulf %a, %c : f32
    linalg.yield %m : f32
  } -> tensor<1000xf32>
  return %y : tensor<1000xf32>
}
