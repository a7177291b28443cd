// The auto-shard pipeline on the bundled models: the stages that exist today
// are import (TOSA to linalg) and the target machine.
// RUN: autopar-opt %autopar_src/models/mlp.mlir --auto-shard | FileCheck %s --check-prefix=LINALG
// RUN: autopar-opt %autopar_src/models/mlp-tosa.mlir --auto-shard | FileCheck %s --check-prefix=TOSA
// RUN: autopar-opt %autopar_src/models/mlp.mlir --auto-shard="target=h100-dgx" | FileCheck %s --check-prefix=H100
// Deterministic: the same input gives byte-identical output.
// RUN: autopar-opt %autopar_src/models/mlp-tosa.mlir --auto-shard > %t.1
// RUN: autopar-opt %autopar_src/models/mlp-tosa.mlir --auto-shard > %t.2
// RUN: cmp %t.1 %t.2

// LINALG: module attributes {autopar.target = #autopar.target<name = "titanxp-pcie-4"
// LINALG: func.func @forward
// LINALG-COUNT-2: linalg.matmul
// LINALG-NOT: tosa.

// TOSA: module attributes {autopar.target = #autopar.target<name = "titanxp-pcie-4"
// TOSA: func.func @forward
// TOSA: linalg.batch_matmul ins(%{{.*}}, %{{.*}} : tensor<1x128x784xf32>, tensor<1x784x512xf32>)
// TOSA: arith.maximumf
// TOSA: linalg.batch_matmul ins(%{{.*}}, %{{.*}} : tensor<1x128x512xf32>, tensor<1x512x10xf32>)
// TOSA-NOT: tosa.

// H100: module attributes {autopar.target = #autopar.target<name = "h100-dgx"
