// RUN: autopar-opt %s --pass-pipeline="builtin.module(one-shot-bufferize{bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map},autopar-convolutions-to-cudnn)" | FileCheck %s
// RUN: %cxx -x c -shared -fPIC %S/Inputs/conv_reference.c -o %t.conv.so
// RUN: autopar-opt %s --pass-pipeline="builtin.module(one-shot-bufferize{bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map},autopar-convolutions-to-cudnn,autopar-lower-to-cpu)" | %mlir_runner -e main -entry-point-result=void -shared-libs=%mlir_libs/libmlir_c_runner_utils.so,%mlir_libs/libmlir_runner_utils.so,%t.conv.so | sed "s/base@ = 0x[0-9a-f]*//" > %t.conv.txt
// RUN: autopar-opt %s --autopar-lower-to-cpu | %mlir_runner -e main -entry-point-result=void -shared-libs=%mlir_libs/libmlir_c_runner_utils.so,%mlir_libs/libmlir_runner_utils.so | sed "s/base@ = 0x[0-9a-f]*//" > %t.loops.txt
// RUN: diff %t.conv.txt %t.loops.txt
// RUN: FileCheck %s --input-file=%t.conv.txt --check-prefix=VALUES
// Which convolutions go to cuDNN, with which geometry (x, w, y; n, c, h, w,
// f, kh, kw, pads, strides, dilations, mode; the one of x, w, y the mode
// writes, for autopar-order-on-stream): the calls run here against a
// host implementation of autopar_cuda_conv2d's contract and must print what
// the same program prints as plain loops (integer data: exact sums).

// CHECK-LABEL: func.func @main
// Named forward convolution, stride 2: x 1x2x7x7, w 3x2x3x3.
// CHECK: call @autopar_cuda_conv2d({{.*}}, %c1_i64{{.*}}, %c2_i64{{.*}}, %c7_i64{{.*}}, %c7_i64{{.*}}, %c3_i64{{.*}}, %c3_i64{{.*}}, %c3_i64{{.*}}, %c0_i64{{.*}}, %c0_i64{{.*}}, %c2_i64{{.*}}, %c2_i64{{.*}}, %c1_i64{{.*}}, %c1_i64{{.*}}, %c0_i32{{.*}}) {autopar.writes = array<i32: 2>}
// Dilation 2 (a generic with the same maps as the named op).
// CHECK: call @autopar_cuda_conv2d({{.*}}, %c1_i64{{.*}}, %c1_i64{{.*}}, %c2_i64{{.*}}, %c2_i64{{.*}}, %c0_i32{{.*}}) {autopar.writes = array<i32: 2>}
// Filter gradient of the stride-2 convolution (mode 2).
// CHECK: call @autopar_cuda_conv2d({{.*}}, %c0_i64{{.*}}, %c0_i64{{.*}}, %c2_i64{{.*}}, %c2_i64{{.*}}, %c1_i64{{.*}}, %c1_i64{{.*}}, %c2_i32{{.*}}) {autopar.writes = array<i32: 1>}
// Data gradient as autopar-training writes it: x 1x2x5x5, dY padded to
// 7x7, pads 2 = (K - 1) d, stride 1 (mode 1).
// CHECK: call @autopar_cuda_conv2d({{.*}}, %c1_i64{{.*}}, %c2_i64{{.*}}, %c5_i64{{.*}}, %c5_i64{{.*}}, %c3_i64{{.*}}, %c3_i64{{.*}}, %c3_i64{{.*}}, %c2_i64{{.*}}, %c2_i64{{.*}}, %c1_i64{{.*}}, %c1_i64{{.*}}, %c1_i64{{.*}}, %c1_i64{{.*}}, %c1_i32{{.*}}) {autopar.writes = array<i32: 0>}
// Not a convolution cuDNN takes (max pooling) stays.
// CHECK: linalg.pooling_nchw_max
// CHECK-NOT: call @autopar_cuda_conv2d

// VALUES-COUNT-5: Unranked Memref

