// A training step over a batch of 0 samples (bench/fuzz.py draws such
// programs): the padded value's adjoint is an empty tensor (a slice at the
// low padding would start past a zero size, which the slice's verifier
// rejects), and the step runs on 2 ranks. Its mean loss over no elements
// is NaN in both runs; the check counts equal values, NaNs included, as
// agreeing.
// RUN: autopar-opt %s --autopar-training="loss=mse optimizer=sgd" | FileCheck %s
// RUN: autopar-run -O0 -n 2 %s --train --check --training="loss=mse optimizer=sgd" | FileCheck %s --check-prefix=STEP

// CHECK-LABEL: func.func @train_step
// CHECK: tensor.pad
// CHECK-NOT: tensor.extract_slice
// CHECK: return

// STEP: summary: 1 step on 2 ranks, loss {{-?nan}} -> {{-?nan}}
// STEP: check: max relative error 0.000e+00 (tolerance 1.0e-05): PASS
func.func @forward(%w: tensor<4x2xf32> {autopar.role = "param"},
                   %x: tensor<0x4xf32> {autopar.role = "input"}) -> tensor<0x4xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<0x2xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<0x2xf32>) -> tensor<0x2xf32>
  %y = linalg.matmul ins(%x, %w : tensor<0x4xf32>, tensor<4x2xf32>) outs(%f : tensor<0x2xf32>) -> tensor<0x2xf32>
  %p = tensor.pad %y low[0, 1] high[0, 1] {
  ^bb0(%i: index, %j: index):
    tensor.yield %zero : f32
  } : tensor<0x2xf32> to tensor<0x4xf32>
  return %p : tensor<0x4xf32>
}
