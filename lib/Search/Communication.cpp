//===- Communication.cpp - what a sharded program communicates ------------===//

#include "autopar/Search/Communication.h"
#include "autopar/Analysis/ArgumentRoles.h"
#include "autopar/Dialect/AutoparOps.h"
#include "autopar/Search/ChunkAssignment.h"
#include "autopar/Search/Pipeline.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/Transforms/RegionUtils.h"
#include "llvm/ADT/TypeSwitch.h"

#include <set>
#include <tuple>
#include <vector>

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
                                 double bytes, bool fresh,
                                 ReshardRepeat repeat) {
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
    // Runs per step, and the part of the value each run moves.
    int64_t times = repeat.times;
    double part = repeat.sliced ? 1.0 / static_cast<double>(times) : 1.0;
    if (step.kind == ReshardKind::ReduceScatter && times == 1)
      times = repeat.scatterEach;
    if (step.kind == ReshardKind::AllGather && times == 1)
      times = repeat.gatherEach;
    ReshardStep each = step;
    each.bytesIn *= part;
    each.bytesOut *= part;
    CommunicationEntry &entry = summary[stringifyReshardKind(step.kind).str()];
    entry.count += times;
    entry.bytes += times * each.bytesIn;
    if (costModel)
      entry.seconds += times * getReshardStepSeconds(each, mesh, *costModel);
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

/// The seconds of a point-to-point transfer of `bytes` along `axes` (a
/// bit mask) of `mesh`: a pair of devices, inter-node when the axes span
/// nodes.
static double getSendSeconds(double bytes, const MeshShape &mesh, unsigned axes,
                             const CostModel &costModel) {
  DeviceGroup pair{2, mesh.getNodesSpanned(axes) > 1 ? 2 : 1};
  return costModel.collectiveTime(CollectiveKind::Permute, bytes, pair).seconds;
}

/// Of a pipeline's devices, the one that communicates most (seconds, then
/// bytes): a device runs one stage's program.
static const CommunicationSummary &
getBusiest(ArrayRef<CommunicationSummary> devices) {
  auto weigh = [](const CommunicationSummary &summary) {
    double bytes = 0;
    for (const auto &[kind, entry] : summary)
      bytes += entry.bytes;
    return std::make_pair(getTotalSeconds(summary), bytes);
  };
  const CommunicationSummary *busiest = &devices.front();
  for (const CommunicationSummary &device : devices.drop_front())
    if (weigh(device) > weigh(*busiest))
      busiest = &device;
  return *busiest;
}

FailureOr<CommunicationSummary> mlir::autopar::predictCommunication(
    func::FuncOp func, const CostModel *costModel,
    std::vector<CommunicationSummary> *perDeviceOut) {
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

  // A pipeline (`autopar.pipeline`, the mesh's first axis its stages): each
  // device along that axis runs its stages' ops (an op's `autopar.stage`
  // is its chunk, on device chunk mod P; an op without one takes the chunk
  // of what it reads (assignChunks, autopar-partition's rule), or, reading
  // no staged value, runs on every device that uses it). Each device's
  // reshards are tallied apart, with the sends of the values another
  // device reads (the local value, once per microbatch when made per
  // microbatch), and the busiest device is reported, as
  // countCommunication counts the partitioned programs.
  int64_t devices = 1;
  std::optional<unsigned> stageAxis;
  auto module = func->getParentOfType<ModuleOp>();
  if (module)
    if (module->hasAttr(AutoparDialect::kPipelineAttrName))
      if ((stageAxis = meshAttr.getAxisIndex(AutoparDialect::kStageAxisName)))
        devices = mesh.sizes[*stageAxis];
  std::vector<CommunicationTally> tallies(devices,
                                          CommunicationTally(mesh, costModel));
  std::vector<CommunicationSummary> sent(devices);
  Block &entryBlock = func.getBody().front();
  DenseMap<Operation *, int64_t> chunkOf;
  auto chunkOfValue = [&](Value value) -> int64_t {
    Operation *def = value.getDefiningOp();
    auto it = def ? chunkOf.find(def) : chunkOf.end();
    return it == chunkOf.end() ? -1 : it->second;
  };
  // Per op: the devices it runs on (none listed: every device).
  DenseMap<Operation *, SmallVector<int64_t, 2>> devicesOf;
  if (devices > 1) {
    // Backward work: the gradient ops and what recomputation makes again
    // for them (autopar-partition also counts what reads them).
    chunkOf = assignChunks(entryBlock, [](Operation *op) {
      return op->hasAttr(AutoparDialect::kGradOfAttrName) ||
             op->hasAttr(AutoparDialect::kRecomputedAttrName);
    });
    for (auto [op, chunk] : chunkOf)
      devicesOf[op].push_back(chunk % devices);
    for (Operation &op : llvm::reverse(entryBlock)) {
      if (chunkOf.count(&op))
        continue;
      SmallVector<int64_t, 2> &on = devicesOf[&op];
      for (Operation *user : op.getUsers())
        if (Operation *inBlock = entryBlock.findAncestorOpInBlock(*user))
          for (int64_t device : devicesOf.lookup(inBlock))
            if (!llvm::is_contained(on, device))
              on.push_back(device);
      llvm::sort(on);
    }
  }
  // (value, device, layout) sent: one transfer per layout a device reads
  // (each resharding is its own value in the program).
  std::set<std::tuple<const void *, int64_t, std::vector<int>>> sentTo;
  DenseSet<Value> perMicrobatch;
  DenseMap<Value, int64_t> batchDim;
  int64_t microbatches = 1;
  // `value` needed by `user` (on the devices it runs on) with `sharding`.
  // The reshard runs where the value is made (autopar-partition places
  // the collectives with the chunk of what they read, chooseChunk), and a
  // device of another stage is sent the resharded value: its local share.
  auto requireOn = [&](ArrayRef<int64_t> on, Value value,
                       const TensorSharding &sharding, double bytes, bool fresh,
                       ReshardRepeat repeat) {
    int64_t from = chunkOfValue(value);
    if (on.empty() && from < 0) {
      for (CommunicationTally &tally : tallies)
        tally.require(value, sharding, bytes, fresh, repeat);
      return;
    }
    if (from < 0) {
      for (int64_t device : on)
        tallies[device].require(value, sharding, bytes, fresh, repeat);
      return;
    }
    int64_t maker = from % devices;
    tallies[maker].require(value, sharding, bytes, fresh, repeat);
    for (int64_t device : on) {
      if (device == maker)
        continue;
      // A pin makes its own copy (`fresh`): sent again.
      std::vector<int> layout(sharding.axisDim.begin(), sharding.axisDim.end());
      if (!fresh &&
          !sentTo.insert({value.getAsOpaquePointer(), device, layout}).second)
        continue;
      // A microbatch's slice at a time when made per microbatch.
      double local = getTensorBytes(value.getType());
      for (auto [axis, dim] : llvm::enumerate(sharding.axisDim))
        if (dim >= 0 && axis != *stageAxis)
          local /= static_cast<double>(mesh.sizes[axis]);
      int64_t times = 1;
      if (perMicrobatch.contains(value)) {
        times = microbatches;
        if (batchDim.count(value))
          local /= static_cast<double>(microbatches);
      }
      CommunicationEntry &entry = sent[maker]["send"];
      entry.count += times;
      entry.bytes += static_cast<double>(times) * local;
      if (costModel)
        entry.seconds +=
            static_cast<double>(times) *
            getSendSeconds(local, mesh, 1u << *stageAxis, *costModel);
    }
  };
  auto require = [&](Operation *user, Value value,
                     const TensorSharding &sharding, double bytes,
                     bool fresh = false,
                     ReshardRepeat repeat = ReshardRepeat()) {
    ArrayRef<int64_t> on;
    if (auto it = devicesOf.find(user); it != devicesOf.end())
      on = it->second;
    requireOn(on, value, sharding, bytes, fresh, repeat);
  };
  auto produce = [&](Value value, const TensorSharding &sharding) {
    for (CommunicationTally &tally : tallies)
      tally.produce(value, sharding);
  };

  // Microbatches (the step autopar-plan priced): autopar-partition runs the
  // ops that depend on a microbatch's samples in a loop. A value carries
  // the batch along `batchDim` from the batch arguments through each op's
  // batch loop, until an op reduces over it (a weight gradient, the loss:
  // partial sums the loop accumulates, resolved after it; with ZeRO-2 and
  // 3 their reduce_scatters run per microbatch).
  int64_t zero = 0;
  if (module)
    if (auto step = module->getAttrOfType<DictionaryAttr>(
            AutoparDialect::kStepAttrName)) {
      if (auto attr = step.getAs<IntegerAttr>("microbatches"))
        microbatches = std::max<int64_t>(1, attr.getInt());
      if (auto attr = step.getAs<IntegerAttr>("zero"))
        zero = attr.getInt();
    }
  // Parameters, and their views and working copies (ZeRO-3 gathers
  // whichever of them is read, per microbatch).
  ArgumentRoles roles(func);
  auto isParameter = [&](Value value) {
    if (Operation *def = value.getDefiningOp(); def && isWorkingCopy(def))
      value = def->getOperand(0);
    return microbatches > 1 && roles.isParameter(value);
  };
  // Values made inside the loop (perMicrobatch, above), and the partial
  // sums over the microbatches (made inside, accumulated by the loop, read
  // after it).
  DenseSet<Value> accumulated;
  // The batch arguments, and the first input's.
  DenseSet<Value> batchArguments;
  Value firstInput;
  if (microbatches > 1) {
    for (BlockArgument arg : roles.getBatchArguments()) {
      batchDim[arg] = roles.getBatchDim(arg);
      perMicrobatch.insert(arg);
      batchArguments.insert(arg);
    }
    firstInput = roles.getFirstInput();
  }
  // A value the loop reads but does not make is resharded once, before it
  // (autopar-partition's loop takes what does not depend on the
  // microbatch out of it); ZeRO-3's gathers of a parameter run per
  // microbatch.
  // (A pipeline's stages may each run their own ZeRO stage: a gradient's
  // reduce-scatter runs at its maker's, which reshards it; a parameter's
  // gather at its reader's.)
  auto zeroOfChunk = [&](int64_t chunk) {
    return module && chunk >= 0 ? getStageStep(module, chunk).zero : zero;
  };
  auto repeatFor = [&](Operation *user, bool inLoop, Value value) {
    ReshardRepeat repeat;
    auto userChunk = chunkOf.find(user);
    int64_t userZero =
        zeroOfChunk(userChunk == chunkOf.end() ? -1 : userChunk->second);
    int64_t maker = chunkOfValue(value);
    int64_t makerZero = maker >= 0 ? zeroOfChunk(maker) : userZero;
    if (inLoop && perMicrobatch.contains(value)) {
      repeat.times = microbatches;
      repeat.sliced = batchDim.count(value) > 0;
    } else if (makerZero >= 2 && accumulated.contains(value)) {
      repeat.scatterEach = microbatches;
    }
    if (userZero >= 3 && isParameter(value))
      repeat.gatherEach = microbatches;
    return repeat;
  };
  auto requireWhole = [&](Operation *user, ValueRange values,
                          bool inLoop = false) {
    for (Value value : values)
      if (isa<RankedTensorType>(value.getType()))
        require(user, value, whole, getTensorBytes(value.getType()),
                /*fresh=*/false, repeatFor(user, inLoop, value));
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
    produce(arg, sharding);
  }

  for (Operation &op : func.getBody().front()) {
    if (auto ret = dyn_cast<func::ReturnOp>(op)) {
      // What leaves the function is complete, in the result's layout.
      for (auto [index, operand] : llvm::enumerate(ret.getOperands())) {
        const TensorSharding *current = tallies.front().lookup(operand);
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
        // On the device that makes it; a parameter's update also on the
        // other devices that read the parameter (autopar-partition sends
        // it to them: each returns the parameters it holds).
        SmallVector<int64_t, 2> on;
        if (Operation *def = operand.getDefiningOp())
          on.append(devicesOf.lookup(def));
        if (auto updates = func.getResultAttrOfType<IntegerAttr>(
                index, AutoparDialect::kUpdatesAttrName);
            updates && !on.empty())
          for (Operation *user : func.getArgument(updates.getInt()).getUsers())
            if (Operation *reader = entryBlock.findAncestorOpInBlock(*user))
              for (int64_t device : devicesOf.lookup(reader))
                if (!llvm::is_contained(on, device))
                  on.push_back(device);
        requireOn(on, operand, target, getTensorBytes(operand.getType()),
                  /*fresh=*/false, ReshardRepeat());
      }
      continue;
    }
    // Empty tensors and constant fills are made in the shape each user
    // needs.
    if (isMadeFromScalar(&op))
      continue;
    // In the microbatch loop: an op that reads a value made there.
    bool inLoop = llvm::any_of(op.getOperands(), [&](Value operand) {
      return perMicrobatch.contains(operand);
    });
    std::optional<OpSpace> space = buildOpSpace(&op);
    if (!space) {
      // Other ops that are not nodes read their tensors whole.
      requireWhole(&op, op.getOperands(), inLoop);
      requireWhole(&op, captured(&op), inLoop);
      for (Value result : op.getResults())
        if (isa<RankedTensorType>(result.getType())) {
          produce(result, whole);
          if (inLoop)
            perMicrobatch.insert(result);
        }
      continue;
    }
    // The op's batch loop (through its first operand that carries the
    // batch): its results carry the batch where they follow that loop; a
    // reduction over it ends the microbatch's part.
    int batchLoop = -1;
    for (const Binding &binding : space->operands)
      if (auto it = batchDim.find(binding.value); it != batchDim.end()) {
        batchLoop = binding.dimLoop[it->second];
        break;
      }
    for (const Binding &binding : space->results) {
      if (!inLoop)
        break;
      if (batchLoop >= 0 && space->reduction[batchLoop]) {
        accumulated.insert(binding.value);
        continue;
      }
      perMicrobatch.insert(binding.value);
      for (auto [dim, loop] : llvm::enumerate(binding.dimLoop))
        if (loop == batchLoop)
          batchDim[binding.value] = dim;
    }
    if (auto pin = dyn_cast<ShardOp>(op)) {
      FailureOr<TensorSharding> pinned =
          fromShardingAttr(pin.getSharding(), meshAttr);
      if (failed(pinned))
        return op.emitError()
               << "autopar communication: the pin is not on " << *meshRef;
      require(&op, pin.getInput(), *pinned,
              getTensorBytes(pin.getInput().getType()), /*fresh=*/true,
              repeatFor(&op, inLoop, pin.getInput()));
      produce(pin.getResult(), *pinned);
      continue;
    }
    // A rounding of a partial sum stays partial (autopar-partition's rule).
    if (isRoundingCast(&op))
      if (const TensorSharding *input =
              tallies.front().lookup(op.getOperand(0));
          input &&
          llvm::is_contained(input->axisDim, TensorSharding::kPartial)) {
        // (A copy: producing may move the map's entries.)
        TensorSharding partial = *input;
        produce(op.getResult(0), partial);
        if (accumulated.contains(op.getOperand(0)))
          accumulated.insert(op.getResult(0));
        continue;
      }
    FailureOr<Strategy> strategy = getAnnotatedStrategy(
        &op, *space, meshAttr, *meshRef, "autopar communication");
    if (failed(strategy))
      return failure();
    // In the microbatch loop the op splits its batch loop over the axes
    // its operand's batch is split over, as autopar-partition makes it
    // (for a batch argument, those of the first input's).
    if (inLoop && microbatches > 1)
      for (const Binding &binding : space->operands) {
        auto dim = batchDim.find(binding.value);
        const TensorSharding *sharding = tallies.front().lookup(
            batchArguments.contains(binding.value) ? firstInput
                                                   : binding.value);
        if (dim == batchDim.end() || !sharding)
          continue;
        int64_t along = batchArguments.contains(binding.value)
                            ? batchDim.lookup(firstInput)
                            : dim->second;
        std::optional<Strategy> split = splitBatchLoopPerMicrobatch(
            *space, *strategy, binding.dimLoop[dim->second], mesh, microbatches,
            std::nullopt,
            [&](unsigned axis) { return sharding->axisDim[axis] == along; });
        if (!split)
          continue;
        *strategy = *split;
        break;
      }
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
      require(&op, binding.value,
              getSharding(*space, binding, *strategy, false), binding.bytes,
              /*fresh=*/false, repeatFor(&op, inLoop, binding.value));
      bound.insert(binding.value);
    }
    for (Value operand : op.getOperands())
      if (!bound.contains(operand))
        requireWhole(&op, operand, inLoop);
    requireWhole(&op, captured(&op), inLoop);
    for (Value result : op.getResults()) {
      if (!isa<RankedTensorType>(result.getType()))
        continue;
      TensorSharding sharding = whole;
      for (const Binding &binding : space->results)
        if (binding.value == result)
          sharding = getSharding(*space, binding, *strategy, true);
      produce(result, sharding);
    }
  }
  if (devices == 1)
    return tallies.front().getSummary();
  std::vector<CommunicationSummary> perDevice;
  for (auto [tally, sends] : llvm::zip_equal(tallies, sent)) {
    CommunicationSummary summary = tally.getSummary();
    for (const auto &[kind, entry] : sends) {
      CommunicationEntry &total = summary[kind];
      total.count += entry.count;
      total.bytes += entry.bytes;
      total.seconds += entry.seconds;
    }
    perDevice.push_back(std::move(summary));
  }
  CommunicationSummary busiest = getBusiest(perDevice);
  if (perDeviceOut)
    *perDeviceOut = std::move(perDevice);
  return busiest;
}

