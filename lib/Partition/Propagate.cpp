//===- Propagate.cpp - the plan's strategies for the other functions ------===//
//
// The search plans the forward function; a training step built from it
// (autopar-training) holds the same forward ops, tagged with their layer,
// and their backward ops, tagged with the layer they differentiate. This
// pass gives the step the plan: a layer's ops take the planned strategy,
// backward ops over the same loops the same one, and the remaining ops
// (loss, optimizer update, adjoint sums) the strategy that moves the fewest
// bytes given their operands' shardings.
//
//===----------------------------------------------------------------------===//

#include "autopar/Dialect/AutoparOps.h"
#include "autopar/Partition/Passes.h"
#include "autopar/Partition/Zero.h"
#include "autopar/Search/Resharding.h"
#include "autopar/Search/ShardingSpace.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

namespace mlir::autopar {
#define GEN_PASS_DEF_PROPAGATE
#include "autopar/Partition/Passes.h.inc"
} // namespace mlir::autopar

using namespace mlir;
using namespace mlir::autopar;

/// Whether `op` is counted as a layer by autopar-training.
static bool isLayer(Operation &op) {
  return !isa<tensor::EmptyOp>(op) &&
         !op.hasTrait<OpTrait::IsTerminator>() &&
         llvm::any_of(op.getResultTypes(),
                      [](Type type) { return isa<TensorType>(type); });
}

/// Bytes a ring-style implementation moves per device for `steps`.
static double movedBytes(ArrayRef<ReshardStep> steps, const MeshShape &mesh) {
  double bytes = 0;
  for (const ReshardStep &step : steps) {
    double p = static_cast<double>(mesh.sizes[step.axis]);
    switch (step.kind) {
    case ReshardKind::AllReduce:
      bytes += 2 * (p - 1) / p * step.bytesIn;
      break;
    case ReshardKind::ReduceScatter:
    case ReshardKind::AllToAll:
      bytes += (p - 1) / p * step.bytesIn;
      break;
    case ReshardKind::AllGather:
      bytes += (p - 1) / p * step.bytesOut;
      break;
    case ReshardKind::Slice:
      break;
    }
  }
  return bytes;
}

namespace {
struct PropagatePass
    : public mlir::autopar::impl::PropagateBase<PropagatePass> {
  void runOnOperation() override;
  LogicalResult propagate(func::FuncOp func, func::FuncOp planned,
                          MeshAttr meshAttr, FlatSymbolRefAttr meshRef,
                          unsigned zeroStage);
};
} // namespace

