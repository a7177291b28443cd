//===- AutoparOps.cpp - autopar operations --------------------------------===//
//
// Verifiers and custom syntax of the autopar ops. The shape arithmetic of
// every collective lives in its `verifyShapes`.
//
//===----------------------------------------------------------------------===//

#include "autopar/Dialect/AutoparOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/OpImplementation.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "llvm/ADT/SmallSet.h"
#include "llvm/ADT/StringSet.h"
#include <cmath>

using namespace mlir;
using namespace mlir::autopar;

//===----------------------------------------------------------------------===//
// Custom directives
//===----------------------------------------------------------------------===//

namespace mlir::autopar {
static void printAxisList(OpAsmPrinter &printer, Operation *, ArrayAttr axes) {
  printAxisList(printer, axes);
}

/// The type of an op's tensor result, or of its `into` buffer when it has
/// one: `needsInto` and `notMemref` say which is missing or wrong.
static ParseResult
parseResultOrBufferType(OpAsmParser &parser,
                        std::optional<OpAsmParser::UnresolvedOperand> output,
                        Type &outputType, Type &resultType, StringRef needsInto,
                        StringRef notMemref) {
  SMLoc loc = parser.getCurrentLocation();
  Type type;
  if (parser.parseType(type))
    return failure();
  bool isBuffer = isa<MemRefType>(type);
  if (isBuffer && !output)
    return parser.emitError(loc) << needsInto << type;
  if (!isBuffer && output)
    return parser.emitError(loc) << notMemref << type;
  (isBuffer ? outputType : resultType) = type;
  return success();
}

static void printResultOrBufferType(OpAsmPrinter &printer, Type outputType,
                                    Type resultType) {
  printer << (outputType ? outputType : resultType);
}

/// `: tensor<..> -> tensor<..>` (result) or `: memref<..> -> memref<..>`
/// (the `into` buffer): the type after the arrow goes to the result in the
/// tensor form and to the output operand in the buffer form.
static ParseResult
parseCollectiveResultType(OpAsmParser &parser,
                          std::optional<OpAsmParser::UnresolvedOperand> output,
                          Type &outputType, Type &resultType) {
  return parseResultOrBufferType(
      parser, output, outputType, resultType,
      "a collective on buffers needs an 'into' operand for its result ",
      "the 'into' operand of a collective must be a memref, got ");
}

static void printCollectiveResultType(OpAsmPrinter &printer, Operation *, Value,
                                      Type outputType, Type resultType) {
  printResultOrBufferType(printer, outputType, resultType);
}

/// A recv's type: the result's (tensor form) or the `into` buffer's.
static ParseResult
parseRecvType(OpAsmParser &parser,
              std::optional<OpAsmParser::UnresolvedOperand> output,
              Type &outputType, Type &resultType) {
  return parseResultOrBufferType(
      parser, output, outputType, resultType,
      "a recv into a buffer needs an 'into' operand, got ",
      "the 'into' operand of a recv must be a memref, got ");
}

static void printRecvType(OpAsmPrinter &printer, Operation *, Value,
                          Type outputType, Type resultType) {
  printResultOrBufferType(printer, outputType, resultType);
}

/// `[0 -> 1, 1 -> 2]`, stored flat as [0, 1, 1, 2].
static ParseResult parsePairs(OpAsmParser &parser, DenseI64ArrayAttr &pairs) {
  SmallVector<int64_t> flat;
  if (parser.parseCommaSeparatedList(AsmParser::Delimiter::Square, [&] {
        int64_t source = 0, target = 0;
        if (parser.parseInteger(source) || parser.parseArrow() ||
            parser.parseInteger(target))
          return failure();
        flat.push_back(source);
        flat.push_back(target);
        return success();
      }))
    return failure();
  pairs = parser.getBuilder().getDenseI64ArrayAttr(flat);
  return success();
}

static void printPairs(OpAsmPrinter &printer, Operation *,
                       DenseI64ArrayAttr pairs) {
  ArrayRef<int64_t> flat = pairs.asArrayRef();
  printer << '[';
  for (size_t i = 0; i + 1 < flat.size(); i += 2) {
    if (i)
      printer << ", ";
    printer << flat[i] << " -> " << flat[i + 1];
  }
  printer << ']';
}
} // namespace mlir::autopar

#include "autopar/Dialect/AutoparInterfaces.cpp.inc"

#define GET_OP_CLASSES
#include "autopar/Dialect/AutoparOps.cpp.inc"

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

StageStep mlir::autopar::getStageStep(ModuleOp module, int64_t stage) {
  StageStep step;
  if (auto attr = module->getAttrOfType<DictionaryAttr>(
          AutoparDialect::kStepAttrName)) {
    if (auto zero = attr.getAs<IntegerAttr>("zero"))
      step.zero = zero.getInt();
    if (auto recompute = attr.getAs<StringAttr>("recompute"))
      step.recompute = recompute.getValue();
  }
  auto pipeline =
      module->getAttrOfType<DictionaryAttr>(AutoparDialect::kPipelineAttrName);
  if (!pipeline || stage < 0)
    return step;
  // The verifier checked that each holds one entry per stage.
  if (auto zeros = pipeline.getAs<DenseI64ArrayAttr>("zero");
      zeros && stage < zeros.size())
    step.zero = zeros[stage];
  if (auto recomputes = pipeline.getAs<ArrayAttr>("recompute");
      recomputes && stage < static_cast<int64_t>(recomputes.size()))
    if (auto kind = dyn_cast<StringAttr>(recomputes[stage]))
      step.recompute = kind.getValue();
  return step;
}

MeshAttr mlir::autopar::lookupMesh(Operation *from, FlatSymbolRefAttr meshRef,
                                   SymbolTableCollection *symbolTables) {
  Operation *symbol =
      symbolTables
          ? symbolTables->lookupNearestSymbolFrom(from, meshRef.getAttr())
          : SymbolTable::lookupNearestSymbolFrom(from, meshRef.getAttr());
  if (!symbol) {
    from->emitError() << "no mesh named " << meshRef
                      << " (declare it with autopar.mesh)";
    return {};
  }
  auto meshOp = dyn_cast<MeshOp>(symbol);
  if (!meshOp) {
    InFlightDiagnostic diag = from->emitError()
                              << meshRef << " is not an autopar.mesh";
    diag.attachNote(symbol->getLoc()) << "symbol defined here";
    return {};
  }
  return meshOp.getMesh();
}

/// Checks that `axes` is a non-empty list of distinct names.
static LogicalResult verifyAxisNames(Operation *op, ArrayAttr axes) {
  if (axes.empty())
    return op->emitOpError("needs at least one mesh axis");
  llvm::StringSet<> seen;
  for (Attribute axis : axes) {
    StringRef name = cast<StringAttr>(axis).getValue();
    if (!seen.insert(name).second)
      return op->emitOpError() << "lists mesh axis '" << name << "' twice";
  }
  return success();
}

/// Resolves `axes` on the op's mesh; returns the group size (the product of
/// the axes' sizes), or failure with a diagnostic.
static FailureOr<int64_t> resolveGroup(Operation *op, FlatSymbolRefAttr meshRef,
                                       ArrayAttr axes, MeshAttr &mesh,
                                       SymbolTableCollection &symbolTables) {
  mesh = lookupMesh(op, meshRef, &symbolTables);
  if (!mesh)
    return failure();
  int64_t groupSize = 1;
  for (Attribute axis : axes) {
    StringRef name = cast<StringAttr>(axis).getValue();
    if (!mesh.getAxisIndex(name))
      return op->emitOpError() << "refers to axis '" << name << "' that mesh "
                               << meshRef << " does not have";
    groupSize *= mesh.getAxisSize(name);
  }
  return groupSize;
}

//===----------------------------------------------------------------------===//
// ShardOp, DeviceCoordOp
//===----------------------------------------------------------------------===//

LogicalResult ShardOp::verifySymbolUses(SymbolTableCollection &symbolTables) {
  MeshAttr mesh = lookupMesh(*this, getSharding().getMesh(), &symbolTables);
  if (!mesh)
    return failure();
  return getSharding().verifyFor(getInput().getType(), mesh,
                                 [&] { return emitOpError(); });
}

LogicalResult ScatterAddOp::verify() {
  auto updates = getUpdates().getType();
  auto indices = getIndices().getType();
  auto dest = getDest().getType();
  if (!isa<IntegerType, IndexType>(indices.getElementType()))
    return emitOpError() << "indices must be integers or indices, not "
                         << indices.getElementType();
  if (updates.getElementType() != dest.getElementType())
    return emitOpError() << "updates of " << updates.getElementType()
                         << " cannot be added to a tensor of "
                         << dest.getElementType();
  if (dest.getRank() < 1)
    return emitOpError() << "the destination must have rows (rank >= 1)";
  SmallVector<int64_t> expected(indices.getShape());
  llvm::append_range(expected, dest.getShape().drop_front());
  if (updates.getShape() != ArrayRef<int64_t>(expected))
    return emitOpError() << "updates " << updates
                         << " must have the shape of the indices followed by "
                            "a row of the destination: "
                         << RankedTensorType::get(expected,
                                                  updates.getElementType());
  return success();
}

//===----------------------------------------------------------------------===//
// AttentionOp
//===----------------------------------------------------------------------===//

