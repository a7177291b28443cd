//===- ReshardingBuilder.h - emitting a resharding on one device -*- C++
//-*-===//
//
// The IR side of lib/Search/Resharding.cpp: in a device's program, turns a
// local value laid out one way into the same global value laid out another,
// with planResharding's steps as autopar collectives and the remaining
// splits as one tensor.extract_slice at the device's mesh coordinate.
// autopar-partition reshards every operand with it; tools that build
// per-device programs by hand (autopar-run's driver slicing inputs and
// gathering results) use it too.
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_PARTITION_RESHARDINGBUILDER_H
#define AUTOPAR_PARTITION_RESHARDINGBUILDER_H

#include "autopar/Search/ShardingSpace.h"

#include "mlir/IR/Builders.h"

#include <map>

namespace mlir::autopar {

/// The identity of reduction `kind` on `element` (0 for a sum, -inf for a
/// max, ...), or null when `element` is neither float nor integer.
TypedAttr getReductionIdentity(ReductionKind kind, Type element);

class ReshardingBuilder {
public:
  /// Layouts of one value made so far, with their local values: targets
  /// and the results of collectives on the way to them.
  using Made = SmallVector<std::pair<TensorSharding, Value>>;

  /// Emits at `builder`'s insertion point; device coordinates go to the
  /// start of `coordBlock`, once per set of axes.
  ReshardingBuilder(OpBuilder &builder, MeshAttr mesh,
                    FlatSymbolRefAttr meshRef, Block *coordBlock)
      : builder(builder), meshAttr(mesh), meshRef(meshRef),
        mesh(getMeshShape(mesh)), coordBlock(coordBlock) {}

  /// The local type of global `type` under `sharding`; an error at `loc`
  /// when a split does not divide its dimension.
  FailureOr<RankedTensorType> getLocalType(RankedTensorType type,
                                           const TensorSharding &sharding,
                                           Location loc) const;

  /// The device's coordinate along `axes`, linearized row-major.
  Value getCoord(ArrayRef<unsigned> axes, Location loc);

  /// `local`, the global `type` laid out as `from` (partial axes combining
  /// by `partialKind`), laid out as `to`. With `made`, layouts already
  /// made are reused and the new ones recorded.
  FailureOr<Value> reshard(Value local, RankedTensorType type,
                           const TensorSharding &from, const TensorSharding &to,
                           ReductionKind partialKind, Location loc,
                           Made *made = nullptr);

  /// Every axis replicated.
  TensorSharding getReplicated() const {
    TensorSharding sharding;
    sharding.axisDim.assign(mesh.getRank(), TensorSharding::kReplicated);
    return sharding;
  }

private:
  OpBuilder &builder;
  MeshAttr meshAttr;
  FlatSymbolRefAttr meshRef;
  MeshShape mesh;
  Block *coordBlock;
  std::map<SmallVector<unsigned>, Value> coords;
};

} // namespace mlir::autopar

#endif // AUTOPAR_PARTITION_RESHARDINGBUILDER_H
