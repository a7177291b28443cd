// A forward function with two results (test/Search/loss.test).
func.func @forward(%x: tensor<8x4xf32> {autopar.role = "input"},
                   %w: tensor<4x4xf32> {autopar.role = "param"})
    -> (tensor<8x4xf32>, tensor<8x4xf32>) {
  %z = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<8x4xf32>
  %f = linalg.fill ins(%z : f32) outs(%e : tensor<8x4xf32>) -> tensor<8x4xf32>
  %y = linalg.matmul ins(%x, %w : tensor<8x4xf32>, tensor<4x4xf32>)
                     outs(%f : tensor<8x4xf32>) -> tensor<8x4xf32>
  return %y, %y : tensor<8x4xf32>, tensor<8x4xf32>
}
