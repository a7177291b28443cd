//===- Fusion.cpp - which ops run inside their users' kernels -------------===//
//
// The rule documented in include/autopar/Analysis/Fusion.h.
//
//===----------------------------------------------------------------------===//

#include "autopar/Analysis/Fusion.h"
#include "autopar/Analysis/Reductions.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/IR/LinalgInterfaces.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/Linalg/Utils/Utils.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/IndexingUtils.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/TypeSwitch.h"

#include <algorithm>
#include <cmath>
#include <functional>

using namespace mlir;
using namespace mlir::autopar;

/// A named elementwise op (linalg.add, linalg.exp, ...): one identity map
/// per operand and parallel loops only, as its generic form has.
static bool isNamedElementwise(linalg::LinalgOp op) {
  return !isa<linalg::GenericOp>(op) && linalg::isElementwise(op) &&
         llvm::all_of(op.getIndexingMapsArray(),
                      [](AffineMap map) { return map.isIdentity(); });
}

/// A generic, or a named elementwise op (fused as its generic form).
static linalg::LinalgOp getFusionCandidate(Operation *op) {
  auto linalgOp = dyn_cast_or_null<linalg::LinalgOp>(op);
  if (!linalgOp || !linalgOp.hasPureTensorSemantics())
    return {};
  if (isa<linalg::GenericOp>(op) || isNamedElementwise(linalgOp))
    return linalgOp;
  return {};
}

/// An elementwise producer: parallel loops only, one result, and a body
/// that does not read the result's initial value (upstream would keep that
/// result on the fused op and, under a consumer's broadcast, accumulate
/// into it once per broadcast element).
static linalg::LinalgOp getElementwiseProducer(Operation *op) {
  linalg::LinalgOp producer = getFusionCandidate(op);
  if (!producer || producer->getNumResults() != 1 ||
      producer.getNumParallelLoops() != producer.getNumLoops() ||
      producer.payloadUsesValueFromOperand(producer.getDpsInitOperand(0)))
    return {};
  return producer;
}

bool mlir::autopar::isFusionCandidate(Operation *op) {
  return static_cast<bool>(getFusionCandidate(op));
}

/// Contractions and convolutions, which become library calls (cuBLAS,
/// cuDNN) that take their operands from memory: any reduction whose body is
/// a multiply-accumulate (the backward's generic products and convolution
/// gradients among them, whatever their maps).
static bool isLibraryCandidate(linalg::LinalgOp op) {
  return linalg::isaContractionOpInterface(op) ||
         linalg::isaConvolutionOpInterface(op) ||
         (op.getNumReductionLoops() > 0 &&
          linalg::detail::isContractionBody(
              *op.getBlock(), [](Operation *multiply, Operation *add) {
                return isa<arith::MulFOp, arith::MulIOp>(multiply) &&
                       isa<arith::AddFOp, arith::AddIOp>(add);
              }));
}

/// Whether `producer` only widens its one 16-bit float input to a wider
/// float, element for element (identity maps, `yield extf(x)`).
static bool isWidening(linalg::LinalgOp producer) {
  if (producer.getNumDpsInputs() != 1 || producer.getNumDpsInits() != 1 ||
      !llvm::all_of(producer.getIndexingMapsArray(),
                    [](AffineMap map) { return map.isIdentity(); }))
    return false;
  Block &body = *producer.getBlock();
  auto extend =
      body.getTerminator()->getOperand(0).getDefiningOp<arith::ExtFOp>();
  auto narrow = dyn_cast<FloatType>(
      getElementTypeOrSelf(producer.getDpsInputs()[0].getType()));
  return extend && body.getOperations().size() == 2 &&
         extend.getIn() == body.getArgument(0) && narrow &&
         narrow.getWidth() == 16;
}

bool mlir::autopar::isElementCopy(linalg::LinalgOp op) {
  return op.getNumDpsInputs() == 1 && op.getNumDpsInits() == 1 &&
         op->getNumResults() == 1 &&
         op.getNumParallelLoops() == op.getNumLoops() &&
         llvm::all_of(op.getIndexingMapsArray(),
                      [](AffineMap map) { return map.isIdentity(); }) &&
         op.getDpsInputs()[0].getType() == op->getResult(0).getType() &&
         op.getBlock()->getTerminator()->getOperand(0) ==
             op.getBlock()->getArgument(0);
}

/// The element type a contraction's other input holds: the 16-bit type of
/// the value it widens (through copies), else its own.
static Type getNarrowElementType(Value input) {
  Value value = input;
  while (auto producer = getElementwiseProducer(value.getDefiningOp())) {
    if (isWidening(producer))
      return getElementTypeOrSelf(producer.getDpsInputs()[0].getType());
    if (!isElementCopy(producer))
      break;
    value = producer.getDpsInputs()[0];
  }
  return getElementTypeOrSelf(input.getType());
}

/// Whether `use` is a widening of a 16-bit value (isWidening) read by a
/// contraction whose other input holds the same 16-bit type (itself, or
/// widened too): fused, the contraction reads both in 16 bits and widens in
/// its body, a 16-bit GEMM accumulating in f32 (cuBLAS on tensor cores)
/// instead of an f32 GEMM of widened copies or a generated kernel on mixed
/// types. 16-bit PyTorch exports have these: torch-mlir widens a 16-bit
/// linear layer's operands and multiplies in f32, and the backward's
/// gradient of the rounding after it is a widened 16-bit value the next
/// products read.
static bool isWideningIntoContraction(OpOperand &use, linalg::LinalgOp producer,
                                      linalg::LinalgOp consumer) {
  if (!isWidening(producer) || !linalg::isaContractionOpInterface(consumer) ||
      consumer.getNumDpsInputs() != 2 || consumer.getNumDpsInits() != 1)
    return false;
  Value other = consumer.getDpsInputs()[1 - use.getOperandNumber()];
  if (getNarrowElementType(other) !=
      getElementTypeOrSelf(producer.getDpsInputs()[0].getType()))
    return false;
  // A named contraction fuses as the generic it stands for (every map a
  // projection of its loops).
  return isa<linalg::GenericOp>(consumer) ||
         consumer.getMatchingIndexingMap(&use).isProjectedPermutation();
}

/// Whether `consumer` sums into one float (no parallel loop, static loops,
/// one rank-0 float init combined by `addf`): the shape the lowerings split
/// into parallel partial sums (autopar-reductions-inner's
/// chooseScalarSplit), so that work fused into it runs in parallel too.
static bool isSumToScalar(linalg::LinalgOp consumer) {
  auto generic = dyn_cast<linalg::GenericOp>(consumer.getOperation());
  if (!generic || generic.getNumParallelLoops() != 0 ||
      generic.getNumLoops() < 2 || generic.getNumDpsInits() != 1 ||
      llvm::any_of(generic.getStaticLoopRanges(), ShapedType::isDynamic))
    return false;
  auto init = dyn_cast<ShapedType>(generic.getDpsInits()[0].getType());
  return init && init.getRank() == 0 && isa<FloatType>(init.getElementType()) &&
         isa_and_nonnull<arith::AddFOp>(getCombiner(generic, 0));
}

