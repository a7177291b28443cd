//===- LowerToCUDAPipeline.cpp - the `autopar-lower-to-cuda` pipeline -----===//
//
// Linalg on tensors to a host program in LLVM that launches GPU kernels,
// with upstream passes: bufferize (function boundaries included), free
// buffers, allocate every buffer in memory both host and GPU can address
// (autopar-allocs-to-gpu), turn each linalg op into parallel loops tiled
// into blocks of threads (reduction loops run inside a thread), outline
// the kernels, lower them to NVVM and compile them for the chip
// (gpu-module-to-binary: the LLVM NVPTX backend, then ptxas from the CUDA
// toolkit for `format=fatbin` or `bin`; `format=isa` keeps PTX and needs no
// toolkit), and lower the host code to LLVM. The launches call the
// `mgpu*` entry points that libautopar_cuda_runtime implements
// (lib/Runtime/CUDARuntime.cpp).
//
// Matmul-like contractions go to cuBLAS (autopar-contractions-to-cublas),
// 2-D convolutions and their gradients to cuDNN
// (autopar-convolutions-to-cudnn), collectives to NCCL
// (autopar-lower-collectives-to-nccl).
//
//===----------------------------------------------------------------------===//

#include "autopar/Dialect/AutoparOps.h"
#include "autopar/Conversion/Passes.h"
#include "autopar/Conversion/RuntimeCalls.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/LLVMIR/Transforms/Passes.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Transforms/Passes.h"
#include "mlir/Dialect/SCF/Utils/Utils.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

#include <cstdlib>
#include <numeric>

namespace mlir::autopar {
#define GEN_PASS_DEF_STRIPCOMPILETIMES
#define GEN_PASS_DEF_HOSTFUNCTIONSTOLOOPS
#define GEN_PASS_DEF_MERGEGPUMODULES
#define GEN_PASS_DEF_COLLAPSEPARALLELLOOPS
#define GEN_PASS_DEF_GUARDASSERTS
#include "autopar/Conversion/Passes.h.inc"
} // namespace mlir::autopar

using namespace mlir;
using namespace mlir::autopar;

namespace {
struct HostFunctionsToLoopsPass
    : public mlir::autopar::impl::HostFunctionsToLoopsBase<
          HostFunctionsToLoopsPass> {
  using HostFunctionsToLoopsBase::HostFunctionsToLoopsBase;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    for (const std::string &name : functions) {
      auto func = module.lookupSymbol<func::FuncOp>(name);
      if (!func) {
        module.emitError() << "autopar-host-functions-to-loops: no function @"
                           << name;
        return signalPassFailure();
      }
      OpPassManager loops(func::FuncOp::getOperationName());
      loops.addPass(createConvertLinalgToLoopsPass());
      if (failed(runPipeline(loops, func)))
        return signalPassFailure();
    }
  }
};

struct MergeGpuModulesPass
    : public mlir::autopar::impl::MergeGpuModulesBase<MergeGpuModulesPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<gpu::GPUModuleOp> kernels(module.getOps<gpu::GPUModuleOp>());
    if (kernels.size() < 2)
      return;
    OpBuilder builder(kernels.front());
    SymbolTable table(module);
    auto merged =
        gpu::GPUModuleOp::create(builder, module.getLoc(), "autopar_kernels");
    table.insert(merged); // made unique if the name is taken
    SymbolTable mergedTable(merged);
    // Each kernel renamed after its module (unique in the host module).
    DenseMap<SymbolRefAttr, SymbolRefAttr> moved;
    for (gpu::GPUModuleOp kernelModule : kernels) {
      StringAttr moduleName = kernelModule.getSymNameAttr();
      for (Operation &op :
           llvm::make_early_inc_range(kernelModule.getBody()->getOperations())) {
        auto symbol = dyn_cast<SymbolOpInterface>(op);
        if (!symbol)
          continue;
        auto func = dyn_cast<gpu::GPUFuncOp>(op);
        if (func && func.isKernel()) {
          SymbolRefAttr from = SymbolRefAttr::get(
              moduleName, {FlatSymbolRefAttr::get(func.getNameAttr())});
          func.setName(moduleName);
          op.moveBefore(merged.getBody(), merged.getBody()->end());
          mergedTable.insert(&op);
          moved[from] = SymbolRefAttr::get(
              merged.getSymNameAttr(),
              {FlatSymbolRefAttr::get(func.getNameAttr())});
          continue;
        }
        // A helper copied into several modules: one copy.
        if (mergedTable.lookup(symbol.getNameAttr()))
          continue;
        op.moveBefore(merged.getBody(), merged.getBody()->end());
        mergedTable.insert(&op);
      }
    }
    module.walk([&](gpu::LaunchFuncOp launch) {
      if (SymbolRefAttr to = moved.lookup(launch.getKernel()))
        launch.setKernelAttr(to);
    });
    for (gpu::GPUModuleOp kernelModule : kernels)
      kernelModule.erase();
  }
};

