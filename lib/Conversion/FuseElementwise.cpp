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
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::autopar {
#define GEN_PASS_DEF_FUSEELEMENTWISE
#include "autopar/Conversion/Passes.h.inc"
} // namespace mlir::autopar

using namespace mlir;
using namespace mlir::autopar;

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

/// A generic that copies its one input element for element (identity maps,
/// the input's type): what dropZeroAccumulation leaves of a gradient passed
/// through an addition unchanged (a bias add's, read by its bias gradient
/// and by contractions, so never fused). Its users read the input instead:
/// no buffer, no kernel. Not when the input's producer runs inside its
/// users (a loss gradient fused into the copy and the bias gradient's
/// sum): the copy is then where the value is made, and without it the
/// producer would be a kernel of its own that the sum waits for.
static void forwardCopy(RewriterBase &rewriter, linalg::GenericOp op) {
  if (!isElementCopy(op))
    return;
  Value input = op.getDpsInputs()[0];
  Operation *producer = input.getDefiningOp();
  if (producer && isFusedIntoUsers(producer))
    return;
  Operation *init = op.getDpsInits()[0].getDefiningOp();
  rewriter.replaceOp(op, input);
  if (init && init->use_empty() && isPure(init))
    rewriter.eraseOp(init);
}

/// The rule's fifth part (Analysis/Fusion.h): a 2-D transpose read only
/// by 2-D contractions goes, each reading its input through the composed
/// map; a 2-D transpose of a contraction's one-use result goes, the
/// contraction writing the transposed result (its result map composed
/// with the inverse permutation, into a fill of the transpose's shape).
static LogicalResult foldTransposes(RewriterBase &rewriter, Operation *root) {
  SmallVector<Operation *> transposes;
  root->walk([&](linalg::LinalgOp op) {
    if (isTransposeFoldedIntoUsers(op) || isTransposeFoldedIntoProducer(op))
      transposes.push_back(op);
  });
  for (Operation *transpose : transposes) {
    auto [input, map] = getTransposedInput(transpose);
    auto generalize = [&](Operation *op) -> FailureOr<linalg::GenericOp> {
      if (auto generic = dyn_cast<linalg::GenericOp>(op))
        return generic;
      rewriter.setInsertionPoint(op);
      return linalg::generalizeNamedOp(rewriter, cast<linalg::LinalgOp>(op));
    };
    if (isTransposeFoldedIntoUsers(transpose)) {
      // Users read T's result at M(c) = T's loops l; T's result at l is its
      // input at P(l): they read the input at P(M(c)).
      while (!transpose->use_empty()) {
        OpOperand &use = *transpose->getResult(0).use_begin();
        unsigned position = use.getOperandNumber();
        FailureOr<linalg::GenericOp> user = generalize(use.getOwner());
        if (failed(user))
          return use.getOwner()->emitError()
                 << "autopar-fuse-elementwise: cannot write this contraction "
                    "as a linalg.generic";
        SmallVector<AffineMap> maps = user->getIndexingMapsArray();
        maps[position] = map.compose(maps[position]);
        rewriter.modifyOpInPlace(*user, [&] {
          user->setIndexingMapsAttr(rewriter.getAffineMapArrayAttr(maps));
          (*user)->setOperand(position, input);
        });
      }
      rewriter.eraseOp(transpose);
      continue;
    }
    // An earlier fold may have taken the transpose's producer's other
    // conditions away: asked again, as the users' rule is.
    if (!isTransposeFoldedIntoProducer(transpose))
      continue;
    // The producer writes the transposed result: its result index i goes
    // to l = P^-1(i).
    FailureOr<linalg::GenericOp> producer = generalize(input.getDefiningOp());
    if (failed(producer))
      return input.getDefiningOp()->emitError()
             << "autopar-fuse-elementwise: cannot write this contraction as "
                "a linalg.generic";
    Value result = transpose->getResult(0);
    OpOperand *init = producer->getDpsInitOperand(0);
    auto fill = init->get().getDefiningOp<linalg::FillOp>();
    rewriter.setInsertionPoint(*producer);
    Value empty = tensor::EmptyOp::create(
        rewriter, transpose->getLoc(),
        cast<RankedTensorType>(result.getType()).getShape(),
        getElementTypeOrSelf(result.getType()));
    Value start = empty;
    if (fill)
      start = linalg::FillOp::create(rewriter, fill.getLoc(),
                                     fill.getInputs()[0], empty)
                  .getResult(0);
    SmallVector<AffineMap> maps = producer->getIndexingMapsArray();
    unsigned position = init->getOperandNumber();
    maps[position] = inversePermutation(map).compose(maps[position]);
    SmallVector<utils::IteratorType> iterators =
        producer->getIteratorTypesArray();
    auto folded = linalg::GenericOp::create(
        rewriter, producer->getLoc(), TypeRange{result.getType()},
        producer->getDpsInputs(), ValueRange{start}, maps, iterators);
    rewriter.inlineRegionBefore(producer->getRegion(), folded.getRegion(),
                                folded.getRegion().end());
    folded->setDiscardableAttrs((*producer)->getDiscardableAttrDictionary());
    rewriter.replaceOp(transpose, folded->getResults());
    rewriter.eraseOp(*producer);
    if (fill && fill->use_empty())
      rewriter.eraseOp(fill);
  }
  return success();
}

