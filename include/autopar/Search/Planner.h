//===- Planner.h - choosing the mesh and every op's strategy ----*- C++ -*-===//
//
// For each candidate mesh, builds the cost graph of a function (one node per
// op with one candidate per strategy; unary costs: local compute forward and
// backward, gradient all-reduces, optimizer update; edge costs: resharding a
// value between producer and consumer, forward and backward), solves it, and
// picks the mesh that is best for the objective within the memory limit.
// Costs come from the CostModel; the Solver knows nothing of MLIR.
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_SEARCH_PLANNER_H
#define AUTOPAR_SEARCH_PLANNER_H

#include "autopar/Analysis/Workload.h"
#include "autopar/Cost/CostModel.h"
#include "autopar/Cost/Overlap.h"
#include "autopar/Search/Communication.h"
#include "autopar/Search/ShardingSpace.h"
#include "autopar/Search/Solver.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <string>

namespace mlir::autopar {

enum class Objective { Time, Energy, Efficiency };

struct PlannerOptions {
  Objective objective = Objective::Time;
  /// For Objective::Efficiency: the least parallel efficiency accepted.
  double efficiencyFloor = 0;
  /// At most this many GPUs (0: all of the target's).
  int64_t maxGpus = 0;
  /// A fixed mesh shape (empty: search).
  SmallVector<int64_t> mesh;
  Optimizer optimizer = Optimizer::Momentum;
  /// Enumerate every labelling instead of eliminating (small graphs only).
  bool exhaustive = false;
  /// Find repeated identical blocks and solve one for all (off: solve
  /// every op's strategy in the whole graph; the same plan, slower).
  bool reuseBlocks = true;
  /// Gradient synchronisation behind the backward and ZeRO-3's parameter
  /// gathers behind the op before (Cost/Overlap.h); off: all of it
  /// exposed.
  bool overlap = true;
  /// ZeRO-3's gather unit (kGatherUnitBytes; Cost/Overlap.h).
  double gatherUnitBytes = kGatherUnitBytes;
  /// Only data parallelism (every op split along its batch loop or
  /// replicated), the WAP paper's search space.
  bool dataParallelOnly = false;
  /// Only tensor (model) parallelism: no op is split along its batch loop,
  /// and ops that can be split along another loop are split (a forced
  /// plan for testing and comparison).
  bool tensorParallelOnly = false;
  /// Forced hybrid: the first mesh axis splits batch loops, the others
  /// other loops, wherever the op allows.
  bool dataTensor = false;
  /// The step's arithmetic (resolved: Model, BF16 or FP16).
  Precision precision = Precision::Model;
  /// Pins of the step's configuration; unset: searched.
  std::optional<unsigned> zero;
  std::optional<Recompute> recompute;
  std::optional<int64_t> microbatches;
};

/// How a training step runs beyond the per-op shardings: ZeRO stage over
/// the data axes, activation recomputation and the number of microbatches
/// the batch is split into (gradients accumulated, one update).
struct StepConfig {
  unsigned zero = 0;
  Recompute recompute = Recompute::None;
  int64_t microbatches = 1;
  bool operator==(const StepConfig &other) const {
    return zero == other.zero && recompute == other.recompute &&
           microbatches == other.microbatches;
  }
  /// "zero 1, recompute selective, 4 microbatches".
  std::string str() const;
};

/// Memory of one GPU under a plan: the training state of the parameters
/// (ZeRO-sharded), the activations kept for the backward (one microbatch;
/// with recomputation the kept values plus the largest segment made
/// again), the largest transient working set (an op's results and
/// activation operands, the parameters ZeRO-3 gathers), and what the
/// step holds at its peak (Planner::evaluate).
struct PlanMemory {
  /// Over the whole step: the parameters' state (bytes, the ZeRO paper's
  /// formula), every activation kept for the backward (per microbatch),
  /// the largest working set.
  ParameterStateBytes state;
  double activations = 0;
  double transient = 0;
  /// What is held at the step's peak, the backward of node `peakNode`:
  /// the gradients made by then (all of them when microbatches accumulate),
  /// the activations not yet released, that op's working set.
  double peakGradients = 0, peakActivations = 0, peakTransient = 0;
  int64_t peakNode = -1;
  /// The packed buffers of the gradients' synchronisation after the
  /// backward (one bucket of each collective the ZeRO stage runs) and
  /// whether the step peaks there rather than in the backward (then with
  /// every gradient and no activation).
  double collectiveBuffers = 0;
  bool peakAtSync = false;
  /// The peak: the state whole but for the gradients not made yet.
  double total() const {
    return state.total() - state.gradients + peakGradients + peakActivations +
           peakTransient + (peakAtSync ? collectiveBuffers : 0.0);
  }
};

/// What a plan costs, per step.
struct PlanMetrics {
  double computeSeconds = 0;
  double commSeconds = 0;
  double memoryPerGpu = 0;
  /// Of computeSeconds: forward recomputed in the backward.
  double recomputeSeconds = 0;
  PlanMemory memory;
  int64_t gpus = 1;
  int64_t batch = 1;
  /// Of commSeconds: gradient synchronisation and ZeRO-3's gathers hidden
  /// behind compute (Cost/Overlap.h).
  double hiddenCommSeconds = 0;
  double stepSeconds() const {
    return computeSeconds + commSeconds - hiddenCommSeconds;
  }
  double samplesPerSecond() const {
    return stepSeconds() > 0 ? batch / stepSeconds() : 0;
  }
};

/// What one strategy of an op does on one GPU over a whole step, before
/// the step's configuration (microbatches, recomputation, ZeRO) prices it.
struct StrategyWork {
  struct Kernel {
    double flops = 0, bytes = 0, parallel = 0;
    /// 0 when the op runs inside its users' kernels (Analysis/Fusion.h).
    double launches = 1;
  };
  /// The forward kernel and the backward's data and weight parts, at the
  /// whole local batch, in the step's precision.
  Kernel forward, backwardData, backwardWeight;
  /// For an op in a row kernel: the kernel's local rows at the whole local
  /// batch, and the forward as a kernel of its own, which it runs as where
  /// a microbatch's rows are too few for a row kernel (formsRowKernel).
  double rowKernelRows = 0;
  Kernel forwardAlone;
  /// For an op whose backward runs in a row kernel's backward
  /// (OpWorkload::bwdRowKernelRows): that kernel's local rows, and the
  /// backward as kernels of their own (where a microbatch's rows are too
  /// few).
  double bwdRowKernelRows = 0;
  Kernel backwardDataAlone, backwardWeightAlone;
  /// A GELU or ReLU epilogue that keeps its sum or mask for the backward
  /// (OpWorkload::keepsAux): under recomputation the backward makes it
  /// again, the product is read twice and the activation runs as
  /// forwardAlone.
  bool keepsAux = false;
  /// Where a fused causal attention's query rows are split: how much more
  /// than an even share the busiest device computes
  /// (OpWorkload::getRowSplitImbalance; its FLOPs above include it).
  double busiestShare = 1;
  /// All-reduces of activation gradients and of partial results the
  /// function returns: local bytes and mesh axes.
  SmallVector<std::pair<double, unsigned>, 2> allReduces;
  /// Parameters this op stores and updates: local elements, element bytes
  /// in the model and the axes their gradient is summed over (the data
  /// axes ZeRO shards over).
  struct Param {
    double elements = 0;
    Type elementType;
    unsigned axes = 0;
    unsigned rank = 1;
  };
  SmallVector<Param, 2> params;
  /// Local bytes: activations saved for the backward, the op's operands
  /// and results (its working set, internal buffers aside), its results.
  double savedBytes = 0, workingBytes = 0, resultBytes = 0;
  /// Local bytes of the op's internal buffers at the whole local batch,
  /// in the step's precision, and the bound its lowering holds them to (0:
  /// none): an attention lowered a block of its batch at a time holds one
  /// block's and launches its kernels once per block.
  double internalBytes = 0, internalBytesLimit = 0;
  /// The working set of one microbatch of `microbatches`.
  double getWorkingBytes(double microbatches) const {
    double internal = internalBytes / microbatches;
    if (internalBytesLimit > 0)
      internal = std::min(internal, internalBytesLimit);
    return workingBytes / microbatches + internal;
  }
  /// The blocks one microbatch's internal buffers are computed in.
  double getBlocks(double microbatches) const {
    return getInternalBlocks(internalBytes / microbatches, internalBytesLimit);
  }
  /// The batch loop's extent and how many ways it is split: microbatches
  /// must keep it divisible.
  int64_t batchExtent = 0, batchSplit = 1;
};

/// One op of the plan.
struct PlanNode {
  OpSpace space;
  const OpWorkload *work = nullptr;
  /// An empty tensor or a fill of one with a scalar (isMadeFromScalar):
  /// made at its users, costing nothing of its own.
  bool madeFromScalar = false;
  SmallVector<Strategy> strategies;
  std::vector<StrategyWork> works;
  /// Per strategy, under the plan's step configuration: compute (forward,
  /// backward, recomputation, update), gradient synchronisation, memory
  /// (parameter state and kept activations); and the forward part of
  /// compute.
  std::vector<double> compute, sync, memory, forward;
  /// Per strategy, memory with the working set and what recomputation
  /// makes again of the op's segment added: the proxy of its share of the
  /// peak a memory-weighed solve falls back on when `memory` alone leaves
  /// the peak to working sets (Planner::planOnMesh).
  std::vector<double> peakMemory;
};

/// One op's share of a plan's step (evaluate fills it): compute of the
/// forward and of the backward (recomputation included), over the whole
/// step (all microbatches); communication on the way of each microbatch
/// (activation all-reduces, reshards into the op) and once per step
/// (gradient synchronisation, ZeRO's gathers); the optimizer update; the
/// parameter state, the activations kept per microbatch, the working set,
/// and what recomputation makes again for the op's segment before its
/// backward.
struct NodeCost {
  double forward = 0, backward = 0, update = 0;
  double microbatchComm = 0, stepComm = 0;
  double stateBytes = 0, activationBytes = 0, workingBytes = 0;
  double rematerializedBytes = 0;
  /// ZeRO-3: the bytes of the parameters the node gathers, and of the
  /// gathered units held at its backward (in `workingBytes`).
  double gatherBytes = 0, heldGatherBytes = 0;
  /// What overlaps compute (Cost/Overlap.h): one gather of the node's
  /// parameters (ZeRO-3), one reduction of its gradients and their bytes.
  double gatherSeconds = 0, reduceSeconds = 0, reduceBytes = 0;
};

/// One microbatch's forward and backward (the nodes in reverse) as the
/// communication stream sees them (Cost/Overlap.h), from a plan's
/// `costs` at `microbatches` microbatches.
void getPassSteps(ArrayRef<NodeCost> costs, double microbatches,
                  std::vector<PassStep> &forward,
                  std::vector<PassStep> &backward);

/// The best plan on one mesh.
struct MeshPlan {
  MeshShape mesh;
  std::vector<PlanNode> nodes;
  std::vector<unsigned> choice;
  StepConfig config;
  PlanMetrics metrics;
  bool fitsMemory = false;
  /// Whether every op's batch split divides a microbatch (fitsMemory is
  /// false otherwise).
  bool feasible = true;
  /// Whether the search stopped at the fastest plan ignoring memory, which
  /// does not fit: no configuration on this mesh could be faster than a
  /// plan already found on another (planOnMesh's `incumbentSeconds`).
  bool pruned = false;
  Solution solution;
  double energyPerSample = 0;
  /// Per node: time of its incoming edges under the plan (communication),
  /// and what its run as a kernel of its own costs more where a partial
  /// product's all-reduce keeps it out of the product's epilogue
  /// (Planner::getEdgeEpilogueApartSeconds; compute).
  std::vector<double> edgeSeconds, apartSeconds;
  /// Per node: its costs under the plan.
  std::vector<NodeCost> nodeCosts;
  /// The cost graph (unary costs without the memory weight).
  CostGraph graph;

