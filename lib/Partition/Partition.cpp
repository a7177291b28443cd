//===- Partition.cpp - one SPMD program per device ------------------------===//
//
// Rewrites every function that carries shardings into the program one
// device runs: local tensor shapes, each op computing its share under its
// strategy, and autopar collectives wherever a value's sharding differs from
// what its consumer needs. The collectives come from planResharding (the
// planner prices the same steps); an op's local form is the op itself on
// local operands, so the split rules are the sharding spaces' bindings:
//
//  * an operand is resharded to the sharding its binding asks for under the
//    op's strategy (slices are local; partial values are reduced);
//  * results of split reduction loops are partial: the op's init is added
//    once (on the first device of the reduction group; the others start
//    from the combiner's identity);
//  * `linalg.index` of a split loop is offset by the device's first index;
//  * tensors read inside a body (tables) and operands of ops without a rule
//    are made whole first (ops without a rule run replicated, with a
//    remark).
//
// A data-parallel weight gradient is a matmul whose batch loop is split:
// its result is partial and the optimizer update, which needs it whole,
// gets an all_reduce from the same mechanism as every other value.
//
//===----------------------------------------------------------------------===//

#include "autopar/Analysis/ArgumentRoles.h"
#include "autopar/Dialect/AutoparOps.h"
#include "autopar/Partition/Microbatch.h"
#include "autopar/Partition/Passes.h"
#include "autopar/Partition/ReshardingBuilder.h"
#include "autopar/Search/Resharding.h"
#include "autopar/Search/ShardingSpace.h"

#include "mlir/Analysis/SliceAnalysis.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Transforms/RegionUtils.h"

namespace mlir::autopar {
#define GEN_PASS_DEF_PARTITION
#include "autopar/Partition/Passes.h.inc"
} // namespace mlir::autopar

using namespace mlir;
using namespace mlir::autopar;

namespace {

/// A value of the global program as one device holds it.
struct LocalValue {
  Value value;
  TensorSharding sharding;
  ReductionKind partialKind = ReductionKind::Sum;
};

class FunctionPartitioner {
public:
  /// With `microbatchAxis`, `mesh` ends with the microbatch axis
  /// (Microbatch.h): each op's batch loop is split over it too.
  FunctionPartitioner(func::FuncOp func, MeshAttr mesh,
                      FlatSymbolRefAttr meshRef,
                      std::optional<unsigned> microbatchAxis = std::nullopt)
      : func(func), meshAttr(mesh), meshRef(meshRef), mesh(getMeshShape(mesh)),
        microbatchAxis(microbatchAxis), builder(func.getContext()) {}

  LogicalResult run();

private:
  LogicalResult partitionOp(Operation *op);
  LogicalResult partitionReturn(func::ReturnOp op);
  /// `value` (global) as a local value with sharding `target`; with
  /// `fresh`, not from (nor into) the forms made for other consumers.
  FailureOr<Value> reshard(Value value, const TensorSharding &target,
                           Location loc, bool fresh = false);
  /// Maps the tensors among `values` to their whole (replicated) local
  /// form in `mapping`.
  LogicalResult mapWhole(ValueRange values, IRMapping &mapping, Location loc);
  /// The local type of global `type` under `sharding`, or failure when a
  /// split does not divide its dimension.
  FailureOr<RankedTensorType> localType(RankedTensorType type,
                                        const TensorSharding &sharding,
                                        Location loc) {
    return resharding->getLocalType(type, sharding, loc);
  }
  /// The device's coordinate along `axes`, linearized (cached).
  Value coord(ArrayRef<unsigned> axes, Location loc) {
    return resharding->getCoord(axes, loc);
  }
  /// The device's first index of a loop split over `axes` into blocks of
  /// `localSize` (at the builder's insertion point).
  Value getFirstIndex(ArrayRef<unsigned> axes, int64_t localSize,
                      Location loc) {
    Value size = arith::ConstantIndexOp::create(builder, loc, localSize);
    return arith::MulIOp::create(builder, loc, coord(axes, loc), size);
  }
  /// In the mask of `local`, the device's form of attention `global` with
  /// several batch loops: its batch index b, linearised over the device's
  /// block, made the global one (each loop's index offset by the device's
  /// first, linearised over the global sizes).
  void shiftLinearisedBatch(AttentionOpInterface global,
                            AttentionOpInterface local,
                            const Strategy &strategy, Location loc);
  TensorSharding replicated() const { return resharding->getReplicated(); }
  /// The strategy of `op` on the mesh (replicated when it has none).
  FailureOr<Strategy> strategyOf(Operation *op, const OpSpace &space);
  /// Splits the loop of `space` that an operand's microbatch split follows
  /// over the microbatch axis too (when it divides).
  void splitMicrobatches(const OpSpace &space, Strategy &strategy);
  /// Makes the init of a split reduction count once.
  FailureOr<Value> initOnce(DestinationStyleOpInterface op, Value init,
                            unsigned result, ArrayRef<unsigned> axes,
                            ReductionKind kind, Location loc);

