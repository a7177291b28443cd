// Softmaxes written as their decomposition (a row maximum, exp(x - max),
// the row sum, the division), as torch-mlir exports them and
// models/generate.py writes them: the maximum carries no gradient
// (isSoftmaxShift) and autopar-training does not differentiate it. Rows of
// a 3x4 product: one softmax with exp(x - max) in one op, one with the
// difference and its exponential apart; f64, loss = sum of (softmax *
// weights).
#all = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
#none = affine_map<(d0, d1) -> ()>
func.func @forward(%a: tensor<3x4xf64> {autopar.role = "param"},
                   %w: tensor<3x4xf64> {autopar.role = "param"}) -> tensor<f64> {
  %zero = arith.constant 0.0 : f64
  %ninf = arith.constant 0xFFF0000000000000 : f64
  %e = tensor.empty() : tensor<3x4xf64>
  %er = tensor.empty() : tensor<3xf64>
  %fmax = linalg.fill ins(%ninf : f64) outs(%er : tensor<3xf64>) -> tensor<3xf64>
  %fsum = linalg.fill ins(%zero : f64) outs(%er : tensor<3xf64>) -> tensor<3xf64>
  // exp(x - max) in one op.
  %m = linalg.generic {indexing_maps = [#all, #row], iterator_types = ["parallel", "reduction"]}
      ins(%a : tensor<3x4xf64>) outs(%fmax : tensor<3xf64>) {
  ^bb0(%x: f64, %acc: f64):
    %r = arith.maximumf %x, %acc : f64
    linalg.yield %r : f64
  } -> tensor<3xf64>
  %ex = linalg.generic {indexing_maps = [#all, #row, #all], iterator_types = ["parallel", "parallel"]}
      ins(%a, %m : tensor<3x4xf64>, tensor<3xf64>) outs(%e : tensor<3x4xf64>) {
  ^bb0(%x: f64, %mx: f64, %o: f64):
    %d = arith.subf %x, %mx : f64
    %x2 = math.exp %d : f64
    linalg.yield %x2 : f64
  } -> tensor<3x4xf64>
  %s = linalg.generic {indexing_maps = [#all, #row], iterator_types = ["parallel", "reduction"]}
      ins(%ex : tensor<3x4xf64>) outs(%fsum : tensor<3xf64>) {
  ^bb0(%x: f64, %acc: f64):
    %r = arith.addf %x, %acc : f64
    linalg.yield %r : f64
  } -> tensor<3xf64>
  %p = linalg.generic {indexing_maps = [#all, #row, #all], iterator_types = ["parallel", "parallel"]}
      ins(%ex, %s : tensor<3x4xf64>, tensor<3xf64>) outs(%e : tensor<3x4xf64>) {
  ^bb0(%x: f64, %sx: f64, %o: f64):
    %q = arith.divf %x, %sx : f64
    linalg.yield %q : f64
  } -> tensor<3x4xf64>
  // The difference and its exponential apart, on the first softmax times
  // the weights.
  %in2 = linalg.generic {indexing_maps = [#all, #all, #all], iterator_types = ["parallel", "parallel"]}
      ins(%p, %w : tensor<3x4xf64>, tensor<3x4xf64>) outs(%e : tensor<3x4xf64>) {
  ^bb0(%x: f64, %y: f64, %o: f64):
    %q = arith.mulf %x, %y : f64
    linalg.yield %q : f64
  } -> tensor<3x4xf64>
  %m2 = linalg.generic {indexing_maps = [#all, #row], iterator_types = ["parallel", "reduction"]}
      ins(%in2 : tensor<3x4xf64>) outs(%fmax : tensor<3xf64>) {
  ^bb0(%x: f64, %acc: f64):
    %r = arith.maximumf %x, %acc : f64
    linalg.yield %r : f64
  } -> tensor<3xf64>
  %sh = linalg.generic {indexing_maps = [#all, #row, #all], iterator_types = ["parallel", "parallel"]}
      ins(%in2, %m2 : tensor<3x4xf64>, tensor<3xf64>) outs(%e : tensor<3x4xf64>) {
  ^bb0(%x: f64, %mx: f64, %o: f64):
    %d = arith.subf %x, %mx : f64
    linalg.yield %d : f64
  } -> tensor<3x4xf64>
  %ex2 = linalg.generic {indexing_maps = [#all, #all], iterator_types = ["parallel", "parallel"]}
      ins(%sh : tensor<3x4xf64>) outs(%e : tensor<3x4xf64>) {
  ^bb0(%x: f64, %o: f64):
    %x2 = math.exp %x : f64
    linalg.yield %x2 : f64
  } -> tensor<3x4xf64>
  %s2 = linalg.generic {indexing_maps = [#all, #row], iterator_types = ["parallel", "reduction"]}
      ins(%ex2 : tensor<3x4xf64>) outs(%fsum : tensor<3xf64>) {
  ^bb0(%x: f64, %acc: f64):
    %r = arith.addf %x, %acc : f64
    linalg.yield %r : f64
  } -> tensor<3xf64>
  %p2 = linalg.generic {indexing_maps = [#all, #row, #all], iterator_types = ["parallel", "parallel"]}
      ins(%ex2, %s2 : tensor<3x4xf64>, tensor<3xf64>) outs(%e : tensor<3x4xf64>) {
  ^bb0(%x: f64, %sx: f64, %o: f64):
    %q = arith.divf %x, %sx : f64
    linalg.yield %q : f64
  } -> tensor<3x4xf64>
  %e0 = tensor.empty() : tensor<f64>
  %f0 = linalg.fill ins(%zero : f64) outs(%e0 : tensor<f64>) -> tensor<f64>
  %l = linalg.generic {indexing_maps = [#all, #all, #none], iterator_types = ["reduction", "reduction"]}
      ins(%p2, %w : tensor<3x4xf64>, tensor<3x4xf64>) outs(%f0 : tensor<f64>) {
  ^bb0(%v: f64, %u: f64, %acc: f64):
    %q = arith.mulf %v, %u : f64
    %r = arith.addf %acc, %q : f64
    linalg.yield %r : f64
  } -> tensor<f64>
  return %l : tensor<f64>
}
