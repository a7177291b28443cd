//===- StreamOrder.cpp - GPU memory and stream order of host code ---------===//
//
// How the CUDA backend's host code uses the GPU (docs/cuda.md, "Stream
// order"): the runtime has one in-order compute stream; kernels, cuBLAS,
// cuDNN and NCCL are enqueued on it and the host goes on. Buffers only the
// GPU touches come from the device's stream-ordered memory pool; buffers
// the host touches too are managed memory, and the host waits for the
// stream before it touches one.
//
//  - autopar-copies-to-kernels: host copies become kernels;
//  - autopar-host-compute-to-kernels: the host's scalar compute on buffers
//    becomes one-thread kernels;
//  - autopar-allocs-to-gpu: each allocation placed (device or managed);
//  - autopar-order-on-stream: launches asynchronous, host synchronisation
//    only before host accesses;
//  - autopar-capture-graphs: a function whose host code only enqueues
//    work replayed as a CUDA graph.
//
// What counts as GPU work in stream order and what as a host access is
// decided here, once (isStreamOp, isHostAccess, isDeviceOnly).
//
//===----------------------------------------------------------------------===//

#include "autopar/Analysis/Fusion.h"
#include "autopar/Conversion/Buffers.h"
#include "autopar/Conversion/Passes.h"
#include "autopar/Conversion/RuntimeCalls.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/ViewLikeInterface.h"
#include "mlir/Transforms/RegionUtils.h"
#include "llvm/ADT/BitVector.h"
#include "llvm/ADT/StringMap.h"

namespace mlir::autopar {
#define GEN_PASS_DEF_ALLOCSTOGPU
#define GEN_PASS_DEF_COPIESTOKERNELS
#define GEN_PASS_DEF_HOSTCOMPUTETOKERNELS
#define GEN_PASS_DEF_ORDERONSTREAM
#define GEN_PASS_DEF_CAPTUREGRAPHS
#include "autopar/Conversion/Passes.h.inc"
} // namespace mlir::autopar

using namespace mlir;
using namespace mlir::autopar;

