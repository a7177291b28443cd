//===- Microbatch.cpp - a step's batch as a loop of microbatches ----------===//
//
// See Microbatch.h. The program autopar-partition leaves on a mesh with the
// microbatch axis is straight-line code in which the axis appears in two
// forms only: device coordinates along it (slices of the batch, offsets of
// linalg.index, the first-device test of a split reduction's init) and
// collectives over it. The ops reached from the coordinate, up to those
// collectives, are one microbatch's work: they become the loop's body, the
// coordinate its induction variable and the collectives its loop-carried
// accumulators.
//
//===----------------------------------------------------------------------===//

#include "autopar/Partition/Microbatch.h"
#include "Sequentializer.h"
#include "autopar/Autodiff/StepTransforms.h"
#include "autopar/Dialect/AutoparOps.h"
#include "autopar/Partition/ReshardingBuilder.h"
#include "autopar/Search/ChunkAssignment.h"
#include "autopar/Search/ShardingSpace.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

using namespace mlir;
using namespace mlir::autopar;
using namespace mlir::autopar::detail;

MeshAttr mlir::autopar::getMeshWithMicrobatchAxis(MeshAttr mesh,
                                                  int64_t count) {
  SmallVector<StringAttr> names(mesh.getAxisNames());
  SmallVector<int64_t> sizes(mesh.getAxisSizes());
  names.push_back(StringAttr::get(mesh.getContext(), kMicrobatchAxisName));
  sizes.push_back(count);
  return MeshAttr::get(mesh.getContext(), names, sizes);
}

bool mlir::autopar::detail::isOnMicrobatchAxis(ArrayAttr axes) {
  return llvm::any_of(axes, [](Attribute axis) {
    return cast<StringAttr>(axis).getValue() == kMicrobatchAxisName;
  });
}

bool mlir::autopar::detail::isMicrobatchCollective(Operation *op) {
  auto collective = dyn_cast<CollectiveOpInterface>(op);
  return collective && isOnMicrobatchAxis(collective.getAxesAttr());
}

/// `lhs` combined with `rhs` by `kind`, element type of `lhs`.
Value mlir::autopar::detail::combine(OpBuilder &b, Location loc, ReductionKind kind,
                      Value lhs, Value rhs) {
  bool isFloat = isa<FloatType>(lhs.getType());
  switch (kind) {
  case ReductionKind::Sum:
    return isFloat ? arith::AddFOp::create(b, loc, lhs, rhs).getResult()
                   : arith::AddIOp::create(b, loc, lhs, rhs).getResult();
  case ReductionKind::Product:
    return isFloat ? arith::MulFOp::create(b, loc, lhs, rhs).getResult()
                   : arith::MulIOp::create(b, loc, lhs, rhs).getResult();
  case ReductionKind::Max:
    return isFloat ? arith::MaximumFOp::create(b, loc, lhs, rhs).getResult()
                   : arith::MaxSIOp::create(b, loc, lhs, rhs).getResult();
  case ReductionKind::Min:
    return isFloat ? arith::MinimumFOp::create(b, loc, lhs, rhs).getResult()
                   : arith::MinSIOp::create(b, loc, lhs, rhs).getResult();
  }
  llvm_unreachable("unknown reduction kind");
}

/// An element-by-element linalg.generic over `input` into `init`: `body`
/// maps (input element, init element) to the result element.
Value mlir::autopar::detail::mapElements(OpBuilder &b, Location loc, Value input, Value init,
            function_ref<Value(OpBuilder &, Location, Value, Value)> body) {
  auto type = cast<RankedTensorType>(init.getType());
  AffineMap identity = b.getMultiDimIdentityMap(type.getRank());
  SmallVector<utils::IteratorType> iterators(type.getRank(),
                                             utils::IteratorType::parallel);
  return linalg::GenericOp::create(
             b, loc, TypeRange{type}, ValueRange{input}, ValueRange{init},
             ArrayRef<AffineMap>{identity, identity}, iterators,
             [&](OpBuilder &nested, Location nestedLoc, ValueRange args) {
               linalg::YieldOp::create(
                   nested, nestedLoc,
                   body(nested, nestedLoc, args[0], args[1]));
             })
      .getResult(0);
}

