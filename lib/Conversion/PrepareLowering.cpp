//===- PrepareLowering.cpp - what bufferization cannot take ---------------===//
//
// Before bufferization: aggregated linalg ops (softmax) become the
// structured ops they stand for, ops that produce only empty tensors
// become tensor.empty, and scatter-adds become loops over their positions.
//
//===----------------------------------------------------------------------===//

#include "autopar/Conversion/Passes.h"
#include "autopar/Dialect/AutoparOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace mlir::autopar {
#define GEN_PASS_DEF_PREPARELOWERING
#include "autopar/Conversion/Passes.h.inc"
} // namespace mlir::autopar

using namespace mlir;
using namespace mlir::autopar;

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

/// `op` as an scf.for over its positions (flattened) that adds each update
/// row into the destination row its index names.
static Value expandScatterAdd(RewriterBase &rewriter, ScatterAddOp op) {
  Location loc = op.getLoc();
  RankedTensorType indicesType = op.getIndices().getType();
  RankedTensorType destType = op.getDest().getType();
  int64_t positions = indicesType.getNumElements();
  unsigned rank = indicesType.getRank();
  // Positions flattened: indices [N], updates [N, row...].
  ReassociationIndices leading;
  for (unsigned dim = 0; dim < rank; ++dim)
    leading.push_back(dim);
  SmallVector<ReassociationIndices> indexGroups = {leading};
  SmallVector<ReassociationIndices> updateGroups = {leading};
  for (unsigned dim = 1; dim < destType.getRank(); ++dim)
    updateGroups.push_back({static_cast<int64_t>(rank + dim - 1)});
  Value indices = op.getIndices(), updates = op.getUpdates();
  if (rank != 1) {
    indices =
        tensor::CollapseShapeOp::create(rewriter, loc, indices, indexGroups);
    updates =
        tensor::CollapseShapeOp::create(rewriter, loc, updates, updateGroups);
  }
  ArrayRef<int64_t> rowShape = destType.getShape().drop_front();
  auto rowType = RankedTensorType::get(rowShape, destType.getElementType());
  SmallVector<OpFoldResult> sizes = {rewriter.getIndexAttr(1)};
  SmallVector<OpFoldResult> strides(destType.getRank(),
                                    rewriter.getIndexAttr(1));
  for (int64_t size : rowShape)
    sizes.push_back(rewriter.getIndexAttr(size));
  auto at = [&](Value first) {
    SmallVector<OpFoldResult> offsets(destType.getRank(),
                                      rewriter.getIndexAttr(0));
    offsets[0] = first;
    return offsets;
  };
  Value lower = arith::ConstantIndexOp::create(rewriter, loc, 0);
  Value upper = arith::ConstantIndexOp::create(rewriter, loc, positions);
  Value step = arith::ConstantIndexOp::create(rewriter, loc, 1);
  auto loop = scf::ForOp::create(
      rewriter, loc, lower, upper, step, ValueRange{op.getDest()},
      [&](OpBuilder &b, Location bodyLoc, Value position, ValueRange acc) {
        Value row = tensor::ExtractOp::create(b, bodyLoc, indices, position);
        if (!row.getType().isIndex())
          row = arith::IndexCastOp::create(b, bodyLoc, b.getIndexType(), row);
        Value update = tensor::ExtractSliceOp::create(
            b, bodyLoc, rowType, updates, at(position), sizes, strides);
        Value current = tensor::ExtractSliceOp::create(
            b, bodyLoc, rowType, acc[0], at(row), sizes, strides);
        AffineMap identity = b.getMultiDimIdentityMap(rowType.getRank());
        Value sum =
            linalg::GenericOp::create(
                b, bodyLoc, TypeRange{rowType}, ValueRange{update},
                ValueRange{current}, ArrayRef<AffineMap>{identity, identity},
                SmallVector<utils::IteratorType>(rowType.getRank(),
                                                 utils::IteratorType::parallel),
                [&](OpBuilder &nb, Location nloc, ValueRange args) {
                  Value added =
                      isa<FloatType>(args[0].getType())
                          ? arith::AddFOp::create(nb, nloc, args[1], args[0])
                                .getResult()
                          : arith::AddIOp::create(nb, nloc, args[1], args[0])
                                .getResult();
                  linalg::YieldOp::create(nb, nloc, added);
                })
                .getResult(0);
        Value next = tensor::InsertSliceOp::create(b, bodyLoc, sum, acc[0],
                                                   at(row), sizes, strides);
        scf::YieldOp::create(b, bodyLoc, next);
      });
  return loop.getResult(0);
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

    SmallVector<ScatterAddOp> scatters;
    getOperation()->walk([&](ScatterAddOp op) { scatters.push_back(op); });
    for (ScatterAddOp op : scatters) {
      rewriter.setInsertionPoint(op);
      rewriter.replaceOp(op, expandScatterAdd(rewriter, op));
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
