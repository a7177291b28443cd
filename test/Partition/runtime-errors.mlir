// The MPI runtime fails loudly instead of hanging. A collective that only
// one rank reaches times out, names itself and aborts the job; a job whose
// rank count differs from the mesh's device count is refused on every rank.
// RUN: autopar-opt %s --autopar-lower-to-cpu -o %t.ll.mlir
// RUN: env AUTOPAR_COLLECTIVE_TIMEOUT=2 not %mpirun_failing -n 2 %mlir_runner %t.ll.mlir -e main -entry-point-result=void -shared-libs=%cpu_runtime,%mlir_libs/libmlir_c_runner_utils.so 2>&1 | FileCheck %s --check-prefix=TIMEOUT
// RUN: not %mpirun_failing -n 3 %mlir_runner %t.ll.mlir -e main -entry-point-result=void -shared-libs=%cpu_runtime,%mlir_libs/libmlir_c_runner_utils.so 2>&1 | FileCheck %s --check-prefix=RANKS
// TIMEOUT: autopar runtime: rank 0: collective all_reduce over mesh axes [0] timed out after 2.000000 s (AUTOPAR_COLLECTIVE_TIMEOUT); another rank failed or diverged
// RANKS: autopar runtime: rank {{[0-2]}}: the program runs on a mesh of 2 devices but the job has 3 ranks; run it with -n 2

autopar.mesh @mesh <gpus = 2>
func.func @main() {
  %c = autopar.device_coord on @mesh axes [gpus] : index
  %c0 = arith.constant 0 : index
  %first = arith.cmpi eq, %c, %c0 : index
  scf.if %first {
    %t = arith.constant dense<1.0> : tensor<4xf32>
    %r = autopar.all_reduce %t on @mesh axes [gpus] reduction = sum : tensor<4xf32> -> tensor<4xf32>
    %e = tensor.extract %r[%c0] : tensor<4xf32>
    vector.print %e : f32
  }
  return
}
