// The Hugging Face GPT-2 of hf-gpt2-tiny.mlir (1 block, 64 wide, 2 heads)
// as torch-mlir's TOSA export writes it, made by autopar's own importer:
//   autopar-import-torch "hf:gpt2:n_layer=1,n_embd=64,n_head=2,vocab_size=96,n_positions=32" --batch 2 --seq-len 16 --dialect tosa
// Kept here so that tests without torch see the TOSA forms: linear layers
// as batch matmuls of one over reshaped operands, biases reshaped to the
// product's rank, reductions keeping their dimension, embeddings as
// gathers from tables reshaped to a batch of one.
// autopar-import-torch hf:gpt2:n_layer=1,n_embd=64,n_head=2,vocab_size=96,n_positions=32: batch 2, f32, 16 parameter tensors (58304 elements), 0 buffers, inputs input_ids 2x16
module {
  func.func @forward(%arg0: tensor<96x64xf32> {autopar.role = "param"}, %arg1: tensor<32x64xf32> {autopar.role = "param"}, %arg2: tensor<64xf32> {autopar.role = "param"}, %arg3: tensor<64xf32> {autopar.role = "param"}, %arg4: tensor<64x192xf32> {autopar.role = "param"}, %arg5: tensor<192xf32> {autopar.role = "param"}, %arg6: tensor<64x64xf32> {autopar.role = "param"}, %arg7: tensor<64xf32> {autopar.role = "param"}, %arg8: tensor<64xf32> {autopar.role = "param"}, %arg9: tensor<64xf32> {autopar.role = "param"}, %arg10: tensor<64x256xf32> {autopar.role = "param"}, %arg11: tensor<256xf32> {autopar.role = "param"}, %arg12: tensor<256x64xf32> {autopar.role = "param"}, %arg13: tensor<64xf32> {autopar.role = "param"}, %arg14: tensor<64xf32> {autopar.role = "param"}, %arg15: tensor<64xf32> {autopar.role = "param"}, %arg16: tensor<2x16xi64> {autopar.role = "input"}) -> tensor<2x16x96xf32> {
    %0 = tosa.const_shape  {values = dense<[1, 96, 64]> : tensor<3xindex>} : () -> !tosa.shape<3>
    %1 = tosa.const_shape  {values = dense<[1, 32]> : tensor<2xindex>} : () -> !tosa.shape<2>
    %2 = tosa.const_shape  {values = dense<[2, 16, 64]> : tensor<3xindex>} : () -> !tosa.shape<3>
    %3 = "tosa.const"() <{values = dense<[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]> : tensor<16xi64>}> : () -> tensor<16xi64>
    %4 = "tosa.const"() <{values = dense<0> : tensor<1xi8>}> : () -> tensor<1xi8>
    %5 = tosa.const_shape  {values = dense<[1, 16]> : tensor<2xindex>} : () -> !tosa.shape<2>
    %6 = tosa.const_shape  {values = dense<[1, 32, 64]> : tensor<3xindex>} : () -> !tosa.shape<3>
    %7 = tosa.const_shape  {values = dense<[1, 1, 16, 1]> : tensor<4xindex>} : () -> !tosa.shape<4>
    %8 = tosa.const_shape  {values = dense<[1, 1, 1, 16]> : tensor<4xindex>} : () -> !tosa.shape<4>
    %9 = tosa.const_shape  {values = dense<[2, 1, 1, 1, 1]> : tensor<5xindex>} : () -> !tosa.shape<5>
    %10 = tosa.const_shape  {values = dense<[1, 1, 1, 16, 1]> : tensor<5xindex>} : () -> !tosa.shape<5>
    %11 = tosa.const_shape  {values = dense<[32, 2]> : tensor<2xindex>} : () -> !tosa.shape<2>
    %12 = tosa.const_shape  {values = dense<[2, 1, 1, 16]> : tensor<4xindex>} : () -> !tosa.shape<4>
    %13 = tosa.const_shape  {values = dense<[1, 1, 64]> : tensor<3xindex>} : () -> !tosa.shape<3>
    %14 = tosa.const_shape  {values = dense<[32, 64]> : tensor<2xindex>} : () -> !tosa.shape<2>
    %15 = "tosa.const"() <{values = dense<0.000000e+00> : tensor<1xf32>}> : () -> tensor<1xf32>
    %16 = tosa.const_shape  {values = dense<[1, 64, 192]> : tensor<3xindex>} : () -> !tosa.shape<3>
    %17 = tosa.const_shape  {values = dense<[32, 192]> : tensor<2xindex>} : () -> !tosa.shape<2>
    %18 = tosa.const_shape  {values = dense<[1, 192]> : tensor<2xindex>} : () -> !tosa.shape<2>
    %19 = tosa.const_shape  {values = dense<[2, 16, 192]> : tensor<3xindex>} : () -> !tosa.shape<3>
    %20 = tosa.const_shape  {values = dense<0> : tensor<3xindex>} : () -> !tosa.shape<3>
    %21 = tosa.const_shape  {values = dense<[0, 0, 64]> : tensor<3xindex>} : () -> !tosa.shape<3>
    %22 = tosa.const_shape  {values = dense<[0, 0, 128]> : tensor<3xindex>} : () -> !tosa.shape<3>
    %23 = tosa.const_shape  {values = dense<[2, 16, 2, 32]> : tensor<4xindex>} : () -> !tosa.shape<4>
    %24 = tosa.const_shape  {values = dense<[4, 16, 32]> : tensor<3xindex>} : () -> !tosa.shape<3>
    %25 = tosa.const_shape  {values = dense<[4, 32, 16]> : tensor<3xindex>} : () -> !tosa.shape<3>
    %26 = tosa.const_shape  {values = dense<[2, 2, 16, 16]> : tensor<4xindex>} : () -> !tosa.shape<4>
    %27 = tosa.const_shape  {values = dense<[4, 16, 16]> : tensor<3xindex>} : () -> !tosa.shape<3>
    %28 = tosa.const_shape  {values = dense<[2, 2, 16, 32]> : tensor<4xindex>} : () -> !tosa.shape<4>
    %29 = tosa.const_shape  {values = dense<[1, 64, 64]> : tensor<3xindex>} : () -> !tosa.shape<3>
    %30 = tosa.const_shape  {values = dense<[1, 64]> : tensor<2xindex>} : () -> !tosa.shape<2>
    %31 = tosa.const_shape  {values = dense<[1, 64, 256]> : tensor<3xindex>} : () -> !tosa.shape<3>
    %32 = tosa.const_shape  {values = dense<[32, 256]> : tensor<2xindex>} : () -> !tosa.shape<2>
    %33 = tosa.const_shape  {values = dense<[1, 256]> : tensor<2xindex>} : () -> !tosa.shape<2>
    %34 = tosa.const_shape  {values = dense<[2, 16, 256]> : tensor<3xindex>} : () -> !tosa.shape<3>
    %35 = tosa.const_shape  {values = dense<[1, 32, 256]> : tensor<3xindex>} : () -> !tosa.shape<3>
    %36 = tosa.const_shape  {values = dense<[1, 256, 64]> : tensor<3xindex>} : () -> !tosa.shape<3>
    %37 = tosa.const_shape  {values = dense<[1, 64, 96]> : tensor<3xindex>} : () -> !tosa.shape<3>
    %38 = tosa.const_shape  {values = dense<[2, 16, 96]> : tensor<3xindex>} : () -> !tosa.shape<3>
    %39 = "tosa.const"() <{values = dense<true> : tensor<1x1x1x1xi1>}> : () -> tensor<1x1x1x1xi1>
    %40 = "tosa.const"() <{values = dense<0> : tensor<1x1x1x1xi32>}> : () -> tensor<1x1x1x1xi32>
    %41 = "tosa.const"() <{values = dense<2> : tensor<1x1x1x1xi32>}> : () -> tensor<1x1x1x1xi32>
    %42 = "tosa.const"() <{values = dense<16> : tensor<1x1x1x1xi32>}> : () -> tensor<1x1x1x1xi32>
    %43 = "tosa.const"() <{values = dense<[[16, 1]]> : tensor<1x2xi32>}> : () -> tensor<1x2xi32>
    %44 = "tosa.const"() <{values = dense<1> : tensor<1x32x1xi8>}> : () -> tensor<1x32x1xi8>
    %45 = "tosa.const"() <{values = dense<0.000000e+00> : tensor<1x1x1x1xf32>}> : () -> tensor<1x1x1x1xf32>
    %46 = "tosa.const"() <{values = dense<-3.40282347E+38> : tensor<1x1x1x1xf32>}> : () -> tensor<1x1x1x1xf32>
    %47 = "tosa.const"() <{values = dense<1.562500e-02> : tensor<1x1x1xf64>}> : () -> tensor<1x1x1xf64>
    %48 = "tosa.const"() <{values = dense<1.562500e-02> : tensor<1x1x1xf32>}> : () -> tensor<1x1x1xf32>
    %49 = "tosa.const"() <{values = dense<9.99999974E-6> : tensor<1x1x1xf32>}> : () -> tensor<1x1x1xf32>
    %50 = "tosa.const"() <{values = dense<0.176776692> : tensor<1x1x1x1xf32>}> : () -> tensor<1x1x1x1xf32>
    %51 = "tosa.const"() <{values = dense<5.000000e-01> : tensor<1x1x1xf32>}> : () -> tensor<1x1x1xf32>
    %52 = "tosa.const"() <{values = dense<3.000000e+00> : tensor<1x1x1xf32>}> : () -> tensor<1x1x1xf32>
    %53 = "tosa.const"() <{values = dense<4.471500e-02> : tensor<1x1x1xf32>}> : () -> tensor<1x1x1xf32>
    %54 = "tosa.const"() <{values = dense<0.797884583> : tensor<1x1x1xf32>}> : () -> tensor<1x1x1xf32>
    %55 = "tosa.const"() <{values = dense<1.000000e+00> : tensor<1x1x1xf32>}> : () -> tensor<1x1x1xf32>
    %cst = arith.constant dense<[[[[0]]], [[[1]]]]> : tensor<2x1x1x1xi64>
    %56 = tosa.reshape %arg0, %0 : (tensor<96x64xf32>, !tosa.shape<3>) -> tensor<1x96x64xf32>
    %57 = tosa.reshape %arg16, %1 : (tensor<2x16xi64>, !tosa.shape<2>) -> tensor<1x32xi64>
    %58 = tosa.cast %57 : (tensor<1x32xi64>) -> tensor<1x32xi32>
    %59 = tosa.gather %56, %58 : (tensor<1x96x64xf32>, tensor<1x32xi32>) -> tensor<1x32x64xf32>
    %60 = tosa.reshape %59, %2 : (tensor<1x32x64xf32>, !tosa.shape<3>) -> tensor<2x16x64xf32>
    %61 = tosa.cast %3 : (tensor<16xi64>) -> tensor<16xi32>
    %62 = tosa.cast %61 : (tensor<16xi32>) -> tensor<16xi64>
    %63 = tosa.reshape %62, %5 : (tensor<16xi64>, !tosa.shape<2>) -> tensor<1x16xi64>
    %64 = tosa.reshape %arg1, %6 : (tensor<32x64xf32>, !tosa.shape<3>) -> tensor<1x32x64xf32>
    %65 = tosa.cast %63 : (tensor<1x16xi64>) -> tensor<1x16xi32>
    %66 = tosa.gather %64, %65 : (tensor<1x32x64xf32>, tensor<1x16xi32>) -> tensor<1x16x64xf32>
    %67 = tosa.add %60, %66 : (tensor<2x16x64xf32>, tensor<1x16x64xf32>) -> tensor<2x16x64xf32>
    %68 = tosa.reshape %62, %7 : (tensor<16xi64>, !tosa.shape<4>) -> tensor<1x1x16x1xi64>
    %69 = tosa.reshape %62, %8 : (tensor<16xi64>, !tosa.shape<4>) -> tensor<1x1x1x16xi64>
    %70 = tosa.greater_equal %68, %69 : (tensor<1x1x16x1xi64>, tensor<1x1x1x16xi64>) -> tensor<1x1x16x16xi1>
    %71 = tosa.logical_and %70, %39 : (tensor<1x1x16x16xi1>, tensor<1x1x1x1xi1>) -> tensor<1x1x16x16xi1>
    %72 = tosa.cast %cst : (tensor<2x1x1x1xi64>) -> tensor<2x1x1x1xi32>
    %73 = tosa.add %72, %41 : (tensor<2x1x1x1xi32>, tensor<1x1x1x1xi32>) -> tensor<2x1x1x1xi32>
    %74 = tosa.greater %40, %72 : (tensor<1x1x1x1xi32>, tensor<2x1x1x1xi32>) -> tensor<2x1x1x1xi1>
    %75 = tosa.select %74, %73, %72 : (tensor<2x1x1x1xi1>, tensor<2x1x1x1xi32>, tensor<2x1x1x1xi32>) -> tensor<2x1x1x1xi32>
    %76 = tosa.reshape %75, %9 : (tensor<2x1x1x1xi32>, !tosa.shape<5>) -> tensor<2x1x1x1x1xi32>
    %77 = tosa.cast %69 : (tensor<1x1x1x16xi64>) -> tensor<1x1x1x16xi32>
    %78 = tosa.add %77, %42 : (tensor<1x1x1x16xi32>, tensor<1x1x1x1xi32>) -> tensor<1x1x1x16xi32>
    %79 = tosa.greater %40, %77 : (tensor<1x1x1x1xi32>, tensor<1x1x1x16xi32>) -> tensor<1x1x1x16xi1>
    %80 = tosa.select %79, %78, %77 : (tensor<1x1x1x16xi1>, tensor<1x1x1x16xi32>, tensor<1x1x1x16xi32>) -> tensor<1x1x1x16xi32>
    %81 = tosa.reshape %80, %10 : (tensor<1x1x1x16xi32>, !tosa.shape<5>) -> tensor<1x1x1x16x1xi32>
    %82 = tosa.tile %76, %10 : (tensor<2x1x1x1x1xi32>, !tosa.shape<5>) -> tensor<2x1x1x16x1xi32>
    %83 = tosa.tile %81, %9 : (tensor<1x1x1x16x1xi32>, !tosa.shape<5>) -> tensor<2x1x1x16x1xi32>
    %84 = tosa.concat %82, %83 {axis = 4 : i32} : (tensor<2x1x1x16x1xi32>, tensor<2x1x1x16x1xi32>) -> tensor<2x1x1x16x2xi32>
    %85 = tosa.reshape %84, %11 : (tensor<2x1x1x16x2xi32>, !tosa.shape<2>) -> tensor<32x2xi32>
    %86 = tosa.mul %85, %43, %4 : (tensor<32x2xi32>, tensor<1x2xi32>, tensor<1xi8>) -> tensor<32x2xi32>
    %87 = tosa.reduce_sum %86 {axis = 1 : i32} : (tensor<32x2xi32>) -> tensor<32x1xi32>
    %88 = tosa.reshape %87, %1 : (tensor<32x1xi32>, !tosa.shape<2>) -> tensor<1x32xi32>
    %89 = tosa.gather %44, %88 : (tensor<1x32x1xi8>, tensor<1x32xi32>) -> tensor<1x32x1xi8>
    %90 = tosa.cast %89 : (tensor<1x32x1xi8>) -> tensor<1x32x1xi1>
    %91 = tosa.reshape %90, %12 : (tensor<1x32x1xi1>, !tosa.shape<4>) -> tensor<2x1x1x16xi1>
    %92 = tosa.logical_and %71, %91 : (tensor<1x1x16x16xi1>, tensor<2x1x1x16xi1>) -> tensor<2x1x16x16xi1>
    %93 = tosa.select %92, %45, %46 : (tensor<2x1x16x16xi1>, tensor<1x1x1x1xf32>, tensor<1x1x1x1xf32>) -> tensor<2x1x16x16xf32>
    %94 = tosa.cast %67 : (tensor<2x16x64xf32>) -> tensor<2x16x64xf64>
    %95 = tosa.reduce_sum %94 {axis = 2 : i32} : (tensor<2x16x64xf64>) -> tensor<2x16x1xf64>
    %96 = tosa.mul %95, %47, %4 : (tensor<2x16x1xf64>, tensor<1x1x1xf64>, tensor<1xi8>) -> tensor<2x16x1xf64>
    %97 = tosa.sub %94, %96 : (tensor<2x16x64xf64>, tensor<2x16x1xf64>) -> tensor<2x16x64xf64>
    %98 = tosa.mul %97, %97, %4 : (tensor<2x16x64xf64>, tensor<2x16x64xf64>, tensor<1xi8>) -> tensor<2x16x64xf64>
    %99 = tosa.reduce_sum %98 {axis = 2 : i32} : (tensor<2x16x64xf64>) -> tensor<2x16x1xf64>
    %100 = tosa.mul %99, %47, %4 : (tensor<2x16x1xf64>, tensor<1x1x1xf64>, tensor<1xi8>) -> tensor<2x16x1xf64>
    %101 = tosa.cast %100 : (tensor<2x16x1xf64>) -> tensor<2x16x1xf32>
    %102 = tosa.reduce_sum %67 {axis = 2 : i32} : (tensor<2x16x64xf32>) -> tensor<2x16x1xf32>
    %103 = tosa.mul %102, %48, %4 : (tensor<2x16x1xf32>, tensor<1x1x1xf32>, tensor<1xi8>) -> tensor<2x16x1xf32>
    %104 = tosa.add %101, %49 : (tensor<2x16x1xf32>, tensor<1x1x1xf32>) -> tensor<2x16x1xf32>
    %105 = tosa.rsqrt %104 : (tensor<2x16x1xf32>) -> tensor<2x16x1xf32>
    %106 = tosa.sub %67, %103 : (tensor<2x16x64xf32>, tensor<2x16x1xf32>) -> tensor<2x16x64xf32>
    %107 = tosa.mul %106, %105, %4 : (tensor<2x16x64xf32>, tensor<2x16x1xf32>, tensor<1xi8>) -> tensor<2x16x64xf32>
    %108 = tosa.reshape %arg2, %13 : (tensor<64xf32>, !tosa.shape<3>) -> tensor<1x1x64xf32>
    %109 = tosa.mul %107, %108, %4 : (tensor<2x16x64xf32>, tensor<1x1x64xf32>, tensor<1xi8>) -> tensor<2x16x64xf32>
    %110 = tosa.reshape %arg3, %13 : (tensor<64xf32>, !tosa.shape<3>) -> tensor<1x1x64xf32>
    %111 = tosa.add %109, %110 : (tensor<2x16x64xf32>, tensor<1x1x64xf32>) -> tensor<2x16x64xf32>
    %112 = tosa.reshape %111, %6 : (tensor<2x16x64xf32>, !tosa.shape<3>) -> tensor<1x32x64xf32>
    %113 = tosa.reshape %arg4, %16 : (tensor<64x192xf32>, !tosa.shape<3>) -> tensor<1x64x192xf32>
    %114 = tosa.matmul %112, %113, %15, %15 : (tensor<1x32x64xf32>, tensor<1x64x192xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x32x192xf32>
    %115 = tosa.reshape %114, %17 : (tensor<1x32x192xf32>, !tosa.shape<2>) -> tensor<32x192xf32>
    %116 = tosa.reshape %arg5, %18 : (tensor<192xf32>, !tosa.shape<2>) -> tensor<1x192xf32>
    %117 = tosa.add %115, %116 : (tensor<32x192xf32>, tensor<1x192xf32>) -> tensor<32x192xf32>
    %118 = tosa.reshape %117, %19 : (tensor<32x192xf32>, !tosa.shape<3>) -> tensor<2x16x192xf32>
    %119 = tosa.slice %118, %20, %2 : (tensor<2x16x192xf32>, !tosa.shape<3>, !tosa.shape<3>) -> tensor<2x16x64xf32>
    %120 = tosa.slice %118, %21, %2 : (tensor<2x16x192xf32>, !tosa.shape<3>, !tosa.shape<3>) -> tensor<2x16x64xf32>
    %121 = tosa.slice %118, %22, %2 : (tensor<2x16x192xf32>, !tosa.shape<3>, !tosa.shape<3>) -> tensor<2x16x64xf32>
    %122 = tosa.reshape %120, %23 : (tensor<2x16x64xf32>, !tosa.shape<4>) -> tensor<2x16x2x32xf32>
    %123 = tosa.reshape %121, %23 : (tensor<2x16x64xf32>, !tosa.shape<4>) -> tensor<2x16x2x32xf32>
    %124 = tosa.transpose %123 {perms = array<i32: 0, 2, 1, 3>} : (tensor<2x16x2x32xf32>) -> tensor<2x2x16x32xf32>
    %125 = tosa.reshape %119, %23 : (tensor<2x16x64xf32>, !tosa.shape<4>) -> tensor<2x16x2x32xf32>
    %126 = tosa.transpose %125 {perms = array<i32: 0, 2, 1, 3>} : (tensor<2x16x2x32xf32>) -> tensor<2x2x16x32xf32>
    %127 = tosa.transpose %122 {perms = array<i32: 0, 2, 3, 1>} : (tensor<2x16x2x32xf32>) -> tensor<2x2x32x16xf32>
    %128 = tosa.reshape %126, %24 : (tensor<2x2x16x32xf32>, !tosa.shape<3>) -> tensor<4x16x32xf32>
    %129 = tosa.reshape %127, %25 : (tensor<2x2x32x16xf32>, !tosa.shape<3>) -> tensor<4x32x16xf32>
    %130 = tosa.matmul %128, %129, %15, %15 : (tensor<4x16x32xf32>, tensor<4x32x16xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<4x16x16xf32>
    %131 = tosa.reshape %130, %26 : (tensor<4x16x16xf32>, !tosa.shape<4>) -> tensor<2x2x16x16xf32>
    %132 = tosa.mul %131, %50, %4 : (tensor<2x2x16x16xf32>, tensor<1x1x1x1xf32>, tensor<1xi8>) -> tensor<2x2x16x16xf32>
    %133 = tosa.add %132, %93 : (tensor<2x2x16x16xf32>, tensor<2x1x16x16xf32>) -> tensor<2x2x16x16xf32>
    %134 = tosa.reduce_max %133 {axis = 3 : i32} : (tensor<2x2x16x16xf32>) -> tensor<2x2x16x1xf32>
    %135 = tosa.sub %133, %134 : (tensor<2x2x16x16xf32>, tensor<2x2x16x1xf32>) -> tensor<2x2x16x16xf32>
    %136 = tosa.exp %135 : (tensor<2x2x16x16xf32>) -> tensor<2x2x16x16xf32>
    %137 = tosa.reduce_sum %136 {axis = 3 : i32} : (tensor<2x2x16x16xf32>) -> tensor<2x2x16x1xf32>
    %138 = tosa.reciprocal %137 : (tensor<2x2x16x1xf32>) -> tensor<2x2x16x1xf32>
    %139 = tosa.mul %136, %138, %4 : (tensor<2x2x16x16xf32>, tensor<2x2x16x1xf32>, tensor<1xi8>) -> tensor<2x2x16x16xf32>
    %140 = tosa.reshape %139, %27 : (tensor<2x2x16x16xf32>, !tosa.shape<3>) -> tensor<4x16x16xf32>
    %141 = tosa.reshape %124, %24 : (tensor<2x2x16x32xf32>, !tosa.shape<3>) -> tensor<4x16x32xf32>
    %142 = tosa.matmul %140, %141, %15, %15 : (tensor<4x16x16xf32>, tensor<4x16x32xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<4x16x32xf32>
    %143 = tosa.reshape %142, %28 : (tensor<4x16x32xf32>, !tosa.shape<4>) -> tensor<2x2x16x32xf32>
    %144 = tosa.transpose %143 {perms = array<i32: 0, 2, 1, 3>} : (tensor<2x2x16x32xf32>) -> tensor<2x16x2x32xf32>
    %145 = tosa.reshape %144, %6 : (tensor<2x16x2x32xf32>, !tosa.shape<3>) -> tensor<1x32x64xf32>
    %146 = tosa.reshape %arg6, %29 : (tensor<64x64xf32>, !tosa.shape<3>) -> tensor<1x64x64xf32>
    %147 = tosa.matmul %145, %146, %15, %15 : (tensor<1x32x64xf32>, tensor<1x64x64xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x32x64xf32>
    %148 = tosa.reshape %147, %14 : (tensor<1x32x64xf32>, !tosa.shape<2>) -> tensor<32x64xf32>
    %149 = tosa.reshape %arg7, %30 : (tensor<64xf32>, !tosa.shape<2>) -> tensor<1x64xf32>
    %150 = tosa.add %148, %149 : (tensor<32x64xf32>, tensor<1x64xf32>) -> tensor<32x64xf32>
    %151 = tosa.reshape %150, %2 : (tensor<32x64xf32>, !tosa.shape<3>) -> tensor<2x16x64xf32>
    %152 = tosa.add %151, %67 : (tensor<2x16x64xf32>, tensor<2x16x64xf32>) -> tensor<2x16x64xf32>
    %153 = tosa.cast %152 : (tensor<2x16x64xf32>) -> tensor<2x16x64xf64>
    %154 = tosa.reduce_sum %153 {axis = 2 : i32} : (tensor<2x16x64xf64>) -> tensor<2x16x1xf64>
    %155 = tosa.mul %154, %47, %4 : (tensor<2x16x1xf64>, tensor<1x1x1xf64>, tensor<1xi8>) -> tensor<2x16x1xf64>
    %156 = tosa.sub %153, %155 : (tensor<2x16x64xf64>, tensor<2x16x1xf64>) -> tensor<2x16x64xf64>
    %157 = tosa.mul %156, %156, %4 : (tensor<2x16x64xf64>, tensor<2x16x64xf64>, tensor<1xi8>) -> tensor<2x16x64xf64>
    %158 = tosa.reduce_sum %157 {axis = 2 : i32} : (tensor<2x16x64xf64>) -> tensor<2x16x1xf64>
    %159 = tosa.mul %158, %47, %4 : (tensor<2x16x1xf64>, tensor<1x1x1xf64>, tensor<1xi8>) -> tensor<2x16x1xf64>
    %160 = tosa.cast %159 : (tensor<2x16x1xf64>) -> tensor<2x16x1xf32>
    %161 = tosa.reduce_sum %152 {axis = 2 : i32} : (tensor<2x16x64xf32>) -> tensor<2x16x1xf32>
    %162 = tosa.mul %161, %48, %4 : (tensor<2x16x1xf32>, tensor<1x1x1xf32>, tensor<1xi8>) -> tensor<2x16x1xf32>
    %163 = tosa.add %160, %49 : (tensor<2x16x1xf32>, tensor<1x1x1xf32>) -> tensor<2x16x1xf32>
    %164 = tosa.rsqrt %163 : (tensor<2x16x1xf32>) -> tensor<2x16x1xf32>
    %165 = tosa.sub %152, %162 : (tensor<2x16x64xf32>, tensor<2x16x1xf32>) -> tensor<2x16x64xf32>
    %166 = tosa.mul %165, %164, %4 : (tensor<2x16x64xf32>, tensor<2x16x1xf32>, tensor<1xi8>) -> tensor<2x16x64xf32>
    %167 = tosa.reshape %arg8, %13 : (tensor<64xf32>, !tosa.shape<3>) -> tensor<1x1x64xf32>
    %168 = tosa.mul %166, %167, %4 : (tensor<2x16x64xf32>, tensor<1x1x64xf32>, tensor<1xi8>) -> tensor<2x16x64xf32>
    %169 = tosa.reshape %arg9, %13 : (tensor<64xf32>, !tosa.shape<3>) -> tensor<1x1x64xf32>
    %170 = tosa.add %168, %169 : (tensor<2x16x64xf32>, tensor<1x1x64xf32>) -> tensor<2x16x64xf32>
    %171 = tosa.reshape %170, %6 : (tensor<2x16x64xf32>, !tosa.shape<3>) -> tensor<1x32x64xf32>
    %172 = tosa.reshape %arg10, %31 : (tensor<64x256xf32>, !tosa.shape<3>) -> tensor<1x64x256xf32>
    %173 = tosa.matmul %171, %172, %15, %15 : (tensor<1x32x64xf32>, tensor<1x64x256xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x32x256xf32>
    %174 = tosa.reshape %173, %32 : (tensor<1x32x256xf32>, !tosa.shape<2>) -> tensor<32x256xf32>
    %175 = tosa.reshape %arg11, %33 : (tensor<256xf32>, !tosa.shape<2>) -> tensor<1x256xf32>
    %176 = tosa.add %174, %175 : (tensor<32x256xf32>, tensor<1x256xf32>) -> tensor<32x256xf32>
    %177 = tosa.reshape %176, %34 : (tensor<32x256xf32>, !tosa.shape<3>) -> tensor<2x16x256xf32>
    %178 = tosa.mul %177, %51, %4 : (tensor<2x16x256xf32>, tensor<1x1x1xf32>, tensor<1xi8>) -> tensor<2x16x256xf32>
    %179 = tosa.pow %177, %52 : (tensor<2x16x256xf32>, tensor<1x1x1xf32>) -> tensor<2x16x256xf32>
    %180 = tosa.mul %179, %53, %4 : (tensor<2x16x256xf32>, tensor<1x1x1xf32>, tensor<1xi8>) -> tensor<2x16x256xf32>
    %181 = tosa.add %177, %180 : (tensor<2x16x256xf32>, tensor<2x16x256xf32>) -> tensor<2x16x256xf32>
    %182 = tosa.mul %181, %54, %4 : (tensor<2x16x256xf32>, tensor<1x1x1xf32>, tensor<1xi8>) -> tensor<2x16x256xf32>
    %183 = tosa.tanh %182 : (tensor<2x16x256xf32>) -> tensor<2x16x256xf32>
    %184 = tosa.add %183, %55 : (tensor<2x16x256xf32>, tensor<1x1x1xf32>) -> tensor<2x16x256xf32>
    %185 = tosa.mul %178, %184, %4 : (tensor<2x16x256xf32>, tensor<2x16x256xf32>, tensor<1xi8>) -> tensor<2x16x256xf32>
    %186 = tosa.reshape %185, %35 : (tensor<2x16x256xf32>, !tosa.shape<3>) -> tensor<1x32x256xf32>
    %187 = tosa.reshape %arg12, %36 : (tensor<256x64xf32>, !tosa.shape<3>) -> tensor<1x256x64xf32>
    %188 = tosa.matmul %186, %187, %15, %15 : (tensor<1x32x256xf32>, tensor<1x256x64xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x32x64xf32>
    %189 = tosa.reshape %188, %14 : (tensor<1x32x64xf32>, !tosa.shape<2>) -> tensor<32x64xf32>
    %190 = tosa.reshape %arg13, %30 : (tensor<64xf32>, !tosa.shape<2>) -> tensor<1x64xf32>
    %191 = tosa.add %189, %190 : (tensor<32x64xf32>, tensor<1x64xf32>) -> tensor<32x64xf32>
    %192 = tosa.reshape %191, %2 : (tensor<32x64xf32>, !tosa.shape<3>) -> tensor<2x16x64xf32>
    %193 = tosa.add %152, %192 : (tensor<2x16x64xf32>, tensor<2x16x64xf32>) -> tensor<2x16x64xf32>
    %194 = tosa.cast %193 : (tensor<2x16x64xf32>) -> tensor<2x16x64xf64>
    %195 = tosa.reduce_sum %194 {axis = 2 : i32} : (tensor<2x16x64xf64>) -> tensor<2x16x1xf64>
    %196 = tosa.mul %195, %47, %4 : (tensor<2x16x1xf64>, tensor<1x1x1xf64>, tensor<1xi8>) -> tensor<2x16x1xf64>
    %197 = tosa.sub %194, %196 : (tensor<2x16x64xf64>, tensor<2x16x1xf64>) -> tensor<2x16x64xf64>
    %198 = tosa.mul %197, %197, %4 : (tensor<2x16x64xf64>, tensor<2x16x64xf64>, tensor<1xi8>) -> tensor<2x16x64xf64>
    %199 = tosa.reduce_sum %198 {axis = 2 : i32} : (tensor<2x16x64xf64>) -> tensor<2x16x1xf64>
    %200 = tosa.mul %199, %47, %4 : (tensor<2x16x1xf64>, tensor<1x1x1xf64>, tensor<1xi8>) -> tensor<2x16x1xf64>
    %201 = tosa.cast %200 : (tensor<2x16x1xf64>) -> tensor<2x16x1xf32>
    %202 = tosa.reduce_sum %193 {axis = 2 : i32} : (tensor<2x16x64xf32>) -> tensor<2x16x1xf32>
    %203 = tosa.mul %202, %48, %4 : (tensor<2x16x1xf32>, tensor<1x1x1xf32>, tensor<1xi8>) -> tensor<2x16x1xf32>
    %204 = tosa.add %201, %49 : (tensor<2x16x1xf32>, tensor<1x1x1xf32>) -> tensor<2x16x1xf32>
    %205 = tosa.rsqrt %204 : (tensor<2x16x1xf32>) -> tensor<2x16x1xf32>
    %206 = tosa.sub %193, %203 : (tensor<2x16x64xf32>, tensor<2x16x1xf32>) -> tensor<2x16x64xf32>
    %207 = tosa.mul %206, %205, %4 : (tensor<2x16x64xf32>, tensor<2x16x1xf32>, tensor<1xi8>) -> tensor<2x16x64xf32>
    %208 = tosa.reshape %arg14, %13 : (tensor<64xf32>, !tosa.shape<3>) -> tensor<1x1x64xf32>
    %209 = tosa.mul %207, %208, %4 : (tensor<2x16x64xf32>, tensor<1x1x64xf32>, tensor<1xi8>) -> tensor<2x16x64xf32>
    %210 = tosa.reshape %arg15, %13 : (tensor<64xf32>, !tosa.shape<3>) -> tensor<1x1x64xf32>
    %211 = tosa.add %209, %210 : (tensor<2x16x64xf32>, tensor<1x1x64xf32>) -> tensor<2x16x64xf32>
    %212 = tosa.transpose %arg0 {perms = array<i32: 1, 0>} : (tensor<96x64xf32>) -> tensor<64x96xf32>
    %213 = tosa.reshape %211, %6 : (tensor<2x16x64xf32>, !tosa.shape<3>) -> tensor<1x32x64xf32>
    %214 = tosa.reshape %212, %37 : (tensor<64x96xf32>, !tosa.shape<3>) -> tensor<1x64x96xf32>
    %215 = tosa.matmul %213, %214, %15, %15 : (tensor<1x32x64xf32>, tensor<1x64x96xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x32x96xf32>
    %216 = tosa.reshape %215, %38 : (tensor<1x32x96xf32>, !tosa.shape<3>) -> tensor<2x16x96xf32>
    return %216 : tensor<2x16x96xf32>
  }
}
