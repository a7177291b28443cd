//===- Planner.cpp - choosing the mesh and every op's strategy ------------===//

#include "autopar/Search/Planner.h"
#include "autopar/Cost/Overlap.h"
#include "autopar/Dialect/AutoparOps.h"
#include "autopar/Search/Communication.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/Transforms/RegionUtils.h"
#include "llvm/ADT/Hashing.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/ADT/bit.h"

#include <cmath>
#include <limits>
#include <map>

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
      // A constant fill is made where needed in the layout each user needs
      // (autopar-partition): it feeds no edge.
      madeFromScalar.push_back(isMadeFromScalar(&op));
      if (!madeFromScalar.back())
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
  batchLoops = getBatchLoops(workload.getRoles(), spaces);
  computeSegments();
  // Each constant fill's first user, which it is made for.
  fillUser.assign(spaces.size(), {-1, -1});
  DenseMap<Value, std::pair<int64_t, int64_t>> firstUse;
  for (auto [index, space] : llvm::enumerate(spaces))
    for (auto [operand, binding] : llvm::enumerate(space.operands))
      firstUse.try_emplace(binding.value, index, operand);
  for (auto [index, space] : llvm::enumerate(spaces))
    if (madeFromScalar[index] && !space.results.empty())
      if (auto use = firstUse.find(space.results.front().value);
          use != firstUse.end())
        fillUser[index] = use->second;
  computeRepetition();
  if (pinnedMesh && !options.mesh.empty() &&
      ArrayRef<int64_t>(options.mesh) != ArrayRef<int64_t>(pinnedMesh->first.sizes))
    return mlir::emitError(func.getLoc()) << "autopar: mesh=" << [&] {
      std::string text;
      for (auto [i, size] : llvm::enumerate(options.mesh))
        text += (i ? "x" : "") + std::to_string(size);
      return text;
    }() << " contradicts the pins, which use mesh "
        << pinnedMesh->second << " (" << pinnedMesh->first.str() << ")";
  // Pinned microbatches that divide the batch but not an op's batch loop:
  // the samples reach that op grouped (a reshape made groups of them one
  // row, or a sequence), and a microbatch would cut a group. (A batch they
  // do not divide is the caller's error to give.)
  int64_t batch = workload.getBatchSize();
  if (options.microbatches && *options.microbatches > 1 && batch > 0 &&
      batch % *options.microbatches == 0)
    for (auto [index, space] : llvm::enumerate(spaces)) {
      int loop = batchLoops[index];
      if (loop < 0 || space.loopSizes[loop] % *options.microbatches == 0)
        continue;
      return space.op->emitError()
             << "autopar: microbatches=" << *options.microbatches
             << " cannot split this op: the batch of " << batch
             << " samples reaches it as a loop of " << space.loopSizes[loop]
             << " (the samples grouped, as a reshape into sequences groups "
                "them), which "
             << *options.microbatches
             << " microbatches would cut through; choose a count that "
                "divides "
             << space.loopSizes[loop];
    }
  return success();
}

/// A mesh of `sizes`, its axes named for what they span.
static MeshShape makeMesh(SmallVector<int64_t, 2> sizes, int64_t gpusPerNode) {
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
}

SmallVector<MeshShape> Planner::getCandidateMeshes() const {
  TargetAttr target = costModel.getTarget();
  int64_t gpusPerNode = target.getGpusPerNode();
  SmallVector<MeshShape> meshes;
  if (pinnedMesh) {
    MeshShape mesh = pinnedMesh->first;
    mesh.gpusPerNode = gpusPerNode;
    meshes.push_back(mesh);
    return meshes;
  }
  if (!options.mesh.empty()) {
    meshes.push_back(makeMesh(
        SmallVector<int64_t, 2>(options.mesh.begin(), options.mesh.end()),
        gpusPerNode));
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
    llvm::append_range(meshes, getCandidateMeshes(devices));
  }
  return meshes;
}

SmallVector<MeshShape> Planner::getCandidateMeshes(int64_t devices) const {
  int64_t gpusPerNode = costModel.getTarget().getGpusPerNode();
  SmallVector<MeshShape> meshes;
  meshes.push_back(makeMesh({devices}, gpusPerNode));
  if (options.dataParallelOnly)
    return meshes;
  for (int64_t inner = 2; inner < devices; ++inner)
    if (gpusPerNode % inner == 0 && devices % inner == 0 &&
        devices / inner >= 2)
      meshes.push_back(makeMesh({devices / inner, inner}, gpusPerNode));
  return meshes;
}

LogicalResult Planner::profileOnMesh(
    const MeshShape &mesh, ArrayRef<SmallVector<StepConfig>> configSets,
    ArrayRef<double> memoryWeights,
    function_ref<void(size_t set, std::vector<std::vector<MeshPlan>> &plans)>
        consume) {
  MeshPlan plan;
  plan.mesh = mesh;
  if (failed(buildNodes(mesh, plan.nodes, options.dataParallelOnly)))
    return failure();
  double capacity =
      static_cast<double>(costModel.getTarget().getGpu().getMemoryCapacity());
  for (auto [set, configs] : llvm::enumerate(configSets)) {
    if (configs.empty())
      continue;
    std::vector<std::vector<MeshPlan>> plans;
    plan.config = configs.front();
    price(mesh, plan.nodes, plan.config, /*copies=*/false);
    // The edges are the mesh's alone: one graph (and its edge analysis)
    // for every set, whose unary costs are set before each solve.
    if (plan.graph.getNumNodes() == 0)
      plan.graph = buildGraph(mesh, plan.nodes);
    // The scale of the weights: the fastest plan's seconds per byte (from
    // the plan of weight 0 when it comes first).
    double scale = 0;
    plans.reserve(memoryWeights.size());
    std::vector<unsigned> lastSolved;
    // Each strategy's seconds, memory weighed at `perByte` seconds a byte.
    auto setUnary = [&](double perByte) {
      for (unsigned index = 0; index < plan.nodes.size(); ++index) {
        const PlanNode &node = pricedNode(plan.nodes, index);
        std::vector<double> &unary = plan.graph.getUnary(index);
        for (size_t s = 0; s < unary.size(); ++s)
          unary[s] = node.compute[s] + node.sync[s] + perByte * node.memory[s];
      }
    };
    // The prices stay configs.front()'s (copies of a repeated block's
    // nodes read their first copy's, pricedNode): every plan is solved
    // under it and only evaluated (priceStrategy) under the others.
    for (double weight : memoryWeights) {
      plan.config = configs.front();
      if (weight > 0 && scale == 0) {
        setUnary(0);
        plan.choice = solve(plan.graph, SolverOptions()).choice;
        evaluate(plan);
        scale = plan.metrics.stepSeconds() / std::max(capacity, 1.0);
      }
      setUnary(weight * scale);
      plan.solution = solve(plan.graph, SolverOptions());
      std::vector<MeshPlan> &perConfig = plans.emplace_back();
      // A weight that changes no op's strategy adds nothing: left empty.
      if (plans.size() > 1 && plan.solution.choice == lastSolved)
        continue;
      lastSolved = plan.solution.choice;
      plan.choice = plan.solution.choice;
      perConfig.reserve(configs.size());
      for (const StepConfig &config : configs) {
        plan.config = config;
        evaluate(plan);
        MeshPlan copy;
        copy.mesh = plan.mesh;
        copy.choice = plan.choice;
        copy.config = plan.config;
        copy.metrics = plan.metrics;
        copy.feasible = plan.feasible;
        copy.fitsMemory = plan.fitsMemory;
        copy.nodeCosts = plan.nodeCosts;
        perConfig.push_back(std::move(copy));
        if (weight == 0 && scale == 0 && config == configs.front())
          scale = plan.metrics.stepSeconds() / std::max(capacity, 1.0);
      }
    }
    consume(set, plans);
  }
  return success();
}

FailureOr<std::vector<PlanNode>>
Planner::getNodesOnMesh(const MeshShape &mesh) {
  std::vector<PlanNode> nodes;
  if (failed(buildNodes(mesh, nodes, options.dataParallelOnly)))
    return failure();
  return nodes;
}

std::vector<double> Planner::getCutBytes() const {
  // In the step's precision (an f32 model trained in bf16 sends half).
  return sumAcrossCuts([&](Value value, unsigned producer, unsigned result) {
    return scaleBytes(getElementTypeOrSelf(value.getType()),
                      spaces[producer].results[result].bytes);
  });
}

