//===- AnalysisReport.h - the workload report -------------------*- C++ -*-===//
//
// The numbers `autopar-analyze` reports for one function: per op its work
// and its time on one GPU of the target, totals, memory and the predicted
// single-GPU training step. Built once, printed as a text table or as JSON
// (schema in docs/reports.md).
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_COST_ANALYSISREPORT_H
#define AUTOPAR_COST_ANALYSISREPORT_H

#include "autopar/Analysis/Workload.h"
#include "autopar/Cost/CostModel.h"

#include "llvm/Support/raw_ostream.h"

#include <string>
#include <vector>

namespace mlir::autopar {

struct LayerReport {
  std::string op;
  std::string loc;
  std::string shape;
  double flops = 0, macs = 0, params = 0, bytes = 0, intensity = 0;
  double savedBytes = 0, bwdFlops = 0, bwdBytes = 0;
  double timeFwd = 0, timeBwd = 0;
  bool computeBound = false;
  bool estimated = false;
  /// Runs inside its users' kernels (Analysis/Fusion.h).
  bool fused = false;
  /// Runs inside an earlier op's row kernel (Analysis/Fusion.h).
  bool inRowKernel = false;
  /// Runs in the call of the product before it (its cuBLASLt epilogue).
  bool inEpilogue = false;
  /// Kernels its forward launches, and its backward (the data and the
  /// weight gradients each bwdLaunches(), as the planner prices them).
  double launches = 0;
  double bwdLaunches = 0;
};

struct GradientReport {
  std::string name;
  std::string shape;
  double elements = 0, bytes = 0;
};

/// The data-parallel gradient all-reduce (all gradients in one buffer) over
/// `gpus` GPUs filling `nodes` nodes.
struct SyncReport {
  int64_t gpus = 1, nodes = 1;
  double seconds = 0;
  std::string algorithm;
};

struct AnalysisReport {
  std::string target;
  std::string function;
  int64_t batch = 1;
  Optimizer optimizer = Optimizer::Momentum;
  /// The loss priced with the model (loss=), `auto` when none was added.
  std::string loss = "auto";
  /// Attentions priced as cuDNN's fused call (WorkloadTotals).
  int64_t cudnnAttentions = 0;
  std::vector<LayerReport> layers;
  std::vector<GradientReport> gradients;
  std::vector<SyncReport> gradientSync;
  WorkloadTotals totals;
  MemoryBreakdown memory;
  double forwardTime = 0, backwardTime = 0, updateTime = 0;
  double stepTime() const { return forwardTime + backwardTime + updateTime; }
  double samplesPerSecond() const {
    return stepTime() > 0 ? static_cast<double>(batch) / stepTime() : 0;
  }
};

/// The function the analysis reports and the plan is for, among `module`'s
/// functions with a body: `@forward` when there is one, else the first;
/// null when there is none.
FunctionOpInterface findEntryFunction(Operation *module);
/// That function's workload in `analysis` (of a module).
const FunctionWorkload *getEntryFunction(const WorkloadAnalysis &analysis);

AnalysisReport buildAnalysisReport(const FunctionWorkload &workload,
                                   const CostModel &costModel,
                                   Optimizer optimizer);

void printAnalysisReportText(llvm::raw_ostream &os,
                             const AnalysisReport &report);
void printAnalysisReportJson(llvm::raw_ostream &os,
                             const AnalysisReport &report);

/// A location as a short, machine-independent string: a name location's
/// name, or `file:line:col` with the file's base name.
std::string formatLocation(Location loc);

} // namespace mlir::autopar

#endif // AUTOPAR_COST_ANALYSISREPORT_H
