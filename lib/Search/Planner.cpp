//===- Planner.cpp - choosing the mesh and every op's strategy ------------===//

#include "autopar/Search/Planner.h"
#include "autopar/Search/Communication.h"
#include "autopar/Dialect/AutoparOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/Transforms/RegionUtils.h"
#include "llvm/ADT/StringSet.h"

#include <cmath>

using namespace mlir;
using namespace mlir::autopar;

Planner::Planner(const FunctionWorkload &workload, const CostModel &costModel,
                 const PlannerOptions &options)
    : workload(workload), costModel(costModel), options(options) {}

LogicalResult Planner::initialize() {
  FunctionOpInterface func = workload.getFunction();
  llvm::StringSet<> warned;
  DenseMap<Value, ShardOp> pins;
  for (Block &block : func.getFunctionBody())
    for (Operation &op : block) {
      if (isa<func::ReturnOp>(op))
        llvm::append_range(returned, op.getOperands());
      std::optional<OpSpace> space = buildOpSpace(&op);
      if (!space)
        continue;
      if (!space->understood &&
          warned.insert(op.getName().getStringRef()).second)
        op.emitWarning() << "autopar: no sharding rule for '" << op.getName()
                         << "'; it runs replicated";
      if (auto shard = dyn_cast<ShardOp>(op)) {
        ShardingAttr sharding = shard.getSharding();
        MeshAttr meshAttr = lookupMesh(&op, sharding.getMesh());
        if (!meshAttr)
          return failure();
        if (sharding.isPartial())
          return op.emitError()
                 << "autopar: pins with partial axes are not supported";
        MeshShape shape;
        shape.sizes.assign(meshAttr.getAxisSizes().begin(),
                           meshAttr.getAxisSizes().end());
        for (StringAttr name : meshAttr.getAxisNames())
          shape.names.push_back(name.str());
        if (pinnedMesh && (pinnedMesh->second != sharding.getMesh())) {
          InFlightDiagnostic diag =
              op.emitError() << "autopar: contradicting pins: this pin uses "
                                "mesh "
                             << sharding.getMesh() << " but another uses "
                             << pinnedMesh->second
                             << "; pins must share one mesh";
          return diag;
        }
        auto [previous, inserted] =
            pins.try_emplace(shard.getInput(), shard);
        if (!inserted && previous->second.getSharding() != sharding) {
          InFlightDiagnostic diag =
              op.emitError() << "autopar: contradicting pins: this value is "
                                "pinned to "
                             << sharding << " here and to "
                             << previous->second.getSharding() << " elsewhere";
          diag.attachNote(previous->second.getLoc()) << "the other pin";
          return diag;
        }
        int64_t available = costModel.getTarget().getNumGpus();
        if (options.maxGpus > 0)
          available = std::min(available, options.maxGpus);
        if (shape.getNumDevices() > available)
          return op.emitError()
                 << "autopar: the pin's mesh " << sharding.getMesh() << " has "
                 << shape.getNumDevices() << " devices but only " << available
                 << " GPUs are available (target '"
                 << costModel.getTarget().getName() << "'"
                 << (options.maxGpus > 0 ? ", max-gpus" : "") << ")";
        pinnedMesh = {shape, sharding.getMesh()};
        // The pin: axis -> the dimension it splits (a result-dim loop).
        Strategy pinned(shape.getRank(), -1);
        for (auto [dim, axes] : llvm::enumerate(sharding.getDimAxes()))
          for (Attribute axis : axes)
            pinned[*meshAttr.getAxisIndex(cast<StringAttr>(axis))] = dim;
        space->pinned = pinned;
      }
      unsigned index = spaces.size();
      for (auto [resultIndex, result] : llvm::enumerate(space->results))
        producers[result.value] = {index, resultIndex};
      for (const Binding &operand : space->operands) {
        Value source = workload.getRoles().getSource(operand.value);
        if (workload.getRoles().isParameter(source) &&
            !paramOwner.count(source) && source == operand.value)
          paramOwner[source] = index;
      }
      spaces.push_back(std::move(*space));
    }
  if (pinnedMesh && !options.mesh.empty() &&
      ArrayRef<int64_t>(options.mesh) != ArrayRef<int64_t>(pinnedMesh->first.sizes))
    return mlir::emitError(func.getLoc()) << "autopar: mesh=" << [&] {
      std::string text;
      for (auto [i, size] : llvm::enumerate(options.mesh))
        text += (i ? "x" : "") + std::to_string(size);
      return text;
    }() << " contradicts the pins, which use mesh "
        << pinnedMesh->second << " (" << pinnedMesh->first.str() << ")";
  return success();
}

