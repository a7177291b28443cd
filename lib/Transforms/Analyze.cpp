//===- Analyze.cpp - report workloads and single-GPU costs ----------------===//

#include "autopar/Analysis/Workload.h"
#include "autopar/Cost/CostModel.h"
#include "autopar/Report/AnalysisReport.h"
#include "autopar/Target/Target.h"
#include "autopar/Transforms/Passes.h"

#include "mlir/Support/FileUtilities.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/ToolOutputFile.h"

namespace mlir::autopar {
#define GEN_PASS_DEF_ANALYZE
#include "autopar/Transforms/Passes.h.inc"
} // namespace mlir::autopar

using namespace mlir;
using namespace mlir::autopar;

namespace {
struct AnalyzePass : public mlir::autopar::impl::AnalyzeBase<AnalyzePass> {
  using AnalyzeBase::AnalyzeBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto emitError = [&] { return module.emitError(); };
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

    const auto &analysis = getAnalysis<WorkloadAnalysis>();
    markAllAnalysesPreserved();
    const FunctionWorkload *entry = getEntryFunction(analysis);
    if (!entry) {
      module.emitWarning() << "autopar-analyze: no function with a body";
      return;
    }
    if (report.empty())
      return;
    AnalysisReport built =
        buildAnalysisReport(*entry, CostModel(*targetAttr), *parsedOptimizer);

    std::string errorMessage;
    std::unique_ptr<llvm::ToolOutputFile> file =
        openOutputFile(report, &errorMessage);
    if (!file) {
      emitError() << "cannot write report '" << report
                  << "': " << errorMessage;
      return signalPassFailure();
    }
    if (StringRef(report).ends_with(".json"))
      printAnalysisReportJson(file->os(), built);
    else
      printAnalysisReportText(file->os(), built);
    file->keep();
  }
};
} // namespace
