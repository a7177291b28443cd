// Input of plugin.mlir: an all_gather whose result shape is wrong.
autopar.mesh @mesh <gpus = 4>
func.func @gather(%x: tensor<2x8xf32>) -> tensor<4x8xf32> {
  // The error points at the op below (line 5, column 8).
  %0 = autopar.all_gather %x on @mesh axes [gpus] gather_dim = 0 : tensor<2x8xf32> -> tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}