struct GuardAssertsPass
    : public mlir::autopar::impl::GuardAssertsBase<GuardAssertsPass> {
  void runOnOperation() override {
    SmallVector<cf::AssertOp> asserts;
    getOperation()->walk([&](cf::AssertOp assertOp) {
      if (assertOp->getParentOfType<scf::ParallelOp>())
        asserts.push_back(assertOp);
    });
    IRRewriter rewriter(&getContext());
    for (cf::AssertOp assertOp : asserts) {
      Location loc = assertOp.getLoc();
      rewriter.setInsertionPoint(assertOp);
      Value yes = arith::ConstantIntOp::create(rewriter, loc, 1, 1);
      Value failed =
          arith::XOrIOp::create(rewriter, loc, assertOp.getArg(), yes);
      auto branch = scf::IfOp::create(rewriter, loc, failed,
                                      /*withElseRegion=*/false);
      rewriter.setInsertionPoint(branch.thenBlock()->getTerminator());
      Value no = arith::ConstantIntOp::create(rewriter, loc, 0, 1);
      cf::AssertOp::create(rewriter, loc, no, assertOp.getMsg());
      rewriter.eraseOp(assertOp);
    }
  }
};

struct CollapseParallelLoopsPass
    : public mlir::autopar::impl::CollapseParallelLoopsBase<
          CollapseParallelLoopsPass> {
  void runOnOperation() override {
    SmallVector<scf::ParallelOp> loops;
    getOperation()->walk([&](scf::ParallelOp loop) {
      if (loop.getNumLoops() > 1 && loop.getNumResults() == 0 &&
          !loop->getParentOfType<scf::ParallelOp>())
        loops.push_back(loop);
    });
    IRRewriter rewriter(&getContext());
    for (scf::ParallelOp loop : loops) {
      std::vector<unsigned> dimensions(loop.getNumLoops());
      std::iota(dimensions.begin(), dimensions.end(), 0);
      rewriter.setInsertionPoint(loop);
      collapseParallelLoops(rewriter, loop, {dimensions});
    }
  }
};

struct StripCompileTimesPass
    : public mlir::autopar::impl::StripCompileTimesBase<StripCompileTimesPass> {
  void runOnOperation() override {
    getOperation().walk([](gpu::BinaryOp binary) {
      SmallVector<Attribute> objects;
      for (Attribute attr : binary.getObjectsAttr()) {
        auto object = dyn_cast<gpu::ObjectAttr>(attr);
        DictionaryAttr properties =
            object ? object.getProperties() : DictionaryAttr();
        if (!properties) {
          objects.push_back(attr);
          continue;
        }
        SmallVector<NamedAttribute> kept;
        for (NamedAttribute property : properties)
          if (!property.getName().getValue().ends_with("TimeInMs"))
            kept.push_back(property);
        objects.push_back(gpu::ObjectAttr::get(
            object.getContext(), object.getTarget(), object.getFormat(),
            object.getObject(), DictionaryAttr::get(object.getContext(), kept),
            object.getKernels()));
      }
      binary.setObjectsAttr(ArrayAttr::get(binary.getContext(), objects));
    });
  }
};
} // namespace

