//===- Communication.h - what a sharded program communicates ----*- C++ -*-===//
//
// The collectives of a program, per kind: how many, the bytes each device
// puts in, and the time the cost model gives them. Predicted before
// partitioning, from a plan or from an annotated function, by following
// the rules autopar-partition follows (each value resharded once per layout
// it is needed in, intermediate layouts reused, tables read whole, results
// leaving complete), with the steps of planResharding; counted after
// partitioning from the autopar collectives in the IR. The two must agree
// exactly; test/Partition/comm-bytes.test and bench/comm_bytes.py check it.
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_SEARCH_COMMUNICATION_H
#define AUTOPAR_SEARCH_COMMUNICATION_H

#include "autopar/Cost/CostModel.h"
#include "autopar/Search/Resharding.h"

#include "mlir/IR/Value.h"
#include "llvm/ADT/DenseMap.h"

#include <map>
#include <string>

namespace mlir {
namespace func {
class FuncOp;
} // namespace func
namespace autopar {

/// The collectives of one kind.
struct CommunicationEntry {
  int64_t count = 0;
  /// Bytes each device puts in (its local input), summed.
  double bytes = 0;
  /// The cost model's time (0 without a cost model).
  double seconds = 0;
};

/// Per collective kind ("all_gather", "all_reduce", ...), in name order.
using CommunicationSummary = std::map<std::string, CommunicationEntry>;

/// The time the cost model gives `step` on `mesh` (Slice: none).
double getReshardStepSeconds(const ReshardStep &step, const MeshShape &mesh,
                             const CostModel &costModel);

/// The bytes of a statically shaped ranked tensor type, 0 for any other.
double getTensorBytes(Type type);

/// Follows values through a program as autopar-partition does: each value
/// has the layout it is produced in; every layout it is needed in costs
/// planResharding's collectives, except layouts already made (earlier
/// targets and the results of collectives on the way to them).
/// How often a reshard runs per step: inside autopar-partition's
/// microbatch loop, once per microbatch, on a microbatch's slice of a
/// batch-carrying value (`sliced`) or on the whole value (a parameter a
/// loop op reads); `scatterEach`: a reduce_scatter that resolves a partial
/// sum over the microbatches runs per microbatch even outside the loop
/// (ZeRO-2 and 3 keep only the shard of each gradient); `gatherEach`: an
/// all_gather of a sharded parameter runs per microbatch (ZeRO-3 gathers
/// each parameter inside the loop).
struct ReshardRepeat {
  int64_t times = 1;
  bool sliced = false;
  int64_t scatterEach = 1;
  int64_t gatherEach = 1;
};

class CommunicationTally {
public:
  /// Collectives are priced when `costModel` is given.
  CommunicationTally(const MeshShape &mesh, const CostModel *costModel)
      : mesh(mesh), costModel(costModel) {}

  /// `value` is produced with `sharding`.
  void produce(Value value, const TensorSharding &sharding);
  /// `value` (of `bytes` bytes in all) is needed with `sharding`. Values
  /// never produced (constants, empty tensors) are made locally.
  /// With `fresh`, the layouts made for other consumers are not reused (a
  /// pin makes its own copy: autopar-partition's rule).
  void require(Value value, const TensorSharding &sharding, double bytes,
               bool fresh = false, ReshardRepeat repeat = ReshardRepeat());
  /// The layout `value` is produced in, if any.
  const TensorSharding *lookup(Value value) const;

  const CommunicationSummary &getSummary() const { return summary; }

private:
  MeshShape mesh;
  const CostModel *costModel;
  llvm::DenseMap<Value, TensorSharding> produced;
  llvm::DenseMap<Value, SmallVector<TensorSharding>> made;
  CommunicationSummary summary;
};

/// What `func`, annotated with shardings and strategies (after autopar-plan
/// or autopar-propagate), communicates per call once autopar-partition has
/// partitioned it on the mesh its annotations use (with the module's
/// `autopar.step` microbatches: the reshards of ops that depend on a
/// microbatch's samples run once per microbatch). Fails with a diagnostic
/// on annotations partition would refuse. A function without annotations
/// communicates nothing. Of a pipeline, the busiest device along the
/// stages' axis (each runs its stages' program); with `perDevice`, every
/// device's in order.
FailureOr<CommunicationSummary>
predictCommunication(func::FuncOp func, const CostModel *costModel,
                     std::vector<CommunicationSummary> *perDevice = nullptr);

/// The autopar collectives and sends in `func` (a partitioned function):
/// per kind, the count and the bytes of their local inputs; priced when
/// `costModel` is given. Of a pipeline's per-stage programs, the busiest
/// stage's (a device runs one); with `perDevice`, each device's program's
/// (with what runs outside the stages' switch), by the device's
/// coordinate along the stages' axis.
CommunicationSummary
countCommunication(func::FuncOp func, const CostModel *costModel,
                   std::vector<CommunicationSummary> *perDevice = nullptr);

/// The cost model's time for all of `summary`'s collectives.
double getTotalSeconds(const CommunicationSummary &summary);

/// "all_gather 7 (13472 B) reduce_scatter 7 (26944 B)", or "none".
std::string describeCommunication(const CommunicationSummary &summary);

} // namespace autopar
} // namespace mlir

#endif // AUTOPAR_SEARCH_COMMUNICATION_H
