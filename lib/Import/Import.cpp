//===- Import.cpp - TOSA models to linalg on tensors ----------------------===//
//
// One place where a model in another dialect becomes linalg on tensors:
// upstream's TOSA conversions in a nested pipeline, then the dead TOSA
// shape constants they leave behind are erased; and where an export's
// static shapes hidden behind casts are made visible again.
//
//===----------------------------------------------------------------------===//

#include "autopar/Import/Passes.h"

#include "mlir/Conversion/TosaToArith/TosaToArith.h"
#include "mlir/Conversion/TosaToLinalg/TosaToLinalg.h"
#include "mlir/Conversion/TosaToTensor/TosaToTensor.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Tosa/IR/TosaOps.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
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

LogicalResult mlir::autopar::importIfNeeded(
    ModuleOp module,
    function_ref<LogicalResult(OpPassManager &, ModuleOp)> runPipeline) {
  if (hasTosa(module)) {
    OpPassManager pm(ModuleOp::getOperationName());
    buildConversions(pm);
    if (failed(runPipeline(pm, module)))
      return failure();
    eraseDeadTosa(module);
  }
  exposeStaticConcatInputs(module);
  return success();
}

void mlir::autopar::getImportDialects(DialectRegistry &registry) {
  OpPassManager pm(ModuleOp::getOperationName());
  buildConversions(pm);
  pm.getDependentDialects(registry);
}

namespace {
struct ImportPass : public mlir::autopar::impl::ImportBase<ImportPass> {
  void getDependentDialects(DialectRegistry &registry) const override {
    getImportDialects(registry);
  }
  void runOnOperation() override {
    if (failed(importIfNeeded(getOperation(),
                              [&](OpPassManager &pm, ModuleOp module) {
                                return runPipeline(pm, module);
                              })))
      signalPassFailure();
  }
};
} // namespace