SmallVector<MeshShape> Planner::getCandidateMeshes() const {
  TargetAttr target = costModel.getTarget();
  int64_t gpusPerNode = target.getGpusPerNode();
  SmallVector<MeshShape> meshes;
  auto make = [&](SmallVector<int64_t, 2> sizes) {
    MeshShape mesh;
    mesh.sizes = sizes;
    mesh.gpusPerNode = gpusPerNode;
    if (sizes.size() == 1)
      mesh.names = {"gpus"};
    else if (sizes[1] == gpusPerNode)
      mesh.names = {"nodes", "gpus"};
    else
      mesh.names = {"x", "y"};
    return mesh;
  };
  if (pinnedMesh) {
    MeshShape mesh = pinnedMesh->first;
    mesh.gpusPerNode = gpusPerNode;
    meshes.push_back(mesh);
    return meshes;
  }
  if (!options.mesh.empty()) {
    meshes.push_back(make(SmallVector<int64_t, 2>(options.mesh.begin(),
                                                  options.mesh.end())));
    return meshes;
  }
  int64_t total = target.getNumGpus();
  if (options.maxGpus > 0)
    total = std::min(total, options.maxGpus);
  for (int64_t devices = 1; devices <= total; ++devices) {
    // Beyond one node, meshes take whole nodes (as Alpa's submeshes do): a
    // partial node adds inter-node traffic without a node's compute. The
    // largest allowed count is always a candidate.
    if (devices > gpusPerNode && devices % gpusPerNode != 0 &&
        devices != total)
      continue;
    meshes.push_back(make({devices}));
    if (options.dataParallelOnly)
      continue;
    for (int64_t inner = 2; inner < devices; ++inner)
      if (gpusPerNode % inner == 0 && devices % inner == 0 &&
          devices / inner >= 2)
        meshes.push_back(make({devices / inner, inner}));
  }
  return meshes;
}

double Planner::allReduceSeconds(double bytes, unsigned axes,
                                 const MeshShape &mesh) const {
  DeviceGroup group{mesh.getGroupSize(axes), mesh.getNodesSpanned(axes)};
  return costModel.collectiveTime(CollectiveKind::AllReduce, bytes, group)
      .seconds;
}

double Planner::reshardSeconds(const TensorSharding &from,
                               const TensorSharding &to, double bytes,
                               const MeshShape &mesh) const {
  double seconds = 0;
  for (const ReshardStep &step : planResharding(from, to, bytes, mesh))
    seconds += getReshardStepSeconds(step, mesh, costModel);
  return seconds;
}

