//===- ReverseModeModels.cpp - reverse-mode rules for linalg and tensor ---===//
//
// One generic rule covers every linalg structured op whose indexing maps are
// projected permutations (elementwise ops, broadcasts, reductions,
// contractions such as matmul and batch_matmul): the adjoint of input k is a
// linalg.generic over the same loops that reads the result's adjoint and
// the op's inputs, recomputes the scalar body, differentiates it in reverse
// with respect to block argument k, and accumulates into a tensor shaped
// like input k (the loops input k does not follow become reductions: that
// is where a matmul's input gradient sums over the output columns).
// Reductions combine with addf (linear) or max/min (the gradient goes to
// the elements equal to the result). Reshapes are their own inverses.
//
//===----------------------------------------------------------------------===//

#include "autopar/Autodiff/ReverseMode.h"
#include "autopar/Dialect/AutoparOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/TypeSwitch.h"

#include <cmath>

using namespace mlir;
using namespace mlir::autopar;

//===----------------------------------------------------------------------===//
// Slices
//===----------------------------------------------------------------------===//

/// Whether a tensor type is known to hold no elements.
static bool hasNoElements(Type type) {
  auto ranked = dyn_cast<RankedTensorType>(type);
  return ranked && llvm::is_contained(ranked.getShape(), 0);
}

/// The slice of `source` that `type` describes, or an empty tensor where
/// either holds no elements: MLIR's slice verifiers reject an offset at a
/// zero size, which the slices of an empty batch would have.
static Value createSlice(OpBuilder &b, Location loc, RankedTensorType type,
                         Value source, ArrayRef<OpFoldResult> offsets,
                         ArrayRef<OpFoldResult> sizes,
                         ArrayRef<OpFoldResult> strides) {
  if (hasNoElements(type) || hasNoElements(source.getType()))
    return tensor::EmptyOp::create(b, loc, type.getShape(),
                                   type.getElementType());
  return tensor::ExtractSliceOp::create(b, loc, type, source, offsets, sizes,
                                        strides);
}

/// `dest` with `source` written at the slice, or `dest` itself where
/// either holds no elements (nothing to write; see createSlice).
static Value createInsertSlice(OpBuilder &b, Location loc, Value source,
                               Value dest, ArrayRef<OpFoldResult> offsets,
                               ArrayRef<OpFoldResult> sizes,
                               ArrayRef<OpFoldResult> strides) {
  if (hasNoElements(source.getType()) || hasNoElements(dest.getType()))
    return dest;
  return tensor::InsertSliceOp::create(b, loc, source, dest, offsets, sizes,
                                       strides);
}

//===----------------------------------------------------------------------===//
// Scalar bodies
//===----------------------------------------------------------------------===//

/// Scalar ops that never carry a gradient (comparisons, integer and index
/// arithmetic, constants).
static bool isInactiveScalarOp(Operation *op) {
  return isa<arith::CmpFOp, arith::CmpIOp, arith::ConstantOp, linalg::IndexOp,
             arith::IndexCastOp, arith::SIToFPOp, arith::UIToFPOp,
             arith::FPToSIOp, arith::FPToUIOp>(op) ||
         llvm::none_of(op->getResultTypes(),
                       [](Type type) { return isa<FloatType>(type); });
}

/// Whether the scalar op has a rule below.
static bool hasScalarRule(Operation *op) {
  return isa<
      arith::AddFOp, arith::SubFOp, arith::MulFOp, arith::DivFOp, arith::NegFOp,
      arith::MaximumFOp, arith::MaxNumFOp, arith::MinimumFOp, arith::MinNumFOp,
      arith::SelectOp, arith::ExtFOp, arith::TruncFOp, math::ExpOp, math::LogOp,
      math::TanhOp, math::ErfOp, math::SqrtOp, math::RsqrtOp, math::AbsFOp,
      math::PowFOp, math::FPowIOp, math::SinOp, math::CosOp, math::Log1pOp>(op);
}

static Value constantLike(OpBuilder &b, Location loc, Value like,
                          double value) {
  return arith::ConstantOp::create(
      b, loc, b.getFloatAttr(like.getType(), value));
}

