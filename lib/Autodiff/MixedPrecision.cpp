//===- MixedPrecision.cpp - 16-bit training with f32 accumulation ---------===//
//
// The IR pieces of mixed precision that autopar-training assembles: casts
// between float types, scaling by a rank-0 factor (fp16's loss scale), the
// skip of an update (a select on a rank-0 flag) and the widening of ops
// with reduction loops to accumulate in f32.
//
//===----------------------------------------------------------------------===//

#include "autopar/Autodiff/ReverseMode.h"
#include "autopar/Autodiff/StepTransforms.h"
#include "autopar/Dialect/AutoparOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Verifier.h"

using namespace mlir;
using namespace mlir::autopar;

/// `value` with float element type `element` (extf or truncf).
Value mlir::autopar::createCast(OpBuilder &b, Location loc, Value value,
                                Type element) {
  return buildConverted(b, loc, value, element);
}

LogicalResult mlir::autopar::castFunctionFloats(FunctionOpInterface func,
                                                FloatType from, FloatType to) {
  auto convertType = [&](Type type) -> Type {
    if (type == from)
      return to;
    if (auto tensor = dyn_cast<RankedTensorType>(type);
        tensor && tensor.getElementType() == from)
      return tensor.clone(to);
    return type;
  };
  auto round = [&](APFloat value) {
    bool lost = false;
    value.convert(to.getFloatSemantics(), APFloat::rmNearestTiesToEven, &lost);
    return value;
  };
  func->walk([&](Operation *op) {
    for (Region &region : op->getRegions())
      for (Block &block : region)
        for (BlockArgument arg : block.getArguments())
          arg.setType(convertType(arg.getType()));
    for (OpResult result : op->getResults())
      result.setType(convertType(result.getType()));
    auto constant = dyn_cast<arith::ConstantOp>(op);
    if (!constant)
      return;
    if (auto scalar = dyn_cast<FloatAttr>(constant.getValue());
        scalar && scalar.getType() == from)
      constant.setValueAttr(FloatAttr::get(to, round(scalar.getValue())));
    else if (auto dense = dyn_cast<DenseFPElementsAttr>(constant.getValue());
             dense && dense.getElementType() == from)
      constant.setValueAttr(dense.mapValues(to, [&](const APFloat &value) {
        return round(value).bitcastToAPInt();
      }));
  });
  SmallVector<Type> inputs, results;
  for (Type type : func.getArgumentTypes())
    inputs.push_back(convertType(type));
  for (Type type : func.getResultTypes())
    results.push_back(convertType(type));
  func.setType(FunctionType::get(func->getContext(), inputs, results));
  if (failed(verify(func)))
    return func.emitError()
           << "autopar-training: the model does not verify "
              "once cast from "
           << from << " to " << to << "; export it in " << to << " instead";
  return success();
}

/// `value` times the rank-0 f32 `scale`, computed in f32 and stored as
/// `element`.
Value mlir::autopar::createScaled(OpBuilder &b, Location loc, Value value,
                                  Value scale, Type element) {
  auto type = cast<RankedTensorType>(value.getType());
  Type from = type.getElementType();
  Type f32 = b.getF32Type();
  unsigned rank = type.getRank();
  AffineMap identity = b.getMultiDimIdentityMap(rank);
  AffineMap scalar = AffineMap::get(rank, 0, b.getContext());
  Value init = tensor::EmptyOp::create(b, loc, type.getShape(), element);
  return linalg::GenericOp::create(
             b, loc, TypeRange{type.clone(element)}, ValueRange{value, scale},
             ValueRange{init},
             SmallVector<AffineMap>{identity, scalar, identity},
             SmallVector<utils::IteratorType>(rank,
                                              utils::IteratorType::parallel),
             [&](OpBuilder &nb, Location nloc, ValueRange args) {
               Value x = args[0];
               if (from.getIntOrFloatBitWidth() < 32)
                 x = arith::ExtFOp::create(nb, nloc, f32, x);
               Value y = arith::MulFOp::create(nb, nloc, x, args[1]);
               if (element.getIntOrFloatBitWidth() < 32)
                 y = arith::TruncFOp::create(nb, nloc, element, y);
               linalg::YieldOp::create(nb, nloc, y);
             })
      .getResult(0);
}

/// `updated` where the rank-0 flag `ok` is 1, `old` where it is 0.
Value mlir::autopar::createSelect(OpBuilder &b, Location loc, Value ok,
                                  Value updated, Value old) {
  auto type = cast<RankedTensorType>(updated.getType());
  unsigned rank = type.getRank();
  AffineMap identity = b.getMultiDimIdentityMap(rank);
  AffineMap scalar = AffineMap::get(rank, 0, b.getContext());
  Value init =
      tensor::EmptyOp::create(b, loc, type.getShape(), type.getElementType());
  return linalg::GenericOp::create(
             b, loc, TypeRange{type}, ValueRange{ok, updated, old},
             ValueRange{init},
             SmallVector<AffineMap>{scalar, identity, identity, identity},
             SmallVector<utils::IteratorType>(rank,
                                              utils::IteratorType::parallel),
             [&](OpBuilder &nb, Location nloc, ValueRange args) {
               Value zero = arith::ConstantOp::create(
                   nb, nloc, nb.getFloatAttr(args[0].getType(), 0.0));
               Value take = arith::CmpFOp::create(
                   nb, nloc, arith::CmpFPredicate::UNE, args[0], zero);
               linalg::YieldOp::create(
                   nb, nloc,
                   arith::SelectOp::create(nb, nloc, take, args[1], args[2])
                       .getResult());
             })
      .getResult(0);
}