namespace {

/// Whether `op` is host code (not inside a GPU module).
bool isHostCode(Operation *op) {
  return !op->getParentOfType<gpu::GPUModuleOp>();
}

/// A call to a function of this module that has a body (its own host code
/// decides what it waits for).
bool isCallToDefinedFunction(Operation *op) {
  auto call = dyn_cast<func::CallOp>(op);
  if (!call)
    return false;
  auto callee = SymbolTable::lookupNearestSymbolFrom<func::FuncOp>(
      call, call.getCalleeAttr());
  return callee && !callee.isExternal();
}

/// GPU work enqueued in stream order: a kernel launch, an asynchronous GPU
/// operation, a call to a stream-ordered runtime function.
bool isStreamOp(Operation *op) {
  if (isa<gpu::LaunchFuncOp>(op))
    return true;
  if (isa<gpu::WaitOp>(op))
    return false;
  if (auto async = dyn_cast<gpu::AsyncOpInterface>(op))
    return async.getAsyncToken() != nullptr;
  return isStreamOrderedCall(op);
}

/// An operation by which the host reads or writes a buffer: a memory read
/// or write effect (load, store, host copy), a call to an external function
/// that is not stream-ordered, the return of a public function (its caller
/// may read the results), or any operation whose effects are unknown.
bool isHostAccess(Operation *op) {
  if (isStreamOp(op) || isa<gpu::WaitOp>(op))
    return false;
  if (isa<func::CallOp>(op))
    return !isCallToDefinedFunction(op);
  if (isa<func::ReturnOp>(op)) {
    auto func = op->getParentOfType<func::FuncOp>();
    return func && func.isPublic() && op->getParentOp() == func;
  }
  if (auto effects = dyn_cast<MemoryEffectOpInterface>(op)) {
    SmallVector<MemoryEffects::EffectInstance> instances;
    effects.getEffects(instances);
    return llvm::any_of(instances, [](const MemoryEffects::EffectInstance &e) {
      return isa<MemoryEffects::Read, MemoryEffects::Write>(e.getEffect());
    });
  }
  if (op->getNumRegions() > 0 &&
      op->hasTrait<OpTrait::HasRecursiveMemoryEffects>())
    return false; // its nested operations say
  return !isMemoryEffectFree(op);
}

/// Whether only the GPU touches the buffer `buffer` and the views of it:
/// kernels, asynchronous GPU copies, stream-ordered runtime calls (which
/// take it by address, through integer arithmetic), its deallocation.
bool isDeviceOnly(Value buffer) {
  SmallVector<Value> work = {buffer};
  DenseSet<Value> seen;
  while (!work.empty()) {
    Value value = work.pop_back_val();
    if (!seen.insert(value).second)
      continue;
    for (OpOperand &use : value.getUses()) {
      Operation *user = use.getOwner();
      if (isa<gpu::LaunchFuncOp, gpu::MemcpyOp, gpu::MemsetOp,
              memref::DeallocOp, memref::DimOp>(user) ||
          isStreamOrderedCall(user))
        continue;
      auto view = dyn_cast<ViewLikeOpInterface>(user);
      if ((view && view.getViewSource() == value) ||
          isa<memref::ExtractAlignedPointerAsIndexOp,
              memref::ExtractStridedMetadataOp>(user) ||
          (user->getDialect() &&
           isa<arith::ArithDialect>(user->getDialect()))) {
        llvm::append_range(work, user->getResults());
        continue;
      }
      return false;
    }
  }
  return true;
}

struct CopiesToKernelsPass
    : public mlir::autopar::impl::CopiesToKernelsBase<CopiesToKernelsPass> {
  void runOnOperation() override {
    SmallVector<memref::CopyOp> copies;
    getOperation().walk([&](memref::CopyOp copy) {
      if (!isHostCode(copy))
        return;
      // A constant lives in host memory, which kernels cannot read.
      if (getRootBuffer(copy.getSource()).getDefiningOp<memref::GetGlobalOp>())
        return;
      copies.push_back(copy);
    });
    for (memref::CopyOp copy : copies) {
      OpBuilder builder(copy);
      linalg::CopyOp::create(builder, copy.getLoc(), copy.getSource(),
                             copy.getTarget());
      copy.erase();
    }
  }
};

/// Whether `op` can run in a one-thread kernel as it is: a load, a store,
/// scalar arithmetic, or a loop or branch of those.
bool isScalarCompute(Operation *op) {
  if (isa<memref::LoadOp, memref::StoreOp>(op))
    return true;
  if (isa<scf::ForOp, scf::IfOp>(op)) {
    WalkResult result = op->walk([&](Operation *nested) {
      if (nested == op || isa<scf::YieldOp>(nested) || isScalarCompute(nested))
        return WalkResult::advance();
      return WalkResult::interrupt();
    });
    return !result.wasInterrupted();
  }
  Dialect *dialect = op->getDialect();
  return dialect && isa<arith::ArithDialect, math::MathDialect>(dialect) &&
         op->getNumRegions() == 0;
}

struct HostComputeToKernelsPass
    : public mlir::autopar::impl::HostComputeToKernelsBase<
          HostComputeToKernelsPass> {
  using HostComputeToKernelsBase::HostComputeToKernelsBase;

  void runOnOperation() override {
    for (auto func : getOperation().getOps<func::FuncOp>()) {
      if (func.isExternal() || llvm::is_contained(functions, func.getName()))
        continue;
      for (Block &block : func.getBody())
        moveRunsNested(block);
    }
  }

private:
  /// moveRuns in `block` and in the blocks of the host control flow in it
  /// (a pipeline stage's case of an `scf.index_switch`, a microbatch loop's
  /// body; not the parallel loops and launches that become kernels, nor a
  /// loop that is scalar compute itself, which a run takes whole).
  void moveRunsNested(Block &block) {
    for (Operation &op : block)
      if (isa<scf::IndexSwitchOp, scf::IfOp, scf::ForOp, scf::WhileOp>(op) &&
          !isScalarCompute(&op))
        for (Region &region : op.getRegions())
          for (Block &nested : region)
            moveRunsNested(nested);
    moveRuns(block);
  }

  /// Each run of scalar compute in `block` into a one-thread kernel placed
  /// after the run. Constants, allocations and pure arithmetic on values
  /// from before the run (a tiled loop's bounds) stay where they are
  /// (before the kernel), deallocations move after it.
  void moveRuns(Block &block) {
    SmallVector<Operation *> run, frees;
    DenseSet<Operation *> inRun;
    // The values the kernel would take as arguments, and their bytes: a
    // run ends before an op that would take it past the limit.
    DenseSet<Value> captured;
    int64_t argumentBytes = 0;
    auto flush = [&] {
      if (!run.empty())
        moveToKernel(run, frees);
      run.clear();
      frees.clear();
      inRun.clear();
      captured.clear();
      argumentBytes = 0;
    };
    // The values `op` reads from outside it and the run, not yet captured.
    auto capturedBy = [&](Operation *op) {
      SetVector<Value> used(op->operand_begin(), op->operand_end());
      getUsedValuesDefinedAbove(op->getRegions(), used);
      SmallVector<Value> values;
      for (Value value : used) {
        Operation *def = value.getDefiningOp();
        if (!(def && inRun.contains(def)) && !captured.contains(value))
          values.push_back(value);
      }
      return values;
    };
    auto readsRun = [&](Operation &op) {
      return llvm::any_of(op.getOperands(), [&](Value operand) {
        Operation *def = operand.getDefiningOp();
        return def && inRun.contains(def);
      });
    };
    for (Operation &op : llvm::make_early_inc_range(block)) {
      if (isa<arith::ConstantOp, memref::AllocOp>(op) ||
          (isMemoryEffectFree(&op) && op.getNumRegions() == 0 && !readsRun(op)))
        continue;
      if (isa<memref::DeallocOp>(op) && !run.empty()) {
        frees.push_back(&op);
        continue;
      }
      if (isScalarCompute(&op) && !op.hasTrait<OpTrait::IsTerminator>()) {
        SmallVector<Value> values = capturedBy(&op);
        int64_t bytes = 0;
        for (Value value : values)
          bytes += getKernelArgumentBytes(value.getType());
        if (!run.empty() && argumentBytes + bytes > kMaxMergedArgumentBytes)
          flush();
        run.push_back(&op);
        inRun.insert(&op);
        captured.insert(values.begin(), values.end());
        argumentBytes += bytes;
        continue;
      }
      flush();
    }
    flush();
  }

  void moveToKernel(ArrayRef<Operation *> run, ArrayRef<Operation *> frees) {
    // The host keeps what makes a value it uses after the run, and what
    // follows the first such op; the ops before it make the kernel.
    size_t count = run.size();
    while (count > 0) {
      DenseSet<Operation *> inKernel(run.begin(), run.begin() + count);
      SmallVector<Operation *> kept;
      for (Operation *op : run.take_front(count))
        for (Operation *user : op->getUsers()) {
          Operation *top = op->getBlock()->findAncestorOpInBlock(*user);
          if (!top || !inKernel.contains(top)) {
            kept.push_back(op);
            break;
          }
        }
      if (kept.empty())
        break;
      // With the ops in the run they read, transitively.
      DenseSet<Operation *> keep;
      while (!kept.empty()) {
        Operation *op = kept.pop_back_val();
        if (!keep.insert(op).second)
          continue;
        op->walk([&](Operation *nested) {
          for (Value operand : nested->getOperands())
            if (Operation *def = operand.getDefiningOp();
                def && inKernel.contains(def))
              kept.push_back(def);
        });
      }
      count = llvm::find_if(run.take_front(count),
                            [&](Operation *op) { return keep.contains(op); }) -
              run.begin();
    }
    ArrayRef<Operation *> kernel = run.take_front(count);
    bool stores = false;
    for (Operation *op : kernel)
      op->walk([&](memref::StoreOp) { stores = true; });
    if (!stores)
      return;
    Operation *last = kernel.back();
    Location loc = kernel.front()->getLoc();
    OpBuilder builder(last->getBlock(), ++Block::iterator(last));
    Value zero = arith::ConstantIndexOp::create(builder, loc, 0);
    Value one = arith::ConstantIndexOp::create(builder, loc, 1);
    // A block loop and a thread loop of one iteration each (what tiling
    // makes of other loops), mapped to one block of one thread.
    auto blocks = scf::ParallelOp::create(builder, loc, ValueRange{zero},
                                          ValueRange{one}, ValueRange{one});
    builder.setInsertionPointToStart(blocks.getBody());
    auto threads = scf::ParallelOp::create(builder, loc, ValueRange{zero},
                                           ValueRange{one}, ValueRange{one});
    Operation *end = threads.getBody()->getTerminator();
    for (Operation *op : kernel)
      op->moveBefore(end);
    // A buffer freed between the kernel's ops lives until it is done.
    for (Operation *free : llvm::reverse(frees))
      if (free->isBeforeInBlock(blocks))
        free->moveAfter(blocks);
  }
};

struct AllocsToGPUPass
    : public mlir::autopar::impl::AllocsToGPUBase<AllocsToGPUPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<memref::AllocOp> allocs;
    SmallVector<memref::DeallocOp> deallocs;
    SmallVector<memref::GetGlobalOp> globals;
    module.walk([&](Operation *op) {
      // Kernels allocate nothing; host code everything.
      if (!isHostCode(op))
        return;
      if (auto alloc = dyn_cast<memref::AllocOp>(op))
        allocs.push_back(alloc);
      else if (auto dealloc = dyn_cast<memref::DeallocOp>(op))
        deallocs.push_back(dealloc);
      else if (auto global = dyn_cast<memref::GetGlobalOp>(op))
        globals.push_back(global);
    });
    // Constants live in host globals, which kernels cannot read: each use
    // reads a managed copy, made where the global is taken and freed at
    // the end of the function.
    for (memref::GetGlobalOp global : globals) {
      auto type = cast<MemRefType>(global.getType());
      auto func = global->getParentOfType<func::FuncOp>();
      if (!func || !func.getBody().hasOneBlock() ||
          !type.getLayout().isIdentity()) {
        global.emitError() << "autopar-lower-to-cuda: a constant used "
                              "outside a single-block function cannot be "
                              "moved to GPU memory";
        return signalPassFailure();
      }
      OpBuilder builder(global->getBlock(), ++Block::iterator(global));
      auto alloc = memref::AllocOp::create(builder, global.getLoc(), type);
      memref::CopyOp::create(builder, global.getLoc(), global.getResult(),
                             alloc.getResult());
      global.getResult().replaceAllUsesExcept(
          alloc.getResult(),
          alloc->getNextNode()); // the copy reads the global
      builder.setInsertionPoint(func.getBody().front().getTerminator());
      deallocs.push_back(memref::DeallocOp::create(builder, global.getLoc(),
                                                   alloc.getResult()));
      allocs.push_back(alloc);
    }
    // Each function's compute stream, taken at its entry (device memory is
    // allocated in stream order on it).
    DenseMap<func::FuncOp, Value> streams;
    auto getStream = [&](func::FuncOp func) {
      Value &stream = streams[func];
      if (!stream) {
        OpBuilder builder(&func.getBody().front(),
                          func.getBody().front().begin());
        stream = gpu::WaitOp::create(builder, func.getLoc(),
                                     builder.getType<gpu::AsyncTokenType>(),
                                     ValueRange{})
                     .getAsyncToken();
      }
      return stream;
    };
    // Placement is decided on the uses before any allocation is rewritten
    // (a device buffer's deallocation becomes a stream-ordered call below).
    SmallVector<bool> onDevice;
    for (memref::AllocOp alloc : allocs)
      onDevice.push_back(isDeviceOnly(alloc.getResult()));
    for (auto [alloc, device] : llvm::zip_equal(allocs, onDevice)) {
      OpBuilder builder(alloc);
      auto func = alloc->getParentOfType<func::FuncOp>();
      Value gpuMemref;
      if (device && func) {
        auto gpuAlloc = gpu::AllocOp::create(
            builder, alloc.getLoc(), alloc.getType(),
            builder.getType<gpu::AsyncTokenType>(), ValueRange{getStream(func)},
            alloc.getDynamicSizes(), alloc.getSymbolOperands(),
            /*hostShared=*/false);
        gpuMemref = gpuAlloc.getMemref();
      } else {
        auto gpuAlloc = gpu::AllocOp::create(
            builder, alloc.getLoc(), alloc.getType(), /*asyncToken=*/Type(),
            /*asyncDependencies=*/ValueRange{}, alloc.getDynamicSizes(),
            alloc.getSymbolOperands(), /*hostShared=*/true);
        gpuMemref = gpuAlloc.getMemref();
      }
      alloc.replaceAllUsesWith(gpuMemref);
      alloc.erase();
    }
    // Every buffer freed through the runtime, by its address: pool memory
    // goes back to the pool in stream order, managed memory once the
    // stream is done with it. The placement decided here names the entry
    // point; a buffer of unknown origin goes to the one that asks the
    // driver.
    if (deallocs.empty())
      return;
    OpBuilder builder(module.getBodyRegion());
    Type i64 = builder.getI64Type();
    llvm::StringMap<func::FuncOp> declared;
    auto declare = [&](StringRef name) {
      func::FuncOp &free = declared[name];
      if (!free) {
        free = getOrDeclareRuntimeFunction(builder, module, name, {i64}, {});
        setStreamOrdered(free);
      }
      return free;
    };
    for (memref::DeallocOp dealloc : deallocs) {
      auto gpuAlloc =
          getRootBuffer(dealloc.getMemref()).getDefiningOp<gpu::AllocOp>();
      StringRef name = !gpuAlloc                  ? "autopar_cuda_free"
                       : gpuAlloc.getHostShared() ? "autopar_cuda_free_managed"
                                                  : "autopar_cuda_free_device";
      func::FuncOp free = declare(name);
      builder.setInsertionPoint(dealloc);
      Location loc = dealloc.getLoc();
      Value address = getBufferAddress(builder, loc, dealloc.getMemref());
      func::CallOp::create(builder, loc, free, ValueRange{address});
      dealloc.erase();
    }
  }
};

