// autopar.scatter_add (an embedding's gradient) before bufferization: an
// scf.forall over the elements of a row (on the GPU, one kernel's threads),
// each running an scf.for over the positions that adds the position's
// update element into the row its index names, in a column of the
// destination (which bufferizes in place); run on CPU with repeated rows,
// which add up.
// RUN: autopar-opt %s --autopar-prepare-lowering | FileCheck %s
// RUN: autopar-opt %s --autopar-lower-to-cpu | %mlir_runner -e main -entry-point-result=void -shared-libs=%mlir_libs/libmlir_c_runner_utils.so,%mlir_libs/libmlir_runner_utils.so | FileCheck %s --check-prefix=VALUES
// RUN: autopar-opt %s --autopar-lower-to-cpu --mlir-print-ir-after=autopar-fuse-parallel-loops -o /dev/null 2>&1 | FileCheck %s --check-prefix=LOOPS

// CHECK-LABEL: func.func @scatter
// CHECK: %[[IDS:.*]] = tensor.collapse_shape %arg1 {{\[\[}}0, 1]] : tensor<2x2xi64> into tensor<4xi64>
// CHECK: %[[ROWS:.*]] = tensor.collapse_shape %arg0 {{\[\[}}0, 1], [2]] : tensor<2x2x3xf32> into tensor<4x3xf32>
// CHECK: scf.forall (%[[E:.*]]) in (3) shared_outs(%[[OUT:.*]] = %arg2) -> (tensor<5x3xf32>)
// CHECK: %[[COLUMN:.*]] = tensor.extract_slice %[[OUT]][0, %[[E]]] [5, 1] [1, 1] : tensor<5x3xf32> to tensor<5x1xf32>
// CHECK: scf.for %[[P:.*]] = %{{.*}} to %{{.*}} step %{{.*}} iter_args(%[[ACC:.*]] = %[[COLUMN]]) -> (tensor<5x1xf32>)
// CHECK: %[[ID:.*]] = tensor.extract %[[IDS]][%[[P]]] : tensor<4xi64>
// CHECK: %[[ROW:.*]] = arith.index_cast %[[ID]] : i64 to index
// CHECK: %[[UPDATE:.*]] = tensor.extract %[[ROWS]][%[[P]], %[[E]]] : tensor<4x3xf32>
// CHECK: %[[OLD:.*]] = tensor.extract %[[ACC]][%[[ROW]], %[[ZERO:.*]]] : tensor<5x1xf32>
// CHECK: %[[SUM:.*]] = arith.addf %[[OLD]], %[[UPDATE]]
// CHECK: tensor.insert %[[SUM]] into %[[ACC]][%[[ROW]], %[[ZERO]]] : tensor<5x1xf32>
// CHECK: tensor.parallel_insert_slice %{{.*}} into %[[OUT]][0, %[[E]]] [5, 1] [1, 1]
// On buffers: one parallel loop (a kernel) over the 3 columns, the
// positions' loop inside it reading the indices.
// LOOPS-LABEL: func.func @scatter
// LOOPS: scf.parallel (%[[C:.*]]) = (%{{.*}}) to (%c3{{.*}})
// LOOPS-NEXT: %[[SUB:.*]] = memref.subview %arg2[0, %[[C]]] [5, 1] [1, 1]
// LOOPS-NEXT: scf.for
// LOOPS-NEXT: memref.load
// LOOPS: memref.store %{{.*}}, %[[SUB]]
// LOOPS-NOT: scf.parallel
// LOOPS: return
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
