//===- PipelinePlan.cpp - pipeline plans of a function --------------------===//
//
// See PipelinePlan.h.
//
//===----------------------------------------------------------------------===//

#include "autopar/Search/PipelinePlan.h"
#include "autopar/Search/PlanReport.h"

#include "autopar/Cost/AnalysisReport.h"
#include "autopar/Support/Output.h"

#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"

#include <chrono>
#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <tuple>

using namespace mlir;
using namespace mlir::autopar;

namespace {
/// Most layers the stage search sees: ops are grouped into at most this
/// many (the DP is cubic in it), or a block each when a pipeline has more
/// chunks.
constexpr int64_t kMaxLayers = 128;
/// Most layers the nodes before and after the repeated blocks are cut into.
constexpr int64_t kMaxEndLayers = 8;

/// Layer boundaries over `weights` (one per unit): about equal weight per
/// layer, each cut moved within a window to where crossing costs least
/// (`cutCosts`, one per cut).
std::vector<int64_t> cutUnitsIntoLayers(const std::vector<double> &weights,
                                        const std::vector<double> &cutCosts,
                                        int64_t layers) {
  int64_t nodes = static_cast<int64_t>(weights.size());
  std::vector<int64_t> bounds = {0};
  if (layers >= nodes) {
    for (int64_t k = 1; k <= nodes; ++k)
      bounds.push_back(k);
    return bounds;
  }
  double total = 0;
  for (double w : weights)
    total += w;
  int64_t window = std::max<int64_t>(1, nodes / (4 * layers));
  double acc = 0;
  for (int64_t k = 0; k < nodes && static_cast<int64_t>(bounds.size()) < layers;
       ++k) {
    acc += weights[k];
    double target = total * static_cast<double>(bounds.size()) /
                    static_cast<double>(layers);
    if (acc < target &&
        nodes - (k + 1) > layers - static_cast<int64_t>(bounds.size()))
      continue;
    // The cheapest cut near k + 1, after the last.
    int64_t best = -1;
    int64_t left = nodes - static_cast<int64_t>(layers - bounds.size());
    for (int64_t c = std::max(bounds.back() + 1, k + 1 - window);
         c <= std::min(left, k + 1 + window); ++c)
      if (best < 0 || cutCosts[c] < cutCosts[best])
        best = c;
    if (best < 0)
      continue;
    bounds.push_back(best);
    k = best - 1;
    acc = 0;
    for (int64_t j = 0; j < best; ++j)
      acc += weights[j];
  }
  bounds.push_back(nodes);
  return bounds;
}

/// Layer boundaries over `weights` (one per node), as cutUnitsIntoLayers,
/// where a cut of infinite cost (inside a kernel) is never taken: the nodes
/// between two cuts that may be taken are one unit.
std::vector<int64_t> cutIntoLayers(const std::vector<double> &weights,
                                   const std::vector<double> &cutCosts,
                                   int64_t layers) {
  int64_t nodes = static_cast<int64_t>(weights.size());
  std::vector<int64_t> starts = {0};
  for (int64_t k = 1; k < nodes; ++k)
    if (std::isfinite(cutCosts[k]))
      starts.push_back(k);
  int64_t units = static_cast<int64_t>(starts.size());
  std::vector<double> unitWeights(units, 0), unitCuts(units + 1, 0);
  for (int64_t u = 0; u < units; ++u) {
    int64_t end = u + 1 < units ? starts[u + 1] : nodes;
    for (int64_t k = starts[u]; k < end; ++k)
      unitWeights[u] += weights[k];
    unitCuts[u] = cutCosts[starts[u]];
  }
  unitCuts[units] = cutCosts[nodes];
  std::vector<int64_t> bounds =
      cutUnitsIntoLayers(unitWeights, unitCuts, std::min(layers, units));
  for (int64_t &bound : bounds)
    bound = bound < units ? starts[bound] : nodes;
  return bounds;
}

/// Layer boundaries over all nodes. With repeated blocks, each block is a
/// layer (or a few blocks, to stay within `maxLayers`), so that stages hold
/// whole blocks as Megatron-LM's do, and the nodes before and after them
/// are cut by weight into about as many layers as their weight in blocks;
/// otherwise the whole function is cut by weight.
std::vector<int64_t> getLayerBounds(const std::vector<double> &weights,
                                    const std::vector<double> &cutCosts,
                                    const Repetition &repetition,
                                    int64_t maxLayers) {
  int64_t nodes = static_cast<int64_t>(weights.size());
  int64_t start = repetition.start, length = repetition.length,
          count = repetition.count;
  // Blocks start where a cut may fall. When the repetition starts right
  // after ops of no weight (the constant fills its first op reads, made at
  // their users: the previous block's last ops), the blocks start before
  // them; when its first op runs in the kernel of the op before it (a
  // GEMM's epilogue), from the first op after that can start one, one
  // block fewer.
  int64_t back = 0;
  while (back < std::min(length - 1, start) &&
         !std::isfinite(cutCosts[start - back]) &&
         weights[start - back - 1] == 0)
    ++back;
  if (back > 0 && std::isfinite(cutCosts[start - back])) {
    start -= back;
  } else {
    int64_t shift = 0;
    while (count >= 3 && shift < length &&
           !std::isfinite(cutCosts[start + shift]))
      ++shift;
    if (shift > 0) {
      start += shift;
      count = shift < length ? count - 1 : 0;
    }
  }
  if (count < 3)
    return cutIntoLayers(weights, cutCosts, std::min(maxLayers, nodes));
  int64_t end = start + length * count;
  int64_t room = std::max<int64_t>(1, maxLayers - 2 * kMaxEndLayers);
  int64_t perLayer = (count + room - 1) / room;
  // Few blocks: each is cut into as many layers as fit, alike in every
  // block.
  // Nodes [first, last) cut into `layers`, bounds relative to `first`.
  auto cutRange = [&](int64_t first, int64_t last, int64_t layers) {
    return cutIntoLayers(
        std::vector<double>(weights.begin() + first, weights.begin() + last),
        std::vector<double>(cutCosts.begin() + first,
                            cutCosts.begin() + last + 1),
        layers);
  };
  std::vector<int64_t> within = {0, length};
  if (perLayer == 1 && count * 2 <= room)
    within = cutRange(start, start + length, std::min(room / count, length));
  double layerWeight = 0;
  for (int64_t k = start; k < start + within[1] * perLayer; ++k)
    layerWeight += weights[k];
  // Nodes [first, last) as layers of about one repetition layer's weight.
  auto cutEnd = [&](int64_t first, int64_t last, std::vector<int64_t> &bounds) {
    if (last <= first)
      return;
    double total = 0;
    for (int64_t k = first; k < last; ++k)
      total += weights[k];
    int64_t layers =
        std::clamp<int64_t>(static_cast<int64_t>(std::llround(
                                layerWeight > 0 ? total / layerWeight : 1.0)),
                            1, std::min(kMaxEndLayers, last - first));
    std::vector<int64_t> local = cutRange(first, last, layers);
    for (size_t k = 1; k < local.size(); ++k)
      bounds.push_back(first + local[k]);
  };
  // With several blocks a layer, the first layer takes fewer when the
  // nodes before the blocks weigh about that many blocks, so that layer
  // bounds fall every perLayer blocks from the function's start.
  int64_t lead = perLayer;
  if (perLayer > 1) {
    double before = 0, block = 0;
    for (int64_t k = 0; k < start; ++k)
      before += weights[k];
    for (int64_t k = start; k < start + length; ++k)
      block += weights[k];
    if (block > 0)
      lead = std::clamp<int64_t>(perLayer - std::llround(before / block), 1,
                                 perLayer);
  }
  std::vector<int64_t> bounds = {0};
  cutEnd(0, start, bounds);
  for (int64_t k = 0; k < count; k = k == 0 ? lead : k + perLayer)
    for (size_t w = k == 0 ? 1 : 0; w + 1 < within.size(); ++w)
      bounds.push_back(start + k * length + within[w]);
  bounds.push_back(end);
  cutEnd(end, nodes, bounds);
  return bounds;
}

/// A stage plan's kind for StageSearchProblem::stageKinds: its ZeRO stage
/// and recomputation.
unsigned stageKind(unsigned zero, Recompute recompute) {
  return zero * 3 + static_cast<unsigned>(recompute);
}

std::string meshText(const MeshShape &mesh) {
  std::string text;
  for (auto [i, size] : llvm::enumerate(mesh.sizes))
    text += (i ? "x" : "") + std::to_string(size);
  return text;
}
} // namespace

