// FLOPs, MACs, parameters and bytes of each op kind, checked against hand
// computation (f32: 4 bytes per element).
// RUN: autopar-opt %s --autopar-analyze=report=%t.json -o /dev/null
// RUN: FileCheck %s < %t.json

// Totals: parameters 512 + 32 + 108 + 48 = 700 (2800 B); forward FLOP
// 8192 + 512 + 256 + 3456 + 64 + 384 = 12864; MAC 4096 + 1728 + 192 = 6016.
// The batch is dim 0 of the first input.
// CHECK: "batch": 8,
// CHECK: "total": {
// CHECK-NEXT: "params": 700,
// CHECK-NEXT: "param_bytes": 2800,
// CHECK-NEXT: "forward_flops": 12864,
// CHECK-NEXT: "forward_macs": 6016,

#id2 = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
#col = affine_map<(d0, d1) -> (d1)>
func.func @forward(%x: tensor<8x16xf32> {autopar.role = "input"},
                   %w: tensor<16x32xf32> {autopar.role = "param"},
                   %b: tensor<32xf32> {autopar.role = "param"},
                   %img: tensor<1x3x8x8xf32> {autopar.role = "input"},
                   %f: tensor<4x3x3x3xf32> {autopar.role = "param"},
                   %qa: tensor<2x4x8xf32> {autopar.role = "input"},
                   %qb: tensor<2x8x3xf32> {autopar.role = "param"})
    -> (tensor<8xf32>, tensor<4x4xf32>, tensor<2x4x3xf32>, tensor<16x8xf32>) {
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32

  // matmul 8x16 * 16x32: 2*8*32*16 = 8192 FLOP, 4096 MAC; reads x (512 B)
  // and w (2048 B), writes 1024 B. The init it accumulates into is a
  // constant fill: made in the call (beta = 0), neither read nor written,
  // and no kernel of its own (Analysis/Fusion.h, isMadeFromScalar).
  // CHECK: "op": "linalg.fill",
  // CHECK-NEXT: "loc": "fill",
  // CHECK-NEXT: "shape": "tensor<8x32xf32>",
  // CHECK-NEXT: "flops": 0,
  // CHECK: "bytes": 0,
  // CHECK: "fused": true,
  // CHECK: "launches": 0
  // CHECK: "op": "linalg.matmul",
  // CHECK-NEXT: "loc": "matmul",
  // CHECK-NEXT: "shape": "tensor<8x32xf32>",
  // CHECK-NEXT: "flops": 8192,
  // CHECK-NEXT: "macs": 4096,
  // CHECK-NEXT: "params": 512,
  // CHECK-NEXT: "bytes": 3584,
  // CHECK-NEXT: "intensity":
  // The activation x is kept for the weight gradient (512 B); the backward
  // needs only the weight gradient (x needs no gradient): 8192 FLOP.
  // CHECK-NEXT: "saved_bytes": 512,
  // CHECK-NEXT: "bwd_flops": 8192,
  %e = tensor.empty() : tensor<8x32xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<8x32xf32>) -> tensor<8x32xf32> loc("fill")
  %mm = linalg.matmul ins(%x, %w : tensor<8x16xf32>, tensor<16x32xf32>) outs(%init : tensor<8x32xf32>) -> tensor<8x32xf32> loc("matmul")

  // Bias add then ReLU: 2 FLOP per element of 8x32 = 512 FLOP. The ReLU
  // (max) keeps its input: the matmul result. The backward: data gradient
  // (2 FLOP x 256) + bias gradient (2 x 256). Its one user, the row sum,
  // runs it (Analysis/Fusion.h): it moves no bytes of its own (its 1024 +
  // 128 B are read by the row sum, its 1024 B never written) and launches
  // no kernel.
  // CHECK: "op": "linalg.generic",
  // CHECK-NEXT: "loc": "bias_relu",
  // CHECK-NEXT: "shape": "tensor<8x32xf32>",
  // CHECK-NEXT: "flops": 512,
  // CHECK-NEXT: "macs": 0,
  // CHECK-NEXT: "params": 32,
  // CHECK-NEXT: "bytes": 0,
  // CHECK-NEXT: "intensity":
  // CHECK-NEXT: "saved_bytes": 1024,
  // CHECK-NEXT: "bwd_flops": 1024,
  // CHECK: "fused": true
  %act = linalg.generic {indexing_maps = [#id2, #col, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%mm, %b : tensor<8x32xf32>, tensor<32xf32>) outs(%e : tensor<8x32xf32>) {
  ^bb0(%v: f32, %bias: f32, %out: f32):
    %s = arith.addf %v, %bias : f32
    %r = arith.maximumf %s, %zero : f32
    linalg.yield %r : f32
  } -> tensor<8x32xf32> loc("bias_relu")

  // Row sum: a reduction over 32 columns, 1 FLOP per iteration = 256 FLOP;
  // reads the fused bias_relu's inputs (1024 + 128 B) in place of its input,
  // writes 32 B (the init, a constant fill, is made in the kernel). Sums are linear: nothing is kept for
  // the backward.
  // CHECK: "op": "linalg.generic",
  // CHECK-NEXT: "loc": "rowsum",
  // CHECK-NEXT: "shape": "tensor<8xf32>",
  // CHECK-NEXT: "flops": 256,
  // CHECK-NEXT: "macs": 0,
  // CHECK-NEXT: "params": 0,
  // CHECK-NEXT: "bytes": 1184,
  // CHECK-NEXT: "intensity":
  // CHECK-NEXT: "saved_bytes": 0,
  // CHECK-NEXT: "bwd_flops": 256,
  // CHECK: "fused": false
  %e8 = tensor.empty() : tensor<8xf32>
  %z8 = linalg.fill ins(%zero : f32) outs(%e8 : tensor<8xf32>) -> tensor<8xf32> loc("rowsum.init")
  %sum = linalg.generic {indexing_maps = [#id2, #row], iterator_types = ["parallel", "reduction"]}
      ins(%act : tensor<8x32xf32>) outs(%z8 : tensor<8xf32>) {
  ^bb0(%v: f32, %acc: f32):
    %s = arith.addf %acc, %v : f32
    linalg.yield %s : f32
  } -> tensor<8xf32> loc("rowsum")

  // Padding 1x3x8x8 by 1 on each side: reads 768 B, writes 1x3x10x10 = 1200 B.
  // CHECK: "op": "tensor.pad",
  // CHECK-NEXT: "loc": "pad",
  // CHECK-NEXT: "shape": "tensor<1x3x10x10xf32>",
  // CHECK-NEXT: "flops": 0,
  // CHECK-NEXT: "macs": 0,
  // CHECK-NEXT: "params": 0,
  // CHECK-NEXT: "bytes": 1968,
  %padded = tensor.pad %img low[0, 0, 1, 1] high[0, 0, 1, 1] {
  ^bb0(%i: index, %j: index, %k: index, %l: index):
    tensor.yield %zero : f32
  } : tensor<1x3x8x8xf32> to tensor<1x3x10x10xf32> loc("pad")

  // Convolution, 4 filters 3x3 over 3 channels, stride 2 on 10x10: output
  // 1x4x4x4; 2 * 64 outputs * 27 = 3456 FLOP, 1728 MAC; reads 1200 + 432
  // B (not the zero init), writes 256 B. Only the filter needs a gradient: 3456 FLOP.
  // CHECK: "op": "linalg.conv_2d_nchw_fchw",
  // CHECK-NEXT: "loc": "conv",
  // CHECK-NEXT: "shape": "tensor<1x4x4x4xf32>",
  // CHECK-NEXT: "flops": 3456,
  // CHECK-NEXT: "macs": 1728,
  // CHECK-NEXT: "params": 108,
  // CHECK-NEXT: "bytes": 1888,
  // CHECK-NEXT: "intensity":
  // CHECK-NEXT: "saved_bytes": 1200,
  // CHECK-NEXT: "bwd_flops": 3456,
  %ec = tensor.empty() : tensor<1x4x4x4xf32>
  %zc = linalg.fill ins(%zero : f32) outs(%ec : tensor<1x4x4x4xf32>) -> tensor<1x4x4x4xf32> loc("conv.init")
  %conv = linalg.conv_2d_nchw_fchw {dilations = dense<1> : tensor<2xi64>, strides = dense<2> : tensor<2xi64>}
      ins(%padded, %f : tensor<1x3x10x10xf32>, tensor<4x3x3x3xf32>) outs(%zc : tensor<1x4x4x4xf32>) -> tensor<1x4x4x4xf32> loc("conv")

  // Max pooling 2x2 stride 2: 1*4*2*2 outputs x 4 window = 64 FLOP; reads
  // 256 + 16 (the 2x2 window operand) B (not the -inf init), writes 64 B. The max keeps its input for the backward (256 B).
  // Its data gradient costs one FLOP per iteration: 64.
  // CHECK: "op": "linalg.pooling_nchw_max",
  // CHECK-NEXT: "loc": "pool",
  // CHECK-NEXT: "shape": "tensor<1x4x2x2xf32>",
  // CHECK-NEXT: "flops": 64,
  // CHECK-NEXT: "macs": 0,
  // CHECK-NEXT: "params": 0,
  // CHECK-NEXT: "bytes": 336,
  // CHECK-NEXT: "intensity":
  // CHECK-NEXT: "saved_bytes": 256,
  // CHECK-NEXT: "bwd_flops": 64,
  %ep = tensor.empty() : tensor<1x4x2x2xf32>
  %ip = linalg.fill ins(%ninf : f32) outs(%ep : tensor<1x4x2x2xf32>) -> tensor<1x4x2x2xf32> loc("pool.init")
  %window = tensor.empty() : tensor<2x2xf32>
  %pool = linalg.pooling_nchw_max {dilations = dense<1> : tensor<2xi64>, strides = dense<2> : tensor<2xi64>}
      ins(%conv, %window : tensor<1x4x4x4xf32>, tensor<2x2xf32>) outs(%ip : tensor<1x4x2x2xf32>) -> tensor<1x4x2x2xf32> loc("pool")

  // batch_matmul 2x4x8 * 2x8x3: 2*2*4*3*8 = 384 FLOP, 192 MAC; reads 256 +
  // 192 B, writes 96 B.
  // CHECK: "op": "linalg.batch_matmul",
  // CHECK-NEXT: "loc": "bmm",
  // CHECK-NEXT: "shape": "tensor<2x4x3xf32>",
  // CHECK-NEXT: "flops": 384,
  // CHECK-NEXT: "macs": 192,
  // CHECK-NEXT: "params": 48,
  // CHECK-NEXT: "bytes": 544,
  %eb = tensor.empty() : tensor<2x4x3xf32>
  %zb = linalg.fill ins(%zero : f32) outs(%eb : tensor<2x4x3xf32>) -> tensor<2x4x3xf32> loc("bmm.init")
  %bmm = linalg.batch_matmul ins(%qa, %qb : tensor<2x4x8xf32>, tensor<2x8x3xf32>) outs(%zb : tensor<2x4x3xf32>) -> tensor<2x4x3xf32> loc("bmm")

  // Reshapes are free: no entry for the collapse.
  // CHECK-NOT: "op": "tensor.collapse_shape"
  // A transpose moves data without arithmetic: 0 FLOP, 512 + 512 B.
  // CHECK: "op": "linalg.transpose",
  // CHECK-NEXT: "loc": "transpose",
  // CHECK-NEXT: "shape": "tensor<16x8xf32>",
  // CHECK-NEXT: "flops": 0,
  // CHECK-NEXT: "macs": 0,
  // CHECK-NEXT: "params": 0,
  // CHECK-NEXT: "bytes": 1024,
  %flat = tensor.collapse_shape %pool [[0, 1], [2, 3]] : tensor<1x4x2x2xf32> into tensor<4x4xf32> loc("flatten")
  %et = tensor.empty() : tensor<16x8xf32>
  %tr = linalg.transpose ins(%x : tensor<8x16xf32>) outs(%et : tensor<16x8xf32>) permutation = [1, 0] loc("transpose")
  return %sum, %flat, %bmm, %tr : tensor<8xf32>, tensor<4x4xf32>, tensor<2x4x3xf32>, tensor<16x8xf32>
}

// CHECK: "gradients": [
// CHECK-NEXT: {
// CHECK-NEXT: "name": "arg1",
// CHECK-NEXT: "shape": "tensor<16x32xf32>",
// CHECK-NEXT: "elements": 512,
// CHECK-NEXT: "bytes": 2048
