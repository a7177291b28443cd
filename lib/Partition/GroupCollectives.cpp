//===- GroupCollectives.cpp - one collective for many small ones ----------===//
//
// A partitioned training step synchronises many small values (a gradient per
// weight; with a split optimizer update, a reduce_scatter per gradient and
// an all_gather per parameter); each collective pays a latency. This pass
// packs independent collectives of one group (same kind, mesh, axes,
// reduction and element type) into one buffer, runs one collective, and
// unpacks the pieces, as data-parallel trainers bucket gradients:
//
//  * all_reduce: the inputs flattened side by side;
//  * reduce_scatter along dimension 0: each input as [devices, n_i] (device
//    d's block is row d), side by side in [devices, sum n_i], scattered
//    along rows;
//  * all_gather along dimension 0: the local blocks side by side in
//    [1, sum n_i], gathered into [devices, sum n_i], each result the rows
//    of its columns.
//
// Reductions are element by element and blocks keep their device order, so
// the results are the same values. Collectives along other dimensions are
// left alone.
//
// Pure ops whose results are only returned (a training step's new
// parameters) are first moved to the end of the function, so that the
// collectives feeding them are all produced before any is consumed.
//
// Independence comes from program order: walking a block, a collective
// joins the open group of its kind when the group can still be emitted at
// one point after every member's operand is defined and before any
// member's result is used (so no member feeds another), and within
// `max-bytes`; otherwise it starts a new group. A group of all-reduces or
// reduce-scatters is emitted as soon as its last member's operand is made,
// as data-parallel trainers launch a bucket when its last gradient is
// ready: the reduce-scatters of ZeRO-2/3 then free the whole gradients
// bucket by bucket during the backward instead of holding all of them
// until the update. A group of all-gathers is emitted just before its
// first use, so that what it gathers is not held longer. ZeRO-3's
// parameter gathers go by units of `unit-bytes` (as FSDP wraps modules by
// size), each unit's groups emitted together before its first use or,
// with `prefetch`, one unit earlier, where they run behind the previous
// unit's compute, as DeepSpeed and FSDP prefetch; gathered values are
// unpacked at their own first use.
//
//===----------------------------------------------------------------------===//

#include "autopar/Cost/Overlap.h"
#include "autopar/Dialect/AutoparOps.h"
#include "autopar/Partition/Passes.h"
#include "autopar/Search/Communication.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/TypeSwitch.h"

#include <functional>
#include <limits>
#include <map>

namespace mlir::autopar {
#define GEN_PASS_DEF_GROUPCOLLECTIVES
#include "autopar/Partition/Passes.h.inc"
} // namespace mlir::autopar

using namespace mlir;
using namespace mlir::autopar;

namespace {
struct GroupCollectivesPass
    : public mlir::autopar::impl::GroupCollectivesBase<GroupCollectivesPass> {
  using GroupCollectivesBase::GroupCollectivesBase;
  void runOnOperation() override;
};

/// What must agree for collectives to share a buffer.
struct GroupKey {
  OperationName kind;
  FlatSymbolRefAttr mesh;
  ArrayAttr axes;
  uint32_t reduction;
  Type element;
  /// Discardable attributes: a collective tagged with the layer it serves
  /// groups only with that layer's...
  DictionaryAttr tags;
  /// ...except ZeRO-3's parameter gathers, which group by gather unit.
  int64_t unit = -1;
  bool operator<(const GroupKey &other) const {
    auto tuple = [](const GroupKey &key) {
      return std::make_tuple(key.kind.getAsOpaquePointer(),
                             key.mesh.getAsOpaquePointer(),
                             key.axes.getAsOpaquePointer(), key.reduction,
                             key.element.getAsOpaquePointer(),
                             key.tags.getAsOpaquePointer(), key.unit);
    };
    return tuple(*this) < tuple(other);
  }
};

struct Group {
  SmallVector<CollectiveOpInterface> members;
  int64_t elements = 0;
};
} // namespace