Value mlir::autopar::detail::startAccumulator(OpBuilder &b, Location loc,
                                              const Accumulator &acc) {
  Value empty = tensor::EmptyOp::create(b, loc, acc.carried.getShape(),
                                        acc.carried.getElementType());
  if (isa<AllGatherOp>(acc.collective))
    return empty;
  Value identity = arith::ConstantOp::create(
      b, loc, getReductionIdentity(acc.kind, acc.carried.getElementType()));
  return linalg::FillOp::create(b, loc, identity, empty).getResult(0);
}

Value mlir::autopar::detail::accumulate(OpBuilder &b, const Accumulator &acc,
                                        Value sum, Value contribution,
                                        OpFoldResult microbatch) {
  Location loc = acc.collective->getLoc();
  OpBuilder::InsertionGuard guard(b);
  if (Operation *def = contribution.getDefiningOp();
      def && def->getBlock() == b.getInsertionBlock())
    b.setInsertionPointAfter(def);
  if (auto gather = dyn_cast<AllGatherOp>(*acc.collective)) {
    // Each microbatch's block at its place along the gathered dimension.
    auto part = cast<RankedTensorType>(contribution.getType());
    int64_t dim = gather.getGatherDim();
    SmallVector<OpFoldResult> offsets(part.getRank(), b.getIndexAttr(0));
    SmallVector<OpFoldResult> sizes, strides;
    for (int64_t size : part.getShape()) {
      sizes.push_back(b.getIndexAttr(size));
      strides.push_back(b.getIndexAttr(1));
    }
    if (std::optional<int64_t> m = getConstantIntValue(microbatch))
      offsets[dim] = b.getIndexAttr(*m * part.getDimSize(dim));
    else
      offsets[dim] = arith::MulIOp::create(b, loc, cast<Value>(microbatch),
                                           arith::ConstantIndexOp::create(
                                               b, loc, part.getDimSize(dim)))
                         .getResult();
    return tensor::InsertSliceOp::create(b, loc, contribution, sum, offsets,
                                         sizes, strides)
        .getResult();
  }
  ReductionKind kind = acc.kind;
  return mapElements(b, loc, contribution, sum,
                     [&](OpBuilder &nested, Location nestedLoc, Value in,
                         Value total) -> Value {
                       if (in.getType() != total.getType())
                         in = arith::ExtFOp::create(nested, nestedLoc,
                                                    total.getType(), in);
                       return combine(nested, nestedLoc, kind, total, in);
                     });
}

bool mlir::autopar::detail::isSynchronised(const Accumulator &acc) {
  // (A scalar, the loss: its synchronisation is a latency, not worth a
  // second copy of the microbatch's program.)
  auto type =
      dyn_cast<RankedTensorType>(acc.collective->getResult(0).getType());
  if (!type || type.getRank() == 0)
    return false;
  return llvm::any_of(acc.collective->getResult(0).getUsers(),
                      [](Operation *user) {
                        return isa<CollectiveOpInterface>(user) &&
                               !isMicrobatchCollective(user);
                      });
}