bool mlir::autopar::canFuseIntoUser(OpOperand &use) {
  linalg::LinalgOp producer = getElementwiseProducer(use.get().getDefiningOp());
  if (!producer)
    return false;
  linalg::LinalgOp consumer = getFusionCandidate(use.getOwner());
  if (!consumer) {
    // A named contraction takes a 16-bit value's widening as the generic
    // it stands for.
    auto named = dyn_cast<linalg::LinalgOp>(use.getOwner());
    return named && named.hasPureTensorSemantics() &&
           named->getBlock() == producer->getBlock() &&
           named.isDpsInput(&use) &&
           isWideningIntoContraction(use, producer, named);
  }
  if (consumer->getBlock() != producer->getBlock() ||
      !consumer.isDpsInput(&use))
    return false;
  // A widening that goes into contractions or GEMM epilogues (as their
  // bias) is where they read the 16-bit value from memory (a 16-bit
  // working copy of a weight or a bias): what makes that value stays a
  // kernel of its own.
  if (isWidening(consumer) && !consumer->getResult(0).use_empty() &&
      llvm::all_of(consumer->getResult(0).getUses(), [&](OpOperand &read) {
        auto contraction = dyn_cast<linalg::LinalgOp>(read.getOwner());
        return isEpilogueBias(read) ||
               (contraction &&
                isWideningIntoContraction(read, consumer, contraction));
      }))
    return false;
  // A consumer without a parallel loop (a reduction to a scalar) has no
  // loop to map to GPU threads and runs as host code: parallel work moved
  // into it would run serially. Unless a sum (split into parallel partial
  // sums on buffers, Conversion/Reductions.h) reads a 16-bit value's
  // widening: read narrow there, the wide copy is never written (a 16-bit
  // export's loss over its widened logits).
  if (consumer.getNumParallelLoops() == 0 &&
      !(isWidening(producer) && isSumToScalar(consumer)))
    return false;
  // Contractions and convolutions become library calls (cuBLAS, cuDNN)
  // that take their operands from memory; a 16-bit value's widening goes
  // into a contraction's body (the library call then reads the value).
  if (isLibraryCandidate(consumer))
    return isWideningIntoContraction(use, producer, consumer);
  // A GEMM epilogue reads its bias from memory, in the result's type: a
  // bias widened from 16 bits goes in (the epilogue widens it; rounded to
  // 16 bits, its result is then of the bias's type), anything else that
  // makes a bias stays out.
  if (isEpilogueBias(use))
    return isWidening(producer);
  // A named elementwise op on either side maps every operand by the
  // identity: its generic form fuses (upstream's conditions hold).
  if (isNamedElementwise(producer) || isNamedElementwise(consumer))
    return consumer.getMatchingIndexingMap(&use).getNumResults() ==
           producer.getNumLoops();
  return linalg::areElementwiseOpsFusable(&use);
}

/// Bytes of a static tensor (std::nullopt for anything else).
static std::optional<double> getStaticBytes(Type type) {
  auto tensor = dyn_cast<RankedTensorType>(type);
  if (!tensor || !tensor.hasStaticShape() ||
      !tensor.getElementType().isIntOrFloat())
    return std::nullopt;
  return static_cast<double>(tensor.getNumElements()) *
         std::max(1u, tensor.getElementTypeBitWidth() / 8);
}

bool mlir::autopar::isFusedIntoUsers(Operation *op) {
  linalg::LinalgOp producer = getElementwiseProducer(op);
  if (!producer)
    return false;
  // A GEMM epilogue writes it for the users (cuBLASLt's GELU_AUX_BIAS).
  if (isGeluAuxSum(op))
    return false;
  unsigned users = 0;
  for (OpOperand &use : op->getResult(0).getUses()) {
    if (++users > kMaxFusedUsers || !canFuseIntoUser(use))
      return false;
  }
  if (users <= 1)
    return users == 1;
  // Each user reads the producer's inputs: worth it while they are about
  // the size of its result (an exponential of the scores and their row
  // maxima), not when they are larger (a residual add reads two streams;
  // repeated into the next block's users, the chain would grow with depth).
  std::optional<double> result = getStaticBytes(op->getResult(0).getType());
  double inputs = 0;
  for (Value input : producer.getDpsInputs()) {
    if (!isa<ShapedType>(input.getType()))
      continue;
    std::optional<double> bytes = getStaticBytes(input.getType());
    if (!bytes || !result)
      return false;
    inputs += *bytes;
  }
  return inputs <= kMaxFusedInputRatio * *result;
}

/// Bytes of a rank-`rank` memref descriptor: allocated and aligned
/// pointers, offset, a size and a stride per dimension, 8 bytes each.
static int64_t getDescriptorBytes(int64_t rank) { return 8 * (3 + 2 * rank); }

int64_t mlir::autopar::getKernelArgumentBytes(Type type) {
  if (auto memref = dyn_cast<MemRefType>(type))
    return getDescriptorBytes(memref.getRank());
  return 8;
}

unsigned mlir::autopar::getLoopsPerMergedKernel(unsigned buffers,
                                                unsigned rank) {
  int64_t perLoop = std::max<int64_t>(1, buffers) * getDescriptorBytes(rank);
  return static_cast<unsigned>(std::clamp<int64_t>(
      kMaxMergedArgumentBytes / perLoop, 1, kMaxMergedLoops));
}

bool mlir::autopar::formsRowKernel(double rows, double length) {
  return rows >= static_cast<double>(kRowKernelMinRows) &&
         length >= static_cast<double>(kRowKernelMinLength);
}

/// The static loop ranges of a generic on tensors.
static std::optional<SmallVector<int64_t>>
getTensorRanges(linalg::GenericOp generic) {
  if (!generic.hasPureTensorSemantics())
    return std::nullopt;
  return getStaticRanges(generic);
}

bool mlir::autopar::isRowKernelSeed(linalg::GenericOp generic, int64_t minRows,
                                    int64_t minLength) {
  std::optional<SmallVector<int64_t>> ranges = getStaticRanges(generic);
  std::optional<unsigned> rowLoops = getRowReductionLoops(generic);
  if (!rowLoops || !ranges)
    return false;
  ArrayRef<int64_t> all = *ranges;
  return computeProduct(all.take_front(*rowLoops)) >= minRows &&
         computeProduct(all.drop_front(*rowLoops)) >= minLength &&
         getContiguousLoop(generic) == generic.getNumLoops() - 1;
}

/// Ops that touch no memory once bufferized: allocations, constants,
/// views (reshapes, slices), scalar arithmetic, and ops that run inside
/// their users. Other tensor ops become copies or kernels.
static bool isBufferizedAway(Operation *op) {
  if (isFusedIntoUsers(op))
    return true;
  if (!isMemoryEffectFree(op) || op->getNumRegions() != 0)
    return false;
  return isa<tensor::EmptyOp, tensor::ExpandShapeOp, tensor::CollapseShapeOp,
             tensor::ExtractSliceOp, tensor::CastOp, arith::ConstantOp>(op) ||
         llvm::none_of(op->getResultTypes(),
                       [](Type type) { return isa<ShapedType>(type); });
}

/// Ops a row kernel passes over: those that touch no memory, and fills
/// (they move before it). Others (copies, library calls) end a kernel.
static bool isPassedOver(Operation *op) {
  return isa<linalg::FillOp>(op) || isBufferizedAway(op);
}

llvm::DenseMap<Operation *, Operation *>
mlir::autopar::findRowKernels(Block &block) {
  llvm::DenseMap<Operation *, Operation *> seedOf;
  for (Operation &candidate : block) {
    auto seed = dyn_cast<linalg::GenericOp>(&candidate);
    if (!seed || !seed.hasPureTensorSemantics() || seedOf.contains(seed) ||
        isFusedIntoUsers(seed) || !isRowKernelSeed(seed))
      continue;
    unsigned rowLoops = *getRowReductionLoops(seed);
    SmallVector<int64_t> rowRanges(
        ArrayRef<int64_t>(*getTensorRanges(seed)).take_front(rowLoops));
    llvm::SetVector<Value> written(seed->result_begin(), seed->result_end());
    llvm::SmallPtrSet<Operation *, 8> members = {seed}, stayed;
    // Whether `value` is ready where the seed runs: made before it, by a
    // member, or by ops that move before it (or run inside their users)
    // from values that are.
    std::function<bool(Value)> isReady = [&](Value value) {
      Operation *def = value.getDefiningOp();
      if (!def || def->getBlock() != &block || def->isBeforeInBlock(seed) ||
          members.contains(def))
        return true;
      if (stayed.contains(def) || !isPassedOver(def))
        return false;
      return llvm::all_of(def->getOperands(), isReady);
    };
    // Whether `value` (through the producers fused into its reader, or
    // reshapes) holds what the kernel wrote.
    std::function<bool(Value)> readsWritten = [&](Value value) {
      if (written.contains(value))
        return true;
      Operation *def = value.getDefiningOp();
      return def && def->getBlock() == &block &&
             (isFusedIntoUsers(def) ||
              isa<tensor::ExpandShapeOp, tensor::CollapseShapeOp>(def)) &&
             llvm::any_of(def->getOperands(), readsWritten);
    };
    for (Operation *op = seed->getNextNode(); op; op = op->getNextNode()) {
      if (op->hasTrait<OpTrait::IsTerminator>())
        break;
      if (isPassedOver(op))
        continue;
      auto generic = dyn_cast<linalg::GenericOp>(op);
      std::optional<SmallVector<int64_t>> ranges;
      if (generic)
        ranges = getTensorRanges(generic);
      if (ranges && ranges->size() >= rowLoops &&
          ArrayRef<int64_t>(*ranges).take_front(rowLoops) ==
              ArrayRef<int64_t>(rowRanges)) {
        std::optional<unsigned> reduces = getRowReductionLoops(generic);
        bool shaped =
            reduces ? *reduces == rowLoops
                    : generic.getNumParallelLoops() == generic.getNumLoops();
        bool dependent = false, atRows = true;
        for (OpOperand &operand : generic->getOpOperands()) {
          if (!readsWritten(operand.get()))
            continue;
          dependent = true;
          atRows &=
              indexesRow(generic.getMatchingIndexingMap(&operand), rowLoops) &&
              isRowView(operand.get(), rowLoops);
        }
        if (shaped && (dependent || reduces) && atRows &&
            llvm::all_of(generic->getOperands(), isReady)) {
          members.insert(generic);
          seedOf[generic] = seed;
          written.insert(generic->result_begin(), generic->result_end());
          continue;
        }
      }
      auto linalgOp = dyn_cast<linalg::LinalgOp>(op);
      if (!linalgOp || isLibraryCandidate(linalgOp) ||
          stayed.size() == kRowKernelMaxStayed)
        break;
      stayed.insert(op);
    }
  }
  return seedOf;
}