/// The key of a collective that can be grouped: all_reduce, and
/// reduce_scatter / all_gather along dimension 0 (whose per-device blocks
/// are contiguous), on static tensors.
static std::optional<GroupKey> getGroupKey(Operation *op) {
  auto collective = dyn_cast<CollectiveOpInterface>(op);
  if (!collective || collective.getOutput() || op->getNumResults() != 1)
    return std::nullopt;
  auto type = dyn_cast<RankedTensorType>(collective.getInput().getType());
  if (!type || !type.hasStaticShape())
    return std::nullopt;
  uint32_t reduction = 0;
  if (auto reduce = dyn_cast<AllReduceOp>(op))
    reduction = static_cast<uint32_t>(reduce.getReduction());
  else if (auto scatter = dyn_cast<ReduceScatterOp>(op);
           scatter && scatter.getScatterDim() == 0)
    reduction = static_cast<uint32_t>(scatter.getReduction());
  else if (auto gather = dyn_cast<AllGatherOp>(op);
           !gather || gather.getGatherDim() != 0)
    return std::nullopt;
  return GroupKey{op->getName(),
                  collective.getMeshAttr(),
                  collective.getAxesAttr(),
                  reduction,
                  type.getElementType(),
                  op->getDiscardableAttrDictionary()};
}

namespace {
/// Builds the packing and unpacking around one grouped collective.
struct Packer {
  OpBuilder &builder;
  Location loc;
  Type element;

  RankedTensorType tensor(ArrayRef<int64_t> shape) {
    return RankedTensorType::get(shape, element);
  }
  /// `value` as a 1-D tensor.
  Value flatten(Value value) {
    auto type = cast<RankedTensorType>(value.getType());
    if (type.getRank() == 1)
      return value;
    if (type.getRank() == 0)
      return tensor::ExpandShapeOp::create(builder, loc, tensor({1}), value,
                                           ArrayRef<ReassociationIndices>{})
          .getResult();
    ReassociationIndices all;
    for (int64_t dim = 0; dim < type.getRank(); ++dim)
      all.push_back(dim);
    return tensor::CollapseShapeOp::create(builder, loc, value,
                                           ArrayRef<ReassociationIndices>{all})
        .getResult();
  }
  /// A 1-D `value` as `type` (same number of elements).
  Value unflatten(Value value, RankedTensorType type) {
    if (type.getRank() == 1)
      return value;
    if (type.getRank() == 0)
      return tensor::CollapseShapeOp::create(builder, loc, type, value,
                                             ArrayRef<ReassociationIndices>{})
          .getResult();
    ReassociationIndices all;
    for (int64_t dim = 0; dim < type.getRank(); ++dim)
      all.push_back(dim);
    return tensor::ExpandShapeOp::create(builder, loc, type, value,
                                         ArrayRef<ReassociationIndices>{all})
        .getResult();
  }
  /// `value` ([rows * n] when flat) as [rows, n].
  Value rows(Value flat, int64_t rows) {
    int64_t size = cast<RankedTensorType>(flat.getType()).getNumElements();
    return tensor::ExpandShapeOp::create(builder, loc,
                                         tensor({rows, size / rows}), flat,
                                         ArrayRef<ReassociationIndices>{{0, 1}})
        .getResult();
  }
  SmallVector<OpFoldResult> indices(ArrayRef<int64_t> values) {
    SmallVector<OpFoldResult> result;
    for (int64_t value : values)
      result.push_back(builder.getIndexAttr(value));
    return result;
  }
  /// `pieces` ([rows, n_i] each) side by side in one [rows, sum n_i].
  Value pack(ArrayRef<Value> pieces, int64_t rows) {
    int64_t total = 0;
    for (Value piece : pieces)
      total += cast<RankedTensorType>(piece.getType()).getDimSize(1);
    Value buffer = tensor::EmptyOp::create(
        builder, loc, ArrayRef<int64_t>{rows, total}, element);
    int64_t offset = 0;
    for (Value piece : pieces) {
      int64_t size = cast<RankedTensorType>(piece.getType()).getDimSize(1);
      buffer = tensor::InsertSliceOp::create(
                   builder, loc, piece, buffer, indices({0, offset}),
                   indices({rows, size}), indices({1, 1}))
                   .getResult();
      offset += size;
    }
    return buffer;
  }
  /// Columns [offset, offset + size) of a [rows, n] value.
  Value columns(Value value, int64_t offset, int64_t size) {
    int64_t rows = cast<RankedTensorType>(value.getType()).getDimSize(0);
    return tensor::ExtractSliceOp::create(
               builder, loc, tensor({rows, size}), value, indices({0, offset}),
               indices({rows, size}), indices({1, 1}))
        .getResult();
  }
};
} // namespace

