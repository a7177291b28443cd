//===- Pipeline.cpp - pipeline schedules and the stage search -------------===//
//
// See Pipeline.h.
//
//===----------------------------------------------------------------------===//

#include "autopar/Search/Pipeline.h"
#include "autopar/Cost/Overlap.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/Sequence.h"
#include "llvm/ADT/StringSwitch.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <numeric>
#include <optional>

using namespace mlir::autopar;

std::optional<PipelineSchedule>
mlir::autopar::parsePipelineSchedule(llvm::StringRef name) {
  return llvm::StringSwitch<std::optional<PipelineSchedule>>(name)
      .Case("gpipe", PipelineSchedule::GPipe)
      .Case("1f1b", PipelineSchedule::OneFOneB)
      .Case("interleaved", PipelineSchedule::Interleaved)
      .Default(std::nullopt);
}

llvm::StringRef
mlir::autopar::stringifyPipelineSchedule(PipelineSchedule schedule) {
  switch (schedule) {
  case PipelineSchedule::GPipe:
    return "gpipe";
  case PipelineSchedule::OneFOneB:
    return "1f1b";
  case PipelineSchedule::Interleaved:
    return "interleaved";
  }
  return "";
}

/// The forwards device `device` runs before its first backward, of its
/// v * M (Megatron-LM's warm-up): all of them under GPipe, P - d - 1 under
/// 1F1B, (P - d - 1) * 2 + (v - 1) * P interleaved.
static int64_t getWarmup(PipelineSchedule schedule, int64_t devices,
                         int64_t device, int64_t microbatches, int64_t v) {
  int64_t total = v * microbatches;
  if (schedule == PipelineSchedule::GPipe)
    return total;
  int64_t warmup = v == 1 ? devices - device - 1
                          : (devices - device - 1) * 2 + (v - 1) * devices;
  return std::min(warmup, total);
}

double mlir::autopar::getInFlightMicrobatches(PipelineSchedule schedule,
                                              int64_t devices, int64_t device,
                                              int64_t microbatches,
                                              int64_t virtualStages) {
  int64_t v = schedule == PipelineSchedule::OneFOneB
                  ? 1
                  : std::max<int64_t>(virtualStages, 1);
  // The warm-up's forwards, plus the one of the first steady-state step.
  return static_cast<double>(
      std::min(getWarmup(schedule, devices, device, microbatches, v) + 1,
               v * microbatches));
}

/// Per device: the order it runs its actions in (getPipelineActions).
using ScheduleOrders = std::vector<std::vector<PipelineAction>>;
static ScheduleOrders getScheduleOrders(PipelineSchedule schedule,
                                        int64_t devices, int64_t microbatches,
                                        int64_t virtualStages);
/// simulatePipeline, its entries kept or not, on the devices' orders made
/// once by the caller or (null) here.
static PipelineSimulation simulate(const std::vector<StageWork> &chunks,
                                   int64_t microbatches,
                                   PipelineSchedule schedule,
                                   int64_t virtualStages, bool keepEntries,
                                   const ScheduleOrders *orders = nullptr);
static PipelineTiming timeClosedForm(const std::vector<StageWork> &chunks,
                                     int64_t microbatches,
                                     PipelineSchedule schedule,
                                     int64_t virtualStages);

/// Interleaved chunks of uneven time: the closed form prices a device's
/// chunks as if alike, but run in the schedule's order a chunk much lighter
/// than the rest leaves its device waiting for the next one's input. What
/// the order takes beyond the closed form is bubble too.
static void addOrderWaits(PipelineTiming &timing,
                          const std::vector<StageWork> &chunks,
                          int64_t microbatches, PipelineSchedule schedule,
                          int64_t virtualStages,
                          const ScheduleOrders *orders = nullptr) {
  if (schedule != PipelineSchedule::Interleaved || virtualStages <= 1)
    return;
  PipelineSimulation simulation =
      simulate(chunks, microbatches, schedule, virtualStages,
               /*keepEntries=*/false, orders);
  double end = *std::max_element(simulation.deviceEnd.begin(),
                                 simulation.deviceEnd.end());
  double closed = timing.seconds - timing.tailSeconds;
  if (end <= closed)
    return;
  timing.bubbleSeconds += end - closed;
  timing.seconds += end - closed;
}

PipelineTiming mlir::autopar::timePipeline(const std::vector<StageWork> &chunks,
                                           int64_t microbatches,
                                           PipelineSchedule schedule,
                                           int64_t virtualStages) {
  PipelineTiming timing =
      timeClosedForm(chunks, microbatches, schedule, virtualStages);
  addOrderWaits(timing, chunks, microbatches, schedule, virtualStages);
  return timing;
}

/// The closed form of timePipeline.
static PipelineTiming timeClosedForm(const std::vector<StageWork> &chunks,
                                     int64_t microbatches,
                                     PipelineSchedule schedule,
                                     int64_t virtualStages) {
  PipelineTiming timing;
  int64_t v = std::max<int64_t>(virtualStages, 1);
  int64_t devices = static_cast<int64_t>(chunks.size()) / v;
  if (devices <= 0)
    return timing;
  std::vector<double> perDevice(devices, 0), step(devices, 0),
      backward(devices, 0), state(devices, 0), activations(devices, 0),
      transient(devices, 0);
  for (auto [index, chunk] :
       llvm::enumerate(llvm::ArrayRef<StageWork>(chunks))) {
    int64_t d = static_cast<int64_t>(index) % devices;
    perDevice[d] += chunk.perMicrobatch();
    backward[d] += chunk.backward + chunk.receiveBackward;
    state[d] += chunk.stateBytes;
    activations[d] += chunk.activationBytes;
    transient[d] = std::max(transient[d], chunk.transientBytes);
  }
  for (int64_t d = 0; d < devices; ++d)
    step[d] = getDeviceStepWork(chunks, devices, d);
  double slowest = *std::max_element(perDevice.begin(), perDevice.end());
  double total = 0;
  for (double c : perDevice)
    total += c;
  double m = static_cast<double>(microbatches);
  timing.bubbleSeconds = (total - slowest) / static_cast<double>(v);
  // Device d's last backward ends before device 0's by the backwards of
  // the devices before it: its step work hides behind them.
  double slack = 0;
  for (int64_t d = 0; d < devices; ++d) {
    timing.tailSeconds = std::max(timing.tailSeconds, step[d] - slack);
    slack += backward[d] / static_cast<double>(v);
  }
  timing.seconds = m * slowest + timing.bubbleSeconds + timing.tailSeconds;
  for (int64_t d = 0; d < devices; ++d) {
    double inFlight =
        getInFlightMicrobatches(schedule, devices, d, microbatches, v);
    timing.inFlight.push_back(inFlight);
    timing.memoryBytes.push_back(
        state[d] + inFlight * activations[d] / static_cast<double>(v) +
        transient[d]);
  }
  return timing;
}

double mlir::autopar::getDeviceStepWork(const std::vector<StageWork> &chunks,
                                        int64_t devices, int64_t device) {
  double base = 0, latest = 0, queued = 0, each = 0;
  for (size_t c = device; c < chunks.size(); c += devices) {
    const StageWork &chunk = chunks[c];
    each += chunk.step;
    base += chunk.step - chunk.syncExposed;
    if (chunk.syncSeconds <= 0)
      continue;
    // Its reductions end syncExposed past its own last backward; the
    // device's last backward ends the earlier chunks' P backwards later,
    // while their reductions queue on the same stream.
    latest = std::max(latest, chunk.syncExposed + queued);
    queued += chunk.syncSeconds - static_cast<double>(devices) * chunk.backward;
  }
  // (The chunks' own sum bounds it where each exposes at least its
  // reductions less one backward, as the rule does; getRunExposure's
  // estimates across bucket boundaries need not.)
  return std::min(each, base + latest);
}

