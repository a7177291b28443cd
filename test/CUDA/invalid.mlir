// RUN: autopar-opt %s --autopar-lower-to-cuda --verify-diagnostics -split-input-file -o /dev/null
// Collectives the NCCL runtime cannot run are reported at the collective,
// not silently dropped.

autopar.mesh @mesh <gpus = 2>
func.func @sum(%x: tensor<4xi16>) -> tensor<4xi16> {
  // expected-error @+1 {{autopar: the NCCL runtime has no collectives on 'i16'}}
  %r = autopar.all_reduce %x on @mesh axes [gpus] reduction = sum : tensor<4xi16> -> tensor<4xi16>
  return %r : tensor<4xi16>
}

// -----

// A transfer NCCL cannot place: its sender's coordinate is not a case of a
// switch on the device's coordinate, so no direction's communicator can
// be made at the program's entry.
autopar.mesh @pipe <stages = 2>
func.func @loose(%x: tensor<4xf32>) {
  // expected-error @+1 {{autopar-lower-collectives-to-nccl: a transfer outside a switch on the device's coordinate along its axes}}
  autopar.send %x to 1 on @pipe axes [stages] tag 0 : tensor<4xf32>
  return
}