/// The root buffer whose address the integer `value` is computed from
/// (memref.extract_aligned_pointer_as_index, then integer arithmetic), a
/// null value for a constant, failure when neither is known.
FailureOr<Value> traceAddress(Value value) {
  Operation *def = value.getDefiningOp();
  if (!def)
    return failure();
  if (auto pointer = dyn_cast<memref::ExtractAlignedPointerAsIndexOp>(def))
    return getRootBuffer(pointer.getSource());
  if (isa<arith::ConstantOp>(def))
    return Value();
  if (!isa<arith::ArithDialect>(def->getDialect()))
    return failure();
  Value found;
  for (Value operand : def->getOperands()) {
    FailureOr<Value> traced = traceAddress(operand);
    if (failed(traced) || (found && *traced && *traced != found))
      return failure();
    if (*traced)
      found = *traced;
  }
  return found;
}

/// A root buffer some work touches, and whether it may write it (reads
/// only: work that reads it too need not wait for it).
struct Touched {
  Value root;
  bool written = true;
};

/// Per argument of kernel `kernel`, whether it may write through it (or a
/// view of it): an op with a write effect on it, or with effects not known
/// (then every argument).
BitVector getWrittenArguments(gpu::GPUFuncOp kernel) {
  BitVector written(kernel.getNumArguments());
  WalkResult result = kernel.walk([&](Operation *op) {
    if (op == kernel)
      return WalkResult::advance();
    if (auto effects = dyn_cast<MemoryEffectOpInterface>(op)) {
      SmallVector<MemoryEffects::EffectInstance> instances;
      effects.getEffects(instances);
      for (const MemoryEffects::EffectInstance &effect : instances) {
        if (!isa<MemoryEffects::Write>(effect.getEffect()))
          continue;
        Value target = effect.getValue();
        if (!target)
          return WalkResult::interrupt();
        if (auto argument = dyn_cast<BlockArgument>(getRootBuffer(target));
            argument && argument.getOwner()->getParentOp() == kernel)
          written.set(argument.getArgNumber());
      }
      return WalkResult::advance();
    }
    if (op->getNumRegions() > 0 &&
        op->hasTrait<OpTrait::HasRecursiveMemoryEffects>())
      return WalkResult::advance(); // its nested operations say
    return isMemoryEffectFree(op) ? WalkResult::advance()
                                  : WalkResult::interrupt();
  });
  if (result.wasInterrupted())
    written.set();
  return written;
}

