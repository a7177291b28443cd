//===- OverlapTest.cpp - communication behind compute ---------------------===//
//
// Prints getExposedCommunication (Cost/Overlap.h) on small passes whose
// answer is worked out by hand in overlap.test.
//
//===----------------------------------------------------------------------===//

#include "autopar/Cost/Overlap.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <optional>
#include <vector>

using namespace mlir::autopar;

namespace {
/// A seeded generator of numbers in [0, 1) in steps of 0.001.
struct Random {
  uint64_t state;
  double unit() {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<double>((state >> 33) % 1000) / 1000.0;
  }
};

/// A random pass of 12 steps of compute 0.1-1.1 s, half of them (with
/// `gathers`) gathering 0-1 s of 1 byte, half reducing 0-1 s of 1 byte,
/// cut into groups of 1-3 steps (`bounds`).
std::vector<PassStep> randomPass(Random &random, bool gathers,
                                 llvm::SmallVectorImpl<size_t> &bounds) {
  std::vector<PassStep> steps;
  for (int i = 0; i < 12; ++i) {
    PassStep step{0.1 + random.unit(), 0, 0, 0, 0};
    if (gathers && random.unit() < 0.5)
      step.gatherSeconds = random.unit(), step.gatherBytes = 1;
    if (random.unit() < 0.5)
      step.syncSeconds = random.unit(), step.syncBytes = 1;
    steps.push_back(step);
  }
  bounds.assign({0});
  while (bounds.back() < steps.size())
    bounds.push_back(
        std::min(steps.size(),
                 bounds.back() + 1 + static_cast<size_t>(3 * random.unit())));
  return steps;
}

void print(const char *name, llvm::ArrayRef<PassStep> steps, double bucketBytes,
           bool prefetch = true, double unitBytes = 1) {
  std::printf("%s: exposed %.2f\n", name,
              getExposedCommunication(steps, prefetch, bucketBytes, unitBytes));
}
} // namespace