/// libdevice in the CUDA toolkit: `toolkit`, else $CUDA_ROOT, $CUDA_HOME,
/// $CUDA_PATH, else /usr/local/cuda.
static std::optional<std::string> findLibdevice(StringRef toolkit) {
  SmallVector<std::string> roots;
  if (!toolkit.empty())
    roots.push_back(toolkit.str());
  for (const char *name : {"CUDA_ROOT", "CUDA_HOME", "CUDA_PATH"})
    if (const char *value = std::getenv(name))
      roots.push_back(value);
  roots.push_back("/usr/local/cuda");
  for (const std::string &root : roots) {
    SmallString<256> path(root);
    llvm::sys::path::append(path, "nvvm", "libdevice", "libdevice.10.bc");
    if (llvm::sys::fs::exists(path))
      return path.str().str();
  }
  return std::nullopt;
}

static void buildKernelToNVVMPasses(OpPassManager &pm,
                                    const LowerToCUDAPipelineOptions &options);

void mlir::autopar::buildLowerToCUDAPipeline(
    OpPassManager &pm, const LowerToCUDAPipelineOptions &options) {
  // 16-bit attentions as cuDNN's fused attention, stated on tensors (the
  // others decompose next, in autopar-prepare-lowering).
  if (options.cudnn && options.cudnnAttention) {
    AttentionToCUDNNOptions attention;
    attention.hostFunctions.assign(options.hostFunctions.begin(),
                                   options.hostFunctions.end());
    pm.addPass(createAttentionToCUDNN(attention));
  }
  buildBufferizePasses(pm, options.fuse, options.attentionBlockBytes);
  pm.addPass(createLowerLibraryCalls());
  // Collectives of partitioned programs: NCCL calls on GPU buffers (their
  // temporary copies are allocated like every other buffer, next).
  pm.addPass(createLowerCollectivesToNCCL());
  // Host copies as kernels (stream order, device memory); the reference's
  // then become host loops with the rest of it.
  pm.addPass(createCopiesToKernels());
  if (!options.hostFunctions.empty()) {
    HostFunctionsToLoopsOptions host;
    host.functions.assign(options.hostFunctions.begin(),
                          options.hostFunctions.end());
    pm.addPass(createHostFunctionsToLoops(host));
  }
  // Library calls first, while buffers are plain allocations with
  // deallocations (the GEMM epilogue's legality check reads them).
  if (options.cublas)
    pm.addPass(createContractionsToCUBLAS());
  if (options.cudnn)
    pm.addPass(createConvolutionsToCUDNN());

  // Long row reductions (softmax, LayerNorm) and the elementwise ops over
  // their rows that read them: a kernel with a block per row.
  if (options.rowKernels && options.fuse) {
    RowKernelsOptions rows;
    rows.minRows = options.rowMinRows;
    rows.minLength = options.rowMinLength;
    rows.report = options.rowReport;
    pm.addNestedPass<func::FuncOp>(createRowKernels(rows));
  }
  // Each linalg op: parallel loops, tiled into blocks of threads (constant
  // block bounds, a guard for the remainder), mapped to the GPU.
  int64_t threads = std::max<int64_t>(1, options.blockThreads);
  buildParallelLoopPasses(pm, options.fuse, threads, options.gpuThreads);
  OpPassManager &func = pm.nest<func::FuncOp>();
  func.addPass(createCollapseParallelLoops());
  // The collapsed trip counts and strides as constants (kernels then split
  // the index by constants, not by arguments).
  func.addPass(createCanonicalizerPass());
  func.addPass(
      createParallelLoopTilingPass({threads}, /*noMinMaxBounds=*/true));
  // What is left on the host of a function's compute (scalar loops and
  // 0-d updates) as one-thread kernels, in stream order.
  HostComputeToKernelsOptions hostCompute;
  hostCompute.functions.assign(options.hostFunctions.begin(),
                               options.hostFunctions.end());
  pm.addPass(createHostComputeToKernels(hostCompute));
  OpPassManager &mapping = pm.nest<func::FuncOp>();
  // (No canonicalization here: it would merge the block and thread loops
  // into one, which then maps to blocks only.)
  // Index checks (torch-mlir's gathers) in branches, which the loops'
  // conversion to launches takes.
  mapping.addPass(createGuardAsserts());
  mapping.addPass(createGpuMapParallelLoopsPass());
  mapping.addPass(createConvertParallelLoopToGpuPass());
  // Constants and index arithmetic into the launches, so that a kernel's
  // parameters are its buffers and the values it computes from (the
  // merged kernels' budget in Analysis/Fusion.h counts only those).
  pm.addPass(createGpuLaunchSinkIndexComputationsPass());
  pm.addPass(createGpuKernelOutliningPass());
  // One kernel module, compiled once (libdevice linked once, one ptxas).
  if (options.mergeKernels)
    pm.addPass(createMergeGpuModules());
  // Host code, once it only launches kernels and calls libraries: each
  // buffer in device memory (the stream-ordered pool) or managed memory,
  // launches in stream order, the host waiting only where it touches a
  // buffer.
  pm.addPass(createAllocsToGPU());
  pm.addPass(createOrderOnStream());
  if (!options.graphFunctions.empty()) {
    CaptureGraphsOptions graphs;
    graphs.functions.assign(options.graphFunctions.begin(),
                            options.graphFunctions.end());
    pm.addPass(createCaptureGraphs(graphs));
  }
  // Emulation: the kernels as host functions, launched by loops, for the
  // runtime built against host implementations of the CUDA libraries.
  if (options.emulate)
    pm.addPass(createEmulateGpuKernels());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createSCFToControlFlowPass());

  // Kernels: NVVM, then a binary for the chip.
  if (!options.emulate)
    buildKernelToNVVMPasses(pm, options);

  // Host: launches and allocations to the mgpu* runtime, the rest to LLVM.
  pm.addPass(createStripAnnotations());
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createConvertMathToLibmPass());
  pm.addPass(createGpuToLLVMConversionPass());
  if (!options.emulate) {
    GpuModuleToBinaryPassOptions binary;
    binary.compilationTarget = options.format;
    binary.toolkitPath = options.toolkit;
    // ptxas compiles the one kernel module on several threads (0: all
    // CPUs).
    if (options.ptxasThreads != 1 && options.format != "isa")
      binary.cmdOptions =
          "--split-compile=" +
          std::to_string(std::max<int64_t>(0, options.ptxasThreads));
    pm.addPass(createGpuModuleToBinaryPass(binary));
    pm.addPass(createStripCompileTimes());
  }
  buildHostToLLVMPasses(pm);
}

