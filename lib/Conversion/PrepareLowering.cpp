//===- PrepareLowering.cpp - what bufferization cannot take ---------------===//
//
// Before bufferization: aggregated linalg ops (softmax) become the
// structured ops they stand for, ops that produce only empty tensors
// become tensor.empty, scatter-adds become a parallel loop over a row's
// elements around a loop over their positions, splat and iota constant
// inputs are made in the body (Support/ConstantInputs.h), and a constant fill
// shared by several users (or a tensor shared by several fills) is made again
// for each.
//
//===----------------------------------------------------------------------===//

#include "autopar/Analysis/Fusion.h"
#include "autopar/Conversion/Passes.h"
#include "autopar/Dialect/AutoparOps.h"
#include "autopar/Support/ConstantInputs.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/IRMapping.h"
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

/// `op` as an scf.forall over the elements of a row (the GPU's threads),
/// each running an scf.for over the positions (flattened) that adds the
/// position's update element into the destination row its index names.
/// Each destination element takes its updates in position order, as a
/// sequential loop would; the indices are read where the work runs (on the
/// GPU, no host wait), and the loop is one kernel, not one per position.
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
  int64_t rows = destType.getDimSize(0);
  // One thread per row element (one in all for rows of scalars).
  SmallVector<OpFoldResult> threads;
  for (int64_t size : rowShape)
    threads.push_back(rewriter.getIndexAttr(size));
  if (threads.empty())
    threads.push_back(rewriter.getIndexAttr(1));
  auto forall = scf::ForallOp::create(rewriter, loc, threads,
                                      ValueRange{op.getDest()}, std::nullopt);
  OpBuilder::InsertionGuard guard(rewriter);
  rewriter.setInsertionPoint(forall.getTerminator());
  SmallVector<Value> element(forall.getInductionVars());
  // The thread's column of the destination: [rows, 1, ...].
  SmallVector<OpFoldResult> offsets = {rewriter.getIndexAttr(0)};
  SmallVector<OpFoldResult> sizes = {rewriter.getIndexAttr(rows)};
  SmallVector<OpFoldResult> strides(destType.getRank(),
                                    rewriter.getIndexAttr(1));
  for (size_t dim = 0; dim < rowShape.size(); ++dim) {
    offsets.push_back(element[dim]);
    sizes.push_back(rewriter.getIndexAttr(1));
  }
  Value out = forall.getRegionIterArgs().front();
  Value column = tensor::ExtractSliceOp::create(rewriter, loc, out, offsets,
                                                sizes, strides);
  Value zero = arith::ConstantIndexOp::create(rewriter, loc, 0);
  Value upper = arith::ConstantIndexOp::create(rewriter, loc, positions);
  Value step = arith::ConstantIndexOp::create(rewriter, loc, 1);
  auto loop = scf::ForOp::create(
      rewriter, loc, zero, upper, step, ValueRange{column},
      [&](OpBuilder &b, Location bodyLoc, Value position, ValueRange acc) {
        Value row = tensor::ExtractOp::create(b, bodyLoc, indices, position);
        if (!row.getType().isIndex())
          row = arith::IndexCastOp::create(b, bodyLoc, b.getIndexType(), row);
        SmallVector<Value> at = {position};
        SmallVector<Value> into = {row};
        for (size_t dim = 0; dim < rowShape.size(); ++dim) {
          at.push_back(element[dim]);
          into.push_back(zero);
        }
        Value update = tensor::ExtractOp::create(b, bodyLoc, updates, at);
        Value current = tensor::ExtractOp::create(b, bodyLoc, acc[0], into);
        Value sum =
            isa<FloatType>(update.getType())
                ? arith::AddFOp::create(b, bodyLoc, current, update).getResult()
                : arith::AddIOp::create(b, bodyLoc, current, update)
                      .getResult();
        Value next = tensor::InsertOp::create(b, bodyLoc, sum, acc[0], into);
        scf::YieldOp::create(b, bodyLoc, next);
      });
  rewriter.setInsertionPointToStart(forall.getTerminator().getBody());
  tensor::ParallelInsertSliceOp::create(rewriter, loc, loop.getResult(0), out,
                                        offsets, sizes, strides);
  return forall.getResult(0);
}