/// Adjoint contributions of `op`'s operands given `g`, the adjoint of its
/// result: one entry per operand, null where none flows.
static SmallVector<Value> scalarAdjoints(OpBuilder &b, Operation *op,
                                         Value g) {
  Location loc = op->getLoc();
  SmallVector<Value> out(op->getNumOperands());
  Value zero;
  auto getZero = [&] {
    if (!zero)
      zero = constantLike(b, loc, g, 0.0);
    return zero;
  };
  auto mul = [&](Value x, Value y) {
    return arith::MulFOp::create(b, loc, x, y).getResult();
  };
  auto div = [&](Value x, Value y) {
    return arith::DivFOp::create(b, loc, x, y).getResult();
  };
  auto neg = [&](Value x) { return arith::NegFOp::create(b, loc, x).getResult(); };
  // max/min: the gradient goes to the operand that was selected (the first
  // on ties).
  auto extremum = [&](arith::CmpFPredicate predicate) {
    Value a = op->getOperand(0), c = op->getOperand(1);
    Value first = arith::CmpFOp::create(b, loc, predicate, a, c);
    out[0] = arith::SelectOp::create(b, loc, first, g, getZero());
    out[1] = arith::SelectOp::create(b, loc, first, getZero(), g);
  };
  llvm::TypeSwitch<Operation *>(op)
      .Case([&](arith::AddFOp) {
        out = {g, g};
      })
      .Case([&](arith::SubFOp) {
        out = {g, neg(g)};
      })
      .Case([&](arith::MulFOp mulOp) {
        out = {mul(g, mulOp.getRhs()), mul(g, mulOp.getLhs())};
      })
      .Case([&](arith::DivFOp divOp) {
        Value q = div(g, divOp.getRhs());
        out = {q, neg(mul(q, divOp.getResult()))};
      })
      .Case([&](arith::NegFOp) { out = {neg(g)}; })
      .Case<arith::MaximumFOp, arith::MaxNumFOp>(
          [&](Operation *) { extremum(arith::CmpFPredicate::OGE); })
      .Case<arith::MinimumFOp, arith::MinNumFOp>(
          [&](Operation *) { extremum(arith::CmpFPredicate::OLE); })
      .Case([&](arith::SelectOp select) {
        out[1] = arith::SelectOp::create(b, loc, select.getCondition(), g,
                                         getZero());
        out[2] = arith::SelectOp::create(b, loc, select.getCondition(),
                                         getZero(), g);
      })
      .Case([&](arith::ExtFOp ext) {
        out[0] = arith::TruncFOp::create(b, loc, ext.getIn().getType(), g);
      })
      .Case([&](arith::TruncFOp trunc) {
        out[0] = arith::ExtFOp::create(b, loc, trunc.getIn().getType(), g);
      })
      .Case([&](math::ExpOp exp) { out[0] = mul(g, exp.getResult()); })
      .Case([&](math::LogOp log) { out[0] = div(g, log.getOperand()); })
      .Case([&](math::TanhOp tanh) {
        Value t = tanh.getResult();
        Value one = constantLike(b, loc, t, 1.0);
        out[0] = mul(g, arith::SubFOp::create(b, loc, one, mul(t, t)));
      })
      .Case([&](math::ErfOp erf) {
        // d erf(x) = 2 / sqrt(pi) * exp(-x^2)
        Value x = erf.getOperand();
        Value e = math::ExpOp::create(b, loc, neg(mul(x, x)));
        out[0] = mul(g, mul(constantLike(b, loc, x, 2.0 / std::sqrt(M_PI)), e));
      })
      .Case([&](math::SqrtOp sqrt) {
        out[0] = div(mul(g, constantLike(b, loc, g, 0.5)), sqrt.getResult());
      })
      .Case([&](math::RsqrtOp rsqrt) {
        Value r = rsqrt.getResult();
        out[0] = mul(g, mul(constantLike(b, loc, r, -0.5), mul(r, mul(r, r))));
      })
      .Case([&](math::AbsFOp abs) {
        Value nonNegative = arith::CmpFOp::create(
            b, loc, arith::CmpFPredicate::OGE, abs.getOperand(), getZero());
        out[0] = arith::SelectOp::create(b, loc, nonNegative, g, neg(g));
      })
      .Case([&](math::PowFOp pow) {
        // d a^c = c a^(c-1) da + log(a) a^c dc
        Value a = pow.getLhs(), c = pow.getRhs();
        Value cMinusOne =
            arith::SubFOp::create(b, loc, c, constantLike(b, loc, c, 1.0));
        out[0] = mul(g, mul(c, math::PowFOp::create(b, loc, a, cMinusOne)));
        out[1] = mul(g, mul(math::LogOp::create(b, loc, a), pow.getResult()));
      })
      .Case([&](math::FPowIOp pow) {
        // d a^n = n a^(n-1) da (torch exports x**2 as fpowi); no adjoint for
        // the integer exponent.
        Value a = pow.getLhs(), n = pow.getRhs();
        Value one =
            arith::ConstantOp::create(b, loc, b.getIntegerAttr(n.getType(), 1));
        Value nMinusOne = arith::SubIOp::create(b, loc, n, one);
        Value nFloat = arith::SIToFPOp::create(b, loc, a.getType(), n);
        out[0] =
            mul(g, mul(nFloat, math::FPowIOp::create(b, loc, a, nMinusOne)));
      })
      .Case([&](math::SinOp sin) {
        out[0] = mul(g, math::CosOp::create(b, loc, sin.getOperand()));
      })
      .Case([&](math::CosOp cos) {
        out[0] = neg(mul(g, math::SinOp::create(b, loc, cos.getOperand())));
      })
      .Case([&](math::Log1pOp log1p) {
        Value one = constantLike(b, loc, g, 1.0);
        out[0] = div(g, arith::AddFOp::create(b, loc, one, log1p.getOperand()));
      });
  return out;
}

/// Checks that every op of `body` on a path to the yielded value is
/// differentiable; errors name the scalar op.
static LogicalResult checkBody(linalg::LinalgOp op, Block &body) {
  for (Operation &inner : body.without_terminator()) {
    if (isInactiveScalarOp(&inner) || hasScalarRule(&inner) ||
        isa<tensor::ExtractOp>(inner))
      continue;
    return op.emitError() << "autopar-training: cannot differentiate '"
                          << inner.getName() << "' in the body of '"
                          << op->getName() << "'";
  }
  return success();
}

/// Reverse mode over the (cloned) scalar ops `ops`, seeded with `seed` at
/// `root`; returns the adjoint of `target`, or null when none reaches it.
static Value reverseScalar(OpBuilder &b, ArrayRef<Operation *> ops, Value root,
                           Value seed, Value target) {
  DenseMap<Value, Value> adjoint;
  adjoint[root] = seed;
  for (Operation *op : llvm::reverse(ops)) {
    if (isInactiveScalarOp(op) || op->getNumResults() != 1)
      continue;
    Value g = adjoint.lookup(op->getResult(0));
    if (!g)
      continue;
    SmallVector<Value> contributions = scalarAdjoints(b, op, g);
    for (auto [operand, contribution] :
         llvm::zip(op->getOperands(), contributions)) {
      if (!contribution || !isa<FloatType>(operand.getType()))
        continue;
      Value &slot = adjoint[operand];
      slot = slot ? arith::AddFOp::create(b, op->getLoc(), slot, contribution)
                        .getResult()
                  : contribution;
    }
  }
  return adjoint.lookup(target);
}

/// Whether `target` (a block argument) reaches `root` within `body`.
static bool reaches(Block &body, Value target, Value root) {
  if (target == root)
    return true;
  DenseSet<Value> live = {target};
  for (Operation &inner : body.without_terminator())
    if (!isInactiveScalarOp(&inner) &&
        llvm::any_of(inner.getOperands(),
                     [&](Value v) { return live.contains(v); }))
      for (Value result : inner.getResults())
        live.insert(result);
  return live.contains(root);
}

/// Clones `body` (but `skip`, a reduction's combiner) with `mapping` at
/// `builder` and returns the adjoint of `target` seeded with `seed` at
/// `root` (values of `body`), or null when none reaches it. For a max/min
/// reduction, `extremumResult` is the op's result: the seed flows only
/// where the recomputed `root` equals it.
static Value differentiateBody(OpBuilder &builder, Block &body,
                               IRMapping &mapping, Operation *skip,
                               Value root, Value seed, Value target,
                               Value extremumResult = Value()) {
  SmallVector<Operation *> cloned;
  for (Operation &inner : body.without_terminator())
    if (&inner != skip)
      cloned.push_back(builder.clone(inner, mapping));
  Value rootValue = mapping.lookupOrDefault(root);
  if (extremumResult) {
    Location loc = body.getParentOp()->getLoc();
    Value isResult = arith::CmpFOp::create(
        builder, loc, arith::CmpFPredicate::OEQ, rootValue, extremumResult);
    seed = arith::SelectOp::create(builder, loc, isResult, seed,
                                   constantLike(builder, loc, seed, 0.0));
  }
  return reverseScalar(builder, cloned, rootValue, seed,
                       mapping.lookupOrDefault(target));
}

