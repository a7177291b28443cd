// Stock mlir-opt-22 loads autopar as a plugin: it parses and verifies autopar
// IR, runs autopar passes, and bufferizes autopar collectives.
// RUN: %mlir_opt --load-dialect-plugin=%autopar_plugin %s | FileCheck %s --check-prefix=PARSE
// RUN: %mlir_opt --load-dialect-plugin=%autopar_plugin --load-pass-plugin=%autopar_plugin %s \
// RUN:   --pass-pipeline="builtin.module(autopar-set-target{target=a100-dgx},one-shot-bufferize{bufferize-function-boundaries})" \
// RUN:   | FileCheck %s --check-prefix=PASSES
// RUN: %mlir_opt --load-dialect-plugin=%autopar_plugin --load-pass-plugin=%autopar_plugin \
// RUN:   %autopar_src/models/mlp-tosa.mlir --pass-pipeline="builtin.module(auto-shard{report=-})" \
// RUN:   | FileCheck %s --check-prefix=PIPELINE
// The training pass and its reverse-mode rules (interface external models)
// come with the plugin.
// RUN: %mlir_opt --load-dialect-plugin=%autopar_plugin --load-pass-plugin=%autopar_plugin \
// RUN:   %autopar_src/models/mlp.mlir --pass-pipeline="builtin.module(autopar-training{loss=softmax-cross-entropy})" \
// RUN:   | FileCheck %s --check-prefix=TRAINING
// TRAINING: func.func @train_step(
// TRAINING: linalg.generic {{.*}} attrs = {autopar.grad_of = {{[0-9]+}} : i64}
// The plugin's verifiers run inside mlir-opt too.
// RUN: not %mlir_opt --load-dialect-plugin=%autopar_plugin %S/Inputs/bad-gather.mlir 2>&1 \
// RUN:   | FileCheck %s --check-prefix=ERROR
// Without the plugin, stock mlir-opt does not know the dialect.
// RUN: not %mlir_opt %s 2>&1 | FileCheck %s --check-prefix=NOPLUGIN

// PARSE: autopar.mesh @mesh <gpus = 4>
// PARSE: autopar.all_gather %{{.*}} on @mesh axes [gpus] gather_dim = 0 : tensor<2x8xf32> -> tensor<8x8xf32>

// PASSES: module attributes {autopar.target = #autopar.target<name = "a100-dgx"
// PASSES: %[[ALLOC:.*]] = memref.alloc() {{.*}} : memref<8x8xf32>
// PASSES: autopar.all_gather %{{.*}} into %[[ALLOC]] on @mesh axes [gpus] gather_dim = 0

// PIPELINE: autopar plan: @forward on titanxp-pcie-4
// PIPELINE: module attributes {autopar.plan = #autopar.plan<mesh = @mesh, gpus = {{[0-9]+}}
// PIPELINE-SAME: autopar.target = #autopar.target<name = "titanxp-pcie-4"
// PIPELINE: linalg.matmul

// ERROR: bad-gather.mlir:5:8: error: 'autopar.all_gather' op result dimension 0 is 4 but gathering over 4 devices gives 8

// NOPLUGIN: error: {{.*}}autopar.mesh

autopar.mesh @mesh <gpus = 4>
func.func @gather(%x: tensor<2x8xf32>) -> tensor<8x8xf32> {
  %0 = autopar.all_gather %x on @mesh axes [gpus] gather_dim = 0 : tensor<2x8xf32> -> tensor<8x8xf32>
  return %0 : tensor<8x8xf32>
}
