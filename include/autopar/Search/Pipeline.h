//===- Pipeline.h - pipeline stages: schedules and the stage search -*- C++
//-*-===//
//
// A pipeline splits a training step's ops (in the forward graph's order)
// into contiguous stages, each on a mesh of its own, and runs M microbatches
// through them in a schedule:
//
//  * GPipe: every microbatch's forward, then every backward; each stage
//    holds the activations of all M microbatches;
//  * 1F1B: after P - s - 1 warm-up forwards, stage s alternates one
//    forward and one backward; it holds at most P - s microbatches
//    (PipeDream-Flush, Megatron-LM's default);
//  * interleaved 1F1B: each device runs v stages ("virtual stages", the
//    model cut into P * v chunks, chunk c on device c mod P); the bubble
//    shrinks by v, the warm-up (and so the activations held) grows.
//
// This file holds the schedules' arithmetic (step time, bubble, activations
// in flight, per-device peak memory) and the search over stage boundaries
// and stage meshes: dynamic programming over layers that is exact for the
// pipeline's time under a memory limit (Alpa's inter-operator DP: enumerate
// the slowest stage's time, minimise the sum under it). It knows nothing of
// MLIR: its inputs are per-layer costs on each candidate stage mesh, which
// the Planner measures.
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_SEARCH_PIPELINE_H
#define AUTOPAR_SEARCH_PIPELINE_H

#include "autopar/Cost/Overlap.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace mlir::autopar {

enum class PipelineSchedule { GPipe, OneFOneB, Interleaved };
std::optional<PipelineSchedule> parsePipelineSchedule(llvm::StringRef name);
/// "gpipe", "1f1b", "interleaved".
llvm::StringRef stringifyPipelineSchedule(PipelineSchedule schedule);

/// What one stage (or one virtual stage's chunk) does: per microbatch, its
/// forward and backward compute (recomputation included) and the
/// point-to-point transfers it waits for (activations from the previous
/// stage, their gradients from the next); once per step, its gradients'
/// synchronisation and optimizer update; its memory.
struct StageWork {
  double forward = 0, backward = 0;
  double receiveForward = 0, receiveBackward = 0;
  double step = 0;
  /// Of `step`: what of the chunk's once-a-step gradient reductions (ZeRO
  /// 0-1; `syncSeconds` in all) runs past its own last backward.
  double syncExposed = 0, syncSeconds = 0;
  /// Parameter state (parameters, gradients, master, optimizer state).
  double stateBytes = 0;
  /// Activations kept for the backward, per microbatch.
  double activationBytes = 0;
  /// The largest working set.
  double transientBytes = 0;
  /// Per microbatch on the device: compute and the transfers it waits for.
  double perMicrobatch() const {
    return forward + backward + receiveForward + receiveBackward;
  }
};

/// The time and memory of one pipeline.
struct PipelineTiming {
  double seconds = 0;
  /// Of `seconds`: the fill and drain (the bubble), and the step work after
  /// the last backward that the schedule does not hide.
  double bubbleSeconds = 0, tailSeconds = 0;
  /// Per device: microbatch-chunks of activations in flight at most, and
  /// the peak bytes.
  std::vector<double> inFlight;
  std::vector<double> memoryBytes;
};

/// Microbatch-chunks whose activations device `device` of `devices` holds
/// at once under `schedule` with `virtualStages` chunks per device and
/// `microbatches` microbatches (Megatron-LM's warm-up counts plus one).
double getInFlightMicrobatches(PipelineSchedule schedule, int64_t devices,
                               int64_t device, int64_t microbatches,
                               int64_t virtualStages);