int64_t mlir::autopar::chooseChunk(llvm::ArrayRef<int64_t> inputChunks,
                                   bool backward) {
  int64_t chosen = -1;
  for (int64_t chunk : inputChunks)
    if (chunk >= 0)
      chosen = chosen < 0 ? chunk
               : backward ? std::min(chosen, chunk)
                          : std::max(chosen, chunk);
  return chosen;
}

std::vector<PipelineAction>
mlir::autopar::getPipelineActions(PipelineSchedule schedule, int64_t devices,
                                  int64_t device, int64_t microbatches,
                                  int64_t virtualStages) {
  std::vector<PipelineAction> actions;
  int64_t v = schedule == PipelineSchedule::Interleaved
                  ? std::max<int64_t>(virtualStages, 1)
                  : 1;
  int64_t total = v * microbatches;
  // The device's k-th forward or backward.
  auto nth = [&](int64_t k, bool backward) -> PipelineAction {
    if (v == 1)
      return {backward, device, k};
    int64_t local = (k / devices) % v;
    if (backward)
      local = v - 1 - local;
    return {backward, local * devices + device,
            (k / (devices * v)) * devices + k % devices};
  };
  int64_t warmup = getWarmup(schedule, devices, device, microbatches, v);
  for (int64_t k = 0; k < warmup; ++k)
    actions.push_back(nth(k, false));
  for (int64_t k = 0; k < total - warmup; ++k) {
    actions.push_back(nth(warmup + k, false));
    actions.push_back(nth(k, true));
  }
  for (int64_t k = total - warmup; k < total; ++k)
    actions.push_back(nth(k, true));
  return actions;
}

std::optional<std::vector<PipelineLoop>>
mlir::autopar::getPipelineLoops(PipelineSchedule schedule, int64_t devices,
                                int64_t device, int64_t microbatches,
                                int64_t virtualStages) {
  std::vector<PipelineLoop> loops;
  if (schedule != PipelineSchedule::Interleaved) {
    int64_t warmup = getWarmup(schedule, devices, device, microbatches, 1);
    loops.push_back({warmup, {{false, device, 0}}});
    loops.push_back(
        {microbatches - warmup, {{false, device, warmup}, {true, device, 0}}});
    loops.push_back({warmup, {{true, device, microbatches - warmup}}});
    return loops;
  }
  // The longest run of actions that each recur one period later, P
  // microbatches on: the steady state, as whole periods.
  int64_t v = std::max<int64_t>(virtualStages, 1);
  std::vector<PipelineAction> actions =
      getPipelineActions(schedule, devices, device, microbatches, v);
  int64_t n = static_cast<int64_t>(actions.size());
  int64_t period = 2 * devices * v;
  auto recurs = [&](int64_t k) {
    const PipelineAction &a = actions[k], &b = actions[k + period];
    return a.backward == b.backward && a.chunk == b.chunk &&
           a.microbatch + devices == b.microbatch;
  };
  int64_t bestStart = 0, bestLength = 0;
  for (int64_t k = 0; k + period < n;) {
    if (!recurs(k)) {
      ++k;
      continue;
    }
    int64_t end = k;
    while (end + period < n && recurs(end))
      ++end;
    if (end - k > bestLength) {
      bestStart = k;
      bestLength = end - k;
    }
    k = end;
  }
  // [start, start + length + period) repeats: that many whole periods.
  int64_t periods = bestLength > 0 ? (bestLength + period) / period : 0;
  auto once = [&](int64_t begin, int64_t end) {
    if (begin < end)
      loops.push_back({1,
                       std::vector<PipelineAction>(actions.begin() + begin,
                                                   actions.begin() + end),
                       1});
  };
  if (periods < 2) {
    once(0, n);
    return loops;
  }
  once(0, bestStart);
  loops.push_back(
      {periods,
       std::vector<PipelineAction>(actions.begin() + bestStart,
                                   actions.begin() + bestStart + period),
       devices});
  once(bestStart + periods * period, n);
  return loops;
}

PipelineSimulation
mlir::autopar::simulatePipeline(const std::vector<StageWork> &chunks,
                                int64_t microbatches, PipelineSchedule schedule,
                                int64_t virtualStages) {
  return simulate(chunks, microbatches, schedule, virtualStages,
                  /*keepEntries=*/true);
}

static ScheduleOrders getScheduleOrders(PipelineSchedule schedule,
                                        int64_t devices, int64_t microbatches,
                                        int64_t virtualStages) {
  ScheduleOrders orders(devices);
  for (int64_t d = 0; d < devices; ++d)
    orders[d] =
        getPipelineActions(schedule, devices, d, microbatches, virtualStages);
  return orders;
}

static PipelineSimulation simulate(const std::vector<StageWork> &chunks,
                                   int64_t microbatches,
                                   PipelineSchedule schedule,
                                   int64_t virtualStages, bool keepEntries,
                                   const ScheduleOrders *orders) {
  PipelineSimulation simulation;
  int64_t v = schedule == PipelineSchedule::Interleaved
                  ? std::max<int64_t>(virtualStages, 1)
                  : 1;
  int64_t count = static_cast<int64_t>(chunks.size());
  int64_t devices = count / v;
  if (devices <= 0 || microbatches <= 0)
    return simulation;
  ScheduleOrders own;
  if (!orders) {
    own = getScheduleOrders(schedule, devices, microbatches, v);
    orders = &own;
  }
  const ScheduleOrders &order = *orders;
  constexpr double kNotYet = -1;
  // Per chunk and microbatch: when its forward and backward end.
  std::vector<double> forwardEnd(count * microbatches, kNotYet);
  std::vector<double> backwardEnd = forwardEnd;
  auto at = [&](int64_t c, int64_t m) { return c * microbatches + m; };
  std::vector<size_t> next(devices, 0);
  std::vector<int64_t> held(devices, 0);
  simulation.deviceEnd.assign(devices, 0);
  simulation.peakInFlight.assign(devices, 0);
  bool progress = true;
  while (progress) {
    progress = false;
    for (int64_t d = 0; d < devices; ++d) {
      while (next[d] < order[d].size()) {
        PipelineAction action = order[d][next[d]];
        int64_t c = action.chunk, m = action.microbatch;
        const StageWork &work = chunks[c];
        double ready = simulation.deviceEnd[d];
        if (!action.backward) {
          if (c > 0) {
            if (forwardEnd[at(c - 1, m)] == kNotYet)
              break;
            ready = std::max(ready, forwardEnd[at(c - 1, m)]);
          }
        } else {
          if (c + 1 < count) {
            if (backwardEnd[at(c + 1, m)] == kNotYet)
              break;
            ready = std::max(ready, backwardEnd[at(c + 1, m)]);
          }
          if (forwardEnd[at(c, m)] == kNotYet)
            break;
          ready = std::max(ready, forwardEnd[at(c, m)]);
        }
        double duration = action.backward ? work.backward + work.receiveBackward
                                          : work.forward + work.receiveForward;
        (action.backward ? backwardEnd : forwardEnd)[at(c, m)] =
            ready + duration;
        simulation.deviceEnd[d] = ready + duration;
        held[d] += action.backward ? -1 : 1;
        simulation.peakInFlight[d] =
            std::max(simulation.peakInFlight[d], held[d]);
        if (keepEntries)
          simulation.entries.push_back({action, d, ready, duration});
        ++next[d];
        progress = true;
      }
    }
  }
  simulation.complete =
      llvm::all_of(llvm::seq<int64_t>(0, devices),
                   [&](int64_t d) { return next[d] == order[d].size(); });
  return simulation;
}