SmallVector<Value> mlir::autopar::detail::peelLastIteration(OpBuilder &b,
                                                            scf::ForOp loop) {
  std::optional<int64_t> count = getConstantIntValue(loop.getUpperBound());
  if (!count || *count < 1 || !isConstantIntValue(loop.getLowerBound(), 0) ||
      !isConstantIntValue(loop.getStep(), 1))
    return SmallVector<Value>(loop.getResults());
  // The readers of the loop's results, before the copy reads them too.
  SmallVector<OpOperand *> uses;
  for (Value result : loop.getResults())
    for (OpOperand &use : result.getUses())
      uses.push_back(&use);
  OpBuilder::InsertionGuard guard(b);
  Location loc = loop.getLoc();
  b.setInsertionPoint(loop);
  Value last = arith::ConstantIndexOp::create(b, loc, *count - 1);
  loop.getUpperBoundMutable().assign(last);
  IRMapping mapping;
  mapping.map(loop.getInductionVar(), last);
  for (auto [arg, result] :
       llvm::zip_equal(loop.getRegionIterArgs(), loop.getResults()))
    mapping.map(arg, result);
  b.setInsertionPointAfter(loop);
  Block *block = loop.getBody();
  SmallVector<Operation *> cloned;
  for (Operation &op : block->without_terminator())
    cloned.push_back(b.clone(op, mapping));
  SmallVector<Value> results;
  for (Value yielded : block->getTerminator()->getOperands())
    results.push_back(mapping.lookupOrDefault(yielded));
  // What only the loop's own accumulators read (a rounding applied after
  // the microbatches instead) has no reader in the copy.
  DenseSet<Operation *> yielding;
  for (Value result : results)
    if (Operation *def = result.getDefiningOp())
      yielding.insert(def);
  for (Operation *op : llvm::reverse(cloned))
    if (!yielding.contains(op) && isOpTriviallyDead(op))
      op->erase();
  for (OpOperand *use : uses)
    use->set(results[cast<OpResult>(use->get()).getResultNumber()]);
  return results;
}

namespace {
/// When `acc`'s contribution is a sum that its producer starts from zeros
/// (a weight gradient's contraction over the microbatch's samples), the
/// producer starts from the running sum `current` instead and its result is
/// the next sum: the accumulation happens in the reduction itself, with no
/// per-microbatch buffer (as Megatron-LM's gradient accumulation fusion
/// does). Null when the contribution has another form.
Value accumulateInProducer(const Accumulator &acc, Value current) {
  auto result = dyn_cast<OpResult>(acc.contribution);
  if (acc.kind != ReductionKind::Sum || !result ||
      acc.contribution.getType() != acc.carried ||
      !acc.contribution.hasOneUse())
    return nullptr;
  auto producer = dyn_cast<DestinationStyleOpInterface>(result.getOwner());
  if (!producer || getReductionKind(producer, result.getResultNumber()) !=
                       ReductionKind::Sum)
    return nullptr;
  OpOperand *init = producer.getTiedOpOperand(result);
  auto fill = init ? init->get().getDefiningOp<linalg::FillOp>() : nullptr;
  if (!fill || !matchPattern(fill.value(), m_AnyZeroFloat()))
    return nullptr;
  init->set(current);
  if (fill->use_empty()) {
    Value empty = fill.getDpsInits()[0];
    fill->erase();
    if (Operation *definer = empty.getDefiningOp();
        definer && isa<tensor::EmptyOp>(definer) && definer->use_empty())
      definer->erase();
  }
  return acc.contribution;
}

} // namespace

