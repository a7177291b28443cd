//===- PipelineProgram.cpp - a pipeline's per-stage programs --------------===//
//
// See PipelineProgramOptions (Microbatch.h). The input is what
// Microbatch.cpp's sequentializer sees: a device's program partitioned on
// the pipeline's mesh with the microbatch axis, its ops split into one
// microbatch's (the loop body), the collectives over the microbatches that
// accumulate them, and the ops before and after. Every op gets a chunk (its
// `autopar.stage`: a stage, or with v virtual stages one of P * v chunks,
// chunk c on device c mod P) and a phase (before the microbatches, a
// microbatch's forward or backward, after them); each device's program is
// then emitted into one case of an `scf.index_switch` on the device's stage
// coordinate:
//
//   before:  the device's once-per-step ops before the microbatches
//   F<c,m>/B<c,m> in the schedule's order (getPipelineActions, Pipeline.h:
//            GPipe every forward, then every backward; 1F1B P - d - 1
//            forwards, then one forward and one backward alternating;
//            interleaved Megatron-LM's order over the device's chunks):
//              recv what other devices made for this chunk's microbatch,
//              the chunk's ops of that phase with the microbatch's slice,
//              send what other devices read of it,
//              add the microbatch's share to the device's accumulators
//   after:   the accumulated values, the device's synchronisation and
//            update
//   yield:   the device's results
//
// Every schedule runs its actions as loops (getPipelineLoops; interleaved:
// loops over groups of P microbatches): the values one of a device's
// actions reads from another (a backward from its forward, a chunk from an
// earlier chunk of the device) are kept in a tensor of one slot per
// chunk-microbatch in flight, carried by the loops with the accumulators,
// and a transfer has one tag for every microbatch. With
// pipeline-loops=false the actions are emitted straight-line, one copy of
// each action per microbatch, each transfer's microbatch with its own tag.
//
// Values of one microbatch move with the action that makes them: a
// forward's to a later chunk's forward of the same microbatch, a
// backward's to an earlier chunk's backward; between chunks of one device
// they are used directly. Values made once per step (an update that
// another device's copy of a tied parameter needs) are sent where they are
// made and received just before their first use; every device emits these
// in program order, so a receive waits only on work that comes earlier in
// the program on the sender. Sends do not wait (autopar.send), and the
// schedule's order completes in simulation (test/Unit/pipeline.test), so
// the programs cannot deadlock.
//
//===----------------------------------------------------------------------===//

#include "Sequentializer.h"
#include "autopar/Autodiff/ReverseMode.h"
#include "autopar/Search/ChunkAssignment.h"
#include "autopar/Search/Pipeline.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/Transforms/RegionUtils.h"

#include "llvm/ADT/MapVector.h"

#include <deque>
#include <map>
#include <set>

using namespace mlir;
using namespace mlir::autopar;
using namespace mlir::autopar::detail;

namespace {
enum class Phase { Before, Forward, Backward, After };

StringRef getPhaseName(Phase phase) {
  switch (phase) {
  case Phase::Before:
    return "before the microbatches";
  case Phase::Forward:
    return "forward";
  case Phase::Backward:
    return "backward";
  case Phase::After:
    return "after the microbatches";
  }
  llvm_unreachable("unknown phase");
}

/// A value one device makes and another reads.
struct Transfer {
  Value value;
  /// The chunk that makes it and the one whose action receives it: a
  /// per-microbatch value in the receiving device's earliest action that
  /// reads it (its lowest reading chunk's forward, or highest reading
  /// chunk's backward).
  int64_t from = 0, to = 0;
  /// Made per microbatch (sent with its action) or once per step.
  bool perMicrobatch = false;
  Phase phase = Phase::Before;
  int64_t index = 0;
};

/// Calls `fn` for every value `op` reads: its operands and the values its
/// regions use from above.
void forEachInput(Operation *op, function_ref<void(Value)> fn) {
  for (Value operand : op->getOperands())
    fn(operand);
  if (op->getNumRegions() == 0)
    return;
  SetVector<Value> above;
  getUsedValuesDefinedAbove(op->getRegions(), above);
  for (Value value : above)
    fn(value);
}

/// One action of a device: a chunk's forward (false) or backward (true).
using ActionKey = std::pair<bool, int64_t>;
using llvm::MapVector;

/// A per-microbatch value a device's loops keep across its actions: the
/// action that makes or receives it, and the actions that read it.
struct Carried {
  ActionKey available;
  std::set<ActionKey> readers;
};

/// Device `device`'s program in the switch on the stage coordinate: case
/// `device`, the last device's the default.
Region &getDeviceRegion(scf::IndexSwitchOp stageSwitch, int64_t device) {
  return device < static_cast<int64_t>(stageSwitch.getNumCases())
             ? stageSwitch.getCaseRegions()[device]
             : stageSwitch.getDefaultRegion();
}

class StagePrograms {
public:
  StagePrograms(func::FuncOp func, FlatSymbolRefAttr meshRef, Value microbatch,
                const DenseSet<Operation *> &inLoop,
                const SetVector<Operation *> &boundary,
                ArrayRef<Accumulator> accumulators,
                const PipelineProgramOptions &options, int64_t count,
                function_ref<Value(OpBuilder &, const Accumulator &, Value)>
                    finishAccumulator)
      : func(func), body(func.front()), meshRef(meshRef),
        microbatch(microbatch), inLoop(inLoop), boundary(boundary),
        accumulators(accumulators), options(options), count(count),
        devices(options.stages),
        chunks(options.stages * std::max<int64_t>(options.virtualStages, 1)),
        finishAccumulator(finishAccumulator), builder(func.getContext()) {}

