// The training step of a one-layer model: signature (inputs, params,
// labels, optimizer state), forward ops tagged with their layer, backward
// ops linked to the forward op they differentiate, the update, results.
// RUN: autopar-opt %s --autopar-training="loss=softmax-cross-entropy" | FileCheck %s
// RUN: autopar-opt %s --autopar-training="loss=softmax-cross-entropy optimizer=adam" | FileCheck %s --check-prefix=ADAM
// RUN: autopar-opt %s --autopar-training="loss=mse optimizer=sgd lr=0.5" | FileCheck %s --check-prefix=SGD
// The output verifies and reads back.
// RUN: autopar-opt %s --autopar-training="loss=softmax-cross-entropy" | autopar-opt > /dev/null

func.func @forward(%x: tensor<4x8xf32> {autopar.role = "input"},
                   %w: tensor<8x3xf32> {autopar.role = "param"}) -> tensor<4x3xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4x3xf32>
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<4x3xf32>) -> tensor<4x3xf32>
  %y = linalg.matmul ins(%x, %w : tensor<4x8xf32>, tensor<8x3xf32>) outs(%f : tensor<4x3xf32>) -> tensor<4x3xf32>
  return %y : tensor<4x3xf32>
}

// CHECK-LABEL: func.func @forward
// CHECK-LABEL: func.func @train_step(
// CHECK-SAME: %[[X:.*]]: tensor<4x8xf32> {autopar.role = "input"}, %[[W:.*]]: tensor<8x3xf32> {autopar.role = "param"}, %[[L:.*]]: tensor<4xi64> {autopar.role = "label"}, %[[V:.*]]: tensor<8x3xf32> {autopar.role = "state"})
// CHECK-SAME: -> (tensor<8x3xf32> {autopar.updates = 1 : i64}, tensor<8x3xf32> {autopar.updates = 3 : i64}, tensor<f32>)
// CHECK-DAG: %[[LR:.*]] = arith.constant 0.00999999977 : f32
// CHECK-DAG: %[[MU:.*]] = arith.constant 0.899999976 : f32
// CHECK: linalg.fill {autopar.layer = 0 : i64}
// CHECK: %[[Y:.*]] = linalg.matmul {autopar.layer = 1 : i64} ins(%[[X]], %[[W]] :
// The weight gradient: over the matmul's loops (m, n, k) with m reduced,
// dW[k, n] += x[m, k] * dY[m, n].
// CHECK: %[[DW:.*]] = linalg.generic {indexing_maps = [#{{.*}}, #{{.*}}, #{{.*}}], iterator_types = ["reduction", "parallel", "parallel"]} ins(%{{.*}}, %[[X]] : tensor<4x3xf32>, tensor<4x8xf32>) outs(%{{.*}} : tensor<8x3xf32>) attrs =  {autopar.grad_of = 1 : i64}
// CHECK: arith.mulf
// CHECK: arith.addf
// Momentum: v' = 0.9 v + g; w' = w - 0.01 v'.
// CHECK: %[[NV:.*]] = linalg.generic {{.*}} ins(%[[V]], %[[DW]] :
// CHECK: arith.mulf %{{.*}}, %[[MU]] : f32
// CHECK: %[[NW:.*]] = linalg.generic {{.*}} ins(%[[W]], %[[NV]] :
// CHECK: arith.mulf %{{.*}}, %[[LR]] : f32
// CHECK: return %[[NW]], %[[NV]], %{{.*}} : tensor<8x3xf32>, tensor<8x3xf32>, tensor<f32>

// ADAM: func.func @train_step({{.*}}%{{.*}}: tensor<8x3xf32> {autopar.role = "state"}, %{{.*}}: tensor<8x3xf32> {autopar.role = "state"}, %{{.*}}: tensor<f32> {autopar.role = "state"})
// The new parameter, moments and step counter name the arguments they replace.
// ADAM-SAME: -> (tensor<8x3xf32> {autopar.updates = 1 : i64}, tensor<8x3xf32> {autopar.updates = 3 : i64}, tensor<8x3xf32> {autopar.updates = 4 : i64}, tensor<f32> {autopar.updates = 5 : i64}, tensor<f32>)
// ADAM: math.powf
// ADAM: math.sqrt

// SGD: func.func @train_step({{.*}}, %{{.*}}: tensor<4x3xf32> {autopar.role = "label"}) -> (tensor<8x3xf32> {autopar.updates = 1 : i64}, tensor<f32>)
// SGD: arith.constant 5.000000e-01 : f32
