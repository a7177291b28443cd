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
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/StringMap.h"

namespace mlir::autopar {
#define GEN_PASS_DEF_EMULATEGPUKERNELS
#include "autopar/Conversion/Passes.h.inc"
} // namespace mlir::autopar

using namespace mlir;
using namespace mlir::autopar;

namespace {

/// The emulated kernel's trailing arguments: block index, block size and
/// grid size, x y z each.
enum IndexArg { kBlockId = 0, kBlockDim = 3, kGridDim = 6 };
constexpr unsigned kIndexArgs = 9;

unsigned getDimension(gpu::Dimension dimension) {
  return static_cast<unsigned>(dimension);
}

/// Merges `region`'s blocks joined by unconditional branches into their
/// one predecessor (kernel outlining enters the launch's body by a branch).
void mergeBranches(Region &region) {
  IRRewriter rewriter(region.getContext());
  Block &entry = region.front();
  while (auto branch = dyn_cast<cf::BranchOp>(entry.getTerminator())) {
    Block *next = branch.getDest();
    if (next == &entry || !next->getSinglePredecessor())
      break;
    SmallVector<Value> operands(branch.getDestOperands());
    rewriter.eraseOp(branch);
    rewriter.mergeBlocks(next, &entry, operands);
  }
}

/// Makes `kernel` a host function in `module` running one block: its body
/// moved, cut at each `gpu.barrier` into parts that each run for all the
/// block's threads (loops over z, y, x) before the next; shared memory
/// (workgroup attributions) a host buffer per call. A value a part uses
/// from an earlier one is recomputed when its ops have no side effects,
/// else refused (a thread's value would need storage of its own).
FailureOr<func::FuncOp> emulateKernel(gpu::GPUFuncOp kernel,
                                      StringRef moduleName, ModuleOp module,
                                      SymbolTable &table) {
  auto fail = [&](Operation *at, const Twine &why) {
    at->emitError() << "autopar-emulate-gpu-kernels: " << why << " in kernel @"
                    << kernel.getName();
    return failure();
  };
  if (kernel.getNumPrivateAttributions())
    return fail(kernel, "private memory attributions");
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
  unsigned numArguments = kernel.getNumArguments();
  unsigned numShared = kernel.getNumWorkgroupAttributions();
  func.getBody().takeBody(kernel.getBody());
  mergeBranches(func.getBody());
  if (!func.getBody().hasOneBlock())
    return fail(func, "branches between blocks");
  Block &body = func.getBody().front();
  Location loc = kernel.getLoc();

  // The parts between barriers.
  SmallVector<SmallVector<Operation *>> parts(1);
  for (Operation &op : body) {
    if (isa<gpu::BarrierOp>(op)) {
      parts.emplace_back();
      continue;
    }
    parts.back().push_back(&op);
  }
  Operation *terminator = body.getTerminator();
  if (!isa<gpu::ReturnOp>(terminator))
    return fail(terminator, "a terminator other than gpu.return");
  parts.back().pop_back();
  WalkResult nested = func.walk([&](Operation *op) {
    if ((isa<gpu::BarrierOp>(op) && op->getBlock() != &body) ||
        (isa<gpu::ReturnOp>(op) && op != terminator) ||
        isa<gpu::ShuffleOp, gpu::SubgroupReduceOp, gpu::AllReduceOp>(op)) {
      (void)fail(op, "'" + op->getName().getStringRef() +
                         "' inside control flow or across threads");
      return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  if (nested.wasInterrupted())
    return failure();

  // Values a part takes from an earlier one: recomputed at its start.
  DenseMap<Operation *, unsigned> partOf;
  for (auto [number, ops] : llvm::enumerate(parts))
    for (Operation *op : ops)
      partOf[op] = number;
  for (auto [number, ops] : llvm::enumerate(parts)) {
    if (number == 0 || ops.empty())
      continue;
    IRMapping recomputed;
    SmallVector<Operation *> clones;
    OpBuilder at(ops.front());
    std::function<FailureOr<Value>(Value)> recompute =
        [&](Value value) -> FailureOr<Value> {
      Operation *def = value.getDefiningOp();
      if (!def || def->getBlock() != &body || partOf.lookup(def) >= number)
        return value;
      if (Value done = recomputed.lookupOrNull(value))
        return done;
      if (!isMemoryEffectFree(def) || def->getNumRegions())
        return fail(def, "a value from before a barrier with side effects");
      for (Value operand : def->getOperands()) {
        FailureOr<Value> mapped = recompute(operand);
        if (failed(mapped))
          return failure();
        recomputed.map(operand, *mapped);
      }
      clones.push_back(at.clone(*def, recomputed));
      return recomputed.lookup(value);
    };
    for (Operation *op : ops) {
      WalkResult result = op->walk([&](Operation *user) {
        for (OpOperand &operand : user->getOpOperands()) {
          FailureOr<Value> mapped = recompute(operand.get());
          if (failed(mapped))
            return WalkResult::interrupt();
          operand.set(*mapped);
        }
        return WalkResult::advance();
      });
      if (result.wasInterrupted())
        return failure();
    }
    ops.insert(ops.begin(), clones.begin(), clones.end());
  }

  // The arguments: the kernel's, then the indices; shared memory a host
  // buffer of the same shape.
  for (unsigned i = 0; i < kIndexArgs; ++i)
    body.addArgument(index, loc);
  builder.setInsertionPointToStart(&body);
  for (unsigned i = 0; i < numShared; ++i) {
    BlockArgument shared = body.getArgument(numArguments + i);
    auto type = cast<MemRefType>(shared.getType());
    auto host = MemRefType::get(type.getShape(), type.getElementType(),
                                type.getLayout());
    shared.replaceAllUsesWith(memref::AllocaOp::create(builder, loc, host));
  }
  body.eraseArguments(numArguments, numShared);
  SmallVector<Value> args(body.getArguments().take_back(kIndexArgs));

  // Each part in loops over the block's threads, in order.
  Value zero = arith::ConstantIndexOp::create(builder, loc, 0);
  Value one = arith::ConstantIndexOp::create(builder, loc, 1);
  builder.setInsertionPoint(terminator);
  for (ArrayRef<Operation *> ops : parts) {
    if (ops.empty())
      continue;
    OpBuilder::InsertionGuard guard(builder);
    SmallVector<Value> threads(3);
    scf::ForOp outer;
    for (int d = 2; d >= 0; --d) {
      auto loop =
          scf::ForOp::create(builder, loc, zero, args[kBlockDim + d], one);
      if (!outer)
        outer = loop;
      builder.setInsertionPoint(loop.getBody()->getTerminator());
      threads[d] = loop.getInductionVar();
    }
    for (Operation *op : ops)
      op->moveBefore(builder.getInsertionBlock(), builder.getInsertionPoint());
    outer.walk([&](Operation *op) {
      if (auto id = dyn_cast<gpu::ThreadIdOp>(op)) {
        id.replaceAllUsesWith(threads[getDimension(id.getDimension())]);
        id.erase();
      } else if (auto id = dyn_cast<gpu::GlobalIdOp>(op)) {
        unsigned d = getDimension(id.getDimension());
        OpBuilder global(id);
        Value base = arith::MulIOp::create(
            global, id.getLoc(), args[kBlockId + d], args[kBlockDim + d]);
        id.replaceAllUsesWith(
            arith::AddIOp::create(global, id.getLoc(), base, threads[d])
                .getResult());
        id.erase();
      }
    });
  }
  for (auto barrier : llvm::make_early_inc_range(body.getOps<gpu::BarrierOp>()))
    barrier.erase();
  builder.setInsertionPoint(terminator);
  func::ReturnOp::create(builder, terminator->getLoc());
  terminator->erase();

  // The other index operations read the arguments; anything else of the
  // GPU dialect cannot run on the host.
  WalkResult result = func.walk([&](Operation *op) -> WalkResult {
    if (!isa<gpu::GPUDialect>(op->getDialect()))
      return WalkResult::advance();
    Value replacement;
    if (auto id = dyn_cast<gpu::BlockIdOp>(op))
      replacement = args[kBlockId + getDimension(id.getDimension())];
    else if (auto dim = dyn_cast<gpu::BlockDimOp>(op))
      replacement = args[kBlockDim + getDimension(dim.getDimension())];
    else if (auto dim = dyn_cast<gpu::GridDimOp>(op))
      replacement = args[kGridDim + getDimension(dim.getDimension())];
    else {
      (void)fail(op, "'" + op->getName().getStringRef() +
                         "', which cannot run on the host,");
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
      SmallVector<Value> bounds = {grid.z, grid.y, grid.x};
      SmallVector<Value> ivs;
      {
        OpBuilder::InsertionGuard guard(builder);
        for (Value bound : bounds) {
          auto loop = scf::ForOp::create(builder, loc, zero, bound, one);
          builder.setInsertionPointToStart(loop.getBody());
          ivs.push_back(loop.getInductionVar());
        }
        SmallVector<Value> operands(launch.getKernelOperands());
        operands.append({ivs[2], ivs[1], ivs[0], block.x, block.y, block.z,
                         grid.x, grid.y, grid.z});
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
