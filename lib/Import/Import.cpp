//===- Import.cpp - TOSA models to linalg on tensors ----------------------===//
//
// One place where a model in another dialect becomes linalg on tensors:
// upstream's TOSA conversions in a nested pipeline, then the dead TOSA
// shape constants they leave behind are erased, and the forms the
// conversions write are brought to the ones torch-mlir's linalg export
// writes (a product of a batch of one as a matmul, a broadcast read from
// its unexpanded source, a reduction's kept dimensions in its result); and
// where an export's static shapes hidden behind casts are made visible
// again.
//
//===----------------------------------------------------------------------===//

#include "autopar/Import/Passes.h"
#include "autopar/Support/ConstantInputs.h"

#include "mlir/Conversion/TosaToArith/TosaToArith.h"
#include "mlir/Conversion/TosaToLinalg/TosaToLinalg.h"
#include "mlir/Conversion/TosaToTensor/TosaToTensor.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Tensor/Transforms/Transforms.h"
#include "mlir/Dialect/Tosa/IR/TosaOps.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "llvm/ADT/SetVector.h"

namespace mlir::autopar {
#define GEN_PASS_DEF_IMPORT
#include "autopar/Import/Passes.h.inc"
} // namespace mlir::autopar

using namespace mlir;
using namespace mlir::autopar;

/// Upstream's conversions of TOSA, in the order upstream's tosa pipelines
/// run them, without the TOSA validation pass: its profiles exclude f64,
/// which torch-mlir's TOSA exports use (transformers' LayerNorm
/// statistics) and linalg lowers as any float.
static void buildConversions(OpPassManager &pm) {
  tosa::addTosaToLinalgPasses(pm, TosaToLinalgOptions(), {}, std::nullopt);
  OpPassManager &funcPm = pm.nest<func::FuncOp>();
  funcPm.addPass(createTosaToArithPass());
  funcPm.addPass(createTosaToTensorPass());
}

static bool isTosa(Operation *op) {
  return isa_and_nonnull<tosa::TosaDialect>(op->getDialect());
}

/// The operands `concat` would have with every tensor.cast of a static
/// tensor looked through, when that leaves its result type as it is (a
/// static shape hidden from the concatenation, as torch-mlir exports
/// torch.roll: two slices cast to a dynamic size and concatenated).
static std::optional<SmallVector<Value>>
staticConcatInputs(tensor::ConcatOp concat) {
  SmallVector<Value> inputs;
  bool changed = false;
  for (Value input : concat.getInputs()) {
    auto cast = input.getDefiningOp<tensor::CastOp>();
    auto source =
        cast ? dyn_cast<RankedTensorType>(cast.getSource().getType()) : nullptr;
    if (source && source.hasStaticShape() && !cast.getType().hasStaticShape()) {
      inputs.push_back(cast.getSource());
      changed = true;
    } else {
      inputs.push_back(input);
    }
  }
  if (!changed || tensor::ConcatOp::inferResultType(
                      concat.getDim(), ValueRange(inputs).getTypes()) !=
                      concat.getResultType())
    return std::nullopt;
  return inputs;
}

static bool hasTosa(ModuleOp module) {
  return module
      .walk([](Operation *op) {
        return isTosa(op) ? WalkResult::interrupt() : WalkResult::advance();
      })
      .wasInterrupted();
}

/// Concatenates the static tensors behind casts (staticConcatInputs) and
/// erases the casts left unused.
static void exposeStaticConcatInputs(ModuleOp module) {
  llvm::SetVector<Operation *> casts;
  module.walk([&](tensor::ConcatOp concat) {
    std::optional<SmallVector<Value>> inputs = staticConcatInputs(concat);
    if (!inputs)
      return;
    for (Value input : concat.getInputs())
      if (auto cast = input.getDefiningOp<tensor::CastOp>())
        casts.insert(cast);
    concat.getInputsMutable().assign(*inputs);
  });
  for (Operation *cast : casts)
    if (cast->use_empty())
      cast->erase();
}

/// Erases the TOSA ops nothing uses any more (tosa.const_shape operands of
/// reshapes the conversions replaced), users first.
static void eraseDeadTosa(ModuleOp module) {
  SmallVector<Operation *> tosaOps;
  module.walk([&](Operation *op) {
    if (isTosa(op))
      tosaOps.push_back(op);
  });
  for (Operation *op : llvm::reverse(tosaOps))
    if (isOpTriviallyDead(op))
      op->erase();
}

//===----------------------------------------------------------------------===//
// The converted forms, as torch-mlir's linalg export writes them
//===----------------------------------------------------------------------===//