/// The number of devices in a group along `axes` of `mesh`.
static int64_t getGroupSize(Operation *op, FlatSymbolRefAttr meshRef,
                            ArrayAttr axes) {
  MeshAttr mesh = lookupMesh(op, meshRef);
  if (!mesh)
    return 0;
  int64_t size = 1;
  for (Attribute axis : axes)
    if (std::optional<unsigned> index =
            mesh.getAxisIndex(cast<StringAttr>(axis).getValue()))
      size *= mesh.getAxisSizes()[*index];
  return size;
}

/// The first op of `block` that holds a use of `value`, or null.
static Operation *getFirstUserIn(Block *block, Value value) {
  Operation *first = nullptr;
  for (Operation *user : value.getUsers())
    if (Operation *holder = block->findAncestorOpInBlock(*user);
        holder && (!first || holder->isBeforeInBlock(first)))
      first = holder;
  return first;
}

/// The earlier of two ops of one block (either may be null).
static Operation *getEarlier(Operation *a, Operation *b) {
  return !a || (b && b->isBeforeInBlock(a)) ? b : a;
}

/// Emits one collective for `members` before `at`, each member's input a
/// block of columns of a [rows, total] buffer (rows: 1 for all_reduce and
/// all_gather, the group size for reduce_scatter, whose device d keeps row
/// d); the result's row(s) are unpacked the same way, right after the
/// collective, or for gathers just before each member's first user: the
/// collective lowering waits for a collective where its result is first
/// read, a prefetched gather's at its unit. Returns the first op that
/// reads the collective's result.
static Operation *emitGroup(ArrayRef<CollectiveOpInterface> members,
                            Operation *at) {
  Block *block = at->getBlock();
  // A group of one is the collective itself, moved to the group's point;
  // its result is read where it is used.
  if (members.size() < 2) {
    Operation *only = CollectiveOpInterface(members.front()).getOperation();
    if (only != at && only->getBlock() == block)
      only->moveBefore(at);
    return getFirstUserIn(block, only->getResult(0));
  }
  CollectiveOpInterface lead = members.front();
  Operation *first = lead.getOperation();
  OpBuilder builder(at);
  Packer packer{
      builder, first->getLoc(),
      cast<RankedTensorType>(lead.getInput().getType()).getElementType()};
  FlatSymbolRefAttr mesh = lead.getMeshAttr();
  ArrayAttr axes = lead.getAxesAttr();
  int64_t devices = getGroupSize(first, mesh, axes);
  bool scatter = isa<ReduceScatterOp>(first);
  int64_t rows = scatter ? devices : 1;
  SmallVector<Value> pieces;
  for (CollectiveOpInterface member : members)
    pieces.push_back(packer.rows(
        packer.flatten(CollectiveOpInterface(member).getInput()), rows));
  Value buffer = packer.pack(pieces, rows);
  int64_t total = cast<RankedTensorType>(buffer.getType()).getDimSize(1);
  Value combined =
      llvm::TypeSwitch<Operation *, Value>(first)
          .Case([&](AllReduceOp op) {
            return AllReduceOp::create(builder, packer.loc, buffer.getType(),
                                       buffer, Value(), mesh, axes,
                                       op.getReduction())
                .getResult();
          })
          .Case([&](ReduceScatterOp op) {
            return ReduceScatterOp::create(
                       builder, packer.loc, packer.tensor({1, total}), buffer,
                       Value(), mesh, axes, builder.getI64IntegerAttr(0),
                       op.getReduction())
                .getResult();
          })
          .Case([&](AllGatherOp) {
            return AllGatherOp::create(builder, packer.loc,
                                       packer.tensor({devices, total}), buffer,
                                       Value(), mesh, axes,
                                       builder.getI64IntegerAttr(0))
                .getResult();
          });
  combined.getDefiningOp()->setDiscardableAttrs(
      first->getDiscardableAttrDictionary());
  int64_t offset = 0;
  bool unpackAtUse = isa<AllGatherOp>(first);
  Operation *firstRead = nullptr;
  for (auto [collective, piece] : llvm::zip_equal(members, pieces)) {
    Operation *member = CollectiveOpInterface(collective).getOperation();
    int64_t size = cast<RankedTensorType>(piece.getType()).getDimSize(1);
    OpBuilder::InsertionGuard guard(builder);
    if (Operation *firstUse =
            unpackAtUse ? getFirstUserIn(block, member->getResult(0)) : nullptr)
      builder.setInsertionPoint(firstUse);
    Value columns = packer.columns(combined, offset, size);
    firstRead = getEarlier(firstRead, columns.getDefiningOp());
    offset += size;
    Value result = member->getResult(0);
    result.replaceAllUsesWith(packer.unflatten(
        packer.flatten(columns), cast<RankedTensorType>(result.getType())));
    member->erase();
  }
  return firstRead;
}