/// Whether the sizes of a.dimA and b.dimB agree where both are static.
static LogicalResult agreeSizes(Operation *op, RankedTensorType a, int64_t dimA,
                                RankedTensorType b, int64_t dimB,
                                StringRef what) {
  int64_t x = a.getDimSize(dimA), y = b.getDimSize(dimB);
  if (!ShapedType::isDynamic(x) && !ShapedType::isDynamic(y) && x != y)
    return op->emitOpError() << what << " sizes differ: " << x << " and " << y;
  return success();
}

/// Whether the leading batch dimensions of `others` agree with the
/// query's (all but its last two).
static LogicalResult agreeBatch(Operation *op, RankedTensorType query,
                                ArrayRef<RankedTensorType> others) {
  for (RankedTensorType other : others)
    for (int64_t dim = 0; dim + 2 < query.getRank(); ++dim)
      if (failed(agreeSizes(op, query, dim, other, dim, "batch")))
        return failure();
  return success();
}

LogicalResult mlir::autopar::detail::verifyAttentionOp(Operation *op) {
  auto attention = cast<AttentionOpInterface>(op);
  RankedTensorType query = attention.getQuery().getType(),
                   key = attention.getKey().getType(),
                   value = attention.getValue().getType();
  int64_t rank = query.getRank();
  for (RankedTensorType type : {query, key, value})
    if (type.getRank() < 3 || type.getRank() != rank)
      return op->emitOpError()
             << "query, key and value must have one rank of at least 3 "
                "([batch..., rows, columns]), got "
             << type;
  Type element = query.getElementType();
  if (!isa<FloatType>(element) || key.getElementType() != element ||
      value.getElementType() != element)
    return op->emitOpError() << "query, key and value must have one "
                                "floating-point element type";
  if (failed(agreeBatch(op, query, {key, value})))
    return failure();
  if (failed(agreeSizes(op, query, rank - 1, key, rank - 2,
                        "query and key depth")) ||
      failed(
          agreeSizes(op, key, rank - 1, value, rank - 2, "key and value row")))
    return failure();
  OperandRange maskInputs = attention.getMaskInputs();
  if (!attention.hasMask()) {
    if (attention.getMaskedValue())
      return op->emitOpError() << "has a masked value but no mask";
    if (!maskInputs.empty())
      return op->emitOpError() << "reads mask inputs but has no mask";
    if (attention.isAdditiveMask())
      return op->emitOpError() << "has an additive mask but no mask";
    return success();
  }
  if (!attention.getMaskedValue())
    return op->emitOpError() << "has a mask but no masked value";
  Region &mask = attention.getMaskRegion();
  if (!mask.hasOneBlock())
    return op->emitOpError() << "mask must have one block";
  Block &block = mask.front();
  ValueRange arguments = block.getArguments();
  if (arguments.size() != 3 + maskInputs.size() ||
      !llvm::all_of(arguments.take_front(3).getTypes(),
                    [](Type type) { return type.isIndex(); }) ||
      arguments.drop_front(3).getTypes() != maskInputs.getTypes())
    return op->emitOpError()
           << "mask block must take three indices (batch, query row, key "
              "row) and then each mask input, of its type";
  auto yield = dyn_cast<YieldOp>(block.getTerminator());
  if (!yield || yield.getValues().size() != 1 ||
      !yield.getValues()[0].getType().isInteger(1))
    return op->emitOpError() << "mask must yield one i1";
  for (Operation &inner : block.without_terminator())
    if (inner.getNumRegions() != 0 || !isMemoryEffectFree(&inner))
      return inner.emitOpError()
             << "in an attention mask must be free of memory effects and "
                "regions";
  return success();
}

/// The attention's output [B, I, E] and lse [B, I] against its operands.
static LogicalResult verifyOutputAndLse(AttentionOpInterface attention,
                                        RankedTensorType output,
                                        RankedTensorType lse) {
  Operation *op = attention;
  RankedTensorType query = attention.getQuery().getType(),
                   value = attention.getValue().getType();
  int64_t rank = query.getRank();
  if (output.getRank() != rank)
    return op->emitOpError() << "output must be rank " << rank
                             << " ([batch..., rows, columns]), got " << output;
  if (lse.getRank() != rank - 1)
    return op->emitOpError() << "lse must be rank " << rank - 1
                             << " ([batch..., query rows]), got " << lse;
  if (output.getElementType() != query.getElementType())
    return op->emitOpError() << "output must have the query's element type";
  if (!isa<FloatType>(lse.getElementType()))
    return op->emitOpError() << "lse must have a floating-point element type";
  if (failed(agreeBatch(op, query, {output, lse})))
    return failure();
  if (failed(agreeSizes(op, query, rank - 2, output, rank - 2,
                        "query and output row")) ||
      failed(agreeSizes(op, query, rank - 2, lse, rank - 2,
                        "query and lse row")) ||
      failed(agreeSizes(op, value, rank - 1, output, rank - 1,
                        "value and output column")))
    return failure();
  return success();
}

LogicalResult AttentionOp::verify() {
  if (failed(verifyOutputAndLse(*this, getOutput().getType(),
                                getLseInit().getType())))
    return failure();
  if (getResult().getType() != getOutput().getType() ||
      getLse().getType() != getLseInit().getType())
    return emitOpError() << "results must have the types of the outs";
  return success();
}

LogicalResult AttentionGradOp::verify() {
  if (failed(
          verifyOutputAndLse(*this, getOutput().getType(), getLse().getType())))
    return failure();
  if (getOutputGrad().getType() != getOutput().getType() ||
      getLseGrad().getType() != getLse().getType())
    return emitOpError() << "the adjoints must have the types of output and "
                            "lse";
  if (getQueryGradInit().getType() != getQuery().getType() ||
      getKeyGradInit().getType() != getKey().getType() ||
      getValueGradInit().getType() != getValue().getType())
    return emitOpError() << "the outs must have the types of query, key and "
                            "value";
  if (getQueryGrad().getType() != getQueryGradInit().getType() ||
      getKeyGrad().getType() != getKeyGradInit().getType() ||
      getValueGrad().getType() != getValueGradInit().getType())
    return emitOpError() << "results must have the types of the outs";
  return success();
}

/// `value`, whose first `fromRank` dimensions are a batch, with that batch
/// as the dimensions `to` (of the same product): a collapse or an
/// expansion of the leading group (both, through [B], when neither shape
/// refines the other); `value` itself when it has them.
static Value reshapeBatch(OpBuilder &b, Location loc, Value value,
                          unsigned fromRank, ArrayRef<int64_t> to,
                          SmallVectorImpl<Operation *> &created) {
  auto type = cast<RankedTensorType>(value.getType());
  ArrayRef<int64_t> shape = type.getShape();
  if (shape.take_front(fromRank) == to)
    return value;
  if (fromRank > 1 && to.size() > 1) {
    int64_t batch = 1;
    for (int64_t size : to)
      batch *= size;
    Value merged = reshapeBatch(b, loc, value, fromRank, {batch}, created);
    return reshapeBatch(b, loc, merged, 1, to, created);
  }
  unsigned wide = std::max<unsigned>(fromRank, to.size());
  SmallVector<ReassociationIndices> groups;
  groups.push_back(llvm::to_vector(llvm::seq<int64_t>(0, wide)));
  for (unsigned dim = fromRank; dim < shape.size(); ++dim)
    groups.push_back({static_cast<int64_t>(wide + dim - fromRank)});
  SmallVector<int64_t> newShape(to);
  llvm::append_range(newShape, shape.drop_front(fromRank));
  auto newType = type.clone(newShape);
  // An empty tensor (an out), or one filled with a constant (a zero
  // adjoint), is made in the new shape.
  if (newType.hasStaticShape()) {
    if (value.getDefiningOp<tensor::EmptyOp>())
      return tensor::EmptyOp::create(b, loc, newShape, type.getElementType());
    auto fill = value.getDefiningOp<linalg::FillOp>();
    if (fill && fill.getOutputs()[0].getDefiningOp<tensor::EmptyOp>()) {
      Value empty =
          tensor::EmptyOp::create(b, loc, newShape, type.getElementType());
      return linalg::FillOp::create(b, loc, fill.getInputs()[0], empty)
          .getResult(0);
    }
  }
  Operation *reshape =
      to.size() < fromRank
          ? tensor::CollapseShapeOp::create(b, loc, newType, value, groups)
                .getOperation()
          : tensor::ExpandShapeOp::create(b, loc, newType, value, groups)
                .getOperation();
  created.push_back(reshape);
  return reshape->getResult(0);
}

/// A clone of `op` (at the builder's insertion point) whose batch is
/// `batchShape`: its batch-carrying operands reshaped (reshapeBatch), its
/// results of its outs' types (destination style).
static Operation *cloneWithBatch(OpBuilder &b, AttentionOpInterface op,
                                 ArrayRef<int64_t> batchShape,
                                 SmallVectorImpl<Operation *> &created) {
  IRMapping mapping;
  for (OpOperand &operand : op->getOpOperands())
    if (isa<RankedTensorType>(operand.get().getType()) &&
        !op.isMaskInput(operand))
      mapping.map(operand.get(),
                  reshapeBatch(b, op->getLoc(), operand.get(),
                               op.getBatchRank(), batchShape, created));
  Operation *clone = b.clone(*op, mapping);
  auto destination = cast<DestinationStyleOpInterface>(clone);
  for (OpResult result : clone->getResults())
    result.setType(destination.getDpsInitOperand(result.getResultNumber())
                       ->get()
                       .getType());
  return clone;
}