  /// Releases the per-op parts (nodes, choice, graph, per-node costs) of a
  /// plan that will not be chosen; its figures (metrics, memory, mesh,
  /// configuration) stay for the reports.
  void dropOps() {
    // (Moved-from, not cleared: the buffers go too.)
    nodes = std::vector<PlanNode>();
    choice = std::vector<unsigned>();
    graph = CostGraph();
    edgeSeconds = std::vector<double>();
    nodeCosts = std::vector<NodeCost>();
    solution.choice = std::vector<unsigned>();
  }
};

class Planner {
public:
  Planner(const FunctionWorkload &workload, const CostModel &costModel,
          const PlannerOptions &options);

  /// The meshes to consider, in a fixed order (1 GPU first).
  SmallVector<MeshShape> getCandidateMeshes() const;

  /// The best plan on `mesh` (respecting the memory limit when possible).
  /// Fails with a diagnostic when a pin cannot be honoured on `mesh`.
  /// With `incumbentSeconds` (the fastest fitting step found on another
  /// mesh), configurations whose lower bound reaches it are not searched.
  FailureOr<MeshPlan>
  planOnMesh(const MeshShape &mesh,
             double incumbentSeconds = std::numeric_limits<double>::infinity());

  /// The meshes of exactly `devices` GPUs the search would consider (one
  /// axis, and data x tensor with the inner axis inside a node).
  SmallVector<MeshShape> getCandidateMeshes(int64_t devices) const;

