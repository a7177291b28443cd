//===- Resharding.cpp - how a value moves between shardings ---------------===//

#include "autopar/Search/Resharding.h"

using namespace mlir;
using namespace mlir::autopar;

StringRef mlir::autopar::stringifyReshardKind(ReshardKind kind) {
  switch (kind) {
  case ReshardKind::AllReduce:
    return "all_reduce";
  case ReshardKind::ReduceScatter:
    return "reduce_scatter";
  case ReshardKind::AllGather:
    return "all_gather";
  case ReshardKind::AllToAll:
    return "all_to_all";
  case ReshardKind::Slice:
    return "slice";
  }
  return "";
}

/// Whether splitting `dim` further along `axis` keeps it a prefix of what
/// `target` splits it along.
static bool canAppend(ArrayRef<int> current, ArrayRef<int> target,
                      unsigned axis, int dim) {
  SmallVector<unsigned, 2> now = getAxesSplitting(current, dim);
  SmallVector<unsigned, 2> wanted = getAxesSplitting(target, dim);
  if (!now.empty() && now.back() > axis)
    return false;
  now.push_back(axis);
  return now.size() <= wanted.size() &&
         llvm::equal(now, ArrayRef<unsigned>(wanted).take_front(now.size()));
}

SmallVector<ReshardStep>
mlir::autopar::planResharding(const TensorSharding &from,
                              const TensorSharding &to, double bytes,
                              const MeshShape &mesh) {
  SmallVector<ReshardStep> steps;
  SmallVector<int, 2> current(from.axisDim.begin(), from.axisDim.end());
  ArrayRef<int> target = to.axisDim;
  double local = bytes / static_cast<double>(getShardCount(from, mesh));
  auto add = [&](ReshardKind kind, unsigned axis, int dim, int fromDim,
                 double factor) {
    double before = local;
    local *= factor;
    steps.push_back({kind, axis, dim, fromDim, before, local});
  };
  double maxDim = -1;
  for (int dim : current)
    maxDim = std::max<double>(maxDim, dim);
  for (int dim : target)
    maxDim = std::max<double>(maxDim, dim);

  // 1. Combine partial values.
  for (unsigned axis = 0; axis < mesh.getRank(); ++axis) {
    if (current[axis] != TensorSharding::kPartial ||
        target[axis] == TensorSharding::kPartial)
      continue;
    double size = static_cast<double>(mesh.sizes[axis]);
    int dim = target[axis];
    if (dim >= 0 && canAppend(current, target, axis, dim)) {
      add(ReshardKind::ReduceScatter, axis, dim, -1, 1 / size);
      current[axis] = dim;
    } else {
      add(ReshardKind::AllReduce, axis, -1, -1, 1);
      current[axis] = TensorSharding::kReplicated;
    }
  }

  // 2. Every dimension keeps only a prefix of its target's axes.
  for (int dim = 0; dim <= maxDim; ++dim) {
    while (true) {
      SmallVector<unsigned, 2> now = getAxesSplitting(current, dim);
      SmallVector<unsigned, 2> wanted = getAxesSplitting(target, dim);
      if (now.size() <= wanted.size() &&
          llvm::equal(now, ArrayRef<unsigned>(wanted).take_front(now.size())))
        break;
      unsigned axis = now.back();
      int next = target[axis];
      current[axis] = TensorSharding::kReplicated;
      if (next >= 0 && next != dim && canAppend(current, target, axis, next)) {
        add(ReshardKind::AllToAll, axis, next, dim, 1);
        current[axis] = next;
      } else {
        add(ReshardKind::AllGather, axis, dim, -1,
            static_cast<double>(mesh.sizes[axis]));
      }
    }
  }

  // 3. Keep the slices the target splits further.
  for (unsigned axis = 0; axis < mesh.getRank(); ++axis) {
    if (current[axis] != TensorSharding::kReplicated || target[axis] < 0)
      continue;
    add(ReshardKind::Slice, axis, target[axis], -1,
        1 / static_cast<double>(mesh.sizes[axis]));
    current[axis] = target[axis];
  }
  return steps;
}