StageWork mlir::autopar::getStageWork(const StageSearchProblem &problem,
                                      int64_t begin, int64_t end,
                                      unsigned mesh) {
  const StageSearchProblem::Mesh &on = problem.meshes[mesh];
  StageWork work;
  double gathered = 0;
  RunReductions sync;
  for (int64_t k = begin; k < end; ++k) {
    const StageSearchProblem::Layer &layer = on.layers[k];
    work.forward += layer.forward;
    work.backward += layer.backward;
    work.step += layer.step;
    sync.add(layer.sync);
    work.stateBytes += layer.stateBytes;
    work.activationBytes += layer.activationBytes;
    work.transientBytes = std::max(work.transientBytes, layer.transientBytes);
    gathered += layer.gatherBytes;
  }
  work.transientBytes += std::min(on.gatherHoldBytes, gathered);
  if (begin < end) {
    work.forward += on.layers[begin].leadSeconds;
    work.backward += on.layers[end - 1].trailSeconds;
    work.syncExposed = sync.exposure(on.layers[begin].sync);
    work.syncSeconds = sync.seconds;
    work.step += work.syncExposed;
  }
  work.receiveForward = on.cutSeconds[begin];
  work.receiveBackward = on.cutSeconds[end];
  return work;
}

namespace {
/// Range sums of one mesh's layers, for O(1) stage costs.
struct Prefix {
  std::vector<double> compute, state, activations, step;
  /// firstStep[j]: the step work of the first chunk [0, j) (getStageWork's,
  /// summed in its order; device 0's, which the tail is at least).
  std::vector<double> firstStep;
  /// transient[i * (K + 1) + j]: the largest working set of layers [i, j)
  /// and the ZeRO-3 gathered parameters they hold (getStageWork).
  std::vector<double> transient;
  int64_t layers = 0;

  explicit Prefix(const StageSearchProblem::Mesh &mesh) {
    layers = static_cast<int64_t>(mesh.layers.size());
    compute.assign(layers + 1, 0);
    state.assign(layers + 1, 0);
    activations.assign(layers + 1, 0);
    step.assign(layers + 1, 0);
    firstStep.assign(layers + 1, 0);
    std::vector<double> gathered(layers + 1, 0);
    RunReductions sync;
    for (int64_t k = 0; k < layers; ++k) {
      const StageSearchProblem::Layer &layer = mesh.layers[k];
      compute[k + 1] = compute[k] + layer.forward + layer.backward;
      state[k + 1] = state[k] + layer.stateBytes;
      activations[k + 1] = activations[k] + layer.activationBytes;
      step[k + 1] = step[k] + layer.step;
      sync.add(layer.sync);
      firstStep[k + 1] = step[k + 1] + sync.exposure(mesh.layers.front().sync);
      gathered[k + 1] = gathered[k] + layer.gatherBytes;
    }
    transient.assign((layers + 1) * (layers + 1), 0);
    for (int64_t i = 0; i < layers; ++i) {
      double most = 0;
      for (int64_t j = i + 1; j <= layers; ++j) {
        most = std::max(most, mesh.layers[j - 1].transientBytes);
        transient[i * (layers + 1) + j] =
            most + std::min(mesh.gatherHoldBytes, gathered[j] - gathered[i]);
      }
    }
  }
};

/// What the search minimises: the whole time timePipeline gives a
/// partition, its tail included. The schedule's order is run only where
/// the closed form (never above it) is below `cutoff`: above, the
/// partition loses either way.
double pipelineSeconds(const StageSearchProblem &problem,
                       const std::vector<StageAssignment> &chunks,
                       PipelineTiming &timing,
                       double cutoff = std::numeric_limits<double>::infinity(),
                       const ScheduleOrders *orders = nullptr) {
  std::vector<StageWork> works;
  works.reserve(chunks.size());
  for (const StageAssignment &chunk : chunks)
    works.push_back(getStageWork(problem, chunk.begin, chunk.end, chunk.mesh));
  timing = timeClosedForm(works, problem.microbatches, problem.schedule,
                          problem.virtualStages);
  if (timing.seconds < cutoff)
    addOrderWaits(timing, works, problem.microbatches, problem.schedule,
                  problem.virtualStages, orders);
  return timing.seconds;
}

bool fits(const StageSearchProblem &problem, const PipelineTiming &timing) {
  if (problem.memoryCapacity <= 0)
    return true;
  return llvm::all_of(timing.memoryBytes, [&](double bytes) {
    return bytes <= problem.memoryCapacity;
  });
}

/// A lower bound on the interleaved closed form that sees whole layers.
/// The closed form is (M - 1/v) times the busiest device's load plus S / v
/// (S the chunks' costs summed). For weights lambda_d >= 0 summing to one
/// the busiest load is at least sum_d lambda_d load_d, so every partition
/// takes at least sum_p w_p cost_p, w_p = (M - 1/v) lambda_{p mod P} + 1/v.
/// The least of that over partitions, each chunk on its cheapest plan its
/// device may run and memory ignored (a relaxation), is a DP over chunks
/// and layers, linear in the layers because a chunk's cost is its end's
/// term plus its start's (A(j) + B(i), prefix sums inside). Unlike the
/// water-filling bound it cannot split a layer between devices. The
/// weights are raised by projected subgradient steps (a device's
/// subgradient is its load in the minimising partition); `rest` gives the
/// least weighted cost of completing a partial partition, for the branch
/// and bound's nodes. Both add device 0's step work, which the tail is at
/// least (nothing hides it): the bound is on the whole time.
class LayerBound {
public:
  LayerBound(const StageSearchProblem &problem,
             const std::vector<Prefix> &prefixes,
             llvm::ArrayRef<unsigned> plans)
      : problem(problem), prefixes(prefixes), layers(prefixes.front().layers),
        devices(problem.stages),
        chunks(problem.stages * std::max<int64_t>(problem.virtualStages, 1)),
        perChunk(1 / static_cast<double>(chunks / devices)),
        slope(static_cast<double>(problem.microbatches) - perChunk),
        lambda(devices, 1 / static_cast<double>(devices)), plansOf(devices) {
    for (int64_t d = 0; d < devices; ++d)
      for (unsigned mesh : plans)
        if (problem.allowsMesh(d, mesh))
          plansOf[d].push_back(mesh);
  }

  /// Raises the weights, at most `steps` subgradient steps towards
  /// `target` (the best time known), stopping once the bound reaches it.
  /// Returns the best bound.
  double raise(double target, int64_t steps) {
    std::vector<double> weights = lambda, loads;
    double scale = 1;
    int64_t stale = 0;
    for (int64_t step = 0; step < steps; ++step) {
      double bound = solve(weights, &loads, slope, perChunk, /*tail=*/1);
      if (bound > best) {
        best = bound;
        lambda = weights;
        stale = 0;
      } else if (++stale >= 4) {
        scale /= 2;
        stale = 0;
      }
      if (!std::isfinite(bound) || !std::isfinite(target) ||
          best >= target * (1 - 1e-12))
        break;
      // Towards the loads above the weighted mean (Polyak's step length
      // to the target), then back onto the simplex.
      double mean = 0;
      for (int64_t d = 0; d < devices; ++d)
        mean += loads[d] / static_cast<double>(devices);
      double norm = 0;
      for (int64_t d = 0; d < devices; ++d)
        norm += (slope * (loads[d] - mean)) * (slope * (loads[d] - mean));
      if (norm <= 0)
        break;
      double length = scale * (target - bound) / norm;
      for (int64_t d = 0; d < devices; ++d)
        weights[d] += length * slope * (loads[d] - mean);
      projectToSimplex(weights);
    }
    return best;
  }

