//===- FuseAttention.cpp - the attention chain as one autopar.attention ---===//
//
// autopar-fuse-attention: matches scaled dot-product attention in linalg on
// tensors by the ops' structure (maps, iterators, bodies), not their names,
// and replaces the chain with autopar.attention. The pass description in
// include/autopar/Conversion/Passes.td lists the chain.
//
//===----------------------------------------------------------------------===//

#include "autopar/Analysis/ArgumentRoles.h"
#include "autopar/Conversion/Passes.h"
#include "autopar/Dialect/AutoparOps.h"

#include "mlir/Analysis/SliceAnalysis.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Dominance.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Transforms/RegionUtils.h"

namespace mlir::autopar {
#define GEN_PASS_DEF_FUSEATTENTION
#include "autopar/Conversion/Passes.h.inc"
} // namespace mlir::autopar

using namespace mlir;
using namespace mlir::autopar;

namespace {

/// The attention a chain computes: B (batch and heads flattened), I query
/// rows, J keys.
struct Dims {
  int64_t batch, rows, keys;
};

/// The ops of one attention chain and what the op takes from them.
struct Chain {
  linalg::BatchMatmulOp scores, context;
  /// The roles of the function's values (which data gets no gradient) and
  /// its dominance (which data the attention can read).
  const ArgumentRoles *roles = nullptr;
  DominanceInfo *dominance = nullptr;
  /// What the attention's result replaces: the context product, or the
  /// rounding of its f32 result to the queries' 16-bit type.
  Operation *last = nullptr;
  Dims dims;
  /// Every op the attention replaces, producers before users (the scores
  /// product, reshapes, elementwise ops, reductions, the context product).
  llvm::SetVector<Operation *> ops;
  double scale = 1.0;
  std::optional<double> masked;
  /// The mask: `maskValue` in `maskOwner`'s body (or an argument of it) is
  /// a predicate, or with `maskIsBias` the additive bias select(p, a, b)
  /// whose predicate p the region yields; the score is masked where the
  /// predicate equals `maskedWhen`.
  linalg::GenericOp maskOwner;
  Value maskValue;
  bool maskIsBias = false;
  bool maskedWhen = true;
};

/// Whether `value` is a linalg.fill of a floating-point constant that
/// `expected` accepts.
bool isFilledWith(Value value, function_ref<bool(const APFloat &)> expected) {
  auto fill = value.getDefiningOp<linalg::FillOp>();
  if (!fill)
    return false;
  FloatAttr constant;
  if (!matchPattern(fill.getInputs()[0], m_Constant(&constant)))
    return false;
  return expected(constant.getValue());
}

bool isZero(const APFloat &value) { return value.isZero(); }

/// The start of a row maximum: -inf, or the type's lowest finite value
/// (TOSA exports start there), below which no score but -inf lies.
bool isLowest(const APFloat &value) {
  return (value.isInfinity() && value.isNegative()) ||
         value == APFloat::getLargest(value.getSemantics(), /*Negative=*/true);
}

/// A float constant's value, also converted to another float type in the
/// body (torch-mlir writes a Python float's scale as an f64 constant
/// truncated to f32 where it multiplies): the value in the type it has.
std::optional<double> getFloatConstant(Value value) {
  Operation *cast = value.getDefiningOp();
  if (isa_and_nonnull<arith::TruncFOp, arith::ExtFOp>(cast)) {
    std::optional<double> source = getFloatConstant(cast->getOperand(0));
    auto type = dyn_cast<FloatType>(value.getType());
    if (!source || !type)
      return std::nullopt;
    APFloat converted(*source);
    bool lost = false;
    converted.convert(type.getFloatSemantics(), APFloat::rmNearestTiesToEven,
                      &lost);
    return converted.convertToDouble();
  }
  FloatAttr constant;
  if (!matchPattern(value, m_Constant(&constant)))
    return std::nullopt;
  return constant.getValueAsDouble();
}

/// A batch_matmul on tensors with the default maps into a zero fill.
bool isPlainProduct(linalg::BatchMatmulOp op) {
  return op && op.hasPureTensorSemantics() && !op.hasUserDefinedMaps() &&
         isFilledWith(op.getDpsInits()[0], isZero);
}

/// The one user of `value`, if it has exactly one use.
Operation *getOnlyUser(Value value) {
  return value.hasOneUse() ? *value.getUsers().begin() : nullptr;
}

bool isReshape(Operation *op) {
  return isa_and_nonnull<tensor::ExpandShapeOp, tensor::CollapseShapeOp>(op);
}

/// Follows `value` through reshapes that are its only users (a reshape
/// keeps the row-major order, so [B*H, I, J] and [B, H, I, J] hold the
/// same scores), adding them to `ops`.
Value skipReshapesForward(Value value, llvm::SetVector<Operation *> &ops) {
  while (Operation *user = getOnlyUser(value)) {
    if (!isReshape(user))
      break;
    ops.insert(user);
    value = user->getResult(0);
  }
  return value;
}

/// The value that `value` reshapes, through single-use reshapes, which are
/// added to `reshapes` (users first).
Value skipReshapesBackward(Value value,
                           SmallVectorImpl<Operation *> &reshapes) {
  while (Operation *def = value.getDefiningOp()) {
    if (!isReshape(def) || !value.hasOneUse())
      break;
    reshapes.push_back(def);
    value = def->getOperand(0);
  }
  return value;
}

/// Whether `op` (a generic, or a linalg.reduce) is on tensors over the
/// scores' loops [b..., I, J] (the b's multiplying to B), every loop
/// parallel but, with `reduces`, the last (J).
bool isOverScores(linalg::LinalgOp op, const Dims &dims, bool reduces) {
  if (!op || !op.hasPureTensorSemantics() || op.getNumLoops() < 3)
    return false;
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  if (llvm::any_of(ranges, ShapedType::isDynamic))
    return false;
  unsigned loops = ranges.size();
  int64_t batch = 1;
  for (int64_t range : ArrayRef(ranges).drop_back(2))
    batch *= range;
  if (batch != dims.batch || ranges[loops - 2] != dims.rows ||
      ranges[loops - 1] != dims.keys)
    return false;
  for (auto [loop, iterator] : llvm::enumerate(op.getIteratorTypesArray()))
    if ((iterator == utils::IteratorType::reduction) !=
        (reduces && loop + 1 == loops))
      return false;
  return true;
}

/// Whether `map` (over `loops` loops) reads a row: (d0, ..., d_{n-2}), or
/// the same with a trailing 0 (PyTorch's keepdim [..., I, 1]).
bool isRowMap(AffineMap map, unsigned loops) {
  if (map.getNumDims() != loops || map.getNumSymbols() != 0)
    return false;
  unsigned results = map.getNumResults();
  if (results != loops - 1 && results != loops)
    return false;
  for (unsigned loop = 0; loop + 1 < loops; ++loop)
    if (map.getResult(loop) != getAffineDimExpr(loop, map.getContext()))
      return false;
  if (results == loops) {
    auto zero = dyn_cast<AffineConstantExpr>(map.getResult(loops - 1));
    return zero && zero.getValue() == 0;
  }
  return true;
}

/// The value a generic yields as its result `index`.
Value getYielded(linalg::LinalgOp op, unsigned index = 0) {
  Operation *terminator = op.getBlock()->getTerminator();
  return index < terminator->getNumOperands() ? terminator->getOperand(index)
                                              : Value();
}

/// An elementwise generic over the scores: identity output, and `x` its
/// input at `score` with the identity map.
bool isElementwiseOf(linalg::GenericOp op, Value x, const Dims &dims,
                     unsigned &score) {
  if (!isOverScores(op, dims, false) || op.getNumDpsInits() != 1 ||
      !op.getIndexingMapsArray().back().isIdentity())
    return false;
  for (OpOperand *input : op.getDpsInputOperands())
    if (input->get() == x && op.getMatchingIndexingMap(input).isIdentity()) {
      score = input->getOperandNumber();
      return true;
    }
  return false;
}

/// A binary elementwise generic over the scores reading `x` (identity map)
/// and a row (row map) whose body yields `OpTy(x, row)` and nothing else;
/// the row's value in `row`.
template <typename OpTy>
bool isRowwise(linalg::GenericOp op, Value x, const Dims &dims, Value &row) {
  unsigned score;
  if (!isElementwiseOf(op, x, dims, score) || op.getNumDpsInputs() != 2 ||
      op.getBody()->getOperations().size() != 2)
    return false;
  OpOperand *other = op.getDpsInputOperand(1 - score);
  if (!isRowMap(op.getMatchingIndexingMap(other), op.getNumLoops()))
    return false;
  auto combine = getYielded(op).getDefiningOp<OpTy>();
  Block *body = op.getBody();
  if (!combine || combine.getLhs() != body->getArgument(score) ||
      combine.getRhs() != body->getArgument(1 - score))
    return false;
  row = other->get();
  return true;
}

/// The old one-op form of the softmax's numerator: exp(x - row).
bool isExpOfDifference(linalg::GenericOp op, Value x, const Dims &dims,
                       Value &row) {
  unsigned score;
  if (!isElementwiseOf(op, x, dims, score) || op.getNumDpsInputs() != 2 ||
      op.getBody()->getOperations().size() != 3 || score != 0 ||
      !isRowMap(op.getIndexingMapsArray()[1], op.getNumLoops()))
    return false;
  auto exp = getYielded(op).getDefiningOp<math::ExpOp>();
  auto sub = exp ? exp.getOperand().getDefiningOp<arith::SubFOp>() : nullptr;
  Block *body = op.getBody();
  if (!sub || sub.getLhs() != body->getArgument(0) ||
      sub.getRhs() != body->getArgument(1))
    return false;
  row = op.getDpsInputs()[1];
  return true;
}

/// A row reduction of `x` over J combining by `OpTy`, from a fill of a
/// value `isInit` accepts: a generic or a linalg.reduce (TOSA exports)
/// whose first result's yield is OpTy(in, acc) (either order); more
/// results (an argmax) are allowed when unused.
template <typename OpTy>
bool isRowReduction(linalg::LinalgOp op, Value x, const Dims &dims,
                    function_ref<bool(const APFloat &)> isInit) {
  if (!op || !isa<linalg::GenericOp, linalg::ReduceOp>(op.getOperation()) ||
      !isOverScores(op, dims, true) || op.getNumDpsInputs() != 1 ||
      op.getDpsInputs()[0] != x || !op.getIndexingMapsArray()[0].isIdentity() ||
      !isRowMap(op.getIndexingMapsArray()[1], op.getNumLoops()) ||
      !isFilledWith(op.getDpsInits()[0], isInit))
    return false;
  for (OpResult result : op->getResults().drop_front())
    if (!result.use_empty())
      return false;
  auto combine = getYielded(op).getDefiningOp<OpTy>();
  Block *body = op.getBlock();
  Value in = body->getArgument(0), acc = body->getArgument(1);
  return combine && ((combine.getLhs() == in && combine.getRhs() == acc) ||
                     (combine.getLhs() == acc && combine.getRhs() == in));
}

/// Whether `op` is an elementwise function of its one input: a generic on
/// tensors with one input and one output, identity maps, no reduction.
bool isUnaryElementwise(linalg::GenericOp op) {
  return op && op.hasPureTensorSemantics() && op.getNumDpsInputs() == 1 &&
         op.getNumDpsInits() == 1 && op.getNumReductionLoops() == 0 &&
         llvm::all_of(op.getIndexingMapsArray(),
                      [](AffineMap map) { return map.isIdentity(); });
}

/// Whether `op` is 1 / x of its one input, elementwise.
bool isReciprocal(linalg::GenericOp op) {
  if (!isUnaryElementwise(op))
    return false;
  auto divide = getYielded(op).getDefiningOp<arith::DivFOp>();
  std::optional<double> one =
      divide ? getFloatConstant(divide.getLhs()) : std::nullopt;
  return one && *one == 1.0 && divide.getRhs() == op.getBody()->getArgument(0);
}

/// Whether `row` (an operand of a rowwise op) is `reduced` (a reduction's
/// first result, used once) through single-use reshapes and, with
/// `reciprocal`, one single-use reciprocal (TOSA's softmax multiplies by
/// 1 / sum); those join `ops`.
bool isRowOf(Value row, Value reduced, bool reciprocal,
             llvm::SetVector<Operation *> &ops) {
  SmallVector<Operation *> between;
  Value source = skipReshapesBackward(row, between);
  if (reciprocal) {
    auto inverse = source.getDefiningOp<linalg::GenericOp>();
    if (!isReciprocal(inverse) || !source.hasOneUse())
      return false;
    between.push_back(inverse);
    source = skipReshapesBackward(inverse.getDpsInputs()[0], between);
  }
  if (source != reduced || !reduced.hasOneUse())
    return false;
  ops.insert(between.rbegin(), between.rend());
  return true;
}

/// Whether `op` only converts `x` to another float type: an all-parallel
/// generic with identity maps whose body is one extf or truncf of it.
bool isFloatCastOf(linalg::GenericOp op, Value x) {
  if (!isUnaryElementwise(op) || op.getDpsInputs()[0] != x ||
      op.getBody()->getOperations().size() != 2)
    return false;
  Operation *cast = getYielded(op).getDefiningOp();
  return isa_and_nonnull<arith::ExtFOp, arith::TruncFOp>(cast) &&
         cast->getOperand(0) == op.getBody()->getArgument(0);
}

/// The two users of `x`, when they are a row reduction combining by
/// `CombineOp` from a fill of a value `isInit` accepts and an op `isUser`
/// accepts (a softmax's numerator, or its division), which reads that
/// reduction's row (returned in its argument) through single-use reshapes
/// (and a reciprocal, when `isUser` says so in its last argument). The
/// reduction, what lies between and the user join `ops`, in that order.
template <typename CombineOp>
linalg::GenericOp matchRowReductionAndUser(
    Value x, const Dims &dims, function_ref<bool(const APFloat &)> isInit,
    function_ref<bool(linalg::GenericOp, Value &, bool &)> isUser,
    llvm::SetVector<Operation *> &ops) {
  if (!llvm::hasNItems(x.getUses(), 2))
    return {};
  linalg::LinalgOp reduction;
  linalg::GenericOp user;
  Value row;
  bool reciprocal = false;
  for (Operation *use : x.getUsers()) {
    Value read;
    bool inverse = false;
    if (isRowReduction<CombineOp>(dyn_cast<linalg::LinalgOp>(use), x, dims,
                                  isInit))
      reduction = cast<linalg::LinalgOp>(use);
    else if (auto generic = dyn_cast<linalg::GenericOp>(use);
             generic && isUser(generic, read, inverse))
      user = generic, row = read, reciprocal = inverse;
  }
  if (!reduction || !user)
    return {};
  ops.insert(reduction);
  if (!isRowOf(row, reduction->getResult(0), reciprocal, ops))
    return {};
  ops.insert(user);
  return user;
}

//===----------------------------------------------------------------------===//
// Masks that are functions of the indices
//===----------------------------------------------------------------------===//

/// Whether `dense` is 0, 1, ..., n - 1 of an integer type (at least 2 of
/// them).
bool isIota(DenseElementsAttr dense) {
  auto type = dense.getType();
  if (type.getRank() != 1 || type.getNumElements() < 2 ||
      !type.getElementType().isSignlessInteger() ||
      type.getElementType().getIntOrFloatBitWidth() > 64)
    return false;
  int64_t expected = 0;
  for (const APInt &value : dense.getValues<APInt>())
    if (value.getSExtValue() != expected++)
      return false;
  return true;
}

/// Builds the scalar values of tensors computed from loop indices and
/// constants (iotas, comparisons, broadcasts, reshapes: the causal and
/// padding masks PyTorch exports compute), as ops at a builder's insertion
/// point, folding as it goes. What is data that gets no gradient (an
/// integer tensor such as a padding mask given as input, or a float one
/// whose `roles` are input or state) it reads with tensor.extract from a
/// further argument of `maskBlock`, the tensor joining `inputs`, when the
/// tensor is defined before `chain`'s scores product. Without a builder it
/// only checks that it could, and says why not in `reason`.
class IndexFunction {
public:
  IndexFunction(OpBuilder *builder, Location loc, const Chain &chain,
                Block *maskBlock = nullptr)
      : builder(builder), loc(loc), chain(chain), maskBlock(maskBlock) {}

