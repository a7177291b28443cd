// A 16-bit 2-D convolution of a training step is priced at the TF32 rate:
// a training step accumulates 16-bit reductions in f32, and cuDNN has no
// 16-bit convolution into an f32 result, so the CUDA backend runs it,
// forward and gradients, on widened inputs with TF32 tensor cores. Round
// rates (unit-tensor-cores.json): f32 10, TF32 50, bf16 100 TFLOP/s;
// 1 TB/s.
// RUN: autopar-opt %s --autopar-analyze="target=%S/Inputs/unit-tensor-cores.json report=%t.json optimizer=sgd" -o /dev/null
// RUN: FileCheck %s < %t.json

// 2 x 8 x 128 x 30 x 30 x 128 x 9 = 2.123e9 FLOP. bf16: forward and the
// weight gradient (x is an input) at 50 TFLOP/s (not bf16's 100), 42.5 us
// each.
// CHECK: "op": "linalg.conv_2d_nchw_fchw",
// CHECK: "flops": 2123366400,
// CHECK: "time_fwd_s": {{4\.24[0-9]*e-05}},
// CHECK: "time_bwd_s": {{4\.24[0-9]*e-05}},
// f32: both at 10 TFLOP/s, 212 us.
// CHECK: "op": "linalg.conv_2d_nchw_fchw",
// CHECK: "flops": 2123366400,
// CHECK: "time_fwd_s": {{0\.000212[0-9]*}},
// CHECK: "time_bwd_s": {{0\.000212[0-9]*}},
func.func @forward(%x: tensor<8x128x32x32xbf16> {autopar.role = "input"},
                   %w: tensor<128x128x3x3xbf16> {autopar.role = "param"},
                   %x32: tensor<8x128x32x32xf32> {autopar.role = "input"},
                   %w32: tensor<128x128x3x3xf32> {autopar.role = "param"})
    -> (tensor<8x128x30x30xbf16>, tensor<8x128x30x30xf32>) {
  %zero = arith.constant 0.0 : bf16
  %e = tensor.empty() : tensor<8x128x30x30xbf16>
  %init = linalg.fill ins(%zero : bf16) outs(%e : tensor<8x128x30x30xbf16>) -> tensor<8x128x30x30xbf16>
  %y = linalg.conv_2d_nchw_fchw {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>}
      ins(%x, %w : tensor<8x128x32x32xbf16>, tensor<128x128x3x3xbf16>)
      outs(%init : tensor<8x128x30x30xbf16>) -> tensor<8x128x30x30xbf16>
  %zero32 = arith.constant 0.0 : f32
  %e32 = tensor.empty() : tensor<8x128x30x30xf32>
  %init32 = linalg.fill ins(%zero32 : f32) outs(%e32 : tensor<8x128x30x30xf32>) -> tensor<8x128x30x30xf32>
  %y32 = linalg.conv_2d_nchw_fchw {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>}
      ins(%x32, %w32 : tensor<8x128x32x32xf32>, tensor<128x128x3x3xf32>)
      outs(%init32 : tensor<8x128x30x30xf32>) -> tensor<8x128x30x30xf32>
  return %y, %y32 : tensor<8x128x30x30xbf16>, tensor<8x128x30x30xf32>
}
