// RUN: split-file %s %t
// RUN: autopar-opt %t/epilogue.mlir --autopar-analyze=report=%t/epilogue.json -o /dev/null
// RUN: FileCheck %s < %t/epilogue.json
// RUN: autopar-opt %t/not-epilogue.mlir --autopar-analyze=report=%t/not-epilogue.json -o /dev/null
// RUN: FileCheck %s --check-prefix=NOT < %t/not-epilogue.json
// RUN: autopar-opt %t/bf16.mlir --autopar-analyze=report=%t/bf16.json -o /dev/null
// RUN: FileCheck %s --check-prefix=BF16 < %t/bf16.json
// RUN: autopar-opt %t/residual.mlir --autopar-analyze=report=%t/residual.json -o /dev/null
// RUN: FileCheck %s --check-prefix=RESIDUAL < %t/residual.json
// RUN: autopar-opt %t/residual-view.mlir --autopar-analyze=report=%t/residual-view.json -o /dev/null
// RUN: FileCheck %s --check-prefix=RESIDUALV < %t/residual-view.json
// RUN: autopar-opt %t/linear.mlir --autopar-analyze=report=%t/linear.json -o /dev/null
// RUN: FileCheck %s --check-prefix=LINEAR < %t/linear.json
// RUN: autopar-opt %t/gelu.mlir --autopar-analyze=report=%t/gelu.json -o /dev/null
// RUN: FileCheck %s --check-prefix=GELU < %t/gelu.json
// RUN: autopar-opt %t/gelu-view.mlir --autopar-analyze=report=%t/gelu-view.json -o /dev/null
// RUN: FileCheck %s --check-prefix=GELUV < %t/gelu-view.json
// RUN: autopar-opt %t/gelu-chain.mlir --autopar-analyze=report=%t/gelu-chain.json -o /dev/null
// RUN: FileCheck %s --check-prefix=GELUC < %t/gelu-chain.json
// RUN: autopar-opt %t/relu.mlir --autopar-analyze=report=%t/relu.json -o /dev/null
// RUN: FileCheck %s --check-prefix=RELU < %t/relu.json
// RUN: autopar-opt %t/export16.mlir --autopar-analyze=report=%t/export16.json -o /dev/null
// RUN: FileCheck %s --check-prefix=EXPORT16 < %t/export16.json
// RUN: autopar-opt %t/epilogue.mlir --autopar-plan="target=a100-dgx mesh=1 report=-" -o /dev/null | FileCheck %s --check-prefix=PLAN-F32
// RUN: autopar-opt %t/epilogue.mlir --autopar-plan="target=a100-dgx mesh=1 precision=bf16 report=-" -o /dev/null | FileCheck %s --check-prefix=PLAN-BF16
// RUN: %python %autopar_src/models/generate.py mlp --layers 16,32,8 --batch 8 -o %t/mlp.mlir
// RUN: autopar-opt %t/mlp.mlir --autopar-training="loss=mse" --autopar-plan="target=a100-dgx stages=2 schedule=1f1b mesh=1 microbatches=2 max-gpus=2 report=-" -o /dev/null | FileCheck %s --check-prefix=STAGES

// The workload prices what autopar-lower-to-cuda builds (Analysis/
// Fusion.h): a bias added to a product's rows, split into [b, s, n] and
// read by no elementwise op (a transpose), runs in the product's cuBLASLt
// call (getEpilogueProduct, the lowering's matchEpilogue on tensors):
// no launch, only the bias read (128 B), the product's write its result.
// The product's initial value, a zero fill, is made in the call (beta =
// 0): the fill moves nothing and launches nothing, and the product reads
// only x and w (2048 B each) and writes 4096 B.

//--- epilogue.mlir
#id3 = affine_map<(b, s, n) -> (b, s, n)>
#bias = affine_map<(b, s, n) -> (n)>

