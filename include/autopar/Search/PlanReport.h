//===- PlanReport.h - explaining a parallelization plan ---------*- C++ -*-===//
//
// What `autopar-plan` reports: the chosen mesh and its predicted step next
// to one GPU and to pure data parallelism on all GPUs, every mesh it
// considered, and per op the chosen strategy, its compute and communication
// time and the next-best alternative. Text, JSON (docs/reports.md) and a
// Chrome-trace timeline.
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_SEARCH_PLANREPORT_H
#define AUTOPAR_SEARCH_PLANREPORT_H

#include "autopar/Search/Planner.h"

#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

#include <map>
#include <string>
#include <vector>

namespace mlir::autopar {

struct PlanSummary {
  std::string mesh;
  int64_t gpus = 1;
  double stepSeconds = 0, samplesPerSecond = 0, speedup = 0, efficiency = 0;
  double energyPerSample = 0, memoryPerGpu = 0;
  double computeSeconds = 0, commSeconds = 0, recomputeSeconds = 0;
  /// Of commSeconds: gradient synchronisation hidden behind the backward.
  double hiddenCommSeconds = 0;
  bool fitsMemory = true;
  /// The search stopped early: nothing on this mesh beats the chosen plan.
  bool pruned = false;
  /// The step's configuration and its memory.
  StepConfig config;
  PlanMemory memory;
  /// The op whose backward holds the memory peak, and where it is.
  std::string peakOp, peakLoc;
  /// The peak's op is one of a loss appended for pricing (loss=), priced
  /// forward only: the peak is at it, not in its backward.
  bool peakInLoss = false;
};

struct PlanLayerReport {
  std::string op, loc, strategy;
  double computeSeconds = 0, commSeconds = 0;
  /// The busiest device's compute over an even share's (StrategyWork).
  double busiestShare = 1;
  bool hasNextBest = false;
  std::string nextBestStrategy;
  double nextBestSeconds = 0;
};

struct PlanReport {
  std::string target, function, objective;
  int64_t batch = 1;
  std::string precision, optimizer;
  /// The loss priced with the model (loss=), `auto` when none was added.
  std::string loss = "auto";
  /// Attentions priced as cuDNN's fused call (WorkloadTotals).
  int64_t cudnnAttentions = 0;
  double memoryCapacity = 0;
  PlanSummary plan, oneGpu, dataParallel;
  bool haveDataParallel = false;
  std::vector<PlanSummary> meshes;
  std::vector<PlanLayerReport> layers;
  std::string solverMethod;
  bool exact = true;
  unsigned coreNodes = 0;
  unsigned width = 0;
  double lowerBound = 0;
  /// The repeated blocks the solver found (count 0: none), the location of
  /// the first copy's first op, and how many copies were solved through
  /// one copy's elimination.
  Repetition repetition;
  std::string repetitionLoc;
  unsigned reusedCopies = 0;
  /// The forward pass's collectives under the plan: per kind, the count,
  /// the bytes each device puts in and their time.
  CommunicationSummary forwardCommunication;
};

/// `summary` as JSON object members: per kind, {"count", "bytes",
/// "time_s"} (the plan report's `forward_collectives`, the communication
/// report's `collectives`).
void writeCommunicationJson(llvm::json::OStream &json,
                            const CommunicationSummary &summary);

PlanSummary summarizePlan(const MeshPlan &plan, const Planner &planner,
                          double oneGpuStep);

PlanReport buildPlanReport(const Planner &planner, const MeshPlan &best,
                           const MeshPlan &oneGpu, const MeshPlan *dataParallel,
                           ArrayRef<MeshPlan> considered, StringRef objective,
                           StringRef target, double memoryCapacity);

/// Chrome-trace JSON (process 0, one thread per track): the name of track
/// `track`, and a complete event on it from `start` for `seconds`, with
/// `args` writing its arguments when given.
void writeTraceTrackName(llvm::json::OStream &json, int64_t track,
                         StringRef name);
void writeTraceEvent(llvm::json::OStream &json, StringRef name,
                     StringRef category, int64_t track, double start,
                     double seconds, llvm::function_ref<void()> args = nullptr);

/// "; repeated block: 96 copies of 66 ops from op 2 (h.0.ln_1.sum)" (the
/// location when known), and the JSON object {"first_op", "ops",
/// "copies"} named "repeated_block".
void printRepeatedBlock(llvm::raw_ostream &os, const Repetition &repetition,
                        StringRef loc);
void writeRepeatedBlockJson(llvm::json::OStream &json,
                            const Repetition &repetition);

void printPlanReportText(llvm::raw_ostream &os, const PlanReport &report);
void printPlanReportJson(llvm::raw_ostream &os, const PlanReport &report);
/// The predicted timeline of one step on every GPU of `plan`, as
/// Chrome-trace JSON (chrome://tracing, ui.perfetto.dev).
void printPlanTrace(llvm::raw_ostream &os, const MeshPlan &plan);

} // namespace mlir::autopar

#endif // AUTOPAR_SEARCH_PLANREPORT_H
