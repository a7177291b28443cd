//===- PipelinePlan.h - pipeline plans of a function ------------*- C++ -*-===//
//
// Plans a function as a pipeline: measures every op's costs on each
// candidate stage mesh (Planner::profileOnMesh: the per-op shardings solved
// on that mesh), groups the ops into layers (cut where the fewest bytes
// cross), prices the transfers at each cut on the links between stages,
// and runs the stage search (Pipeline.h) for each step configuration
// (ZeRO stage, recomputation, microbatches). Reports the plan per stage.
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_SEARCH_PIPELINEPLAN_H
#define AUTOPAR_SEARCH_PIPELINEPLAN_H

#include "autopar/Search/Pipeline.h"
#include "autopar/Search/Planner.h"

#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

#include <limits>

namespace mlir::autopar {

/// The most chunks per device the search tries for the interleaved
/// schedule (each halves the bubble less, and adds point-to-point
/// transfers and in-flight activations).
constexpr int64_t kMaxVirtualStages = 8;

/// What the user pinned of a pipeline, and the machine.
struct PipelineRequest {
  int64_t stages = 2;
  /// The schedule; none: searched (1F1B and interleaved; GPipe takes as
  /// long as 1F1B and holds more).
  std::optional<PipelineSchedule> schedule = PipelineSchedule::OneFOneB;
  /// Chunks per device of the interleaved schedule; 0: searched (2 to
  /// kMaxVirtualStages, P v chunks at most the model's layers).
  int64_t virtualStages = 0;
  /// GPUs of the whole pipeline.
  int64_t gpus = 1;
  /// The stages' meshes when pinned (mesh=): one shape for every stage, or
  /// one per stage; empty: searched.
  SmallVector<SmallVector<int64_t>> stageMeshes;
  /// Pinned for every stage; unpinned, each stage's own is searched (any
  /// ZeRO stage and recomputation).
  std::optional<unsigned> zero;
  std::optional<Recompute> recompute;
  /// The recomputation of each stage when pinned per stage (recompute=
  /// with one kind per stage); overrides `recompute`.
  SmallVector<Recompute> stageRecompute;
  /// The ZeRO stage of each stage when pinned per stage (zero=3,1).
  SmallVector<unsigned> stageZero;
  std::optional<int64_t> microbatches;
  double memoryCapacity = 0;
  /// Seconds of a plan found elsewhere (another stage count): only faster
  /// pipelines are searched for; none is then an error like nothing
  /// fitting. Infinity: any.
  double incumbent = std::numeric_limits<double>::infinity();
  /// The interleaved stage search's node budget per search
  /// (StageSearchProblem::nodeBudget).
  int64_t nodeBudget = kInterleavedNodeBudget;
};

/// One chunk (a stage, or a virtual stage's chunk) of a pipeline plan.
struct PipelineChunk {
  /// Nodes [firstNode, endNode) of the planner.
  int64_t firstNode = 0, endNode = 0;
  std::string mesh;
  /// The stage's mesh and the strategy of every planner node on it (the
  /// stage plan it was priced with; only its own nodes' are its).
  MeshShape meshShape;
  std::vector<unsigned> choice;
  /// The stage's own ZeRO stage and recomputation (its microbatches are
  /// the pipeline's).
  StepConfig config;
  StageWork work;
};

struct PipelinePlan {
  int64_t stages = 1, virtualStages = 1, gpus = 1, layers = 0;
  PipelineSchedule schedule = PipelineSchedule::OneFOneB;
  /// The microbatches; ZeRO and recomputation when every stage has the
  /// same, else the most any stage uses (each chunk's config has its own).
  StepConfig config;
  /// Whether every chunk has the same ZeRO stage and recomputation.
  bool uniformConfig() const;
  /// How far the pipeline's time is above lowerBound, as a fraction (0
  /// when the search proved it the best).
  double getBoundGap() const;
  PipelineTiming timing;
  std::vector<PipelineChunk> chunks;
  /// Per node of the planner: its chunk.
  std::vector<int64_t> chunkOfNode;
  /// The search: stage meshes and configurations tried, slowest-stage
  /// caps the DP ran, the interleaved branch and bound's partial
  /// partitions and the searches it left unproven (its node budget spent),
  /// seconds (not in the reports, which are deterministic).
  int64_t meshes = 0, configs = 0, capsTried = 0, branchNodes = 0, unproven = 0;
  /// A time no pipeline searched goes below: the least of the searches'
  /// lower bounds.
  double lowerBound = std::numeric_limits<double>::infinity();
  double searchSeconds = 0;
};

/// The fastest pipeline of `request.stages` stages that fits, or an error
/// at `loc` naming what does not hold (stages that do not tile the
/// cluster, more stages than ops, too few microbatches for the schedule,
/// nothing that fits and the least memory found).
FailureOr<PipelinePlan> planPipeline(Planner &planner,
                                     const CostModel &costModel,
                                     const PipelineRequest &request,
                                     Location loc);

void printPipelineReportText(llvm::raw_ostream &os, const PipelinePlan &plan,
                             const Planner &planner);
/// The schedule as a Chrome trace: one track per device, each microbatch's
/// forward (F<k>) and backward (B<k>) of each of its chunks where the
/// schedule runs it (simulatePipeline), then the device's step work. An
/// error at `loc` if the simulation does not complete (an internal error).
LogicalResult printPipelineTrace(llvm::raw_ostream &os,
                                 const PipelinePlan &plan, Location loc);
/// The report's "pipeline" member.
void writePipelineJson(llvm::json::OStream &json, const PipelinePlan &plan,
                       const Planner &planner);

} // namespace mlir::autopar

#endif // AUTOPAR_SEARCH_PIPELINEPLAN_H
