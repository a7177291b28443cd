//===- Recompute.cpp - activation recomputation in a training step --------===//

#include "autopar/Autodiff/Passes.h"
#include "autopar/Autodiff/StepTransforms.h"
#include "autopar/Dialect/AutoparDialect.h"
#include "autopar/Dialect/AutoparOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Transforms/RegionUtils.h"

#include <functional>
#include <map>

namespace mlir::autopar {
#define GEN_PASS_DEF_PLANNEDRECOMPUTE
#include "autopar/Autodiff/Passes.h.inc"
} // namespace mlir::autopar

using namespace mlir;
using namespace mlir::autopar;

/// Activation recomputation: backward ops read recomputed clones of the
/// forward values that are not kept, so that those die after the forward.
/// Kept (checkpoints): the values that alone cross a cut of the forward
/// (in op order); the values of a forward op whose kind is `none`; under
/// `selective` also every value of a forward op with reduction loops
/// (contractions, reductions: costly to recompute). `full` recomputes
/// every other forward value, `selective` only those of elementwise ops.
/// In a pipeline, also every value an op of another stage reads. A clone
/// is made once per segment (between two single-value cuts),
/// before the first backward op of that segment that reads it, tagged
/// `autopar.recomputed` (and its forward op's layer).
void mlir::autopar::recomputeForward(
    Block &body, function_ref<Recompute(Operation *)> kindOf) {
  SmallVector<Operation *> forward;
  DenseMap<Operation *, unsigned> position;
  for (Operation &op : body)
    if (op.hasAttr(AutoparDialect::kLayerAttrName)) {
      position[&op] = forward.size();
      forward.push_back(&op);
    }
  unsigned n = forward.size();
  if (n == 0)
    return;
  // For every cut i (between forward ops i-1 and i), the forward values
  // defined before it and read by a forward op at or after it.
  std::vector<unsigned> crossing(n + 1, 0);
  std::vector<Value> crosser(n + 1);
  for (Operation *op : forward)
    for (Value result : op->getResults()) {
      unsigned last = position[op];
      for (Operation *user : result.getUsers()) {
        Operation *ancestor = body.findAncestorOpInBlock(*user);
        auto it = ancestor ? position.find(ancestor) : position.end();
        if (it != position.end())
          last = std::max(last, it->second);
      }
      for (unsigned cut = position[op] + 1; cut <= last; ++cut) {
        ++crossing[cut];
        crosser[cut] = result;
      }
    }
  DenseSet<Value> kept;
  // The segment of each forward op: how many single-value cuts precede it.
  std::vector<unsigned> segment(n, 0);
  for (unsigned i = 1; i < n; ++i) {
    segment[i] = segment[i - 1];
    if (crossing[i] == 1) {
      kept.insert(crosser[i]);
      ++segment[i];
    }
  }
  // A value an op of another pipeline stage (chunk) reads is kept: each
  // stage recomputes from what it holds of its own forward and what it
  // received, in its own backward (a clone another stage's backward makes
  // would flow against the schedule).
  auto stageOf = [&](Operation *op) -> int64_t {
    Operation *ancestor = op ? body.findAncestorOpInBlock(*op) : nullptr;
    auto stage = ancestor ? ancestor->getAttrOfType<IntegerAttr>(
                                AutoparDialect::kStageAttrName)
                          : IntegerAttr();
    return stage ? stage.getInt() : -1;
  };
  for (Operation *op : forward) {
    int64_t stage = stageOf(op);
    if (stage < 0)
      continue;
    for (Value result : op->getResults())
      if (llvm::any_of(result.getUsers(), [&](Operation *user) {
            int64_t other = stageOf(user);
            return other >= 0 && other != stage;
          }))
        kept.insert(result);
  }
  for (Operation *op : forward) {
    Recompute kind = kindOf(op);
    auto linalgOp = dyn_cast<linalg::LinalgOp>(op);
    if (kind == Recompute::None ||
        (kind == Recompute::Selective &&
         (!linalgOp || linalgOp.getNumReductionLoops() > 0)))
      for (Value result : op->getResults())
        kept.insert(result);
  }
  auto isRecomputed = [&](Value value) {
    Operation *def = value.getDefiningOp();
    return def && position.count(def) && !kept.contains(value);
  };

  std::map<std::pair<unsigned, void *>, Value> clones;
  OpBuilder builder(body.getParentOp()->getContext());
  std::function<Value(Value, unsigned, Operation *)> cloneOf =
      [&](Value value, unsigned seg, Operation *before) -> Value {
    auto key = std::make_pair(seg, value.getAsOpaquePointer());
    if (auto it = clones.find(key); it != clones.end())
      return it->second;
    Operation *def = value.getDefiningOp();
    IRMapping mapping;
    SetVector<Value> inputs(def->getOperands().begin(),
                            def->getOperands().end());
    getUsedValuesDefinedAbove(def->getRegions(), inputs);
    for (Value input : inputs)
      if (isRecomputed(input))
        mapping.map(input, cloneOf(input, seg, before));
    builder.setInsertionPoint(before);
    Operation *clone = builder.clone(*def, mapping);
    clone->setAttr(AutoparDialect::kRecomputedAttrName, builder.getUnitAttr());
    for (auto [original, copy] :
         llvm::zip_equal(def->getResults(), clone->getResults()))
      clones[std::make_pair(seg, original.getAsOpaquePointer())] = copy;
    return clones.at(key);
  };

  SmallVector<Operation *> backward;
  for (Operation &op : body)
    if (op.hasAttr(AutoparDialect::kGradOfAttrName))
      backward.push_back(&op);
  for (Operation *op : backward) {
    auto layer =
        op->getAttrOfType<IntegerAttr>(AutoparDialect::kGradOfAttrName);
    // The forward op of that layer, and its segment.
    unsigned seg = 0;
    for (Operation *f : forward)
      if (f->getAttrOfType<IntegerAttr>(AutoparDialect::kLayerAttrName) ==
          layer)
        seg = segment[position[f]];
    SetVector<Value> inputs(op->getOperands().begin(), op->getOperands().end());
    getUsedValuesDefinedAbove(op->getRegions(), inputs);
    for (Value input : inputs) {
      if (!isRecomputed(input))
        continue;
      Value clone = cloneOf(input, seg, op);
      input.replaceUsesWithIf(clone, [&](OpOperand &use) {
        return op == use.getOwner() || op->isProperAncestor(use.getOwner());
      });
    }
  }
}

namespace {
struct PlannedRecomputePass
    : public mlir::autopar::impl::PlannedRecomputeBase<PlannedRecomputePass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    // Each stage's recomputation, as the plan wrote it.
    auto kindOf = [&](Operation *op) {
      auto stage =
          op->getAttrOfType<IntegerAttr>(AutoparDialect::kStageAttrName);
      StringRef name =
          getStageStep(module, stage ? stage.getInt() : -1).recompute;
      return symbolizeRecompute(name).value_or(Recompute::None);
    };
    for (auto func : module.getOps<func::FuncOp>()) {
      if (func.isExternal() || !func.getBody().hasOneBlock())
        continue;
      Block &body = func.getBody().front();
      bool backward = false, recomputed = false, any = false;
      for (Operation &op : body) {
        backward |= op.hasAttr(AutoparDialect::kGradOfAttrName);
        recomputed |= op.hasAttr(AutoparDialect::kRecomputedAttrName);
        if (op.hasAttr(AutoparDialect::kLayerAttrName))
          any |= kindOf(&op) != Recompute::None;
      }
      if (backward && !recomputed && any)
        recomputeForward(body, kindOf);
    }
  }
};
} // namespace