#fwd_x = affine_map<(n, f, p, q, c, r, s) -> (n, c, p + 2 * r, q + 2 * s)>
#fwd_w = affine_map<(n, f, p, q, c, r, s) -> (f, c, r, s)>
#fwd_y = affine_map<(n, f, p, q, c, r, s) -> (n, f, p, q)>
#wg_x = affine_map<(n, f, p, q, c, r, s) -> (n, c, p * 2 + r, q * 2 + s)>
#dg_y = affine_map<(n, f, i, j, c, r, s) -> (n, f, i - r + 2, j - s + 2)>
#dg_w = affine_map<(n, f, i, j, c, r, s) -> (f, c, r, s)>
#dg_x = affine_map<(n, f, i, j, c, r, s) -> (n, c, i, j)>
#id4 = affine_map<(a, b, c, d) -> (a, b, c, d)>
func.func private @printMemrefF32(tensor<*xf32>)

func.func @main() {
  %zero = arith.constant 0.0 : f32
  // Small integers from the position: exact in f32 whatever the order.
  %x_e = tensor.empty() : tensor<1x2x7x7xf32>
  %x = linalg.generic {indexing_maps = [#id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} outs(%x_e : tensor<1x2x7x7xf32>) {
  ^bb0(%out: f32):
    %a = linalg.index 0 : index
    %b = linalg.index 1 : index
    %c = linalg.index 2 : index
    %d = linalg.index 3 : index
    %c7 = arith.constant 7 : index
    %c3 = arith.constant 3 : index
    %c5 = arith.constant 5 : index
    %seed = arith.constant 0 : index
    %t0 = arith.muli %b, %c7 : index
    %t1 = arith.muli %c, %c3 : index
    %t2 = arith.addi %t0, %t1 : index
    %t3 = arith.addi %t2, %d : index
    %t4 = arith.addi %t3, %a : index
    %t5 = arith.addi %t4, %seed : index
    %m = arith.remui %t5, %c5 : index
    %i = arith.index_cast %m : index to i32
    %f = arith.sitofp %i : i32 to f32
    %two = arith.constant 2.0 : f32
    %v = arith.subf %f, %two : f32
    linalg.yield %v : f32
  } -> tensor<1x2x7x7xf32>

  %w_e = tensor.empty() : tensor<3x2x3x3xf32>
  %w = linalg.generic {indexing_maps = [#id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} outs(%w_e : tensor<3x2x3x3xf32>) {
  ^bb0(%out: f32):
    %a = linalg.index 0 : index
    %b = linalg.index 1 : index
    %c = linalg.index 2 : index
    %d = linalg.index 3 : index
    %c7 = arith.constant 7 : index
    %c3 = arith.constant 3 : index
    %c5 = arith.constant 5 : index
    %seed = arith.constant 1 : index
    %t0 = arith.muli %b, %c7 : index
    %t1 = arith.muli %c, %c3 : index
    %t2 = arith.addi %t0, %t1 : index
    %t3 = arith.addi %t2, %d : index
    %t4 = arith.addi %t3, %a : index
    %t5 = arith.addi %t4, %seed : index
    %m = arith.remui %t5, %c5 : index
    %i = arith.index_cast %m : index to i32
    %f = arith.sitofp %i : i32 to f32
    %two = arith.constant 2.0 : f32
    %v = arith.subf %f, %two : f32
    linalg.yield %v : f32
  } -> tensor<3x2x3x3xf32>

  // Forward, stride 2: 7 -> 3.
  %e0 = tensor.empty() : tensor<1x3x3x3xf32>
  %f0 = linalg.fill ins(%zero : f32) outs(%e0 : tensor<1x3x3x3xf32>) -> tensor<1x3x3x3xf32>
  %y = linalg.conv_2d_nchw_fchw {dilations = dense<1> : tensor<2xi64>, strides = dense<2> : tensor<2xi64>} ins(%x, %w : tensor<1x2x7x7xf32>, tensor<3x2x3x3xf32>) outs(%f0 : tensor<1x3x3x3xf32>) -> tensor<1x3x3x3xf32>

  // Forward, dilation 2: 7 -> 3.
  %y2 = linalg.generic {indexing_maps = [#fwd_x, #fwd_w, #fwd_y], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction", "reduction"]} ins(%x, %w : tensor<1x2x7x7xf32>, tensor<3x2x3x3xf32>) outs(%f0 : tensor<1x3x3x3xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %m = arith.mulf %a, %b : f32
    %s = arith.addf %o, %m : f32
    linalg.yield %s : f32
  } -> tensor<1x3x3x3xf32>

  // Filter gradient of the stride-2 convolution, with y as the gradient.
  %e1 = tensor.empty() : tensor<3x2x3x3xf32>
  %f1 = linalg.fill ins(%zero : f32) outs(%e1 : tensor<3x2x3x3xf32>) -> tensor<3x2x3x3xf32>
  %dw = linalg.generic {indexing_maps = [#fwd_y, #wg_x, #fwd_w], iterator_types = ["reduction", "parallel", "reduction", "reduction", "parallel", "parallel", "parallel"]} ins(%y, %x : tensor<1x3x3x3xf32>, tensor<1x2x7x7xf32>) outs(%f1 : tensor<3x2x3x3xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %m = arith.mulf %a, %b : f32
    %s = arith.addf %o, %m : f32
    linalg.yield %s : f32
  } -> tensor<3x2x3x3xf32>

  // Data gradient of a stride-1 convolution of a 5x5 input: dY (3x3 here,
  // y2) padded by 2 to 7x7, read through the flipped window.
  %e2 = tensor.empty() : tensor<1x3x7x7xf32>
  %f2 = linalg.fill ins(%zero : f32) outs(%e2 : tensor<1x3x7x7xf32>) -> tensor<1x3x7x7xf32>
  %dyp = tensor.insert_slice %y2 into %f2[0, 0, 2, 2] [1, 3, 3, 3] [1, 1, 1, 1] : tensor<1x3x3x3xf32> into tensor<1x3x7x7xf32>
  %e3 = tensor.empty() : tensor<1x2x5x5xf32>
  %f3 = linalg.fill ins(%zero : f32) outs(%e3 : tensor<1x2x5x5xf32>) -> tensor<1x2x5x5xf32>
  %dx = linalg.generic {indexing_maps = [#dg_y, #dg_w, #dg_x], iterator_types = ["parallel", "reduction", "parallel", "parallel", "parallel", "reduction", "reduction"]} ins(%dyp, %w : tensor<1x3x7x7xf32>, tensor<3x2x3x3xf32>) outs(%f3 : tensor<1x2x5x5xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %m = arith.mulf %a, %b : f32
    %s = arith.addf %o, %m : f32
    linalg.yield %s : f32
  } -> tensor<1x2x5x5xf32>

  // Max pooling: not for cuDNN's convolution.
  %e4 = tensor.empty() : tensor<3x3xf32>
  %e5 = tensor.empty() : tensor<1x2x5x5xf32>
  %f5 = linalg.fill ins(%zero : f32) outs(%e5 : tensor<1x2x5x5xf32>) -> tensor<1x2x5x5xf32>
  %pool = linalg.pooling_nchw_max {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>} ins(%x, %e4 : tensor<1x2x7x7xf32>, tensor<3x3xf32>) outs(%f5 : tensor<1x2x5x5xf32>) -> tensor<1x2x5x5xf32>

  %u0 = tensor.cast %y : tensor<1x3x3x3xf32> to tensor<*xf32>
  call @printMemrefF32(%u0) : (tensor<*xf32>) -> ()
  %u1 = tensor.cast %y2 : tensor<1x3x3x3xf32> to tensor<*xf32>
  call @printMemrefF32(%u1) : (tensor<*xf32>) -> ()
  %u2 = tensor.cast %dw : tensor<3x2x3x3xf32> to tensor<*xf32>
  call @printMemrefF32(%u2) : (tensor<*xf32>) -> ()
  %u3 = tensor.cast %dx : tensor<1x2x5x5xf32> to tensor<*xf32>
  call @printMemrefF32(%u3) : (tensor<*xf32>) -> ()
  %u4 = tensor.cast %pool : tensor<1x2x5x5xf32> to tensor<*xf32>
  call @printMemrefF32(%u4) : (tensor<*xf32>) -> ()
  return
}

