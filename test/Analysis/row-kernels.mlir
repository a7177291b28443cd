// RUN: split-file %s %t
// RUN: autopar-opt %t/layernorm.mlir --autopar-analyze=report=%t/layernorm.json -o /dev/null
// RUN: FileCheck %s < %t/layernorm.json
// RUN: autopar-opt %t/keepdim.mlir --autopar-analyze=report=%t/keepdim.json -o /dev/null
// RUN: FileCheck %s --check-prefix=KEEP < %t/keepdim.json
// RUN: autopar-opt %t/few-rows.mlir --autopar-analyze=report=%t/few-rows.json -o /dev/null
// RUN: FileCheck %s --check-prefix=FEW < %t/few-rows.json
// RUN: autopar-opt %t/library-call.mlir --autopar-analyze=report=%t/library-call.json -o /dev/null
// RUN: FileCheck %s --check-prefix=CALL < %t/library-call.json
// RUN: autopar-opt %t/share.mlir --autopar-plan="target=a100-dgx mesh=2 parallelism=data microbatches=1 report=-" -o /dev/null | FileCheck %s --check-prefix=SHARE2
// RUN: autopar-opt %t/share.mlir --autopar-plan="target=a100-dgx mesh=4 parallelism=data microbatches=1 report=-" -o /dev/null | FileCheck %s --check-prefix=SHARE4
// RUN: autopar-opt %t/share.mlir --autopar-plan="target=a100-dgx mesh=1 microbatches=2 report=-" -o /dev/null | FileCheck %s --check-prefix=MICRO2
// RUN: autopar-opt %t/share.mlir --autopar-plan="target=a100-dgx mesh=1 microbatches=4 report=-" -o /dev/null | FileCheck %s --check-prefix=MICRO4
// RUN: autopar-opt %t/softmax-backward.mlir --autopar-analyze=report=%t/softmax-backward.json -o /dev/null
// RUN: FileCheck %s --check-prefix=BWD < %t/softmax-backward.json
// RUN: autopar-opt %t/softmax-share.mlir --autopar-plan="target=a100-dgx mesh=1 microbatches=4 report=-" -o /dev/null | FileCheck %s --check-prefix=BWD-MICRO4
// RUN: autopar-opt %t/softmax-share.mlir --autopar-plan="target=a100-dgx mesh=1 microbatches=8 report=-" -o /dev/null | FileCheck %s --check-prefix=BWD-MICRO8
// The workload prices the row kernels autopar-row-kernels makes
// (findRowKernels, Analysis/Fusion.h): a LayerNorm's mean starts a kernel
// over its 1024 rows of 64; the variance (another reduction of the rows,
// reading the mean) and the normalisation (elementwise over the rows,
// reading both) join it. They launch nothing of their own and read x and
// the row values from cache: the variance moves only its result (4 KiB;
// its initial value, a constant fill, is made in the kernel), the
// normalisation only its result.

//--- layernorm.mlir
#id = affine_map<(r, c) -> (r, c)>
#row = affine_map<(r, c) -> (r)>