/// The adjoint of the table read `extract` in `op`'s body, accumulated
/// into zeros of `type` written at `outputMap`: a linalg.generic over
/// `op`'s loops and the further loops `outputMap` has (one per
/// data-dependent index in `dataIndices`, paired with the loop standing for
/// it, where the contribution is kept only when the index equals the loop).
static Value
accumulateTableAdjoint(OpBuilder &b, Location loc, linalg::LinalgOp op,
                       Block &body, ArrayRef<AffineMap> maps, AffineMap outMap,
                       Value dResult, Operation *combinerOp, Value contribution,
                       tensor::ExtractOp extract, RankedTensorType type,
                       AffineMap outputMap,
                       ArrayRef<std::pair<Value, unsigned>> dataIndices) {
  unsigned numInputs = op.getNumDpsInputs();
  auto extend = [&](AffineMap map) {
    return AffineMap::get(outputMap.getNumDims(), 0, map.getResults(),
                          op->getContext());
  };
  SmallVector<Value> inputs = {dResult};
  SmallVector<AffineMap> newMaps = {extend(outMap)};
  for (unsigned i = 0; i < numInputs; ++i) {
    inputs.push_back(op.getDpsInputOperand(i)->get());
    newMaps.push_back(extend(maps[i]));
  }
  newMaps.push_back(outputMap);
  return linalg::GenericOp::create(
             b, loc, TypeRange{type}, inputs,
             ValueRange{createZeros(b, loc, type)}, newMaps,
             getIteratorsWritingAt(outputMap),
             [&](OpBuilder &nb, Location nloc, ValueRange args) {
               IRMapping mapping;
               for (unsigned i = 0; i < numInputs; ++i)
                 mapping.map(body.getArgument(i), args[1 + i]);
               Value adjoint = differentiateBody(nb, body, mapping, combinerOp,
                                                 contribution, args[0],
                                                 extract.getResult());
               Value zero = constantLike(nb, nloc, args.back(), 0.0);
               if (!adjoint)
                 adjoint = zero;
               for (auto [index, loop] : dataIndices) {
                 Value here = linalg::IndexOp::create(nb, nloc, loop);
                 Value hit = arith::CmpIOp::create(
                     nb, nloc, arith::CmpIPredicate::eq,
                     mapping.lookupOrDefault(index), here);
                 adjoint =
                     arith::SelectOp::create(nb, nloc, hit, adjoint, zero);
               }
               linalg::YieldOp::create(
                   nb, nloc,
                   arith::AddFOp::create(nb, nloc, args.back(), adjoint)
                       .getResult());
             })
      .getResult(0);
}

/// The gradient of a table read `extract` in `op`'s body whose first index
/// is data-dependent (computed from the body's inputs over loops N) and
/// whose other indices are loops R (distinct from N), as an
/// autopar.scatter_add: the row indices as a tensor over N, each
/// position's contribution as a tensor over N x R (summed over the op's
/// other loops), added into zeros at those rows. Null when the read has
/// another form (the caller then writes the dense reduction).
static Value buildScatterAdd(OpBuilder &b, Location loc, linalg::LinalgOp op,
                             Block &body, ArrayRef<AffineMap> maps,
                             AffineMap outMap, Value dResult,
                             Operation *combinerOp, Value contribution,
                             tensor::ExtractOp extract) {
  MLIRContext *context = op->getContext();
  unsigned numLoops = op.getNumLoops();
  unsigned numInputs = op.getNumDpsInputs();
  auto tableType = cast<RankedTensorType>(extract.getTensor().getType());
  if (!tableType.hasStaticShape() || extract.getIndices().empty())
    return Value();
  // R: the loops of the table's other dimensions.
  SmallVector<unsigned> rowLoops;
  for (Value index : extract.getIndices().drop_front()) {
    auto loopIndex = index.getDefiningOp<linalg::IndexOp>();
    if (!loopIndex || llvm::is_contained(rowLoops, loopIndex.getDim()))
      return Value();
    rowLoops.push_back(loopIndex.getDim());
  }
  // N: the loops the row index is computed over, from the body's inputs
  // (never from the output) and loop indices, by pure ops.
  Value row = extract.getIndices().front();
  if (row.getDefiningOp<linalg::IndexOp>())
    return Value();
  SetVector<Operation *> slice;
  SmallVector<Value> worklist = {row};
  llvm::SmallBitVector positions(numLoops);
  SmallVector<unsigned> usedInputs;
  while (!worklist.empty()) {
    Value value = worklist.pop_back_val();
    if (auto arg = dyn_cast<BlockArgument>(value)) {
      if (arg.getOwner() != &body)
        continue; // defined above the op
      if (arg.getArgNumber() >= numInputs)
        return Value();
      if (!llvm::is_contained(usedInputs, arg.getArgNumber())) {
        usedInputs.push_back(arg.getArgNumber());
        for (AffineExpr expr : maps[arg.getArgNumber()].getResults())
          for (unsigned loop = 0; loop < numLoops; ++loop)
            if (expr.isFunctionOfDim(loop))
              positions.set(loop);
      }
      continue;
    }
    Operation *def = value.getDefiningOp();
    if (def->getBlock() != &body)
      continue; // defined above the op
    if (auto loopIndex = dyn_cast<linalg::IndexOp>(def)) {
      positions.set(loopIndex.getDim());
      slice.insert(def);
      continue;
    }
    if (!isPure(def) || def->getNumRegions() != 0)
      return Value();
    if (slice.insert(def))
      llvm::append_range(worklist, def->getOperands());
  }
  SmallVector<unsigned> positionLoops;
  for (unsigned loop : positions.set_bits()) {
    if (llvm::is_contained(rowLoops, loop))
      return Value();
    positionLoops.push_back(loop);
  }
  if (positionLoops.empty())
    return Value();
  SmallVector<int64_t> loopRanges = op.getStaticLoopRanges();
  llvm::sort(usedInputs);

  // The row indices over N.
  SmallVector<AffineExpr> renumber(numLoops, getAffineConstantExpr(0, context));
  SmallVector<int64_t> positionShape;
  for (auto [k, loop] : llvm::enumerate(positionLoops)) {
    renumber[loop] = getAffineDimExpr(k, context);
    positionShape.push_back(loopRanges[loop]);
  }
  unsigned n = positionLoops.size();
  SmallVector<Value> indexInputs;
  SmallVector<AffineMap> indexMaps;
  for (unsigned input : usedInputs) {
    indexInputs.push_back(op.getDpsInputOperand(input)->get());
    indexMaps.push_back(maps[input].replaceDimsAndSymbols(renumber, {}, n, 0));
  }
  indexMaps.push_back(b.getMultiDimIdentityMap(n));
  // (i64 rather than index: a tensor that collectives and the runtimes
  // can move.)
  auto indexType = RankedTensorType::get(positionShape, b.getI64Type());
  Value indexInit =
      tensor::EmptyOp::create(b, loc, positionShape, b.getI64Type());
  SmallVector<Operation *> ordered = slice.takeVector();
  llvm::sort(ordered,
             [](Operation *x, Operation *y) { return x->isBeforeInBlock(y); });
  Value indices =
      linalg::GenericOp::create(
          b, loc, TypeRange{indexType}, indexInputs, ValueRange{indexInit},
          indexMaps,
          SmallVector<utils::IteratorType>(n, utils::IteratorType::parallel),
          [&](OpBuilder &nb, Location nloc, ValueRange args) {
            IRMapping mapping;
            for (auto [k, input] : llvm::enumerate(usedInputs))
              mapping.map(body.getArgument(input), args[k]);
            for (Operation *inner : ordered) {
              if (auto loopIndex = dyn_cast<linalg::IndexOp>(inner)) {
                unsigned k = llvm::find(positionLoops, loopIndex.getDim()) -
                             positionLoops.begin();
                mapping.map(loopIndex.getResult(),
                            linalg::IndexOp::create(nb, nloc, k).getResult());
                continue;
              }
              nb.clone(*inner, mapping);
            }
            linalg::YieldOp::create(
                nb, nloc,
                arith::IndexCastOp::create(nb, nloc, nb.getI64Type(),
                                           mapping.lookupOrDefault(row))
                    .getResult());
          })
          .getResult(0);

  // Each position's row of the gradient, over N x R.
  SmallVector<AffineExpr> updateExprs;
  SmallVector<int64_t> updateShape(positionShape);
  for (unsigned loop : positionLoops)
    updateExprs.push_back(getAffineDimExpr(loop, context));
  for (auto [dim, loop] : llvm::enumerate(rowLoops)) {
    updateExprs.push_back(getAffineDimExpr(loop, context));
    updateShape.push_back(tableType.getDimSize(dim + 1));
  }
  AffineMap updateMap = AffineMap::get(numLoops, 0, updateExprs, context);
  auto updateType =
      RankedTensorType::get(updateShape, tableType.getElementType());
  Value updates = accumulateTableAdjoint(
      b, loc, op, body, maps, outMap, dResult, combinerOp, contribution,
      extract, updateType, updateMap, /*dataIndices=*/{});
  return ScatterAddOp::create(b, loc, tableType, updates, indices,
                              createZeros(b, loc, tableType))
      .getResult();
}