  LogicalResult run();

private:
  LogicalResult classify();
  LogicalResult collectTransfers();
  LogicalResult emitDevice(int64_t device);
  /// Emits `action` for microbatch `m` (a constant when unrolled, the loop's
  /// index plus an offset in a loop) under the mapping key `key`: the
  /// receives of what other devices made for it, the activations it reads
  /// from the stash (a backward) or keeps there (a forward), the chunk's
  /// ops, the device's accumulated values.
  LogicalResult emitAction(const PipelineAction &action, int64_t key,
                           OpFoldResult m, SmallVectorImpl<Value> &sums,
                           SmallVectorImpl<Value> &stashes);
  /// The per-microbatch values device `device`'s actions read from another
  /// of its actions (a backward from its forward, interleaved a chunk from
  /// another chunk of the device), made there or received there, kept
  /// across actions when the schedule runs as loops; failure when one is
  /// not a static tensor.
  FailureOr<MapVector<Value, Carried>> getCarried(int64_t device);
  /// Moves receives so that each device takes a peer's values in the order
  /// the peer sends them.
  LogicalResult orderReceivesAsSent(scf::IndexSwitchOp stageSwitch);
  /// Whether every device takes each peer's values in the order the peer
  /// sends them, loops expanded (false when a transfer is in a loop whose
  /// trip count is not a constant, or in another region).
  bool receivedAsSent(scf::IndexSwitchOp stageSwitch);
  /// `value` in the stage being emitted, for microbatch `m` (-1: once per
  /// step): cloned when no stage owns its producer, received when another
  /// stage's once-per-step value, null (after a diagnostic) when missing.
  Value get(Value value, int64_t m);
  /// Clones `op` into the stage being emitted for microbatch `m`.
  LogicalResult cloneOp(Operation *op, int64_t m);
  void sendAfter(Operation *op, int64_t m);
  /// Receives `transfer`'s value (of microbatch `m`, -1: once per step)
  /// from the device that makes it.
  Value receive(const Transfer &transfer, int64_t m) {
    return RecvOp::create(
               builder, producer(transfer.value)->getLoc(),
               transfer.value.getType(), Value(), meshRef,
               builder.getStrArrayAttr({AutoparDialect::kStageAxisName}),
               builder.getI64IntegerAttr(deviceOf(transfer.from)),
               builder.getI64IntegerAttr(tagOf(transfer, m)))
        .getResult();
  }
  /// Unrolled, each microbatch's transfer has its own tag; in loops a
  /// transfer has one tag for all microbatches, which MPI matches in the
  /// order sent (messages of one sender and tag do not overtake).
  int64_t tagOf(const Transfer &transfer, int64_t m) const {
    if (looped)
      return transfer.perMicrobatch ? transfer.index
                                    : perMicrobatchTransfers + transfer.index;
    return transfer.perMicrobatch ? transfer.index * count + m
                                  : perMicrobatchTransfers * count +
                                        transfer.index;
  }
  /// The chunk an op runs in, -1 for none (it reads no staged value: it
  /// runs where it is needed).
  int64_t stageOf(Operation *op) const {
    auto it = stages.find(op);
    return it == stages.end() ? -1 : it->second;
  }
  int64_t deviceOf(int64_t chunk) const { return chunk % devices; }
  Operation *producer(Value value) const {
    Operation *def = value.getDefiningOp();
    return def && def->getBlock() == &body ? def : nullptr;
  }

  func::FuncOp func;
  Block &body;
  FlatSymbolRefAttr meshRef;
  Value microbatch;
  const DenseSet<Operation *> &inLoop;
  const SetVector<Operation *> &boundary;
  ArrayRef<Accumulator> accumulators;
  const PipelineProgramOptions &options;
  int64_t count;
  /// P devices along the stages' axis, P * v chunks.
  int64_t devices, chunks;
  /// options.schedule, parsed (run()).
  PipelineSchedule schedule = PipelineSchedule::OneFOneB;
  function_ref<Value(OpBuilder &, const Accumulator &, Value)>
      finishAccumulator;
  OpBuilder builder;

  SmallVector<Operation *> ops;
  DenseMap<Operation *, Phase> phases;
  DenseMap<Operation *, int64_t> stages;
  DenseSet<Operation *> roundings;
  std::vector<Transfer> transfers;
  int64_t perMicrobatchTransfers = 0;
  /// (value, receiving device) -> transfer.
  std::map<std::pair<void *, int64_t>, size_t> transferOf;
  /// Per result: the chunk that makes it (-1: every device can).
  SmallVector<int64_t> resultOwner;

  /// The schedule as loops (getPipelineLoops) on every device.
  bool looped = false;
  /// The device being emitted's accumulators.
  SmallVector<const Accumulator *> own;
  /// Per device: the values its loops keep across actions, each in a stash
  /// of one slot per microbatch in flight.
  std::vector<MapVector<Value, Carried>> carried;
  /// Per op: its position in the program (receives of one action are
  /// taken in the order the sender makes the values).
  DenseMap<Operation *, size_t> position;

  // The device being emitted.
  int64_t current = 0;
  /// In a loop: the loop (values made once per step go before it) and the
  /// action's microbatch.
  Operation *loopAnchor = nullptr;
  Value loopMicrobatch;
  /// (value, microbatch or -1) -> the value in the stage's program.
  DenseMap<std::pair<Value, int64_t>, Value> mapped;
  bool failedEmit = false;