std::vector<double> Planner::getCutValues() const {
  return sumAcrossCuts([](Value, unsigned, unsigned) { return 1.0; });
}

std::vector<bool> Planner::getKernelCuts() const {
  DenseMap<Operation *, size_t> nodeOf;
  for (auto [index, space] : llvm::enumerate(spaces))
    nodeOf[space.op] = index;
  // Each op that runs in an earlier op's kernel marks the cuts between.
  std::vector<int> delta(spaces.size() + 1, 0);
  for (auto [index, space] : llvm::enumerate(spaces)) {
    const OpWorkload *work = workload.lookup(space.op);
    auto start =
        work && work->runsIn ? nodeOf.find(work->runsIn) : nodeOf.end();
    if (start == nodeOf.end() || start->second >= index)
      continue;
    ++delta[start->second + 1];
    --delta[index + 1];
  }
  // A cut right after a constant fill is the cut before it (the fill is
  // made at its users, wherever they run): taken there instead, so that
  // no stage ends in, or holds only, fills.
  std::vector<bool> cuts(spaces.size() + 1, false);
  int inside = 0;
  for (size_t k = 0; k <= spaces.size(); ++k) {
    inside += delta[k];
    cuts[k] =
        inside > 0 || (k > 0 && k < spaces.size() && madeFromScalar[k - 1]);
  }
  return cuts;
}

std::vector<double> Planner::sumAcrossCuts(
    function_ref<double(Value value, unsigned producer, unsigned result)>
        weight) const {
  // A value crosses every cut between its producer and its last consumer.
  std::vector<double> delta(spaces.size() + 1, 0);
  forEachLiveValue(
      [&](Value value, unsigned producer, unsigned result, unsigned last) {
        double w = weight(value, producer, result);
        delta[producer + 1] += w;
        delta[last + 1] -= w;
      });
  std::vector<double> cuts(spaces.size() + 1, 0);
  double live = 0;
  for (size_t k = 0; k <= spaces.size(); ++k) {
    live += delta[k];
    cuts[k] = k == 0 || k == spaces.size() ? 0.0 : std::max(0.0, live);
  }
  return cuts;
}

double Planner::allReduceSeconds(double bytes, unsigned axes,
                                 const MeshShape &mesh) const {
  DeviceGroup group{mesh.getGroupSize(axes), mesh.getNodesSpanned(axes)};
  return costModel.collectiveTime(CollectiveKind::AllReduce, bytes, group)
      .seconds;
}

const OpWorkload *Planner::getEpilogueThrough(const PlanNode &node,
                                              const PlanNode &producer) const {
  Operation *product = producer.space.op;
  Operation *op = node.space.op;
  // Through the view of the product's rows, to its one reader.
  if (isa<tensor::ExpandShapeOp, tensor::CollapseShapeOp>(op)) {
    if (op->getOperand(0).getDefiningOp() != product ||
        !op->getResult(0).hasOneUse())
      return nullptr;
    op = *op->getResult(0).getUsers().begin();
  }
  // Through the ops fused into their one user (a bias add fused into the
  // residual add the call takes as C), to the op in the epilogue.
  const OpWorkload *work = workload.lookup(op);
  for (unsigned depth = 0;
       work && work->fused && depth < 8 && op->getNumResults() == 1 &&
       op->getResult(0).hasOneUse();
       ++depth) {
    op = *op->getResult(0).getUsers().begin();
    work = workload.lookup(op);
  }
  return work && work->inEpilogue && work->runsIn == product ? work : nullptr;
}

double Planner::getEpilogueApartSeconds(const OpWorkload &epilogue,
                                        double shards) const {
  Type type = computeType(epilogue.elementType);
  double scale = scaleBytes(epilogue.elementType, 1.0) / shards;
  double flops = epilogue.flops / shards;
  double parallel = std::max(1.0, epilogue.parallelIterations / shards);
  double alone = costModel
                     .kernelTime(flops, epilogue.bytesAlone * scale, parallel,
                                 type, /*launches=*/1)
                     .seconds;
  double folded = costModel
                      .kernelTime(flops, epilogue.bytes() * scale, parallel,
                                  type, /*launches=*/0)
                      .seconds;
  return std::max(0.0, alone - folded);
}

bool Planner::combinesPartials(const TensorSharding &from,
                               const TensorSharding &to) {
  for (auto [made, read] : llvm::zip(from.axisDim, to.axisDim))
    if (made == TensorSharding::kPartial && read != TensorSharding::kPartial)
      return true;
  return false;
}

double Planner::getEdgeEpilogueApartSeconds(const MeshPlan &plan, unsigned from,
                                            unsigned to) const {
  const PlanNode &producer = plan.nodes[from], &node = plan.nodes[to];
  const OpWorkload *epilogue = getEpilogueThrough(node, producer);
  if (!epilogue)
    return 0;
  const Strategy &made = producer.strategies[plan.choice[from]];
  const Strategy &used = node.strategies[plan.choice[to]];
  for (const Binding &operand : node.space.operands) {
    auto it = producers.find(operand.value);
    if (it == producers.end() || it->second.first != from)
      continue;
    const Binding &result = producer.space.results[it->second.second];
    TensorSharding read = getSharding(node.space, operand, used, false);
    if (combinesPartials(getSharding(producer.space, result, made, true), read))
      return getEpilogueApartSeconds(
          *epilogue, static_cast<double>(getShardCount(read, plan.mesh)));
  }
  return 0;
}

double Planner::reshardSeconds(const TensorSharding &from,
                               const TensorSharding &to, double bytes,
                               const MeshShape &mesh) const {
  double seconds = 0;
  for (const ReshardStep &step : planResharding(from, to, bytes, mesh))
    seconds += getReshardStepSeconds(step, mesh, costModel);
  return seconds;
}

std::string StepConfig::str() const {
  std::string text = "zero " + std::to_string(zero) + ", recompute " +
                     stringifyRecompute(recompute).str() + ", " +
                     std::to_string(microbatches) + " microbatch";
  if (microbatches != 1)
    text += "es";
  return text;
}

Type Planner::computeType(Type type) const {
  auto floatType = dyn_cast_or_null<FloatType>(type);
  if (!floatType || floatType.getWidth() <= 16)
    return type;
  if (options.precision == Precision::BF16)
    return BFloat16Type::get(type.getContext());
  if (options.precision == Precision::FP16)
    return Float16Type::get(type.getContext());
  return type;
}

double Planner::getAccumulatorScale(Type type) const {
  auto floatType = dyn_cast_or_null<FloatType>(type);
  if (!floatType || floatType.getWidth() <= 32 ||
      !isMixedPrecision(options.precision))
    return 1.0;
  return 32.0 / floatType.getWidth();
}

double Planner::scaleBytes(Type type, double bytes) const {
  auto floatType = dyn_cast_or_null<FloatType>(type);
  if (!floatType || floatType.getWidth() <= 16 ||
      !isMixedPrecision(options.precision))
    return bytes;
  return bytes * 16.0 / floatType.getWidth();
}

void Planner::forEachLiveValue(
    function_ref<void(Value value, unsigned producer, unsigned result,
                      unsigned last)>
        fn) const {
  DenseMap<Value, unsigned> lastUse;
  for (auto [index, space] : llvm::enumerate(spaces))
    for (const Binding &operand : space.operands)
      if (producers.count(operand.value))
        lastUse[operand.value] = index;
  for (auto [index, space] : llvm::enumerate(spaces))
    for (auto [result, binding] : llvm::enumerate(space.results)) {
      auto it = lastUse.find(binding.value);
      if (it != lastUse.end() && it->second > index)
        fn(binding.value, index, result, it->second);
    }
}

