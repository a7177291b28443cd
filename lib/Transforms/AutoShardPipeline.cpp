//===- AutoShardPipeline.cpp - the `auto-shard` pipeline ------------------===//
//
// The planning stages of autopar as one pipeline. Stages are appended here
// as they come to exist: import, target, analysis (search next).
//
//===----------------------------------------------------------------------===//

#include "autopar/Transforms/Passes.h"

#include "mlir/Conversion/TosaToArith/TosaToArith.h"
#include "mlir/Conversion/TosaToLinalg/TosaToLinalg.h"
#include "mlir/Conversion/TosaToTensor/TosaToTensor.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;
using namespace mlir::autopar;

void mlir::autopar::buildAutoShardPipeline(
    OpPassManager &pm, const AutoShardPipelineOptions &options) {
  // 1. Import: TOSA models become linalg on tensors (a no-op on linalg).
  tosa::addTosaToLinalgPasses(pm, TosaToLinalgOptions());
  OpPassManager &funcPm = pm.nest<func::FuncOp>();
  funcPm.addPass(createTosaToArithPass());
  funcPm.addPass(createTosaToTensorPass());
  // 2. Target: the machine the plan is for.
  SetTargetOptions targetOptions;
  targetOptions.target = options.target;
  pm.addPass(createSetTarget(targetOptions));
  // 3. Workload and cost analysis, and its report.
  AnalyzeOptions analyzeOptions;
  analyzeOptions.report = options.report;
  analyzeOptions.optimizer = options.optimizer;
  pm.addPass(createAnalyze(analyzeOptions));
}

void mlir::autopar::registerAutoShardPipeline() {
  PassPipelineRegistration<AutoShardPipelineOptions>(
      "auto-shard",
      "Plan the parallelization of a model: import it (TOSA to linalg), "
      "attach the target machine, analyse and report its workload",
      buildAutoShardPipeline);
}