  func::FuncOp func;
  MeshAttr meshAttr;
  FlatSymbolRefAttr meshRef;
  MeshShape mesh;
  std::optional<unsigned> microbatchAxis;
  /// With microbatches: the batch dimension of each batch input and label
  /// argument, where the microbatch split starts.
  DenseMap<Value, int> batchDims;
  /// The real axes the first batch input's batch dimension is split over:
  /// every microbatch holds the same samples on every device.
  SmallVector<unsigned> batchAxes;
  OpBuilder builder;
  Block *entry = nullptr;
  /// Global tensor values -> their local form as produced.
  DenseMap<Value, LocalValue> locals;
  /// Emits the collectives and slices, device coordinates in `entry`.
  std::optional<ReshardingBuilder> resharding;
  /// Resharded forms already built, per value: targets and the layouts
  /// passed on the way (each collective's result).
  DenseMap<Value, ReshardingBuilder::Made> resharded;
  /// Non-tensor values (scalars, indices) are the same on every device.
  IRMapping scalars;
  /// Fills of a scalar into an empty tensor: made, like empty tensors, in
  /// the shape each user needs (a microbatch's or a device's block, not
  /// the whole value sliced).
  DenseMap<Value, linalg::FillOp> fills;
};
} // namespace

FailureOr<Value> FunctionPartitioner::reshard(Value value,
                                              const TensorSharding &target,
                                              Location loc, bool fresh) {
  auto globalType = cast<RankedTensorType>(value.getType());
  auto found = locals.find(value);
  if (found == locals.end())
    return mlir::emitError(loc)
           << "autopar-partition: internal error: no local form of a value";
  LocalValue &source = found->second;
  // An empty tensor (or a constant fill of one) has no contents to move:
  // make one of the local shape (once per shape).
  if (!source.value) {
    for (auto &[layout, made] : resharded[value])
      if (layout == target)
        return made;
    FailureOr<RankedTensorType> type = localType(globalType, target, loc);
    if (failed(type))
      return failure();
    Value local = tensor::EmptyOp::create(builder, loc, type->getShape(),
                                          type->getElementType());
    if (linalg::FillOp fill = fills.lookup(value)) {
      IRMapping mapping = scalars;
      mapping.map(fill.getOutputs()[0], local);
      Operation *clone = builder.clone(*fill, mapping);
      clone->removeAttr(AutoparDialect::kStrategyAttrName);
      clone->removeAttr(AutoparDialect::kShardingsAttrName);
      clone->getResult(0).setType(*type);
      local = clone->getResult(0);
    }
    resharded[value].push_back({target, local});
    return local;
  }

  return resharding->reshard(source.value, globalType, source.sharding, target,
                             source.partialKind, loc,
                             fresh ? nullptr : &resharded[value]);
}

FailureOr<Strategy> FunctionPartitioner::strategyOf(Operation *op,
                                                    const OpSpace &space) {
  return getAnnotatedStrategy(op, space, meshAttr, meshRef,
                              "autopar-partition");
}

void FunctionPartitioner::splitMicrobatches(const OpSpace &space,
                                            Strategy &strategy) {
  unsigned axis = *microbatchAxis;
  for (const Binding &binding : space.operands) {
    auto found = locals.find(binding.value);
    if (found == locals.end())
      continue;
    const TensorSharding &sharding = found->second.sharding;
    int dim = sharding.axisDim[axis];
    auto batchDim = batchDims.find(binding.value);
    bool isBatchArgument = batchDim != batchDims.end();
    if (isBatchArgument)
      dim = batchDim->second;
    if (dim < 0)
      continue;
    // The op splits its batch loop over the real axes the operand's batch
    // is split over (for a batch argument, those of the first batch
    // input's, the same for all), so no microbatch needs another's
    // samples.
    std::optional<Strategy> split = splitBatchLoopPerMicrobatch(
        space, strategy, binding.dimLoop[dim], mesh, mesh.sizes[axis], axis,
        [&](unsigned other) {
          return isBatchArgument ? llvm::is_contained(batchAxes, other)
                                 : sharding.axisDim[other] == dim;
        });
    if (!split)
      continue;
    strategy = *split;
    return;
  }
}

