//===- Overlap.h - gradient synchronisation behind the backward -*- C++ -*-===//
//
// The one rule of compute/communication overlap (issue 17, item 4), used by
// the planner's step time; the backends run what it prices: autopar-group-
// collectives packs gradients into buckets and emits each bucket's
// collective as soon as its last gradient is made, and the collective
// lowering starts each all-reduce and reduce-scatter there and waits for it
// only where its buffers are next touched (docs/cost-model.md, "Overlap").
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_COST_OVERLAP_H
#define AUTOPAR_COST_OVERLAP_H

#include "autopar/Cost/CostModel.h"
#include "llvm/ADT/ArrayRef.h"

namespace mlir::autopar {

/// One op of the forward graph as its backward sees it: the seconds of its
/// backward (of one microbatch), and the seconds and bytes of the
/// collective that reduces its parameters' gradients (0 when none).
struct BackwardStep {
  double backwardSeconds = 0;
  double syncSeconds = 0;
  double syncBytes = 0;
};

/// The seconds of gradient synchronisation left after the backward of one
/// microbatch ends. The backward runs `steps` last to first; a gradient
/// joins the open bucket when its op's backward is done, unless the bucket
/// would pass `bucketBytes`: then a new bucket opens. Each bucket is
/// synchronised from the time its last gradient was made (where
/// autopar-group-collectives emits it), one after another on a
/// communication stream, while the backward runs on.
double getExposedSync(ArrayRef<BackwardStep> steps,
                      double bucketBytes = kCollectiveBucketBytes);

} // namespace mlir::autopar

#endif // AUTOPAR_COST_OVERLAP_H
