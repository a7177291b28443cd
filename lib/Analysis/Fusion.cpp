//===- Fusion.cpp - which ops run inside their users' kernels -------------===//
//
// The rule documented in include/autopar/Analysis/Fusion.h.
//
//===----------------------------------------------------------------------===//

#include "autopar/Analysis/Fusion.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/IR/LinalgInterfaces.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/Linalg/Utils/Utils.h"
#include "mlir/IR/BuiltinTypes.h"

#include <algorithm>

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
  // that take their operands from memory: any reduction whose body is a
  // multiply-accumulate (the backward's generic products and convolution
  // gradients among them, whatever their maps).
  if (linalg::isaContractionOpInterface(consumer) ||
      linalg::isaConvolutionOpInterface(consumer) ||
      (consumer.getNumReductionLoops() > 0 &&
       linalg::detail::isContractionBody(
           *consumer.getBlock(), [](Operation *multiply, Operation *add) {
             return isa<arith::MulFOp, arith::MulIOp>(multiply) &&
                    isa<arith::AddFOp, arith::AddIOp>(add);
           })))
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