LogicalResult Planner::buildNodes(const MeshShape &mesh,
                                  std::vector<PlanNode> &nodes,
                                  bool dataParallelOnly) {
  nodes.clear();
  nodes.reserve(spaces.size());
  double optimizerStates = getOptimizerStates(options.optimizer);
  auto [updateFlops, updateBytes] = getOptimizerUpdateCost(options.optimizer);
  for (auto [index, space] : llvm::enumerate(spaces)) {
    PlanNode node;
    node.space = space;
    node.work = workload.lookup(space.op);
    node.strategies = enumerateStrategies(space, mesh);
    if (dataParallelOnly && !space.pinned) {
      // The paper's space: split along the batch on every axis, or
      // replicate when the op cannot be split so.
      int batchLoop = getBatchLoop(space);
      Strategy dataParallel(mesh.getRank(), batchLoop);
      bool available =
          batchLoop >= 0 && llvm::is_contained(node.strategies, dataParallel);
      node.strategies.assign(
          1, available ? dataParallel : Strategy(mesh.getRank(), -1));
    }
    if (options.dataTensor && !space.pinned && !dataParallelOnly) {
      // Data parallel along the first axis, tensor parallel along the
      // others, as far as the op allows: keep the strategies that match
      // the most of that pattern.
      int batchLoop = getBatchLoop(space);
      auto score = [&](const Strategy &strategy) {
        int points = 0;
        for (auto [axis, loop] : llvm::enumerate(strategy))
          points += axis == 0 ? (loop >= 0 && loop == batchLoop)
                              : (loop >= 0 && loop != batchLoop);
        return points;
      };
      int best = 0;
      for (const Strategy &strategy : node.strategies)
        best = std::max(best, score(strategy));
      SmallVector<Strategy> kept;
      for (const Strategy &strategy : node.strategies)
        if (score(strategy) == best)
          kept.push_back(strategy);
      node.strategies = std::move(kept);
    }
    if (options.tensorParallelOnly && !space.pinned && !dataParallelOnly) {
      int batchLoop = getBatchLoop(space);
      SmallVector<Strategy> tensorParallel;
      for (const Strategy &strategy : node.strategies)
        if (!llvm::is_contained(strategy, batchLoop) &&
            llvm::any_of(strategy, [](int loop) { return loop >= 0; }))
          tensorParallel.push_back(strategy);
      if (tensorParallel.empty())
        tensorParallel.push_back(Strategy(mesh.getRank(), -1));
      node.strategies = std::move(tensorParallel);
    }
    if (node.strategies.empty()) {
      if (space.pinned)
        return space.op->emitError()
               << "autopar: the pinned sharding does not divide the value "
                  "evenly on mesh "
               << mesh.str();
      node.strategies.push_back(Strategy(mesh.getRank(), -1));
    }
    for (const Strategy &strategy : node.strategies) {
      double compute = 0, sync = 0, memory = 0;
      int64_t all = 1, parallel = 1;
      for (auto [axis, loop] : llvm::enumerate(strategy))
        if (loop >= 0) {
          all *= mesh.sizes[axis];
          if (!space.reduction[loop])
            parallel *= mesh.sizes[axis];
        }
      // Local bytes of every operand and result, and of the activations.
      double fullBytes = 0, localBytes = 0, fullActivations = 0,
             localActivations = 0;
      auto account = [&](const Binding &binding, bool isResult) {
        TensorSharding sharding =
            getSharding(space, binding, strategy, isResult);
        double local =
            binding.bytes / static_cast<double>(getShardCount(sharding, mesh));
        fullBytes += binding.bytes;
        localBytes += local;
        if (!isResult &&
            !workload.getRoles().isParameter(binding.value)) {
          fullActivations += binding.bytes;
          localActivations += local;
        }
        return std::make_pair(sharding, local);
      };
      for (const Binding &operand : space.operands) {
        auto [sharding, local] = account(operand, false);
        // A gradient is a partial sum over the axes that split loops the
        // operand does not follow: all-reduce it (data parallelism's
        // gradient all-reduce, tensor parallelism's input-gradient one).
        if (workload.requiresGradient(operand.value)) {
          unsigned axes = 0;
          for (auto [axis, loop] : llvm::enumerate(strategy))
            if (loop >= 0 &&
                sharding.axisDim[axis] == TensorSharding::kReplicated)
              axes |= 1u << axis;
          if (axes)
            sync += allReduceSeconds(local, axes, mesh);
        }
        Value source = operand.value;
        auto owner = paramOwner.find(source);
        if (owner != paramOwner.end() && owner->second == index) {
          // Parameters, gradients and optimizer state live here.
          memory += local * (2 + optimizerStates);
          double elements = local / std::max(1.0, operand.bytes) *
                            std::max(1.0, static_cast<double>(
                                              cast<ShapedType>(source.getType())
                                                  .getNumElements()));
          compute += costModel
                         .kernelTime(updateFlops * elements,
                                     updateBytes * local, elements,
                                     cast<ShapedType>(source.getType())
                                         .getElementType())
                         .seconds;
        }
      }
      for (const Binding &result : space.results) {
        auto [sharding, local] = account(result, true);
        // A partial result returned by the function is reduced there.
        if (llvm::is_contained(returned, result.value)) {
          unsigned axes = 0;
          for (auto [axis, dim] : llvm::enumerate(sharding.axisDim))
            if (dim == TensorSharding::kPartial)
              axes |= 1u << axis;
          if (axes)
            sync += allReduceSeconds(local, axes, mesh);
        }
      }
      double forward = 0;
      if (const OpWorkload *work = node.work) {
        double ratio = fullBytes > 0 ? localBytes / fullBytes : 1.0;
        double par = std::max(1.0, work->parallelIterations / parallel);
        forward = costModel
                      .kernelTime(work->flops / all, work->bytes() * ratio,
                                  par, work->elementType)
                      .seconds;
        compute += forward;
        double bwdFlops = work->bwdFlops();
        double bwdBytes = work->bwdBytes * ratio;
        if (bwdFlops > 0) {
          for (double part : {work->bwdDataFlops, work->bwdWeightFlops})
            if (part > 0)
              compute += costModel
                             .kernelTime(part / all, bwdBytes * part / bwdFlops,
                                         par, work->elementType)
                             .seconds;
        } else if (bwdBytes > 0) {
          compute +=
              costModel.kernelTime(0, bwdBytes, par, work->elementType).seconds;
        }
        double activationRatio =
            fullActivations > 0 ? localActivations / fullActivations : 1.0;
        memory += work->savedBytes * activationRatio;
      }
      node.compute.push_back(compute);
      node.forward.push_back(forward);
      node.sync.push_back(sync);
      node.memory.push_back(memory);
    }
    nodes.push_back(std::move(node));
  }
  return success();
}

