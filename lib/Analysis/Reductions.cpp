//===- Reductions.cpp - the shape of a reduction --------------------------===//
//
// The rules documented in include/autopar/Analysis/Reductions.h.
//
//===----------------------------------------------------------------------===//

#include "autopar/Analysis/Reductions.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

using namespace mlir;
using namespace mlir::autopar;

Operation *mlir::autopar::getCombiner(linalg::GenericOp generic,
                                      unsigned index) {
  OpOperand *init = generic.getDpsInitOperand(index);
  BlockArgument outArg = generic.getMatchingBlockArgument(init);
  auto yield = cast<linalg::YieldOp>(generic.getBody()->getTerminator());
  Operation *combiner = yield.getOperand(index).getDefiningOp();
  if (!combiner || !outArg.hasOneUse() || combiner->getNumOperands() != 2 ||
      (combiner->getOperand(0) != outArg && combiner->getOperand(1) != outArg))
    return nullptr;
  if (!isa<arith::AddFOp, arith::AddIOp, arith::MaxNumFOp, arith::MinNumFOp,
           arith::MaximumFOp, arith::MinimumFOp, arith::MaxSIOp, arith::MinSIOp,
           arith::MaxUIOp, arith::MinUIOp, arith::MulFOp, arith::MulIOp>(
          combiner))
    return nullptr;
  return combiner;
}

bool mlir::autopar::isSumIntoOneFloat(linalg::GenericOp generic) {
  if (generic.getNumParallelLoops() != 0 || generic.getNumDpsInits() != 1 ||
      generic.getNumLoops() < 2)
    return false;
  auto outType = dyn_cast<ShapedType>(generic.getDpsInits()[0].getType());
  return outType && outType.hasRank() && outType.getRank() == 0 &&
         isa<FloatType>(outType.getElementType()) &&
         isa_and_nonnull<arith::AddFOp>(getCombiner(generic, 0));
}

std::optional<unsigned>
mlir::autopar::getContiguousLoop(linalg::GenericOp generic) {
  OpOperand *largest = nullptr;
  int64_t most = 0;
  for (OpOperand *input : generic.getDpsInputOperands()) {
    auto type = dyn_cast<ShapedType>(input->get().getType());
    if (type && isa<MemRefType, RankedTensorType>(type) && type.hasRank() &&
        type.getRank() > 0 && type.hasStaticShape() &&
        type.getNumElements() > most) {
      most = type.getNumElements();
      largest = input;
    }
  }
  if (!largest)
    return std::nullopt;
  if (auto memref = dyn_cast<MemRefType>(largest->get().getType())) {
    SmallVector<int64_t> strides;
    int64_t offset;
    if (failed(memref.getStridesAndOffset(strides, offset)) ||
        strides.back() != 1)
      return std::nullopt;
  }
  auto dim = dyn_cast<AffineDimExpr>(
      generic.getMatchingIndexingMap(largest).getResults().back());
  if (!dim)
    return std::nullopt;
  return dim.getPosition();
}

std::optional<SmallVector<int64_t>>
mlir::autopar::getStaticRanges(linalg::LinalgOp op) {
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  if (llvm::any_of(ranges, ShapedType::isDynamic))
    return std::nullopt;
  return ranges;
}

bool mlir::autopar::indexesRow(AffineMap map, unsigned rowLoops) {
  if (map.getNumResults() < rowLoops)
    return false;
  for (unsigned i = 0; i < rowLoops; ++i) {
    auto dim = dyn_cast<AffineDimExpr>(map.getResult(i));
    if (!dim || dim.getPosition() != i)
      return false;
  }
  return true;
}