FailureOr<Value> FunctionPartitioner::initOnce(DestinationStyleOpInterface op,
                                               Value init, unsigned result,
                                               ArrayRef<unsigned> axes,
                                               ReductionKind kind,
                                               Location loc) {
  auto type = cast<RankedTensorType>(init.getType());
  TypedAttr identity = getReductionIdentity(kind, type.getElementType());
  if (!identity)
    return op->emitError() << "autopar-partition: no identity for a "
                              "split reduction over "
                           << type.getElementType();
  // An init that already is the identity needs nothing; nor does an empty
  // one (a destination only, as autopar.attention_grad's outs are).
  Value global = op.getDpsInits()[result];
  if (global.getDefiningOp<tensor::EmptyOp>())
    return init;
  if (auto fill = global.getDefiningOp<linalg::FillOp>())
    if (auto constant = fill.getInputs()[0].getDefiningOp<arith::ConstantOp>())
      if (constant.getValue() == identity)
        return init;
  Value empty = tensor::EmptyOp::create(builder, loc, type.getShape(),
                                        type.getElementType());
  Value scalar = arith::ConstantOp::create(builder, loc, identity);
  Value filled =
      linalg::FillOp::create(builder, loc, scalar, empty).getResult(0);
  Value index = coord(axes, loc);
  Value zero = arith::ConstantIndexOp::create(builder, loc, 0);
  Value first = arith::CmpIOp::create(builder, loc, arith::CmpIPredicate::eq,
                                      index, zero);
  return arith::SelectOp::create(builder, loc, first, init, filled).getResult();
}

/// The values `op`'s regions read from above.
static SmallVector<Value> getCaptured(Operation *op) {
  SetVector<Value> captured;
  getUsedValuesDefinedAbove(op->getRegions(), captured);
  return captured.takeVector();
}

LogicalResult FunctionPartitioner::mapWhole(ValueRange values,
                                            IRMapping &mapping, Location loc) {
  for (Value value : values) {
    if (!isa<RankedTensorType>(value.getType()))
      continue;
    FailureOr<Value> local = reshard(value, replicated(), loc);
    if (failed(local))
      return failure();
    mapping.map(value, *local);
  }
  return success();
}