  /// `tensor`'s element at `indices` (index values).
  FailureOr<Value> element(Value tensor, ArrayRef<Value> indices);
  /// `value`, in `op`'s body or an argument of it, at the loop values
  /// `loops`.
  FailureOr<Value> bodyValue(linalg::GenericOp op, Value value,
                             ArrayRef<Value> loops);
  /// The loop values of `op` (loops [b..., I, J]) at the attention's
  /// flattened batch index, row and key, whose sizes are `dims`.
  SmallVector<Value> delinearize(linalg::GenericOp op, ValueRange bij,
                                 const Dims &dims);

  std::string reason;
  /// The tensors read as data, in the order of the region's arguments
  /// after (b, i, j).
  SmallVector<Value> inputs;

private:
  /// `tensor`'s element at `indices` read as data, when it may be: integer
  /// elements (nothing to differentiate) or a float input or state, defined
  /// before the anchor; else failure with `why` and the rule it breaks.
  FailureOr<Value> dataElement(Value tensor, ArrayRef<Value> indices,
                               const Twine &why);
  LogicalResult fail(const Twine &why) {
    if (reason.empty())
      reason = why.str();
    return failure();
  }
  Value index(int64_t value) {
    return builder ? arith::ConstantIndexOp::create(*builder, loc, value)
                   : Value();
  }
  template <typename OpTy> Value binary(Value lhs, Value rhs) {
    return builder ? builder->createOrFold<OpTy>(loc, lhs, rhs) : Value();
  }
  /// Clones `op` with `mapping`, folding it when it folds, and deciding
  /// integer comparisons that the indices' ranges decide.
  void cloneAndFold(Operation &op, IRMapping &mapping);
  /// The range [low, high] a built integer value lies in, when known: the
  /// indices' from their sizes, through casts, quotients and remainders
  /// by constants, sums and products.
  std::optional<std::pair<int64_t, int64_t>> getRange(Value value,
                                                      int depth = 0);
  std::optional<std::pair<int64_t, int64_t>> getRangeUnchecked(Value value,
                                                               int depth);
  /// Whether `cmp`'s operands' ranges decide it; its value if so.
  std::optional<bool> decide(arith::CmpIOp cmp);

