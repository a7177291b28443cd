//===- Overlap.cpp - communication behind compute -------------------------===//
//
// The rule documented in include/autopar/Cost/Overlap.h.
//
//===----------------------------------------------------------------------===//

#include "autopar/Cost/Overlap.h"

#include "llvm/ADT/STLExtras.h"

#include <algorithm>
#include <map>
#include <optional>
#include <vector>

using namespace mlir;
using namespace mlir::autopar;

SmallVector<unsigned> mlir::autopar::getGatherUnits(ArrayRef<double> bytes,
                                                    double unitBytes) {
  SmallVector<unsigned> units;
  unsigned unit = 0;
  double held = 0;
  for (double each : bytes) {
    units.push_back(unit);
    held += each;
    if (held >= unitBytes) {
      ++unit;
      held = 0;
    }
  }
  return units;
}

SmallVector<Bucket> mlir::autopar::getBuckets(ArrayRef<PassStep> steps,
                                              double bucketBytes) {
  SmallVector<Bucket> buckets;
  double fill = 0;
  bool open = false;
  for (auto [i, step] : llvm::enumerate(steps)) {
    if (step.syncSeconds <= 0 && step.syncBytes <= 0)
      continue;
    if (open && fill + step.syncBytes > bucketBytes) {
      fill = 0;
      open = false;
    }
    if (!open)
      buckets.emplace_back();
    buckets.back().last = i;
    buckets.back().seconds += step.syncSeconds;
    fill += step.syncBytes;
    open = true;
  }
  return buckets;
}

double mlir::autopar::getExposedCommunication(ArrayRef<PassStep> steps,
                                              bool prefetch, double bucketBytes,
                                              double unitBytes) {
  size_t count = steps.size();
  // The buckets: the seconds of the one whose last gradient step i makes.
  std::vector<double> bucketAfter(count, 0);
  for (const Bucket &bucket : getBuckets(steps, bucketBytes))
    bucketAfter[bucket.last] = bucket.seconds;
  // The gather units: the step whose compute first waits for each, and
  // the seconds of its gathers.
  SmallVector<double> gatherBytes;
  SmallVector<size_t> gathering;
  for (size_t i = 0; i < count; ++i)
    if (steps[i].gatherSeconds > 0 || steps[i].gatherBytes > 0) {
      gathering.push_back(i);
      gatherBytes.push_back(steps[i].gatherBytes);
    }
  SmallVector<unsigned> unitOf = getGatherUnits(gatherBytes, unitBytes);
  size_t units = unitOf.empty() ? 0 : unitOf.back() + 1;
  std::vector<size_t> head(units, count);
  std::vector<double> unitSeconds(units, 0);
  for (auto [k, step] : llvm::enumerate(gathering)) {
    head[unitOf[k]] = std::min(head[unitOf[k]], step);
    unitSeconds[unitOf[k]] += steps[step].gatherSeconds;
  }
  std::vector<int64_t> unitAt(count, -1); // the unit step i heads
  for (size_t u = 0; u < units; ++u)
    unitAt[head[u]] = static_cast<int64_t>(u);

  double computeFree = 0; // when the compute stream is next idle
  double commFree = 0;    // when the communication stream is next idle
  double computeTotal = 0;
  std::vector<double> gathered(units, -1); // when each unit's gathers end
  auto issue = [&](size_t u) {
    if (u >= units || gathered[u] >= 0)
      return;
    commFree = std::max(commFree, computeFree) + unitSeconds[u];
    gathered[u] = commFree;
  };
  for (size_t i = 0; i < count; ++i) {
    const PassStep &step = steps[i];
    double start = computeFree;
    if (int64_t u = unitAt[i]; u >= 0) {
      issue(u);
      if (prefetch)
        issue(u + 1);
      start = std::max(start, gathered[u]);
    }
    computeFree = start + step.computeSeconds;
    computeTotal += step.computeSeconds;
    if (bucketAfter[i] > 0)
      commFree = std::max(commFree, computeFree) + bucketAfter[i];
  }
  return std::max(0.0, std::max(computeFree, commFree) - computeTotal);
}

SmallVector<GroupExposure> mlir::autopar::getGroupExposure(
    ArrayRef<PassStep> steps, ArrayRef<size_t> bounds, unsigned history,
    bool prefetch, double bucketBytes, double unitBytes) {
  size_t groups = bounds.empty() ? 0 : bounds.size() - 1;
  size_t h = std::max<size_t>(history, 1);
  // E(a..b): groups [a, b) run by themselves (each run once: the marginals
  // and the leads share them).
  std::map<std::pair<size_t, size_t>, double> runs;
  auto exposed = [&](size_t a, size_t b) {
    if (a >= b)
      return 0.0;
    auto [it, inserted] = runs.try_emplace({a, b}, 0.0);
    if (inserted)
      it->second =
          getExposedCommunication(steps.slice(bounds[a], bounds[b] - bounds[a]),
                                  prefetch, bucketBytes, unitBytes);
    return it->second;
  };
  SmallVector<GroupExposure> result(groups);
  for (size_t k = 0; k < groups; ++k) {
    size_t from = k >= h ? k - h : 0;
    result[k].marginal = exposed(from, k + 1) - exposed(from, k);
  }
  for (size_t k = 0; k < groups; ++k) {
    size_t end = std::min(groups, k + h);
    double lead = exposed(k, end);
    for (size_t l = k; l < end; ++l)
      lead -= result[l].marginal;
    result[k].lead = lead;
  }
  return result;
}

SmallVector<GroupRelease>
mlir::autopar::getGroupReleases(ArrayRef<PassStep> steps,
                                ArrayRef<size_t> bounds, double bucketBytes) {
  size_t groups = bounds.empty() ? 0 : bounds.size() - 1;
  SmallVector<GroupRelease> result(groups);
  SmallVector<Bucket> buckets = getBuckets(steps, bucketBytes);
  size_t next = 0;
  double done = 0, issued = 0, open = 0, made = 0;
  for (size_t k = 0; k < groups; ++k) {
    for (size_t step = bounds[k]; step < bounds[k + 1]; ++step) {
      const PassStep &each = steps[step];
      done += each.computeSeconds;
      if (each.syncSeconds > 0 || each.syncBytes > 0) {
        open += each.syncSeconds;
        made = done;
      }
      result[k].seconds += each.syncSeconds;
      for (; next < buckets.size() && buckets[next].last == step; ++next) {
        result[k].release = std::max(result[k].release, done - issued);
        issued += buckets[next].seconds;
        open -= buckets[next].seconds;
      }
    }
    result[k].drain = issued - done;
    result[k].open = std::max(0.0, open);
    result[k].openMade = made - done;
  }
  return result;
}

double mlir::autopar::getRunExposure(double release, const GroupRelease &last,
                                     double seconds) {
  // The stream runs the buckets one after another: the one issued at t,
  // R issued before it, ends no earlier than t + the rest of the run's;
  // the open one goes after them, from its last gradient on.
  double end = release == std::numeric_limits<double>::lowest()
                   ? std::numeric_limits<double>::lowest()
                   : release + last.drain;
  if (last.open > 0)
    end = std::max(end, last.openMade) + last.open;
  return std::min(seconds, std::max(0.0, end));
}