/// For each dimension of `expand`'s source, the dimension of its result
/// that carries it, when every other result dimension is a static 1 that
/// `isBroadcast` accepts (a reshape that only adds unit dimensions, as
/// TOSA's rank-equalising reshapes do); none otherwise. A source
/// dimension of size 1 is carried by its group's last dimension that
/// `isBroadcast` rejects, or else by the group's last.
static std::optional<SmallVector<int64_t>>
getCarryingDims(tensor::ExpandShapeOp expand,
                function_ref<bool(int64_t)> isBroadcast) {
  RankedTensorType result = expand.getResultType();
  if (!result.hasStaticShape())
    return std::nullopt;
  SmallVector<int64_t> carrying;
  for (ReassociationIndices group : expand.getReassociationIndices()) {
    std::optional<int64_t> carrier;
    for (int64_t dim : group) {
      if (result.getDimSize(dim) == 1 && isBroadcast(dim))
        continue;
      if (carrier)
        return std::nullopt;
      carrier = dim;
    }
    carrying.push_back(carrier.value_or(group.back()));
  }
  return carrying;
}

static bool isConstantZero(AffineExpr expr) {
  auto constant = dyn_cast<AffineConstantExpr>(expr);
  return constant && constant.getValue() == 0;
}

namespace {
/// A generic op's input that is a tensor.expand_shape adding only unit
/// dimensions the op reads at 0, read from the expansion's source instead:
/// a bias [n] reshaped to [1, 1, n] and read at (0, 0, d2) is read as [n]
/// at (d2).
struct ReadBroadcastSource : OpRewritePattern<linalg::GenericOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(linalg::GenericOp op,
                                PatternRewriter &rewriter) const override {
    SmallVector<AffineMap> maps = op.getIndexingMapsArray();
    SmallVector<Value> inputs = op.getInputs();
    bool changed = false;
    for (auto [index, input] : llvm::enumerate(inputs)) {
      auto expand = input.getDefiningOp<tensor::ExpandShapeOp>();
      if (!expand)
        continue;
      AffineMap map = maps[index];
      std::optional<SmallVector<int64_t>> carrying =
          getCarryingDims(expand, [&](int64_t dim) {
            return isConstantZero(map.getResult(dim));
          });
      if (!carrying)
        continue;
      SmallVector<AffineExpr> results;
      for (int64_t dim : *carrying)
        results.push_back(map.getResult(dim));
      maps[index] =
          AffineMap::get(map.getNumDims(), 0, results, op.getContext());
      input = expand.getSrc();
      changed = true;
    }
    if (!changed)
      return failure();
    rewriter.modifyOpInPlace(op, [&] {
      op.getInputsMutable().assign(inputs);
      op.setIndexingMapsAttr(rewriter.getAffineMapArrayAttr(maps));
    });
    return success();
  }
};

/// A tensor.extract from a tensor.expand_shape adding only unit dimensions
/// it reads at 0, from the expansion's source: TOSA's gather reads its
/// table [v, d] as [1, v, d] at (0, row, i), which reads as torch-mlir's
/// (row, i) (a table read whose first index is the row, which
/// differentiation turns into a scatter-add).
struct ExtractFromUnexpanded : OpRewritePattern<tensor::ExtractOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(tensor::ExtractOp op,
                                PatternRewriter &rewriter) const override {
    auto expand = op.getTensor().getDefiningOp<tensor::ExpandShapeOp>();
    if (!expand)
      return failure();
    std::optional<SmallVector<int64_t>> carrying =
        getCarryingDims(expand, [&](int64_t dim) {
          return matchPattern(op.getIndices()[dim], m_Zero());
        });
    if (!carrying)
      return failure();
    SmallVector<Value> indices;
    for (int64_t dim : *carrying)
      indices.push_back(op.getIndices()[dim]);
    rewriter.replaceOpWithNewOp<tensor::ExtractOp>(op, expand.getSrc(),
                                                   indices);
    return success();
  }
};

