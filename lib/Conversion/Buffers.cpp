//===- Buffers.cpp - which buffers a lowering may tell apart --------------===//

#include "autopar/Conversion/Buffers.h"
#include "autopar/Dialect/AutoparDialect.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

using namespace mlir;

Value mlir::autopar::getRootBuffer(Value buffer) {
  while (auto view = buffer.getDefiningOp<ViewLikeOpInterface>())
    buffer = view.getViewSource();
  return buffer;
}

bool mlir::autopar::isAllocatedBuffer(Value root) {
  return isa_and_nonnull<memref::AllocOp, gpu::AllocOp, memref::GetGlobalOp>(
      root.getDefiningOp());
}

/// Whether `value` is an argument of a function marked autopar.in_place:
/// its callers pass it a buffer no other argument shares.
static bool isInPlaceArgument(Value value) {
  auto argument = dyn_cast<BlockArgument>(value);
  if (!argument || !argument.getOwner()->isEntryBlock())
    return false;
  auto func = dyn_cast<FunctionOpInterface>(argument.getOwner()->getParentOp());
  return func && func.getArgAttr(argument.getArgNumber(),
                                 autopar::AutoparDialect::kInPlaceAttrName);
}

bool mlir::autopar::mayAliasBuffers(Value a, Value b) {
  if (a == b)
    return true;
  if (isAllocatedBuffer(a) || isAllocatedBuffer(b))
    return false;
  // Two arguments of one function, one written in place by it.
  auto argA = dyn_cast<BlockArgument>(a), argB = dyn_cast<BlockArgument>(b);
  if (argA && argB && argA.getOwner() == argB.getOwner() &&
      (isInPlaceArgument(a) || isInPlaceArgument(b)))
    return false;
  return true;
}

bool mlir::autopar::touchesBuffer(Operation *op, Value root) {
  WalkResult result = op->walk([&](Operation *nested) {
    for (Value operand : nested->getOperands())
      if (isa<BaseMemRefType>(operand.getType()) &&
          mlir::autopar::mayAliasBuffers(mlir::autopar::getRootBuffer(operand),
                                         root))
        return WalkResult::interrupt();
    return WalkResult::advance();
  });
  return result.wasInterrupted();
}

Operation *mlir::autopar::getFillBefore(Operation *op, Value output) {
  Value root = mlir::autopar::getRootBuffer(output);
  // The op's own inputs must not read the fill.
  for (Value operand : op->getOperands())
    if (operand != output && isa<BaseMemRefType>(operand.getType()) &&
        mlir::autopar::mayAliasBuffers(mlir::autopar::getRootBuffer(operand),
                                       root))
      return nullptr;
  for (Operation *before = op->getPrevNode(); before;
       before = before->getPrevNode()) {
    if (auto fill = dyn_cast<linalg::FillOp>(before);
        fill && fill.hasPureBufferSemantics() &&
        fill.getDpsInits()[0] == output)
      return fill;
    if (touchesBuffer(before, root))
      return nullptr;
  }
  return nullptr;
}

Operation *mlir::autopar::getZeroFillBefore(Operation *op, Value output) {
  auto fill = dyn_cast_or_null<linalg::FillOp>(getFillBefore(op, output));
  if (!fill)
    return nullptr;
  Value value = fill.getInputs()[0];
  bool zero =
      matchPattern(value, m_AnyZeroFloat()) || matchPattern(value, m_Zero());
  return zero ? fill.getOperation() : nullptr;
}