/// Runs `chunks` (the stages in forward order; with v virtual stages, P * v
/// chunks, chunk c on device c mod P) through `microbatches` microbatches:
///   time = M * max_d c_d + (sum_d c_d - max_d c_d) / v + tail,
/// c_d the per-microbatch work of device d over its chunks; the tail is
/// the longest step work (getDeviceStepWork) that outlasts the backwards
/// still flowing to device 0 (device d's last backward ends sum_{d' < d}
/// of the devices before it earlier). Interleaved, the closed form prices a
/// device's chunks as if alike: where the schedule's order, run
/// (simulatePipeline), ends later (chunks of uneven time wait for each other),
/// the time is the order's, the excess counted as bubble. Memory per device:
/// its chunks' parameter state, the activations in flight
/// (getInFlightMicrobatches, over its chunks' average) and its largest working
/// set.
PipelineTiming timePipeline(const std::vector<StageWork> &chunks,
                            int64_t microbatches, PipelineSchedule schedule,
                            int64_t virtualStages);

/// Device `device`'s step work after its last backward (`chunks` as for
/// timePipeline, P devices): its chunks' step work, except that a chunk's
/// reductions that run past its own last backward (syncExposed) also run
/// behind the backwards the device runs after it, P microbatches of each
/// of its earlier chunks (the interleaved schedule's cool-down), on one
/// stream for all: max(0, max_l syncExposed_l + sum_{l' < l}
/// (syncSeconds_l' - P backward_l')) over the device's chunks l that
/// reduce (l its index among them, forward order), and never above the
/// sum of its chunks' step work. With one chunk a device, its step work.
double getDeviceStepWork(const std::vector<StageWork> &chunks, int64_t devices,
                         int64_t device);

/// The chunk an op the plan did not place runs in, from the chunks of the
/// values it reads (`inputChunks`, -1 for a value of no chunk): forward
/// work the latest, backward work the earliest, so values flow the
/// schedule's way; -1 when it reads no staged value (it runs wherever it
/// is needed). autopar-partition places ops so and predictCommunication
/// counts them so.
int64_t chooseChunk(llvm::ArrayRef<int64_t> inputChunks, bool backward);

/// One entry of a device's program: a chunk's forward or backward of one
/// microbatch.
struct PipelineAction {
  bool backward = false;
  int64_t chunk = 0, microbatch = 0;
};

/// The order in which device `device` of `devices` runs its chunks'
/// forwards and backwards (chunk c on device c mod P), Megatron-LM's:
///  * gpipe: every microbatch's forward, then every backward;
///  * 1f1b: min(P - d - 1, M) warm-up forwards, then one forward and one
///    backward at a time, then the backwards left;
///  * interleaved (M a multiple of P): the device's k-th forward is chunk
///    (k / P mod v) * P + d of microbatch (k / (P v)) P + k mod P, its
///    k-th backward the same with the chunks in reverse; min((P - d - 1) * 2
///    + (v - 1) * P, v M) warm-up forwards, then as 1f1b.
/// The schedule's one definition: the stages' programs
/// (autopar-partition) and the trace (simulatePipeline) both follow it.
std::vector<PipelineAction> getPipelineActions(PipelineSchedule schedule,
                                               int64_t devices, int64_t device,
                                               int64_t microbatches,
                                               int64_t virtualStages);

/// The same order as loops: each loop runs `count` times the actions of
/// its body, an action's microbatch being its `microbatch` plus `stride`
/// times the iteration. GPipe: M forwards, then M backwards; 1F1B: W
/// warm-up forwards, M - W times one forward (microbatch W + i) and one
/// backward (i), W backwards. Interleaved: its order repeats every 2 P v
/// actions with the microbatches P further on (the k-th forward and the
/// (k + P v)-th are one chunk's, P microbatches apart): the actions before
/// that steady state, once; as many whole periods as fit, a loop of stride
/// P; the rest, once; O(P v) actions in all, whatever M. Expanded, they
/// give getPipelineActions (test/Unit/pipeline.test); autopar-partition's
/// stage programs run them. Every chunk's last backward is in the last loop
/// that runs (the steady state ends a period before the cool-down), whose
/// last iteration the stage programs peel.
struct PipelineLoop {
  int64_t count = 0;
  std::vector<PipelineAction> body;
  int64_t stride = 1;
};
std::optional<std::vector<PipelineLoop>>
getPipelineLoops(PipelineSchedule schedule, int64_t devices, int64_t device,
                 int64_t microbatches, int64_t virtualStages = 1);