/// The root buffers GPU work `op` reads or writes, failure when not known.
/// A kernel writes the buffers its body writes; a runtime call those its
/// lowering lists (cuBLAS, cuDNN: the output), or any it is given (NCCL).
FailureOr<SmallVector<Touched>> getStreamBuffers(Operation *op) {
  SmallVector<Touched> buffers;
  if (isa<gpu::AllocOp>(op))
    return buffers; // a new buffer, only the GPU's
  if (auto launch = dyn_cast<gpu::LaunchFuncOp>(op)) {
    auto kernel = SymbolTable::lookupNearestSymbolFrom<gpu::GPUFuncOp>(
        launch, launch.getKernel());
    BitVector written = kernel ? getWrittenArguments(kernel)
                               : BitVector(launch.getNumKernelOperands(), true);
    for (auto [index, operand] : llvm::enumerate(launch.getKernelOperands()))
      if (isa<MemRefType>(operand.getType()))
        buffers.push_back({getRootBuffer(operand), written.test(index)});
    return buffers;
  }
  for (auto [index, operand] : llvm::enumerate(op->getOperands())) {
    if (isa<MemRefType>(operand.getType())) {
      buffers.push_back({getRootBuffer(operand)});
      continue;
    }
    if (isa<gpu::AsyncTokenType>(operand.getType()))
      continue;
    if (!isStreamOrderedCall(op)) // launch sizes and scalar arguments
      continue;
    FailureOr<Value> address = traceAddress(operand);
    if (failed(address))
      return failure();
    if (*address)
      buffers.push_back(
          {*address, mayWriteOperand(op, static_cast<unsigned>(index))});
  }
  return buffers;
}