//===----------------------------------------------------------------------===//
// The generic linalg rule
//===----------------------------------------------------------------------===//

/// A window access `o * stride + k * dilation` of one tensor dimension: `o`
/// a loop of the result (an output position), `k` a loop it does not have
/// (a window offset).
struct WindowAccess {
  unsigned outputLoop, windowLoop;
  int64_t stride, dilation;
};

/// Matches `expr` as a window access given the loops of the result's map.
static std::optional<WindowAccess> matchWindow(AffineExpr expr,
                                               AffineMap outMap) {
  auto sum = dyn_cast<AffineBinaryOpExpr>(expr);
  if (!sum || sum.getKind() != AffineExprKind::Add)
    return std::nullopt;
  auto term = [](AffineExpr e) -> std::optional<std::pair<unsigned, int64_t>> {
    if (auto dim = dyn_cast<AffineDimExpr>(e))
      return std::make_pair(dim.getPosition(), int64_t(1));
    auto mul = dyn_cast<AffineBinaryOpExpr>(e);
    if (!mul || mul.getKind() != AffineExprKind::Mul)
      return std::nullopt;
    auto dim = dyn_cast<AffineDimExpr>(mul.getLHS());
    auto factor = dyn_cast<AffineConstantExpr>(mul.getRHS());
    if (!dim || !factor || factor.getValue() <= 0)
      return std::nullopt;
    return std::make_pair(dim.getPosition(), factor.getValue());
  };
  auto a = term(sum.getLHS()), b = term(sum.getRHS());
  if (!a || !b)
    return std::nullopt;
  bool aIsOutput = outMap.isFunctionOfDim(a->first);
  bool bIsOutput = outMap.isFunctionOfDim(b->first);
  if (aIsOutput == bIsOutput)
    return std::nullopt;
  if (!aIsOutput)
    std::swap(a, b);
  return WindowAccess{a->first, b->first, a->second, b->second};
}

namespace {
enum class Combiner { None, Add, Extremum };
} // namespace