FailureOr<PipelinePlan>
mlir::autopar::planPipeline(Planner &planner, const CostModel &costModel,
                            const PipelineRequest &request, Location loc) {
  auto started = std::chrono::steady_clock::now();
  int64_t stages = request.stages;
  int64_t v = request.virtualStages;
  int64_t nodes = static_cast<int64_t>(planner.getSpaces().size());
  int64_t gpusPerNode = costModel.getTarget().getGpusPerNode();
  std::string schedule =
      request.schedule ? stringifyPipelineSchedule(*request.schedule).str()
                       : std::string("1f1b or interleaved");
  if (v < 0)
    return emitError(loc) << "autopar-plan: virtual-stages=" << v
                          << " must be 0 (searched) or more";
  if (v > 1 && request.schedule &&
      *request.schedule != PipelineSchedule::Interleaved)
    return emitError(loc) << "autopar-plan: virtual-stages=" << v
                          << " needs schedule=interleaved (schedule="
                          << schedule << " runs one stage per device)";
  if (request.schedule == PipelineSchedule::Interleaved && v == 1)
    return emitError(loc) << "autopar-plan: schedule=interleaved needs "
                             "virtual-stages=2 or more (0: searched)";
  // The schedules to search, each with its chunks per device: a pinned
  // one; or 1F1B and the interleaved schedule (v = 0 until the model's
  // layers are known: then every v from 2 to kMaxVirtualStages that gives
  // each chunk a layer).
  struct Candidate {
    PipelineSchedule schedule;
    int64_t v;
  };
  SmallVector<Candidate> schedules;
  if (request.schedule && *request.schedule != PipelineSchedule::Interleaved)
    schedules.push_back({*request.schedule, 1});
  else if (!request.schedule && v <= 1)
    schedules.push_back({PipelineSchedule::OneFOneB, 1});
  if (v >= 2 || (v == 0 && request.schedule != PipelineSchedule::GPipe &&
                 request.schedule != PipelineSchedule::OneFOneB))
    schedules.push_back({PipelineSchedule::Interleaved, v});
  // What only the interleaved schedule cannot run is an error when it
  // was asked for; when searched beside 1F1B, it is dropped instead.
  bool interleavedOnly = llvm::all_of(schedules, [](const Candidate &c) {
    return c.schedule == PipelineSchedule::Interleaved;
  });
  auto dropInterleaved = [&] {
    llvm::erase_if(schedules, [](const Candidate &c) {
      return c.schedule == PipelineSchedule::Interleaved;
    });
    v = 1;
  };
  // Searched beside 1F1B, the interleaved schedule is tried while its
  // layers stay within twice those the stage search otherwise sees (the
  // DP is cubic in them).
  if (!request.schedule && v == 0 &&
      stages * 2 + 2 * kMaxEndLayers > 2 * kMaxLayers)
    dropInterleaved();
  // The most chunks asked for (P v; 2 P when v is searched: the layers are
  // cut so that there are at least those, and the search adds what they
  // hold), and the fewest.
  int64_t mostChunks = 0, fewestChunks = 0;
  for (const Candidate &candidate : schedules) {
    int64_t chunks =
        stages * (candidate.v == 0 ? 2 : std::max<int64_t>(candidate.v, 1));
    mostChunks = std::max(mostChunks, chunks);
    fewestChunks = fewestChunks ? std::min(fewestChunks, chunks) : chunks;
  }
  v = mostChunks / stages;
  if (fewestChunks > nodes)
    return emitError(loc) << "autopar-plan: stages=" << stages
                          << (fewestChunks > stages
                                  ? " x virtual-stages=" +
                                        std::to_string(fewestChunks / stages)
                                  : std::string())
                          << " needs as many ops to split, but the model has "
                          << nodes;
  // Stages hold equal shares of the GPUs (the plan's device numbering).
  auto product = [](ArrayRef<int64_t> sizes) {
    int64_t devices = 1;
    for (int64_t size : sizes)
      devices *= size;
    return devices;
  };
  for (ArrayRef<int64_t> sizes : request.stageMeshes) {
    int64_t devices = product(sizes),
            first = product(request.stageMeshes.front());
    if (devices != first)
      return emitError(loc)
             << "autopar-plan: the stages' meshes hold " << first << " and "
             << devices
             << " GPUs; every stage of a pipeline holds the same number";
  }
  if (request.gpus % stages != 0)
    return emitError(loc) << "autopar-plan: stages=" << stages
                          << " does not divide the " << request.gpus
                          << " GPUs; choose a divisor";
  int64_t perStage = request.gpus / stages;
  if (perStage % gpusPerNode != 0 && gpusPerNode % perStage != 0)
    return emitError(loc)
           << "autopar-plan: stages=" << stages << " gives stages of "
           << perStage << " GPUs, which do not tile nodes of " << gpusPerNode
           << "; a stage takes whole nodes or a divisor of a node";

  // The stage meshes: pinned (one shape for all, or one per stage; a
  // stage's mesh is then meshes[stageMesh[stage]]) or every candidate.
  SmallVector<MeshShape> meshes;
  SmallVector<unsigned> stageMesh;
  for (ArrayRef<int64_t> sizes : request.stageMeshes) {
    MeshShape mesh;
    mesh.sizes.assign(sizes.begin(), sizes.end());
    mesh.gpusPerNode = gpusPerNode;
    if (mesh.sizes.size() == 1)
      mesh.names = {"gpus"};
    else
      mesh.names = {"x", "y"};
    if (mesh.getNumDevices() != perStage)
      return emitError(loc)
             << "autopar-plan: mesh=" << meshText(mesh) << " has "
             << mesh.getNumDevices() << " GPUs, but each of the " << stages
             << " stages gets " << perStage << " of the " << request.gpus;
    auto same = llvm::find_if(meshes, [&](const MeshShape &other) {
      return other.sizes == mesh.sizes;
    });
    stageMesh.push_back(same - meshes.begin());
    if (same == meshes.end())
      meshes.push_back(mesh);
  }
  if (request.stageMeshes.size() <= 1)
    stageMesh.clear();
  if (meshes.empty())
    meshes = planner.getCandidateMeshes(perStage);

  // Microbatch counts: at least one per stage for 1F1B (a multiple of the
  // stages interleaved, as Megatron-LM's schedule needs).
  int64_t batch = std::max<int64_t>(1, planner.getBatchSize());
  bool oneFOneB = request.schedule != PipelineSchedule::GPipe;
  SmallVector<int64_t> counts;
  if (request.microbatches) {
    int64_t m = *request.microbatches;
    if (batch % m != 0)
      return emitError(loc) << "autopar-plan: microbatches=" << m
                            << " does not divide the batch of " << batch;
    if (oneFOneB && m < stages)
      return emitError(loc)
             << "autopar-plan: microbatches=" << m
             << " is fewer than stages=" << stages << ": schedule=" << schedule
             << " needs a microbatch per stage (use microbatches=" << stages
             << " or more, or schedule=gpipe)";
    if (m % stages != 0) {
      if (interleavedOnly)
        return emitError(loc) << "autopar-plan: schedule=interleaved needs "
                                 "microbatches a multiple of stages="
                              << stages << "; microbatches=" << m << " is not";
      dropInterleaved();
    }
    counts.push_back(m);
  } else {
    for (int64_t m = 1; m <= batch; ++m)
      if (batch % m == 0 && (!oneFOneB || m >= stages) &&
          (!interleavedOnly || m % stages == 0))
        counts.push_back(m);
    if (counts.empty())
      return emitError(loc)
             << "autopar-plan: the batch of " << batch
             << " cannot run as the microbatches schedule=" << schedule
             << " needs for stages=" << stages;
  }
  SmallVector<unsigned> zeros;
  if (!request.stageZero.empty()) {
    if (static_cast<int64_t>(request.stageZero.size()) != stages)
      return emitError(loc)
             << "autopar-plan: zero= pins " << request.stageZero.size()
             << " ZeRO stages for stages=" << stages
             << "; pin one for every stage, or one for all";
    for (unsigned zero : request.stageZero)
      if (!llvm::is_contained(zeros, zero))
        zeros.push_back(zero);
  } else if (request.zero)
    zeros.push_back(*request.zero);
  else
    zeros = {0, 1, 2, 3};
  SmallVector<Recompute> recomputes;
  if (!request.stageRecompute.empty()) {
    if (static_cast<int64_t>(request.stageRecompute.size()) != stages)
      return emitError(loc)
             << "autopar-plan: recompute= pins "
             << request.stageRecompute.size() << " kinds for stages=" << stages
             << "; pin one for every stage, or one for all";
    for (Recompute recompute : request.stageRecompute)
      if (!llvm::is_contained(recomputes, recompute))
        recomputes.push_back(recompute);
  } else if (request.recompute)
    recomputes.push_back(*request.recompute);
  else
    recomputes = {Recompute::None, Recompute::Selective, Recompute::Full};
  // Pinned kinds in the searched order: a stage plan's shardings are solved
  // under the first configuration's prices (Planner::profileOnMesh), so
  // pinning the kinds a search chose gives its plan.
  llvm::sort(zeros);
  llvm::sort(recomputes);

  // Per stage mesh, the microbatch counts it is profiled at: those whose
  // microbatch its first axis divides (so that axis can split the batch),
  // at most kMaxCounts of them spread from the fewest to the most; each
  // count solved once (per-op shardings) and evaluated for every ZeRO stage
  // and recomputation.
  constexpr size_t kMaxCounts = 5;
  auto splitsMicrobatch = [&](const MeshShape &mesh, int64_t count) {
    return (batch / count) % mesh.sizes.front() == 0;
  };
  // Each stage mesh's plans from the fastest to the leanest (memory
  // weighed more and more): each is a candidate of the stage search.
  const double weights[] = {0.0, 1.0 / 32, 1.0 / 8, 0.5, 2.0, 8.0};
  SmallVector<std::pair<unsigned, unsigned>> candidates; // mesh, weight
  for (unsigned meshIndex = 0; meshIndex < meshes.size(); ++meshIndex)
    for (unsigned w = 0; w < std::size(weights); ++w)
      candidates.push_back({meshIndex, w});
  using Key = std::tuple<unsigned, int64_t, unsigned, Recompute>;
  // A stage plan as the stage search sees it: per layer, its costs under
  // the plan's configuration (the per-op costs are summed as soon as the
  // plan is made: a long model's per-op costs for every mesh, weight and
  // configuration would not fit in memory).
  struct Profile {
    MeshShape mesh;
    std::shared_ptr<const std::vector<unsigned>> choice;
    std::vector<StageSearchProblem::Layer> layers;
    double gatherHoldBytes = 0;
  };
  std::map<Key, Profile> profiles;
  std::set<int64_t> allCounts;
  std::vector<double> cutBytes = planner.getCutBytes();
  std::vector<double> cutValues = planner.getCutValues();
  // The time `bytes` take to cross a cut that `values` values cross, on
  // `link`: each value is its own message (the stage programs send a value
  // right after its producer, receive it at its first use), so each pays
  // the link's latency.
  auto crossingSeconds = [&](double bytes, double values, DeviceGroup link) {
    if (bytes <= 0)
      return 0.0;
    double messages = std::max(1.0, values);
    return messages *
           costModel
               .collectiveTime(CollectiveKind::Permute, bytes / messages, link)
               .seconds;
  };
  // Where layers are cut: each cut priced between two GPUs of a node, so
  // that a cut where one value crosses (between blocks) beats one where
  // many small ones do.
  // A cut inside a kernel (a row kernel's, a product and its epilogue) is
  // never taken: the ops after it are priced as running in that kernel.
  std::vector<bool> kernelCuts = planner.getKernelCuts();
  std::vector<double> cutCosts;
  for (auto [bytes, values, inside] :
       llvm::zip_equal(cutBytes, cutValues, kernelCuts))
    cutCosts.push_back(inside
                           ? std::numeric_limits<double>::infinity()
                           : crossingSeconds(bytes, values, DeviceGroup{2, 1}));
  std::vector<int64_t> bounds;
  auto summarize = [&](const MeshPlan &plan) {
    Profile profile;
    profile.mesh = plan.mesh;
    double m = static_cast<double>(plan.config.microbatches);
    unsigned zero = plan.config.zero;
    // ZeRO-2/3's collectives run per microbatch, behind the stage's compute
    // as its program runs them: priced by the one rule (Cost/Overlap.h)
    // made additive over layers (getGroupExposure, kExposureHistory layers
    // of history): a layer adds its marginal exposure; the first layer of
    // each pass in the stage (the stage's first layer in the forward, its
    // last in the backward) adds its lead, for having no layer before it in
    // that pass (its first unit gathered at its use, no earlier compute
    // behind which it was prefetched). Leads below 0 are taken as 0 (the
    // stage search needs a stage to cost at least its layers). Without
    // overlap, all of it exposed.
    //
    // ZeRO 0-1 synchronise once a step, each gradient's bucket as soon as
    // the last microbatch's backward made it (the stage programs run that
    // backward straight-line): what runs past the stage's last backward is
    // step work, by the same buckets over one microbatch's backward
    // (Layer::sync).
    size_t layers = bounds.empty() ? 0 : bounds.size() - 1;
    SmallVector<GroupExposure> forwardExposure, backwardExposure;
    SmallVector<GroupRelease> syncReleases;
    bool overlapped = zero >= 2 && planner.getOptions().overlap;
    bool syncOverlapped = zero <= 1 && planner.getOptions().overlap;
    if (overlapped || syncOverlapped) {
      std::vector<PassStep> forward, backward;
      getPassSteps(plan.nodeCosts, m, forward, backward);
      size_t nodes = plan.nodeCosts.size();
      SmallVector<size_t> forwardBounds(bounds.begin(), bounds.end()),
          backwardBounds;
      for (int64_t bound : llvm::reverse(bounds))
        backwardBounds.push_back(nodes - static_cast<size_t>(bound));
      double unitBytes = planner.getOptions().gatherUnitBytes;
      if (overlapped) {
        forwardExposure =
            getGroupExposure(forward, forwardBounds, kExposureHistory, true,
                             kCollectiveBucketBytes, unitBytes);
        backwardExposure =
            getGroupExposure(backward, backwardBounds, kExposureHistory, true,
                             kCollectiveBucketBytes, unitBytes);
      } else {
        syncReleases = getGroupReleases(backward, backwardBounds);
      }
    }
    for (size_t k = 0; k < layers; ++k) {
      StageSearchProblem::Layer layer;
      if (overlapped) {
        const GroupExposure &forward = forwardExposure[k];
        const GroupExposure &backward = backwardExposure[layers - 1 - k];
        layer.forward += forward.marginal;
        layer.backward += backward.marginal;
        layer.leadSeconds = std::max(0.0, forward.lead);
        layer.trailSeconds = std::max(0.0, backward.lead);
      } else if (syncOverlapped) {
        layer.sync = syncReleases[layers - 1 - k];
      }
      for (int64_t node = bounds[k]; node < bounds[k + 1]; ++node) {
        const NodeCost &cost = plan.nodeCosts[node];
        // ZeRO-2/3's collectives run per microbatch (priced above when
        // they overlap): of the step's, once a step only what follows the
        // update (ZeRO-2's gather of the updated shards).
        double perMicrobatch = cost.microbatchComm;
        double step = cost.stepComm;
        if (syncOverlapped)
          step = std::max(0.0, cost.stepComm - cost.reduceSeconds);
        if (zero >= 2) {
          double each =
              cost.reduceSeconds + (zero >= 3 ? 2 : 0) * cost.gatherSeconds;
          step = std::max(0.0, cost.stepComm - m * each);
          if (!overlapped)
            perMicrobatch += m * each;
        }
        layer.forward += (cost.forward + perMicrobatch / 2) / m;
        layer.backward += (cost.backward + perMicrobatch / 2) / m;
        layer.step += cost.update + step;
        layer.stateBytes += cost.stateBytes;
        layer.activationBytes += cost.activationBytes;
        // At its backward an op holds its working set and what
        // recomputation made again for its segment.
        // (ZeRO-3's gathered units apart: a stage holds at most its own.)
        layer.transientBytes = std::max(
            layer.transientBytes, cost.workingBytes - cost.heldGatherBytes +
                                      cost.rematerializedBytes);
        layer.gatherBytes += cost.gatherBytes;
        profile.gatherHoldBytes =
            std::max(profile.gatherHoldBytes, cost.heldGatherBytes);
      }
      profile.layers.push_back(layer);
    }
    return profile;
  };
  for (auto [meshIndex, mesh] : llvm::enumerate(meshes)) {
    SmallVector<int64_t> usable;
    for (int64_t m : counts)
      if (splitsMicrobatch(mesh, m))
        usable.push_back(m);
    if (usable.empty())
      usable = counts;
    // (Searched beside 1F1B, the interleaved schedule runs those of them
    // that are multiples of the stages: profiling more counts would cost
    // as much as the rest of the search.)
    SmallVector<int64_t> chosen;
    for (size_t k = 0; k < std::min(kMaxCounts, usable.size()); ++k) {
      size_t at = usable.size() == 1
                      ? 0
                      : k * (usable.size() - 1) /
                            (std::min(kMaxCounts, usable.size()) - 1);
      if (chosen.empty() || chosen.back() != usable[at])
        chosen.push_back(usable[at]);
    }
    SmallVector<SmallVector<StepConfig>> configSets;
    for (int64_t m : chosen) {
      SmallVector<StepConfig> &configs = configSets.emplace_back();
      for (unsigned zero : zeros)
        for (Recompute recompute : recomputes)
          configs.push_back({zero, recompute, m});
    }
    auto consume = [&](size_t set,
                       std::vector<std::vector<MeshPlan>> &profiled) {
      int64_t m = chosen[set];
      ArrayRef<StepConfig> configs = configSets[set];
      // The layers: from the first plan's per-op times.
      if (bounds.empty()) {
        std::vector<double> times;
        for (const NodeCost &cost : profiled[0][0].nodeCosts)
          times.push_back(cost.forward + cost.backward);
        // At least a layer per chunk; many repeated blocks go a few to a
        // layer, unless the chunks need one each.
        int64_t maxLayers = kMaxLayers;
        int64_t count = planner.getRepetition().count;
        if (v > 1)
          maxLayers = std::max(kMaxLayers, mostChunks + 2 * kMaxEndLayers);
        if (v > 1 && count >= 3 &&
            mostChunks > kMaxLayers - 2 * kMaxEndLayers) {
          // As many blocks a layer as still leave a layer per chunk.
          int64_t perLayer = std::max<int64_t>(1, count / mostChunks);
          maxLayers = std::max(maxLayers, (count + perLayer - 1) / perLayer +
                                              2 * kMaxEndLayers);
        }
        bounds =
            getLayerBounds(times, cutCosts, planner.getRepetition(), maxLayers);
      }
      const std::vector<MeshPlan> *previous = nullptr;
      for (unsigned w = 0; w < std::size(weights); ++w) {
        // A weight that changes no op's strategy adds nothing.
        if (profiled[w].empty() || (previous && profiled[w].front().choice ==
                                                    previous->front().choice))
          continue;
        previous = &profiled[w];
        auto choice = std::make_shared<const std::vector<unsigned>>(
            profiled[w].front().choice);
        for (auto [config, plan] : llvm::zip_equal(configs, profiled[w])) {
          if (!plan.feasible)
            continue;
          Profile profile = summarize(plan);
          profile.choice = choice;
          profiles[{static_cast<unsigned>(meshIndex * std::size(weights) + w),
                    m, config.zero, config.recompute}] = std::move(profile);
        }
      }
      allCounts.insert(m);
    };
    if (failed(planner.profileOnMesh(mesh, configSets, weights, consume)))
      return failure();
  }

  if (bounds.empty())
    bounds = {0, nodes};
  int64_t layers = static_cast<int64_t>(bounds.size()) - 1;
  if (schedules.back().v == 0) {
    schedules.pop_back();
    for (int64_t k = 2; k <= kMaxVirtualStages && stages * k <= layers; ++k)
      schedules.push_back({PipelineSchedule::Interleaved, k});
    if (schedules.empty())
      return emitError(loc) << "autopar-plan: schedule=interleaved needs "
                               "two layers or more per stage, but the "
                               "model's ops group into "
                            << layers << " layers for stages=" << stages
                            << "; use fewer stages or schedule=1f1b";
  }
  if (llvm::all_of(schedules, [&](const Candidate &candidate) {
        return stages * candidate.v > layers;
      }))
    return emitError(loc) << "autopar-plan: stages=" << stages
                          << (v > 1 ? " x virtual-stages=" + std::to_string(v)
                                    : std::string())
                          << " needs " << stages * v
                          << " layers to split, but the model's ops group into "
                          << layers;
  PipelinePlan best;
  best.stages = stages;
  best.gpus = request.gpus;
  best.meshes = static_cast<int64_t>(meshes.size());
  best.layers = layers;
  bool found = false;
  double leastMemory = std::numeric_limits<double>::infinity();
  std::string leanest;
  // One stage search per microbatch count: every stage picks its own mesh
  // plan, ZeRO stage and recomputation (one per device's chunks when
  // interleaved), so a stage that holds more microbatches (1F1B's first)
  // can recompute while the last does not.
  for (int64_t count : allCounts) {
    double m = static_cast<double>(count);
    StageSearchProblem problem;
    problem.stages = stages;
    problem.microbatches = count;
    problem.memoryCapacity = request.memoryCapacity;
    problem.nodeBudget = request.nodeBudget;
    problem.stageShapes.assign(stageMesh.begin(), stageMesh.end());
    // A plan's kind: its ZeRO stage and recomputation (stageKind); each
    // stage may run those its pins allow.
    if (!request.stageZero.empty() || !request.stageRecompute.empty())
      for (int64_t stage = 0; stage < stages; ++stage) {
        uint64_t allowed = 0;
        for (unsigned zero : zeros)
          for (Recompute recompute : recomputes)
            if ((request.stageZero.empty() ||
                 request.stageZero[stage] == zero) &&
                (request.stageRecompute.empty() ||
                 request.stageRecompute[stage] == recompute))
              allowed |= uint64_t(1) << stageKind(zero, recompute);
        problem.stageKinds.push_back(allowed);
      }
    // Per plan of the problem: its profile and step configuration.
    std::vector<const Profile *> problemPlans;
    std::vector<StepConfig> problemConfigs;
    for (auto [candidate, key] : llvm::enumerate(candidates)) {
      const MeshShape &mesh = meshes[key.first];
      double devices = static_cast<double>(mesh.getNumDevices());
      DeviceGroup link{2, mesh.getNumDevices() >= gpusPerNode ? 2 : 1};
      std::vector<double> cutSeconds;
      for (int64_t k = 0; k <= layers; ++k)
        cutSeconds.push_back(crossingSeconds(cutBytes[bounds[k]] / m / devices,
                                             cutValues[bounds[k]], link));
      for (unsigned zero : zeros)
        for (Recompute recompute : recomputes) {
          auto it = profiles.find(
              {static_cast<unsigned>(candidate), count, zero, recompute});
          if (it == profiles.end())
            continue;
          StageSearchProblem::Mesh entry;
          entry.shape = key.first;
          entry.kind = stageKind(zero, recompute);
          entry.name = meshText(mesh);
          if (key.second > 0)
            entry.name +=
                llvm::formatv(" (memory weighed x{0:g})", weights[key.second])
                    .str();
          entry.layers = it->second.layers;
          entry.gatherHoldBytes = it->second.gatherHoldBytes;
          entry.cutSeconds = cutSeconds;
          problem.meshes.push_back(std::move(entry));
          problemPlans.push_back(&it->second);
          problemConfigs.push_back({zero, recompute, count});
        }
    }
    if (problem.meshes.empty())
      continue;
    for (const Candidate &candidate : schedules) {
      if ((candidate.schedule == PipelineSchedule::Interleaved &&
           count % stages != 0) ||
          stages * candidate.v > layers)
        continue;
      problem.schedule = candidate.schedule;
      problem.virtualStages = candidate.v;
      std::string scheduleText =
          candidate.v > 1 ? ", interleaved x" + std::to_string(candidate.v)
                          : std::string();
      problem.incumbent = std::min(
          request.incumbent, found ? best.timing.seconds
                                   : std::numeric_limits<double>::infinity());
      ++best.configs;
      StageSearchResult result = searchStages(problem);
      best.capsTried += result.capsTried;
      best.branchNodes += result.nodes;
      best.unproven += !result.exact;
      best.lowerBound = std::min(best.lowerBound, result.lowerBound);
      if (!result.found) {
        // Nothing faster than a pipeline found before: no error to word.
        if (problem.incumbent < std::numeric_limits<double>::infinity())
          continue;
        // For the error: the leanest of the fastest pipelines of each ZeRO
        // stage and recomputation (every stage the same), or of the pinned
        // ones per stage.
        auto consider = [&](StageSearchProblem unlimited, std::string what) {
          unlimited.memoryCapacity = 0;
          StageSearchResult any = searchStages(unlimited);
          if (!any.found)
            return;
          double most = *std::max_element(any.timing.memoryBytes.begin(),
                                          any.timing.memoryBytes.end());
          if (most < leastMemory) {
            leastMemory = most;
            leanest = std::move(what);
          }
        };
        if (!problem.stageKinds.empty()) {
          consider(problem, "the pinned ZeRO stages and recomputations, " +
                                std::to_string(count) + " microbatches" +
                                scheduleText);
          continue;
        }
        for (unsigned zero : zeros)
          for (Recompute recompute : recomputes) {
            StageSearchProblem uniform = problem;
            uniform.meshes.clear();
            for (auto [entry, config] :
                 llvm::zip_equal(problem.meshes, problemConfigs))
              if (config.zero == zero && config.recompute == recompute)
                uniform.meshes.push_back(entry);
            consider(std::move(uniform),
                     StepConfig{zero, recompute, count}.str() + scheduleText);
          }
        continue;
      }
      if (found && result.timing.seconds >= best.timing.seconds * (1 - 1e-12))
        continue;
      found = true;
      best.config = {0, Recompute::None, count};
      for (const StageAssignment &chunk : result.chunks) {
        const StepConfig &config = problemConfigs[chunk.mesh];
        best.config.zero = std::max(best.config.zero, config.zero);
        best.config.recompute =
            std::max(best.config.recompute, config.recompute);
      }
      best.schedule = candidate.schedule;
      best.virtualStages = candidate.v;
      best.timing = result.timing;
      best.chunks.clear();
      best.chunkOfNode.assign(nodes, 0);
      for (auto [index, chunk] : llvm::enumerate(result.chunks)) {
        PipelineChunk entry;
        entry.firstNode = bounds[chunk.begin];
        entry.endNode = bounds[chunk.end];
        entry.mesh = problem.meshes[chunk.mesh].name;
        entry.meshShape = problemPlans[chunk.mesh]->mesh;
        entry.choice = *problemPlans[chunk.mesh]->choice;
        entry.config = problemConfigs[chunk.mesh];
        entry.work = getStageWork(problem, chunk.begin, chunk.end, chunk.mesh);
        for (int64_t node = entry.firstNode; node < entry.endNode; ++node)
          best.chunkOfNode[node] = static_cast<int64_t>(index);
        best.chunks.push_back(std::move(entry));
      }
    }
  }
  best.searchSeconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started)
          .count();
  // No stage plan at all, and no stage mesh's first axis (the one that
  // splits the batch) divides a microbatch: the microbatches are too small
  // for the stages' meshes, whatever the memory.
  if (!found && profiles.empty() &&
      llvm::none_of(meshes, [&](const MeshShape &mesh) {
        return llvm::any_of(
            counts, [&](int64_t m) { return splitsMicrobatch(mesh, m); });
      })) {
    int64_t samples = batch / counts.back();
    int64_t axis = meshes.front().sizes.front();
    for (const MeshShape &mesh : meshes)
      axis = std::min(axis, mesh.sizes.front());
    return emitError(loc)
           << "autopar-plan: "
           << (request.microbatches
                   ? "microbatches=" + std::to_string(counts.back())
                   : "schedule=" + schedule +
                         " over stages=" + std::to_string(stages))
           << " leaves " << samples << " sample" << (samples > 1 ? "s" : "")
           << " a microbatch, which no stage mesh splits along its first "
              "axis (of "
           << axis << " GPUs at least); use fewer microbatches"
           << (request.microbatches ? "" : " (schedule=gpipe or fewer stages)")
           << ", a larger batch, or stage meshes whose first axis divides "
              "the microbatch (parallelism=tensor)";
  }
  if (!found) {
    InFlightDiagnostic diag = emitError(loc);
    diag << "autopar-plan: no pipeline of stages=" << stages << " (" << schedule
         << ") fits in the " << formatBytes(request.memoryCapacity) << " of a "
         << costModel.getTarget().getGpu().getName();
    if (leastMemory < std::numeric_limits<double>::infinity())
      diag << ": the fastest pipelines need at least "
           << formatBytes(leastMemory) << " on their fullest GPU (" << leanest
           << "); use more stages, GPUs or recomputation";
    if (best.unproven > 0)
      diag << " (the interleaved stage search stopped at its node budget "
              "in "
           << best.unproven
           << " searches before finding one that fits: pinning "
              "virtual-stages= or fewer kinds per stage narrows it)";
    return diag;
  }
  return best;
}