/// The root buffers host access `op` reads or writes; failure when they
/// are not known (a call, a return).
FailureOr<SmallVector<Touched>> getHostBuffers(Operation *op) {
  if (auto load = dyn_cast<memref::LoadOp>(op))
    return SmallVector<Touched>{{getRootBuffer(load.getMemRef()), false}};
  if (auto store = dyn_cast<memref::StoreOp>(op))
    return SmallVector<Touched>{{getRootBuffer(store.getMemRef()), true}};
  if (auto copy = dyn_cast<memref::CopyOp>(op))
    return SmallVector<Touched>{{getRootBuffer(copy.getSource()), false},
                                {getRootBuffer(copy.getTarget()), true}};
  return failure();
}

/// GPU work that may still be running when the host reaches a point: on
/// which buffers.
struct InFlight {
  /// On any buffer.
  bool any = false;
  /// On any buffer the function did not allocate (its caller's work).
  bool external = false;
  /// On these root buffers.
  SmallVector<Touched> roots;

  bool empty() const { return !any && !external && roots.empty(); }
  void clear() { *this = InFlight(); }
  void add(Operation *streamOp) {
    FailureOr<SmallVector<Touched>> buffers = getStreamBuffers(streamOp);
    if (failed(buffers))
      any = true;
    else
      llvm::append_range(roots, *buffers);
  }
  void merge(const InFlight &other) {
    any |= other.any;
    external |= other.external;
    llvm::append_range(roots, other.roots);
  }
  /// Whether the host must wait before it touches `access` (a read waits
  /// for work that may write the buffer, a write for any work on it).
  bool touches(const Touched &access) const {
    return any || (external && !isAllocatedBuffer(access.root)) ||
           llvm::any_of(roots, [&](const Touched &work) {
             return (access.written || work.written) &&
                    mayAliasBuffers(access.root, work.root);
           });
  }
};

