//===- ReductionsInner.cpp - parallel loops outside reductions ------------===//
//
// Both backends' loops (buildParallelLoopPasses): a generic op's parallel
// loops become one scf.parallel (the GPU's blocks and threads) only when
// they come first; a leading reduction would be a host loop around it.
//
//===----------------------------------------------------------------------===//

#include "autopar/Conversion/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::autopar {
#define GEN_PASS_DEF_REDUCTIONSINNER
#include "autopar/Conversion/Passes.h.inc"
} // namespace mlir::autopar

using namespace mlir;

namespace {
struct ReductionsInnerPass
    : public mlir::autopar::impl::ReductionsInnerBase<ReductionsInnerPass> {
  void runOnOperation() override {
    SmallVector<linalg::GenericOp> generics;
    getOperation()->walk(
        [&](linalg::GenericOp generic) { generics.push_back(generic); });
    IRRewriter rewriter(&getContext());
    for (linalg::GenericOp generic : generics) {
      // The old loops in their new order: parallel ones, then reductions.
      SmallVector<unsigned> order;
      SmallVector<utils::IteratorType> iterators =
          generic.getIteratorTypesArray();
      for (auto [index, iterator] : llvm::enumerate(iterators))
        if (iterator == utils::IteratorType::parallel)
          order.push_back(index);
      for (auto [index, iterator] : llvm::enumerate(iterators))
        if (iterator != utils::IteratorType::parallel)
          order.push_back(index);
      bool identity = llvm::all_of(llvm::enumerate(order), [](auto pair) {
        return pair.index() == pair.value();
      });
      if (identity)
        continue;
      rewriter.setInsertionPoint(generic);
      if (failed(linalg::interchangeGenericOp(rewriter, generic, order))) {
        generic.emitError() << "autopar-reductions-inner: cannot interchange "
                               "the loops";
        return signalPassFailure();
      }
    }
  }
};
} // namespace
