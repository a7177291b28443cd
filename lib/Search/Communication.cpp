//===- Communication.cpp - what a sharded program communicates ------------===//

#include "autopar/Search/Communication.h"
#include "autopar/Dialect/AutoparOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/Transforms/RegionUtils.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::autopar;

double mlir::autopar::getReshardStepSeconds(const ReshardStep &step,
                                            const MeshShape &mesh,
                                            const CostModel &costModel) {
  DeviceGroup group{mesh.sizes[step.axis],
                    mesh.getNodesSpanned(1u << step.axis)};
  auto time = [&](CollectiveKind kind, double bytes) {
    return costModel.collectiveTime(kind, bytes, group).seconds;
  };
  switch (step.kind) {
  case ReshardKind::AllReduce:
    return time(CollectiveKind::AllReduce, step.bytesIn);
  case ReshardKind::ReduceScatter:
    return time(CollectiveKind::ReduceScatter, step.bytesIn);
  case ReshardKind::AllGather:
    return time(CollectiveKind::AllGather, step.bytesOut);
  case ReshardKind::AllToAll:
    return time(CollectiveKind::AllToAll, step.bytesIn);
  case ReshardKind::Slice:
    return 0;
  }
  return 0;
}

void CommunicationTally::produce(Value value, const TensorSharding &sharding) {
  produced[value] = sharding;
}

const TensorSharding *CommunicationTally::lookup(Value value) const {
  auto it = produced.find(value);
  return it == produced.end() ? nullptr : &it->second;
}

void CommunicationTally::require(Value value, const TensorSharding &sharding,
                                 double bytes, bool fresh) {
  auto it = produced.find(value);
  if (it == produced.end() || it->second == sharding)
    return;
  SmallVector<TensorSharding> ownLayouts;
  SmallVector<TensorSharding> &layouts = fresh ? ownLayouts : made[value];
  if (llvm::is_contained(layouts, sharding))
    return;
  TensorSharding current = it->second;
  for (const ReshardStep &step :
       planResharding(it->second, sharding, bytes, mesh)) {
    if (step.kind == ReshardKind::Slice)
      continue;
    current.axisDim[step.axis] = step.kind == ReshardKind::AllReduce ||
                                         step.kind == ReshardKind::AllGather
                                     ? TensorSharding::kReplicated
                                     : step.dim;
    if (llvm::is_contained(layouts, current))
      continue;
    layouts.push_back(current);
    CommunicationEntry &entry = summary[stringifyReshardKind(step.kind).str()];
    entry.count += 1;
    entry.bytes += step.bytesIn;
    if (costModel)
      entry.seconds += getReshardStepSeconds(step, mesh, *costModel);
  }
  if (!llvm::is_contained(layouts, sharding))
    layouts.push_back(sharding);
}

double mlir::autopar::getTensorBytes(Type type) {
  auto tensor = dyn_cast<RankedTensorType>(type);
  if (!tensor || !tensor.hasStaticShape())
    return 0;
  return static_cast<double>(tensor.getNumElements()) *
         ((tensor.getElementTypeBitWidth() + 7) / 8);
}

/// The mesh shape of `meshAttr` with the target's node size.
static MeshShape getPricedMesh(MeshAttr meshAttr, const CostModel *costModel) {
  MeshShape mesh = getMeshShape(meshAttr);
  if (costModel)
    mesh.gpusPerNode = costModel->getTarget().getGpusPerNode();
  return mesh;
}