/// The decomposition of `op` (an attention or its gradient) on a block:
/// `operands` are its slices (outs included; the mask's inputs whole),
/// `offsets` the block's first index along the mask's leading indices
/// (batch, then row), so that the mask sees global indices. The results
/// have the sliced outs' types, but a gradient's dK and dV stay in its
/// accumulator type with `keysInAccumulator`.
static FailureOr<SmallVector<Value>>
decomposeBlock(RewriterBase &rewriter, AttentionOpInterface op,
               ValueRange operands, ValueRange offsets,
               bool keysInAccumulator = false) {
  // The parts go where the block's clone went; later ops after them.
  OpBuilder::InsertionGuard guard(rewriter);
  Operation *blockOp = rewriter.clone(*op);
  blockOp->setOperands(operands);
  for (auto [result, init] : llvm::zip_equal(
           blockOp->getResults(),
           cast<DestinationStyleOpInterface>(blockOp).getDpsInitsMutable()))
    result.setType(init.get().getType());
  auto blockAttention = cast<AttentionOpInterface>(blockOp);
  if (blockAttention.hasMask()) {
    Block &mask = blockAttention.getMaskRegion().front();
    OpBuilder builder = OpBuilder::atBlockBegin(&mask);
    for (auto [index, offset] : llvm::zip(mask.getArguments(), offsets)) {
      auto global = arith::AddIOp::create(builder, op.getLoc(), index, offset);
      index.replaceAllUsesExcept(global.getResult(), global.getOperation());
    }
  }
  rewriter.setInsertionPoint(blockOp);
  FailureOr<SmallVector<Value>> parts =
      keysInAccumulator
          ? cast<AttentionGradOp>(blockOp).buildGradients(rewriter, true)
          : cast<linalg::AggregatedOpInterface>(blockOp).decomposeOperation(
                rewriter);
  rewriter.eraseOp(blockOp);
  return parts;
}

/// `part` inserted into `into` at `offsets`, `sizes`, `strides`, computed
/// in that slice of `into` itself where it can be: when its producer (a
/// destination-style op, a linalg.fill of its init between; the insertion
/// its only use) starts from a
/// tensor.empty used only there, that empty becomes the slice (its
/// contents were never read: the same values), and bufferization then
/// writes the block's result in place instead of into a buffer of its own
/// copied into `into` by a kernel (an attention block's context and
/// gradients).
static Value insertComputedInSlice(RewriterBase &rewriter, Location loc,
                                   Value part, Value into,
                                   ArrayRef<OpFoldResult> offsets,
                                   ArrayRef<OpFoldResult> sizes,
                                   ArrayRef<OpFoldResult> strides) {
  auto producer = part.getDefiningOp<DestinationStyleOpInterface>();
  OpOperand *init = producer && part.use_empty()
                        ? producer.getTiedOpOperand(cast<OpResult>(part))
                        : nullptr;
  if (auto fill =
          init ? init->get().getDefiningOp<linalg::FillOp>() : linalg::FillOp();
      fill && fill->getResult(0).hasOneUse())
    init = fill.getDpsInitOperand(0);
  if (auto empty = init ? init->get().getDefiningOp<tensor::EmptyOp>()
                        : tensor::EmptyOp();
      empty && empty->hasOneUse() && empty.getType() == part.getType()) {
    OpBuilder::InsertionGuard guard(rewriter);
    rewriter.setInsertionPoint(empty);
    Value slice = tensor::ExtractSliceOp::create(
        rewriter, loc, cast<RankedTensorType>(part.getType()), into, offsets,
        sizes, strides);
    rewriter.modifyOpInPlace(init->getOwner(), [&] { init->set(slice); });
    rewriter.eraseOp(empty);
  }
  return tensor::InsertSliceOp::create(rewriter, loc, part, into, offsets,
                                       sizes, strides);
}

