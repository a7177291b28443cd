//===- Reductions.cpp - what a reduction's body combines ------------------===//

#include "autopar/Conversion/Reductions.h"

#include "mlir/Dialect/Arith/IR/Arith.h"

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
