//===- RuntimeCalls.cpp - calls from generated code into a runtime --------===//

#include "autopar/Conversion/RuntimeCalls.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/MemRef/Utils/MemRefUtils.h"

using namespace mlir;

func::FuncOp mlir::autopar::getOrDeclareRuntimeFunction(OpBuilder &builder,
                                                        ModuleOp module,
                                                        StringRef name,
                                                        TypeRange inputs,
                                                        TypeRange results) {
  if (auto existing = module.lookupSymbol<func::FuncOp>(name))
    return existing;
  OpBuilder::InsertionGuard guard(builder);
  builder.setInsertionPointToStart(module.getBody());
  auto func = func::FuncOp::create(builder, module.getLoc(), name,
                                   builder.getFunctionType(inputs, results));
  func.setPrivate();
  return func;
}

Value mlir::autopar::getBufferAddress(OpBuilder &builder, Location loc,
                                      Value buffer) {
  Value index =
      memref::ExtractAlignedPointerAsIndexOp::create(builder, loc, buffer);
  auto type = cast<MemRefType>(buffer.getType());
  if (!type.getLayout().isIdentity()) {
    Value offset =
        memref::ExtractStridedMetadataOp::create(builder, loc, buffer)
            .getOffset();
    int64_t bytes = std::max<int64_t>(1, type.getElementTypeBitWidth() / 8);
    Value scaled = arith::MulIOp::create(
        builder, loc, offset,
        arith::ConstantIndexOp::create(builder, loc, bytes));
    index = arith::AddIOp::create(builder, loc, index, scaled);
  }
  return arith::IndexCastOp::create(builder, loc, builder.getI64Type(), index);
}

void mlir::autopar::setStreamOrdered(func::FuncOp func) {
  func->setAttr(kStreamOrderedAttrName, UnitAttr::get(func.getContext()));
}

bool mlir::autopar::isStreamOrderedCall(Operation *op) {
  auto call = dyn_cast<func::CallOp>(op);
  if (!call)
    return false;
  auto callee = SymbolTable::lookupNearestSymbolFrom<func::FuncOp>(
      call, call.getCalleeAttr());
  return callee && callee->hasAttr(kStreamOrderedAttrName);
}

void mlir::autopar::setWrittenOperands(Operation *call,
                                       ArrayRef<int32_t> operands) {
  call->setAttr(kWritesAttrName,
                DenseI32ArrayAttr::get(call->getContext(), operands));
}

bool mlir::autopar::mayWriteOperand(Operation *call, unsigned index) {
  auto written = call->getAttrOfType<DenseI32ArrayAttr>(kWritesAttrName);
  return !written ||
         llvm::is_contained(written.asArrayRef(), static_cast<int32_t>(index));
}

std::optional<int32_t> mlir::autopar::getLibraryElementType(Value buffer) {
  auto type = dyn_cast<MemRefType>(buffer.getType());
  if (!type || !memref::isStaticShapeAndContiguousRowMajor(type))
    return std::nullopt;
  Type element = type.getElementType();
  if (element.isF32())
    return 0;
  if (element.isF16())
    return 1;
  if (element.isBF16())
    return 2;
  return std::nullopt;
}
