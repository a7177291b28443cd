//===- Passes.h - autopar passes --------------------------------*- C++ -*-===//

#ifndef AUTOPAR_TRANSFORMS_PASSES_H
#define AUTOPAR_TRANSFORMS_PASSES_H

#include "autopar/Dialect/AutoparDialect.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir::autopar {
#define GEN_PASS_DECL
#include "autopar/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "autopar/Transforms/Passes.h.inc"

/// Options of the `auto-shard` pipeline.
struct AutoShardPipelineOptions
    : public PassPipelineOptions<AutoShardPipelineOptions> {
  PassOptions::Option<std::string> target{
      *this, "target",
      llvm::cl::desc("Preset name of the target machine (default: "
                     "titanxp-pcie-4)"),
      llvm::cl::init("")};
};

/// Builds the `auto-shard` pipeline: import (TOSA to linalg), then the
/// planning stages that exist.
void buildAutoShardPipeline(OpPassManager &pm,
                            const AutoShardPipelineOptions &options);
/// Registers `auto-shard` as a pass pipeline.
void registerAutoShardPipeline();
} // namespace mlir::autopar

#endif // AUTOPAR_TRANSFORMS_PASSES_H
