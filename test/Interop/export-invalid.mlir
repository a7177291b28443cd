// RUN: autopar-opt %s --autopar-export-shard --verify-diagnostics
// A partitioned function is a per-device program: its plan is gone.

autopar.mesh @mesh <gpus = 2>
// expected-error @+1 {{autopar-export-shard: @spmd is already partitioned; export the plan before autopar-partition}}
func.func @spmd(%x: tensor<4xf32> {autopar.sharding = #autopar.sharding<@mesh, [[gpus]]>}) -> tensor<4xf32> attributes {autopar.spmd = @mesh} {
  return %x : tensor<4xf32>
}
