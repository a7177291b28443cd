// A sum into one float (a loss) runs split into partial sums over as many
// threads as the GPU has (autopar-reductions-inner), and is priced so
// (isSumIntoOneFloat, Analysis/Reductions.h): 128 MiB read at the memory's
// rate, 0.056 ms on an H100 (13.28 ms before, as one block of 256 threads).
// A maximum into one float is not split by the lowering, and stays priced
// as one block.
// RUN: autopar-opt %s --autopar-analyze="target=h100-dgx report=-" -o /dev/null | FileCheck %s
// CHECK: 1 linalg.generic scalar-sum.mlir:{{[0-9]+}}:8 tensor<f32> 33.55M 0 128.00 MiB 0.2 0.0557
// CHECK: 3 linalg.generic scalar-sum.mlir:{{[0-9]+}}:8 tensor<f32> 33.55M 0 128.00 MiB 0.2 13.2755

func.func @forward(%x: tensor<8192x4096xf32> {autopar.role = "input"}) -> tensor<f32> {
  %z = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<f32>
  %f = linalg.fill ins(%z : f32) outs(%e : tensor<f32>) -> tensor<f32>
  %s = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> ()>], iterator_types = ["reduction", "reduction"]} ins(%x : tensor<8192x4096xf32>) outs(%f : tensor<f32>) {
  ^bb0(%a: f32, %acc: f32):
    %r = arith.addf %acc, %a : f32
    linalg.yield %r : f32
  } -> tensor<f32>
  %e2 = tensor.empty() : tensor<f32>
  %f2 = linalg.fill ins(%z : f32) outs(%e2 : tensor<f32>) -> tensor<f32>
  %m = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> ()>], iterator_types = ["reduction", "reduction"]} ins(%x : tensor<8192x4096xf32>) outs(%f2 : tensor<f32>) {
  ^bb0(%a: f32, %acc: f32):
    %r = arith.maximumf %acc, %a : f32
    linalg.yield %r : f32
  } -> tensor<f32>
  %t = linalg.generic {indexing_maps = [affine_map<() -> ()>, affine_map<() -> ()>, affine_map<() -> ()>], iterator_types = []} ins(%s, %m : tensor<f32>, tensor<f32>) outs(%e : tensor<f32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %r = arith.addf %a, %b : f32
    linalg.yield %r : f32
  } -> tensor<f32>
  return %t : tensor<f32>
}
