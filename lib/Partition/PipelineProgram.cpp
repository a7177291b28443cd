//===- PipelineProgram.cpp - a pipeline's per-stage programs --------------===//
//
// See PipelineProgramOptions (Microbatch.h). The input is what
// Microbatch.cpp's sequentializer sees: a device's program partitioned on
// the pipeline's mesh with the microbatch axis, its ops split into one
// microbatch's (the loop body), the collectives over the microbatches that
// accumulate them, and the ops before and after. Every op gets a stage and
// a phase (before the microbatches, a microbatch's forward or backward,
// after them); each stage's program is then emitted straight-line into one
// case of an `scf.index_switch` on the device's stage coordinate:
//
//   before:  the stage's once-per-step ops before the microbatches
//   F<m>/B<m> in the schedule's order (GPipe: every forward, then every
//            backward; 1F1B: P - s - 1 forwards, then one forward and one
//            backward alternating, then the remaining backwards):
//              recv what other stages made for this microbatch's work,
//              the stage's ops of that phase with the microbatch's slice,
//              send what other stages read of it,
//              add the microbatch's share to the stage's accumulators
//   after:   the accumulated values, the stage's synchronisation and update
//   yield:   the stage's results
//
// Values of one microbatch move with the action that makes them: a
// forward's to a later stage's forward of the same microbatch, a
// backward's to an earlier stage's backward. Values made once per step
// (an update that another stage's copy of a tied parameter needs) are sent
// where they are made and received just before their first use; every
// stage emits these in program order, so a receive waits only on work that
// comes earlier in the program on the sender. Sends do not wait
// (autopar.send), so the schedule's order cannot deadlock.
//
//===----------------------------------------------------------------------===//

#include "Sequentializer.h"
#include "autopar/Autodiff/ReverseMode.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Transforms/RegionUtils.h"

#include <map>

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

/// A value one stage makes and another reads.
struct Transfer {
  Value value;
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
        finishAccumulator(finishAccumulator), builder(func.getContext()) {}

  LogicalResult run();

private:
  LogicalResult classify();
  LogicalResult collectTransfers();
  SmallVector<std::pair<Phase, int64_t>> getActions(int64_t stage) const;
  LogicalResult emitStage(int64_t stage);
  /// `value` in the stage being emitted, for microbatch `m` (-1: once per
  /// step): cloned when no stage owns its producer, received when another
  /// stage's once-per-step value, null (after a diagnostic) when missing.
  Value get(Value value, int64_t m);
  /// Clones `op` into the stage being emitted for microbatch `m`.
  LogicalResult cloneOp(Operation *op, int64_t m);
  void sendAfter(Operation *op, int64_t m);
  int64_t tagOf(const Transfer &transfer, int64_t m) const {
    return transfer.perMicrobatch ? transfer.index * count + m
                                  : perMicrobatchTransfers * count +
                                        transfer.index;
  }
  /// The stage an op runs on, -1 for none (it reads no staged value: it
  /// runs where it is needed).
  int64_t stageOf(Operation *op) const {
    auto it = stages.find(op);
    return it == stages.end() ? -1 : it->second;
  }
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
  function_ref<Value(OpBuilder &, const Accumulator &, Value)>
      finishAccumulator;
  OpBuilder builder;

  SmallVector<Operation *> ops;
  DenseMap<Operation *, Phase> phases;
  DenseMap<Operation *, int64_t> stages;
  DenseSet<Operation *> roundings;
  std::vector<Transfer> transfers;
  int64_t perMicrobatchTransfers = 0;
  /// (value, to) -> transfer.
  std::map<std::pair<void *, int64_t>, size_t> transferOf;
  /// Per result: the stage that makes it (-1: every stage can).
  SmallVector<int64_t> resultOwner;
  /// Per (sender, receiver): the once-per-step transfers in the order the
  /// sender's program sends them. A receiver takes them in that order too
  /// (NCCL matches a pair's transfers in order; MPI's tags would not need
  /// it).
  std::map<std::pair<int64_t, int64_t>, std::vector<size_t>> perStepOrder;
  /// The stage being emitted: per sender, how many of its once-per-step
  /// transfers it has received.
  std::map<int64_t, size_t> perStepReceived;

