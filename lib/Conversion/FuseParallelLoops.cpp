//===- FuseParallelLoops.cpp - fewer, larger loop nests -------------------===//
//
// Both backends (buildParallelLoopPasses), once every linalg op is an
// `scf.parallel` nest (on the GPU, a kernel each):
//
// * Vertical: neighbouring nests over the same iteration space whose
//   accesses line up become one (upstream's naivelyFuseParallelOps). The
//   buffers bufferization allocates and frees between two nests would stop
//   it; the allocations move before the first and the frees after the
//   second (a buffer lives one nest longer).
// * Horizontal: neighbouring nests that touch disjoint buffers run as one
//   nest over their iteration spaces one after another, each nest's part
//   starting at a multiple of `align` (the GPU's block size, so that a
//   block runs one nest's body), a search over the parts' starts choosing
//   the body (the rule and its limits are in include/autopar/Analysis/
//   Fusion.h, which the cost model prices by). An Adam step updated a
//   parameter in three kernels (two moments, then the parameter) and each
//   parameter in its own; it is now one kernel for many parameters.
//
//===----------------------------------------------------------------------===//

#include "autopar/Analysis/Fusion.h"
#include "autopar/Conversion/Buffers.h"
#include "autopar/Conversion/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Transforms/Transforms.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Transforms/RegionUtils.h"
#include "llvm/ADT/SetVector.h"

namespace mlir::autopar {
#define GEN_PASS_DEF_FUSEPARALLELLOOPS
#include "autopar/Conversion/Passes.h.inc"
} // namespace mlir::autopar

using namespace mlir;
using namespace mlir::autopar;

namespace {
/// Whether `value` is available before `op` (defined in an enclosing block
/// or earlier in op's block).
bool isAvailableBefore(Value value, Operation *op) {
  if (value.getParentBlock() != op->getBlock())
    return value.getParentBlock()->getParentOp()->isAncestor(op);
  Operation *def = value.getDefiningOp();
  return !def || def->isBeforeInBlock(op);
}

/// An op a fusion steps over where it stands: no memory effects, no
/// regions.
bool isInert(Operation *op) {
  return isMemoryEffectFree(op) && op->getNumRegions() == 0;
}

/// The ops between two nests that a fusion can move or step over:
/// allocations (moved before `first` when their sizes are known there),
/// frees (moved after the last nest) and ops without memory effects.
/// Returns false when another op stands between them.
bool collectGap(scf::ParallelOp first, Operation *from, Operation *to,
                SmallVectorImpl<Operation *> &allocs,
                SmallVectorImpl<Operation *> &frees) {
  for (Operation *op = from->getNextNode(); op != to; op = op->getNextNode()) {
    if (isa<memref::DeallocOp>(op)) {
      frees.push_back(op);
      continue;
    }
    if (isa<memref::AllocOp>(op)) {
      if (!llvm::all_of(op->getOperands(), [&](Value operand) {
            return isAvailableBefore(operand, first);
          }))
        return false;
      allocs.push_back(op);
      continue;
    }
    if (!isInert(op))
      return false;
  }
  return true;
}

/// Moves `allocs` before `first` and `frees` after `last`, in order.
void clearGaps(scf::ParallelOp first, Operation *last,
               ArrayRef<Operation *> allocs, ArrayRef<Operation *> frees) {
  for (Operation *alloc : allocs)
    alloc->moveBefore(first);
  Operation *after = last;
  for (Operation *free : frees) {
    free->moveAfter(after);
    after = free;
  }
}

bool hasSameSpace(scf::ParallelOp a, scf::ParallelOp b) {
  return a.getLowerBound() == b.getLowerBound() &&
         a.getUpperBound() == b.getUpperBound() && a.getStep() == b.getStep();
}

/// The next op after `op` in its block that is an scf.parallel, stepping
/// over the ops collectGap accepts.
scf::ParallelOp getNextLoop(Operation *op) {
  for (Operation *next = op->getNextNode(); next; next = next->getNextNode()) {
    if (auto loop = dyn_cast<scf::ParallelOp>(next))
      return loop;
    if (!isa<memref::AllocOp, memref::DeallocOp>(next) && !isInert(next))
      return {};
  }
  return {};
}

/// Vertical fusion: clear the gaps between neighbouring nests over the same
/// space, then let upstream fuse them.
void fuseVertically(Region &region) {
  for (Block &block : region) {
    SmallVector<scf::ParallelOp> loops(block.getOps<scf::ParallelOp>());
    // The first nest of the chain `loop` ends (upstream fuses a chain into
    // its last nest, so allocations go before its first).
    scf::ParallelOp chain;
    for (scf::ParallelOp loop : loops) {
      if (!chain)
        chain = loop;
      scf::ParallelOp next = getNextLoop(loop);
      SmallVector<Operation *> allocs, frees;
      if (!next || !hasSameSpace(loop, next) || loop.getNumResults() ||
          next.getNumResults() ||
          !collectGap(chain, loop, next, allocs, frees)) {
        chain = {};
        continue;
      }
      clearGaps(chain, next, allocs, frees);
    }
  }
  scf::naivelyFuseParallelOps(region, [](Value a, Value b) {
    return mayAliasBuffers(getRootBuffer(a), getRootBuffer(b));
  });
}

/// The root buffers a nest reads and writes from outside itself.
struct Accesses {
  SmallVector<Value> reads, writes;
  /// An effect on no known buffer (a call, a global).
  bool unknown = false;

