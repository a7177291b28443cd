//===- Zero.cpp - ZeRO as shardings of a training step --------------------===//
//
// A parameter replicated over mesh axes that split its consumers' batch
// gets a gradient that is a partial sum over those axes (its data axes).
// ZeRO keeps one copy of the update's inputs per data group instead of one
// per device: the update ops, the optimizer state and (stage 3) the
// parameter take the parameter's sharding with the data axes added on one
// dimension. What moves follows from the shardings alone: partial ->
// split is a reduce_scatter, split -> replicated an all_gather.
//
//===----------------------------------------------------------------------===//

#include "autopar/Partition/Zero.h"
#include "autopar/Analysis/ArgumentRoles.h"
#include "autopar/Dialect/AutoparOps.h"
#include "autopar/Search/ShardingSpace.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"

using namespace mlir;
using namespace mlir::autopar;

/// The 16-bit working copy of an f32 master parameter (mixed precision),
/// if any.
static Operation *getWorkingCopy(BlockArgument param) {
  for (Operation *user : param.getUsers())
    if (isWorkingCopy(user))
      return user;
  return nullptr;
}

/// The axes along which a forward op splits a loop while reading a value
/// replicated, by the value read and by the argument or constant it is a
/// view of (one pass over the forward; a parameter's data axes are those of
/// the parameter and of its working copy).
static DenseMap<Value, unsigned>
getReadAxes(Block &body, const ArgumentRoles &roles, MeshAttr mesh) {
  DenseMap<Value, unsigned> axesOf;
  unsigned rank = getMeshShape(mesh).getRank();
  for (Operation &op : body) {
    if (!op.hasAttr(AutoparDialect::kLayerAttrName))
      continue;
    auto attr =
        op.getAttrOfType<StrategyAttr>(AutoparDialect::kStrategyAttrName);
    std::optional<OpSpace> space = buildOpSpace(&op);
    if (!attr || !space)
      continue;
    FailureOr<Strategy> strategy = fromStrategyAttr(attr, mesh);
    if (failed(strategy) || strategy->size() != rank)
      continue;
    for (const Binding &operand : space->operands) {
      TensorSharding sharding = getSharding(*space, operand, *strategy, false);
      unsigned axes = 0;
      for (auto [axis, loop] : llvm::enumerate(*strategy))
        if (loop >= 0 && sharding.axisDim[axis] == TensorSharding::kReplicated)
          axes |= 1u << axis;
      axesOf[operand.value] |= axes;
      axesOf[roles.getSource(operand.value)] |= axes;
    }
  }
  return axesOf;
}

/// `own` with `axes` added on a dimension of `type` they divide (one no
/// axis splits yet first), or std::nullopt.
static std::optional<TensorSharding> addDataAxes(const TensorSharding &own,
                                                 unsigned axes,
                                                 RankedTensorType type,
                                                 const MeshShape &mesh) {
  int64_t group = mesh.getGroupSize(axes);
  for (bool allowSplit : {false, true})
    for (int64_t dim = 0; dim < type.getRank(); ++dim) {
      int64_t local = type.getDimSize(dim);
      bool split = false;
      for (auto [axis, splitDim] : llvm::enumerate(own.axisDim))
        if (splitDim == dim) {
          local /= mesh.sizes[axis];
          split = true;
        }
      if ((split && !allowSplit) || local % group != 0)
        continue;
      TensorSharding sharded = own;
      for (unsigned axis = 0; axis < mesh.getRank(); ++axis)
        if (axes & (1u << axis))
          sharded.axisDim[axis] = dim;
      return sharded;
    }
  return std::nullopt;
}

/// The ops computing the new value `value` of a parameter of type `type`
/// from the parameter, its gradient and its optimizer state: the untagged
/// (neither forward nor backward) ops of that type it is computed by.
static void collectUpdateOps(Value value, Type type, Block &body,
                             SetVector<Operation *> &ops) {
  Operation *op = value.getDefiningOp();
  if (!op || op->getBlock() != &body || value.getType() != type ||
      op->hasAttr(AutoparDialect::kLayerAttrName) ||
      op->hasAttr(AutoparDialect::kGradOfAttrName) || !ops.insert(op))
    return;
  for (Value operand : op->getOperands())
    collectUpdateOps(operand, type, body, ops);
}

