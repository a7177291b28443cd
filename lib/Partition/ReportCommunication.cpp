//===- ReportCommunication.cpp - collectives per call, per function -------===//

#include "autopar/Dialect/AutoparOps.h"
#include "autopar/Support/Output.h"
#include "autopar/Search/PlanReport.h"
#include "autopar/Search/Communication.h"
#include "autopar/Target/Target.h"
#include "autopar/Partition/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/JSON.h"

namespace mlir::autopar {
#define GEN_PASS_DEF_REPORTCOMMUNICATION
#include "autopar/Partition/Passes.h.inc"
} // namespace mlir::autopar

using namespace mlir;
using namespace mlir::autopar;

namespace {
struct FunctionCommunication {
  std::string name;
  /// "predicted" (annotated) or "counted" (partitioned).
  StringRef how;
  CommunicationSummary summary;
  /// Of a pipeline: each device's along the stages' axis (`summary` is
  /// the busiest's).
  std::vector<CommunicationSummary> devices;
};

struct ReportCommunicationPass
    : public mlir::autopar::impl::ReportCommunicationBase<
          ReportCommunicationPass> {
  using ReportCommunicationBase::ReportCommunicationBase;
  void runOnOperation() override;
};
} // namespace

void ReportCommunicationPass::runOnOperation() {
  ModuleOp module = getOperation();
  markAllAnalysesPreserved();
  FailureOr<TargetAttr> targetAttr = getModuleTarget(
      module, target, [&] { return mlir::emitError(module.getLoc()); });
  if (failed(targetAttr))
    return signalPassFailure();
  CostModel costModel(*targetAttr);
  std::vector<FunctionCommunication> functions;
  for (auto func : module.getOps<func::FuncOp>()) {
    if (func.isExternal())
      continue;
    FunctionCommunication entry;
    entry.name = func.getName().str();
    if (func->hasAttr(AutoparDialect::kSpmdAttrName)) {
      entry.how = "counted";
      entry.summary = countCommunication(func, &costModel, &entry.devices);
    } else {
      FailureOr<CommunicationSummary> predicted =
          predictCommunication(func, &costModel, &entry.devices);
      if (failed(predicted))
        return signalPassFailure();
      entry.how = "predicted";
      entry.summary = std::move(*predicted);
    }
    functions.push_back(std::move(entry));
  }
  std::string targetName = targetAttr->getName().str();
  auto writeText = [&](raw_ostream &os) {
    for (const FunctionCommunication &function : functions) {
      os << "@" << function.name << " " << function.how << ": "
         << describeCommunication(function.summary)
         << llvm::format("; %.4f ms on ",
                         getTotalSeconds(function.summary) * 1e3)
         << targetName << "\n";
      for (auto [device, summary] : llvm::enumerate(function.devices))
        os << "@" << function.name << " " << function.how << ", "
           << AutoparDialect::kStageAxisName << "=" << device << ": "
           << describeCommunication(summary)
           << llvm::format("; %.4f ms\n", getTotalSeconds(summary) * 1e3);
    }
  };
  auto writeJson = [&](raw_ostream &os) {
    llvm::json::OStream json(os, /*IndentSize=*/2);
    json.object([&] {
      json.attribute("schema", "autopar-communication-1");
      json.attribute("target", targetName);
      json.attributeArray("functions", [&] {
        for (const FunctionCommunication &function : functions)
          json.object([&] {
            json.attribute("function", function.name);
            json.attribute("how", function.how);
            json.attribute("time_s", getTotalSeconds(function.summary));
            json.attributeObject("collectives", [&] {
              writeCommunicationJson(json, function.summary);
            });
            if (!function.devices.empty())
              json.attributeArray("devices", [&] {
                for (const CommunicationSummary &summary : function.devices)
                  json.object([&] {
                    json.attribute("time_s", getTotalSeconds(summary));
                    json.attributeObject("collectives", [&] {
                      writeCommunicationJson(json, summary);
                    });
                  });
              });
          });
      });
    });
    os << "\n";
  };
  if (failed(writeOutputFile(module.getLoc(), report, [&](raw_ostream &os) {
        if (StringRef(report).ends_with(".json"))
          writeJson(os);
        else
          writeText(os);
      })))
    return signalPassFailure();
}