  double getBound() const { return best; }
  /// The least S, the chunks' costs summed, of any partition.
  double getLeastSum() {
    std::vector<double> loads;
    return solve(lambda, &loads, 0, 1, /*tail=*/0);
  }
  double getWeight(int64_t device) const { return lambda[device]; }

  /// Fills `rest`: rest(q, j) the least weighted cost (the best weights) of
  /// chunks q .. N - 1 over layers [j, K), with device 0's step work.
  void prepareRest() {
    suffix.assign((chunks + 1) * (layers + 1), kNone);
    suffix[chunks * (layers + 1) + layers] = 0;
    for (int64_t q = chunks - 1; q >= 0; --q) {
      double w = weightOf(q), tail = q % devices == 0 ? 1 : 0;
      // Chunk q starts at i in [q, K - (N - q)] and ends at j in
      // (i, K - (N - 1 - q)].
      int64_t lastEnd = layers - (chunks - 1 - q);
      for (unsigned mesh : plansOf[q % devices]) {
        double after = kNone;
        for (int64_t i = lastEnd - 1; i >= q; --i) {
          int64_t j = i + 1;
          double next = suffix[(q + 1) * (layers + 1) + j];
          if (next != kNone)
            after = std::min(after, w * endTerm(mesh, j) +
                                        tail * prefixes[mesh].step[j] + next);
          if (after == kNone)
            continue;
          double &at = suffix[q * (layers + 1) + i];
          at = std::min(at, w * startTerm(mesh, i) -
                                tail * prefixes[mesh].step[i] + after);
        }
      }
    }
  }
  double rest(int64_t q, int64_t j) const {
    return suffix[q * (layers + 1) + j];
  }

private:
  static constexpr double kNone = std::numeric_limits<double>::infinity();

  double weightOf(int64_t chunk) const {
    return slope * lambda[chunk % devices] + perChunk;
  }
  /// A chunk [i, j) on `mesh` costs endTerm(j) + startTerm(i).
  double endTerm(unsigned mesh, int64_t j) const {
    const StageSearchProblem::Mesh &on = problem.meshes[mesh];
    return prefixes[mesh].compute[j] + on.layers[j - 1].trailSeconds +
           on.cutSeconds[j];
  }
  double startTerm(unsigned mesh, int64_t i) const {
    const StageSearchProblem::Mesh &on = problem.meshes[mesh];
    return on.layers[i].leadSeconds + on.cutSeconds[i] -
           prefixes[mesh].compute[i];
  }

  /// The least weighted cost, chunk p weighing `scale` times its device's
  /// weight plus `base`, plus `tail` times device 0's step work, and, in
  /// `loads`, each device's load in the partition that takes it.
  double solve(const std::vector<double> &weights, std::vector<double> *loads,
               double scale, double base, double tail) {
    sum.assign((chunks + 1) * (layers + 1), kNone);
    from.assign(sum.size(), {-1, 0});
    sum[0] = 0;
    for (int64_t p = 1; p <= chunks; ++p) {
      double w = scale * weights[(p - 1) % devices] + base;
      double t = (p - 1) % devices == 0 ? tail : 0;
      int64_t lastEnd = layers - (chunks - p);
      for (unsigned mesh : plansOf[(p - 1) % devices]) {
        // The least sum[p - 1][i] + w B(i) over the starts i < j so far.
        double before = kNone;
        int64_t arg = -1;
        for (int64_t j = p; j <= lastEnd; ++j) {
          int64_t i = j - 1;
          double previous = sum[(p - 1) * (layers + 1) + i];
          double start = w * startTerm(mesh, i) - t * prefixes[mesh].step[i];
          if (previous != kNone && previous + start < before) {
            before = previous + start;
            arg = i;
          }
          if (before == kNone)
            continue;
          double total =
              before + w * endTerm(mesh, j) + t * prefixes[mesh].step[j];
          double &at = sum[p * (layers + 1) + j];
          if (total < at) {
            at = total;
            from[p * (layers + 1) + j] = {arg, mesh};
          }
        }
      }
    }
    double total = sum[chunks * (layers + 1) + layers];
    loads->assign(devices, 0);
    if (total == kNone)
      return total;
    int64_t j = layers;
    for (int64_t p = chunks; p >= 1; --p) {
      auto [i, mesh] = from[p * (layers + 1) + j];
      (*loads)[(p - 1) % devices] += endTerm(mesh, j) + startTerm(mesh, i);
      j = i;
    }
    return total;
  }

  /// The Euclidean projection onto {x >= 0, sum x = 1}.
  static void projectToSimplex(std::vector<double> &x) {
    std::vector<double> sorted = x;
    llvm::sort(sorted, std::greater<double>());
    double running = 0, shift = 0;
    for (auto [k, value] : llvm::enumerate(sorted)) {
      running += value;
      double candidate = (running - 1) / static_cast<double>(k + 1);
      if (value - candidate > 0)
        shift = candidate;
    }
    for (double &value : x)
      value = std::max(0.0, value - shift);
  }

  const StageSearchProblem &problem;
  const std::vector<Prefix> &prefixes;
  int64_t layers, devices, chunks;
  /// 1/v and M - 1/v: a chunk's weight in S / v and the busiest load's.
  double perChunk, slope;
  /// The best weights and their bound.
  std::vector<double> lambda;
  double best = -kNone;
  std::vector<std::vector<unsigned>> plansOf;
  std::vector<double> sum, suffix;
  std::vector<std::pair<int64_t, unsigned>> from;
};
} // namespace