  DenseMap<Value, std::pair<int64_t, int64_t>> indexRanges;

  OpBuilder *builder;
  Location loc;
  const Chain &chain;
  Block *maskBlock;
  /// The region's argument reading each input.
  DenseMap<Value, Value> inputArguments;
  /// Steps taken: the walk revisits shared producers, so it is bounded.
  int64_t steps = 0;
  static constexpr int64_t kMaxSteps = 4096;
};

void IndexFunction::cloneAndFold(Operation &op, IRMapping &mapping) {
  Operation *copy = builder->clone(op, mapping);
  SmallVector<Value> folded;
  if (succeeded(builder->tryFold(copy, folded)) && !folded.empty()) {
    for (auto [result, value] : llvm::zip(op.getResults(), folded))
      mapping.map(result, value);
    copy->erase();
    return;
  }
  auto cmp = dyn_cast<arith::CmpIOp>(copy);
  if (!cmp || !cmp.getType().isInteger(1))
    return;
  if (std::optional<bool> value = decide(cmp)) {
    mapping.map(
        op.getResult(0),
        arith::ConstantOp::create(*builder, loc, builder->getBoolAttr(*value)));
    copy->erase();
  }
}

std::optional<std::pair<int64_t, int64_t>> IndexFunction::getRange(Value value,
                                                                   int depth) {
  // Only a range that the value's type holds (signed) is a range: a
  // narrowing cast or an overflowing sum wraps.
  Type type = value.getType();
  unsigned width = type.isIndex()     ? 64
                   : type.isInteger() ? type.getIntOrFloatBitWidth()
                                      : 0;
  if (width < 2)
    return std::nullopt;
  std::optional<std::pair<int64_t, int64_t>> range =
      getRangeUnchecked(value, depth);
  if (!range || width >= 63)
    return range;
  int64_t bound = int64_t(1) << (width - 1);
  if (range->first < -bound || range->second > bound - 1)
    return std::nullopt;
  return range;
}

std::optional<std::pair<int64_t, int64_t>>
IndexFunction::getRangeUnchecked(Value value, int depth) {
  if (auto known = indexRanges.find(value); known != indexRanges.end())
    return known->second;
  APInt constant;
  if (matchPattern(value, m_ConstantInt(&constant)) &&
      constant.getSignificantBits() <= 62)
    return std::make_pair(constant.getSExtValue(), constant.getSExtValue());
  Operation *def = value.getDefiningOp();
  if (!def || depth > 8)
    return std::nullopt;
  // Signed casts keep the value when it fits the result (getRange checks).
  if (isa<arith::IndexCastOp, arith::ExtSIOp, arith::TruncIOp>(def))
    return getRange(def->getOperand(0), depth + 1);
  if (isa<arith::IndexCastUIOp, arith::ExtUIOp>(def)) {
    // Unsigned: a negative operand would come out large.
    auto operand = getRange(def->getOperand(0), depth + 1);
    if (!operand || operand->first < 0)
      return std::nullopt;
    return operand;
  }
  if (!isa<arith::DivUIOp, arith::RemUIOp, arith::AddIOp, arith::MulIOp>(def))
    return std::nullopt;
  auto lhs = getRange(def->getOperand(0), depth + 1);
  auto rhs = getRange(def->getOperand(1), depth + 1);
  // Small non-negative ranges only: nothing here overflows 64 bits (the
  // result's own width is checked by getRange).
  constexpr int64_t kLimit = int64_t(1) << 30;
  if (!lhs || !rhs || lhs->first < 0 || rhs->first < 0 ||
      lhs->second > kLimit || rhs->second > kLimit)
    return std::nullopt;
  if (isa<arith::AddIOp>(def))
    return std::make_pair(lhs->first + rhs->first, lhs->second + rhs->second);
  if (isa<arith::MulIOp>(def))
    return std::make_pair(lhs->first * rhs->first, lhs->second * rhs->second);
  if (rhs->first != rhs->second || rhs->first == 0)
    return std::nullopt;
  int64_t divisor = rhs->first;
  if (isa<arith::DivUIOp>(def))
    return std::make_pair(lhs->first / divisor, lhs->second / divisor);
  if (lhs->second < divisor)
    return lhs;
  return std::make_pair(int64_t(0), divisor - 1);
}

std::optional<bool> IndexFunction::decide(arith::CmpIOp cmp) {
  auto lhs = getRange(cmp.getLhs()), rhs = getRange(cmp.getRhs());
  if (!lhs || !rhs)
    return std::nullopt;
  auto [a, b] = *lhs;
  auto [c, d] = *rhs;
  using P = arith::CmpIPredicate;
  P predicate = cmp.getPredicate();
  bool isUnsigned = predicate == P::ult || predicate == P::ule ||
                    predicate == P::ugt || predicate == P::uge;
  if (isUnsigned && (a < 0 || c < 0))
    return std::nullopt;
  switch (predicate) {
  case P::slt:
  case P::ult:
    return b < c    ? std::optional(true)
           : a >= d ? std::optional(false)
                    : std::nullopt;
  case P::sle:
  case P::ule:
    return b <= c  ? std::optional(true)
           : a > d ? std::optional(false)
                   : std::nullopt;
  case P::sgt:
  case P::ugt:
    return a > d    ? std::optional(true)
           : b <= c ? std::optional(false)
                    : std::nullopt;
  case P::sge:
  case P::uge:
    return a >= d  ? std::optional(true)
           : b < c ? std::optional(false)
                   : std::nullopt;
  case P::eq:
    return (a == b && b == c && c == d) ? std::optional(true)
           : (b < c || d < a)           ? std::optional(false)
                                        : std::nullopt;
  case P::ne:
    return (a == b && b == c && c == d) ? std::optional(false)
           : (b < c || d < a)           ? std::optional(true)
                                        : std::nullopt;
  }
  return std::nullopt;
}

SmallVector<Value> IndexFunction::delinearize(linalg::GenericOp op,
                                              ValueRange bij,
                                              const Dims &dims) {
  indexRanges[bij[0]] = {0, dims.batch - 1};
  indexRanges[bij[1]] = {0, dims.rows - 1};
  indexRanges[bij[2]] = {0, dims.keys - 1};
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  ArrayRef<int64_t> batch = ArrayRef(ranges).drop_back(2);
  SmallVector<Value> loops(batch.size());
  int64_t stride = 1;
  for (int64_t dim = batch.size() - 1; dim >= 0; --dim) {
    Value value = binary<arith::DivUIOp>(bij[0], index(stride));
    // The outermost needs no remainder: b < B.
    loops[dim] =
        dim == 0 ? value : binary<arith::RemUIOp>(value, index(batch[dim]));
    stride *= batch[dim];
  }
  loops.append({bij[1], bij[2]});
  return loops;
}

FailureOr<Value> IndexFunction::element(Value tensor, ArrayRef<Value> indices) {
  if (++steps > kMaxSteps)
    return fail("the mask's computation is too large to rebuild");
  auto type = dyn_cast<RankedTensorType>(tensor.getType());
  if (!type || !type.hasStaticShape())
    return fail("the mask has a dynamic shape");
  // A unit dimension's index is 0 (whatever expression reached it).
  SmallVector<Value> unit(indices);
  for (auto [dim, size] : llvm::enumerate(type.getShape()))
    if (size == 1)
      unit[dim] = index(0);
  indices = unit;
  if (auto argument = dyn_cast<BlockArgument>(tensor))
    return dataElement(tensor, indices,
                       "the mask reads argument #" +
                           Twine(argument.getArgNumber()));
  Operation *def = tensor.getDefiningOp();
  DenseElementsAttr dense;
  if (matchPattern(tensor, m_Constant(&dense))) {
    // An iota given as a constant (TOSA exports' positions): its index.
    if (isIota(dense)) {
      if (!builder)
        return Value();
      return builder->createOrFold<arith::IndexCastOp>(
          loc, type.getElementType(), indices[0]);
    }
    if (!dense.isSplat())
      return dataElement(tensor, indices,
                         "the mask reads a constant tensor that is not a "
                         "splat");
    if (!builder)
      return Value();
    return arith::ConstantOp::create(
               *builder, loc, cast<TypedAttr>(dense.getSplatValue<Attribute>()))
        .getResult();
  }
  if (auto fill = dyn_cast<linalg::FillOp>(def)) {
    Attribute constant;
    if (!fill.hasPureTensorSemantics() ||
        !matchPattern(fill.getInputs()[0], m_Constant(&constant)))
      return fail("the mask fills a value that is not a constant");
    if (fill.getInputs()[0].getType() != type.getElementType())
      return fail("the mask fills a value of another type than its own");
    if (!builder)
      return Value();
    return builder->clone(*fill.getInputs()[0].getDefiningOp())->getResult(0);
  }
  if (auto expand = dyn_cast<tensor::ExpandShapeOp>(def)) {
    // Each source index is its group's indices in row-major order.
    SmallVector<Value> source;
    for (ReassociationIndices group : expand.getReassociationIndices()) {
      Value linear = indices[group.front()];
      for (int64_t dim : ArrayRef(group).drop_front())
        linear = binary<arith::AddIOp>(
            binary<arith::MulIOp>(linear, index(type.getDimSize(dim))),
            indices[dim]);
      source.push_back(linear);
    }
    return element(expand.getSrc(), source);
  }
  if (auto collapse = dyn_cast<tensor::CollapseShapeOp>(def)) {
    auto sourceType = collapse.getSrcType();
    if (!sourceType.hasStaticShape())
      return fail("the mask has a dynamic shape");
    SmallVector<Value> source(sourceType.getRank());
    for (auto [result, group] :
         llvm::enumerate(collapse.getReassociationIndices())) {
      int64_t stride = 1;
      for (int64_t dim : llvm::reverse(group)) {
        Value value = binary<arith::DivUIOp>(indices[result], index(stride));
        source[dim] = dim == group.front()
                          ? value
                          : binary<arith::RemUIOp>(
                                value, index(sourceType.getDimSize(dim)));
        stride *= sourceType.getDimSize(dim);
      }
    }
    return element(collapse.getSrc(), source);
  }
  if (auto transpose = dyn_cast<linalg::TransposeOp>(def)) {
    // Result dimension k is the input's dimension permutation[k].
    SmallVector<Value> source(indices.size());
    for (auto [dim, from] : llvm::enumerate(transpose.getPermutation()))
      source[from] = indices[dim];
    return element(transpose.getInput(), source);
  }
  if (auto broadcast = dyn_cast<linalg::BroadcastOp>(def)) {
    // The input's indices are the result's without the added dimensions.
    SmallVector<Value> source;
    for (auto [dim, value] : llvm::enumerate(indices))
      if (!llvm::is_contained(broadcast.getDimensions(), int64_t(dim)))
        source.push_back(value);
    return element(broadcast.getInput(), source);
  }
  if (auto generic = dyn_cast<linalg::GenericOp>(def)) {
    if (!generic.hasPureTensorSemantics() ||
        generic.getNumReductionLoops() != 0)
      return dataElement(tensor, indices,
                         "the mask is computed by a reduction");
    auto result = cast<OpResult>(tensor);
    AffineMap map = generic.getIndexingMapMatchingResult(result);
    if (!map.isPermutation())
      return dataElement(tensor, indices,
                         "the mask's generic writes through a map that is "
                         "not a permutation");
    SmallVector<Value> loops(generic.getNumLoops());
    for (unsigned dim = 0; dim < map.getNumResults(); ++dim)
      loops[map.getDimPosition(dim)] = indices[dim];
    return bodyValue(generic, getYielded(generic, result.getResultNumber()),
                     loops);
  }
  return dataElement(tensor, indices,
                     "the mask reads '" + def->getName().getStringRef() + "'");
}

FailureOr<Value> IndexFunction::dataElement(Value tensor,
                                            ArrayRef<Value> indices,
                                            const Twine &why) {
  auto type = cast<RankedTensorType>(tensor.getType());
  ValueRole role = chain.roles->getRole(tensor);
  if (!type.getElementType().isIntOrIndex() && role != ValueRole::Input &&
      role != ValueRole::State)
    return fail(why + ", data of a float type (which may need a gradient the "
                      "fused attention does not give)");
  if (!chain.dominance->properlyDominates(tensor, chain.scores))
    return fail(why + ", data not defined before the attention's scores");
  if (!llvm::is_contained(inputs, tensor))
    inputs.push_back(tensor);
  if (!builder)
    return Value();
  Value &argument = inputArguments[tensor];
  if (!argument)
    argument = maskBlock->addArgument(type, loc);
  return tensor::ExtractOp::create(*builder, loc, argument, indices)
      .getResult();
}

FailureOr<Value> IndexFunction::bodyValue(linalg::GenericOp op, Value value,
                                          ArrayRef<Value> loops) {
  Block *body = op.getBody();
  IRMapping mapping;
  // Block arguments: the inputs' elements at their maps of the loops.
  auto argument = [&](BlockArgument arg) -> LogicalResult {
    if (mapping.contains(arg))
      return success();
    OpOperand *operand = op.getMatchingOpOperand(arg);
    if (!op.isDpsInput(operand))
      return fail("the mask reads its generic's output");
    AffineMap map = op.getMatchingIndexingMap(operand);
    SmallVector<Value> indices;
    for (AffineExpr expr : map.getResults()) {
      if (auto dim = dyn_cast<AffineDimExpr>(expr))
        indices.push_back(loops[dim.getPosition()]);
      else if (auto constant = dyn_cast<AffineConstantExpr>(expr))
        indices.push_back(index(constant.getValue()));
      else
        return fail("the mask reads through an index map with arithmetic");
    }
    FailureOr<Value> element = this->element(operand->get(), indices);
    if (failed(element))
      return failure();
    mapping.map(arg, *element);
    return success();
  };
  // Values from above: constants only.
  auto outside = [&](Value operand) -> LogicalResult {
    if (mapping.contains(operand))
      return success();
    if (!matchPattern(operand, m_Constant()))
      return fail("the mask reads a value from outside its generic that is "
                  "not a constant");
    if (builder)
      mapping.map(operand,
                  builder->clone(*operand.getDefiningOp())->getResult(0));
    else
      mapping.map(operand, operand);
    return success();
  };
  if (auto arg = dyn_cast<BlockArgument>(value)) {
    if (arg.getOwner() != body)
      return fail("the mask reads a value from another region");
    if (failed(argument(arg)))
      return failure();
    return builder ? mapping.lookup(value) : Value();
  }
  Operation *def = value.getDefiningOp();
  if (def->getBlock() != body) {
    if (failed(outside(value)))
      return failure();
    return builder ? mapping.lookup(value) : Value();
  }
  SetVector<Operation *> slice;
  BackwardSliceOptions options;
  options.filter = [&](Operation *inner) { return inner->getBlock() == body; };
  if (failed(getBackwardSlice(def, &slice, options)))
    return fail("the mask's computation cannot be sliced");
  slice.insert(def);
  for (Operation *inner : slice) {
    if (++steps > kMaxSteps)
      return fail("the mask's computation is too large to rebuild");
    if (inner->getNumRegions() != 0 || !isMemoryEffectFree(inner))
      return fail("the mask's computation has side effects ('" +
                  inner->getName().getStringRef() + "')");
    if (auto index = dyn_cast<linalg::IndexOp>(inner)) {
      mapping.map(index.getResult(), loops[index.getDim()]);
      continue;
    }
    // An element of a tensor from above (PyTorch's indexing of a mask):
    // that tensor's element, rebuilt or read as data.
    auto extract = dyn_cast<tensor::ExtractOp>(inner);
    Value above = extract && extract.getTensor().getParentBlock() != body
                      ? extract.getTensor()
                      : Value();
    for (Value operand : inner->getOperands()) {
      if (operand == above)
        continue;
      auto arg = dyn_cast<BlockArgument>(operand);
      if (arg && arg.getOwner() == body) {
        if (failed(argument(arg)))
          return failure();
      } else if (arg) {
        return fail("the mask reads argument #" + Twine(arg.getArgNumber()) +
                    " (data, not a function of the indices), which a mask "
                    "region cannot rebuild");
      } else if (operand.getDefiningOp()->getBlock() != body) {
        if (failed(outside(operand)))
          return failure();
      }
    }
    if (above) {
      SmallVector<Value> indices;
      for (Value index : extract.getIndices())
        indices.push_back(builder ? mapping.lookup(index) : Value());
      FailureOr<Value> element = this->element(above, indices);
      if (failed(element))
        return failure();
      mapping.map(extract.getResult(),
                  builder ? *element : extract.getResult());
      continue;
    }
    if (builder)
      cloneAndFold(*inner, mapping);
    else
      for (Value result : inner->getResults())
        mapping.map(result, result);
  }
  return builder ? mapping.lookup(value) : Value();
}

/// The two constants of the additive bias `value` (in or an argument of
/// `owner`'s body), when it is select(p, a, b) of constants a and b, seen
/// through the generics and reshapes IndexFunction rebuilds.
std::optional<std::pair<double, double>>
getSelectedConstants(linalg::GenericOp owner, Value value, int depth = 0);

/// The float constant `value` (in or an argument of `owner`'s body) holds.
std::optional<double> getConstantThrough(linalg::GenericOp owner, Value value,
                                         int depth = 0);

/// The tensor whose elements `tensor` holds, rearranged: reshapes,
/// transposes and broadcasts looked through (as IndexFunction follows
/// them).
Value skipDataMovement(Value tensor) {
  while (Operation *def = tensor.getDefiningOp()) {
    if (isReshape(def))
      tensor = def->getOperand(0);
    else if (auto transpose = dyn_cast<linalg::TransposeOp>(def))
      tensor = transpose.getInput();
    else if (auto broadcast = dyn_cast<linalg::BroadcastOp>(def))
      tensor = broadcast.getInput();
    else
      break;
  }
  return tensor;
}

/// The generic result, data movement looked through, that `tensor` is.
std::optional<std::pair<linalg::GenericOp, unsigned>>
getGenericSource(Value tensor) {
  tensor = skipDataMovement(tensor);
  auto result = dyn_cast<OpResult>(tensor);
  auto generic =
      result ? dyn_cast<linalg::GenericOp>(result.getOwner()) : nullptr;
  if (!generic)
    return std::nullopt;
  return std::make_pair(generic, result.getResultNumber());
}

/// The input tensor that `value`, an argument of `owner`'s body, reads.
Value getInputTensor(linalg::GenericOp owner, Value value) {
  auto arg = dyn_cast<BlockArgument>(value);
  if (!arg || arg.getOwner() != owner.getBody() ||
      arg.getArgNumber() >= owner.getNumDpsInputs())
    return Value();
  return owner.getDpsInputs()[arg.getArgNumber()];
}

std::optional<double> getConstantThrough(linalg::GenericOp owner, Value value,
                                         int depth) {
  if (std::optional<double> constant = getFloatConstant(value))
    return constant;
  Value tensor = getInputTensor(owner, value);
  if (!tensor || depth > 16)
    return std::nullopt;
  tensor = skipDataMovement(tensor);
  DenseFPElementsAttr dense;
  if (matchPattern(tensor, m_Constant(&dense)) && dense.isSplat())
    return dense.getSplatValue<APFloat>().convertToDouble();
  if (auto fill = tensor.getDefiningOp<linalg::FillOp>())
    return getFloatConstant(fill.getInputs()[0]);
  if (auto source = getGenericSource(tensor))
    return getConstantThrough(
        source->first, getYielded(source->first, source->second), depth + 1);
  return std::nullopt;
}

std::optional<std::pair<double, double>>
getSelectedConstants(linalg::GenericOp owner, Value value, int depth) {
  if (depth > 16)
    return std::nullopt;
  if (auto select = value.getDefiningOp<arith::SelectOp>();
      select && select->getBlock() == owner.getBody()) {
    std::optional<double> onTrue =
        getConstantThrough(owner, select.getTrueValue());
    std::optional<double> onFalse =
        getConstantThrough(owner, select.getFalseValue());
    if (!onTrue || !onFalse)
      return std::nullopt;
    return std::make_pair(*onTrue, *onFalse);
  }
  Value tensor = getInputTensor(owner, value);
  if (!tensor)
    return std::nullopt;
  if (auto source = getGenericSource(tensor))
    return getSelectedConstants(
        source->first, getYielded(source->first, source->second), depth + 1);
  return std::nullopt;
}

/// Whether `value` (in `body`) depends on the block argument `arg`.
bool dependsOn(Value value, BlockArgument arg) {
  if (value == arg)
    return true;
  Operation *def = value.getDefiningOp();
  if (!def || def->getBlock() != arg.getOwner())
    return false;
  SetVector<Operation *> slice;
  BackwardSliceOptions options;
  options.filter = [&](Operation *inner) {
    return inner->getBlock() == arg.getOwner();
  };
  if (failed(getBackwardSlice(def, &slice, options)))
    return true;
  slice.insert(def);
  return llvm::any_of(slice, [&](Operation *inner) {
    return llvm::is_contained(inner->getOperands(), Value(arg));
  });
}

/// Reads the scale and mask that `value` (in `op`'s body) applies to the
/// score argument `score` into `chain`: the score, a product with (or a
/// quotient by) a constant, a select between that and a constant where a
/// predicate of the indices holds, or its sum with an additive mask
/// select(p, 0, C) of large negative C, nested.
LogicalResult matchScaleMask(linalg::GenericOp op, BlockArgument score,
                             Value value, Chain &chain, std::string &reason) {
  auto fail = [&](const Twine &why) {
    reason = why.str();
    return failure();
  };
  if (value == score)
    return success();
  Operation *def = value.getDefiningOp();
  if (!def || def->getBlock() != op.getBody())
    return fail("the op after the scores yields something else than the "
                "scores scaled and masked");
  // Whether the mask region can rebuild `value` (a dry run).
  auto canRebuild = [&](Value value) -> LogicalResult {
    IndexFunction check(nullptr, op.getLoc(), chain);
    SmallVector<Value> loops(op.getNumLoops());
    if (failed(check.bodyValue(op, value, loops)))
      return fail(check.reason);
    return success();
  };
  // `checked`: canRebuild(predicate) already succeeded.
  auto setMask = [&](Value predicate, bool isBias, bool maskedWhen,
                     double masked, bool checked) -> LogicalResult {
    if (chain.masked)
      return fail("the scores are masked twice");
    if (!checked && failed(canRebuild(predicate)))
      return failure();
    chain.maskOwner = op;
    chain.maskValue = predicate;
    chain.maskIsBias = isBias;
    chain.maskedWhen = maskedWhen;
    chain.masked = masked;
    return success();
  };
  // A rounding or widening of the scores (16-bit exports round the f32
  // product and widen again for the softmax): the attention computes its
  // scores in f32 either way (getAttentionAccumulatorType).
  if (isa<arith::ExtFOp, arith::TruncFOp>(def))
    return matchScaleMask(op, score, def->getOperand(0), chain, reason);
  // A scale: x * c, c * x or x / c, before any mask.
  if (isa<arith::MulFOp, arith::DivFOp>(def)) {
    Value lhs = def->getOperand(0), rhs = def->getOperand(1);
    bool divides = isa<arith::DivFOp>(def);
    // A constant, or an input holding one (TOSA's [1, 1, 1, 1] tensor).
    std::optional<double> constant = getConstantThrough(op, rhs);
    Value scaled = lhs;
    if (!constant && !divides) {
      constant = getConstantThrough(op, lhs);
      scaled = rhs;
    }
    if (!constant)
      return fail("the scores are multiplied by something other than a "
                  "constant");
    if (failed(matchScaleMask(op, score, scaled, chain, reason)))
      return failure();
    if (chain.masked)
      return fail("the scale follows the mask");
    chain.scale *= divides ? 1.0 / *constant : *constant;
    return success();
  }
  // A mask: select(p, C, x) or select(p, x, C).
  if (auto select = dyn_cast<arith::SelectOp>(def)) {
    std::optional<double> onTrue =
        getConstantThrough(op, select.getTrueValue());
    std::optional<double> onFalse =
        getConstantThrough(op, select.getFalseValue());
    bool masksWhenTrue = onTrue.has_value();
    Value kept = masksWhenTrue ? select.getFalseValue() : select.getTrueValue();
    if (!onTrue && !onFalse)
      return fail("the scores are selected against something other than a "
                  "constant");
    if (dependsOn(select.getCondition(), score))
      return fail("the mask's predicate reads the scores");
    if (failed(matchScaleMask(op, score, kept, chain, reason)))
      return failure();
    return setMask(select.getCondition(), /*isBias=*/false, masksWhenTrue,
                   masksWhenTrue ? *onTrue : *onFalse, /*checked=*/false);
  }
  // An additive mask: x + select(p, 0, C) (PyTorch's attention masks).
  if (auto add = dyn_cast<arith::AddFOp>(def)) {
    bool left = dependsOn(add.getLhs(), score);
    if (left == dependsOn(add.getRhs(), score))
      return fail("the scores are added to something that is not a mask");
    Value bias = left ? add.getRhs() : add.getLhs();
    if (failed(canRebuild(bias)))
      return failure();
    std::optional<std::pair<double, double>> selected =
        getSelectedConstants(op, bias);
    if (!selected)
      return fail("the scores are added to something other than a mask "
                  "select(p, 0, C) of the indices");
    auto [onTrue, onFalse] = *selected;
    bool masksWhenTrue = onFalse == 0.0;
    double masked = masksWhenTrue ? onTrue : onFalse;
    // The op adds C exactly; only a row masked everywhere needs C either
    // huge (constant along the row) or small enough for its lse to keep
    // log J (the backward recomputes the probabilities from it).
    if ((masksWhenTrue ? onFalse : onTrue) != 0.0 ||
        !(masked <= -kHugeMaskedValue || std::abs(masked) < kLargeMaskedValue))
      return fail("the additive mask is not select(p, 0, C) with C <= -1e30, "
                  "-inf or |C| < 2^20");
    if (failed(matchScaleMask(op, score, left ? add.getLhs() : add.getRhs(),
                              chain, reason)))
      return failure();
    return setMask(bias, /*isBias=*/true, masksWhenTrue, masked,
                   /*checked=*/true);
  }
  return fail("the op after the scores computes '" +
              def->getName().getStringRef() +
              "', not a scale or a mask of them");
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
        auto reduction = dyn_cast<linalg::LinalgOp>(user);
        if (reduction && isa<linalg::GenericOp, linalg::ReduceOp>(user) &&
            reduction.getNumReductionLoops() > 0 &&
            llvm::any_of(reduction.getBlock()->getOperations(),
                         [](Operation &op) {
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
                                const ArgumentRoles &roles,
                                DominanceInfo &dominance, std::string &reason) {
  Chain chain;
  chain.scores = scores;
  chain.roles = &roles;
  chain.dominance = &dominance;
  auto fail = [&](const Twine &why) -> std::optional<Chain> {
    reason = why.str();
    return std::nullopt;
  };
  if (!isPlainProduct(scores))
    return fail("the scores are not a zero-filled product");
  auto scoresType = cast<RankedTensorType>(scores.getResult(0).getType());
  if (!scoresType.hasStaticShape())
    return fail("the scores have a dynamic shape");
  chain.dims = {scoresType.getDimSize(0), scoresType.getDimSize(1),
                scoresType.getDimSize(2)};
  const Dims &dims = chain.dims;
  // One element type for the queries, keys and values; the chain between
  // the products may round and widen (16-bit exports compute the softmax
  // in f32), and the context's f32 result may be rounded back.
  Type element = getElementTypeOrSelf(scores.getDpsInputs()[0].getType());
  if (!isa<FloatType>(element) ||
      getElementTypeOrSelf(scores.getDpsInputs()[1].getType()) != element)
    return fail("the queries and keys differ in element type");
  chain.ops.insert(scores);
  auto floatsOnly = [&](Operation *op) {
    return llvm::all_of(op->getResultTypes(), [&](Type type) {
      Type inner = getElementTypeOrSelf(type);
      return isa<FloatType>(inner) || inner.isInteger();
    });
  };

  // The scale and mask: elementwise ops of the scores alone (but for an
  // additive mask), each the scores' only user, through reshapes.
  Value x = skipReshapesForward(scores.getResult(0), chain.ops);
  while (auto generic = dyn_cast_or_null<linalg::GenericOp>(getOnlyUser(x))) {
    unsigned score;
    if (!isElementwiseOf(generic, x, dims, score))
      return fail("the op after the scores is not elementwise over "
                  "[batch..., rows, keys]");
    if (failed(matchScaleMask(generic, generic.getBody()->getArgument(score),
                              getYielded(generic), chain, reason)))
      return std::nullopt;
    chain.ops.insert(generic);
    x = skipReshapesForward(generic.getResult(0), chain.ops);
  }

  // x feeds the row maxima and exp(x - max): one op, or a subtraction and
  // an exponential.
  if (Operation *next = getOnlyUser(x))
    return fail("the scores pass through '" + next->getName().getStringRef() +
                "' before the softmax");
  if (!llvm::hasNItems(x.getUses(), 2))
    return fail(llvm::hasNItemsOrMore(x.getUses(), 3)
                    ? "the scaled and masked scores have users besides the "
                      "softmax"
                    : "no row maximum (from -inf or the lowest float) and "
                      "exp(x - max) read the scores");
  linalg::GenericOp numerator = matchRowReductionAndUser<arith::MaximumFOp>(
      x, dims, isLowest,
      [&](linalg::GenericOp op, Value &row, bool &) {
        return isExpOfDifference(op, x, dims, row) ||
               isRowwise<arith::SubFOp>(op, x, dims, row);
      },
      chain.ops);
  if (!numerator)
    return fail("no row maximum (from -inf or the lowest float) and "
                "exp(x - max) read the scores");
  Value exps = numerator.getResult(0);
  if (Value row; !isExpOfDifference(numerator, x, dims, row)) {
    // A separate exponential of the difference.
    auto exp = dyn_cast_or_null<linalg::GenericOp>(getOnlyUser(exps));
    unsigned score;
    if (!exp || !isElementwiseOf(exp, exps, dims, score) ||
        exp.getNumDpsInputs() != 1 ||
        exp.getBody()->getOperations().size() != 2 ||
        !isa_and_nonnull<math::ExpOp>(getYielded(exp).getDefiningOp()) ||
        getYielded(exp).getDefiningOp()->getOperand(0) !=
            exp.getBody()->getArgument(0))
      return fail("no exponential follows the scores minus their row maximum");
    chain.ops.insert(exp);
    exps = exp.getResult(0);
  }

  // The exponentials feed the row sums and the division by them (or the
  // product with their reciprocals).
  linalg::GenericOp division = matchRowReductionAndUser<arith::AddFOp>(
      exps, dims, isZero,
      [&](linalg::GenericOp op, Value &row, bool &reciprocal) {
        if (isRowwise<arith::DivFOp>(op, exps, dims, row))
          return true;
        reciprocal = true;
        return isRowwise<arith::MulFOp>(op, exps, dims, row);
      },
      chain.ops);
  if (!division)
    return fail("no row sum (from 0) and division (or product with its "
                "reciprocal) follow the exponentials");

  // The probabilities, through reshapes and a rounding back to [B, I, J]
  // of the values' type, are the left operand of the context product and
  // nothing else.
  Value probabilities = skipReshapesForward(division.getResult(0), chain.ops);
  while (auto cast =
             dyn_cast_or_null<linalg::GenericOp>(getOnlyUser(probabilities))) {
    if (!isFloatCastOf(cast, probabilities))
      break;
    chain.ops.insert(cast);
    probabilities = skipReshapesForward(cast.getResult(0), chain.ops);
  }
  chain.context =
      dyn_cast_or_null<linalg::BatchMatmulOp>(getOnlyUser(probabilities));
  if (!isPlainProduct(chain.context) ||
      chain.context.getDpsInputs()[0] != probabilities ||
      cast<RankedTensorType>(probabilities.getType()).getShape() !=
          scoresType.getShape())
    return fail("the probabilities are not the left operand of one "
                "zero-filled product (and nothing else)");
  if (getElementTypeOrSelf(probabilities.getType()) != element ||
      getElementTypeOrSelf(chain.context.getDpsInputs()[1].getType()) !=
          element)
    return fail("the probabilities or the values differ in element type "
                "from the queries");
  if (!cast<RankedTensorType>(chain.context.getResult(0).getType())
           .hasStaticShape())
    return fail("the context has a dynamic shape");
  chain.ops.insert(chain.context);
  chain.last = chain.context;
  // A wider context rounded to the queries' type (a 16-bit export's f32
  // product): the rounding is the chain's end.
  Value context = chain.context.getResult(0);
  if (getElementTypeOrSelf(context.getType()) != element) {
    auto cast = dyn_cast_or_null<linalg::GenericOp>(getOnlyUser(context));
    if (!isFloatCastOf(cast, context) ||
        getElementTypeOrSelf(cast.getResult(0).getType()) != element)
      return fail("the context's element type is not the queries'");
    chain.ops.insert(cast);
    chain.last = cast;
  }
  for (Operation *op : chain.ops)
    if (!floatsOnly(op))
      return fail("the chain computes in a type that is not a float");
  return chain;
}

/// Builds `chain`'s mask predicate into `block` (arguments b, i, j, then one
/// per tensor the mask reads as data, which `inputs` receives): true where
/// the score is masked. Failure (with `reason`) leaves ops behind in the
/// block, for the caller to drop with it.
LogicalResult buildMask(OpBuilder &builder, Block *block, Chain &chain,
                        SmallVectorImpl<Value> &inputs, std::string &reason) {
  Location loc = chain.maskOwner.getLoc();
  builder.setInsertionPointToStart(block);
  IndexFunction function(&builder, loc, chain, block);
  SmallVector<Value> loops = function.delinearize(
      chain.maskOwner, block->getArguments().take_front(3), chain.dims);
  FailureOr<Value> value =
      function.bodyValue(chain.maskOwner, chain.maskValue, loops);
  if (failed(value)) {
    reason = function.reason;
    return failure();
  }
  Value predicate = *value;
  bool maskedWhen = chain.maskedWhen;
  if (chain.maskIsBias) {
    // The bias select(p, a, b) folds to a constant where the indices'
    // ranges decide p: masked where it is C (not 0).
    FloatAttr constant;
    if (auto select = predicate.getDefiningOp<arith::SelectOp>()) {
      predicate = select.getCondition();
    } else if (matchPattern(predicate, m_Constant(&constant))) {
      predicate = arith::ConstantOp::create(
          builder, loc, builder.getBoolAttr(!constant.getValue().isZero()));
      maskedWhen = true;
    } else {
      reason = "the additive mask did not rebuild as a select";
      return failure();
    }
  }
  if (!maskedWhen) {
    Value one =
        arith::ConstantOp::create(builder, loc, builder.getBoolAttr(true));
    predicate = builder.createOrFold<arith::XOrIOp>(loc, predicate, one);
  }
  YieldOp::create(builder, loc, ValueRange{predicate});
  // What the predicate does not read goes (the bias's select, folded
  // constants).
  SmallVector<Operation *> built;
  for (Operation &op : block->without_terminator())
    built.push_back(&op);
  for (Operation *op : llvm::reverse(built))
    if (op->use_empty() && isMemoryEffectFree(op))
      op->erase();
  // So do the inputs nothing reads any more.
  inputs.assign(function.inputs);
  for (unsigned number = block->getNumArguments(); number-- > 3;)
    if (block->getArgument(number).use_empty()) {
      block->eraseArgument(number);
      inputs.erase(inputs.begin() + (number - 3));
    }
  return success();
}

/// The ops defining what `op` reads: its operands, and the values its
/// regions read from above (a generic body's constants).
SmallVector<Operation *> getProducers(Operation *op) {
  llvm::SetVector<Value> used(op->getOperands().begin(),
                              op->getOperands().end());
  for (Region &region : op->getRegions())
    getUsedValuesDefinedAbove(region, used);
  SmallVector<Operation *> producers;
  for (Value value : used)
    if (Operation *def = value.getDefiningOp())
      producers.push_back(def);
  return producers;
}

/// Replaces `chain` with one autopar.attention, returned; failure (with
/// `reason`) leaves the chain as it was. Every op erased joins `erased`.
FailureOr<AttentionOp> fuse(RewriterBase &rewriter, Chain &chain,
                            std::string &reason,
                            DenseSet<Operation *> &erased) {
  OpBuilder::InsertionGuard guard(rewriter);
  linalg::BatchMatmulOp context = chain.context;
  rewriter.setInsertionPoint(chain.last);
  SmallVector<Location> locations;
  for (Operation *op : chain.ops)
    locations.push_back(op->getLoc());
  Location loc = rewriter.getFusedLoc(locations);

  auto outputType = cast<RankedTensorType>(chain.last->getResult(0).getType());
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
      chain.masked ? rewriter.getF64FloatAttr(*chain.masked) : FloatAttr(),
      chain.masked && chain.maskIsBias ? rewriter.getUnitAttr() : UnitAttr(),
      ValueRange());
  if (chain.masked) {
    Type indexType = rewriter.getIndexType();
    Block *block = rewriter.createBlock(&attention.getMask(), {},
                                        {indexType, indexType, indexType},
                                        {loc, loc, loc});
    OpBuilder builder(rewriter.getContext());
    SmallVector<Value> inputs;
    if (failed(buildMask(builder, block, chain, inputs, reason))) {
      rewriter.eraseOp(attention);
      rewriter.eraseOp(output.getDefiningOp());
      rewriter.eraseOp(lseInit.getDefiningOp());
      return failure();
    }
    // A mask that never masks (the padding mask of an unpadded batch)
    // goes.
    Value predicate = block->getTerminator()->getOperand(0);
    if (matchPattern(predicate, m_Zero())) {
      rewriter.eraseBlock(block);
      attention.removeMaskedAttr();
      attention.removeAdditiveAttr();
    } else {
      attention.getMaskInputsMutable().assign(inputs);
    }
  }
  // The chain goes, and then whatever only it used (fills, empty tensors,
  // the mask's producers once no attention reads them).
  llvm::SetVector<Operation *> producers;
  for (Operation *op : chain.ops)
    for (Operation *def : getProducers(op))
      if (!chain.ops.contains(def))
        producers.insert(def);
  rewriter.replaceOp(chain.last, attention.getResult());
  erased.insert(chain.last);
  for (Operation *op : llvm::reverse(chain.ops))
    if (op != chain.last) {
      erased.insert(op);
      rewriter.eraseOp(op);
    }
  SmallVector<Operation *> worklist(producers.begin(), producers.end());
  while (!worklist.empty()) {
    Operation *def = worklist.pop_back_val();
    if (erased.contains(def) || !def->use_empty() || !isMemoryEffectFree(def))
      continue;
    llvm::append_range(worklist, getProducers(def));
    erased.insert(def);
    rewriter.eraseOp(def);
  }
  return attention;
}

/// The batch of `attention` as its query, keys and values were made: the
/// dimensions that the collapses making all three merge into their first
/// (batch and heads, [b, h]); none when those differ, a shape is dynamic,
/// or an operand is not such a collapse.
std::optional<SmallVector<int64_t>> getMergedBatch(AttentionOp attention) {
  std::optional<SmallVector<int64_t>> merged;
  for (Value operand :
       {attention.getQuery(), attention.getKey(), attention.getValue()}) {
    auto collapse = operand.getDefiningOp<tensor::CollapseShapeOp>();
    if (!collapse || !collapse.getSrcType().hasStaticShape())
      return std::nullopt;
    ReassociationIndices first = collapse.getReassociationIndices().front();
    if (first.size() < 2)
      return std::nullopt;
    SmallVector<int64_t> dims;
    for (int64_t dim : first)
      dims.push_back(collapse.getSrcType().getDimSize(dim));
    if (llvm::any_of(dims, ShapedType::isDynamic) ||
        (merged && *merged != dims))
      return std::nullopt;
    merged = dims;
  }
  return merged;
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
    // Valid throughout: fusion erases ops, never blocks of the functions.
    DominanceInfo &dominance = getAnalysis<DominanceInfo>();
    DenseSet<Operation *> erased;
    // Near misses: without report=1, one warning for all of them.
    std::optional<Location> firstMiss;
    std::string firstReason;
    int64_t misses = 0;
    for (linalg::BatchMatmulOp scores : candidates) {
      if (erased.contains(scores))
        continue;
      std::string reason;
      // Per chain: an earlier fusion may have erased constants it knew.
      ArgumentRoles roles(scores->getParentOfType<FunctionOpInterface>());
      std::optional<Chain> chain = matchChain(scores, roles, dominance, reason);
      if (!chain) {
        if (!looksLikeAttention(scores.getResult(0)))
          continue;
        if (report)
          scores->emitRemark()
              << "autopar-fuse-attention: no attention formed: " << reason;
        if (!firstMiss) {
          firstMiss = scores.getLoc();
          firstReason = reason;
        }
        ++misses;
        continue;
      }
      // The remark goes where the context product was.
      Location at = chain->context->getLoc();
      FailureOr<AttentionOp> attention = fuse(rewriter, *chain, reason, erased);
      // Batch and heads apart, as the operands were made: a plan can then
      // split the heads (tensor parallelism) apart from the batch.
      if (succeeded(attention))
        if (std::optional<SmallVector<int64_t>> batch =
                getMergedBatch(*attention))
          attention = cast<AttentionOp>(
              reshapeAttentionBatch(rewriter, *attention, *batch)
                  .getOperation());
      if (failed(attention)) {
        if (report)
          emitRemark(at) << "autopar-fuse-attention: no attention formed: "
                         << reason;
        if (!firstMiss) {
          firstMiss = scores.getLoc();
          firstReason = reason;
        }
        ++misses;
        continue;
      }
      if (report)
        emitRemark(at) << "autopar-fuse-attention: attention formed (scale "
                       << attention->getScaleValue()
                       << (attention->getMaskedAttr() ? ", masked" : "") << ")";
    }
    if (misses > 0 && !report)
      emitWarning(*firstMiss)
          << "autopar-fuse-attention: " << misses
          << " softmax-attention chain(s) not fused, so their training "
             "steps keep the B x I x J probabilities; here: "
          << firstReason << " (report=1 lists each)";
  }
};

} // namespace
