//===- FuseAttention.cpp - the attention chain as one autopar.attention ---===//
//
// autopar-fuse-attention: matches scaled dot-product attention in linalg on
// tensors by the ops' structure (maps, iterators, bodies), not their names,
// and replaces the chain with autopar.attention. The pass description in
// include/autopar/Conversion/Passes.td lists the chain.
//
//===----------------------------------------------------------------------===//

#include "autopar/Conversion/Passes.h"
#include "autopar/Dialect/AutoparOps.h"

#include "mlir/Analysis/SliceAnalysis.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace mlir::autopar {
#define GEN_PASS_DEF_FUSEATTENTION
#include "autopar/Conversion/Passes.h.inc"
} // namespace mlir::autopar

using namespace mlir;
using namespace mlir::autopar;

namespace {

/// The ops of one attention chain and what the op takes from them.
struct Chain {
  linalg::BatchMatmulOp scores, context;
  linalg::GenericOp scaleMask, maxima, exps, sums, division;
  double scale = 1.0;
  std::optional<double> masked;
  /// The predicate (in scaleMask's body) and whether a true value keeps
  /// the score (select(p, score, masked)) instead of masking it.
  Value predicate;
  bool predicateKeeps = false;
  /// The ops of scaleMask's body computing the predicate, in order.
  SmallVector<Operation *> predicateOps;
};

/// Whether `value` is a linalg.fill of the floating-point constant `expected`.
bool isFilledWith(Value value, double expected) {
  auto fill = value.getDefiningOp<linalg::FillOp>();
  if (!fill)
    return false;
  FloatAttr constant;
  if (!matchPattern(fill.getInputs()[0], m_Constant(&constant)))
    return false;
  return constant.getValueAsDouble() == expected;
}

/// A float constant's value.
std::optional<double> getFloatConstant(Value value) {
  FloatAttr constant;
  if (!matchPattern(value, m_Constant(&constant)))
    return std::nullopt;
  return constant.getValueAsDouble();
}

/// A batch_matmul on tensors with the default maps into a zero fill.
bool isPlainProduct(linalg::BatchMatmulOp op) {
  return op && op.hasPureTensorSemantics() && !op.hasUserDefinedMaps() &&
         isFilledWith(op.getDpsInits()[0], 0.0);
}

/// The one user of `value`, if it has exactly one use.
Operation *getOnlyUser(Value value) {
  return value.hasOneUse() ? *value.getUsers().begin() : nullptr;
}

/// A generic over [B, I, J] with `maps` (identity or rows [B, I]) for its
/// inputs and output, the given iterators, on tensors.
bool hasShape(linalg::GenericOp op, ArrayRef<bool> inputIsRow, bool outIsRow,
              bool reduces) {
  if (!op || !op.hasPureTensorSemantics() || op.getNumLoops() != 3 ||
      op.getNumDpsInputs() != inputIsRow.size() || op.getNumDpsInits() != 1)
    return false;
  MLIRContext *context = op.getContext();
  AffineMap identity = AffineMap::getMultiDimIdentityMap(3, context);
  AffineMap row = AffineMap::get(
      3, 0, {getAffineDimExpr(0, context), getAffineDimExpr(1, context)},
      context);
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  for (auto [index, isRow] : llvm::enumerate(inputIsRow))
    if (maps[index] != (isRow ? row : identity))
      return false;
  if (maps.back() != (outIsRow ? row : identity))
    return false;
  SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
  for (unsigned loop = 0; loop < 3; ++loop) {
    bool reduction = iterators[loop] == utils::IteratorType::reduction;
    if (reduction != (reduces && loop == 2))
      return false;
  }
  return true;
}

/// The value a generic yields, when its body yields one.
Value getYielded(linalg::GenericOp op) {
  Operation *terminator = op.getBody()->getTerminator();
  return terminator->getNumOperands() == 1 ? terminator->getOperand(0)
                                           : Value();
}

/// Whether `op`'s body combines its input with the accumulator by `OpTy`
/// and nothing else.
template <typename OpTy> bool isRowReduction(linalg::GenericOp op) {
  auto combine = getYielded(op).getDefiningOp<OpTy>();
  if (!combine || op.getBody()->getOperations().size() != 2)
    return false;
  Block *body = op.getBody();
  Value in = body->getArgument(0), acc = body->getArgument(1);
  return (combine.getLhs() == in && combine.getRhs() == acc) ||
         (combine.getLhs() == acc && combine.getRhs() == in);
}

/// Whether `op`'s body is exp(in0 - in1), its output's value unread.
bool isExpOfDifference(linalg::GenericOp op) {
  auto exp = getYielded(op).getDefiningOp<math::ExpOp>();
  if (!exp || op.getBody()->getOperations().size() != 3)
    return false;
  auto sub = exp.getOperand().getDefiningOp<arith::SubFOp>();
  Block *body = op.getBody();
  return sub && sub.getLhs() == body->getArgument(0) &&
         sub.getRhs() == body->getArgument(1);
}

/// Whether `op`'s body is in0 / in1, its output's value unread.
bool isQuotient(linalg::GenericOp op) {
  auto div = getYielded(op).getDefiningOp<arith::DivFOp>();
  Block *body = op.getBody();
  return div && op.getBody()->getOperations().size() == 2 &&
         div.getLhs() == body->getArgument(0) &&
         div.getRhs() == body->getArgument(1);
}

/// Reads the scale and mask of `op` (an elementwise generic of the scores
/// alone) into `chain`: the yielded value is the score, a product of the
/// score and a constant, or a select between one of those and a constant
/// whose predicate depends on the loop indices only.
bool matchScaleMask(linalg::GenericOp op, Chain &chain) {
  Block *body = op.getBody();
  Value score = body->getArgument(0);
  if (!body->getArgument(1).use_empty())
    return false;
  Value value = getYielded(op);
  auto scaled = [&](Value v) -> bool {
    if (v == score)
      return true;
    auto mul = v.getDefiningOp<arith::MulFOp>();
    if (!mul)
      return false;
    Value other = mul.getLhs() == score   ? mul.getRhs()
                  : mul.getRhs() == score ? mul.getLhs()
                                          : Value();
    std::optional<double> constant =
        other ? getFloatConstant(other) : std::nullopt;
    if (!constant)
      return false;
    chain.scale = *constant;
    return true;
  };
  if (auto select = value.getDefiningOp<arith::SelectOp>()) {
    std::optional<double> onTrue = getFloatConstant(select.getTrueValue());
    std::optional<double> onFalse = getFloatConstant(select.getFalseValue());
    if (onTrue && scaled(select.getFalseValue())) {
      chain.masked = onTrue;
    } else if (onFalse && scaled(select.getTrueValue())) {
      chain.masked = onFalse;
      chain.predicateKeeps = true;
    } else {
      return false;
    }
    chain.predicate = select.getCondition();
    // The predicate reads loop indices and constants only.
    SetVector<Operation *> slice;
    BackwardSliceOptions options;
    options.filter = [&](Operation *inner) {
      return inner->getBlock() == body;
    };
    if (Operation *def = chain.predicate.getDefiningOp()) {
      if (def->getBlock() != body)
        return false;
      if (failed(getBackwardSlice(def, &slice, options)))
        return false;
      slice.insert(def);
    }
    for (Operation *inner : slice) {
      if (inner->getNumRegions() != 0 || !isMemoryEffectFree(inner))
        return false;
      for (Value operand : inner->getOperands())
        if (isa<BlockArgument>(operand) &&
            cast<BlockArgument>(operand).getOwner() == body)
          return false;
    }
    chain.predicateOps.assign(slice.begin(), slice.end());
    return !isa<BlockArgument>(chain.predicate);
  }
  return scaled(value) && chain.scale != 1.0;
}

/// The two users of `x`, when they are a row reduction combining by
/// `CombineOp` from a fill of `init`, and an elementwise op of x and that
/// reduction (its only user) whose body `isBody` accepts: a softmax's
/// maximum and exponential, or its sum and division.
template <typename CombineOp>
std::optional<std::pair<linalg::GenericOp, linalg::GenericOp>>
matchRowReductionAndUser(Value x, double init,
                         function_ref<bool(linalg::GenericOp)> isBody) {
  if (!llvm::hasNItems(x.getUses(), 2))
    return std::nullopt;
  linalg::GenericOp reduction, user;
  for (Operation *use : x.getUsers()) {
    auto generic = dyn_cast<linalg::GenericOp>(use);
    if (hasShape(generic, {false}, true, true) &&
        isRowReduction<CombineOp>(generic) && generic.getDpsInputs()[0] == x &&
        isFilledWith(generic.getDpsInits()[0], init))
      reduction = generic;
    else if (hasShape(generic, {false, true}, false, false) &&
             isBody(generic) && generic.getDpsInputs()[0] == x)
      user = generic;
  }
  if (!reduction || !user || user.getDpsInputs()[1] != reduction.getResult(0) ||
      !reduction.getResult(0).hasOneUse())
    return std::nullopt;
  return std::make_pair(reduction, user);
}

/// Whether a softmax seems to read `scores`: within a few single-user steps
/// (reshapes, elementwise ops) a row reduction by maximum. Only then does
/// report=1 say why no attention was formed.
bool looksLikeAttention(Value scores) {
  SmallVector<Value> frontier = {scores};
  for (int depth = 0; depth < 4 && !frontier.empty(); ++depth) {
    SmallVector<Value> next;
    for (Value value : frontier)
      for (Operation *user : value.getUsers()) {
        auto generic = dyn_cast<linalg::GenericOp>(user);
        if (generic && generic.getNumReductionLoops() > 0 &&
            llvm::any_of(generic.getBody()->getOperations(), [](Operation &op) {
              return isa<arith::MaximumFOp, arith::MaxNumFOp>(op);
            }))
          return true;
        if (isa<linalg::GenericOp, tensor::ExpandShapeOp,
                tensor::CollapseShapeOp>(user))
          llvm::append_range(next, user->getResults());
      }
    frontier = std::move(next);
  }
  return false;
}

/// The chain whose scores are `scores`, if every part matches; else the
/// first part that does not, in `reason`.
std::optional<Chain> matchChain(linalg::BatchMatmulOp scores,
                                std::string &reason) {
  Chain chain;
  chain.scores = scores;
  auto fail = [&](const Twine &why) -> std::optional<Chain> {
    reason = why.str();
    return std::nullopt;
  };
  if (!isPlainProduct(scores))
    return fail("the scores are not a zero-filled product");
  Type element = getElementTypeOrSelf(scores.getResult(0).getType());
  Value x = scores.getResult(0);
  Operation *user = getOnlyUser(x);
  if (auto generic = dyn_cast_or_null<linalg::GenericOp>(user);
      generic && hasShape(generic, {false}, false, false) &&
      matchScaleMask(generic, chain)) {
    chain.scaleMask = generic;
    x = generic.getResult(0);
  }
  // x feeds the row maxima and the exponentials, which feed the row sums
  // and the division.
  auto maxima = matchRowReductionAndUser<arith::MaximumFOp>(
      x, -std::numeric_limits<double>::infinity(), isExpOfDifference);
  if (!maxima) {
    Operation *next = getOnlyUser(x);
    if (next && !isa<linalg::GenericOp>(next))
      return fail("the scores pass through '" + next->getName().getStringRef() +
                  "' before the softmax (the rows must stay [batch, rows, "
                  "keys])");
    if (auto generic = dyn_cast_or_null<linalg::GenericOp>(next);
        generic && generic.getNumDpsInputs() > 1)
      return fail("the op after the scores reads a tensor (a mask or bias "
                  "given as data), which a mask region cannot rebuild");
    return fail("no row maximum (from -inf, one result) and exp(x - max) "
                "read the scores");
  }
  std::tie(chain.maxima, chain.exps) = *maxima;
  auto sums = matchRowReductionAndUser<arith::AddFOp>(chain.exps.getResult(0),
                                                      0.0, isQuotient);
  if (!sums)
    return fail("no row sum (from 0) and division follow the exponentials");
  std::tie(chain.sums, chain.division) = *sums;
  chain.context = dyn_cast_or_null<linalg::BatchMatmulOp>(
      getOnlyUser(chain.division.getResult(0)));
  if (!isPlainProduct(chain.context) ||
      chain.context.getDpsInputs()[0] != chain.division.getResult(0))
    return fail("the probabilities are not the left operand of one "
                "zero-filled product (and nothing else)");
  // One element type throughout.
  for (Operation *op :
       {chain.maxima.getOperation(), chain.exps.getOperation(),
        chain.sums.getOperation(), chain.division.getOperation(),
        chain.context.getOperation()})
    if (getElementTypeOrSelf(op->getResult(0).getType()) != element)
      return fail("the element type changes along the chain");
  if (chain.scaleMask &&
      getElementTypeOrSelf(chain.scaleMask.getResult(0).getType()) != element)
    return fail("the element type changes along the chain");
  return chain;
}

/// Replaces `chain` with one autopar.attention.
void fuse(RewriterBase &rewriter, Chain &chain) {
  linalg::BatchMatmulOp context = chain.context;
  rewriter.setInsertionPoint(context);
  SmallVector<Location> locations;
  SmallVector<Operation *> ops = {chain.scores};
  if (chain.scaleMask)
    ops.push_back(chain.scaleMask);
  ops.append({chain.maxima, chain.exps, chain.sums, chain.division, context});
  for (Operation *op : ops)
    locations.push_back(op->getLoc());
  Location loc = rewriter.getFusedLoc(locations);

  auto outputType = cast<RankedTensorType>(context.getResult(0).getType());
  Type element = outputType.getElementType();
  // The row log-sum-exp in at least f32 (the backward subtracts it from
  // the scores before the exponential).
  Type lseElement = element.getIntOrFloatBitWidth() >= 32
                        ? element
                        : Type(rewriter.getF32Type());
  auto lseType =
      RankedTensorType::get(outputType.getShape().take_front(2), lseElement);
  Value output =
      tensor::EmptyOp::create(rewriter, loc, outputType.getShape(), element);
  Value lseInit =
      tensor::EmptyOp::create(rewriter, loc, lseType.getShape(), lseElement);
  auto attention = AttentionOp::create(
      rewriter, loc, TypeRange{outputType, lseType},
      chain.scores.getDpsInputs()[0], chain.scores.getDpsInputs()[1],
      context.getDpsInputs()[1], output, lseInit,
      rewriter.getF64FloatAttr(chain.scale),
      chain.masked ? rewriter.getF64FloatAttr(*chain.masked) : FloatAttr());
  if (chain.masked) {
    // The predicate's ops, with the loop indices as the block's arguments.
    Block *block =
        rewriter.createBlock(&attention.getMask(), {},
                             {rewriter.getIndexType(), rewriter.getIndexType(),
                              rewriter.getIndexType()},
                             {loc, loc, loc});
    IRMapping mapping;
    for (Operation *inner : chain.predicateOps) {
      if (auto index = dyn_cast<linalg::IndexOp>(inner)) {
        mapping.map(index.getResult(), block->getArgument(index.getDim()));
        continue;
      }
      // Constants from above come along: the region reads only its
      // indices.
      for (Value operand : inner->getOperands())
        if (Operation *def = operand.getDefiningOp();
            def && def->getBlock() != chain.scaleMask.getBody() &&
            !mapping.contains(operand) && matchPattern(operand, m_Constant()))
          rewriter.clone(*def, mapping);
      rewriter.clone(*inner, mapping);
    }
    Value predicate = mapping.lookupOrNull(chain.predicate);
    if (chain.predicateKeeps) {
      Value one =
          arith::ConstantOp::create(rewriter, loc, rewriter.getBoolAttr(true));
      predicate = arith::XOrIOp::create(rewriter, loc, predicate, one);
    }
    YieldOp::create(rewriter, loc, ValueRange{predicate});
  }
  // The fills and empty tensors the chain used go with it when nothing
  // else uses them.
  llvm::SetVector<Operation *> inits;
  for (Operation *op : ops)
    for (Value operand : op->getOperands())
      if (Operation *def = operand.getDefiningOp();
          def && isa<linalg::FillOp, tensor::EmptyOp>(def))
        inits.insert(def);
  rewriter.replaceOp(context, attention.getResult());
  for (Operation *op : llvm::reverse(ops))
    if (op != context.getOperation())
      rewriter.eraseOp(op);
  for (size_t i = 0; i < inits.size(); ++i) {
    Operation *def = inits[i];
    if (!def->use_empty())
      continue;
    for (Value operand : def->getOperands())
      if (Operation *inner = operand.getDefiningOp();
          inner && isa<tensor::EmptyOp>(inner))
        inits.insert(inner);
  }
  for (Operation *def : inits)
    if (def->use_empty())
      rewriter.eraseOp(def);
}

} // namespace

