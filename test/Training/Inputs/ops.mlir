// Every scalar rule and structured-op shape the generic rule covers, in
// f64 so that central differences are exact to ~1e-9: elementwise math,
// a broadcast, a transpose, batch_matmul, reshapes, sum and max
// reductions. The function returns the loss (loss=auto).
#id2 = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d1)>
#tr = affine_map<(d0, d1) -> (d1, d0)>
#red = affine_map<(d0, d1) -> (d0)>
#all = affine_map<(d0) -> (d0)>
#none = affine_map<(d0) -> ()>
func.func @forward(%x: tensor<4x6xf64> {autopar.role = "input"},
                   %w: tensor<6xf64> {autopar.role = "param"},
                   %m: tensor<2x3x4xf64> {autopar.role = "param"},
                   %n: tensor<2x4x2xf64> {autopar.role = "param"}) -> tensor<f64> {
  %zero = arith.constant 0.0 : f64
  %half = arith.constant 0.5 : f64
  %e46 = tensor.empty() : tensor<4x6xf64>
  // Broadcast of %w over rows, and a chain of scalar ops.
  %a = linalg.generic {indexing_maps = [#id2, #row, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%x, %w : tensor<4x6xf64>, tensor<6xf64>) outs(%e46 : tensor<4x6xf64>) {
  ^bb0(%xi: f64, %wi: f64, %o: f64):
    %s = arith.mulf %xi, %wi : f64
    %t = math.tanh %s : f64
    %ex = math.exp %t : f64
    %lg = math.log %ex : f64
    %er = math.erf %lg : f64
    %sq = arith.mulf %wi, %wi : f64
    %pos = arith.addf %sq, %half : f64
    %rt = math.sqrt %pos : f64
    %rs = math.rsqrt %pos : f64
    %dv = arith.divf %er, %rt : f64
    %sb = arith.subf %dv, %rs : f64
    %ng = arith.negf %sb : f64
    %mn = arith.minimumf %ng, %half : f64
    %ab = math.absf %mn : f64
    %pw = math.powf %pos, %half : f64
    %c = arith.cmpf ogt, %xi, %zero : f64
    %sel = arith.select %c, %ab, %pw : f64
    %mx = arith.maximumf %sel, %s : f64
    linalg.yield %mx : f64
  } -> tensor<4x6xf64>
  // A transpose.
  %e64 = tensor.empty() : tensor<6x4xf64>
  %at = linalg.generic {indexing_maps = [#tr, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%a : tensor<4x6xf64>) outs(%e64 : tensor<6x4xf64>) {
  ^bb0(%v: f64, %o: f64):
    linalg.yield %v : f64
  } -> tensor<6x4xf64>
  // Reshapes to [2, 3, 4], batch_matmul with %m (elementwise product) and %n.
  %r3 = tensor.expand_shape %at [[0, 1], [2]] output_shape [2, 3, 4] : tensor<6x4xf64> into tensor<2x3x4xf64>
  %e234 = tensor.empty() : tensor<2x3x4xf64>
  %p = linalg.mul ins(%r3, %m : tensor<2x3x4xf64>, tensor<2x3x4xf64>) outs(%e234 : tensor<2x3x4xf64>) -> tensor<2x3x4xf64>
  %e232 = tensor.empty() : tensor<2x3x2xf64>
  %f232 = linalg.fill ins(%zero : f64) outs(%e232 : tensor<2x3x2xf64>) -> tensor<2x3x2xf64>
  %bm = linalg.batch_matmul ins(%p, %n : tensor<2x3x4xf64>, tensor<2x4x2xf64>) outs(%f232 : tensor<2x3x2xf64>) -> tensor<2x3x2xf64>
  %flat = tensor.collapse_shape %bm [[0, 1], [2]] : tensor<2x3x2xf64> into tensor<6x2xf64>
  // Max over columns, then a sum over rows.
  %neg = arith.constant 0xFFF0000000000000 : f64
  %e6 = tensor.empty() : tensor<6xf64>
  %f6 = linalg.fill ins(%neg : f64) outs(%e6 : tensor<6xf64>) -> tensor<6xf64>
  %rmax = linalg.generic {indexing_maps = [#id2, #red], iterator_types = ["parallel", "reduction"]}
      ins(%flat : tensor<6x2xf64>) outs(%f6 : tensor<6xf64>) {
  ^bb0(%v: f64, %acc: f64):
    %r = arith.maximumf %acc, %v : f64
    linalg.yield %r : f64
  } -> tensor<6xf64>
  %e0 = tensor.empty() : tensor<f64>
  %f0 = linalg.fill ins(%zero : f64) outs(%e0 : tensor<f64>) -> tensor<f64>
  %sum = linalg.generic {indexing_maps = [#all, #none], iterator_types = ["reduction"]}
      ins(%rmax : tensor<6xf64>) outs(%f0 : tensor<f64>) {
  ^bb0(%v: f64, %acc: f64):
    %sq = arith.mulf %v, %v : f64
    %r = arith.addf %acc, %sq : f64
    linalg.yield %r : f64
  } -> tensor<f64>
  return %sum : tensor<f64>
}
