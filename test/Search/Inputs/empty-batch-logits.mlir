// Logits of a zero-size batch (test/Search/loss.test).
func.func @forward(%x: tensor<0x4xf32> {autopar.role = "input"}, %w: tensor<4x3xf32> {autopar.role = "param"}) -> tensor<0x3xf32> {
  %z = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<0x3xf32>
  %f = linalg.fill ins(%z : f32) outs(%e : tensor<0x3xf32>) -> tensor<0x3xf32>
  %y = linalg.matmul ins(%x, %w : tensor<0x4xf32>, tensor<4x3xf32>) outs(%f : tensor<0x3xf32>) -> tensor<0x3xf32>
  return %y : tensor<0x3xf32>
}