/// The kernel modules to NVVM, for the chip `options` names.
static void buildKernelToNVVMPasses(OpPassManager &pm,
                                    const LowerToCUDAPipelineOptions &options) {
  GpuNVVMAttachTargetOptions target;
  target.chip = options.chip;
  target.features = options.features;
  target.optLevel = options.optLevel;
  // Math functions in kernels (sqrt, exp, tanh, ...) become calls into
  // libdevice, which is linked from the toolkit.
  if (std::optional<std::string> libdevice = findLibdevice(options.toolkit))
    target.linkLibs.push_back(*libdevice);
  pm.addPass(createGpuNVVMAttachTarget(target));
  OpPassManager &kernels = pm.nest<gpu::GPUModuleOp>();
  // Views made inside a kernel (a scatter-add's column of its destination)
  // as address arithmetic NVVM's conversion takes.
  kernels.addPass(memref::createExpandStridedMetadataPass());
  kernels.addPass(createLowerAffinePass());
  kernels.addPass(createConvertGpuOpsToNVVMOps());
  kernels.addPass(createCanonicalizerPass());
  kernels.addPass(createReconcileUnrealizedCastsPass());
}

void mlir::autopar::registerLowerToCUDAPipeline() {
  PassPipelineRegistration<LowerToCUDAPipelineOptions>(
      "autopar-lower-to-cuda",
      "Lower linalg on tensors to a host program in LLVM that launches "
      "kernels compiled for an NVIDIA GPU (default sm_90); it calls "
      "libautopar_cuda_runtime",
      buildLowerToCUDAPipeline);
}
