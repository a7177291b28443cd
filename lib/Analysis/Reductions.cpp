//===- Reductions.cpp - the shape of a reduction --------------------------===//
//
// The rules documented in include/autopar/Analysis/Reductions.h.
//
//===----------------------------------------------------------------------===//

#include "autopar/Analysis/Reductions.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
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

/// The scalar body of an elementwise `generic` (all loops parallel, one
/// result): its yielded value; null otherwise.
static Value getElementwiseYield(linalg::GenericOp generic) {
  if (generic.getNumResults() != 1 ||
      generic.getNumParallelLoops() != generic.getNumLoops())
    return {};
  return cast<linalg::YieldOp>(generic.getBody()->getTerminator())
      .getOperand(0);
}

/// Whether `value` is `generic`'s block argument for input `input`.
static bool isInputArg(linalg::GenericOp generic, Value value, Value input) {
  auto arg = dyn_cast<BlockArgument>(value);
  if (!arg || arg.getOwner() != generic.getBody())
    return false;
  OpOperand *operand = generic.getMatchingOpOperand(arg);
  return generic.isDpsInput(operand) && operand->get() == input;
}

/// Whether `e`, the exponential of a shifted row, is read only by its row
/// sums (AddF over the trailing loops, written at `rowMap`) and by its
/// division by them, each sum read only by such divisions.
static bool isNormalised(Value e, AffineMap rowMap) {
  bool summed = false, divided = false;
  unsigned loops = rowMap.getNumDims();
  for (Operation *user : e.getUsers()) {
    auto generic = dyn_cast<linalg::GenericOp>(user);
    if (!generic || generic.getNumLoops() != loops ||
        generic.getNumResults() != 1)
      return false;
    AffineMap identity =
        AffineMap::getMultiDimIdentityMap(loops, e.getContext());
    if (Value yield = getElementwiseYield(generic)) {
      // e / s, with s a row sum of e.
      auto div = yield.getDefiningOp<arith::DivFOp>();
      if (!div || generic.getNumDpsInputs() != 2 ||
          !isInputArg(generic, div.getLhs(), e))
        return false;
      auto sumArg = dyn_cast<BlockArgument>(div.getRhs());
      if (!sumArg || sumArg.getOwner() != generic.getBody())
        return false;
      OpOperand *sumOperand = generic.getMatchingOpOperand(sumArg);
      auto sum = sumOperand->get().getDefiningOp<linalg::GenericOp>();
      if (!generic.isDpsInput(sumOperand) || !sum ||
          generic.getMatchingIndexingMap(sumOperand) != rowMap ||
          sum.getNumDpsInputs() != 1 || sum.getDpsInputs()[0] != e)
        return false;
      for (OpOperand &input : generic->getOpOperands())
        if (input.get() == e &&
            generic.getMatchingIndexingMap(&input) != identity)
          return false;
      divided = true;
      continue;
    }
    // s = sum over the row of e, read only by divisions of e by it.
    if (generic.getNumDpsInputs() != 1 || generic.getNumDpsInits() != 1 ||
        !isa_and_nonnull<arith::AddFOp>(getCombiner(generic, 0)) ||
        generic.getMatchingIndexingMap(generic.getDpsInputOperand(0)) !=
            identity ||
        generic.getMatchingIndexingMap(generic.getDpsInitOperand(0)) != rowMap)
      return false;
    for (Operation *reader : generic->getResult(0).getUsers()) {
      auto division = dyn_cast<linalg::GenericOp>(reader);
      Value yield = division ? getElementwiseYield(division) : Value();
      auto div = yield ? yield.getDefiningOp<arith::DivFOp>() : nullptr;
      if (!div || !isInputArg(division, div.getLhs(), e) ||
          !isInputArg(division, div.getRhs(), generic->getResult(0)))
        return false;
    }
    summed = true;
  }
  return summed && divided;
}

bool mlir::autopar::isSoftmaxShift(linalg::GenericOp max) {
  if (!max.hasPureTensorSemantics() || max.getNumDpsInputs() != 1 ||
      max.getNumDpsInits() != 1 ||
      !isa_and_nonnull<arith::MaximumFOp, arith::MaxNumFOp>(
          getCombiner(max, 0)) ||
      !getRowReductionLoops(max) || max->getResult(0).use_empty())
    return false;
  Value x = max.getDpsInputs()[0];
  Value m = max->getResult(0);
  unsigned loops = max.getNumLoops();
  AffineMap identity =
      AffineMap::getMultiDimIdentityMap(loops, max.getContext());
  AffineMap rowMap = max.getMatchingIndexingMap(max.getDpsInitOperand(0));
  if (max.getMatchingIndexingMap(max.getDpsInputOperand(0)) != identity)
    return false;
  for (Operation *user : m.getUsers()) {
    auto shift = dyn_cast<linalg::GenericOp>(user);
    Value yield = shift ? getElementwiseYield(shift) : Value();
    if (!yield || shift.getNumLoops() != loops || shift.getNumDpsInputs() != 2)
      return false;
    for (OpOperand *input : shift.getDpsInputOperands())
      if (shift.getMatchingIndexingMap(input) !=
          (input->get() == m ? rowMap : identity))
        return false;
    auto isShifted = [&](Value value) {
      auto sub = value.getDefiningOp<arith::SubFOp>();
      return sub && isInputArg(shift, sub.getLhs(), x) &&
             isInputArg(shift, sub.getRhs(), m);
    };
    // exp(x - m) in one op.
    if (auto exp = yield.getDefiningOp<math::ExpOp>()) {
      if (!isShifted(exp.getOperand()) ||
          !isNormalised(shift->getResult(0), rowMap))
        return false;
      continue;
    }
    // x - m, read only by exponentials.
    if (!isShifted(yield) || shift->getResult(0).use_empty())
      return false;
    for (Operation *reader : shift->getResult(0).getUsers()) {
      auto expOp = dyn_cast<linalg::GenericOp>(reader);
      Value body = expOp ? getElementwiseYield(expOp) : Value();
      auto exp = body ? body.getDefiningOp<math::ExpOp>() : nullptr;
      if (!exp || expOp.getNumDpsInputs() != 1 ||
          !isInputArg(expOp, exp.getOperand(), shift->getResult(0)) ||
          expOp.getMatchingIndexingMap(expOp.getDpsInputOperand(0)) !=
              identity ||
          !isNormalised(expOp->getResult(0), rowMap))
        return false;
    }
  }
  return true;
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
