//===- Passes.h - autopar planning passes -----------------------*- C++ -*-===//

#ifndef AUTOPAR_SEARCH_PASSES_H
#define AUTOPAR_SEARCH_PASSES_H

#include "autopar/Cost/CostModel.h"
#include "autopar/Dialect/AutoparDialect.h"
#include "autopar/Search/Pipeline.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir::autopar {
#define GEN_PASS_DECL
#include "autopar/Search/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "autopar/Search/Passes.h.inc"

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
      llvm::cl::desc("Where to write the report: stderr (default), '-' "
                     "(stdout), a file (JSON when it ends in .json), or "
                     "empty for none"),
      llvm::cl::init("stderr")};
  PassOptions::Option<bool> fuseAttention{
      *this, "fuse-attention",
      llvm::cl::desc("Form autopar.attention from scaled dot-product "
                     "attention chains first (autopar-fuse-attention)"),
      llvm::cl::init(true)};
  PassOptions::Option<std::string> optimizer{
      *this, "optimizer",
      llvm::cl::desc("Optimizer of the training step: sgd, momentum, adam"),
      llvm::cl::init("momentum")};
  PassOptions::Option<std::string> loss{
      *this, "loss",
      llvm::cl::desc("The training step's loss, priced with the model: "
                     "auto (the function returns it), "
                     "softmax-cross-entropy or mse"),
      llvm::cl::init("auto")};
  PassOptions::Option<std::string> objective{
      *this, "objective", llvm::cl::desc("time, energy or efficiency:X"),
      llvm::cl::init("time")};
  PassOptions::Option<int64_t> maxGpus{
      *this, "max-gpus", llvm::cl::desc("Use at most this many GPUs (0: all)"),
      llvm::cl::init(0)};
  PassOptions::Option<std::string> mesh{
      *this, "mesh",
      llvm::cl::desc("Pin the mesh shape, e.g. 4 or 2x4 (with stages: one per "
                     "stage, e.g. 4,2x2)"),
      llvm::cl::init("")};
  PassOptions::Option<std::string> parallelism{
      *this, "parallelism",
      llvm::cl::desc("hybrid, data (the WAP paper's space), tensor or "
                     "data-tensor"),
      llvm::cl::init("hybrid")};
  PassOptions::Option<std::string> trace{
      *this, "trace",
      llvm::cl::desc("Write the predicted timeline as Chrome-trace JSON"),
      llvm::cl::init("")};
  PassOptions::Option<std::string> precision{
      *this, "precision",
      llvm::cl::desc("Arithmetic of the step: f32, bf16 or fp16 (default: "
                     "the model's own)"),
      llvm::cl::init("")};
  PassOptions::Option<std::string> zero{
      *this, "zero",
      llvm::cl::desc("Pin the ZeRO stage (0-3, or one per pipeline stage: "
                     "1,0; auto or -1: searched)"),
      llvm::cl::init("auto")};
  PassOptions::Option<std::string> recompute{
      *this, "recompute",
      llvm::cl::desc("Pin recomputation: none, selective, full (or one per "
                     "pipeline stage: full,none); auto: searched"),
      llvm::cl::init("auto")};
  PassOptions::Option<int64_t> microbatches{
      *this, "microbatches",
      llvm::cl::desc("Pin the number of microbatches (0: searched)"),
      llvm::cl::init(0)};
  PassOptions::Option<int64_t> stages{
      *this, "stages",
      llvm::cl::desc("Pipeline stages: 1 (none), P >= 2, or 0 (searched)"),
      llvm::cl::init(1)};
  PassOptions::Option<std::string> schedule{
      *this, "schedule",
      llvm::cl::desc("Pipeline schedule: gpipe, 1f1b, interleaved or auto"),
      llvm::cl::init("auto")};
  PassOptions::Option<int64_t> virtualStages{
      *this, "virtual-stages",
      llvm::cl::desc("Chunks per device of the interleaved schedule (0: "
                     "searched)"),
      llvm::cl::init(0)};
  PassOptions::Option<bool> cudnnAttention{
      *this, "cudnn-attention",
      llvm::cl::desc("Price 16-bit attentions cuDNN's fused attention "
                     "computes as that call (false: as their "
                     "decomposition)"),
      llvm::cl::init(true)};
  PassOptions::Option<bool> overlap{
      *this, "overlap",
      llvm::cl::desc("Price gradient synchronisation behind the backward "
                     "(false: after it, the WAP paper's assumption)"),
      llvm::cl::init(true)};
};

/// Builds the `auto-shard` pipeline: import (TOSA to linalg), target, and
/// the search with its report.
void buildAutoShardPipeline(OpPassManager &pm,
                            const AutoShardPipelineOptions &options);
/// Registers `auto-shard` as a pass pipeline.
void registerAutoShardPipeline();

} // namespace mlir::autopar

#endif // AUTOPAR_SEARCH_PASSES_H