double PipelinePlan::getBoundGap() const {
  double seconds = timing.seconds;
  return unproven > 0 && lowerBound > 0 && lowerBound < seconds
             ? seconds / lowerBound - 1
             : 0;
}

bool PipelinePlan::uniformConfig() const {
  return llvm::all_of(chunks, [&](const PipelineChunk &chunk) {
    return chunk.config == chunks.front().config;
  });
}

static std::string opText(const Planner &planner, int64_t node) {
  Operation *op = planner.getSpaces()[node].op;
  std::string loc = formatLocation(op->getLoc());
  return loc.empty() ? op->getName().getStringRef().str() : loc;
}

void mlir::autopar::printPipelineReportText(llvm::raw_ostream &os,
                                            const PipelinePlan &plan,
                                            const Planner &planner) {
  const PipelineTiming &timing = plan.timing;
  os << "pipeline: " << plan.stages << " stages";
  if (plan.virtualStages > 1)
    os << " x " << plan.virtualStages << " virtual";
  os << " on " << plan.gpus << " GPUs, "
     << stringifyPipelineSchedule(plan.schedule) << ", ";
  bool uniform = plan.uniformConfig();
  if (uniform)
    os << plan.config.str() << "\n";
  else
    os << plan.config.microbatches << " microbatch"
       << (plan.config.microbatches != 1 ? "es" : "")
       << ", ZeRO and recomputation per stage\n";
  os << llvm::format(
      "step time: %.3f ms (bubble %.3f ms, %.1f%%; step "
      "work after the last backward %.3f ms)\n",
      timing.seconds * 1e3, timing.bubbleSeconds * 1e3,
      timing.seconds > 0 ? 100.0 * timing.bubbleSeconds / timing.seconds : 0.0,
      timing.tailSeconds * 1e3);
  for (auto [index, chunk] : llvm::enumerate(plan.chunks)) {
    int64_t device = static_cast<int64_t>(index) % plan.stages;
    const StageWork &work = chunk.work;
    os << llvm::format("stage %zu", index);
    if (plan.virtualStages > 1)
      os << llvm::format(" (device %lld)", static_cast<long long>(device));
    os << ": ops " << chunk.firstNode << ".." << chunk.endNode - 1 << " ("
       << opText(planner, chunk.firstNode) << " .. "
       << opText(planner, chunk.endNode - 1) << "), mesh " << chunk.mesh;
    if (!uniform)
      os << ", zero " << chunk.config.zero << ", recompute "
         << stringifyRecompute(chunk.config.recompute);
    os << llvm::format(": per microbatch forward %.3f ms, backward %.3f ms, "
                       "receive %.3f + %.3f ms; step %.3f ms; ",
                       work.forward * 1e3, work.backward * 1e3,
                       work.receiveForward * 1e3, work.receiveBackward * 1e3,
                       work.step * 1e3)
       << "state " << formatBytes(work.stateBytes) << ", activations "
       << formatBytes(work.activationBytes) << " per microbatch\n";
  }
  for (auto [device, bytes] : llvm::enumerate(timing.memoryBytes))
    os << llvm::format("device %zu: %.0f microbatch", device,
                       timing.inFlight[device])
       << (plan.virtualStages > 1 ? " chunks" : "es") << " in flight, memory "
       << formatBytes(bytes) << "\n";
  os << "search: " << plan.layers << " layers, " << plan.meshes
     << " stage meshes, " << plan.configs << " configurations, "
     << plan.capsTried << " slowest-stage caps";
  if (plan.branchNodes > 0)
    os << ", " << plan.branchNodes << " interleaved partial partitions";
  if (plan.unproven > 0 && plan.getBoundGap() > 0)
    os << llvm::format(" (%lld stopped at the node budget: the pipeline "
                       "within %.2f%% of a lower bound)",
                       static_cast<long long>(plan.unproven),
                       100 * plan.getBoundGap());
  else if (plan.unproven > 0)
    os << " (" << plan.unproven
       << " stopped at the node budget, where their bounds show nothing "
          "faster)";
  const Repetition &repetition = planner.getRepetition();
  if (repetition.count > 0)
    printRepeatedBlock(os, repetition, opText(planner, repetition.start));
  os << "\n";
}

