// The Hugging Face GPT-2 of hf-gpt2-tiny.mlir in bf16, as torch-mlir exports
// a 16-bit model, made by autopar's own importer:
//   autopar-import-torch "hf:gpt2:n_layer=1,n_embd=64,n_head=2,vocab_size=96,n_positions=32" --batch 2 --seq-len 16 --dtype bf16
// Kept here so that tests without torch see torch-mlir's 16-bit forms: a
// linear layer's operands widened to f32, multiplied and summed with the
// bias in f32, the result rounded to bf16.
// autopar-import-torch hf:gpt2:n_layer=1,n_embd=64,n_head=2,vocab_size=96,n_positions=32: batch 2, bf16, 16 parameter tensors (58304 elements), 0 buffers, inputs input_ids 2x16
#map = affine_map<(d0, d1, d2) -> (d0, d1)>
#map1 = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#map2 = affine_map<(d0) -> (d0)>
#map3 = affine_map<(d0, d1, d2) -> (0, d1, d2)>
#map4 = affine_map<(d0, d1, d2, d3) -> (d0, d1, 0, d3)>
#map5 = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, 0)>
#map6 = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
#map7 = affine_map<(d0, d1, d2, d3) -> ()>
#map8 = affine_map<(d0, d1, d2, d3) -> (d0, 0, 0, 0)>
#map9 = affine_map<(d0, d1, d2, d3) -> (0, 0, 0, d3)>
#map10 = affine_map<(d0, d1, d2, d3) -> (0, d1, d2, d3)>
#map11 = affine_map<(d0, d1, d2) -> (d0, d1, 0)>
#map12 = affine_map<(d0, d1, d2) -> (d2)>
#map13 = affine_map<(d0, d1) -> (d0, d1)>
#map14 = affine_map<(d0, d1) -> (d1)>
#map15 = affine_map<(d0, d1, d2, d3) -> (d0, 0, d2, d3)>
#map16 = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
module {
  func.func @forward(%arg0: tensor<96x64xbf16> {autopar.role = "param"}, %arg1: tensor<32x64xbf16> {autopar.role = "param"}, %arg2: tensor<64xbf16> {autopar.role = "param"}, %arg3: tensor<64xbf16> {autopar.role = "param"}, %arg4: tensor<64x192xbf16> {autopar.role = "param"}, %arg5: tensor<192xbf16> {autopar.role = "param"}, %arg6: tensor<64x64xbf16> {autopar.role = "param"}, %arg7: tensor<64xbf16> {autopar.role = "param"}, %arg8: tensor<64xbf16> {autopar.role = "param"}, %arg9: tensor<64xbf16> {autopar.role = "param"}, %arg10: tensor<64x256xbf16> {autopar.role = "param"}, %arg11: tensor<256xbf16> {autopar.role = "param"}, %arg12: tensor<256x64xbf16> {autopar.role = "param"}, %arg13: tensor<64xbf16> {autopar.role = "param"}, %arg14: tensor<64xbf16> {autopar.role = "param"}, %arg15: tensor<64xbf16> {autopar.role = "param"}, %arg16: tensor<2x16xi64> {autopar.role = "input"}) -> tensor<2x16x96xbf16> {
    %c3_i64 = arith.constant 3 : i64
    %c0_i64 = arith.constant 0 : i64
    %c96 = arith.constant 96 : index
    %c32 = arith.constant 32 : index
    %cst = arith.constant 0.000000e+00 : f64
    %cst_0 = arith.constant 0.000000e+00 : f32
    %cst_1 = arith.constant 0xFF800000 : f32
    %cst_2 = arith.constant dense<-3.389530e+38> : tensor<bf16>
    %cst_3 = arith.constant dense<0.000000e+00> : tensor<bf16>
    %cst_4 = arith.constant dense<true> : tensor<i1>
    %cst_5 = arith.constant 0.79788456080286541 : f64
    %cst_6 = arith.constant 4.471500e-02 : f64
    %cst_7 = arith.constant 0.17677669529663689 : f64
    %cst_8 = arith.constant 1.000000e-05 : f64
    %true = arith.constant true
    %cst_9 = arith.constant 6.400000e+01 : f64
    %cst_10 = arith.constant 6.400000e+01 : f32
    %cst_11 = arith.constant 5.000000e-01 : bf16
    %cst_12 = arith.constant 1.000000e+00 : bf16
    %0 = tensor.empty() : tensor<2x16x64xbf16>
    %1 = linalg.generic {indexing_maps = [#map, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%arg16 : tensor<2x16xi64>) outs(%0 : tensor<2x16x64xbf16>) {
    ^bb0(%in: i64, %out: bf16):
      %165 = arith.index_cast %in : i64 to index
      %166 = linalg.index 2 : index
      %167 = arith.cmpi slt, %165, %c96 : index
      cf.assert %167, "index must be smaller than dim size"
      %168 = arith.cmpi sge, %in, %c0_i64 : i64
      cf.assert %168, "index must be larger or equal to 0"
      %extracted = tensor.extract %arg0[%165, %166] : tensor<96x64xbf16>
      linalg.yield %extracted : bf16
    } -> tensor<2x16x64xbf16>
    %2 = tensor.empty() : tensor<16xi64>
    %3 = linalg.generic {indexing_maps = [#map2], iterator_types = ["parallel"]} outs(%2 : tensor<16xi64>) {
    ^bb0(%out: i64):
      %165 = linalg.index 0 : index
      %166 = arith.index_cast %165 : index to i64
      linalg.yield %166 : i64
    } -> tensor<16xi64>
    %expanded = tensor.expand_shape %3 [[0, 1]] output_shape [1, 16] : tensor<16xi64> into tensor<1x16xi64>
    %4 = tensor.empty() : tensor<1x16x64xbf16>
    %5 = linalg.generic {indexing_maps = [#map, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%expanded : tensor<1x16xi64>) outs(%4 : tensor<1x16x64xbf16>) {
    ^bb0(%in: i64, %out: bf16):
      %165 = arith.index_cast %in : i64 to index
      %166 = linalg.index 2 : index
      %167 = arith.cmpi slt, %165, %c32 : index
      cf.assert %167, "index must be smaller than dim size"
      %168 = arith.cmpi sge, %in, %c0_i64 : i64
      cf.assert %168, "index must be larger or equal to 0"
      %extracted = tensor.extract %arg1[%165, %166] : tensor<32x64xbf16>
      linalg.yield %extracted : bf16
    } -> tensor<1x16x64xbf16>
    %6 = linalg.generic {indexing_maps = [#map1, #map3, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%1, %5 : tensor<2x16x64xbf16>, tensor<1x16x64xbf16>) outs(%0 : tensor<2x16x64xbf16>) {
    ^bb0(%in: bf16, %in_41: bf16, %out: bf16):
      %165 = arith.addf %in, %in_41 : bf16
      linalg.yield %165 : bf16
    } -> tensor<2x16x64xbf16>
    %7 = tensor.empty() : tensor<2xi64>
    %8 = linalg.generic {indexing_maps = [#map2], iterator_types = ["parallel"]} outs(%7 : tensor<2xi64>) {
    ^bb0(%out: i64):
      %165 = linalg.index 0 : index
      %166 = arith.index_cast %165 : index to i64
      linalg.yield %166 : i64
    } -> tensor<2xi64>
    %expanded_13 = tensor.expand_shape %8 [[0, 1, 2, 3]] output_shape [2, 1, 1, 1] : tensor<2xi64> into tensor<2x1x1x1xi64>
    %expanded_14 = tensor.expand_shape %3 [[0, 1, 2, 3]] output_shape [1, 1, 16, 1] : tensor<16xi64> into tensor<1x1x16x1xi64>
    %expanded_15 = tensor.expand_shape %3 [[0, 1, 2, 3]] output_shape [1, 1, 1, 16] : tensor<16xi64> into tensor<1x1x1x16xi64>
    %9 = tensor.empty() : tensor<1x1x16x16xi1>
    %10 = linalg.generic {indexing_maps = [#map4, #map5, #map6], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%expanded_15, %expanded_14 : tensor<1x1x1x16xi64>, tensor<1x1x16x1xi64>) outs(%9 : tensor<1x1x16x16xi1>) {
    ^bb0(%in: i64, %in_41: i64, %out: i1):
      %165 = arith.cmpi sle, %in, %in_41 : i64
      linalg.yield %165 : i1
    } -> tensor<1x1x16x16xi1>
    %11 = linalg.generic {indexing_maps = [#map7, #map6, #map6], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%cst_4, %10 : tensor<i1>, tensor<1x1x16x16xi1>) outs(%9 : tensor<1x1x16x16xi1>) {
    ^bb0(%in: i1, %in_41: i1, %out: i1):
      %165 = arith.andi %in, %in_41 : i1
      linalg.yield %165 : i1
    } -> tensor<1x1x16x16xi1>
    %12 = tensor.empty() : tensor<2x1x1x16xi1>
    %13 = linalg.generic {indexing_maps = [#map8, #map9, #map6], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%expanded_13, %expanded_15 : tensor<2x1x1x1xi64>, tensor<1x1x1x16xi64>) outs(%12 : tensor<2x1x1x16xi1>) {
    ^bb0(%in: i64, %in_41: i64, %out: i1):
      linalg.yield %true : i1
    } -> tensor<2x1x1x16xi1>
    %14 = tensor.empty() : tensor<2x1x16x16xi1>
    %15 = linalg.generic {indexing_maps = [#map10, #map4, #map6], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%11, %13 : tensor<1x1x16x16xi1>, tensor<2x1x1x16xi1>) outs(%14 : tensor<2x1x16x16xi1>) {
    ^bb0(%in: i1, %in_41: i1, %out: i1):
      %165 = arith.andi %in, %in_41 : i1
      linalg.yield %165 : i1
    } -> tensor<2x1x16x16xi1>
    %16 = tensor.empty() : tensor<2x1x16x16xbf16>
    %17 = linalg.generic {indexing_maps = [#map6, #map7, #map7, #map6], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%15, %cst_3, %cst_2 : tensor<2x1x16x16xi1>, tensor<bf16>, tensor<bf16>) outs(%16 : tensor<2x1x16x16xbf16>) {
    ^bb0(%in: i1, %in_41: bf16, %in_42: bf16, %out: bf16):
      %165 = arith.select %in, %in_41, %in_42 : bf16
      linalg.yield %165 : bf16
    } -> tensor<2x1x16x16xbf16>
    %18 = tensor.empty() : tensor<2x16x64xf32>
    %19 = linalg.generic {indexing_maps = [#map1, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%6 : tensor<2x16x64xbf16>) outs(%18 : tensor<2x16x64xf32>) {
    ^bb0(%in: bf16, %out: f32):
      %165 = arith.extf %in : bf16 to f32
      linalg.yield %165 : f32
    } -> tensor<2x16x64xf32>
    %20 = tensor.empty() : tensor<2x16x64xf64>
    %21 = linalg.generic {indexing_maps = [#map1, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%19 : tensor<2x16x64xf32>) outs(%20 : tensor<2x16x64xf64>) {
    ^bb0(%in: f32, %out: f64):
      %165 = arith.extf %in : f32 to f64
      linalg.yield %165 : f64
    } -> tensor<2x16x64xf64>
    %22 = tensor.empty() : tensor<2x16x1xf64>
    %23 = linalg.fill ins(%cst : f64) outs(%22 : tensor<2x16x1xf64>) -> tensor<2x16x1xf64>
    %24 = linalg.generic {indexing_maps = [#map1, #map11], iterator_types = ["parallel", "parallel", "reduction"]} ins(%21 : tensor<2x16x64xf64>) outs(%23 : tensor<2x16x1xf64>) {
    ^bb0(%in: f64, %out: f64):
      %165 = arith.addf %in, %out : f64
      linalg.yield %165 : f64
    } -> tensor<2x16x1xf64>
    %25 = linalg.generic {indexing_maps = [#map1, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%24 : tensor<2x16x1xf64>) outs(%22 : tensor<2x16x1xf64>) {
    ^bb0(%in: f64, %out: f64):
      %165 = arith.divf %in, %cst_9 : f64
      linalg.yield %165 : f64
    } -> tensor<2x16x1xf64>
    %26 = linalg.generic {indexing_maps = [#map1, #map11, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%21, %25 : tensor<2x16x64xf64>, tensor<2x16x1xf64>) outs(%20 : tensor<2x16x64xf64>) {
    ^bb0(%in: f64, %in_41: f64, %out: f64):
      %165 = arith.subf %in, %in_41 : f64
      linalg.yield %165 : f64
    } -> tensor<2x16x64xf64>
    %27 = linalg.generic {indexing_maps = [#map1, #map1, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%26, %26 : tensor<2x16x64xf64>, tensor<2x16x64xf64>) outs(%20 : tensor<2x16x64xf64>) {
    ^bb0(%in: f64, %in_41: f64, %out: f64):
      %165 = arith.mulf %in, %in_41 : f64
      linalg.yield %165 : f64
    } -> tensor<2x16x64xf64>
    %28 = linalg.generic {indexing_maps = [#map1, #map11], iterator_types = ["parallel", "parallel", "reduction"]} ins(%27 : tensor<2x16x64xf64>) outs(%23 : tensor<2x16x1xf64>) {
    ^bb0(%in: f64, %out: f64):
      %165 = arith.addf %in, %out : f64
      linalg.yield %165 : f64
    } -> tensor<2x16x1xf64>
    %29 = linalg.generic {indexing_maps = [#map1, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%28 : tensor<2x16x1xf64>) outs(%22 : tensor<2x16x1xf64>) {
    ^bb0(%in: f64, %out: f64):
      %165 = arith.divf %in, %cst_9 : f64
      linalg.yield %165 : f64
    } -> tensor<2x16x1xf64>
    %30 = tensor.empty() : tensor<2x16x1xf32>
    %31 = linalg.generic {indexing_maps = [#map1, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%29 : tensor<2x16x1xf64>) outs(%30 : tensor<2x16x1xf32>) {
    ^bb0(%in: f64, %out: f32):
      %165 = arith.truncf %in : f64 to f32
      linalg.yield %165 : f32
    } -> tensor<2x16x1xf32>
    %32 = linalg.fill ins(%cst_0 : f32) outs(%30 : tensor<2x16x1xf32>) -> tensor<2x16x1xf32>
    %33 = linalg.generic {indexing_maps = [#map1, #map11], iterator_types = ["parallel", "parallel", "reduction"]} ins(%19 : tensor<2x16x64xf32>) outs(%32 : tensor<2x16x1xf32>) {
    ^bb0(%in: f32, %out: f32):
      %165 = arith.addf %in, %out : f32
      linalg.yield %165 : f32
    } -> tensor<2x16x1xf32>
    %34 = linalg.generic {indexing_maps = [#map1, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%33 : tensor<2x16x1xf32>) outs(%30 : tensor<2x16x1xf32>) {
    ^bb0(%in: f32, %out: f32):
      %165 = arith.divf %in, %cst_10 : f32
      linalg.yield %165 : f32
    } -> tensor<2x16x1xf32>
    %35 = linalg.generic {indexing_maps = [#map1, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%31 : tensor<2x16x1xf32>) outs(%30 : tensor<2x16x1xf32>) {
    ^bb0(%in: f32, %out: f32):
      %165 = arith.truncf %cst_8 : f64 to f32
      %166 = arith.addf %in, %165 : f32
      linalg.yield %166 : f32
    } -> tensor<2x16x1xf32>
    %36 = linalg.generic {indexing_maps = [#map1, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%35 : tensor<2x16x1xf32>) outs(%30 : tensor<2x16x1xf32>) {
    ^bb0(%in: f32, %out: f32):
      %165 = math.rsqrt %in : f32
      linalg.yield %165 : f32
    } -> tensor<2x16x1xf32>
    %37 = linalg.generic {indexing_maps = [#map1, #map11, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%19, %34 : tensor<2x16x64xf32>, tensor<2x16x1xf32>) outs(%18 : tensor<2x16x64xf32>) {
    ^bb0(%in: f32, %in_41: f32, %out: f32):
      %165 = arith.subf %in, %in_41 : f32
      linalg.yield %165 : f32
    } -> tensor<2x16x64xf32>
    %38 = linalg.generic {indexing_maps = [#map1, #map11, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%37, %36 : tensor<2x16x64xf32>, tensor<2x16x1xf32>) outs(%18 : tensor<2x16x64xf32>) {
    ^bb0(%in: f32, %in_41: f32, %out: f32):
      %165 = arith.mulf %in, %in_41 : f32
      linalg.yield %165 : f32
    } -> tensor<2x16x64xf32>
    %39 = linalg.generic {indexing_maps = [#map1, #map12, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%38, %arg2 : tensor<2x16x64xf32>, tensor<64xbf16>) outs(%18 : tensor<2x16x64xf32>) {
    ^bb0(%in: f32, %in_41: bf16, %out: f32):
      %165 = arith.extf %in_41 : bf16 to f32
      %166 = arith.mulf %in, %165 : f32
      linalg.yield %166 : f32
    } -> tensor<2x16x64xf32>
    %40 = linalg.generic {indexing_maps = [#map1, #map12, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%39, %arg3 : tensor<2x16x64xf32>, tensor<64xbf16>) outs(%18 : tensor<2x16x64xf32>) {
    ^bb0(%in: f32, %in_41: bf16, %out: f32):
      %165 = arith.extf %in_41 : bf16 to f32
      %166 = arith.addf %in, %165 : f32
      linalg.yield %166 : f32
    } -> tensor<2x16x64xf32>
    %41 = linalg.generic {indexing_maps = [#map1, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%40 : tensor<2x16x64xf32>) outs(%0 : tensor<2x16x64xbf16>) {
    ^bb0(%in: f32, %out: bf16):
      %165 = arith.truncf %in : f32 to bf16
      linalg.yield %165 : bf16
    } -> tensor<2x16x64xbf16>
    %collapsed = tensor.collapse_shape %41 [[0, 1], [2]] : tensor<2x16x64xbf16> into tensor<32x64xbf16>
    %42 = tensor.empty() : tensor<192xf32>
    %43 = linalg.generic {indexing_maps = [#map2, #map2], iterator_types = ["parallel"]} ins(%arg5 : tensor<192xbf16>) outs(%42 : tensor<192xf32>) {
    ^bb0(%in: bf16, %out: f32):
      %165 = arith.extf %in : bf16 to f32
      linalg.yield %165 : f32
    } -> tensor<192xf32>
    %44 = tensor.empty() : tensor<32x64xf32>
    %45 = linalg.generic {indexing_maps = [#map13, #map13], iterator_types = ["parallel", "parallel"]} ins(%collapsed : tensor<32x64xbf16>) outs(%44 : tensor<32x64xf32>) {
    ^bb0(%in: bf16, %out: f32):
      %165 = arith.extf %in : bf16 to f32
      linalg.yield %165 : f32
    } -> tensor<32x64xf32>
    %46 = tensor.empty() : tensor<64x192xf32>
    %47 = linalg.generic {indexing_maps = [#map13, #map13], iterator_types = ["parallel", "parallel"]} ins(%arg4 : tensor<64x192xbf16>) outs(%46 : tensor<64x192xf32>) {
    ^bb0(%in: bf16, %out: f32):
      %165 = arith.extf %in : bf16 to f32
      linalg.yield %165 : f32
    } -> tensor<64x192xf32>
    %48 = tensor.empty() : tensor<32x192xf32>
    %49 = linalg.fill ins(%cst_0 : f32) outs(%48 : tensor<32x192xf32>) -> tensor<32x192xf32>
    %50 = linalg.matmul ins(%45, %47 : tensor<32x64xf32>, tensor<64x192xf32>) outs(%49 : tensor<32x192xf32>) -> tensor<32x192xf32>
    %51 = linalg.generic {indexing_maps = [#map13, #map14, #map13], iterator_types = ["parallel", "parallel"]} ins(%50, %43 : tensor<32x192xf32>, tensor<192xf32>) outs(%48 : tensor<32x192xf32>) {
    ^bb0(%in: f32, %in_41: f32, %out: f32):
      %165 = arith.addf %in, %in_41 : f32
      linalg.yield %165 : f32
    } -> tensor<32x192xf32>
    %52 = tensor.empty() : tensor<32x192xbf16>
    %53 = linalg.generic {indexing_maps = [#map13, #map13], iterator_types = ["parallel", "parallel"]} ins(%51 : tensor<32x192xf32>) outs(%52 : tensor<32x192xbf16>) {
    ^bb0(%in: f32, %out: bf16):
      %165 = arith.truncf %in : f32 to bf16
      linalg.yield %165 : bf16
    } -> tensor<32x192xbf16>
    %expanded_16 = tensor.expand_shape %53 [[0, 1], [2]] output_shape [2, 16, 192] : tensor<32x192xbf16> into tensor<2x16x192xbf16>
    %extracted_slice = tensor.extract_slice %expanded_16[0, 0, 0] [2, 16, 64] [1, 1, 1] : tensor<2x16x192xbf16> to tensor<2x16x64xbf16>
    %extracted_slice_17 = tensor.extract_slice %expanded_16[0, 0, 64] [2, 16, 64] [1, 1, 1] : tensor<2x16x192xbf16> to tensor<2x16x64xbf16>
    %extracted_slice_18 = tensor.extract_slice %expanded_16[0, 0, 128] [2, 16, 64] [1, 1, 1] : tensor<2x16x192xbf16> to tensor<2x16x64xbf16>
    %expanded_19 = tensor.expand_shape %extracted_slice_17 [[0], [1], [2, 3]] output_shape [2, 16, 2, 32] : tensor<2x16x64xbf16> into tensor<2x16x2x32xbf16>
    %expanded_20 = tensor.expand_shape %extracted_slice_18 [[0], [1], [2, 3]] output_shape [2, 16, 2, 32] : tensor<2x16x64xbf16> into tensor<2x16x2x32xbf16>
    %54 = tensor.empty() : tensor<2x2x16x32xbf16>
    %transposed = linalg.transpose ins(%expanded_20 : tensor<2x16x2x32xbf16>) outs(%54 : tensor<2x2x16x32xbf16>) permutation = [0, 2, 1, 3] 
    %expanded_21 = tensor.expand_shape %extracted_slice [[0], [1], [2, 3]] output_shape [2, 16, 2, 32] : tensor<2x16x64xbf16> into tensor<2x16x2x32xbf16>
    %transposed_22 = linalg.transpose ins(%expanded_21 : tensor<2x16x2x32xbf16>) outs(%54 : tensor<2x2x16x32xbf16>) permutation = [0, 2, 1, 3] 
    %55 = tensor.empty() : tensor<2x2x32x16xbf16>
    %transposed_23 = linalg.transpose ins(%expanded_19 : tensor<2x16x2x32xbf16>) outs(%55 : tensor<2x2x32x16xbf16>) permutation = [0, 2, 3, 1] 
    %collapsed_24 = tensor.collapse_shape %transposed_22 [[0, 1], [2], [3]] : tensor<2x2x16x32xbf16> into tensor<4x16x32xbf16>
    %collapsed_25 = tensor.collapse_shape %transposed_23 [[0, 1], [2], [3]] : tensor<2x2x32x16xbf16> into tensor<4x32x16xbf16>
    %56 = tensor.empty() : tensor<4x16x16xf32>
    %57 = linalg.fill ins(%cst_0 : f32) outs(%56 : tensor<4x16x16xf32>) -> tensor<4x16x16xf32>
    %58 = linalg.batch_matmul ins(%collapsed_24, %collapsed_25 : tensor<4x16x32xbf16>, tensor<4x32x16xbf16>) outs(%57 : tensor<4x16x16xf32>) -> tensor<4x16x16xf32>
    %59 = tensor.empty() : tensor<4x16x16xbf16>
    %60 = linalg.generic {indexing_maps = [#map1, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%58 : tensor<4x16x16xf32>) outs(%59 : tensor<4x16x16xbf16>) {
    ^bb0(%in: f32, %out: bf16):
      %165 = arith.truncf %in : f32 to bf16
      linalg.yield %165 : bf16
    } -> tensor<4x16x16xbf16>
    %expanded_26 = tensor.expand_shape %60 [[0, 1], [2], [3]] output_shape [2, 2, 16, 16] : tensor<4x16x16xbf16> into tensor<2x2x16x16xbf16>
    %61 = tensor.empty() : tensor<2x2x16x16xbf16>
    %62 = linalg.generic {indexing_maps = [#map6, #map6], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%expanded_26 : tensor<2x2x16x16xbf16>) outs(%61 : tensor<2x2x16x16xbf16>) {
    ^bb0(%in: bf16, %out: bf16):
      %165 = arith.truncf %cst_7 : f64 to bf16
      %166 = arith.mulf %in, %165 : bf16
      linalg.yield %166 : bf16
    } -> tensor<2x2x16x16xbf16>
    %63 = linalg.generic {indexing_maps = [#map6, #map15, #map6], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%62, %17 : tensor<2x2x16x16xbf16>, tensor<2x1x16x16xbf16>) outs(%61 : tensor<2x2x16x16xbf16>) {
    ^bb0(%in: bf16, %in_41: bf16, %out: bf16):
      %165 = arith.addf %in, %in_41 : bf16
      linalg.yield %165 : bf16
    } -> tensor<2x2x16x16xbf16>
    %64 = tensor.empty() : tensor<2x2x16x16xf32>
    %65 = linalg.generic {indexing_maps = [#map6, #map6], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%63 : tensor<2x2x16x16xbf16>) outs(%64 : tensor<2x2x16x16xf32>) {
    ^bb0(%in: bf16, %out: f32):
      %165 = arith.extf %in : bf16 to f32
      linalg.yield %165 : f32
    } -> tensor<2x2x16x16xf32>
    %66 = tensor.empty() : tensor<2x2x16xi64>
    %67 = linalg.fill ins(%c0_i64 : i64) outs(%66 : tensor<2x2x16xi64>) -> tensor<2x2x16xi64>
    %68 = tensor.empty() : tensor<2x2x16xf32>
    %69 = linalg.fill ins(%cst_1 : f32) outs(%68 : tensor<2x2x16xf32>) -> tensor<2x2x16xf32>
    %70:2 = linalg.generic {indexing_maps = [#map6, #map16, #map16], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%65 : tensor<2x2x16x16xf32>) outs(%69, %67 : tensor<2x2x16xf32>, tensor<2x2x16xi64>) {
    ^bb0(%in: f32, %out: f32, %out_41: i64):
      %165 = linalg.index 3 : index
      %166 = arith.index_cast %165 : index to i64
      %167 = arith.maximumf %in, %out : f32
      %168 = arith.cmpf ogt, %in, %out : f32
      %169 = arith.select %168, %166, %out_41 : i64
      linalg.yield %167, %169 : f32, i64
    } -> (tensor<2x2x16xf32>, tensor<2x2x16xi64>)
    %expanded_27 = tensor.expand_shape %70#0 [[0], [1], [2, 3]] output_shape [2, 2, 16, 1] : tensor<2x2x16xf32> into tensor<2x2x16x1xf32>
    %71 = linalg.generic {indexing_maps = [#map6, #map5, #map6], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%65, %expanded_27 : tensor<2x2x16x16xf32>, tensor<2x2x16x1xf32>) outs(%64 : tensor<2x2x16x16xf32>) {
    ^bb0(%in: f32, %in_41: f32, %out: f32):
      %165 = arith.subf %in, %in_41 : f32
      linalg.yield %165 : f32
    } -> tensor<2x2x16x16xf32>
    %72 = linalg.generic {indexing_maps = [#map6, #map6], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%71 : tensor<2x2x16x16xf32>) outs(%64 : tensor<2x2x16x16xf32>) {
    ^bb0(%in: f32, %out: f32):
      %165 = math.exp %in : f32
      linalg.yield %165 : f32
    } -> tensor<2x2x16x16xf32>
    %73 = tensor.empty() : tensor<2x2x16x1xf32>
    %74 = linalg.fill ins(%cst_0 : f32) outs(%73 : tensor<2x2x16x1xf32>) -> tensor<2x2x16x1xf32>
    %75 = linalg.generic {indexing_maps = [#map6, #map5], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%72 : tensor<2x2x16x16xf32>) outs(%74 : tensor<2x2x16x1xf32>) {
    ^bb0(%in: f32, %out: f32):
      %165 = arith.addf %in, %out : f32
      linalg.yield %165 : f32
    } -> tensor<2x2x16x1xf32>
    %76 = linalg.generic {indexing_maps = [#map6, #map5, #map6], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%72, %75 : tensor<2x2x16x16xf32>, tensor<2x2x16x1xf32>) outs(%64 : tensor<2x2x16x16xf32>) {
    ^bb0(%in: f32, %in_41: f32, %out: f32):
      %165 = arith.divf %in, %in_41 : f32
      linalg.yield %165 : f32
    } -> tensor<2x2x16x16xf32>
    %77 = linalg.generic {indexing_maps = [#map6, #map6], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%76 : tensor<2x2x16x16xf32>) outs(%61 : tensor<2x2x16x16xbf16>) {
    ^bb0(%in: f32, %out: bf16):
      %165 = arith.truncf %in : f32 to bf16
      linalg.yield %165 : bf16
    } -> tensor<2x2x16x16xbf16>
    %collapsed_28 = tensor.collapse_shape %77 [[0, 1], [2], [3]] : tensor<2x2x16x16xbf16> into tensor<4x16x16xbf16>
    %collapsed_29 = tensor.collapse_shape %transposed [[0, 1], [2], [3]] : tensor<2x2x16x32xbf16> into tensor<4x16x32xbf16>
    %78 = tensor.empty() : tensor<4x16x32xf32>
    %79 = linalg.fill ins(%cst_0 : f32) outs(%78 : tensor<4x16x32xf32>) -> tensor<4x16x32xf32>
    %80 = linalg.batch_matmul ins(%collapsed_28, %collapsed_29 : tensor<4x16x16xbf16>, tensor<4x16x32xbf16>) outs(%79 : tensor<4x16x32xf32>) -> tensor<4x16x32xf32>
    %81 = tensor.empty() : tensor<4x16x32xbf16>
    %82 = linalg.generic {indexing_maps = [#map1, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%80 : tensor<4x16x32xf32>) outs(%81 : tensor<4x16x32xbf16>) {
    ^bb0(%in: f32, %out: bf16):
      %165 = arith.truncf %in : f32 to bf16
      linalg.yield %165 : bf16
    } -> tensor<4x16x32xbf16>
    %expanded_30 = tensor.expand_shape %82 [[0, 1], [2], [3]] output_shape [2, 2, 16, 32] : tensor<4x16x32xbf16> into tensor<2x2x16x32xbf16>
    %83 = tensor.empty() : tensor<2x16x2x32xbf16>
    %transposed_31 = linalg.transpose ins(%expanded_30 : tensor<2x2x16x32xbf16>) outs(%83 : tensor<2x16x2x32xbf16>) permutation = [0, 2, 1, 3] 
    %collapsed_32 = tensor.collapse_shape %transposed_31 [[0, 1], [2, 3]] : tensor<2x16x2x32xbf16> into tensor<32x64xbf16>
    %84 = tensor.empty() : tensor<64xf32>
    %85 = linalg.generic {indexing_maps = [#map2, #map2], iterator_types = ["parallel"]} ins(%arg7 : tensor<64xbf16>) outs(%84 : tensor<64xf32>) {
    ^bb0(%in: bf16, %out: f32):
      %165 = arith.extf %in : bf16 to f32
      linalg.yield %165 : f32
    } -> tensor<64xf32>
    %86 = linalg.generic {indexing_maps = [#map13, #map13], iterator_types = ["parallel", "parallel"]} ins(%collapsed_32 : tensor<32x64xbf16>) outs(%44 : tensor<32x64xf32>) {
    ^bb0(%in: bf16, %out: f32):
      %165 = arith.extf %in : bf16 to f32
      linalg.yield %165 : f32
    } -> tensor<32x64xf32>
    %87 = tensor.empty() : tensor<64x64xf32>
    %88 = linalg.generic {indexing_maps = [#map13, #map13], iterator_types = ["parallel", "parallel"]} ins(%arg6 : tensor<64x64xbf16>) outs(%87 : tensor<64x64xf32>) {
    ^bb0(%in: bf16, %out: f32):
      %165 = arith.extf %in : bf16 to f32
      linalg.yield %165 : f32
    } -> tensor<64x64xf32>
    %89 = linalg.fill ins(%cst_0 : f32) outs(%44 : tensor<32x64xf32>) -> tensor<32x64xf32>
    %90 = linalg.matmul ins(%86, %88 : tensor<32x64xf32>, tensor<64x64xf32>) outs(%89 : tensor<32x64xf32>) -> tensor<32x64xf32>
    %91 = linalg.generic {indexing_maps = [#map13, #map14, #map13], iterator_types = ["parallel", "parallel"]} ins(%90, %85 : tensor<32x64xf32>, tensor<64xf32>) outs(%44 : tensor<32x64xf32>) {
    ^bb0(%in: f32, %in_41: f32, %out: f32):
      %165 = arith.addf %in, %in_41 : f32
      linalg.yield %165 : f32
    } -> tensor<32x64xf32>
    %92 = tensor.empty() : tensor<32x64xbf16>
    %93 = linalg.generic {indexing_maps = [#map13, #map13], iterator_types = ["parallel", "parallel"]} ins(%91 : tensor<32x64xf32>) outs(%92 : tensor<32x64xbf16>) {
    ^bb0(%in: f32, %out: bf16):
      %165 = arith.truncf %in : f32 to bf16
      linalg.yield %165 : bf16
    } -> tensor<32x64xbf16>
    %expanded_33 = tensor.expand_shape %93 [[0, 1], [2]] output_shape [2, 16, 64] : tensor<32x64xbf16> into tensor<2x16x64xbf16>
    %94 = linalg.generic {indexing_maps = [#map1, #map1, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%expanded_33, %6 : tensor<2x16x64xbf16>, tensor<2x16x64xbf16>) outs(%0 : tensor<2x16x64xbf16>) {
    ^bb0(%in: bf16, %in_41: bf16, %out: bf16):
      %165 = arith.addf %in, %in_41 : bf16
      linalg.yield %165 : bf16
    } -> tensor<2x16x64xbf16>
    %95 = linalg.generic {indexing_maps = [#map1, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%94 : tensor<2x16x64xbf16>) outs(%18 : tensor<2x16x64xf32>) {
    ^bb0(%in: bf16, %out: f32):
      %165 = arith.extf %in : bf16 to f32
      linalg.yield %165 : f32
    } -> tensor<2x16x64xf32>
    %96 = linalg.generic {indexing_maps = [#map1, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%95 : tensor<2x16x64xf32>) outs(%20 : tensor<2x16x64xf64>) {
    ^bb0(%in: f32, %out: f64):
      %165 = arith.extf %in : f32 to f64
      linalg.yield %165 : f64
    } -> tensor<2x16x64xf64>
    %97 = linalg.generic {indexing_maps = [#map1, #map11], iterator_types = ["parallel", "parallel", "reduction"]} ins(%96 : tensor<2x16x64xf64>) outs(%23 : tensor<2x16x1xf64>) {
    ^bb0(%in: f64, %out: f64):
      %165 = arith.addf %in, %out : f64
      linalg.yield %165 : f64
    } -> tensor<2x16x1xf64>
    %98 = linalg.generic {indexing_maps = [#map1, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%97 : tensor<2x16x1xf64>) outs(%22 : tensor<2x16x1xf64>) {
    ^bb0(%in: f64, %out: f64):
      %165 = arith.divf %in, %cst_9 : f64
      linalg.yield %165 : f64
    } -> tensor<2x16x1xf64>
    %99 = linalg.generic {indexing_maps = [#map1, #map11, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%96, %98 : tensor<2x16x64xf64>, tensor<2x16x1xf64>) outs(%20 : tensor<2x16x64xf64>) {
    ^bb0(%in: f64, %in_41: f64, %out: f64):
      %165 = arith.subf %in, %in_41 : f64
      linalg.yield %165 : f64
    } -> tensor<2x16x64xf64>
    %100 = linalg.generic {indexing_maps = [#map1, #map1, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%99, %99 : tensor<2x16x64xf64>, tensor<2x16x64xf64>) outs(%20 : tensor<2x16x64xf64>) {
    ^bb0(%in: f64, %in_41: f64, %out: f64):
      %165 = arith.mulf %in, %in_41 : f64
      linalg.yield %165 : f64
    } -> tensor<2x16x64xf64>
    %101 = linalg.generic {indexing_maps = [#map1, #map11], iterator_types = ["parallel", "parallel", "reduction"]} ins(%100 : tensor<2x16x64xf64>) outs(%23 : tensor<2x16x1xf64>) {
    ^bb0(%in: f64, %out: f64):
      %165 = arith.addf %in, %out : f64
      linalg.yield %165 : f64
    } -> tensor<2x16x1xf64>
    %102 = linalg.generic {indexing_maps = [#map1, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%101 : tensor<2x16x1xf64>) outs(%22 : tensor<2x16x1xf64>) {
    ^bb0(%in: f64, %out: f64):
      %165 = arith.divf %in, %cst_9 : f64
      linalg.yield %165 : f64
    } -> tensor<2x16x1xf64>
    %103 = linalg.generic {indexing_maps = [#map1, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%102 : tensor<2x16x1xf64>) outs(%30 : tensor<2x16x1xf32>) {
    ^bb0(%in: f64, %out: f32):
      %165 = arith.truncf %in : f64 to f32
      linalg.yield %165 : f32
    } -> tensor<2x16x1xf32>
    %104 = linalg.generic {indexing_maps = [#map1, #map11], iterator_types = ["parallel", "parallel", "reduction"]} ins(%95 : tensor<2x16x64xf32>) outs(%32 : tensor<2x16x1xf32>) {
    ^bb0(%in: f32, %out: f32):
      %165 = arith.addf %in, %out : f32
      linalg.yield %165 : f32
    } -> tensor<2x16x1xf32>
    %105 = linalg.generic {indexing_maps = [#map1, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%104 : tensor<2x16x1xf32>) outs(%30 : tensor<2x16x1xf32>) {
    ^bb0(%in: f32, %out: f32):
      %165 = arith.divf %in, %cst_10 : f32
      linalg.yield %165 : f32
    } -> tensor<2x16x1xf32>
    %106 = linalg.generic {indexing_maps = [#map1, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%103 : tensor<2x16x1xf32>) outs(%30 : tensor<2x16x1xf32>) {
    ^bb0(%in: f32, %out: f32):
      %165 = arith.truncf %cst_8 : f64 to f32
      %166 = arith.addf %in, %165 : f32
      linalg.yield %166 : f32
    } -> tensor<2x16x1xf32>
    %107 = linalg.generic {indexing_maps = [#map1, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%106 : tensor<2x16x1xf32>) outs(%30 : tensor<2x16x1xf32>) {
    ^bb0(%in: f32, %out: f32):
      %165 = math.rsqrt %in : f32
      linalg.yield %165 : f32
    } -> tensor<2x16x1xf32>
    %108 = linalg.generic {indexing_maps = [#map1, #map11, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%95, %105 : tensor<2x16x64xf32>, tensor<2x16x1xf32>) outs(%18 : tensor<2x16x64xf32>) {
    ^bb0(%in: f32, %in_41: f32, %out: f32):
      %165 = arith.subf %in, %in_41 : f32
      linalg.yield %165 : f32
    } -> tensor<2x16x64xf32>
    %109 = linalg.generic {indexing_maps = [#map1, #map11, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%108, %107 : tensor<2x16x64xf32>, tensor<2x16x1xf32>) outs(%18 : tensor<2x16x64xf32>) {
    ^bb0(%in: f32, %in_41: f32, %out: f32):
      %165 = arith.mulf %in, %in_41 : f32
      linalg.yield %165 : f32
    } -> tensor<2x16x64xf32>
    %110 = linalg.generic {indexing_maps = [#map1, #map12, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%109, %arg8 : tensor<2x16x64xf32>, tensor<64xbf16>) outs(%18 : tensor<2x16x64xf32>) {
    ^bb0(%in: f32, %in_41: bf16, %out: f32):
      %165 = arith.extf %in_41 : bf16 to f32
      %166 = arith.mulf %in, %165 : f32
      linalg.yield %166 : f32
    } -> tensor<2x16x64xf32>
    %111 = linalg.generic {indexing_maps = [#map1, #map12, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%110, %arg9 : tensor<2x16x64xf32>, tensor<64xbf16>) outs(%18 : tensor<2x16x64xf32>) {
    ^bb0(%in: f32, %in_41: bf16, %out: f32):
      %165 = arith.extf %in_41 : bf16 to f32
      %166 = arith.addf %in, %165 : f32
      linalg.yield %166 : f32
    } -> tensor<2x16x64xf32>
    %112 = linalg.generic {indexing_maps = [#map1, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%111 : tensor<2x16x64xf32>) outs(%0 : tensor<2x16x64xbf16>) {
    ^bb0(%in: f32, %out: bf16):
      %165 = arith.truncf %in : f32 to bf16
      linalg.yield %165 : bf16
    } -> tensor<2x16x64xbf16>
    %collapsed_34 = tensor.collapse_shape %112 [[0, 1], [2]] : tensor<2x16x64xbf16> into tensor<32x64xbf16>
    %113 = tensor.empty() : tensor<256xf32>
    %114 = linalg.generic {indexing_maps = [#map2, #map2], iterator_types = ["parallel"]} ins(%arg11 : tensor<256xbf16>) outs(%113 : tensor<256xf32>) {
    ^bb0(%in: bf16, %out: f32):
      %165 = arith.extf %in : bf16 to f32
      linalg.yield %165 : f32
    } -> tensor<256xf32>
    %115 = linalg.generic {indexing_maps = [#map13, #map13], iterator_types = ["parallel", "parallel"]} ins(%collapsed_34 : tensor<32x64xbf16>) outs(%44 : tensor<32x64xf32>) {
    ^bb0(%in: bf16, %out: f32):
      %165 = arith.extf %in : bf16 to f32
      linalg.yield %165 : f32
    } -> tensor<32x64xf32>
    %116 = tensor.empty() : tensor<64x256xf32>
    %117 = linalg.generic {indexing_maps = [#map13, #map13], iterator_types = ["parallel", "parallel"]} ins(%arg10 : tensor<64x256xbf16>) outs(%116 : tensor<64x256xf32>) {
    ^bb0(%in: bf16, %out: f32):
      %165 = arith.extf %in : bf16 to f32
      linalg.yield %165 : f32
    } -> tensor<64x256xf32>
    %118 = tensor.empty() : tensor<32x256xf32>
    %119 = linalg.fill ins(%cst_0 : f32) outs(%118 : tensor<32x256xf32>) -> tensor<32x256xf32>
    %120 = linalg.matmul ins(%115, %117 : tensor<32x64xf32>, tensor<64x256xf32>) outs(%119 : tensor<32x256xf32>) -> tensor<32x256xf32>
    %121 = linalg.generic {indexing_maps = [#map13, #map14, #map13], iterator_types = ["parallel", "parallel"]} ins(%120, %114 : tensor<32x256xf32>, tensor<256xf32>) outs(%118 : tensor<32x256xf32>) {
    ^bb0(%in: f32, %in_41: f32, %out: f32):
      %165 = arith.addf %in, %in_41 : f32
      linalg.yield %165 : f32
    } -> tensor<32x256xf32>
    %122 = tensor.empty() : tensor<32x256xbf16>
    %123 = linalg.generic {indexing_maps = [#map13, #map13], iterator_types = ["parallel", "parallel"]} ins(%121 : tensor<32x256xf32>) outs(%122 : tensor<32x256xbf16>) {
    ^bb0(%in: f32, %out: bf16):
      %165 = arith.truncf %in : f32 to bf16
      linalg.yield %165 : bf16
    } -> tensor<32x256xbf16>
    %expanded_35 = tensor.expand_shape %123 [[0, 1], [2]] output_shape [2, 16, 256] : tensor<32x256xbf16> into tensor<2x16x256xbf16>
    %124 = tensor.empty() : tensor<2x16x256xbf16>
    %125 = linalg.generic {indexing_maps = [#map1, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%expanded_35 : tensor<2x16x256xbf16>) outs(%124 : tensor<2x16x256xbf16>) {
    ^bb0(%in: bf16, %out: bf16):
      %165 = arith.mulf %in, %cst_11 : bf16
      linalg.yield %165 : bf16
    } -> tensor<2x16x256xbf16>
    %126 = linalg.generic {indexing_maps = [#map1, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%expanded_35 : tensor<2x16x256xbf16>) outs(%124 : tensor<2x16x256xbf16>) {
    ^bb0(%in: bf16, %out: bf16):
      %165 = math.fpowi %in, %c3_i64 : bf16, i64
      linalg.yield %165 : bf16
    } -> tensor<2x16x256xbf16>
    %127 = linalg.generic {indexing_maps = [#map1, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%126 : tensor<2x16x256xbf16>) outs(%124 : tensor<2x16x256xbf16>) {
    ^bb0(%in: bf16, %out: bf16):
      %165 = arith.truncf %cst_6 : f64 to bf16
      %166 = arith.mulf %in, %165 : bf16
      linalg.yield %166 : bf16
    } -> tensor<2x16x256xbf16>
    %128 = linalg.generic {indexing_maps = [#map1, #map1, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%expanded_35, %127 : tensor<2x16x256xbf16>, tensor<2x16x256xbf16>) outs(%124 : tensor<2x16x256xbf16>) {
    ^bb0(%in: bf16, %in_41: bf16, %out: bf16):
      %165 = arith.addf %in, %in_41 : bf16
      linalg.yield %165 : bf16
    } -> tensor<2x16x256xbf16>
    %129 = linalg.generic {indexing_maps = [#map1, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%128 : tensor<2x16x256xbf16>) outs(%124 : tensor<2x16x256xbf16>) {
    ^bb0(%in: bf16, %out: bf16):
      %165 = arith.truncf %cst_5 : f64 to bf16
      %166 = arith.mulf %in, %165 : bf16
      linalg.yield %166 : bf16
    } -> tensor<2x16x256xbf16>
    %130 = linalg.generic {indexing_maps = [#map1, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%129 : tensor<2x16x256xbf16>) outs(%124 : tensor<2x16x256xbf16>) {
    ^bb0(%in: bf16, %out: bf16):
      %165 = math.tanh %in : bf16
      linalg.yield %165 : bf16
    } -> tensor<2x16x256xbf16>
    %131 = linalg.generic {indexing_maps = [#map1, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%130 : tensor<2x16x256xbf16>) outs(%124 : tensor<2x16x256xbf16>) {
    ^bb0(%in: bf16, %out: bf16):
      %165 = arith.addf %in, %cst_12 : bf16
      linalg.yield %165 : bf16
    } -> tensor<2x16x256xbf16>
    %132 = linalg.generic {indexing_maps = [#map1, #map1, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%125, %131 : tensor<2x16x256xbf16>, tensor<2x16x256xbf16>) outs(%124 : tensor<2x16x256xbf16>) {
    ^bb0(%in: bf16, %in_41: bf16, %out: bf16):
      %165 = arith.mulf %in, %in_41 : bf16
      linalg.yield %165 : bf16
    } -> tensor<2x16x256xbf16>
    %collapsed_36 = tensor.collapse_shape %132 [[0, 1], [2]] : tensor<2x16x256xbf16> into tensor<32x256xbf16>
    %133 = linalg.generic {indexing_maps = [#map2, #map2], iterator_types = ["parallel"]} ins(%arg13 : tensor<64xbf16>) outs(%84 : tensor<64xf32>) {
    ^bb0(%in: bf16, %out: f32):
      %165 = arith.extf %in : bf16 to f32
      linalg.yield %165 : f32
    } -> tensor<64xf32>
    %134 = linalg.generic {indexing_maps = [#map13, #map13], iterator_types = ["parallel", "parallel"]} ins(%collapsed_36 : tensor<32x256xbf16>) outs(%118 : tensor<32x256xf32>) {
    ^bb0(%in: bf16, %out: f32):
      %165 = arith.extf %in : bf16 to f32
      linalg.yield %165 : f32
    } -> tensor<32x256xf32>
    %135 = tensor.empty() : tensor<256x64xf32>
    %136 = linalg.generic {indexing_maps = [#map13, #map13], iterator_types = ["parallel", "parallel"]} ins(%arg12 : tensor<256x64xbf16>) outs(%135 : tensor<256x64xf32>) {
    ^bb0(%in: bf16, %out: f32):
      %165 = arith.extf %in : bf16 to f32
      linalg.yield %165 : f32
    } -> tensor<256x64xf32>
    %137 = linalg.matmul ins(%134, %136 : tensor<32x256xf32>, tensor<256x64xf32>) outs(%89 : tensor<32x64xf32>) -> tensor<32x64xf32>
    %138 = linalg.generic {indexing_maps = [#map13, #map14, #map13], iterator_types = ["parallel", "parallel"]} ins(%137, %133 : tensor<32x64xf32>, tensor<64xf32>) outs(%44 : tensor<32x64xf32>) {
    ^bb0(%in: f32, %in_41: f32, %out: f32):
      %165 = arith.addf %in, %in_41 : f32
      linalg.yield %165 : f32
    } -> tensor<32x64xf32>
    %139 = linalg.generic {indexing_maps = [#map13, #map13], iterator_types = ["parallel", "parallel"]} ins(%138 : tensor<32x64xf32>) outs(%92 : tensor<32x64xbf16>) {
    ^bb0(%in: f32, %out: bf16):
      %165 = arith.truncf %in : f32 to bf16
      linalg.yield %165 : bf16
    } -> tensor<32x64xbf16>
    %expanded_37 = tensor.expand_shape %139 [[0, 1], [2]] output_shape [2, 16, 64] : tensor<32x64xbf16> into tensor<2x16x64xbf16>
    %140 = linalg.generic {indexing_maps = [#map1, #map1, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%94, %expanded_37 : tensor<2x16x64xbf16>, tensor<2x16x64xbf16>) outs(%0 : tensor<2x16x64xbf16>) {
    ^bb0(%in: bf16, %in_41: bf16, %out: bf16):
      %165 = arith.addf %in, %in_41 : bf16
      linalg.yield %165 : bf16
    } -> tensor<2x16x64xbf16>
    %141 = linalg.generic {indexing_maps = [#map1, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%140 : tensor<2x16x64xbf16>) outs(%18 : tensor<2x16x64xf32>) {
    ^bb0(%in: bf16, %out: f32):
      %165 = arith.extf %in : bf16 to f32
      linalg.yield %165 : f32
    } -> tensor<2x16x64xf32>
    %142 = linalg.generic {indexing_maps = [#map1, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%141 : tensor<2x16x64xf32>) outs(%20 : tensor<2x16x64xf64>) {
    ^bb0(%in: f32, %out: f64):
      %165 = arith.extf %in : f32 to f64
      linalg.yield %165 : f64
    } -> tensor<2x16x64xf64>
    %143 = linalg.generic {indexing_maps = [#map1, #map11], iterator_types = ["parallel", "parallel", "reduction"]} ins(%142 : tensor<2x16x64xf64>) outs(%23 : tensor<2x16x1xf64>) {
    ^bb0(%in: f64, %out: f64):
      %165 = arith.addf %in, %out : f64
      linalg.yield %165 : f64
    } -> tensor<2x16x1xf64>
    %144 = linalg.generic {indexing_maps = [#map1, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%143 : tensor<2x16x1xf64>) outs(%22 : tensor<2x16x1xf64>) {
    ^bb0(%in: f64, %out: f64):
      %165 = arith.divf %in, %cst_9 : f64
      linalg.yield %165 : f64
    } -> tensor<2x16x1xf64>
    %145 = linalg.generic {indexing_maps = [#map1, #map11, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%142, %144 : tensor<2x16x64xf64>, tensor<2x16x1xf64>) outs(%20 : tensor<2x16x64xf64>) {
    ^bb0(%in: f64, %in_41: f64, %out: f64):
      %165 = arith.subf %in, %in_41 : f64
      linalg.yield %165 : f64
    } -> tensor<2x16x64xf64>
    %146 = linalg.generic {indexing_maps = [#map1, #map1, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%145, %145 : tensor<2x16x64xf64>, tensor<2x16x64xf64>) outs(%20 : tensor<2x16x64xf64>) {
    ^bb0(%in: f64, %in_41: f64, %out: f64):
      %165 = arith.mulf %in, %in_41 : f64
      linalg.yield %165 : f64
    } -> tensor<2x16x64xf64>
    %147 = linalg.generic {indexing_maps = [#map1, #map11], iterator_types = ["parallel", "parallel", "reduction"]} ins(%146 : tensor<2x16x64xf64>) outs(%23 : tensor<2x16x1xf64>) {
    ^bb0(%in: f64, %out: f64):
      %165 = arith.addf %in, %out : f64
      linalg.yield %165 : f64
    } -> tensor<2x16x1xf64>
    %148 = linalg.generic {indexing_maps = [#map1, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%147 : tensor<2x16x1xf64>) outs(%22 : tensor<2x16x1xf64>) {
    ^bb0(%in: f64, %out: f64):
      %165 = arith.divf %in, %cst_9 : f64
      linalg.yield %165 : f64
    } -> tensor<2x16x1xf64>
    %149 = linalg.generic {indexing_maps = [#map1, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%148 : tensor<2x16x1xf64>) outs(%30 : tensor<2x16x1xf32>) {
    ^bb0(%in: f64, %out: f32):
      %165 = arith.truncf %in : f64 to f32
      linalg.yield %165 : f32
    } -> tensor<2x16x1xf32>
    %150 = linalg.generic {indexing_maps = [#map1, #map11], iterator_types = ["parallel", "parallel", "reduction"]} ins(%141 : tensor<2x16x64xf32>) outs(%32 : tensor<2x16x1xf32>) {
    ^bb0(%in: f32, %out: f32):
      %165 = arith.addf %in, %out : f32
      linalg.yield %165 : f32
    } -> tensor<2x16x1xf32>
    %151 = linalg.generic {indexing_maps = [#map1, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%150 : tensor<2x16x1xf32>) outs(%30 : tensor<2x16x1xf32>) {
    ^bb0(%in: f32, %out: f32):
      %165 = arith.divf %in, %cst_10 : f32
      linalg.yield %165 : f32
    } -> tensor<2x16x1xf32>
    %152 = linalg.generic {indexing_maps = [#map1, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%149 : tensor<2x16x1xf32>) outs(%30 : tensor<2x16x1xf32>) {
    ^bb0(%in: f32, %out: f32):
      %165 = arith.truncf %cst_8 : f64 to f32
      %166 = arith.addf %in, %165 : f32
      linalg.yield %166 : f32
    } -> tensor<2x16x1xf32>
    %153 = linalg.generic {indexing_maps = [#map1, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%152 : tensor<2x16x1xf32>) outs(%30 : tensor<2x16x1xf32>) {
    ^bb0(%in: f32, %out: f32):
      %165 = math.rsqrt %in : f32
      linalg.yield %165 : f32
    } -> tensor<2x16x1xf32>
    %154 = linalg.generic {indexing_maps = [#map1, #map11, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%141, %151 : tensor<2x16x64xf32>, tensor<2x16x1xf32>) outs(%18 : tensor<2x16x64xf32>) {
    ^bb0(%in: f32, %in_41: f32, %out: f32):
      %165 = arith.subf %in, %in_41 : f32
      linalg.yield %165 : f32
    } -> tensor<2x16x64xf32>
    %155 = linalg.generic {indexing_maps = [#map1, #map11, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%154, %153 : tensor<2x16x64xf32>, tensor<2x16x1xf32>) outs(%18 : tensor<2x16x64xf32>) {
    ^bb0(%in: f32, %in_41: f32, %out: f32):
      %165 = arith.mulf %in, %in_41 : f32
      linalg.yield %165 : f32
    } -> tensor<2x16x64xf32>
    %156 = linalg.generic {indexing_maps = [#map1, #map12, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%155, %arg14 : tensor<2x16x64xf32>, tensor<64xbf16>) outs(%18 : tensor<2x16x64xf32>) {
    ^bb0(%in: f32, %in_41: bf16, %out: f32):
      %165 = arith.extf %in_41 : bf16 to f32
      %166 = arith.mulf %in, %165 : f32
      linalg.yield %166 : f32
    } -> tensor<2x16x64xf32>
    %157 = linalg.generic {indexing_maps = [#map1, #map12, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%156, %arg15 : tensor<2x16x64xf32>, tensor<64xbf16>) outs(%18 : tensor<2x16x64xf32>) {
    ^bb0(%in: f32, %in_41: bf16, %out: f32):
      %165 = arith.extf %in_41 : bf16 to f32
      %166 = arith.addf %in, %165 : f32
      linalg.yield %166 : f32
    } -> tensor<2x16x64xf32>
    %158 = linalg.generic {indexing_maps = [#map1, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%157 : tensor<2x16x64xf32>) outs(%0 : tensor<2x16x64xbf16>) {
    ^bb0(%in: f32, %out: bf16):
      %165 = arith.truncf %in : f32 to bf16
      linalg.yield %165 : bf16
    } -> tensor<2x16x64xbf16>
    %159 = tensor.empty() : tensor<64x96xbf16>
    %transposed_38 = linalg.transpose ins(%arg0 : tensor<96x64xbf16>) outs(%159 : tensor<64x96xbf16>) permutation = [1, 0] 
    %collapsed_39 = tensor.collapse_shape %158 [[0, 1], [2]] : tensor<2x16x64xbf16> into tensor<32x64xbf16>
    %160 = tensor.empty() : tensor<32x96xf32>
    %161 = linalg.fill ins(%cst_0 : f32) outs(%160 : tensor<32x96xf32>) -> tensor<32x96xf32>
    %162 = linalg.matmul ins(%collapsed_39, %transposed_38 : tensor<32x64xbf16>, tensor<64x96xbf16>) outs(%161 : tensor<32x96xf32>) -> tensor<32x96xf32>
    %163 = tensor.empty() : tensor<32x96xbf16>
    %164 = linalg.generic {indexing_maps = [#map13, #map13], iterator_types = ["parallel", "parallel"]} ins(%162 : tensor<32x96xf32>) outs(%163 : tensor<32x96xbf16>) {
    ^bb0(%in: f32, %out: bf16):
      %165 = arith.truncf %in : f32 to bf16
      linalg.yield %165 : bf16
    } -> tensor<32x96xbf16>
    %expanded_40 = tensor.expand_shape %164 [[0, 1], [2]] output_shape [2, 16, 96] : tensor<32x96xbf16> into tensor<2x16x96xbf16>
    return %expanded_40 : tensor<2x16x96xbf16>
  }
}
