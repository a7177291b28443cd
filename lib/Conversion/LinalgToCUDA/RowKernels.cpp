//===- RowKernels.cpp - a block of GPU threads per row --------------------===//
//
// autopar-row-kernels: a row reduction (a softmax's maximum and sum, a
// LayerNorm's mean) and the generics after it over the same rows that read
// it (the division, the normalisation) as one kernel with a block per row.
// Before, each was a kernel of its own with a thread per row, each thread
// reading its row alone (threads of a warp 4 KiB apart: GPT-2's softmax
// sums read at 190 GB/s on an H200), or a split reduction with a second
// kernel for the partials. Here the block's threads read the row together,
// neighbouring threads neighbouring elements, and combine their partials
// by warp shuffles, the warps' values meeting in shared memory.
//
//===----------------------------------------------------------------------===//

#include "autopar/Analysis/Fusion.h"
#include "autopar/Conversion/Buffers.h"
#include "autopar/Conversion/Passes.h"
#include "autopar/Conversion/ProfileOps.h"
#include "autopar/Conversion/Reductions.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Utils/IndexingUtils.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Transforms/RegionUtils.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/Support/MathExtras.h"

namespace mlir::autopar {
#define GEN_PASS_DEF_ROWKERNELS
#include "autopar/Conversion/Passes.h.inc"
} // namespace mlir::autopar

using namespace mlir;
using namespace mlir::autopar;