AttentionOpInterface
mlir::autopar::reshapeAttentionBatch(RewriterBase &rewriter,
                                     AttentionOpInterface op,
                                     ArrayRef<int64_t> batchShape) {
  if (op.getBatchShape() == batchShape)
    return op;
  OpBuilder::InsertionGuard guard(rewriter);
  rewriter.setInsertionPoint(op);
  Location loc = op->getLoc();
  SmallVector<Operation *> created;
  Operation *reshaped = cloneWithBatch(rewriter, op, batchShape, created);
  rewriter.setInsertionPointAfter(reshaped);
  SmallVector<Value> back;
  for (OpResult result : reshaped->getResults())
    back.push_back(reshapeBatch(rewriter, loc, result, batchShape.size(),
                                op.getBatchShape(), created));
  rewriter.replaceOp(op, back);
  // Compose the new reshapes with their neighbours: the collapse that made
  // an operand, the expansion that reads a result.
  SmallVector<Operation *> reshapes;
  auto isReshape = [](Operation *candidate) {
    return isa_and_nonnull<tensor::CollapseShapeOp, tensor::ExpandShapeOp>(
        candidate);
  };
  for (Operation *reshape : created) {
    reshapes.push_back(reshape);
    if (Operation *def = reshape->getOperand(0).getDefiningOp();
        isReshape(def) && !llvm::is_contained(reshapes, def))
      reshapes.push_back(def);
    for (Operation *user : reshape->getUsers())
      if (isReshape(user) && !llvm::is_contained(reshapes, user))
        reshapes.push_back(user);
  }
  RewritePatternSet patterns(op->getContext());
  tensor::CollapseShapeOp::getCanonicalizationPatterns(patterns,
                                                       op->getContext());
  tensor::ExpandShapeOp::getCanonicalizationPatterns(patterns,
                                                     op->getContext());
  GreedyRewriteConfig config;
  config.setStrictness(GreedyRewriteStrictness::ExistingOps);
  (void)applyOpPatternsGreedily(reshapes, std::move(patterns), config);
  return cast<AttentionOpInterface>(reshaped);
}

AttentionOpInterface
mlir::autopar::mergeAttentionBatch(RewriterBase &rewriter,
                                   AttentionOpInterface op) {
  int64_t batch = op.getLoopSizes()[0];
  if (op.getBatchRank() == 1 || ShapedType::isDynamic(batch))
    return op;
  return reshapeAttentionBatch(rewriter, op, {batch});
}

Value mlir::autopar::buildFilled(OpBuilder &b, Location loc,
                                 RankedTensorType type, double value) {
  Type element = type.getElementType();
  TypedAttr scalar =
      isa<FloatType>(element)
          ? TypedAttr(b.getFloatAttr(element, value))
          : TypedAttr(b.getIntegerAttr(element, static_cast<int64_t>(value)));
  Value constant = arith::ConstantOp::create(b, loc, scalar);
  Value empty = tensor::EmptyOp::create(b, loc, type.getShape(), element);
  return linalg::FillOp::create(b, loc, constant, empty).getResult(0);
}

/// (b, i, j) -> (b, i): a row's value over [B, I, J].
static AffineMap getRowMap(MLIRContext *context) {
  return AffineMap::get(
      3, 0, {getAffineDimExpr(0, context), getAffineDimExpr(1, context)},
      context);
}

Value mlir::autopar::buildAttentionMask(OpBuilder &b, Location loc,
                                        AttentionOpInterface op) {
  if (!op.hasMask())
    return {};
  Block &mask = op.getMaskRegion().front();
  IRMapping mapping;
  for (unsigned dim = 0; dim < 3; ++dim)
    mapping.map(mask.getArgument(dim), linalg::IndexOp::create(b, loc, dim));
  // The inputs are read whole, from above the generic.
  for (auto [argument, input] :
       llvm::zip_equal(mask.getArguments().drop_front(3), op.getMaskInputs()))
    mapping.map(argument, input);
  for (Operation &inner : mask.without_terminator())
    b.clone(inner, mapping);
  return mapping.lookupOrDefault(mask.getTerminator()->getOperand(0));
}

/// The masked value `value` in `element`: a finite value beyond the type's
/// range (f32's lowest in bf16, -1e30 in f16) becomes its lowest finite
/// value, not -inf, so that a row masked everywhere stays uniform as it
/// was, not NaN.
static FloatAttr getHeldMaskedAttr(OpBuilder &b, Type element, double value) {
  auto floatType = cast<FloatType>(element);
  APFloat converted(value);
  bool lost = false;
  converted.convert(floatType.getFloatSemantics(), APFloat::rmNearestTiesToEven,
                    &lost);
  if (converted.isInfinity() && std::isfinite(value))
    converted = APFloat::getLargest(floatType.getFloatSemantics(),
                                    /*Negative=*/value < 0);
  return b.getFloatAttr(element, converted);
}

Type mlir::autopar::getAttentionAccumulatorType(AttentionOpInterface op) {
  Type element = op.getQuery().getType().getElementType();
  if (element.getIntOrFloatBitWidth() >= 32)
    return element;
  return Float32Type::get(op->getContext());
}

/// `value` with index casts looked through (to and from integers of at
/// least 32 bits, which hold any row index exactly).
static Value skipIndexCasts(Value value) {
  auto isNarrow = [](Type type) {
    return type.isInteger() && type.getIntOrFloatBitWidth() < 32;
  };
  while (Operation *def = value.getDefiningOp()) {
    if (!isa<arith::IndexCastOp, arith::IndexCastUIOp>(def) ||
        isNarrow(def->getOperand(0).getType()) ||
        isNarrow(def->getResult(0).getType()))
      break;
    value = def->getOperand(0);
  }
  return value;
}

/// The query rows of each stack `op`'s causal mask restarts at, when its
/// mask region is one: one comparison yielded, of key j above row i
/// (j > i, or i < j: all I rows one stack), or above the row's position
/// in its stack (j > i mod S: rows stacked S at a time, the query heads
/// that share one key-value head; also (i + k S) mod S, a device's share
/// of whole stacks), or above the row offset by an index computed outside
/// the region (j > i + r: a device's query rows when they are split, r its
/// first row; all I rows one stack), returned beside; also (i + r) mod S
/// with I dividing S and r a multiple of I (a device's share of one stack
/// of S rows: the offset r mod S). Also as PyTorch
/// exports write it: the negation of j <= i (`xori` with true) on indices
/// cast to i64.
namespace {
/// A causal mask's stacks of query rows and their offset (getCausalStackRows).
struct CausalRows {
  int64_t stackRows;
  Value rowOffset;
  int64_t offsetModulus = 0;
};
} // namespace

