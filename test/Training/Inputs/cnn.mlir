// A tiny CNN: padded 3x3 convolution with bias and ReLU, 2x2 max pooling,
// flatten, a fully connected classifier. f32, logits [batch, classes].
#nchw = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
#bias = affine_map<(d0, d1, d2, d3) -> (d1)>
#mat = affine_map<(d0, d1) -> (d0, d1)>
#vec = affine_map<(d0, d1) -> (d1)>
func.func @forward(%x: tensor<8x1x6x6xf32> {autopar.role = "input"},
                   %w: tensor<4x1x3x3xf32> {autopar.role = "param"},
                   %b: tensor<4xf32> {autopar.role = "param"},
                   %fw: tensor<36x3xf32> {autopar.role = "param"},
                   %fb: tensor<3xf32> {autopar.role = "param"}) -> tensor<8x3xf32> {
  %zero = arith.constant 0.0 : f32
  %neg = arith.constant 0xFF800000 : f32
  %xp = tensor.pad %x low[0, 0, 1, 1] high[0, 0, 1, 1] {
  ^bb0(%i: index, %j: index, %k: index, %l: index):
    tensor.yield %zero : f32
  } : tensor<8x1x6x6xf32> to tensor<8x1x8x8xf32>
  %e1 = tensor.empty() : tensor<8x4x6x6xf32>
  %f1 = linalg.fill ins(%zero : f32) outs(%e1 : tensor<8x4x6x6xf32>) -> tensor<8x4x6x6xf32>
  %c = linalg.conv_2d_nchw_fchw {strides = dense<1> : tensor<2xi64>, dilations = dense<1> : tensor<2xi64>}
      ins(%xp, %w : tensor<8x1x8x8xf32>, tensor<4x1x3x3xf32>) outs(%f1 : tensor<8x4x6x6xf32>) -> tensor<8x4x6x6xf32>
  %r = linalg.generic {indexing_maps = [#nchw, #bias, #nchw], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%c, %b : tensor<8x4x6x6xf32>, tensor<4xf32>) outs(%e1 : tensor<8x4x6x6xf32>) {
  ^bb0(%v: f32, %bv: f32, %o: f32):
    %s = arith.addf %v, %bv : f32
    %m = arith.maximumf %s, %zero : f32
    linalg.yield %m : f32
  } -> tensor<8x4x6x6xf32>
  %win = tensor.empty() : tensor<2x2xf32>
  %e2 = tensor.empty() : tensor<8x4x3x3xf32>
  %f2 = linalg.fill ins(%neg : f32) outs(%e2 : tensor<8x4x3x3xf32>) -> tensor<8x4x3x3xf32>
  %p = linalg.pooling_nchw_max {strides = dense<2> : tensor<2xi64>, dilations = dense<1> : tensor<2xi64>}
      ins(%r, %win : tensor<8x4x6x6xf32>, tensor<2x2xf32>) outs(%f2 : tensor<8x4x3x3xf32>) -> tensor<8x4x3x3xf32>
  %flat = tensor.collapse_shape %p [[0], [1, 2, 3]] : tensor<8x4x3x3xf32> into tensor<8x36xf32>
  %e3 = tensor.empty() : tensor<8x3xf32>
  %f3 = linalg.fill ins(%zero : f32) outs(%e3 : tensor<8x3xf32>) -> tensor<8x3xf32>
  %fc = linalg.matmul ins(%flat, %fw : tensor<8x36xf32>, tensor<36x3xf32>) outs(%f3 : tensor<8x3xf32>) -> tensor<8x3xf32>
  %y = linalg.generic {indexing_maps = [#mat, #vec, #mat], iterator_types = ["parallel", "parallel"]}
      ins(%fc, %fb : tensor<8x3xf32>, tensor<3xf32>) outs(%e3 : tensor<8x3xf32>) {
  ^bb0(%v: f32, %bv: f32, %o: f32):
    %s = arith.addf %v, %bv : f32
    linalg.yield %s : f32
  } -> tensor<8x3xf32>
  return %y : tensor<8x3xf32>
}
