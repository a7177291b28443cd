// A momentum step over two parameters (4x3 and 5 elements) run on the CPU
// with and without autopar-fuse-parallel-loops: each parameter's two
// nests (velocity, then parameter) fuse vertically, and the two
// parameters' nests into one (horizontally); the values are the same.
// RUN: autopar-opt %s --autopar-lower-to-cpu="fuse=false" | %mlir_runner -e main -entry-point-result=void -shared-libs=%mlir_libs/libmlir_c_runner_utils.so,%mlir_libs/libmlir_runner_utils.so | sed "s/base@ = 0x[0-9a-f]*//" > %t.unfused.txt
// RUN: autopar-opt %s --autopar-lower-to-cpu | %mlir_runner -e main -entry-point-result=void -shared-libs=%mlir_libs/libmlir_c_runner_utils.so,%mlir_libs/libmlir_runner_utils.so | sed "s/base@ = 0x[0-9a-f]*//" > %t.fused.txt
// RUN: diff %t.unfused.txt %t.fused.txt
// RUN: FileCheck %s --input-file=%t.fused.txt
// RUN: autopar-opt %s --autopar-lower-to-cpu --mlir-print-ir-after=autopar-fuse-parallel-loops -o /dev/null 2>&1 | FileCheck %s --check-prefix=LOOPS

// v' = 0.9 v + g, p' = p - 0.5 v'.
// CHECK: [0.75,   1.3,   1.85]
// CHECK: [2.4,   2.95,   3.5]
// CHECK: [4.05,   4.6,   5.15]
// CHECK: [5.7,   6.25,   6.8]
// CHECK: [0.5,   1.4,   2.3]
// CHECK: [8.6,   9.5,   10.4]
// CHECK: [0,  0.45,  0.9,  1.35,  1.8]
// CHECK: [1,  0.1,  -0.8,  -1.7,  -2.6]
// LOOPS-LABEL: func.func @step
// LOOPS-COUNT-1: scf.parallel
// LOOPS-NOT: scf.parallel
// LOOPS: return

#id2 = affine_map<(d0, d1) -> (d0, d1)>
#id1 = affine_map<(d0) -> (d0)>
func.func @step(%p0: tensor<4x3xf32>, %g0: tensor<4x3xf32>, %v0: tensor<4x3xf32>,
                %p1: tensor<5xf32>, %g1: tensor<5xf32>, %v1: tensor<5xf32>)
    -> (tensor<4x3xf32>, tensor<4x3xf32>, tensor<5xf32>, tensor<5xf32>) {
  %m = arith.constant 0.9 : f32
  %lr = arith.constant 0.5 : f32
  %e0 = tensor.empty() : tensor<4x3xf32>
  %e1 = tensor.empty() : tensor<5xf32>
  %nv0 = linalg.generic {indexing_maps = [#id2, #id2, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%v0, %g0 : tensor<4x3xf32>, tensor<4x3xf32>) outs(%e0 : tensor<4x3xf32>) {
  ^bb0(%v: f32, %g: f32, %o: f32):
    %a = arith.mulf %v, %m : f32
    %b = arith.addf %a, %g : f32
    linalg.yield %b : f32
  } -> tensor<4x3xf32>
  %np0 = linalg.generic {indexing_maps = [#id2, #id2, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%p0, %nv0 : tensor<4x3xf32>, tensor<4x3xf32>) outs(%e0 : tensor<4x3xf32>) {
  ^bb0(%p: f32, %v: f32, %o: f32):
    %a = arith.mulf %v, %lr : f32
    %b = arith.subf %p, %a : f32
    linalg.yield %b : f32
  } -> tensor<4x3xf32>
  %nv1 = linalg.generic {indexing_maps = [#id1, #id1, #id1], iterator_types = ["parallel"]}
      ins(%v1, %g1 : tensor<5xf32>, tensor<5xf32>) outs(%e1 : tensor<5xf32>) {
  ^bb0(%v: f32, %g: f32, %o: f32):
    %a = arith.mulf %v, %m : f32
    %b = arith.addf %a, %g : f32
    linalg.yield %b : f32
  } -> tensor<5xf32>
  %np1 = linalg.generic {indexing_maps = [#id1, #id1, #id1], iterator_types = ["parallel"]}
      ins(%p1, %nv1 : tensor<5xf32>, tensor<5xf32>) outs(%e1 : tensor<5xf32>) {
  ^bb0(%p: f32, %v: f32, %o: f32):
    %a = arith.mulf %v, %lr : f32
    %b = arith.subf %p, %a : f32
    linalg.yield %b : f32
  } -> tensor<5xf32>
  return %np0, %nv0, %np1, %nv1 : tensor<4x3xf32>, tensor<4x3xf32>, tensor<5xf32>, tensor<5xf32>
}

func.func private @printMemrefF32(tensor<*xf32>)

func.func @main() {
  %p0 = arith.constant dense<[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0], [10.0, 11.0, 12.0]]> : tensor<4x3xf32>
  %g0 = arith.constant dense<0.5> : tensor<4x3xf32>
  %v0 = arith.constant dense<[[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0], [9.0, 10.0, 11.0]]> : tensor<4x3xf32>
  %p1 = arith.constant dense<[0.5, 0.5, 0.5, 0.5, 0.5]> : tensor<5xf32>
  %g1 = arith.constant dense<1.0> : tensor<5xf32>
  %v1 = arith.constant dense<[0.0, -1.0, -2.0, -3.0, -4.0]> : tensor<5xf32>
  %r:4 = call @step(%p0, %g0, %v0, %p1, %g1, %v1)
      : (tensor<4x3xf32>, tensor<4x3xf32>, tensor<4x3xf32>, tensor<5xf32>, tensor<5xf32>, tensor<5xf32>)
      -> (tensor<4x3xf32>, tensor<4x3xf32>, tensor<5xf32>, tensor<5xf32>)
  %u0 = tensor.cast %r#0 : tensor<4x3xf32> to tensor<*xf32>
  %u1 = tensor.cast %r#1 : tensor<4x3xf32> to tensor<*xf32>
  %u2 = tensor.cast %r#2 : tensor<5xf32> to tensor<*xf32>
  %u3 = tensor.cast %r#3 : tensor<5xf32> to tensor<*xf32>
  call @printMemrefF32(%u0) : (tensor<*xf32>) -> ()
  call @printMemrefF32(%u1) : (tensor<*xf32>) -> ()
  call @printMemrefF32(%u2) : (tensor<*xf32>) -> ()
  call @printMemrefF32(%u3) : (tensor<*xf32>) -> ()
  return
}