  void add(const Accesses &other) {
    reads.append(other.reads);
    writes.append(other.writes);
    unknown |= other.unknown;
  }

  /// Whether running `this` and `other` in either order, or interleaved,
  /// gives the same result: neither writes what the other touches.
  bool isIndependentOf(const Accesses &other) const {
    if (unknown || other.unknown)
      return false;
    auto overlaps = [](ArrayRef<Value> as, ArrayRef<Value> bs) {
      return llvm::any_of(as, [&](Value a) {
        return llvm::any_of(bs, [&](Value b) { return mayAliasBuffers(a, b); });
      });
    };
    return !overlaps(writes, other.reads) && !overlaps(writes, other.writes) &&
           !overlaps(other.writes, reads);
  }
};

Accesses getAccesses(scf::ParallelOp loop) {
  Accesses accesses;
  loop.getBody()->walk([&](Operation *op) {
    if (op->hasTrait<OpTrait::HasRecursiveMemoryEffects>())
      return;
    auto interface = dyn_cast<MemoryEffectOpInterface>(op);
    if (!interface) {
      accesses.unknown |= !op->hasTrait<OpTrait::IsTerminator>();
      return;
    }
    SmallVector<MemoryEffects::EffectInstance> effects;
    interface.getEffects(effects);
    for (const MemoryEffects::EffectInstance &effect : effects) {
      Value value = effect.getValue();
      if (!value) {
        accesses.unknown = true;
        continue;
      }
      Value root = getRootBuffer(value);
      // Buffers of the nest's own iterations are its business.
      if (loop->isAncestor(root.getParentBlock()->getParentOp()))
        continue;
      if (isa<MemoryEffects::Read>(effect.getEffect()))
        accesses.reads.push_back(root);
      else
        accesses.writes.push_back(root);
    }
  });
  return accesses;
}

/// A nest horizontal fusion takes: constant bounds and steps, no results,
/// no nest inside.
std::optional<SmallVector<int64_t>> getTripCounts(scf::ParallelOp loop) {
  if (loop.getNumResults() != 0)
    return std::nullopt;
  bool nested = false;
  loop.getBody()->walk([&](scf::ParallelOp) { nested = true; });
  if (nested)
    return std::nullopt;
  SmallVector<int64_t> trips;
  for (auto [lb, ub, step] :
       llvm::zip(loop.getLowerBound(), loop.getUpperBound(), loop.getStep())) {
    std::optional<int64_t> l = getConstantIntValue(lb);
    std::optional<int64_t> u = getConstantIntValue(ub);
    std::optional<int64_t> s = getConstantIntValue(step);
    if (!l || !u || !s || *s <= 0 || *u <= *l)
      return std::nullopt;
    trips.push_back(llvm::divideCeil(*u - *l, *s));
  }
  return trips;
}

struct Part {
  scf::ParallelOp loop;
  SmallVector<int64_t> trips;
  int64_t start = 0, size = 1;
};

/// A run of neighbouring nests to merge, with what the grouping found: the
/// ops between them to move, the buffers they touch, the values they take
/// from above (their kernel's arguments) and those values' bytes.
struct Group {
  SmallVector<Part> parts;
  SmallVector<Operation *> allocs, frees;
  Accesses touched;
  llvm::SetVector<Value> arguments;
  int64_t argumentBytes = 0;
};

/// Emits, at `builder`'s point, the body of the part of `parts` that the
/// merged index `index` falls in: a binary search over their starts.
void emitParts(OpBuilder &builder, Location loc, Value index,
               ArrayRef<Part> parts, int64_t end) {
  if (parts.size() > 1) {
    size_t half = parts.size() / 2;
    Value start =
        arith::ConstantIndexOp::create(builder, loc, parts[half].start);
    Value before = arith::CmpIOp::create(
        builder, loc, arith::CmpIPredicate::ult, index, start);
    scf::IfOp::create(
        builder, loc, before,
        [&](OpBuilder &b, Location l) {
          emitParts(b, l, index, parts.take_front(half), parts[half].start);
          scf::YieldOp::create(b, l);
        },
        [&](OpBuilder &b, Location l) {
          emitParts(b, l, index, parts.drop_front(half), end);
          scf::YieldOp::create(b, l);
        });
    return;
  }
  const Part &part = parts.front();
  Value local = index;
  if (part.start != 0)
    local = builder.createOrFold<arith::SubIOp>(
        loc, index, arith::ConstantIndexOp::create(builder, loc, part.start));
  auto emitBody = [&](OpBuilder &b, Location l) {
    // Row-major: the last loop varies fastest, as in one block's threads.
    IRMapping mapping;
    Value rest = local;
    scf::ParallelOp loop = part.loop;
    for (int64_t d = static_cast<int64_t>(part.trips.size()) - 1; d >= 0; --d) {
      Value position = rest;
      if (d != 0) {
        Value trips = arith::ConstantIndexOp::create(b, l, part.trips[d]);
        position = b.createOrFold<arith::RemUIOp>(l, rest, trips);
        rest = b.createOrFold<arith::DivUIOp>(l, rest, trips);
      }
      // (Folded where the bound is 0 and the step 1.)
      Value iv = b.createOrFold<arith::AddIOp>(
          l, loop.getLowerBound()[d],
          b.createOrFold<arith::MulIOp>(l, position, loop.getStep()[d]));
      mapping.map(loop.getInductionVars()[d], iv);
    }
    for (Operation &op : loop.getBody()->without_terminator())
      b.clone(op, mapping);
  };
  // Past its last iteration (the padding up to the next part's start).
  if (end - part.start > part.size) {
    Value inside = arith::CmpIOp::create(
        builder, loc, arith::CmpIPredicate::ult, local,
        arith::ConstantIndexOp::create(builder, loc, part.size));
    scf::IfOp::create(builder, loc, inside, [&](OpBuilder &b, Location l) {
      emitBody(b, l);
      scf::YieldOp::create(b, l);
    });
    return;
  }
  emitBody(builder, loc);
}

/// Replaces `group`'s nests (neighbours, independent) by one at the last
/// one's place.
void merge(Group &group, int64_t align) {
  scf::ParallelOp first = group.parts.front().loop;
  scf::ParallelOp last = group.parts.back().loop;
  clearGaps(first, last, group.allocs, group.frees);

  SmallVector<Location> locs;
  int64_t end = 0;
  for (Part &part : group.parts) {
    part.start = llvm::alignTo(end, align);
    end = part.start + part.size;
    locs.push_back(part.loop.getLoc());
  }
  OpBuilder builder(last);
  Location loc = builder.getFusedLoc(locs);
  Value zero = arith::ConstantIndexOp::create(builder, loc, 0);
  Value one = arith::ConstantIndexOp::create(builder, loc, 1);
  Value total = arith::ConstantIndexOp::create(builder, loc, end);
  scf::ParallelOp::create(builder, loc, ValueRange{zero}, ValueRange{total},
                          ValueRange{one},
                          [&](OpBuilder &b, Location l, ValueRange ivs) {
                            emitParts(b, l, ivs.front(), group.parts, end);
                          });
  for (Part &part : group.parts)
    part.loop.erase();
}

/// Horizontal fusion over the nests of `block`: greedily, each run of
/// neighbouring nests that are independent and fit the limits.
void fuseHorizontally(Block &block, int64_t align) {
  SmallVector<Group, 0> groups;
  Group group;
  auto close = [&] {
    if (group.parts.size() > 1)
      groups.push_back(std::move(group));
    group = Group();
  };
  // Kernel argument bytes `used` adds to the group's.
  auto addedBytes = [&](const llvm::SetVector<Value> &used) {
    int64_t bytes = 0;
    for (Value value : used)
      if (!group.arguments.contains(value) &&
          !matchPattern(value, m_Constant()))
        bytes += getKernelArgumentBytes(value.getType());
    return bytes;
  };
  for (Operation &op : block) {
    auto loop = dyn_cast<scf::ParallelOp>(op);
    if (!loop)
      continue;
    std::optional<SmallVector<int64_t>> trips = getTripCounts(loop);
    if (!trips) {
      close();
      continue;
    }
    Accesses accesses = getAccesses(loop);
    llvm::SetVector<Value> used;
    getUsedValuesDefinedAbove(loop.getRegion(), used);
    int64_t bytes = addedBytes(used);
    if (!group.parts.empty()) {
      SmallVector<Operation *> allocs, frees;
      bool fits = group.parts.size() < kMaxMergedLoops &&
                  group.argumentBytes + bytes <= kMaxMergedArgumentBytes &&
                  accesses.isIndependentOf(group.touched) &&
                  collectGap(group.parts.front().loop, group.parts.back().loop,
                             loop, allocs, frees);
      if (fits) {
        llvm::append_range(group.allocs, allocs);
        llvm::append_range(group.frees, frees);
      } else {
        close();
        bytes = addedBytes(used);
      }
    }
    Part part;
    part.loop = loop;
    part.trips = std::move(*trips);
    for (int64_t trip : part.trips)
      part.size *= trip;
    group.parts.push_back(std::move(part));
    group.touched.add(accesses);
    group.arguments.insert(used.begin(), used.end());
    group.argumentBytes += bytes;
  }
  close();
  for (Group &merged : groups)
    merge(merged, align);
}

struct FuseParallelLoopsPass
    : public mlir::autopar::impl::FuseParallelLoopsBase<FuseParallelLoopsPass> {
  using FuseParallelLoopsBase::FuseParallelLoopsBase;
  void runOnOperation() override {
    SmallVector<Region *> regions;
    getOperation()->walk([&](Operation *op) {
      // Nests inside a nest are one kernel already.
      if (isa<scf::ParallelOp>(op) || op->getParentOfType<scf::ParallelOp>())
        return;
      for (Region &region : op->getRegions())
        regions.push_back(&region);
    });
    for (Region *region : regions) {
      fuseVertically(*region);
      if (horizontal)
        for (Block &block : *region)
          fuseHorizontally(block, std::max<int64_t>(1, align));
    }
  }
};
} // namespace