  /// Per device, in loops: its last loop, to run its last iteration after
  /// it (peelLastIterations) when the device synchronises an accumulated
  /// value, and the ops that finish each value accumulated by that loop
  /// (finishAccumulator's), with the loop result they read.
  struct LastLoop {
    scf::ForOp loop;
    bool synchronised = false;
    SmallVector<std::pair<unsigned, SmallVector<Operation *>>> finishes;
  };
  std::vector<LastLoop> lastLoops;
  /// Runs each device's LastLoop's last iteration straight-line after it,
  /// and each value's finishing ops right after its last share: the
  /// device's synchronisation of that value (emitted where the value is
  /// made, autopar-group-collectives) then starts inside the last
  /// backward. After the receives are ordered: the order of every
  /// device's transfers, loops expanded, is unchanged.
  void peelLastIterations();
};
} // namespace

LogicalResult StagePrograms::classify() {
  for (const Accumulator &acc : accumulators)
    if (acc.rounding)
      roundings.insert(acc.rounding);
  Operation *coord = microbatch.getDefiningOp();
  for (Operation &op : body.without_terminator()) {
    position[&op] = ops.size();
    ops.push_back(&op);
    if (&op == coord)
      continue;
    Phase phase = Phase::Before;
    if (inLoop.contains(&op)) {
      // Backward: the gradient ops, the forward ops recomputation makes
      // again for them, and whatever reads either.
      phase = Phase::Forward;
      if (op.hasAttr(AutoparDialect::kGradOfAttrName) ||
          op.hasAttr(AutoparDialect::kRecomputedAttrName))
        phase = Phase::Backward;
      forEachInput(&op, [&](Value value) {
        Operation *def = producer(value);
        if (def && phases.lookup(def) == Phase::Backward)
          phase = Phase::Backward;
      });
    } else if (boundary.contains(&op)) {
      phase = Phase::After;
    } else {
      // After the microbatches when it reads a value made after them.
      forEachInput(&op, [&](Value value) {
        Operation *def = producer(value);
        if (def && (boundary.contains(def) ||
                    phases.lookup(def) == Phase::After))
          phase = Phase::After;
      });
    }
    phases[&op] = phase;
    if (auto stage =
            op.getAttrOfType<IntegerAttr>(AutoparDialect::kStageAttrName))
      if (stage.getInt() >= chunks)
        return op.emitError()
               << "autopar-partition: '" << AutoparDialect::kStageAttrName
               << "' is " << stage.getInt() << " but the pipeline has "
               << chunks << (chunks > devices ? " chunks" : " stages");
  }
  stages = assignChunks(body, [](Operation *op) {
    return op->hasAttr(AutoparDialect::kGradOfAttrName) ||
           op->hasAttr(AutoparDialect::kRecomputedAttrName);
  });
  for (const Accumulator &acc : accumulators)
    if (stageOf(acc.collective) < 0)
      return acc.collective->emitError()
             << "autopar-partition: a value accumulated over the "
                "microbatches that no pipeline stage makes (it reads no "
                "staged value)";
  return success();
}

LogicalResult StagePrograms::collectTransfers() {
  // What each chunk's ops read from other devices' chunks, in program
  // order.
  StringRef unit = chunks > devices ? "chunk" : "stage";
  auto need = [&](Value value, int64_t to, Operation *user) -> LogicalResult {
    Operation *def = producer(value);
    int64_t from = def ? stageOf(def) : -1;
    if (from < 0 || from == to)
      return success();
    Phase phase = phases.lookup(def);
    bool perMicrobatch = inLoop.contains(def);
    bool forward = phase == Phase::Forward;
    // A forward value goes to a later chunk, a backward one to an earlier
    // chunk.
    if (perMicrobatch && ((forward && from > to) || (!forward && from < to)))
      return user->emitError()
             << "autopar-partition: this op of pipeline " << unit << " " << to
             << " reads a value that " << unit << " " << from
             << " makes in its " << getPhaseName(phase)
             << " of each microbatch: the value would flow against the "
                "schedule";
    if (deviceOf(from) == deviceOf(to))
      return success(); // Used directly.
    auto key = std::make_pair(value.getAsOpaquePointer(), deviceOf(to));
    if (auto it = transferOf.find(key); it != transferOf.end()) {
      // Received for the device's earliest action that reads it.
      Transfer &transfer = transfers[it->second];
      transfer.to =
          forward ? std::min(transfer.to, to) : std::max(transfer.to, to);
      return success();
    }
    Transfer transfer;
    transfer.value = value;
    transfer.from = from;
    transfer.to = to;
    transfer.phase = phase;
    transfer.perMicrobatch = perMicrobatch;
    transferOf[key] = transfers.size();
    transfers.push_back(transfer);
    return success();
  };
  for (Operation *op : ops) {
    int64_t stage = stageOf(op);
    if (stage < 0 || roundings.contains(op))
      continue;
    LogicalResult result = success();
    forEachInput(op, [&](Value value) {
      if (succeeded(result))
        result = need(value, stage, op);
    });
    if (failed(result))
      return failure();
  }
  // A result belongs to the chunk that makes it. A parameter's update goes
  // to the other devices that read the parameter (a tied embedding),
  // directly or through ops of no chunk (a resharding of the argument,
  // made where it is needed).
  Operation *terminator = body.getTerminator();
  DenseMap<Operation *, SmallVector<Value>> argumentsOf; // unstaged ops
  for (Operation *op : ops) {
    if (stageOf(op) >= 0)
      continue;
    SetVector<Value> read;
    forEachInput(op, [&](Value value) {
      if (isa<BlockArgument>(value))
        read.insert(value);
      else if (Operation *def = producer(value); def && stageOf(def) < 0)
        read.insert_range(argumentsOf.lookup(def));
    });
    argumentsOf[op] = read.takeVector();
  }
  DenseMap<Value, DenseSet<int64_t>> readers;
  for (Operation *op : ops)
    if (stageOf(op) >= 0)
      forEachInput(op, [&](Value value) {
        if (isa<BlockArgument>(value))
          readers[value].insert(stageOf(op));
        else if (Operation *def = producer(value); def && stageOf(def) < 0)
          for (Value argument : argumentsOf.lookup(def))
            readers[argument].insert(stageOf(op));
      });
  for (auto [index, value] : llvm::enumerate(terminator->getOperands())) {
    Operation *def = producer(value);
    int64_t owner = def ? stageOf(def) : -1;
    resultOwner.push_back(owner);
    auto updates = func.getResultAttrOfType<IntegerAttr>(
        index, AutoparDialect::kUpdatesAttrName);
    if (owner < 0 || !updates)
      continue;
    auto readersOf = readers.find(func.getArgument(updates.getInt()));
    if (readersOf == readers.end())
      continue;
    SmallVector<int64_t> others(readersOf->second.begin(),
                                readersOf->second.end());
    llvm::sort(others);
    for (int64_t stage : others)
      if (failed(need(value, stage, terminator)))
        return failure();
  }
  // Indices: per-microbatch transfers first (their tags are index * M + m),
  // then once-per-step ones.
  for (Transfer &transfer : transfers)
    if (transfer.perMicrobatch)
      transfer.index = perMicrobatchTransfers++;
  int64_t perStep = 0;
  for (Transfer &transfer : transfers)
    if (!transfer.perMicrobatch)
      transfer.index = perStep++;
  return success();
}