  /// Plans on `mesh` for the pipeline search's stage costs, per set of
  /// configurations (one per microbatch count, say; the mesh's strategies
  /// and sharding graph are built once for all): for each of
  /// `memoryWeights` (0: the fastest plan ignoring memory; w > 0: memory
  /// weighed at w times the fastest plan's step time per GPU memory
  /// capacity, leaner as w grows), the plan solved under the set's first
  /// configuration and evaluated (not re-solved) under each of the set's
  /// configurations: `consume(set, plans)` with plans[w][c] (plans[w]
  /// empty when weight w solved to the strategies of the weight before),
  /// one non-empty set at a time (a large model's plans of every set do not all
  /// fit in memory).
  LogicalResult profileOnMesh(
      const MeshShape &mesh, ArrayRef<SmallVector<StepConfig>> configSets,
      ArrayRef<double> memoryWeights,
      function_ref<void(size_t set, std::vector<std::vector<MeshPlan>> &plans)>
          consume);

  /// For each cut between nodes (0..nodes: cut k before node k), the bytes
  /// of the values made before it and read after it (the whole batch, in
  /// the step's precision).
  std::vector<double> getCutBytes() const;
  /// For each cut, how many values cross it: the stage programs send each
  /// one as its own message, once per microbatch.
  std::vector<double> getCutValues() const;
  /// For each cut, whether it falls inside a kernel: between an op and a
  /// later op that runs in its kernel or library call (OpWorkload::runsIn:
  /// a row kernel, a GEMM's epilogue), which a stage boundary there would
  /// break (the op after it would run as its own kernel, unpriced).
  std::vector<bool> getKernelCuts() const;

