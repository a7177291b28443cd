//===- GroupCollectives.cpp - one all_reduce for many small ones ----------===//
//
// A partitioned training step all-reduces many small values (a gradient per
// weight, a partial per layer); each collective pays a latency. This pass
// packs independent all_reduces of one group (same mesh, axes, reduction
// and element type) into one flat buffer, reduces it once, and unpacks the
// pieces, as data-parallel trainers bucket gradients. Element-wise
// reductions are independent per element, so the results are the same
// values.
//
// Independence comes from program order: walking a block, an all_reduce
// joins the open group of its kind when the group can still be emitted at
// one point after every member's operand is defined and before any
// member's result is used (so no member feeds another), and within
// `max-bytes`; otherwise it starts a new group. Each group is emitted just
// before its first use.
//
//===----------------------------------------------------------------------===//

#include "autopar/Dialect/AutoparOps.h"
#include "autopar/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <limits>
#include <map>

namespace mlir::autopar {
#define GEN_PASS_DEF_GROUPCOLLECTIVES
#include "autopar/Transforms/Passes.h.inc"
} // namespace mlir::autopar

using namespace mlir;
using namespace mlir::autopar;

namespace {
struct GroupCollectivesPass
    : public mlir::autopar::impl::GroupCollectivesBase<GroupCollectivesPass> {
  using GroupCollectivesBase::GroupCollectivesBase;
  void runOnOperation() override;
};

/// What must agree for all_reduces to share a buffer.
struct GroupKey {
  FlatSymbolRefAttr mesh;
  ArrayAttr axes;
  ReductionKind kind;
  Type element;
  bool operator<(const GroupKey &other) const {
    auto tuple = [](const GroupKey &key) {
      return std::make_tuple(
          key.mesh.getAsOpaquePointer(), key.axes.getAsOpaquePointer(),
          static_cast<uint32_t>(key.kind), key.element.getAsOpaquePointer());
    };
    return tuple(*this) < tuple(other);
  }
};

struct Group {
  SmallVector<AllReduceOp> members;
  int64_t elements = 0;
};
} // namespace

static int64_t getBytes(RankedTensorType type) {
  return type.getNumElements() * ((type.getElementTypeBitWidth() + 7) / 8);
}