Value StagePrograms::get(Value value, int64_t m) {
  Operation *def = producer(value);
  if (!def)
    return value; // An argument, or a value of an enclosing region.
  if (value == microbatch) {
    if (loopMicrobatch)
      return loopMicrobatch;
    auto key = std::make_pair(value, m);
    if (Value found = mapped.lookup(key))
      return found;
    Value constant = arith::ConstantIndexOp::create(builder, def->getLoc(), m);
    mapped[key] = constant;
    return constant;
  }
  int64_t key = inLoop.contains(def) ? m : -1;
  if (Value found = mapped.lookup({value, key}))
    return found;
  // A value made once per step, first needed inside a loop: made before
  // the loop.
  OpBuilder::InsertionGuard guard(builder);
  if (key < 0 && loopAnchor)
    builder.setInsertionPoint(loopAnchor);
  int64_t stage = stageOf(def);
  if (stage < 0) {
    if (failed(cloneOp(def, key)))
      return nullptr;
    return mapped.lookup({value, key});
  }
  auto it = transferOf.find({value.getAsOpaquePointer(), current});
  if (deviceOf(stage) != current && it != transferOf.end() &&
      !transfers[it->second].perMicrobatch) {
    // Another device's once-per-step value: received at its first use
    // (orderReceivesAsSent moves it up behind what that device sent
    // before it).
    Value received = receive(transfers[it->second], -1);
    mapped[{value, -1}] = received;
    return received;
  }
  failedEmit = true;
  def->emitError() << "autopar-partition: internal error: a value of "
                      "pipeline chunk "
                   << stage << " is not available on the stages' device "
                   << current;
  return nullptr;
}

LogicalResult StagePrograms::cloneOp(Operation *op, int64_t m) {
  IRMapping mapping;
  bool ok = true;
  forEachInput(op, [&](Value value) {
    if (!ok)
      return;
    Value local = get(value, m);
    if (!local)
      ok = false;
    else
      mapping.map(value, local);
  });
  if (!ok)
    return failure();
  Operation *clone = builder.clone(*op, mapping);
  clone->removeAttr(AutoparDialect::kStageAttrName);
  int64_t key = inLoop.contains(op) ? m : -1;
  for (auto [result, cloned] :
       llvm::zip_equal(op->getResults(), clone->getResults()))
    mapped[{result, key}] = cloned;
  return success();
}

void StagePrograms::sendAfter(Operation *op, int64_t m) {
  for (Value result : op->getResults())
    for (const Transfer &transfer : transfers)
      if (transfer.value == result && deviceOf(transfer.from) == current)
        SendOp::create(
            builder, op->getLoc(),
            mapped.lookup({result, transfer.perMicrobatch ? m : -1}), meshRef,
            builder.getStrArrayAttr({AutoparDialect::kStageAxisName}),
            builder.getI64IntegerAttr(deviceOf(transfer.to)),
            builder.getI64IntegerAttr(tagOf(transfer, m)));
}

FailureOr<MapVector<Value, Carried>> StagePrograms::getCarried(int64_t device) {
  MapVector<Value, Carried> values;
  for (Operation *op : ops) {
    int64_t stage = stageOf(op);
    Phase phase = phases.lookup(op);
    if (stage < 0 || deviceOf(stage) != device ||
        (phase != Phase::Forward && phase != Phase::Backward) ||
        roundings.contains(op) || boundary.contains(op))
      continue;
    ActionKey reader = {phase == Phase::Backward, stage};
    forEachInput(op, [&](Value value) {
      Operation *def = producer(value);
      if (!def || stageOf(def) < 0 || !inLoop.contains(def))
        return;
      Phase made = phases.lookup(def);
      if (made != Phase::Forward && made != Phase::Backward)
        return;
      // Where the device has it: the action that makes it, or the one its
      // transfer from another device arrives in.
      int64_t chunk = stageOf(def);
      if (deviceOf(chunk) != device) {
        auto it = transferOf.find({value.getAsOpaquePointer(), device});
        if (it == transferOf.end())
          return;
        chunk = transfers[it->second].to;
      }
      ActionKey available = {made == Phase::Backward, chunk};
      if (available == reader)
        return;
      Carried &entry = values[value];
      entry.available = available;
      entry.readers.insert(reader);
    });
  }
  for (auto &[value, entry] : values) {
    auto type = dyn_cast<RankedTensorType>(value.getType());
    if (!type || !type.hasStaticShape())
      return failure();
  }
  return values;
}