/// The bit mask of `axes` (names) on `mesh`.
static unsigned getAxesMask(MeshAttr mesh, ArrayAttr axes) {
  unsigned mask = 0;
  for (Attribute name : axes)
    if (std::optional<unsigned> axis =
            mesh.getAxisIndex(cast<StringAttr>(name).getValue()))
      mask |= 1u << *axis;
  return mask;
}

/// Adds what `op` communicates, when it is a collective or a send, to
/// `summary`.
static void countOp(Operation *op, CommunicationSummary &summary,
                    const CostModel *costModel) {
  if (!isa<SendOp, CollectiveOpInterface>(op))
    return;
  // An op in a loop (a microbatch's) runs once per iteration.
  int64_t times = 1;
  for (auto loop = op->getParentOfType<scf::ForOp>(); loop;
       loop = loop->getParentOfType<scf::ForOp>())
    if (std::optional<APInt> trips = loop.getStaticTripCount())
      times *= trips->getSExtValue();
  if (auto send = dyn_cast<SendOp>(op)) {
    // A pipeline's transfer between stages.
    double bytes = getTensorBytes(send.getInput().getType());
    CommunicationEntry &entry = summary["send"];
    entry.count += times;
    entry.bytes += times * bytes;
    if (!costModel)
      return;
    MeshAttr meshAttr = lookupMesh(send, send.getMeshAttr());
    if (!meshAttr)
      return;
    entry.seconds +=
        times * getSendSeconds(bytes, getPricedMesh(meshAttr, costModel),
                               getAxesMask(meshAttr, send.getAxesAttr()),
                               *costModel);
    return;
  }
  auto collective = cast<CollectiveOpInterface>(op);
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
  unsigned axes = getAxesMask(meshAttr, collective.getAxesAttr());
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
}

