//===- Passes.h - autopar lowerings to runtimes and GPU code ----*- C++ -*-===//

#ifndef AUTOPAR_CONVERSION_PASSES_H
#define AUTOPAR_CONVERSION_PASSES_H

#include "autopar/Analysis/Fusion.h"
#include "autopar/Analysis/Reductions.h"
#include "autopar/Dialect/AutoparDialect.h"
#include "autopar/Dialect/AutoparOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir::autopar {
#define GEN_PASS_DECL
#include "autopar/Conversion/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "autopar/Conversion/Passes.h.inc"

/// `autopar-lower-to-cpu`: linalg on tensors to LLVM for the host CPU.
/// Removes what only the compiler needed once a program is lowered: autopar
/// argument, result and function attributes, meshes, the module's plan and
/// target. With `keepBufferFacts`, the arguments' `autopar.in_place` and
/// runtime functions' `autopar.stream_ordered` stay (what later buffer and
/// stream passes still ask, Buffers.h, RuntimeCalls.h; the last strip
/// before LLVM removes them).
void stripAutoparAnnotations(ModuleOp module, bool keepBufferFacts = false);

/// What both backends start with: ops bufferization cannot take rewritten,
/// elementwise producers fused into their users (`fuse`), one-shot
/// bufferization (function boundaries included, identity layouts) and
/// buffer deallocation.
void buildBufferizePasses(OpPassManager &pm, bool fuse = true,
                          int64_t attentionBlockBytes = kAttentionBlockBytes);
/// Both backends' loops: each linalg op on buffers as a nest of parallel
/// loops (reductions inside), nests fused (autopar-fuse-parallel-loops,
/// merged parts starting at multiples of `align`) when `fuse`. The CUDA
/// backend maps each nest left to a kernel; the CPU backend runs them in
/// sequence.
void buildParallelLoopPasses(OpPassManager &pm, bool fuse, int64_t align = 1,
                             int64_t gpuThreads = 0);
/// What both backends end with: host memrefs, arith, func, control flow
/// and index to LLVM, casts reconciled. With `countAllocations`, buffers are
/// allocated and freed through `_mlir_memref_to_llvm_alloc`,
/// `_aligned_alloc` and `_free`, which the CPU runtime defines to count
/// the bytes held (autopar-run's peak memory per step).
void buildHostToLLVMPasses(OpPassManager &pm, bool countAllocations = false);

/// Options of the `autopar-lower-to-cpu` pipeline.
struct LowerToCPUPipelineOptions
    : public PassPipelineOptions<LowerToCPUPipelineOptions> {
  PassOptions::Option<bool> countAllocations{
      *this, "count-allocations",
      llvm::cl::desc("Allocate buffers through the CPU runtime's counting "
                     "functions (_mlir_memref_to_llvm_alloc and free) instead "
                     "of malloc and free"),
      llvm::cl::init(false)};
  PassOptions::Option<bool> fuse{
      *this, "fuse",
      llvm::cl::desc("Fuse: elementwise producers inside their users' loops "
                     "(autopar-fuse-elementwise), loop nests that line up "
                     "or touch disjoint buffers (autopar-fuse-parallel-loops)"),
      llvm::cl::init(true)};
  PassOptions::Option<int64_t> attentionBlockBytes{
      *this, "attention-block-bytes",
      llvm::cl::desc("Bytes one score-sized buffer of an attention may take "
                     "(autopar-prepare-lowering; 0: no limit)"),
      llvm::cl::init(kAttentionBlockBytes)};
};