/// A contraction over one m, one n and one k loop (no batch) on tensors,
/// whose operands and result are 2-D.
static bool isTwoDimensionalContraction(Operation *op) {
  auto linalgOp = dyn_cast_or_null<linalg::LinalgOp>(op);
  if (!linalgOp || !linalgOp.hasPureTensorSemantics() ||
      linalgOp.getNumDpsInputs() != 2 || linalgOp.getNumDpsInits() != 1 ||
      !linalg::isaContractionOpInterface(linalgOp))
    return false;
  FailureOr<linalg::ContractionDimensions> dims =
      linalg::inferContractionDims(linalgOp);
  return succeeded(dims) && dims->batch.empty() && dims->m.size() == 1 &&
         dims->n.size() == 1 && dims->k.size() == 1 &&
         llvm::all_of(linalgOp.getIndexingMapsArray(),
                      [](AffineMap map) { return map.getNumResults() == 2; });
}

/// The input of `op` when it only rounds it to a narrower float: a generic
/// on tensors with one input, identity maps, and a body that yields
/// `truncf` of it. Else null.
static Value getRoundedInput(Operation *op) {
  auto generic = dyn_cast_or_null<linalg::GenericOp>(op);
  if (!generic || !generic.hasPureTensorSemantics() ||
      generic.getNumDpsInputs() != 1 || generic.getNumDpsInits() != 1 ||
      generic.getNumParallelLoops() != generic.getNumLoops() ||
      !llvm::all_of(generic.getIndexingMapsArray(),
                    [](AffineMap map) { return map.isIdentity(); }))
    return {};
  Block &body = *generic.getBlock();
  auto round =
      body.getTerminator()->getOperand(0).getDefiningOp<arith::TruncFOp>();
  if (!round || round.getIn() != body.getArgument(0) ||
      body.getOperations().size() != 2)
    return {};
  return generic.getDpsInputs()[0];
}

linalg::LinalgOp mlir::autopar::getRoundedProduct(Operation *op) {
  Value input = getRoundedInput(op);
  if (!input)
    return {};
  auto product = input.getDefiningOp<linalg::LinalgOp>();
  if (!product || !input.hasOneUse() || product->getBlock() != op->getBlock() ||
      !isTwoDimensionalContraction(product))
    return {};
  return product;
}

/// Whether `value` is a 2-D contraction's result, or that result read
/// through its rounding (getRoundedInput) and a view splitting its rows, in
/// either order.
static bool isProductRead(Value value) {
  for (unsigned step = 0; step < 3 && value; ++step) {
    Operation *def = value.getDefiningOp();
    if (!def)
      return false;
    if (isTwoDimensionalContraction(def))
      return true;
    auto view = dyn_cast<tensor::ExpandShapeOp>(def);
    value = view ? view.getSrc() : getRoundedInput(def);
  }
  return false;
}

bool mlir::autopar::isEpilogueBias(OpOperand &use) {
  auto consumer = dyn_cast<linalg::GenericOp>(use.getOwner());
  auto type = dyn_cast<RankedTensorType>(use.get().getType());
  if (!consumer || !consumer.hasPureTensorSemantics() ||
      !consumer.isDpsInput(&use) || !type || type.getRank() != 1 ||
      consumer.getNumLoops() == 0 ||
      consumer.getNumParallelLoops() != consumer.getNumLoops())
    return false;
  unsigned rank = consumer.getNumLoops();
  MLIRContext *context = consumer.getContext();
  if (consumer.getMatchingIndexingMap(&use) !=
      AffineMap::get(rank, 0, {getAffineDimExpr(rank - 1, context)}, context))
    return false;
  return llvm::any_of(consumer.getDpsInputOperands(), [&](OpOperand *input) {
    return consumer.getMatchingIndexingMap(input).isIdentity() &&
           isProductRead(input->get());
  });
}

namespace {
/// A scalar of an epilogue's body: a value in the body of the op matched
/// or of an elementwise producer fused into it, with the map from the
/// matched op's loops to the loops of the op whose body holds it.
struct Scalar {
  Value value;
  AffineMap loops;
  bool operator==(const Scalar &other) const {
    return value == other.value && loops == other.loops;
  }
};

/// Reads an elementwise op's body as a scalar expression of its operands,
/// through the single-use elementwise producers fused into it (on tensors).
class EpilogueReader {
public:
  explicit EpilogueReader(linalg::GenericOp root) : root(root) {}

  /// The form, or nothing.
  std::optional<EpilogueForm> read();
  /// Whether the root yields tanh-GELU of its one input.
  bool isGeluOfInput();
  /// The operand whose tanh-GELU the root yields, read at the root's loops
  /// by the root or the producers fused into it (a GELU written as a chain
  /// of ops, each reading it: torch-mlir's), or null.
  Value getGeluInput();
  /// Whether the root yields input `gradient` times tanh-GELU's derivative
  /// at input `sum`.
  bool isGeluGradient(unsigned gradient, unsigned sum);
  /// Whether the root yields input `gradient` where the sum of inputs
  /// `terms` is positive and 0 where it is negative (`accumulated`: that
  /// value added to its init).
  bool isReluGradient(unsigned gradient, ArrayRef<unsigned> terms,
                      bool accumulated);

private:
  /// Whether the root has `inputs` inputs and one init, all read and
  /// written element for element (parallel loops, identity maps).
  bool isElementwise(unsigned inputs);
  /// `value` of the root's body, at the root's own loops.
  Scalar getIdentityScalar(Value value) {
    return {value, AffineMap::getMultiDimIdentityMap(root.getNumLoops(),
                                                     root.getContext())};
  }
  /// What `scalar` stands for: itself when an op in a body defines it,
  /// else the operand its block argument reads (`leaf`, with its map in
  /// the root's loops), or what a fused producer of that operand yields.
  struct Resolved {
    Scalar scalar;
    Value leaf;
    AffineMap leafMap;
    bool valid = true;
  };
  Resolved resolve(Scalar scalar);
  /// An operand summed: its value, its map in the root's loops, and
  /// whether it is read rounded (`truncf`).
  struct Leaf {
    Value value;
    AffineMap map;
    bool rounded = false;
    /// Read widened (`extf`) from a narrower float type.
    bool widened = false;
    /// For a value widened by a producer fused into the op: that
    /// producer's result, the leaf where nothing rounds back.
    Value unwidened;
  };
  /// The operands a tree of additions rooted at `scalar` sums (each a
  /// leaf, or a leaf rounded), or failure.
  LogicalResult collectSum(Scalar scalar, SmallVectorImpl<Leaf> &sum);
  /// The one operand (a leaf, with its map) that the expression of
  /// `scalar` reads, constants aside, or nothing (none, several, or a body
  /// resolve cannot read).
  std::optional<Scalar> getOnlyLeaf(Scalar scalar);
  /// `scalar` as a function of `vars` alone, each at its value, in double
  /// precision. A variable may be an operand (a leaf, at its map).
  std::optional<double> evaluate(Scalar scalar,
                                 ArrayRef<std::pair<Scalar, double>> vars,
                                 unsigned depth = 0);
  /// Whether `result` is tanh-GELU of `sum`.
  bool isGeluTanh(Scalar result, const Scalar &sum);
  /// Whether `result` is max(`sum`, 0), exactly, at points on both sides
  /// of 0 and beyond ReLU6's bound.
  bool isRelu(Scalar result, const Scalar &sum);
  /// The activation `result` applies to `sum`, if ReLU or tanh-GELU.
  std::optional<EpilogueActivation> getActivation(Scalar result,
                                                  const Scalar &sum) {
    if (isRelu(result, sum))
      return EpilogueActivation::Relu;
    if (isGeluTanh(result, sum))
      return EpilogueActivation::GeluTanh;
    return std::nullopt;
  }