// CHECK: "loc": "mean",
// CHECK: "bytes": 266240,
// CHECK: "in_row_kernel": false,
// CHECK-NEXT: "in_gemm_epilogue": false,
// CHECK-NEXT: "launches": 1
// CHECK: "loc": "var",
// CHECK: "bytes": 4096,
// CHECK: "in_row_kernel": true,
// CHECK-NEXT: "in_gemm_epilogue": false,
// CHECK-NEXT: "launches": 0
// CHECK: "loc": "norm",
// CHECK: "bytes": 262144,
// CHECK: "in_row_kernel": true,
// CHECK-NEXT: "in_gemm_epilogue": false,
// CHECK-NEXT: "launches": 0
func.func @forward(%x: tensor<1024x64xf32>) -> tensor<1024x64xf32> {
  %zero = arith.constant 0.0 : f32
  %n = arith.constant 64.0 : f32
  %eps = arith.constant 1.0e-5 : f32
  %e = tensor.empty() : tensor<1024xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<1024xf32>) -> tensor<1024xf32>
  %sum = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]}
      ins(%x : tensor<1024x64xf32>) outs(%z : tensor<1024xf32>) {
  ^bb0(%v: f32, %acc: f32):
    %s = arith.addf %acc, %v : f32
    linalg.yield %s : f32
  } -> tensor<1024xf32> loc("mean")
  %z2 = linalg.fill ins(%zero : f32) outs(%e : tensor<1024xf32>) -> tensor<1024xf32>
  %sq = linalg.generic {indexing_maps = [#id, #row, #row], iterator_types = ["parallel", "reduction"]}
      ins(%x, %sum : tensor<1024x64xf32>, tensor<1024xf32>) outs(%z2 : tensor<1024xf32>) {
  ^bb0(%v: f32, %s: f32, %acc: f32):
    %m = arith.divf %s, %n : f32
    %d = arith.subf %v, %m : f32
    %p = arith.mulf %d, %d : f32
    %a = arith.addf %acc, %p : f32
    linalg.yield %a : f32
  } -> tensor<1024xf32> loc("var")
  %ex = tensor.empty() : tensor<1024x64xf32>
  %out = linalg.generic {indexing_maps = [#id, #row, #row, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x, %sum, %sq : tensor<1024x64xf32>, tensor<1024xf32>, tensor<1024xf32>) outs(%ex : tensor<1024x64xf32>) {
  ^bb0(%v: f32, %s: f32, %q: f32, %o: f32):
    %m = arith.divf %s, %n : f32
    %d = arith.subf %v, %m : f32
    %var = arith.divf %q, %n : f32
    %ve = arith.addf %var, %eps : f32
    %r = math.rsqrt %ve : f32
    %y = arith.mulf %d, %r : f32
    linalg.yield %y : f32
  } -> tensor<1024x64xf32> loc("norm")
  return %out : tensor<1024x64xf32>
}

//--- keepdim.mlir
#id = affine_map<(r, c) -> (r, c)>
#keep = affine_map<(r, c) -> (r, 0)>

// The same LayerNorm as torch-mlir writes it: the statistics kept as
// [rows, 1] (`keepdim`, written and read at (r, 0)), the mean in f64 of the
// input widened; the variance's sum into [rows] read back through an
// expand_shape to [rows, 1]. The same kernel: the variance and the
// normalisation join the mean's.
// KEEP: "loc": "mean64",
// KEEP: "in_row_kernel": false,
// KEEP-NEXT: "in_gemm_epilogue": false,
// KEEP-NEXT: "launches": 1
// KEEP: "loc": "var64",
// KEEP: "in_row_kernel": true,
// KEEP-NEXT: "in_gemm_epilogue": false,
// KEEP-NEXT: "launches": 0
// KEEP: "loc": "norm64",
// KEEP: "in_row_kernel": true,
// KEEP-NEXT: "in_gemm_epilogue": false,
// KEEP-NEXT: "launches": 0
func.func @forward(%x: tensor<1024x64xf32>) -> tensor<1024x64xf32> {
  %zero = arith.constant 0.0 : f64
  %zero32 = arith.constant 0.0 : f32
  %n = arith.constant 64.0 : f64
  %n32 = arith.constant 64.0 : f32
  %e = tensor.empty() : tensor<1024x1xf64>
  %z = linalg.fill ins(%zero : f64) outs(%e : tensor<1024x1xf64>) -> tensor<1024x1xf64>
  %sum = linalg.generic {indexing_maps = [#id, #keep], iterator_types = ["parallel", "reduction"]}
      ins(%x : tensor<1024x64xf32>) outs(%z : tensor<1024x1xf64>) {
  ^bb0(%v: f32, %acc: f64):
    %w = arith.extf %v : f32 to f64
    %s = arith.addf %acc, %w : f64
    linalg.yield %s : f64
  } -> tensor<1024x1xf64> loc("mean64")
  %e2 = tensor.empty() : tensor<1024xf32>
  %z2 = linalg.fill ins(%zero32 : f32) outs(%e2 : tensor<1024xf32>) -> tensor<1024xf32>
  %sq = linalg.generic {indexing_maps = [#id, #keep, affine_map<(r, c) -> (r)>], iterator_types = ["parallel", "reduction"]}
      ins(%x, %sum : tensor<1024x64xf32>, tensor<1024x1xf64>) outs(%z2 : tensor<1024xf32>) {
  ^bb0(%v: f32, %s: f64, %acc: f32):
    %m = arith.divf %s, %n : f64
    %m32 = arith.truncf %m : f64 to f32
    %d = arith.subf %v, %m32 : f32
    %p = arith.mulf %d, %d : f32
    %a = arith.addf %acc, %p : f32
    linalg.yield %a : f32
  } -> tensor<1024xf32> loc("var64")
  %sqv = tensor.expand_shape %sq [[0, 1]] output_shape [1024, 1] : tensor<1024xf32> into tensor<1024x1xf32>
  %ex = tensor.empty() : tensor<1024x64xf32>
  %out = linalg.generic {indexing_maps = [#id, #keep, #keep, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x, %sum, %sqv : tensor<1024x64xf32>, tensor<1024x1xf64>, tensor<1024x1xf32>) outs(%ex : tensor<1024x64xf32>) {
  ^bb0(%v: f32, %s: f64, %q: f32, %o: f32):
    %m = arith.divf %s, %n : f64
    %m32 = arith.truncf %m : f64 to f32
    %d = arith.subf %v, %m32 : f32
    %var = arith.divf %q, %n32 : f32
    %r = math.rsqrt %var : f32
    %y = arith.mulf %d, %r : f32
    linalg.yield %y : f32
  } -> tensor<1024x64xf32> loc("norm64")
  return %out : tensor<1024x64xf32>
}

//--- few-rows.mlir
#id = affine_map<(r, c) -> (r, c)>
#row = affine_map<(r, c) -> (r)>

// 512 rows are too few for a row kernel (kRowKernelMinRows, 1024): each
// op its own kernel, reading x from memory (the variance: x, the sums,
// its result: 135168 bytes).
// FEW: "loc": "mean512",
// FEW: "in_row_kernel": false,
// FEW-NEXT: "in_gemm_epilogue": false,
// FEW-NEXT: "launches": 1
// FEW: "loc": "var512",
// FEW: "bytes": 135168,
// FEW: "in_row_kernel": false,
// FEW-NEXT: "in_gemm_epilogue": false,
// FEW-NEXT: "launches": 1
func.func @forward(%x: tensor<512x64xf32>) -> tensor<512xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<512xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<512xf32>) -> tensor<512xf32>
  %sum = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]}
      ins(%x : tensor<512x64xf32>) outs(%z : tensor<512xf32>) {
  ^bb0(%v: f32, %acc: f32):
    %s = arith.addf %acc, %v : f32
    linalg.yield %s : f32
  } -> tensor<512xf32> loc("mean512")
  %z2 = linalg.fill ins(%zero : f32) outs(%e : tensor<512xf32>) -> tensor<512xf32>
  %sq = linalg.generic {indexing_maps = [#id, #row, #row], iterator_types = ["parallel", "reduction"]}
      ins(%x, %sum : tensor<512x64xf32>, tensor<512xf32>) outs(%z2 : tensor<512xf32>) {
  ^bb0(%v: f32, %s: f32, %acc: f32):
    %d = arith.subf %v, %s : f32
    %p = arith.mulf %d, %d : f32
    %a = arith.addf %acc, %p : f32
    linalg.yield %a : f32
  } -> tensor<512xf32> loc("var512")
  return %sq : tensor<512xf32>
}

//--- library-call.mlir
#id = affine_map<(r, c) -> (r, c)>
#row = affine_map<(r, c) -> (r)>

// A product between two row reductions ends the kernel: it is a library
// call (cuBLAS), which the kernel cannot move past.
// CALL: "loc": "max",
// CALL: "in_row_kernel": false,
// CALL-NEXT: "in_gemm_epilogue": false,
// CALL-NEXT: "launches": 1
// CALL: "loc": "after",
// CALL: "in_row_kernel": false,
// CALL-NEXT: "in_gemm_epilogue": false,
// CALL-NEXT: "launches": 1
func.func @forward(%x: tensor<1024x64xf32>, %w: tensor<64x64xf32>) -> tensor<1024xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<1024xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<1024xf32>) -> tensor<1024xf32>
  %mx = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]}
      ins(%x : tensor<1024x64xf32>) outs(%z : tensor<1024xf32>) {
  ^bb0(%v: f32, %acc: f32):
    %s = arith.maximumf %acc, %v : f32
    linalg.yield %s : f32
  } -> tensor<1024xf32> loc("max")
  %em = tensor.empty() : tensor<1024x64xf32>
  %zm = linalg.fill ins(%zero : f32) outs(%em : tensor<1024x64xf32>) -> tensor<1024x64xf32>
  %y = linalg.matmul ins(%x, %w : tensor<1024x64xf32>, tensor<64x64xf32>) outs(%zm : tensor<1024x64xf32>) -> tensor<1024x64xf32>
  %z2 = linalg.fill ins(%zero : f32) outs(%e : tensor<1024xf32>) -> tensor<1024xf32>
  %r = linalg.generic {indexing_maps = [#id, #row, #row], iterator_types = ["parallel", "reduction"]}
      ins(%y, %mx : tensor<1024x64xf32>, tensor<1024xf32>) outs(%z2 : tensor<1024xf32>) {
  ^bb0(%v: f32, %m: f32, %acc: f32):
    %d = arith.subf %v, %m : f32
    %a = arith.addf %acc, %d : f32
    linalg.yield %a : f32
  } -> tensor<1024xf32> loc("after")
  return %r : tensor<1024xf32>
}

//--- share.mlir
#id = affine_map<(r, c) -> (r, c)>
#row = affine_map<(r, c) -> (r)>

// The planner asks the rule again of a microbatch's share on a device (the
// lowering sees the local shapes): a LayerNorm of 2048 rows split over 2
// GPUs, or run as 2 microbatches, keeps its row kernel (1024 rows: the
// variance launches nothing, reads from cache); over 4 GPUs, or as 4
// microbatches (512 rows), the variance is a kernel of its own, reading x
// and the sums from memory (a launch, 4 us, and its bytes: 4 x 4.2 us a
// step as 4 microbatches).
// SHARE2: {{[0-9]+}} linalg.generic var d0:gpus 0.0000
// SHARE4: {{[0-9]+}} linalg.generic var d0:gpus 0.0042
// MICRO2: step: {{.*}}2 microbatches of 1024
// MICRO2: {{[0-9]+}} linalg.generic var replicated 0.0001
// MICRO4: step: {{.*}}4 microbatches of 512
// MICRO4: {{[0-9]+}} linalg.generic var replicated 0.0169
func.func @forward(%x: tensor<2048x64xf32> {autopar.role = "input"}) -> tensor<2048xf32> {
  %zero = arith.constant 0.0 : f32
  %n = arith.constant 64.0 : f32
  %e = tensor.empty() : tensor<2048xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<2048xf32>) -> tensor<2048xf32>
  %sum = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]}
      ins(%x : tensor<2048x64xf32>) outs(%z : tensor<2048xf32>) {
  ^bb0(%v: f32, %acc: f32):
    %s = arith.addf %acc, %v : f32
    linalg.yield %s : f32
  } -> tensor<2048xf32> loc("mean")
  %sq = linalg.generic {indexing_maps = [#id, #row, #row], iterator_types = ["parallel", "reduction"]}
      ins(%x, %sum : tensor<2048x64xf32>, tensor<2048xf32>) outs(%z : tensor<2048xf32>) {
  ^bb0(%v: f32, %s: f32, %acc: f32):
    %m = arith.divf %s, %n : f32
    %d = arith.subf %v, %m : f32
    %p = arith.mulf %d, %d : f32
    %a = arith.addf %acc, %p : f32
    linalg.yield %a : f32
  } -> tensor<2048xf32> loc("var")
  return %sq : tensor<2048xf32>
}

//--- softmax-backward.mlir
// The backward of a row kernel is the row kernel the lowering builds of
// its gradients: a softmax of a parameter s (4096 rows of 256, 4 MiB)
// reads the probabilities' gradient (made outside) and s, and writes s's
// gradient, each once (3 passes of 4 MiB and the rows' maxima and sums,
// 16 KiB each; 6 passes when priced op by op), one launch at the
// kernel's first op with a backward: the sum (the maximum has none: a
// softmax is the same for any shift, isSoftmaxShift; the exponential is
// fused into its users, the division in the kernel). The bytes were the
// maximum's before it lost its backward (8388608 there, 16384 at the
// exponential): the same in all.
// BWD: "loc": "max",
// BWD: "bwd_bytes": 0,
// BWD: "launches": 1,
// BWD-NEXT: "bwd_launches": 0
// BWD: "loc": "exp",
// BWD: "bwd_bytes": 8404992,
// BWD: "fused": true,
// BWD: "bwd_launches": 0
// BWD: "loc": "sum",
// BWD: "bwd_bytes": 0,
// BWD: "in_row_kernel": true,
// BWD: "bwd_launches": 1
// BWD: "loc": "div",
// BWD: "bwd_bytes": 4210688,
// BWD: "in_row_kernel": true,
// BWD: "bwd_launches": 0
#id = affine_map<(r, c) -> (r, c)>
#row = affine_map<(r, c) -> (r)>
func.func @forward(%s: tensor<4096x256xf32> {autopar.role = "param"}) -> tensor<4096x256xf32> {
  %zero = arith.constant 0.0 : f32
  %low = arith.constant -3.0e38 : f32
  %e = tensor.empty() : tensor<4096xf32>
  %lowest = linalg.fill ins(%low : f32) outs(%e : tensor<4096xf32>) -> tensor<4096xf32>
  %max = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]}
      ins(%s : tensor<4096x256xf32>) outs(%lowest : tensor<4096xf32>) {
  ^bb0(%v: f32, %acc: f32):
    %m = arith.maximumf %acc, %v : f32
    linalg.yield %m : f32
  } -> tensor<4096xf32> loc("max")
  %ex = tensor.empty() : tensor<4096x256xf32>
  %exp = linalg.generic {indexing_maps = [#id, #row, #id], iterator_types = ["parallel", "parallel"]}
      ins(%s, %max : tensor<4096x256xf32>, tensor<4096xf32>) outs(%ex : tensor<4096x256xf32>) {
  ^bb0(%v: f32, %m: f32, %o: f32):
    %d = arith.subf %v, %m : f32
    %x = math.exp %d : f32
    linalg.yield %x : f32
  } -> tensor<4096x256xf32> loc("exp")
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<4096xf32>) -> tensor<4096xf32>
  %sum = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]}
      ins(%exp : tensor<4096x256xf32>) outs(%z : tensor<4096xf32>) {
  ^bb0(%v: f32, %acc: f32):
    %a = arith.addf %acc, %v : f32
    linalg.yield %a : f32
  } -> tensor<4096xf32> loc("sum")
  %ey = tensor.empty() : tensor<4096x256xf32>
  %y = linalg.generic {indexing_maps = [#id, #row, #id], iterator_types = ["parallel", "parallel"]}
      ins(%exp, %sum : tensor<4096x256xf32>, tensor<4096xf32>) outs(%ey : tensor<4096x256xf32>) {
  ^bb0(%v: f32, %t: f32, %o: f32):
    %q = arith.divf %v, %t : f32
    linalg.yield %q : f32
  } -> tensor<4096x256xf32> loc("div")
  return %y : tensor<4096x256xf32>
}

//--- softmax-share.mlir
// The planner asks again of a microbatch's share: as 4 microbatches of
// 1024 rows the softmax of x scaled by a parameter w (its gradient a column
// sum, a kernel of its own) keeps its row kernel backward too (the sum
// its launch, 4 us a microbatch, as the maximum has no backward; the
// division about nothing of its own); as 8 microbatches of 512 rows
// each op's backward is a kernel of its own, priced op by op, as its
// forward.
// BWD-MICRO4: step: {{.*}}4 microbatches of 1024
// BWD-MICRO4: {{[0-9]+}} linalg.generic sum replicated 0.0162
// BWD-MICRO4: {{[0-9]+}} linalg.generic div replicated 0.0062
// BWD-MICRO8: step: {{.*}}8 microbatches of 512
// BWD-MICRO8: {{[0-9]+}} linalg.generic sum replicated 0.0678
// BWD-MICRO8: {{[0-9]+}} linalg.generic div replicated 0.0824
#id = affine_map<(r, c) -> (r, c)>
#row = affine_map<(r, c) -> (r)>
func.func @forward(%x: tensor<4096x256xf32> {autopar.role = "input"}, %w: tensor<256xf32> {autopar.role = "param"}) -> tensor<4096x256xf32> {
  %zero = arith.constant 0.0 : f32
  %es = tensor.empty() : tensor<4096x256xf32>
  %s = linalg.generic {indexing_maps = [#id, affine_map<(r, c) -> (c)>, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x, %w : tensor<4096x256xf32>, tensor<256xf32>) outs(%es : tensor<4096x256xf32>) {
  ^bb0(%v: f32, %g: f32, %o: f32):
    %p = arith.mulf %v, %g : f32
    linalg.yield %p : f32
  } -> tensor<4096x256xf32> loc("scale")
  %low = arith.constant -3.0e38 : f32
  %e = tensor.empty() : tensor<4096xf32>
  %lowest = linalg.fill ins(%low : f32) outs(%e : tensor<4096xf32>) -> tensor<4096xf32>
  %max = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]}
      ins(%s : tensor<4096x256xf32>) outs(%lowest : tensor<4096xf32>) {
  ^bb0(%v: f32, %acc: f32):
    %m = arith.maximumf %acc, %v : f32
    linalg.yield %m : f32
  } -> tensor<4096xf32> loc("max")
  %ex = tensor.empty() : tensor<4096x256xf32>
  %exp = linalg.generic {indexing_maps = [#id, #row, #id], iterator_types = ["parallel", "parallel"]}
      ins(%s, %max : tensor<4096x256xf32>, tensor<4096xf32>) outs(%ex : tensor<4096x256xf32>) {
  ^bb0(%v: f32, %m: f32, %o: f32):
    %d = arith.subf %v, %m : f32
    %xe = math.exp %d : f32
    linalg.yield %xe : f32
  } -> tensor<4096x256xf32> loc("exp")
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<4096xf32>) -> tensor<4096xf32>
  %sum = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]}
      ins(%exp : tensor<4096x256xf32>) outs(%z : tensor<4096xf32>) {
  ^bb0(%v: f32, %acc: f32):
    %a = arith.addf %acc, %v : f32
    linalg.yield %a : f32
  } -> tensor<4096xf32> loc("sum")
  %ey = tensor.empty() : tensor<4096x256xf32>
  %y = linalg.generic {indexing_maps = [#id, #row, #id], iterator_types = ["parallel", "parallel"]}
      ins(%exp, %sum : tensor<4096x256xf32>, tensor<4096xf32>) outs(%ey : tensor<4096x256xf32>) {
  ^bb0(%v: f32, %t: f32, %o: f32):
    %q = arith.divf %v, %t : f32
    linalg.yield %q : f32
  } -> tensor<4096x256xf32> loc("div")
  return %y : tensor<4096x256xf32>
}