// CHECK: "op": "linalg.fill",
// CHECK: "bytes": 0,
// CHECK: "fused": true,
// CHECK-NEXT: "in_row_kernel": false,
// CHECK-NEXT: "in_gemm_epilogue": false,
// CHECK-NEXT: "launches": 0
// CHECK: "loc": "proj",
// CHECK: "bytes": 8192,
// CHECK: "launches": 1
// CHECK: "loc": "proj.bias",
// CHECK: "bytes": 128,
// Its backward: the bias gradient, a row sum of the result's gradient
// (4096 B read, 128 B written, an add per element); the product's
// gradient is the result's, passed on unchanged and not written anew
// (autopar-fuse-elementwise forwards the training step's copy).
// CHECK: "bwd_flops": 1024,
// CHECK-NEXT: "bwd_bytes": 4224,
// CHECK: "fused": false,
// CHECK-NEXT: "in_row_kernel": false,
// CHECK-NEXT: "in_gemm_epilogue": true,
// CHECK-NEXT: "launches": 0
// CHECK: "loc": "split",
// CHECK: "launches": 1
func.func @forward(%x: tensor<32x16xf32>, %w: tensor<16x32xf32> {autopar.role = "param"},
                   %b: tensor<32xf32> {autopar.role = "param"}) -> tensor<2x32x16xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<32x32xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<32x32xf32>) -> tensor<32x32xf32>
  %p = linalg.matmul ins(%x, %w : tensor<32x16xf32>, tensor<16x32xf32>) outs(%z : tensor<32x32xf32>) -> tensor<32x32xf32> loc("proj")
  %v = tensor.expand_shape %p [[0, 1], [2]] output_shape [2, 16, 32] : tensor<32x32xf32> into tensor<2x16x32xf32>
  %eb = tensor.empty() : tensor<2x16x32xf32>
  %y = linalg.generic {indexing_maps = [#id3, #bias, #id3], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%v, %b : tensor<2x16x32xf32>, tensor<32xf32>) outs(%eb : tensor<2x16x32xf32>) {
  ^bb0(%a: f32, %c: f32, %o: f32):
    %s = arith.addf %a, %c : f32
    linalg.yield %s : f32
  } -> tensor<2x16x32xf32> loc("proj.bias")
  %et = tensor.empty() : tensor<2x32x16xf32>
  %t = linalg.transpose ins(%y : tensor<2x16x32xf32>) outs(%et : tensor<2x32x16xf32>) permutation = [0, 2, 1] loc("split")
  return %t : tensor<2x32x16xf32>
}

//--- not-epilogue.mlir
#id = affine_map<(m, n) -> (m, n)>
#bias = affine_map<(m, n) -> (n)>

// Not folded: the product has a second user (it must be written), so the
// bias add is a kernel of its own, reading the product and the bias and
// writing its result (4096 + 128 + 4096 B).
// NOT: "loc": "bias.shared",
// NOT: "bytes": 8320,
// NOT: "in_gemm_epilogue": false,
// NOT-NEXT: "launches": 1
func.func @forward(%x: tensor<32x16xf32>, %w: tensor<16x32xf32> {autopar.role = "param"},
                   %b: tensor<32xf32> {autopar.role = "param"}) -> (tensor<32x32xf32>, tensor<32x32xf32>) {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<32x32xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<32x32xf32>) -> tensor<32x32xf32>
  %p = linalg.matmul ins(%x, %w : tensor<32x16xf32>, tensor<16x32xf32>) outs(%z : tensor<32x32xf32>) -> tensor<32x32xf32>
  %y = linalg.generic {indexing_maps = [#id, #bias, #id], iterator_types = ["parallel", "parallel"]}
      ins(%p, %b : tensor<32x32xf32>, tensor<32xf32>) outs(%e : tensor<32x32xf32>) {
  ^bb0(%a: f32, %c: f32, %o: f32):
    %s = arith.addf %a, %c : f32
    linalg.yield %s : f32
  } -> tensor<32x32xf32> loc("bias.shared")
  return %y, %p : tensor<32x32xf32>, tensor<32x32xf32>
}

//--- residual.mlir
#id = affine_map<(m, n) -> (m, n)>
#bias = affine_map<(m, n) -> (n)>

// A transformer's output projection, x + (x w + b): the bias add is fused
// into the residual add (autopar-fuse-elementwise makes them one op), and
// that op is the product's epilogue with the residual as C (beta = 1):
// it launches nothing and reads the bias and the residual (64 + 2048 B).
// Backward, the bias's gradient (a sum over the rows, which no elementwise
// chain of the gradients runs) is a kernel of its own reading the
// result's gradient (2048 B) and writing the bias's (64 B); before session
// #43 it was priced fused: no launch, 64 B.
// RESIDUAL: "loc": "out.bias",
// RESIDUAL: "bytes": 0,
// RESIDUAL: "bwd_bytes": 2112,
// RESIDUAL: "fused": true,
// RESIDUAL: "bwd_launches": 1
// RESIDUAL: "loc": "residual",
// RESIDUAL: "bytes": 2112,
// RESIDUAL: "fused": false,
// RESIDUAL-NEXT: "in_row_kernel": false,
// RESIDUAL-NEXT: "in_gemm_epilogue": true,
// RESIDUAL-NEXT: "launches": 0
func.func @forward(%x: tensor<32x16xf32>, %w: tensor<16x16xf32> {autopar.role = "param"},
                   %b: tensor<16xf32> {autopar.role = "param"}) -> tensor<32x16xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<32x16xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<32x16xf32>) -> tensor<32x16xf32>
  %p = linalg.matmul ins(%x, %w : tensor<32x16xf32>, tensor<16x16xf32>) outs(%z : tensor<32x16xf32>) -> tensor<32x16xf32> loc("out")
  %y = linalg.generic {indexing_maps = [#id, #bias, #id], iterator_types = ["parallel", "parallel"]}
      ins(%p, %b : tensor<32x16xf32>, tensor<16xf32>) outs(%e : tensor<32x16xf32>) {
  ^bb0(%a: f32, %c: f32, %o: f32):
    %s = arith.addf %a, %c : f32
    linalg.yield %s : f32
  } -> tensor<32x16xf32> loc("out.bias")
  %r = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x, %y : tensor<32x16xf32>, tensor<32x16xf32>) outs(%e : tensor<32x16xf32>) {
  ^bb0(%a: f32, %c: f32, %o: f32):
    %s = arith.addf %a, %c : f32
    linalg.yield %s : f32
  } -> tensor<32x16xf32> loc("residual")
  return %r : tensor<32x16xf32>
}