  linalg::GenericOp root;
  SmallVector<Operation *, 2> through;
};
} // namespace

EpilogueReader::Resolved EpilogueReader::resolve(Scalar scalar) {
  auto arg = dyn_cast<BlockArgument>(scalar.value);
  if (!arg)
    return {scalar, {}, {}};
  auto owner = dyn_cast<linalg::LinalgOp>(arg.getOwner()->getParentOp());
  if (!owner || arg.getOwner() != owner.getBlock() ||
      arg.getArgNumber() >= owner.getNumDpsInputs())
    return {scalar, {}, {}, /*valid=*/false}; // an output, or not linalg's
  OpOperand *operand = owner.getDpsInputOperand(arg.getArgNumber());
  AffineMap map = owner.getMatchingIndexingMap(operand).compose(scalar.loops);
  // A producer fused into this op (its one user), whose result the op reads
  // at its own loops' permutation: its body is part of the expression.
  linalg::LinalgOp producer =
      getElementwiseProducer(operand->get().getDefiningOp());
  if (producer && operand->get().hasOneUse() && map.isPermutation() &&
      producer.getMatchingIndexingMap(producer.getDpsInitOperand(0))
          .isIdentity() &&
      isFusedIntoUsers(producer)) {
    if (!llvm::is_contained(through, producer.getOperation()))
      through.push_back(producer);
    Value yielded = producer.getBlock()->getTerminator()->getOperand(0);
    return resolve({yielded, map});
  }
  return {scalar, operand->get(), map};
}

LogicalResult EpilogueReader::collectSum(Scalar scalar,
                                         SmallVectorImpl<Leaf> &sum) {
  Resolved resolved = resolve(scalar);
  if (!resolved.valid)
    return failure();
  if (resolved.leaf) {
    // A widening fused into the op that resolve does not read through (a
    // bias broadcast over the rows): the widened value, read widened.
    if (linalg::LinalgOp producer =
            getElementwiseProducer(resolved.leaf.getDefiningOp()))
      if (isWidening(producer) && isFusedIntoUsers(producer)) {
        sum.push_back({producer.getDpsInputs()[0], resolved.leafMap,
                       /*rounded=*/false, /*widened=*/true, resolved.leaf});
        return success();
      }
    sum.push_back({resolved.leaf, resolved.leafMap});
    return success();
  }
  // An operand rounded to a narrower float before it is added, or widened
  // from one.
  if (auto round = resolved.scalar.value.getDefiningOp<arith::TruncFOp>()) {
    Resolved input = resolve({round.getIn(), resolved.scalar.loops});
    if (!input.valid || !input.leaf)
      return failure();
    sum.push_back({input.leaf, input.leafMap, /*rounded=*/true});
    return success();
  }
  if (auto widen = resolved.scalar.value.getDefiningOp<arith::ExtFOp>()) {
    Resolved input = resolve({widen.getIn(), resolved.scalar.loops});
    if (!input.valid || !input.leaf)
      return failure();
    sum.push_back({input.leaf, input.leafMap, /*rounded=*/false,
                   /*widened=*/true});
    return success();
  }
  auto add = resolved.scalar.value.getDefiningOp<arith::AddFOp>();
  if (!add)
    return failure();
  AffineMap loops = resolved.scalar.loops;
  return success(succeeded(collectSum({add.getLhs(), loops}, sum)) &&
                 succeeded(collectSum({add.getRhs(), loops}, sum)));
}

/// Whether `lhs predicate rhs` holds, for the ordered and unordered
/// predicates (the points evaluated are never NaN).
static std::optional<bool> compareFloats(arith::CmpFPredicate predicate,
                                         double lhs, double rhs) {
  using P = arith::CmpFPredicate;
  switch (predicate) {
  case P::OEQ:
  case P::UEQ:
    return lhs == rhs;
  case P::ONE:
  case P::UNE:
    return lhs != rhs;
  case P::OGT:
  case P::UGT:
    return lhs > rhs;
  case P::OGE:
  case P::UGE:
    return lhs >= rhs;
  case P::OLT:
  case P::ULT:
    return lhs < rhs;
  case P::OLE:
  case P::ULE:
    return lhs <= rhs;
  default:
    return std::nullopt;
  }
}

std::optional<double> EpilogueReader::evaluate(
    Scalar scalar, ArrayRef<std::pair<Scalar, double>> vars, unsigned depth) {
  for (const auto &[var, x] : vars)
    if (scalar == var)
      return x;
  Resolved resolved = resolve(scalar);
  // An operand given a value (a variable of the operand itself, read at
  // its map, wherever the body or a fused producer's reads it).
  if (resolved.valid && resolved.leaf)
    for (const auto &[var, x] : vars)
      if (var.value == resolved.leaf && var.loops == resolved.leafMap)
        return x;
  if (!resolved.valid || resolved.leaf || depth > 64)
    return std::nullopt; // another operand, or too deep to be an activation
  for (const auto &[var, x] : vars)
    if (resolved.scalar == var)
      return x;
  Value value = resolved.scalar.value;
  FloatAttr constant;
  if (matchPattern(value, m_Constant(&constant)))
    return constant.getValueAsDouble();
  APInt integer; // an integer exponent (fpowi's)
  if (matchPattern(value, m_ConstantInt(&integer)))
    return static_cast<double>(integer.getSExtValue());
  Operation *op = value.getDefiningOp();
  if (!op || op->getNumResults() != 1 || op->getNumRegions() != 0)
    return std::nullopt;
  SmallVector<double, 3> args;
  for (Value operand : op->getOperands()) {
    std::optional<double> arg =
        evaluate({operand, resolved.scalar.loops}, vars, depth + 1);
    if (!arg)
      return std::nullopt;
    args.push_back(*arg);
  }
  // The arithmetic an activation is written with.
  return llvm::TypeSwitch<Operation *, std::optional<double>>(op)
      .Case([&](arith::AddFOp) { return args[0] + args[1]; })
      .Case([&](arith::SubFOp) { return args[0] - args[1]; })
      .Case([&](arith::MulFOp) { return args[0] * args[1]; })
      .Case([&](arith::DivFOp) { return args[0] / args[1]; })
      .Case([&](arith::NegFOp) { return -args[0]; })
      .Case([&](math::TanhOp) { return std::tanh(args[0]); })
      .Case([&](math::ExpOp) { return std::exp(args[0]); })
      .Case([&](math::ErfOp) { return std::erf(args[0]); })
      .Case([&](math::SqrtOp) { return std::sqrt(args[0]); })
      .Case([&](math::PowFOp) { return std::pow(args[0], args[1]); })
      .Case([&](math::FPowIOp) { return std::pow(args[0], args[1]); })
      // Precision changes (torch-mlir's f64 constants rounded to f32): the
      // value, as the tolerance allows for the narrower type.
      .Case([&](arith::TruncFOp) { return args[0]; })
      .Case([&](arith::ExtFOp) { return args[0]; })
      // A derivative's masks: comparisons (1 or 0), selects, the mask as a
      // float; ReLU's max.
      .Case([&](arith::CmpFOp cmp) -> std::optional<double> {
        std::optional<bool> holds =
            compareFloats(cmp.getPredicate(), args[0], args[1]);
        if (!holds)
          return std::nullopt;
        return *holds ? 1.0 : 0.0;
      })
      .Case([&](arith::SelectOp) { return args[0] != 0 ? args[1] : args[2]; })
      .Case<arith::UIToFPOp, arith::SIToFPOp>([&](Operation *conversion) {
        // An i1 as a signed integer is -1 when set.
        return isa<arith::SIToFPOp>(conversion) &&
                       getElementTypeOrSelf(conversion->getOperand(0))
                           .isInteger(1)
                   ? -args[0]
                   : args[0];
      })
      .Case<arith::MaximumFOp, arith::MaxNumFOp>(
          [&](Operation *) { return std::max(args[0], args[1]); })
      .Case<arith::MinimumFOp, arith::MinNumFOp>(
          [&](Operation *) { return std::min(args[0], args[1]); })
      .Default([](Operation *) { return std::nullopt; });
}

