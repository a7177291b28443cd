//===- ReshardingBuilder.cpp - emitting a resharding on one device --------===//

#include "autopar/Partition/ReshardingBuilder.h"
#include "autopar/Dialect/AutoparOps.h"
#include "autopar/Search/Resharding.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace mlir::autopar;

TypedAttr mlir::autopar::getReductionIdentity(ReductionKind kind,
                                              Type element) {
  Builder b(element.getContext());
  if (auto floatType = dyn_cast<FloatType>(element)) {
    const llvm::fltSemantics &semantics = floatType.getFloatSemantics();
    switch (kind) {
    case ReductionKind::Sum:
      return b.getFloatAttr(element, 0.0);
    case ReductionKind::Product:
      return b.getFloatAttr(element, 1.0);
    case ReductionKind::Max:
      return b.getFloatAttr(element, APFloat::getInf(semantics, true));
    case ReductionKind::Min:
      return b.getFloatAttr(element, APFloat::getInf(semantics, false));
    }
  }
  if (auto intType = dyn_cast<IntegerType>(element)) {
    unsigned width = intType.getWidth();
    switch (kind) {
    case ReductionKind::Sum:
      return b.getIntegerAttr(element, 0);
    case ReductionKind::Product:
      return b.getIntegerAttr(element, 1);
    case ReductionKind::Max:
      return b.getIntegerAttr(element, APInt::getSignedMinValue(width));
    case ReductionKind::Min:
      return b.getIntegerAttr(element, APInt::getSignedMaxValue(width));
    }
  }
  return {};
}

Value ReshardingBuilder::getCoord(ArrayRef<unsigned> axes, Location loc) {
  SmallVector<unsigned> key(axes);
  auto it = coords.find(key);
  if (it != coords.end())
    return it->second;
  OpBuilder::InsertionGuard guard(builder);
  builder.setInsertionPointToStart(coordBlock);
  SmallVector<StringRef> names;
  for (unsigned axis : axes)
    names.push_back(meshAttr.getAxisNames()[axis].getValue());
  Value value = DeviceCoordOp::create(builder, loc, builder.getIndexType(),
                                      meshRef, builder.getStrArrayAttr(names));
  coords[key] = value;
  return value;
}

FailureOr<RankedTensorType> ReshardingBuilder::getLocalType(
    RankedTensorType type, const TensorSharding &sharding, Location loc) const {
  SmallVector<int64_t> shape(type.getShape());
  for (auto [axis, dim] : llvm::enumerate(sharding.axisDim)) {
    if (dim < 0)
      continue;
    if (dim >= type.getRank() || ShapedType::isDynamic(shape[dim]) ||
        shape[dim] % mesh.sizes[axis] != 0)
      return mlir::emitError(loc)
             << "autopar-partition: cannot split dimension " << dim << " of "
             << type << " over mesh axis '" << mesh.names[axis] << "' of size "
             << mesh.sizes[axis]
             << ": uneven or dynamic splits are not supported";
    shape[dim] /= mesh.sizes[axis];
  }
  return RankedTensorType::get(shape, type.getElementType(),
                               type.getEncoding());
}