static std::optional<CausalRows> getCausalStackRows(AttentionOpInterface op) {
  Block &block = op.getMaskRegion().front();
  if (block.getNumArguments() != 3)
    return std::nullopt;
  auto yield = cast<YieldOp>(block.getTerminator());
  if (yield.getValues().size() != 1)
    return std::nullopt;
  Value predicate = yield.getValues()[0];
  auto negation = predicate.getDefiningOp<arith::XOrIOp>();
  if (negation) {
    if (matchPattern(negation.getRhs(), m_One()))
      predicate = negation.getLhs();
    else if (matchPattern(negation.getLhs(), m_One()))
      predicate = negation.getRhs();
    else
      return std::nullopt;
  }
  auto compare = predicate.getDefiningOp<arith::CmpIOp>();
  if (!compare || compare->getBlock() != &block)
    return std::nullopt;
  Value row = block.getArgument(1), key = block.getArgument(2);
  int64_t rows = op.getLoopSizes()[1];
  // Whether `value` is a multiple of `stack`: a product with a constant
  // multiple of it (a device's first row when the stacks are split over
  // devices: its index times its rows).
  auto isMultipleOf = [](Value value, int64_t stack) {
    APInt constant;
    if (matchPattern(value, m_ConstantInt(&constant)))
      return constant.getSExtValue() % stack == 0;
    auto product = value.getDefiningOp<arith::MulIOp>();
    if (!product)
      return false;
    return llvm::any_of(product->getOperands(), [&](Value factor) {
      return matchPattern(factor, m_ConstantInt(&constant)) &&
             constant.getSExtValue() % stack == 0;
    });
  };
  // The row's position: i itself, i + r (r an index from outside), or
  // i mod S (S dividing I), also as (i + a multiple of S) mod S, or as
  // (i + r) mod S (I dividing S, r a multiple of I from outside: i + r mod
  // S, as no share of I rows crosses a stack's end).
  Value rowOffset;
  int64_t offsetModulus = 0;
  auto isFromOutside = [&](Value value) {
    return value && value.getType().isIndex() &&
           !op.getMaskRegion().isAncestor(value.getParentRegion());
  };
  // What `value` adds to the row, where it is row + that (or that + row).
  auto addendOf = [&](Value value) -> Value {
    auto sum = value.getDefiningOp<arith::AddIOp>();
    if (!sum)
      return Value();
    if (sum.getLhs() == row)
      return sum.getRhs();
    return sum.getRhs() == row ? sum.getLhs() : Value();
  };
  auto position = [&](Value value) -> std::optional<int64_t> {
    value = skipIndexCasts(value);
    if (value == row)
      return rows;
    if (Value other = addendOf(value); isFromOutside(other)) {
      rowOffset = other;
      return rows;
    }
    Operation *rem = value.getDefiningOp();
    APInt constant;
    if (!rem || !isa<arith::RemUIOp, arith::RemSIOp>(rem) ||
        !matchPattern(rem->getOperand(1), m_ConstantInt(&constant)))
      return std::nullopt;
    int64_t stack = constant.getSExtValue();
    if (stack <= 0)
      return std::nullopt;
    Value dividend = skipIndexCasts(rem->getOperand(0));
    Value other = addendOf(dividend);
    if (rows % stack != 0) {
      if (stack % rows != 0 || !isFromOutside(other) ||
          !isMultipleOf(other, rows))
        return std::nullopt;
      rowOffset = other;
      offsetModulus = stack;
      return rows;
    }
    if (other && isMultipleOf(other, stack))
      dividend = row;
    if (dividend != row)
      return std::nullopt;
    return stack;
  };
  // Nothing else computed in the region.
  for (Operation &nested : block.without_terminator())
    if (&nested != compare.getOperation() && &nested != negation &&
        !isa<arith::RemUIOp, arith::RemSIOp, arith::AddIOp, arith::ConstantOp,
             arith::IndexCastOp, arith::IndexCastUIOp>(nested))
      return std::nullopt;
  arith::CmpIPredicate kind = compare.getPredicate();
  if (negation)
    kind = arith::invertPredicate(kind);
  Value lhs = skipIndexCasts(compare.getLhs());
  Value rhs = skipIndexCasts(compare.getRhs());
  std::optional<int64_t> stack;
  if (lhs == key &&
      (kind == arith::CmpIPredicate::ugt || kind == arith::CmpIPredicate::sgt))
    stack = position(compare.getRhs());
  else if (rhs == key && (kind == arith::CmpIPredicate::ult ||
                          kind == arith::CmpIPredicate::slt))
    stack = position(compare.getLhs());
  if (!stack)
    return std::nullopt;
  return CausalRows{*stack, rowOffset, offsetModulus};
}

std::optional<FusedAttentionForm>
mlir::autopar::getFusedAttentionForm(AttentionOpInterface op, Type computeAs) {
  // Largest head dimension cuDNN's fused attention takes (Hopper).
  constexpr int64_t kMaxHeadDim = 256;
  SmallVector<Value, 5> sixteenBit = {op.getQuery(), op.getKey(),
                                      op.getValue()};
  Value lse;
  if (auto attention = dyn_cast<AttentionOp>(op.getOperation())) {
    sixteenBit.push_back(attention.getResult());
    lse = attention.getLse();
  } else if (auto grad = dyn_cast<AttentionGradOp>(op.getOperation())) {
    Value lseGrad = grad.getLseGrad();
    if (!isZeroFilled(lseGrad) && !matchPattern(lseGrad, m_AnyZeroFloat()))
      return std::nullopt;
    sixteenBit.append({grad.getOutput(), grad.getOutputGrad()});
    lse = grad.getLse();
  } else {
    return std::nullopt;
  }
  FusedAttentionForm form;
  for (Value value : sixteenBit) {
    auto type = dyn_cast<RankedTensorType>(value.getType());
    if (!type || !type.hasStaticShape())
      return std::nullopt;
    Type element = type.getElementType();
    if (computeAs && isa<FloatType>(element) &&
        element.getIntOrFloatBitWidth() > 16)
      element = computeAs;
    if (!element.isF16() && !element.isBF16())
      return std::nullopt;
    if (form.element && form.element != element)
      return std::nullopt;
    form.element = element;
  }
  auto lseType = dyn_cast<RankedTensorType>(lse.getType());
  if (!lseType || !lseType.getElementType().isF32())
    return std::nullopt;
  // Query [B, I, D], value [B, J, E].
  SmallVector<int64_t, 5> loops = op.getLoopSizes();
  for (int64_t size : {loops[3], loops[4]})
    if (size % 8 != 0 || size > kMaxHeadDim)
      return std::nullopt;
  if (!op.hasMask())
    return form;
  // An additive mask of a huge negative value is the replacing one where
  // no row is masked everywhere, which a causal mask never does (its
  // diagonal stays): PyTorch's additive causal masks.
  std::optional<double> masked = op.getMaskedValue();
  if (!op.getMaskInputs().empty() || !masked || *masked > -kHugeMaskedValue)
    return std::nullopt;
  std::optional<CausalRows> causal = getCausalStackRows(op);
  if (!causal)
    return std::nullopt;
  form.causal = true;
  form.stacks = loops[1] / causal->stackRows;
  form.rowOffset = causal->rowOffset;
  form.rowOffsetModulus = causal->offsetModulus;
  return form;
}

Value mlir::autopar::buildAttentionScores(OpBuilder &b, Location loc,
                                          AttentionOpInterface op) {
  RankedTensorType query = op.getQuery().getType();
  RankedTensorType key = op.getKey().getType();
  Type accumulator = getAttentionAccumulatorType(op);
  auto scoresType = RankedTensorType::get(
      {query.getDimSize(0), query.getDimSize(1), key.getDimSize(2)},
      accumulator);
  Value filled = buildFilled(b, loc, scoresType, 0.0);
  Value scores = linalg::BatchMatmulOp::create(
                     b, loc, TypeRange{scoresType},
                     ValueRange{op.getQuery(), op.getKey()}, ValueRange{filled})
                     .getResult(0);
  double scale = op.getScaleValue();
  if (scale == 1.0 && !op.hasMask())
    return scores;
  AffineMap identity = b.getMultiDimIdentityMap(3);
  SmallVector<utils::IteratorType> parallel(3, utils::IteratorType::parallel);
  Value out =
      tensor::EmptyOp::create(b, loc, scoresType.getShape(), accumulator);
  return linalg::GenericOp::create(
             b, loc, TypeRange{scoresType}, ValueRange{scores}, ValueRange{out},
             ArrayRef<AffineMap>{identity, identity}, parallel,
             [&](OpBuilder &nb, Location nl, ValueRange args) {
               Value score = args[0];
               if (scale != 1.0)
                 score = arith::MulFOp::create(
                     nb, nl, score,
                     arith::ConstantOp::create(
                         nb, nl, nb.getFloatAttr(accumulator, scale)));
               if (Value masked = buildAttentionMask(nb, nl, op)) {
                 Value fill = arith::ConstantOp::create(
                     nb, nl,
                     getHeldMaskedAttr(nb, accumulator, *op.getMaskedValue()));
                 if (op.isAdditiveMask())
                   fill = arith::AddFOp::create(nb, nl, score, fill);
                 score = arith::SelectOp::create(nb, nl, masked, fill, score);
               }
               linalg::YieldOp::create(nb, nl, score);
             })
      .getResult(0);
}

/// A row reduction of `input` ([B, I, J] -> [B, I]) from `init` combining
/// with `combine`, accumulated in `accumulator` (the input widened to it).
static Value
reduceRows(OpBuilder &b, Location loc, Value input, double init,
           Type accumulator,
           function_ref<Value(OpBuilder &, Location, Value, Value)> combine) {
  auto type = cast<RankedTensorType>(input.getType());
  auto rowType =
      RankedTensorType::get(type.getShape().take_front(2), accumulator);
  Value filled = buildFilled(b, loc, rowType, init);
  MLIRContext *context = b.getContext();
  AffineMap identity = AffineMap::getMultiDimIdentityMap(3, context);
  AffineMap row = getRowMap(context);
  return linalg::GenericOp::create(
             b, loc, TypeRange{rowType}, ValueRange{input}, ValueRange{filled},
             ArrayRef<AffineMap>{identity, row},
             ArrayRef<utils::IteratorType>{utils::IteratorType::parallel,
                                           utils::IteratorType::parallel,
                                           utils::IteratorType::reduction},
             [&](OpBuilder &nb, Location nl, ValueRange args) {
               Value x = convertScalarToDtype(nb, nl, args[0], accumulator,
                                              /*isUnsignedCast=*/false);
               linalg::YieldOp::create(nb, nl, combine(nb, nl, x, args[1]));
             })
      .getResult(0);
}

/// `body(x[b, i, j], row[b, i])` over [B, I, J], of element type
/// `element`.
static Value
withRows(OpBuilder &b, Location loc, Value x, Value row, Type element,
         function_ref<Value(OpBuilder &, Location, Value, Value)> body) {
  auto type = cast<RankedTensorType>(x.getType()).clone(element);
  MLIRContext *context = b.getContext();
  AffineMap identity = AffineMap::getMultiDimIdentityMap(3, context);
  AffineMap rowMap = getRowMap(context);
  Value out =
      tensor::EmptyOp::create(b, loc, type.getShape(), type.getElementType());
  return linalg::GenericOp::create(
             b, loc, TypeRange{type}, ValueRange{x, row}, ValueRange{out},
             ArrayRef<AffineMap>{identity, rowMap, identity},
             SmallVector<utils::IteratorType>(3, utils::IteratorType::parallel),
             [&](OpBuilder &nb, Location nl, ValueRange args) {
               linalg::YieldOp::create(nb, nl, body(nb, nl, args[0], args[1]));
             })
      .getResult(0);
}

