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
#include "mlir/Dialect/MemRef/IR/MemRef.h"

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

//===----------------------------------------------------------------------===//
// Library calls
//===----------------------------------------------------------------------===//

/// Whether `type`'s elements are laid out row-major without gaps (at any
/// offset).
static bool isContiguousRowMajor(MemRefType type) {
  if (type.getLayout().isIdentity())
    return true;
  SmallVector<int64_t> strides;
  int64_t offset;
  if (!type.hasStaticShape() ||
      failed(type.getStridesAndOffset(strides, offset)))
    return false;
  int64_t expected = 1;
  for (int64_t i = type.getRank() - 1; i >= 0; --i) {
    if (type.getDimSize(i) != 1 && strides[i] != expected)
      return false;
    expected *= type.getDimSize(i);
  }
  return true;
}

bool LibraryCallOp::bufferizesToMemoryRead(OpOperand &operand,
                                           const AnalysisState &) {
  return !isDpsInit(&operand);
}

bool LibraryCallOp::bufferizesToMemoryWrite(OpOperand &operand,
                                            const AnalysisState &) {
  return isDpsInit(&operand);
}

AliasingValueList LibraryCallOp::getAliasingValues(OpOperand &operand,
                                                   const AnalysisState &) {
  if (!isDpsInit(&operand))
    return {};
  return {{getTiedOpResult(&operand), BufferRelation::Equivalent}};
}

LogicalResult LibraryCallOp::bufferize(RewriterBase &rewriter,
                                       const BufferizationOptions &options,
                                       BufferizationState &state) {
  OpBuilder::InsertionGuard guard(rewriter);
  rewriter.setInsertionPoint(*this);
  Location loc = getLoc();
  // Every buffer the callee sees is contiguous and row-major: a view that
  // is not (a slice of a wider tensor) is copied into one that is.
  auto contiguous = [&](Value buffer, bool copyIn) -> Value {
    auto type = cast<MemRefType>(buffer.getType());
    if (isContiguousRowMajor(type))
      return buffer;
    auto plain = MemRefType::get(type.getShape(), type.getElementType());
    Value copy = memref::AllocOp::create(rewriter, loc, plain);
    if (copyIn)
      memref::CopyOp::create(rewriter, loc, buffer, copy);
    return copy;
  };
  SmallVector<Value> inputs, outputs, results;
  for (Value input : getInputs()) {
    FailureOr<Value> buffer = getBuffer(rewriter, input, options, state);
    if (failed(buffer))
      return failure();
    inputs.push_back(contiguous(*buffer, /*copyIn=*/true));
  }
  SmallVector<std::pair<Value, Value>> copiesOut;
  for (Value output : getOutputs()) {
    FailureOr<Value> buffer = getBuffer(rewriter, output, options, state);
    if (failed(buffer))
      return failure();
    Value plain = contiguous(*buffer, /*copyIn=*/false);
    if (plain != *buffer)
      copiesOut.push_back({plain, *buffer});
    outputs.push_back(plain);
    results.push_back(*buffer);
  }
  LibraryCallOp::create(rewriter, loc, TypeRange{}, getCalleeAttr(), inputs,
                        outputs, getValuesAttr(), getScalars(),
                        getStreamOrderedAttr());
  for (auto [from, to] : copiesOut)
    memref::CopyOp::create(rewriter, loc, from, to);
  replaceOpWithBufferizedValues(rewriter, *this, results);
  return success();
}
