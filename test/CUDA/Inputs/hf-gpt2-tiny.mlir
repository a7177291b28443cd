// Hugging Face GPT-2 (transformers' GPT2LMHeadModel, 1 block, 64 wide, 2
// heads) as torch-mlir exports it, made by autopar's own importer:
//   autopar-import-torch "hf:gpt2:n_layer=1,n_embd=64,n_head=2,vocab_size=96,n_positions=32" --batch 2 --seq-len 16
// Kept here so that tests without torch see torch-mlir's forms: LayerNorm
// statistics in f64 over keepdim [b, s, 1] tensors, Conv1D's addmm and
// the GELU reading its [b, s, n] view, the GELU written with fpowi.
// autopar-import-torch hf:gpt2:n_layer=1,n_embd=64,n_head=2,vocab_size=96,n_positions=32: batch 2, f32, 16 parameter tensors (58304 elements), 0 buffers, inputs input_ids 2x16
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
  func.func @forward(%arg0: tensor<96x64xf32> {autopar.role = "param"}, %arg1: tensor<32x64xf32> {autopar.role = "param"}, %arg2: tensor<64xf32> {autopar.role = "param"}, %arg3: tensor<64xf32> {autopar.role = "param"}, %arg4: tensor<64x192xf32> {autopar.role = "param"}, %arg5: tensor<192xf32> {autopar.role = "param"}, %arg6: tensor<64x64xf32> {autopar.role = "param"}, %arg7: tensor<64xf32> {autopar.role = "param"}, %arg8: tensor<64xf32> {autopar.role = "param"}, %arg9: tensor<64xf32> {autopar.role = "param"}, %arg10: tensor<64x256xf32> {autopar.role = "param"}, %arg11: tensor<256xf32> {autopar.role = "param"}, %arg12: tensor<256x64xf32> {autopar.role = "param"}, %arg13: tensor<64xf32> {autopar.role = "param"}, %arg14: tensor<64xf32> {autopar.role = "param"}, %arg15: tensor<64xf32> {autopar.role = "param"}, %arg16: tensor<2x16xi64> {autopar.role = "input"}) -> tensor<2x16x96xf32> {
    %c3_i64 = arith.constant 3 : i64
    %c0_i64 = arith.constant 0 : i64
    %c96 = arith.constant 96 : index
    %c32 = arith.constant 32 : index
    %cst = arith.constant 0.000000e+00 : f64
    %cst_0 = arith.constant 0.000000e+00 : f32
    %cst_1 = arith.constant 0xFF800000 : f32
    %cst_2 = arith.constant dense<-3.40282347E+38> : tensor<f32>
    %cst_3 = arith.constant dense<0.000000e+00> : tensor<f32>
    %cst_4 = arith.constant dense<true> : tensor<i1>
    %cst_5 = arith.constant 0.79788456080286541 : f64
    %cst_6 = arith.constant 4.471500e-02 : f64
    %cst_7 = arith.constant 0.17677669529663689 : f64
    %cst_8 = arith.constant 1.000000e-05 : f64
    %true = arith.constant true
    %cst_9 = arith.constant 6.400000e+01 : f64
    %cst_10 = arith.constant 6.400000e+01 : f32
    %cst_11 = arith.constant 5.000000e-01 : f32
    %cst_12 = arith.constant 1.000000e+00 : f32
    %0 = tensor.empty() : tensor<2x16x64xf32>
    %1 = linalg.generic {indexing_maps = [#map, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%arg16 : tensor<2x16xi64>) outs(%0 : tensor<2x16x64xf32>) {
    ^bb0(%in: i64, %out: f32):
      %123 = arith.index_cast %in : i64 to index
      %124 = linalg.index 2 : index
      %125 = arith.cmpi slt, %123, %c96 : index
      cf.assert %125, "index must be smaller than dim size"
      %126 = arith.cmpi sge, %in, %c0_i64 : i64
      cf.assert %126, "index must be larger or equal to 0"
      %extracted = tensor.extract %arg0[%123, %124] : tensor<96x64xf32>
      linalg.yield %extracted : f32
    } -> tensor<2x16x64xf32>
    %2 = tensor.empty() : tensor<16xi64>
    %3 = linalg.generic {indexing_maps = [#map2], iterator_types = ["parallel"]} outs(%2 : tensor<16xi64>) {
    ^bb0(%out: i64):
      %123 = linalg.index 0 : index
      %124 = arith.index_cast %123 : index to i64
      linalg.yield %124 : i64
    } -> tensor<16xi64>
    %expanded = tensor.expand_shape %3 [[0, 1]] output_shape [1, 16] : tensor<16xi64> into tensor<1x16xi64>
    %4 = tensor.empty() : tensor<1x16x64xf32>
    %5 = linalg.generic {indexing_maps = [#map, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%expanded : tensor<1x16xi64>) outs(%4 : tensor<1x16x64xf32>) {
    ^bb0(%in: i64, %out: f32):
      %123 = arith.index_cast %in : i64 to index
      %124 = linalg.index 2 : index
      %125 = arith.cmpi slt, %123, %c32 : index
      cf.assert %125, "index must be smaller than dim size"
      %126 = arith.cmpi sge, %in, %c0_i64 : i64
      cf.assert %126, "index must be larger or equal to 0"
      %extracted = tensor.extract %arg1[%123, %124] : tensor<32x64xf32>
      linalg.yield %extracted : f32
    } -> tensor<1x16x64xf32>
    %6 = linalg.generic {indexing_maps = [#map1, #map3, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%1, %5 : tensor<2x16x64xf32>, tensor<1x16x64xf32>) outs(%0 : tensor<2x16x64xf32>) {
    ^bb0(%in: f32, %in_41: f32, %out: f32):
      %123 = arith.addf %in, %in_41 : f32
      linalg.yield %123 : f32
    } -> tensor<2x16x64xf32>
    %7 = tensor.empty() : tensor<2xi64>
    %8 = linalg.generic {indexing_maps = [#map2], iterator_types = ["parallel"]} outs(%7 : tensor<2xi64>) {
    ^bb0(%out: i64):
      %123 = linalg.index 0 : index
      %124 = arith.index_cast %123 : index to i64
      linalg.yield %124 : i64
    } -> tensor<2xi64>
    %expanded_13 = tensor.expand_shape %8 [[0, 1, 2, 3]] output_shape [2, 1, 1, 1] : tensor<2xi64> into tensor<2x1x1x1xi64>
    %expanded_14 = tensor.expand_shape %3 [[0, 1, 2, 3]] output_shape [1, 1, 16, 1] : tensor<16xi64> into tensor<1x1x16x1xi64>
    %expanded_15 = tensor.expand_shape %3 [[0, 1, 2, 3]] output_shape [1, 1, 1, 16] : tensor<16xi64> into tensor<1x1x1x16xi64>
    %9 = tensor.empty() : tensor<1x1x16x16xi1>
    %10 = linalg.generic {indexing_maps = [#map4, #map5, #map6], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%expanded_15, %expanded_14 : tensor<1x1x1x16xi64>, tensor<1x1x16x1xi64>) outs(%9 : tensor<1x1x16x16xi1>) {
    ^bb0(%in: i64, %in_41: i64, %out: i1):
      %123 = arith.cmpi sle, %in, %in_41 : i64
      linalg.yield %123 : i1
    } -> tensor<1x1x16x16xi1>
    %11 = linalg.generic {indexing_maps = [#map7, #map6, #map6], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%cst_4, %10 : tensor<i1>, tensor<1x1x16x16xi1>) outs(%9 : tensor<1x1x16x16xi1>) {
    ^bb0(%in: i1, %in_41: i1, %out: i1):
      %123 = arith.andi %in, %in_41 : i1
      linalg.yield %123 : i1
    } -> tensor<1x1x16x16xi1>
    %12 = tensor.empty() : tensor<2x1x1x16xi1>
    %13 = linalg.generic {indexing_maps = [#map8, #map9, #map6], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%expanded_13, %expanded_15 : tensor<2x1x1x1xi64>, tensor<1x1x1x16xi64>) outs(%12 : tensor<2x1x1x16xi1>) {
    ^bb0(%in: i64, %in_41: i64, %out: i1):
      linalg.yield %true : i1
    } -> tensor<2x1x1x16xi1>
    %14 = tensor.empty() : tensor<2x1x16x16xi1>
    %15 = linalg.generic {indexing_maps = [#map10, #map4, #map6], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%11, %13 : tensor<1x1x16x16xi1>, tensor<2x1x1x16xi1>) outs(%14 : tensor<2x1x16x16xi1>) {
    ^bb0(%in: i1, %in_41: i1, %out: i1):
      %123 = arith.andi %in, %in_41 : i1
      linalg.yield %123 : i1
    } -> tensor<2x1x16x16xi1>
    %16 = tensor.empty() : tensor<2x1x16x16xf32>
    %17 = linalg.generic {indexing_maps = [#map6, #map7, #map7, #map6], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%15, %cst_3, %cst_2 : tensor<2x1x16x16xi1>, tensor<f32>, tensor<f32>) outs(%16 : tensor<2x1x16x16xf32>) {
    ^bb0(%in: i1, %in_41: f32, %in_42: f32, %out: f32):
      %123 = arith.select %in, %in_41, %in_42 : f32
      linalg.yield %123 : f32
    } -> tensor<2x1x16x16xf32>
    %18 = tensor.empty() : tensor<2x16x64xf64>
    %19 = linalg.generic {indexing_maps = [#map1, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%6 : tensor<2x16x64xf32>) outs(%18 : tensor<2x16x64xf64>) {
    ^bb0(%in: f32, %out: f64):
      %123 = arith.extf %in : f32 to f64
      linalg.yield %123 : f64
    } -> tensor<2x16x64xf64>
    %20 = tensor.empty() : tensor<2x16x1xf64>
    %21 = linalg.fill ins(%cst : f64) outs(%20 : tensor<2x16x1xf64>) -> tensor<2x16x1xf64>
    %22 = linalg.generic {indexing_maps = [#map1, #map11], iterator_types = ["parallel", "parallel", "reduction"]} ins(%19 : tensor<2x16x64xf64>) outs(%21 : tensor<2x16x1xf64>) {
    ^bb0(%in: f64, %out: f64):
      %123 = arith.addf %in, %out : f64
      linalg.yield %123 : f64
    } -> tensor<2x16x1xf64>
    %23 = linalg.generic {indexing_maps = [#map1, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%22 : tensor<2x16x1xf64>) outs(%20 : tensor<2x16x1xf64>) {
    ^bb0(%in: f64, %out: f64):
      %123 = arith.divf %in, %cst_9 : f64
      linalg.yield %123 : f64
    } -> tensor<2x16x1xf64>
    %24 = linalg.generic {indexing_maps = [#map1, #map11, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%19, %23 : tensor<2x16x64xf64>, tensor<2x16x1xf64>) outs(%18 : tensor<2x16x64xf64>) {
    ^bb0(%in: f64, %in_41: f64, %out: f64):
      %123 = arith.subf %in, %in_41 : f64
      linalg.yield %123 : f64
    } -> tensor<2x16x64xf64>
    %25 = linalg.generic {indexing_maps = [#map1, #map1, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%24, %24 : tensor<2x16x64xf64>, tensor<2x16x64xf64>) outs(%18 : tensor<2x16x64xf64>) {
    ^bb0(%in: f64, %in_41: f64, %out: f64):
      %123 = arith.mulf %in, %in_41 : f64
      linalg.yield %123 : f64
    } -> tensor<2x16x64xf64>
    %26 = linalg.generic {indexing_maps = [#map1, #map11], iterator_types = ["parallel", "parallel", "reduction"]} ins(%25 : tensor<2x16x64xf64>) outs(%21 : tensor<2x16x1xf64>) {
    ^bb0(%in: f64, %out: f64):
      %123 = arith.addf %in, %out : f64
      linalg.yield %123 : f64
    } -> tensor<2x16x1xf64>
    %27 = linalg.generic {indexing_maps = [#map1, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%26 : tensor<2x16x1xf64>) outs(%20 : tensor<2x16x1xf64>) {
    ^bb0(%in: f64, %out: f64):
      %123 = arith.divf %in, %cst_9 : f64
      linalg.yield %123 : f64
    } -> tensor<2x16x1xf64>
    %28 = tensor.empty() : tensor<2x16x1xf32>
    %29 = linalg.generic {indexing_maps = [#map1, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%27 : tensor<2x16x1xf64>) outs(%28 : tensor<2x16x1xf32>) {
    ^bb0(%in: f64, %out: f32):
      %123 = arith.truncf %in : f64 to f32
      linalg.yield %123 : f32
    } -> tensor<2x16x1xf32>
    %30 = linalg.fill ins(%cst_0 : f32) outs(%28 : tensor<2x16x1xf32>) -> tensor<2x16x1xf32>
    %31 = linalg.generic {indexing_maps = [#map1, #map11], iterator_types = ["parallel", "parallel", "reduction"]} ins(%6 : tensor<2x16x64xf32>) outs(%30 : tensor<2x16x1xf32>) {
    ^bb0(%in: f32, %out: f32):
      %123 = arith.addf %in, %out : f32
      linalg.yield %123 : f32
    } -> tensor<2x16x1xf32>
    %32 = linalg.generic {indexing_maps = [#map1, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%31 : tensor<2x16x1xf32>) outs(%28 : tensor<2x16x1xf32>) {
    ^bb0(%in: f32, %out: f32):
      %123 = arith.divf %in, %cst_10 : f32
      linalg.yield %123 : f32
    } -> tensor<2x16x1xf32>
    %33 = linalg.generic {indexing_maps = [#map1, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%29 : tensor<2x16x1xf32>) outs(%28 : tensor<2x16x1xf32>) {
    ^bb0(%in: f32, %out: f32):
      %123 = arith.truncf %cst_8 : f64 to f32
      %124 = arith.addf %in, %123 : f32
      linalg.yield %124 : f32
    } -> tensor<2x16x1xf32>
    %34 = linalg.generic {indexing_maps = [#map1, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%33 : tensor<2x16x1xf32>) outs(%28 : tensor<2x16x1xf32>) {
    ^bb0(%in: f32, %out: f32):
      %123 = math.rsqrt %in : f32
      linalg.yield %123 : f32
    } -> tensor<2x16x1xf32>
    %35 = linalg.generic {indexing_maps = [#map1, #map11, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%6, %32 : tensor<2x16x64xf32>, tensor<2x16x1xf32>) outs(%0 : tensor<2x16x64xf32>) {
    ^bb0(%in: f32, %in_41: f32, %out: f32):
      %123 = arith.subf %in, %in_41 : f32
      linalg.yield %123 : f32
    } -> tensor<2x16x64xf32>
    %36 = linalg.generic {indexing_maps = [#map1, #map11, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%35, %34 : tensor<2x16x64xf32>, tensor<2x16x1xf32>) outs(%0 : tensor<2x16x64xf32>) {
    ^bb0(%in: f32, %in_41: f32, %out: f32):
      %123 = arith.mulf %in, %in_41 : f32
      linalg.yield %123 : f32
    } -> tensor<2x16x64xf32>
    %37 = linalg.generic {indexing_maps = [#map1, #map12, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%36, %arg2 : tensor<2x16x64xf32>, tensor<64xf32>) outs(%0 : tensor<2x16x64xf32>) {
    ^bb0(%in: f32, %in_41: f32, %out: f32):
      %123 = arith.mulf %in, %in_41 : f32
      linalg.yield %123 : f32
    } -> tensor<2x16x64xf32>
    %38 = linalg.generic {indexing_maps = [#map1, #map12, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%37, %arg3 : tensor<2x16x64xf32>, tensor<64xf32>) outs(%0 : tensor<2x16x64xf32>) {
    ^bb0(%in: f32, %in_41: f32, %out: f32):
      %123 = arith.addf %in, %in_41 : f32
      linalg.yield %123 : f32
    } -> tensor<2x16x64xf32>
    %collapsed = tensor.collapse_shape %38 [[0, 1], [2]] : tensor<2x16x64xf32> into tensor<32x64xf32>
    %39 = tensor.empty() : tensor<32x192xf32>
    %40 = linalg.fill ins(%cst_0 : f32) outs(%39 : tensor<32x192xf32>) -> tensor<32x192xf32>
    %41 = linalg.matmul ins(%collapsed, %arg4 : tensor<32x64xf32>, tensor<64x192xf32>) outs(%40 : tensor<32x192xf32>) -> tensor<32x192xf32>
    %42 = linalg.generic {indexing_maps = [#map13, #map14, #map13], iterator_types = ["parallel", "parallel"]} ins(%41, %arg5 : tensor<32x192xf32>, tensor<192xf32>) outs(%39 : tensor<32x192xf32>) {
    ^bb0(%in: f32, %in_41: f32, %out: f32):
      %123 = arith.addf %in, %in_41 : f32
      linalg.yield %123 : f32
    } -> tensor<32x192xf32>
    %expanded_16 = tensor.expand_shape %42 [[0, 1], [2]] output_shape [2, 16, 192] : tensor<32x192xf32> into tensor<2x16x192xf32>
    %extracted_slice = tensor.extract_slice %expanded_16[0, 0, 0] [2, 16, 64] [1, 1, 1] : tensor<2x16x192xf32> to tensor<2x16x64xf32>
    %extracted_slice_17 = tensor.extract_slice %expanded_16[0, 0, 64] [2, 16, 64] [1, 1, 1] : tensor<2x16x192xf32> to tensor<2x16x64xf32>
    %extracted_slice_18 = tensor.extract_slice %expanded_16[0, 0, 128] [2, 16, 64] [1, 1, 1] : tensor<2x16x192xf32> to tensor<2x16x64xf32>
    %expanded_19 = tensor.expand_shape %extracted_slice_17 [[0], [1], [2, 3]] output_shape [2, 16, 2, 32] : tensor<2x16x64xf32> into tensor<2x16x2x32xf32>
    %expanded_20 = tensor.expand_shape %extracted_slice_18 [[0], [1], [2, 3]] output_shape [2, 16, 2, 32] : tensor<2x16x64xf32> into tensor<2x16x2x32xf32>
    %43 = tensor.empty() : tensor<2x2x16x32xf32>
    %transposed = linalg.transpose ins(%expanded_20 : tensor<2x16x2x32xf32>) outs(%43 : tensor<2x2x16x32xf32>) permutation = [0, 2, 1, 3] 
    %expanded_21 = tensor.expand_shape %extracted_slice [[0], [1], [2, 3]] output_shape [2, 16, 2, 32] : tensor<2x16x64xf32> into tensor<2x16x2x32xf32>
    %transposed_22 = linalg.transpose ins(%expanded_21 : tensor<2x16x2x32xf32>) outs(%43 : tensor<2x2x16x32xf32>) permutation = [0, 2, 1, 3] 
    %44 = tensor.empty() : tensor<2x2x32x16xf32>
    %transposed_23 = linalg.transpose ins(%expanded_19 : tensor<2x16x2x32xf32>) outs(%44 : tensor<2x2x32x16xf32>) permutation = [0, 2, 3, 1] 
    %collapsed_24 = tensor.collapse_shape %transposed_22 [[0, 1], [2], [3]] : tensor<2x2x16x32xf32> into tensor<4x16x32xf32>
    %collapsed_25 = tensor.collapse_shape %transposed_23 [[0, 1], [2], [3]] : tensor<2x2x32x16xf32> into tensor<4x32x16xf32>
    %45 = tensor.empty() : tensor<4x16x16xf32>
    %46 = linalg.fill ins(%cst_0 : f32) outs(%45 : tensor<4x16x16xf32>) -> tensor<4x16x16xf32>
    %47 = linalg.batch_matmul ins(%collapsed_24, %collapsed_25 : tensor<4x16x32xf32>, tensor<4x32x16xf32>) outs(%46 : tensor<4x16x16xf32>) -> tensor<4x16x16xf32>
    %expanded_26 = tensor.expand_shape %47 [[0, 1], [2], [3]] output_shape [2, 2, 16, 16] : tensor<4x16x16xf32> into tensor<2x2x16x16xf32>
    %48 = tensor.empty() : tensor<2x2x16x16xf32>
    %49 = linalg.generic {indexing_maps = [#map6, #map6], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%expanded_26 : tensor<2x2x16x16xf32>) outs(%48 : tensor<2x2x16x16xf32>) {
    ^bb0(%in: f32, %out: f32):
      %123 = arith.truncf %cst_7 : f64 to f32
      %124 = arith.mulf %in, %123 : f32
      linalg.yield %124 : f32
    } -> tensor<2x2x16x16xf32>
    %50 = linalg.generic {indexing_maps = [#map6, #map15, #map6], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%49, %17 : tensor<2x2x16x16xf32>, tensor<2x1x16x16xf32>) outs(%48 : tensor<2x2x16x16xf32>) {
    ^bb0(%in: f32, %in_41: f32, %out: f32):
      %123 = arith.addf %in, %in_41 : f32
      linalg.yield %123 : f32
    } -> tensor<2x2x16x16xf32>
    %51 = tensor.empty() : tensor<2x2x16xi64>
    %52 = linalg.fill ins(%c0_i64 : i64) outs(%51 : tensor<2x2x16xi64>) -> tensor<2x2x16xi64>
    %53 = tensor.empty() : tensor<2x2x16xf32>
    %54 = linalg.fill ins(%cst_1 : f32) outs(%53 : tensor<2x2x16xf32>) -> tensor<2x2x16xf32>
    %55:2 = linalg.generic {indexing_maps = [#map6, #map16, #map16], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%50 : tensor<2x2x16x16xf32>) outs(%54, %52 : tensor<2x2x16xf32>, tensor<2x2x16xi64>) {
    ^bb0(%in: f32, %out: f32, %out_41: i64):
      %123 = linalg.index 3 : index
      %124 = arith.index_cast %123 : index to i64
      %125 = arith.maximumf %in, %out : f32
      %126 = arith.cmpf ogt, %in, %out : f32
      %127 = arith.select %126, %124, %out_41 : i64
      linalg.yield %125, %127 : f32, i64
    } -> (tensor<2x2x16xf32>, tensor<2x2x16xi64>)
    %expanded_27 = tensor.expand_shape %55#0 [[0], [1], [2, 3]] output_shape [2, 2, 16, 1] : tensor<2x2x16xf32> into tensor<2x2x16x1xf32>
    %56 = linalg.generic {indexing_maps = [#map6, #map5, #map6], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%50, %expanded_27 : tensor<2x2x16x16xf32>, tensor<2x2x16x1xf32>) outs(%48 : tensor<2x2x16x16xf32>) {
    ^bb0(%in: f32, %in_41: f32, %out: f32):
      %123 = arith.subf %in, %in_41 : f32
      linalg.yield %123 : f32
    } -> tensor<2x2x16x16xf32>
    %57 = linalg.generic {indexing_maps = [#map6, #map6], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%56 : tensor<2x2x16x16xf32>) outs(%48 : tensor<2x2x16x16xf32>) {
    ^bb0(%in: f32, %out: f32):
      %123 = math.exp %in : f32
      linalg.yield %123 : f32
    } -> tensor<2x2x16x16xf32>
    %58 = tensor.empty() : tensor<2x2x16x1xf32>
    %59 = linalg.fill ins(%cst_0 : f32) outs(%58 : tensor<2x2x16x1xf32>) -> tensor<2x2x16x1xf32>
    %60 = linalg.generic {indexing_maps = [#map6, #map5], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%57 : tensor<2x2x16x16xf32>) outs(%59 : tensor<2x2x16x1xf32>) {
    ^bb0(%in: f32, %out: f32):
      %123 = arith.addf %in, %out : f32
      linalg.yield %123 : f32
    } -> tensor<2x2x16x1xf32>
    %61 = linalg.generic {indexing_maps = [#map6, #map5, #map6], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%57, %60 : tensor<2x2x16x16xf32>, tensor<2x2x16x1xf32>) outs(%48 : tensor<2x2x16x16xf32>) {
    ^bb0(%in: f32, %in_41: f32, %out: f32):
      %123 = arith.divf %in, %in_41 : f32
      linalg.yield %123 : f32
    } -> tensor<2x2x16x16xf32>
    %collapsed_28 = tensor.collapse_shape %61 [[0, 1], [2], [3]] : tensor<2x2x16x16xf32> into tensor<4x16x16xf32>
    %collapsed_29 = tensor.collapse_shape %transposed [[0, 1], [2], [3]] : tensor<2x2x16x32xf32> into tensor<4x16x32xf32>
    %62 = tensor.empty() : tensor<4x16x32xf32>
    %63 = linalg.fill ins(%cst_0 : f32) outs(%62 : tensor<4x16x32xf32>) -> tensor<4x16x32xf32>
    %64 = linalg.batch_matmul ins(%collapsed_28, %collapsed_29 : tensor<4x16x16xf32>, tensor<4x16x32xf32>) outs(%63 : tensor<4x16x32xf32>) -> tensor<4x16x32xf32>
    %expanded_30 = tensor.expand_shape %64 [[0, 1], [2], [3]] output_shape [2, 2, 16, 32] : tensor<4x16x32xf32> into tensor<2x2x16x32xf32>
    %65 = tensor.empty() : tensor<2x16x2x32xf32>
    %transposed_31 = linalg.transpose ins(%expanded_30 : tensor<2x2x16x32xf32>) outs(%65 : tensor<2x16x2x32xf32>) permutation = [0, 2, 1, 3] 
    %collapsed_32 = tensor.collapse_shape %transposed_31 [[0, 1], [2, 3]] : tensor<2x16x2x32xf32> into tensor<32x64xf32>
    %66 = tensor.empty() : tensor<32x64xf32>
    %67 = linalg.fill ins(%cst_0 : f32) outs(%66 : tensor<32x64xf32>) -> tensor<32x64xf32>
    %68 = linalg.matmul ins(%collapsed_32, %arg6 : tensor<32x64xf32>, tensor<64x64xf32>) outs(%67 : tensor<32x64xf32>) -> tensor<32x64xf32>
    %69 = linalg.generic {indexing_maps = [#map13, #map14, #map13], iterator_types = ["parallel", "parallel"]} ins(%68, %arg7 : tensor<32x64xf32>, tensor<64xf32>) outs(%66 : tensor<32x64xf32>) {
    ^bb0(%in: f32, %in_41: f32, %out: f32):
      %123 = arith.addf %in, %in_41 : f32
      linalg.yield %123 : f32
    } -> tensor<32x64xf32>
    %expanded_33 = tensor.expand_shape %69 [[0, 1], [2]] output_shape [2, 16, 64] : tensor<32x64xf32> into tensor<2x16x64xf32>
    %70 = linalg.generic {indexing_maps = [#map1, #map1, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%expanded_33, %6 : tensor<2x16x64xf32>, tensor<2x16x64xf32>) outs(%0 : tensor<2x16x64xf32>) {
    ^bb0(%in: f32, %in_41: f32, %out: f32):
      %123 = arith.addf %in, %in_41 : f32
      linalg.yield %123 : f32
    } -> tensor<2x16x64xf32>
    %71 = linalg.generic {indexing_maps = [#map1, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%70 : tensor<2x16x64xf32>) outs(%18 : tensor<2x16x64xf64>) {
    ^bb0(%in: f32, %out: f64):
      %123 = arith.extf %in : f32 to f64
      linalg.yield %123 : f64
    } -> tensor<2x16x64xf64>
    %72 = linalg.generic {indexing_maps = [#map1, #map11], iterator_types = ["parallel", "parallel", "reduction"]} ins(%71 : tensor<2x16x64xf64>) outs(%21 : tensor<2x16x1xf64>) {
    ^bb0(%in: f64, %out: f64):
      %123 = arith.addf %in, %out : f64
      linalg.yield %123 : f64
    } -> tensor<2x16x1xf64>
    %73 = linalg.generic {indexing_maps = [#map1, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%72 : tensor<2x16x1xf64>) outs(%20 : tensor<2x16x1xf64>) {
    ^bb0(%in: f64, %out: f64):
      %123 = arith.divf %in, %cst_9 : f64
      linalg.yield %123 : f64
    } -> tensor<2x16x1xf64>
    %74 = linalg.generic {indexing_maps = [#map1, #map11, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%71, %73 : tensor<2x16x64xf64>, tensor<2x16x1xf64>) outs(%18 : tensor<2x16x64xf64>) {
    ^bb0(%in: f64, %in_41: f64, %out: f64):
      %123 = arith.subf %in, %in_41 : f64
      linalg.yield %123 : f64
    } -> tensor<2x16x64xf64>
    %75 = linalg.generic {indexing_maps = [#map1, #map1, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%74, %74 : tensor<2x16x64xf64>, tensor<2x16x64xf64>) outs(%18 : tensor<2x16x64xf64>) {
    ^bb0(%in: f64, %in_41: f64, %out: f64):
      %123 = arith.mulf %in, %in_41 : f64
      linalg.yield %123 : f64
    } -> tensor<2x16x64xf64>
    %76 = linalg.generic {indexing_maps = [#map1, #map11], iterator_types = ["parallel", "parallel", "reduction"]} ins(%75 : tensor<2x16x64xf64>) outs(%21 : tensor<2x16x1xf64>) {
    ^bb0(%in: f64, %out: f64):
      %123 = arith.addf %in, %out : f64
      linalg.yield %123 : f64
    } -> tensor<2x16x1xf64>
    %77 = linalg.generic {indexing_maps = [#map1, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%76 : tensor<2x16x1xf64>) outs(%20 : tensor<2x16x1xf64>) {
    ^bb0(%in: f64, %out: f64):
      %123 = arith.divf %in, %cst_9 : f64
      linalg.yield %123 : f64
    } -> tensor<2x16x1xf64>
    %78 = linalg.generic {indexing_maps = [#map1, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%77 : tensor<2x16x1xf64>) outs(%28 : tensor<2x16x1xf32>) {
    ^bb0(%in: f64, %out: f32):
      %123 = arith.truncf %in : f64 to f32
      linalg.yield %123 : f32
    } -> tensor<2x16x1xf32>
    %79 = linalg.generic {indexing_maps = [#map1, #map11], iterator_types = ["parallel", "parallel", "reduction"]} ins(%70 : tensor<2x16x64xf32>) outs(%30 : tensor<2x16x1xf32>) {
    ^bb0(%in: f32, %out: f32):
      %123 = arith.addf %in, %out : f32
      linalg.yield %123 : f32
    } -> tensor<2x16x1xf32>
    %80 = linalg.generic {indexing_maps = [#map1, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%79 : tensor<2x16x1xf32>) outs(%28 : tensor<2x16x1xf32>) {
    ^bb0(%in: f32, %out: f32):
      %123 = arith.divf %in, %cst_10 : f32
      linalg.yield %123 : f32
    } -> tensor<2x16x1xf32>
    %81 = linalg.generic {indexing_maps = [#map1, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%78 : tensor<2x16x1xf32>) outs(%28 : tensor<2x16x1xf32>) {
    ^bb0(%in: f32, %out: f32):
      %123 = arith.truncf %cst_8 : f64 to f32
      %124 = arith.addf %in, %123 : f32
      linalg.yield %124 : f32
    } -> tensor<2x16x1xf32>
    %82 = linalg.generic {indexing_maps = [#map1, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%81 : tensor<2x16x1xf32>) outs(%28 : tensor<2x16x1xf32>) {
    ^bb0(%in: f32, %out: f32):
      %123 = math.rsqrt %in : f32
      linalg.yield %123 : f32
    } -> tensor<2x16x1xf32>
    %83 = linalg.generic {indexing_maps = [#map1, #map11, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%70, %80 : tensor<2x16x64xf32>, tensor<2x16x1xf32>) outs(%0 : tensor<2x16x64xf32>) {
    ^bb0(%in: f32, %in_41: f32, %out: f32):
      %123 = arith.subf %in, %in_41 : f32
      linalg.yield %123 : f32
    } -> tensor<2x16x64xf32>
    %84 = linalg.generic {indexing_maps = [#map1, #map11, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%83, %82 : tensor<2x16x64xf32>, tensor<2x16x1xf32>) outs(%0 : tensor<2x16x64xf32>) {
    ^bb0(%in: f32, %in_41: f32, %out: f32):
      %123 = arith.mulf %in, %in_41 : f32
      linalg.yield %123 : f32
    } -> tensor<2x16x64xf32>
    %85 = linalg.generic {indexing_maps = [#map1, #map12, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%84, %arg8 : tensor<2x16x64xf32>, tensor<64xf32>) outs(%0 : tensor<2x16x64xf32>) {
    ^bb0(%in: f32, %in_41: f32, %out: f32):
      %123 = arith.mulf %in, %in_41 : f32
      linalg.yield %123 : f32
    } -> tensor<2x16x64xf32>
    %86 = linalg.generic {indexing_maps = [#map1, #map12, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%85, %arg9 : tensor<2x16x64xf32>, tensor<64xf32>) outs(%0 : tensor<2x16x64xf32>) {
    ^bb0(%in: f32, %in_41: f32, %out: f32):
      %123 = arith.addf %in, %in_41 : f32
      linalg.yield %123 : f32
    } -> tensor<2x16x64xf32>
    %collapsed_34 = tensor.collapse_shape %86 [[0, 1], [2]] : tensor<2x16x64xf32> into tensor<32x64xf32>
    %87 = tensor.empty() : tensor<32x256xf32>
    %88 = linalg.fill ins(%cst_0 : f32) outs(%87 : tensor<32x256xf32>) -> tensor<32x256xf32>
    %89 = linalg.matmul ins(%collapsed_34, %arg10 : tensor<32x64xf32>, tensor<64x256xf32>) outs(%88 : tensor<32x256xf32>) -> tensor<32x256xf32>
    %90 = linalg.generic {indexing_maps = [#map13, #map14, #map13], iterator_types = ["parallel", "parallel"]} ins(%89, %arg11 : tensor<32x256xf32>, tensor<256xf32>) outs(%87 : tensor<32x256xf32>) {
    ^bb0(%in: f32, %in_41: f32, %out: f32):
      %123 = arith.addf %in, %in_41 : f32
      linalg.yield %123 : f32
    } -> tensor<32x256xf32>
    %expanded_35 = tensor.expand_shape %90 [[0, 1], [2]] output_shape [2, 16, 256] : tensor<32x256xf32> into tensor<2x16x256xf32>
    %91 = tensor.empty() : tensor<2x16x256xf32>
    %92 = linalg.generic {indexing_maps = [#map1, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%expanded_35 : tensor<2x16x256xf32>) outs(%91 : tensor<2x16x256xf32>) {
    ^bb0(%in: f32, %out: f32):
      %123 = arith.mulf %in, %cst_11 : f32
      linalg.yield %123 : f32
    } -> tensor<2x16x256xf32>
    %93 = linalg.generic {indexing_maps = [#map1, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%expanded_35 : tensor<2x16x256xf32>) outs(%91 : tensor<2x16x256xf32>) {
    ^bb0(%in: f32, %out: f32):
      %123 = math.fpowi %in, %c3_i64 : f32, i64
      linalg.yield %123 : f32
    } -> tensor<2x16x256xf32>
    %94 = linalg.generic {indexing_maps = [#map1, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%93 : tensor<2x16x256xf32>) outs(%91 : tensor<2x16x256xf32>) {
    ^bb0(%in: f32, %out: f32):
      %123 = arith.truncf %cst_6 : f64 to f32
      %124 = arith.mulf %in, %123 : f32
      linalg.yield %124 : f32
    } -> tensor<2x16x256xf32>
    %95 = linalg.generic {indexing_maps = [#map1, #map1, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%expanded_35, %94 : tensor<2x16x256xf32>, tensor<2x16x256xf32>) outs(%91 : tensor<2x16x256xf32>) {
    ^bb0(%in: f32, %in_41: f32, %out: f32):
      %123 = arith.addf %in, %in_41 : f32
      linalg.yield %123 : f32
    } -> tensor<2x16x256xf32>
    %96 = linalg.generic {indexing_maps = [#map1, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%95 : tensor<2x16x256xf32>) outs(%91 : tensor<2x16x256xf32>) {
    ^bb0(%in: f32, %out: f32):
      %123 = arith.truncf %cst_5 : f64 to f32
      %124 = arith.mulf %in, %123 : f32
      linalg.yield %124 : f32
    } -> tensor<2x16x256xf32>
    %97 = linalg.generic {indexing_maps = [#map1, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%96 : tensor<2x16x256xf32>) outs(%91 : tensor<2x16x256xf32>) {
    ^bb0(%in: f32, %out: f32):
      %123 = math.tanh %in : f32
      linalg.yield %123 : f32
    } -> tensor<2x16x256xf32>
    %98 = linalg.generic {indexing_maps = [#map1, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%97 : tensor<2x16x256xf32>) outs(%91 : tensor<2x16x256xf32>) {
    ^bb0(%in: f32, %out: f32):
      %123 = arith.addf %in, %cst_12 : f32
      linalg.yield %123 : f32
    } -> tensor<2x16x256xf32>
    %99 = linalg.generic {indexing_maps = [#map1, #map1, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%92, %98 : tensor<2x16x256xf32>, tensor<2x16x256xf32>) outs(%91 : tensor<2x16x256xf32>) {
    ^bb0(%in: f32, %in_41: f32, %out: f32):
      %123 = arith.mulf %in, %in_41 : f32
      linalg.yield %123 : f32
    } -> tensor<2x16x256xf32>
    %collapsed_36 = tensor.collapse_shape %99 [[0, 1], [2]] : tensor<2x16x256xf32> into tensor<32x256xf32>
    %100 = linalg.matmul ins(%collapsed_36, %arg12 : tensor<32x256xf32>, tensor<256x64xf32>) outs(%67 : tensor<32x64xf32>) -> tensor<32x64xf32>
    %101 = linalg.generic {indexing_maps = [#map13, #map14, #map13], iterator_types = ["parallel", "parallel"]} ins(%100, %arg13 : tensor<32x64xf32>, tensor<64xf32>) outs(%66 : tensor<32x64xf32>) {
    ^bb0(%in: f32, %in_41: f32, %out: f32):
      %123 = arith.addf %in, %in_41 : f32
      linalg.yield %123 : f32
    } -> tensor<32x64xf32>
    %expanded_37 = tensor.expand_shape %101 [[0, 1], [2]] output_shape [2, 16, 64] : tensor<32x64xf32> into tensor<2x16x64xf32>
    %102 = linalg.generic {indexing_maps = [#map1, #map1, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%70, %expanded_37 : tensor<2x16x64xf32>, tensor<2x16x64xf32>) outs(%0 : tensor<2x16x64xf32>) {
    ^bb0(%in: f32, %in_41: f32, %out: f32):
      %123 = arith.addf %in, %in_41 : f32
      linalg.yield %123 : f32
    } -> tensor<2x16x64xf32>
    %103 = linalg.generic {indexing_maps = [#map1, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%102 : tensor<2x16x64xf32>) outs(%18 : tensor<2x16x64xf64>) {
    ^bb0(%in: f32, %out: f64):
      %123 = arith.extf %in : f32 to f64
      linalg.yield %123 : f64
    } -> tensor<2x16x64xf64>
    %104 = linalg.generic {indexing_maps = [#map1, #map11], iterator_types = ["parallel", "parallel", "reduction"]} ins(%103 : tensor<2x16x64xf64>) outs(%21 : tensor<2x16x1xf64>) {
    ^bb0(%in: f64, %out: f64):
      %123 = arith.addf %in, %out : f64
      linalg.yield %123 : f64
    } -> tensor<2x16x1xf64>
    %105 = linalg.generic {indexing_maps = [#map1, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%104 : tensor<2x16x1xf64>) outs(%20 : tensor<2x16x1xf64>) {
    ^bb0(%in: f64, %out: f64):
      %123 = arith.divf %in, %cst_9 : f64
      linalg.yield %123 : f64
    } -> tensor<2x16x1xf64>
    %106 = linalg.generic {indexing_maps = [#map1, #map11, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%103, %105 : tensor<2x16x64xf64>, tensor<2x16x1xf64>) outs(%18 : tensor<2x16x64xf64>) {
    ^bb0(%in: f64, %in_41: f64, %out: f64):
      %123 = arith.subf %in, %in_41 : f64
      linalg.yield %123 : f64
    } -> tensor<2x16x64xf64>
    %107 = linalg.generic {indexing_maps = [#map1, #map1, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%106, %106 : tensor<2x16x64xf64>, tensor<2x16x64xf64>) outs(%18 : tensor<2x16x64xf64>) {
    ^bb0(%in: f64, %in_41: f64, %out: f64):
      %123 = arith.mulf %in, %in_41 : f64
      linalg.yield %123 : f64
    } -> tensor<2x16x64xf64>
    %108 = linalg.generic {indexing_maps = [#map1, #map11], iterator_types = ["parallel", "parallel", "reduction"]} ins(%107 : tensor<2x16x64xf64>) outs(%21 : tensor<2x16x1xf64>) {
    ^bb0(%in: f64, %out: f64):
      %123 = arith.addf %in, %out : f64
      linalg.yield %123 : f64
    } -> tensor<2x16x1xf64>
    %109 = linalg.generic {indexing_maps = [#map1, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%108 : tensor<2x16x1xf64>) outs(%20 : tensor<2x16x1xf64>) {
    ^bb0(%in: f64, %out: f64):
      %123 = arith.divf %in, %cst_9 : f64
      linalg.yield %123 : f64
    } -> tensor<2x16x1xf64>
    %110 = linalg.generic {indexing_maps = [#map1, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%109 : tensor<2x16x1xf64>) outs(%28 : tensor<2x16x1xf32>) {
    ^bb0(%in: f64, %out: f32):
      %123 = arith.truncf %in : f64 to f32
      linalg.yield %123 : f32
    } -> tensor<2x16x1xf32>
    %111 = linalg.generic {indexing_maps = [#map1, #map11], iterator_types = ["parallel", "parallel", "reduction"]} ins(%102 : tensor<2x16x64xf32>) outs(%30 : tensor<2x16x1xf32>) {
    ^bb0(%in: f32, %out: f32):
      %123 = arith.addf %in, %out : f32
      linalg.yield %123 : f32
    } -> tensor<2x16x1xf32>
    %112 = linalg.generic {indexing_maps = [#map1, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%111 : tensor<2x16x1xf32>) outs(%28 : tensor<2x16x1xf32>) {
    ^bb0(%in: f32, %out: f32):
      %123 = arith.divf %in, %cst_10 : f32
      linalg.yield %123 : f32
    } -> tensor<2x16x1xf32>
    %113 = linalg.generic {indexing_maps = [#map1, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%110 : tensor<2x16x1xf32>) outs(%28 : tensor<2x16x1xf32>) {
    ^bb0(%in: f32, %out: f32):
      %123 = arith.truncf %cst_8 : f64 to f32
      %124 = arith.addf %in, %123 : f32
      linalg.yield %124 : f32
    } -> tensor<2x16x1xf32>
    %114 = linalg.generic {indexing_maps = [#map1, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%113 : tensor<2x16x1xf32>) outs(%28 : tensor<2x16x1xf32>) {
    ^bb0(%in: f32, %out: f32):
      %123 = math.rsqrt %in : f32
      linalg.yield %123 : f32
    } -> tensor<2x16x1xf32>
    %115 = linalg.generic {indexing_maps = [#map1, #map11, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%102, %112 : tensor<2x16x64xf32>, tensor<2x16x1xf32>) outs(%0 : tensor<2x16x64xf32>) {
    ^bb0(%in: f32, %in_41: f32, %out: f32):
      %123 = arith.subf %in, %in_41 : f32
      linalg.yield %123 : f32
    } -> tensor<2x16x64xf32>
    %116 = linalg.generic {indexing_maps = [#map1, #map11, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%115, %114 : tensor<2x16x64xf32>, tensor<2x16x1xf32>) outs(%0 : tensor<2x16x64xf32>) {
    ^bb0(%in: f32, %in_41: f32, %out: f32):
      %123 = arith.mulf %in, %in_41 : f32
      linalg.yield %123 : f32
    } -> tensor<2x16x64xf32>
    %117 = linalg.generic {indexing_maps = [#map1, #map12, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%116, %arg14 : tensor<2x16x64xf32>, tensor<64xf32>) outs(%0 : tensor<2x16x64xf32>) {
    ^bb0(%in: f32, %in_41: f32, %out: f32):
      %123 = arith.mulf %in, %in_41 : f32
      linalg.yield %123 : f32
    } -> tensor<2x16x64xf32>
    %118 = linalg.generic {indexing_maps = [#map1, #map12, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%117, %arg15 : tensor<2x16x64xf32>, tensor<64xf32>) outs(%0 : tensor<2x16x64xf32>) {
    ^bb0(%in: f32, %in_41: f32, %out: f32):
      %123 = arith.addf %in, %in_41 : f32
      linalg.yield %123 : f32
    } -> tensor<2x16x64xf32>
    %119 = tensor.empty() : tensor<64x96xf32>
    %transposed_38 = linalg.transpose ins(%arg0 : tensor<96x64xf32>) outs(%119 : tensor<64x96xf32>) permutation = [1, 0] 
    %collapsed_39 = tensor.collapse_shape %118 [[0, 1], [2]] : tensor<2x16x64xf32> into tensor<32x64xf32>
    %120 = tensor.empty() : tensor<32x96xf32>
    %121 = linalg.fill ins(%cst_0 : f32) outs(%120 : tensor<32x96xf32>) -> tensor<32x96xf32>
    %122 = linalg.matmul ins(%collapsed_39, %transposed_38 : tensor<32x64xf32>, tensor<64x96xf32>) outs(%121 : tensor<32x96xf32>) -> tensor<32x96xf32>
    %expanded_40 = tensor.expand_shape %122 [[0, 1], [2]] output_shape [2, 16, 96] : tensor<32x96xf32> into tensor<2x16x96xf32>
    return %expanded_40 : tensor<2x16x96xf32>
  }
}
