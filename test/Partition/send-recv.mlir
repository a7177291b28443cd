// autopar.send / autopar.recv between pipeline stages on the MPI runtime.
// Both stages send first and receive after (a 1F1B steady state: stage 0
// sends an activation forward and waits for a gradient, stage 1 sends the
// gradient back and waits for the next activation). The values are 1 MiB,
// far above MPI's eager limit: only because a send does not wait for its
// receive does this finish.
// RUN: autopar-opt %s --autopar-lower-to-cpu -o %t.ll.mlir
// RUN: %mpirun -n 2 %mlir_runner %t.ll.mlir -e main -entry-point-result=void -shared-libs=%cpu_runtime,%mlir_libs/libmlir_c_runner_utils.so 2>&1 | FileCheck %s
// Stage s sends 10 (s + 1) (stage 0 also 20, tag 9) and prints 1000 s +
// the first element of the first value it receives + the last of the last
// (stage 0: 20 + 20; stage 1: 10 + 20, tags 7 and 9 keeping them apart):
// CHECK-DAG: {{^}}40{{$}}
// CHECK-DAG: {{^}}1030{{$}}
//
// The lowered calls: the buffer's address, the element count and type, the
// peer, the tag, the mesh and axes codes.
// RUN: autopar-opt %s --one-shot-bufferize="bufferize-function-boundaries" --autopar-lower-collectives-to-mpi | FileCheck %s --check-prefix=IR
// IR: call @autopar_rt_send(%{{.*}}, %c262144_i64, %c0_i32, %c1_i64, %c7_i64, %c2_i64, %c1_i64) : (i64, i64, i32, i64, i64, i64, i64) -> ()
// IR: call @autopar_rt_recv(%{{.*}}, %c262144_i64, %c0_i32, %c1_i64, %c8_i64, %c2_i64, %c1_i64) : (i64, i64, i32, i64, i64, i64, i64) -> ()
//
// With NCCL the program makes its communicators at its entry (every rank in
// one order): its group's, and one per direction of its transfers (stage 0
// to 1 from the sends in case 0, 1 to 0 from its receives).
// RUN: autopar-opt %s --one-shot-bufferize="bufferize-function-boundaries" --autopar-lower-collectives-to-nccl | FileCheck %s --check-prefix=NCCL
// NCCL-LABEL: func.func @main()
// NCCL-NOT: call @autopar_nccl_send
// NCCL: call @autopar_nccl_prepare_group(%c2_i64, %c1_i64)
// NCCL-NEXT: call @autopar_nccl_prepare_transfer(%c2_i64{{.*}}, %c1_i64{{.*}}, %c0_i64{{.*}}, %c1_i64{{.*}})
// NCCL-NEXT: call @autopar_nccl_prepare_transfer(%c2_i64{{.*}}, %c1_i64{{.*}}, %c1_i64{{.*}}, %c0_i64{{.*}})
// NCCL: {{(func.)?}}call @autopar_nccl_send(
// NCCL: {{(func.)?}}call @autopar_nccl_recv(
// NCCL: call @autopar_nccl_flush_sends() : () -> ()
// NCCL-NEXT: return
//
// A stage whose peer never sends times out naming both ranks.
// RUN: autopar-opt %S/Inputs/recv-missing.mlir --autopar-lower-to-cpu -o %t.missing.mlir
// RUN: env AUTOPAR_COLLECTIVE_TIMEOUT=2 not %mpirun_failing -n 2 %mlir_runner %t.missing.mlir -e main -entry-point-result=void -shared-libs=%cpu_runtime,%mlir_libs/libmlir_c_runner_utils.so 2>&1 | FileCheck %s --check-prefix=TIMEOUT
// TIMEOUT: autopar runtime: rank 1: recv (tag 3) on rank 1 from rank 0 over mesh axes [0] timed out after 2.000000 s (AUTOPAR_COLLECTIVE_TIMEOUT); rank 0 failed or never reached the matching send

autopar.mesh @mesh <stages = 2>
func.func @main() {
  %c = autopar.device_coord on @mesh axes [stages] : index
  %i = arith.index_cast %c : index to i64
  %f = arith.uitofp %i : i64 to f32
  %one = arith.constant 1.0 : f32
  %ten = arith.constant 10.0 : f32
  %next = arith.addf %f, %one : f32
  %v = arith.mulf %next, %ten : f32
  %t = tensor.splat %v : tensor<262144xf32>
  %c0 = arith.constant 0 : index
  %last = arith.constant 262143 : index
  %thousand = arith.constant 1000.0 : f32
  %high = arith.mulf %f, %thousand : f32
  %line = scf.index_switch %c -> f32
  case 0 {
    autopar.send %t to 1 on @mesh axes [stages] tag 7 : tensor<262144xf32>
    %twice = arith.addf %v, %v : f32
    %u = tensor.splat %twice : tensor<262144xf32>
    autopar.send %u to 1 on @mesh axes [stages] tag 9 : tensor<262144xf32>
    %r = autopar.recv from 1 on @mesh axes [stages] tag 8 : tensor<262144xf32>
    %a = tensor.extract %r[%c0] : tensor<262144xf32>
    %b = tensor.extract %r[%last] : tensor<262144xf32>
    %sum = arith.addf %a, %b : f32
    %out = arith.addf %high, %sum : f32
    scf.yield %out : f32
  }
  default {
    autopar.send %t to 0 on @mesh axes [stages] tag 8 : tensor<262144xf32>
    %r = autopar.recv from 0 on @mesh axes [stages] tag 7 : tensor<262144xf32>
    %s = autopar.recv from 0 on @mesh axes [stages] tag 9 : tensor<262144xf32>
    %a = tensor.extract %r[%c0] : tensor<262144xf32>
    %b = tensor.extract %s[%last] : tensor<262144xf32>
    %sum = arith.addf %a, %b : f32
    %out = arith.addf %high, %sum : f32
    scf.yield %out : f32
  }
  vector.print %line : f32
  return
}