/// Every device's actions run in order, each as soon as its device is free
/// and its inputs are there: a forward after the previous chunk's forward
/// of the microbatch, a backward after the next chunk's backward of it and
/// the chunk's own forward; a chunk's action takes its StageWork's forward
/// (or backward) time plus what it waits to receive.
struct PipelineSimulation {
  struct Entry {
    PipelineAction action;
    int64_t device = 0;
    double start = 0, duration = 0;
  };
  /// In the order they were started.
  std::vector<Entry> entries;
  /// Per device: when its last action ends, and the most chunk-microbatches
  /// whose forward had run and backward not (activations held).
  std::vector<double> deviceEnd;
  std::vector<int64_t> peakInFlight;
  /// False when some device waits for ever (the order deadlocks).
  bool complete = false;
};
PipelineSimulation simulatePipeline(const std::vector<StageWork> &chunks,
                                    int64_t microbatches,
                                    PipelineSchedule schedule,
                                    int64_t virtualStages);

/// The partial partitions the interleaved stage search's branch and bound
/// visits at most per search, by default (`autopar-plan
/// interleaved-nodes=`).
constexpr int64_t kInterleavedNodeBudget = int64_t(1) << 16;

/// The stage search's input: K layers (contiguous groups of ops, in forward
/// order) and, for each candidate stage mesh, every layer's costs on it and
/// the transfer time of each cut.
struct StageSearchProblem {
  struct Layer {
    double forward = 0, backward = 0, step = 0;
    double stateBytes = 0, activationBytes = 0, transientBytes = 0;
    /// ZeRO-3: the bytes of the parameters the layer's ops gather.
    double gatherBytes = 0;
    /// Per microbatch, what the layer adds as the first layer of its stage
    /// (the forward's first) and as the last (the backward's first): the
    /// first layer of a pass has no layer before it to prefetch behind
    /// (Cost/Overlap.h, getGroupExposure's lead); >= 0.
    double leadSeconds = 0, trailSeconds = 0;
    /// ZeRO 0-1 reduce the gradients once a step, by buckets, each issued
    /// where the last microbatch's backward makes its last gradient: what
    /// runs past a stage's last backward is step work too. Over the
    /// model's backward of one microbatch (the layers last to first), the
    /// layer's GroupRelease (Cost/Overlap.h, getGroupReleases): layers
    /// [i, j) add getRunExposure of the most syncRelease of [i, j), layer
    /// i's (the backward's last) and their syncSeconds (getStageWork).
    /// `step` holds the rest, which the search's bounds see.
    GroupRelease sync;
  };
  struct Mesh {
    std::string name;
    /// One per layer.
    std::vector<Layer> layers;
    /// Seconds per microbatch to move the values live across cut k (between
    /// layers k - 1 and k) into a stage on this mesh, k = 0..K (0 at the
    /// ends); the same for their gradients.
    std::vector<double> cutSeconds;
    /// ZeRO-3: the most gathered parameter bytes a stage holds at once (two
    /// gather units, Cost/Overlap.h), or all its layers' gatherBytes when
    /// they are fewer; 0 without ZeRO-3.
    double gatherHoldBytes = 0;
    /// The mesh shape this plan is on (stageShapes refers to it), and the
    /// kind of step it runs (the caller's numbering, e.g. a recomputation;
    /// stageKinds refers to it).
    unsigned shape = 0, kind = 0;
  };
  /// The stage plans: each a mesh and a step configuration (a stage picks
  /// one; plans of equal per-microbatch time are told apart by their step
  /// work, the least first).
  std::vector<Mesh> meshes;
  /// Per stage (v = 1), the shape its mesh must have; empty: any.
  std::vector<unsigned> stageShapes;
  /// Per stage, the kinds of step it may run (bit k: kind k, k < 64);
  /// empty: any.
  std::vector<uint64_t> stageKinds;

