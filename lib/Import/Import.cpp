//===- Import.cpp - TOSA models to linalg on tensors ----------------------===//
//
// One place where a model in another dialect becomes linalg on tensors:
// upstream's TOSA conversions in a nested pipeline, then the dead TOSA
// shape constants they leave behind are erased.
//
//===----------------------------------------------------------------------===//

#include "autopar/Import/Passes.h"

#include "mlir/Conversion/TosaToArith/TosaToArith.h"
#include "mlir/Conversion/TosaToLinalg/TosaToLinalg.h"
#include "mlir/Conversion/TosaToTensor/TosaToTensor.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tosa/IR/TosaOps.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace mlir::autopar {
#define GEN_PASS_DEF_IMPORT
#include "autopar/Import/Passes.h.inc"
} // namespace mlir::autopar

using namespace mlir;
using namespace mlir::autopar;

/// Upstream's conversions of TOSA, in the order upstream's tosa pipelines
/// run them.
static void buildConversions(OpPassManager &pm) {
  tosa::addTosaToLinalgPasses(pm, TosaToLinalgOptions());
  OpPassManager &funcPm = pm.nest<func::FuncOp>();
  funcPm.addPass(createTosaToArithPass());
  funcPm.addPass(createTosaToTensorPass());
}

static bool isTosa(Operation *op) {
  return isa_and_nonnull<tosa::TosaDialect>(op->getDialect());
}

bool mlir::autopar::needsImport(ModuleOp module) {
  return module
      .walk([](Operation *op) {
        return isTosa(op) ? WalkResult::interrupt() : WalkResult::advance();
      })
      .wasInterrupted();
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
  if (!needsImport(module))
    return success();
  OpPassManager pm(ModuleOp::getOperationName());
  buildConversions(pm);
  if (failed(runPipeline(pm, module)))
    return failure();
  eraseDeadTosa(module);
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
