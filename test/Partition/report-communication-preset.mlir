// autopar-report-communication on a module that names no target prices
// on the default preset, which it makes itself (the pass loads the
// autopar dialect: it crashed making the preset's attributes).
// RUN: autopar-opt %s --autopar-report-communication -o /dev/null 2>&1 | FileCheck %s
// CHECK: @forward predicted: none; 0.0000 ms on titanxp-pcie-4
func.func @forward(%x: tensor<4x4xf32>) -> tensor<4x4xf32> {
  return %x : tensor<4x4xf32>
}