  /// The ops that are nodes, in program order.
  ArrayRef<OpSpace> getSpaces() const { return spaces; }
  int64_t getBatchSize() const { return workload.getBatchSize(); }
  const PlannerOptions &getOptions() const { return options; }

  /// Data parallelism over `mesh` (each op split along its batch loop where
  /// it can be, else replicated), for comparison.
  FailureOr<MeshPlan> dataParallelOnMesh(const MeshShape &mesh);

  /// The energy per sample of a plan: busy power during compute, idle power
  /// during communication, over the GPUs used.
  double energyPerSample(const PlanMetrics &metrics) const;

  /// For every node of `plan`: the cheapest other strategy with the
  /// neighbours fixed, and its cost, or std::nullopt when there is none.
  std::vector<std::optional<std::pair<unsigned, double>>>
  nextBest(const MeshPlan &plan) const;

  /// What the forward pass of `plan` communicates, per collective kind
  /// ("all_reduce", ...): the number of collectives and the bytes each
  /// device puts in. The steps are planResharding's, counted once per value
  /// and target sharding, arguments laid out as their first consumer needs
  /// them, partial results reduced where the function returns them: the
  /// collectives autopar-partition emits for the planned function.
  CommunicationSummary forwardCommunication(const MeshPlan &plan) const;