  // The stage being emitted.
  int64_t current = 0;
  /// (value, microbatch or -1) -> the value in the stage's program.
  DenseMap<std::pair<Value, int64_t>, Value> mapped;
  bool failedEmit = false;
};
} // namespace

LogicalResult StagePrograms::classify() {
  for (const Accumulator &acc : accumulators)
    if (acc.rounding)
      roundings.insert(acc.rounding);
  Operation *coord = microbatch.getDefiningOp();
  for (Operation &op : body.without_terminator()) {
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
            op.getAttrOfType<IntegerAttr>(AutoparDialect::kStageAttrName)) {
      if (stage.getInt() >= options.stages)
        return op.emitError() << "autopar-partition: '"
                              << AutoparDialect::kStageAttrName << "' is "
                              << stage.getInt() << " but the pipeline has "
                              << options.stages << " stages";
      stages[&op] = stage.getInt();
      continue;
    }
    // Forward work goes to the latest stage it reads from, backward work
    // to the earliest: values then flow the schedule's way.
    std::optional<int64_t> chosen;
    forEachInput(&op, [&](Value value) {
      Operation *def = producer(value);
      if (!def || stageOf(def) < 0)
        return;
      int64_t stage = stageOf(def);
      if (!chosen)
        chosen = stage;
      else
        chosen = phase == Phase::Backward ? std::min(*chosen, stage)
                                          : std::max(*chosen, stage);
    });
    if (chosen)
      stages[&op] = *chosen;
  }
  for (const Accumulator &acc : accumulators)
    if (stageOf(acc.collective) < 0)
      return acc.collective->emitError()
             << "autopar-partition: a value accumulated over the "
                "microbatches that no pipeline stage makes (it reads no "
                "staged value)";
  return success();
}

