//===- Reductions.cpp - where a reduction's partials start ------------===//

#include "autopar/Conversion/Reductions.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"

using namespace mlir;

Value mlir::autopar::getNeutral(OpBuilder &b, Location loc, Operation *combiner,
                                Type element) {
  if (isa<arith::AddFOp>(combiner))
    return arith::ConstantOp::create(b, loc, b.getFloatAttr(element, 0.0));
  std::optional<TypedAttr> neutral = arith::getNeutralElement(combiner);
  return neutral ? arith::ConstantOp::create(b, loc, *neutral).getResult()
                 : Value();
}
