// Parameters only, no batch input (microbatches.test).
func.func @forward(%w: tensor<8x4xf32> {autopar.role = "param"}, %v: tensor<4xf32> {autopar.role = "param"}) -> tensor<8xf32> {
  %e = tensor.empty() : tensor<8xf32>
  %c = arith.constant 0.0 : f32
  %f = linalg.fill ins(%c : f32) outs(%e : tensor<8xf32>) -> tensor<8xf32>
  %r = linalg.matvec ins(%w, %v : tensor<8x4xf32>, tensor<4xf32>) outs(%f : tensor<8xf32>) -> tensor<8xf32>
  return %r : tensor<8xf32>
}