void Planner::computeSegments() {
  // Full recomputation keeps the values that alone cross a point of the
  // forward (every later op depends on earlier ones only through them):
  // a transformer's residual stream between sublayers, a ResNet's block
  // outputs. Count, for each boundary between consecutive nodes, the
  // activations live across it (produced before, used after); a boundary
  // crossed by exactly one is a cut. An XOR of value ids names it.
  unsigned count = spaces.size();
  std::vector<int> live(count + 1, 0);
  std::vector<uint64_t> ids(count + 1, 0);
  forEachLiveValue(
      [&](Value value, unsigned producer, unsigned result, unsigned last) {
        if (workload.getRoles().isParameter(value))
          return;
        uint64_t id = (static_cast<uint64_t>(producer) << 16 | result) + 1;
        live[producer] += 1;
        live[last] -= 1;
        ids[producer] ^= id;
        ids[last] ^= id;
      });
  segmentOf.assign(count, 0);
  checkpointResult.clear();
  int crossing = 0;
  uint64_t crossingIds = 0;
  unsigned segment = 0;
  for (unsigned index = 0; index < count; ++index) {
    segmentOf[index] = segment;
    crossing += live[index];
    crossingIds ^= ids[index];
    if (crossing == 1 && index + 1 < count) {
      uint64_t id = crossingIds - 1;
      checkpointResult[static_cast<unsigned>(id >> 16)] =
          static_cast<unsigned>(id & 0xffff);
      ++segment;
    }
  }
  numSegments = segment + 1;
  cheapToRecompute.assign(count, false);
  for (auto [index, space] : llvm::enumerate(spaces))
    if (const OpWorkload *work = workload.lookup(space.op))
      cheapToRecompute[index] = costModel.isCheapToRecompute(
          work->flops, scaleBytes(work->elementType, work->savedBytes),
          computeType(work->elementType));
}

void Planner::computeRepetition() {
  repetition = {};
  unsigned count = spaces.size();
  representative.resize(count);
  for (unsigned index = 0; index < count; ++index)
    representative[index] = index;
  // Pins make their ops unlike the others.
  if (pinnedMesh || count < 3)
    return;
  // A node's signature: everything its strategies and costs are made of.
  // Values made by nodes are named by their distance back to the producer.
  DenseMap<Operation *, unsigned> nodeOf;
  for (auto [index, space] : llvm::enumerate(spaces))
    nodeOf[space.op] = index;
  const ArgumentRoles &roles = workload.getRoles();
  std::vector<uint64_t> signatures(count);
  for (auto [index, space] : llvm::enumerate(spaces)) {
    Operation *op = space.op;
    auto checkpoint = checkpointResult.find(index);
    llvm::hash_code hash = llvm::hash_combine(
        op->getName().getAsOpaquePointer(),
        op->getAttrDictionary().getAsOpaquePointer(), space.understood,
        static_cast<bool>(madeFromScalar[index]),
        static_cast<bool>(cheapToRecompute[index]),
        checkpoint == checkpointResult.end() ? 0u : checkpoint->second + 1);
    for (Type type : op->getOperandTypes())
      hash = llvm::hash_combine(hash, type.getAsOpaquePointer());
    for (Type type : op->getResultTypes())
      hash = llvm::hash_combine(hash, type.getAsOpaquePointer());
    // The workload, which fusion makes depend on the neighbours (a user
    // reads a fused producer's inputs).
    if (const OpWorkload *work = workload.lookup(op))
      hash = llvm::hash_combine(
          hash, work->fused, llvm::bit_cast<uint64_t>(work->launches()),
          llvm::bit_cast<uint64_t>(work->bwdLaunches()),
          work->bwdDataInRowKernel,
          llvm::bit_cast<uint64_t>(work->bwdWeightBytes),
          llvm::bit_cast<uint64_t>(work->bwdBytesAlone),
          llvm::bit_cast<uint64_t>(work->bwdRowKernelRows),
          llvm::bit_cast<uint64_t>(work->bytes()),
          llvm::bit_cast<uint64_t>(work->bwdBytes),
          llvm::bit_cast<uint64_t>(work->flops),
          llvm::bit_cast<uint64_t>(work->savedBytes));
    for (const Binding &operand : space.operands) {
      Value value = operand.value;
      auto owner = paramOwner.find(value);
      hash = llvm::hash_combine(
          hash, roles.isParameter(value), workload.requiresGradient(value),
          owner != paramOwner.end() && owner->second == index);
      if (auto it = producers.find(value); it != producers.end()) {
        hash = llvm::hash_combine(hash, 1, index - it->second.first,
                                  it->second.second);
      } else if (Operation *def = value.getDefiningOp()) {
        auto node = nodeOf.find(def);
        hash = llvm::hash_combine(hash, 2, def->getName().getAsOpaquePointer(),
                                  node == nodeOf.end()
                                      ? -1
                                      : static_cast<int64_t>(index) -
                                            static_cast<int64_t>(node->second),
                                  cast<OpResult>(value).getResultNumber());
      } else {
        hash = llvm::hash_combine(hash, 3);
      }
    }
    for (const Binding &result : space.results)
      hash =
          llvm::hash_combine(hash, llvm::is_contained(returned, result.value));
    signatures[index] = static_cast<uint64_t>(static_cast<size_t>(hash));
  }
  // Candidate periods: the distances back to the last node of the same
  // signature, the most frequent first.
  DenseMap<uint64_t, unsigned> lastSeen;
  std::map<unsigned, unsigned> frequency;
  for (unsigned index = 0; index < count; ++index) {
    auto [it, inserted] = lastSeen.try_emplace(signatures[index], index);
    if (!inserted) {
      ++frequency[index - it->second];
      it->second = index;
    }
  }
  std::vector<std::pair<unsigned, unsigned>> periods(frequency.begin(),
                                                     frequency.end());
  llvm::stable_sort(periods,
                    [](auto a, auto b) { return a.second > b.second; });
  if (periods.size() > 8)
    periods.resize(8);
  // The longest periodic stretch [first, last) of each candidate; the one
  // covering the most nodes in whole copies wins, ties to the shorter.
  unsigned bestLength = 0, bestFirst = 0, bestEnd = 0, bestCover = 0;
  for (auto [length, frequencyOf] : periods) {
    unsigned runStart = 0;
    for (unsigned index = 0; index + length <= count; ++index) {
      bool same = index + length < count &&
                  signatures[index] == signatures[index + length];
      if (same)
        continue;
      // Nodes [runStart, index + length) repeat with this period.
      unsigned end = index + length;
      unsigned cover = (end - runStart) / length * length;
      if (cover > bestCover || (cover == bestCover && length < bestLength)) {
        bestCover = cover;
        bestLength = length;
        bestFirst = runStart;
        bestEnd = end;
      }
      runStart = index + 1;
    }
  }
  if (bestLength == 0 || bestCover / bestLength < 3)
    return;
  // Copies begin where the fewest values cross (a residual stream). Of
  // several such places, the one where the ops before the first copy do
  // the closest to a whole number of copies' forward work: pipeline
  // stages of whole copies then balance (a GPT whose first block runs the
  // fused embeddings differs from the others in its first half; its copies
  // start at the second block, not at its first block's second half).
  std::vector<double> live =
      sumAcrossCuts([](Value, unsigned, unsigned) { return 1.0; });
  std::vector<double> workBefore(count + 1, 0);
  for (unsigned index = 0; index < count; ++index) {
    const OpWorkload *work = workload.lookup(spaces[index].op);
    workBefore[index + 1] = workBefore[index] + (work ? work->flops : 0.0);
  }
  auto misfit = [&](unsigned first) {
    double copy = workBefore[first + bestLength] - workBefore[first];
    if (copy <= 0)
      return 0.0;
    double copiesBefore = workBefore[first] / copy;
    return std::abs(copiesBefore - std::round(copiesBefore));
  };
  unsigned start = bestFirst;
  for (unsigned phase = 1; phase < bestLength; ++phase) {
    unsigned first = bestFirst + phase;
    if (live[first] < live[start] ||
        (live[first] == live[start] && misfit(first) < misfit(start) - 1e-3))
      start = first;
  }
  unsigned copies = (bestEnd - start) / bestLength;
  if (copies < 3)
    return;
  repetition = {start, bestLength, copies};
  if (!options.reuseBlocks)
    return;
  for (unsigned index = start + bestLength; index < start + copies * bestLength;
       ++index)
    representative[index] = start + (index - start) % bestLength;
}

bool Planner::recomputes(unsigned index, Recompute recompute) const {
  switch (recompute) {
  case Recompute::None:
    return false;
  case Recompute::Selective:
    return cheapToRecompute[index];
  case Recompute::Full:
    return true;
  }
  return false;
}

/// Bytes of one element of `type` as the model stores it.
static unsigned getElementBytes(Type type) {
  return std::max(1u, (type.getIntOrFloatBitWidth() + 7) / 8);
}

/// Seconds added to a strategy that cannot run with the configuration's
/// microbatches (its batch split does not divide a microbatch): no plan
/// that chooses it is feasible.
static constexpr double kInfeasible = 1e6;