//--- residual-view.mlir
#id = affine_map<(m, n) -> (m, n)>
#bias = affine_map<(m, n) -> (n)>
#id3 = affine_map<(b, s, n) -> (b, s, n)>

// The same as a Hugging Face GPT-2 writes it: Conv1D's bias add over
// [b * s, n], the residual added to it viewed [b, s, n] (so the bias add
// cannot fuse into it). The same call: the bias add reads the bias
// (64 B), the residual add the residual (2048 B), neither launches. Before,
// the residual add was a kernel reading both and writing its result
// (6144 B).
// RESIDUALV: "loc": "out.bias",
// RESIDUALV: "bytes": 64,
// RESIDUALV: "in_gemm_epilogue": true,
// RESIDUALV-NEXT: "launches": 0
// RESIDUALV: "loc": "residual",
// RESIDUALV: "bytes": 2048,
// RESIDUALV: "fused": false,
// RESIDUALV-NEXT: "in_row_kernel": false,
// RESIDUALV-NEXT: "in_gemm_epilogue": true,
// RESIDUALV-NEXT: "launches": 0
func.func @forward(%x: tensor<4x8x16xf32>, %w: tensor<16x16xf32> {autopar.role = "param"},
                   %b: tensor<16xf32> {autopar.role = "param"}) -> tensor<4x8x16xf32> {
  %zero = arith.constant 0.0 : f32
  %x2 = tensor.collapse_shape %x [[0, 1], [2]] : tensor<4x8x16xf32> into tensor<32x16xf32>
  %e = tensor.empty() : tensor<32x16xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<32x16xf32>) -> tensor<32x16xf32>
  %p = linalg.matmul ins(%x2, %w : tensor<32x16xf32>, tensor<16x16xf32>) outs(%z : tensor<32x16xf32>) -> tensor<32x16xf32> loc("out")
  %y = linalg.generic {indexing_maps = [#id, #bias, #id], iterator_types = ["parallel", "parallel"]}
      ins(%p, %b : tensor<32x16xf32>, tensor<16xf32>) outs(%e : tensor<32x16xf32>) {
  ^bb0(%a: f32, %c: f32, %o: f32):
    %s = arith.addf %a, %c : f32
    linalg.yield %s : f32
  } -> tensor<32x16xf32> loc("out.bias")
  %yv = tensor.expand_shape %y [[0, 1], [2]] output_shape [4, 8, 16] : tensor<32x16xf32> into tensor<4x8x16xf32>
  %e3 = tensor.empty() : tensor<4x8x16xf32>
  %r = linalg.generic {indexing_maps = [#id3, #id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%x, %yv : tensor<4x8x16xf32>, tensor<4x8x16xf32>) outs(%e3 : tensor<4x8x16xf32>) {
  ^bb0(%a: f32, %c: f32, %o: f32):
    %s = arith.addf %a, %c : f32
    linalg.yield %s : f32
  } -> tensor<4x8x16xf32> loc("residual")
  return %r : tensor<4x8x16xf32>
}

//--- linear.mlir
#id = affine_map<(m, n) -> (m, n)>
#bias = affine_map<(m, n) -> (n)>

// PyTorch's linear layer, x W^T + b: the transpose of W folds into the
// product (Analysis/Fusion.h, the fifth rule: the product reads W
// transposed), so it moves nothing and launches nothing; the product reads
// x and W (2048 + 1024 B) and writes 2048 B; the bias add is its epilogue.
// LINEAR: "loc": "fc.t",
// LINEAR: "bytes": 0,
// LINEAR: "fused": true,
// LINEAR-NEXT: "in_row_kernel": false,
// LINEAR-NEXT: "in_gemm_epilogue": false,
// LINEAR-NEXT: "launches": 0
// LINEAR: "loc": "fc",
// LINEAR: "bytes": 5120,
// LINEAR: "launches": 1
// LINEAR: "loc": "fc.bias",
// LINEAR: "in_gemm_epilogue": true,
func.func @forward(%x: tensor<32x16xf32>, %w: tensor<16x16xf32> {autopar.role = "param"},
                   %b: tensor<16xf32> {autopar.role = "param"}) -> tensor<32x16xf32> {
  %zero = arith.constant 0.0 : f32
  %et = tensor.empty() : tensor<16x16xf32>
  %wt = linalg.transpose ins(%w : tensor<16x16xf32>) outs(%et : tensor<16x16xf32>) permutation = [1, 0] loc("fc.t")
  %e = tensor.empty() : tensor<32x16xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<32x16xf32>) -> tensor<32x16xf32>
  %p = linalg.matmul ins(%x, %wt : tensor<32x16xf32>, tensor<16x16xf32>) outs(%z : tensor<32x16xf32>) -> tensor<32x16xf32> loc("fc")
  %y = linalg.generic {indexing_maps = [#id, #bias, #id], iterator_types = ["parallel", "parallel"]}
      ins(%p, %b : tensor<32x16xf32>, tensor<16xf32>) outs(%e : tensor<32x16xf32>) {
  ^bb0(%a: f32, %c: f32, %o: f32):
    %s = arith.addf %a, %c : f32
    linalg.yield %s : f32
  } -> tensor<32x16xf32> loc("fc.bias")
  return %y : tensor<32x16xf32>
}

//--- gelu.mlir
#id = affine_map<(m, n) -> (m, n)>
#bias = affine_map<(m, n) -> (n)>

// GPT-2's MLP, a bias add fused into tanh-GELU: the lowering folds the pair
// into the product's call, and in a training step, whose GELU gradient
// needs the sum, the call writes the sum too (cuBLASLt's GELU_AUX_BIAS;
// Fusion.h, isGeluAuxSum): no launch, the bias read and the sum written
// (64 + 2048 B). Was priced as a kernel reading the product and the bias
// and writing the result (4160 B, a launch) before the training lowering
// kept the sum.
// Its backward, the GELU's gradient and the bias's, runs in the epilogue
// of the next layer's data-gradient product (cuBLASLt's DGELU_BGRAD;
// Fusion.h, isActivationGradientInEpilogue): no kernel; the kept sum read
// (2048 B; was 4160 B and a launch: the result's gradient read, the sum
// made again from the product and the bias), the bias's gradient written
// (64 B, the bias add's own).
// GELU: "loc": "fc.bias",
// GELU: "bwd_bytes": 64,
// GELU: "loc": "fc.gelu",
// GELU: "bytes": 2112,
// GELU: "bwd_bytes": 2048,
// GELU: "in_gemm_epilogue": true,
// GELU-NEXT: "launches": 0
func.func @forward(%x: tensor<32x16xf32>, %w: tensor<16x16xf32> {autopar.role = "param"},
                   %b: tensor<16xf32> {autopar.role = "param"},
                   %w2: tensor<16x8xf32> {autopar.role = "param"}) -> tensor<32x8xf32> {
  %zero = arith.constant 0.0 : f32
  %half = arith.constant 0.5 : f32
  %one = arith.constant 1.0 : f32
  %k = arith.constant 0.797884583 : f32
  %c3 = arith.constant 0.044715 : f32
  %e = tensor.empty() : tensor<32x16xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<32x16xf32>) -> tensor<32x16xf32>
  %p = linalg.matmul ins(%x, %w : tensor<32x16xf32>, tensor<16x16xf32>) outs(%z : tensor<32x16xf32>) -> tensor<32x16xf32> loc("fc")
  %y = linalg.generic {indexing_maps = [#id, #bias, #id], iterator_types = ["parallel", "parallel"]}
      ins(%p, %b : tensor<32x16xf32>, tensor<16xf32>) outs(%e : tensor<32x16xf32>) {
  ^bb0(%a: f32, %c: f32, %o: f32):
    %s = arith.addf %a, %c : f32
    linalg.yield %s : f32
  } -> tensor<32x16xf32> loc("fc.bias")
  %g = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%y : tensor<32x16xf32>) outs(%e : tensor<32x16xf32>) {
  ^bb0(%s: f32, %o: f32):
    %s2 = arith.mulf %s, %s : f32
    %s3 = arith.mulf %s2, %s : f32
    %t0 = arith.mulf %s3, %c3 : f32
    %t1 = arith.addf %s, %t0 : f32
    %t2 = arith.mulf %t1, %k : f32
    %t3 = math.tanh %t2 : f32
    %h = arith.mulf %s, %half : f32
    %t4 = arith.addf %t3, %one : f32
    %r = arith.mulf %h, %t4 : f32
    linalg.yield %r : f32
  } -> tensor<32x16xf32> loc("fc.gelu")
  %e2 = tensor.empty() : tensor<32x8xf32>
  %z2 = linalg.fill ins(%zero : f32) outs(%e2 : tensor<32x8xf32>) -> tensor<32x8xf32>
  %p2 = linalg.matmul ins(%g, %w2 : tensor<32x16xf32>, tensor<16x8xf32>) outs(%z2 : tensor<32x8xf32>) -> tensor<32x8xf32> loc("fc2")
  return %p2 : tensor<32x8xf32>
}

//--- gelu-view.mlir
#id = affine_map<(m, n) -> (m, n)>
#bias = affine_map<(m, n) -> (n)>
#id3 = affine_map<(b, s, n) -> (b, s, n)>

// The same layer as a Hugging Face GPT-2 exports it: Conv1D's sum [b * s,
// n] viewed [b, s, n] before the GELU, which torch-mlir writes with fpowi
// and f64 constants rounded to f32; the GELU's result collapsed back for
// the next product. Priced as the same calls: the bias add is the
// product's epilogue (the bias read), the GELU writes the sum as AUX; in
// the backward the GELU's gradient reads the sum, and the bias's gradient,
// the bias add's backward, is summed in the same epilogue (DGELU_BGRAD):
// no kernel, its 64 B written. Totals as above (2112 B forward, 2112 B
// backward); before, the GELU was a kernel (4096 B), its backward too, and
// the bias's gradient a column sum over the gradient (2112 B).
// GELUV: "loc": "fc.bias",
// GELUV: "bytes": 64,
// GELUV: "bwd_bytes": 64,
// GELUV: "in_gemm_epilogue": true,
// GELUV-NEXT: "launches": 0
// GELUV: "loc": "fc.gelu",
// GELUV: "bytes": 2048,
// GELUV: "bwd_bytes": 2048,
// GELUV: "in_gemm_epilogue": true,
// GELUV-NEXT: "launches": 0
func.func @forward(%x: tensor<32x16xf32>, %w: tensor<16x16xf32> {autopar.role = "param"},
                   %b: tensor<16xf32> {autopar.role = "param"},
                   %w2: tensor<16x8xf32> {autopar.role = "param"}) -> tensor<32x8xf32> {
  %zero = arith.constant 0.0 : f32
  %half = arith.constant 5.000000e-01 : f32
  %one = arith.constant 1.000000e+00 : f32
  %k = arith.constant 0.79788456080286541 : f64
  %c3 = arith.constant 4.471500e-02 : f64
  %three = arith.constant 3 : i64
  %e = tensor.empty() : tensor<32x16xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<32x16xf32>) -> tensor<32x16xf32>
  %p = linalg.matmul ins(%x, %w : tensor<32x16xf32>, tensor<16x16xf32>) outs(%z : tensor<32x16xf32>) -> tensor<32x16xf32> loc("fc")
  %y = linalg.generic {indexing_maps = [#id, #bias, #id], iterator_types = ["parallel", "parallel"]}
      ins(%p, %b : tensor<32x16xf32>, tensor<16xf32>) outs(%e : tensor<32x16xf32>) {
  ^bb0(%a: f32, %c: f32, %o: f32):
    %s = arith.addf %a, %c : f32
    linalg.yield %s : f32
  } -> tensor<32x16xf32> loc("fc.bias")
  %yv = tensor.expand_shape %y [[0, 1], [2]] output_shape [4, 8, 16] : tensor<32x16xf32> into tensor<4x8x16xf32>
  %e3 = tensor.empty() : tensor<4x8x16xf32>
  %g = linalg.generic {indexing_maps = [#id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%yv : tensor<4x8x16xf32>) outs(%e3 : tensor<4x8x16xf32>) {
  ^bb0(%s: f32, %o: f32):
    %h = arith.mulf %s, %half : f32
    %s3 = math.fpowi %s, %three : f32, i64
    %c32 = arith.truncf %c3 : f64 to f32
    %t0 = arith.mulf %s3, %c32 : f32
    %t1 = arith.addf %s, %t0 : f32
    %k32 = arith.truncf %k : f64 to f32
    %t2 = arith.mulf %t1, %k32 : f32
    %t3 = math.tanh %t2 : f32
    %t4 = arith.addf %t3, %one : f32
    %r = arith.mulf %h, %t4 : f32
    linalg.yield %r : f32
  } -> tensor<4x8x16xf32> loc("fc.gelu")
  %gc = tensor.collapse_shape %g [[0, 1], [2]] : tensor<4x8x16xf32> into tensor<32x16xf32>
  %e2 = tensor.empty() : tensor<32x8xf32>
  %z2 = linalg.fill ins(%zero : f32) outs(%e2 : tensor<32x8xf32>) -> tensor<32x8xf32>
  %p2 = linalg.matmul ins(%gc, %w2 : tensor<32x16xf32>, tensor<16x8xf32>) outs(%z2 : tensor<32x8xf32>) -> tensor<32x8xf32> loc("fc2")
  return %p2 : tensor<32x8xf32>
}

//--- gelu-chain.mlir
#id = affine_map<(m, n) -> (m, n)>
#bias = affine_map<(m, n) -> (n)>
#id3 = affine_map<(b, s, n) -> (b, s, n)>

// The same layer with the GELU as torch-mlir writes it in a PyTorch export:
// a chain of ops, several reading the viewed sum (x / 2, x^3, x + c x^3),
// each fused into the next (Analysis/Fusion.h). The last op of the chain is
// read as tanh-GELU of the sum through the ops fused into it, so the same
// calls price it: the bias add the product's epilogue, the chain's last op
// the GELU_AUX_BIAS epilogue's result (2048 B, no launch), the backward in
// the next product's DGELU_BGRAD (the sum read, no kernel; the bias's
// gradient written, 64 B), and the chain's other ops no backward at all.
// Before, the chain's last op was a kernel (2048 B read, 2048 B written),
// each of the others a backward kernel, and the bias's gradient a column
// sum (2112 B).
// GELUC: "loc": "fc.bias",
// GELUC: "bytes": 64,
// GELUC: "bwd_bytes": 64,
// GELUC: "in_gemm_epilogue": true,
// GELUC-NEXT: "launches": 0
// GELUC: "loc": "fc.cube",
// GELUC: "bwd_bytes": 0,
// GELUC: "fused": true,
// GELUC: "loc": "fc.tanh",
// GELUC: "saved_bytes": 0,
// GELUC: "bwd_bytes": 0,
// GELUC: "loc": "fc.gelu",
// GELUC: "bytes": 2048,
// GELUC: "saved_bytes": 2048,
// GELUC: "bwd_bytes": 2048,
// GELUC: "in_gemm_epilogue": true,
// GELUC-NEXT: "launches": 0
func.func @forward(%x: tensor<32x16xf32>, %w: tensor<16x16xf32> {autopar.role = "param"},
                   %b: tensor<16xf32> {autopar.role = "param"},
                   %w2: tensor<16x8xf32> {autopar.role = "param"}) -> tensor<32x8xf32> {
  %zero = arith.constant 0.0 : f32
  %half = arith.constant 5.000000e-01 : f32
  %one = arith.constant 1.000000e+00 : f32
  %k = arith.constant 0.79788456080286541 : f64
  %c3 = arith.constant 4.471500e-02 : f64
  %three = arith.constant 3 : i64
  %e = tensor.empty() : tensor<32x16xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<32x16xf32>) -> tensor<32x16xf32>
  %p = linalg.matmul ins(%x, %w : tensor<32x16xf32>, tensor<16x16xf32>) outs(%z : tensor<32x16xf32>) -> tensor<32x16xf32> loc("fc")
  %y = linalg.generic {indexing_maps = [#id, #bias, #id], iterator_types = ["parallel", "parallel"]}
      ins(%p, %b : tensor<32x16xf32>, tensor<16xf32>) outs(%e : tensor<32x16xf32>) {
  ^bb0(%a: f32, %c: f32, %o: f32):
    %s = arith.addf %a, %c : f32
    linalg.yield %s : f32
  } -> tensor<32x16xf32> loc("fc.bias")
  %yv = tensor.expand_shape %y [[0, 1], [2]] output_shape [4, 8, 16] : tensor<32x16xf32> into tensor<4x8x16xf32>
  %e3 = tensor.empty() : tensor<4x8x16xf32>
  %h = linalg.generic {indexing_maps = [#id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%yv : tensor<4x8x16xf32>) outs(%e3 : tensor<4x8x16xf32>) {
  ^bb0(%s: f32, %o: f32):
    %r = arith.mulf %s, %half : f32
    linalg.yield %r : f32
  } -> tensor<4x8x16xf32> loc("fc.half")
  %cube = linalg.generic {indexing_maps = [#id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%yv : tensor<4x8x16xf32>) outs(%e3 : tensor<4x8x16xf32>) {
  ^bb0(%s: f32, %o: f32):
    %s3 = math.fpowi %s, %three : f32, i64
    %c32 = arith.truncf %c3 : f64 to f32
    %r = arith.mulf %s3, %c32 : f32
    linalg.yield %r : f32
  } -> tensor<4x8x16xf32> loc("fc.cube")
  %inner = linalg.generic {indexing_maps = [#id3, #id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%yv, %cube : tensor<4x8x16xf32>, tensor<4x8x16xf32>) outs(%e3 : tensor<4x8x16xf32>) {
  ^bb0(%s: f32, %t: f32, %o: f32):
    %r = arith.addf %s, %t : f32
    linalg.yield %r : f32
  } -> tensor<4x8x16xf32> loc("fc.inner")
  %th = linalg.generic {indexing_maps = [#id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%inner : tensor<4x8x16xf32>) outs(%e3 : tensor<4x8x16xf32>) {
  ^bb0(%s: f32, %o: f32):
    %k32 = arith.truncf %k : f64 to f32
    %t = arith.mulf %s, %k32 : f32
    %r = math.tanh %t : f32
    linalg.yield %r : f32
  } -> tensor<4x8x16xf32> loc("fc.tanh")
  %onep = linalg.generic {indexing_maps = [#id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%th : tensor<4x8x16xf32>) outs(%e3 : tensor<4x8x16xf32>) {
  ^bb0(%s: f32, %o: f32):
    %r = arith.addf %s, %one : f32
    linalg.yield %r : f32
  } -> tensor<4x8x16xf32> loc("fc.onep")
  %g = linalg.generic {indexing_maps = [#id3, #id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%h, %onep : tensor<4x8x16xf32>, tensor<4x8x16xf32>) outs(%e3 : tensor<4x8x16xf32>) {
  ^bb0(%a: f32, %t: f32, %o: f32):
    %r = arith.mulf %a, %t : f32
    linalg.yield %r : f32
  } -> tensor<4x8x16xf32> loc("fc.gelu")
  %gc = tensor.collapse_shape %g [[0, 1], [2]] : tensor<4x8x16xf32> into tensor<32x16xf32>
  %e2 = tensor.empty() : tensor<32x8xf32>
  %z2 = linalg.fill ins(%zero : f32) outs(%e2 : tensor<32x8xf32>) -> tensor<32x8xf32>
  %p2 = linalg.matmul ins(%gc, %w2 : tensor<32x16xf32>, tensor<16x8xf32>) outs(%z2 : tensor<32x8xf32>) -> tensor<32x8xf32> loc("fc2")
  return %p2 : tensor<32x8xf32>
}

//--- bf16.mlir
#id = affine_map<(m, n) -> (m, n)>
#bias = affine_map<(m, n) -> (n)>

// A 16-bit product is trained accumulating in f32 and rounded (autopar-
// training's mixed precision): the rounding and the bias add both run in
// its call (the bias's 16-bit copy made beside the weights'): no launch,
// the bias read (64 B). Was a kernel reading the product and the bias and
// writing the sum (4160 B, a launch). test/CUDA/contractions-epilogue-
// forms.mlir and lower-mixed-precision.test check the lowering.
// BF16: "loc": "bias16",
// BF16: "bytes": 64,
// BF16: "in_gemm_epilogue": true,
// BF16-NEXT: "launches": 0
func.func @forward(%x: tensor<32x16xbf16>, %w: tensor<16x32xbf16> {autopar.role = "param"},
                   %b: tensor<32xbf16> {autopar.role = "param"}) -> tensor<32x32xbf16> {
  %zero = arith.constant 0.0 : bf16
  %e = tensor.empty() : tensor<32x32xbf16>
  %z = linalg.fill ins(%zero : bf16) outs(%e : tensor<32x32xbf16>) -> tensor<32x32xbf16>
  %p = linalg.matmul ins(%x, %w : tensor<32x16xbf16>, tensor<16x32xbf16>) outs(%z : tensor<32x32xbf16>) -> tensor<32x32xbf16>
  %y = linalg.generic {indexing_maps = [#id, #bias, #id], iterator_types = ["parallel", "parallel"]}
      ins(%p, %b : tensor<32x32xbf16>, tensor<32xbf16>) outs(%e : tensor<32x32xbf16>) {
  ^bb0(%a: bf16, %c: bf16, %o: bf16):
    %s = arith.addf %a, %c : bf16
    linalg.yield %s : bf16
  } -> tensor<32x32xbf16> loc("bias16")
  return %y : tensor<32x32xbf16>
}

// Planned in f32 the epilogue model's bias add costs its backward only (its
// forward runs in the product's call); under a bf16 step precision too
// (the bias add with the product's rounding; was a kernel, 0.0132). The
// backward is the bias gradient's row sum, a launch's time at this size
// (0.0093 and 0.0091 while the product's gradient was priced as written
// again).
// PLAN-F32: linalg.generic proj.bias replicated 0.0050
// PLAN-BF16: linalg.generic proj.bias replicated 0.0050

// A pipeline stage boundary never falls inside a kernel (docs/pipeline.md,
// Planner::getKernelCuts): the 2-layer MLP's stages are its layers, each
// product with its bias and ReLU epilogue (a fill, a matmul, a bias add).
// STAGES: stage 0: ops 0..2 (fc1 .. fc1.bias_relu)
// STAGES-NEXT: stage 1: ops 3..5 (fc2 .. fc2.bias_add)

//--- relu.mlir
// A dense layer's ReLU after its bias, whose result the next layer's
// product alone reads: in a training step the lowering folds it with its
// backward (autopar-contractions-to-cublas, matchReluTraining): the
// product's call writes the result and a bitmask of where the sum is
// positive (cuBLASLt's RELU_AUX_BIAS; 32 rows of 16 columns padded to 128
// bits, 512 B: Fusion.h, getReluMaskBytes), and the next layer's
// data-gradient product applies it with the bias's gradient (DRELU_BGRAD;
// isActivationGradientInEpilogue). No launch either way; the bias read
// and the mask written (64 + 512 B), the mask kept for the backward
// instead of the product (512 B saved, was 2048) and read there (512 B).
// Was priced as a kernel reading the product and the bias and writing the
// result (4160 B, a launch), its backward reading the gradient and the
// product (a launch) before the training lowering kept the mask.
// RELU: "loc": "fc.relu",
// RELU: "bytes": 576,
// RELU: "saved_bytes": 512,
// RELU: "bwd_bytes": 512,
// RELU: "in_gemm_epilogue": true,
// RELU-NEXT: "launches": 0
#id = affine_map<(m, n) -> (m, n)>
#bias = affine_map<(m, n) -> (n)>
func.func @forward(%x: tensor<32x16xf32>, %w: tensor<16x16xf32> {autopar.role = "param"},
                   %b: tensor<16xf32> {autopar.role = "param"},
                   %w2: tensor<16x8xf32> {autopar.role = "param"}) -> tensor<32x8xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<32x16xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<32x16xf32>) -> tensor<32x16xf32>
  %p = linalg.matmul ins(%x, %w : tensor<32x16xf32>, tensor<16x16xf32>) outs(%z : tensor<32x16xf32>) -> tensor<32x16xf32> loc("fc")
  %y = linalg.generic {indexing_maps = [#id, #bias, #id], iterator_types = ["parallel", "parallel"]}
      ins(%p, %b : tensor<32x16xf32>, tensor<16xf32>) outs(%e : tensor<32x16xf32>) {
  ^bb0(%a: f32, %c: f32, %o: f32):
    %s = arith.addf %a, %c : f32
    %r = arith.maximumf %s, %zero : f32
    linalg.yield %r : f32
  } -> tensor<32x16xf32> loc("fc.relu")
  %e2 = tensor.empty() : tensor<32x8xf32>
  %z2 = linalg.fill ins(%zero : f32) outs(%e2 : tensor<32x8xf32>) -> tensor<32x8xf32>
  %q = linalg.matmul ins(%y, %w2 : tensor<32x16xf32>, tensor<16x8xf32>) outs(%z2 : tensor<32x8xf32>) -> tensor<32x8xf32> loc("fc2")
  return %q : tensor<32x8xf32>
}

//--- export16.mlir
// A bf16 linear layer as torch-mlir exports it: operands and bias widened
// to f32, the product and the bias add in f32, the sum rounded to bf16.
// The widenings run inside their users (Analysis/Fusion.h: the product's
// into the product, a 16-bit GEMM; the bias's into the bias add), and the
// rounded sum is the product's epilogue (EpilogueForm::roundsResult): no
// launch, only the bf16 bias read (32 B). Was a kernel reading the f32
// product and bias and writing the result (3104 B).
// EXPORT16: "loc": "fc.round",
// EXPORT16: "bytes": 32,
// EXPORT16: "in_gemm_epilogue": true,
// EXPORT16-NEXT: "launches": 0
#id = affine_map<(m, n) -> (m, n)>
#col = affine_map<(m) -> (m)>
#bias = affine_map<(m, n) -> (n)>
func.func @forward(%x: tensor<32x16xbf16>, %w: tensor<16x16xbf16> {autopar.role = "param"}, %b: tensor<16xbf16> {autopar.role = "param"}) -> tensor<32x16xbf16> {
  %zero = arith.constant 0.0 : f32
  %eb = tensor.empty() : tensor<16xf32>
  %bw = linalg.generic {indexing_maps = [#col, #col], iterator_types = ["parallel"]} ins(%b : tensor<16xbf16>) outs(%eb : tensor<16xf32>) {
  ^bb0(%a: bf16, %o: f32):
    %t = arith.extf %a : bf16 to f32
    linalg.yield %t : f32
  } -> tensor<16xf32>
  %ex = tensor.empty() : tensor<32x16xf32>
  %xw = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<32x16xbf16>) outs(%ex : tensor<32x16xf32>) {
  ^bb0(%a: bf16, %o: f32):
    %t = arith.extf %a : bf16 to f32
    linalg.yield %t : f32
  } -> tensor<32x16xf32>
  %ew = tensor.empty() : tensor<16x16xf32>
  %ww = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%w : tensor<16x16xbf16>) outs(%ew : tensor<16x16xf32>) {
  ^bb0(%a: bf16, %o: f32):
    %t = arith.extf %a : bf16 to f32
    linalg.yield %t : f32
  } -> tensor<16x16xf32>
  %e = tensor.empty() : tensor<32x16xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<32x16xf32>) -> tensor<32x16xf32>
  %p = linalg.matmul ins(%xw, %ww : tensor<32x16xf32>, tensor<16x16xf32>) outs(%z : tensor<32x16xf32>) -> tensor<32x16xf32> loc("fc")
  %s = linalg.generic {indexing_maps = [#id, #bias, #id], iterator_types = ["parallel", "parallel"]} ins(%p, %bw : tensor<32x16xf32>, tensor<16xf32>) outs(%e : tensor<32x16xf32>) {
  ^bb0(%a: f32, %c: f32, %o: f32):
    %t = arith.addf %a, %c : f32
    linalg.yield %t : f32
  } -> tensor<32x16xf32> loc("fc.bias")
  %e16 = tensor.empty() : tensor<32x16xbf16>
  %r = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%s : tensor<32x16xf32>) outs(%e16 : tensor<32x16xbf16>) {
  ^bb0(%a: f32, %o: bf16):
    %t = arith.truncf %a : f32 to bf16
    linalg.yield %t : bf16
  } -> tensor<32x16xbf16> loc("fc.round")
  return %r : tensor<32x16xbf16>
}