StageSearchResult
mlir::autopar::searchStages(const StageSearchProblem &problem) {
  StageSearchResult result;
  if (problem.meshes.empty())
    return result;
  int64_t layers = static_cast<int64_t>(problem.meshes.front().layers.size());
  int64_t v = std::max<int64_t>(problem.virtualStages, 1);
  int64_t devices = problem.stages;
  int64_t chunks = devices * v;
  if (devices <= 0 || chunks > layers)
    return result;
  unsigned meshCount = problem.meshes.size();
  // The devices' orders, for the interleaved schedule's runs.
  ScheduleOrders orders;
  if (problem.schedule == PipelineSchedule::Interleaved && v > 1)
    orders =
        getScheduleOrders(problem.schedule, devices, problem.microbatches, v);
  std::vector<Prefix> prefixes;
  for (const StageSearchProblem::Mesh &mesh : problem.meshes)
    prefixes.emplace_back(mesh);
  auto cost = [&](int64_t i, int64_t j, unsigned m) {
    const Prefix &prefix = prefixes[m];
    const std::vector<StageSearchProblem::Layer> &on = problem.meshes[m].layers;
    return prefix.compute[j] - prefix.compute[i] + on[i].leadSeconds +
           on[j - 1].trailSeconds + problem.meshes[m].cutSeconds[i] +
           problem.meshes[m].cutSeconds[j];
  };
  // With v = 1, chunk p is device p: its memory is known inside the DP.
  std::vector<double> inFlight(devices);
  for (int64_t device = 0; device < devices; ++device)
    inFlight[device] = getInFlightMicrobatches(problem.schedule, devices,
                                               device, problem.microbatches, 1);
  auto memory = [&](int64_t i, int64_t j, unsigned m, int64_t device) {
    const Prefix &prefix = prefixes[m];
    return prefix.state[j] - prefix.state[i] +
           inFlight[device] * (prefix.activations[j] - prefix.activations[i]) +
           prefix.transient[i * (layers + 1) + j];
  };
  bool perChunkMemory = v == 1 && problem.memoryCapacity > 0;

  // The caps on the slowest chunk (v = 1): every stage cost that fits.
  std::vector<double> caps;
  for (unsigned m = 0; m < meshCount && v == 1; ++m)
    for (int64_t i = 0; i < layers; ++i)
      for (int64_t j = i + 1; j <= layers; ++j) {
        if (perChunkMemory &&
            memory(i, j, m, devices - 1) > problem.memoryCapacity)
          continue;
        caps.push_back(cost(i, j, m));
      }
  llvm::sort(caps);
  caps.erase(std::unique(caps.begin(), caps.end()), caps.end());

  // Only pipelines faster than the incumbent count.
  double best = problem.incumbent;
  constexpr double kNone = std::numeric_limits<double>::infinity();
  // sum[p * (K + 1) + j]: least sum of chunk costs of layers [0, j) in p
  // chunks; from[]: the previous boundary and the mesh.
  std::vector<double> sum((chunks + 1) * (layers + 1));
  std::vector<std::pair<int64_t, unsigned>> from(sum.size());
  // The chunks' costs sum to at least every layer on its cheapest mesh:
  // no chunk can be below that sum's share, and a partition whose slowest
  // chunk takes C takes at least that sum plus (M - 1) * C.
  double least = 0;
  for (int64_t k = 0; k < layers; ++k) {
    double cheapest = std::numeric_limits<double>::infinity();
    for (unsigned mesh = 0; mesh < meshCount; ++mesh)
      cheapest = std::min(cheapest, prefixes[mesh].compute[k + 1] -
                                        prefixes[mesh].compute[k]);
    least += cheapest;
  }
  double m = static_cast<double>(problem.microbatches);
  // The least sum of chunk costs (plus the first chunk's step work when
  // `withFirstStep`) with every chunk at most `cap` on the meshes `allowed`
  // (and within memory), and its partition; false when none exists.
  auto solve = [&](double cap, const std::vector<unsigned> &allowed,
                   std::vector<StageAssignment> &partition, double &total,
                   bool withFirstStep) {
    std::fill(sum.begin(), sum.end(), kNone);
    sum[0] = 0;
    // A chunk [i, j) on a mesh costs at least its layers' compute, so
    // under the cap it starts no earlier than where that compute reaches
    // compute[j] + cut[j] - cap: the first such i per mesh.
    std::vector<int64_t> firstStart(allowed.size());
    for (int64_t p = 1; p <= chunks; ++p) {
      // Chunk p - 1 ends at j; the chunks after it need a layer each.
      for (int64_t j = p; j <= layers - (chunks - p); ++j) {
        double least = kNone;
        // (Made only for a tie, -1 until then: a stage's reductions take
        // a walk over its layers.)
        double leastStep = -1;
        std::pair<int64_t, unsigned> arg{-1, 0};
        int64_t earliest = j;
        for (auto [a, mesh] : llvm::enumerate(allowed)) {
          const std::vector<double> &compute = prefixes[mesh].compute;
          double threshold =
              compute[j] + problem.meshes[mesh].cutSeconds[j] - cap;
          // (Kept a rounding error lower: a bound, never a cut.)
          threshold -= 1e-9 * (std::abs(compute[j]) + std::abs(cap));
          firstStart[a] = std::lower_bound(compute.begin(), compute.begin() + j,
                                           threshold) -
                          compute.begin();
          earliest = std::min(earliest, firstStart[a]);
        }
        for (int64_t i = std::max(p - 1, earliest); i < j; ++i) {
          double before = sum[(p - 1) * (layers + 1) + i];
          if (before == kNone)
            continue;
          for (auto [a, mesh] : llvm::enumerate(allowed)) {
            if (i < firstStart[a] || !problem.allowsMesh(p - 1, mesh))
              continue;
            double c = cost(i, j, mesh);
            if (c > cap)
              continue;
            if (perChunkMemory &&
                memory(i, j, mesh, p - 1) > problem.memoryCapacity)
              continue;
            // Plans of the same chunk at equal sums (differing only in
            // their step work, as ZeRO-0 and ZeRO-1 do): the least step
            // work. (The first chunk's is in its sum.)
            double total = before + c;
            if (withFirstStep && p == 1)
              total += prefixes[mesh].firstStep[j];
            if (total > least)
              continue;
            if (total == least && i == arg.first) {
              if (leastStep < 0)
                leastStep = getStageWork(problem, i, j, arg.second).step;
              double step = getStageWork(problem, i, j, mesh).step;
              if (step >= leastStep)
                continue;
              leastStep = step;
            } else if (total == least) {
              continue;
            } else {
              leastStep = -1;
            }
            least = total;
            arg = {i, mesh};
          }
        }
        sum[p * (layers + 1) + j] = least;
        from[p * (layers + 1) + j] = arg;
      }
    }
    total = sum[chunks * (layers + 1) + layers];
    if (total == kNone)
      return false;
    partition.assign(chunks, StageAssignment());
    int64_t j = layers;
    for (int64_t p = chunks; p >= 1; --p) {
      auto [i, mesh] = from[p * (layers + 1) + j];
      partition[p - 1] = {i, j, mesh};
      j = i;
    }
    return true;
  };
  // Takes the partition if it fits and beats the best; returns its time
  // (timed in full only below `cutoff`) when it fits.
  auto consider = [&](std::vector<StageAssignment> &partition,
                      double cutoff) -> std::optional<double> {
    PipelineTiming timing;
    double seconds =
        pipelineSeconds(problem, partition, timing, cutoff, &orders);
    if (!fits(problem, timing))
      return std::nullopt;
    if (seconds < best * (1 - 1e-12)) {
      best = seconds;
      result.found = true;
      result.chunks = std::move(partition);
      result.timing = timing;
      result.seconds = seconds;
    }
    return seconds;
  };

  if (v == 1) {
    // The pipeline takes the chunks' sum plus (M - 1) times the slowest
    // plus the tail, at least device 0's step work (the first chunk's).
    // For a sum that counts that step work or not, the least time is on
    // the frontier of (slowest chunk, least sum). Walk each from the top:
    // the least sum under a cap, then the next cap strictly below that
    // partition's slowest chunk (every cap in between gives the same sum).
    // Each step lowers the slowest chunk and raises the sum; a walk stops
    // when the sum plus (M - 1) times the least any chunk can take reaches
    // the best pipeline. The partitions met are timed whole. Exact for the
    // time without the tail (the first walk) and for the time with the
    // tail taken as device 0's step work (the second): each best
    // partition's slowest chunk is a cap its walk cannot step over without
    // finding a partition at least as good. The tail is more than that
    // where a later stage's step work outlasts the backwards still flowing
    // to device 0 (a stage whose reductions outweigh its compute): there
    // the least of the second walk's sums bounds the time from below.
    double floor = least / static_cast<double>(chunks);
    std::vector<unsigned> allMeshes(meshCount);
    for (unsigned mesh = 0; mesh < meshCount; ++mesh)
      allMeshes[mesh] = mesh;
    std::vector<StageAssignment> partition;
    double lowest = kNone;
    for (bool withFirstStep : {false, true}) {
      double cap = caps.empty() ? kNone : caps.back();
      while (!caps.empty()) {
        ++result.capsTried;
        double total = 0;
        if (!solve(cap, allMeshes, partition, total, withFirstStep))
          break;
        double slowest = 0;
        for (const StageAssignment &chunk : partition)
          slowest = std::max(slowest, cost(chunk.begin, chunk.end, chunk.mesh));
        if (withFirstStep)
          lowest = std::min(lowest, total + (m - 1) * slowest);
        consider(partition, best * (1 - 1e-12));
        if (total + (m - 1) * floor >= best * (1 - 1e-12))
          break;
        auto below = std::lower_bound(caps.begin(), caps.end(), slowest);
        if (below == caps.begin())
          break;
        cap = *std::prev(below);
        if (cap * static_cast<double>(chunks) < least * (1 - 1e-12))
          break;
      }
    }
    result.lowerBound = std::min(best, lowest);
    return result;
  }

  // v > 1: every chunk on one mesh plan (a DP per plan). Device d runs
  // chunks d, d + P, ...; the pipeline takes (M - 1/v) times the busiest
  // device's load plus the chunks' sum over v. The busiest load is at least
  // the slowest chunk and at least the sum over P, so with a sum of at
  // least S it takes at least S ((M - 1/v) / P + 1/v): plans are taken in
  // the order of that bound on their layers' sum, and one whose bound
  // reaches the best pipeline is not searched. Per plan, caps on the
  // slowest chunk ascending from the balanced one: the least-sum partition
  // under each, timed as it runs, until a cap C gives (M - 1/v) C plus the
  // sum over v at least the best, or kPatience partitions in a row bring
  // nothing faster (a heuristic: the DP balances chunks, not devices; a
  // larger cap makes chunks, and so devices, less even).
  constexpr int64_t kPatience = 8;
  // The subgradient steps that raise LayerBound's weights.
  constexpr int64_t kLayerBoundSteps = 64;
  // The DP's partition, then boundaries moved a layer at a time while
  // that makes the pipeline faster (or makes it fit): the busiest device
  // sheds a layer to a neighbouring chunk. Returns the time.
  // (Moves are priced by the closed form alone: running the schedule's
  // order for each would cost more than the rest of the search; the
  // partition found is then timed in full.)
  auto refine = [&](std::vector<StageAssignment> &partition) {
    auto score = [&](const std::vector<StageAssignment> &candidate) {
      PipelineTiming timing;
      double seconds = pipelineSeconds(
          problem, candidate, timing, -std::numeric_limits<double>::infinity());
      return std::make_pair(!fits(problem, timing), seconds);
    };
    std::pair<bool, double> current = score(partition);
    for (int64_t round = 0; round < layers * chunks; ++round) {
      std::pair<bool, double> bestMove = current;
      int64_t bestBoundary = -1, bestShift = 0;
      int64_t bestWidth = 1;
      // Boundaries k .. k + width - 1 shifted by one layer together (one
      // boundary, or a whole chunk moved along).
      auto shiftBoundaries = [&](int64_t k, int64_t width, int64_t shift) {
        for (int64_t b = k; b < k + width; ++b)
          partition[b - 1].end = partition[b].begin += shift;
      };
      for (int64_t width = 1; width <= 2; ++width)
        for (int64_t k = 1; k + width - 1 < chunks; ++k)
          for (int64_t shift : {-1, 1}) {
            shiftBoundaries(k, width, shift);
            // Every chunk keeps a layer.
            bool legal = true;
            for (int64_t c = k - 1; c < k + width; ++c)
              legal &= partition[c].begin < partition[c].end;
            std::pair<bool, double> moved = legal ? score(partition) : bestMove;
            shiftBoundaries(k, width, -shift);
            if (moved.first < bestMove.first ||
                (moved.first == bestMove.first &&
                 moved.second < bestMove.second * (1 - 1e-12))) {
              bestMove = moved;
              bestBoundary = k;
              bestShift = shift;
              bestWidth = width;
            }
          }
      if (bestBoundary < 0)
        break;
      shiftBoundaries(bestBoundary, bestWidth, bestShift);
      current = bestMove;
    }
    return current.second;
  };
  // The least slowest chunk of any partition on `mesh` (infinite if none):
  // slowest[p * (K + 1) + j] over the first p chunks ending at j, with
  // solve's ranges and meshes, so that a cap is feasible for solve exactly
  // when it is at least this.
  auto leastSlowest = [&](unsigned mesh) {
    std::fill(sum.begin(), sum.end(), kNone);
    sum[0] = 0;
    for (int64_t p = 1; p <= chunks; ++p) {
      if (!problem.allowsMesh(p - 1, mesh))
        return kNone;
      for (int64_t j = p; j <= layers - (chunks - p); ++j) {
        double least = kNone;
        for (int64_t i = p - 1; i < j; ++i) {
          double before = sum[(p - 1) * (layers + 1) + i];
          if (before == kNone)
            continue;
          least = std::min(least, std::max(before, cost(i, j, mesh)));
        }
        sum[p * (layers + 1) + j] = least;
      }
    }
    return sum[chunks * (layers + 1) + layers];
  };
  double vd = static_cast<double>(v);
  auto bound = [&](double sum) {
    return sum * ((m - 1 / vd) / static_cast<double>(devices) + 1 / vd);
  };
  std::vector<unsigned> order(meshCount);
  for (unsigned mesh = 0; mesh < meshCount; ++mesh)
    order[mesh] = mesh;
  llvm::stable_sort(order, [&](unsigned a, unsigned b) {
    return prefixes[a].compute[layers] < prefixes[b].compute[layers];
  });
  // The plan of the heuristic's fastest partition that fits, whether or
  // not it beat an incumbent from elsewhere: the branch and bound tries it
  // first.
  double fastest = kNone;
  int64_t guide = -1;
  for (unsigned mesh : order) {
    double layersSum = prefixes[mesh].compute[layers];
    if (bound(layersSum) >= best * (1 - 1e-12))
      break;
    std::vector<double> meshCaps;
    for (int64_t i = 0; i < layers; ++i)
      for (int64_t j = i + 1; j <= layers; ++j)
        meshCaps.push_back(cost(i, j, mesh));
    llvm::sort(meshCaps);
    meshCaps.erase(std::unique(meshCaps.begin(), meshCaps.end()),
                   meshCaps.end());
    const std::vector<unsigned> allowed = {mesh};
    double found = std::numeric_limits<double>::infinity();
    int64_t stale = 0;
    // The least cap with a partition: the least slowest chunk of any
    // partition on this plan (one min-max DP, counted as one cap).
    auto first =
        std::lower_bound(meshCaps.begin(), meshCaps.end(),
                         layersSum / static_cast<double>(chunks) * (1 - 1e-12));
    ++result.capsTried;
    first = std::lower_bound(first, meshCaps.end(), leastSlowest(mesh));
    for (auto it = first; it != meshCaps.end() && stale < kPatience; ++it) {
      double cap = *it;
      if ((m - 1 / vd) * cap + layersSum / vd >= best * (1 - 1e-12))
        break;
      ++result.capsTried;
      std::vector<StageAssignment> partition;
      double total = 0;
      if (!solve(cap, allowed, partition, total, /*withFirstStep=*/false))
        continue;
      double seconds = refine(partition);
      if (seconds < found * (1 - 1e-12)) {
        found = seconds;
        stale = 0;
      } else {
        ++stale;
      }
      if (std::optional<double> timed = consider(partition, kNone);
          timed && *timed < fastest) {
        fastest = *timed;
        guide = mesh;
      }
    }
  }

  // Then a branch and bound over the chunks' boundaries and each device's
  // plan (its chunks share one; the heuristic's best, on one plan for all,
  // is the incumbent): it proves that pipeline the best or finds a faster
  // one. Chunks are placed in order, a device's plan chosen with its first
  // chunk (the incumbent's first, then by their layers' sum), each
  // device's load (its chunks' per-microbatch work) and memory kept as
  // they grow, each chunk's ends nearest an even share first; a partial
  // partition is cut when its memory breaks the limit or when even its
  // best completion cannot beat the incumbent by the closed form,
  // (M - 1/v) times the busiest load plus S / v, which the time never goes
  // below: the remaining layers' compute, the start of the next chunk and
  // the cheapest boundaries the remaining chunks must cross (on the
  // cheapest plan for each) bound S from below, and the busiest load is
  // at least each device's load plus a layer per chunk it has left, the
  // level the work left reaches in the devices' headroom, and the load of
  // the ceil(K / P) layers some device runs; and the weighted loads plus
  // the least weighted completion (LayerBound) bound the time too. At the
  // root the latter two may prove the incumbent without a node. (Pruning
  // partial partitions dominated in every load and S is not sound: the
  // schedule's order waits on the chunks, not the loads.) Within the
  // problem's node budget; beyond, the best found so far is kept, not
  // proven, with a lower bound beside it.
  int64_t nodes = 0;
  // The plans some device may run, cheapest first, the incumbent's first.
  std::vector<unsigned> plans;
  for (unsigned mesh : order)
    if (llvm::any_of(llvm::seq<int64_t>(0, devices),
                     [&](int64_t d) { return problem.allowsMesh(d, mesh); }))
      plans.push_back(mesh);
  if (result.found)
    guide = result.chunks.front().mesh;
  if (auto it = llvm::find(plans, guide); it != plans.end())
    std::rotate(plans.begin(), it, std::next(it));
  // Over the plans: the least compute of each layer (prefix sums), of a
  // boundary at b or later (the end of the chunk before it and the start
  // of the one after), of a layer from b on.
  std::vector<double> leastCompute(layers + 1, 0);
  std::vector<double> leastBoundary(layers + 1, kNone),
      leastLayer(layers + 1, kNone);
  for (int64_t b = 0; b < layers; ++b) {
    double cheapest = kNone;
    for (unsigned mesh : plans)
      cheapest = std::min(cheapest, prefixes[mesh].compute[b + 1] -
                                        prefixes[mesh].compute[b]);
    leastCompute[b + 1] = leastCompute[b] + cheapest;
  }
  // And the least a chunk adds by starting at layer b (startAt) and the
  // last chunk by ending at the last layer (leastLast).
  std::vector<double> startAt(layers, kNone);
  double leastLast = kNone;
  for (int64_t b = layers - 1; b >= 0; --b) {
    leastLayer[b] =
        std::min(leastLayer[b + 1], leastCompute[b + 1] - leastCompute[b]);
    double crossing = kNone;
    for (unsigned mesh : plans) {
      const StageSearchProblem::Mesh &on = problem.meshes[mesh];
      startAt[b] =
          std::min(startAt[b], on.layers[b].leadSeconds + on.cutSeconds[b]);
      if (b > 0)
        crossing = std::min(crossing, on.layers[b - 1].trailSeconds +
                                          on.layers[b].leadSeconds +
                                          2 * on.cutSeconds[b]);
      if (b == layers - 1)
        leastLast = std::min(leastLast,
                             on.layers[b].trailSeconds + on.cutSeconds[layers]);
    }
    leastBoundary[b] = std::min(leastBoundary[b + 1], crossing);
  }
  std::vector<double> load(devices, 0), state(devices, 0),
      activations(devices, 0), transient(devices, 0);
  std::vector<int64_t> devicePlan(devices, -1);
  std::vector<double> deviceInFlight(devices);
  for (int64_t d = 0; d < devices; ++d)
    deviceInFlight[d] = getInFlightMicrobatches(problem.schedule, devices, d,
                                                problem.microbatches, v);
  std::vector<StageAssignment> partition(chunks);
  double slope = m - 1 / vd;
  bool exhausted = false;
  // Some device runs at least k = ceil(K / P) layers, all on one plan: one
  // on which k layers fit in memory (the k least memories, at the least
  // microbatches in flight, within the limit). Its load is at least the
  // compute of the k cheapest layers on that plan plus the least ends of v
  // chunks (at most one of them the first chunk, one the last): the least
  // of that over such plans bounds the busiest load.
  double countBusiest = 0;
  if (layers > 1) {
    int64_t most = (layers + devices - 1) / devices;
    double leastInFlight =
        *std::min_element(deviceInFlight.begin(), deviceInFlight.end());
    countBusiest = kNone;
    std::vector<double> costs(layers), bytes(layers);
    for (unsigned mesh : plans) {
      const Prefix &prefix = prefixes[mesh];
      const StageSearchProblem::Mesh &on = problem.meshes[mesh];
      for (int64_t k = 0; k < layers; ++k) {
        costs[k] = prefix.compute[k + 1] - prefix.compute[k];
        bytes[k] = prefix.state[k + 1] - prefix.state[k] +
                   leastInFlight *
                       (prefix.activations[k + 1] - prefix.activations[k]) / vd;
      }
      llvm::sort(costs);
      llvm::sort(bytes);
      double held = 0, load = 0;
      for (int64_t k = 0; k < most; ++k) {
        held += bytes[k];
        load += costs[k];
      }
      if (problem.memoryCapacity > 0 && held > problem.memoryCapacity)
        continue;
      double start = kNone, end = kNone;
      for (int64_t b = 1; b < layers; ++b) {
        start = std::min(start, on.layers[b].leadSeconds + on.cutSeconds[b]);
        end = std::min(end, on.layers[b - 1].trailSeconds + on.cutSeconds[b]);
      }
      load += (vd - 1) * (start + end) +
              std::min(start, on.layers[0].leadSeconds) +
              std::min(end, on.layers[layers - 1].trailSeconds);
      countBusiest = std::min(countBusiest, load);
    }
  }
  // The tail is at least device 0's step work (nothing hides it): at
  // least that of v layers on a plan it may run.
  double leastTail = kNone;
  for (unsigned mesh : plans) {
    if (!problem.allowsMesh(0, mesh))
      continue;
    std::vector<double> steps(layers);
    for (int64_t k = 0; k < layers; ++k)
      steps[k] = prefixes[mesh].step[k + 1] - prefixes[mesh].step[k];
    llvm::sort(steps);
    leastTail = std::min(
        leastTail, std::accumulate(steps.begin(), steps.begin() + v, 0.0));
  }
  // The bounds that see whole layers: when they reach the incumbent at the
  // root, the incumbent is the best and no node is visited.
  LayerBound layerBound(problem, prefixes, plans);
  double rootBound = -kNone;
  if (!plans.empty()) {
    rootBound =
        slope * countBusiest + layerBound.getLeastSum() / vd + leastTail;
    if (rootBound < best * (1 - 1e-12))
      rootBound = std::max(rootBound, layerBound.raise(best, kLayerBoundSteps));
  }
  bool proven = plans.empty() || rootBound >= best * (1 - 1e-12);
  if (!proven)
    layerBound.prepareRest();
  std::vector<double> loads;
  // Device 0's step work so far: the tail is at least that.
  double firstStep = 0;
  // Places chunk p from layer i on; `sum` is S so far.
  std::function<void(int64_t, int64_t, double)> place = [&](int64_t p,
                                                            int64_t i,
                                                            double sum) {
    if (exhausted)
      return;
    if (++nodes > problem.nodeBudget) {
      exhausted = true;
      return;
    }
    int64_t d = p % devices;
    int64_t last = layers - (chunks - p - 1);
    int64_t left = chunks - p - 1;
    // Every completion's S is at least the layers' compute from i on (on
    // their cheapest plans): a bound on the chunk's own end j.
    double restCompute = leastCompute[layers] - leastCompute[i];
    std::vector<unsigned> choices;
    if (devicePlan[d] >= 0)
      choices.push_back(devicePlan[d]);
    else
      for (unsigned mesh : plans)
        if (problem.allowsMesh(p, mesh))
          choices.push_back(mesh);
    for (unsigned mesh : choices) {
      const Prefix &prefix = prefixes[mesh];
      // The chunk's ends, those nearest an even share first: the device's
      // part of the layers' compute left (the devices' loads levelled)
      // over its chunks left. (The last chunk ends at the last layer.)
      int64_t own = (chunks - 1 - p) / devices + 1;
      double level = prefix.compute[layers] - prefix.compute[i];
      for (double l : load)
        level += l;
      double share = (level / static_cast<double>(devices) - load[d]) /
                     static_cast<double>(own);
      std::vector<int64_t> ends;
      for (int64_t j = p + 1 == chunks ? layers : i + 1; j <= last; ++j) {
        double compute = prefix.compute[j] - prefix.compute[i];
        if (slope * (load[d] + compute) + (sum + restCompute) / vd >=
            best * (1 - 1e-12))
          break;
        ends.push_back(j);
      }
      llvm::stable_sort(ends, [&](int64_t a, int64_t b) {
        return std::abs(prefix.compute[a] - prefix.compute[i] - share) <
               std::abs(prefix.compute[b] - prefix.compute[i] - share);
      });
      for (int64_t j : ends) {
        double c = cost(i, j, mesh);
        double chunkState = prefix.state[j] - prefix.state[i];
        double chunkActivations = prefix.activations[j] - prefix.activations[i];
        double chunkTransient = prefix.transient[i * (layers + 1) + j];
        double newTransient = std::max(transient[d], chunkTransient);
        double newFirstStep =
            firstStep + (d == 0 ? prefix.step[j] - prefix.step[i] : 0);
        if (problem.memoryCapacity > 0 &&
            state[d] + chunkState +
                    deviceInFlight[d] * (activations[d] + chunkActivations) /
                        vd +
                    newTransient >
                problem.memoryCapacity)
          continue;
        double newSum = sum + c;
        double least = newSum;
        double busiest = 0;
        if (left > 0) {
          // The next chunk's start, the boundaries after it, the last
          // chunk's end, the layers' compute.
          least += startAt[j] +
                   (left - 1) * (left > 1 ? leastBoundary[j + 1] : 0) +
                   leastLast + leastCompute[layers] - leastCompute[j];
          for (int64_t e = 0; e < devices; ++e) {
            // Chunks p + 1 .. N - 1 that run on device e.
            int64_t first =
                p + 1 + ((e - (p + 1) % devices) + devices) % devices;
            int64_t count =
                first < chunks ? (chunks - 1 - first) / devices + 1 : 0;
            busiest = std::max(busiest,
                               (e == d ? load[d] + c : load[e]) +
                                   static_cast<double>(count) * leastLayer[j]);
          }
          // The work left fills the devices' headroom below the busiest
          // load: the level it reaches (water-filling; at least S / P).
          double rest = least - newSum;
          loads.assign(load.begin(), load.end());
          loads[d] += c;
          llvm::sort(loads);
          double filled = 0;
          for (int64_t e = 0; e < devices; ++e) {
            // Raising the e + 1 least loaded to the next load.
            double next = e + 1 < devices ? loads[e + 1] : kNone;
            filled += loads[e];
            double level = (filled + rest) / static_cast<double>(e + 1);
            if (level <= next) {
              busiest = std::max(busiest, level);
              break;
            }
          }
        } else {
          for (int64_t e = 0; e < devices; ++e)
            busiest = std::max(busiest, e == d ? load[d] + c : load[e]);
        }
        busiest = std::max(busiest, countBusiest);
        if (slope * busiest + least / vd + newFirstStep >= best * (1 - 1e-12))
          continue;
        // The weighted loads so far and the least weighted completion.
        double weighted = 0;
        for (int64_t e = 0; e < devices; ++e)
          weighted +=
              layerBound.getWeight(e) * (e == d ? load[d] + c : load[e]);
        if (slope * weighted + newSum / vd + layerBound.rest(p + 1, j) +
                newFirstStep >=
            best * (1 - 1e-12))
          continue;
        partition[p] = {i, j, mesh};
        if (left == 0) {
          std::vector<StageAssignment> complete = partition;
          consider(complete, best * (1 - 1e-12));
          continue;
        }
        double savedLoad = load[d], savedState = state[d],
               savedActivations = activations[d], savedTransient = transient[d];
        int64_t savedPlan = devicePlan[d];
        double savedFirstStep = firstStep;
        firstStep = newFirstStep;
        load[d] += c;
        state[d] += chunkState;
        activations[d] += chunkActivations;
        transient[d] = newTransient;
        devicePlan[d] = mesh;
        place(p + 1, j, newSum);
        load[d] = savedLoad;
        state[d] = savedState;
        activations[d] = savedActivations;
        transient[d] = savedTransient;
        devicePlan[d] = savedPlan;
        firstStep = savedFirstStep;
      }
    }
  };
  if (!proven)
    place(0, 0, 0);
  if (exhausted) {
    result.exact = false;
    // What no partition goes below: the layers' compute and cheapest
    // boundaries, levelled over the devices, or the bound that sees whole
    // layers.
    double least = leastCompute[layers] + startAt[0] +
                   (chunks > 1 ? (chunks - 1) * leastBoundary[1] : 0) +
                   leastLast;
    result.lowerBound =
        std::min(result.lowerBound,
                 std::max(slope * least / static_cast<double>(devices) +
                              least / vd + leastTail,
                          rootBound));
  }
  result.lowerBound = std::min(result.lowerBound, best);
  result.nodes = nodes;
  return result;
}