namespace {

/// Elements each thread of a row's block combines, at least, when the row
/// is long enough: fewer threads than the row has elements keep each
/// thread's loads in flight; a block of 256 for GPT-2's rows of 768 and
/// 1024.
constexpr int64_t kElementsPerThread = 4;

/// The smallest block: one warp.
constexpr int64_t kWarpSize = 32;
constexpr int64_t kMinThreads = kWarpSize;

/// A generic of a row kernel: it reduces its loops after the first
/// `rowLoops` into one value per row (`reduction`), or is elementwise.
struct Member {
  mutable linalg::GenericOp op;
  bool reduction;
  SmallVector<int64_t> ranges;
};

/// The loop ranges of `generic` when all are static and the op works on
/// buffers.
std::optional<SmallVector<int64_t>> getRanges(linalg::GenericOp generic) {
  if (!generic.hasPureBufferSemantics())
    return std::nullopt;
  return getStaticRanges(generic);
}

/// Whether a reduction over `element`s combines within warps by shuffles
/// (the types `gpu.shuffle` takes), else by a tree in shared memory.
bool isShuffled(Type element) {
  return isa<Float32Type, Float64Type>(element) || element.isInteger(32) ||
         element.isInteger(64);
}

/// Whether `value` is defined before `op` in its block, in an enclosing
/// block, or by one of `moved` (ops that will be moved before `op`).
bool isAvailableBefore(Value value, Operation *op,
                       const llvm::SetVector<Operation *> &moved) {
  Operation *def = value.getDefiningOp();
  if (!def || def->getBlock() != op->getBlock())
    return true;
  return def->isBeforeInBlock(op) || moved.contains(def);
}

/// The row indices of `linear` (row-major over `ranges`).
SmallVector<Value> delinearize(OpBuilder &b, Location loc, Value linear,
                               ArrayRef<int64_t> ranges) {
  SmallVector<Value> indices(ranges.size());
  for (int64_t i = static_cast<int64_t>(ranges.size()) - 1; i >= 0; --i) {
    if (ranges[i] == 1) {
      indices[i] = arith::ConstantIndexOp::create(b, loc, 0);
      continue;
    }
    if (i == 0) {
      indices[i] = linear;
      break;
    }
    Value range = arith::ConstantIndexOp::create(b, loc, ranges[i]);
    indices[i] = arith::RemUIOp::create(b, loc, linear, range);
    linear = arith::DivUIOp::create(b, loc, linear, range);
  }
  return indices;
}

/// The indices of `map` applied to the loop indices `ivs`.
SmallVector<Value> applyMap(OpBuilder &b, Location loc, AffineMap map,
                            ArrayRef<Value> ivs) {
  SmallVector<Value> indices;
  for (AffineExpr result : map.getResults()) {
    if (auto dim = dyn_cast<AffineDimExpr>(result)) {
      indices.push_back(ivs[dim.getPosition()]);
      continue;
    }
    if (auto constant = dyn_cast<AffineConstantExpr>(result)) {
      indices.push_back(
          arith::ConstantIndexOp::create(b, loc, constant.getValue()));
      continue;
    }
    indices.push_back(affine::AffineApplyOp::create(
        b, loc, AffineMap::get(map.getNumDims(), map.getNumSymbols(), result),
        ivs));
  }
  return indices;
}

/// One iteration of `generic`'s body at loop indices `ivs`: its inputs
/// loaded, its outputs' block arguments bound to `outputs` (a reduction's
/// partials) or loaded; returns the yielded values.
SmallVector<Value> emitBody(OpBuilder &b, Location loc,
                            linalg::GenericOp generic, ArrayRef<Value> ivs,
                            ValueRange outputs) {
  IRMapping mapping;
  Block *body = generic.getBody();
  for (OpOperand &operand : generic->getOpOperands()) {
    BlockArgument arg = generic.getMatchingBlockArgument(&operand);
    if (generic.isDpsInit(&operand) && !outputs.empty()) {
      mapping.map(
          arg, outputs[operand.getOperandNumber() - generic.getNumDpsInputs()]);
      continue;
    }
    if (arg.use_empty())
      continue;
    AffineMap map = generic.getMatchingIndexingMap(&operand);
    if (!isa<MemRefType>(operand.get().getType())) {
      mapping.map(arg, operand.get()); // a scalar input
      continue;
    }
    mapping.map(arg, memref::LoadOp::create(b, loc, operand.get(),
                                            applyMap(b, loc, map, ivs)));
  }
  for (Operation &op : body->without_terminator()) {
    if (auto index = dyn_cast<linalg::IndexOp>(op)) {
      mapping.map(index.getResult(), ivs[index.getDim()]);
      continue;
    }
    b.clone(op, mapping);
  }
  SmallVector<Value> yielded;
  for (Value value : body->getTerminator()->getOperands())
    yielded.push_back(mapping.lookupOrDefault(value));
  return yielded;
}

/// `combiner` (an op of a generic's body combining an element with the
/// output's block argument) applied to `element` and `partial`.
Value emitCombine(OpBuilder &b, Operation *combiner, BlockArgument outArg,
                  Value element, Value partial) {
  Operation *clone = b.clone(*combiner);
  unsigned outPosition = combiner->getOperand(0) == outArg ? 0 : 1;
  clone->setOperand(outPosition, partial);
  clone->setOperand(1 - outPosition, element);
  return clone->getResult(0);
}

struct RowKernelsPass
    : public mlir::autopar::impl::RowKernelsBase<RowKernelsPass> {
  using RowKernelsBase::RowKernelsBase;

  void runOnOperation() override {
    int64_t threads = llvm::PowerOf2Ceil(std::max<int64_t>(maxThreads, 1));
    if (threads > maxThreads)
      threads /= 2;
    maxBlock = std::max(kMinThreads, threads);
    SmallVector<linalg::GenericOp> seeds;
    getOperation().walk([&](linalg::GenericOp generic) {
      if (isSeed(generic))
        seeds.push_back(generic);
    });
    DenseSet<Operation *> erased;
    for (linalg::GenericOp seed : seeds)
      if (!erased.contains(seed))
        formKernel(seed, erased);
  }

private:
  int64_t maxBlock = 1024;

  /// A row reduction on buffers that starts a kernel (isRowKernelSeed,
  /// Analysis/Fusion.h, with this pass's bounds).
  bool isSeed(linalg::GenericOp generic) {
    return generic.hasPureBufferSemantics() &&
           isRowKernelSeed(generic, minRows, minLength);
  }

  /// The member `generic` would be of a kernel over `rowRanges`, if it can
  /// be one.
  std::optional<Member> getMember(linalg::GenericOp generic,
                                  ArrayRef<int64_t> rowRanges) {
    std::optional<SmallVector<int64_t>> ranges = getRanges(generic);
    if (!ranges || ranges->size() < rowRanges.size() ||
        ArrayRef<int64_t>(*ranges).take_front(rowRanges.size()) != rowRanges)
      return std::nullopt;
    if (std::optional<unsigned> rowLoops = getRowReductionLoops(generic)) {
      if (*rowLoops != rowRanges.size())
        return std::nullopt;
      return Member{generic, true, *ranges};
    }
    if (generic.getNumParallelLoops() != generic.getNumLoops())
      return std::nullopt;
    return Member{generic, false, *ranges};
  }

  /// Whether every access of `members` to a buffer they write (`written`,
  /// roots) is to that buffer itself (or a view of it with the same rows,
  /// isRowView), or every one through the same unit-stride subview (an
  /// attention block's slice of its lse), at the accessing op's row, and
  /// each written buffer is one the function allocates: no block touches
  /// another's row.
  static bool keepsToRows(ArrayRef<Member> members, unsigned rowLoops,
                          const llvm::SetVector<Value> &written) {
    for (Value root : written)
      if (!isAllocatedBuffer(root) || root.getDefiningOp<memref::GetGlobalOp>())
        return false;
    // Per written root, the one subview the members reach it through (null:
    // row views only).
    llvm::DenseMap<Value, Value> views;
    for (const Member &member : members)
      for (OpOperand &operand : member.op->getOpOperands()) {
        if (!isa<MemRefType>(operand.get().getType()))
          continue;
        Value root = getRootBuffer(operand.get());
        if (!written.contains(root))
          continue;
        if (!indexesRow(member.op.getMatchingIndexingMap(&operand), rowLoops))
          return false;
        Value view;
        if (!isRowView(operand.get(), rowLoops)) {
          auto subview = operand.get().getDefiningOp<memref::SubViewOp>();
          if (!subview || !subview.hasUnitStride() ||
              !isRowView(subview.getSource(), rowLoops))
            return false;
          view = subview;
        }
        auto [entry, inserted] = views.try_emplace(root, view);
        if (entry->second != view)
          return false;
      }
    return true;
  }

  /// Grows a kernel from `seed` over the generics after it and replaces
  /// them with it.
  void formKernel(linalg::GenericOp seed, DenseSet<Operation *> &erased) {
    unsigned rowLoops = *getRowReductionLoops(seed);
    SmallVector<int64_t> seedRanges = *getRanges(seed);
    SmallVector<int64_t> rowRanges(seedRanges.begin(),
                                   seedRanges.begin() + rowLoops);
    SmallVector<Member> members = {Member{seed, true, seedRanges}};
    llvm::SetVector<Value> written;
    for (Value init : seed.getDpsInits())
      written.insert(getRootBuffer(init));
    if (!keepsToRows(members, rowLoops, written))
      return;

    // The kernel runs where the seed was: the members after it move up
    // past the ops between them. Allocations, constants and fills of
    // buffers no member touched yet move before the kernel; other linalg
    // ops stay (they now run after the later members, which must not touch
    // what they do), as do deallocations (of buffers no later member
    // reads). Committed when a member follows them.
    llvm::SetVector<Operation *> before;
    SmallVector<Operation *> pendingBefore, stayed;
    llvm::SetVector<Value> touched; // roots any member accesses
    for (Value operand : seed->getOperands())
      touched.insert(getRootBuffer(operand));
    auto available = [&](Operation *op) {
      llvm::SetVector<Operation *> moving(before.begin(), before.end());
      moving.insert(pendingBefore.begin(), pendingBefore.end());
      llvm::SetVector<Value> used(op->operand_begin(), op->operand_end());
      getUsedValuesDefinedAbove(op->getRegions(), used);
      return llvm::all_of(used, [&](Value value) {
        return isAvailableBefore(value, seed, moving);
      });
    };
    // Whether `op` and an op staying behind touch a buffer that may be
    // the same, one of them writing it.
    auto buffersOf = [](Operation *op, bool writtenOnly) {
      SmallVector<Value> roots;
      auto dps = dyn_cast<DestinationStyleOpInterface>(op);
      for (OpOperand &operand : op->getOpOperands())
        if (isa<MemRefType>(operand.get().getType()) &&
            (!writtenOnly || !dps || dps.isDpsInit(&operand)))
          roots.push_back(getRootBuffer(operand.get()));
      return roots;
    };
    auto overlap = [](ArrayRef<Value> a, ArrayRef<Value> b) {
      return llvm::any_of(a, [&](Value x) {
        return llvm::any_of(b, [&](Value y) { return mayAliasBuffers(x, y); });
      });
    };
    auto conflictsWithStayed = [&](Operation *op) {
      SmallVector<Value> all = buffersOf(op, false);
      SmallVector<Value> writes = buffersOf(op, true);
      return llvm::any_of(stayed, [&](Operation *other) {
        return overlap(writes, buffersOf(other, false)) ||
               overlap(all, buffersOf(other, true));
      });
    };
    // An op the later members may move past: a linalg op on buffers.
    auto canStay = [&](Operation *op) {
      auto linalgOp = dyn_cast<linalg::LinalgOp>(op);
      return linalgOp && linalgOp.hasPureBufferSemantics();
    };
    for (Operation *op = seed->getNextNode(); op; op = op->getNextNode()) {
      // (autopar-profile-ops' clock calls stay: the kernel's time is the
      // seed's layer's, the later members' layers take none.)
      if (isa<memref::DeallocOp>(op) || isProfilingCall(op))
        continue;
      if (auto fill = dyn_cast<linalg::FillOp>(op)) {
        if (fill.hasPureBufferSemantics() &&
            !touched.contains(getRootBuffer(fill.getOutputs()[0])) &&
            !conflictsWithStayed(op) && available(op)) {
          pendingBefore.push_back(op);
          continue;
        }
      }
      if ((isa<memref::AllocOp, memref::AllocaOp>(op) ||
           (isMemoryEffectFree(op) && op->getNumRegions() == 0)) &&
          available(op)) {
        pendingBefore.push_back(op);
        continue;
      }
      auto generic = dyn_cast<linalg::GenericOp>(op);
      std::optional<Member> member;
      if (generic)
        member = getMember(generic, rowRanges);
      // It joins when it reads or writes what the kernel writes, or is
      // another reduction of the same rows (a LayerNorm gradient's two row
      // sums, which the op after them reads both of).
      bool dependent =
          member && llvm::any_of(generic->getOperands(), [&](Value value) {
            return written.contains(getRootBuffer(value));
          });
      if (member && (dependent || member->reduction) && available(op) &&
          !conflictsWithStayed(op)) {
        llvm::SetVector<Value> grown = written;
        for (Value init : generic.getDpsInits())
          grown.insert(getRootBuffer(init));
        members.push_back(*member);
        if (keepsToRows(members, rowLoops, grown)) {
          written = std::move(grown);
          for (Value operand : generic->getOperands())
            touched.insert(getRootBuffer(operand));
          before.insert(pendingBefore.begin(), pendingBefore.end());
          pendingBefore.clear();
          continue;
        }
        members.pop_back();
      }
      if (!canStay(op) || stayed.size() == kRowKernelMaxStayed)
        break;
      stayed.push_back(op);
    }

    // A fill that only starts a reduction's output (nothing else touches
    // the buffer between them, and the kernel writes every row of it) is
    // folded in: thread 0 combines the row's value with the fill's.
    DenseMap<Value, Value> initialValues;
    SmallVector<Operation *> folded;
    for (const Member &member : members) {
      if (!member.reduction)
        continue;
      for (Value init : member.op.getDpsInits()) {
        auto type = cast<MemRefType>(init.getType());
        // One value a row: the rows' shape, then kept dimensions of 1.
        if (!type.hasStaticShape() ||
            type.getRank() < static_cast<int64_t>(rowLoops) ||
            type.getShape().take_front(rowLoops) != ArrayRef(rowRanges) ||
            type.getNumElements() != computeProduct(rowRanges))
          continue;
        if (auto fill = dyn_cast_or_null<linalg::FillOp>(
                getFillBefore(member.op, init))) {
          Value value = fill.getInputs()[0];
          if (!isAvailableBefore(value, seed, before))
            continue;
          initialValues[init] = value;
          folded.push_back(fill);
          before.remove(fill);
        }
      }
    }
    for (Operation *op : before)
      op->moveBefore(seed);
    emitKernel(members, rowRanges, initialValues);
    for (Member &member : members) {
      erased.insert(member.op);
      member.op->erase();
    }
    for (Operation *fill : folded)
      fill->erase();
  }

  /// The kernel, before the first member.
  void emitKernel(ArrayRef<Member> members, ArrayRef<int64_t> rowRanges,
                  const DenseMap<Value, Value> &initialValues) {
    unsigned rowLoops = rowRanges.size();
    int64_t longest = 1;
    for (const Member &member : members)
      longest = std::max(
          longest, computeProduct(
                       ArrayRef<int64_t>(member.ranges).drop_front(rowLoops)));
    int64_t threads =
        llvm::PowerOf2Ceil(llvm::divideCeil(longest, kElementsPerThread));
    threads = std::clamp<int64_t>(threads, kMinThreads, maxBlock);

    // Shared memory: one buffer of a partial per thread for each element
    // type the reductions combine.
    SmallVector<Type> sharedTypes;
    auto workgroup = gpu::AddressSpaceAttr::get(
        &getContext(), gpu::GPUDialect::getWorkgroupAddressSpace());
    for (const Member &member : members)
      if (member.reduction)
        for (Value init : member.op.getDpsInits()) {
          Type element = cast<MemRefType>(init.getType()).getElementType();
          int64_t size = isShuffled(element)
                             ? std::max<int64_t>(1, threads / kWarpSize)
                             : threads;
          auto type = MemRefType::get({size}, element,
                                      MemRefLayoutAttrInterface(), workgroup);
          if (!llvm::is_contained(sharedTypes, type))
            sharedTypes.push_back(type);
        }

    SmallVector<Location> locations;
    for (const Member &member : members)
      locations.push_back(member.op.getLoc());
    Location loc = FusedLoc::get(&getContext(), locations);
    if (report) {
      InFlightDiagnostic remark = emitRemark(members.front().op.getLoc())
                                  << "row kernel: " << computeProduct(rowRanges)
                                  << " rows of " << longest << ", " << threads
                                  << " threads a row;";
      for (const Member &member : members)
        remark << (member.reduction ? " reduction" : " elementwise");
    }
    OpBuilder b(members.front().op);
    Value one = arith::ConstantIndexOp::create(b, loc, 1);
    Value grid =
        arith::ConstantIndexOp::create(b, loc, computeProduct(rowRanges));
    Value block = arith::ConstantIndexOp::create(b, loc, threads);
    auto launch = gpu::LaunchOp::create(b, loc, grid, one, one, block, one, one,
                                        /*dynamicSharedMemorySize=*/nullptr,
                                        /*asyncTokenType=*/nullptr,
                                        /*asyncDependencies=*/{}, sharedTypes);
    Block &body = launch.getBody().front();
    b.setInsertionPointToStart(&body);
    gpu::TerminatorOp::create(b, loc);
    b.setInsertionPointToStart(&body);

    Value thread = launch.getThreadIds().x;
    SmallVector<Value> rowIvs =
        delinearize(b, loc, launch.getBlockIds().x, rowRanges);
    Value step = arith::ConstantIndexOp::create(b, loc, threads);
    for (auto [position, member] : llvm::enumerate(members)) {
      linalg::GenericOp generic = member.op;
      ArrayRef<int64_t> inner =
          ArrayRef<int64_t>(member.ranges).drop_front(rowLoops);
      Value count =
          arith::ConstantIndexOp::create(b, loc, computeProduct(inner));
      auto iterationIvs = [&](OpBuilder &nested, Value linear) {
        SmallVector<Value> ivs(rowIvs);
        llvm::append_range(ivs, delinearize(nested, loc, linear, inner));
        return ivs;
      };
      if (!member.reduction) {
        // Each thread its elements of the row, written.
        auto loop = scf::ForOp::create(b, loc, thread, count, step);
        OpBuilder nested = OpBuilder::atBlockTerminator(loop.getBody());
        SmallVector<Value> ivs = iterationIvs(nested, loop.getInductionVar());
        SmallVector<Value> values =
            emitBody(nested, loc, generic, ivs, ValueRange());
        for (auto [value, init] :
             llvm::zip(values, generic.getDpsInitsMutable()))
          memref::StoreOp::create(
              nested, loc, value, init.get(),
              applyMap(nested, loc, generic.getMatchingIndexingMap(&init),
                       ivs));
      } else {
        emitReduction(b, loc, generic, thread, count, step, threads, rowIvs,
                      iterationIvs, launch, initialValues);
      }
      // What it wrote visible to the block's other threads before the
      // next member.
      if (position + 1 < members.size())
        gpu::BarrierOp::create(b, loc);
    }
  }

  /// A row reduction: each thread's partials over its elements of the row,
  /// then per output a tree over the block's partials in shared memory,
  /// thread 0 combining the row's value into the output.
  void emitReduction(
      OpBuilder &b, Location loc, linalg::GenericOp generic, Value thread,
      Value count, Value step, int64_t threads, ArrayRef<Value> rowIvs,
      function_ref<SmallVector<Value>(OpBuilder &, Value)> iterationIvs,
      gpu::LaunchOp launch, const DenseMap<Value, Value> &initialValues) {
    SmallVector<Operation *> combiners;
    SmallVector<Value> neutrals;
    for (auto [index, init] : llvm::enumerate(generic.getDpsInits())) {
      Operation *combiner = getCombiner(generic, index);
      combiners.push_back(combiner);
      neutrals.push_back(getNeutral(
          b, loc, combiner, cast<MemRefType>(init.getType()).getElementType()));
    }
    auto loop = scf::ForOp::create(b, loc, thread, count, step, neutrals);
    {
      OpBuilder nested = OpBuilder::atBlockEnd(loop.getBody());
      SmallVector<Value> ivs = iterationIvs(nested, loop.getInductionVar());
      SmallVector<Value> partials =
          emitBody(nested, loc, generic, ivs, loop.getRegionIterArgs());
      scf::YieldOp::create(nested, loc, partials);
    }
    Value zero = arith::ConstantIndexOp::create(b, loc, 0);
    for (auto [index, init] : llvm::enumerate(generic.getDpsInitsMutable())) {
      Operation *combiner = combiners[index];
      BlockArgument outArg = generic.getMatchingBlockArgument(&init);
      Type element = cast<MemRefType>(init.get().getType()).getElementType();
      Value shared;
      for (BlockArgument buffer : launch.getWorkgroupAttributions())
        if (cast<MemRefType>(buffer.getType()).getElementType() == element)
          shared = buffer;
      Value row = loop.getResult(index);
      if (isShuffled(element)) {
        // Each warp's partials by shuffles, then warp 0 over the warps'
        // results, which lane 0 of each put in shared memory.
        auto warpReduce = [&](Value value, int64_t lanes) {
          Value width =
              arith::ConstantIntOp::create(b, loc, b.getI32Type(), kWarpSize);
          for (int64_t offset = lanes / 2; offset >= 1; offset /= 2) {
            Value distance =
                arith::ConstantIntOp::create(b, loc, b.getI32Type(), offset);
            Value other = gpu::ShuffleOp::create(b, loc, value, distance, width,
                                                 gpu::ShuffleMode::XOR)
                              .getShuffleResult();
            value = emitCombine(b, combiner, outArg, other, value);
          }
          return value;
        };
        row = warpReduce(row, std::min(threads, kWarpSize));
        if (threads > kWarpSize) {
          Value warpSize = arith::ConstantIndexOp::create(b, loc, kWarpSize);
          if (index > 0)
            gpu::BarrierOp::create(b, loc); // the last output's reads done
          Value lane = arith::RemUIOp::create(b, loc, thread, warpSize);
          Value laneZero = arith::CmpIOp::create(
              b, loc, arith::CmpIPredicate::eq, lane, zero);
          auto put = scf::IfOp::create(b, loc, laneZero, /*withElse=*/false);
          OpBuilder then = put.getThenBodyBuilder();
          memref::StoreOp::create(
              then, loc, row, shared,
              ValueRange{arith::DivUIOp::create(then, loc, thread, warpSize)});
          gpu::BarrierOp::create(b, loc);
          int64_t warps = threads / kWarpSize;
          Value isWarp = arith::CmpIOp::create(
              b, loc, arith::CmpIPredicate::ult, thread,
              arith::ConstantIndexOp::create(b, loc, warps));
          auto get = scf::IfOp::create(b, loc, TypeRange{element}, isWarp,
                                       /*withElse=*/true);
          OpBuilder getThen = get.getThenBodyBuilder();
          scf::YieldOp::create(
              getThen, loc,
              ValueRange{memref::LoadOp::create(getThen, loc, shared, thread)});
          OpBuilder getElse = get.getElseBodyBuilder();
          scf::YieldOp::create(getElse, loc, ValueRange{neutrals[index]});
          row = warpReduce(get.getResult(0), warps);
        }
      } else {
        // A tree in shared memory (types shuffles do not take: bf16).
        memref::StoreOp::create(b, loc, row, shared, thread);
        gpu::BarrierOp::create(b, loc);
        for (int64_t half = threads / 2; half >= 1; half /= 2) {
          Value halfValue = arith::ConstantIndexOp::create(b, loc, half);
          Value lower = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                              thread, halfValue);
          auto level = scf::IfOp::create(b, loc, lower, /*withElse=*/false);
          OpBuilder then = level.getThenBodyBuilder();
          Value other = arith::AddIOp::create(then, loc, thread, halfValue);
          Value mine = memref::LoadOp::create(then, loc, shared, thread);
          Value theirs = memref::LoadOp::create(then, loc, shared, other);
          memref::StoreOp::create(
              then, loc, emitCombine(then, combiner, outArg, theirs, mine),
              shared, thread);
          gpu::BarrierOp::create(b, loc);
        }
        row = nullptr;
      }
      Value first =
          arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, thread, zero);
      auto write = scf::IfOp::create(b, loc, first, /*withElse=*/false);
      OpBuilder then = write.getThenBodyBuilder();
      if (!row)
        row = memref::LoadOp::create(then, loc, shared, zero);
      SmallVector<Value> indices =
          applyMap(then, loc, generic.getMatchingIndexingMap(&init),
                   SmallVector<Value>(rowIvs));
      Value old = initialValues.lookup(init.get());
      if (!old)
        old = memref::LoadOp::create(then, loc, init.get(), indices);
      memref::StoreOp::create(then, loc,
                              emitCombine(then, combiner, outArg, row, old),
                              init.get(), indices);
    }
  }
};
} // namespace