LogicalResult StagePrograms::emitAction(const PipelineAction &action,
                                        int64_t key, OpFoldResult m,
                                        SmallVectorImpl<Value> &sums,
                                        SmallVectorImpl<Value> &stashes) {
  Phase phase = action.backward ? Phase::Backward : Phase::Forward;
  Location loc = func.getLoc();
  // What other devices made for this chunk's microbatch, in the order each
  // sender makes them.
  SmallVector<const Transfer *> incoming;
  for (const Transfer &transfer : transfers)
    if (transfer.perMicrobatch && transfer.to == action.chunk &&
        transfer.phase == phase)
      incoming.push_back(&transfer);
  llvm::stable_sort(incoming, [&](const Transfer *a, const Transfer *b) {
    return std::make_pair(position.lookup(producer(a->value)),
                          cast<OpResult>(a->value).getResultNumber()) <
           std::make_pair(position.lookup(producer(b->value)),
                          cast<OpResult>(b->value).getResultNumber());
  });
  // (Unrolled, the key is the microbatch, as sendAfter's tags use it.)
  for (const Transfer *transfer : incoming)
    mapped[{transfer->value, key}] = receive(*transfer, key);
  // The stash slot of this microbatch: m mod the microbatches in flight.
  // Values another of the device's actions made are taken from their
  // stashes; the ones this action makes or receives for others are kept.
  ActionKey self = {action.backward, action.chunk};
  static const MapVector<Value, Carried> none;
  const MapVector<Value, Carried> &kept = looped ? carried[current] : none;
  auto slotSlice = [&](RankedTensorType type, Value slot,
                       SmallVectorImpl<OpFoldResult> &offsets,
                       SmallVectorImpl<OpFoldResult> &sizes,
                       SmallVectorImpl<OpFoldResult> &strides) {
    offsets.assign(type.getRank() + 1, builder.getIndexAttr(0));
    offsets[0] = slot;
    sizes.push_back(builder.getIndexAttr(1));
    for (int64_t size : type.getShape())
      sizes.push_back(builder.getIndexAttr(size));
    strides.assign(type.getRank() + 1, builder.getIndexAttr(1));
  };
  Value slot;
  if (!kept.empty()) {
    Value mValue = getValueOrCreateConstantIndexOp(builder, loc, m);
    Value depth = arith::ConstantIndexOp::create(
        builder, loc,
        cast<RankedTensorType>(stashes.front().getType()).getDimSize(0));
    slot = arith::RemUIOp::create(builder, loc, mValue, depth);
  }
  for (auto [entry, stash] : llvm::zip_equal(kept, stashes)) {
    auto &[value, carriedValue] = entry;
    if (!carriedValue.readers.count(self))
      continue;
    auto type = cast<RankedTensorType>(value.getType());
    SmallVector<OpFoldResult> offsets, sizes, strides;
    slotSlice(type, slot, offsets, sizes, strides);
    mapped[{value, key}] = tensor::ExtractSliceOp::create(
        builder, loc, type, stash, offsets, sizes, strides);
  }
  for (Operation *op : ops) {
    if (stageOf(op) != action.chunk || phases.lookup(op) != phase ||
        roundings.contains(op) || boundary.contains(op))
      continue;
    if (failed(cloneOp(op, key)) || failedEmit)
      return failure();
    sendAfter(op, key);
  }
  for (auto [entry, stash] : llvm::zip_equal(kept, stashes)) {
    auto &[value, carriedValue] = entry;
    if (carriedValue.available != self)
      continue;
    Value local = mapped.lookup({value, key});
    if (!local)
      return producer(value)->emitError()
             << "autopar-partition: internal error: a value pipeline device "
             << current << " keeps across its actions is not made by the "
             << (action.backward ? "backward" : "forward") << " of chunk "
             << action.chunk;
    auto type = cast<RankedTensorType>(value.getType());
    SmallVector<OpFoldResult> offsets, sizes, strides;
    slotSlice(type, slot, offsets, sizes, strides);
    stash = tensor::InsertSliceOp::create(builder, loc, local, stash, offsets,
                                          sizes, strides);
  }
  // The microbatch's share of each value accumulated in this chunk.
  for (auto [acc, sum] : llvm::zip_equal(own, sums)) {
    Operation *def = producer(acc->contribution);
    if (!def || phases.lookup(def) != phase)
      continue;
    int64_t chunk = stageOf(def) >= 0 ? stageOf(def) : stageOf(acc->collective);
    if (chunk != action.chunk)
      continue;
    Value contribution = get(acc->contribution, key);
    if (!contribution)
      return failure();
    sum = accumulate(builder, *acc, sum, contribution, m);
  }
  return success();
}