  /// The nodes on `mesh` with their strategies, numbered as every plan on
  /// `mesh` numbers them (MeshPlan::choice).
  FailureOr<std::vector<PlanNode>> getNodesOnMesh(const MeshShape &mesh);

  /// The pinned mesh shape and symbol, when the function has pins.
  std::optional<std::pair<MeshShape, FlatSymbolRefAttr>> getPinnedMesh() const {
    return pinnedMesh;
  }

  LogicalResult initialize();

  /// The run of identical blocks (a Transformer's layers) the nodes hold:
  /// count >= 3 copies of `length` nodes from `start`, alike op for op
  /// (same op, types and attributes, same producers relative to the node,
  /// same parameter and gradient roles); count 0 when there is none.
  /// Unless reuse is off (reuseBlocks), declared to the solver on every
  /// cost graph, which checks it on the costs and solves one copy for all;
  /// the pipeline search cuts layers at its copies either way.
  const Repetition &getRepetition() const { return repetition; }

private:
  /// The nodes on `mesh` with their strategies and costs; with
  /// `dataParallelOnly`, one strategy each (batch split, pin or replicated).
  LogicalResult buildNodes(const MeshShape &mesh, std::vector<PlanNode> &nodes,
                           bool dataParallelOnly);
  CostGraph buildGraph(const MeshShape &mesh,
                       const std::vector<PlanNode> &nodes) const;
  /// Fills every node's compute, sync, memory and forward vectors for
  /// `config`; with `copies` false, a copy of a repeated block's node is
  /// left as it was (read its representative's, pricedNode).
  void price(const MeshShape &mesh, std::vector<PlanNode> &nodes,
             const StepConfig &config, bool copies = true) const;
  /// The node whose price vectors hold node `index`'s costs (itself, or
  /// the first copy's node it repeats).
  const PlanNode &pricedNode(const std::vector<PlanNode> &nodes,
                             unsigned index) const {
    return nodes[representative[index]];
  }
  /// One strategy's costs under `config`: compute, sync, forward, state
  /// bytes and kept activation bytes.
  struct Priced {
    double compute = 0, sync = 0, forward = 0, recompute = 0;
    /// Of compute: the optimizer update; of sync: the parameters'
    /// collectives (gradient synchronisation, ZeRO's gathers).
    double update = 0, paramSync = 0;
    ParameterStateBytes state;
    /// Gradient bytes synchronised over data axes, the largest such group.
    double syncedBytes = 0, syncGroup = 1;
    double activations = 0;
    /// Of sync: the collective that reduces the gradients (all-reduce, or
    /// ZeRO's reduce-scatter), per reduction (once a step for ZeRO 0-1,
    /// once a microbatch for ZeRO 2-3), and its bytes: what overlaps the
    /// backward (Cost/Overlap.h).
    double gradientReduce = 0, gradientReduceBytes = 0;
    /// Of sync, under ZeRO-3: one gather of the op's parameters (run for
    /// the forward and for the backward of every microbatch), and its
    /// bytes (what it holds while its op runs).
    double paramGather = 0, paramGatherBytes = 0;
  };
  Priced priceStrategy(const MeshShape &mesh, const PlanNode &node,
                       unsigned index, const StrategyWork &work,
                       const StepConfig &config) const;
  /// Whether op `index` recomputes its forward under `recompute`.
  bool recomputes(unsigned index, Recompute recompute) const;
  /// Calls `fn` for each value a node makes and a later node reads, in
  /// program order: its producer node, result binding and last reader.
  void forEachLiveValue(function_ref<void(Value value, unsigned producer,
                                          unsigned result, unsigned last)>
                            fn) const;
  /// For each cut between nodes (0..nodes), the sum of `weight` over the
  /// values made before it and read after it (0 at both ends).
  std::vector<double> sumAcrossCuts(
      function_ref<double(Value value, unsigned producer, unsigned result)>
          weight) const;
  /// Full recomputation's segments and selective recomputation's ops.
  void computeSegments();
  /// Finds `repetition` (after computeSegments).
  void computeRepetition();
  /// The configurations to consider (the pins, or every combination).
  SmallVector<StepConfig> getCandidateConfigs() const;
  void evaluate(MeshPlan &plan);
  /// The element type kernels of `type` run in under the step's precision,
  /// and the bytes of `bytes` worth of a value of element type `type`.
  Type computeType(Type type) const;
  double scaleBytes(Type type, double bytes) const;
  /// The factor on bytes of an op of `type` held in an accumulator type
  /// (OpWorkload::internalBytes: f32 under a 16-bit precision), so only a
  /// wider type's shrink.
  double getAccumulatorScale(Type type) const;
  double reshardSeconds(const TensorSharding &from, const TensorSharding &to,
                        double bytes, const MeshShape &mesh) const;
  /// The op that runs in the epilogue of `producer`'s product
  /// (OpWorkload::inEpilogue: a bias, a residual, an activation) and reads
  /// it through `node`: `node` itself or, when `node` is the view of the
  /// product's rows (a 3-D dense layer's [b, s, n] of [b * s, n]), its one
  /// reader; or the op that one is fused into (a bias add fused into the
  /// residual add the call takes as C). Null for other edges.
  const OpWorkload *getEpilogueThrough(const PlanNode &node,
                                       const PlanNode &producer) const;
  /// What that op costs more as a kernel of its own (OpWorkload::bytesAlone,
  /// one launch) than in the product's call, on `shards` of the mesh: where
  /// the product's strategy leaves its result partial and `node` reads it
  /// combined (combinesPartials), the all-reduce comes between and the
  /// lowering cannot fold the op. Priced on the edge from the product (the
  /// two strategies decide it: buildGraph) and counted as compute
  /// (evaluate).
  double getEpilogueApartSeconds(const OpWorkload &epilogue,
                                 double shards) const;
  /// That cost on the edge `from` -> `to` under `plan`'s choices.
  double getEdgeEpilogueApartSeconds(const MeshPlan &plan, unsigned from,
                                     unsigned to) const;
  /// Whether resharding `from` to `to` combines partial sums (an axis
  /// partial in `from` and not in `to`): a collective between the two ops.
  static bool combinesPartials(const TensorSharding &from,
                               const TensorSharding &to);
  double allReduceSeconds(double bytes, unsigned axes,
                          const MeshShape &mesh) const;