/// The points a body is checked at against tanh-GELU (and its derivative):
/// across GELU's bend and tails; erf-GELU differs from the tanh form by
/// 1.7e-5 at 0.5 and 4.7e-4 at 2.7.
static constexpr double kGeluPoints[] = {-6.0, -3.3, -2.7, -1.9, -1.1,
                                         -0.7, -0.3, 0.0,  0.2,  0.5,
                                         1.05, 1.7,  2.7,  4.1,  7.0};

/// How near a body computing in `type` must come to tanh-GELU, relative: a
/// body in 16-bit arithmetic holds its constants rounded (sqrt(2/pi)
/// 0.796875 in bf16): it is tanh-GELU to its own precision, half a bf16
/// ulp (2^-9), at which erf-GELU is too.
static double getGeluTolerance(Type type) {
  auto floatType = dyn_cast<FloatType>(type);
  return floatType && floatType.getWidth() <= 16 ? 0x1p-9 : 1e-6;
}

static constexpr double kSqrt2OverPi = 0.7978845608028654, kGeluCube = 0.044715;

static double getGeluTanh(double x) {
  return 0.5 * x *
         (1.0 + std::tanh(kSqrt2OverPi * (x + kGeluCube * x * x * x)));
}

static double getGeluTanhDerivative(double x) {
  double t = std::tanh(kSqrt2OverPi * (x + kGeluCube * x * x * x));
  return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * kSqrt2OverPi *
                               (1.0 + 3.0 * kGeluCube * x * x);
}

bool EpilogueReader::isGeluTanh(Scalar result, const Scalar &sum) {
  double tolerance = getGeluTolerance(result.value.getType());
  for (double x : kGeluPoints) {
    std::optional<double> value = evaluate(result, {{sum, x}});
    if (!value || !(std::abs(*value - getGeluTanh(x)) <=
                    tolerance * std::max(1.0, std::abs(x))))
      return false;
  }
  return true;
}

bool EpilogueReader::isGeluGradient(unsigned gradient, unsigned sum) {
  if (gradient == sum || gradient > 1 || sum > 1 || !isElementwise(2))
    return false;
  Scalar result =
      getIdentityScalar(root.getBlock()->getTerminator()->getOperand(0));
  Scalar g = getIdentityScalar(root.getBlock()->getArgument(gradient));
  Scalar h = getIdentityScalar(root.getBlock()->getArgument(sum));
  // At the points isGeluTanh takes, for two gradients (one not 1, so that
  // a GELU's derivative alone is not taken for one scaled by its
  // gradient).
  double tolerance = getGeluTolerance(result.value.getType());
  for (double x : kGeluPoints)
    for (double dy : {1.0, -2.5}) {
      std::optional<double> value = evaluate(result, {{g, dy}, {h, x}});
      double expected = dy * getGeluTanhDerivative(x);
      if (!value || !(std::abs(*value - expected) <=
                      tolerance * std::max(1.0, std::abs(expected))))
        return false;
    }
  return true;
}

/// The sums a ReLU's derivative is checked at: both sides of 0, near it
/// and far from it. At 0 itself either derivative is taken (0 or 1: the
/// IR's `x >= 0` and cuBLASLt's bitmask may differ there).
static constexpr double kReluPoints[] = {-7.0, -1.3, -0.2, -1e-3, 0.0,  1e-3,
                                         0.3,  1.1,  6.0,  7.5,   100.0};

bool EpilogueReader::isRelu(Scalar result, const Scalar &sum) {
  for (double x : kReluPoints) {
    std::optional<double> value = evaluate(result, {{sum, x}});
    if (!value || *value != std::max(x, 0.0))
      return false;
  }
  return true;
}

bool EpilogueReader::isReluGradient(unsigned gradient, ArrayRef<unsigned> terms,
                                    bool accumulated) {
  unsigned inputs = root.getNumDpsInputs();
  if (root.getNumDpsInits() != 1 || terms.empty() || terms.size() > 2 ||
      gradient >= inputs || llvm::is_contained(terms, gradient) ||
      llvm::any_of(terms, [&](unsigned term) { return term >= inputs; }) ||
      (terms.size() == 2 && terms[0] == terms[1]))
    return false;
  Block &body = *root.getBlock();
  Value yielded = body.getTerminator()->getOperand(0);
  if (accumulated) {
    // init + derivative (the init itself is no variable: evaluate fails on
    // any other use of it).
    BlockArgument init =
        root.getMatchingBlockArgument(root.getDpsInitOperand(0));
    auto add = yielded.getDefiningOp<arith::AddFOp>();
    if (!add || add->getBlock() != &body ||
        !llvm::is_contained({add.getLhs(), add.getRhs()}, init))
      return false;
    yielded = add.getLhs() == init ? add.getRhs() : add.getLhs();
  }
  Scalar result = getIdentityScalar(yielded);
  Scalar g = getIdentityScalar(body.getArgument(gradient));
  SmallVector<Scalar, 2> summed;
  for (unsigned term : terms)
    summed.push_back(getIdentityScalar(body.getArgument(term)));
  // Two terms split each sum two ways, so that neither alone decides.
  for (double s : kReluPoints)
    for (double dy : {1.0, -2.5})
      for (double split : {0.75, -3.0}) {
        SmallVector<std::pair<Scalar, double>, 3> vars = {{g, dy}};
        if (summed.size() == 1) {
          vars.push_back({summed[0], s});
        } else {
          vars.push_back({summed[0], s - split});
          vars.push_back({summed[1], split});
        }
        std::optional<double> value = evaluate(result, vars);
        if (!value)
          return false;
        // s - split + split rounds: the sign of the computed sum decides.
        double computed = summed.size() == 1 ? s : (s - split) + split;
        bool positive = computed > 0, zero = computed == 0;
        if (zero ? (*value != 0 && *value != dy)
                 : *value != (positive ? dy : 0.0))
          return false;
      }
  return true;
}

