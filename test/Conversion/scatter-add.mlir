// autopar.scatter_add (an embedding's gradient) before bufferization: an
// scf.for over the positions, each adding its update row into the row its
// index names (autopar-prepare-lowering); run on CPU with repeated rows,
// which add up.
// RUN: autopar-opt %s --autopar-prepare-lowering | FileCheck %s
// RUN: autopar-opt %s --autopar-lower-to-cpu | %mlir_runner -e main -entry-point-result=void -shared-libs=%mlir_libs/libmlir_c_runner_utils.so,%mlir_libs/libmlir_runner_utils.so | FileCheck %s --check-prefix=VALUES

// CHECK-LABEL: func.func @scatter
// CHECK: %[[IDS:.*]] = tensor.collapse_shape %arg1 {{\[\[}}0, 1]] : tensor<2x2xi64> into tensor<4xi64>
// CHECK: %[[ROWS:.*]] = tensor.collapse_shape %arg0 {{\[\[}}0, 1], [2]] : tensor<2x2x3xf32> into tensor<4x3xf32>
// CHECK: scf.for %[[P:.*]] = %c0 to %c4 step %c1 iter_args(%[[ACC:.*]] = %arg2) -> (tensor<5x3xf32>)
// CHECK: %[[ID:.*]] = tensor.extract %[[IDS]][%[[P]]] : tensor<4xi64>
// CHECK: %[[ROW:.*]] = arith.index_cast %[[ID]] : i64 to index
// CHECK: tensor.extract_slice %[[ROWS]][%[[P]], 0] [1, 3] [1, 1] : tensor<4x3xf32> to tensor<3xf32>
// CHECK: tensor.extract_slice %[[ACC]][%[[ROW]], 0] [1, 3] [1, 1] : tensor<5x3xf32> to tensor<3xf32>
// CHECK: arith.addf
// CHECK: tensor.insert_slice %{{.*}} into %[[ACC]][%[[ROW]], 0] [1, 3] [1, 1] : tensor<3xf32> into tensor<5x3xf32>
// CHECK-NOT: autopar.scatter_add
func.func @scatter(%updates: tensor<2x2x3xf32>, %ids: tensor<2x2xi64>,
                   %table: tensor<5x3xf32>) -> tensor<5x3xf32> {
  %r = autopar.scatter_add %updates at %ids into %table
      : tensor<2x2x3xf32>, tensor<2x2xi64> into tensor<5x3xf32>
  return %r : tensor<5x3xf32>
}

// Rows 3, 0, 3, 4 of a table of ones: row 3 gets two updates (1 + 1 + 9,
// 1 + 2 + 9, 1 + 3 + 9), row 0 one of -1, rows 1 and 2 none.
// VALUES: {{\[\[}}0,   0,   0],
// VALUES-NEXT: [1,   1,   1],
// VALUES-NEXT: [1,   1,   1],
// VALUES-NEXT: [11,   12,   13],
// VALUES-NEXT: [11,   12,   13]]
func.func private @printMemrefF32(tensor<*xf32>)
func.func @main() {
  %updates = arith.constant dense<[[[1.0, 2.0, 3.0], [-1.0, -1.0, -1.0]],
                                   [[9.0, 9.0, 9.0], [10.0, 11.0, 12.0]]]> : tensor<2x2x3xf32>
  %ids = arith.constant dense<[[3, 0], [3, 4]]> : tensor<2x2xi64>
  %ones = arith.constant dense<1.0> : tensor<5x3xf32>
  %r = call @scatter(%updates, %ids, %ones)
      : (tensor<2x2x3xf32>, tensor<2x2xi64>, tensor<5x3xf32>) -> tensor<5x3xf32>
  %u = tensor.cast %r : tensor<5x3xf32> to tensor<*xf32>
  call @printMemrefF32(%u) : (tensor<*xf32>) -> ()
  return
}