/// What the operations nested in an operation do: the GPU work they
/// enqueue, the buffers the host touches (`hostKnown` false when some
/// host access's buffers are not known).
struct NestedWork {
  bool stream = false;
  bool host = false;
  bool hostKnown = true;
  SmallVector<Touched> hostRoots;
  InFlight enqueued;
};

NestedWork getNestedWork(Operation *op) {
  NestedWork work;
  op->walk([&](Operation *nested) {
    if (nested == op)
      return;
    if (isCallToDefinedFunction(nested)) {
      work.stream = work.host = true;
      work.hostKnown = false;
      work.enqueued.any = true;
      return;
    }
    if (isStreamOp(nested)) {
      work.stream = true;
      work.enqueued.add(nested);
      return;
    }
    if (nested->getNumRegions() > 0 || !isHostAccess(nested))
      return;
    work.host = true;
    FailureOr<SmallVector<Touched>> buffers = getHostBuffers(nested);
    if (failed(buffers))
      work.hostKnown = false;
    else
      llvm::append_range(work.hostRoots, *buffers);
  });
  return work;
}

struct OrderOnStreamPass
    : public mlir::autopar::impl::OrderOnStreamBase<OrderOnStreamPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    OpBuilder builder(module.getContext());
    synchronize = getOrDeclareRuntimeFunction(
        builder, module, "autopar_cuda_synchronize", {}, {});
    for (auto func : module.getOps<func::FuncOp>()) {
      if (func.isExternal())
        continue;
      makeLaunchesAsync(func);
      // The caller may have left work in flight on the arguments; a block
      // other than the entry may be reached with anything in flight.
      InFlight entry;
      entry.external = true;
      InFlight unknown;
      unknown.any = true;
      for (Block &block : func.getBody())
        orderBlock(block, block.isEntryBlock() ? entry : unknown);
    }
  }