CommunicationSummary mlir::autopar::countCommunication(
    func::FuncOp func, const CostModel *costModel,
    std::vector<CommunicationSummary> *perDeviceOut) {
  // A pipeline's per-stage programs (autopar-partition): a device runs one
  // case of the switch on its stage; the busiest stage's count.
  scf::IndexSwitchOp stages;
  if (!func.isExternal())
    for (auto candidate : func.getBody().front().getOps<scf::IndexSwitchOp>())
      if (auto coord = candidate.getArg().getDefiningOp<DeviceCoordOp>())
        if (coord.getAxes().size() == 1 &&
            cast<StringAttr>(coord.getAxes()[0]).getValue() ==
                AutoparDialect::kStageAxisName)
          stages = candidate;
  CommunicationSummary summary;
  func.walk([&](Operation *op) {
    if (!stages || !stages->isProperAncestor(op))
      countOp(op, summary, costModel);
  });
  if (!stages)
    return summary;
  // By coordinate: the cases', and the default region's the one no case
  // names.
  size_t devices = stages.getNumCases() + 1;
  std::vector<Region *> regionOf(devices, nullptr);
  for (auto [index, value] : llvm::enumerate(stages.getCases()))
    if (value >= 0 && static_cast<size_t>(value) < devices)
      regionOf[value] = &stages.getCaseRegions()[index];
  for (Region *&region : regionOf)
    if (!region) {
      region = &stages.getDefaultRegion();
      break;
    }
  std::vector<CommunicationSummary> perStage;
  for (Region *region : regionOf) {
    CommunicationSummary &stage = perStage.emplace_back(summary);
    if (region)
      region->walk([&](Operation *op) { countOp(op, stage, costModel); });
  }
  CommunicationSummary busiest = getBusiest(perStage);
  if (perDeviceOut)
    *perDeviceOut = std::move(perStage);
  return busiest;
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
