// Forward and backward transfers of a pipeline: two pair lists, one table
// each, shared by the transfers with the same list (permute.mlir).
autopar.mesh @mesh <stages = 2>
func.func @both(%t: tensor<2xf32>) -> (tensor<2xf32>, tensor<2xf32>) {
  %f = autopar.permute %t on @mesh axes [stages] pairs = [0 -> 1] : tensor<2xf32> -> tensor<2xf32>
  %b = autopar.permute %f on @mesh axes [stages] pairs = [1 -> 0] : tensor<2xf32> -> tensor<2xf32>
  %c = autopar.permute %b on @mesh axes [stages] pairs = [0 -> 1] : tensor<2xf32> -> tensor<2xf32>
  return %b, %c : tensor<2xf32>, tensor<2xf32>
}
