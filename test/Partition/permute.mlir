// autopar.permute, the point-to-point transfer between pipeline stages, on
// the MPI runtime: each stage sends its value to the next (pairs 0 -> 1,
// 1 -> 2, 2 -> 3); stage 0 receives nothing (zeros). The pairs become a
// constant table of the module, passed by address.
// RUN: autopar-opt %s --autopar-lower-to-cpu -o %t.ll.mlir
// RUN: %mpirun -n 4 %mlir_runner %t.ll.mlir -e main -entry-point-result=void -shared-libs=%cpu_runtime,%mlir_libs/libmlir_c_runner_utils.so 2>&1 | FileCheck %s
// Stage c sends 10 c; each prints 1000 c + 10 x the sum of the two
// received elements (stage 0: zeros; stage 1 receives 0, stage 2 10,
// stage 3 20):
// CHECK-DAG: {{^}}0{{$}}
// CHECK-DAG: {{^}}1000{{$}}
// CHECK-DAG: {{^}}2200{{$}}
// CHECK-DAG: {{^}}3400{{$}}
//
// The lowered call: element count, element type, pair count, the table's
// address,
// mesh and axes codes.
// RUN: autopar-opt %s --one-shot-bufferize="bufferize-function-boundaries" --autopar-lower-collectives-to-mpi | FileCheck %s --check-prefix=IR
// IR: memref.global "private" constant @__autopar_permute_pairs : memref<6xi64> = dense<[0, 1, 1, 2, 2, 3]>
// IR: %[[TABLE:.*]] = memref.get_global @__autopar_permute_pairs : memref<6xi64>
// IR: memref.extract_aligned_pointer_as_index %[[TABLE]]
// IR: call @autopar_rt_permute(%{{.*}}, %{{.*}}, %c2_i64, %c0_i32, %c3_i64, %{{.*}}, %c4_i64, %c1_i64) : (i64, i64, i64, i32, i64, i64, i64, i64) -> ()
//
// Two pair lists (a pipeline's forward and backward transfers): a table
// each, named apart, shared by transfers with the same list.
// RUN: autopar-opt %S/Inputs/permute-two-lists.mlir --one-shot-bufferize="bufferize-function-boundaries" --autopar-lower-collectives-to-mpi | FileCheck %s --check-prefix=TWO
// TWO-DAG: memref.global "private" constant @[[BACK:__autopar_permute_pairs_0]] : memref<2xi64> = dense<[1, 0]>
// TWO-DAG: memref.global "private" constant @[[FWD:__autopar_permute_pairs]] : memref<2xi64> = dense<[0, 1]>
// TWO: memref.get_global @[[FWD]] :
// TWO: memref.get_global @[[BACK]] :
// TWO: memref.get_global @[[FWD]] :
//
// A stage whose peer never sends times out naming both ranks (stage 0
// skips the transfer; stage 1 waits on it).
// RUN: autopar-opt %S/Inputs/permute-missing.mlir --autopar-lower-to-cpu -o %t.missing.mlir
// RUN: env AUTOPAR_COLLECTIVE_TIMEOUT=2 not %mpirun_failing -n 2 %mlir_runner %t.missing.mlir -e main -entry-point-result=void -shared-libs=%cpu_runtime,%mlir_libs/libmlir_c_runner_utils.so 2>&1 | FileCheck %s --check-prefix=TIMEOUT
// TIMEOUT: autopar runtime: rank 1: permute over mesh axes [0] timed out after 2.000000 s (AUTOPAR_COLLECTIVE_TIMEOUT) receiving from rank 0; that rank failed or never reached this transfer

autopar.mesh @mesh <stages = 4>
func.func @main() {
  %c = autopar.device_coord on @mesh axes [stages] : index
  %i = arith.index_cast %c : index to i64
  %f = arith.uitofp %i : i64 to f32
  %ten = arith.constant 10.0 : f32
  %v = arith.mulf %f, %ten : f32
  %t = tensor.splat %v : tensor<2xf32>
  %r = autopar.permute %t on @mesh axes [stages] pairs = [0 -> 1, 1 -> 2, 2 -> 3] : tensor<2xf32> -> tensor<2xf32>
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %a = tensor.extract %r[%c0] : tensor<2xf32>
  %b = tensor.extract %r[%c1] : tensor<2xf32>
  %sum = arith.addf %a, %b : f32
  %thousand = arith.constant 1000.0 : f32
  %high = arith.mulf %f, %thousand : f32
  %low = arith.mulf %sum, %ten : f32
  %line = arith.addf %high, %low : f32
  vector.print %line : f32
  return
}
