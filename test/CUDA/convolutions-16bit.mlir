// RUN: autopar-opt %s --pass-pipeline="builtin.module(one-shot-bufferize{bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map},autopar-convolutions-to-cudnn)" | FileCheck %s
// 16-bit convolutions (test/CUDA/convolutions.mlir runs the f32 calls
// against a host implementation of the contract; cuDNN's 16-bit math
// needs a GPU).
// 16-bit convolutions go to cuDNN with their element type (1 f16, 2 bf16:
// tensor cores, f32 accumulation); 16-bit inputs into an f32 result are
// widened into f32 copies first (exact) and convolved in f32 on TF32 tensor
// cores (3), which keep the widened values whole (f32 data is otherwise 0,
// FMA math).
// CHECK-LABEL: func.func @sixteen_bit
// CHECK: call @autopar_cuda_conv2d({{.*}}, %c0_i32{{.*}}, %c2_i32{{.*}})
// CHECK: call @autopar_cuda_conv2d({{.*}}, %c0_i32{{.*}}, %c1_i32{{.*}})
// CHECK: %[[X:.*]] = memref.alloc() : memref<1x2x7x7xf32>
// CHECK: linalg.generic {{.*}} ins(%{{.*}} : memref<1x2x7x7xbf16>) outs(%[[X]] : memref<1x2x7x7xf32>)
// CHECK: arith.extf
// CHECK: %[[W:.*]] = memref.alloc() : memref<3x2x3x3xf32>
// CHECK: linalg.generic {{.*}} ins(%{{.*}} : memref<3x2x3x3xbf16>) outs(%[[W]] : memref<3x2x3x3xf32>)
// CHECK: call @autopar_cuda_conv2d({{.*}}, %c0_i32{{.*}}, %c3_i32{{.*}})
// CHECK-NEXT: memref.dealloc %[[X]]
// CHECK-NEXT: memref.dealloc %[[W]]
// CHECK-NOT: linalg.conv_2d_nchw_fchw
func.func @sixteen_bit(%x: tensor<1x2x7x7xbf16>, %w: tensor<3x2x3x3xbf16>,
                       %y: tensor<1x3x5x5xbf16>, %xh: tensor<1x2x7x7xf16>,
                       %wh: tensor<3x2x3x3xf16>, %yh: tensor<1x3x5x5xf16>,
                       %yf: tensor<1x3x5x5xf32>)
    -> (tensor<1x3x5x5xbf16>, tensor<1x3x5x5xf16>, tensor<1x3x5x5xf32>) {
  %0 = linalg.conv_2d_nchw_fchw {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>}
      ins(%x, %w : tensor<1x2x7x7xbf16>, tensor<3x2x3x3xbf16>) outs(%y : tensor<1x3x5x5xbf16>) -> tensor<1x3x5x5xbf16>
  %1 = linalg.conv_2d_nchw_fchw {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>}
      ins(%xh, %wh : tensor<1x2x7x7xf16>, tensor<3x2x3x3xf16>) outs(%yh : tensor<1x3x5x5xf16>) -> tensor<1x3x5x5xf16>
  %2 = linalg.conv_2d_nchw_fchw {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>}
      ins(%x, %w : tensor<1x2x7x7xbf16>, tensor<3x2x3x3xbf16>) outs(%yf : tensor<1x3x5x5xf32>) -> tensor<1x3x5x5xf32>
  return %0, %1, %2 : tensor<1x3x5x5xbf16>, tensor<1x3x5x5xf16>, tensor<1x3x5x5xf32>
}