/// Emits one all_reduce for `members` before `at`; returns how many
/// all_reduces it replaced (0 when there was nothing to group).
static unsigned emitGroup(ArrayRef<AllReduceOp> members, Operation *at) {
  if (members.size() < 2)
    return 0;
  AllReduceOp first = members.front();
  Location loc = first.getLoc();
  OpBuilder builder(at);
  Type element =
      cast<RankedTensorType>(first.getInput().getType()).getElementType();
  int64_t total = 0;
  for (AllReduceOp member : members)
    total +=
        cast<RankedTensorType>(member.getInput().getType()).getNumElements();
  auto flatType = [&](int64_t size) {
    return RankedTensorType::get({size}, element);
  };
  // Flatten each operand to 1-D.
  auto flatten = [&](Value value) -> Value {
    auto type = cast<RankedTensorType>(value.getType());
    if (type.getRank() == 1)
      return value;
    if (type.getRank() == 0)
      return tensor::ExpandShapeOp::create(builder, loc, flatType(1), value,
                                           ArrayRef<ReassociationIndices>{})
          .getResult();
    ReassociationIndices all;
    for (int64_t dim = 0; dim < type.getRank(); ++dim)
      all.push_back(dim);
    return tensor::CollapseShapeOp::create(builder, loc, value,
                                           ArrayRef<ReassociationIndices>{all})
        .getResult();
  };
  Value buffer =
      tensor::EmptyOp::create(builder, loc, ArrayRef<int64_t>{total}, element);
  int64_t offset = 0;
  for (AllReduceOp member : members) {
    Value flat = flatten(member.getInput());
    int64_t size = cast<RankedTensorType>(flat.getType()).getNumElements();
    buffer = tensor::InsertSliceOp::create(
                 builder, loc, flat, buffer,
                 ArrayRef<OpFoldResult>{builder.getIndexAttr(offset)},
                 ArrayRef<OpFoldResult>{builder.getIndexAttr(size)},
                 ArrayRef<OpFoldResult>{builder.getIndexAttr(1)})
                 .getResult();
    offset += size;
  }
  Value reduced = AllReduceOp::create(builder, loc, flatType(total), buffer,
                                      Value(), first.getMeshAttr(),
                                      first.getAxesAttr(), first.getReduction())
                      .getResult();
  offset = 0;
  for (AllReduceOp member : members) {
    auto type = cast<RankedTensorType>(member.getResult().getType());
    int64_t size = std::max<int64_t>(type.getNumElements(), 1);
    Value piece = tensor::ExtractSliceOp::create(
                      builder, loc, flatType(size), reduced,
                      ArrayRef<OpFoldResult>{builder.getIndexAttr(offset)},
                      ArrayRef<OpFoldResult>{builder.getIndexAttr(size)},
                      ArrayRef<OpFoldResult>{builder.getIndexAttr(1)})
                      .getResult();
    offset += size;
    Value unpacked = piece;
    if (type.getRank() == 0) {
      unpacked =
          tensor::CollapseShapeOp::create(builder, loc, type, piece,
                                          ArrayRef<ReassociationIndices>{})
              .getResult();
    } else if (type.getRank() > 1) {
      ReassociationIndices all;
      for (int64_t dim = 0; dim < type.getRank(); ++dim)
        all.push_back(dim);
      unpacked =
          tensor::ExpandShapeOp::create(builder, loc, type, piece,
                                        ArrayRef<ReassociationIndices>{all})
              .getResult();
    }
    member.getResult().replaceAllUsesWith(unpacked);
    member.erase();
  }
  return members.size();
}

void GroupCollectivesPass::runOnOperation() {
  func::FuncOp func = getOperation();
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
    struct Open {
      Group group;
      /// The last operand definition and the first use of the members.
      int64_t defined = -1, used = kNever;
    };
    std::map<GroupKey, Open> open;
    SmallVector<Open> done;
    for (Operation &op : *block) {
      auto reduce = dyn_cast<AllReduceOp>(op);
      auto type = reduce
                      ? dyn_cast<RankedTensorType>(reduce.getInput().getType())
                      : RankedTensorType();
      if (!reduce || reduce.getOutput() || !type || !type.hasStaticShape())
        continue;
      int64_t defined = at(reduce.getInput().getDefiningOp());
      int64_t used = kNever;
      for (Operation *user : reduce.getResult().getUsers())
        used = std::min(used, at(user));
      if (used == kNever)
        continue; // Unused: nothing to gain.
      GroupKey key{reduce.getMeshAttr(), reduce.getAxesAttr(),
                   reduce.getReduction(), type.getElementType()};
      int64_t elementBytes = (type.getElementTypeBitWidth() + 7) / 8;
      auto it = open.find(key);
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
        it = open.emplace(key, Open()).first;
      Open &group = it->second;
      group.group.members.push_back(reduce);
      group.group.elements += type.getNumElements();
      group.defined = std::max(group.defined, defined);
      group.used = std::min(group.used, used);
    }
    for (auto &[key, group] : open)
      done.push_back(std::move(group));
    // Emit in a fixed order: by first use, then by first member.
    llvm::sort(done, [&](const Open &a, const Open &b) {
      return std::make_pair(a.used, position.lookup(a.group.members.front())) <
             std::make_pair(b.used, position.lookup(b.group.members.front()));
    });
    SmallVector<Operation *> ops;
    for (Operation &op : *block)
      ops.push_back(&op);
    for (Open &group : done)
      emitGroup(group.group.members, ops[group.used]);
  });
}
