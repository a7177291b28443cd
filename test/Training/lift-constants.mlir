// Weights exported as constants (torch-mlir) are not parameters: the pass
// warns that the step trains nothing, and lift-constants=true makes each
// float tensor constant a parameter argument of the step.
// RUN: autopar-opt %s --autopar-training=loss=softmax-cross-entropy -verify-diagnostics -o /dev/null
// RUN: autopar-opt %s --autopar-training="loss=softmax-cross-entropy lift-constants=true" | FileCheck %s

// expected-warning @+1 {{autopar-training: @forward has no parameters (arguments with autopar.role = "param"); the step trains nothing; its 1 float tensor constants (weights, as torch-mlir exports them) are trained with lift-constants=true}}
func.func @forward(%x: tensor<2x4xf32>) -> tensor<2x3xf32> {
  %w = arith.constant dense<0.5> : tensor<4x3xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<2x3xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<2x3xf32>) -> tensor<2x3xf32>
  %y = linalg.matmul ins(%x, %w : tensor<2x4xf32>, tensor<4x3xf32>) outs(%f : tensor<2x3xf32>) -> tensor<2x3xf32>
  return %y : tensor<2x3xf32>
}

// CHECK-LABEL: func.func @train_step(
// CHECK-SAME: %[[X:.*]]: tensor<2x4xf32> {autopar.role = "input"}, %[[W:.*]]: tensor<4x3xf32> {autopar.role = "param"}, %{{.*}}: tensor<2xi64> {autopar.role = "label"}, %{{.*}}: tensor<4x3xf32> {autopar.role = "state"})
// CHECK-SAME: -> (tensor<4x3xf32> {autopar.updates = 1 : i64}, tensor<4x3xf32> {autopar.updates = 3 : i64}, tensor<f32>)
// CHECK: linalg.matmul {autopar.layer = {{[0-9]+}} : i64} ins(%[[X]], %[[W]] :