void GroupCollectivesPass::runOnOperation() {
  func::FuncOp func = getOperation();
  // Results that are only returned (a step's new parameters) are computed
  // last: their collectives' other consumers come first, so collectives
  // that feed them can share a buffer.
  for (Block &block : func.getBody()) {
    Operation *terminator = block.getTerminator();
    if (!terminator)
      continue;
    SmallVector<Operation *> returned;
    for (Operation &op : block.without_terminator())
      if (op.getNumResults() > 0 && isMemoryEffectFree(&op) &&
          llvm::all_of(op.getUsers(),
                       [&](Operation *user) { return user == terminator; }))
        returned.push_back(&op);
    for (Operation *op : returned)
      op->moveBefore(terminator);
  }
  func.walk([&](Block *block) {
    // Program order; a use inside a nested op counts at that op.
    DenseMap<Operation *, int64_t> position;
    for (auto [index, op] : llvm::enumerate(*block))
      position[&op] = index;
    constexpr int64_t kNever = std::numeric_limits<int64_t>::max();
    auto at = [&](Operation *op) -> int64_t {
      Operation *ancestor = op ? block->findAncestorOpInBlock(*op) : nullptr;
      return ancestor ? position.lookup(ancestor) : -1;
    };
    // ZeRO-3's parameter gathers (tagged with the layer whose forward or
    // backward they serve) go by units (Cost/Overlap.h, getGatherUnits):
    // in the order they are first used, each phase's split where a unit
    // reaches `unit-bytes`.
    DenseMap<Operation *, int64_t> unitOf;
    DenseSet<int64_t> firstOfPhase; // a pass's first unit: not prefetched
    {
      struct Tagged {
        int64_t used;
        Operation *op;
        StringRef phase;
        double bytes;
      };
      SmallVector<Tagged> tagged;
      for (Operation &op : *block) {
        if (!isa<AllGatherOp>(op) || !getGroupKey(&op))
          continue;
        StringRef phase;
        if (op.hasAttr(AutoparDialect::kGradOfAttrName))
          phase = AutoparDialect::kGradOfAttrName;
        else if (op.hasAttr(AutoparDialect::kLayerAttrName))
          phase = AutoparDialect::kLayerAttrName;
        int64_t used = kNever;
        for (Operation *user : op.getResult(0).getUsers())
          used = std::min(used, at(user));
        // (A use outside the block's ops: not a unit's.)
        if (phase.empty() || used == kNever || used < 0)
          continue;
        tagged.push_back(
            {used, &op, phase, getTensorBytes(op.getResult(0).getType())});
      }
      llvm::stable_sort(tagged, [](const Tagged &a, const Tagged &b) {
        return a.used < b.used;
      });
      int64_t next = 0;
      for (size_t begin = 0; begin < tagged.size();) {
        size_t end = begin;
        SmallVector<double> bytes;
        while (end < tagged.size() && tagged[end].phase == tagged[begin].phase)
          bytes.push_back(tagged[end++].bytes);
        SmallVector<unsigned> units =
            getGatherUnits(bytes, static_cast<double>(unitBytes));
        for (size_t k = begin; k < end; ++k)
          unitOf[tagged[k].op] = next + units[k - begin];
        firstOfPhase.insert(next);
        next += units.back() + 1;
        begin = end;
      }
    }
    struct Open {
      Group group;
      /// The last operand definition and the first use of the members.
      int64_t defined = -1, used = kNever;
    };
    std::map<GroupKey, Open> open;
    SmallVector<Open> done;
    for (Operation &op : *block) {
      std::optional<GroupKey> key = getGroupKey(&op);
      if (!key)
        continue;
      if (auto unit = unitOf.find(&op); unit != unitOf.end()) {
        key->tags = DictionaryAttr::get(op.getContext());
        key->unit = unit->second;
      }
      auto collective = cast<CollectiveOpInterface>(op);
      auto type = cast<RankedTensorType>(collective.getInput().getType());
      int64_t defined = at(collective.getInput().getDefiningOp());
      int64_t used = kNever;
      for (Operation *user : op.getResult(0).getUsers())
        used = std::min(used, at(user));
      if (used == kNever)
        continue; // Unused: nothing to gain.
      int64_t elementBytes = (type.getElementTypeBitWidth() + 7) / 8;
      auto it = open.find(*key);
      // It joins when the group can be emitted after every operand and
      // before every use, its own included, within the size limit.
      bool joins =
          it != open.end() &&
          std::max(it->second.defined, defined) <
              std::min(it->second.used, used) &&
          (maxBytes <= 0 ||
           (it->second.group.elements + type.getNumElements()) * elementBytes <=
               maxBytes);
      if (it != open.end() && !joins) {
        done.push_back(std::move(it->second));
        open.erase(it);
        it = open.end();
      }
      if (it == open.end())
        it = open.emplace(*key, Open()).first;
      Open &group = it->second;
      group.group.members.push_back(collective);
      group.group.elements += type.getNumElements();
      group.defined = std::max(group.defined, defined);
      group.used = std::min(group.used, used);
    }
    for (auto &[key, group] : open)
      done.push_back(std::move(group));
    // Emit in a fixed order: by last operand, then by first member.
    auto first = [&](const Open &group) {
      return position.lookup(
          CollectiveOpInterface(group.group.members.front()).getOperation());
    };
    llvm::sort(done, [&](const Open &a, const Open &b) {
      return std::make_pair(a.defined, first(a)) <
             std::make_pair(b.defined, first(b));
    });
    // Each group goes right after the last definition of its members'
    // operands as they are when it is emitted: a group that reads another
    // group's results is emitted after it. A group with no such point
    // before its first use is left ungrouped.
    DenseMap<Operation *, size_t> groupOf;
    for (auto [index, group] : llvm::enumerate(done))
      for (CollectiveOpInterface member : group.group.members)
        groupOf[member.getOperation()] = index;
    // The block's ops before any group is emitted: a group goes before the
    // next of these, after the groups emitted at the same place before it.
    DenseSet<Operation *> original;
    for (Operation &op : *block)
      original.insert(&op);
    // Each unit's groups.
    std::map<int64_t, SmallVector<size_t>> unitGroups;
    for (auto [index, group] : llvm::enumerate(done)) {
      auto unit = unitOf.find(
          CollectiveOpInterface(group.group.members.front()).getOperation());
      if (unit != unitOf.end())
        unitGroups[unit->second].push_back(index);
    }
    // Each emitted group's first read of its result.
    std::vector<Operation *> firstReadOf(done.size(), nullptr);
    std::vector<bool> emitted(done.size(), false);
    // The first op of the block that reads a unit's gathered values, as
    // the block is now: an emitted group's first read, or the first user
    // of a member still in place.
    auto firstReadOfUnit = [&](int64_t unit) -> Operation * {
      Operation *first = nullptr;
      auto groups = unitGroups.find(unit);
      if (groups == unitGroups.end())
        return nullptr;
      for (size_t group : groups->second) {
        if (firstReadOf[group]) {
          first = getEarlier(first, firstReadOf[group]);
          continue;
        }
        for (CollectiveOpInterface member : done[group].group.members)
          first =
              getEarlier(first, getFirstUserIn(block, member->getResult(0)));
      }
      return first;
    };
    std::function<void(size_t)> emit = [&](size_t index) {
      if (emitted[index])
        return;
      emitted[index] = true;
      ArrayRef<CollectiveOpInterface> members = done[index].group.members;
      for (CollectiveOpInterface member : members)
        if (Operation *definer = member.getInput().getDefiningOp()) {
          auto producer = groupOf.find(definer);
          if (producer != groupOf.end() && producer->second != index)
            emit(producer->second);
        }
      Operation *last = nullptr;
      for (CollectiveOpInterface member : members) {
        Operation *definer = member.getInput().getDefiningOp();
        Operation *holder =
            definer ? block->findAncestorOpInBlock(*definer) : nullptr;
        if (holder && (!last || last->isBeforeInBlock(holder)))
          last = holder;
      }
      Operation *point = nullptr;
      if (isa<AllGatherOp>(
              CollectiveOpInterface(members.front()).getOperation())) {
        // Gathers stay just before their first use (made early, what they
        // gather would be held all along); a unit's (ZeRO-3's parameters)
        // before the unit's first use or, prefetched, just before the
        // first read of the unit before it in its pass (the forward's or
        // the backward's), if this group's operands are made by then: it
        // then runs behind that unit's compute.
        auto unit =
            unitOf.find(CollectiveOpInterface(members.front()).getOperation());
        if (unit != unitOf.end()) {
          // All of a unit's groups go before its first read: the later
          // ones before the earlier ones' unpacking.
          point = firstReadOfUnit(unit->second);
        } else {
          for (CollectiveOpInterface member : members)
            point =
                getEarlier(point, getFirstUserIn(block, member->getResult(0)));
        }
        if (!point || (last && !last->isBeforeInBlock(point)))
          return;
        if (unit != unitOf.end() && prefetch &&
            !firstOfPhase.contains(unit->second)) {
          auto previous = unitGroups.find(unit->second - 1);
          if (previous != unitGroups.end())
            for (size_t group : previous->second)
              emit(group);
          Operation *early = firstReadOfUnit(unit->second - 1);
          if (early && early->isBeforeInBlock(point) &&
              (!last || last->isBeforeInBlock(early)))
            point = early;
        }
      } else {
        point = last ? last->getNextNode() : &block->front();
        // Skip the members still in place (of this or a later group) and
        // what earlier groups emitted here.
        while (point && !point->hasTrait<OpTrait::IsTerminator>() &&
               (groupOf.count(point) || !original.contains(point)))
          point = point->getNextNode();
      }
      for (CollectiveOpInterface member : members)
        for (Operation *user : member->getResult(0).getUsers()) {
          Operation *holder = block->findAncestorOpInBlock(*user);
          if (!point || (holder && holder->isBeforeInBlock(point)))
            return;
        }
      // emitGroup erases the members of a group of two or more: forget
      // them before their memory can be reused.
      if (members.size() >= 2)
        for (CollectiveOpInterface member : members) {
          groupOf.erase(member.getOperation());
          original.erase(member.getOperation());
        }
      firstReadOf[index] = emitGroup(members, point);
    };
    for (size_t index = 0; index < done.size(); ++index)
      emit(index);
  });
}
