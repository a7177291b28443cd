// RUN: autopar-opt %s --autopar-lower-to-cuda --verify-diagnostics -o /dev/null
// Collectives the NCCL runtime cannot run are reported at the collective,
// not silently dropped.

autopar.mesh @mesh <gpus = 2>
func.func @sum(%x: tensor<4xi16>) -> tensor<4xi16> {
  // expected-error @+1 {{autopar: the NCCL runtime has no collectives on 'i16'}}
  %r = autopar.all_reduce %x on @mesh axes [gpus] reduction = sum : tensor<4xi16> -> tensor<4xi16>
  return %r : tensor<4xi16>
}