void Sequentializer::isolateCoordinate() {
  SmallVector<DeviceCoordOp> coords;
  for (auto coord : body.getOps<DeviceCoordOp>())
    if (isOnMicrobatchAxis(coord.getAxes()))
      coords.push_back(coord);
  if (coords.empty())
    return;
  builder.setInsertionPointToStart(&body);
  Location loc = func.getLoc();
  microbatch =
      DeviceCoordOp::create(builder, loc, builder.getIndexType(), meshRef,
                            builder.getStrArrayAttr({kMicrobatchAxisName}))
          .getResult();
  for (DeviceCoordOp coord : coords) {
    // The coordinate along (major axes, microbatches, minor axes),
    // row-major: (major * count + microbatch) * minorSize + minor.
    SmallVector<StringRef> major, minor;
    bool seen = false;
    for (Attribute axis : coord.getAxes()) {
      StringRef name = cast<StringAttr>(axis).getValue();
      if (name == kMicrobatchAxisName)
        seen = true;
      else
        (seen ? minor : major).push_back(name);
    }
    builder.setInsertionPointAfter(coord);
    Location coordLoc = coord.getLoc();
    auto constant = [&](int64_t value) {
      return arith::ConstantIndexOp::create(builder, coordLoc, value);
    };
    auto along = [&](ArrayRef<StringRef> names) {
      return DeviceCoordOp::create(builder, coordLoc, builder.getIndexType(),
                                   meshRef, builder.getStrArrayAttr(names))
          .getResult();
    };
    Value linear = microbatch;
    if (!major.empty())
      linear = arith::AddIOp::create(builder, coordLoc,
                                     arith::MulIOp::create(builder, coordLoc,
                                                           along(major),
                                                           constant(count)),
                                     linear);
    if (!minor.empty()) {
      int64_t minorSize = 1;
      for (StringRef name : minor)
        minorSize *= microMesh.getAxisSize(name);
      linear = arith::AddIOp::create(
          builder, coordLoc,
          arith::MulIOp::create(builder, coordLoc, linear, constant(minorSize)),
          along(minor));
    }
    coord.getResult().replaceAllUsesWith(linear);
    coord.erase();
  }
}

/// A ZeRO-3 parameter gather: an all_gather of a pin autopar's ZeRO
/// sharding tagged with the layer whose forward or backward it serves.
static bool isZeroGather(Operation *op) {
  return op->hasAttr(AutoparDialect::kLayerAttrName) ||
         op->hasAttr(AutoparDialect::kGradOfAttrName);
}

int64_t Sequentializer::getZeroStage(Operation *op) {
  auto module = func->getParentOfType<ModuleOp>();
  StageStep step = getStageStep(module, -1);
  auto pipeline =
      module->getAttrOfType<DictionaryAttr>(AutoparDialect::kPipelineAttrName);
  if (!pipeline || !pipeline.get("zero"))
    return step.zero;
  if (!chunks)
    chunks = assignChunks(body, [](Operation *op) {
      return op->hasAttr(AutoparDialect::kGradOfAttrName) ||
             op->hasAttr(AutoparDialect::kRecomputedAttrName);
    });
  Operation *inBody = ancestor(op);
  auto it = inBody ? chunks->find(inBody) : chunks->end();
  return it == chunks->end() ? step.zero
                             : getStageStep(module, it->second).zero;
}

bool Sequentializer::isGatheredEachMicrobatch(Operation *op) {
  if (!isa<AllGatherOp>(op) || isMicrobatchCollective(op))
    return false;
  if (isZeroGather(op))
    return true;
  // Another gather of a parameter (a table an op's body reads, a pin's
  // value resharded again): at ZeRO-3 where every reader's stage is.
  return !op->use_empty() && llvm::all_of(op->getUsers(), [&](Operation *user) {
    Operation *reader = ancestor(user);
    return reader && getZeroStage(reader) >= 3;
  });
}

