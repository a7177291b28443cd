//===- ShardingSpace.h - the ways an op can be split ------------*- C++ -*-===//
//
// For every op, a "sharding space": its loops (for linalg ops the iteration
// space; for data-layout ops the result dimensions), which loops may be
// split, and, for each tensor operand and result, which loop each dimension
// follows. A strategy maps each mesh axis to a loop (or to none); the
// shardings of operands and results follow from the bindings. Everything is
// derived from indexing maps, so any structured op gets strategies; the only
// per-op rules are for reshapes, pads, slices and concatenations, whose
// dimension correspondence is not an indexing map.
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_SEARCH_SHARDINGSPACE_H
#define AUTOPAR_SEARCH_SHARDINGSPACE_H

#include "autopar/Analysis/Fusion.h"
#include "autopar/Dialect/AutoparAttrs.h"

#include "mlir/IR/Operation.h"
#include "mlir/Interfaces/FunctionInterfaces.h"

#include <string>

namespace mlir::autopar {

class ArgumentRoles;

/// A device mesh under consideration: axis sizes and names, and how the
/// devices sit on nodes (row-major device numbering, `gpusPerNode` per node).
struct MeshShape {
  SmallVector<int64_t, 2> sizes;
  SmallVector<std::string, 2> names;
  int64_t gpusPerNode = 1;

  unsigned getRank() const { return sizes.size(); }
  int64_t getNumDevices() const;
  /// The number of nodes a group along `axes` (a bit mask) spans.
  int64_t getNodesSpanned(unsigned axes) const;
  /// The size of the group along `axes` (a bit mask).
  int64_t getGroupSize(unsigned axes) const;
  /// "gpus=4", "nodes=2,gpus=8": axis names and sizes.
  std::string str() const;

private:
  /// getNodesSpanned by axis mask, computed on first use.
  mutable SmallVector<int64_t, 4> spanCache;
};

/// How a tensor is laid out: for each mesh axis, the tensor dimension it
/// splits, or kReplicated, or kPartial (the value is a partial sum over the
/// axis).
struct TensorSharding {
  static constexpr int kReplicated = -1;
  static constexpr int kPartial = -2;
  SmallVector<int, 2> axisDim;
  bool operator==(const TensorSharding &other) const {
    return axisDim == other.axisDim;
  }
};

/// A tensor operand or result of an op and the loop each dimension follows.
struct Binding {
  Value value;
  /// The operand number, or the result number for results.
  unsigned number = 0;
  SmallVector<int64_t> shape;
  /// Per dimension: the loop it follows, or -1.
  SmallVector<int> dimLoop;
  double bytes = 0;
};

/// Per mesh axis: the loop it splits, or -1.
using Strategy = SmallVector<int, 2>;

/// The mesh axes whose entry in `perAxis` (a Strategy's loops, a
/// TensorSharding's dimensions) is `split`, in increasing order: the axes
/// splitting that loop or dimension.
SmallVector<unsigned, 2> getAxesSplitting(ArrayRef<int> perAxis, int split);

struct OpSpace {
  Operation *op = nullptr;
  SmallVector<int64_t> loopSizes;
  SmallVector<bool> reduction;
  SmallVector<bool> splittable;
  SmallVector<Binding> operands;
  SmallVector<Binding> results;
  /// A fixed strategy (a user's pin), if any.
  std::optional<Strategy> pinned;
  /// Whether the op has a sharding rule (otherwise it runs replicated).
  bool understood = true;