Planner::Priced Planner::priceStrategy(const MeshShape &mesh,
                                       const PlanNode &node, unsigned index,
                                       const StrategyWork &work,
                                       const StepConfig &config) const {
  Priced priced;
  double m = static_cast<double>(config.microbatches);
  Type type = computeType(node.work ? node.work->elementType : Type());
  // A 16-bit 2-D convolution runs at the TF32 rate on the CUDA backend
  // (CostModel::getConvolutionComputeType).
  if (node.work && node.work->convolution)
    type = CostModel::getConvolutionComputeType(type);
  // Each microbatch runs every kernel on 1/M of the work, an op with
  // bounded internal buffers once per block of its microbatch.
  double blocks = work.getBlocks(m);
  auto kernel = [&](const StrategyWork::Kernel &k, Type kernelType) {
    if (k.flops <= 0 && k.bytes <= 0)
      return 0.0;
    return m * costModel
                   .kernelTime(k.flops / m, k.bytes / m,
                               std::max(1.0, k.parallel / m), kernelType,
                               k.launches * blocks)
                   .seconds;
  };
  // A microbatch's share of a row kernel's rows may be too few for one
  // (Analysis/Fusion.h): its members then run as kernels of their own; so
  // does a GELU or ReLU epilogue whose sum or mask recomputation makes
  // again.
  bool alone =
      (work.rowKernelRows > 0 &&
       work.rowKernelRows / m < static_cast<double>(kRowKernelMinRows)) ||
      (work.keepsAux && config.recompute != Recompute::None);
  priced.forward = kernel(alone ? work.forwardAlone : work.forward, type);
  // So does a backward that runs in a row kernel's backward.
  bool backwardAlone =
      work.bwdRowKernelRows > 0 &&
      work.bwdRowKernelRows / m < static_cast<double>(kRowKernelMinRows);
  priced.compute =
      priced.forward +
      kernel(backwardAlone ? work.backwardDataAlone : work.backwardData, type) +
      kernel(backwardAlone ? work.backwardWeightAlone : work.backwardWeight,
             type);
  if (recomputes(index, config.recompute)) {
    priced.recompute = priced.forward;
    priced.compute += priced.forward;
  }
  if (work.batchExtent > 0 &&
      work.batchExtent % (config.microbatches * work.batchSplit) != 0)
    priced.compute += kInfeasible;
  for (auto [bytes, axes] : work.allReduces)
    priced.sync += m * allReduceSeconds(bytes / m, axes, mesh);

  bool mixed = isMixedPrecision(options.precision);
  auto [updateFlops, updateBytes] = getOptimizerUpdateCost(options.optimizer);
  for (const StrategyWork::Param &param : work.params) {
    DeviceGroup group{mesh.getGroupSize(param.axes),
                      mesh.getNodesSpanned(param.axes)};
    unsigned zero = param.axes ? config.zero : 0;
    unsigned elementBytes = getElementBytes(param.elementType);
    ParameterStateBytes perElement = getParameterStateBytes(
        options.precision, elementBytes, options.optimizer, zero,
        static_cast<double>(group.size));
    priced.state.params += perElement.params * param.elements;
    priced.state.gradients += perElement.gradients * param.elements;
    priced.state.master += perElement.master * param.elements;
    priced.state.optimizer += perElement.optimizer * param.elements;
    // The gradient (and, sharded, the parameter) moves in the working
    // precision.
    double bytes =
        param.elements * getWorkingBytes(options.precision, elementBytes);
    auto collective = [&](CollectiveKind kind) {
      return costModel.collectiveTime(kind, bytes, group).seconds;
    };
    double syncBefore = priced.sync;
    if (param.axes) {
      priced.syncedBytes += bytes;
      priced.syncGroup =
          std::max(priced.syncGroup, static_cast<double>(group.size));
      // The gradient's reduction, which overlaps the backward.
      double reduce = collective(zero == 0 ? CollectiveKind::AllReduce
                                           : CollectiveKind::ReduceScatter);
      priced.gradientReduce += reduce;
      priced.gradientReduceBytes += bytes;
      switch (zero) {
      case 0: // All-reduce the accumulated gradient once.
        priced.sync += reduce;
        break;
      case 1: // Reduce-scatter it once, all-gather the updated shards.
        priced.sync += reduce + collective(CollectiveKind::AllGather);
        break;
      case 2: // Each microbatch reduce-scatters into the gradient shard.
        priced.sync += m * reduce + collective(CollectiveKind::AllGather);
        break;
      default: { // Each microbatch gathers the parameter for the forward
                 // and the backward and reduce-scatters its gradient.
        double gather = collective(CollectiveKind::AllGather);
        priced.paramGather += gather;
        priced.paramGatherBytes += bytes;
        priced.sync += m * (reduce + 2 * gather);
        break;
      }
      }
    }
    priced.paramSync += priced.sync - syncBefore;
    // The update runs on this GPU's shard, in the master precision.
    double shard = zero >= 1 ? static_cast<double>(group.size) : 1.0;
    double elements = param.elements / shard;
    Type master = mixed ? Float32Type::get(param.elementType.getContext())
                        : param.elementType;
    double update =
        costModel
            .kernelTime(
                updateFlops * elements,
                updateBytes * elements * (mixed ? 4.0 : elementBytes), elements,
                master,
                getOptimizerUpdateLaunches(options.optimizer, param.rank))
            .seconds;
    priced.compute += update;
    priced.update += update;
  }
  // Activations kept for the backward, per microbatch.
  if (config.recompute == Recompute::Full)
    priced.activations =
        checkpointResult.count(index) ? work.resultBytes / m : 0.0;
  else if (!recomputes(index, config.recompute))
    priced.activations = work.savedBytes / m;
  // A constant fill is made at its users, in their layout: its write is
  // theirs (as a GEMM's beta = 0), not a kernel of its own.
  if (node.madeFromScalar)
    priced.compute = priced.sync = priced.forward = priced.recompute =
        priced.update = priced.paramSync = priced.gradientReduce =
            priced.gradientReduceBytes = priced.paramGather =
                priced.paramGatherBytes = 0;
  return priced;
}

void Planner::price(const MeshShape &mesh, std::vector<PlanNode> &nodes,
                    const StepConfig &config, bool copies) const {
  for (auto [index, node] : llvm::enumerate(nodes)) {
    if (unsigned original = representative[index]; original != index) {
      if (!copies)
        continue;
      const PlanNode &same = nodes[original];
      node.compute = same.compute;
      node.sync = same.sync;
      node.memory = same.memory;
      node.peakMemory = same.peakMemory;
      node.forward = same.forward;
      continue;
    }
    size_t count = node.strategies.size();
    node.compute.assign(count, 0);
    node.sync.assign(count, 0);
    node.memory.assign(count, 0);
    node.peakMemory.assign(count, 0);
    node.forward.assign(count, 0);
    for (size_t s = 0; s < count; ++s) {
      Priced priced = priceStrategy(mesh, node, index, node.works[s], config);
      node.compute[s] = priced.compute;
      node.sync[s] = priced.sync;
      node.forward[s] = priced.forward;
      node.memory[s] = priced.state.total() + priced.activations;
      // Summed although the peak takes the largest: the strategy's working
      // set and what recomputation makes again of its segment.
      const StrategyWork &work = node.works[s];
      double m = static_cast<double>(config.microbatches);
      node.peakMemory[s] =
          node.memory[s] + work.getWorkingBytes(m) +
          (recomputes(index, config.recompute) ? work.savedBytes / m : 0.0);
      // A strategy the microbatches make impossible is never the leanest.
      if (priced.compute >= kInfeasible) {
        node.memory[s] += kInfeasible * 1e12;
        node.peakMemory[s] += kInfeasible * 1e12;
      }
    }
  }
}

SmallVector<StepConfig> Planner::getCandidateConfigs() const {
  // The WAP paper's space (parallelism=data) is plain data parallelism:
  // one batch, every activation kept, gradients all-reduced, unless pinned.
  bool paper = options.dataParallelOnly;
  SmallVector<unsigned> zeros;
  if (options.zero)
    zeros.push_back(*options.zero);
  else if (paper)
    zeros = {0};
  else
    zeros = {0, 1, 2, 3};
  SmallVector<Recompute> recomputes;
  if (options.recompute)
    recomputes.push_back(*options.recompute);
  else if (paper)
    recomputes = {Recompute::None};
  else
    recomputes = {Recompute::None, Recompute::Selective, Recompute::Full};
  SmallVector<int64_t> counts;
  int64_t batch = std::max<int64_t>(1, workload.getBatchSize());
  if (options.microbatches)
    counts.push_back(*options.microbatches);
  else if (paper)
    counts.push_back(1);
  else
    for (int64_t m = 1; m <= batch; m *= 2)
      if (batch % m == 0)
        counts.push_back(m);
  SmallVector<StepConfig> configs;
  for (int64_t m : counts)
    for (Recompute recompute : recomputes)
      for (unsigned zero : zeros)
        configs.push_back({zero, recompute, m});
  return configs;
}