LogicalResult StagePrograms::emitDevice(int64_t device) {
  current = device;
  mapped.clear();
  Location loc = func.getLoc();
  // The device's ops of a once-per-step phase.
  auto emitPhase = [&](Phase phase) -> LogicalResult {
    for (Operation *op : ops) {
      int64_t stage = stageOf(op);
      if (stage < 0 || deviceOf(stage) != device ||
          phases.lookup(op) != phase || roundings.contains(op) ||
          boundary.contains(op))
        continue;
      if (failed(cloneOp(op, -1)) || failedEmit)
        return failure();
      sendAfter(op, -1);
    }
    return success();
  };

  if (failed(emitPhase(Phase::Before)))
    return failure();

  // The device's accumulators start at their identity.
  own.clear();
  SmallVector<Value> sums;
  for (const Accumulator &acc : accumulators) {
    if (deviceOf(stageOf(acc.collective)) != device)
      continue;
    own.push_back(&acc);
    sums.push_back(startAccumulator(builder, loc, acc));
  }

  SmallVector<Value> stashes;
  scf::ForOp lastLoop;
  if (!looped) {
    for (const PipelineAction &action :
         getPipelineActions(schedule, devices, device, count, chunks / devices))
      if (failed(emitAction(action, action.microbatch,
                            builder.getIndexAttr(action.microbatch), sums,
                            stashes)))
        return failure();
  } else {
    // The activations in flight: one slot per microbatch the device holds
    // (1F1B: P - d; GPipe: M; interleaved: its warm-up plus one, in chunks),
    // each forward's in slot m mod that. A chunk's microbatches in flight
    // are consecutive and at most that many, so no two share a slot.
    int64_t depth = static_cast<int64_t>(getInFlightMicrobatches(
        schedule, devices, device, count, chunks / devices));
    for (auto &[value, entry] : carried[device]) {
      auto type = cast<RankedTensorType>(value.getType());
      SmallVector<int64_t> shape = {depth};
      llvm::append_range(shape, type.getShape());
      // A buffer of its own (not a tensor.empty: CSE would make the
      // stashes of one type one value, and the loops' iter_args share it).
      stashes.push_back(bufferization::AllocTensorOp::create(
          builder, loc, RankedTensorType::get(shape, type.getElementType()),
          ValueRange{}));
    }
    // A loop's results (or its peeled iteration's): the sums, the stashes.
    auto takeResults = [&](ValueRange results) {
      for (auto [index, result] : llvm::enumerate(results)) {
        if (index < sums.size())
          sums[index] = result;
        else
          stashes[index - sums.size()] = result;
      }
    };
    int64_t key = 0;
    std::vector<PipelineLoop> loops =
        *getPipelineLoops(schedule, devices, device, count, chunks / devices);
    for (const PipelineLoop &loopSpec : loops) {
      if (loopSpec.count == 0)
        continue;
      SmallVector<Value> inits(sums);
      llvm::append_range(inits, stashes);
      Value lower = arith::ConstantIndexOp::create(builder, loc, 0);
      Value upper =
          arith::ConstantIndexOp::create(builder, loc, loopSpec.count);
      Value step = arith::ConstantIndexOp::create(builder, loc, 1);
      auto loop = scf::ForOp::create(builder, loc, lower, upper, step, inits);
      Block *block = loop.getBody();
      if (!block->empty())
        block->back().erase();
      builder.setInsertionPointToEnd(block);
      loopAnchor = loop;
      SmallVector<Value> loopSums(
          loop.getRegionIterArgs().take_front(sums.size()));
      SmallVector<Value> loopStashes(
          loop.getRegionIterArgs().drop_front(sums.size()));
      for (const PipelineAction &action : loopSpec.body) {
        // Microbatch stride * i + offset.
        Value m = loop.getInductionVar();
        if (loopSpec.stride != 1)
          m = arith::MulIOp::create(
              builder, loc, m,
              arith::ConstantIndexOp::create(builder, loc, loopSpec.stride));
        if (action.microbatch != 0)
          m = arith::AddIOp::create(
              builder, loc, m,
              arith::ConstantIndexOp::create(builder, loc, action.microbatch));
        loopMicrobatch = m;
        if (failed(emitAction(action, key++, m, loopSums, loopStashes)))
          return failure();
      }
      SmallVector<Value> next(loopSums);
      llvm::append_range(next, loopStashes);
      scf::YieldOp::create(builder, loc, next);
      loopAnchor = nullptr;
      loopMicrobatch = nullptr;
      builder.setInsertionPointAfter(loop);
      lastLoop = loop;
      takeResults(loop.getResults());
    }
  }
  LastLoop &last = lastLoops.emplace_back();
  last.loop = lastLoop;
  last.synchronised = llvm::any_of(
      own, [](const Accumulator *acc) { return isSynchronised(*acc); });

  // After the microbatches: the accumulated values, each right after its
  // last microbatch's share (so that its synchronisation can start inside
  // that backward: autopar-group-collectives emits it there), then the
  // device's once-per-step work; what other devices read of them is sent
  // here, after the microbatches, as before.
  // (Of the ops a builder inserts, those of `block`: a clone's nested ops
  // are inserted too.)
  struct Inserted : OpBuilder::Listener {
    Block *block = nullptr;
    SmallVector<Operation *> ops;
    void notifyOperationInserted(Operation *op,
                                 OpBuilder::InsertPoint) override {
      if (op->getBlock() == block)
        ops.push_back(op);
    }
  };
  for (auto [acc, sum] : llvm::zip_equal(own, sums)) {
    Value result = acc->collective->getResult(0);
    {
      OpBuilder::InsertionGuard guard(builder);
      builder.setInsertionPointAfterValue(sum);
      Inserted inserted;
      inserted.block = builder.getInsertionBlock();
      builder.setListener(&inserted);
      mapped[{result, -1}] = finishAccumulator(builder, *acc, sum);
      builder.setListener(nullptr);
      if (auto made = dyn_cast<OpResult>(sum);
          made && made.getOwner() == last.loop)
        last.finishes.push_back(
            {made.getResultNumber(), std::move(inserted.ops)});
    }
    sendAfter(acc->collective, -1);
  }
  if (failed(emitPhase(Phase::After)))
    return failure();

  // The results: the device's own, another device's update of a parameter
  // this device reads, the argument of one it does not, zeros otherwise.
  Operation *terminator = body.getTerminator();
  SmallVector<Value> results;
  for (auto [index, value] : llvm::enumerate(terminator->getOperands())) {
    int64_t owner = resultOwner[index];
    auto it = transferOf.find({value.getAsOpaquePointer(), device});
    if (owner < 0 || deviceOf(owner) == device || it != transferOf.end()) {
      Value local = get(value, -1);
      if (!local)
        return failure();
      results.push_back(local);
      continue;
    }
    auto updates = func.getResultAttrOfType<IntegerAttr>(
        index, AutoparDialect::kUpdatesAttrName);
    if (updates &&
        func.getArgument(updates.getInt()).getType() == value.getType()) {
      results.push_back(func.getArgument(updates.getInt()));
      continue;
    }
    auto type = dyn_cast<RankedTensorType>(value.getType());
    if (!type)
      return terminator->emitError()
             << "autopar-partition: result #" << index
             << " of a pipeline stage is not a ranked tensor";
    results.push_back(createZeros(builder, loc, type));
  }
  scf::YieldOp::create(builder, loc, results);
  return success();
}