/// Blocks of `block` items from 0 to `extent`: an scf.for over the whole
/// blocks carrying `inits`, then, when `block` does not divide `extent`, the
/// last block's `extent mod block` items after it (straight-line code).
/// `body(first, size, carried)` builds one block at the insertion point and
/// returns the carried values it updates. The results: the last ones.
static FailureOr<SmallVector<Value>> buildBlocks(
    RewriterBase &rewriter, Location loc, int64_t extent, int64_t block,
    ValueRange inits,
    function_ref<FailureOr<SmallVector<Value>>(Value, int64_t, ValueRange)>
        body) {
  auto constant = [&](int64_t value) -> Value {
    return arith::ConstantIndexOp::create(rewriter, loc, value);
  };
  int64_t whole = extent / block * block;
  SmallVector<Value> results(inits);
  if (whole > 0) {
    auto loop = scf::ForOp::create(rewriter, loc, constant(0), constant(whole),
                                   constant(block), inits);
    OpBuilder::InsertionGuard guard(rewriter);
    rewriter.setInsertionPointToStart(loop.getBody());
    FailureOr<SmallVector<Value>> updated =
        body(loop.getInductionVar(), block, loop.getRegionIterArgs());
    if (failed(updated))
      return failure();
    rewriter.setInsertionPointToEnd(loop.getBody());
    scf::YieldOp::create(rewriter, loc, *updated);
    results.assign(loop.getResults().begin(), loop.getResults().end());
  }
  if (whole == extent)
    return results;
  return body(constant(whole), extent - whole, results);
}

/// `op` (an attention or its gradient) computed `block` batches at a time:
/// an scf.for over the batch carrying the outs, whose body decomposes the
/// op on that block of every operand (each has the batch first; the mask
/// sees the global batch index) and inserts the results into the outs; a
/// smaller last block after it when `block` does not divide the batch.
/// Exact (batches are independent); score-sized buffers hold `block`
/// batches instead of all of them.
static FailureOr<SmallVector<Value>>
decomposeInBatchBlocks(RewriterBase &rewriter, AttentionOpInterface op,
                       int64_t block) {
  Location loc = op.getLoc();
  auto destination = cast<DestinationStyleOpInterface>(op.getOperation());
  int64_t batch = op.getLoopSizes()[0];
  auto body = [&](Value first, int64_t size,
                  ValueRange carried) -> FailureOr<SmallVector<Value>> {
    auto blockShape = [&](Type type) {
      auto tensor = cast<RankedTensorType>(type);
      SmallVector<int64_t> shape(tensor.getShape());
      shape[0] = size;
      return tensor.clone(shape);
    };
    auto sliceArguments = [&](RankedTensorType type) {
      SmallVector<OpFoldResult> offsets(type.getRank(),
                                        rewriter.getIndexAttr(0));
      offsets[0] = first;
      SmallVector<OpFoldResult> sizes;
      for (int64_t extent : blockShape(type).getShape())
        sizes.push_back(rewriter.getIndexAttr(extent));
      SmallVector<OpFoldResult> strides(type.getRank(),
                                        rewriter.getIndexAttr(1));
      return std::make_tuple(offsets, sizes, strides);
    };
    SmallVector<Value> operands;
    for (OpOperand &operand : op->getOpOperands()) {
      Value whole = operand.get();
      if (op.isMaskInput(operand)) {
        operands.push_back(whole);
        continue;
      }
      if (destination.isDpsInit(&operand))
        whole =
            carried[destination.getTiedOpResult(&operand).getResultNumber()];
      auto type = cast<RankedTensorType>(whole.getType());
      auto [offsets, sizes, strides] = sliceArguments(type);
      operands.push_back(tensor::ExtractSliceOp::create(
          rewriter, loc, blockShape(type), whole, offsets, sizes, strides));
    }
    FailureOr<SmallVector<Value>> parts =
        decomposeBlock(rewriter, op, operands, ValueRange{first});
    if (failed(parts))
      return failure();
    SmallVector<Value> updated;
    for (auto [part, into] : llvm::zip_equal(*parts, carried)) {
      auto [offsets, sizes, strides] =
          sliceArguments(cast<RankedTensorType>(into.getType()));
      updated.push_back(insertComputedInSlice(rewriter, loc, part, into,
                                              offsets, sizes, strides));
    }
    return updated;
  };
  return buildBlocks(rewriter, loc, batch, block,
                     ValueRange(destination.getDpsInits()), body);
}