LogicalResult PropagatePass::propagate(func::FuncOp func, func::FuncOp planned,
                                       MeshAttr meshAttr,
                                       FlatSymbolRefAttr meshRef,
                                       unsigned zeroStage) {
  MeshShape mesh = getMeshShape(meshAttr);

  // The planned forward ops by layer number.
  SmallVector<Operation *> layers;
  for (Operation &op : planned.getBody().front())
    if (isLayer(op))
      layers.push_back(&op);

  DenseMap<Value, TensorSharding> shardings;
  auto shardingOfArg = [&](unsigned index) -> std::optional<TensorSharding> {
    auto attr = func.getArgAttrOfType<ShardingAttr>(
        index, AutoparDialect::kShardingAttrName);
    if (!attr)
      return std::nullopt;
    FailureOr<TensorSharding> parsed = fromShardingAttr(attr, meshAttr);
    if (failed(parsed))
      return std::nullopt;
    return *parsed;
  };
  // Arguments shared with the forward function keep its shardings (an f32
  // master of a 16-bit parameter too: same shape).
  auto sameShape = [](Type a, Type b) {
    auto x = dyn_cast<ShapedType>(a), y = dyn_cast<ShapedType>(b);
    return x && y && x.hasRank() && y.hasRank() && x.getShape() == y.getShape();
  };
  for (BlockArgument arg : func.getArguments()) {
    unsigned index = arg.getArgNumber();
    if (!func.getArgAttr(index, AutoparDialect::kShardingAttrName) &&
        index < planned.getNumArguments() &&
        sameShape(planned.getArgumentTypes()[index], arg.getType()))
      if (Attribute attr = planned.getArgAttr(
              index, AutoparDialect::kShardingAttrName))
        func.setArgAttr(index, AutoparDialect::kShardingAttrName, attr);
    if (std::optional<TensorSharding> sharding = shardingOfArg(index))
      shardings[arg] = *sharding;
  }
  // Results that become an argument's next value.
  func::ReturnOp ret =
      cast<func::ReturnOp>(func.getBody().front().getTerminator());
  DenseMap<Value, SmallVector<unsigned>> updates;
  for (auto [index, operand] : llvm::enumerate(ret.getOperands()))
    if (auto arg = func.getResultAttrOfType<IntegerAttr>(
            index, AutoparDialect::kUpdatesAttrName))
      updates[operand].push_back(arg.getInt());

  for (Operation &op : func.getBody().front()) {
    std::optional<OpSpace> space = buildOpSpace(&op);
    if (!space)
      continue;
    SmallVector<Strategy> candidates = enumerateStrategies(*space, mesh);
    if (candidates.empty())
      candidates.push_back(Strategy(mesh.getRank(), -1));
    std::optional<Strategy> chosen;
    auto adopt = [&](Operation *from) {
      auto attr = from->getAttrOfType<StrategyAttr>(
          AutoparDialect::kStrategyAttrName);
      if (!attr || attr.getMesh() != meshRef ||
          attr.getLoopAxes().size() != space->getNumLoops())
        return;
      FailureOr<Strategy> strategy = fromStrategyAttr(attr, meshAttr);
      if (succeeded(strategy) && llvm::is_contained(candidates, *strategy))
        chosen = *strategy;
    };
    auto layerOf = [&](StringRef name) -> Operation * {
      auto attr = op.getAttrOfType<IntegerAttr>(name);
      if (!attr || attr.getInt() >= static_cast<int64_t>(layers.size()))
        return nullptr;
      return layers[attr.getInt()];
    };
    if (auto pin = dyn_cast<ShardOp>(op)) {
      // A pin decides its value's sharding.
      if (FailureOr<TensorSharding> pinned =
              fromShardingAttr(pin.getSharding(), meshAttr);
          succeeded(pinned))
        shardings[pin.getResult()] = *pinned;
      continue;
    }
    // A pipeline's stages: a forward op's and its backward's are the
    // planned op's.
    for (StringRef tag :
         {AutoparDialect::kLayerAttrName, AutoparDialect::kGradOfAttrName})
      if (Operation *forward = layerOf(tag))
        if (Attribute stage = forward->getAttr(AutoparDialect::kStageAttrName))
          op.setAttr(AutoparDialect::kStageAttrName, stage);
    if (op.hasAttr(AutoparDialect::kStrategyAttrName)) {
      adopt(&op);
    } else if (Operation *forward = layerOf(AutoparDialect::kLayerAttrName)) {
      // The same op, or its generic form (mixed precision's f32
      // accumulation generalizes contractions): the same loops.
      auto linalgOp = dyn_cast<linalg::LinalgOp>(op);
      auto original = dyn_cast<linalg::LinalgOp>(forward);
      if (forward->getName() == op.getName() ||
          (linalgOp && original &&
           linalgOp.getStaticLoopRanges() == original.getStaticLoopRanges() &&
           linalgOp.getIteratorTypesArray() ==
               original.getIteratorTypesArray()))
        adopt(forward);
    } else if (Operation *forward =
                   layerOf(AutoparDialect::kGradOfAttrName)) {
      // Backward ops over the forward op's loops follow its strategy.
      auto backward = dyn_cast<linalg::LinalgOp>(op);
      auto original = dyn_cast<linalg::LinalgOp>(forward);
      if (backward && original &&
          backward.getStaticLoopRanges() == original.getStaticLoopRanges())
        adopt(forward);
    }
    if (!chosen) {
      // The strategy that moves the fewest bytes.
      double best = 0;
      for (const Strategy &strategy : candidates) {
        double cost = 0;
        for (const Binding &operand : space->operands) {
          auto it = shardings.find(operand.value);
          if (it == shardings.end())
            continue;
          cost += movedBytes(
              planResharding(it->second,
                             getSharding(*space, operand, strategy, false),
                             operand.bytes, mesh),
              mesh);
        }
        for (const Binding &result : space->results) {
          auto it = updates.find(result.value);
          if (it == updates.end())
            continue;
          for (unsigned arg : it->second)
            if (std::optional<TensorSharding> target = shardingOfArg(arg))
              cost += movedBytes(
                  planResharding(getSharding(*space, result, strategy, true),
                                 *target, result.bytes, mesh),
                  mesh);
        }
        if (!chosen || cost < best) {
          chosen = strategy;
          best = cost;
        }
      }
    }
    for (auto [result, sharding] : llvm::zip_equal(
             op.getResults(), annotateStrategy(*space, *chosen, mesh, meshRef)))
      shardings[result] = sharding;
    // Arguments without a sharding take their first consumer's.
    for (const Binding &operand : space->operands) {
      auto arg = dyn_cast<BlockArgument>(operand.value);
      if (!arg || arg.getOwner() != &func.getBody().front() ||
          shardings.count(arg))
        continue;
      TensorSharding wanted = getSharding(*space, operand, *chosen, false);
      shardings[arg] = wanted;
      func.setArgAttr(arg.getArgNumber(), AutoparDialect::kShardingAttrName,
                      toShardingAttr(wanted, mesh, meshRef,
                                     operand.shape.size()));
    }
  }
  // ZeRO: the update, its state and (stage 3) the parameters sharded over
  // the data axes; a parameter of a pipeline whose stages differ in ZeRO
  // stage takes the most of the stages that read it (directly or through
  // its 16-bit working copy).
  auto module = func->getParentOfType<ModuleOp>();
  // (A read inside an op's body, as an embedding lookup's, is the op's.)
  Block &entry = func.getBody().front();
  auto stageOf = [&](Value param) {
    std::optional<unsigned> most;
    SmallVector<Value> values = {param};
    for (Operation *user : param.getUsers())
      if (user->getNumResults() == 1 &&
          !user->hasAttr(AutoparDialect::kStageAttrName))
        values.push_back(user->getResult(0));
    for (Value value : values)
      for (Operation *nested : value.getUsers())
        if (Operation *user = entry.findAncestorOpInBlock(*nested))
          if (auto stage = user->getAttrOfType<IntegerAttr>(
                  AutoparDialect::kStageAttrName))
            most = std::max<unsigned>(
                most.value_or(0),
                std::max<int64_t>(0,
                                  getStageStep(module, stage.getInt()).zero));
    return most.value_or(zeroStage);
  };
  applyZeroSharding(func, meshAttr, meshRef, stageOf);
  // Results that replace an argument keep its layout.
  for (auto [index, operand] : llvm::enumerate(ret.getOperands())) {
    auto arg = func.getResultAttrOfType<IntegerAttr>(
        index, AutoparDialect::kUpdatesAttrName);
    if (!arg)
      continue;
    if (Attribute attr = func.getArgAttr(arg.getInt(),
                                         AutoparDialect::kShardingAttrName))
      func.setResultAttr(index, AutoparDialect::kShardingAttrName, attr);
  }
  return success();
}