void Sequentializer::reduceOncePerStep() {
  // all_reduce(microbatches) of a reduction over real axes becomes the
  // reduction of the all_reduce(microbatches): the same sum, taken once.
  bool changed = true;
  while (changed) {
    changed = false;
    for (auto outer : body.getOps<AllReduceOp>()) {
      if (!isOnMicrobatchAxis(outer.getAxes()))
        continue;
      Operation *inner = outer.getInput().getDefiningOp();
      if (!inner || !inner->hasOneUse() || isMicrobatchCollective(inner))
        continue;
      Value input;
      if (auto reduce = dyn_cast<AllReduceOp>(inner);
          reduce && reduce.getReduction() == outer.getReduction())
        input = reduce.getInput();
      else if (auto scatter = dyn_cast<ReduceScatterOp>(inner);
               scatter && getZeroStage(scatter) < 2 &&
               scatter.getReduction() == outer.getReduction())
        input = scatter.getInput();
      if (!input)
        continue;
      builder.setInsertionPoint(outer);
      auto accumulated = AllReduceOp::create(
          builder, outer.getLoc(), input.getType(), input, Value(),
          outer.getMeshAttr(), outer.getAxesAttr(), outer.getReduction());
      IRMapping mapping;
      mapping.map(input, accumulated.getResult());
      Operation *reduced = builder.clone(*inner, mapping);
      outer.getResult().replaceAllUsesWith(reduced->getResult(0));
      if (chunks) {
        // The two new ops run where the reduction they replace ran.
        if (auto it = chunks->find(inner); it != chunks->end()) {
          (*chunks)[accumulated] = it->second;
          (*chunks)[reduced] = it->second;
        }
        chunks->erase(inner);
        chunks->erase(outer);
      }
      outer.erase();
      inner->erase();
      changed = true;
      break;
    }
  }
}

LogicalResult Sequentializer::collectLoopBody() {
  SmallVector<Operation *> worklist;
  auto visitUsers = [&](Value value) {
    for (Operation *user : value.getUsers()) {
      Operation *op = ancestor(user);
      if (!op)
        continue;
      if (isMicrobatchCollective(op)) {
        boundary.insert(op);
        continue;
      }
      if (inLoop.insert(op).second)
        worklist.push_back(op);
    }
  };
  visitUsers(microbatch);
  while (!worklist.empty()) {
    Operation *op = worklist.pop_back_val();
    for (Value result : op->getResults())
      visitUsers(result);
  }
  // Buffers made only for a microbatch's ops are made in the loop, where
  // they live for one iteration, not before it for the whole loop (and
  // copied per iteration, as an op writes into them): empty tensors and
  // fills, and at ZeRO-3 a parameter's gather (gathered per microbatch
  // rather than kept whole through the loop). In reverse order, so a fill
  // goes in before its empty tensor is considered.
  for (Operation &op : llvm::reverse(body)) {
    if (inLoop.contains(&op) || op.use_empty() ||
        !(isa<tensor::EmptyOp, linalg::FillOp>(op) ||
          isGatheredEachMicrobatch(&op)))
      continue;
    if (llvm::all_of(op.getUsers(), [&](Operation *user) {
          return inLoop.contains(ancestor(user));
        }))
      inLoop.insert(&op);
  }
  if (inLoop.contains(body.getTerminator()))
    return body.getTerminator()->emitError()
           << "autopar-partition: internal error: a result of the function "
              "is not whole over the microbatches";
  auto fail =
      [&](Operation *at) {
        return at->emitError()
               << "autopar-partition: microbatches=" << count << ": '"
               << at->getName()
               << "' needs a value combined over the whole batch before the "
                  "microbatches end (a statistic over the batch, as batch "
                  "normalization takes); a step with such an op cannot run one "
                  "microbatch at a time: plan it with microbatches=1";
      };
  for (Operation *op : boundary) {
    if (!isa<AllReduceOp, AllGatherOp>(op))
      return fail(op);
    Operation *producer = op->getOperand(0).getDefiningOp();
    if (!producer || !inLoop.contains(ancestor(producer)))
      return op->emitError() << "autopar-partition: internal error: a value "
                                "combined over the microbatches does not "
                                "depend on the microbatch";
  }
  // What an accumulation feeds runs after the loop; a microbatch's op
  // among it would need the whole batch first. With one microbatch (a
  // pipeline of one), the microbatch holds the whole batch: a collective
  // over the microbatch axis alone is its value, and goes (the keys an
  // attention whose sequence is the samples gathers, their gradients'
  // sums), so that what reads it runs in the loop; then the loop's body is
  // collected again.
  auto isIdentity = [&](Operation *op) {
    auto collective = cast<CollectiveOpInterface>(op);
    return count == 1 && collective.getAxesAttr().size() == 1 &&
           isOnMicrobatchAxis(collective.getAxesAttr()) &&
           op->getNumResults() == 1 &&
           op->getResult(0).getType() == op->getOperand(0).getType();
  };
  SmallVector<Operation *> identities;
  for (Operation *end : boundary) {
    worklist.assign({end});
    while (!worklist.empty()) {
      Operation *op = worklist.pop_back_val();
      for (Operation *user : op->getUsers()) {
        Operation *userOp = ancestor(user);
        if (!userOp)
          continue;
        if (inLoop.contains(userOp)) {
          if (!isIdentity(end))
            return fail(userOp);
          identities.push_back(end);
          worklist.clear();
          break;
        }
        if (afterLoop.insert(userOp).second)
          worklist.push_back(userOp);
      }
    }
  }
  if (identities.empty())
    return success();
  for (Operation *op : identities) {
    // The function's results stay whole over the (one) microbatch.
    op->getResult(0).replaceUsesWithIf(op->getOperand(0), [&](OpOperand &use) {
      return use.getOwner() != body.getTerminator();
    });
    if (op->use_empty())
      op->erase();
  }
  inLoop.clear();
  afterLoop.clear();
  boundary.clear();
  return collectLoopBody();
}