StageSearchResult
mlir::autopar::enumerateStages(const StageSearchProblem &problem) {
  StageSearchResult result;
  if (problem.meshes.empty())
    return result;
  int64_t layers = static_cast<int64_t>(problem.meshes.front().layers.size());
  int64_t v = std::max<int64_t>(problem.virtualStages, 1);
  int64_t chunks = problem.stages * v;
  if (chunks <= 0 || chunks > layers)
    return result;
  unsigned meshCount = problem.meshes.size();
  double best = std::numeric_limits<double>::infinity();
  std::vector<StageAssignment> partition;
  std::function<void(int64_t)> extend = [&](int64_t begin) {
    int64_t p = static_cast<int64_t>(partition.size());
    if (p == chunks) {
      if (begin != layers)
        return;
      // Chunks of one device share its mesh.
      for (int64_t c = problem.stages; c < chunks; ++c)
        if (partition[c].mesh != partition[c % problem.stages].mesh)
          return;
      PipelineTiming timing;
      double seconds = pipelineSeconds(problem, partition, timing);
      if (fits(problem, timing) && seconds < best * (1 - 1e-12)) {
        best = seconds;
        result.found = true;
        result.chunks = partition;
        result.timing = timing;
        result.seconds = seconds;
      }
      return;
    }
    for (int64_t end = begin + 1; end <= layers - (chunks - p - 1); ++end)
      for (unsigned mesh = 0; mesh < meshCount; ++mesh) {
        if (!problem.allowsMesh(p, mesh))
          continue;
        partition.push_back({begin, end, mesh});
        extend(end);
        partition.pop_back();
      }
  };
  extend(0);
  return result;
}