LogicalResult StagePrograms::collectTransfers() {
  // What each stage's ops read from other stages' ops, in program order.
  auto need = [&](Value value, int64_t to, Operation *user) -> LogicalResult {
    Operation *def = producer(value);
    int64_t from = def ? stageOf(def) : -1;
    if (from < 0 || from == to)
      return success();
    auto key = std::make_pair(value.getAsOpaquePointer(), to);
    if (transferOf.count(key))
      return success();
    Transfer transfer;
    transfer.value = value;
    transfer.from = from;
    transfer.to = to;
    transfer.phase = phases.lookup(def);
    transfer.perMicrobatch = inLoop.contains(def);
    if (transfer.perMicrobatch) {
      // A forward value goes to a later stage, a backward one to an
      // earlier stage.
      bool forward = transfer.phase == Phase::Forward;
      if ((forward && from > to) || (!forward && from < to))
        return user->emitError()
               << "autopar-partition: this op of pipeline stage " << to
               << " reads a value that stage " << from << " makes in its "
               << getPhaseName(transfer.phase)
               << " of each microbatch: the value would flow against the "
                  "schedule";
    }
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
  // A result belongs to the stage that makes it. A parameter's update goes
  // to the other stages that read the parameter (a tied embedding).
  Operation *terminator = body.getTerminator();
  DenseMap<Value, DenseSet<int64_t>> readers;
  for (Operation *op : ops)
    if (stageOf(op) >= 0)
      forEachInput(op, [&](Value value) {
        if (isa<BlockArgument>(value))
          readers[value].insert(stageOf(op));
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
  // The order a sender's program sends its once-per-step values
  // (emitStage): its ops before the microbatches, its accumulated values,
  // its ops after them.
  auto sendOrder = [&](Operation *op) {
    for (Value result : op->getResults())
      for (auto [index, transfer] : llvm::enumerate(transfers))
        if (transfer.value == result && !transfer.perMicrobatch)
          perStepOrder[{transfer.from, transfer.to}].push_back(index);
  };
  for (Operation *op : ops)
    if (stageOf(op) >= 0 && phases.lookup(op) == Phase::Before &&
        !roundings.contains(op))
      sendOrder(op);
  for (const Accumulator &acc : accumulators)
    sendOrder(acc.collective);
  for (Operation *op : ops)
    if (stageOf(op) >= 0 && phases.lookup(op) == Phase::After &&
        !boundary.contains(op))
      sendOrder(op);
  return success();
}

SmallVector<std::pair<Phase, int64_t>>
StagePrograms::getActions(int64_t stage) const {
  SmallVector<std::pair<Phase, int64_t>> actions;
  if (options.schedule == "gpipe") {
    for (int64_t m = 0; m < count; ++m)
      actions.push_back({Phase::Forward, m});
    for (int64_t m = 0; m < count; ++m)
      actions.push_back({Phase::Backward, m});
    return actions;
  }
  // 1F1B: warm-up forwards, then one forward and one backward, then the
  // backwards left.
  int64_t warmup = std::min(options.stages - stage - 1, count);
  for (int64_t m = 0; m < warmup; ++m)
    actions.push_back({Phase::Forward, m});
  for (int64_t i = 0; i < count - warmup; ++i) {
    actions.push_back({Phase::Forward, warmup + i});
    actions.push_back({Phase::Backward, i});
  }
  for (int64_t m = count - warmup; m < count; ++m)
    actions.push_back({Phase::Backward, m});
  return actions;
}

Value StagePrograms::get(Value value, int64_t m) {
  Operation *def = producer(value);
  if (!def)
    return value; // An argument, or a value of an enclosing region.
  if (value == microbatch) {
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
  int64_t stage = stageOf(def);
  if (stage < 0) {
    if (failed(cloneOp(def, key)))
      return nullptr;
    return mapped.lookup({value, key});
  }
  auto it = transferOf.find({value.getAsOpaquePointer(), current});
  if (stage != current && it != transferOf.end() &&
      !transfers[it->second].perMicrobatch) {
    // Another stage's once-per-step value: received at its first use,
    // with the values that stage sent before it.
    const std::vector<size_t> &order =
        perStepOrder[{transfers[it->second].from, current}];
    size_t &next = perStepReceived[transfers[it->second].from];
    while (next < order.size() && !mapped.lookup({value, -1})) {
      const Transfer &transfer = transfers[order[next++]];
      Operation *sender = producer(transfer.value);
      auto received = RecvOp::create(
          builder, sender->getLoc(), transfer.value.getType(), Value(), meshRef,
          builder.getStrArrayAttr({AutoparDialect::kStageAxisName}),
          builder.getI64IntegerAttr(transfer.from),
          builder.getI64IntegerAttr(tagOf(transfer, -1)));
      mapped[{transfer.value, -1}] = received.getResult();
    }
    if (Value found = mapped.lookup({value, -1}))
      return found;
  }
  failedEmit = true;
  def->emitError() << "autopar-partition: internal error: a value of "
                      "pipeline stage "
                   << stage << " is not available on stage " << current;
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
      if (transfer.value == result && transfer.from == current)
        SendOp::create(builder, op->getLoc(),
                       mapped.lookup({result, transfer.perMicrobatch ? m : -1}),
                       meshRef,
                       builder.getStrArrayAttr({AutoparDialect::kStageAxisName}),
                       builder.getI64IntegerAttr(transfer.to),
                       builder.getI64IntegerAttr(tagOf(transfer, m)));
}

LogicalResult StagePrograms::emitStage(int64_t stage) {
  current = stage;
  mapped.clear();
  perStepReceived.clear();
  Location loc = func.getLoc();
  auto emitPhase = [&](Phase phase, int64_t m) -> LogicalResult {
    for (Operation *op : ops) {
      if (stageOf(op) != stage || phases.lookup(op) != phase ||
          roundings.contains(op) || boundary.contains(op))
        continue;
      if (failed(cloneOp(op, m)) || failedEmit)
        return failure();
      sendAfter(op, m);
    }
    return success();
  };

  if (failed(emitPhase(Phase::Before, -1)))
    return failure();

  // The stage's accumulators start at their identity.
  SmallVector<const Accumulator *> own;
  SmallVector<Value> sums;
  for (const Accumulator &acc : accumulators) {
    if (stageOf(acc.collective) != stage)
      continue;
    own.push_back(&acc);
    sums.push_back(startAccumulator(builder, loc, acc));
  }

  for (auto [phase, m] : getActions(stage)) {
    // What other stages made for this microbatch's work.
    for (const Transfer &transfer : transfers) {
      if (!transfer.perMicrobatch || transfer.to != stage ||
          transfer.phase != phase)
        continue;
      Operation *def = producer(transfer.value);
      auto received = RecvOp::create(
          builder, def->getLoc(), transfer.value.getType(), Value(), meshRef,
          builder.getStrArrayAttr({AutoparDialect::kStageAxisName}),
          builder.getI64IntegerAttr(transfer.from),
          builder.getI64IntegerAttr(tagOf(transfer, m)));
      mapped[{transfer.value, m}] = received.getResult();
    }
    if (failed(emitPhase(phase, m)))
      return failure();
    // The microbatch's share of each accumulated value.
    for (auto [acc, sum] : llvm::zip_equal(own, sums)) {
      Operation *def = producer(acc->contribution);
      if (!def || phases.lookup(def) != phase)
        continue;
      Value contribution = get(acc->contribution, m);
      if (!contribution)
        return failure();
      sum =
          accumulate(builder, *acc, sum, contribution, builder.getIndexAttr(m));
    }
  }

  // After the microbatches: the accumulated values, then the stage's
  // once-per-step work.
  for (auto [acc, sum] : llvm::zip_equal(own, sums)) {
    Value result = acc->collective->getResult(0);
    mapped[{result, -1}] = finishAccumulator(builder, *acc, sum);
    sendAfter(acc->collective, -1);
  }
  if (failed(emitPhase(Phase::After, -1)))
    return failure();

  // The results: the stage's own, another stage's update of a parameter
  // this stage reads, the argument of one it does not, zeros otherwise.
  Operation *terminator = body.getTerminator();
  SmallVector<Value> results;
  for (auto [index, value] : llvm::enumerate(terminator->getOperands())) {
    int64_t owner = resultOwner[index];
    auto it = transferOf.find({value.getAsOpaquePointer(), stage});
    if (owner < 0 || owner == stage || it != transferOf.end()) {
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
  if (options.schedule != "gpipe" && options.schedule != "1f1b")
    return func.emitError()
           << "autopar-partition: the " << options.schedule
           << " schedule's per-stage programs are not built yet (gpipe and "
              "1f1b are)";
  if (failed(classify()) || failed(collectTransfers()))
    return failure();

  Operation *terminator = body.getTerminator();
  Location loc = func.getLoc();
  builder.setInsertionPoint(terminator);
  Value stage =
      DeviceCoordOp::create(
          builder, loc, builder.getIndexType(), meshRef,
          builder.getStrArrayAttr({AutoparDialect::kStageAxisName}))
          .getResult();
  SmallVector<int64_t> cases;
  for (int64_t s = 0; s + 1 < options.stages; ++s)
    cases.push_back(s);
  auto stageSwitch = scf::IndexSwitchOp::create(
      builder, loc, terminator->getOperandTypes(), stage, cases, cases.size());
  for (int64_t s = 0; s < options.stages; ++s) {
    Region &region = s + 1 < options.stages ? stageSwitch.getCaseRegions()[s]
                                            : stageSwitch.getDefaultRegion();
    builder.setInsertionPointToEnd(&region.emplaceBlock());
    if (failed(emitStage(s)))
      return failure();
  }
  terminator->setOperands(stageSwitch.getResults());
  for (auto [index, owner] : llvm::enumerate(resultOwner))
    if (owner >= 0)
      func.setResultAttr(index, AutoparDialect::kStageAttrName,
                         builder.getI64IntegerAttr(owner));
  // The single program's ops are all in the stages' programs now.
  for (Operation *op : llvm::reverse(ops)) {
    op->dropAllUses();
    op->erase();
  }
  return success();
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
