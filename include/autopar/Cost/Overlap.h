//===- Overlap.h - communication behind compute -----------------*- C++ -*-===//
//
// The one rule of compute/communication overlap (issue 17, item 4), used by
// the planner's step time; the backends run what it prices:
// autopar-group-collectives packs gradients into buckets and emits each
// bucket's collective as soon as its last gradient is made, and emits
// ZeRO-3's parameter gathers one layer ahead of their use; the collective
// lowering starts each all-reduce, reduce-scatter and all-gather there and
// waits for it only where its buffers are next touched (docs/cost-model.md,
// "Overlap").
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_COST_OVERLAP_H
#define AUTOPAR_COST_OVERLAP_H

#include "autopar/Cost/CostModel.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallVector.h"

#include <algorithm>
#include <limits>

namespace mlir::autopar {

/// The gather units of a pass (kGatherUnitBytes): for each of its
/// parameter gathers, in the order the pass first reads them, the index of
/// its unit; a unit closes once its `bytes` reach `unitBytes`.
SmallVector<unsigned> getGatherUnits(ArrayRef<double> bytes,
                                     double unitBytes = kGatherUnitBytes);

/// One op of a pass over the model (a microbatch's forward, or its
/// backward) as the communication stream sees it: the seconds of its
/// compute; of the gather of its parameters (ZeRO-3; 0 when none) and
/// their bytes; of the collective that reduces the gradients its compute
/// makes, and their bytes (0 when none).
struct PassStep {
  double computeSeconds = 0;
  double gatherSeconds = 0;
  double gatherBytes = 0;
  double syncSeconds = 0;
  double syncBytes = 0;
};

/// The buckets of a pass's gradient reductions, in the order issued: a
/// gradient joins the open bucket when its op's compute is done, unless
/// the bucket would pass `bucketBytes`: then a new bucket opens; each is
/// issued when its last gradient is made. Per bucket: the index of the
/// step that makes its last gradient, and its seconds.
struct Bucket {
  size_t last = 0;
  double seconds = 0;
};
SmallVector<Bucket> getBuckets(ArrayRef<PassStep> steps,
                               double bucketBytes = kCollectiveBucketBytes);

/// The seconds of communication not hidden behind compute in a pass that
/// runs `steps` in order on one compute stream, its collectives one after
/// another on one communication stream, each started no earlier than the
/// compute issued before it:
///
///  * the ops' gathers go by units (getGatherUnits over their bytes): a
///    unit's gathers are issued just before the compute of its first op
///    that gathers, or with `prefetch` just before that of the previous
///    unit (one unit ahead), and that op's compute waits for all of them;
///  * the gradients' reductions go by buckets (getBuckets).
///
/// The result is the time from the end of the pass's compute to the end
/// of its last collective, plus the time compute waited for gathers.
double getExposedCommunication(ArrayRef<PassStep> steps, bool prefetch = true,
                               double bucketBytes = kCollectiveBucketBytes,
                               double unitBytes = kGatherUnitBytes);

/// getExposedCommunication made additive over runs of consecutive groups
/// of a pass's steps (a pipeline stage's layers, which the stage search
/// sums): group k is steps [bounds[k], bounds[k + 1]) in pass order. With
/// E(a..b) the exposure of groups a..b run by themselves and h =
/// `history`, `marginal` is what group k adds after the h groups before
/// it, E(k-h..k) - E(k-h..k-1), and `lead` what a run starting at k adds
/// to its groups' marginals, E(k..k+h-1) - marginal(k) - ... -
/// marginal(k+h-1). Groups a..b are priced lead(a) + marginal(a) + ... +
/// marginal(b): the rule's own number when the collectives a group starts
/// end within the compute of the h groups after it.
struct GroupExposure {
  double marginal = 0, lead = 0;
};
/// The history the planner prices pipeline stages with: one group. Longer
/// histories price more long runs exactly but runs shorter than the
/// history badly (their lead spans groups past their end);
/// test/Unit/overlap.test measures each.
constexpr unsigned kExposureHistory = 1;
SmallVector<GroupExposure>
getGroupExposure(ArrayRef<PassStep> steps, ArrayRef<size_t> bounds,
                 unsigned history = kExposureHistory, bool prefetch = true,
                 double bucketBytes = kCollectiveBucketBytes,
                 double unitBytes = kGatherUnitBytes);

/// A pass's reductions when nothing but them communicates (ZeRO 0-1's,
/// once a step, behind the last microbatch's backward), by groups of its
/// steps (a pipeline stage's layers, in pass order: group k is steps
/// [bounds[k], bounds[k + 1])). With t the compute done and R the seconds
/// of the buckets (getBuckets) issued before: `release` is the most t - R
/// over the buckets whose last gradient the group makes (lowest() when
/// none), `drain` R - t after the group, its buckets issued, `open` the
/// seconds of the bucket still open then and `openMade` when its last
/// gradient was made, less t; `seconds` those of the group's own
/// reductions.
struct GroupRelease {
  double release = std::numeric_limits<double>::lowest();
  double drain = 0, open = 0, openMade = 0, seconds = 0;
};
SmallVector<GroupRelease>
getGroupReleases(ArrayRef<PassStep> steps, ArrayRef<size_t> bounds,
                 double bucketBytes = kCollectiveBucketBytes);
/// What the reductions of a run of groups a..b (pass order) add past its
/// compute: the issued buckets' end (max release over the run, plus
/// b's drain), then b's open bucket, issued at its last gradient (a
/// program of the run alone closes it there); at most the run's own
/// `seconds`.
/// getExposedCommunication's number whenever the run's buckets are the
/// pass's (test/Unit/overlap.test); where a bucket spans the run's start,
/// a program of the run alone buckets it otherwise.
double getRunExposure(double release, const GroupRelease &last, double seconds);
/// A run's reductions taken a group at a time (in any order): the most
/// release and the seconds summed; `exposure(last)` is getRunExposure's for
/// the run whose last group in pass order is `last`.
struct RunReductions {
  double release = std::numeric_limits<double>::lowest();
  double seconds = 0;
  void add(const GroupRelease &group) {
    release = std::max(release, group.release);
    seconds += group.seconds;
  }
  double exposure(const GroupRelease &last) const {
    return getRunExposure(release, last, seconds);
  }
};

} // namespace mlir::autopar

#endif // AUTOPAR_COST_OVERLAP_H