  const FunctionWorkload &workload;
  const CostModel &costModel;
  PlannerOptions options;
  /// The ops that are nodes, in program order, with their spaces.
  std::vector<OpSpace> spaces;
  /// Per space, the loop its batch follows (getBatchLoops), or -1.
  SmallVector<int> batchLoops;
  /// Producer of each value: node index and result binding index.
  llvm::DenseMap<Value, std::pair<unsigned, unsigned>> producers;
  /// The node that stores and updates each parameter (its first consumer).
  llvm::DenseMap<Value, unsigned> paramOwner;
  /// Values returned by the function.
  SmallVector<Value> returned;
  std::optional<std::pair<MeshShape, FlatSymbolRefAttr>> pinnedMesh;
  /// Full recomputation's segments: each node's segment, and for the value
  /// that ends a segment (a checkpoint: the only activation live across
  /// the boundary) its producer node and result binding.
  std::vector<unsigned> segmentOf;
  unsigned numSegments = 1;
  llvm::DenseMap<unsigned, unsigned> checkpointResult;
  /// Whether each node is cheap to recompute (selective recomputation).
  std::vector<bool> cheapToRecompute;
  /// Per node: whether it is made from a scalar (isMadeFromScalar).
  std::vector<bool> madeFromScalar;
  /// Per node made from a scalar: its first user and the operand it is
  /// read as ({-1, -1} otherwise).
  std::vector<std::pair<int64_t, int64_t>> fillUser;
  Repetition repetition;
  /// Per node: the node of the repetition's first copy it is a copy of
  /// (itself outside the later copies); it has the same strategies and
  /// costs.
  std::vector<unsigned> representative;
};

} // namespace mlir::autopar

#endif // AUTOPAR_SEARCH_PLANNER_H
