// A two-layer perceptron, forward pass, in linalg on tensors: a batch of 128
// flattened 28x28 images, 784 -> 512 (ReLU) -> 10. The first argument is the
// batch input, the others are parameters.
#map_bias = affine_map<(d0, d1) -> (d1)>
#map_id = affine_map<(d0, d1) -> (d0, d1)>
module {
  func.func @forward(%x: tensor<128x784xf32>,
                     %w1: tensor<784x512xf32>, %b1: tensor<512xf32>,
                     %w2: tensor<512x10xf32>, %b2: tensor<10xf32>) -> tensor<128x10xf32> {
    %zero = arith.constant 0.0 : f32
    %e1 = tensor.empty() : tensor<128x512xf32>
    %f1 = linalg.fill ins(%zero : f32) outs(%e1 : tensor<128x512xf32>) -> tensor<128x512xf32>
    %h1 = linalg.matmul ins(%x, %w1 : tensor<128x784xf32>, tensor<784x512xf32>)
                        outs(%f1 : tensor<128x512xf32>) -> tensor<128x512xf32>
    %a1 = linalg.generic {indexing_maps = [#map_id, #map_bias, #map_id],
                          iterator_types = ["parallel", "parallel"]}
        ins(%h1, %b1 : tensor<128x512xf32>, tensor<512xf32>) outs(%e1 : tensor<128x512xf32>) {
    ^bb0(%h: f32, %b: f32, %out: f32):
      %s = arith.addf %h, %b : f32
      %r = arith.maximumf %s, %zero : f32
      linalg.yield %r : f32
    } -> tensor<128x512xf32>
    %e2 = tensor.empty() : tensor<128x10xf32>
    %f2 = linalg.fill ins(%zero : f32) outs(%e2 : tensor<128x10xf32>) -> tensor<128x10xf32>
    %h2 = linalg.matmul ins(%a1, %w2 : tensor<128x512xf32>, tensor<512x10xf32>)
                        outs(%f2 : tensor<128x10xf32>) -> tensor<128x10xf32>
    %y = linalg.generic {indexing_maps = [#map_id, #map_bias, #map_id],
                         iterator_types = ["parallel", "parallel"]}
        ins(%h2, %b2 : tensor<128x10xf32>, tensor<10xf32>) outs(%e2 : tensor<128x10xf32>) {
    ^bb0(%h: f32, %b: f32, %out: f32):
      %s = arith.addf %h, %b : f32
      linalg.yield %s : f32
    } -> tensor<128x10xf32>
    return %y : tensor<128x10xf32>
  }
}
