// A model whose input has 0 samples (bench/fuzz.py draws such programs).
func.func @forward(%w: tensor<4x4xf32> {autopar.role = "param"}, %x: tensor<0x4xf32> {autopar.role = "input"}) -> tensor<0x4xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<0x4xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<0x4xf32>) -> tensor<0x4xf32>
  %y = linalg.matmul ins(%x, %w : tensor<0x4xf32>, tensor<4x4xf32>) outs(%z : tensor<0x4xf32>) -> tensor<0x4xf32>
  return %y : tensor<0x4xf32>
}
