//===- Reductions.cpp - what a reduction's body combines ------------------===//

#include "autopar/Conversion/Reductions.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"

using namespace mlir;

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

Value mlir::autopar::getNeutral(OpBuilder &b, Location loc, Operation *combiner,
                                Type element) {
  if (isa<arith::AddFOp>(combiner))
    return arith::ConstantOp::create(b, loc, b.getFloatAttr(element, 0.0));
  std::optional<TypedAttr> neutral = arith::getNeutralElement(combiner);
  return neutral ? arith::ConstantOp::create(b, loc, *neutral).getResult()
                 : Value();
}

std::optional<unsigned>
mlir::autopar::getContiguousLoop(linalg::GenericOp generic) {
  OpOperand *largest = nullptr;
  int64_t most = 0;
  for (OpOperand *input : generic.getDpsInputOperands()) {
    auto type = dyn_cast<MemRefType>(input->get().getType());
    if (type && type.getRank() > 0 && type.hasStaticShape() &&
        type.getNumElements() > most) {
      most = type.getNumElements();
      largest = input;
    }
  }
  if (!largest)
    return std::nullopt;
  SmallVector<int64_t> strides;
  int64_t offset;
  if (failed(cast<MemRefType>(largest->get().getType())
                 .getStridesAndOffset(strides, offset)))
    return std::nullopt;
  auto dim = dyn_cast<AffineDimExpr>(
      generic.getMatchingIndexingMap(largest).getResults().back());
  if (strides.back() != 1 || !dim)
    return std::nullopt;
  return dim.getPosition();
}