/// `op` computed `rows` query rows of one batch at a time, for when even
/// one batch's score-sized buffers exceed the budget (long sequences): an
/// scf.for over the batches around one over blocks of rows (and a smaller
/// last block after it when `rows` does not divide I). The operands
/// indexed by query row (queries, outputs, lse, their adjoints, dQ) are
/// sliced by batch and rows, the keys and values (and dK, dV) by batch
/// alone. The forward's rows are independent; the gradient's dK and dV sum
/// over the rows, so each block's are added to the batch's, zeroed first,
/// in the accumulator type (f32 for a 16-bit attention: a sum over many
/// blocks rounded to 8 bits at each would lose the small ones), rounded
/// once after the last block. The mask sees the global batch and row.
static FailureOr<SmallVector<Value>>
decomposeInRowBlocks(RewriterBase &rewriter, AttentionOpInterface op,
                     int64_t rows) {
  Location loc = op.getLoc();
  auto destination = cast<DestinationStyleOpInterface>(op.getOperation());
  SmallVector<int64_t, 5> loops = op.getLoopSizes();
  bool isGradient = isa<AttentionGradOp>(op.getOperation());
  // Keys and values are operands 1 and 2 of both ops; of the gradient's
  // outs only dQ (the first) has rows.
  auto hasRows = [&](OpOperand &operand) {
    unsigned number = operand.getOperandNumber();
    if (destination.isDpsInit(&operand))
      return !isGradient ||
             destination.getTiedOpResult(&operand).getResultNumber() == 0;
    return number != 1 && number != 2;
  };
  auto constant = [&](int64_t value) -> Value {
    return arith::ConstantIndexOp::create(rewriter, loc, value);
  };
  // `whole` sliced at batch `batch` (when given) and `size` rows from `row`
  // (when given); inserted back by `insert`.
  auto bounds = [&](Value whole, Value batch, Value row, int64_t size) {
    auto type = cast<RankedTensorType>(whole.getType());
    SmallVector<int64_t> shape(type.getShape());
    SmallVector<OpFoldResult> offsets(type.getRank(), rewriter.getIndexAttr(0));
    if (batch) {
      offsets[0] = batch;
      shape[0] = 1;
    }
    if (row) {
      offsets[1] = row;
      shape[1] = size;
    }
    SmallVector<OpFoldResult> sizes;
    for (int64_t size : shape)
      sizes.push_back(rewriter.getIndexAttr(size));
    SmallVector<OpFoldResult> strides(type.getRank(), rewriter.getIndexAttr(1));
    return std::make_tuple(type.clone(shape), offsets, sizes, strides);
  };
  auto slice = [&](Value whole, Value batch, Value row = Value(),
                   int64_t size = 0) -> Value {
    auto [type, offsets, sizes, strides] = bounds(whole, batch, row, size);
    return tensor::ExtractSliceOp::create(rewriter, loc, type, whole, offsets,
                                          sizes, strides);
  };
  auto insert = [&](Value part, Value into, Value batch, Value row = Value(),
                    int64_t size = 0) -> Value {
    auto [type, offsets, sizes, strides] = bounds(into, batch, row, size);
    return insertComputedInSlice(rewriter, loc, part, into, offsets, sizes,
                                 strides);
  };

  auto outer =
      scf::ForOp::create(rewriter, loc, constant(0), constant(loops[0]),
                         constant(1), ValueRange(destination.getDpsInits()));
  OpBuilder::InsertionGuard guard(rewriter);
  rewriter.setInsertionPointToStart(outer.getBody());
  Value batch = outer.getInductionVar();
  Type accumulator = getAttentionAccumulatorType(op);
  bool keysInAccumulator =
      isGradient && accumulator != op.getQuery().getType().getElementType();
  SmallVector<Value> batchOuts;
  for (OpOperand &init : destination.getDpsInitsMutable()) {
    unsigned number = destination.getTiedOpResult(&init).getResultNumber();
    Value carried = outer.getRegionIterArgs()[number];
    if (hasRows(init)) {
      batchOuts.push_back(slice(carried, batch));
      continue;
    }
    // dK, dV start at zero: in the batch's slice (written in place), or,
    // summed in the accumulator type, in a tensor of their own.
    if (keysInAccumulator) {
      RankedTensorType type = std::get<0>(bounds(carried, batch, Value(), 0));
      batchOuts.push_back(
          buildFilled(rewriter, loc, type.clone(accumulator), 0.0));
      continue;
    }
    Value part = slice(carried, batch);
    Value zero = arith::ConstantOp::create(
        rewriter, loc,
        rewriter.getZeroAttr(
            cast<RankedTensorType>(part.getType()).getElementType()));
    batchOuts.push_back(
        linalg::FillOp::create(rewriter, loc, zero, part).getResult(0));
  }
  auto body = [&](Value row, int64_t size,
                  ValueRange carried) -> FailureOr<SmallVector<Value>> {
    SmallVector<Value> operands;
    for (OpOperand &operand : op->getOpOperands()) {
      if (op.isMaskInput(operand)) {
        operands.push_back(operand.get());
        continue;
      }
      bool rowed = hasRows(operand);
      if (destination.isDpsInit(&operand)) {
        Value into =
            carried[destination.getTiedOpResult(&operand).getResultNumber()];
        operands.push_back(rowed ? slice(into, Value(), row, size) : into);
        continue;
      }
      operands.push_back(rowed ? slice(operand.get(), batch, row, size)
                               : slice(operand.get(), batch));
    }
    FailureOr<SmallVector<Value>> parts = decomposeBlock(
        rewriter, op, operands, ValueRange{batch, row}, keysInAccumulator);
    if (failed(parts))
      return failure();
    SmallVector<Value> updated;
    for (auto [part, into, init] :
         llvm::zip_equal(*parts, carried, destination.getDpsInitsMutable())) {
      if (hasRows(init)) {
        updated.push_back(insert(part, into, Value(), row, size));
        continue;
      }
      // dK, dV: the block's share added to the batch's.
      updated.push_back(linalg::AddOp::create(rewriter, loc,
                                              ValueRange{into, part},
                                              ValueRange{into})
                            .getResult(0));
    }
    return updated;
  };
  FailureOr<SmallVector<Value>> batchResults =
      buildBlocks(rewriter, loc, loops[1], rows, batchOuts, body);
  if (failed(batchResults))
    return failure();
  rewriter.setInsertionPointToEnd(outer.getBody());
  SmallVector<Value> whole;
  for (auto [part, carried] :
       llvm::zip_equal(*batchResults, outer.getRegionIterArgs()))
    whole.push_back(
        insert(buildConverted(
                   rewriter, loc, part,
                   cast<RankedTensorType>(carried.getType()).getElementType()),
               carried, batch));
  scf::YieldOp::create(rewriter, loc, whole);
  return SmallVector<Value>(outer.getResults());
}