static bool is16BitFloat(Type type) {
  auto floatType = dyn_cast<FloatType>(getElementTypeOrSelf(type));
  return floatType && floatType.getWidth() == 16;
}

/// Mixed precision's f32 accumulation: `op`, a linalg op with reduction
/// loops writing 16-bit floats, becomes a generic that computes in f32 and
/// accumulates into f32 (its inits widened), followed by a rounding of
/// each widened result to its 16-bit type. Inputs stay 16-bit (storage);
/// the body extends them. Returns whether `op` was replaced.
LogicalResult mlir::autopar::widenAccumulation(IRRewriter &rewriter,
                                               linalg::LinalgOp op) {
  if (!op.hasPureTensorSemantics() || op.getNumReductionLoops() == 0 ||
      llvm::none_of(op->getResultTypes(), is16BitFloat))
    return failure();
  // Tags (the layer) survive generalization.
  SmallVector<NamedAttribute> tags(op->getDiscardableAttrs());
  linalg::GenericOp generic = dyn_cast<linalg::GenericOp>(*op);
  if (!generic) {
    rewriter.setInsertionPoint(op);
    FailureOr<linalg::GenericOp> generalized =
        linalg::generalizeNamedOp(rewriter, op);
    if (failed(generalized))
      return failure();
    generic = *generalized;
  }
  Location loc = generic.getLoc();
  Type f32 = rewriter.getF32Type();
  rewriter.setInsertionPoint(generic);
  SmallVector<Value> inits;
  SmallVector<Type> resultTypes;
  for (Value init : generic.getDpsInits()) {
    if (is16BitFloat(init.getType())) {
      // A constant fill is made in f32 directly.
      auto fill = init.getDefiningOp<linalg::FillOp>();
      auto constant =
          fill ? fill.getInputs()[0].getDefiningOp<arith::ConstantOp>()
               : arith::ConstantOp();
      if (constant && isa<FloatAttr>(constant.getValue())) {
        Value wide = buildFilled(
            rewriter, loc, cast<RankedTensorType>(init.getType()).clone(f32),
            cast<FloatAttr>(constant.getValue()).getValueAsDouble());
        wide.getDefiningOp()->setDiscardableAttrs(
            fill->getDiscardableAttrDictionary());
        init = wide;
      } else {
        init = createCast(rewriter, loc, init, f32);
      }
    }
    inits.push_back(init);
    resultTypes.push_back(init.getType());
  }
  Block &old = generic.getRegion().front();
  auto widened = linalg::GenericOp::create(
      rewriter, loc, resultTypes, generic.getDpsInputs(), inits,
      generic.getIndexingMapsArray(), generic.getIteratorTypesArray(),
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        IRMapping mapping;
        for (auto [from, to] : llvm::zip_equal(old.getArguments(), args)) {
          Value value = to;
          if (is16BitFloat(value.getType()))
            value = arith::ExtFOp::create(nb, nloc, f32, value);
          mapping.map(from, value);
        }
        for (Operation &bodyOp : old.without_terminator()) {
          // Casts between 16 bits and f32 vanish; constants and results
          // become f32.
          if (isa<arith::ExtFOp, arith::TruncFOp>(bodyOp)) {
            Value in = mapping.lookup(bodyOp.getOperand(0));
            if (in.getType() == f32 &&
                (bodyOp.getResult(0).getType() == f32 ||
                 is16BitFloat(bodyOp.getResult(0).getType()))) {
              mapping.map(bodyOp.getResult(0), in);
              continue;
            }
          }
          if (auto constant = dyn_cast<arith::ConstantOp>(bodyOp);
              constant && is16BitFloat(constant.getType())) {
            auto value = cast<FloatAttr>(constant.getValue());
            mapping.map(
                constant.getResult(),
                arith::ConstantOp::create(
                    nb, nloc, nb.getFloatAttr(f32, value.getValueAsDouble())));
            continue;
          }
          // 16-bit scalars from above (constants) are extended too.
          for (Value operand : bodyOp.getOperands())
            if (!mapping.contains(operand) &&
                operand.getParentBlock() != &old &&
                is16BitFloat(operand.getType()))
              mapping.map(operand,
                          arith::ExtFOp::create(nb, nloc, f32, operand));
          Operation *clone = nb.clone(bodyOp, mapping);
          for (OpResult result : clone->getResults())
            if (is16BitFloat(result.getType()))
              result.setType(f32);
        }
        SmallVector<Value> yielded;
        for (auto [value, type] :
             llvm::zip_equal(old.getTerminator()->getOperands(), resultTypes)) {
          Value mapped = mapping.lookup(value);
          Type element = getElementTypeOrSelf(type);
          if (mapped.getType() != element)
            mapped = arith::TruncFOp::create(nb, nloc, element, mapped);
          yielded.push_back(mapped);
        }
        linalg::YieldOp::create(nb, nloc, yielded);
      });
  for (NamedAttribute attr : tags)
    widened->setAttr(attr.getName(), attr.getValue());
  rewriter.setInsertionPointAfter(widened);
  for (auto [result, wide] :
       llvm::zip_equal(generic->getResults(), widened->getResults())) {
    Value rounded =
        createCast(rewriter, loc, wide, getElementTypeOrSelf(result.getType()));
    rewriter.replaceAllUsesWith(result, rounded);
  }
  rewriter.eraseOp(generic);
  return success();
}
