// A forward function with a 1-D output (test/Search/loss.test).
func.func @forward(%x: tensor<4xf32> {autopar.role = "input"}, %w: tensor<4xf32> {autopar.role = "param"}) -> tensor<4xf32> {
  %e = tensor.empty() : tensor<4xf32>
  %y = linalg.add ins(%x, %w : tensor<4xf32>, tensor<4xf32>) outs(%e : tensor<4xf32>) -> tensor<4xf32>
  return %y : tensor<4xf32>
}
