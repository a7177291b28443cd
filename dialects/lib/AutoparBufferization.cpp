//===- AutoparBufferization.cpp - bufferization of collectives ------------===//
//
// One-shot-bufferize turns `%r = autopar.<collective> %t ...` on tensors into
// `autopar.<collective> %buf into %new ...` on a freshly allocated buffer;
// an all-reduce writes over its input (`%buf into %buf`) where the input is
// not read after it (the analysis copies it where it is).
//
//===----------------------------------------------------------------------===//

#include "autopar/Dialect/AutoparOps.h"

#include "mlir/Dialect/Bufferization/IR/BufferizableOpInterface.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"

using namespace mlir;
using namespace mlir::autopar;
using namespace mlir::bufferization;

FailureOr<BufferLikeType>
mlir::autopar::detail::getCollectiveBufferType(CollectiveOpInterface op,
                                               Value value) {
  // The result lives in a new allocation with the identity layout.
  auto tensorType = cast<RankedTensorType>(value.getType());
  return cast<BufferLikeType>(
      MemRefType::get(tensorType.getShape(), tensorType.getElementType()));
}

bool mlir::autopar::detail::collectiveWritesInPlace(Operation *op) {
  auto reduce = dyn_cast<AllReduceOp>(op);
  return reduce && !reduce.hasBufferSemantics() &&
         reduce.getInput().getType() == reduce->getResult(0).getType();
}

LogicalResult mlir::autopar::detail::bufferizeCollective(
    CollectiveOpInterface op, RewriterBase &rewriter,
    const BufferizationOptions &options, BufferizationState &state) {
  if (op.hasBufferSemantics())
    return success();
  OpBuilder::InsertionGuard guard(rewriter);
  rewriter.setInsertionPoint(op);
  Location loc = op->getLoc();

  FailureOr<Value> input = getBuffer(rewriter, op.getInput(), options, state);
  if (failed(input))
    return failure();
  // In place: the analysis made the input a buffer of its own where it is
  // read later (a copy), so the result goes over it.
  FailureOr<Value> output = *input;
  if (!collectiveWritesInPlace(op)) {
    FailureOr<Value> allocation = allocateTensorForShapedValue(
        rewriter, loc, op->getResult(0), options, state, /*copy=*/false);
    if (failed(allocation))
      return failure();
    output = getBuffer(rewriter, *allocation, options, state);
    if (failed(output))
      return failure();
  }

  // The same op, on buffers: same properties and attributes, the output as
  // second operand.
  OperationState bufferState(loc, op->getName());
  bufferState.addOperands({*input, *output});
  bufferState.propertiesAttr = op->getPropertiesAsAttribute();
  for (NamedAttribute attr : op->getDiscardableAttrs())
    bufferState.addAttribute(attr.getName(), attr.getValue());
  rewriter.create(bufferState);
  replaceOpWithBufferizedValues(rewriter, op, *output);
  return success();
}

//===----------------------------------------------------------------------===//
// Send and recv
//===----------------------------------------------------------------------===//

bool SendOp::bufferizesToMemoryRead(OpOperand &, const AnalysisState &) {
  return true;
}

bool SendOp::bufferizesToMemoryWrite(OpOperand &, const AnalysisState &) {
  return false;
}

AliasingValueList SendOp::getAliasingValues(OpOperand &,
                                            const AnalysisState &) {
  return {};
}

LogicalResult SendOp::bufferize(RewriterBase &rewriter,
                                const BufferizationOptions &options,
                                BufferizationState &state) {
  if (isa<MemRefType>(getInput().getType()))
    return success();
  FailureOr<Value> input = getBuffer(rewriter, getInput(), options, state);
  if (failed(input))
    return failure();
  rewriter.modifyOpInPlace(*this, [&] { getInputMutable().assign(*input); });
  return success();
}

bool RecvOp::bufferizesToAllocation(Value) { return true; }

FailureOr<BufferLikeType> RecvOp::getBufferType(Value value,
                                                const BufferizationOptions &,
                                                const BufferizationState &,
                                                SmallVector<Value> &) {
  auto tensorType = cast<RankedTensorType>(value.getType());
  return cast<BufferLikeType>(
      MemRefType::get(tensorType.getShape(), tensorType.getElementType()));
}

LogicalResult RecvOp::bufferize(RewriterBase &rewriter,
                                const BufferizationOptions &options,
                                BufferizationState &state) {
  if (getOutput())
    return success();
  OpBuilder::InsertionGuard guard(rewriter);
  rewriter.setInsertionPoint(*this);
  FailureOr<Value> allocation = allocateTensorForShapedValue(
      rewriter, getLoc(), getResult(), options, state, /*copy=*/false);
  if (failed(allocation))
    return failure();
  FailureOr<Value> output = getBuffer(rewriter, *allocation, options, state);
  if (failed(output))
    return failure();
  auto received =
      RecvOp::create(rewriter, getLoc(), Type(), *output, getMeshAttr(),
                     getAxesAttr(), getPeerAttr(), getTagAttr());
  received->setDiscardableAttrs(getOperation()->getDiscardableAttrDictionary());
  replaceOpWithBufferizedValues(rewriter, *this, *output);
  return success();
}
