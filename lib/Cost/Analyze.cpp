//===- Analyze.cpp - report workloads and single-GPU costs ----------------===//

#include "autopar/Analysis/Loss.h"
#include "autopar/Analysis/Workload.h"
#include "autopar/Cost/AnalysisReport.h"
#include "autopar/Cost/CostModel.h"
#include "autopar/Cost/Passes.h"
#include "autopar/Support/Output.h"
#include "autopar/Target/Target.h"

#include "llvm/ADT/StringSwitch.h"

namespace mlir::autopar {
#define GEN_PASS_DEF_ANALYZE
#include "autopar/Cost/Passes.h.inc"
} // namespace mlir::autopar

using namespace mlir;
using namespace mlir::autopar;

namespace {
struct AnalyzePass : public mlir::autopar::impl::AnalyzeBase<AnalyzePass> {
  using AnalyzeBase::AnalyzeBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto emitError = [&] { return mlir::emitError(module.getLoc()); };
    std::optional<Optimizer> parsedOptimizer =
        symbolizeOptimizer(optimizer);
    if (!parsedOptimizer) {
      emitError() << "unknown optimizer '" << optimizer
                  << "'; expected sgd, momentum or adam";
      return signalPassFailure();
    }
    FailureOr<TargetAttr> targetAttr =
        getModuleTarget(module, target, emitError);
    if (failed(targetAttr))
      return signalPassFailure();

    // The step's loss, appended while the report is made (Analysis/Loss.h).
    FailureOr<AppendedLoss> appendedLoss = AppendedLoss::append(
        module.getLoc(), findEntryFunction(module), "autopar-analyze", loss);
    if (failed(appendedLoss))
      return signalPassFailure();
    WorkloadOptions workloadOptions;
    workloadOptions.cudnnAttention = cudnnAttention;
    WorkloadAnalysis analysis(module, workloadOptions);
    // The IR is unchanged unless a loss was appended (and erased).
    if (appendedLoss->empty())
      markAllAnalysesPreserved();
    const FunctionWorkload *entry = getEntryFunction(analysis);
    if (!entry) {
      mlir::emitWarning(module.getLoc()) << "autopar-analyze: no function with a body";
      return;
    }
    if (report.empty())
      return;
    AnalysisReport built =
        buildAnalysisReport(*entry, CostModel(*targetAttr), *parsedOptimizer);
    built.loss = loss;
    built.cudnnAttentions = entry->getTotals().cudnnAttentions;

    if (failed(writeOutputFile(module.getLoc(), report, [&](raw_ostream &os) {
          if (StringRef(report).ends_with(".json"))
            printAnalysisReportJson(os, built);
          else
            printAnalysisReportText(os, built);
        })))
      return signalPassFailure();
  }
};
} // namespace