void mlir::autopar::writePipelineJson(llvm::json::OStream &json,
                                      const PipelinePlan &plan,
                                      const Planner &planner) {
  json.attributeObject("pipeline", [&] {
    json.attribute("stages", plan.stages);
    json.attribute("virtual_stages", plan.virtualStages);
    json.attribute("gpus", plan.gpus);
    json.attribute("schedule", stringifyPipelineSchedule(plan.schedule));
    json.attribute("zero", static_cast<int64_t>(plan.config.zero));
    json.attribute("recompute",
                   stringifyRecompute(plan.config.recompute).str());
    json.attribute("microbatches", plan.config.microbatches);
    json.attribute("step_time_s", plan.timing.seconds);
    json.attribute("bubble_s", plan.timing.bubbleSeconds);
    json.attribute("tail_s", plan.timing.tailSeconds);
    json.attributeArray("stages_detail", [&] {
      for (auto [index, chunk] : llvm::enumerate(plan.chunks))
        json.object([&] {
          json.attribute("device", static_cast<int64_t>(index) % plan.stages);
          json.attribute("first_op", chunk.firstNode);
          json.attribute("end_op", chunk.endNode);
          json.attribute("first_loc", opText(planner, chunk.firstNode));
          json.attribute("last_loc", opText(planner, chunk.endNode - 1));
          json.attribute("mesh", chunk.mesh);
          json.attribute("forward_s", chunk.work.forward);
          json.attribute("backward_s", chunk.work.backward);
          json.attribute("receive_forward_s", chunk.work.receiveForward);
          json.attribute("receive_backward_s", chunk.work.receiveBackward);
          json.attribute("step_s", chunk.work.step);
          json.attribute("state_bytes", chunk.work.stateBytes);
          json.attribute("activation_bytes", chunk.work.activationBytes);
          json.attribute("zero", static_cast<int64_t>(chunk.config.zero));
          json.attribute("recompute",
                         stringifyRecompute(chunk.config.recompute).str());
        });
    });
    json.attributeArray("devices", [&] {
      for (auto [device, bytes] : llvm::enumerate(plan.timing.memoryBytes))
        json.object([&] {
          json.attribute("in_flight", plan.timing.inFlight[device]);
          json.attribute("memory_bytes", bytes);
        });
    });
    json.attributeObject("search", [&] {
      json.attribute("layers", plan.layers);
      json.attribute("meshes", plan.meshes);
      json.attribute("configs", plan.configs);
      json.attribute("caps", plan.capsTried);
      json.attribute("interleaved_nodes", plan.branchNodes);
      json.attribute("unproven", plan.unproven);
      json.attribute("bound_gap", plan.getBoundGap());
      const Repetition &repetition = planner.getRepetition();
      if (repetition.count > 0)
        writeRepeatedBlockJson(json, repetition);
    });
  });
}