FailureOr<CommunicationSummary>
mlir::autopar::predictCommunication(func::FuncOp func,
                                    const CostModel *costModel) {
  FailureOr<FlatSymbolRefAttr> meshRef =
      getAnnotatedMesh(func, "autopar communication");
  if (failed(meshRef))
    return failure();
  if (!*meshRef)
    return CommunicationSummary();
  if (!func.getBody().hasOneBlock())
    return func.emitError() << "autopar communication: functions with "
                               "control flow between blocks are not "
                               "supported";
  MeshAttr meshAttr = lookupMesh(func, *meshRef);
  if (!meshAttr)
    return failure();
  MeshShape mesh = getPricedMesh(meshAttr, costModel);
  TensorSharding whole;
  whole.axisDim.assign(mesh.getRank(), TensorSharding::kReplicated);
  CommunicationTally tally(mesh, costModel);
  auto requireWhole = [&](ValueRange values) {
    for (Value value : values)
      if (isa<RankedTensorType>(value.getType()))
        tally.require(value, whole, getTensorBytes(value.getType()));
  };
  auto captured = [](Operation *op) {
    SetVector<Value> values;
    getUsedValuesDefinedAbove(op->getRegions(), values);
    return values.takeVector();
  };

  for (BlockArgument arg : func.getArguments()) {
    if (!isa<RankedTensorType>(arg.getType()))
      continue;
    TensorSharding sharding = whole;
    if (auto attr = func.getArgAttrOfType<ShardingAttr>(
            arg.getArgNumber(), AutoparDialect::kShardingAttrName)) {
      FailureOr<TensorSharding> parsed = fromShardingAttr(attr, meshAttr);
      if (failed(parsed))
        return func.emitError()
               << "autopar communication: argument #" << arg.getArgNumber()
               << " has sharding " << attr << ", not one on " << *meshRef;
      sharding = *parsed;
    }
    tally.produce(arg, sharding);
  }

  for (Operation &op : func.getBody().front()) {
    if (auto ret = dyn_cast<func::ReturnOp>(op)) {
      // What leaves the function is complete, in the result's layout.
      for (auto [index, operand] : llvm::enumerate(ret.getOperands())) {
        const TensorSharding *current = tally.lookup(operand);
        if (!current)
          continue;
        TensorSharding target = *current;
        if (auto attr = func.getResultAttrOfType<ShardingAttr>(
                index, AutoparDialect::kShardingAttrName))
          if (FailureOr<TensorSharding> wanted =
                  fromShardingAttr(attr, meshAttr);
              succeeded(wanted))
            target = *wanted;
        for (int &dim : target.axisDim)
          if (dim == TensorSharding::kPartial)
            dim = TensorSharding::kReplicated;
        tally.require(operand, target, getTensorBytes(operand.getType()));
      }
      continue;
    }
    // Empty tensors and constant fills are made in the shape each user
    // needs.
    if (isMadeFromScalar(&op))
      continue;
    std::optional<OpSpace> space = buildOpSpace(&op);
    if (!space) {
      // Other ops that are not nodes read their tensors whole.
      requireWhole(op.getOperands());
      requireWhole(captured(&op));
      for (Value result : op.getResults())
        if (isa<RankedTensorType>(result.getType()))
          tally.produce(result, whole);
      continue;
    }
    if (auto pin = dyn_cast<ShardOp>(op)) {
      FailureOr<TensorSharding> pinned =
          fromShardingAttr(pin.getSharding(), meshAttr);
      if (failed(pinned))
        return op.emitError()
               << "autopar communication: the pin is not on " << *meshRef;
      tally.require(pin.getInput(), *pinned,
                    getTensorBytes(pin.getInput().getType()), /*fresh=*/true);
      tally.produce(pin.getResult(), *pinned);
      continue;
    }
    // A rounding of a partial sum stays partial (autopar-partition's rule).
    if (isRoundingCast(&op))
      if (const TensorSharding *input = tally.lookup(op.getOperand(0));
          input &&
          llvm::is_contained(input->axisDim, TensorSharding::kPartial)) {
        // (A copy: producing may move the map's entries.)
        TensorSharding partial = *input;
        tally.produce(op.getResult(0), partial);
        continue;
      }
    FailureOr<Strategy> strategy = getAnnotatedStrategy(
        &op, *space, meshAttr, *meshRef, "autopar communication");
    if (failed(strategy))
      return failure();
    // A split reduction that is not a plain one runs replicated.
    bool splitsReduction = llvm::any_of(*strategy, [&](int loop) {
      return loop >= 0 && space->reduction[loop];
    });
    if (splitsReduction)
      for (unsigned result = 0; result < op.getNumResults(); ++result)
        if (!getReductionKind(&op, result))
          strategy->assign(mesh.getRank(), -1);
    SmallPtrSet<Value, 8> bound;
    for (const Binding &binding : space->operands) {
      tally.require(binding.value,
                    getSharding(*space, binding, *strategy, false),
                    binding.bytes);
      bound.insert(binding.value);
    }
    for (Value operand : op.getOperands())
      if (!bound.contains(operand))
        requireWhole(operand);
    requireWhole(captured(&op));
    for (Value result : op.getResults()) {
      if (!isa<RankedTensorType>(result.getType()))
        continue;
      TensorSharding sharding = whole;
      for (const Binding &binding : space->results)
        if (binding.value == result)
          sharding = getSharding(*space, binding, *strategy, true);
      tally.produce(result, sharding);
    }
  }
  return tally.getSummary();
}

