// RUN: autopar-opt %s --autopar-import-shard --split-input-file --verify-diagnostics
// What autopar-import-shard cannot read is said, at the op.

shard.grid @grid(shape = 2)
func.func @halo(%x: tensor<8xf32>) -> tensor<8xf32> {
  %s = shard.sharding @grid split_axes = [[0]] halo_sizes = [1, 1] : !shard.sharding
  // expected-error @+1 {{autopar-import-shard: only shardings made by a shard.sharding without halos or offsets are supported}}
  %a = shard.shard %x to %s : tensor<8xf32>
  return %a : tensor<8xf32>
}

// -----

shard.grid @grid(shape = 2)
func.func @average(%x: tensor<8xf32>) -> tensor<8xf32> {
  // expected-error @+1 {{autopar-import-shard: reduction average is not supported}}
  %r = shard.all_reduce %x on @grid grid_axes = [0] reduction = average : tensor<8xf32> -> tensor<8xf32>
  return %r : tensor<8xf32>
}

// -----

shard.grid @grid(shape = 2)
func.func @broadcast(%x: tensor<8xf32>) -> tensor<8xf32> {
  // expected-error @+1 {{autopar-import-shard: 'shard.broadcast' has no autopar counterpart}}
  %r = shard.broadcast %x on @grid grid_axes = [0] root = [0] : (tensor<8xf32>) -> tensor<8xf32>
  return %r : tensor<8xf32>
}