static LogicalResult buildLinalgAdjoints(linalg::LinalgOp op, OpBuilder &b,
                                         AdjointState &state) {
  Location loc = op.getLoc();
  if (op.getNumDpsInits() != 1 || !op.hasPureTensorSemantics())
    return op.emitError() << "autopar-training: cannot differentiate '"
                          << op->getName()
                          << "': only single-result ops on tensors";
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  Value result = op->getResult(0);
  Value dResult = state.getAdjoint(result);
  if (!dResult)
    return success();

  Block &body = *op.getBlock();
  unsigned numInputs = op.getNumDpsInputs();
  BlockArgument outArg = body.getArgument(numInputs);
  Value yielded = body.getTerminator()->getOperand(0);
  Value init = op.getDpsInitOperand(0)->get();
  AffineMap outMap = maps[numInputs];
  SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
  bool hasReduction = llvm::is_contained(iterators,
                                         utils::IteratorType::reduction);

  // The value each iteration contributes, and how contributions combine.
  Combiner combiner = Combiner::None;
  Value contribution = yielded;
  Operation *combinerOp = nullptr;
  if (hasReduction) {
    combinerOp = yielded.getDefiningOp();
    if (!combinerOp || combinerOp->getNumOperands() != 2 ||
        !llvm::is_contained(combinerOp->getOperands(), outArg))
      return op.emitError() << "autopar-training: cannot differentiate '"
                            << op->getName()
                            << "': the reduction does not combine the "
                               "accumulator with one value";
    if (isa<arith::AddFOp>(combinerOp))
      combiner = Combiner::Add;
    else if (isa<arith::MaximumFOp, arith::MaxNumFOp, arith::MinimumFOp,
                 arith::MinNumFOp>(combinerOp))
      combiner = Combiner::Extremum;
    else
      return op.emitError() << "autopar-training: cannot differentiate the "
                               "reduction combiner '"
                            << combinerOp->getName() << "' of '"
                            << op->getName() << "'";
    contribution = combinerOp->getOperand(0) == outArg
                       ? combinerOp->getOperand(1)
                       : combinerOp->getOperand(0);
    if (llvm::any_of(outArg.getUsers(),
                     [&](Operation *user) { return user != combinerOp; }))
      return op.emitError() << "autopar-training: cannot differentiate '"
                            << op->getName()
                            << "': the accumulator is read outside the "
                               "combiner";
  }
  if (failed(checkBody(op, body)))
    return failure();
  bool readsInit = !hasReduction && !outArg.use_empty();

  SmallVector<int64_t> loopRanges = op.getStaticLoopRanges();
  MLIRContext *context = op.getContext();
  unsigned numLoops = iterators.size();

  // The adjoint of `operand` (block argument `target`, input `targetInput`
  // or -1 for the init). When the operand is read through windows
  // (`o * s + k * d`: a convolution's or pooling's input), the loop of each
  // output position `o` is re-read as the operand's own position `i`, and
  // every other operand indexed by `o` is read from a copy dilated by `s`
  // and shifted by (K - 1) * d, at `i + (K - 1) * d - k * d`: the
  // transposed convolution, derived from the maps.
  auto buildAdjointOf = [&](Value operand, BlockArgument target,
                            AffineMap targetMap,
                            int targetInput) -> LogicalResult {
    auto type = cast<RankedTensorType>(operand.getType());
    // Unit dimensions read at the constant 0 (torch-mlir's batch of 1): the
    // adjoint is built without them and expanded back.
    RankedTensorType fullType = type;
    AffineMap fullTargetMap = targetMap;
    SmallVector<bool> unitConstant;
    {
      SmallVector<AffineExpr> kept;
      SmallVector<int64_t> keptShape;
      for (auto [dim, expr] : llvm::enumerate(targetMap.getResults())) {
        auto constant = dyn_cast<AffineConstantExpr>(expr);
        bool drop =
            constant && constant.getValue() == 0 && type.getDimSize(dim) == 1;
        unitConstant.push_back(drop);
        if (!drop) {
          kept.push_back(expr);
          keptShape.push_back(type.getDimSize(dim));
        }
      }
      if (kept.size() != targetMap.getNumResults()) {
        targetMap = AffineMap::get(numLoops, 0, kept, context);
        type = RankedTensorType::get(keptShape, type.getElementType());
      }
    }
    SmallVector<WindowAccess> windows;
    SmallVector<unsigned> windowDims;
    AffineMap newTargetMap = targetMap;
    if (!targetMap.isProjectedPermutation()) {
      SmallVector<AffineExpr> exprs;
      for (auto [dim, expr] : llvm::enumerate(targetMap.getResults())) {
        if (isa<AffineDimExpr>(expr)) {
          exprs.push_back(expr);
          continue;
        }
        std::optional<WindowAccess> window = matchWindow(expr, outMap);
        if (!window || ShapedType::isDynamic(loopRanges[window->windowLoop]))
          return op.emitError()
                 << "autopar-training: cannot differentiate '"
                 << op->getName() << "' with respect to an operand read at "
                 << AffineMapAttr::get(targetMap)
                 << ": not a projected permutation nor windows "
                    "(o * stride + k * dilation)";
        windows.push_back(*window);
        windowDims.push_back(dim);
        exprs.push_back(getAffineDimExpr(window->outputLoop, context));
      }
      newTargetMap = AffineMap::get(numLoops, 0, exprs, context);
      if (!newTargetMap.isProjectedPermutation())
        return op.emitError() << "autopar-training: cannot differentiate '"
                              << op->getName()
                              << "': an output position feeds two windows";
    }
    // o -> o + (K - 1) * d - k * d for the other operands.
    SmallVector<AffineExpr> shifted;
    for (unsigned loop = 0; loop < numLoops; ++loop)
      shifted.push_back(getAffineDimExpr(loop, context));
    for (const WindowAccess &window : windows) {
      int64_t k = loopRanges[window.windowLoop];
      shifted[window.outputLoop] =
          getAffineDimExpr(window.outputLoop, context) +
          (k - 1) * window.dilation -
          getAffineDimExpr(window.windowLoop, context) * window.dilation;
    }
    auto reindex = [&](Value value, AffineMap map)
        -> FailureOr<std::pair<Value, AffineMap>> {
      bool readsWindowLoop = llvm::any_of(windows, [&](const WindowAccess &w) {
        return map.isFunctionOfDim(w.outputLoop);
      });
      if (!readsWindowLoop)
        return std::make_pair(value, map);
      auto valueType = cast<RankedTensorType>(value.getType());
      SmallVector<int64_t> shape(valueType.getShape());
      SmallVector<OpFoldResult> offsets, sizes, strides;
      for (auto [position, expr] : llvm::enumerate(map.getResults())) {
        offsets.push_back(b.getIndexAttr(0));
        sizes.push_back(b.getIndexAttr(shape[position]));
        strides.push_back(b.getIndexAttr(1));
        auto dim = dyn_cast<AffineDimExpr>(expr);
        if (!dim)
          return failure();
        for (auto [w, window] : llvm::enumerate(windows)) {
          if (window.outputLoop != dim.getPosition())
            continue;
          int64_t k = loopRanges[window.windowLoop];
          int64_t halo = (k - 1) * window.dilation;
          offsets.back() = b.getIndexAttr(halo);
          strides.back() = b.getIndexAttr(window.stride);
          shape[position] = type.getDimSize(windowDims[w]) + halo;
        }
      }
      Value zeros = createZeros(
          b, loc, RankedTensorType::get(shape, valueType.getElementType()));
      Value spread =
          createInsertSlice(b, loc, value, zeros, offsets, sizes, strides);
      return std::make_pair(spread, map.compose(AffineMap::get(
                                        numLoops, 0, shifted, context)));
    };

    SmallVector<Value> inputs;
    SmallVector<AffineMap> newMaps;
    auto add = [&](Value value, AffineMap map) -> LogicalResult {
      FailureOr<std::pair<Value, AffineMap>> read = reindex(value, map);
      if (failed(read))
        return op.emitError() << "autopar-training: cannot differentiate '"
                              << op->getName()
                              << "': an operand mixes windows and positions";
      inputs.push_back(read->first);
      newMaps.push_back(read->second);
      return success();
    };
    if (failed(add(dResult, outMap)))
      return failure();
    for (unsigned i = 0; i < numInputs; ++i) {
      Value input = op.getDpsInputOperand(i)->get();
      if (static_cast<int>(i) == targetInput) {
        // The operand itself, at its own positions (constants kept).
        SmallVector<AffineExpr> exprs;
        unsigned next = 0;
        for (auto [dim, unit] : llvm::enumerate(unitConstant))
          exprs.push_back(unit ? fullTargetMap.getResult(dim)
                               : newTargetMap.getResult(next++));
        inputs.push_back(input);
        newMaps.push_back(AffineMap::get(numLoops, 0, exprs, context));
      } else if (failed(add(input, maps[i]))) {
        return failure();
      }
    }
    if (readsInit && failed(add(init, outMap)))
      return failure();
    if (combiner == Combiner::Extremum && failed(add(result, outMap)))
      return failure();
    newMaps.push_back(newTargetMap);
    Value zeros = createZeros(b, loc, type);
    auto generic = linalg::GenericOp::create(
        b, loc, TypeRange{type}, inputs, ValueRange{zeros}, newMaps,
        getIteratorsWritingAt(newTargetMap),
        [&](OpBuilder &nb, Location nloc, ValueRange args) {
          IRMapping mapping;
          for (unsigned i = 0; i < numInputs; ++i)
            mapping.map(body.getArgument(i), args[1 + i]);
          unsigned next = 1 + numInputs;
          if (readsInit)
            mapping.map(outArg, args[next++]);
          Value resultValue =
              combiner == Combiner::Extremum ? args[next] : Value();
          Value adjoint = differentiateBody(
              nb, body, mapping, combinerOp, contribution, args[0], target,
              resultValue);
          Value accumulated =
              arith::AddFOp::create(nb, nloc, args.back(), adjoint);
          linalg::YieldOp::create(nb, nloc, accumulated);
        });
    Value adjoint = generic.getResult(0);
    if (type != fullType) {
      // Each kept dimension with the unit dimensions before it; trailing
      // unit dimensions join the last group.
      SmallVector<ReassociationIndices> groups;
      ReassociationIndices current;
      for (auto [dim, unit] : llvm::enumerate(unitConstant)) {
        current.push_back(dim);
        if (!unit) {
          groups.push_back(current);
          current.clear();
        }
      }
      if (!current.empty() && !groups.empty())
        llvm::append_range(groups.back(), current);
      adjoint = tensor::ExpandShapeOp::create(b, loc, fullType, adjoint, groups);
    }
    state.addAdjoint(b, loc, operand, adjoint);
    return success();
  };

  for (unsigned i = 0; i < numInputs; ++i) {
    Value operand = op.getDpsInputOperand(i)->get();
    if (!state.needsGradient(operand) ||
        !reaches(body, body.getArgument(i), contribution))
      continue;
    if (failed(buildAdjointOf(operand, body.getArgument(i), maps[i], i)))
      return failure();
  }
  // Tensors the body reads with tensor.extract (embedding tables, position
  // tables). An index that is a loop's `linalg.index` becomes that loop in
  // the table's map. A data-dependent row (the table's first index) makes
  // an autopar.scatter_add (buildScatterAdd); any other data-dependent
  // index gets a loop of its own over the table's dimension, and the
  // contribution is kept where the index equals it: a scatter-add written
  // as a reduction (exact, and O(table size x iterations)).
  for (Operation &inner : body.without_terminator()) {
    auto extract = dyn_cast<tensor::ExtractOp>(inner);
    if (!extract || !state.needsGradient(extract.getTensor()) ||
        extract.getTensor().getParentBlock() == &body ||
        !reaches(body, extract.getResult(), contribution))
      continue;
    if (readsInit || combiner == Combiner::Extremum)
      return op.emitError() << "autopar-training: cannot differentiate a "
                               "table read in '"
                            << op->getName()
                            << "' that also reads its output or takes a "
                               "max/min";
    auto tableType = cast<RankedTensorType>(extract.getTensor().getType());
    SmallVector<AffineExpr> tableExprs;
    SmallVector<std::pair<Value, unsigned>> dataIndices; // index, new loop
    unsigned extraLoops = 0;
    for (auto [dim, index] : llvm::enumerate(extract.getIndices())) {
      if (auto loopIndex = index.getDefiningOp<linalg::IndexOp>()) {
        tableExprs.push_back(getAffineDimExpr(loopIndex.getDim(), context));
        continue;
      }
      unsigned loop = numLoops + extraLoops++;
      dataIndices.push_back({index, loop});
      tableExprs.push_back(getAffineDimExpr(loop, context));
    }
    // One data-dependent row (an embedding lookup): the gradient is a
    // scatter-add of the per-position rows, O(positions x row).
    if (Value scattered =
            buildScatterAdd(b, loc, op, body, maps, outMap, dResult, combinerOp,
                            contribution, extract)) {
      state.addAdjoint(b, loc, extract.getTensor(), scattered);
      continue;
    }
    AffineMap tableMap =
        AffineMap::get(numLoops + extraLoops, 0, tableExprs, context);
    if (!tableMap.isProjectedPermutation())
      return op.emitError() << "autopar-training: cannot differentiate '"
                            << op->getName()
                            << "': a table is read twice along one loop";
    // A loop may cover only the leading part of the table's dimension (the
    // positions of a sequence shorter than the position table): the
    // adjoint is built over the part read and inserted into zeros.
    SmallVector<int64_t> loopRanges = op.getStaticLoopRanges();
    SmallVector<int64_t> readShape(tableType.getShape());
    for (auto [dim, expr] : llvm::enumerate(tableExprs)) {
      unsigned loop = cast<AffineDimExpr>(expr).getPosition();
      if (loop >= numLoops)
        continue;
      if (ShapedType::isDynamic(loopRanges[loop]) ||
          ShapedType::isDynamic(readShape[dim]) ||
          loopRanges[loop] > readShape[dim])
        return op.emitError()
               << "autopar-training: cannot differentiate '" << op->getName()
               << "': table dimension " << dim << " (size " << readShape[dim]
               << ") is read along a loop of size " << loopRanges[loop]
               << "; static sizes with the loop no "
               << "longer than the table are supported";
      readShape[dim] = loopRanges[loop];
    }
    auto readType =
        RankedTensorType::get(readShape, tableType.getElementType());
    Value tableAdjoint = accumulateTableAdjoint(
        b, loc, op, body, maps, outMap, dResult, combinerOp, contribution,
        extract, readType, tableMap, dataIndices);
    if (readType != tableType) {
      SmallVector<OpFoldResult> offsets(readShape.size(), b.getIndexAttr(0));
      SmallVector<OpFoldResult> sizes,
          strides(readShape.size(), b.getIndexAttr(1));
      for (int64_t size : readShape)
        sizes.push_back(b.getIndexAttr(size));
      tableAdjoint = createInsertSlice(b, loc, tableAdjoint,
                                       createZeros(b, loc, tableType), offsets,
                                       sizes, strides);
    }
    state.addAdjoint(b, loc, extract.getTensor(), tableAdjoint);
  }

  if (state.needsGradient(init)) {
    if (readsInit && reaches(body, outArg, contribution)) {
      if (failed(buildAdjointOf(init, outArg, outMap, -1)))
        return failure();
    } else if (combiner == Combiner::Add) {
      state.addAdjoint(b, loc, init, dResult);
    } else if (combiner == Combiner::Extremum) {
      // The initial value wins where it equals the result.
      Value adjoint = buildElementwise(
          b, loc, ValueRange{dResult, init, result},
          cast<RankedTensorType>(init.getType()),
          [&](OpBuilder &nb, Location nloc, ValueRange args) {
            Value isResult = arith::CmpFOp::create(
                nb, nloc, arith::CmpFPredicate::OEQ, args[1], args[2]);
            return arith::SelectOp::create(nb, nloc, isResult, args[0],
                                           constantLike(nb, nloc, args[0], 0.0))
                .getResult();
          });
      state.addAdjoint(b, loc, init, adjoint);
    }
  }
  return success();
}