void mlir::autopar::applyZeroSharding(func::FuncOp step, MeshAttr meshAttr,
                                      FlatSymbolRefAttr meshRef,
                                      function_ref<unsigned(Value)> stageOf) {
  if (!step.getBody().hasOneBlock())
    return;
  MeshShape mesh = getMeshShape(meshAttr);
  Block &body = step.getBody().front();
  auto ret = cast<func::ReturnOp>(body.getTerminator());
  ArgumentRoles roles(step);
  DenseMap<Value, unsigned> readAxes = getReadAxes(body, roles, meshAttr);
  auto shardingOf = [&](unsigned arg) {
    TensorSharding sharding;
    sharding.axisDim.assign(mesh.getRank(), TensorSharding::kReplicated);
    if (auto attr = step.getArgAttrOfType<ShardingAttr>(
            arg, AutoparDialect::kShardingAttrName))
      if (FailureOr<TensorSharding> parsed = fromShardingAttr(attr, meshAttr);
          succeeded(parsed))
        sharding = *parsed;
    return sharding;
  };

  for (auto [index, operand] : llvm::enumerate(ret.getOperands())) {
    auto updates = step.getResultAttrOfType<IntegerAttr>(
        index, AutoparDialect::kUpdatesAttrName);
    if (!updates)
      continue;
    BlockArgument param = body.getArgument(updates.getInt());
    auto type = dyn_cast<RankedTensorType>(param.getType());
    if (!type || roles.getRole(param) != ValueRole::Param)
      continue;
    Operation *copy = getWorkingCopy(param);
    Value working = copy ? copy->getResult(0) : Value(param);
    unsigned stage = stageOf(param);
    unsigned axes = readAxes.lookup(param) | readAxes.lookup(working);
    if (!axes)
      continue;
    TensorSharding own = shardingOf(param.getArgNumber());
    std::optional<TensorSharding> sharded =
        stage == 0 ? own : addDataAxes(own, axes, type, mesh);
    if (!sharded)
      continue;
    ShardingAttr shardedAttr =
        toShardingAttr(*sharded, mesh, meshRef, type.getRank());

    // The update runs on the shard (stage 0: where the parameter is); the
    // optimizer state it reads is kept there.
    SetVector<Operation *> updateOps;
    collectUpdateOps(operand, type, body, updateOps);
    // And the ops computing the new values of the optimizer state it reads
    // (fp16's skipped steps select them apart from the parameter's).
    for (unsigned i = 0; i < updateOps.size(); ++i)
      for (Value input : updateOps[i]->getOperands())
        if (auto state = dyn_cast<BlockArgument>(input);
            state && state.getOwner() == &body && state.getType() == type &&
            roles.getRole(state) == ValueRole::State)
          for (auto [r, value] : llvm::enumerate(ret.getOperands()))
            if (auto next = step.getResultAttrOfType<IntegerAttr>(
                    r, AutoparDialect::kUpdatesAttrName);
                next && next.getInt() == state.getArgNumber())
              collectUpdateOps(value, type, body, updateOps);
    // An f32 master of a 16-bit parameter is optimizer state: from stage 1
    // it is kept on the shard and cast there; the 16-bit copy is gathered.
    SmallVector<Operation *> placed(updateOps.begin(), updateOps.end());
    if (copy && stage > 0)
      placed.push_back(copy);
    for (Operation *op : placed) {
      std::optional<OpSpace> space = buildOpSpace(op);
      if (!space)
        continue;
      // The strategy whose results of the parameter's shape are laid out
      // as the update must be.
      std::optional<Strategy> chosen;
      for (const Strategy &strategy : enumerateStrategies(*space, mesh)) {
        bool matches = llvm::all_of(space->results, [&](const Binding &b) {
          return cast<ShapedType>(b.value.getType()).getShape() !=
                     type.getShape() ||
                 getSharding(*space, b, strategy, true) == *sharded;
        });
        if (matches) {
          chosen = strategy;
          break;
        }
      }
      if (!chosen)
        continue;
      annotateStrategy(*space, *chosen, mesh, meshRef);
      for (Value input : op->getOperands())
        if (auto state = dyn_cast<BlockArgument>(input);
            state && state.getOwner() == &body && state.getType() == type &&
            roles.getRole(state) == ValueRole::State)
          step.setArgAttr(state.getArgNumber(),
                          AutoparDialect::kShardingAttrName, shardedAttr);
    }
    if (copy && stage > 0)
      step.setArgAttr(param.getArgNumber(), AutoparDialect::kShardingAttrName,
                      shardedAttr);
    if (stage < 3)
      continue;

    // ZeRO-3: the parameter stays sharded; the forward and the backward
    // each gather it before their first use.
    step.setArgAttr(param.getArgNumber(), AutoparDialect::kShardingAttrName,
                    shardedAttr);
    ShardingAttr ownAttr = toShardingAttr(own, mesh, meshRef, type.getRank());
    auto workingType = cast<RankedTensorType>(working.getType());
    // The backward phase: backward ops and forward ops recomputed for it
    // (autopar.recomputed), tagged by the layer they serve.
    auto phaseOf = [](Operation *op) -> StringRef {
      if (op->hasAttr(AutoparDialect::kGradOfAttrName) ||
          op->hasAttr(AutoparDialect::kRecomputedAttrName))
        return AutoparDialect::kGradOfAttrName;
      if (op->hasAttr(AutoparDialect::kLayerAttrName))
        return AutoparDialect::kLayerAttrName;
      return {};
    };
    for (StringRef phase :
         {AutoparDialect::kLayerAttrName, AutoparDialect::kGradOfAttrName}) {
      SmallVector<OpOperand *> uses;
      for (OpOperand &use : working.getUses())
        if (phaseOf(use.getOwner()) == phase &&
            !updateOps.contains(use.getOwner()))
          uses.push_back(&use);
      if (uses.empty())
        continue;
      Operation *first = uses.front()->getOwner();
      for (OpOperand *use : uses)
        if (use->getOwner()->isBeforeInBlock(first))
          first = use->getOwner();
      OpBuilder pinBuilder(first);
      auto gather = ShardOp::create(pinBuilder, first->getLoc(), workingType,
                                    working, ownAttr);
      Attribute layer = first->getAttr(AutoparDialect::kGradOfAttrName);
      if (!layer)
        layer = first->getAttr(AutoparDialect::kLayerAttrName);
      gather->setAttr(phase, layer);
      for (OpOperand *use : uses)
        use->set(gather.getResult());
    }
  }
}
