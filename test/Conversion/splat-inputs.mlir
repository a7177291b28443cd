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
