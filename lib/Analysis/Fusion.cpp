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
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/IndexingUtils.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/SetVector.h"

#include <algorithm>
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

bool mlir::autopar::canFuseIntoUser(OpOperand &use) {
  linalg::LinalgOp producer = getElementwiseProducer(use.get().getDefiningOp());
  if (!producer)
    return false;
  linalg::LinalgOp consumer = getFusionCandidate(use.getOwner());
  if (!consumer || consumer->getBlock() != producer->getBlock() ||
      !consumer.isDpsInput(&use))
    return false;
  // A consumer without a parallel loop (a reduction to a scalar) has no
  // loop to map to GPU threads and runs as host code: parallel work moved
  // into it would run serially.
  if (consumer.getNumParallelLoops() == 0)
    return false;
  // Contractions and convolutions become library calls (cuBLAS, cuDNN)
  // that take their operands from memory.
  if (isLibraryCandidate(consumer))
    return false;
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
    // Whether `value` (through the producers fused into its reader) holds
    // what the kernel wrote.
    std::function<bool(Value)> readsWritten = [&](Value value) {
      if (written.contains(value))
        return true;
      Operation *def = value.getDefiningOp();
      return def && def->getBlock() == &block && isFusedIntoUsers(def) &&
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
              indexesRow(generic.getMatchingIndexingMap(&operand), rowLoops);
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

bool mlir::autopar::isBiasEpilogue(linalg::GenericOp generic, bool *relu) {
  if (generic.getNumDpsInputs() != 2 || generic.getNumDpsInits() != 1 ||
      generic.getNumParallelLoops() != generic.getNumLoops())
    return false;
  unsigned rank = generic.getNumLoops();
  MLIRContext *context = generic.getContext();
  AffineMap identity = AffineMap::getMultiDimIdentityMap(rank, context);
  AffineMap overN =
      AffineMap::get(rank, 0, {getAffineDimExpr(rank - 1, context)}, context);
  SmallVector<AffineMap> maps = generic.getIndexingMapsArray();
  if (rank == 0 || maps[0] != identity || maps[1] != overN ||
      maps[2] != identity)
    return false;
  // Body: yield x + b, or max(x + b, 0).
  Block &body = *generic.getBlock();
  Value result = body.getTerminator()->getOperand(0);
  bool isRelu = false;
  if (auto max = result.getDefiningOp<arith::MaximumFOp>()) {
    Value zero = max.getRhs(), inner = max.getLhs();
    if (!matchPattern(zero, m_AnyZeroFloat()))
      std::swap(zero, inner);
    if (!matchPattern(zero, m_AnyZeroFloat()))
      return false;
    isRelu = true;
    result = inner;
  }
  auto add = result.getDefiningOp<arith::AddFOp>();
  if (!add || add->getBlock() != &body ||
      !((add.getLhs() == body.getArgument(0) &&
         add.getRhs() == body.getArgument(1)) ||
        (add.getLhs() == body.getArgument(1) &&
         add.getRhs() == body.getArgument(0))) ||
      body.getOperations().size() != (isRelu ? 3u : 2u))
    return false;
  if (relu)
    *relu = isRelu;
  return true;
}

Operation *mlir::autopar::getEpilogueProduct(linalg::GenericOp generic) {
  if (!generic.hasPureTensorSemantics() || !isBiasEpilogue(generic) ||
      isFusedIntoUsers(generic))
    return nullptr;
  // The product, or the product with its rows split into leading
  // dimensions (a 3-D dense layer's [b, s, n] view of [b * s, n]).
  Value read = generic.getDpsInputs()[0];
  if (auto view = read.getDefiningOp<tensor::ExpandShapeOp>()) {
    SmallVector<ReassociationIndices> groups = view.getReassociationIndices();
    int64_t rank = view.getResultType().getRank();
    if (groups.size() != 2 || groups[1].size() != 1 ||
        groups[1].front() != rank - 1 || !view->hasOneUse())
      return nullptr;
    read = view.getSrc();
  }
  // The fold takes the op after the product: nothing between them may
  // touch memory.
  auto product = read.getDefiningOp<linalg::LinalgOp>();
  if (!product || product->getBlock() != generic->getBlock())
    return nullptr;
  for (Operation *between = product->getNextNode(); between != generic;
       between = between->getNextNode())
    if (!isBufferizedAway(between))
      return nullptr;
  if (!read.hasOneUse() || product.getNumDpsInputs() != 2 ||
      product->getNumResults() != 1 ||
      !linalg::isaContractionOpInterface(product))
    return nullptr;
  FailureOr<linalg::ContractionDimensions> dims =
      linalg::inferContractionDims(product);
  if (failed(dims) || !dims->batch.empty() || dims->m.size() != 1 ||
      dims->n.size() != 1 || dims->k.size() != 1)
    return nullptr;
  // Stored [m, n], the bias over n.
  AffineMap resultMap = product.getIndexingMapsArray()[2];
  if (resultMap.getNumResults() != 2 ||
      resultMap.getResult(0) !=
          getAffineDimExpr(dims->m[0], product.getContext()) ||
      resultMap.getResult(1) !=
          getAffineDimExpr(dims->n[0], product.getContext()))
    return nullptr;
  Type type = getElementTypeOrSelf(read.getType());
  auto isOfType = [&](Value value) {
    return getElementTypeOrSelf(value.getType()) == type;
  };
  if (!llvm::all_of(product.getDpsInputs(), isOfType) ||
      !isOfType(generic.getDpsInputs()[1]))
    return nullptr;
  return product;
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
