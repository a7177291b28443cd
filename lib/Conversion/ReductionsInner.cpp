//===- ReductionsInner.cpp - parallel loops outside reductions ------------===//
//
// Both backends' loops (buildParallelLoopPasses): a generic op's parallel
// loops become one scf.parallel (the GPU's blocks and threads) only when
// they come first; a leading reduction would be a host loop around it, and
// a sum to one value, with no parallel loop at all, a host loop nest over
// the whole input.
//
//===----------------------------------------------------------------------===//

#include "autopar/Conversion/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::autopar {
#define GEN_PASS_DEF_REDUCTIONSINNER
#include "autopar/Conversion/Passes.h.inc"
} // namespace mlir::autopar

using namespace mlir;

namespace {
/// Partial sums a sum to one value is split into, at least (as many
/// leading loops as it takes, all but the last at most).
constexpr int64_t kMinPartials = 1024;

/// Interchanges `generic`'s loops: parallel ones first, in their order,
/// then the others.
LogicalResult putParallelFirst(IRRewriter &rewriter,
                               linalg::GenericOp generic) {
  SmallVector<unsigned> order;
  SmallVector<utils::IteratorType> iterators = generic.getIteratorTypesArray();
  for (auto [index, iterator] : llvm::enumerate(iterators))
    if (iterator == utils::IteratorType::parallel)
      order.push_back(index);
  for (auto [index, iterator] : llvm::enumerate(iterators))
    if (iterator != utils::IteratorType::parallel)
      order.push_back(index);
  if (llvm::all_of(llvm::enumerate(order),
                   [](auto pair) { return pair.index() == pair.value(); }))
    return success();
  rewriter.setInsertionPoint(generic);
  return linalg::interchangeGenericOp(rewriter, generic, order);
}

/// A generic on buffers that adds values into one float (no parallel loop,
/// one rank-0 output that its body reads once, yielding `out + x`): its
/// leading loops become parallel loops over partial sums in a buffer of
/// their own (at least kMinPartials, or all loops but the last), and a
/// second generic adds the partials to the output. On the GPU the first is
/// a kernel and the host sums the partials only; on the CPU the same loops
/// run in sequence. Each partial adds its elements in the original order;
/// the total is summed in a different order (rounding differs).
void splitScalarSum(IRRewriter &rewriter, linalg::GenericOp generic) {
  if (generic.getNumParallelLoops() != 0 || generic.getNumDpsInits() != 1 ||
      !generic.hasPureBufferSemantics() || generic.getNumLoops() < 2)
    return;
  OpOperand *init = generic.getDpsInitOperand(0);
  auto outType = dyn_cast<MemRefType>(init->get().getType());
  if (!outType || outType.getRank() != 0 ||
      !isa<FloatType>(outType.getElementType()))
    return;
  BlockArgument outArg = generic.getMatchingBlockArgument(init);
  auto yield = cast<linalg::YieldOp>(generic.getBody()->getTerminator());
  auto add = yield.getOperand(0).getDefiningOp<arith::AddFOp>();
  if (!add || !outArg.hasOneUse() ||
      (add.getLhs() != outArg && add.getRhs() != outArg))
    return;
  SmallVector<int64_t> ranges = generic.getStaticLoopRanges();
  if (llvm::any_of(ranges, ShapedType::isDynamic))
    return;
  unsigned loops = ranges.size(), split = 0;
  int64_t partials = 1;
  while (split + 1 < loops && partials < kMinPartials)
    partials *= ranges[split++];
  if (partials < 2)
    return;

  MLIRContext *context = generic.getContext();
  Location loc = generic.getLoc();
  Type element = outType.getElementType();
  rewriter.setInsertionPoint(generic);
  auto partialType =
      MemRefType::get(ArrayRef<int64_t>(ranges).take_front(split), element);
  Value partial = memref::AllocOp::create(rewriter, loc, partialType);
  Value zero = arith::ConstantOp::create(rewriter, loc,
                                         rewriter.getFloatAttr(element, 0.0));
  linalg::FillOp::create(rewriter, loc, ValueRange{zero}, ValueRange{partial});
  // The inner loops' sum for each index of the leading ones.
  SmallVector<AffineMap> maps = generic.getIndexingMapsArray();
  SmallVector<AffineExpr> leading;
  for (unsigned d = 0; d < split; ++d)
    leading.push_back(getAffineDimExpr(d, context));
  maps.back() = AffineMap::get(loops, 0, leading, context);
  SmallVector<utils::IteratorType> iterators(loops,
                                             utils::IteratorType::reduction);
  std::fill_n(iterators.begin(), split, utils::IteratorType::parallel);
  auto sums = linalg::GenericOp::create(rewriter, loc, TypeRange{},
                                        generic.getDpsInputs(),
                                        ValueRange{partial}, maps, iterators);
  rewriter.cloneRegionBefore(generic.getRegion(), sums.getRegion(),
                             sums.getRegion().end());
  // The partials added to the output.
  SmallVector<AffineMap> totalMaps = {
      rewriter.getMultiDimIdentityMap(split),
      AffineMap::get(split, 0, ArrayRef<AffineExpr>{}, context)};
  SmallVector<utils::IteratorType> totalIterators(
      split, utils::IteratorType::reduction);
  linalg::GenericOp::create(
      rewriter, loc, TypeRange{}, ValueRange{partial}, ValueRange{init->get()},
      totalMaps, totalIterators,
      [&](OpBuilder &b, Location l, ValueRange args) {
        linalg::YieldOp::create(
            b, l, arith::AddFOp::create(b, l, args[1], args[0]).getResult());
      });
  memref::DeallocOp::create(rewriter, loc, partial);
  rewriter.eraseOp(generic);
}

struct ReductionsInnerPass
    : public mlir::autopar::impl::ReductionsInnerBase<ReductionsInnerPass> {
  void runOnOperation() override {
    SmallVector<linalg::GenericOp> generics;
    getOperation()->walk(
        [&](linalg::GenericOp generic) { generics.push_back(generic); });
    IRRewriter rewriter(&getContext());
    for (linalg::GenericOp generic : generics) {
      if (generic.getNumParallelLoops() == 0) {
        splitScalarSum(rewriter, generic);
        continue;
      }
      if (failed(putParallelFirst(rewriter, generic))) {
        generic.emitError() << "autopar-reductions-inner: cannot interchange "
                               "the loops";
        return signalPassFailure();
      }
    }
  }
};
} // namespace
