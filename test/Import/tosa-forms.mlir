// RUN: autopar-opt %s --autopar-import --split-input-file | FileCheck %s
// RUN: autopar-opt %s --autopar-import=normalize=false --split-input-file | FileCheck %s --check-prefix=RAW
// torch-mlir's TOSA export (autopar-import-torch --dialect tosa) writes a
// linear layer as a batch matmul of one over reshaped operands, its bias
// reshaped to the product's rank, a reduction keeping its dimension, an
// embedding as a gather from the table reshaped to a batch of one. After
// upstream's conversions, autopar-import writes them as torch-mlir's
// linalg export does, which the analyses and lowerings read: a matmul on
// the unreshaped operands, the bias read as [n] at (d1), the reduction
// writing [b, s, 1] at (d0, d1, 0), a [1, 1, 1] splat constant as a
// scalar (an arange constant as the loop index: Support/ConstantInputs.h,
// test/Conversion/splat-inputs.mlir), the table read at (row, i) (its
// gradient then a scatter-add). normalize=false keeps the conversions'
// forms.

// CHECK-LABEL: func.func @linear(
// CHECK-SAME: %[[X:.*]]: tensor<32x64xf32>, %[[W:.*]]: tensor<64x192xf32>, %[[B:.*]]: tensor<192xf32>)
// CHECK: %[[M:.*]] = linalg.matmul ins(%[[X]], %[[W]] : tensor<32x64xf32>, tensor<64x192xf32>)
// CHECK: linalg.generic {indexing_maps = [#[[ID:.*]], #[[ROW:.*]], #[[ID]]], {{.*}} ins(%[[M]], %[[B]] : tensor<32x192xf32>, tensor<192xf32>)
// CHECK: tensor.expand_shape {{.*}} into tensor<2x16x192xf32>
// CHECK-NOT: tensor.collapse_shape
// RAW-LABEL: func.func @linear(
// RAW: linalg.batch_matmul ins(%{{.*}}, %{{.*}} : tensor<1x32x64xf32>, tensor<1x64x192xf32>)
// RAW: tensor.expand_shape %arg2 {{.*}} into tensor<1x192xf32>
func.func @linear(%x: tensor<32x64xf32>, %w: tensor<64x192xf32>, %b: tensor<192xf32>) -> tensor<2x16x192xf32> {
  %zp = "tosa.const"() {values = dense<0.0> : tensor<1xf32>} : () -> tensor<1xf32>
  %s3x = tosa.const_shape {values = dense<[1, 32, 64]> : tensor<3xindex>} : () -> !tosa.shape<3>
  %s3w = tosa.const_shape {values = dense<[1, 64, 192]> : tensor<3xindex>} : () -> !tosa.shape<3>
  %s2 = tosa.const_shape {values = dense<[32, 192]> : tensor<2xindex>} : () -> !tosa.shape<2>
  %s2b = tosa.const_shape {values = dense<[1, 192]> : tensor<2xindex>} : () -> !tosa.shape<2>
  %s3o = tosa.const_shape {values = dense<[2, 16, 192]> : tensor<3xindex>} : () -> !tosa.shape<3>
  %x3 = tosa.reshape %x, %s3x : (tensor<32x64xf32>, !tosa.shape<3>) -> tensor<1x32x64xf32>
  %w3 = tosa.reshape %w, %s3w : (tensor<64x192xf32>, !tosa.shape<3>) -> tensor<1x64x192xf32>
  %m = tosa.matmul %x3, %w3, %zp, %zp : (tensor<1x32x64xf32>, tensor<1x64x192xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x32x192xf32>
  %m2 = tosa.reshape %m, %s2 : (tensor<1x32x192xf32>, !tosa.shape<2>) -> tensor<32x192xf32>
  %b2 = tosa.reshape %b, %s2b : (tensor<192xf32>, !tosa.shape<2>) -> tensor<1x192xf32>
  %a = tosa.add %m2, %b2 : (tensor<32x192xf32>, tensor<1x192xf32>) -> tensor<32x192xf32>
  %r = tosa.reshape %a, %s3o : (tensor<32x192xf32>, !tosa.shape<3>) -> tensor<2x16x192xf32>
  return %r : tensor<2x16x192xf32>
}

// -----

// CHECK-DAG: #[[ID3:.*]] = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
// CHECK-DAG: #[[KEPT:.*]] = affine_map<(d0, d1, d2) -> (d0, d1, 0)>
// CHECK-LABEL: func.func @mean(
// CHECK: %[[INIT:.*]] = linalg.fill ins(%{{.*}} : f32) outs(%{{.*}} : tensor<2x16x1xf32>)
// CHECK: %[[SUM:.*]] = linalg.generic {indexing_maps = [#[[ID3]], #[[KEPT]]], iterator_types = ["parallel", "parallel", "reduction"]} ins(%arg0 : tensor<2x16x64xf32>) outs(%[[INIT]] : tensor<2x16x1xf32>)
// CHECK: arith.addf
// CHECK: linalg.generic {{.*}} ins(%[[SUM]] : tensor<2x16x1xf32>)
// CHECK-NEXT: ^bb0(%[[IN:.*]]: f32, %{{.*}}: f32):
// CHECK-NEXT: %[[SCALE:.*]] = arith.constant 1.562500e-02 : f32
// CHECK-NEXT: arith.mulf %[[IN]], %[[SCALE]] : f32
// CHECK-NOT: tensor.expand_shape
// RAW-LABEL: func.func @mean(
// RAW: linalg.reduce ins(%arg0 : tensor<2x16x64xf32>) outs(%{{.*}} : tensor<2x16xf32>) dimensions = [2]
// RAW: tensor.expand_shape {{.*}} into tensor<2x16x1xf32>
// RAW: linalg.generic {{.*}} ins(%{{.*}}, %{{.*}} : tensor<2x16x1xf32>, tensor<1x1x1xf32>)
func.func @mean(%x: tensor<2x16x64xf32>) -> tensor<2x16x64xf32> {
  %c = "tosa.const"() {values = dense<1.562500e-02> : tensor<1x1x1xf32>} : () -> tensor<1x1x1xf32>
  %shift = "tosa.const"() {values = dense<0> : tensor<1xi8>} : () -> tensor<1xi8>
  %s = tosa.reduce_sum %x {axis = 2 : i32} : (tensor<2x16x64xf32>) -> tensor<2x16x1xf32>
  %m = tosa.mul %s, %c, %shift : (tensor<2x16x1xf32>, tensor<1x1x1xf32>, tensor<1xi8>) -> tensor<2x16x1xf32>
  %d = tosa.sub %x, %m : (tensor<2x16x64xf32>, tensor<2x16x1xf32>) -> tensor<2x16x64xf32>
  return %d : tensor<2x16x64xf32>
}


// -----

// CHECK-LABEL: func.func @embedding(
// CHECK-SAME: %[[TABLE:.*]]: tensor<96x64xf32>
// CHECK: tensor.extract %[[TABLE]][%{{.*}}, %{{.*}}] : tensor<96x64xf32>
// RAW-LABEL: func.func @embedding(
// RAW: tensor.extract %{{.*}}[%{{.*}}, %{{.*}}, %{{.*}}] : tensor<1x96x64xf32>
func.func @embedding(%table: tensor<96x64xf32>, %ids: tensor<2x16xi64>) -> tensor<2x16x64xf32> {
  %s3 = tosa.const_shape {values = dense<[1, 96, 64]> : tensor<3xindex>} : () -> !tosa.shape<3>
  %s2 = tosa.const_shape {values = dense<[1, 32]> : tensor<2xindex>} : () -> !tosa.shape<2>
  %so = tosa.const_shape {values = dense<[2, 16, 64]> : tensor<3xindex>} : () -> !tosa.shape<3>
  %t3 = tosa.reshape %table, %s3 : (tensor<96x64xf32>, !tosa.shape<3>) -> tensor<1x96x64xf32>
  %i2 = tosa.reshape %ids, %s2 : (tensor<2x16xi64>, !tosa.shape<2>) -> tensor<1x32xi64>
  %i32 = tosa.cast %i2 : (tensor<1x32xi64>) -> tensor<1x32xi32>
  %g = tosa.gather %t3, %i32 : (tensor<1x96x64xf32>, tensor<1x32xi32>) -> tensor<1x32x64xf32>
  %r = tosa.reshape %g, %so : (tensor<1x32x64xf32>, !tosa.shape<3>) -> tensor<2x16x64xf32>
  return %r : tensor<2x16x64xf32>
}

// -----

// A reduction of two results (TOSA's argmax: the index and the running
// maximum) whose index alone is expanded: that result writes [b, s, 1]
// at (d0, d1, 0), the other keeps its [b, s].
// CHECK-LABEL: func.func @argmax(
// CHECK: %{{.*}}:2 = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]} ins(%arg0 : tensor<2x16x64xf32>) outs(%{{.*}}, %{{.*}} : tensor<2x16x1xi32>, tensor<2x16xf32>)
// CHECK: } -> (tensor<2x16x1xi32>, tensor<2x16xf32>)
// CHECK-NOT: tensor.expand_shape
// CHECK: return
func.func @argmax(%x: tensor<2x16x64xf32>) -> tensor<2x16x1xi32> {
  %a = tosa.argmax %x {axis = 2 : i32} : (tensor<2x16x64xf32>) -> tensor<2x16xi32>
  %s = tosa.const_shape {values = dense<[2, 16, 1]> : tensor<3xindex>} : () -> !tosa.shape<3>
  %r = tosa.reshape %a, %s : (tensor<2x16xi32>, !tosa.shape<3>) -> tensor<2x16x1xi32>
  return %r : tensor<2x16x1xi32>
}
