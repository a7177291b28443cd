//===- AutoShardPipeline.cpp - the `auto-shard` pipeline ------------------===//
//
// The planning stages of autopar as one pipeline. Stages are appended here
// as they come to exist: import (and attention fusion), target, search
// (with its analysis).
//
//===----------------------------------------------------------------------===//

#include "autopar/Conversion/Passes.h"
#include "autopar/Import/Passes.h"
#include "autopar/Search/Passes.h"
#include "autopar/Target/Passes.h"

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;
using namespace mlir::autopar;

void mlir::autopar::buildAutoShardPipeline(
    OpPassManager &pm, const AutoShardPipelineOptions &options) {
  // 1. Import: TOSA models become linalg on tensors (a no-op on linalg).
  pm.addPass(createImport());
  // Attention chains as autopar.attention: the plan then prices, and the
  // training step keeps, the row log-sum-exp rather than B x I x J scores.
  if (options.fuseAttention)
    pm.addPass(createFuseAttention());
  // 2. Target: the machine the plan is for.
  SetTargetOptions targetOptions;
  targetOptions.target = options.target;
  pm.addPass(createSetTarget(targetOptions));
  // 3. The search (it runs the workload analysis) and its report.
  PlanOptions planOptions;
  planOptions.report = options.report;
  planOptions.trace = options.trace;
  planOptions.optimizer = options.optimizer;
  planOptions.loss = options.loss;
  planOptions.objective = options.objective;
  planOptions.maxGpus = options.maxGpus;
  planOptions.mesh = options.mesh;
  planOptions.parallelism = options.parallelism;
  planOptions.precision = options.precision;
  planOptions.zero = options.zero;
  planOptions.recompute = options.recompute;
  planOptions.microbatches = options.microbatches;
  planOptions.stages = options.stages;
  planOptions.schedule = options.schedule;
  planOptions.virtualStages = options.virtualStages;
  planOptions.overlap = options.overlap;
  planOptions.cudnnAttention = options.cudnnAttention;
  pm.addPass(createPlan(planOptions));
}

void mlir::autopar::registerAutoShardPipeline() {
  PassPipelineRegistration<AutoShardPipelineOptions>(
      "auto-shard",
      "Plan the parallelization of a model: import it (TOSA to linalg), "
      "attach the target machine, choose the GPUs and every op's "
      "strategy, annotate the IR and report the plan",
      buildAutoShardPipeline);
}
