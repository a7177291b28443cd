//===- PrepareLowering.cpp - what bufferization cannot take ---------------===//
//
// Before bufferization: aggregated linalg ops (softmax) become the
// structured ops they stand for, and ops that produce only empty tensors
// become tensor.empty.
//
//===----------------------------------------------------------------------===//

#include "autopar/Conversion/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace mlir::autopar {
#define GEN_PASS_DEF_PREPARELOWERING
#include "autopar/Conversion/Passes.h.inc"
} // namespace mlir::autopar

using namespace mlir;

/// Whether every result of `op` is a static tensor with no elements.
static bool producesOnlyEmptyTensors(Operation *op) {
  if (op->getNumResults() == 0 || isa<tensor::EmptyOp>(op) ||
      !isMemoryEffectFree(op))
    return false;
  return llvm::all_of(op->getResultTypes(), [](Type type) {
    auto tensor = dyn_cast<RankedTensorType>(type);
    return tensor && tensor.hasStaticShape() && tensor.getNumElements() == 0;
  });
}

namespace {
struct PrepareLoweringPass
    : public mlir::autopar::impl::PrepareLoweringBase<PrepareLoweringPass> {
  void runOnOperation() override {
    IRRewriter rewriter(&getContext());
    SmallVector<Operation *> empties;
    getOperation()->walk([&](Operation *op) {
      if (producesOnlyEmptyTensors(op))
        empties.push_back(op);
    });
    for (Operation *op : empties) {
      rewriter.setInsertionPoint(op);
      SmallVector<Value> replacements;
      for (Type type : op->getResultTypes()) {
        auto tensor = cast<RankedTensorType>(type);
        replacements.push_back(tensor::EmptyOp::create(
            rewriter, op->getLoc(), tensor.getShape(), tensor.getElementType(),
            tensor.getEncoding()));
      }
      rewriter.replaceOp(op, replacements);
    }

    SmallVector<linalg::AggregatedOpInterface> aggregates;
    getOperation()->walk(
        [&](linalg::AggregatedOpInterface op) { aggregates.push_back(op); });
    for (linalg::AggregatedOpInterface op : aggregates) {
      rewriter.setInsertionPoint(op);
      FailureOr<SmallVector<Value>> replacements =
          op.decomposeOperation(rewriter);
      if (failed(replacements)) {
        op->emitError() << "autopar: cannot decompose '" << op->getName()
                        << "' into structured ops";
        return signalPassFailure();
      }
      rewriter.replaceOp(op, *replacements);
    }
  }
};
} // namespace