Value mlir::autopar::buildConverted(OpBuilder &b, Location loc, Value value,
                                    Type element) {
  auto type = cast<RankedTensorType>(value.getType());
  if (type.getElementType() == element)
    return value;
  auto result = type.clone(element);
  AffineMap identity = b.getMultiDimIdentityMap(type.getRank());
  Value out = tensor::EmptyOp::create(b, loc, type.getShape(), element);
  return linalg::GenericOp::create(
             b, loc, TypeRange{result}, ValueRange{value}, ValueRange{out},
             ArrayRef<AffineMap>{identity, identity},
             SmallVector<utils::IteratorType>(type.getRank(),
                                              utils::IteratorType::parallel),
             [&](OpBuilder &nb, Location nl, ValueRange args) {
               linalg::YieldOp::create(
                   nb, nl,
                   ValueRange{convertScalarToDtype(nb, nl, args[0], element,
                                                   /*isUnsignedCast=*/false)});
             })
      .getResult(0);
}

/// The decomposition of `op`, whose batch is several dimensions: that of a
/// clone with them merged, its values expanded back.
static FailureOr<SmallVector<Value>>
decomposeMergedBatch(OpBuilder &b, AttentionOpInterface op) {
  int64_t batch = op.getLoopSizes()[0];
  if (ShapedType::isDynamic(batch))
    return op->emitOpError() << "cannot merge a dynamic batch to decompose";
  Location loc = op->getLoc();
  SmallVector<Operation *> created;
  Operation *merged = cloneWithBatch(b, op, {batch}, created);
  FailureOr<SmallVector<Value>> values =
      cast<linalg::AggregatedOpInterface>(merged).decomposeOperation(b);
  merged->erase();
  if (failed(values))
    return failure();
  for (Value &value : *values)
    value = reshapeBatch(b, loc, value, 1, op.getBatchShape(), created);
  return values;
}

FailureOr<SmallVector<Value>> AttentionOp::decomposeOperation(OpBuilder &b) {
  Location loc = getLoc();
  if (getBatchRank() != 1)
    return decomposeMergedBatch(b, *this);
  RankedTensorType outputType = getOutput().getType();
  Type element = outputType.getElementType();
  Type accumulator = getAttentionAccumulatorType(*this);
  // Each step computes in the accumulator type and stores the queries'.
  auto widen = [&](OpBuilder &nb, Location nl, Value x) {
    return convertScalarToDtype(nb, nl, x, accumulator,
                                /*isUnsignedCast=*/false);
  };
  auto store = [&](OpBuilder &nb, Location nl, Value x) {
    return convertScalarToDtype(nb, nl, x, element, /*isUnsignedCast=*/false);
  };
  Value scores = buildAttentionScores(b, loc, *this);
  Value maxima = reduceRows(
      b, loc, scores, -std::numeric_limits<double>::infinity(), accumulator,
      [](OpBuilder &nb, Location nl, Value x, Value acc) -> Value {
        return arith::MaximumFOp::create(nb, nl, x, acc);
      });
  // The exponentials in the accumulator type too: fused into the sum and
  // the division (Analysis/Fusion.h), they are never stored.
  Value exps =
      withRows(b, loc, scores, maxima, accumulator,
               [&](OpBuilder &nb, Location nl, Value x, Value m) {
                 Value shifted =
                     arith::SubFOp::create(nb, nl, widen(nb, nl, x), m);
                 return math::ExpOp::create(nb, nl, shifted).getResult();
               });
  Value sums =
      reduceRows(b, loc, exps, 0.0, accumulator,
                 [](OpBuilder &nb, Location nl, Value x, Value acc) -> Value {
                   return arith::AddFOp::create(nb, nl, x, acc);
                 });
  Value probabilities = withRows(
      b, loc, exps, sums, element,
      [&](OpBuilder &nb, Location nl, Value x, Value s) {
        return store(nb, nl,
                     arith::DivFOp::create(nb, nl, widen(nb, nl, x), s));
      });
  // lse = max + log(sum), in lse's type; before the context's product, so
  // that a row kernel (autopar-row-kernels) computes it with the rows'
  // maximum and sum instead of a kernel of its own after the library call.
  RankedTensorType lseType = getLseInit().getType();
  MLIRContext *ctx = b.getContext();
  AffineMap rows = AffineMap::getMultiDimIdentityMap(2, ctx);
  Type lseElement = lseType.getElementType();
  Value lse =
      linalg::GenericOp::create(
          b, loc, TypeRange{lseType}, ValueRange{maxima, sums},
          ValueRange{getLseInit()}, ArrayRef<AffineMap>{rows, rows, rows},
          SmallVector<utils::IteratorType>(2, utils::IteratorType::parallel),
          [&](OpBuilder &nb, Location nl, ValueRange args) {
            Value m = convertScalarToDtype(nb, nl, args[0], lseElement,
                                           /*isUnsignedCast=*/false);
            Value s = convertScalarToDtype(nb, nl, args[1], lseElement,
                                           /*isUnsignedCast=*/false);
            Value log = math::LogOp::create(nb, nl, s);
            linalg::YieldOp::create(
                nb, nl, ValueRange{arith::AddFOp::create(nb, nl, m, log)});
          })
          .getResult(0);
  // The context accumulated in the accumulator type, then rounded.
  auto accumulatorType = outputType.clone(accumulator);
  Value filled = buildFilled(b, loc, accumulatorType, 0.0);
  Value context = linalg::BatchMatmulOp::create(
                      b, loc, TypeRange{accumulatorType},
                      ValueRange{probabilities, getValue()}, ValueRange{filled})
                      .getResult(0);
  context = buildConverted(b, loc, context, element);
  return SmallVector<Value>{context, lse};
}

/// How many of `extent` items, `itemBytes` each, one block takes within
/// `budgetBytes` (at least 1): the most that fit, or the largest divisor of
/// `extent` when it is more than half of that (equal blocks, no smaller
/// last one, at most twice the blocks); else the blocks are the most that
/// fit and the last takes what remains (a prime extent: not 1-item blocks).
static int64_t getLargestBlock(int64_t extent, int64_t itemBytes,
                               int64_t budgetBytes) {
  int64_t fitting =
      std::clamp<int64_t>(budgetBytes / std::max<int64_t>(itemBytes, 1), 1,
                          std::max<int64_t>(extent, 1));
  for (int64_t divisor = fitting; 2 * divisor > fitting; --divisor)
    if (extent % divisor == 0)
      return divisor;
  return fitting;
}

/// Bytes of one key's score in the largest score-sized buffer of `op`: the
/// product, in the accumulator type.
static int64_t getScoreBytes(AttentionOpInterface op) {
  Type element = getAttentionAccumulatorType(op);
  return std::max<int64_t>(1, element.getIntOrFloatBitWidth() / 8);
}

/// How many of loop `loop` (b or i) of `op` lowering computes at once, as
/// getLargestBlock chooses them from the bytes of the score-sized buffers
/// over the loops after it (up to j); all of it without a budget or with
/// dynamic sizes.
static int64_t getAttentionBlock(AttentionOpInterface op, unsigned loop,
                                 int64_t budgetBytes) {
  SmallVector<int64_t, 5> loops = op.getLoopSizes();
  if (budgetBytes <= 0 ||
      llvm::any_of(ArrayRef(loops).take_front(3), ShapedType::isDynamic))
    return loops[loop];
  int64_t itemBytes = getScoreBytes(op);
  for (unsigned inner = loop + 1; inner < 3; ++inner)
    itemBytes *= loops[inner];
  return getLargestBlock(loops[loop], itemBytes, budgetBytes);
}

int64_t mlir::autopar::getAttentionBatchBlock(AttentionOpInterface op,
                                              int64_t budgetBytes) {
  return getAttentionBlock(op, /*loop=*/0, budgetBytes);
}

int64_t mlir::autopar::getAttentionRowBlock(AttentionOpInterface op,
                                            int64_t budgetBytes) {
  return getAttentionBlock(op, /*loop=*/1, budgetBytes);
}

Value mlir::autopar::buildProductSum(OpBuilder &b, Location loc, Value lhs,
                                     Value rhs, RankedTensorType type,
                                     ArrayRef<AffineMap> maps,
                                     ArrayRef<utils::IteratorType> iterators) {
  Type element = type.getElementType();
  Value zeros = buildFilled(b, loc, type, 0.0);
  return linalg::GenericOp::create(
             b, loc, TypeRange{type}, ValueRange{lhs, rhs}, ValueRange{zeros},
             maps, iterators,
             [&](OpBuilder &nb, Location nl, ValueRange args) {
               auto widen = [&](Value x) {
                 return convertScalarToDtype(nb, nl, x, element,
                                             /*isUnsignedCast=*/false);
               };
               Value product = arith::MulFOp::create(nb, nl, widen(args[0]),
                                                     widen(args[1]));
               linalg::YieldOp::create(
                   nb, nl,
                   ValueRange{arith::AddFOp::create(nb, nl, args[2], product)});
             })
      .getResult(0);
}

