//===- EmulateKernels.cpp - GPU kernels run on the host -------------------===//
//
// autopar-emulate-gpu-kernels: the CUDA backend's outlined kernels as host
// functions and their launches as loops over the grid and the block, so
// that the program autopar-lower-to-cuda builds (its kernels, its library
// calls, its stream order and its memory placement) runs on a machine
// without a GPU, against the CUDA runtime built with host implementations
// of the CUDA libraries (lib/Runtime/CUDAEmulator.cpp). Threads run one
// after another: kernels that synchronise their threads or share memory
// between them are refused, by name.
//
//===----------------------------------------------------------------------===//

#include "autopar/Conversion/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/StringMap.h"

namespace mlir::autopar {
#define GEN_PASS_DEF_EMULATEGPUKERNELS
#include "autopar/Conversion/Passes.h.inc"
} // namespace mlir::autopar

using namespace mlir;
using namespace mlir::autopar;

namespace {

/// The emulated kernel's trailing arguments: block index, thread index,
/// block size and grid size, x y z each.
enum IndexArg { kBlockId = 0, kThreadId = 3, kBlockDim = 6, kGridDim = 9 };
constexpr unsigned kIndexArgs = 12;

unsigned getDimension(gpu::Dimension dimension) {
  return static_cast<unsigned>(dimension);
}

/// Makes `kernel` a host function in `module` (its body moved), the index
/// operations reading the trailing arguments.
FailureOr<func::FuncOp> emulateKernel(gpu::GPUFuncOp kernel,
                                      StringRef moduleName, ModuleOp module,
                                      SymbolTable &table) {
  if (kernel.getNumWorkgroupAttributions() ||
      kernel.getNumPrivateAttributions())
    return kernel.emitError()
           << "autopar-emulate-gpu-kernels: kernel @" << kernel.getName()
           << " uses shared or private memory attributions; its threads "
              "cannot run one after another";
  MLIRContext *context = module.getContext();
  Type index = IndexType::get(context);
  SmallVector<Type> inputs(kernel.getArgumentTypes());
  inputs.append(kIndexArgs, index);
  OpBuilder builder(context);
  builder.setInsertionPointToEnd(module.getBody());
  auto func = func::FuncOp::create(
      builder, kernel.getLoc(),
      ("__autopar_emulated_" + moduleName + "_" + kernel.getName()).str(),
      FunctionType::get(context, inputs, {}));
  func.setPrivate();
  table.insert(func); // renamed if the name is taken
  func.getBody().takeBody(kernel.getBody());
  Block &entry = func.getBody().front();
  SmallVector<Value> indices;
  for (unsigned i = 0; i < kIndexArgs; ++i)
    indices.push_back(entry.addArgument(index, kernel.getLoc()));

  // Everything of the GPU dialect in the body: the index operations read
  // the arguments; a return returns; anything else cannot run on the host.
  WalkResult result = func.walk([&](Operation *op) -> WalkResult {
    if (!isa<gpu::GPUDialect>(op->getDialect()))
      return WalkResult::advance();
    OpBuilder at(op);
    Value replacement;
    if (auto id = dyn_cast<gpu::BlockIdOp>(op))
      replacement = indices[kBlockId + getDimension(id.getDimension())];
    else if (auto id = dyn_cast<gpu::ThreadIdOp>(op))
      replacement = indices[kThreadId + getDimension(id.getDimension())];
    else if (auto dim = dyn_cast<gpu::BlockDimOp>(op))
      replacement = indices[kBlockDim + getDimension(dim.getDimension())];
    else if (auto dim = dyn_cast<gpu::GridDimOp>(op))
      replacement = indices[kGridDim + getDimension(dim.getDimension())];
    else if (auto id = dyn_cast<gpu::GlobalIdOp>(op)) {
      unsigned d = getDimension(id.getDimension());
      Value base = arith::MulIOp::create(
          at, op->getLoc(), indices[kBlockId + d], indices[kBlockDim + d]);
      replacement =
          arith::AddIOp::create(at, op->getLoc(), base, indices[kThreadId + d]);
    } else if (isa<gpu::ReturnOp>(op)) {
      func::ReturnOp::create(at, op->getLoc());
      op->erase();
      return WalkResult::skip();
    } else {
      op->emitError() << "autopar-emulate-gpu-kernels: '" << op->getName()
                      << "' in kernel @" << kernel.getName()
                      << " cannot run on the host one thread after another";
      return WalkResult::interrupt();
    }
    op->getResult(0).replaceAllUsesWith(replacement);
    op->erase();
    return WalkResult::skip();
  });
  if (result.wasInterrupted())
    return failure();
  return func;
}

struct EmulateGpuKernelsPass
    : public mlir::autopar::impl::EmulateGpuKernelsBase<EmulateGpuKernelsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SymbolTable table(module);
    // Kernels by module and name; other symbols of a kernel module (globals
    // its kernels read) move to the host module under a unique name.
    llvm::StringMap<llvm::StringMap<func::FuncOp>> emulated;
    SmallVector<gpu::GPUModuleOp> kernelModules(
        module.getOps<gpu::GPUModuleOp>());
    for (gpu::GPUModuleOp kernelModule : kernelModules) {
      StringRef moduleName = kernelModule.getSymName();
      for (Operation &op : llvm::make_early_inc_range(
               kernelModule.getBody()->getOperations())) {
        if (auto kernel = dyn_cast<gpu::GPUFuncOp>(op)) {
          if (!kernel.isKernel()) {
            kernel.emitError() << "autopar-emulate-gpu-kernels: device "
                                  "function @"
                               << kernel.getName() << " is not emulated";
            return signalPassFailure();
          }
          FailureOr<func::FuncOp> func =
              emulateKernel(kernel, moduleName, module, table);
          if (failed(func))
            return signalPassFailure();
          emulated[moduleName][kernel.getName()] = *func;
          continue;
        }
        auto symbol = dyn_cast<SymbolOpInterface>(op);
        if (!symbol)
          continue;
        StringAttr oldName = symbol.getNameAttr();
        op.moveBefore(module.getBody(), module.getBody()->end());
        StringAttr newName = table.insert(&op);
        if (newName == oldName)
          continue;
        // Renamed: in the kernels emulated so far and in those still in the
        // module.
        for (auto &[name, func] : emulated[moduleName])
          if (failed(SymbolTable::replaceAllSymbolUses(oldName, newName, func)))
            return signalPassFailure();
        if (failed(SymbolTable::replaceAllSymbolUses(oldName, newName,
                                                     kernelModule)))
          return signalPassFailure();
      }
    }