void buildLowerToCPUPipeline(OpPassManager &pm,
                             const LowerToCPUPipelineOptions &options = {});
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
  PassOptions::Option<int64_t> blockThreads{
      *this, "block-threads",
      llvm::cl::desc("Threads per block of every kernel (each loop nest "
                     "collapsed to one dimension, then tiled by this)"),
      llvm::cl::init(256)};
  PassOptions::Option<int64_t> gpuThreads{
      *this, "gpu-threads",
      llvm::cl::desc("Threads the GPU runs at once (SMs x 2048: 132 x 2048 "
                     "on an H100 or H200); reductions whose threads would "
                     "each combine long chains are split to use them "
                     "(autopar-reductions-inner; 0: off)"),
      llvm::cl::init(270336)};
  PassOptions::Option<bool> rowKernels{
      *this, "row-kernels",
      llvm::cl::desc("A block per row for long row reductions and the "
                     "elementwise ops over the same rows that read them "
                     "(autopar-row-kernels)"),
      llvm::cl::init(true)};
  PassOptions::Option<int64_t> rowMinRows{
      *this, "row-min-rows",
      llvm::cl::desc("Rows a reduction needs to become a row kernel"),
      llvm::cl::init(kRowKernelMinRows)};
  PassOptions::Option<int64_t> rowMinLength{
      *this, "row-min-length",
      llvm::cl::desc("Elements a row needs to become a row kernel"),
      llvm::cl::init(kRowKernelMinLength)};
  PassOptions::Option<bool> rowReport{
      *this, "row-report",
      llvm::cl::desc("A remark at each row kernel (autopar-row-kernels' "
                     "report)"),
      llvm::cl::init(false)};
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
  PassOptions::Option<bool> fuse{
      *this, "fuse",
      llvm::cl::desc("Fuse: elementwise producers inside their users' "
                     "kernels (autopar-fuse-elementwise), loop nests that "
                     "line up or touch disjoint buffers "
                     "(autopar-fuse-parallel-loops)"),
      llvm::cl::init(true)};
  PassOptions::Option<int64_t> attentionBlockBytes{
      *this, "attention-block-bytes",
      llvm::cl::desc("Bytes one score-sized buffer of an attention may take "
                     "(autopar-prepare-lowering; 0: no limit)"),
      llvm::cl::init(kAttentionBlockBytes)};
  PassOptions::Option<bool> cublas{
      *this, "cublas",
      llvm::cl::desc("Run contractions through cuBLAS (else as kernels)"),
      llvm::cl::init(true)};
  PassOptions::Option<bool> cudnn{
      *this, "cudnn",
      llvm::cl::desc("Run 2-D convolutions through cuDNN (else as kernels; "
                     "for a runtime built without cuDNN)"),
      llvm::cl::init(true)};
  PassOptions::Option<bool> cudnnAttention{
      *this, "cudnn-attention",
      llvm::cl::desc("Run 16-bit attentions as cuDNN's fused flash "
                     "attention (autopar-attention-to-cudnn; else "
                     "decomposed into products and row kernels)"),
      llvm::cl::init(true)};
  PassOptions::Option<bool> emulate{
      *this, "emulate",
      llvm::cl::desc(
          "Run the kernels on the host (autopar-emulate-gpu-kernels) "
          "instead of compiling them for the GPU: for the CUDA "
          "runtime built against host implementations of the "
          "CUDA libraries (libautopar_cuda_emulated_runtime)"),
      llvm::cl::init(false)};
  PassOptions::ListOption<std::string> hostFunctions{
      *this, "host-functions",
      llvm::cl::desc("Functions to run on the host CPU, compiled as the CPU "
                     "backend compiles them (e.g. a reference to check the "
                     "GPU's results against)")};
  PassOptions::ListOption<std::string> graphFunctions{
      *this, "graph-functions",
      llvm::cl::desc("Functions whose GPU work is captured once into a CUDA "
                     "graph and replayed at later calls "
                     "(autopar-capture-graphs)")};
};
void buildLowerToCUDAPipeline(OpPassManager &pm,
                              const LowerToCUDAPipelineOptions &options);
void registerLowerToCUDAPipeline();

} // namespace mlir::autopar

#endif // AUTOPAR_CONVERSION_PASSES_H