FailureOr<SmallVector<Value>>
AttentionGradOp::decomposeOperation(OpBuilder &b) {
  if (getBatchRank() != 1)
    return decomposeMergedBatch(b, *this);
  return buildGradients(b, /*keysInAccumulator=*/false);
}

SmallVector<Value> AttentionGradOp::buildGradients(OpBuilder &b,
                                                   bool keysInAccumulator) {
  Location loc = getLoc();
  MLIRContext *context = b.getContext();
  RankedTensorType queryType = getQuery().getType();
  RankedTensorType keyType = getKey().getType();
  RankedTensorType valueType = getValue().getType();
  Type element = queryType.getElementType();
  auto dims = [&](std::initializer_list<unsigned> positions) {
    SmallVector<AffineExpr> exprs;
    for (unsigned position : positions)
      exprs.push_back(getAffineDimExpr(position, context));
    return AffineMap::get(4, 0, exprs, context);
  };
  // sum over loop 3 of lhs * rhs into a tensor of `shape` at (d0, d1, d2),
  // accumulated in the accumulator type, then rounded to the element type.
  auto contract = [&](Value lhs, AffineMap lhsMap, Value rhs, AffineMap rhsMap,
                      ArrayRef<int64_t> shape, bool round = true) {
    Value sum = buildProductSum(
        b, loc, lhs, rhs,
        RankedTensorType::get(shape, getAttentionAccumulatorType(*this)),
        {lhsMap, rhsMap, dims({0, 1, 2})},
        {utils::IteratorType::parallel, utils::IteratorType::parallel,
         utils::IteratorType::parallel, utils::IteratorType::reduction});
    return round ? buildConverted(b, loc, sum, element) : sum;
  };
  AffineMap all3 = AffineMap::getMultiDimIdentityMap(3, context);
  AffineMap rows3 = getRowMap(context);
  auto parallel3 =
      SmallVector<utils::IteratorType>(3, utils::IteratorType::parallel);
  int64_t batch = queryType.getDimSize(0), rows = queryType.getDimSize(1),
          keys = keyType.getDimSize(2);
  auto scoresType = RankedTensorType::get({batch, rows, keys}, element);
  auto convert = [](OpBuilder &nb, Location l, Value value, Type to) {
    return convertScalarToDtype(nb, l, value, to, /*isUnsignedCast=*/false);
  };
  auto empty = [&](RankedTensorType type) -> Value {
    return tensor::EmptyOp::create(b, loc, type.getShape(),
                                   type.getElementType());
  };

  // P = exp(S' - lse), in lse's type, stored in the element type.
  Value scores = buildAttentionScores(b, loc, *this);
  Type lseElement = getLse().getType().getElementType();
  // A row masked everywhere by a large finite value C (as the scores hold
  // it: clamped to the element type) has every score equal to C, so
  // probabilities 1/J; but its lse, C + log J, rounds to about C once the
  // spacing of floats at C exceeds log J (|C| >= 2^20 in f32), and
  // exp(S' - lse) would give about 1: a row whose lse lies below C / 2,
  // which no unmasked score reaches, gets 1/J. An additive C is constant
  // along the row (S + C rounds to C) only when it is huge.
  std::optional<double> maskedEverywhereBelow;
  if (std::optional<double> masked = getMaskedValue()) {
    double held =
        getHeldMaskedAttr(b, getAttentionAccumulatorType(*this), *masked)
            .getValueAsDouble();
    double large = isAdditiveMask() ? kHugeMaskedValue : kLargeMaskedValue;
    if (std::isfinite(held) && held <= -large)
      maskedEverywhereBelow = held / 2;
  }
  Value probabilities =
      linalg::GenericOp::create(
          b, loc, TypeRange{scoresType}, ValueRange{scores, getLse()},
          ValueRange{empty(scoresType)}, ArrayRef<AffineMap>{all3, rows3, all3},
          parallel3,
          [&](OpBuilder &nb, Location l, ValueRange args) {
            Value shifted = arith::SubFOp::create(
                nb, l, convert(nb, l, args[0], lseElement), args[1]);
            Value exp = math::ExpOp::create(nb, l, shifted);
            if (maskedEverywhereBelow) {
              auto constant = [&](double value) -> Value {
                return arith::ConstantOp::create(
                    nb, l, nb.getFloatAttr(lseElement, value));
              };
              Value everywhere = arith::CmpFOp::create(
                  nb, l, arith::CmpFPredicate::OLT, args[1],
                  constant(*maskedEverywhereBelow));
              exp = arith::SelectOp::create(nb, l, everywhere,
                                            constant(1.0 / keys), exp);
            }
            linalg::YieldOp::create(nb, l,
                                    ValueRange{convert(nb, l, exp, element)});
          })
          .getResult(0);
  // dV[b, j, e] = sum_i P[b, i, j] dO[b, i, e].
  Value dValue =
      contract(probabilities, dims({0, 3, 1}), getOutputGrad(), dims({0, 3, 2}),
               valueType.getShape(), !keysInAccumulator);
  // dP[b, i, j] = sum_e dO[b, i, e] V[b, j, e].
  Value dProbabilities = contract(getOutputGrad(), dims({0, 1, 3}), getValue(),
                                  dims({0, 2, 3}), scoresType.getShape());
  // r[b, i] = sum_j P[b, i, j] dP[b, i, j] - dlse[b, i]: from the
  // probabilities recomputed here rather than as sum_e dO O (equal in exact
  // arithmetic; FlashAttention's choice, which avoids a pass over P and dP
  // that this decomposition holds anyway), so that each row of dS sums to
  // zero to rounding as the unfused softmax's gradient does. From the
  // forward's O, the forward's rounding enters it: the zero gradient of a
  // key bias came out twice as noisy.
  // The row terms and dS in lse's type (f32 for 16-bit elements): a row
  // sum of J products rounded to 16 bits at every addition would lose the
  // cancellation dS relies on.
  auto rowType = RankedTensorType::get({batch, rows}, lseElement);
  Value rowTerms = buildProductSum(
      b, loc, probabilities, dProbabilities, rowType, {all3, all3, rows3},
      {utils::IteratorType::parallel, utils::IteratorType::parallel,
       utils::IteratorType::reduction});
  AffineMap all2 = AffineMap::getMultiDimIdentityMap(2, context);
  rowTerms =
      linalg::GenericOp::create(
          b, loc, TypeRange{rowType}, ValueRange{rowTerms, getLseGrad()},
          ValueRange{
              tensor::EmptyOp::create(b, loc, rowType.getShape(), lseElement)},
          ArrayRef<AffineMap>{all2, all2, all2},
          SmallVector<utils::IteratorType>(2, utils::IteratorType::parallel),
          [&](OpBuilder &nb, Location l, ValueRange args) {
            linalg::YieldOp::create(
                nb, l,
                ValueRange{arith::SubFOp::create(nb, l, args[0], args[1])});
          })
          .getResult(0);
  // dS = masked (and not additive) ? 0 : scale * P (dP - r).
  double scale = getScaleValue();
  Value dScores =
      linalg::GenericOp::create(
          b, loc, TypeRange{scoresType},
          ValueRange{probabilities, dProbabilities, rowTerms},
          ValueRange{empty(scoresType)},
          ArrayRef<AffineMap>{all3, all3, rows3, all3}, parallel3,
          [&](OpBuilder &nb, Location l, ValueRange args) {
            Value centred = arith::SubFOp::create(
                nb, l, convert(nb, l, args[1], lseElement), args[2]);
            Value grad = arith::MulFOp::create(
                nb, l, convert(nb, l, args[0], lseElement), centred);
            if (scale != 1.0)
              grad = arith::MulFOp::create(
                  nb, l, grad,
                  arith::ConstantOp::create(
                      nb, l, nb.getFloatAttr(lseElement, scale)));
            grad = convert(nb, l, grad, element);
            Value masked =
                isAdditiveMask() ? Value() : buildAttentionMask(nb, l, *this);
            if (masked)
              grad = arith::SelectOp::create(
                  nb, l, masked,
                  arith::ConstantOp::create(nb, l,
                                            nb.getFloatAttr(element, 0.0)),
                  grad);
            linalg::YieldOp::create(nb, l, ValueRange{grad});
          })
          .getResult(0);
  // dQ[b, i, d] = sum_j dS[b, i, j] K'[b, d, j].
  Value dQuery = contract(dScores, dims({0, 1, 3}), getKey(), dims({0, 2, 3}),
                          queryType.getShape());
  // dK'[b, d, j] = sum_i Q[b, i, d] dS[b, i, j].
  Value dKey = contract(getQuery(), dims({0, 3, 1}), dScores, dims({0, 3, 2}),
                        keyType.getShape(), !keysInAccumulator);
  return SmallVector<Value>{dQuery, dKey, dValue};
}

LogicalResult DeviceCoordOp::verify() {
  return verifyAxisNames(*this, getAxes());
}

LogicalResult
DeviceCoordOp::verifySymbolUses(SymbolTableCollection &symbolTables) {
  MeshAttr mesh;
  return resolveGroup(*this, getMeshAttr(), getAxes(), mesh, symbolTables);
}