SmallVector<Accumulator> Sequentializer::collectAccumulators() {
  SmallVector<Accumulator> accumulators;
  SmallVector<Operation *> ends;
  for (Operation &op : body)
    if (boundary.contains(&op))
      ends.push_back(&op);
  for (Operation *op : ends) {
    Accumulator acc;
    acc.collective = cast<CollectiveOpInterface>(op);
    acc.contribution = acc.collective.getInput();
    if (auto reduce = dyn_cast<AllReduceOp>(op)) {
      acc.kind = reduce.getReduction();
      Operation *producer = acc.contribution.getDefiningOp();
      if (acc.kind == ReductionKind::Sum && producer &&
          acc.contribution.hasOneUse() && isRoundingCast(producer)) {
        acc.rounding = producer;
        acc.contribution = producer->getOperand(0);
      }
      auto type = cast<RankedTensorType>(acc.contribution.getType());
      Type element = type.getElementType();
      if (acc.kind == ReductionKind::Sum &&
          isa<Float16Type, BFloat16Type>(element))
        element = builder.getF32Type();
      acc.carried = type.clone(element);
    } else {
      acc.carried = cast<RankedTensorType>(op->getResult(0).getType());
    }
    accumulators.push_back(acc);
  }

  return accumulators;
}

Value Sequentializer::finishAccumulator(OpBuilder &b, const Accumulator &acc,
                                        Value value) {
  Operation *op = acc.collective;
  if (acc.rounding) {
    // The rounding the microbatches skipped, once.
    IRMapping mapping;
    mapping.map(acc.rounding->getOperand(0), value);
    auto rounded = cast<RankedTensorType>(acc.rounding->getResult(0).getType());
    mapping.map(acc.rounding->getOperand(1),
                tensor::EmptyOp::create(b, op->getLoc(), acc.carried.getShape(),
                                        rounded.getElementType())
                    .getResult());
    Operation *clone = b.clone(*acc.rounding, mapping);
    clone->getResult(0).setType(
        RankedTensorType(acc.carried).clone(rounded.getElementType()));
    value = clone->getResult(0);
  }
  return createCast(b, op->getLoc(), value,
                    getElementTypeOrSelf(op->getResult(0).getType()));
}

