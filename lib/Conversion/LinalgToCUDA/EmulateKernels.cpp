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
/// moved, cut at each `gpu.barrier` and each `gpu.shuffle` into parts that
/// each run for all the block's threads (loops over z, y, x) before the
/// next; shared memory (workgroup attributions) a host buffer per call. A
/// value a part uses from an earlier one is recomputed there when its ops
/// have no side effects, else (a scalar) kept per thread in a host buffer
/// of the block's size, written where it is made and read where it is
/// used; a shuffle reads its partner's value from that buffer.
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

  // The parts: a barrier ends one (and goes), a shuffle starts one.
  SmallVector<SmallVector<Operation *>> parts(1);
  Operation *terminator = body.getTerminator();
  if (!isa<gpu::ReturnOp>(terminator))
    return fail(terminator, "a terminator other than gpu.return");
  SmallVector<gpu::BarrierOp> barriers;
  for (Operation &op : body.without_terminator()) {
    if (auto barrier = dyn_cast<gpu::BarrierOp>(op)) {
      barriers.push_back(barrier);
      parts.emplace_back();
      continue;
    }
    if (isa<gpu::ShuffleOp>(op) && !parts.back().empty())
      parts.emplace_back();
    parts.back().push_back(&op);
  }
  WalkResult nested = func.walk([&](Operation *op) {
    bool topLevel = op->getBlock() == &body;
    auto shuffle = dyn_cast<gpu::ShuffleOp>(op);
    if (shuffle && shuffle.getMode() != gpu::ShuffleMode::XOR) {
      (void)fail(op, "a shuffle other than xor");
      return WalkResult::interrupt();
    }
    if ((isa<gpu::BarrierOp, gpu::ShuffleOp>(op) && !topLevel) ||
        (isa<gpu::ReturnOp>(op) && op != terminator) ||
        isa<gpu::SubgroupReduceOp, gpu::AllReduceOp>(op)) {
      (void)fail(op, "'" + op->getName().getStringRef() +
                         "' inside control flow or across threads");
      return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  if (nested.wasInterrupted())
    return failure();
  for (gpu::BarrierOp barrier : barriers)
    barrier.erase();
  DenseMap<Operation *, unsigned> partOf;
  for (auto [number, ops] : llvm::enumerate(parts))
    for (Operation *op : ops)
      partOf[op] = number;

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
  Value zero = arith::ConstantIndexOp::create(builder, loc, 0);
  Value one = arith::ConstantIndexOp::create(builder, loc, 1);
  Value blockSize = arith::MulIOp::create(
      builder, loc,
      arith::MulIOp::create(builder, loc, args[kBlockDim], args[kBlockDim + 1]),
      args[kBlockDim + 2]);

  // Each part in loops over the block's threads, in order; the thread's
  // linear index first in each.
  struct Part {
    SmallVector<Value> threads;
    Value linear;
    OpBuilder at; // where values from earlier parts are made
    scf::ForOp outer;
  };
  SmallVector<Part> built;
  // Per-thread values' buffers go before the first part's loops.
  OpBuilder entry(context);
  builder.setInsertionPoint(terminator);
  for (ArrayRef<Operation *> ops : parts) {
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
    if (built.empty())
      entry.setInsertionPoint(outer);
    Value linear = arith::AddIOp::create(
        builder, loc, threads[0],
        arith::MulIOp::create(
            builder, loc, args[kBlockDim],
            arith::AddIOp::create(builder, loc, threads[1],
                                  arith::MulIOp::create(builder, loc,
                                                        args[kBlockDim + 1],
                                                        threads[2]))));
    OpBuilder at(builder.getInsertionBlock(), builder.getInsertionPoint());
    for (Operation *op : ops)
      op->moveBefore(builder.getInsertionBlock(), builder.getInsertionPoint());
    if (!ops.empty())
      at.setInsertionPoint(ops.front());
    built.push_back(Part{threads, linear, at, outer});
  }

  // A scalar kept per thread: its buffer, written right after it is made.
  DenseMap<Value, Value> slots;
  auto getSlot = [&](Value value) -> Value {
    if (Value slot = slots.lookup(value))
      return slot;
    auto type = MemRefType::get({ShapedType::kDynamic}, value.getType());
    Value slot = memref::AllocaOp::create(entry, loc, type, blockSize);
    Operation *def = value.getDefiningOp();
    OpBuilder after(def->getBlock(), std::next(def->getIterator()));
    memref::StoreOp::create(after, loc, value, slot,
                            built[partOf.lookup(def)].linear);
    slots[value] = slot;
    return slot;
  };
  auto isScalar = [](Type type) { return type.isIntOrIndexOrFloat(); };

  // The value each shuffle exchanges, when an earlier part makes it: kept
  // per thread (a copy made again would be the thread's own).
  DenseMap<Operation *, Value> exchanged;
  for (ArrayRef<Operation *> ops : parts) {
    auto shuffle =
        ops.empty() ? nullptr : dyn_cast<gpu::ShuffleOp>(ops.front());
    if (!shuffle)
      continue;
    Value value = shuffle.getValue();
    Operation *def = value.getDefiningOp();
    if (!def || !partOf.count(def))
      continue; // the same in every thread
    if (!isScalar(value.getType()))
      return fail(shuffle, "a shuffle of a value that is not a scalar");
    exchanged[shuffle] = getSlot(value);
  }

  // Values a part takes from an earlier one.
  for (auto [number, ops] : llvm::enumerate(parts)) {
    if (number == 0)
      continue;
    Part &part = built[number];
    IRMapping made;
    std::function<FailureOr<Value>(Value)> materialize =
        [&](Value value) -> FailureOr<Value> {
      Operation *def = value.getDefiningOp();
      auto found = def ? partOf.find(def) : partOf.end();
      if (found == partOf.end() || found->second >= number)
        return value;
      if (Value done = made.lookupOrNull(value))
        return done;
      if (isMemoryEffectFree(def) && !def->getNumRegions() &&
          !isa<gpu::ShuffleOp>(def)) {
        for (Value operand : def->getOperands()) {
          FailureOr<Value> mapped = materialize(operand);
          if (failed(mapped))
            return failure();
          made.map(operand, *mapped);
        }
        partOf[part.at.clone(*def, made)] = number;
        return made.lookup(value);
      }
      if (!isScalar(value.getType()))
        return fail(def, "a value that is not a scalar, from before a "
                         "barrier or shuffle,");
      auto loaded =
          memref::LoadOp::create(part.at, loc, getSlot(value), part.linear);
      partOf[loaded] = number;
      made.map(value, loaded.getResult());
      return loaded.getResult();
    };
    for (Operation *op : ops) {
      WalkResult result = op->walk([&](Operation *user) {
        for (OpOperand &operand : user->getOpOperands()) {
          if (exchanged.count(user) &&
              operand.get() == cast<gpu::ShuffleOp>(user).getValue())
            continue;
          FailureOr<Value> mapped = materialize(operand.get());
          if (failed(mapped))
            return WalkResult::interrupt();
          operand.set(*mapped);
        }
        return WalkResult::advance();
      });
      if (result.wasInterrupted())
        return failure();
    }
  }

  // Each shuffle (xor, the first op of its part) reads its partner's
  // value, written by the part before; out of range, its own (CUDA's).
  for (auto [number, ops] : llvm::enumerate(parts)) {
    auto shuffle =
        ops.empty() ? nullptr : dyn_cast<gpu::ShuffleOp>(ops.front());
    if (!shuffle)
      continue;
    Part &part = built[number];
    OpBuilder at(shuffle);
    Value value = shuffle.getValue();
    Value result = value,
          valid = arith::ConstantIntOp::create(at, loc, at.getI1Type(), 1);
    if (Value slot = exchanged.lookup(shuffle)) {
      auto toIndex = [&](Value v) {
        return arith::IndexCastOp::create(at, loc, at.getIndexType(), v);
      };
      Value width = toIndex(shuffle.getWidth());
      Value lane = arith::RemUIOp::create(at, loc, part.linear, width);
      Value other =
          arith::XOrIOp::create(at, loc, lane, toIndex(shuffle.getOffset()));
      valid = arith::CmpIOp::create(at, loc, arith::CmpIPredicate::ult, other,
                                    width);
      Value partner = arith::AddIOp::create(
          at, loc, arith::SubIOp::create(at, loc, part.linear, lane), other);
      Value from =
          arith::SelectOp::create(at, loc, valid, partner, part.linear);
      result = memref::LoadOp::create(at, loc, slot, from);
    }
    shuffle.getShuffleResult().replaceAllUsesWith(result);
    shuffle.getValid().replaceAllUsesWith(valid);
    shuffle.erase();
  }

  // The thread indices (made again in each part that uses them): the
  // part's loops'.
  for (Part &part : built) {
    SmallVector<Value> &threads = part.threads;
    scf::ForOp outer = part.outer;
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