LogicalResult StagePrograms::run() {
  if (!parsePipelineSchedule(options.schedule))
    return func.emitError()
           << "autopar-partition: unknown pipeline schedule '"
           << options.schedule << "'; expected gpipe, 1f1b or interleaved";
  if (failed(classify()) || failed(collectTransfers()))
    return failure();
  // Loops when the schedule has them and every device's kept activations
  // are static tensors (else unrolled: correct, larger).
  schedule = *parsePipelineSchedule(options.schedule);
  looped = options.loops &&
           getPipelineLoops(schedule, devices, 0, count, chunks / devices)
               .has_value();
  for (int64_t d = 0; looped && d < devices; ++d) {
    FailureOr<MapVector<Value, Carried>> values = getCarried(d);
    if (failed(values))
      looped = false;
    else
      carried.push_back(std::move(*values));
  }

  Operation *terminator = body.getTerminator();
  Location loc = func.getLoc();
  auto emitSwitch = [&]() -> FailureOr<scf::IndexSwitchOp> {
    builder.setInsertionPoint(terminator);
    Value stage = DeviceCoordOp::create(
                      builder, loc, builder.getIndexType(), meshRef,
                      builder.getStrArrayAttr({AutoparDialect::kStageAxisName}))
                      .getResult();
    SmallVector<int64_t> cases;
    for (int64_t d = 0; d + 1 < devices; ++d)
      cases.push_back(d);
    auto stageSwitch =
        scf::IndexSwitchOp::create(builder, loc, terminator->getOperandTypes(),
                                   stage, cases, cases.size());
    lastLoops.clear();
    for (int64_t d = 0; d < devices; ++d) {
      builder.setInsertionPointToEnd(
          &getDeviceRegion(stageSwitch, d).emplaceBlock());
      if (failed(emitDevice(d)))
        return failure();
    }
    if (failed(orderReceivesAsSent(stageSwitch)))
      return failure();
    return stageSwitch;
  };
  FailureOr<scf::IndexSwitchOp> emitted = emitSwitch();
  if (failed(emitted))
    return failure();
  // In loops, a device's receives can only be moved within one block: when
  // some device still takes a peer's values in another order than they
  // are sent (NCCL would match them in order), the schedule is emitted
  // straight-line instead, where every receive can be moved.
  if (looped && !receivedAsSent(*emitted)) {
    Operation *stage = emitted->getArg().getDefiningOp();
    emitted->erase();
    stage->erase();
    looped = false;
    mapped.clear();
    own.clear();
    emitted = emitSwitch();
    if (failed(emitted))
      return failure();
  }
  scf::IndexSwitchOp stageSwitch = *emitted;
  if (looped)
    peelLastIterations();
  terminator->setOperands(stageSwitch.getResults());
  // A result's stage is the device (coordinate along the stages' axis)
  // that makes it.
  for (auto [index, owner] : llvm::enumerate(resultOwner))
    if (owner >= 0)
      func.setResultAttr(index, AutoparDialect::kStageAttrName,
                         builder.getI64IntegerAttr(deviceOf(owner)));
  // The single program's ops are all in the stages' programs now.
  for (Operation *op : llvm::reverse(ops)) {
    op->dropAllUses();
    op->erase();
  }
  return success();
}

void StagePrograms::peelLastIterations() {
  for (LastLoop &last : lastLoops) {
    if (!last.loop || !last.synchronised)
      continue;
    SmallVector<Value> results = peelLastIteration(builder, last.loop);
    for (auto &[index, finish] : last.finishes) {
      Operation *at = results[index].getDefiningOp();
      if (!at || at->getBlock() != last.loop->getBlock())
        continue;
      for (Operation *op : finish) {
        op->moveAfter(at);
        at = op;
      }
    }
  }
}

