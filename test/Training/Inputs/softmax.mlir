// linalg.softmax (an aggregated op, decomposed only when lowered) on both
// dimensions of a 3x4 product; f64, loss = sum of (softmax * weights) so
// that the gradient is not the zero that a plain sum would give.
#all = affine_map<(d0, d1) -> (d0, d1)>
#none = affine_map<(d0, d1) -> ()>
func.func @forward(%a: tensor<3x4xf64> {autopar.role = "param"},
                   %w: tensor<3x4xf64> {autopar.role = "param"}) -> tensor<f64> {
  %zero = arith.constant 0.0 : f64
  %e = tensor.empty() : tensor<3x4xf64>
  %rows = linalg.softmax dimension(1) ins(%a : tensor<3x4xf64>) outs(%e : tensor<3x4xf64>) -> tensor<3x4xf64>
  %cols = linalg.softmax dimension(0) ins(%rows : tensor<3x4xf64>) outs(%e : tensor<3x4xf64>) -> tensor<3x4xf64>
  %e0 = tensor.empty() : tensor<f64>
  %f0 = linalg.fill ins(%zero : f64) outs(%e0 : tensor<f64>) -> tensor<f64>
  %l = linalg.generic {indexing_maps = [#all, #all, #none], iterator_types = ["reduction", "reduction"]}
      ins(%cols, %w : tensor<3x4xf64>, tensor<3x4xf64>) outs(%f0 : tensor<f64>) {
  ^bb0(%v: f64, %u: f64, %acc: f64):
    %p = arith.mulf %v, %u : f64
    %r = arith.addf %acc, %p : f64
    linalg.yield %r : f64
  } -> tensor<f64>
  return %l : tensor<f64>
}