/// A reduction whose only use expands its result with unit dimensions
/// (TOSA's reductions keep their reduced dimensions so) writes the
/// expanded result itself, at 0 in those dimensions: torch-mlir's keepdim
/// reductions, [b, s, 1] at (d0, d1, 0).
struct ReduceIntoKeptDims : OpRewritePattern<linalg::GenericOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(linalg::GenericOp op,
                                PatternRewriter &rewriter) const override {
    if (op.getNumReductionLoops() == 0)
      return failure();
    for (OpResult result : op->getResults()) {
      if (!result.hasOneUse())
        continue;
      auto expand = dyn_cast<tensor::ExpandShapeOp>(*result.user_begin());
      if (!expand)
        continue;
      std::optional<SmallVector<int64_t>> carrying =
          getCarryingDims(expand, [](int64_t) { return true; });
      if (!carrying)
        continue;
      unsigned number = result.getResultNumber();
      AffineMap map = op.getIndexingMapMatchingResult(result);
      SmallVector<AffineExpr> results(expand.getResultType().getRank(),
                                      rewriter.getAffineConstantExpr(0));
      for (auto [source, dim] : llvm::enumerate(*carrying))
        results[dim] = map.getResult(source);
      SmallVector<AffineMap> maps = op.getIndexingMapsArray();
      maps[op.getNumDpsInputs() + number] =
          AffineMap::get(map.getNumDims(), 0, results, op.getContext());
      SmallVector<Value> inits = op.getDpsInits();
      inits[number] = tensor::ExpandShapeOp::create(
          rewriter, expand.getLoc(), expand.getResultType(), inits[number],
          expand.getReassociationIndices(), expand.getMixedOutputShape());
      SmallVector<Type> types(op->getResultTypes());
      types[number] = expand.getResultType();
      auto generic = linalg::GenericOp::create(
          rewriter, op.getLoc(), types, op.getInputs(), inits,
          rewriter.getAffineMapArrayAttr(maps), op.getIteratorTypes(),
          /*doc=*/nullptr, /*libraryCall=*/nullptr);
      generic->setDiscardableAttrs(op->getDiscardableAttrDictionary());
      rewriter.inlineRegionBefore(op.getRegion(), generic.getRegion(),
                                  generic.getRegion().begin());
      rewriter.replaceOp(expand, generic->getResult(number));
      for (OpResult other : op->getResults())
        if (other != result)
          rewriter.replaceAllUsesWith(
              other, generic->getResult(other.getResultNumber()));
      rewriter.eraseOp(op);
      return success();
    }
    return failure();
  }
};

/// linalg.reduce as the generic op the analyses read.
struct GeneralizeReduce : OpRewritePattern<linalg::ReduceOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(linalg::ReduceOp op,
                                PatternRewriter &rewriter) const override {
    return linalg::generalizeNamedOp(rewriter, op);
  }
};
} // namespace

/// Brings upstream's TOSA conversions' forms to torch-mlir's linalg ones,
/// which every analysis and lowering reads: batch matmuls of one as
/// matmuls, reshapes that undo each other folded, broadcasts and table
/// reads from their unexpanded sources, reductions writing their kept
/// dimensions, then canonicalized (as far as the canonicalizer's own limits go:
/// like it, what is left unsettled stays as valid IR).
static void normalizeConvertedForms(ModuleOp module) {
  MLIRContext *context = module.getContext();
  RewritePatternSet patterns(context);
  linalg::populateContractionOpRankReducingPatterns(patterns);
  tensor::populateReassociativeReshapeFoldingPatterns(patterns);
  tensor::populateFoldTensorEmptyPatterns(patterns);
  patterns.add<ReadBroadcastSource, ExtractFromUnexpanded, ReduceIntoKeptDims,
               GeneralizeReduce>(context);
  for (Dialect *dialect : context->getLoadedDialects())
    dialect->getCanonicalizationPatterns(patterns);
  for (RegisteredOperationName op : context->getRegisteredOperations())
    op.getCanonicalizationPatterns(patterns, context);
  (void)applyPatternsGreedily(module, std::move(patterns));
}

LogicalResult mlir::autopar::importIfNeeded(
    ModuleOp module,
    function_ref<LogicalResult(OpPassManager &, ModuleOp)> runPipeline,
    bool normalize) {
  if (hasTosa(module)) {
    OpPassManager pm(ModuleOp::getOperationName());
    buildConversions(pm);
    if (failed(runPipeline(pm, module)))
      return failure();
    eraseDeadTosa(module);
    if (normalize)
      normalizeConvertedForms(module);
  }
  exposeStaticConcatInputs(module);
  // Every generic op's scalar constant inputs (one element: a 0-d or
  // [1, 1, 1] splat) and iota constant inputs made in its body, as
  // torch-mlir writes most scalars. In a params-as-constants export every
  // tensor constant is a weight to the planner (ArgumentRoles), a clamp's
  // bounds and TOSA's scales included; as scalars they are not. Larger
  // splats stay: they may be weights (a LayerNorm's ones).
  if (normalize)
    foldConstantInputs(module, /*onlyScalars=*/true);
  return success();
}

void mlir::autopar::getImportDialects(DialectRegistry &registry) {
  OpPassManager pm(ModuleOp::getOperationName());
  buildConversions(pm);
  pm.getDependentDialects(registry);
}

namespace {
struct ImportPass : public mlir::autopar::impl::ImportBase<ImportPass> {
  using ImportBase::ImportBase;
  void getDependentDialects(DialectRegistry &registry) const override {
    getImportDialects(registry);
  }
  void runOnOperation() override {
    if (failed(importIfNeeded(
            getOperation(),
            [&](OpPassManager &pm, ModuleOp module) {
              return runPipeline(pm, module);
            },
            normalize)))
      signalPassFailure();
  }
};
} // namespace
