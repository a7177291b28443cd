//===- PipelineTest.cpp - schedules' arithmetic, the stage search ---------===//
//
// Prints the schedules' time, bubble and activations in flight for P equal
// stages (the textbook figures: bubble (P - 1) / (v * M) of the ideal time,
// 1F1B holding P - s microbatches on stage s, GPipe all M), and checks the
// stage search against enumeration of every partition on random problems
// (random per-layer costs on two or three stage meshes, memory limits that
// cut some partitions out): equal times whenever a partition exists, for
// every schedule, v = 1. Prints a summary line that the lit test checks.
//
//===----------------------------------------------------------------------===//

#include "autopar/Search/Pipeline.h"
#include "llvm/ADT/STLExtras.h"

#include <cmath>
#include <cstdio>
#include <random>

using namespace mlir::autopar;

namespace {
void printSchedule(PipelineSchedule schedule, int64_t stages,
                   int64_t microbatches, int64_t virtualStages) {
  // Stage work of one microbatch: forward 1, backward 2; each stage's
  // gradients synchronised in 4 after its last backward.
  std::vector<StageWork> chunks(stages * virtualStages);
  for (StageWork &chunk : chunks) {
    chunk.forward = 1.0 / virtualStages;
    chunk.backward = 2.0 / virtualStages;
    chunk.step = 4.0 / virtualStages;
    chunk.activationBytes = 100.0 / virtualStages;
  }
  PipelineTiming timing =
      timePipeline(chunks, microbatches, schedule, virtualStages);
  std::printf("%s P=%lld M=%lld v=%lld: time %.2f, bubble %.2f (%.4f of "
              "%.0f), tail %.2f, in flight",
              stringifyPipelineSchedule(schedule).str().c_str(),
              static_cast<long long>(stages),
              static_cast<long long>(microbatches),
              static_cast<long long>(virtualStages), timing.seconds,
              timing.bubbleSeconds,
              timing.bubbleSeconds / (3.0 * static_cast<double>(microbatches)),
              3.0 * static_cast<double>(microbatches), timing.tailSeconds);
  for (double inFlight : timing.inFlight)
    std::printf(" %.0f", inFlight);
  std::printf(", activation bytes");
  for (double bytes : timing.memoryBytes)
    std::printf(" %.0f", bytes);
  PipelineSimulation simulation =
      simulatePipeline(chunks, microbatches, schedule, virtualStages);
  double end = 0;
  for (double deviceEnd : simulation.deviceEnd)
    end = std::max(end, deviceEnd);
  std::printf("; simulated: last backward %.2f\n", end);
}

struct Random {
  std::mt19937_64 engine{20261202};
  unsigned below(unsigned n) { return static_cast<unsigned>(engine() % n); }
  double unit() { return static_cast<double>(engine() % 1000) / 1000.0; }
};

/// Whether the search and enumeration agree that a partition exists; when
/// not, prints the `what` trial and counts a failure.
bool agreeOnFound(const char *what, unsigned trial,
                  const StageSearchResult &searched,
                  const StageSearchResult &enumerated, unsigned &failures) {
  if (searched.found == enumerated.found)
    return true;
  ++failures;
  std::printf("%strial %u: search found %d, enumeration %d\n", what, trial,
              searched.found, enumerated.found);
  return false;
}

/// A random stage plan of `layers` layers named m<index>: compute, step
/// work and cuts, and with `memory` the layers' bytes.
StageSearchProblem::Mesh randomMesh(Random &random, unsigned index,
                                    int64_t layers, bool memory) {
  StageSearchProblem::Mesh mesh;
  mesh.name = "m" + std::to_string(index);
  for (int64_t k = 0; k < layers; ++k) {
    StageSearchProblem::Layer layer;
    layer.forward = 0.1 + random.unit();
    layer.backward = 2 * layer.forward * (0.5 + random.unit());
    layer.step = random.unit();
    if (memory) {
      layer.stateBytes = 10 + 100 * random.unit();
      layer.activationBytes = 10 + 50 * random.unit();
      layer.transientBytes = 20 * random.unit();
      // Plans m1 (ZeRO-3's) gather parameters of half the state's bytes
      // and hold at most 40 of them at once; a stage's first layer adds a
      // lead of 30% of its forward, its last a trail of 20% of its
      // backward (no random draw: the problems after these stay the same).
      if (index == 1) {
        layer.gatherBytes = layer.stateBytes / 2;
        layer.leadSeconds = 0.3 * layer.forward;
        layer.trailSeconds = 0.2 * layer.backward;
      }
    }
    mesh.layers.push_back(layer);
  }
  if (memory && index == 1)
    mesh.gatherHoldBytes = 40;
  mesh.cutSeconds.push_back(0);
  for (int64_t k = 1; k < layers; ++k)
    mesh.cutSeconds.push_back(0.2 * random.unit());
  mesh.cutSeconds.push_back(0);
  return mesh;
}

/// A random interleaved problem's shape: 2-3 devices, 2-3 chunks each,
/// microbatches a multiple of the devices; returns its layer count, the
/// chunks and up to 5 more.
int64_t randomInterleaved(Random &random, StageSearchProblem &problem) {
  problem.schedule = PipelineSchedule::Interleaved;
  problem.stages = 2 + random.below(2);
  problem.virtualStages = 2 + random.below(2);
  int64_t layers = problem.stages * problem.virtualStages + random.below(6);
  problem.microbatches = problem.stages * (1 + random.below(4));
  return layers;
}

/// Every schedule's order (getPipelineActions) for P = 1..6 devices, v =
/// 2..4 chunks per device (interleaved), M microbatches: each device runs
/// each of its chunks' forward and backward of every microbatch once, a
/// backward after its forward; the devices, simulated with random chunk
/// times, all finish (the order cannot deadlock); the activations a device
/// holds at most are what the memory model prices
/// (getInFlightMicrobatches); the loops (getPipelineLoops) expand to the
/// same order. Returns the failures.
unsigned checkSchedules(Random &random, unsigned &orders) {
  unsigned failures = 0;
  const PipelineSchedule schedules[] = {PipelineSchedule::GPipe,
                                        PipelineSchedule::OneFOneB,
                                        PipelineSchedule::Interleaved};
  for (PipelineSchedule schedule : schedules)
    for (int64_t p = 1; p <= 6; ++p)
      for (int64_t v = 1; v <= 4; ++v) {
        bool interleaved = schedule == PipelineSchedule::Interleaved;
        if (interleaved != (v > 1))
          continue;
        for (int64_t m = 1; m <= 3 * p; ++m) {
          if (interleaved && m % p != 0)
            continue;
          ++orders;
          std::vector<StageWork> chunks(p * v);
          for (StageWork &chunk : chunks) {
            chunk.forward = 0.1 + random.unit();
            chunk.backward = 0.1 + 2 * random.unit();
            chunk.receiveForward = 0.1 * random.unit();
          }
          bool ok = true;
          for (int64_t d = 0; d < p; ++d) {
            std::vector<PipelineAction> actions =
                getPipelineActions(schedule, p, d, m, v);
            std::vector<int> seen(p * v * m * 2, 0);
            for (const PipelineAction &action : actions) {
              int64_t c = action.chunk, k = action.microbatch;
              if (c % p != d || c >= p * v || k < 0 || k >= m ||
                  (action.backward && seen[(c * m + k) * 2] == 0)) {
                ok = false;
                break;
              }
              ++seen[(c * m + k) * 2 + action.backward];
            }
            for (int64_t c = d; c < p * v; c += p)
              for (int64_t k = 0; k < m; ++k)
                ok &= seen[(c * m + k) * 2] == 1 &&
                      seen[(c * m + k) * 2 + 1] == 1;
          }
          // The loops, expanded, are the same order.
          for (int64_t d = 0; d < p; ++d) {
            std::optional<std::vector<PipelineLoop>> loops =
                getPipelineLoops(schedule, p, d, m, v);
            if (!loops) {
              ok = false;
              continue;
            }
            std::vector<PipelineAction> expanded;
            size_t written = 0;
            for (const PipelineLoop &loop : *loops) {
              written += loop.body.size();
              for (int64_t i = 0; i < loop.count; ++i)
                for (PipelineAction action : loop.body) {
                  action.microbatch += loop.stride * i;
                  expanded.push_back(action);
                }
            }
            // Interleaved, the loops' bodies hold O(P v) actions whatever
            // M: at most the warm-up, two periods and the cool-down.
            if (interleaved && m >= 3 * p)
              ok &= static_cast<int64_t>(written) <=
                    2 * (2 * (p - 1) + (v - 1) * p) + 2 * (2 * p * v);
            // Every chunk's last backward is in the device's last loop that
            // runs (autopar-partition peels that loop's last iteration so
            // that each chunk's gradient synchronisation starts inside its
            // last backward).
            const PipelineLoop *last = nullptr;
            for (const PipelineLoop &loop : *loops)
              if (loop.count > 0)
                last = &loop;
            for (int64_t c = d; last && c < p * v; c += p)
              ok &= llvm::any_of(last->body, [&](const PipelineAction &a) {
                return a.backward && a.chunk == c;
              });
            std::vector<PipelineAction> actions =
                getPipelineActions(schedule, p, d, m, v);
            ok &= expanded.size() == actions.size();
            for (size_t i = 0; ok && i < actions.size(); ++i)
              ok &= expanded[i].backward == actions[i].backward &&
                    expanded[i].chunk == actions[i].chunk &&
                    expanded[i].microbatch == actions[i].microbatch;
          }
          PipelineSimulation simulation =
              simulatePipeline(chunks, m, schedule, v);
          ok &= simulation.complete;
          for (int64_t d = 0; ok && d < p; ++d)
            ok &= static_cast<double>(simulation.peakInFlight[d]) ==
                  getInFlightMicrobatches(schedule, p, d, m, v);
          if (!ok) {
            ++failures;
            std::printf("schedule %s P=%lld v=%lld M=%lld: wrong order, "
                        "deadlock or in-flight count\n",
                        stringifyPipelineSchedule(schedule).str().c_str(),
                        static_cast<long long>(p), static_cast<long long>(v),
                        static_cast<long long>(m));
          }
        }
      }
  return failures;
}
} // namespace

