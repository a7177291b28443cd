// RUN: autopar-opt %s --pass-pipeline="builtin.module(func.func(autopar-guard-asserts))" | FileCheck %s
// RUN: autopar-opt %s --pass-pipeline="builtin.module(func.func(autopar-guard-asserts,convert-parallel-loops-to-gpu))" | FileCheck %s --check-prefix=GPU
// RUN: autopar-opt %s --pass-pipeline="builtin.module(func.func(convert-parallel-loops-to-gpu))" | FileCheck %s --check-prefix=BARE

// torch-mlir's gather (an embedding) checks each index: a cf.assert in the
// loop's body. convert-parallel-loops-to-gpu leaves such a loop on the host
// (BARE); with the assert in a branch (the same check: assert false when
// the condition fails) the loop becomes a launch. Asserts outside parallel
// loops stay as they are.
// CHECK-LABEL: func.func @gather(
// CHECK: cf.assert %{{.*}}, "outside"
// CHECK: %[[OK:.*]] = arith.cmpi slt
// CHECK-NEXT: %[[TRUE:.*]] = arith.constant true
// CHECK-NEXT: %[[FAILED:.*]] = arith.xori %[[OK]], %[[TRUE]] : i1
// CHECK-NEXT: scf.if %[[FAILED]] {
// CHECK-NEXT: %[[FALSE:.*]] = arith.constant false
// CHECK-NEXT: cf.assert %[[FALSE]], "index must be smaller than dim size"
// CHECK-NEXT: }
// CHECK-NEXT: memref.load
// GPU-LABEL: func.func @gather(
// GPU: gpu.launch
// GPU: cf.assert %{{.*}}, "index must be smaller than dim size"
// GPU: gpu.terminator
// BARE-LABEL: func.func @gather(
// BARE-NOT: gpu.launch
func.func @gather(%table: memref<96x64xf32>, %ids: memref<32xi64>, %out: memref<32x64xf32>, %ok: i1) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c32 = arith.constant 32 : index
  %c64 = arith.constant 64 : index
  %c96 = arith.constant 96 : index
  cf.assert %ok, "outside"
  scf.parallel (%i, %j) = (%c0, %c0) to (%c32, %c64) step (%c1, %c1) {
    %id = memref.load %ids[%i] : memref<32xi64>
    %row = arith.index_cast %id : i64 to index
    %in = arith.cmpi slt, %row, %c96 : index
    cf.assert %in, "index must be smaller than dim size"
    %v = memref.load %table[%row, %j] : memref<96x64xf32>
    memref.store %v, %out[%i, %j] : memref<32x64xf32>
    scf.reduce
  } {mapping = [#gpu.loop_dim_map<processor = block_x, map = (d0) -> (d0), bound = (d0) -> (d0)>, #gpu.loop_dim_map<processor = thread_x, map = (d0) -> (d0), bound = (d0) -> (d0)>]}
  return
}