LogicalResult FunctionPartitioner::partitionOp(Operation *op) {
  Location loc = op->getLoc();
  std::optional<OpSpace> space = buildOpSpace(op);

  // Empty tensors and constant fills: made where needed, in the shape each
  // user needs.
  if (isMadeFromScalar(op)) {
    locals[op->getResult(0)] = {Value(), replicated()};
    if (auto fill = dyn_cast<linalg::FillOp>(op))
      fills[fill.getResult(0)] = fill;
    return success();
  }
  if (!space) {
    // Not a node of the search: constants, scalar ops, and ops reading
    // tensors into scalars. Tensors are read whole.
    IRMapping mapping = scalars;
    if (failed(mapWhole(op->getOperands(), mapping, loc)) ||
        failed(mapWhole(getCaptured(op), mapping, loc)))
      return failure();
    Operation *clone = builder.clone(*op, mapping);
    for (auto [result, local] :
         llvm::zip_equal(op->getResults(), clone->getResults()))
      if (isa<RankedTensorType>(result.getType()))
        locals[result] = {local, replicated()};
      else
        scalars.map(result, local);
    return success();
  }

  // A pin: the value takes the pinned sharding here.
  if (auto shard = dyn_cast<ShardOp>(op)) {
    FailureOr<TensorSharding> pinned =
        fromShardingAttr(shard.getSharding(), meshAttr);
    if (failed(pinned) || shard.getSharding().getMesh() != meshRef)
      return op->emitError()
             << "autopar-partition: the pin is not on mesh " << meshRef;
    // Each pin makes its own copy (ZeRO-3 gathers a parameter once for the
    // forward and once for the backward, so the whole parameter is not
    // live in between); its users share it.
    Operation *before = entry->empty() ? nullptr : &entry->back();
    FailureOr<Value> local =
        reshard(shard.getInput(), *pinned, loc, /*fresh=*/true);
    if (failed(local))
      return failure();
    // The pin's tags (the layer whose forward or backward a ZeRO-3 gather
    // serves) go to its collectives: they stay apart from other layers'.
    for (Operation &made : llvm::make_range(
             before ? std::next(before->getIterator()) : entry->begin(),
             entry->end()))
      if (isa<CollectiveOpInterface>(made))
        for (StringRef tag :
             {AutoparDialect::kLayerAttrName, AutoparDialect::kGradOfAttrName})
          if (Attribute value = shard->getAttr(tag))
            made.setAttr(tag, value);
    locals[shard.getResult()] = {*local, *pinned};
    return success();
  }

  // Rounding a partial sum: each device rounds its part, the sum is taken
  // in the narrow type where a consumer needs it whole.
  if (isRoundingCast(op)) {
    Value input = op->getOperand(0);
    auto found = locals.find(input);
    if (found != locals.end() && found->second.value &&
        found->second.partialKind == ReductionKind::Sum &&
        llvm::is_contained(found->second.sharding.axisDim,
                           TensorSharding::kPartial)) {
      auto localIn = cast<RankedTensorType>(found->second.value.getType());
      Type element = getElementTypeOrSelf(op->getResult(0).getType());
      IRMapping mapping = scalars;
      mapping.map(input, found->second.value);
      mapping.map(
          op->getOperand(1),
          tensor::EmptyOp::create(builder, loc, localIn.getShape(), element)
              .getResult());
      Operation *clone = builder.clone(*op, mapping);
      clone->removeAttr(AutoparDialect::kStrategyAttrName);
      clone->removeAttr(AutoparDialect::kShardingsAttrName);
      clone->getResult(0).setType(localIn.clone(element));
      locals[op->getResult(0)] = {clone->getResult(0), found->second.sharding,
                                  ReductionKind::Sum};
      return success();
    }
  }

  FailureOr<Strategy> strategy = strategyOf(op, *space);
  if (failed(strategy))
    return failure();
  if (microbatchAxis)
    splitMicrobatches(*space, *strategy);
  bool split = llvm::any_of(*strategy, [](int loop) { return loop >= 0; });
  int64_t devices = mesh.getNumDevices();
  if (microbatchAxis)
    devices /= mesh.sizes[*microbatchAxis];
  if (!space->understood && devices > 1) {
    op->emitRemark() << "autopar-partition: no sharding rule for '"
                     << op->getName()
                     << "'; its operands are gathered and it runs "
                        "replicated on every device";
  }

  // Partial results: which loops reduce over which axes, and how.
  auto destinationOp = dyn_cast<DestinationStyleOpInterface>(op);
  SmallVector<unsigned> reductionAxes;
  for (auto [axis, loop] : llvm::enumerate(*strategy))
    if (loop >= 0 && space->reduction[loop])
      reductionAxes.push_back(axis);
  SmallVector<ReductionKind> kinds(op->getNumResults(), ReductionKind::Sum);
  if (!reductionAxes.empty()) {
    for (unsigned result = 0; result < op->getNumResults(); ++result) {
      std::optional<ReductionKind> kind = getReductionKind(op, result);
      if (!kind) {
        op->emitWarning()
            << "autopar-partition: the strategy splits a reduction loop but "
               "result #"
            << result
            << " is not a plain sum, product, max or min; the op runs "
               "replicated";
        strategy->assign(mesh.getRank(), -1);
        reductionAxes.clear();
        split = false;
        break;
      }
      kinds[result] = *kind;
    }
  }

  // Operands under the strategy.
  IRMapping mapping = scalars;
  for (const Binding &binding : space->operands) {
    TensorSharding wanted = getSharding(*space, binding, *strategy, false);
    FailureOr<Value> local = reshard(binding.value, wanted, loc);
    if (failed(local))
      return failure();
    mapping.map(binding.value, *local);
  }
  // Tensor operands without a binding, and tensors read inside the body.
  SmallVector<Value> unbound;
  for (Value operand : op->getOperands())
    if (!mapping.contains(operand))
      unbound.push_back(operand);
  if (failed(mapWhole(unbound, mapping, loc)) ||
      failed(mapWhole(getCaptured(op), mapping, loc)))
    return failure();

  // A split reduction adds its init once.
  if (destinationOp && !reductionAxes.empty()) {
    for (auto [result, init] : llvm::enumerate(destinationOp.getDpsInits())) {
      FailureOr<Value> once =
          initOnce(destinationOp, mapping.lookup(init), result, reductionAxes,
                   kinds[result], loc);
      if (failed(once))
        return failure();
      mapping.map(init, *once);
    }
  }

  Operation *clone = builder.clone(*op, mapping);
  clone->removeAttr(AutoparDialect::kStrategyAttrName);
  clone->removeAttr(AutoparDialect::kShardingsAttrName);
  SmallVector<TensorSharding> resultShardings;
  for (OpResult result : op->getResults()) {
    TensorSharding sharding = replicated();
    for (const Binding &binding : space->results)
      if (binding.value == result)
        sharding = getSharding(*space, binding, *strategy, true);
    resultShardings.push_back(sharding);
    if (auto type = dyn_cast<RankedTensorType>(result.getType())) {
      FailureOr<RankedTensorType> local = localType(type, sharding, loc);
      if (failed(local))
        return failure();
      clone->getResult(result.getResultNumber()).setType(*local);
    }
  }

  if (split) {
    // Sizes written into the op: slices and expand_shape.
    auto localShape = [&](unsigned result) {
      return cast<RankedTensorType>(clone->getResult(result).getType())
          .getShape();
    };
    if (auto slice = dyn_cast<tensor::ExtractSliceOp>(clone)) {
      slice.setStaticSizes(localShape(0));
    } else if (auto insert = dyn_cast<tensor::InsertSliceOp>(clone)) {
      insert.setStaticSizes(
          cast<RankedTensorType>(insert.getSource().getType()).getShape());
    } else if (auto expand = dyn_cast<tensor::ExpandShapeOp>(clone)) {
      expand.setStaticOutputShape(localShape(0));
    }
    // Indices of split loops count from the device's first index: a
    // body's linalg.index, an attention mask's (b, i, j) arguments.
    struct LoopIndex {
      Value value;
      unsigned loop;
      int64_t localSize;
    };
    SmallVector<LoopIndex> indices;
    if (auto local = dyn_cast<linalg::LinalgOp>(clone)) {
      SmallVector<int64_t> ranges = local.getStaticLoopRanges();
      clone->walk([&](linalg::IndexOp index) {
        indices.push_back({index.getResult(),
                           static_cast<unsigned>(index.getDim()),
                           ranges[index.getDim()]});
      });
    } else if (auto attention = dyn_cast<AttentionOpInterface>(clone)) {
      if (attention.hasMask()) {
        Block &mask = attention.getMaskRegion().front();
        SmallVector<int64_t, 5> sizes = attention.getLoopSizes();
        unsigned n = attention.getBatchRank();
        // The batch's index b is linearised over the batch loops: one
        // loop counts as before; several (batch and heads apart) are
        // linearised again below.
        if (n == 1)
          indices.push_back({mask.getArgument(0), 0, sizes[0]});
        indices.push_back({mask.getArgument(1), n, sizes[1]});
        indices.push_back({mask.getArgument(2), n + 1, sizes[2]});
        if (n > 1)
          shiftLinearisedBatch(cast<AttentionOpInterface>(op), attention,
                               *strategy, loc);
      }
    }
    for (LoopIndex &index : indices) {
      SmallVector<unsigned, 2> axes =
          getAxesSplitting(*strategy, static_cast<int>(index.loop));
      if (axes.empty())
        continue;
      Value offset;
      {
        OpBuilder::InsertionGuard guard(builder);
        builder.setInsertionPoint(clone);
        offset = getFirstIndex(axes, index.localSize, loc);
      }
      OpBuilder inner(clone->getContext());
      if (Operation *def = index.value.getDefiningOp())
        inner.setInsertionPointAfter(def);
      else
        inner.setInsertionPointToStart(
            cast<BlockArgument>(index.value).getOwner());
      auto shifted = arith::AddIOp::create(inner, loc, index.value, offset);
      index.value.replaceAllUsesExcept(shifted.getResult(),
                                       shifted.getOperation());
    }
  }

  for (OpResult result : op->getResults()) {
    Value local = clone->getResult(result.getResultNumber());
    if (isa<RankedTensorType>(result.getType()))
      locals[result] = {local, resultShardings[result.getResultNumber()],
                        kinds[result.getResultNumber()]};
    else
      scalars.map(result, local);
  }
  return success();
}