std::optional<EpilogueForm> EpilogueReader::read() {
  if (root.getNumDpsInits() != 1 || root->getNumResults() > 1 ||
      root.getNumParallelLoops() != root.getNumLoops() ||
      root.getNumLoops() == 0 ||
      !root.getMatchingIndexingMap(root.getDpsInitOperand(0)).isIdentity())
    return std::nullopt;
  unsigned rank = root.getNumLoops();
  MLIRContext *context = root.getContext();
  Scalar result = {root.getBlock()->getTerminator()->getOperand(0),
                   AffineMap::getMultiDimIdentityMap(rank, context)};
  EpilogueForm form;
  SmallVector<Leaf> sum;
  // round(act(s)) into a narrower float result: act(s) read below.
  auto resultType = dyn_cast<FloatType>(
      getElementTypeOrSelf(root.getDpsInits()[0].getType()));
  if (auto round = result.value.getDefiningOp<arith::TruncFOp>()) {
    if (!resultType || round->getBlock() != root.getBlock() ||
        round.getIn().getType().getIntOrFloatBitWidth() <=
            resultType.getWidth())
      return std::nullopt;
    form.roundsResult = true;
    result.value = round.getIn();
  }
  // act(s): s itself, max(s, 0), or tanh-GELU of s, s the first sum of
  // operands met from the result (depth first).
  if (succeeded(collectSum(result, sum))) {
    form.activation = EpilogueActivation::None;
  } else {
    sum.clear();
    Resolved resolved = resolve(result);
    auto max = resolved.valid && !resolved.leaf
                   ? resolved.scalar.value.getDefiningOp<arith::MaximumFOp>()
                   : arith::MaximumFOp();
    if (max) {
      Value zero = max.getRhs(), inner = max.getLhs();
      if (!matchPattern(zero, m_AnyZeroFloat()))
        std::swap(zero, inner);
      if (!matchPattern(zero, m_AnyZeroFloat()) ||
          failed(collectSum({inner, resolved.scalar.loops}, sum)))
        return std::nullopt;
      form.activation = EpilogueActivation::Relu;
    } else {
      // Candidate sums: the additions met from the result, depth first.
      SmallVector<Scalar> stack = {result};
      llvm::DenseSet<Operation *> seen;
      bool found = false;
      while (!stack.empty() && !found) {
        Resolved next = resolve(stack.pop_back_val());
        if (!next.valid || next.leaf)
          continue;
        Operation *op = next.scalar.value.getDefiningOp();
        if (!op || op->getNumRegions() != 0 || !seen.insert(op).second)
          continue;
        if (isa<arith::AddFOp>(op)) {
          sum.clear();
          if (succeeded(collectSum(next.scalar, sum)))
            if (std::optional<EpilogueActivation> activation =
                    getActivation(result, next.scalar)) {
              form.activation = *activation;
              found = true;
              break;
            }
        }
        for (Value operand : llvm::reverse(op->getOperands()))
          stack.push_back({operand, next.scalar.loops});
      }
      // Or of an operand alone (a GELU after its bias add, which a
      // training step's backward reads too: isGeluAuxSum; a bias-less
      // layer's ReLU).
      for (unsigned input = 0; !found && input < root.getNumDpsInputs();
           ++input) {
        Scalar argument = {root.getBlock()->getArgument(input),
                           AffineMap::getMultiDimIdentityMap(rank, context)};
        std::optional<EpilogueActivation> activation =
            getActivation(result, argument);
        if (!activation)
          continue;
        sum.clear();
        Resolved leaf = resolve(argument);
        if (!leaf.valid || !leaf.leaf)
          continue;
        sum.push_back({leaf.leaf, leaf.leafMap});
        form.activation = *activation;
        found = true;
      }
      // Or of the one operand that the root and the producers fused into
      // it all read (a GELU written as a chain of ops: torch-mlir's).
      if (!found) {
        std::optional<Scalar> leaf = getOnlyLeaf(result);
        std::optional<EpilogueActivation> activation =
            leaf ? getActivation(result, *leaf) : std::nullopt;
        if (!activation)
          return std::nullopt;
        sum.clear();
        sum.push_back({leaf->value, leaf->loops});
        form.activation = *activation;
        found = true;
      }
    }
  }
  // The summed operands: one bias over the last loop, one or two indexed by
  // the loops, each once.
  AffineMap identity = AffineMap::getMultiDimIdentityMap(rank, context);
  AffineMap overN =
      AffineMap::get(rank, 0, {getAffineDimExpr(rank - 1, context)}, context);
  for (Leaf leaf : sum) {
    // Widened operands only in a result rounded back to their type (else
    // the widening producer's result, if any, is the operand); a rounded
    // result reads no rounded operand.
    if (leaf.widened &&
        (!form.roundsResult ||
         getElementTypeOrSelf(leaf.value.getType()) != resultType)) {
      if (!leaf.unwidened)
        return std::nullopt;
      leaf = {leaf.unwidened, leaf.map};
    }
    if (leaf.rounded && form.roundsResult)
      return std::nullopt;
    if (leaf.map == overN && !form.bias && !leaf.rounded &&
        cast<ShapedType>(leaf.value.getType()).getRank() == 1) {
      form.bias = leaf.value;
    } else if (leaf.map == identity &&
               !llvm::is_contained(form.terms, leaf.value) &&
               !(leaf.rounded && form.rounded)) {
      form.terms.push_back(leaf.value);
      if (leaf.rounded)
        form.rounded = leaf.value;
    } else {
      return std::nullopt;
    }
  }
  // Something for the epilogue to do: a bias, a residual or an activation.
  if (form.terms.empty() || form.terms.size() > 2 ||
      (!form.bias && form.terms.size() == 1 &&
       form.activation == EpilogueActivation::None))
    return std::nullopt;
  form.through = through;
  return form;
}

bool EpilogueReader::isElementwise(unsigned inputs) {
  return root.getNumDpsInputs() == inputs && root.getNumDpsInits() == 1 &&
         root.getNumParallelLoops() == root.getNumLoops() &&
         llvm::all_of(root.getIndexingMapsArray(),
                      [](AffineMap map) { return map.isIdentity(); });
}

std::optional<Scalar> EpilogueReader::getOnlyLeaf(Scalar scalar) {
  std::optional<Scalar> only;
  SmallVector<Scalar> stack = {scalar};
  llvm::DenseSet<std::pair<Value, AffineMap>> seen;
  while (!stack.empty()) {
    Scalar next = stack.pop_back_val();
    if (!seen.insert({next.value, next.loops}).second)
      continue;
    if (seen.size() > 256)
      return std::nullopt; // too large to be an activation
    Resolved resolved = resolve(next);
    if (!resolved.valid)
      return std::nullopt;
    if (resolved.leaf) {
      Scalar leaf = {resolved.leaf, resolved.leafMap};
      if (only && !(*only == leaf))
        return std::nullopt;
      only = leaf;
      continue;
    }
    Operation *op = resolved.scalar.value.getDefiningOp();
    if (!op || op->getNumRegions() != 0 || op->getNumResults() != 1)
      return std::nullopt;
    for (Value operand : op->getOperands())
      stack.push_back({operand, resolved.scalar.loops});
  }
  return only;
}

bool EpilogueReader::isGeluOfInput() {
  return isElementwise(1) &&
         isGeluTanh(
             getIdentityScalar(root.getBlock()->getTerminator()->getOperand(0)),
             getIdentityScalar(root.getBlock()->getArgument(0)));
}

Value EpilogueReader::getGeluInput() {
  if (isGeluOfInput())
    return root.getDpsInputs()[0];
  if (!isElementwise(root.getNumDpsInputs()) || root->getNumResults() != 1)
    return {};
  Scalar result =
      getIdentityScalar(root.getBlock()->getTerminator()->getOperand(0));
  std::optional<Scalar> leaf = getOnlyLeaf(result);
  if (!leaf || !leaf->loops.isIdentity() ||
      leaf->value.getType() != root->getResult(0).getType() ||
      !isGeluTanh(result, *leaf))
    return {};
  return leaf->value;
}

std::optional<EpilogueForm>
mlir::autopar::matchEpilogueForm(linalg::GenericOp generic) {
  return EpilogueReader(generic).read();
}

bool mlir::autopar::isGeluOfInput(linalg::GenericOp generic) {
  return EpilogueReader(generic).isGeluOfInput();
}

bool mlir::autopar::isGeluGradient(linalg::GenericOp generic, unsigned gradient,
                                   unsigned sum) {
  return EpilogueReader(generic).isGeluGradient(gradient, sum);
}

bool mlir::autopar::isReluGradient(linalg::GenericOp generic, unsigned gradient,
                                   ArrayRef<unsigned> terms, bool accumulated) {
  return EpilogueReader(generic).isReluGradient(gradient, terms, accumulated);
}

int64_t mlir::autopar::getReluMaskBytes(int64_t rows, int64_t columns) {
  return rows * llvm::alignTo(columns, kReluMaskLdAlignment) / 8;
}

/// getGemmEpilogue, but for `generic` that may be fused into its users
/// (isGeluAuxSum asks it of a sum that is not, because of what it finds).
static std::optional<GemmEpilogue> getGemmEpilogueOf(linalg::GenericOp generic);

std::optional<GemmEpilogue>
mlir::autopar::getGemmEpilogue(linalg::GenericOp generic) {
  if (!generic.hasPureTensorSemantics() || isFusedIntoUsers(generic))
    return std::nullopt;
  return getGemmEpilogueOf(generic);
}