int main() {
  printSchedule(PipelineSchedule::GPipe, 4, 8, 1);
  printSchedule(PipelineSchedule::OneFOneB, 4, 8, 1);
  printSchedule(PipelineSchedule::Interleaved, 4, 8, 2);
  printSchedule(PipelineSchedule::OneFOneB, 4, 2, 1);
  {
    // Uneven interleaved chunks: chunks 0 and 1 a tenth of chunks 2 and 3.
    // The closed form prices each device's two chunks as if alike (3.3 a
    // microbatch each: 2 x 3.3 + 3.3 / 2 = 8.25); in the schedule's order
    // at M = 2 the heavy chunks of both microbatches wait for the light
    // ones and then run back to back, so the order takes longer, and the
    // time is the order's (its excess is bubble).
    std::vector<StageWork> chunks(4);
    for (auto [index, chunk] : llvm::enumerate(chunks)) {
      chunk.forward = index < 2 ? 0.1 : 1;
      chunk.backward = 2 * chunk.forward;
    }
    double closed = 2 * 3.3 + 3.3 / 2;
    PipelineTiming timing =
        timePipeline(chunks, 2, PipelineSchedule::Interleaved, 2);
    PipelineSimulation simulation =
        simulatePipeline(chunks, 2, PipelineSchedule::Interleaved, 2);
    double end = *std::max_element(simulation.deviceEnd.begin(),
                                   simulation.deviceEnd.end());
    std::printf("uneven interleaved P=2 M=2 v=2: closed form %.2f, "
                "simulated: last backward %.2f, time %.2f, bubble %.2f\n",
                closed, end, timing.seconds, timing.bubbleSeconds);
  }
  // The interleaved schedule as loops: the same program size at M = 16
  // and M = 64.
  for (int64_t m : {16, 64})
    for (int64_t d : {0, 3}) {
      std::printf("interleaved P=4 M=%lld v=2 device %lld loops:",
                  static_cast<long long>(m), static_cast<long long>(d));
      std::optional<std::vector<PipelineLoop>> loops =
          getPipelineLoops(PipelineSchedule::Interleaved, 4, d, m, 2);
      for (const PipelineLoop &loop : *loops)
        std::printf(" %lld x %zu (stride %lld)",
                    static_cast<long long>(loop.count), loop.body.size(),
                    static_cast<long long>(loop.stride));
      std::printf("\n");
    }
  // ZeRO-3's gathered parameters in a stage's memory: three layers of 50
  // gathered bytes each (working set 10), two units at most 60: a stage of
  // one layer holds its 50, of two or three the 60.
  {
    StageSearchProblem problem;
    problem.stages = 1;
    problem.microbatches = 1;
    StageSearchProblem::Mesh mesh;
    mesh.name = "zero3";
    for (int k = 0; k < 3; ++k) {
      StageSearchProblem::Layer layer;
      layer.transientBytes = 10;
      layer.gatherBytes = 50;
      mesh.layers.push_back(layer);
    }
    mesh.cutSeconds.assign(4, 0);
    mesh.gatherHoldBytes = 60;
    problem.meshes.push_back(mesh);
    std::printf("zero-3 stage working sets:");
    for (int64_t end = 1; end <= 3; ++end)
      std::printf(" %g", getStageWork(problem, 0, end, 0).transientBytes);
    // The search's own prefix sums agree: one stage of all three layers
    // fits in 70 bytes, not in 69.
    for (double capacity : {70.0, 69.0}) {
      problem.memoryCapacity = capacity;
      std::printf("; in %g: %s", capacity,
                  searchStages(problem).found ? "fits" : "does not fit");
    }
    std::printf("\n");
  }

  // A device's step work with its chunks' reductions (P = 2, v = 2):
  // device 0 runs chunks 0 and 2, each with 1 of update and 2 of
  // reductions, of which 1.5 past its own last backward (0.5 a
  // microbatch). Chunk 2's reductions end 1.5 after its last backward,
  // 0.5 after the device's (P = 2 of chunk 0's backwards, 1, later);
  // chunk 0's 2, queued behind them, end 2.5 after it (1.5 alone): 2 +
  // 2.5 = 4.5 against the chunks' own sum, 5. One chunk a device: its
  // own, 2.5.
  {
    std::vector<StageWork> chunks(4);
    for (StageWork &chunk : chunks) {
      chunk.backward = 0.5;
      chunk.syncSeconds = 2;
      chunk.syncExposed = 1.5;
      chunk.step = 1 + chunk.syncExposed;
    }
    std::printf("device step work, P=2 v=2: %.2f (its chunks alone %.2f); "
                "v=1: %.2f\n",
                getDeviceStepWork(chunks, 2, 0), 2 * chunks[0].step,
                getDeviceStepWork(chunks, 4, 0));
  }

  Random random;
  unsigned orders = 0;
  unsigned failures = checkSchedules(random, orders);
  std::printf("schedule orders: %u, failures: %u\n", orders, failures);
  unsigned problems = 0, found = 0, none = 0, pinned = 0, kinds = 0;
  // Found pipelines whose tail is more than device 0's step work (a later
  // stage's step work outlasting the backwards still flowing to device 0).
  unsigned longerTails = 0, bestFound = 0, bestProven = 0;
  const PipelineSchedule schedules[] = {PipelineSchedule::GPipe,
                                        PipelineSchedule::OneFOneB};
  for (unsigned trial = 0; trial < 300; ++trial) {
    StageSearchProblem problem;
    int64_t layers = 2 + random.below(6);
    problem.stages = 1 + random.below(std::min<unsigned>(4, layers));
    problem.microbatches = 1 + random.below(8);
    problem.schedule = schedules[random.below(2)];
    unsigned meshes = 1 + random.below(3);
    for (unsigned m = 0; m < meshes; ++m) {
      StageSearchProblem::Mesh mesh = randomMesh(random, m, layers, true);
      mesh.shape = random.below(2);
      mesh.kind = random.below(3);
      problem.meshes.push_back(std::move(mesh));
    }
    // A quarter get a copy of the first plan whose step work is half
    // (ZeRO-1 beside ZeRO-0): equal per-microbatch costs, so no chunk may
    // be left on the first plan.
    bool lighter = random.below(4) == 0;
    if (lighter) {
      StageSearchProblem::Mesh copy = problem.meshes.front();
      copy.name += " (half the step)";
      for (StageSearchProblem::Layer &layer : copy.layers)
        layer.step /= 2;
      problem.meshes.push_back(std::move(copy));
    }
    // A third of the problems pin each stage's mesh shape (mesh=4,2x2), a
    // third the kinds of step each stage may run (recompute=full,none).
    if (random.below(3) == 0)
      for (int64_t p = 0; p < problem.stages; ++p)
        problem.stageShapes.push_back(random.below(2));
    if (random.below(3) == 0)
      for (int64_t p = 0; p < problem.stages; ++p)
        problem.stageKinds.push_back(1 + random.below(7));
    // Half the problems get a limit that some partitions break.
    if (random.below(2))
      problem.memoryCapacity = 100 + 400 * random.unit();
    ++problems;
    pinned += !problem.stageShapes.empty();
    kinds += !problem.stageKinds.empty();
    StageSearchResult searched = searchStages(problem);
    StageSearchResult enumerated = enumerateStages(problem);
    if (!agreeOnFound("", trial, searched, enumerated, failures))
      continue;
    if (!enumerated.found) {
      ++none;
      continue;
    }
    ++found;
    if (!problem.stageShapes.empty())
      for (auto [p, chunk] : llvm::enumerate(searched.chunks))
        if (problem.meshes[chunk.mesh].shape != problem.stageShapes[p]) {
          ++failures;
          std::printf("trial %u: stage %zu on a mesh of another shape\n", trial,
                      p);
        }
    for (auto [p, chunk] : llvm::enumerate(searched.chunks)) {
      if (!problem.allowsMesh(p, chunk.mesh)) {
        ++failures;
        std::printf("trial %u: stage %zu runs a kind it may not\n", trial, p);
      }
      if (lighter && chunk.mesh == 0) {
        ++failures;
        std::printf("trial %u: stage %zu on the plan with more step work\n",
                    trial, p);
      }
    }
    const StageAssignment &first = searched.chunks.front();
    longerTails +=
        searched.timing.tailSeconds >
        getStageWork(problem, first.begin, first.end, first.mesh).step *
            (1 + 1e-12);
    // The whole time: never below the best (a timing bug), the bound never
    // above it.
    double a = searched.seconds, b = enumerated.seconds;
    double tolerance = 1e-9 * std::max(1.0, b);
    if (a < b - tolerance || searched.lowerBound > b + tolerance) {
      ++failures;
      std::printf("trial %u: search %.9f (bound %.9f), enumeration %.9f\n",
                  trial, a, searched.lowerBound, b);
    }
    bestFound += a <= b + tolerance;
    bestProven += searched.lowerBound >= a - tolerance;
    // An incumbent just above the search's pipeline changes nothing; just
    // below it, nothing is faster.
    StageSearchProblem bounded = problem;
    bounded.incumbent = a * (1 + 1e-6);
    StageSearchResult above = searchStages(bounded);
    bounded.incumbent = a * (1 - 1e-6);
    StageSearchResult below = searchStages(bounded);
    if (!above.found ||
        std::fabs(above.seconds - a) > 1e-9 * std::max(1.0, a) || below.found) {
      ++failures;
      std::printf("trial %u: with an incumbent the search finds %d / %d\n",
                  trial, above.found, below.found);
    }
  }
  std::printf("problems: %u (stage shapes pinned: %u, step kinds pinned: "
              "%u), partitions found: %u (the best: %u, proven: %u; tail "
              "above device 0's step work: %u), none fits: %u, failures: "
              "%u\n",
              problems, pinned, kinds, found, bestFound, bestProven,
              longerTails, none, failures);

  // The interleaved search (its DP balances chunks, the schedule's time
  // follows the busiest device; a branch and bound then proves or
  // improves the result) against enumeration on random problems, a third
  // under a memory limit: it finds a pipeline whenever one exists, never
  // one faster than the best (which would be a timing bug), and how often
  // it finds the best, proves it (within its node budget) and how far it
  // is from it at worst are printed.
  unsigned interleaved = 0, best = 0, proven = 0, limited = 0, fitless = 0;
  double worst = 1;
  int64_t mostNodes = 0, allNodes = 0;
  unsigned rootProven = 0;
  unsigned stopped = 0, stoppedNone = 0, twoPlans = 0;
  double worstStopped = 1, loosest = 1;
  for (unsigned trial = 0; trial < 200; ++trial) {
    StageSearchProblem problem;
    int64_t layers = randomInterleaved(random, problem);
    // A third of the problems take ZeRO-3's plan (leads, trails, gathered
    // parameters) and a memory limit that some partitions break; a third
    // a second plan too (of another mesh shape in half), each device
    // choosing one for all its chunks, and then half of those pin a plan
    // per device.
    bool memory = random.below(3) == 0;
    problem.meshes.push_back(
        randomMesh(random, memory ? 1 : 0, layers, memory));
    if (memory) {
      problem.memoryCapacity = 150 + 350 * random.unit();
      ++limited;
    }
    if (random.below(3) == 0) {
      StageSearchProblem::Mesh second = randomMesh(random, 2, layers, memory);
      second.kind = 1;
      // (Of another mesh shape in half.)
      second.shape = random.below(2);
      problem.meshes.push_back(std::move(second));
      ++twoPlans;
      if (random.below(2))
        for (int64_t d = 0; d < problem.stages; ++d)
          problem.stageKinds.push_back(d == 0 ? 1 : 1 + random.below(3));
    }
    ++interleaved;
    StageSearchResult searched = searchStages(problem);
    StageSearchResult enumerated = enumerateStages(problem);
    mostNodes = std::max(mostNodes, searched.nodes);
    allNodes += searched.nodes;
    rootProven += searched.exact && searched.nodes == 0;
    proven += searched.exact;
    if (!agreeOnFound("interleaved ", trial, searched, enumerated, failures))
      continue;
    if (!enumerated.found) {
      ++fitless;
      ++best;
      continue;
    }
    double a = searched.timing.seconds;
    double b = enumerated.timing.seconds;
    if (a < b * (1 - 1e-9)) {
      ++failures;
      std::printf("interleaved trial %u: search %.9f below enumeration %.9f\n",
                  trial, a, b);
    }
    best += a <= b * (1 + 1e-9);
    worst = std::max(worst, a / b);
    // With a budget of 4 partial partitions the branch and bound stops
    // early: the heuristic's pipeline (or one it improved) is kept, never
    // below the best, and the lower bound it reports is at most the best.
    StageSearchProblem budgeted = problem;
    budgeted.nodeBudget = 4;
    StageSearchResult early = searchStages(budgeted);
    if (!early.exact) {
      ++stopped;
      double c = early.found ? early.timing.seconds
                             : std::numeric_limits<double>::infinity();
      if (c < b * (1 - 1e-9) || early.lowerBound > b * (1 + 1e-9)) {
        ++failures;
        std::printf("interleaved trial %u: stopped early at %.9f, bound "
                    "%.9f, best %.9f\n",
                    trial, c, early.lowerBound, b);
      }
      if (early.found)
        worstStopped = std::max(worstStopped, c / b);
      else
        ++stoppedNone;
      loosest = std::max(loosest, b / early.lowerBound);
    }
  }
  std::printf("interleaved problems: %u (memory limited: %u, two plans: %u, "
              "none fits: %u), the best found: %u, proven: %u, worst %.4f of "
              "the best, most nodes: %lld, failures: %u\n",
              interleaved, limited, twoPlans, fitless, best, proven, worst,
              static_cast<long long>(mostNodes), failures);
  std::printf("nodes: %lld in all, proven without one: %u\n",
              static_cast<long long>(allNodes), rootProven);
  std::printf("stopped at 4 nodes: %u (none found: %u), worst %.4f of the "
              "best, the best at most %.4f of the bound\n",
              stopped, stoppedNone, worstStopped, loosest);

  // Transformer-like problems: identical blocks between a first and a last
  // layer of their own, on a fast plan and a recomputing one (4/3 of the
  // compute, a quarter of the activations), under a memory limit in half
  // of them. Here whole layers decide the busiest device (some device runs
  // ceil(K / P) of them, on a plan where they fit): the search's bounds
  // prove most of them without a node.
  unsigned blockProblems = 0, blockBest = 0, blockProven = 0, blockRoot = 0;
  int64_t blockNodes = 0;
  for (unsigned trial = 0; trial < 100; ++trial) {
    StageSearchProblem problem;
    int64_t layers = randomInterleaved(random, problem);
    StageSearchProblem::Mesh fast = randomMesh(random, 0, layers, true);
    for (int64_t k = 2; k + 1 < layers; ++k)
      fast.layers[k] = fast.layers[1];
    for (int64_t k = 2; k < layers; ++k)
      fast.cutSeconds[k] = fast.cutSeconds[1];
    StageSearchProblem::Mesh recompute = fast;
    recompute.name = "recompute";
    recompute.kind = 1;
    for (StageSearchProblem::Layer &layer : recompute.layers) {
      layer.backward += layer.forward;
      layer.activationBytes /= 4;
    }
    problem.meshes = {fast, recompute};
    if (random.below(2)) {
      // Between the least a device could hold and the most.
      double state = 0, activations = 0;
      for (const StageSearchProblem::Layer &layer : fast.layers) {
        state += layer.stateBytes;
        activations += layer.activationBytes;
      }
      problem.memoryCapacity = (state + activations) /
                               static_cast<double>(problem.stages) *
                               (1 + random.unit());
    }
    ++blockProblems;
    StageSearchResult searched = searchStages(problem);
    StageSearchResult enumerated = enumerateStages(problem);
    blockNodes += searched.nodes;
    blockProven += searched.exact;
    blockRoot += searched.exact && searched.nodes == 0;
    if (!agreeOnFound("block ", trial, searched, enumerated, failures))
      continue;
    if (!enumerated.found) {
      ++blockBest;
      continue;
    }
    double a = searched.timing.seconds;
    double b = enumerated.timing.seconds;
    if (a < b * (1 - 1e-9) || (searched.exact && a > b * (1 + 1e-9)) ||
        searched.lowerBound > b * (1 + 1e-9)) {
      ++failures;
      std::printf("block trial %u: search %.9f (exact %d, bound %.9f), "
                  "enumeration %.9f\n",
                  trial, a, searched.exact, searched.lowerBound, b);
    }
    blockBest += a <= b * (1 + 1e-9);
  }
  std::printf("block problems: %u, the best found: %u, proven: %u (without "
              "a node: %u), nodes: %lld in all, failures: %u\n",
              blockProblems, blockBest, blockProven, blockRoot,
              static_cast<long long>(blockNodes), failures);
  return failures == 0 ? 0 : 1;
}
