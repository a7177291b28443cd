// RUN: autopar-opt %s --autopar-lower-to-cuda="format=isa chip=sm_80" | FileCheck %s
// A row kernel (autopar-row-kernels) through the whole CUDA lowering to PTX:
// a row sum of exponentials and the division that reads it, one kernel of
// 2048 blocks (a row each) of 256 threads: each warp's partials combined
// by butterfly shuffles (5), each warp's sum put in 32 bytes of shared
// memory, a barrier, the 8 warp sums combined by shuffles again (3);
// another barrier after thread 0 wrote the row's sum, before the division
// reads it. The sum's zero fill is folded into it: the step's only
// kernel.
// CHECK-DAG: %[[ONE:.*]] = llvm.mlir.constant(1 : index) : i64
// CHECK-DAG: %[[ROWS:.*]] = llvm.mlir.constant(2048 : index) : i64
// CHECK-DAG: %[[THREADS:.*]] = llvm.mlir.constant(256 : index) : i64
// CHECK: gpu.launch_func {{.*}} @softmax_rows_kernel::@softmax_rows_kernel blocks in (%[[ROWS]], %[[ONE]], %[[ONE]]) threads in (%[[THREADS]], %[[ONE]], %[[ONE]])
// CHECK-NOT: gpu.launch_func
// CHECK: gpu.binary @softmax_rows_kernel
// CHECK-SAME: .visible .entry softmax_rows_kernel(
// CHECK-SAME: .shared .align 4 .b8 __wg_softmax_rows_kernel_0[32];
// CHECK-COUNT-5: shfl.sync.bfly.b32
// CHECK-SAME: bar.sync
// CHECK-COUNT-3: shfl.sync.bfly.b32
// CHECK-SAME: bar.sync
// CHECK-NOT: bar.sync
// CHECK-NOT: shfl.sync
// CHECK-SAME: div.rn.f32
func.func @softmax_rows(%x: tensor<2048x1024xf32>) -> tensor<2048x1024xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<2048xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<2048xf32>) -> tensor<2048xf32>
  %s = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i)>], iterator_types = ["parallel", "reduction"]}
      ins(%x : tensor<2048x1024xf32>) outs(%f : tensor<2048xf32>) {
  ^bb0(%in: f32, %out: f32):
    %ex = math.exp %in : f32
    %a = arith.addf %ex, %out : f32
    linalg.yield %a : f32
  } -> tensor<2048xf32>
  %e2 = tensor.empty() : tensor<2048x1024xf32>
  %y = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]}
      ins(%x, %s : tensor<2048x1024xf32>, tensor<2048xf32>) outs(%e2 : tensor<2048x1024xf32>) {
  ^bb0(%in: f32, %t: f32, %out: f32):
    %ex = math.exp %in : f32
    %q = arith.divf %ex, %t : f32
    linalg.yield %q : f32
  } -> tensor<2048x1024xf32>
  return %y : tensor<2048x1024xf32>
}
