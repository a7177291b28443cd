// RUN: autopar-opt %s --one-shot-bufferize="bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map" --autopar-free-buffers-early --autopar-lower-collectives-to-mpi | FileCheck %s
// RUN: autopar-opt %s --one-shot-bufferize="bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map" --autopar-free-buffers-early --autopar-lower-collectives-to-nccl | FileCheck %s --check-prefix=NCCL

// A gradient's all-reduce starts where it stands and is waited for only
// where its buffers are next touched: the rest of the backward (here an
// exponential of another value) runs meanwhile; the optimizer's update,
// which reads the reduced gradient, waits.
// CHECK-LABEL: func.func @backward_then_update
// CHECK: %[[H:.*]] = call @autopar_rt_all_reduce_start(
// CHECK-NOT: call @autopar_rt_wait
// CHECK: math.exp
// CHECK: call @autopar_rt_wait(%[[H]])
// CHECK-NEXT: linalg.generic
// CHECK: arith.subf
// NCCL: %[[H:.*]] = call @autopar_nccl_all_reduce_start(
// NCCL: math.exp
// NCCL: call @autopar_nccl_wait(%[[H]])
#id = affine_map<(d0) -> (d0)>
autopar.mesh @mesh <x = 2>
func.func @backward_then_update(%grad: tensor<64xf32>, %x: tensor<64xf32>,
                                %w: tensor<64xf32>) -> (tensor<64xf32>, tensor<64xf32>) {
  %e0 = tensor.empty() : tensor<64xf32>
  %g = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]}
      ins(%grad : tensor<64xf32>) outs(%e0 : tensor<64xf32>) {
  ^bb0(%a: f32, %o: f32):
    %d = arith.addf %a, %a : f32
    linalg.yield %d : f32
  } -> tensor<64xf32>
  %r = autopar.all_reduce %g on @mesh axes [x] reduction = sum : tensor<64xf32> -> tensor<64xf32>
  %e = tensor.empty() : tensor<64xf32>
  %y = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]}
      ins(%x : tensor<64xf32>) outs(%e : tensor<64xf32>) {
  ^bb0(%a: f32, %o: f32):
    %v = math.exp %a : f32
    linalg.yield %v : f32
  } -> tensor<64xf32>
  %e2 = tensor.empty() : tensor<64xf32>
  %u = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel"]}
      ins(%w, %r : tensor<64xf32>, tensor<64xf32>) outs(%e2 : tensor<64xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %v = arith.subf %a, %b : f32
    linalg.yield %v : f32
  } -> tensor<64xf32>
  return %u, %y : tensor<64xf32>, tensor<64xf32>
}
