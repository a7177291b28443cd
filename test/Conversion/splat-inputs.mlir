// RUN: autopar-opt %s --autopar-prepare-lowering | FileCheck %s
// RUN: autopar-opt %s --autopar-lower-to-cuda="format=isa" --mlir-print-ir-after=autopar-allocs-to-gpu -o /dev/null 2>&1 | FileCheck %s --check-prefix=CUDA

// torch-mlir's causal mask: where(mask, scores, fill) with the fill a 0-d
// constant tensor. autopar-prepare-lowering reads splat constant inputs as
// scalar constants in the body (the op's other inputs, maps and
// annotations as they were); bufferized, the constant was a buffer copied
// from a host global, managed memory on the CUDA backend (no global, no
// copy left; the managed buffer the CUDA lowering keeps is the result's).
// CHECK-LABEL: func.func @masked(
// CHECK-SAME: %[[S:[^:]*]]: tensor<4x4xf32>, %[[M:[^:]*]]: tensor<4x4xi1>
// CHECK-NOT: arith.constant dense
// CHECK: linalg.generic {indexing_maps = [#[[ID:map[0-9]*]], #[[ID]], #[[ID]]], iterator_types = ["parallel", "parallel"]} ins(%[[M]], %[[S]] : tensor<4x4xi1>, tensor<4x4xf32>) outs(%{{.*}} : tensor<4x4xf32>) attrs = {autopar.layer = 7 : i64} {
// CHECK-NEXT: ^bb0(%[[MV:.*]]: i1, %[[SV:.*]]: f32, %{{.*}}: f32):
// CHECK-NEXT: %[[FILL:.*]] = arith.constant -3.40282347E+38 : f32
// CHECK-NEXT: %[[R:.*]] = arith.select %[[MV]], %[[SV]], %[[FILL]] : f32
// CHECK-NEXT: linalg.yield %[[R]]
// CUDA-LABEL: func.func @masked(
// CUDA-NOT: memref.get_global
// CUDA-NOT: memref.copy
// CUDA: return
func.func @masked(%s: tensor<4x4xf32>, %m: tensor<4x4xi1>) -> tensor<4x4xf32> {
  %fill = arith.constant dense<-3.40282347E+38> : tensor<f32>
  %e = tensor.empty() : tensor<4x4xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> ()>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]}
      ins(%m, %s, %fill : tensor<4x4xi1>, tensor<4x4xf32>, tensor<f32>) outs(%e : tensor<4x4xf32>) attrs = {autopar.layer = 7 : i64} {
  ^bb0(%mv: i1, %sv: f32, %fv: f32, %o: f32):
    %v = arith.select %mv, %sv, %fv : f32
    linalg.yield %v : f32
  } -> tensor<4x4xf32>
  return %r : tensor<4x4xf32>
}

// torch.arange as torch-mlir's TOSA export writes it: a constant
// [0, 1, ..., n-1] (the position ids), here read twice (a causal mask's
// rows and columns) and once more at a loop it does not start at 0 in
// (not an iota there: left as an input). Read at a loop, each element is
// its index: the loop index, cast to the element type.
// CHECK-LABEL: func.func @arange(
// CHECK: %[[C:.*]] = arith.constant dense<[0, 1, 2, 3]> : tensor<4xi64>
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel"]} outs(%{{.*}} : tensor<4x4xi1>)
// CHECK-NEXT: ^bb0(%{{.*}}: i1):
// CHECK-NEXT: %[[J:.*]] = linalg.index 1 : index
// CHECK-NEXT: %[[JV:.*]] = arith.index_cast %[[J]] : index to i64
// CHECK-NEXT: %[[I:.*]] = linalg.index 0 : index
// CHECK-NEXT: %[[IV:.*]] = arith.index_cast %[[I]] : index to i64
// CHECK-NEXT: arith.cmpi sge, %[[IV]], %[[JV]] : i64
// CHECK: linalg.generic {{.*}} ins(%[[C]], %arg0 : tensor<4xi64>, tensor<2xi64>)
// CUDA-LABEL: func.func @arange(
// CUDA-COUNT-1: memref.get_global
// CUDA-NOT: memref.get_global
// CUDA: return
func.func @arange(%x: tensor<2xi64>) -> (tensor<4x4xi1>, tensor<2xi64>) {
  %ids = arith.constant dense<[0, 1, 2, 3]> : tensor<4xi64>
  %e = tensor.empty() : tensor<4x4xi1>
  %mask = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i)>, affine_map<(i, j) -> (j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]}
      ins(%ids, %ids : tensor<4xi64>, tensor<4xi64>) outs(%e : tensor<4x4xi1>) {
  ^bb0(%a: i64, %b: i64, %o: i1):
    %c = arith.cmpi sge, %a, %b : i64
    linalg.yield %c : i1
  } -> tensor<4x4xi1>
  %e2 = tensor.empty() : tensor<2xi64>
  %shifted = linalg.generic {indexing_maps = [affine_map<(i) -> (i + 2)>, affine_map<(i) -> (i)>, affine_map<(i) -> (i)>], iterator_types = ["parallel"]}
      ins(%ids, %x : tensor<4xi64>, tensor<2xi64>) outs(%e2 : tensor<2xi64>) {
  ^bb0(%a: i64, %b: i64, %o: i64):
    %s = arith.addi %a, %b : i64
    linalg.yield %s : i64
  } -> tensor<2xi64>
  return %mask, %shifted : tensor<4x4xi1>, tensor<2xi64>
}
