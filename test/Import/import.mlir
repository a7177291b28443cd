// RUN: autopar-opt %s --autopar-import --split-input-file | FileCheck %s
// RUN: autopar-opt %s --autopar-import=normalize=false --split-input-file | FileCheck %s --check-prefix=RAW
// TOSA becomes linalg on tensors with no TOSA left (the shape constants of
// the reshapes included), a product of a batch of one a matmul
// (tosa-forms.mlir has the other forms); a linalg module is left as it is.

// CHECK-LABEL: func.func @tosa_mlp(
// CHECK-NOT: tosa.
// CHECK: %[[X:.*]] = tensor.collapse_shape %arg0 {{.*}} into tensor<8x16xf32>
// CHECK: %[[W:.*]] = tensor.collapse_shape %arg1 {{.*}} into tensor<16x4xf32>
// CHECK: linalg.matmul ins(%[[X]], %[[W]] : tensor<8x16xf32>, tensor<16x4xf32>)
// CHECK: tensor.collapse_shape
// CHECK-NOT: tosa.
func.func @tosa_mlp(%x: tensor<1x8x16xf32>, %w: tensor<1x16x4xf32>, %b: tensor<1x1x4xf32>) -> tensor<8x4xf32> {
  %zp = "tosa.const"() {values = dense<0.0> : tensor<1xf32>} : () -> tensor<1xf32>
  %m = tosa.matmul %x, %w, %zp, %zp : (tensor<1x8x16xf32>, tensor<1x16x4xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x8x4xf32>
  %a = tosa.add %m, %b : (tensor<1x8x4xf32>, tensor<1x1x4xf32>) -> tensor<1x8x4xf32>
  %s = tosa.const_shape {values = dense<[8, 4]> : tensor<2xindex>} : () -> !tosa.shape<2>
  %r = tosa.reshape %a, %s : (tensor<1x8x4xf32>, !tosa.shape<2>) -> tensor<8x4xf32>
  return %r : tensor<8x4xf32>
}

// -----

// CHECK-LABEL: func.func @linalg_only(
// CHECK-NEXT: %[[E:.*]] = tensor.empty() : tensor<4xf32>
// CHECK-NEXT: %[[A:.*]] = linalg.add ins(%arg0, %arg0 : tensor<4xf32>, tensor<4xf32>) outs(%[[E]] : tensor<4xf32>) -> tensor<4xf32>
// CHECK-NEXT: return %[[A]]
func.func @linalg_only(%x: tensor<4xf32>) -> tensor<4xf32> {
  %e = tensor.empty() : tensor<4xf32>
  %a = linalg.add ins(%x, %x : tensor<4xf32>, tensor<4xf32>) outs(%e : tensor<4xf32>) -> tensor<4xf32>
  return %a : tensor<4xf32>
}

// -----

// torch-mlir's torch.roll: two slices cast to a dynamic size, then
// concatenated into a static result. The concatenation takes the static
// slices; the casts go.
// CHECK-LABEL: func.func @roll(
// CHECK-NOT: tensor.cast
// CHECK: %[[A:.*]] = tensor.extract_slice %arg0[0, 3] [2, 5] [1, 1] : tensor<2x8xf32> to tensor<2x5xf32>
// CHECK: %[[B:.*]] = tensor.extract_slice %arg0[0, 0] [2, 3] [1, 1] : tensor<2x8xf32> to tensor<2x3xf32>
// CHECK: tensor.concat dim(1) %[[A]], %[[B]] : (tensor<2x5xf32>, tensor<2x3xf32>) -> tensor<2x8xf32>
func.func @roll(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %a = tensor.extract_slice %x[0, 3] [2, 5] [1, 1] : tensor<2x8xf32> to tensor<2x5xf32>
  %ca = tensor.cast %a : tensor<2x5xf32> to tensor<2x?xf32>
  %b = tensor.extract_slice %x[0, 0] [2, 3] [1, 1] : tensor<2x8xf32> to tensor<2x3xf32>
  %cb = tensor.cast %b : tensor<2x3xf32> to tensor<2x?xf32>
  %r = tensor.concat dim(1) %ca, %cb : (tensor<2x?xf32>, tensor<2x?xf32>) -> tensor<2x8xf32>
  return %r : tensor<2x8xf32>
}

// -----

// f64 (torch-mlir's TOSA export of a LayerNorm computes its statistics in
// f64) is outside every TOSA profile, which does not matter to a lowering
// to linalg: no profile validation runs, the f64 ops lower.
// CHECK-LABEL: func.func @tosa_f64(
// CHECK-NOT: tosa.
// CHECK: arith.extf %{{.*}} : f32 to f64
// CHECK: arith.mulf %{{.*}}, %{{.*}} : f64
// CHECK: arith.truncf %{{.*}} : f64 to f32
func.func @tosa_f64(%x: tensor<2x4xf32>) -> tensor<2x4xf32> {
  %c = "tosa.const"() {values = dense<2.5e-01> : tensor<1x1xf64>} : () -> tensor<1x1xf64>
  %s = "tosa.const"() {values = dense<0> : tensor<1xi8>} : () -> tensor<1xi8>
  %w = tosa.cast %x : (tensor<2x4xf32>) -> tensor<2x4xf64>
  %m = tosa.mul %w, %c, %s : (tensor<2x4xf64>, tensor<1x1xf64>, tensor<1xi8>) -> tensor<2x4xf64>
  %n = tosa.cast %m : (tensor<2x4xf64>) -> tensor<2x4xf32>
  return %n : tensor<2x4xf32>
}

// -----

// torch-mlir's linalg export reads some scalars as 0-d constant tensors
// (here a ReLU6's bounds, as MobileNet v2 has them): each becomes a scalar
// constant in the body, which the planner does not shard or price as an
// operand (MobileNet v2's predicted step on 8 GPUs, 3.92 -> 3.01 ms).
// CHECK-LABEL: func.func @relu6(
// CHECK-NOT: dense
// CHECK: linalg.generic {indexing_maps = [#[[ID:map[0-9]*]], #[[ID]]], iterator_types = ["parallel", "parallel"]} ins(%arg0 : tensor<4x8xf32>)
// CHECK-NEXT: ^bb0(%[[X:.*]]: f32, %{{.*}}: f32):
// CHECK-DAG: %[[LO:.*]] = arith.constant 0.000000e+00 : f32
// CHECK-DAG: %[[HI:.*]] = arith.constant 6.000000e+00 : f32
// CHECK: %[[A:.*]] = arith.maximumf %[[X]], %[[LO]] : f32
// CHECK: arith.minimumf %[[A]], %[[HI]] : f32
func.func @relu6(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %lo = arith.constant dense<0.0> : tensor<f32>
  %hi = arith.constant dense<6.0> : tensor<f32>
  %e = tensor.empty() : tensor<4x8xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> ()>, affine_map<(i, j) -> ()>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]}
      ins(%x, %lo, %hi : tensor<4x8xf32>, tensor<f32>, tensor<f32>) outs(%e : tensor<4x8xf32>) {
  ^bb0(%v: f32, %l: f32, %h: f32, %o: f32):
    %a = arith.maximumf %v, %l : f32
    %b = arith.minimumf %a, %h : f32
    linalg.yield %b : f32
  } -> tensor<4x8xf32>
  return %r : tensor<4x8xf32>
}
// normalize=false leaves them operands.
// RAW-LABEL: func.func @relu6(
// RAW: ins(%arg0, %{{.*}}, %{{.*}} : tensor<4x8xf32>, tensor<f32>, tensor<f32>)
