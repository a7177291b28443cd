//===- Loss.cpp - a training step's loss and its gradient -----------------===//
//
// The losses of autopar-training (docs/training.md), built once for the
// step and for the analyses' pricing (AppendedLoss).
//
//===----------------------------------------------------------------------===//

#include "autopar/Analysis/Loss.h"
#include "autopar/Dialect/AutoparOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include "llvm/ADT/StringSwitch.h"

#include <limits>

using namespace mlir;
using namespace mlir::autopar;

std::optional<LossKind> mlir::autopar::symbolizeLoss(StringRef name) {
  return llvm::StringSwitch<std::optional<LossKind>>(name)
      .Case("auto", LossKind::Auto)
      .Case("softmax-cross-entropy", LossKind::SoftmaxCrossEntropy)
      .Case("mse", LossKind::MeanSquaredError)
      .Default(std::nullopt);
}

FailureOr<LossKind> mlir::autopar::parseLoss(Location loc, StringRef pass,
                                             StringRef name) {
  if (std::optional<LossKind> kind = symbolizeLoss(name))
    return *kind;
  return emitError(loc) << pass << ": unknown loss '" << name
                        << "'; expected auto, softmax-cross-entropy or mse";
}

StringRef mlir::autopar::stringifyLoss(LossKind kind) {
  switch (kind) {
  case LossKind::Auto:
    return "auto";
  case LossKind::SoftmaxCrossEntropy:
    return "softmax-cross-entropy";
  case LossKind::MeanSquaredError:
    return "mse";
  }
  llvm_unreachable("unknown loss");
}

LogicalResult mlir::autopar::verifyLossOutput(Operation *at, StringRef pass,
                                              LossKind kind, Type type) {
  auto outputType = dyn_cast<RankedTensorType>(type);
  if (!outputType || !outputType.hasStaticShape() ||
      !isa<FloatType>(outputType.getElementType()))
    return at->emitError() << pass
                           << ": the forward function must return a "
                              "statically shaped float tensor";
  if (kind == LossKind::Auto && outputType.getNumElements() != 1)
    return at->emitError()
           << pass
           << ": loss=auto needs the function to return the loss (one "
              "element), it returns "
           << outputType << "; choose loss=softmax-cross-entropy or loss=mse";
  if (kind == LossKind::SoftmaxCrossEntropy && outputType.getRank() < 2)
    return at->emitError() << pass
                           << ": softmax-cross-entropy needs logits [batch, "
                              "classes] or [batch, ..., classes] (e.g. "
                              "[batch, seq, vocab]), got "
                           << outputType;
  return success();
}

RankedTensorType mlir::autopar::getLabelType(LossKind kind,
                                             RankedTensorType outputType) {
  switch (kind) {
  case LossKind::Auto:
    return {};
  case LossKind::SoftmaxCrossEntropy:
    // One class index per row of logits: [batch] for [batch, classes],
    // [batch, seq] (tokens) for [batch, seq, vocab].
    return RankedTensorType::get(outputType.getShape().drop_back(),
                                 IntegerType::get(outputType.getContext(), 64));
  case LossKind::MeanSquaredError:
    return outputType;
  }
  llvm_unreachable("unknown loss");
}

Location mlir::autopar::getLossLoc(Operation *forward) {
  return NameLoc::get(StringAttr::get(forward->getContext(), "loss"),
                      forward->getLoc());
}