void PropagatePass::runOnOperation() {
  ModuleOp module = getOperation();
  // The planned function: the one whose ops carry strategies without being
  // tagged as a layer of another.
  func::FuncOp planned;
  StrategyAttr sample;
  for (auto func : module.getOps<func::FuncOp>()) {
    if (func.isExternal())
      continue;
    func.walk([&](Operation *op) {
      auto attr =
          op->getAttrOfType<StrategyAttr>(AutoparDialect::kStrategyAttrName);
      if (attr && !op->hasAttr(AutoparDialect::kLayerAttrName) && !planned) {
        planned = func;
        sample = attr;
      }
    });
  }
  if (!planned)
    return; // Nothing planned: nothing to propagate.
  // The ZeRO stage the plan chose (autopar.step).
  unsigned zeroStage = 0;
  if (auto step =
          module->getAttrOfType<DictionaryAttr>(AutoparDialect::kStepAttrName))
    if (auto zero = step.getAs<IntegerAttr>("zero"))
      zeroStage = static_cast<unsigned>(std::max<int64_t>(0, zero.getInt()));
  MeshAttr mesh = lookupMesh(planned, sample.getMesh());
  if (!mesh)
    return signalPassFailure();
  for (auto func : module.getOps<func::FuncOp>()) {
    if (func == planned || func.isExternal())
      continue;
    bool annotated = false;
    func.walk([&](Operation *op) {
      annotated |= op->hasAttr(AutoparDialect::kStrategyAttrName) &&
                   !op->hasAttr(AutoparDialect::kLayerAttrName);
    });
    if (annotated)
      continue;
    if (failed(propagate(func, planned, mesh, sample.getMesh(), zeroStage)))
      return signalPassFailure();
  }
}