  /// Whether chunk `chunk` may run on mesh plan `mesh` (stageShapes,
  /// stageKinds).
  bool allowsMesh(int64_t chunk, unsigned mesh) const {
    return (stageShapes.empty() ||
            meshes[mesh].shape == stageShapes[chunk % stages]) &&
           (stageKinds.empty() ||
            ((stageKinds[chunk % stages] >> meshes[mesh].kind) & 1));
  }
  int64_t stages = 1;
  int64_t microbatches = 1;
  int64_t virtualStages = 1;
  PipelineSchedule schedule = PipelineSchedule::OneFOneB;
  /// Bytes per GPU (0: unlimited).
  double memoryCapacity = 0;
  /// Seconds of a pipeline found elsewhere: the search finds only faster
  /// ones (its bounds stop it sooner); infinity: any.
  double incumbent = std::numeric_limits<double>::infinity();
  /// Interleaved: the partial partitions the branch and bound may visit
  /// before it settles for what it has (StageSearchResult::exact).
  int64_t nodeBudget = kInterleavedNodeBudget;
};

/// One chunk of a pipeline: layers [begin, end) on mesh `mesh`.
struct StageAssignment {
  int64_t begin = 0, end = 0;
  unsigned mesh = 0;
};

struct StageSearchResult {
  bool found = false;
  std::vector<StageAssignment> chunks;
  PipelineTiming timing;
  /// What the search minimises (below, `lowerBound`), for `chunks`.
  double seconds = 0;
  /// Candidate slowest-stage times tried (the DP's outer loop).
  int64_t capsTried = 0;
  /// Interleaved: the partial partitions the branch and bound visited, and
  /// whether it finished within its budget (so that `chunks` is the best
  /// pipeline, or none is faster than the incumbent).
  int64_t nodes = 0;
  bool exact = true;
  /// A time that no pipeline of the problem goes below (timePipeline's
  /// whole time, what the search minimises): the best one found (or the
  /// incumbent) when the search proves it, else the least of that and the
  /// bound of the partitions left unvisited (v = 1: below the best only
  /// where the tail may be more than device 0's step work; interleaved:
  /// where the branch and bound stopped, `exact` false).
  double lowerBound = std::numeric_limits<double>::infinity();
};

/// The chunk of layers [begin, end) on `mesh` as a stage's work: its
/// layers' sums, its first layer's lead and its last layer's trail.
StageWork getStageWork(const StageSearchProblem &problem, int64_t begin,
                       int64_t end, unsigned mesh);

/// The fastest pipeline: P * v chunks of at least one layer each, every
/// device's chunks on one mesh plan, each device within the memory
/// capacity. Of two chunks' plans that take the same time per microbatch,
/// the one with less step work (synchronisation, update) is chosen. The
/// time minimised is timePipeline's, tail included. For v = 1, two walks of
/// the DP, one exact for the time without the tail and one for the time
/// with the tail taken as device 0's step work (which the tail is unless a
/// later stage's step work outlasts the backwards still flowing to device
/// 0); the partitions they meet are timed whole. For v > 1, the
/// chunks are first balanced on one plan for all under the same outer loop
/// (a heuristic), then a branch and bound over their boundaries and each
/// device's plan proves that pipeline the best or finds a faster one,
/// unless it visits more partial partitions than its budget (`exact`
/// false).
StageSearchResult searchStages(const StageSearchProblem &problem);

/// Every partition enumerated (small problems only; tests).
StageSearchResult enumerateStages(const StageSearchProblem &problem);

} // namespace mlir::autopar

#endif // AUTOPAR_SEARCH_PIPELINE_H
