// An op the analysis does not understand is named in a warning and gets a
// conservative estimate; the analysis goes on.
// RUN: autopar-opt %s --autopar-analyze=report=%t.json -verify-diagnostics -o /dev/null
// RUN: FileCheck %s < %t.json

func.func @forward(%x: tensor<8x4xf32>, %w: tensor<4x4xf32>) -> tensor<8x4xf32> {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %c1 = arith.constant 1 : index
  // expected-warning @+1 {{autopar: cannot analyse 'scf.for'; assuming one FLOP per result element, one read of every operand and a backward as costly as the forward}}
  %r = scf.for %i = %c0 to %c2 step %c1 iter_args(%acc = %x) -> (tensor<8x4xf32>) {
    scf.yield %acc : tensor<8x4xf32>
  }
  return %r : tensor<8x4xf32>
}
// CHECK: "op": "scf.for",
// CHECK-NEXT: "loc": "unknown-op.mlir:11:8",
// CHECK-NEXT: "shape": "tensor<8x4xf32>",
// CHECK-NEXT: "flops": 32,
// CHECK: "estimated": true
