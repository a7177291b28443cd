func.func @forward(%x: tensor<8x4xi32> {autopar.role = "input"}, %w: tensor<4x4xi32> {autopar.role = "param"}) -> tensor<8x4xi32> {
  %c0 = arith.constant 0 : i32
  %e = tensor.empty() : tensor<8x4xi32>
  %f = linalg.fill ins(%c0 : i32) outs(%e : tensor<8x4xi32>) -> tensor<8x4xi32>
  %y = linalg.matmul ins(%x, %w : tensor<8x4xi32>, tensor<4x4xi32>) outs(%f : tensor<8x4xi32>) -> tensor<8x4xi32>
  return %y : tensor<8x4xi32>
}