// A device emits its receives where its actions need them, several per
// action in the order of the transfers, while the peer sends in the order
// its actions make the values: two values one action sends, or the
// interleaved schedule's forward and backward streams between the same two
// devices, can then be taken in another order than they were sent. MPI
// matches them by tag; NCCL matches a pair's transfers in order. So each
// receive of a value the peer sent earlier than the one needed is moved up
// to just before it: it waits only for a value that the peer sends before
// the one this device waits for here anyway, and sends do not wait, so a
// program that completed still completes.
LogicalResult
StagePrograms::orderReceivesAsSent(scf::IndexSwitchOp stageSwitch) {
  // Per (sender, receiver): the tags in the order sent.
  std::map<std::pair<int64_t, int64_t>, std::vector<int64_t>> sent;
  for (int64_t d = 0; d < devices; ++d)
    for (auto send : getDeviceRegion(stageSwitch, d).front().getOps<SendOp>())
      sent[{d, static_cast<int64_t>(send.getPeer())}].push_back(
          static_cast<int64_t>(send.getTag()));
  for (int64_t d = 0; d < devices; ++d) {
    SmallVector<RecvOp> receives(
        getDeviceRegion(stageSwitch, d).front().getOps<RecvOp>());
    // Per (sender, tag): the receives not yet placed, in program order (a
    // tag recurs once per microbatch: the k-th receive of a tag takes the
    // k-th send of it).
    std::map<std::pair<int64_t, int64_t>, std::deque<RecvOp>> byTag;
    for (RecvOp recv : receives)
      byTag[{static_cast<int64_t>(recv.getPeer()),
             static_cast<int64_t>(recv.getTag())}]
          .push_back(recv);
    // Per sender: how many of its sends this device has taken.
    std::map<int64_t, size_t> taken;
    DenseSet<Operation *> placed;
    for (RecvOp recv : receives) {
      if (placed.contains(recv))
        continue;
      int64_t peer = recv.getPeer();
      const std::vector<int64_t> &order = sent[{peer, d}];
      size_t &next = taken[peer];
      while (true) {
        if (next >= order.size())
          return recv.emitError()
                 << "autopar-partition: internal error: pipeline device " << d
                 << " receives tag " << recv.getTag() << " from device " << peer
                 << ", which never sends it";
        auto it = byTag.find({peer, order[next++]});
        if (it == byTag.end() || it->second.empty())
          return recv.emitError()
                 << "autopar-partition: internal error: pipeline device "
                 << peer << " sends tag " << order[next - 1] << " to device "
                 << d << " more often than it receives it";
        RecvOp taken = it->second.front();
        it->second.pop_front();
        if (taken != recv)
          taken->moveBefore(recv);
        placed.insert(taken);
        if (taken == recv)
          break;
      }
    }
  }
  return success();
}

namespace {
/// A transfer as a device runs it: (peer, tag).
using TransferEvent = std::pair<int64_t, int64_t>;

/// The sends and receives `block` runs, in order, loops of constant trip
/// count expanded; failure when a transfer is under another region.
LogicalResult collectTransferEvents(Block &block,
                                    std::vector<TransferEvent> &sends,
                                    std::vector<TransferEvent> &receives) {
  for (Operation &op : block) {
    if (auto send = dyn_cast<SendOp>(op)) {
      sends.push_back({static_cast<int64_t>(send.getPeer()),
                       static_cast<int64_t>(send.getTag())});
      continue;
    }
    if (auto recv = dyn_cast<RecvOp>(op)) {
      receives.push_back({static_cast<int64_t>(recv.getPeer()),
                          static_cast<int64_t>(recv.getTag())});
      continue;
    }
    if (op.getNumRegions() == 0)
      continue;
    bool hasTransfers = false;
    op.walk([&](Operation *inner) {
      if (isa<SendOp, RecvOp>(inner))
        hasTransfers = true;
    });
    if (!hasTransfers)
      continue;
    auto loop = dyn_cast<scf::ForOp>(op);
    if (!loop)
      return failure();
    std::optional<int64_t> lower = getConstantIntValue(loop.getLowerBound()),
                           upper = getConstantIntValue(loop.getUpperBound()),
                           step = getConstantIntValue(loop.getStep());
    if (!lower || !upper || !step || *step <= 0)
      return failure();
    std::vector<TransferEvent> bodySends, bodyReceives;
    if (failed(collectTransferEvents(*loop.getBody(), bodySends, bodyReceives)))
      return failure();
    for (int64_t i = *lower; i < *upper; i += *step) {
      sends.insert(sends.end(), bodySends.begin(), bodySends.end());
      receives.insert(receives.end(), bodyReceives.begin(), bodyReceives.end());
    }
  }
  return success();
}
} // namespace

bool StagePrograms::receivedAsSent(scf::IndexSwitchOp stageSwitch) {
  // Per (sender, receiver): the tags sent, and the tags received.
  std::map<std::pair<int64_t, int64_t>, std::vector<int64_t>> sent, received;
  for (int64_t d = 0; d < devices; ++d) {
    std::vector<TransferEvent> sends, receives;
    if (failed(collectTransferEvents(getDeviceRegion(stageSwitch, d).front(),
                                     sends, receives)))
      return false;
    for (auto [peer, tag] : sends)
      sent[{d, peer}].push_back(tag);
    for (auto [peer, tag] : receives)
      received[{peer, d}].push_back(tag);
  }
  return sent == received;
}

LogicalResult Sequentializer::buildStagePrograms() {
  SmallVector<Accumulator> accumulators = collectAccumulators();
  auto finish = [&](OpBuilder &b, const Accumulator &acc, Value value) {
    return finishAccumulator(b, acc, value);
  };
  StagePrograms programs(func, meshRef, microbatch, inLoop, boundary,
                         accumulators, *pipeline, count, finish);
  return programs.run();
}
