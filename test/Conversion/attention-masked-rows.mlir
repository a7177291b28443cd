// RUN: autopar-opt %s --autopar-prepare-lowering -split-input-file | FileCheck %s
// A row masked everywhere by a large finite value C holds C in every score,
// so its probabilities are 1/J; its lse, C + log J, rounds to about C
// (floats lie 64 apart at 1e9 in f32), so the backward's exp(S' - lse)
// would give about 1. The gradient's decomposition recognises such a row
// by its lse below C / 2 and uses 1/J: from |C| >= 2^20 when C replaces
// the score, from 1e30 when it is added (S + C is constant along the row
// only then); not for small C, whose lse keeps log J.

// CHECK-LABEL: func.func @replaced
// CHECK: %[[EXP:.*]] = math.exp
// CHECK-NEXT: %[[HALF:.*]] = arith.constant -5.000000e+08 : f32
// CHECK-NEXT: %[[ROW:.*]] = arith.cmpf olt, %{{.*}}, %[[HALF]] : f32
// CHECK-NEXT: %[[UNIFORM:.*]] = arith.constant 2.500000e-01 : f32
// CHECK-NEXT: arith.select %[[ROW]], %[[UNIFORM]], %[[EXP]] : f32
func.func @replaced(%q: tensor<1x4x2xf32>, %k: tensor<1x2x4xf32>, %v: tensor<1x4x2xf32>, %o: tensor<1x4x2xf32>, %l: tensor<1x4xf32>, %do: tensor<1x4x2xf32>, %dl: tensor<1x4xf32>) -> tensor<1x4x2xf32> {
  %eq = tensor.empty() : tensor<1x4x2xf32>
  %ek = tensor.empty() : tensor<1x2x4xf32>
  %dq, %dk, %dv = autopar.attention_grad ins(%q, %k, %v, %o, %l, %do, %dl : tensor<1x4x2xf32>, tensor<1x2x4xf32>, tensor<1x4x2xf32>, tensor<1x4x2xf32>, tensor<1x4xf32>, tensor<1x4x2xf32>, tensor<1x4xf32>) outs(%eq, %ek, %eq : tensor<1x4x2xf32>, tensor<1x2x4xf32>, tensor<1x4x2xf32>) scale 1.0 masked -1.0e9 mask {
  ^bb0(%b: index, %i: index, %j: index):
    %c0 = arith.constant 0 : index
    %c = arith.cmpi eq, %i, %c0 : index
    autopar.yield %c : i1
  } -> tensor<1x4x2xf32>, tensor<1x2x4xf32>, tensor<1x4x2xf32>
  return %dq : tensor<1x4x2xf32>
}

// -----

// CHECK-LABEL: func.func @small
// CHECK-NOT: arith.cmpf olt
// CHECK: return
func.func @small(%q: tensor<1x4x2xf32>, %k: tensor<1x2x4xf32>, %v: tensor<1x4x2xf32>, %o: tensor<1x4x2xf32>, %l: tensor<1x4xf32>, %do: tensor<1x4x2xf32>, %dl: tensor<1x4xf32>) -> tensor<1x4x2xf32> {
  %eq = tensor.empty() : tensor<1x4x2xf32>
  %ek = tensor.empty() : tensor<1x2x4xf32>
  %dq, %dk, %dv = autopar.attention_grad ins(%q, %k, %v, %o, %l, %do, %dl : tensor<1x4x2xf32>, tensor<1x2x4xf32>, tensor<1x4x2xf32>, tensor<1x4x2xf32>, tensor<1x4xf32>, tensor<1x4x2xf32>, tensor<1x4xf32>) outs(%eq, %ek, %eq : tensor<1x4x2xf32>, tensor<1x2x4xf32>, tensor<1x4x2xf32>) scale 1.0 masked -1.0e4 mask {
  ^bb0(%b: index, %i: index, %j: index):
    %c = arith.cmpi ugt, %j, %i : index
    autopar.yield %c : i1
  } -> tensor<1x4x2xf32>, tensor<1x2x4xf32>, tensor<1x4x2xf32>
  return %dq : tensor<1x4x2xf32>
}

// -----

// CHECK-LABEL: func.func @added
// CHECK-NOT: arith.cmpf olt
// CHECK: return
func.func @added(%q: tensor<1x4x2xf32>, %k: tensor<1x2x4xf32>, %v: tensor<1x4x2xf32>, %o: tensor<1x4x2xf32>, %l: tensor<1x4xf32>, %do: tensor<1x4x2xf32>, %dl: tensor<1x4xf32>) -> tensor<1x4x2xf32> {
  %eq = tensor.empty() : tensor<1x4x2xf32>
  %ek = tensor.empty() : tensor<1x2x4xf32>
  %dq, %dk, %dv = autopar.attention_grad ins(%q, %k, %v, %o, %l, %do, %dl : tensor<1x4x2xf32>, tensor<1x2x4xf32>, tensor<1x4x2xf32>, tensor<1x4x2xf32>, tensor<1x4xf32>, tensor<1x4x2xf32>, tensor<1x4xf32>) outs(%eq, %ek, %eq : tensor<1x4x2xf32>, tensor<1x2x4xf32>, tensor<1x4x2xf32>) scale 1.0 masked -1.0e9 additive mask {
  ^bb0(%b: index, %i: index, %j: index):
    %c = arith.cmpi ugt, %j, %i : index
    autopar.yield %c : i1
  } -> tensor<1x4x2xf32>, tensor<1x2x4xf32>, tensor<1x4x2xf32>
  return %dq : tensor<1x4x2xf32>
}

// -----

// An f32 op whose masked value is f64's lowest holds f32's lowest in its
// scores: the threshold is half of that, not -inf.
// CHECK-LABEL: func.func @clamped
// CHECK: arith.constant -1.70141173E+38 : f32
// CHECK: arith.cmpf olt
func.func @clamped(%q: tensor<1x4x2xf32>, %k: tensor<1x2x4xf32>, %v: tensor<1x4x2xf32>, %o: tensor<1x4x2xf32>, %l: tensor<1x4xf32>, %do: tensor<1x4x2xf32>, %dl: tensor<1x4xf32>) -> tensor<1x4x2xf32> {
  %eq = tensor.empty() : tensor<1x4x2xf32>
  %ek = tensor.empty() : tensor<1x2x4xf32>
  %dq, %dk, %dv = autopar.attention_grad ins(%q, %k, %v, %o, %l, %do, %dl : tensor<1x4x2xf32>, tensor<1x2x4xf32>, tensor<1x4x2xf32>, tensor<1x4x2xf32>, tensor<1x4xf32>, tensor<1x4x2xf32>, tensor<1x4xf32>) outs(%eq, %ek, %eq : tensor<1x4x2xf32>, tensor<1x2x4xf32>, tensor<1x4x2xf32>) scale 1.0 masked -1.7976931348623157e308 additive mask {
  ^bb0(%b: index, %i: index, %j: index):
    %c = arith.cmpi ugt, %j, %i : index
    autopar.yield %c : i1
  } -> tensor<1x4x2xf32>, tensor<1x2x4xf32>, tensor<1x4x2xf32>
  return %dq : tensor<1x4x2xf32>
}