namespace {
struct PrepareLoweringPass
    : public mlir::autopar::impl::PrepareLoweringBase<PrepareLoweringPass> {
  using Base::Base;
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
      FailureOr<SmallVector<Value>> replacements;
      auto attention = dyn_cast<AttentionOpInterface>(op.getOperation());
      // Batch and heads kept apart (autopar-fuse-attention) merge again:
      // the decompositions and their blocks are over [B, I, J].
      if (attention) {
        attention = mergeAttentionBatch(rewriter, attention);
        op = cast<linalg::AggregatedOpInterface>(attention.getOperation());
      }
      rewriter.setInsertionPoint(op);
      int64_t block =
          attention ? getAttentionBatchBlock(attention, attentionBlockBytes)
                    : 0;
      int64_t rows =
          attention ? getAttentionRowBlock(attention, attentionBlockBytes) : 0;
      if (attention && rows < attention.getLoopSizes()[1])
        replacements = decomposeInRowBlocks(rewriter, attention, rows);
      else if (attention && block < attention.getLoopSizes()[0])
        replacements = decomposeInBatchBlocks(rewriter, attention, block);
      else
        replacements = op.decomposeOperation(rewriter);
      if (failed(replacements)) {
        op->emitError() << "autopar: cannot decompose '" << op->getName()
                        << "' into structured ops";
        return signalPassFailure();
      }
      rewriter.replaceOp(op, *replacements);
    }