private:
  /// Every launch of `func` on its compute stream, without waiting.
  void makeLaunchesAsync(func::FuncOp func) {
    SmallVector<gpu::LaunchFuncOp> launches;
    func.walk([&](gpu::LaunchFuncOp launch) {
      if (!launch.getAsyncToken())
        launches.push_back(launch);
    });
    if (launches.empty())
      return;
    Block &entry = func.getBody().front();
    Value stream;
    if (auto wait = dyn_cast<gpu::WaitOp>(entry.front());
        wait && wait.getAsyncToken() && wait.getAsyncDependencies().empty())
      stream = wait.getAsyncToken(); // autopar-allocs-to-gpu's
    OpBuilder builder(&entry, entry.begin());
    if (!stream)
      stream = gpu::WaitOp::create(builder, func.getLoc(),
                                   builder.getType<gpu::AsyncTokenType>(),
                                   ValueRange{})
                   .getAsyncToken();
    for (gpu::LaunchFuncOp launch : launches) {
      builder.setInsertionPoint(launch);
      std::optional<gpu::KernelDim3> cluster;
      if (launch.hasClusterSize())
        cluster = launch.getClusterSizeOperandValues();
      gpu::LaunchFuncOp::create(
          builder, launch.getLoc(), launch.getKernelAttr(),
          launch.getGridSizeOperandValues(), launch.getBlockSizeOperandValues(),
          launch.getDynamicSharedMemorySize(), launch.getKernelOperands(),
          builder.getType<gpu::AsyncTokenType>(), ValueRange{stream}, cluster);
      launch.erase();
    }
  }

  /// Inserts host synchronisation in `block`, where `inFlight` may run at
  /// its start; returns what may run at its end.
  InFlight orderBlock(Block &block, InFlight inFlight) {
    for (Operation &op : llvm::make_early_inc_range(block)) {
      if (isStreamOp(&op)) {
        inFlight.add(&op);
        continue;
      }
      if (op.getNumRegions() > 0) {
        NestedWork work = getNestedWork(&op);
        if (!work.host) {
          inFlight.merge(work.enqueued);
          continue;
        }
        auto mustWait = [&] {
          if (!work.hostKnown)
            return !inFlight.empty();
          return llvm::any_of(work.hostRoots, [&](const Touched &access) {
            return inFlight.touches(access);
          });
        };
        bool apart = work.hostKnown &&
                     llvm::none_of(work.hostRoots, [&](const Touched &access) {
                       return work.enqueued.touches(access);
                     });
        if (!work.stream || apart) {
          // Host loops only (a reduction to a scalar), or host work on
          // buffers apart from the loop's GPU work (a loop that reads
          // indices on the host and launches a kernel per index): one wait
          // before, if any.
          if (mustWait()) {
            synchronizeBefore(&op);
            inFlight.clear();
          }
          inFlight.merge(work.enqueued);
          continue;
        }
        // Both, on shared buffers: each region on its own, entered with
        // anything in flight (an earlier iteration's work).
        InFlight unknown;
        unknown.any = true;
        for (Region &region : op.getRegions())
          for (Block &nested : region)
            orderBlock(nested, unknown);
        inFlight = unknown;
        continue;
      }
      if (isHostAccess(&op)) {
        FailureOr<SmallVector<Touched>> buffers = getHostBuffers(&op);
        bool wait = failed(buffers)
                        ? !inFlight.empty()
                        : llvm::any_of(*buffers, [&](const Touched &access) {
                            return inFlight.touches(access);
                          });
        if (wait) {
          synchronizeBefore(&op);
          inFlight.clear();
        }
      }
      if (isCallToDefinedFunction(&op))
        inFlight.any = true;
    }
    return inFlight;
  }

  void synchronizeBefore(Operation *op) {
    OpBuilder builder(op);
    func::CallOp::create(builder, op->getLoc(), synchronize, ValueRange{});
  }

  func::FuncOp synchronize;
};

