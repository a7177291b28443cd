//===- Buffers.cpp - which buffers a lowering may tell apart --------------===//

#include "autopar/Conversion/Buffers.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/Matchers.h"
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

bool mlir::autopar::mayAliasBuffers(Value a, Value b) {
  return a == b || (!isAllocatedBuffer(a) && !isAllocatedBuffer(b));
}

Operation *mlir::autopar::getFillBefore(Operation *op, Value output) {
  Value root = mlir::autopar::getRootBuffer(output);
  // Whether `between` (or an op nested in it) takes a buffer that may be
  // `output`'s.
  auto touches = [&](Operation *between) {
    WalkResult result = between->walk([&](Operation *nested) {
      for (Value operand : nested->getOperands())
        if (isa<BaseMemRefType>(operand.getType()) &&
            mlir::autopar::mayAliasBuffers(
                mlir::autopar::getRootBuffer(operand), root))
          return WalkResult::interrupt();
      return WalkResult::advance();
    });
    return result.wasInterrupted();
  };
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
    if (touches(before))
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