/// Whether `view`, of a rounded product (getRoundedProduct), is read by
/// the product's GEMM epilogue: by its one user, or through the chain of
/// one-use ops fused into their user that starts there (a bias add fused
/// into the residual add after it).
static bool isReadByEpilogue(tensor::ExpandShapeOp view) {
  if (!view->hasOneUse())
    return false;
  auto product = getRoundedProduct(view.getSrc().getDefiningOp());
  Operation *user = *view->getUsers().begin();
  while (user && user->getNumResults() == 1 && user->hasOneUse() &&
         isFusedIntoUsers(user))
    user = *user->getUsers().begin();
  auto generic = dyn_cast_or_null<linalg::GenericOp>(user);
  std::optional<GemmEpilogue> epilogue =
      generic ? getGemmEpilogue(generic) : std::nullopt;
  return epilogue && epilogue->product == product.getOperation();
}

/// A 16-bit training step's product rounded, then viewed with its rows
/// split (a 3-D dense layer's [b, s, n] of [b * s, n]), the view read by
/// the product's GEMM epilogue (Analysis/Fusion.h, getGemmEpilogue): the
/// view moves before the rounding, which then fuses into the op after it,
/// so that the epilogue op reads the product and rounds it.
static void moveViewsBeforeRoundings(RewriterBase &rewriter, Operation *root) {
  SmallVector<tensor::ExpandShapeOp> views;
  root->walk([&](tensor::ExpandShapeOp view) {
    Operation *rounding = view.getSrc().getDefiningOp();
    if (view.getSrc().hasOneUse() && getRoundedProduct(rounding) &&
        isReadByEpilogue(view))
      views.push_back(view);
  });
  for (tensor::ExpandShapeOp view : views) {
    auto rounding = view.getSrc().getDefiningOp<linalg::GenericOp>();
    Value product = rounding.getDpsInputs()[0];
    RankedTensorType type = view.getResultType();
    rewriter.setInsertionPoint(view);
    Value expanded = tensor::ExpandShapeOp::create(
        rewriter, view.getLoc(),
        type.clone(getElementTypeOrSelf(product.getType())), product,
        view.getReassociationIndices(), view.getMixedOutputShape());
    Value empty = tensor::EmptyOp::create(
        rewriter, view.getLoc(), type.getShape(), type.getElementType());
    AffineMap identity =
        rewriter.getMultiDimIdentityMap(static_cast<unsigned>(type.getRank()));
    SmallVector<utils::IteratorType> iterators(type.getRank(),
                                               utils::IteratorType::parallel);
    auto moved = linalg::GenericOp::create(
        rewriter, rounding.getLoc(), TypeRange{type}, ValueRange{expanded},
        ValueRange{empty}, ArrayRef<AffineMap>{identity, identity}, iterators);
    rewriter.inlineRegionBefore(rounding.getRegion(), moved.getRegion(),
                                moved.getRegion().end());
    moved->setDiscardableAttrs(rounding->getDiscardableAttrDictionary());
    rewriter.replaceOp(view, moved->getResults());
    rewriter.eraseOp(rounding);
  }
}

namespace {
struct FuseElementwisePass
    : public mlir::autopar::impl::FuseElementwiseBase<FuseElementwisePass> {
  void runOnOperation() override {
    IRRewriter rewriter(&getContext());
    getOperation()->walk([&](linalg::GenericOp op) {
      dropZeroAccumulation(rewriter, op);
      forwardCopy(rewriter, op);
    });
    if (failed(foldTransposes(rewriter, getOperation())))
      return signalPassFailure();
    moveViewsBeforeRoundings(rewriter, getOperation());
    // Rounds until nothing fuses: a chain's first op moves into the second,
    // which is then a producer of the same kind.
    for (;;) {
      // Named elementwise ops that take part become the generics they
      // stand for (upstream fuses generics).
      SmallVector<linalg::LinalgOp> named;
      // So do named contractions a producer fuses into (a 16-bit value's
      // widening: Analysis/Fusion.h).
      getOperation()->walk([&](linalg::LinalgOp op) {
        if (isa<linalg::GenericOp>(op))
          return;
        if ((isFusionCandidate(op) && isFusedIntoUsers(op)) ||
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
