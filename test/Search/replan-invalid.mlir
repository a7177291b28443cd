// A module planned or partitioned already is refused up front, at the
// reason: a new plan would replace the @mesh its shardings and collectives
// refer to (found by mutation fuzzing: stale references, or a collision
// with an upstream shard.grid @mesh).
// RUN: autopar-opt %s -split-input-file -verify-diagnostics --autopar-plan=report= -o /dev/null
// RUN: autopar-opt %autopar_src/models/mlp.mlir --auto-shard=report= | not autopar-opt --auto-shard=report= -o /dev/null 2>&1 | FileCheck %s --check-prefix=TWICE
// TWICE: error: autopar-plan: the module is planned already (it has autopar.plan or autopar.pipeline); plan the original program

// expected-error @+1 {{'shard.grid' already defines @mesh, the symbol of the plan's mesh; import upstream shard IR with autopar-import-shard first}}
shard.grid @mesh(shape = 2)
func.func @forward(%x: tensor<8x16xf32>, %w: tensor<16x8xf32>) -> tensor<8x8xf32> {
  %z = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<8x8xf32>
  %f = linalg.fill ins(%z : f32) outs(%e : tensor<8x8xf32>) -> tensor<8x8xf32>
  %y = linalg.matmul ins(%x, %w : tensor<8x16xf32>, tensor<16x8xf32>) outs(%f : tensor<8x8xf32>) -> tensor<8x8xf32>
  return %y : tensor<8x8xf32>
}

// -----

autopar.mesh @mesh <gpus = 2>
func.func @forward(%x: tensor<4x16xf32>, %w: tensor<16x8xf32>) -> tensor<8x8xf32> {
  %z = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4x8xf32>
  %f = linalg.fill ins(%z : f32) outs(%e : tensor<4x8xf32>) -> tensor<4x8xf32>
  %y = linalg.matmul ins(%x, %w : tensor<4x16xf32>, tensor<16x8xf32>) outs(%f : tensor<4x8xf32>) -> tensor<4x8xf32>
  // expected-error @+1 {{autopar-plan: the module holds 'autopar.all_gather' already: it was partitioned; plan the program before partitioning}}
  %g = autopar.all_gather %y on @mesh axes [gpus] gather_dim = 0 : tensor<4x8xf32> -> tensor<8x8xf32>
  return %g : tensor<8x8xf32>
}

// -----

autopar.mesh @mesh <gpus = 2>
func.func @forward(%x: tensor<8x16xf32>, %w: tensor<16x8xf32>) -> tensor<8x8xf32> {
  %z = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<8x8xf32>
  %f = linalg.fill ins(%z : f32) outs(%e : tensor<8x8xf32>) -> tensor<8x8xf32>
  // expected-error @+1 {{autopar-plan: the module has shardings already (this op carries autopar.strategy or autopar.shardings); plan the original program, or pin values with autopar.shard}}
  %y = linalg.matmul {autopar.shardings = [#autopar.sharding<@mesh, [[gpus], []]>]} ins(%x, %w : tensor<8x16xf32>, tensor<16x8xf32>) outs(%f : tensor<8x8xf32>) -> tensor<8x8xf32>
  return %y : tensor<8x8xf32>
}