FailureOr<Value> ReshardingBuilder::reshard(Value local,
                                            RankedTensorType globalType,
                                            const TensorSharding &from,
                                            const TensorSharding &to,
                                            ReductionKind partialKind,
                                            Location loc, Made *made) {
  auto lookup = [&](const TensorSharding &sharding) -> Value {
    if (made)
      for (auto &[layout, value] : *made)
        if (layout == sharding)
          return value;
    return Value();
  };
  auto record = [&](const TensorSharding &sharding, Value value) {
    if (made && !lookup(sharding))
      made->push_back({sharding, value});
  };
  auto axisNames = [&](unsigned axis) {
    return builder.getArrayAttr({meshAttr.getAxisNames()[axis]});
  };
  if (from == to)
    return local;
  if (Value value = lookup(to))
    return value;
  double bytes = 1;
  for (int64_t size : globalType.getShape())
    bytes *= static_cast<double>(size);
  SmallVector<ReshardStep> steps = planResharding(from, to, bytes, mesh);
  Value current = local;
  TensorSharding sharding = from;
  SmallVector<ReshardStep> slices;
  for (const ReshardStep &step : steps) {
    if (step.kind == ReshardKind::Slice) {
      slices.push_back(step);
      continue;
    }
    TensorSharding next = sharding;
    switch (step.kind) {
    case ReshardKind::AllReduce:
      next.axisDim[step.axis] = TensorSharding::kReplicated;
      break;
    case ReshardKind::ReduceScatter:
    case ReshardKind::AllToAll:
      next.axisDim[step.axis] = step.dim;
      break;
    case ReshardKind::AllGather:
      next.axisDim[step.axis] = TensorSharding::kReplicated;
      break;
    case ReshardKind::Slice:
      break;
    }
    // A layout already made on the way to another target is reused.
    if (Value reused = lookup(next)) {
      current = reused;
      sharding = next;
      continue;
    }
    FailureOr<RankedTensorType> type = getLocalType(globalType, next, loc);
    if (failed(type))
      return failure();
    ArrayAttr axes = axisNames(step.axis);
    switch (step.kind) {
    case ReshardKind::AllReduce:
      current = AllReduceOp::create(builder, loc, *type, current, Value(),
                                    meshRef, axes, partialKind)
                    .getResult();
      break;
    case ReshardKind::ReduceScatter:
      current = ReduceScatterOp::create(
                    builder, loc, *type, current, Value(), meshRef, axes,
                    builder.getI64IntegerAttr(step.dim), partialKind)
                    .getResult();
      break;
    case ReshardKind::AllGather:
      current =
          AllGatherOp::create(builder, loc, *type, current, Value(), meshRef,
                              axes, builder.getI64IntegerAttr(step.dim))
              .getResult();
      break;
    case ReshardKind::AllToAll:
      current =
          AllToAllOp::create(builder, loc, *type, current, Value(), meshRef,
                             axes, builder.getI64IntegerAttr(step.dim),
                             builder.getI64IntegerAttr(step.fromDim))
              .getResult();
      break;
    case ReshardKind::Slice:
      break;
    }
    sharding = next;
    record(sharding, current);
  }
  for (unsigned axis = 0; axis < mesh.getRank(); ++axis)
    if (sharding.axisDim[axis] == TensorSharding::kPartial &&
        to.axisDim[axis] != TensorSharding::kPartial)
      return mlir::emitError(loc)
             << "autopar-partition: internal error: a partial value left "
                "unreduced";
  if (!slices.empty()) {
    // One extract_slice keeps every slice: per dimension, the block of the
    // axes newly splitting it (in axis order, the first the major one).
    TensorSharding next = sharding;
    for (const ReshardStep &step : slices)
      next.axisDim[step.axis] = step.dim;
    FailureOr<RankedTensorType> type = getLocalType(globalType, next, loc);
    if (failed(type))
      return failure();
    SmallVector<OpFoldResult> offsets, sizes, strides;
    for (int64_t dim = 0; dim < globalType.getRank(); ++dim) {
      SmallVector<unsigned> axes;
      for (const ReshardStep &step : slices)
        if (step.dim == dim)
          axes.push_back(step.axis);
      int64_t size = type->getDimSize(dim);
      sizes.push_back(builder.getIndexAttr(size));
      strides.push_back(builder.getIndexAttr(1));
      if (axes.empty()) {
        offsets.push_back(builder.getIndexAttr(0));
        continue;
      }
      Value index = getCoord(axes, loc);
      Value step = arith::ConstantIndexOp::create(builder, loc, size);
      offsets.push_back(
          arith::MulIOp::create(builder, loc, index, step).getResult());
    }
    current = tensor::ExtractSliceOp::create(builder, loc, *type, current,
                                             offsets, sizes, strides)
                  .getResult();
    sharding = next;
  }
  record(to, current);
  return current;
}
