// RUN: autopar-opt %s --autopar-lower-to-cuda --verify-diagnostics -o /dev/null
// A partitioned program's collectives have no CUDA lowering yet: said at
// the collective, not silently dropped.

autopar.mesh @mesh <gpus = 2>
func.func @sum(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{autopar-lower-to-cuda: 'autopar.all_reduce' has no CUDA lowering yet (NCCL collectives are not implemented); run partitioned programs with the CPU backend}}
  %r = autopar.all_reduce %x on @mesh axes [gpus] reduction = sum : tensor<4xf32> -> tensor<4xf32>
  return %r : tensor<4xf32>
}