namespace {
template <typename OpTy>
struct LinalgReverseModel
    : public ReverseModeOpInterface::ExternalModel<LinalgReverseModel<OpTy>,
                                                   OpTy> {
  LogicalResult buildAdjoints(Operation *op, OpBuilder &builder,
                              AdjointState &state) const {
    return buildLinalgAdjoints(cast<linalg::LinalgOp>(op), builder, state);
  }
};

/// collapse_shape and expand_shape: the adjoint is reshaped back.
struct CollapseShapeReverseModel
    : public ReverseModeOpInterface::ExternalModel<CollapseShapeReverseModel,
                                                   tensor::CollapseShapeOp> {
  LogicalResult buildAdjoints(Operation *op, OpBuilder &builder,
                              AdjointState &state) const {
    auto collapse = cast<tensor::CollapseShapeOp>(op);
    Value adjoint = state.getAdjoint(collapse.getResult());
    if (!adjoint || !state.needsGradient(collapse.getSrc()))
      return success();
    Value back = tensor::ExpandShapeOp::create(
        builder, op->getLoc(), collapse.getSrcType(), adjoint,
        collapse.getReassociationIndices());
    state.addAdjoint(builder, op->getLoc(), collapse.getSrc(), back);
    return success();
  }
};

struct ExpandShapeReverseModel
    : public ReverseModeOpInterface::ExternalModel<ExpandShapeReverseModel,
                                                   tensor::ExpandShapeOp> {
  LogicalResult buildAdjoints(Operation *op, OpBuilder &builder,
                              AdjointState &state) const {
    auto expand = cast<tensor::ExpandShapeOp>(op);
    Value adjoint = state.getAdjoint(expand.getResult());
    if (!adjoint || !state.needsGradient(expand.getSrc()))
      return success();
    Value back = tensor::CollapseShapeOp::create(
        builder, op->getLoc(), expand.getSrcType(), adjoint,
        expand.getReassociationIndices());
    state.addAdjoint(builder, op->getLoc(), expand.getSrc(), back);
    return success();
  }
};

/// tensor.pad with a constant: the source's adjoint is the interior slice.
struct PadReverseModel
    : public ReverseModeOpInterface::ExternalModel<PadReverseModel,
                                                   tensor::PadOp> {
  LogicalResult buildAdjoints(Operation *op, OpBuilder &builder,
                              AdjointState &state) const {
    auto pad = cast<tensor::PadOp>(op);
    Value adjoint = state.getAdjoint(pad.getResult());
    if (!adjoint || !state.needsGradient(pad.getSource()))
      return success();
    if (!pad.getConstantPaddingValue())
      return op->emitError() << "autopar-training: cannot differentiate a "
                                "tensor.pad whose padding is not a constant";
    RankedTensorType sourceType = pad.getSourceType();
    SmallVector<OpFoldResult> sizes, strides;
    for (int64_t size : sourceType.getShape()) {
      sizes.push_back(builder.getIndexAttr(size));
      strides.push_back(builder.getIndexAttr(1));
    }
    Value slice = createSlice(builder, op->getLoc(), sourceType, adjoint,
                              pad.getMixedLowPad(), sizes, strides);
    state.addAdjoint(builder, op->getLoc(), pad.getSource(), slice);
    return success();
  }
};

/// extract_slice: the adjoint is inserted into zeros at the slice.
struct ExtractSliceReverseModel
    : public ReverseModeOpInterface::ExternalModel<ExtractSliceReverseModel,
                                                   tensor::ExtractSliceOp> {
  LogicalResult buildAdjoints(Operation *op, OpBuilder &builder,
                              AdjointState &state) const {
    auto slice = cast<tensor::ExtractSliceOp>(op);
    Value adjoint = state.getAdjoint(slice.getResult());
    if (!adjoint || !state.needsGradient(slice.getSource()))
      return success();
    Value zeros = createZeros(builder, op->getLoc(), slice.getSourceType());
    Value back = createInsertSlice(
        builder, op->getLoc(), adjoint, zeros, slice.getMixedOffsets(),
        slice.getMixedSizes(), slice.getMixedStrides());
    state.addAdjoint(builder, op->getLoc(), slice.getSource(), back);
    return success();
  }
};

/// insert_slice: the source gets the slice of the adjoint, the destination
/// the adjoint with the slice zeroed.
struct InsertSliceReverseModel
    : public ReverseModeOpInterface::ExternalModel<InsertSliceReverseModel,
                                                   tensor::InsertSliceOp> {
  LogicalResult buildAdjoints(Operation *op, OpBuilder &builder,
                              AdjointState &state) const {
    auto insert = cast<tensor::InsertSliceOp>(op);
    Value adjoint = state.getAdjoint(insert.getResult());
    if (!adjoint)
      return success();
    Location loc = op->getLoc();
    if (state.needsGradient(insert.getSource())) {
      Value slice =
          createSlice(builder, loc, insert.getSourceType(), adjoint,
                      insert.getMixedOffsets(), insert.getMixedSizes(),
                      insert.getMixedStrides());
      state.addAdjoint(builder, loc, insert.getSource(), slice);
    }
    if (state.needsGradient(insert.getDest())) {
      Value zeros = createZeros(builder, loc, insert.getSourceType());
      Value rest = createInsertSlice(
          builder, loc, zeros, adjoint, insert.getMixedOffsets(),
          insert.getMixedSizes(), insert.getMixedStrides());
      state.addAdjoint(builder, loc, insert.getDest(), rest);
    }
    return success();
  }
};

/// concat: each input gets its slice of the adjoint.
struct ConcatReverseModel
    : public ReverseModeOpInterface::ExternalModel<ConcatReverseModel,
                                                   tensor::ConcatOp> {
  LogicalResult buildAdjoints(Operation *op, OpBuilder &builder,
                              AdjointState &state) const {
    auto concat = cast<tensor::ConcatOp>(op);
    Value adjoint = state.getAdjoint(concat.getResult());
    if (!adjoint)
      return success();
    int64_t dim = concat.getDim();
    int64_t offset = 0;
    for (Value input : concat.getInputs()) {
      auto type = cast<RankedTensorType>(input.getType());
      if (!type.hasStaticShape())
        return op->emitError() << "autopar-training: cannot differentiate a "
                                  "concatenation of dynamic shapes";
      if (state.needsGradient(input)) {
        SmallVector<OpFoldResult> offsets, sizes, strides;
        for (int64_t d = 0; d < type.getRank(); ++d) {
          offsets.push_back(builder.getIndexAttr(d == dim ? offset : 0));
          sizes.push_back(builder.getIndexAttr(type.getDimSize(d)));
          strides.push_back(builder.getIndexAttr(1));
        }
        Value slice = createSlice(builder, op->getLoc(), type, adjoint, offsets,
                                  sizes, strides);
        state.addAdjoint(builder, op->getLoc(), input, slice);
      }
      offset += type.getDimSize(dim);
    }
    return success();
  }
};

/// softmax: dx = y * (dy - sum(dy * y)) along the normalised dimension,
/// from the saved output y.
struct SoftmaxReverseModel
    : public ReverseModeOpInterface::ExternalModel<SoftmaxReverseModel,
                                                   linalg::SoftmaxOp> {
  LogicalResult buildAdjoints(Operation *op, OpBuilder &builder,
                              AdjointState &state) const {
    auto softmax = cast<linalg::SoftmaxOp>(op);
    Value output = softmax.getResult()[0];
    Value adjoint = state.getAdjoint(output);
    if (!adjoint || !state.needsGradient(softmax.getInput()))
      return success();
    Location loc = op->getLoc();
    auto type = cast<RankedTensorType>(output.getType());
    int64_t dim = softmax.getDimension();
    unsigned rank = type.getRank();
    Type element = type.getElementType();

    // rowSum = sum over `dim` of dy * y.
    SmallVector<int64_t> rowShape(type.getShape());
    rowShape.erase(rowShape.begin() + dim);
    auto rowType = RankedTensorType::get(rowShape, element);
    AffineMap identity = builder.getMultiDimIdentityMap(rank);
    AffineMap row = identity.dropResult(dim);
    SmallVector<utils::IteratorType> iterators(rank,
                                               utils::IteratorType::parallel);
    iterators[dim] = utils::IteratorType::reduction;
    Value rowSum = buildProductSum(builder, loc, adjoint, output, rowType,
                                   {identity, identity, row}, iterators);

    iterators[dim] = utils::IteratorType::parallel;
    Value grad =
        linalg::GenericOp::create(
            builder, loc, TypeRange{type}, ValueRange{adjoint, output, rowSum},
            ValueRange{tensor::EmptyOp::create(builder, loc, type.getShape(),
                                               element)},
            ArrayRef<AffineMap>{identity, identity, row, identity}, iterators,
            [](OpBuilder &b, Location l, ValueRange args) {
              Value centred = arith::SubFOp::create(b, l, args[0], args[2]);
              linalg::YieldOp::create(
                  b, l,
                  ValueRange{arith::MulFOp::create(b, l, args[1], centred)});
            })
            .getResult(0);
    state.addAdjoint(builder, loc, softmax.getInput(), grad);
    return success();
  }
};

/// autopar.attention: an autopar.attention_grad of its operands, output
/// and lse (FlashAttention's backward: the probabilities recomputed from
/// the saved lse, nothing B x I x J kept from the forward).
struct AttentionReverseModel
    : public ReverseModeOpInterface::ExternalModel<AttentionReverseModel,
                                                   AttentionOp> {
  LogicalResult buildAdjoints(Operation *op, OpBuilder &builder,
                              AdjointState &state) const {
    auto attention = cast<AttentionOp>(op);
    Value dOutput = state.getAdjoint(attention.getResult());
    Value dLse = state.getAdjoint(attention.getLse());
    Value query = attention.getQuery(), key = attention.getKey(),
          value = attention.getValue();
    SmallVector<Value, 3> inputs = {query, key, value};
    if (dOutput || dLse)
      for (Value input : attention.getMaskInputs())
        if (state.needsGradient(input))
          return op->emitError()
                 << "the attention's mask reads a value that needs a "
                    "gradient; its mask inputs get none (a learned bias "
                    "stays unfused)";
    if ((!dOutput && !dLse) ||
        !llvm::any_of(inputs, [&](Value v) { return state.needsGradient(v); }))
      return success();
    Location loc = op->getLoc();
    if (!dOutput)
      dOutput = createZeros(builder, loc, attention.getResult().getType());
    if (!dLse)
      dLse = createZeros(builder, loc, attention.getLse().getType());
    auto empty = [&](Value like) -> Value {
      auto type = cast<RankedTensorType>(like.getType());
      return tensor::EmptyOp::create(builder, loc, type.getShape(),
                                     type.getElementType());
    };
    auto grad = AttentionGradOp::create(
        builder, loc,
        TypeRange{query.getType(), key.getType(), value.getType()}, query, key,
        value, attention.getResult(), attention.getLse(), dOutput, dLse,
        empty(query), empty(key), empty(value), attention.getScaleAttr(),
        attention.getMaskedAttr(), attention.getAdditiveAttr(),
        attention.getMaskInputs());
    IRMapping mapping;
    attention.getMask().cloneInto(&grad.getMask(), mapping);
    for (auto [input, adjoint] : llvm::zip_equal(inputs, grad.getResults()))
      if (state.needsGradient(input))
        state.addAdjoint(builder, loc, input, adjoint);
    return success();
  }
};

template <typename... OpTys>
void attachLinalgModels(MLIRContext *context) {
  (OpTys::template attachInterface<LinalgReverseModel<OpTys>>(*context), ...);
}
} // namespace

void mlir::autopar::registerReverseModeExternalModels(
    DialectRegistry &registry) {
  registry.addExtension(+[](MLIRContext *context, linalg::LinalgDialect *) {
    attachLinalgModels<
#define GET_OP_LIST
#include "mlir/Dialect/Linalg/IR/LinalgStructuredOps.cpp.inc"
        >(context);
    linalg::SoftmaxOp::attachInterface<SoftmaxReverseModel>(*context);
  });
  registry.addExtension(+[](MLIRContext *context, AutoparDialect *) {
    AttentionOp::attachInterface<AttentionReverseModel>(*context);
  });
  registry.addExtension(+[](MLIRContext *context, tensor::TensorDialect *) {
    tensor::CollapseShapeOp::attachInterface<CollapseShapeReverseModel>(
        *context);
    tensor::ExpandShapeOp::attachInterface<ExpandShapeReverseModel>(*context);
    tensor::PadOp::attachInterface<PadReverseModel>(*context);
    tensor::ExtractSliceOp::attachInterface<ExtractSliceReverseModel>(
        *context);
    tensor::InsertSliceOp::attachInterface<InsertSliceReverseModel>(*context);
    tensor::ConcatOp::attachInterface<ConcatReverseModel>(*context);
  });
}
