//===- Resharding.h - how a value moves between shardings -------*- C++ -*-===//
//
// The one place that decides which collectives turn a value's sharding into
// another: the planner prices the steps with the cost model, the partition
// pass emits them as autopar collectives. Both therefore agree on what is
// communicated, collective by collective and byte by byte.
//
// A sharding lists, per mesh axis, the dimension it splits (or replicated,
// or partial). Several axes on one dimension split it in increasing axis
// order (the first axis is the major one). The steps keep that order at
// every point: first partial axes are combined (reduce_scatter when the
// target splits a dimension along the axis and the axis can be appended to
// it, all_reduce otherwise), then every dimension drops the axes its target
// does not start with, last axis first (all_to_all when the axis can move
// to the dimension the target splits with it, all_gather otherwise), then
// the devices keep their slice of what the target splits further (local,
// no communication).
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_SEARCH_RESHARDING_H
#define AUTOPAR_SEARCH_RESHARDING_H

#include "autopar/Search/ShardingSpace.h"

namespace mlir::autopar {

enum class ReshardKind { AllReduce, ReduceScatter, AllGather, AllToAll, Slice };

/// One step of a resharding, over one mesh axis.
struct ReshardStep {
  ReshardKind kind;
  unsigned axis;
  /// AllGather: the gathered dimension; ReduceScatter, Slice: the split
  /// dimension; AllToAll: the dimension the split moves to.
  int dim = -1;
  /// AllToAll: the dimension the split leaves (concatenated).
  int fromDim = -1;
  /// Bytes per device before and after the step.
  double bytesIn = 0, bytesOut = 0;
};

/// The steps from `from` to `to` for a value of `bytes` bytes in all. A
/// target that is partial along an axis takes no step there (a gradient
/// may stay partial; the forward never asks for it).
SmallVector<ReshardStep> planResharding(const TensorSharding &from,
                                        const TensorSharding &to,
                                        double bytes, const MeshShape &mesh);

/// "all_reduce", "all_gather", ...
StringRef stringifyReshardKind(ReshardKind kind);

} // namespace mlir::autopar

#endif // AUTOPAR_SEARCH_RESHARDING_H