void Sequentializer::buildLoop() {
  Operation *first = nullptr;
  SmallVector<Operation *> loopOps, hoisted;
  for (Operation &op : body) {
    if (inLoop.contains(&op)) {
      if (!first)
        first = &op;
      loopOps.push_back(&op);
    } else if (first && !boundary.contains(&op) &&
               &op != body.getTerminator()) {
      hoisted.push_back(&op);
    }
  }
  // What does not depend on the microbatch and no accumulation feeds runs
  // before the loop.
  for (Operation *op : hoisted)
    if (!afterLoop.contains(op))
      op->moveBefore(first);

  SmallVector<Accumulator> accumulators = collectAccumulators();

  Location loc = func.getLoc();
  builder.setInsertionPoint(first);
  SmallVector<Value> inits;
  for (Accumulator &acc : accumulators)
    inits.push_back(startAccumulator(builder, loc, acc));
  Value lower = arith::ConstantIndexOp::create(builder, loc, 0);
  Value upper = arith::ConstantIndexOp::create(builder, loc, count);
  Value step = arith::ConstantIndexOp::create(builder, loc, 1);
  auto loop = scf::ForOp::create(builder, loc, lower, upper, step, inits);
  Block *block = loop.getBody();
  // The builder's own terminator (a loop without carried values) is
  // replaced by the yield made below.
  if (!block->empty())
    block->back().erase();
  Value index = loop.getInductionVar();
  for (Operation *op : loopOps)
    op->moveBefore(block, block->end());
  microbatch.replaceAllUsesWith(index);
  OpBuilder b = OpBuilder::atBlockEnd(block);
  SmallVector<Value> next;
  for (auto [acc, current] :
       llvm::zip_equal(accumulators, loop.getRegionIterArgs())) {
    if (Value folded = isa<AllGatherOp>(acc.collective)
                           ? Value()
                           : accumulateInProducer(acc, current)) {
      next.push_back(folded);
      continue;
    }
    next.push_back(accumulate(b, acc, current, acc.contribution, index));
  }
  scf::YieldOp::create(b, loc, next);

  // After the loop: the accumulated values, in the collectives' types,
  // each as soon as it is made (the last microbatch straight-line when the
  // step synchronises one, so that its synchronisation starts there).
  SmallVector<Value> results(loop.getResults());
  if (count > 1 && llvm::any_of(accumulators, isSynchronised))
    results = peelLastIteration(builder, loop);
  for (auto [acc, result] : llvm::zip_equal(accumulators, results)) {
    builder.setInsertionPointAfterValue(result);
    acc.collective->getResult(0).replaceAllUsesWith(
        finishAccumulator(builder, acc, result));
  }
  // Erased last: one may be the op the builder inserts before.
  for (Accumulator &acc : accumulators) {
    acc.collective->erase();
    if (acc.rounding && acc.rounding->use_empty())
      acc.rounding->erase();
  }
  microbatch.getDefiningOp()->erase();
}

LogicalResult Sequentializer::run() {
  isolateCoordinate();
  if (!microbatch && pipeline)
    return func.emitError()
           << "autopar-partition: no op of @" << func.getName()
           << " splits its batch into microbatches, which a pipeline's "
              "stages need";
  if (!microbatch) {
    // Nothing reads a microbatch slice (no batch input, or no op could
    // split its batch loop): the function runs its batch at once.
    func.emitWarning() << "autopar-partition: microbatches=" << count
                       << ", but no op of @" << func.getName()
                       << " splits its batch into microbatches; it runs the "
                          "whole batch at once";
    return success();
  }
  reduceOncePerStep();
  if (failed(collectLoopBody()))
    return failure();
  if (inLoop.empty() && !pipeline) {
    microbatch.getDefiningOp()->erase();
    return success();
  }
  if (pipeline)
    return buildStagePrograms();
  buildLoop();
  return success();
}

LogicalResult mlir::autopar::sequentializeMicrobatches(
    func::FuncOp func, FlatSymbolRefAttr meshRef, MeshAttr microMesh,
    const PipelineProgramOptions *pipeline) {
  if (!func.getBody().hasOneBlock())
    return func.emitError() << "autopar-partition: microbatches need a "
                               "function of one block";
  Sequentializer sequentializer(func, meshRef, microMesh);
  sequentializer.pipeline = pipeline;
  return sequentializer.run();
}