int main() {
  // Backwards, in the order they run (the last op's first).
  PassStep none{1, 0, 0, 0, 0}, synced{1, 0, 0, 2, 10};
  print("two buckets", {synced, synced, none}, 15);
  print("one bucket", {synced, synced, none}, 100);
  print("nothing to synchronise", {none, none}, 15);
  print("hidden", {PassStep{1, 0, 0, 1, 10}, PassStep{5, 0, 0, 0, 0}}, 5);
  print("stream busy", {synced, synced, synced}, 10);
  // Forwards with parameter gathers (ZeRO-3), each op's parameters a unit
  // of their own (1 byte, units of 1).
  PassStep gathers{2, 1, 1, 0, 0};
  print("gathers on demand", {gathers, gathers, gathers}, 10,
        /*prefetch=*/false);
  print("gathers prefetched", {gathers, gathers, gathers}, 10);
  print("prefetch past an op without parameters",
        {gathers, none, PassStep{1, 3, 1, 0, 0}}, 10);
  // Units of 2 bytes: ops 0-1 one unit, ops 2-3 the next.
  PassStep small{2, 1, 1, 0, 0};
  print("units", {small, small, small, small}, 10, /*prefetch=*/true,
        /*unitBytes=*/2);
  // A backward: gathers prefetched, each gradient its own bucket on the
  // same stream.
  print("gathers and buckets",
        {PassStep{2, 1, 1, 1, 10}, PassStep{2, 1, 1, 1, 10}}, 10);
  // The units themselves.
  // A backward of three ops, each its own group (a pipeline stage's
  // layers): additive exposures, one group of history.
  {
    PassStep steps[] = {synced, synced, none};
    size_t bounds[] = {0, 1, 2, 3};
    llvm::SmallVector<GroupExposure> groups =
        getGroupExposure(steps, bounds, /*history=*/1, true, 10, 1);
    std::printf("group exposure (history 1): marginal");
    for (const GroupExposure &group : groups)
      std::printf(" %.2f", group.marginal);
    std::printf(", lead");
    for (const GroupExposure &group : groups)
      std::printf(" %.2f", group.lead);
    std::printf("; groups 0-2 %.2f (the pass %.2f), 1-2 %.2f (%.2f)\n",
                groups[0].lead + groups[0].marginal + groups[1].marginal +
                    groups[2].marginal,
                getExposedCommunication(steps, true, 10, 1),
                groups[1].lead + groups[1].marginal + groups[2].marginal,
                getExposedCommunication(llvm::ArrayRef(steps).drop_front(),
                                        true, 10, 1));
  }
  // How far the additive price is from the rule's own on random passes
  // (12 steps of compute 0.1-1.1 s, half of them gathering 0-1 s of 1
  // byte, half reducing 0-1 s of 1 byte; units and buckets of 1 byte;
  // groups of 1-3 steps): over every run of consecutive groups, the runs
  // priced exactly, below the rule, and the mean and largest difference
  // relative to the run's communication, for 1, 2, 4 and 8 groups of
  // history.
  for (unsigned history : {1u, 2u, 4u, 8u}) {
    Random random{12345};
    double worst = 0, sum = 0;
    unsigned runs = 0, exact = 0, below = 0;
    for (int trial = 0; trial < 200; ++trial) {
      llvm::SmallVector<size_t> bounds;
      std::vector<PassStep> steps = randomPass(random, true, bounds);
      llvm::SmallVector<GroupExposure> groups =
          getGroupExposure(steps, bounds, history, true, 1, 1);
      for (size_t a = 0; a < groups.size(); ++a) {
        double additive = groups[a].lead;
        for (size_t b = a; b < groups.size(); ++b) {
          additive += groups[b].marginal;
          llvm::ArrayRef<PassStep> run =
              llvm::ArrayRef(steps).slice(bounds[a], bounds[b + 1] - bounds[a]);
          double communication = 0;
          for (const PassStep &step : run)
            communication += step.gatherSeconds + step.syncSeconds;
          if (communication <= 0)
            continue;
          double difference =
              (additive - getExposedCommunication(run, true, 1, 1)) /
              communication;
          below += difference < -1e-12;
          exact += std::abs(difference) < 1e-12;
          worst = std::max(worst, std::abs(difference));
          sum += std::abs(difference);
          ++runs;
        }
      }
    }
    std::printf("additive vs the rule, history %u: %u runs, %u exact, %u "
                "below, mean %.4f, worst %.4f of the run's communication\n",
                history, runs, exact, below, sum / runs, worst);
  }
  // Once-a-step reductions by groups (getGroupReleases): [1,_,_,2,10]
  // [1,_,_,0,0] [1,_,_,2,10], one op a group, buckets of 10. Buckets
  // issued at t=1 (R=0) and t=3 (R=2): releases 1, none, 1; drains
  // 2-1 = 1, 2-2 = 0, 4-3 = 1. Groups 0-2: max(1, 1) + 1 = 2 (compute
  // 0-3, buckets 1-3 and 3-5); 1-2: 1 + 1 = 2 (compute 0-2, bucket 2-4);
  // 0-1: 1 + 0 = 1 (compute 0-2, bucket 1-3).
  {
    std::vector<PassStep> steps = {
        {1, 0, 0, 2, 10}, {1, 0, 0, 0, 0}, {1, 0, 0, 2, 10}};
    llvm::SmallVector<size_t> bounds = {0, 1, 2, 3};
    llvm::SmallVector<GroupRelease> groups =
        getGroupReleases(steps, bounds, 10);
    auto run = [&](size_t a, size_t b) {
      double release = std::numeric_limits<double>::lowest(), seconds = 0;
      for (size_t k = a; k <= b; ++k) {
        release = std::max(release, groups[k].release);
        seconds += groups[k].seconds;
      }
      return getRunExposure(release, groups[b], seconds);
    };
    std::printf("releases: groups 0-2 %.2f (the rule %.2f), 1-2 %.2f (%.2f), "
                "0-1 %.2f (%.2f)\n",
                run(0, 2), getExposedCommunication(steps, true, 10, 1),
                run(1, 2),
                getExposedCommunication(llvm::ArrayRef(steps).drop_front(),
                                        true, 10, 1),
                run(0, 1),
                getExposedCommunication(llvm::ArrayRef(steps).take_front(2),
                                        true, 10, 1));
  }
  // On random passes of reductions (12 steps of compute 0.1-1.1 s, half
  // reducing 0-1 s of 1 byte; groups of 1-3 steps), every run of groups
  // against the rule run on it: exact whenever the run starts where a
  // bucket does (buckets of 1 byte: always; of 2 bytes, a bucket may span
  // the run's start: the run, bucketing by itself, splits it otherwise;
  // the difference is then within a bucket, in seconds).
  for (double bucketBytes : {1.0, 2.0}) {
    Random random{777};
    unsigned runs = 0, same = 0, sameExact = 0;
    double worst = 0;
    for (int trial = 0; trial < 200; ++trial) {
      llvm::SmallVector<size_t> bounds;
      std::vector<PassStep> steps = randomPass(random, false, bounds);
      llvm::SmallVector<Bucket> buckets = getBuckets(steps, bucketBytes);
      // Each reducing step's bucket, and whether it is the bucket's first.
      std::vector<int> bucketOf(steps.size(), -1);
      std::vector<bool> opens(steps.size(), false);
      for (size_t i = 0, b = 0; i < steps.size(); ++i) {
        if (steps[i].syncSeconds <= 0 && steps[i].syncBytes <= 0)
          continue;
        bool first = true;
        for (size_t j = 0; j < i; ++j)
          first = first && bucketOf[j] != static_cast<int>(b);
        opens[i] = first;
        bucketOf[i] = static_cast<int>(b);
        if (i == buckets[b].last)
          ++b;
      }
      double largest = 0;
      for (const Bucket &bucket : buckets)
        largest = std::max(largest, bucket.seconds);
      llvm::SmallVector<GroupRelease> groups =
          getGroupReleases(steps, bounds, bucketBytes);
      for (size_t a = 0; a + 1 < bounds.size(); ++a) {
        double release = std::numeric_limits<double>::lowest(), seconds = 0;
        for (size_t b = a; b + 1 < bounds.size(); ++b) {
          release = std::max(release, groups[b].release);
          seconds += groups[b].seconds;
          llvm::ArrayRef<PassStep> run =
              llvm::ArrayRef(steps).slice(bounds[a], bounds[b + 1] - bounds[a]);
          std::optional<size_t> first;
          for (size_t i = bounds[a]; i < bounds[b + 1] && !first; ++i)
            if (bucketOf[i] >= 0)
              first = i;
          if (!first)
            continue;
          double difference =
              std::abs(getRunExposure(release, groups[b], seconds) -
                       getExposedCommunication(run, true, bucketBytes, 1));
          ++runs;
          if (opens[*first]) {
            ++same;
            sameExact += difference < 1e-12;
          } else {
            worst = std::max(worst, difference / largest);
          }
        }
      }
    }
    std::printf("releases vs the rule, buckets of %.0f: %u runs, %u starting "
                "where a bucket does, %u of them exact; the others within "
                "%.2f of the largest bucket\n",
                bucketBytes, runs, same, sameExact, worst);
  }
  std::printf("units of 10:");
  for (unsigned unit : getGatherUnits({4, 4, 4, 30, 1, 2}, 10))
    std::printf(" %u", unit);
  std::printf("\n");
  return 0;
}
