//===- FuseElementwise.cpp - elementwise producers into their users -------===//
//
// Applies the fusion rule of include/autopar/Analysis/Fusion.h: every op it
// marks is fused into each of its users with upstream's
// `linalg::fuseElementwiseOps`, then erased. Results upstream keeps on the
// fused op for the producer's other users are dropped again (those users
// get the producer's body too), so no fused op writes the producer's
// result.
//
//===----------------------------------------------------------------------===//

#include "autopar/Analysis/Fusion.h"
#include "autopar/Conversion/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::autopar {
#define GEN_PASS_DEF_FUSEELEMENTWISE
#include "autopar/Conversion/Passes.h.inc"
} // namespace mlir::autopar

using namespace mlir;
using namespace mlir::autopar;

/// Whether `value` is a tensor filled with floating-point zero.
static bool isZeroFilled(Value value) {
  auto fill = value.getDefiningOp<linalg::FillOp>();
  if (!fill)
    return false;
  FloatAttr zero;
  return matchPattern(fill.value(), m_Constant(&zero)) &&
         zero.getValue().isZero();
}

/// An op with parallel loops only that adds what it computes to a
/// zero-filled init (autopar-training accumulates every gradient that
/// way) computes just the value: its init becomes the fill's destination,
/// unread, and the addition goes, so the op can fuse into its users.
static void dropZeroAccumulation(RewriterBase &rewriter, linalg::GenericOp op) {
  if (op.getNumParallelLoops() != op.getNumLoops())
    return;
  auto yield = cast<linalg::YieldOp>(op.getBody()->getTerminator());
  for (OpOperand &init : op.getDpsInitsMutable()) {
    if (!isZeroFilled(init.get()))
      continue;
    BlockArgument out = op.getMatchingBlockArgument(&init);
    unsigned position = op.getTiedOpResult(&init).getResultNumber();
    auto add = yield.getOperand(position).getDefiningOp<arith::AddFOp>();
    if (!add || !out.hasOneUse() || add->getBlock() != op.getBody())
      continue;
    if ((add.getLhs() == out) == (add.getRhs() == out) || !add->hasOneUse())
      continue;
    Value value = add.getLhs() == out ? add.getRhs() : add.getLhs();
    auto fill = init.get().getDefiningOp<linalg::FillOp>();
    rewriter.modifyOpInPlace(op, [&] {
      yield->setOperand(position, value);
      init.set(fill.getOutputs()[0]);
    });
    rewriter.eraseOp(add);
    if (fill->use_empty())
      rewriter.eraseOp(fill);
  }
}

namespace {
struct FuseElementwisePass
    : public mlir::autopar::impl::FuseElementwiseBase<FuseElementwisePass> {
  void runOnOperation() override {
    IRRewriter rewriter(&getContext());
    getOperation()->walk(
        [&](linalg::GenericOp op) { dropZeroAccumulation(rewriter, op); });
    // Rounds until nothing fuses: a chain's first op moves into the second,
    // which is then a producer of the same kind.
    for (;;) {
      // Named elementwise ops that take part become the generics they
      // stand for (upstream fuses generics).
      SmallVector<linalg::LinalgOp> named;
      getOperation()->walk([&](linalg::LinalgOp op) {
        if (isa<linalg::GenericOp>(op) || !isFusionCandidate(op))
          return;
        if (isFusedIntoUsers(op) ||
            llvm::any_of(op->getOperands(), [](Value operand) {
              Operation *producer = operand.getDefiningOp();
              return producer && isFusedIntoUsers(producer);
            }))
          named.push_back(op);
      });
      for (linalg::LinalgOp op : named) {
        rewriter.setInsertionPoint(op);
        if (failed(linalg::generalizeNamedOp(rewriter, op))) {
          op->emitError() << "autopar-fuse-elementwise: cannot write this "
                             "elementwise op as a linalg.generic";
          return signalPassFailure();
        }
      }
      SmallVector<Operation *> producers;
      getOperation()->walk([&](linalg::GenericOp op) {
        if (isFusedIntoUsers(op))
          producers.push_back(op);
      });
      if (producers.empty())
        return;
      // Ops this round erased (a producer fused into a later one erases
      // it); an address reused by a new op waits for the next round.
      llvm::DenseSet<Operation *> erased;
      SmallVector<Operation *> fused;
      for (Operation *producer : producers) {
        // An earlier fusion may have changed its users.
        if (erased.contains(producer) || !isFusedIntoUsers(producer))
          continue;
        if (failed(fuseIntoUsers(rewriter, producer, fused, erased)))
          return signalPassFailure();
      }
      // The producer's result that upstream keeps on a fused op for the
      // producer's other users: unused once they have the body too, and
      // dropped (with inputs left unread), so that the fused op is a
      // one-result producer again for the next round.
      RewritePatternSet patterns(&getContext());
      linalg::populateEraseUnusedOperandsAndResultsPatterns(patterns);
      if (failed(applyOpPatternsGreedily(fused, std::move(patterns))))
        return signalPassFailure();
    }
  }

  /// Fuses `producer` into each of its users, then erases it.
  LogicalResult fuseIntoUsers(IRRewriter &rewriter, Operation *producer,
                              SmallVectorImpl<Operation *> &fused,
                              llvm::DenseSet<Operation *> &erased) {
    while (!producer->use_empty()) {
      OpOperand &use = *producer->getResult(0).use_begin();
      Operation *consumer = use.getOwner();
      rewriter.setInsertionPoint(consumer);
      FailureOr<linalg::ElementwiseOpFusionResult> result =
          linalg::fuseElementwiseOps(rewriter, &use);
      if (failed(result))
        return consumer->emitError()
               << "autopar-fuse-elementwise: upstream's elementwise fusion "
                  "refused a producer the fusion rule accepts";
      for (OpResult original : consumer->getResults())
        rewriter.replaceAllUsesWith(original,
                                    result->replacements.lookup(original));
      llvm::erase(fused, consumer);
      erased.insert(consumer);
      rewriter.eraseOp(consumer);
      fused.push_back(result->fusedOp);
    }
    llvm::erase(fused, producer);
    erased.insert(producer);
    rewriter.eraseOp(producer);
    return success();
  }
};
} // namespace