//===----------------------------------------------------------------------===//
// Collectives: shared verification and effects
//===----------------------------------------------------------------------===//

LogicalResult mlir::autopar::detail::verifyCollectiveOp(Operation *op) {
  auto collective = cast<CollectiveOpInterface>(op);
  Value input = collective.getInput();
  Value output = collective.getOutput();
  if (isa<RankedTensorType>(input.getType())) {
    if (output)
      return op->emitOpError(
          "takes no 'into' buffer when its input is a tensor");
    if (op->getNumResults() != 1)
      return op->emitOpError("needs a tensor result when its input is a "
                             "tensor");
  } else {
    if (!output)
      return op->emitOpError(
          "needs an 'into' buffer when its input is a memref");
    if (op->getNumResults() != 0)
      return op->emitOpError("has no result when it works on buffers");
  }
  ShapedType inType = collective.getInputShapedType();
  ShapedType outType = collective.getResultShapedType();
  if (inType.getElementType() != outType.getElementType())
    return op->emitOpError()
           << "result element type " << outType.getElementType()
           << " differs from the input element type "
           << inType.getElementType();
  if (inType.getRank() != outType.getRank())
    return op->emitOpError()
           << "result rank " << outType.getRank()
           << " differs from the input rank " << inType.getRank();
  return verifyAxisNames(op, collective.getAxesAttr());
}

LogicalResult mlir::autopar::detail::verifyCollectiveSymbolUses(
    CollectiveOpInterface op, SymbolTableCollection &symbolTables) {
  MeshAttr mesh;
  FailureOr<int64_t> groupSize =
      resolveGroup(op, op.getMeshAttr(), op.getAxesAttr(), mesh, symbolTables);
  if (failed(groupSize))
    return failure();
  return op.verifyShapes(*groupSize, mesh);
}

void mlir::autopar::detail::getCollectiveEffects(
    CollectiveOpInterface op,
    SmallVectorImpl<SideEffects::EffectInstance<MemoryEffects::Effect>>
        &effects) {
  // The tensor form has value semantics; the buffer form reads its input
  // buffer and writes its `into` buffer.
  if (!op.hasBufferSemantics())
    return;
  effects.emplace_back(MemoryEffects::Read::get(), &op->getOpOperand(0),
                       SideEffects::DefaultResource::get());
  effects.emplace_back(MemoryEffects::Write::get(), &op->getOpOperand(1),
                       SideEffects::DefaultResource::get());
}

/// Checks each result dimension against `expected` (ShapedType::kDynamic
/// where it cannot be known). `why` explains the rule in the diagnostic.
static LogicalResult checkResultShape(Operation *op, ShapedType inType,
                                      ShapedType outType,
                                      ArrayRef<int64_t> expected,
                                      const Twine &why) {
  for (auto [dim, want] : llvm::enumerate(expected)) {
    int64_t got = outType.getDimSize(dim);
    if (ShapedType::isDynamic(want) || ShapedType::isDynamic(got) ||
        want == got)
      continue;
    return op->emitOpError()
           << "result dimension " << dim << " is " << got << " but " << why
           << " gives " << want << " (input " << inType << ", result "
           << outType << ")";
  }
  return success();
}

static int64_t mulDim(int64_t size, int64_t factor) {
  return ShapedType::isDynamic(size) ? ShapedType::kDynamic : size * factor;
}

/// Checks `dim` < rank and, when `divide`, that the input's size along it
/// divides evenly among `groupSize` devices.
static LogicalResult checkDim(Operation *op, StringRef attrName, int64_t dim,
                              ShapedType inType, int64_t groupSize,
                              bool divide) {
  if (dim >= inType.getRank())
    return op->emitOpError()
           << attrName << " " << dim << " is out of range for rank "
           << inType.getRank();
  int64_t size = inType.getDimSize(dim);
  if (divide && !ShapedType::isDynamic(size) && size % groupSize != 0)
    return op->emitOpError()
           << "input dimension " << dim << " of size " << size
           << " does not divide evenly among " << groupSize << " devices";
  return success();
}

static LogicalResult checkSameShape(Operation *op, ShapedType inType,
                                    ShapedType outType) {
  return checkResultShape(op, inType, outType, inType.getShape(),
                          "this collective keeps the shape, which");
}

//===----------------------------------------------------------------------===//
// Collectives: shape arithmetic
//===----------------------------------------------------------------------===//

LogicalResult AllReduceOp::verifyShapes(int64_t, MeshAttr) {
  auto self = cast<CollectiveOpInterface>(getOperation());
  return checkSameShape(*this, self.getInputShapedType(),
                        self.getResultShapedType());
}

LogicalResult AllGatherOp::verifyShapes(int64_t groupSize, MeshAttr) {
  auto self = cast<CollectiveOpInterface>(getOperation());
  ShapedType inType = self.getInputShapedType();
  int64_t dim = getGatherDim();
  if (failed(checkDim(*this, "gather_dim", dim, inType, groupSize, false)))
    return failure();
  SmallVector<int64_t> expected(inType.getShape());
  expected[dim] = mulDim(expected[dim], groupSize);
  return checkResultShape(*this, inType, self.getResultShapedType(), expected,
                          "gathering over " + Twine(groupSize) + " devices");
}

LogicalResult ReduceScatterOp::verifyShapes(int64_t groupSize, MeshAttr) {
  auto self = cast<CollectiveOpInterface>(getOperation());
  ShapedType inType = self.getInputShapedType();
  int64_t dim = getScatterDim();
  if (failed(checkDim(*this, "scatter_dim", dim, inType, groupSize, true)))
    return failure();
  SmallVector<int64_t> expected(inType.getShape());
  if (!ShapedType::isDynamic(expected[dim]))
    expected[dim] /= groupSize;
  return checkResultShape(*this, inType, self.getResultShapedType(), expected,
                          "scattering over " + Twine(groupSize) + " devices");
}

LogicalResult AllToAllOp::verifyShapes(int64_t groupSize, MeshAttr) {
  auto self = cast<CollectiveOpInterface>(getOperation());
  ShapedType inType = self.getInputShapedType();
  int64_t split = getSplitDim(), concat = getConcatDim();
  if (failed(checkDim(*this, "split_dim", split, inType, groupSize, true)) ||
      failed(checkDim(*this, "concat_dim", concat, inType, groupSize, false)))
    return failure();
  SmallVector<int64_t> expected(inType.getShape());
  if (split != concat) {
    if (!ShapedType::isDynamic(expected[split]))
      expected[split] /= groupSize;
    expected[concat] = mulDim(expected[concat], groupSize);
  }
  return checkResultShape(*this, inType, self.getResultShapedType(), expected,
                          "an all-to-all over " + Twine(groupSize) +
                              " devices");
}

LogicalResult BroadcastOp::verifyShapes(int64_t, MeshAttr mesh) {
  auto self = cast<CollectiveOpInterface>(getOperation());
  ArrayRef<int64_t> root = getRoot();
  if (root.size() != getAxes().size())
    return emitOpError() << "root has " << root.size()
                         << " coordinates but the op has " << getAxes().size()
                         << " axes";
  for (auto [coord, axis] : llvm::zip_equal(root, getAxes())) {
    StringRef name = cast<StringAttr>(axis).getValue();
    int64_t size = mesh.getAxisSize(name);
    if (coord < 0 || coord >= size)
      return emitOpError() << "root coordinate " << coord << " on axis '"
                           << name << "' is outside [0, " << size << ")";
  }
  return checkSameShape(*this, self.getInputShapedType(),
                        self.getResultShapedType());
}

LogicalResult PermuteOp::verifyShapes(int64_t groupSize, MeshAttr) {
  auto self = cast<CollectiveOpInterface>(getOperation());
  ArrayRef<int64_t> flat = getPairs();
  if (flat.size() % 2 != 0)
    return emitOpError("pairs must come as source -> target");
  llvm::SmallSet<int64_t, 8> sources, targets;
  for (size_t i = 0; i < flat.size(); i += 2) {
    for (int64_t device : {flat[i], flat[i + 1]})
      if (device < 0 || device >= groupSize)
        return emitOpError() << "device " << device << " is outside the group "
                             << "of " << groupSize << " devices";
    if (!sources.insert(flat[i]).second)
      return emitOpError() << "device " << flat[i] << " sends more than once";
    if (!targets.insert(flat[i + 1]).second)
      return emitOpError() << "device " << flat[i + 1]
                           << " receives more than once";
  }
  return checkSameShape(*this, self.getInputShapedType(),
                        self.getResultShapedType());
}

//===----------------------------------------------------------------------===//
// AllGatherOp canonicalization
//===----------------------------------------------------------------------===//

