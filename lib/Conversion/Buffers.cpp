//===- Buffers.cpp - which buffers a lowering may tell apart --------------===//

#include "autopar/Conversion/Buffers.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
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
