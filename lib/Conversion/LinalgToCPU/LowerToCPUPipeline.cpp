//===- LowerToCPUPipeline.cpp - the `autopar-lower-to-cpu` pipeline -------===//
//
// Linalg on tensors to LLVM for the host CPU, with upstream passes only:
// bufferize (function boundaries included), free buffers, loops, then every
// dialect to LLVM. The tests run its output with mlir-runner; the CPU
// backend of the partitioned program reuses it.
//
//===----------------------------------------------------------------------===//

#include "autopar/Conversion/Passes.h"
#include "autopar/Import/Passes.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Dialect/SCF/Transforms/Passes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

void mlir::autopar::buildBufferizePasses(OpPassManager &pm, bool fuse,
                                         int64_t attentionBlockBytes) {
  pm.addPass(createImport());
  PrepareLoweringOptions prepare;
  prepare.attentionBlockBytes = attentionBlockBytes;
  pm.addPass(createPrepareLowering(prepare));
  if (fuse)
    pm.addPass(createFuseElementwise());
  // A private step's updates computed into the arguments they replace:
  // written in place where bufferization finds nothing reading the
  // argument after them, the results then dropped (below).
  pm.addPass(createUpdateInPlace());
  bufferization::OneShotBufferizePassOptions bufferize;
  bufferize.bufferizeFunctionBoundaries = true;
  bufferize.functionBoundaryTypeConversion =
      bufferization::LayoutMapOption::IdentityLayoutMap;
  // A loop may carry values its body makes anew (autopar-run's driver
  // carries a training step's state from step to step; each iteration's
  // inputs are then freed when the next ones exist).
  bufferize.allowReturnAllocsFromLoops = true;
  pm.addPass(bufferization::createOneShotBufferizePass(bufferize));
  // A pipeline stage's updates come out of a switch over the stages whose
  // every case yields the argument's buffer (updated there in place, or
  // passed through): canonicalization forwards the argument.
  pm.addNestedPass<func::FuncOp>(createCanonicalizerPass());
  // Results that are their function's argument (the updates above) go:
  // the callers use the argument's buffer, and the deallocation pipeline
  // does not copy them into buffers the callers own.
  pm.addPass(bufferization::createDropEquivalentBufferResultsPass());
  // Upstream's buffer-deallocation-pipeline, but for its simplification:
  // a function marked autopar.runtime_deallocation (autopar-run's driver)
  // keeps its deallocations' run-time alias checks.
  OpPassManager &funcs = pm.nest<func::FuncOp>();
  memref::ExpandReallocPassOptions realloc;
  realloc.emitDeallocs = false;
  funcs.addPass(memref::createExpandReallocPass(realloc));
  funcs.addPass(createCanonicalizerPass());
  funcs.addPass(bufferization::createOwnershipBasedBufferDeallocationPass());
  funcs.addPass(createCanonicalizerPass());
  funcs.addPass(createSimplifyDeallocations());
  pm.addPass(bufferization::createLowerDeallocationsPass());
  pm.addNestedPass<func::FuncOp>(createCSEPass());
  pm.addNestedPass<func::FuncOp>(createCanonicalizerPass());
  // Copies the deallocation pipeline keeps (a function returning its
  // argument) as allocations and copies.
  pm.addPass(createConvertBufferizationToMemRefPass());
  // Each buffer freed after its last use, not at the end of its block.
  pm.addPass(createFreeBuffersEarly());
}

void mlir::autopar::buildParallelLoopPasses(OpPassManager &pm, bool fuse,
                                            int64_t align, int64_t gpuThreads) {
  OpPassManager &func = pm.nest<func::FuncOp>();
  // Parallel loops first: one scf.parallel (the GPU's blocks and threads)
  // around each op's reductions, never a host loop around it.
  ReductionsInnerOptions reductions;
  reductions.gpuThreads = gpuThreads;
  func.addPass(createReductionsInner(reductions));
  func.addPass(createConvertLinalgToParallelLoopsPass());
  // scf.forall loops (a scatter-add's) as scf.parallel, mapped alike.
  func.addPass(createForallToParallelLoopPass());
  if (!fuse)
    return;
  // Neighbouring loop nests over the same bounds whose accesses line up
  // become one: a fill and the reduction that accumulates into it, an
  // elementwise op and the next one reading its result at the same index.
  // Neighbouring nests on disjoint buffers (the optimizer's update of each
  // parameter) run as one.
  FuseParallelLoopsOptions loops;
  loops.align = align;
  func.addPass(createFuseParallelLoops(loops));
}

void mlir::autopar::buildHostToLLVMPasses(OpPassManager &pm,
                                          bool countAllocations) {
  FinalizeMemRefToLLVMConversionPassOptions memref;
  memref.useGenericFunctions = countAllocations;
  pm.addPass(createFinalizeMemRefToLLVMConversionPass(memref));
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createConvertFuncToLLVMPass());
  pm.addPass(createConvertControlFlowToLLVMPass());
  pm.addPass(createConvertIndexToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
}

void mlir::autopar::buildLowerToCPUPipeline(
    OpPassManager &pm, const LowerToCPUPipelineOptions &options) {
  buildBufferizePasses(pm, options.fuse, options.attentionBlockBytes);
  // Collectives of partitioned programs: calls to the MPI runtime.
  pm.addPass(createLowerCollectivesToMPI());
  // The loops the CUDA backend makes kernels of, run in sequence.
  buildParallelLoopPasses(pm, options.fuse);
  // What the buffer passes still read (autopar.in_place) goes.
  pm.addPass(createStripAnnotations());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createSCFToControlFlowPass());
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  // Math to LLVM intrinsics where they exist (rsqrt among them), the rest
  // (erf, tanh, pow) to libm calls.
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createConvertMathToLibmPass());
  pm.addPass(createConvertVectorToLLVMPass());
  buildHostToLLVMPasses(pm, options.countAllocations);
}

void mlir::autopar::registerLowerToCPUPipeline() {
  PassPipelineRegistration<LowerToCPUPipelineOptions>(
      "autopar-lower-to-cpu",
      "Lower linalg on tensors to LLVM for the host CPU (bufferize, free "
      "buffers, loops, LLVM); run the result with mlir-runner",
      buildLowerToCPUPipeline);
}