    // Splat and iota constant inputs made in the body.
    foldConstantInputs(getOperation());

    // A tensor made from a scalar (Analysis/Fusion.h, isMadeFromScalar) and
    // shared by several users (torch-mlir fills one zero tensor for every
    // product of a shape) is made again for each: bufferization would fill
    // one buffer and copy it into each user's (HF LLaMA's forward: 63
    // copies), where each user's own fill is made in its kernel or GEMM
    // (beta = 0), as the cost model prices it.
    // Its tensor too: fills of one tensor.empty (CSE merges them in
    // autopar-run's partitioned programs) would bufferize into one buffer
    // reused by product after product, which a GEMM epilogue cannot take
    // (the buffer is written again after it).
    SmallVector<linalg::FillOp> shared;
    getOperation()->walk([&](linalg::FillOp fill) {
      if (!isMadeFromScalar(fill))
        return;
      Operation *empty = fill.getOutputs()[0].getDefiningOp();
      if (!empty->hasOneUse()) {
        rewriter.setInsertionPoint(fill);
        Operation *own = rewriter.clone(*empty);
        rewriter.modifyOpInPlace(
            fill, [&] { fill.getOutputsMutable()[0].set(own->getResult(0)); });
      }
      if (!fill->getResult(0).hasOneUse())
        shared.push_back(fill);
    });
    for (linalg::FillOp fill : shared) {
      // Made just before each structured op that uses it; the shared one
      // goes when nothing else uses it. Other users keep it (made anew for
      // them too, a ZeRO-1 step's buffers moved from call to call and its
      // CUDA graph was never captured).
      SmallVector<OpOperand *> uses;
      for (OpOperand &use : fill->getResult(0).getUses())
        if (isa<linalg::LinalgOp>(use.getOwner()))
          uses.push_back(&use);
      Operation *empty = fill.getOutputs()[0].getDefiningOp();
      for (OpOperand *use : uses) {
        rewriter.setInsertionPoint(use->getOwner());
        Operation *ownEmpty = rewriter.clone(*empty);
        IRMapping mapping;
        mapping.map(empty->getResult(0), ownEmpty->getResult(0));
        Operation *own = rewriter.clone(*fill, mapping);
        rewriter.modifyOpInPlace(use->getOwner(),
                                 [&] { use->set(own->getResult(0)); });
      }
      if (!fill->use_empty())
        continue;
      rewriter.eraseOp(fill);
      if (empty->use_empty())
        rewriter.eraseOp(empty);
    }
  }
};
} // namespace
