// Bad input to the search gets an error naming the cause.
// RUN: autopar-opt %s -split-input-file -verify-diagnostics --autopar-plan=report= -o /dev/null
// RUN: not autopar-opt %s -split-input-file --autopar-plan="report= mesh=4x4" -o /dev/null 2>&1 | FileCheck %s --check-prefix=MESH
// RUN: not autopar-opt %s -split-input-file --autopar-plan="report= max-gpus=8" -o /dev/null 2>&1 | FileCheck %s --check-prefix=MAXGPUS
// RUN: not autopar-opt %s -split-input-file --autopar-plan="report= mesh=4 max-gpus=2" -o /dev/null 2>&1 | FileCheck %s --check-prefix=MESHMAX
// RUN: not autopar-opt %s -split-input-file --autopar-plan="report= target=%S/Inputs/tiny-memory.json" -o /dev/null 2>&1 | FileCheck %s --check-prefix=MEMORY
// RUN: not autopar-opt %autopar_src/models/alexnet.mlir --autopar-plan="report= exhaustive=true" -o /dev/null 2>&1 | FileCheck %s --check-prefix=EXHAUSTIVE
// RUN: not autopar-opt %s -split-input-file --autopar-plan="report= objective=speed" -o /dev/null 2>&1 | FileCheck %s --check-prefix=OBJECTIVE
// RUN: not autopar-opt %s -split-input-file --autopar-plan="report= objective=efficiency:1.5" -o /dev/null 2>&1 | FileCheck %s --check-prefix=EFFICIENCY
// RUN: not autopar-opt %s -split-input-file --autopar-plan="report= mesh=2xz" -o /dev/null 2>&1 | FileCheck %s --check-prefix=MESHSYNTAX
// RUN: not autopar-opt %s -split-input-file --autopar-plan="report= parallelism=pipeline" -o /dev/null 2>&1 | FileCheck %s --check-prefix=PARALLELISM

// MESH: error: mesh=4x4 needs 16 GPUs but target 'titanxp-pcie-4' has 4
// MAXGPUS: error: max-gpus=8 but target 'titanxp-pcie-4' has 4 GPUs
// MESHMAX: error: mesh=4 needs 4 GPUs but max-gpus=2
// MEMORY: error: autopar: no plan fits in the 976.56 KiB of a TITAN Xp: the least memory per GPU found is {{.*}} (mesh {{.*}})
// EXHAUSTIVE: error: autopar: exhaustive=true is for small graphs: mesh gpus={{[0-9]+}} has {{[0-9]+}} labellings, more than the limit of 67108864
// OBJECTIVE: error: unknown objective 'speed'
// EFFICIENCY: error: objective=efficiency:X needs X in (0, 1], got '1.5'
// MESHSYNTAX: error: mesh='2xz'
// PARALLELISM: error: unknown parallelism 'pipeline'

// Two pins of one value that disagree.
autopar.mesh @m <x = 2>
func.func @contradicting(%a: tensor<64x32xf32>, %w: tensor<32x16xf32>) -> tensor<64x16xf32> {
  %z = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<64x16xf32>
  %f = linalg.fill ins(%z : f32) outs(%e : tensor<64x16xf32>) -> tensor<64x16xf32>
  // expected-note @+1 {{the other pin}}
  %w1 = autopar.shard %w : tensor<32x16xf32> to #autopar.sharding<@m, [[], [x]]>
  // expected-error @+1 {{autopar: contradicting pins: this value is pinned to #autopar.sharding<@m, [[x], []]> here and to #autopar.sharding<@m, [[], [x]]> elsewhere}}
  %w2 = autopar.shard %w : tensor<32x16xf32> to #autopar.sharding<@m, [[x], []]>
  %r = linalg.matmul ins(%a, %w1 : tensor<64x32xf32>, tensor<32x16xf32>) outs(%f : tensor<64x16xf32>) -> tensor<64x16xf32>
  return %r : tensor<64x16xf32>
}

// -----

// Pins on two different meshes.
autopar.mesh @m <x = 2>
autopar.mesh @n <y = 2>
func.func @two_meshes(%a: tensor<64x32xf32>, %w: tensor<32x16xf32>) -> tensor<64x16xf32> {
  %a1 = autopar.shard %a : tensor<64x32xf32> to #autopar.sharding<@m, [[x], []]>
  // expected-error @+1 {{autopar: contradicting pins: this pin uses mesh @n but another uses @m; pins must share one mesh}}
  %w1 = autopar.shard %w : tensor<32x16xf32> to #autopar.sharding<@n, [[], [y]]>
  %e = tensor.empty() : tensor<64x16xf32>
  %r = linalg.matmul ins(%a1, %w1 : tensor<64x32xf32>, tensor<32x16xf32>) outs(%e : tensor<64x16xf32>) -> tensor<64x16xf32>
  return %r : tensor<64x16xf32>
}

// -----

// A pinned mesh larger than the machine.
autopar.mesh @big <x = 16>
func.func @too_big(%a: tensor<64x32xf32>) -> tensor<64x32xf32> {
  // expected-error @+1 {{autopar: the pin's mesh @big has 16 devices but only 4 GPUs are available (target 'titanxp-pcie-4')}}
  %a1 = autopar.shard %a : tensor<64x32xf32> to #autopar.sharding<@big, [[x], []]>
  return %a1 : tensor<64x32xf32>
}

// -----

// A pin that does not divide its value.
autopar.mesh @m <x = 3>
func.func @uneven(%a: tensor<64x32xf32>) -> tensor<64x32xf32> {
  // expected-error @+1 {{autopar: the pinned sharding does not divide the value evenly on mesh x=3}}
  %a1 = autopar.shard %a : tensor<64x32xf32> to #autopar.sharding<@m, [[x], []]>
  return %a1 : tensor<64x32xf32>
}

// -----

// Partial pins are not supported.
autopar.mesh @m <x = 2>
func.func @partial(%a: tensor<64x32xf32>) -> tensor<64x32xf32> {
  // expected-error @+1 {{autopar: pins with partial axes are not supported}}
  %a1 = autopar.shard %a : tensor<64x32xf32> to #autopar.sharding<@m, [[], []], partial = sum [x]>
  return %a1 : tensor<64x32xf32>
}

// -----

// The option errors above, checked on this AlexNet-sized input: with every
// option at its default it plans.
func.func @forward(%x: tensor<128x9216xf32>, %w: tensor<9216x4096xf32>) -> tensor<128x4096xf32> {
  %z = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<128x4096xf32>
  %f = linalg.fill ins(%z : f32) outs(%e : tensor<128x4096xf32>) -> tensor<128x4096xf32>
  %r = linalg.matmul ins(%x, %w : tensor<128x9216xf32>, tensor<9216x4096xf32>) outs(%f : tensor<128x4096xf32>) -> tensor<128x4096xf32>
  %g = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%r : tensor<128x4096xf32>) outs(%e : tensor<128x4096xf32>) {
  ^bb0(%in: f32, %out: f32):
    %m = arith.maximumf %in, %z : f32
    linalg.yield %m : f32
  } -> tensor<128x4096xf32>
  return %g : tensor<128x4096xf32>
}
