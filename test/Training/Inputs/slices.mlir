// Data movement: pad, strided extract_slice, insert_slice, concat, in f64.
#id2 = affine_map<(d0, d1) -> (d0, d1)>
#none2 = affine_map<(d0, d1) -> ()>
func.func @forward(%a: tensor<4x5xf64> {autopar.role = "param"},
                   %b: tensor<2x3xf64> {autopar.role = "param"},
                   %c: tensor<3x5xf64> {autopar.role = "param"}) -> tensor<f64> {
  %zero = arith.constant 0.0 : f64
  %one = arith.constant 1.5 : f64
  %p = tensor.pad %a low[1, 0] high[2, 1] {
  ^bb0(%i: index, %j: index):
    tensor.yield %one : f64
  } : tensor<4x5xf64> to tensor<7x6xf64>
  %s = tensor.extract_slice %p[1, 0] [3, 5] [2, 1] : tensor<7x6xf64> to tensor<3x5xf64>
  %ins = tensor.insert_slice %b into %s[0, 1] [2, 3] [1, 1] : tensor<2x3xf64> into tensor<3x5xf64>
  %cat = tensor.concat dim(0) %ins, %c : (tensor<3x5xf64>, tensor<3x5xf64>) -> tensor<6x5xf64>
  %e0 = tensor.empty() : tensor<f64>
  %f0 = linalg.fill ins(%zero : f64) outs(%e0 : tensor<f64>) -> tensor<f64>
  %l = linalg.generic {indexing_maps = [#id2, #none2], iterator_types = ["reduction", "reduction"]}
      ins(%cat : tensor<6x5xf64>) outs(%f0 : tensor<f64>) {
  ^bb0(%v: f64, %acc: f64):
    %t = math.tanh %v : f64
    %sq = arith.mulf %t, %v : f64
    %r = arith.addf %acc, %sq : f64
    linalg.yield %r : f64
  } -> tensor<f64>
  return %l : tensor<f64>
}