void FunctionPartitioner::shiftLinearisedBatch(AttentionOpInterface global,
                                               AttentionOpInterface local,
                                               const Strategy &strategy,
                                               Location loc) {
  Block &mask = local.getMaskRegion().front();
  Value index = mask.getArgument(0);
  if (index.use_empty())
    return;
  unsigned n = global.getBatchRank();
  ArrayRef<int64_t> globalSizes = global.getBatchShape();
  ArrayRef<int64_t> localSizes = local.getBatchShape();
  SmallVector<Value> first(n);
  {
    OpBuilder::InsertionGuard guard(builder);
    builder.setInsertionPoint(local);
    for (unsigned loop = 0; loop < n; ++loop) {
      SmallVector<unsigned, 2> axes =
          getAxesSplitting(strategy, static_cast<int>(loop));
      if (!axes.empty())
        first[loop] = getFirstIndex(axes, localSizes[loop], loc);
    }
  }
  if (llvm::all_of(first, [](Value value) { return !value; }))
    return;
  SmallVector<OpOperand *> uses;
  for (OpOperand &use : index.getUses())
    uses.push_back(&use);
  OpBuilder inner = OpBuilder::atBlockBegin(&mask);
  auto constant = [&](int64_t value) {
    return arith::ConstantIndexOp::create(inner, loc, value);
  };
  // b = sum_k (b_k + first_k) G_k, where b_k = (local b / L_k) mod l_k.
  Value linear = constant(0);
  int64_t localStride = 1, globalStride = 1;
  for (int loop = n - 1; loop >= 0; --loop) {
    Value position = index;
    if (localStride != 1)
      position =
          arith::DivUIOp::create(inner, loc, position, constant(localStride));
    if (loop > 0)
      position = arith::RemUIOp::create(inner, loc, position,
                                        constant(localSizes[loop]));
    if (first[loop])
      position = arith::AddIOp::create(inner, loc, position, first[loop]);
    if (globalStride != 1)
      position =
          arith::MulIOp::create(inner, loc, position, constant(globalStride));
    linear = arith::AddIOp::create(inner, loc, linear, position);
    localStride *= localSizes[loop];
    globalStride *= globalSizes[loop];
  }
  for (OpOperand *use : uses)
    use->set(linear);
}

