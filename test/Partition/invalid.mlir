// RUN: autopar-opt %s --autopar-partition --split-input-file -verify-diagnostics

autopar.mesh @mesh <gpus = 4>
// expected-error @+1 {{autopar-partition: cannot split dimension 0 of 'tensor<6x4xf32>' over mesh axis 'gpus' of size 4: uneven or dynamic splits are not supported}}
func.func @uneven(%a: tensor<6x4xf32> {autopar.sharding = #autopar.sharding<@mesh, [[gpus], []]>}) -> tensor<6x4xf32> {
  return %a : tensor<6x4xf32>
}

// -----

autopar.mesh @mesh <gpus = 2>
func.func @window(%x: tensor<1x1x8x8xf32>, %w: tensor<1x1x3x3xf32>) -> tensor<1x1x6x6xf32> {
  %e = tensor.empty() : tensor<1x1x6x6xf32>
  // The output rows are a convolution window's loop: not splittable.
  // expected-error @+1 {{autopar-partition: loop 2 of this op cannot be split}}
  %c = linalg.conv_2d_nchw_fchw {autopar.strategy = #autopar.strategy<@mesh, [[], [], [gpus], [], [], [], []]>}
      ins(%x, %w : tensor<1x1x8x8xf32>, tensor<1x1x3x3xf32>) outs(%e : tensor<1x1x6x6xf32>) -> tensor<1x1x6x6xf32>
  return %c : tensor<1x1x6x6xf32>
}

// -----

autopar.mesh @a <gpus = 2>
autopar.mesh @b <gpus = 2>
// expected-note @+1 {{the other mesh is used here}}
func.func @two_meshes(%x: tensor<4xf32> {autopar.sharding = #autopar.sharding<@a, [[gpus]]>}) -> tensor<4xf32> {
  %e = tensor.empty() : tensor<4xf32>
  // expected-error @+1 {{autopar-partition: this sharding is on @b but the function also uses @a; one mesh per function}}
  %r = linalg.copy {autopar.strategy = #autopar.strategy<@b, [[gpus]]>} ins(%x : tensor<4xf32>) outs(%e : tensor<4xf32>) -> tensor<4xf32>
  return %r : tensor<4xf32>
}

// -----

// A dynamic dimension (a dynamic batch) is refused up front rather than
// partitioned into slices without their sizes (found by mutation fuzzing).
autopar.mesh @mesh <gpus = 2>
// expected-error @+1 {{autopar-partition: argument #0 of @dynamic has the dynamic shape 'tensor<?x4xf32>'; partitioning needs static shapes (export the model with a fixed batch and sizes)}}
func.func @dynamic(%a: tensor<?x4xf32> {autopar.sharding = #autopar.sharding<@mesh, [[], []]>}) -> tensor<?x4xf32> {
  return %a : tensor<?x4xf32>
}
