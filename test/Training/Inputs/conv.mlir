// Windows: a strided and dilated convolution, max and sum pooling, a
// depthwise convolution in NHWC, in f64; loss = sum of squares. The image
// is a parameter too, so that the strided, dilated data gradient is checked.
#all4 = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
#none4 = affine_map<(d0, d1, d2, d3) -> ()>
func.func @forward(%x: tensor<2x3x11x11xf64> {autopar.role = "param"},
                   %w: tensor<4x3x3x3xf64> {autopar.role = "param"},
                   %dw: tensor<2x2x4xf64> {autopar.role = "param"}) -> tensor<f64> {
  %zero = arith.constant 0.0 : f64
  %neg = arith.constant 0xFFF0000000000000 : f64
  // 11 -> (11 - 2*2 - 1) / 2 + 1 = 4, stride 2, dilation 2.
  %e1 = tensor.empty() : tensor<2x4x4x4xf64>
  %f1 = linalg.fill ins(%zero : f64) outs(%e1 : tensor<2x4x4x4xf64>) -> tensor<2x4x4x4xf64>
  %c = linalg.conv_2d_nchw_fchw {strides = dense<2> : tensor<2xi64>, dilations = dense<2> : tensor<2xi64>}
      ins(%x, %w : tensor<2x3x11x11xf64>, tensor<4x3x3x3xf64>) outs(%f1 : tensor<2x4x4x4xf64>) -> tensor<2x4x4x4xf64>
  // Max pooling 2x2, stride 1: 4 -> 3.
  %win = tensor.empty() : tensor<2x2xf64>
  %e2 = tensor.empty() : tensor<2x4x3x3xf64>
  %f2 = linalg.fill ins(%neg : f64) outs(%e2 : tensor<2x4x3x3xf64>) -> tensor<2x4x3x3xf64>
  %p = linalg.pooling_nchw_max {strides = dense<1> : tensor<2xi64>, dilations = dense<1> : tensor<2xi64>}
      ins(%c, %win : tensor<2x4x4x4xf64>, tensor<2x2xf64>) outs(%f2 : tensor<2x4x3x3xf64>) -> tensor<2x4x3x3xf64>
  // To NHWC and a depthwise 2x2 convolution: 3 -> 2.
  %e3 = tensor.empty() : tensor<2x3x3x4xf64>
  %t = linalg.transpose ins(%p : tensor<2x4x3x3xf64>) outs(%e3 : tensor<2x3x3x4xf64>) permutation = [0, 2, 3, 1]
  %e4 = tensor.empty() : tensor<2x2x2x4xf64>
  %f4 = linalg.fill ins(%zero : f64) outs(%e4 : tensor<2x2x2x4xf64>) -> tensor<2x2x2x4xf64>
  %d = linalg.depthwise_conv_2d_nhwc_hwc {strides = dense<1> : tensor<2xi64>, dilations = dense<1> : tensor<2xi64>}
      ins(%t, %dw : tensor<2x3x3x4xf64>, tensor<2x2x4xf64>) outs(%f4 : tensor<2x2x2x4xf64>) -> tensor<2x2x2x4xf64>
  // Sum pooling 2x2 stride 2 (NHWC): 2 -> 1.
  %e5 = tensor.empty() : tensor<2x1x1x4xf64>
  %f5 = linalg.fill ins(%zero : f64) outs(%e5 : tensor<2x1x1x4xf64>) -> tensor<2x1x1x4xf64>
  %s = linalg.pooling_nhwc_sum {strides = dense<2> : tensor<2xi64>, dilations = dense<1> : tensor<2xi64>}
      ins(%d, %win : tensor<2x2x2x4xf64>, tensor<2x2xf64>) outs(%f5 : tensor<2x1x1x4xf64>) -> tensor<2x1x1x4xf64>
  %e0 = tensor.empty() : tensor<f64>
  %f0 = linalg.fill ins(%zero : f64) outs(%e0 : tensor<f64>) -> tensor<f64>
  %l = linalg.generic {indexing_maps = [#all4, #none4], iterator_types = ["reduction", "reduction", "reduction", "reduction"]}
      ins(%s : tensor<2x1x1x4xf64>) outs(%f0 : tensor<f64>) {
  ^bb0(%v: f64, %acc: f64):
    %sq = arith.mulf %v, %v : f64
    %r = arith.addf %acc, %sq : f64
    linalg.yield %r : f64
  } -> tensor<f64>
  return %l : tensor<f64>
}