CostGraph Planner::buildGraph(const MeshShape &mesh,
                              const std::vector<PlanNode> &nodes) const {
  CostGraph graph;
  for (const PlanNode &node : nodes) {
    std::vector<double> unary;
    for (size_t s = 0; s < node.strategies.size(); ++s)
      unary.push_back(node.compute[s] + node.sync[s]);
    graph.addNode(std::move(unary));
  }
  // Strategies often agree on a value's sharding: price each distinct pair
  // of shardings once.
  auto uniqueShardings = [](SmallVectorImpl<TensorSharding> &distinct,
                            SmallVectorImpl<unsigned> &index,
                            const TensorSharding &sharding) {
    auto it = llvm::find(distinct, sharding);
    index.push_back(it - distinct.begin());
    if (it == distinct.end())
      distinct.push_back(sharding);
  };
  for (auto [index, node] : llvm::enumerate(nodes))
    for (const Binding &operand : node.space.operands) {
      auto it = producers.find(operand.value);
      if (it == producers.end())
        continue;
      auto [producer, resultIndex] = it->second;
      if (producer == index)
        continue;
      const PlanNode &from = nodes[producer];
      const Binding &result = from.space.results[resultIndex];
      bool backward = workload.requiresGradient(operand.value);
      SmallVector<TensorSharding> produced, consumed;
      SmallVector<unsigned> fromIndex, toIndex;
      for (const Strategy &strategy : from.strategies)
        uniqueShardings(produced, fromIndex,
                        getSharding(from.space, result, strategy, true));
      for (const Strategy &strategy : node.strategies)
        uniqueShardings(consumed, toIndex,
                        getSharding(node.space, operand, strategy, false));
      std::vector<double> table(produced.size() * consumed.size());
      for (auto [i, source] : llvm::enumerate(produced)) {
        // The gradient comes back complete where the value was partial.
        TensorSharding gradient = source;
        for (int &dim : gradient.axisDim)
          if (dim == TensorSharding::kPartial)
            dim = TensorSharding::kReplicated;
        for (auto [j, target] : llvm::enumerate(consumed)) {
          double seconds = reshardSeconds(source, target, operand.bytes, mesh);
          if (backward)
            seconds += reshardSeconds(target, gradient, operand.bytes, mesh);
          table[i * consumed.size() + j] = seconds;
        }
      }
      std::vector<double> costs;
      costs.reserve(fromIndex.size() * toIndex.size());
      for (unsigned i : fromIndex)
        for (unsigned j : toIndex)
          costs.push_back(table[i * consumed.size() + j]);
      graph.addEdge(producer, index, std::move(costs));
    }
  return graph;
}