CommunicationSummary
mlir::autopar::countCommunication(func::FuncOp func,
                                  const CostModel *costModel) {
  CommunicationSummary summary;
  func.walk([&](CollectiveOpInterface collective) {
    Operation *op = collective.getOperation();
    // A collective in a loop (a microbatch's) runs once per iteration.
    int64_t times = 1;
    for (auto loop = op->getParentOfType<scf::ForOp>(); loop;
         loop = loop->getParentOfType<scf::ForOp>())
      if (std::optional<APInt> trips = loop.getStaticTripCount())
        times *= trips->getSExtValue();
    double in = getTensorBytes(collective.getInput().getType());
    CommunicationEntry &entry = summary[op->getName().stripDialect().str()];
    entry.count += times;
    entry.bytes += in * times;
    if (!costModel)
      return;
    MeshAttr meshAttr = lookupMesh(op, collective.getMeshAttr());
    if (!meshAttr)
      return;
    MeshShape mesh = getPricedMesh(meshAttr, costModel);
    unsigned axes = 0;
    for (Attribute name : collective.getAxesAttr())
      if (std::optional<unsigned> axis =
              meshAttr.getAxisIndex(cast<StringAttr>(name).getValue()))
        axes |= 1u << *axis;
    DeviceGroup group{mesh.getGroupSize(axes), mesh.getNodesSpanned(axes)};
    std::optional<CollectiveKind> kind =
        llvm::TypeSwitch<Operation *, std::optional<CollectiveKind>>(op)
            .Case([](AllReduceOp) { return CollectiveKind::AllReduce; })
            .Case([](ReduceScatterOp) { return CollectiveKind::ReduceScatter; })
            .Case([](AllGatherOp) { return CollectiveKind::AllGather; })
            .Case([](AllToAllOp) { return CollectiveKind::AllToAll; })
            .Default([](Operation *) { return std::nullopt; });
    if (!kind)
      return;
    // An all_gather is priced by what it gathers, like the planner does.
    double bytes = *kind == CollectiveKind::AllGather
                       ? getTensorBytes(op->getResult(0).getType())
                       : in;
    entry.seconds +=
        times * costModel->collectiveTime(*kind, bytes, group).seconds;
  });
  return summary;
}

double mlir::autopar::getTotalSeconds(const CommunicationSummary &summary) {
  double seconds = 0;
  for (const auto &[kind, entry] : summary)
    seconds += entry.seconds;
  return seconds;
}

std::string
mlir::autopar::describeCommunication(const CommunicationSummary &summary) {
  if (summary.empty())
    return "none";
  std::string text;
  llvm::raw_string_ostream os(text);
  bool first = true;
  for (const auto &[kind, entry] : summary) {
    os << (first ? "" : " ") << kind << " " << entry.count << " ("
       << static_cast<int64_t>(entry.bytes) << " B)";
    first = false;
  }
  return text;
}
