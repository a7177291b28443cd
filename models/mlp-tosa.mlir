// The MLP of mlp.mlir written in TOSA (batch 128, 784 -> 512 -> 10), to
// exercise autopar's TOSA import.
module {
  func.func @forward(%x: tensor<1x128x784xf32>,
                     %w1: tensor<1x784x512xf32>, %b1: tensor<1x1x512xf32>,
                     %w2: tensor<1x512x10xf32>, %b2: tensor<1x1x10xf32>) -> tensor<1x128x10xf32> {
    %zp = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
    %h1 = tosa.matmul %x, %w1, %zp, %zp : (tensor<1x128x784xf32>, tensor<1x784x512xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x128x512xf32>
    %s1 = tosa.add %h1, %b1 : (tensor<1x128x512xf32>, tensor<1x1x512xf32>) -> tensor<1x128x512xf32>
    %a1 = tosa.clamp %s1 {min_val = 0.0 : f32, max_val = 3.4028235e+38 : f32} : (tensor<1x128x512xf32>) -> tensor<1x128x512xf32>
    %h2 = tosa.matmul %a1, %w2, %zp, %zp : (tensor<1x128x512xf32>, tensor<1x512x10xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x128x10xf32>
    %y = tosa.add %h2, %b2 : (tensor<1x128x10xf32>, tensor<1x1x10xf32>) -> tensor<1x128x10xf32>
    return %y : tensor<1x128x10xf32>
  }
}
