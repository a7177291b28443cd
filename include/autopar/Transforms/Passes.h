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
      llvm::cl::desc("Target machine: a preset name or a .json file "
                     "(default: titanxp-pcie-4)"),
      llvm::cl::init("")};
  PassOptions::Option<std::string> report{
      *this, "report",
      llvm::cl::desc("Where to write the report: a file (JSON when it ends "
                     "in .json), '-' for stdout, or empty for none"),
      llvm::cl::init("-")};
  PassOptions::Option<std::string> optimizer{
      *this, "optimizer",
      llvm::cl::desc("Optimizer of the training step: sgd, momentum, adam"),
      llvm::cl::init("momentum")};
};

/// Builds the `auto-shard` pipeline: import (TOSA to linalg), target,
/// workload analysis and report; the search joins it next.
void buildAutoShardPipeline(OpPassManager &pm,
                            const AutoShardPipelineOptions &options);
/// Registers `auto-shard` as a pass pipeline.
void registerAutoShardPipeline();
} // namespace mlir::autopar

#endif // AUTOPAR_TRANSFORMS_PASSES_H
