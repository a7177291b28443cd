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
  PassOptions::Option<std::string> objective{
      *this, "objective", llvm::cl::desc("time, energy or efficiency:X"),
      llvm::cl::init("time")};
  PassOptions::Option<int64_t> maxGpus{
      *this, "max-gpus", llvm::cl::desc("Use at most this many GPUs (0: all)"),
      llvm::cl::init(0)};
  PassOptions::Option<std::string> mesh{
      *this, "mesh", llvm::cl::desc("Pin the mesh shape, e.g. 4 or 2x4"),
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
};

/// Builds the `auto-shard` pipeline: import (TOSA to linalg), target, and
/// the search with its report.
void buildAutoShardPipeline(OpPassManager &pm,
                            const AutoShardPipelineOptions &options);
/// Registers `auto-shard` as a pass pipeline.
void registerAutoShardPipeline();
/// `autopar-lower-to-cpu`: linalg on tensors to LLVM for the host CPU.
/// Removes what only the compiler needed once a program is lowered: autopar
/// argument, result and function attributes, meshes, the module's plan and
/// target.
void stripAutoparAnnotations(ModuleOp module);

/// What both backends start with: one-shot bufferization (function
/// boundaries included, identity layouts) and buffer deallocation.
void buildBufferizePasses(OpPassManager &pm);
/// What both backends end with: host memrefs, arith, func, control flow
/// and index to LLVM, casts reconciled.
void buildHostToLLVMPasses(OpPassManager &pm);

void buildLowerToCPUPipeline(OpPassManager &pm);
void registerLowerToCPUPipeline();

/// Options of the `autopar-lower-to-cuda` pipeline.
struct LowerToCUDAPipelineOptions
    : public PassPipelineOptions<LowerToCUDAPipelineOptions> {
  PassOptions::Option<std::string> chip{
      *this, "chip", llvm::cl::desc("The GPU's SM version (sm_80, sm_90, ...)"),
      llvm::cl::init("sm_90")};
  PassOptions::Option<std::string> features{
      *this, "features", llvm::cl::desc("PTX features (e.g. +ptx80)"),
      llvm::cl::init("")};
  PassOptions::Option<int> optLevel{
      *this, "opt-level", llvm::cl::desc("Kernel optimization level (0-3)"),
      llvm::cl::init(2)};
  PassOptions::Option<std::string> format{
      *this, "format",
      llvm::cl::desc("Kernel binaries: fatbin (default), bin (cubin) or isa "
                     "(PTX text; needs no CUDA toolkit)"),
      llvm::cl::init("fatbin")};
  PassOptions::Option<std::string> toolkit{
      *this, "toolkit",
      llvm::cl::desc("CUDA toolkit with ptxas (empty: found as MLIR finds "
                     "it, e.g. /usr/local/cuda)"),
      llvm::cl::init("")};
  PassOptions::Option<int64_t> blockRows{
      *this, "block-rows",
      llvm::cl::desc("Threads per block along a kernel's outer loop"),
      llvm::cl::init(16)};
  PassOptions::Option<int64_t> blockColumns{
      *this, "block-columns",
      llvm::cl::desc("Threads per block along a kernel's second loop"),
      llvm::cl::init(16)};
  PassOptions::Option<bool> mergeKernels{
      *this, "merge-kernels",
      llvm::cl::desc("Compile all kernels as one GPU module "
                     "(autopar-merge-gpu-modules; else one per kernel)"),
      llvm::cl::init(true)};
  PassOptions::Option<int64_t> ptxasThreads{
      *this, "ptxas-threads",
      llvm::cl::desc("Threads ptxas compiles the kernels on (0: all CPUs, "
                     "1: no --split-compile, for toolkits before CUDA 12)"),
      llvm::cl::init(0)};
  PassOptions::Option<bool> cublas{
      *this, "cublas",
      llvm::cl::desc("Run contractions through cuBLAS (else as kernels)"),
      llvm::cl::init(true)};
  PassOptions::Option<bool> cudnn{
      *this, "cudnn",
      llvm::cl::desc("Run 2-D convolutions through cuDNN (else as kernels; "
                     "for a runtime built without cuDNN)"),
      llvm::cl::init(true)};
  PassOptions::ListOption<std::string> hostFunctions{
      *this, "host-functions",
      llvm::cl::desc("Functions to run on the host CPU, compiled as the CPU "
                     "backend compiles them (e.g. a reference to check the "
                     "GPU's results against)")};
};
void buildLowerToCUDAPipeline(OpPassManager &pm,
                              const LowerToCUDAPipelineOptions &options);
void registerLowerToCUDAPipeline();

} // namespace mlir::autopar

#endif // AUTOPAR_TRANSFORMS_PASSES_H