LogicalResult Planner::buildNodes(const MeshShape &mesh,
                                  std::vector<PlanNode> &nodes,
                                  bool dataParallelOnly) {
  nodes.clear();
  nodes.reserve(spaces.size());
  for (auto [index, space] : llvm::enumerate(spaces)) {
    PlanNode node;
    node.space = space;
    node.madeFromScalar = madeFromScalar[index];
    node.work = workload.lookup(space.op);
    // A copy of an earlier node has its strategies and their work.
    if (unsigned original = representative[index]; original != index) {
      node.strategies = nodes[original].strategies;
      node.works = nodes[original].works;
      nodes.push_back(std::move(node));
      continue;
    }
    node.strategies = enumerateStrategies(space, mesh);
    if (dataParallelOnly && !space.pinned) {
      // The paper's space: split along the batch on every axis, or
      // replicate when the op cannot be split so.
      int batchLoop = batchLoops[index];
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
      int batchLoop = batchLoops[index];
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
      int batchLoop = batchLoops[index];
      SmallVector<Strategy> tensorParallel;
      for (const Strategy &strategy : node.strategies)
        if ((batchLoop < 0 || !llvm::is_contained(strategy, batchLoop)) &&
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
    int batchLoop = batchLoops[index];
    for (const Strategy &strategy : node.strategies) {
      StrategyWork work;
      int64_t all = 1, parallel = 1;
      for (auto [axis, loop] : llvm::enumerate(strategy))
        if (loop >= 0) {
          all *= mesh.sizes[axis];
          if (!space.reduction[loop])
            parallel *= mesh.sizes[axis];
          if (loop == batchLoop)
            work.batchSplit *= mesh.sizes[axis];
        }
      if (batchLoop >= 0)
        work.batchExtent = space.loopSizes[batchLoop];
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
        Type element = getElementTypeOrSelf(binding.value.getType());
        // The working set: the results and the activation operands (in the
        // backward, their gradients); parameters are counted as state.
        bool parameter =
            !isResult && workload.getRoles().isParameter(binding.value);
        if (!parameter)
          work.workingBytes += scaleBytes(element, local);
        if (isResult)
          work.resultBytes += scaleBytes(element, local);
        if (!isResult &&
            !workload.getRoles().isParameter(binding.value)) {
          fullActivations += binding.bytes;
          localActivations += local;
        }
        return std::make_pair(sharding, local);
      };
      for (const Binding &operand : space.operands) {
        auto [sharding, local] = account(operand, false);
        Value source = operand.value;
        auto owner = paramOwner.find(source);
        bool owned = owner != paramOwner.end() && owner->second == index;
        // A gradient is a partial sum over the axes that split loops the
        // operand does not follow: all-reduce it (data parallelism's
        // gradient all-reduce, tensor parallelism's input-gradient one).
        unsigned axes = 0;
        if (workload.requiresGradient(operand.value))
          for (auto [axis, loop] : llvm::enumerate(strategy))
            if (loop >= 0 &&
                sharding.axisDim[axis] == TensorSharding::kReplicated)
              axes |= 1u << axis;
        Type element = getElementTypeOrSelf(source.getType());
        if (owned) {
          // Parameters, gradients and optimizer state live here; the
          // gradient's reduction follows the ZeRO stage.
          StrategyWork::Param param;
          param.elements =
              local / std::max(1.0, operand.bytes) *
              std::max(
                  1.0,
                  static_cast<double>(
                      cast<ShapedType>(source.getType()).getNumElements()));
          param.elementType = element;
          param.axes = axes;
          param.rank = cast<ShapedType>(source.getType()).getRank();
          work.params.push_back(param);
        } else if (axes) {
          work.allReduces.push_back({scaleBytes(element, local), axes});
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
            work.allReduces.push_back(
                {scaleBytes(getElementTypeOrSelf(result.value.getType()),
                            local),
                 axes});
        }
      }
      const OpWorkload *opWork = node.work;
      // A fused attention (cuDNN's) whose query rows this split splits
      // keeps the call on each device, its mask offset by the device's
      // first row (within its stack), the last rows the most work under a
      // causal mask; where a device's rows would cross a stack's end it
      // is built as its decomposition.
      if (opWork && opWork->decomposedAttention) {
        // The query rows' loop follows the batch loops.
        int rowLoop = cast<AttentionOpInterface>(space.op).getBatchRank();
        int64_t rowSplit = 1;
        for (unsigned axis : getAxesSplitting(strategy, rowLoop))
          rowSplit *= mesh.sizes[axis];
        if (std::optional<double> imbalance =
                opWork->getRowSplitImbalance(rowSplit))
          work.busiestShare = *imbalance;
        else
          opWork = opWork->decomposedAttention.get();
      }
      if (opWork) {
        double ratio = fullBytes > 0 ? localBytes / fullBytes : 1.0;
        double par = std::max(1.0, opWork->parallelIterations / parallel);
        double scale = scaleBytes(opWork->elementType, 1.0);
        work.forward = {opWork->flops * work.busiestShare / all,
                        opWork->bytes() * ratio * scale, par};
        // The backward's data and weight kernels, given its bytes and their
        // split.
        auto backward = [&](double bwdBytes, std::pair<double, double> split,
                            StrategyWork::Kernel &data,
                            StrategyWork::Kernel &weight) {
          auto [dataBytes, weightBytes] = split;
          if (opWork->bwdFlops() > 0) {
            if (opWork->bwdDataFlops > 0)
              data = {opWork->bwdDataFlops * work.busiestShare / all, dataBytes,
                      par};
            if (opWork->bwdWeightFlops > 0)
              weight = {opWork->bwdWeightFlops * work.busiestShare / all,
                        weightBytes, par};
          } else if (bwdBytes > 0) {
            data = {0, bwdBytes, par};
          }
        };
        double bwdBytes = opWork->bwdBytes * ratio * scale;
        backward(bwdBytes, opWork->splitBwdBytes(bwdBytes), work.backwardData,
                 work.backwardWeight);
        double activationRatio =
            fullActivations > 0 ? localActivations / fullActivations : 1.0;
        work.savedBytes = opWork->savedBytes * activationRatio * scale;
        // Internal buffers, bounded per microbatch when priced
        // (StrategyWork::getWorkingBytes, getBlocks).
        // Internal buffers are in the accumulator type (f32 under a 16-bit
        // precision): only a wider model's shrink (to f32).
        work.internalBytes = opWork->internalBytes * ratio *
                             getAccumulatorScale(opWork->elementType);
        work.internalBytesLimit = opWork->internalBytesLimit;
        work.forward.launches = opWork->launches();
        // The forward as a kernel of its own (one launch, everything read
        // from memory), for an op that may run in another's kernel.
        StrategyWork::Kernel alone = {opWork->flops * work.busiestShare / all,
                                      opWork->bytesAlone * ratio * scale, par};
        // The rows a device holds: the kernel's, split as the op's parallel
        // loops are (the rows lead them).
        if (opWork->rowKernelRows > 0) {
          work.rowKernelRows =
              opWork->rowKernelRows / static_cast<double>(parallel);
          work.forwardAlone = alone;
        }
        if (opWork->keepsAux) {
          work.keepsAux = true;
          work.forwardAlone = alone;
        }
        work.backwardData.launches = opWork->bwdDataLaunches();
        work.backwardWeight.launches = opWork->bwdWeightLaunches();
        // The backward as kernels of their own, for a share of a row
        // kernel's rows too few for one.
        if (opWork->bwdRowKernelRows > 0) {
          work.bwdRowKernelRows =
              opWork->bwdRowKernelRows / static_cast<double>(parallel);
          double alone = opWork->bwdBytesAlone * ratio * scale;
          backward(alone, opWork->splitBwdBytesByFlops(alone),
                   work.backwardDataAlone, work.backwardWeightAlone);
          work.backwardDataAlone.launches = opWork->bwdLaunches();
          work.backwardWeightAlone.launches = opWork->bwdWeightLaunches();
        }
      }
      // A constant fill's buffer is its user's output, counted there.
      if (madeFromScalar[index])
        work.workingBytes = work.savedBytes = work.internalBytes = 0;
      node.works.push_back(std::move(work));
    }
    nodes.push_back(std::move(node));
  }
  return success();
}

CostGraph Planner::buildGraph(const MeshShape &mesh,
                              const std::vector<PlanNode> &nodes) const {
  CostGraph graph;
  bool reuse = repetition.count >= 3 && options.reuseBlocks;
  if (reuse)
    graph.setRepetition(repetition);
  for (unsigned index = 0; index < nodes.size(); ++index) {
    const PlanNode &node = pricedNode(nodes, index);
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
  // The edges into the repetition's first copy, by operand: the later
  // copies' edges from within the repetition are the same.
  unsigned firstCopy = reuse ? repetition.start : 0;
  std::vector<std::vector<std::vector<double>>> copyEdges(
      reuse ? repetition.length : 0);
  for (auto [index, node] : llvm::enumerate(nodes))
    for (auto [operandIndex, operand] : llvm::enumerate(node.space.operands)) {
      auto it = producers.find(operand.value);
      if (it == producers.end())
        continue;
      auto [producer, resultIndex] = it->second;
      if (producer == index)
        continue;
      unsigned original = representative[index];
      if (original != index && producer >= firstCopy + (index - original)) {
        const std::vector<std::vector<double>> &edges =
            copyEdges[original - firstCopy];
        if (operandIndex < edges.size() && !edges[operandIndex].empty()) {
          graph.addEdge(producer, index, edges[operandIndex]);
          continue;
        }
      }
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
      // An op in the product's epilogue runs as a kernel of its own where
      // the product's sum reaches it combined (the all-reduce between).
      if (const OpWorkload *epilogue = getEpilogueThrough(node, from)) {
        std::vector<double> apart;
        for (const TensorSharding &target : consumed)
          apart.push_back(getEpilogueApartSeconds(
              *epilogue, static_cast<double>(getShardCount(target, mesh))));
        for (auto [i, source] : llvm::enumerate(produced))
          for (auto [j, target] : llvm::enumerate(consumed))
            if (combinesPartials(source, target))
              table[i * consumed.size() + j] += apart[j];
      }
      std::vector<double> costs;
      costs.reserve(fromIndex.size() * toIndex.size());
      for (unsigned i : fromIndex)
        for (unsigned j : toIndex)
          costs.push_back(table[i * consumed.size() + j]);
      if (index >= firstCopy && index - firstCopy < copyEdges.size()) {
        std::vector<std::vector<double>> &edges = copyEdges[index - firstCopy];
        edges.resize(node.space.operands.size());
        edges[operandIndex] = costs;
      }
      graph.addEdge(producer, index, std::move(costs));
    }
  return graph;
}

void Planner::evaluate(MeshPlan &plan) {
  // Constant fills cost nothing and are made where needed (no edge reaches
  // them): each takes the layout its first user reads it in, which is the
  // layout partitioning makes it in.
  for (auto [index, node] : llvm::enumerate(plan.nodes)) {
    auto [user, operand] = fillUser[index];
    if (user < 0)
      continue;
    // A copy of an earlier fill whose user chose alike chooses alike.
    unsigned original = representative[index];
    if (original != index && fillUser[original].first >= 0 &&
        plan.choice[user] == plan.choice[fillUser[original].first]) {
      plan.choice[index] = plan.choice[original];
      continue;
    }
    const Binding *binding = &plan.nodes[user].space.operands[operand];
    TensorSharding wanted =
        getSharding(plan.nodes[user].space, *binding,
                    plan.nodes[user].strategies[plan.choice[user]], false);
    for (auto [s, strategy] : llvm::enumerate(node.strategies))
      if (getSharding(node.space, node.space.results.front(), strategy, true) ==
          wanted) {
        plan.choice[index] = s;
        break;
      }
  }

  PlanMetrics metrics;
  metrics.gpus = plan.mesh.getNumDevices();
  metrics.batch = workload.getBatchSize();
  plan.edgeSeconds.assign(plan.nodes.size(), 0);
  plan.apartSeconds.assign(plan.nodes.size(), 0);
  plan.nodeCosts.assign(plan.nodes.size(), NodeCost());
  const StepConfig &config = plan.config;
  double m = static_cast<double>(config.microbatches);
  bool feasible = true;
  PlanMemory &memory = metrics.memory;
  double working = 0, gathered = 0, syncedBytes = 0, syncGroup = 1;
  // Per node: the gradients its backward makes, the activations it keeps,
  // its working set (with, under ZeRO-3, its gathered parameters).
  size_t count = plan.nodes.size();
  std::vector<double> nodeGradients(count, 0), nodeActivations(count, 0),
      nodeWorking(count, 0);
  // Per segment, what recomputation makes again before its backward: the
  // values of the ops that recompute (every op under full recomputation,
  // the ones that keep nothing under selective).
  std::vector<double> rematerialized(numSegments, 0);
  // A copy of an earlier node with the same strategy costs what it does.
  std::vector<Priced> pricedOf(count);
  for (auto [index, node] : llvm::enumerate(plan.nodes)) {
    unsigned s = plan.choice[index];
    const StrategyWork &work = node.works[s];
    unsigned original = representative[index];
    Priced &priced = pricedOf[index];
    if (original != index && plan.choice[original] == s)
      priced = pricedOf[original];
    else
      priced = priceStrategy(plan.mesh, node, index, work, config);
    feasible &= priced.compute < kInfeasible;
    metrics.computeSeconds += priced.compute;
    metrics.recomputeSeconds += priced.recompute;
    metrics.commSeconds += priced.sync;
    memory.state.params += priced.state.params;
    memory.state.gradients += priced.state.gradients;
    memory.state.master += priced.state.master;
    memory.state.optimizer += priced.state.optimizer;
    memory.activations += priced.activations;
    working = std::max(working, work.getWorkingBytes(m));
    if (recomputes(index, config.recompute))
      rematerialized[segmentOf[index]] += work.savedBytes / m;
    syncedBytes += priced.syncedBytes;
    syncGroup = std::max(syncGroup, priced.syncGroup);
    NodeCost &cost = plan.nodeCosts[index];
    cost.forward = priced.forward;
    cost.backward = priced.compute - priced.forward - priced.update;
    cost.update = priced.update;
    cost.microbatchComm = priced.sync - priced.paramSync;
    cost.stepComm = priced.paramSync;
    cost.stateBytes = priced.state.total();
    cost.activationBytes = priced.activations;
    nodeGradients[index] = priced.state.gradients;
    nodeActivations[index] = priced.activations;
    nodeWorking[index] = work.getWorkingBytes(m);
    cost.workingBytes = nodeWorking[index];
    cost.gatherBytes = priced.paramGatherBytes;
    cost.gatherSeconds = priced.paramGather;
    cost.reduceSeconds = priced.gradientReduce;
    cost.reduceBytes = priced.gradientReduceBytes;
  }
  // ZeRO-3: the parameters are gathered by units (Cost/Overlap.h), one
  // unit ahead: an op holds its unit's and the next unit's gathered
  // parameters (the forward's next, the backward's previous). The
  // backward's pair is in the op's working set (the peak below is the
  // backward's).
  if (config.zero >= 3) {
    SmallVector<size_t> gathering;
    SmallVector<double> bytes;
    for (size_t i = count; i-- > 0;)
      if (pricedOf[i].paramGatherBytes > 0) {
        gathering.push_back(i);
        bytes.push_back(pricedOf[i].paramGatherBytes);
      }
    SmallVector<unsigned> unitOf =
        getGatherUnits(bytes, options.gatherUnitBytes);
    SmallVector<double> unitBytes(unitOf.empty() ? 0 : unitOf.back() + 2, 0);
    for (auto [k, unit] : llvm::enumerate(unitOf))
      unitBytes[unit] += bytes[k];
    for (size_t u = 0; u + 1 < unitBytes.size(); ++u)
      gathered = std::max(gathered, unitBytes[u] + unitBytes[u + 1]);
    // Backward order: from its first gathering op on, a unit and the next
    // are held.
    double held = 0;
    size_t k = 0;
    for (size_t i = count; i-- > 0;) {
      if (k < gathering.size() && gathering[k] == i) {
        held = unitBytes[unitOf[k]] + unitBytes[unitOf[k] + 1];
        ++k;
      }
      nodeWorking[i] += held;
      plan.nodeCosts[i].workingBytes = nodeWorking[i];
      plan.nodeCosts[i].heldGatherBytes = held;
    }
  }
  for (size_t i = 0; i < plan.nodes.size(); ++i)
    plan.nodeCosts[i].rematerializedBytes = rematerialized[segmentOf[i]];
  // Communication behind compute (Cost/Overlap.h): ZeRO 0-1 reduce the
  // gradients once, behind the last microbatch's backward; ZeRO 2-3 reduce
  // each microbatch's behind its backward (the microbatch loop's iteration
  // waits for them before the next one starts), and ZeRO-3 gathers the
  // parameters for each forward and backward by units, one unit ahead.
  if (options.overlap) {
    std::vector<PassStep> forward, backward;
    getPassSteps(plan.nodeCosts, m, forward, backward);
    double communication = 0;
    for (const NodeCost &cost : plan.nodeCosts)
      communication += cost.reduceSeconds + 2 * cost.gatherSeconds;
    if (communication > 0) {
      double exposed = getExposedCommunication(backward, /*prefetch=*/true,
                                               kCollectiveBucketBytes,
                                               options.gatherUnitBytes);
      if (config.zero >= 3)
        exposed += getExposedCommunication(forward, /*prefetch=*/true,
                                           kCollectiveBucketBytes,
                                           options.gatherUnitBytes);
      double passes = config.zero >= 2 ? m : 1.0;
      metrics.hiddenCommSeconds =
          std::max(0.0, passes * (communication - exposed));
    }
  }
  // Recomputation re-materialises one segment at a time.
  memory.activations +=
      numSegments > 0
          ? *std::max_element(rematerialized.begin(), rematerialized.end())
          : 0.0;
  memory.transient = working + gathered;
  // The peak: the backward runs the nodes in reverse; at node i it holds
  // the gradients of nodes i.. (every gradient when microbatches
  // accumulate into them from the first), the activations nodes ..i kept
  // (and what recomputation made again for node i's segment) and node i's
  // working set. The forward holds no more than node 0's backward does.
  std::vector<double> keptUpTo(count, 0);
  for (size_t i = 0; i < count; ++i)
    keptUpTo[i] = (i > 0 ? keptUpTo[i - 1] : 0.0) + nodeActivations[i];
  double made = 0;
  for (size_t i = count; i-- > 0;) {
    made += nodeGradients[i];
    double gradients = m > 1 ? memory.state.gradients : made;
    double activations = keptUpTo[i] + rematerialized[segmentOf[i]];
    double held = gradients + activations + nodeWorking[i];
    if (memory.peakNode < 0 || held > memory.peakGradients +
                                          memory.peakActivations +
                                          memory.peakTransient) {
      memory.peakNode = static_cast<int64_t>(i);
      memory.peakGradients = gradients;
      memory.peakActivations = activations;
      memory.peakTransient = nodeWorking[i];
    }
  }
  // The synchronisation of a bucket of gradients (autopar-group-collectives
  // packs them once the bucket's last one is made): the gradients, no
  // activation, and the packed buffers: all-reduced in place without ZeRO;
  // under ZeRO-1 reduce-scattered from the pack into a 1/d share; under
  // ZeRO-2/3, whose gradient state is that share, the bucket's whole
  // gradients and their pack are held until it is scattered.
  if (syncedBytes > 0) {
    double bucket =
        std::min(syncedBytes, static_cast<double>(kCollectiveBucketBytes));
    memory.collectiveBuffers = config.zero == 0   ? bucket
                               : config.zero == 1 ? bucket * (1 + 1 / syncGroup)
                                                  : 2 * bucket;
    double atSync = memory.state.gradients + memory.collectiveBuffers;
    if (atSync >
        memory.peakGradients + memory.peakActivations + memory.peakTransient) {
      memory.peakAtSync = true;
      memory.peakGradients = memory.state.gradients;
      memory.peakActivations = memory.peakTransient = 0;
    }
  }
  metrics.memoryPerGpu = memory.total();
  for (const CostGraph::Edge &edge : plan.graph.getEdges()) {
    double seconds =
        edge.costs[plan.choice[edge.from] *
                       plan.graph.getNumCandidates(edge.to) +
                   plan.choice[edge.to]];
    // An epilogue the product's partial sum keeps apart (buildGraph) is
    // compute; the rest is communication.
    double apart = getEdgeEpilogueApartSeconds(plan, edge.from, edge.to);
    metrics.commSeconds += seconds - apart;
    metrics.computeSeconds += apart;
    plan.edgeSeconds[edge.to] += seconds - apart;
    plan.apartSeconds[edge.to] += apart;
    plan.nodeCosts[edge.to].microbatchComm += seconds - apart;
    plan.nodeCosts[edge.to].forward += apart;
  }
  plan.metrics = metrics;
  plan.feasible = feasible;
  plan.fitsMemory =
      feasible && metrics.memoryPerGpu <=
                      static_cast<double>(
                          costModel.getTarget().getGpu().getMemoryCapacity());
  plan.energyPerSample = energyPerSample(metrics);
}

double Planner::energyPerSample(const PlanMetrics &metrics) const {
  double joules = costModel.energy(metrics.gpus, metrics.stepSeconds(),
                                   metrics.computeSeconds);
  return joules / static_cast<double>(std::max<int64_t>(metrics.batch, 1));
}

/// The most labellings `exhaustive=true` enumerates.
static constexpr uint64_t kExhaustiveLimit = 1ull << 26;

FailureOr<MeshPlan> Planner::planOnMesh(const MeshShape &mesh,
                                        double incumbentSeconds) {
  MeshPlan plan;
  plan.mesh = mesh;
  if (failed(buildNodes(mesh, plan.nodes, options.dataParallelOnly)))
    return failure();
  SmallVector<StepConfig> configs = getCandidateConfigs();
  plan.config = configs.front();
  price(mesh, plan.nodes, plan.config, /*copies=*/false);
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
  // Solves the graph of the nodes as priced for `config`, memory weighed
  // by `lambda` seconds per byte: the kept state and activations, or with
  // `peak`, the working sets and recomputed segments too (PlanNode).
  auto solveWith = [&](const StepConfig &config, double lambda,
                       bool peak = false) {
    if (!(plan.config == config)) {
      plan.config = config;
      price(mesh, plan.nodes, config, /*copies=*/false);
    }
    // The energy objective reweighs edges on a copy; the plan's graph
    // keeps seconds (evaluate reads them).
    std::optional<CostGraph> weighted;
    if (commWeight != 1.0) {
      weighted = plan.graph;
      weighted->scaleEdges(commWeight);
    }
    CostGraph &graph = weighted ? *weighted : plan.graph;
    for (unsigned index = 0; index < plan.nodes.size(); ++index) {
      const PlanNode &node = pricedNode(plan.nodes, index);
      std::vector<double> &unary = graph.getUnary(index);
      for (size_t s = 0; s < unary.size(); ++s)
        unary[s] = node.compute[s] + commWeight * node.sync[s] +
                   lambda * (peak ? node.peakMemory[s] : node.memory[s]);
    }
    plan.solution = options.exhaustive ? solveExhaustive(graph)
                                       : solve(graph, solverOptions);
    plan.choice = plan.solution.choice;
  };
  struct Candidate {
    StepConfig config;
    std::vector<unsigned> choice;
    Solution solution;
    double seconds;
  };
  std::optional<Candidate> best;
  auto consider = [&] {
    evaluate(plan);
    if (!plan.fitsMemory)
      return;
    double seconds = plan.metrics.stepSeconds();
    if (!best || seconds < best->seconds * (1 - 1e-9))
      best = Candidate{plan.config, plan.choice, plan.solution, seconds};
  };

  // Trades time for memory in `config`, whose fastest plan (of
  // `fastestSeconds`) does not fit: weighs memory by lambda (seconds per
  // byte), the smallest weight (by bisection) whose plan fits.
  auto tradeForMemory = [&](const StepConfig &config, double fastestSeconds) {
    double capacity =
        static_cast<double>(costModel.getTarget().getGpu().getMemoryCapacity());
    double high = fastestSeconds / capacity;
    // Is the limit reachable at all? At a huge weight memory dominates and
    // the plan is the leanest one. Kept state and activations weighed
    // first; when that leaves a plan whose working sets do not fit, the
    // peak's proxy instead.
    bool peak = false;
    solveWith(config, high * 1e12);
    evaluate(plan);
    if (!plan.fitsMemory) {
      peak = true;
      solveWith(config, high * 1e12, peak);
      evaluate(plan);
      if (!plan.fitsMemory)
        return;
    }
    consider();
    double low = 0;
    bool found = false;
    for (int step = 0; step < 20 && !found; ++step, low = high, high *= 4) {
      solveWith(config, high, peak);
      evaluate(plan);
      found = plan.fitsMemory;
    }
    for (int step = 0; step < 16 && found; ++step) {
      double middle = (low + high) / 2;
      solveWith(config, middle, peak);
      evaluate(plan);
      if (plan.fitsMemory)
        high = middle;
      else
        low = middle;
    }
    if (found) {
      solveWith(config, high, peak);
      consider();
    }
  };

  // Every configuration's fastest plan ignoring memory is a lower bound on
  // its fastest plan that fits. In the order of their estimates: a plan
  // that fits is that configuration's best; one that does not is traded
  // for memory; a configuration whose floor reaches the best plan found is
  // skipped. Exact up to the Lagrangian's duality gap (and the cap on how
  // many configurations are traded for memory).
  // The first configuration's fastest plan ignoring memory, and for every
  // other configuration an estimate of its fastest plan: the edges do not
  // change, so it is about that optimum plus, per op, the least any of
  // its strategies costs more (or less) than under the first.
  solveWith(configs.front(), 0);
  evaluate(plan);
  double baseSeconds = plan.metrics.stepSeconds();
  consider();
  std::vector<std::vector<double>> baseUnary;
  for (unsigned index = 0; index < plan.nodes.size(); ++index) {
    const PlanNode &node = pricedNode(plan.nodes, index);
    std::vector<double> unary(node.strategies.size());
    for (size_t s = 0; s < unary.size(); ++s)
      unary[s] = node.compute[s] + commWeight * node.sync[s];
    baseUnary.push_back(std::move(unary));
  }
  // That estimate orders the configurations, but it is no bound where
  // communication hides behind compute (a configuration that adds hidden
  // collectives, ZeRO-3's gathers, is estimated their whole time slower):
  // what prunes is the floor, each op's least compute under the
  // configuration (a step is at least its compute; communication adds
  // what it does not hide).
  struct Bound {
    unsigned config;
    double estimate, seconds;
  };
  std::vector<Bound> bounds;
  for (auto [index, config] : llvm::enumerate(configs)) {
    if (index == 0)
      continue;
    double estimate = baseSeconds, floor = 0;
    std::vector<double> leastOf(plan.nodes.size(), 0),
        floorOf(plan.nodes.size(), 0);
    for (auto [n, node] : llvm::enumerate(plan.nodes)) {
      // A copy of an earlier node adds what that one does.
      if (unsigned original = representative[n]; original != n) {
        estimate += leastOf[n] = leastOf[original];
        floor += floorOf[n] = floorOf[original];
        continue;
      }
      double least = std::numeric_limits<double>::infinity();
      double leastCompute = std::numeric_limits<double>::infinity();
      for (size_t s = 0; s < node.strategies.size(); ++s) {
        Priced priced = priceStrategy(mesh, node, n, node.works[s], config);
        least = std::min(least, priced.compute + commWeight * priced.sync -
                                    baseUnary[n][s]);
        leastCompute = std::min(leastCompute, priced.compute);
      }
      estimate += leastOf[n] = least;
      floor += floorOf[n] = leastCompute;
    }
    bounds.push_back({static_cast<unsigned>(index), estimate, floor});
  }
  llvm::stable_sort(bounds, [](const Bound &a, const Bound &b) {
    return a.estimate < b.estimate;
  });
  // Nothing on this mesh can beat a plan found on another: the fastest plan
  // ignoring memory stands for the mesh (it does not fit, or it is best).
  double meshBound = baseSeconds;
  for (const Bound &bound : bounds)
    meshBound = std::min(meshBound, bound.seconds);
  // (Strictly slower only: ties go to fewer GPUs, which may be this mesh.)
  if (!best && meshBound > incumbentSeconds * (1 + 1e-9)) {
    plan.pruned = true;
    return plan;
  }
  // When the fastest plan does not fit: can anything? The leanest plans
  // (memory weighed above all) of the configurations with the most ZeRO,
  // one per recomputation and microbatch count, bound the memory from
  // below. A plan that can run (its microbatches divide its batch split)
  // comes before one that cannot, however lean.
  std::optional<StepConfig> leanest;
  bool leanestByPeak = false;
  if (!best) {
    unsigned mostZero = 0;
    for (const StepConfig &config : configs)
      mostZero = std::max(mostZero, config.zero);
    double leanestBytes = std::numeric_limits<double>::infinity();
    bool leanestFeasible = false;
    bool possible = false;
    for (const StepConfig &config : configs) {
      if (config.zero != mostZero)
        continue;
      for (bool peak : {false, true}) {
        solveWith(config, 1e30, peak);
        evaluate(plan);
        possible |= plan.fitsMemory;
        if (std::make_pair(!plan.feasible, plan.metrics.memoryPerGpu) <
            std::make_pair(!leanestFeasible, leanestBytes)) {
          leanestBytes = plan.metrics.memoryPerGpu;
          leanestFeasible = plan.feasible;
          leanest = config;
          leanestByPeak = peak;
        }
      }
    }
    if (!possible)
      bounds.clear();
    else
      tradeForMemory(configs.front(), baseSeconds);
  }
  constexpr unsigned kMaxTraded = 4;
  unsigned traded = 0;
  bool beaten = false;
  for (const Bound &bound : bounds) {
    if (best && bound.seconds >= best->seconds * (1 - 1e-9))
      continue;
    if (bound.seconds > incumbentSeconds * (1 + 1e-9)) {
      beaten = true;
      continue;
    }
    solveWith(configs[bound.config], 0);
    evaluate(plan);
    if (plan.fitsMemory) {
      consider();
      continue;
    }
    if (traded++ < kMaxTraded)
      tradeForMemory(configs[bound.config], plan.metrics.stepSeconds());
  }
  // Nothing fits yet: the configuration of the leanest plan found above,
  // traded for memory.
  if (!best) {
    StepConfig config = leanest ? *leanest : configs.back();
    if (beaten) {
      // Whatever fits here is slower than the incumbent: the leanest plan
      // stands for the mesh.
      plan.pruned = true;
    } else if (!bounds.empty()) {
      solveWith(config, 0);
      evaluate(plan);
      if (plan.fitsMemory)
        consider();
      else
        tradeForMemory(config, plan.metrics.stepSeconds());
    }
    if (!best) // The leanest plan found, which does not fit.
      solveWith(config, 1e30, leanest && leanestByPeak);
  }
  // The plan as chosen (or the leanest, which does not fit), priced for
  // the time objective.
  if (best) {
    plan.config = best->config;
    plan.choice = best->choice;
    plan.solution = best->solution;
  }
  price(mesh, plan.nodes, plan.config);
  for (auto [index, node] : llvm::enumerate(plan.nodes)) {
    std::vector<double> unary(node.strategies.size());
    for (size_t s = 0; s < unary.size(); ++s)
      unary[s] = node.compute[s] + node.sync[s];
    plan.graph.setUnary(index, std::move(unary));
  }
  evaluate(plan);
  return plan;
}

FailureOr<MeshPlan> Planner::dataParallelOnMesh(const MeshShape &mesh) {
  MeshPlan plan;
  plan.mesh = mesh;
  // One strategy per node: the batch split, the pin, or replication.
  if (failed(buildNodes(mesh, plan.nodes, /*dataParallelOnly=*/true)))
    return failure();
  plan.config = getCandidateConfigs().front();
  price(mesh, plan.nodes, plan.config);
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
    if (node.madeFromScalar)
      continue;
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

void mlir::autopar::getPassSteps(ArrayRef<NodeCost> costs, double microbatches,
                                 std::vector<PassStep> &forward,
                                 std::vector<PassStep> &backward) {
  forward.clear();
  backward.clear();
  for (const NodeCost &cost : costs)
    forward.push_back(
        {cost.forward / microbatches, cost.gatherSeconds, cost.gatherBytes});
  for (const NodeCost &cost : llvm::reverse(costs))
    backward.push_back({cost.backward / microbatches, cost.gatherSeconds,
                        cost.gatherBytes, cost.reduceSeconds,
                        cost.reduceBytes});
}