LogicalResult mlir::autopar::printPipelineTrace(llvm::raw_ostream &os,
                                                const PipelinePlan &plan,
                                                Location loc) {
  // Each device runs its chunks' forwards (F) and backwards (B) in the
  // schedule's order (getPipelineActions), each when its inputs are there.
  int64_t devices = plan.stages, v = plan.virtualStages;
  std::vector<StageWork> works;
  for (const PipelineChunk &chunk : plan.chunks)
    works.push_back(chunk.work);
  PipelineSimulation simulation =
      simulatePipeline(works, plan.config.microbatches, plan.schedule, v);
  if (!simulation.complete)
    return emitError(loc) << "autopar-plan: internal error: the "
                          << stringifyPipelineSchedule(plan.schedule)
                          << " schedule does not complete in simulation";
  struct Event {
    int64_t device;
    std::string name, category;
    double start, duration;
    int64_t microbatch, chunk;
  };
  std::vector<Event> events;
  for (const PipelineSimulation::Entry &entry : simulation.entries) {
    const PipelineAction &action = entry.action;
    std::string name =
        (action.backward ? "B" : "F") + std::to_string(action.microbatch);
    if (v > 1)
      name += " chunk " + std::to_string(action.chunk);
    events.push_back({entry.device, name,
                      action.backward ? "backward" : "forward", entry.start,
                      entry.duration, action.microbatch, action.chunk});
  }
  // Each device's gradient synchronisation and update after its last
  // backward.
  for (int64_t d = 0; d < devices; ++d)
    events.push_back({d, "step (synchronise, update)", "step",
                      simulation.deviceEnd[d],
                      getDeviceStepWork(works, devices, d), -1, -1});
  llvm::json::OStream json(os, /*IndentSize=*/1);
  json.object([&] {
    json.attribute("displayTimeUnit", "ms");
    json.attributeArray("traceEvents", [&] {
      for (int64_t d = 0; d < devices; ++d) {
        std::string name = "stage " + std::to_string(d) + " (";
        if (v > 1) {
          name += "chunks";
          for (int64_t k = 0; k < v; ++k)
            name += " " + std::to_string(k * devices + d);
          name += ", ";
        }
        // Stages that differ in ZeRO stage or recomputation say theirs.
        name += "mesh " + plan.chunks[d].mesh;
        if (!plan.uniformConfig())
          name += ", zero " + std::to_string(plan.chunks[d].config.zero) +
                  ", recompute " +
                  stringifyRecompute(plan.chunks[d].config.recompute).str();
        writeTraceTrackName(json, d, name + ")");
      }
      for (const Event &event : events) {
        auto microbatch = [&] {
          json.attribute("microbatch", event.microbatch);
          if (v > 1)
            json.attribute("chunk", event.chunk);
        };
        writeTraceEvent(json, event.name, event.category, event.device,
                        event.start, event.duration,
                        event.microbatch >= 0
                            ? llvm::function_ref<void()>(microbatch)
                            : nullptr);
      }
    });
  });
  os << "\n";
  return success();
}