BuiltLoss mlir::autopar::buildLoss(OpBuilder &builder, Location loc,
                                   LossKind kind, Value output, Value labels) {
  MLIRContext *context = builder.getContext();
  auto outputType = cast<RankedTensorType>(output.getType());
  Type elementType = outputType.getElementType();
  auto scalarType = RankedTensorType::get({}, elementType);
  if (kind == LossKind::Auto)
    return {output, buildFilled(builder, loc, outputType, 1.0)};

  if (kind == LossKind::MeanSquaredError) {
    labels = buildConverted(builder, loc, labels, elementType);
    double count = static_cast<double>(outputType.getNumElements());
    unsigned rank = outputType.getRank();
    AffineMap identity = builder.getMultiDimIdentityMap(rank);
    AffineMap toScalar = AffineMap::get(rank, 0, context);
    Value sum = buildReduction(
        builder, loc, {output, labels}, {identity, identity}, toScalar,
        scalarType, 0.0,
        [&](OpBuilder &nb, Location nloc, ValueRange args, Value acc) {
          Value diff = arith::SubFOp::create(nb, nloc, args[0], args[1]);
          Value square = arith::MulFOp::create(nb, nloc, diff, diff);
          return arith::AddFOp::create(nb, nloc, acc, square).getResult();
        });
    Value loss = buildElementwise(
        builder, loc, {sum}, scalarType,
        [&](OpBuilder &nb, Location nloc, ValueRange args) {
          Value n = arith::ConstantOp::create(
              nb, nloc, nb.getFloatAttr(elementType, count));
          return arith::DivFOp::create(nb, nloc, args[0], n).getResult();
        });
    Value seed = buildElementwise(
        builder, loc, {output, labels}, outputType,
        [&](OpBuilder &nb, Location nloc, ValueRange args) {
          Value diff = arith::SubFOp::create(nb, nloc, args[0], args[1]);
          Value scale = arith::ConstantOp::create(
              nb, nloc, nb.getFloatAttr(elementType, 2.0 / count));
          return arith::MulFOp::create(nb, nloc, diff, scale).getResult();
        });
    return {loss, seed};
  }

  // loss = mean_r (logsumexp(logits[r]) - logits[r, label[r]]) over the
  // rows r of the logits (every index but the last: samples, or tokens of
  // a [batch, seq, vocab] output), d loss / d logits = (softmax(logits) -
  // onehot(label)) / rows.
  unsigned rank = outputType.getRank();
  int64_t rows = outputType.getNumElements() / outputType.getShape().back();
  auto rowType =
      RankedTensorType::get(outputType.getShape().drop_back(), elementType);
  AffineMap bc = builder.getMultiDimIdentityMap(rank);
  AffineMap bOnly = bc.getMajorSubMap(rank - 1);
  AffineMap none = AffineMap::get(rank, 0, context);
  Value rowMax = buildReduction(
      builder, loc, {output}, {bc}, bOnly, rowType,
      -std::numeric_limits<double>::infinity(),
      [&](OpBuilder &nb, Location nloc, ValueRange args, Value acc) {
        return arith::MaximumFOp::create(nb, nloc, acc, args[0]).getResult();
      });
  Value rowSum = buildReduction(
      builder, loc, {output, rowMax}, {bc, bOnly}, bOnly, rowType, 0.0,
      [&](OpBuilder &nb, Location nloc, ValueRange args, Value acc) {
        Value shifted = arith::SubFOp::create(nb, nloc, args[0], args[1]);
        Value e = math::ExpOp::create(nb, nloc, shifted);
        return arith::AddFOp::create(nb, nloc, acc, e).getResult();
      });
  Value logSumExp = buildElementwise(
      builder, loc, {rowMax, rowSum}, rowType,
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Value log = math::LogOp::create(nb, nloc, args[1]);
        return arith::AddFOp::create(nb, nloc, args[0], log).getResult();
      });
  auto isLabel = [&](OpBuilder &nb, Location nloc, Value label) {
    Value column = linalg::IndexOp::create(nb, nloc, rank - 1);
    Value index =
        arith::IndexCastOp::create(nb, nloc, nb.getIndexType(), label);
    return arith::CmpIOp::create(nb, nloc, arith::CmpIPredicate::eq, column,
                                 index)
        .getResult();
  };
  Value total = buildReduction(
      builder, loc, {output, logSumExp, labels}, {bc, bOnly, bOnly}, none,
      scalarType, 0.0,
      [&](OpBuilder &nb, Location nloc, ValueRange args, Value acc) {
        Value picked = arith::SubFOp::create(nb, nloc, args[1], args[0]);
        Value zero = arith::ConstantOp::create(
            nb, nloc, nb.getFloatAttr(elementType, 0.0));
        Value term = arith::SelectOp::create(
            nb, nloc, isLabel(nb, nloc, args[2]), picked, zero);
        return arith::AddFOp::create(nb, nloc, acc, term).getResult();
      });
  double inverseBatch = 1.0 / static_cast<double>(rows);
  Value loss = buildElementwise(
      builder, loc, {total}, scalarType,
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Value scale = arith::ConstantOp::create(
            nb, nloc, nb.getFloatAttr(elementType, inverseBatch));
        return arith::MulFOp::create(nb, nloc, args[0], scale).getResult();
      });
  // The gradient: a generic over the logits reading the label by row.
  Value init =
      tensor::EmptyOp::create(builder, loc, outputType.getShape(), elementType);
  Value seed =
      linalg::GenericOp::create(
          builder, loc, TypeRange{outputType},
          ValueRange{output, logSumExp, labels}, ValueRange{init},
          SmallVector<AffineMap>{bc, bOnly, bOnly, bc},
          SmallVector<utils::IteratorType>(rank, utils::IteratorType::parallel),
          [&](OpBuilder &nb, Location nloc, ValueRange args) {
            Value shifted = arith::SubFOp::create(nb, nloc, args[0], args[1]);
            Value softmax = math::ExpOp::create(nb, nloc, shifted);
            Value one = arith::ConstantOp::create(
                nb, nloc, nb.getFloatAttr(elementType, 1.0));
            Value zero = arith::ConstantOp::create(
                nb, nloc, nb.getFloatAttr(elementType, 0.0));
            Value onehot = arith::SelectOp::create(
                nb, nloc, isLabel(nb, nloc, args[2]), one, zero);
            Value diff = arith::SubFOp::create(nb, nloc, softmax, onehot);
            Value scale = arith::ConstantOp::create(
                nb, nloc, nb.getFloatAttr(elementType, inverseBatch));
            linalg::YieldOp::create(
                nb, nloc,
                arith::MulFOp::create(nb, nloc, diff, scale).getResult());
          })
          .getResult(0);
  return {loss, seed};
}

