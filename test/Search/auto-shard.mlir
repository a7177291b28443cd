// The auto-shard pipeline on the bundled models: import (TOSA to linalg),
// target, search; the IR comes back annotated on stdout and the plan is
// reported on stderr (or report=FILE, or report=- for stdout), so that the
// IR pipes into the next tool.
// RUN: autopar-opt %autopar_src/models/mlp.mlir --auto-shard 2> %t.report | FileCheck %s --check-prefix=LINALG
// RUN: FileCheck %s --check-prefix=REPORT < %t.report
// RUN: autopar-opt %autopar_src/models/mlp.mlir --auto-shard=report=- -o /dev/null | FileCheck %s --check-prefix=REPORT
// RUN: autopar-opt %autopar_src/models/mlp.mlir --auto-shard 2> /dev/null | %mlir_opt --load-dialect-plugin=%autopar_plugin | FileCheck %s --check-prefix=LINALG
// RUN: autopar-opt %autopar_src/models/mlp-tosa.mlir --auto-shard=report= | FileCheck %s --check-prefix=TOSA
// RUN: autopar-opt %autopar_src/models/mlp.mlir --auto-shard="target=h100-dgx report=" | FileCheck %s --check-prefix=H100
// The output verifies and reads back.
// RUN: autopar-opt %autopar_src/models/alexnet.mlir --auto-shard=report= | autopar-opt > /dev/null
// Deterministic: the same input gives byte-identical IR and reports.
// RUN: autopar-opt %autopar_src/models/alexnet.mlir --auto-shard="report=%t.r1.json" > %t.1
// RUN: autopar-opt %autopar_src/models/alexnet.mlir --auto-shard="report=%t.r2.json" > %t.2
// RUN: cmp %t.1 %t.2
// RUN: cmp %t.r1.json %t.r2.json

// REPORT: autopar plan: @forward on titanxp-pcie-4, batch 128, objective time
// REPORT: chosen: 1 GPUs, mesh gpus=1
// LINALG-NOT: autopar plan
// LINALG: module attributes {autopar.plan = #autopar.plan<mesh = @mesh, gpus = 1, objective = "time",
// LINALG-SAME: autopar.target = #autopar.target<name = "titanxp-pcie-4"
// LINALG: autopar.mesh @mesh <gpus = 1>
// LINALG: func.func @forward
// LINALG-COUNT-2: linalg.matmul
// LINALG-NOT: tosa.

// TOSA: module attributes {autopar.plan = #autopar.plan<mesh = @mesh
// TOSA-SAME: autopar.target = #autopar.target<name = "titanxp-pcie-4"
// TOSA: func.func @forward
// TOSA: linalg.matmul {{.*}}ins(%{{.*}}, %{{.*}} : tensor<128x784xf32>, tensor<784x512xf32>)
// TOSA: arith.maximumf
// TOSA: linalg.matmul {{.*}}ins(%{{.*}}, %{{.*}} : tensor<128x512xf32>, tensor<512x10xf32>)
// TOSA-NOT: tosa.{{[a-z_]+}} %

// H100: autopar.target = #autopar.target<name = "h100-dgx"