std::optional<unsigned>
mlir::autopar::getRowReductionLoops(linalg::GenericOp generic) {
  SmallVector<utils::IteratorType> iterators = generic.getIteratorTypesArray();
  unsigned rowLoops = 0;
  while (rowLoops < iterators.size() &&
         iterators[rowLoops] == utils::IteratorType::parallel)
    ++rowLoops;
  if (rowLoops == 0 || rowLoops == iterators.size())
    return std::nullopt;
  for (unsigned i = rowLoops; i < iterators.size(); ++i)
    if (iterators[i] != utils::IteratorType::reduction)
      return std::nullopt;
  for (auto [index, init] : llvm::enumerate(generic.getDpsInitsMutable())) {
    AffineMap map = generic.getMatchingIndexingMap(&init);
    if (!indexesRow(map, rowLoops))
      return std::nullopt;
    // Past the rows, only kept dimensions of size 1.
    auto type = dyn_cast<ShapedType>(init.get().getType());
    if (!type || !type.hasRank() ||
        type.getRank() != static_cast<int64_t>(map.getNumResults()))
      return std::nullopt;
    for (unsigned i = rowLoops; i < map.getNumResults(); ++i) {
      auto constant = dyn_cast<AffineConstantExpr>(map.getResult(i));
      if (!constant || constant.getValue() != 0 || type.getDimSize(i) != 1)
        return std::nullopt;
    }
    Operation *combiner = getCombiner(generic, index);
    if (!combiner || !arith::getNeutralElement(combiner))
      return std::nullopt;
  }
  return rowLoops;
}

bool mlir::autopar::isRowSplit(ArrayRef<ReassociationIndices> groups) {
  return groups.size() == 2 && groups[1].size() == 1;
}

/// Whether a reshape between `expanded` and the shape its `groups` collapse
/// it to keeps the first `rowLoops` dimensions: each of the first
/// `rowLoops` groups starts at its own position, the groups before the
/// last of them are single, and the last takes only dimensions of size 1
/// besides.
static bool keepsRows(ArrayRef<ReassociationIndices> groups,
                      ArrayRef<int64_t> expanded, unsigned rowLoops) {
  if (groups.size() < rowLoops)
    return false;
  for (unsigned i = 0; i < rowLoops; ++i) {
    ArrayRef<int64_t> group = groups[i];
    if (group.empty() || group.front() != static_cast<int64_t>(i))
      return false;
    for (int64_t dim : group.drop_front())
      if (dim < static_cast<int64_t>(rowLoops) || expanded[dim] != 1)
        return false;
  }
  return true;
}

namespace {
/// A reshape's reassociation, the type of its expanded side and its
/// source.
struct Reshape {
  SmallVector<ReassociationIndices> groups;
  ShapedType expanded;
  Value source;
};
} // namespace

/// `op` as a Reshape when it is an `ExpandOp` or a `CollapseOp` (the
/// tensor or the memref pair).
template <typename ExpandOp, typename CollapseOp>
static std::optional<Reshape> matchReshape(Operation *op) {
  if (auto view = dyn_cast<ExpandOp>(op))
    return Reshape{view.getReassociationIndices(), view.getResultType(),
                   view.getSrc()};
  if (auto view = dyn_cast<CollapseOp>(op))
    return Reshape{view.getReassociationIndices(), view.getSrcType(),
                   view.getSrc()};
  return std::nullopt;
}

bool mlir::autopar::isRowView(Value value, unsigned rowLoops) {
  while (Operation *def = value.getDefiningOp()) {
    std::optional<Reshape> reshape =
        matchReshape<tensor::ExpandShapeOp, tensor::CollapseShapeOp>(def);
    if (!reshape)
      reshape =
          matchReshape<memref::ExpandShapeOp, memref::CollapseShapeOp>(def);
    // Another view (a subview, a cast) is not a row view.
    if (!reshape)
      return !isa<ViewLikeOpInterface>(def);
    if (!reshape->expanded.hasRank() ||
        !keepsRows(reshape->groups, reshape->expanded.getShape(), rowLoops))
      return false;
    value = reshape->source;
  }
  return true;
}