void Planner::evaluate(MeshPlan &plan) {
  PlanMetrics metrics;
  metrics.gpus = plan.mesh.getNumDevices();
  metrics.batch = workload.getBatchSize();
  plan.edgeSeconds.assign(plan.nodes.size(), 0);
  for (auto [index, node] : llvm::enumerate(plan.nodes)) {
    unsigned s = plan.choice[index];
    metrics.computeSeconds += node.compute[s];
    metrics.commSeconds += node.sync[s];
    metrics.memoryPerGpu += node.memory[s];
  }
  for (const CostGraph::Edge &edge : plan.graph.getEdges()) {
    double seconds =
        edge.costs[plan.choice[edge.from] *
                       plan.graph.getNumCandidates(edge.to) +
                   plan.choice[edge.to]];
    metrics.commSeconds += seconds;
    plan.edgeSeconds[edge.to] += seconds;
  }
  plan.metrics = metrics;
  plan.fitsMemory =
      metrics.memoryPerGpu <=
      static_cast<double>(costModel.getTarget().getGpu().getMemoryCapacity());
  plan.energyPerSample = energyPerSample(metrics);
}

double Planner::energyPerSample(const PlanMetrics &metrics) const {
  double joules = costModel.energy(metrics.gpus, metrics.stepSeconds(),
                                   metrics.computeSeconds);
  return joules / static_cast<double>(std::max<int64_t>(metrics.batch, 1));
}

/// The most labellings `exhaustive=true` enumerates.
static constexpr uint64_t kExhaustiveLimit = 1ull << 26;

FailureOr<MeshPlan> Planner::planOnMesh(const MeshShape &mesh) {
  MeshPlan plan;
  plan.mesh = mesh;
  if (failed(buildNodes(mesh, plan.nodes, options.dataParallelOnly)))
    return failure();
  SolverOptions solverOptions;
  plan.graph = buildGraph(mesh, plan.nodes);
  if (options.exhaustive) {
    uint64_t labellings = countLabellings(plan.graph);
    if (labellings > kExhaustiveLimit) {
      InFlightDiagnostic diag =
          mlir::emitError(workload.getFunction().getLoc())
          << "autopar: exhaustive=true is for small graphs: mesh "
          << mesh.str() << " has ";
      if (labellings == UINT64_MAX)
        diag << "more than 2^64";
      else
        diag << labellings;
      return diag << " labellings, more than the limit of "
                  << kExhaustiveLimit;
    }
  }
  // For energy, a second of communication weighs what an idle GPU burns
  // against a busy one; for time and efficiency every second counts alike.
  double commWeight = options.objective == Objective::Energy
                          ? costModel.getCommEnergyWeight()
                          : 1.0;
  auto solveWith = [&](double lambda) {
    // The graph as built is the time objective; copy it only to reweigh.
    std::optional<CostGraph> weighted;
    if (lambda > 0 || commWeight != 1.0) {
      weighted = plan.graph;
      weighted->scaleEdges(commWeight);
      for (auto [index, node] : llvm::enumerate(plan.nodes)) {
        std::vector<double> unary(node.strategies.size());
        for (size_t s = 0; s < unary.size(); ++s)
          unary[s] = node.compute[s] + commWeight * node.sync[s] +
                     lambda * node.memory[s];
        weighted->setUnary(index, std::move(unary));
      }
    }
    const CostGraph &graph = weighted ? *weighted : plan.graph;
    plan.solution = options.exhaustive ? solveExhaustive(graph)
                                       : solve(graph, solverOptions);
    plan.choice = plan.solution.choice;
    evaluate(plan);
  };
  solveWith(0);
  if (plan.fitsMemory)
    return plan;
  // Trade time for memory: weigh memory by lambda (seconds per byte), the
  // smallest weight (by bisection) whose plan fits.
  double capacity =
      static_cast<double>(costModel.getTarget().getGpu().getMemoryCapacity());
  double high = plan.metrics.stepSeconds() / capacity;
  // Is the limit reachable at all? At a huge weight memory dominates and
  // the plan is the leanest one; if that does not fit, report it.
  solveWith(high * 1e12);
  if (!plan.fitsMemory)
    return plan;
  MeshPlan best = plan;
  double low = 0;
  for (int step = 0; step < 20; ++step, low = high, high *= 4) {
    solveWith(high);
    if (plan.fitsMemory) {
      best = plan;
      break;
    }
  }
  for (int step = 0; step < 20; ++step) {
    double middle = (low + high) / 2;
    solveWith(middle);
    if (plan.fitsMemory) {
      high = middle;
      best = plan;
    } else {
      low = middle;
    }
  }
  return best;
}