LogicalResult FunctionPartitioner::partitionReturn(func::ReturnOp op) {
  SmallVector<Value> operands;
  for (auto [index, operand] : llvm::enumerate(op.getOperands())) {
    if (!isa<RankedTensorType>(operand.getType())) {
      operands.push_back(scalars.lookupOrDefault(operand));
      continue;
    }
    TensorSharding target = locals[operand].sharding;
    if (auto attr = func.getResultAttrOfType<ShardingAttr>(
            index, AutoparDialect::kShardingAttrName)) {
      FailureOr<TensorSharding> wanted = fromShardingAttr(attr, meshAttr);
      if (failed(wanted))
        return op->emitError() << "autopar-partition: result #" << index
                               << " has a sharding on another mesh";
      target = *wanted;
    }
    // What leaves the function is complete, and whole over the
    // microbatches.
    for (int &dim : target.axisDim)
      if (dim == TensorSharding::kPartial)
        dim = TensorSharding::kReplicated;
    if (microbatchAxis)
      target.axisDim[*microbatchAxis] = TensorSharding::kReplicated;
    FailureOr<Value> local = reshard(operand, target, op.getLoc());
    if (failed(local))
      return failure();
    operands.push_back(*local);
    func.setResultAttr(
        index, AutoparDialect::kShardingAttrName,
        toShardingAttr(target, mesh, meshRef,
                       cast<RankedTensorType>(operand.getType()).getRank()));
  }
  func::ReturnOp::create(builder, op.getLoc(), operands);
  return success();
}