  unsigned getNumLoops() const { return loopSizes.size(); }
};

/// Builds the sharding space of `op`, or std::nullopt for ops that are not
/// nodes of the search (constants, empty tensors, terminators, scalar ops).
std::optional<OpSpace> buildOpSpace(Operation *op);

/// The strategies of `space` on `mesh`: each axis on a splittable loop (or
/// none) such that every split divides evenly. Deterministic order; the
/// first is the replicated strategy when it is allowed.
SmallVector<Strategy> enumerateStrategies(const OpSpace &space,
                                          const MeshShape &mesh);

/// How an op that runs once per microbatch splits its batch loop `loop`
/// (autopar-partition's rule; predictCommunication follows it): which
/// samples form microbatch i depends on the devices' split of the batch (a
/// device's i-th slice), so the op splits `loop` over exactly the mesh
/// axes `splitsBatch` names (those its operand's batch is split over), no
/// other axis, and `microbatchAxis` when the mesh has one. The strategy,
/// or nothing when the loop cannot split so (not splittable, or its size
/// not a multiple of `microbatches` times those axes' sizes).
std::optional<Strategy>
splitBatchLoopPerMicrobatch(const OpSpace &space, const Strategy &strategy,
                            int loop, const MeshShape &mesh,
                            int64_t microbatches,
                            std::optional<unsigned> microbatchAxis,
                            llvm::function_ref<bool(unsigned)> splitsBatch);

/// The sharding of `binding` under `strategy`; results of split reduction
/// loops are partial.
TensorSharding getSharding(const OpSpace &space, const Binding &binding,
                           const Strategy &strategy, bool isResult);

/// The number of shards `sharding` cuts a tensor into (partial axes do not
/// cut it).
int64_t getShardCount(const TensorSharding &sharding, const MeshShape &mesh);

/// The shape of a declared mesh.
MeshShape getMeshShape(MeshAttr mesh);

/// Meshes of the same devices with different shapes (pipeline stages) as
/// one: `mesh` has an axis per factor between consecutive prefix products
/// of the meshes' sizes (named m0, m1, ...), so each axis of each mesh is
/// one or more consecutive axes of it in the same row-major numbering;
/// `axisOf[m][k]` is the axis of meshes[m] that axis k of `mesh` belongs
/// to.
struct MeshRefinement {
  MeshShape mesh;
  SmallVector<SmallVector<unsigned, 4>> axisOf;
};

/// The refinement of `meshes`, or std::nullopt when they hold different
/// device counts or their prefix products do not divide one another (2x6
/// and 3x4: no axis order splits both).
std::optional<MeshRefinement> refineMeshes(ArrayRef<MeshShape> meshes);

/// `strategy` (on `from`, one of the refined meshes) on the refinement:
/// every axis splits the loop its axis of `from` splits.
Strategy refineStrategy(const Strategy &strategy, ArrayRef<unsigned> axisOf);

/// A #autopar.sharding on `mesh` as a TensorSharding (axes of one
/// dimension must be listed in increasing mesh order), with the kind of
/// its partial axes; failure when the axes are out of order.
FailureOr<TensorSharding> fromShardingAttr(ShardingAttr sharding,
                                           MeshAttr mesh);
/// A #autopar.strategy on `mesh` as a Strategy.
FailureOr<Strategy> fromStrategyAttr(StrategyAttr strategy, MeshAttr mesh);

/// The mesh the shardings of `func` refer to (argument shardings,
/// strategies, pins), or a null attribute when it carries none. Fails with
/// a diagnostic (prefixed by `pass`) when they use several meshes.
FailureOr<FlatSymbolRefAttr> getAnnotatedMesh(FunctionOpInterface func,
                                              StringRef pass);

/// The strategy an op of an annotated function runs under: its
/// #autopar.strategy on `meshRef`, or replication when it has none. Fails
/// with a diagnostic (prefixed by `pass`) when the attribute is on another
/// mesh, does not fit the op's loops, or splits a loop that cannot be split.
FailureOr<Strategy> getAnnotatedStrategy(Operation *op, const OpSpace &space,
                                         MeshAttr mesh,
                                         FlatSymbolRefAttr meshRef,
                                         StringRef pass);

/// How result `result` of `op` combines over its reduction loops when they
/// are split (sum, product, max, min), or std::nullopt when `op` is not a
/// structured op whose body is such a plain reduction.
std::optional<ReductionKind> getReductionKind(Operation *op, unsigned result);

/// Whether `op` only rounds floats to a narrower type, element by element
/// (mixed precision's f32 -> 16-bit): it may round a partial sum before the
/// sum is taken, so partial values are reduced in the narrow type (as
/// data-parallel trainers reduce 16-bit gradients) instead of being made
/// whole first.
bool isRoundingCast(Operation *op);

/// Per space of `spaces` (the ops of one function body, in program order):
/// the loop its batch follows, or -1. The batch starts at the batch
/// dimension of the input and label arguments (`autopar.batch_dim`,
/// ArgumentRoles::getBatchDim: 0 unless a sequence-first model says 1) and
/// goes on through every result dimension that follows that loop; an op
/// whose operands carry no batch (a parameter's transpose) has none, and
/// the batch loop may be a reduction (a loss's sum over the samples).
SmallVector<int> getBatchLoops(const ArgumentRoles &roles,
                               ArrayRef<OpSpace> spaces);

/// An op that needs the whole batch at once, and why.
struct WholeBatchUse {
  enum class Kind {
    /// It reads a statistic over the batch (a value reduced over the batch
    /// loop of the batch inputs) together with the batch itself, as
    /// BatchNorm in training normalizes each sample by the batch's mean and
    /// variance.
    Statistic,
    /// Its operands carry the batch along different loops: it pairs samples
    /// with one another, as an attention whose sequence is the samples
    /// scores every sample against every other.
    PairedSamples,
  };
  Operation *op = nullptr;
  Kind kind = Kind::Statistic;
  explicit operator bool() const { return op != nullptr; }
};

/// The first op of `func` that needs its whole batch at once (see
/// WholeBatchUse), or none. Such a function cannot run its batch as
/// microbatches without changing its result.
WholeBatchUse findWholeBatchUse(FunctionOpInterface func);

/// `sharding` as a #autopar.sharding on mesh `meshRef`.
ShardingAttr toShardingAttr(const TensorSharding &sharding,
                            const MeshShape &mesh, FlatSymbolRefAttr meshRef,
                            unsigned rank);
/// `strategy` as a #autopar.strategy on mesh `meshRef`.
StrategyAttr toStrategyAttr(const OpSpace &space, const Strategy &strategy,
                            const MeshShape &mesh, FlatSymbolRefAttr meshRef);
/// The sharding of every result of `space.op` under `strategy` (replicated
/// for a result without a binding).
SmallVector<TensorSharding> getResultShardings(const OpSpace &space,
                                               const Strategy &strategy,
                                               const MeshShape &mesh);
/// Annotates `space.op` with `strategy` (autopar.strategy) and its result
/// shardings (autopar.shardings); returns those shardings.
SmallVector<TensorSharding> annotateStrategy(const OpSpace &space,
                                             const Strategy &strategy,
                                             const MeshShape &mesh,
                                             FlatSymbolRefAttr meshRef);
/// A short description: "d0:gpus", "replicated", "d0:x d2:y".
std::string describeStrategy(const OpSpace &space, const Strategy &strategy,
                             const MeshShape &mesh);

} // namespace mlir::autopar

#endif // AUTOPAR_SEARCH_SHARDINGSPACE_H
