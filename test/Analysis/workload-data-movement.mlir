// Data movement and broadcasts: bytes, no FLOPs; dilated convolutions.
// RUN: autopar-opt %s --autopar-analyze=report=%t.json -o /dev/null
// RUN: FileCheck %s < %t.json

func.func @forward(%x: tensor<4x8xf32> {autopar.role = "input"},
                   %y: tensor<4x8xf32> {autopar.role = "input"},
                   %b: tensor<8xf32> {autopar.role = "param"},
                   %img: tensor<1x2x9x9xf32> {autopar.role = "input"},
                   %f: tensor<3x2x3x3xf32> {autopar.role = "param"})
    -> (tensor<2x8xf32>, tensor<8x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<1x3x5x5xf32>) {
  // A slice of 2x8 moves 64 B each way.
  // CHECK: "op": "tensor.extract_slice",
  // CHECK-NEXT: "loc": "slice",
  // CHECK-NEXT: "shape": "tensor<2x8xf32>",
  // CHECK-NEXT: "flops": 0,
  // CHECK-NEXT: "macs": 0,
  // CHECK-NEXT: "params": 0,
  // CHECK-NEXT: "bytes": 128,
  %s = tensor.extract_slice %x[1, 0] [2, 8] [1, 1] : tensor<4x8xf32> to tensor<2x8xf32> loc("slice")

  // Concatenating two 4x8 tensors: reads 256 B, writes 256 B.
  // CHECK: "op": "tensor.concat",
  // CHECK-NEXT: "loc": "concat",
  // CHECK-NEXT: "shape": "tensor<8x8xf32>",
  // CHECK-NEXT: "flops": 0,
  // CHECK-NEXT: "macs": 0,
  // CHECK-NEXT: "params": 0,
  // CHECK-NEXT: "bytes": 512,
  %c = tensor.concat dim(0) %x, %y : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<8x8xf32> loc("concat")

  // Broadcasting the 8-element bias to 4x8: reads 32 B, writes 128 B.
  // CHECK: "op": "linalg.broadcast",
  // CHECK-NEXT: "loc": "broadcast",
  // CHECK-NEXT: "shape": "tensor<4x8xf32>",
  // CHECK-NEXT: "flops": 0,
  // CHECK-NEXT: "macs": 0,
  // CHECK-NEXT: "params": 8,
  // CHECK-NEXT: "bytes": 160,
  %e = tensor.empty() : tensor<4x8xf32>
  %bb = linalg.broadcast ins(%b : tensor<8xf32>) outs(%e : tensor<4x8xf32>) dimensions = [0] loc("broadcast")

  // Adding the broadcast bias: 32 FLOP; the gradient reaches the bias
  // through the broadcast: 32 FLOP for the data path of %bb.
  // CHECK: "op": "linalg.add",
  // CHECK-NEXT: "loc": "add",
  // CHECK-NEXT: "shape": "tensor<4x8xf32>",
  // CHECK-NEXT: "flops": 32,
  // CHECK: "bwd_flops": 32,
  %sum = linalg.add ins(%y, %bb : tensor<4x8xf32>, tensor<4x8xf32>) outs(%e : tensor<4x8xf32>) -> tensor<4x8xf32> loc("add")

  // A 3x3 convolution with dilation 2 on 9x9: the window spans 5, output
  // 5x5; 2 * 3*5*5 * 2*3*3 = 2700 FLOP.
  // CHECK: "op": "linalg.conv_2d_nchw_fchw",
  // CHECK-NEXT: "loc": "dilated",
  // CHECK-NEXT: "shape": "tensor<1x3x5x5xf32>",
  // CHECK-NEXT: "flops": 2700,
  // CHECK-NEXT: "macs": 1350,
  %ec = tensor.empty() : tensor<1x3x5x5xf32>
  %dil = linalg.conv_2d_nchw_fchw {dilations = dense<2> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>}
      ins(%img, %f : tensor<1x2x9x9xf32>, tensor<3x2x3x3xf32>) outs(%ec : tensor<1x3x5x5xf32>) -> tensor<1x3x5x5xf32> loc("dilated")
  return %s, %c, %bb, %sum, %dil : tensor<2x8xf32>, tensor<8x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<1x3x5x5xf32>
}
