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

// A started collective's input is a view (a collapse) of a buffer that a
// later op writes whole (the fill, in place): the wait stays before that
// write, since the runtime may still be reading the input (the NCCL
// runtime's communication stream, the MPI runtime's posted sends).
// CHECK-LABEL: func.func @gather_of_a_view
// CHECK: %[[G:.*]] = call @autopar_rt_all_gather_start(
// CHECK-NEXT: call @autopar_rt_wait(%[[G]])
// CHECK-NEXT: linalg.fill
// NCCL-LABEL: func.func @gather_of_a_view
// NCCL: %[[G:.*]] = call @autopar_nccl_all_gather_start(
// NCCL-NEXT: call @autopar_nccl_wait(%[[G]])
// NCCL-NEXT: linalg.fill
#id2 = affine_map<(d0, d1) -> (d0, d1)>
func.func @gather_of_a_view(%x: tensor<2x4xf32>) -> (tensor<16xf32>, tensor<2x4xf32>) {
  %e = tensor.empty() : tensor<2x4xf32>
  %t = linalg.generic {indexing_maps = [#id2, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%x : tensor<2x4xf32>) outs(%e : tensor<2x4xf32>) {
  ^bb0(%a: f32, %o: f32):
    %d = arith.addf %a, %a : f32
    linalg.yield %d : f32
  } -> tensor<2x4xf32>
  %s = tensor.collapse_shape %t [[0, 1]] : tensor<2x4xf32> into tensor<8xf32>
  %g = autopar.all_gather %s on @mesh axes [x] gather_dim = 0 : tensor<8xf32> -> tensor<16xf32>
  %zero = arith.constant 0.0 : f32
  %f = linalg.fill ins(%zero : f32) outs(%t : tensor<2x4xf32>) -> tensor<2x4xf32>
  return %g, %f : tensor<16xf32>, tensor<2x4xf32>
}