bool mlir::autopar::isActivationGradientInEpilogue(
    linalg::GenericOp activation) {
  if (activation->getNumResults() != 1 || !activation->getResult(0).hasOneUse())
    return false;
  Type elementType = getElementTypeOrSelf(activation->getResult(0).getType());
  bool narrow = elementType.isF16() || elementType.isBF16();
  if (!elementType.isF32() && !narrow)
    return false;
  Value value = activation->getResult(0);
  Operation *user = *value.getUsers().begin();
  if (auto view = dyn_cast<tensor::CollapseShapeOp>(user)) {
    if (!isRowSplit(view.getReassociationIndices()) ||
        !view->getResult(0).hasOneUse())
      return false;
    value = view.getResult();
    user = *value.getUsers().begin();
  }
  // A 16-bit activation is read widened, the widening fused into the
  // product (a 16-bit export's layer): its gradient is that product's,
  // rounded, which the call rounds (DGELU with a 16-bit D).
  if (narrow) {
    auto widening = dyn_cast<linalg::LinalgOp>(user);
    if (!widening || !isWidening(widening) || widening->getNumResults() != 1 ||
        !widening->getResult(0).hasOneUse() || !isFusedIntoUsers(widening))
      return false;
    value = widening->getResult(0);
    user = *value.getUsers().begin();
  }
  auto contraction = dyn_cast<linalg::LinalgOp>(user);
  return contraction && contraction.getNumDpsInputs() == 2 &&
         linalg::isaContractionOpInterface(contraction) &&
         llvm::is_contained(contraction.getDpsInputs(), value) &&
         cast<ShapedType>(value.getType()).getRank() == 2;
}

bool mlir::autopar::isGeluAuxShape(Type type) {
  auto shaped = dyn_cast<ShapedType>(type);
  return shaped && shaped.hasRank() && shaped.getRank() > 0 &&
         !ShapedType::isDynamic(shaped.getShape().back()) &&
         shaped.getShape().back() % 8 == 0;
}

/// `sum`, or the row split of it that is its one use.
static Value getSumAsRead(Value sum) {
  if (sum.hasOneUse())
    if (auto view = dyn_cast<tensor::ExpandShapeOp>(*sum.getUsers().begin()))
      if (isRowSplit(view.getReassociationIndices()))
        return view.getResult();
  return sum;
}

/// The op that `op` is fused into: `op` itself unless it is an elementwise
/// producer fused into its one user (isFusedIntoUsers), then that user's.
static Operation *getFusedRoot(Operation *op) {
  for (unsigned depth = 0; depth < 64 && op->getNumResults() == 1 &&
                           op->getResult(0).hasOneUse() && isFusedIntoUsers(op);
       ++depth)
    op = *op->getResult(0).getUsers().begin();
  return op;
}

/// The one op computing tanh-GELU of `value` (getGeluInput) among its
/// readers: a generic reading it, or the op that the ops reading it are
/// fused into (a GELU written as a chain of ops); else null (none, or
/// two). Other readers (the GELU's backward) may read it too.
static linalg::GenericOp getGeluReading(Value value) {
  linalg::GenericOp gelu;
  for (Operation *user : value.getUsers()) {
    auto root = dyn_cast<linalg::GenericOp>(getFusedRoot(user));
    if (!root || root == gelu || EpilogueReader(root).getGeluInput() != value)
      continue;
    if (gelu)
      return {};
    gelu = root;
  }
  return gelu;
}

/// The bias epilogue of `op` when it is a sum the product's call keeps for
/// a GELU (isGeluAuxSum), else nothing.
static std::optional<GemmEpilogue> getGeluAuxSumEpilogue(Operation *op) {
  auto generic = dyn_cast_or_null<linalg::GenericOp>(op);
  if (!generic || !generic.hasPureTensorSemantics() ||
      generic->getNumResults() != 1 ||
      !isGeluAuxShape(generic->getResult(0).getType()))
    return std::nullopt;
  // What the GELU and its backward read: the sum, or its rows split into
  // leading dimensions (Hugging Face GPT-2's Conv1D). A sum the GELU alone
  // reads fuses into it (GELU_BIAS), unless through the view: a training
  // step's backward reads it too, and the call writes it for the GELU.
  Value sum = generic->getResult(0);
  Value read = getSumAsRead(sum);
  if (read.use_empty() || (read == sum && read.hasOneUse()))
    return std::nullopt;
  linalg::GenericOp gelu = getGeluReading(read);
  if (!gelu || gelu->getBlock() != generic->getBlock())
    return std::nullopt;
  std::optional<GemmEpilogue> epilogue = getGemmEpilogueOf(generic);
  if (!epilogue || !epilogue->form.bias || epilogue->residual ||
      epilogue->form.activation != EpilogueActivation::None)
    return std::nullopt;
  return epilogue;
}

bool mlir::autopar::isGeluAuxSum(Operation *op) {
  return getGeluAuxSumEpilogue(op).has_value();
}

bool mlir::autopar::isViewedGeluSumGradientInEpilogue(Operation *op) {
  if (!isGeluAuxSum(op))
    return false;
  Value sum = op->getResult(0), read = getSumAsRead(sum);
  if (read == sum)
    return false;
  // cuBLASLt sums the bias's gradient in D's type: an f32 GELU's alone.
  linalg::GenericOp gelu = getGeluReading(read);
  return gelu && getElementTypeOrSelf(gelu->getResult(0).getType()).isF32() &&
         isActivationGradientInEpilogue(gelu);
}

Value mlir::autopar::getFusedGeluGradientSum(Operation *op) {
  if (!isFusedIntoUsers(op))
    return {};
  auto gelu = dyn_cast<linalg::GenericOp>(getFusedRoot(op));
  if (!gelu || gelu.getOperation() == op || gelu->getNumResults() != 1 ||
      !isGeluAuxShape(gelu->getResult(0).getType()))
    return {};
  std::optional<GemmEpilogue> epilogue = getGemmEpilogue(gelu);
  if (!epilogue || epilogue->form.activation != EpilogueActivation::GeluTanh ||
      !(epilogue->form.bias || epilogue->aux) || epilogue->residual ||
      !isActivationGradientInEpilogue(gelu))
    return {};
  return EpilogueReader(gelu).getGeluInput();
}