namespace {
/// all_gather(extract_slice(%x)) where the slice is the device's own block
/// along the gathered dimension (offset = its coordinate along the same
/// axes times the block size, whole elsewhere) is %x: the pair a value
/// sliced for one consumer and gathered for the next leaves behind.
struct GatherOfOwnSlice : OpRewritePattern<AllGatherOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(AllGatherOp op,
                                PatternRewriter &rewriter) const override {
    if (op.getOutput())
      return failure();
    auto slice = op.getInput().getDefiningOp<tensor::ExtractSliceOp>();
    if (!slice || slice.getSource().getType() != op.getResult().getType() ||
        !slice.hasUnitStride())
      return failure();
    auto type = cast<RankedTensorType>(op.getResult().getType());
    int64_t dim = op.getGatherDim();
    for (int64_t d = 0; d < type.getRank(); ++d) {
      std::optional<int64_t> size =
          getConstantIntValue(slice.getMixedSizes()[d]);
      if (!size)
        return failure();
      if (d == dim)
        continue;
      std::optional<int64_t> offset =
          getConstantIntValue(slice.getMixedOffsets()[d]);
      if (!offset || *offset != 0 || *size != type.getDimSize(d))
        return failure();
    }
    int64_t block = *getConstantIntValue(slice.getMixedSizes()[dim]);
    // offset = device_coord(axes) * block.
    Value offset = dyn_cast<Value>(slice.getMixedOffsets()[dim]);
    auto mul = offset ? offset.getDefiningOp<arith::MulIOp>() : nullptr;
    if (!mul)
      return failure();
    for (auto [coordValue, factor] :
         {std::pair(mul.getLhs(), mul.getRhs()),
          std::pair(mul.getRhs(), mul.getLhs())}) {
      auto coord = coordValue.getDefiningOp<DeviceCoordOp>();
      std::optional<int64_t> constant = getConstantIntValue(factor);
      if (coord && constant && *constant == block &&
          coord.getMeshAttr() == op.getMeshAttr() &&
          coord.getAxesAttr() == op.getAxesAttr()) {
        rewriter.replaceOp(op, slice.getSource());
        return success();
      }
    }
    return failure();
  }
};
} // namespace

void AllGatherOp::getCanonicalizationPatterns(RewritePatternSet &results,
                                              MLIRContext *context) {
  results.add<GatherOfOwnSlice>(context);
}

//===----------------------------------------------------------------------===//
// SendOp, RecvOp
//===----------------------------------------------------------------------===//

/// A transfer's axes are distinct and its value has a static shape.
static LogicalResult verifyTransfer(Operation *op, ShapedType type,
                                    ArrayAttr axes) {
  if (failed(verifyAxisNames(op, axes)))
    return failure();
  if (!type.hasStaticShape())
    return op->emitOpError() << "needs a static shape, got " << type;
  return success();
}

static LogicalResult verifyTransferPeer(Operation *op,
                                        FlatSymbolRefAttr meshRef,
                                        ArrayAttr axes, int64_t peer,
                                        SymbolTableCollection &symbolTables) {
  MeshAttr mesh;
  FailureOr<int64_t> group =
      resolveGroup(op, meshRef, axes, mesh, symbolTables);
  if (failed(group))
    return failure();
  if (peer >= *group)
    return op->emitOpError() << "peer " << peer << " is outside the group of "
                             << *group << " devices along " << axes;
  return success();
}

static void getTransferEffects(
    Operation *op, OpOperand *buffer, bool writes,
    SmallVectorImpl<SideEffects::EffectInstance<MemoryEffects::Effect>>
        &effects) {
  // Transfers stay in program order with each other: both sides must issue
  // them in the same order.
  effects.emplace_back(MemoryEffects::Write::get(),
                       SideEffects::DefaultResource::get());
  if (buffer && isa<MemRefType>(buffer->get().getType())) {
    if (writes)
      effects.emplace_back(MemoryEffects::Write::get(), buffer,
                           SideEffects::DefaultResource::get());
    else
      effects.emplace_back(MemoryEffects::Read::get(), buffer,
                           SideEffects::DefaultResource::get());
  }
}

LogicalResult SendOp::verify() {
  return verifyTransfer(*this, cast<ShapedType>(getInput().getType()),
                        getAxes());
}

LogicalResult SendOp::verifySymbolUses(SymbolTableCollection &symbolTables) {
  return verifyTransferPeer(*this, getMeshAttr(), getAxes(), getPeer(),
                            symbolTables);
}

void SendOp::getEffects(
    SmallVectorImpl<SideEffects::EffectInstance<MemoryEffects::Effect>>
        &effects) {
  getTransferEffects(*this, &getInputMutable(), /*writes=*/false, effects);
}

LogicalResult RecvOp::verify() {
  if (getOutput() && getResult())
    return emitOpError("has both an 'into' buffer and a result");
  if (!getOutput() && !getResult())
    return emitOpError("needs an 'into' buffer or a tensor result");
  Value value = getOutput() ? Value(getOutput()) : Value(getResult());
  return verifyTransfer(*this, cast<ShapedType>(value.getType()), getAxes());
}

LogicalResult RecvOp::verifySymbolUses(SymbolTableCollection &symbolTables) {
  return verifyTransferPeer(*this, getMeshAttr(), getAxes(), getPeer(),
                            symbolTables);
}

void RecvOp::getEffects(
    SmallVectorImpl<SideEffects::EffectInstance<MemoryEffects::Effect>>
        &effects) {
  getTransferEffects(*this,
                     getOutput() ? &getOperation()->getOpOperand(0) : nullptr,
                     /*writes=*/true, effects);
}

SmallVector<utils::IteratorType>
mlir::autopar::getIteratorsWritingAt(AffineMap map) {
  SmallVector<utils::IteratorType> iterators;
  for (unsigned loop = 0; loop < map.getNumDims(); ++loop)
    iterators.push_back(map.isFunctionOfDim(loop)
                            ? utils::IteratorType::parallel
                            : utils::IteratorType::reduction);
  return iterators;
}

Value mlir::autopar::buildElementwise(
    OpBuilder &builder, Location loc, ValueRange inputs, RankedTensorType type,
    function_ref<Value(OpBuilder &, Location, ValueRange)> body) {
  AffineMap identity = builder.getMultiDimIdentityMap(type.getRank());
  SmallVector<AffineMap> maps(inputs.size() + 1, identity);
  SmallVector<utils::IteratorType> iterators(type.getRank(),
                                             utils::IteratorType::parallel);
  Value init = tensor::EmptyOp::create(builder, loc, type.getShape(),
                                       type.getElementType());
  return linalg::GenericOp::create(
             builder, loc, TypeRange{type}, inputs, ValueRange{init}, maps,
             iterators,
             [&](OpBuilder &nb, Location nloc, ValueRange args) {
               linalg::YieldOp::create(nb, nloc,
                                       body(nb, nloc, args.drop_back()));
             })
      .getResult(0);
}

Value mlir::autopar::buildReduction(
    OpBuilder &b, Location loc, ValueRange inputs,
    ArrayRef<AffineMap> inputMaps, AffineMap outMap, RankedTensorType outType,
    double start,
    function_ref<Value(OpBuilder &, Location, ValueRange, Value)> body) {
  Value init = buildFilled(b, loc, outType, start);
  SmallVector<AffineMap> maps(inputMaps);
  maps.push_back(outMap);
  return linalg::GenericOp::create(
             b, loc, TypeRange{outType}, inputs, ValueRange{init}, maps,
             getIteratorsWritingAt(outMap),
             [&](OpBuilder &nb, Location nloc, ValueRange args) {
               linalg::YieldOp::create(
                   nb, nloc, body(nb, nloc, args.drop_back(), args.back()));
             })
      .getResult(0);
}

//===----------------------------------------------------------------------===//
// LibraryCallOp
//===----------------------------------------------------------------------===//

LogicalResult LibraryCallOp::verify() {
  auto operandTypes =
      llvm::concat<const Type>(getInputs().getTypes(), getOutputs().getTypes());
  bool tensors = llvm::all_of(operandTypes, llvm::IsaPred<TensorType>);
  bool buffers = llvm::all_of(operandTypes, llvm::IsaPred<MemRefType>);
  if (!tensors && !buffers)
    return emitOpError("takes tensors or buffers, not both");
  if (tensors && TypeRange(getResults()) != TypeRange(getOutputs()))
    return emitOpError("needs a result of each output's type");
  if (buffers && !getResults().empty())
    return emitOpError("on buffers has no results");
  if (getCallee().empty())
    return emitOpError("needs a callee");
  for (Attribute value : getValues())
    if (!isa<IntegerAttr, FloatAttr>(value))
      return emitOpError("values must be integers or floats, not ") << value;
  for (Type type : getScalars().getTypes())
    if (type.isInteger() && type.getIntOrFloatBitWidth() > 64)
      return emitOpError("scalars are passed as i64, not ") << type;
  return success();
}

void LibraryCallOp::getEffects(
    SmallVectorImpl<SideEffects::EffectInstance<MemoryEffects::Effect>>
        &effects) {
  for (OpOperand &input : getInputsMutable())
    if (isa<MemRefType>(input.get().getType()))
      effects.emplace_back(MemoryEffects::Read::get(), &input,
                           SideEffects::DefaultResource::get());
  for (OpOperand &output : getOutputsMutable())
    if (isa<MemRefType>(output.get().getType()))
      effects.emplace_back(MemoryEffects::Write::get(), &output,
                           SideEffects::DefaultResource::get());
}

bool mlir::autopar::isZeroFilled(Value value) {
  auto fill = value.getDefiningOp<linalg::FillOp>();
  if (!fill)
    return false;
  FloatAttr zero;
  return matchPattern(fill.value(), m_Constant(&zero)) &&
         zero.getValue().isZero();
}