LogicalResult FunctionPartitioner::run() {
  if (!func.getBody().hasOneBlock())
    return func.emitError()
           << "autopar-partition: functions with control flow between "
              "blocks are not supported";
  Block &body = func.getBody().front();
  Value firstInput;
  if (microbatchAxis) {
    ArgumentRoles roles(func);
    for (BlockArgument arg : roles.getBatchArguments())
      batchDims[arg] = roles.getBatchDim(arg);
    firstInput = roles.getFirstInput();
  }
  entry = new Block();
  resharding.emplace(builder, meshAttr, meshRef, entry);
  SmallVector<Type> argTypes;
  for (BlockArgument arg : body.getArguments()) {
    auto type = dyn_cast<RankedTensorType>(arg.getType());
    if (!type) {
      Value local = entry->addArgument(arg.getType(), arg.getLoc());
      scalars.map(arg, local);
      argTypes.push_back(arg.getType());
      continue;
    }
    TensorSharding sharding = replicated();
    if (auto attr = func.getArgAttrOfType<ShardingAttr>(
            arg.getArgNumber(), AutoparDialect::kShardingAttrName)) {
      FailureOr<TensorSharding> parsed = fromShardingAttr(attr, meshAttr);
      if (failed(parsed) || attr.isPartial())
        return func.emitError()
               << "autopar-partition: argument #" << arg.getArgNumber()
               << " has sharding " << attr
               << ", which is not a whole value on mesh " << meshRef;
      sharding = *parsed;
    }
    FailureOr<RankedTensorType> local = localType(type, sharding, arg.getLoc());
    if (failed(local)) {
      delete entry;
      return failure();
    }
    Value value = entry->addArgument(*local, arg.getLoc());
    locals[arg] = {value, sharding};
    argTypes.push_back(*local);
    func.setArgAttr(arg.getArgNumber(), AutoparDialect::kShardingAttrName,
                    toShardingAttr(sharding, mesh, meshRef, type.getRank()));
  }
  if (firstInput)
    for (auto [axis, dim] :
         llvm::enumerate(locals[firstInput].sharding.axisDim))
      if (dim == batchDims[firstInput])
        batchAxes.push_back(axis);
  builder.setInsertionPointToEnd(entry);
  LogicalResult result = success();
  for (Operation &op : body) {
    if (auto ret = dyn_cast<func::ReturnOp>(op)) {
      result = partitionReturn(ret);
    } else {
      result = partitionOp(&op);
    }
    if (failed(result))
      break;
  }
  if (failed(result)) {
    delete entry;
    return failure();
  }
  // Swap the bodies.
  body.dropAllDefinedValueUses();
  body.erase();
  func.getBody().push_back(entry);
  SmallVector<Type> resultTypes(
      entry->getTerminator()->getOperandTypes().begin(),
      entry->getTerminator()->getOperandTypes().end());
  func.setType(FunctionType::get(func.getContext(), argTypes, resultTypes));
  func->setAttr(AutoparDialect::kSpmdAttrName, meshRef);
  return success();
}

namespace {
struct PartitionPass
    : public mlir::autopar::impl::PartitionBase<PartitionPass> {
  using PartitionBase::PartitionBase;
  void runOnOperation() override;
};
} // namespace

/// Local shapes, slices and collectives are computed from static shapes:
/// a function with a dynamic dimension (a dynamic batch) is refused up
/// front, at the first value that has one, rather than half-partitioned.
static LogicalResult checkStaticShapes(func::FuncOp func) {
  for (BlockArgument arg : func.getArguments())
    if (auto type = dyn_cast<RankedTensorType>(arg.getType());
        type && !type.hasStaticShape())
      return func.emitError()
             << "autopar-partition: argument #" << arg.getArgNumber() << " of @"
             << func.getName() << " has the dynamic shape " << type
             << "; partitioning needs static shapes (export the model "
                "with a fixed batch and sizes)";
  WalkResult result = func.walk([&](Operation *op) {
    for (Type type : op->getResultTypes())
      if (auto tensor = dyn_cast<RankedTensorType>(type);
          tensor && !tensor.hasStaticShape()) {
        op->emitError() << "autopar-partition: '" << op->getName()
                        << "' has the dynamic shape " << tensor
                        << "; partitioning needs static shapes (export the "
                           "model with a fixed batch and sizes)";
        return WalkResult::interrupt();
      }
    return WalkResult::advance();
  });
  return failure(result.wasInterrupted());
}