static std::optional<GemmEpilogue>
getGemmEpilogueOf(linalg::GenericOp generic) {
  std::optional<EpilogueForm> form = matchEpilogueForm(generic);
  if (!form)
    return std::nullopt;
  // A GELU of a sum that its product's call writes as AUX (isGeluAuxSum):
  // the GELU runs in that call too.
  std::optional<GemmEpilogue> sum;
  if (form->terms.size() == 1 && !form->bias && !form->rounded &&
      form->activation == EpilogueActivation::GeluTanh) {
    Value read = form->terms.front();
    if (auto view = read.getDefiningOp<tensor::ExpandShapeOp>())
      if (isRowSplit(view.getReassociationIndices()))
        read = view.getSrc();
    sum = getGeluAuxSumEpilogue(read.getDefiningOp());
  }
  if (sum) {
    GemmEpilogue epilogue;
    epilogue.product = sum->product;
    epilogue.form = std::move(*form);
    epilogue.aux = epilogue.form.terms.front();
    return epilogue;
  }
  // A residual added to a bias epilogue's sum through its rows split into
  // leading dimensions (a Hugging Face GPT-2's Conv1D sums [b * s, n], the
  // residual add reads it [b, s, n], so the bias add cannot fuse into it),
  // the sum read by nothing else: the product's call adds the residual as
  // C (the lowering's matchResidualAfter).
  if (form->terms.size() == 2 && !form->bias && !form->rounded &&
      form->activation == EpilogueActivation::None) {
    for (unsigned index = 0; index < 2; ++index) {
      Value read = form->terms[index], residual = form->terms[1 - index];
      auto view = read.getDefiningOp<tensor::ExpandShapeOp>();
      if (!view || !read.hasOneUse() ||
          !isRowSplit(view.getReassociationIndices()) ||
          !view.getSrc().hasOneUse() || residual.getType() != read.getType())
        continue;
      auto sumOp = view.getSrc().getDefiningOp<linalg::GenericOp>();
      if (!sumOp || sumOp->getBlock() != generic->getBlock() ||
          isFusedIntoUsers(sumOp))
        continue;
      std::optional<GemmEpilogue> first = getGemmEpilogueOf(sumOp);
      if (!first || !first->form.bias || first->residual || first->aux ||
          first->form.rounded ||
          first->form.activation != EpilogueActivation::None)
        continue;
      Operation *init = cast<linalg::LinalgOp>(first->product)
                            .getDpsInits()[0]
                            .getDefiningOp();
      if (!init || !isMadeFromScalar(init))
        continue;
      bool between = false;
      for (Operation *op = sumOp->getNextNode(); op && op != generic;
           op = op->getNextNode())
        between |= !isBufferizedAway(op);
      if (between)
        continue;
      GemmEpilogue epilogue;
      epilogue.product = first->product;
      epilogue.residual = residual;
      epilogue.form = std::move(*form);
      return epilogue;
    }
  }
  // The product, or the product with its rows split into leading
  // dimensions (a 3-D dense layer's [b, s, n] view of [b * s, n]), read by
  // the op or the producer fused into it (its one user); a 16-bit step's
  // product possibly through its rounding (before the view, which
  // autopar-fuse-elementwise moves after it, so that the op reads it).
  Operation *rounding = nullptr;
  auto getProduct = [&](Value read) -> linalg::LinalgOp {
    rounding = nullptr;
    if (!read.hasOneUse())
      return {};
    if (auto view = read.getDefiningOp<tensor::ExpandShapeOp>()) {
      if (!isRowSplit(view.getReassociationIndices()))
        return {};
      read = view.getSrc();
      if (!read.hasOneUse())
        return {};
    }
    auto product = read.getDefiningOp<linalg::LinalgOp>();
    if (linalg::LinalgOp rounded = getRoundedProduct(product)) {
      rounding = product;
      product = rounded;
    }
    if (!product || product->getBlock() != generic->getBlock() ||
        !isTwoDimensionalContraction(product))
      return {};
    // Stored [m, n], the bias over n.
    FailureOr<linalg::ContractionDimensions> dims =
        linalg::inferContractionDims(product);
    AffineMap resultMap = product.getIndexingMapsArray()[2];
    MLIRContext *context = product.getContext();
    if (resultMap.getResult(0) != getAffineDimExpr(dims->m[0], context) ||
        resultMap.getResult(1) != getAffineDimExpr(dims->n[0], context))
      return {};
    // The fold takes the op after the product: nothing between them may
    // touch memory but what the fold takes too.
    for (Operation *between = product->getNextNode(); between != generic;
         between = between->getNextNode())
      if (!between || (!isBufferizedAway(between) && between != rounding &&
                       !llvm::is_contained(form->through, between)))
        return {};
    return product;
  };
  GemmEpilogue epilogue;
  bool rounded = false;
  for (auto [index, term] : llvm::enumerate(form->terms)) {
    if (linalg::LinalgOp product = getProduct(term)) {
      epilogue.product = product;
      rounded = rounding || form->rounded == term || form->roundsResult;
      if (form->terms.size() == 2)
        epilogue.residual = form->terms[1 - index];
      break;
    }
  }
  // Only the product may be read rounded (the call rounds its own sum).
  if (!epilogue.product ||
      (form->rounded && form->rounded == epilogue.residual))
    return std::nullopt;
  // A residual is C (beta = 1): the product must start from zeros.
  auto product = cast<linalg::LinalgOp>(epilogue.product);
  if (epilogue.residual) {
    Operation *init = product.getDpsInits()[0].getDefiningOp();
    if (!init || !isMadeFromScalar(init))
      return std::nullopt;
  }
  // One type (D's); a rounded product's accumulated in a wider float, its
  // inputs possibly widened from D's type (fused into it: a 16-bit
  // export's product).
  Type type = getElementTypeOrSelf(generic->getResult(0).getType());
  auto isOfType = [&](Value value) {
    return !value || getElementTypeOrSelf(value.getType()) == type;
  };
  auto accumulator = dyn_cast<FloatType>(
      getElementTypeOrSelf(product->getResult(0).getType()));
  auto isInputOfType = [&](Value input) {
    return isOfType(input) || (rounded && getNarrowElementType(input) == type);
  };
  if (!llvm::all_of(product.getDpsInputs(), isInputOfType) ||
      !isOfType(form->bias) || !isOfType(epilogue.residual) ||
      (rounded ? !accumulator || !isa<FloatType>(type) ||
                     accumulator.getWidth() <= type.getIntOrFloatBitWidth()
               : !isOfType(product->getResult(0))))
    return std::nullopt;
  epilogue.form = std::move(*form);
  return epilogue;
}

/// The input map of a 2-D transpose on tensors: linalg.transpose, or a
/// generic with one input and one output, parallel loops only, that yields
/// its input, read through a [1, 0] map and written through the identity.
static std::optional<AffineMap> getTransposeMap(Operation *op) {
  auto linalgOp = dyn_cast_or_null<linalg::LinalgOp>(op);
  if (!linalgOp || !linalgOp.hasPureTensorSemantics() ||
      linalgOp.getNumDpsInputs() != 1 || linalgOp.getNumDpsInits() != 1 ||
      linalgOp.getNumLoops() != 2 ||
      linalgOp.getNumParallelLoops() != linalgOp.getNumLoops())
    return std::nullopt;
  if (!isa<linalg::TransposeOp>(op)) {
    auto generic = dyn_cast<linalg::GenericOp>(op);
    if (!generic || generic.getBlock()->getOperations().size() != 1 ||
        generic.getBlock()->getTerminator()->getOperand(0) !=
            generic.getBlock()->getArgument(0))
      return std::nullopt;
  }
  AffineMap input =
      linalgOp.getMatchingIndexingMap(linalgOp.getDpsInputOperand(0));
  AffineMap output =
      linalgOp.getMatchingIndexingMap(linalgOp.getDpsInitOperand(0));
  MLIRContext *context = op->getContext();
  AffineMap swap =
      AffineMap::getPermutationMap(ArrayRef<unsigned>{1, 0}, context);
  if (!output.isIdentity() || input != swap)
    return std::nullopt;
  return input;
}

bool mlir::autopar::isTransposeFoldedIntoUsers(Operation *op) {
  if (!getTransposeMap(op) || op->getResult(0).use_empty())
    return false;
  return llvm::all_of(op->getResult(0).getUses(), [&](OpOperand &use) {
    auto user = dyn_cast<linalg::LinalgOp>(use.getOwner());
    return user && user->getBlock() == op->getBlock() &&
           user.isDpsInput(&use) && isTwoDimensionalContraction(user);
  });
}

bool mlir::autopar::isTransposeFoldedIntoProducer(Operation *op) {
  if (!getTransposeMap(op))
    return false;
  Value input = cast<linalg::LinalgOp>(op).getDpsInputs()[0];
  auto producer = input.getDefiningOp<linalg::LinalgOp>();
  if (!producer || !input.hasOneUse() ||
      producer->getBlock() != op->getBlock() ||
      !isTwoDimensionalContraction(producer))
    return false;
  Operation *init = producer.getDpsInits()[0].getDefiningOp();
  return init && isMadeFromScalar(init);
}

std::pair<Value, AffineMap> mlir::autopar::getTransposedInput(Operation *op) {
  auto linalgOp = cast<linalg::LinalgOp>(op);
  return {linalgOp.getDpsInputs()[0],
          linalgOp.getMatchingIndexingMap(linalgOp.getDpsInputOperand(0))};
}

bool mlir::autopar::isMadeFromScalar(Operation *op) {
  if (auto empty = dyn_cast<tensor::EmptyOp>(op))
    return empty->getNumOperands() == 0;
  auto fill = dyn_cast<linalg::FillOp>(op);
  return fill && fill.hasPureTensorSemantics() &&
         !isa<ShapedType>(fill.getInputs()[0].getType()) &&
         fill.getOutputs()[0].getDefiningOp<tensor::EmptyOp>() &&
         isMadeFromScalar(fill.getOutputs()[0].getDefiningOp());
}