namespace {
struct FuseAttentionPass
    : public mlir::autopar::impl::FuseAttentionBase<FuseAttentionPass> {
  using FuseAttentionBase::FuseAttentionBase;

  void runOnOperation() override {
    SmallVector<linalg::BatchMatmulOp> candidates;
    getOperation()->walk(
        [&](linalg::BatchMatmulOp op) { candidates.push_back(op); });
    IRRewriter rewriter(&getContext());
    DenseSet<Operation *> erased;
    // Near misses: without report=1, one warning for all of them.
    Operation *firstMiss = nullptr;
    std::string firstReason;
    int64_t misses = 0;
    for (linalg::BatchMatmulOp scores : candidates) {
      if (erased.contains(scores))
        continue;
      std::string reason;
      std::optional<Chain> chain = matchChain(scores, reason);
      if (!chain) {
        if (!looksLikeAttention(scores.getResult(0)))
          continue;
        if (report)
          scores->emitRemark()
              << "autopar-fuse-attention: no attention formed: " << reason;
        if (!firstMiss) {
          firstMiss = scores;
          firstReason = reason;
        }
        ++misses;
        continue;
      }
      // A predicate the mask region cannot rebuild (it reads something
      // other than indices and constants) was refused by matchScaleMask.
      if (report)
        chain->context->emitRemark()
            << "autopar-fuse-attention: attention formed (scale "
            << chain->scale << (chain->masked ? ", masked" : "") << ")";
      erased.insert(chain->context);
      fuse(rewriter, *chain);
    }
    if (misses > 0 && !report)
      firstMiss->emitWarning()
          << "autopar-fuse-attention: " << misses
          << " softmax-attention chain(s) not fused, so their training "
             "steps keep the B x I x J probabilities; here: "
          << firstReason << " (report=1 lists each)";
  }
};

} // namespace