void PartitionPass::runOnOperation() {
  ModuleOp module = getOperation();
  // A pipeline: per-stage programs on its mesh (the stages' axis first).
  std::optional<PipelineProgramOptions> pipeline;
  if (auto attr = module->getAttrOfType<DictionaryAttr>(
          AutoparDialect::kPipelineAttrName)) {
    pipeline.emplace();
    pipeline->stages = attr.getAs<IntegerAttr>("stages").getInt();
    pipeline->schedule = attr.getAs<StringAttr>("schedule").getValue().str();
    pipeline->virtualStages =
        attr.getAs<IntegerAttr>("virtual_stages").getInt();
    pipeline->loops = pipelineLoops;
    auto meshOp = dyn_cast_or_null<MeshOp>(SymbolTable::lookupSymbolIn(
        module, StringAttr::get(module.getContext(), "mesh")));
    if (!meshOp ||
        meshOp.getMesh().getAxisNames().front() !=
            AutoparDialect::kStageAxisName ||
        meshOp.getMesh().getAxisSizes().front() != pipeline->stages)
      return (void)(module.emitError()
                    << "autopar-partition: the pipeline's ops have no "
                       "shardings on a mesh whose first axis is its "
                       "stages (autopar-plan annotates them unless the "
                       "stages' meshes have no common refinement; pin "
                       "mesh= for that)"),
             signalPassFailure();
  }
  // The step autopar-plan priced: microbatches are built here (a loop per
  // device program); recomputation is autopar-training's (recompute=), and
  // a plan priced with it is said when the step was built without.
  int64_t microbatches = 1;
  if (auto step = module->getAttrOfType<DictionaryAttr>(
          AutoparDialect::kStepAttrName)) {
    auto recompute = step.getAs<StringAttr>("recompute");
    bool recomputed = false;
    module.walk([&](Operation *op) {
      recomputed |= op->hasAttr(AutoparDialect::kRecomputedAttrName);
    });
    if (recompute && recompute.getValue() != "none" && !recomputed)
      mlir::emitWarning(module.getLoc())
          << "autopar-partition: the plan was priced with recompute="
          << recompute.getValue()
          << ", but the step recomputes nothing (recomputation is "
             "autopar-training's recompute=); plan with recompute=none to "
             "price this program";
    if (auto attr = step.getAs<IntegerAttr>("microbatches"))
      microbatches = attr.getInt();
    if (microbatches < 1)
      return (void)(mlir::emitError(module.getLoc())
                    << "autopar-partition: microbatches=" << microbatches
                    << " in " << step << "; it must be at least 1"),
             signalPassFailure();
  }
  SmallVector<func::FuncOp> funcs(module.getOps<func::FuncOp>());
  for (func::FuncOp func : funcs) {
    // External functions have nothing to partition; partitioned ones
    // already are per-device programs.
    if (func.isExternal() || func->hasAttr(AutoparDialect::kSpmdAttrName))
      continue;
    FailureOr<FlatSymbolRefAttr> meshRef =
        getAnnotatedMesh(func, "autopar-partition");
    if (failed(meshRef))
      return signalPassFailure();
    if (!*meshRef)
      continue;
    MeshAttr mesh = lookupMesh(func, *meshRef);
    if (!mesh)
      return signalPassFailure();
    if (failed(checkStaticShapes(func)))
      return signalPassFailure();
    if (microbatches == 1 && !pipeline) {
      FunctionPartitioner partitioner(func, mesh, *meshRef);
      if (failed(partitioner.run()))
        return signalPassFailure();
      continue;
    }
    if (mesh.getAxisIndex(kMicrobatchAxisName))
      return (void)(func.emitError()
                    << "autopar-partition: mesh " << *meshRef
                    << " has an axis named '" << kMicrobatchAxisName
                    << "', the name of the microbatch axis"),
             signalPassFailure();
    MeshAttr microMesh = getMeshWithMicrobatchAxis(mesh, microbatches);
    FunctionPartitioner partitioner(func, microMesh, *meshRef,
                                    microMesh.getRank() - 1);
    if (failed(partitioner.run()) ||
        failed(sequentializeMicrobatches(func, *meshRef, microMesh,
                                         pipeline ? &*pipeline : nullptr)))
      return signalPassFailure();
  }
}