FailureOr<AppendedLoss> AppendedLoss::append(func::FuncOp forward,
                                             StringRef pass, LossKind kind) {
  AppendedLoss appended;
  if (kind == LossKind::Auto)
    return appended;
  if (forward.getNumResults() != 1)
    return forward.emitError()
           << pass << ": loss=" << stringifyLoss(kind)
           << " prices the loss of one output, but @" << forward.getName()
           << " returns " << forward.getNumResults() << " values";
  if (failed(verifyLossOutput(forward, pass, kind,
                              forward.getResultTypes().front())))
    return failure();
  Block &body = forward.getBody().front();
  Operation *ret = body.getTerminator();
  Operation *before = ret->getPrevNode();
  OpBuilder builder(ret);
  Location loc = getLossLoc(forward);
  // As autopar-training builds it: a 16-bit output's loss in f32, its
  // gradient back in the output's type.
  Value output = ret->getOperand(0);
  auto outputType = cast<RankedTensorType>(output.getType());
  auto f32 = Float32Type::get(forward.getContext());
  Type compute = outputType.getElementType().getIntOrFloatBitWidth() < 32
                     ? Type(f32)
                     : outputType.getElementType();
  Value computed = buildConverted(builder, loc, output, compute);
  RankedTensorType labelType = getLabelType(kind, outputType);
  Value labels = tensor::EmptyOp::create(builder, loc, labelType.getShape(),
                                         labelType.getElementType());
  BuiltLoss loss = buildLoss(builder, loc, kind, computed, labels);
  buildConverted(builder, loc, loss.seed, outputType.getElementType());
  for (Operation *op = before ? before->getNextNode() : &body.front();
       op != ret; op = op->getNextNode()) {
    op->setAttr(AutoparDialect::kLossAttrName, builder.getUnitAttr());
    appended.ops.push_back(op);
  }
  return appended;
}

FailureOr<AppendedLoss> AppendedLoss::append(Location loc,
                                             FunctionOpInterface entry,
                                             StringRef pass, StringRef name) {
  FailureOr<LossKind> kind = parseLoss(loc, pass, name);
  if (failed(kind))
    return failure();
  if (*kind == LossKind::Auto)
    return AppendedLoss();
  auto forward = dyn_cast_or_null<func::FuncOp>(entry.getOperation());
  if (!forward)
    return emitError(loc) << pass << ": loss=" << name
                          << " needs a func.func to price it in";
  return append(forward, pass, *kind);
}

void AppendedLoss::erase() {
  for (Operation *op : llvm::reverse(ops)) {
    op->dropAllUses();
    op->erase();
  }
  ops.clear();
}