/// Why the host code of `func` (after autopar-order-on-stream) cannot be
/// captured into a CUDA graph and replayed in its place, and the operation
/// that stops it (null: the function as a whole); success when it can.
struct NotCapturable {
  std::string reason;
  Operation *op = nullptr;
};
std::optional<NotCapturable> whyNotCapturable(func::FuncOp func) {
  if (func.getNumResults() > 0)
    return NotCapturable{"it returns " + std::to_string(func.getNumResults()) +
                         " buffer(s) that a replay would not make (results "
                         "must be written over its arguments)"};
  if (!func.getBody().hasOneBlock())
    return NotCapturable{"its body has several blocks"};
  for (BlockArgument argument : func.getArguments()) {
    auto type = dyn_cast<MemRefType>(argument.getType());
    if (!type)
      return NotCapturable{"argument #" +
                           std::to_string(argument.getArgNumber()) +
                           " is not a buffer (a replay would keep its first "
                           "value)"};
    // The key is the aligned address: the layout must hold no offset.
    if (!type.hasStaticShape() || !type.getLayout().isIdentity())
      return NotCapturable{"argument #" +
                           std::to_string(argument.getArgNumber()) +
                           " has a dynamic shape or a layout of its own"};
  }
  std::optional<NotCapturable> found;
  func.walk<WalkOrder::PreOrder>([&](Operation *op) {
    if (op == func.getOperation())
      return WalkResult::advance();
    if (auto alloc = dyn_cast<gpu::AllocOp>(op); alloc && alloc.getHostShared())
      found = NotCapturable{"it allocates managed memory (a buffer the host "
                            "touches)",
                            op};
    else if (auto wait = dyn_cast<gpu::WaitOp>(op);
             wait && !wait.getAsyncToken())
      found = NotCapturable{"it waits for the GPU", op};
    else if (auto call = dyn_cast<func::CallOp>(op)) {
      if (call.getCallee() == "autopar_cuda_synchronize")
        found = NotCapturable{"it waits for the GPU before the host touches a "
                              "buffer",
                              op};
      else if (isCallToDefinedFunction(op))
        found = NotCapturable{"it calls @" + call.getCallee().str() +
                                  ", whose host code is not checked",
                              op};
      else if (!isStreamOrderedCall(op))
        found = NotCapturable{
            "it calls @" + call.getCallee().str() + " on the host", op};
    } else if (isHostAccess(op)) {
      found = NotCapturable{"the host touches a buffer ('" +
                                op->getName().getStringRef().str() + "')",
                            op};
    }
    return found ? WalkResult::interrupt() : WalkResult::advance();
  });
  return found;
}

struct CaptureGraphsPass
    : public mlir::autopar::impl::CaptureGraphsBase<CaptureGraphsPass> {
  using CaptureGraphsBase::CaptureGraphsBase;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    for (const std::string &name : functions) {
      auto func = module.lookupSymbol<func::FuncOp>(name);
      if (!func || func.isExternal()) {
        module.emitError() << "autopar-capture-graphs: no function @" << name
                           << " with a body";
        return signalPassFailure();
      }
      if (std::optional<NotCapturable> why = whyNotCapturable(func)) {
        InFlightDiagnostic warning =
            func.emitWarning() << "autopar-capture-graphs: @" << name
                               << " runs without a CUDA graph: " << why->reason;
        if (why->op)
          warning.attachNote(why->op->getLoc()) << "here";
        continue;
      }
      wrap(module, func);
    }
  }

private:
  /// `func`'s body behind the runtime's graph calls: the key (its buffers'
  /// addresses), then the body only where autopar_cuda_graph_begin did not
  /// replay it, ended by autopar_cuda_graph_end.
  void wrap(ModuleOp module, func::FuncOp func) {
    OpBuilder builder(module.getContext());
    Type i32 = builder.getI32Type(), i64 = builder.getI64Type();
    Type pointer = LLVM::LLVMPointerType::get(module.getContext());
    func::FuncOp key = getOrDeclareRuntimeFunction(
        builder, module, "autopar_cuda_graph_key", {i64}, {});
    func::FuncOp begin = getOrDeclareRuntimeFunction(
        builder, module, "autopar_cuda_graph_begin", {pointer}, {i32});
    func::FuncOp end = getOrDeclareRuntimeFunction(
        builder, module, "autopar_cuda_graph_end", {pointer}, {});
    Block &body = func.getBody().front();
    Operation *ret = body.getTerminator();
    SmallVector<Operation *> work;
    for (Operation &op : body.without_terminator())
      work.push_back(&op);
    Location loc = func.getLoc();
    builder.setInsertionPointToStart(&body);
    for (BlockArgument argument : func.getArguments())
      func::CallOp::create(builder, loc, key,
                           getBufferAddress(builder, loc, argument));
    // The function's name, NUL-terminated, for the runtime's messages (its
    // address is part of the key).
    std::string text = func.getSymName().str();
    text.push_back('\0');
    Value name = LLVM::createGlobalString(
        loc, builder, ("autopar_graph_name_" + func.getSymName()).str(), text,
        LLVM::Linkage::Internal);
    Value action = func::CallOp::create(builder, loc, begin, name).getResult(0);
    Value replayed =
        arith::ConstantOp::create(builder, loc, builder.getI32IntegerAttr(2));
    Value run = arith::CmpIOp::create(builder, loc, arith::CmpIPredicate::ne,
                                      action, replayed);
    auto ifOp = scf::IfOp::create(builder, loc, run, /*withElseRegion=*/false);
    Block *then = ifOp.thenBlock();
    for (Operation *op : work)
      op->moveBefore(then->getTerminator());
    builder.setInsertionPoint(then->getTerminator());
    func::CallOp::create(builder, ret->getLoc(), end, name);
  }
};
} // namespace