    // Each launch: loops over the grid and the block calling the kernel, at
    // the launch's place in the host code.
    SmallVector<gpu::LaunchFuncOp> launches;
    module.walk([&](gpu::LaunchFuncOp launch) { launches.push_back(launch); });
    for (gpu::LaunchFuncOp launch : launches) {
      func::FuncOp func;
      auto kernels = emulated.find(launch.getKernelModuleName());
      if (kernels != emulated.end())
        func = kernels->second.lookup(launch.getKernelName());
      if (!func) {
        launch.emitError() << "autopar-emulate-gpu-kernels: no kernel "
                           << launch.getKernel();
        return signalPassFailure();
      }
      if (Value shared = launch.getDynamicSharedMemorySize()) {
        std::optional<int64_t> bytes = getConstantIntValue(shared);
        if (!bytes || *bytes != 0) {
          launch.emitError() << "autopar-emulate-gpu-kernels: a launch with "
                                "dynamic shared memory is not emulated";
          return signalPassFailure();
        }
      }
      if (launch.hasClusterSize()) {
        launch.emitError() << "autopar-emulate-gpu-kernels: a launch with "
                              "thread block clusters is not emulated";
        return signalPassFailure();
      }
      OpBuilder builder(launch);
      Location loc = launch.getLoc();
      Value zero = arith::ConstantIndexOp::create(builder, loc, 0);
      Value one = arith::ConstantIndexOp::create(builder, loc, 1);
      gpu::KernelDim3 grid = launch.getGridSizeOperandValues();
      gpu::KernelDim3 block = launch.getBlockSizeOperandValues();
      SmallVector<Value> bounds = {grid.z,  grid.y,  grid.x,
                                   block.z, block.y, block.x};
      SmallVector<Value> ivs;
      {
        OpBuilder::InsertionGuard guard(builder);
        for (Value bound : bounds) {
          auto loop = scf::ForOp::create(builder, loc, zero, bound, one);
          builder.setInsertionPointToStart(loop.getBody());
          ivs.push_back(loop.getInductionVar());
        }
        SmallVector<Value> operands(launch.getKernelOperands());
        operands.append({ivs[2], ivs[1], ivs[0], ivs[5], ivs[4], ivs[3],
                         block.x, block.y, block.z, grid.x, grid.y, grid.z});
        func::CallOp::create(builder, loc, func, operands);
      }
      // The launch's place in stream order: its dependencies (the host has
      // run the kernel by now).
      if (Value token = launch.getAsyncToken()) {
        ValueRange deps = launch.getAsyncDependencies();
        Value after;
        if (deps.size() == 1) {
          after = deps.front();
        } else {
          after =
              gpu::WaitOp::create(builder, loc,
                                  builder.getType<gpu::AsyncTokenType>(), deps)
                  .getAsyncToken();
        }
        token.replaceAllUsesWith(after);
      }
      launch.erase();
    }
    for (gpu::GPUModuleOp kernelModule : kernelModules)
      kernelModule.erase();

    // The real path loads the kernels' modules in global constructors
    // (gpu.binary's); the emulated runtime insists that the program's
    // constructors ran too (autopar_cuda_emulated_load before the first
    // CUDA call), so that a driver skipping them fails here as it would
    // on a GPU.
    MLIRContext *context = module.getContext();
    if (!table.lookup("__autopar_emulated_load")) {
      Location loc = module.getLoc();
      OpBuilder builder = OpBuilder::atBlockEnd(module.getBody());
      auto type =
          LLVM::LLVMFunctionType::get(LLVM::LLVMVoidType::get(context), {});
      auto load = LLVM::LLVMFuncOp::create(builder, loc,
                                           "autopar_cuda_emulated_load", type);
      auto ctor = LLVM::LLVMFuncOp::create(builder, loc,
                                           "__autopar_emulated_load", type);
      {
        OpBuilder::InsertionGuard guard(builder);
        builder.setInsertionPointToStart(ctor.addEntryBlock(builder));
        LLVM::CallOp::create(builder, loc, load, ValueRange{});
        LLVM::ReturnOp::create(builder, loc, ValueRange{});
      }
      LLVM::GlobalCtorsOp::create(
          builder, loc, builder.getArrayAttr({FlatSymbolRefAttr::get(ctor)}),
          builder.getI32ArrayAttr({0}),
          builder.getArrayAttr({LLVM::ZeroAttr::get(context)}));
    }
  }
};
} // namespace