int mlir::autopar::getBatchLoop(const OpSpace &space) {
  if (space.results.empty() || space.results.front().dimLoop.empty())
    return -1;
  int loop = space.results.front().dimLoop.front();
  return loop >= 0 && !space.reduction[loop] ? loop : -1;
}

FailureOr<MeshPlan> Planner::dataParallelOnMesh(const MeshShape &mesh) {
  MeshPlan plan;
  plan.mesh = mesh;
  // One strategy per node: the batch split, the pin, or replication.
  if (failed(buildNodes(mesh, plan.nodes, /*dataParallelOnly=*/true)))
    return failure();
  plan.choice.assign(plan.nodes.size(), 0);
  plan.graph = buildGraph(mesh, plan.nodes);
  evaluate(plan);
  return plan;
}

std::vector<std::optional<std::pair<unsigned, double>>>
Planner::nextBest(const MeshPlan &plan) const {
  // Each node's cost for each of its strategies, the neighbours fixed.
  const CostGraph &graph = plan.graph;
  std::vector<std::vector<double>> cost = graph.getUnary();
  for (const CostGraph::Edge &edge : graph.getEdges()) {
    unsigned toSize = graph.getNumCandidates(edge.to);
    for (size_t s = 0; s < cost[edge.from].size(); ++s)
      cost[edge.from][s] += edge.costs[s * toSize + plan.choice[edge.to]];
    for (size_t s = 0; s < toSize; ++s)
      cost[edge.to][s] += edge.costs[plan.choice[edge.from] * toSize + s];
  }
  std::vector<std::optional<std::pair<unsigned, double>>> result(cost.size());
  for (auto [index, costs] : llvm::enumerate(cost))
    for (size_t s = 0; s < costs.size(); ++s)
      if (s != plan.choice[index] &&
          (!result[index] || costs[s] < result[index]->second))
        result[index] = {static_cast<unsigned>(s), costs[s]};
  return result;
}

CommunicationSummary
Planner::forwardCommunication(const MeshPlan &plan) const {
  CommunicationTally tally(plan.mesh, &costModel);
  // Arguments take their first consumer's layout (as autopar-plan
  // annotates them).
  for (auto [index, node] : llvm::enumerate(plan.nodes))
    for (const Binding &operand : node.space.operands)
      if (isa<BlockArgument>(operand.value) && !tally.lookup(operand.value))
        tally.produce(operand.value,
                      getSharding(node.space, operand,
                                  node.strategies[plan.choice[index]], false));
  llvm::DenseMap<Value, double> resultBytes;
  for (auto [index, node] : llvm::enumerate(plan.nodes)) {
    const Strategy &strategy = node.strategies[plan.choice[index]];
    // Values that are not nodes (constants, empty tensors) are never
    // produced: they are made locally.
    for (const Binding &operand : node.space.operands)
      tally.require(operand.value,
                    getSharding(node.space, operand, strategy, false),
                    operand.bytes);
    // Tensors read inside the op's body (tables) are read whole.
    SetVector<Value> captured;
    getUsedValuesDefinedAbove(node.space.op->getRegions(), captured);
    for (Value value : captured) {
      auto type = dyn_cast<RankedTensorType>(value.getType());
      if (!type)
        continue;
      TensorSharding whole;
      whole.axisDim.assign(plan.mesh.getRank(), TensorSharding::kReplicated);
      tally.require(value, whole,
                    static_cast<double>(type.getNumElements()) *
                        ((type.getElementTypeBitWidth() + 7) / 8));
    }
    for (const Binding &binding : node.space.results) {
      tally.produce(binding.value,
                    getSharding(node.space, binding, strategy, true));
      resultBytes[binding.value] = binding.bytes;
    }
  }
  // What the function returns leaves complete.
  for (Value value : returned) {
    const TensorSharding *produced = tally.lookup(value);
    if (!produced)
      continue;
    TensorSharding complete = *produced;
    for (int &dim : complete.axisDim)
      if (dim == TensorSharding::kPartial)
        dim = TensorSharding::kReplicated;
    tally.require(value, complete, resultBytes.lookup(value));
  }
  return tally.getSummary();
}
