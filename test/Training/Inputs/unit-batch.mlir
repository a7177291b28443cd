// torch-mlir's batch of 1: maps that read the unit batch dimension at the
// constant 0, as in the corpus exports; f64, loss = sum of squares.
#in = affine_map<(d0, d1) -> (0, d1)>
#vec = affine_map<(d0, d1) -> (d1)>
#out = affine_map<(d0, d1) -> (d0, d1)>
#all = affine_map<(d0, d1) -> (d0, d1)>
#none = affine_map<(d0, d1) -> ()>
func.func @forward(%a: tensor<1x3xf64> {autopar.role = "param"},
                   %b: tensor<3xf64> {autopar.role = "param"}) -> tensor<f64> {
  %zero = arith.constant 0.0 : f64
  %e = tensor.empty() : tensor<1x3xf64>
  %y = linalg.generic {indexing_maps = [#in, #vec, #out], iterator_types = ["parallel", "parallel"]}
      ins(%a, %b : tensor<1x3xf64>, tensor<3xf64>) outs(%e : tensor<1x3xf64>) {
  ^bb0(%av: f64, %bv: f64, %o: f64):
    %m = arith.mulf %av, %bv : f64
    %t = math.tanh %av : f64
    %s = arith.addf %m, %t : f64
    linalg.yield %s : f64
  } -> tensor<1x3xf64>
  %e0 = tensor.empty() : tensor<f64>
  %f0 = linalg.fill ins(%zero : f64) outs(%e0 : tensor<f64>) -> tensor<f64>
  %l = linalg.generic {indexing_maps = [#all, #none], iterator_types = ["reduction", "reduction"]}
      ins(%y : tensor<1x3xf64>) outs(%f0 : tensor<f64>) {
  ^bb0(%v: f64, %acc: f64):
    %sq = arith.mulf %v, %v : f64
    %r = arith.addf %acc, %sq : f64
    linalg.yield %r : f64
  } -> tensor<f64>
  return %l : tensor<f64>
}
