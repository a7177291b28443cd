//===- ShardingSpace.cpp - the ways an op can be split --------------------===//

#include "autopar/Search/ShardingSpace.h"
#include "autopar/Analysis/ArgumentRoles.h"
#include "autopar/Dialect/AutoparOps.h"

#include "mlir/Analysis/SliceAnalysis.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"

#include <set>

using namespace mlir;
using namespace mlir::autopar;

//===----------------------------------------------------------------------===//
// MeshShape
//===----------------------------------------------------------------------===//

SmallVector<unsigned, 2> mlir::autopar::getAxesSplitting(ArrayRef<int> perAxis,
                                                         int split) {
  SmallVector<unsigned, 2> axes;
  for (auto [axis, entry] : llvm::enumerate(perAxis))
    if (entry == split)
      axes.push_back(axis);
  return axes;
}

int64_t MeshShape::getNumDevices() const {
  int64_t devices = 1;
  for (int64_t size : sizes)
    devices *= size;
  return devices;
}

int64_t MeshShape::getGroupSize(unsigned axes) const {
  int64_t size = 1;
  for (unsigned axis = 0; axis < sizes.size(); ++axis)
    if (axes & (1u << axis))
      size *= sizes[axis];
  return size;
}

int64_t MeshShape::getNodesSpanned(unsigned axes) const {
  if (spanCache.size() != (1u << sizes.size()))
    spanCache.assign(1u << sizes.size(), 0);
  int64_t &cached = spanCache[axes];
  if (cached)
    return cached;
  // The group of device 0: every coordinate along `axes`, zero elsewhere.
  SmallVector<int64_t> strides(sizes.size(), 1);
  for (int axis = static_cast<int>(sizes.size()) - 2; axis >= 0; --axis)
    strides[axis] = strides[axis + 1] * sizes[axis + 1];
  llvm::SmallDenseSet<int64_t> nodes;
  SmallVector<int64_t> coords(sizes.size(), 0);
  while (true) {
    int64_t device = 0;
    for (unsigned axis = 0; axis < sizes.size(); ++axis)
      device += coords[axis] * strides[axis];
    nodes.insert(device / std::max<int64_t>(gpusPerNode, 1));
    int axis = static_cast<int>(sizes.size()) - 1;
    for (; axis >= 0; --axis) {
      if (!(axes & (1u << axis)))
        continue;
      if (++coords[axis] < sizes[axis])
        break;
      coords[axis] = 0;
    }
    if (axis < 0)
      break;
  }
  cached = nodes.size();
  return cached;
}

std::string MeshShape::str() const {
  std::string text;
  for (auto [index, size] : llvm::enumerate(sizes))
    text += (index ? "," : "") +
            (index < names.size() ? names[index] : "d" + std::to_string(index)) +
            "=" + std::to_string(size);
  return text;
}

//===----------------------------------------------------------------------===//
// Building spaces
//===----------------------------------------------------------------------===//

static std::optional<Binding> makeBinding(Value value, unsigned number) {
  auto type = dyn_cast<RankedTensorType>(value.getType());
  if (!type)
    return std::nullopt;
  Binding binding;
  binding.value = value;
  binding.number = number;
  binding.shape.assign(type.getShape().begin(), type.getShape().end());
  binding.dimLoop.assign(type.getRank(), -1);
  double elements = 1;
  for (int64_t dim : type.getShape())
    elements *= ShapedType::isDynamic(dim) ? 1 : static_cast<double>(dim);
  Type element = type.getElementType();
  double elementBytes =
      element.isIntOrIndexOrFloat()
          ? std::max(1u, element.isIndex() ? 8u
                                           : (element.getIntOrFloatBitWidth() +
                                              7) / 8)
          : 4;
  binding.bytes = elements * elementBytes;
  return binding;
}

/// A space whose loops are the dimensions of `op`'s first result, every
/// result bound one to one.
static OpSpace resultDimSpace(Operation *op) {
  OpSpace space;
  space.op = op;
  auto type = cast<RankedTensorType>(op->getResult(0).getType());
  space.loopSizes.assign(type.getShape().begin(), type.getShape().end());
  space.reduction.assign(type.getRank(), false);
  space.splittable.assign(type.getRank(), true);
  for (auto [index, size] : llvm::enumerate(space.loopSizes))
    if (ShapedType::isDynamic(size))
      space.splittable[index] = false;
  for (OpResult result : op->getResults())
    if (std::optional<Binding> binding =
            makeBinding(result, result.getResultNumber())) {
      if (binding->shape == space.loopSizes)
        for (unsigned dim = 0; dim < binding->shape.size(); ++dim)
          binding->dimLoop[dim] = dim;
      space.results.push_back(*binding);
    }
  return space;
}

/// Binds `operand`'s dimensions to the result-dimension loops where the
/// sizes agree dimension by dimension, and marks the other loops
/// unsplittable.
static void bindSameShape(OpSpace &space, OpOperand &operand,
                          ArrayRef<bool> boundDims = {}) {
  std::optional<Binding> binding =
      makeBinding(operand.get(), operand.getOperandNumber());
  if (!binding)
    return;
  for (unsigned dim = 0; dim < binding->shape.size(); ++dim) {
    bool allowed = boundDims.empty() || boundDims[dim];
    if (dim < space.loopSizes.size() && allowed &&
        binding->shape[dim] == space.loopSizes[dim] &&
        binding->shape.size() == space.loopSizes.size())
      binding->dimLoop[dim] = dim;
    else if (dim < space.splittable.size())
      space.splittable[dim] = false;
  }
  space.operands.push_back(*binding);
}

static OpSpace linalgSpace(linalg::LinalgOp op) {
  OpSpace space;
  space.op = op;
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
  space.loopSizes = ranges;
  for (auto [range, iterator] : llvm::zip_equal(ranges, iterators)) {
    space.reduction.push_back(iterator == utils::IteratorType::reduction);
    space.splittable.push_back(!ShapedType::isDynamic(range));
  }
  // A loop is splittable when every use of it in an indexing map is a bare
  // dimension: a convolution's output rows (d2 * stride + d5) are not.
  for (AffineMap map : op.getIndexingMapsArray())
    for (AffineExpr expr : map.getResults()) {
      if (isa<AffineDimExpr>(expr))
        continue;
      for (unsigned loop = 0; loop < ranges.size(); ++loop)
        if (expr.isFunctionOfDim(loop))
          space.splittable[loop] = false;
    }
  auto bind = [&](OpOperand *operand) -> std::optional<Binding> {
    std::optional<Binding> binding =
        makeBinding(operand->get(), operand->getOperandNumber());
    if (!binding)
      return std::nullopt;
    AffineMap map = op.getMatchingIndexingMap(operand);
    for (auto [dim, expr] : llvm::enumerate(map.getResults()))
      if (auto dimExpr = dyn_cast<AffineDimExpr>(expr))
        binding->dimLoop[dim] = dimExpr.getPosition();
    return binding;
  };
  for (OpOperand *input : op.getDpsInputOperands())
    if (std::optional<Binding> binding = bind(input))
      space.operands.push_back(*binding);
  for (OpOperand &init : op.getDpsInitsMutable())
    if (std::optional<Binding> binding = bind(&init)) {
      space.operands.push_back(*binding);
      Binding result = *binding;
      Value value = op->getResult(init.getOperandNumber() - op.getNumDpsInputs());
      result.value = value;
      result.number = cast<OpResult>(value).getResultNumber();
      space.results.push_back(result);
    }
  return space;
}

/// An attention's loops: its batch dimensions (batch and heads where
/// autopar-fuse-attention kept them apart), query row i, key row j, depth
/// d, value column e. Only the batch and i split (rows are independent); j
/// is the softmax's and the context's reduction, d the scores', and e
/// stays whole. Its gradient has the same loops; split by query rows, the
/// key and value gradients (which sum over them) are partial. The mask's
/// inputs are read whole.
static OpSpace attentionSpace(AttentionOpInterface op) {
  OpSpace space;
  space.op = op;
  unsigned n = op.getBatchRank();
  SmallVector<int64_t, 5> loops = op.getLoopSizes();
  space.loopSizes.assign(op.getBatchShape().begin(), op.getBatchShape().end());
  space.loopSizes.append(loops.begin() + 1, loops.end());
  bool isGrad = isa<AttentionGradOp>(op);
  for (unsigned loop = 0; loop < n; ++loop) {
    space.reduction.push_back(false);
    space.splittable.push_back(!ShapedType::isDynamic(space.loopSizes[loop]));
  }
  space.reduction.append({isGrad, true, true, false});
  space.splittable.append(
      {!ShapedType::isDynamic(loops[1]), false, false, false});
  auto bind = [&](Value v, unsigned number, ArrayRef<int> dims) {
    std::optional<Binding> binding = makeBinding(v, number);
    if (binding)
      for (auto [dim, loop] : llvm::enumerate(dims))
        binding->dimLoop[dim] = loop;
    return binding;
  };
  const int i = n, j = n + 1, d = n + 2, e = n + 3;
  // The batch loops, then the given ones.
  auto over = [&](std::initializer_list<int> inner) {
    SmallVector<int> dims = llvm::to_vector(llvm::seq<int>(0, n));
    dims.append(inner);
    return dims;
  };
  SmallVector<SmallVector<int>> operands = {over({i, d}), over({d, j}),
                                            over({j, e})};
  SmallVector<SmallVector<int>> results;
  if (isGrad) {
    // output, lse, their adjoints; the outs like query, key and value.
    operands.append({over({i, e}), over({i}), over({i, e}), over({i})});
    operands.append({over({i, d}), over({d, j}), over({j, e})});
    results = {over({i, d}), over({d, j}), over({j, e})};
  } else {
    operands.append({over({i, e}), over({i})});
    results = {over({i, e}), over({i})};
  }
  for (auto [number, dims] : llvm::enumerate(operands))
    if (auto binding = bind(op->getOperand(number), number, dims))
      space.operands.push_back(*binding);
  // The mask's inputs follow no loop: whole on every device.
  for (OpOperand &input : op.getMaskInputsMutable())
    if (auto binding = makeBinding(input.get(), input.getOperandNumber()))
      space.operands.push_back(*binding);
  for (auto [number, dims] : llvm::enumerate(results))
    if (auto binding = bind(op->getResult(number), number, dims))
      space.results.push_back(*binding);
  return space;
}

/// A scatter-add's loops are the dimensions of its updates: the positions
/// (reductions: positions naming the same row add up, so a split gives
/// partial sums) and the row's dimensions (parallel, shared with the
/// destination's trailing dimensions). The destination's rows follow no
/// loop: which rows a device writes depends on the data.
static OpSpace scatterAddSpace(ScatterAddOp op) {
  OpSpace space;
  space.op = op;
  auto updates = op.getUpdates().getType();
  unsigned positions = op.getIndices().getType().getRank();
  space.loopSizes.assign(updates.getShape().begin(), updates.getShape().end());
  for (auto [loop, size] : llvm::enumerate(space.loopSizes)) {
    space.reduction.push_back(loop < positions);
    space.splittable.push_back(!ShapedType::isDynamic(size));
  }
  auto bind = [&](Value value, unsigned number,
                  function_ref<int(unsigned)> loopOf) {
    std::optional<Binding> binding = makeBinding(value, number);
    if (!binding)
      return binding;
    for (unsigned dim = 0; dim < binding->dimLoop.size(); ++dim)
      binding->dimLoop[dim] = loopOf(dim);
    return binding;
  };
  auto identity = [](unsigned dim) { return static_cast<int>(dim); };
  auto row = [&](unsigned dim) {
    return dim == 0 ? -1 : static_cast<int>(positions + dim - 1);
  };
  if (auto binding = bind(op.getUpdates(), 0, identity))
    space.operands.push_back(*binding);
  if (auto binding = bind(op.getIndices(), 1, identity))
    space.operands.push_back(*binding);
  if (auto binding = bind(op.getDest(), 2, row)) {
    space.operands.push_back(*binding);
    Binding result = *binding;
    result.value = op.getResult();
    result.number = 0;
    space.results.push_back(result);
  }
  return space;
}

std::optional<OpSpace> mlir::autopar::buildOpSpace(Operation *op) {
  if (op->hasTrait<OpTrait::IsTerminator>() ||
      isa<arith::ConstantOp, tensor::EmptyOp>(op))
    return std::nullopt;
  bool anyTensorResult = llvm::any_of(op->getResultTypes(), [](Type type) {
    return isa<RankedTensorType>(type);
  });
  if (!anyTensorResult)
    return std::nullopt;

  if (auto linalgOp = dyn_cast<linalg::LinalgOp>(op))
    return linalgSpace(linalgOp);
  if (auto scatter = dyn_cast<ScatterAddOp>(op))
    return scatterAddSpace(scatter);
  if (auto attention = dyn_cast<AttentionOpInterface>(op))
    return attentionSpace(attention);

  if (!isa<RankedTensorType>(op->getResult(0).getType()))
    return std::nullopt;
  OpSpace space = resultDimSpace(op);

  if (auto shard = dyn_cast<ShardOp>(op)) {
    bindSameShape(space, shard->getOpOperand(0));
    return space; // The pin is resolved against a mesh by the planner.
  }
  // A reshape splits a merged group only through its outermost dimension
  // that is not a unit: a block of the group's rows is then a block of that
  // dimension with every inner dimension whole.
  auto leadingNonUnit = [](ArrayRef<int64_t> shape,
                           ArrayRef<int64_t> dims) -> int64_t {
    for (int64_t dim : dims)
      if (shape[dim] != 1)
        return dim;
    return dims.front();
  };
  if (auto collapse = dyn_cast<tensor::CollapseShapeOp>(op)) {
    // A result dimension follows its group's leading non-unit source
    // dimension.
    std::optional<Binding> source = makeBinding(collapse.getSrc(), 0);
    ArrayRef<int64_t> shape = collapse.getSrcType().getShape();
    for (auto [group, dims] :
         llvm::enumerate(collapse.getReassociationIndices()))
      source->dimLoop[leadingNonUnit(shape, dims)] = group;
    space.operands.push_back(*source);
    return space;
  }
  if (auto expand = dyn_cast<tensor::ExpandShapeOp>(op)) {
    // A source dimension follows its group's leading non-unit result
    // dimension; the group's inner dimensions cannot be split (a block of
    // them is strided in the source).
    std::optional<Binding> source = makeBinding(expand.getSrc(), 0);
    ArrayRef<int64_t> shape = expand.getResultType().getShape();
    for (auto [group, dims] :
         llvm::enumerate(expand.getReassociationIndices())) {
      int64_t lead = leadingNonUnit(shape, dims);
      source->dimLoop[group] = lead;
      for (int64_t dim : dims)
        if (dim != lead)
          space.splittable[dim] = false;
    }
    space.operands.push_back(*source);
    return space;
  }
  if (auto softmax = dyn_cast<linalg::SoftmaxOp>(op)) {
    // Rows are independent; the normalised dimension stays whole.
    bindSameShape(space, softmax.getInputMutable());
    bindSameShape(space, softmax.getOutputMutable());
    space.splittable[softmax.getDimension()] = false;
    return space;
  }
  if (auto pad = dyn_cast<tensor::PadOp>(op)) {
    SmallVector<bool> unpadded;
    for (auto [low, high] :
         llvm::zip_equal(pad.getStaticLow(), pad.getStaticHigh()))
      unpadded.push_back(low == 0 && high == 0);
    bindSameShape(space, pad.getSourceMutable(), unpadded);
    return space;
  }
  if (isa<tensor::ExtractSliceOp, tensor::InsertSliceOp, tensor::ConcatOp,
          tensor::CastOp>(op) ||
      (op->hasTrait<OpTrait::Elementwise>() && op->getNumRegions() == 0)) {
    for (OpOperand &operand : op->getOpOperands())
      bindSameShape(space, operand);
    return space;
  }
  // No rule: the op runs replicated.
  space.understood = false;
  space.splittable.assign(space.getNumLoops(), false);
  for (Binding &result : space.results)
    result.dimLoop.assign(result.dimLoop.size(), -1);
  for (OpOperand &operand : op->getOpOperands())
    if (std::optional<Binding> binding =
            makeBinding(operand.get(), operand.getOperandNumber()))
      space.operands.push_back(*binding);
  return space;
}

//===----------------------------------------------------------------------===//
// Strategies and shardings
//===----------------------------------------------------------------------===//

/// Whether every dimension that follows a split loop divides evenly.
static bool dividesEvenly(const OpSpace &space, const Strategy &strategy,
                          const MeshShape &mesh) {
  SmallVector<int64_t> factor(space.getNumLoops(), 1);
  for (auto [axis, loop] : llvm::enumerate(strategy))
    if (loop >= 0)
      factor[loop] *= mesh.sizes[axis];
  for (unsigned loop = 0; loop < space.getNumLoops(); ++loop)
    if (factor[loop] > 1 && (ShapedType::isDynamic(space.loopSizes[loop]) ||
                             space.loopSizes[loop] % factor[loop] != 0))
      return false;
  auto check = [&](const Binding &binding) {
    // A tensor with no elements stays whole: a slice of it along any
    // dimension would start out of bounds in the empty one.
    bool empty = llvm::is_contained(binding.shape, 0);
    for (auto [dim, loop] : llvm::enumerate(binding.dimLoop))
      if (loop >= 0 && factor[loop] > 1 &&
          (empty || ShapedType::isDynamic(binding.shape[dim]) ||
           binding.shape[dim] % factor[loop] != 0))
        return false;
    return true;
  };
  return llvm::all_of(space.operands, check) &&
         llvm::all_of(space.results, check);
}

SmallVector<Strategy> mlir::autopar::enumerateStrategies(const OpSpace &space,
                                                         const MeshShape &mesh) {
  SmallVector<Strategy> strategies;
  if (space.pinned) {
    // A pin that does not divide its value has no strategy; the planner
    // reports it.
    if (dividesEvenly(space, *space.pinned, mesh))
      strategies.push_back(*space.pinned);
    return strategies;
  }
  SmallVector<int> choices = {-1};
  for (unsigned loop = 0; loop < space.getNumLoops(); ++loop)
    if (space.splittable[loop])
      choices.push_back(loop);
  Strategy strategy(mesh.getRank(), -1);
  std::function<void(unsigned)> recurse = [&](unsigned axis) {
    if (axis == mesh.getRank()) {
      if (dividesEvenly(space, strategy, mesh))
        strategies.push_back(strategy);
      return;
    }
    for (int loop : choices) {
      if (loop >= 0 && mesh.sizes[axis] == 1)
        continue;
      strategy[axis] = loop;
      recurse(axis + 1);
    }
    strategy[axis] = -1;
  };
  recurse(0);
  return strategies;
}

std::optional<Strategy> mlir::autopar::splitBatchLoopPerMicrobatch(
    const OpSpace &space, const Strategy &strategy, int loop,
    const MeshShape &mesh, int64_t microbatches,
    std::optional<unsigned> microbatchAxis,
    llvm::function_ref<bool(unsigned)> splitsBatch) {
  if (loop < 0 || !space.splittable[loop])
    return std::nullopt;
  Strategy split = strategy;
  int64_t parts = microbatches;
  for (unsigned axis = 0; axis < mesh.getRank(); ++axis) {
    if (axis == microbatchAxis)
      continue;
    if (splitsBatch(axis)) {
      split[axis] = loop;
      parts *= mesh.sizes[axis];
    } else if (split[axis] == loop) {
      split[axis] = -1;
    }
  }
  if (space.loopSizes[loop] % parts != 0)
    return std::nullopt;
  if (microbatchAxis)
    split[*microbatchAxis] = loop;
  return split;
}

TensorSharding mlir::autopar::getSharding(const OpSpace &space,
                                          const Binding &binding,
                                          const Strategy &strategy,
                                          bool isResult) {
  TensorSharding sharding;
  for (int loop : strategy) {
    int state = TensorSharding::kReplicated;
    if (loop >= 0) {
      for (auto [dim, bound] : llvm::enumerate(binding.dimLoop))
        if (bound == loop)
          state = dim;
      if (state == TensorSharding::kReplicated && isResult &&
          space.reduction[loop])
        state = TensorSharding::kPartial;
    }
    sharding.axisDim.push_back(state);
  }
  return sharding;
}

int64_t mlir::autopar::getShardCount(const TensorSharding &sharding,
                                     const MeshShape &mesh) {
  int64_t count = 1;
  for (auto [axis, dim] : llvm::enumerate(sharding.axisDim))
    if (dim >= 0)
      count *= mesh.sizes[axis];
  return count;
}

ShardingAttr mlir::autopar::toShardingAttr(const TensorSharding &sharding,
                                           const MeshShape &mesh,
                                           FlatSymbolRefAttr meshRef,
                                           unsigned rank) {
  Builder builder(meshRef.getContext());
  SmallVector<SmallVector<Attribute>> dims(rank);
  SmallVector<Attribute> partial;
  for (auto [axis, dim] : llvm::enumerate(sharding.axisDim)) {
    StringAttr name = builder.getStringAttr(mesh.names[axis]);
    if (dim >= 0)
      dims[dim].push_back(name);
    else if (dim == TensorSharding::kPartial)
      partial.push_back(name);
  }
  SmallVector<ArrayAttr> dimAttrs;
  for (auto &axes : dims)
    dimAttrs.push_back(builder.getArrayAttr(axes));
  return ShardingAttr::get(meshRef.getContext(), meshRef, dimAttrs,
                           builder.getArrayAttr(partial), ReductionKind::Sum);
}

StrategyAttr mlir::autopar::toStrategyAttr(const OpSpace &space,
                                           const Strategy &strategy,
                                           const MeshShape &mesh,
                                           FlatSymbolRefAttr meshRef) {
  Builder builder(meshRef.getContext());
  SmallVector<SmallVector<Attribute>> loops(space.getNumLoops());
  for (auto [axis, loop] : llvm::enumerate(strategy))
    if (loop >= 0)
      loops[loop].push_back(builder.getStringAttr(mesh.names[axis]));
  SmallVector<ArrayAttr> loopAttrs;
  for (auto &axes : loops)
    loopAttrs.push_back(builder.getArrayAttr(axes));
  return StrategyAttr::get(meshRef.getContext(), meshRef, loopAttrs);
}

SmallVector<TensorSharding> mlir::autopar::getResultShardings(
    const OpSpace &space, const Strategy &strategy, const MeshShape &mesh) {
  SmallVector<TensorSharding> shardings;
  for (OpResult result : space.op->getResults()) {
    TensorSharding sharding;
    sharding.axisDim.assign(mesh.getRank(), TensorSharding::kReplicated);
    for (const Binding &binding : space.results)
      if (binding.value == result)
        sharding = getSharding(space, binding, strategy, true);
    shardings.push_back(sharding);
  }
  return shardings;
}

SmallVector<TensorSharding>
mlir::autopar::annotateStrategy(const OpSpace &space, const Strategy &strategy,
                                const MeshShape &mesh,
                                FlatSymbolRefAttr meshRef) {
  Operation *op = space.op;
  Builder builder(op->getContext());
  op->setAttr(AutoparDialect::kStrategyAttrName,
              toStrategyAttr(space, strategy, mesh, meshRef));
  SmallVector<TensorSharding> shardings =
      getResultShardings(space, strategy, mesh);
  SmallVector<Attribute> attrs;
  for (auto [result, sharding] : llvm::zip_equal(op->getResults(), shardings)) {
    unsigned rank = 0;
    if (auto type = dyn_cast<RankedTensorType>(result.getType()))
      rank = type.getRank();
    attrs.push_back(toShardingAttr(sharding, mesh, meshRef, rank));
  }
  op->setAttr(AutoparDialect::kShardingsAttrName, builder.getArrayAttr(attrs));
  return shardings;
}

std::string mlir::autopar::describeStrategy(const OpSpace &space,
                                            const Strategy &strategy,
                                            const MeshShape &mesh) {
  std::string text;
  for (unsigned loop = 0; loop < space.getNumLoops(); ++loop) {
    std::string axes;
    for (auto [axis, assigned] : llvm::enumerate(strategy))
      if (assigned == static_cast<int>(loop))
        axes += (axes.empty() ? "" : ",") + mesh.names[axis];
    if (axes.empty())
      continue;
    text += (text.empty() ? "" : " ") + std::string("d") +
            std::to_string(loop) + (space.reduction[loop] ? "(red)" : "") +
            ":" + axes;
  }
  return text.empty() ? "replicated" : text;
}

std::optional<MeshRefinement>
mlir::autopar::refineMeshes(ArrayRef<MeshShape> meshes) {
  if (meshes.empty())
    return std::nullopt;
  int64_t devices = meshes.front().getNumDevices();
  // Every prefix product of every mesh; they must form a chain.
  std::set<int64_t> cuts = {1};
  for (const MeshShape &mesh : meshes) {
    if (mesh.getNumDevices() != devices)
      return std::nullopt;
    int64_t prefix = 1;
    for (int64_t size : mesh.sizes)
      cuts.insert(prefix *= size);
  }
  MeshRefinement refined;
  refined.mesh.gpusPerNode = meshes.front().gpusPerNode;
  SmallVector<int64_t> ends; // the prefix product at each refined axis' end
  for (auto it = std::next(cuts.begin()); it != cuts.end(); ++it) {
    int64_t before = *std::prev(it);
    if (*it % before != 0)
      return std::nullopt;
    refined.mesh.names.push_back("m" + std::to_string(ends.size()));
    refined.mesh.sizes.push_back(*it / before);
    ends.push_back(*it);
  }
  for (const MeshShape &mesh : meshes) {
    SmallVector<unsigned, 4> &axisOf = refined.axisOf.emplace_back();
    unsigned axis = 0;
    int64_t prefix = 1;
    for (int64_t end : ends) {
      // The first axis of `mesh` whose prefix product reaches `end`.
      while (axis < mesh.sizes.size() && prefix * mesh.sizes[axis] < end)
        prefix *= mesh.sizes[axis++];
      axisOf.push_back(axis);
    }
  }
  return refined;
}

Strategy mlir::autopar::refineStrategy(const Strategy &strategy,
                                       ArrayRef<unsigned> axisOf) {
  Strategy refined;
  for (unsigned axis : axisOf)
    refined.push_back(strategy[axis]);
  return refined;
}

MeshShape mlir::autopar::getMeshShape(MeshAttr mesh) {
  MeshShape shape;
  shape.sizes.assign(mesh.getAxisSizes().begin(), mesh.getAxisSizes().end());
  for (StringAttr name : mesh.getAxisNames())
    shape.names.push_back(name.str());
  return shape;
}

FailureOr<TensorSharding> mlir::autopar::fromShardingAttr(ShardingAttr sharding,
                                                          MeshAttr mesh) {
  TensorSharding result;
  result.axisDim.assign(mesh.getRank(), TensorSharding::kReplicated);
  for (auto [dim, axes] : llvm::enumerate(sharding.getDimAxes())) {
    int previous = -1;
    for (Attribute axis : axes) {
      std::optional<unsigned> index =
          mesh.getAxisIndex(cast<StringAttr>(axis).getValue());
      if (!index || static_cast<int>(*index) <= previous)
        return failure();
      previous = *index;
      result.axisDim[*index] = dim;
    }
  }
  for (Attribute axis : sharding.getPartialAxes()) {
    std::optional<unsigned> index =
        mesh.getAxisIndex(cast<StringAttr>(axis).getValue());
    if (!index)
      return failure();
    result.axisDim[*index] = TensorSharding::kPartial;
  }
  return result;
}

FailureOr<Strategy> mlir::autopar::fromStrategyAttr(StrategyAttr strategy,
                                                    MeshAttr mesh) {
  Strategy result(mesh.getRank(), -1);
  for (auto [loop, axes] : llvm::enumerate(strategy.getLoopAxes()))
    for (Attribute axis : axes) {
      std::optional<unsigned> index =
          mesh.getAxisIndex(cast<StringAttr>(axis).getValue());
      if (!index)
        return failure();
      result[*index] = loop;
    }
  return result;
}

FailureOr<Strategy> mlir::autopar::getAnnotatedStrategy(
    Operation *op, const OpSpace &space, MeshAttr mesh,
    FlatSymbolRefAttr meshRef, StringRef pass) {
  auto attr = op->getAttrOfType<StrategyAttr>(AutoparDialect::kStrategyAttrName);
  if (!attr)
    return Strategy(mesh.getRank(), -1);
  if (attr.getMesh() != meshRef)
    return op->emitError() << pass << ": the strategy is on mesh "
                           << attr.getMesh() << ", the function on "
                           << meshRef;
  FailureOr<Strategy> strategy = fromStrategyAttr(attr, mesh);
  if (failed(strategy) || attr.getLoopAxes().size() != space.getNumLoops())
    return op->emitError() << pass << ": the strategy " << attr
                           << " does not fit the op's "
                           << space.getNumLoops() << " loops";
  for (int loop : *strategy)
    if (loop >= 0 && !space.splittable[loop])
      return op->emitError() << pass << ": loop " << loop
                             << " of this op cannot be split (strategy "
                             << attr << ")";
  return strategy;
}

static std::optional<ReductionKind> combinerKind(Operation *combiner) {
  if (isa<arith::AddFOp, arith::AddIOp>(combiner))
    return ReductionKind::Sum;
  if (isa<arith::MulFOp, arith::MulIOp>(combiner))
    return ReductionKind::Product;
  if (isa<arith::MaximumFOp, arith::MaxNumFOp, arith::MaxSIOp,
          arith::MaxUIOp>(combiner))
    return ReductionKind::Max;
  if (isa<arith::MinimumFOp, arith::MinNumFOp, arith::MinSIOp,
          arith::MinUIOp>(combiner))
    return ReductionKind::Min;
  return std::nullopt;
}

bool mlir::autopar::isRoundingCast(Operation *op) {
  auto generic = dyn_cast<linalg::GenericOp>(op);
  if (!generic || generic.getNumDpsInputs() != 1 ||
      generic.getNumDpsInits() != 1 || !generic.hasPureTensorSemantics() ||
      generic.getNumParallelLoops() != generic.getNumLoops() ||
      !llvm::all_of(generic.getIndexingMapsArray(),
                    [](AffineMap map) { return map.isIdentity(); }))
    return false;
  Block &body = generic.getRegion().front();
  if (!llvm::hasSingleElement(body.without_terminator()))
    return false;
  auto trunc = dyn_cast<arith::TruncFOp>(body.front());
  return trunc && trunc.getIn() == body.getArgument(0) &&
         body.getTerminator()->getOperand(0) == trunc.getResult();
}

std::optional<ReductionKind> mlir::autopar::getReductionKind(Operation *op,
                                                             unsigned result) {
  // A scatter-add's rows and an attention gradient's key and value
  // gradients (over query rows) are sums.
  if (isa<ScatterAddOp, AttentionGradOp>(op))
    return ReductionKind::Sum;
  auto linalgOp = dyn_cast<linalg::LinalgOp>(op);
  if (!linalgOp)
    return std::nullopt;
  SmallVector<Operation *, 4> combiners;
  if (!matchReduction(linalgOp.getRegionOutputArgs(), result, combiners) ||
      combiners.size() != 1)
    return std::nullopt;
  return combinerKind(combiners.front());
}

FailureOr<FlatSymbolRefAttr>
mlir::autopar::getAnnotatedMesh(FunctionOpInterface func, StringRef pass) {
  FlatSymbolRefAttr mesh;
  Operation *first = nullptr;
  auto consider = [&](FlatSymbolRefAttr ref, Operation *at) -> LogicalResult {
    if (!mesh) {
      mesh = ref;
      first = at;
      return success();
    }
    if (mesh == ref)
      return success();
    InFlightDiagnostic diag = at->emitError()
                              << pass << ": this sharding is on "
                              << ref << " but the function also uses "
                              << mesh << "; one mesh per function";
    diag.attachNote(first->getLoc()) << "the other mesh is used here";
    return diag;
  };
  for (unsigned i = 0; i < func.getNumArguments(); ++i)
    if (auto attr = func.getArgAttrOfType<ShardingAttr>(
            i, AutoparDialect::kShardingAttrName))
      if (failed(consider(attr.getMesh(), func)))
        return failure();
  WalkResult walk = func->walk([&](Operation *op) {
    if (auto attr =
            op->getAttrOfType<StrategyAttr>(AutoparDialect::kStrategyAttrName))
      if (failed(consider(attr.getMesh(), op)))
        return WalkResult::interrupt();
    if (auto shard = dyn_cast<ShardOp>(op))
      if (failed(consider(shard.getSharding().getMesh(), op)))
        return WalkResult::interrupt();
    return WalkResult::advance();
  });
  if (walk.wasInterrupted())
    return failure();
  return mesh;
}

/// The loops of `space` that the batch of its operands follows, the first
/// such operand's first; `batchDims` holds the batch dimension of each value
/// known to carry it. More than one loop means the op pairs samples with
/// one another (the scores of an attention whose sequence is the samples).
static SmallVector<int, 2>
findBatchLoops(const OpSpace &space,
               const DenseMap<Value, int64_t> &batchDims) {
  SmallVector<int, 2> loops;
  for (const Binding &binding : space.operands) {
    auto found = batchDims.find(binding.value);
    if (found == batchDims.end() ||
        found->second >= static_cast<int64_t>(binding.dimLoop.size()))
      continue;
    if (int loop = binding.dimLoop[found->second];
        loop >= 0 && !llvm::is_contained(loops, loop))
      loops.push_back(loop);
  }
  return loops;
}

/// The loop of `space` that the batch of its first batch operand follows,
/// or -1.
static int findBatchLoop(const OpSpace &space,
                         const DenseMap<Value, int64_t> &batchDims) {
  SmallVector<int, 2> loops = findBatchLoops(space, batchDims);
  return loops.empty() ? -1 : loops.front();
}

/// Records the batch dimension of each result of `space` that follows
/// `loop` (a parallel batch loop).
static void recordBatch(const OpSpace &space, int loop,
                        DenseMap<Value, int64_t> &batchDims) {
  for (const Binding &binding : space.results)
    for (auto [dim, resultLoop] : llvm::enumerate(binding.dimLoop))
      if (resultLoop == loop) {
        batchDims[binding.value] = dim;
        break;
      }
}

/// The batch arguments' batch dimensions: where the batch starts.
static DenseMap<Value, int64_t>
getArgumentBatchDims(const ArgumentRoles &roles) {
  DenseMap<Value, int64_t> batchDims;
  for (BlockArgument arg : roles.getBatchArguments())
    batchDims[arg] = roles.getBatchDim(arg);
  return batchDims;
}

SmallVector<int> mlir::autopar::getBatchLoops(const ArgumentRoles &roles,
                                              ArrayRef<OpSpace> spaces) {
  SmallVector<int> loops;
  DenseMap<Value, int64_t> batchDims = getArgumentBatchDims(roles);
  for (const OpSpace &space : spaces) {
    int loop = findBatchLoop(space, batchDims);
    loops.push_back(loop);
    if (loop >= 0 && !space.reduction[loop])
      recordBatch(space, loop, batchDims);
  }
  return loops;
}

WholeBatchUse mlir::autopar::findWholeBatchUse(FunctionOpInterface func) {
  if (func.getFunctionBody().empty())
    return {};
  ArgumentRoles roles(func);
  // Values that carry the batch, with its dimension; values computed from
  // a reduction over it.
  DenseMap<Value, int64_t> batchDims = getArgumentBatchDims(roles);
  DenseSet<Value> statistics;
  for (Operation &op : func.getFunctionBody().front()) {
    bool readsStatistic = llvm::any_of(op.getOperands(), [&](Value operand) {
      return statistics.contains(operand);
    });
    std::optional<OpSpace> space = buildOpSpace(&op);
    SmallVector<int, 2> batchLoops;
    if (space)
      batchLoops = findBatchLoops(*space, batchDims);
    if (batchLoops.empty()) {
      if (readsStatistic)
        statistics.insert(op.result_begin(), op.result_end());
      continue;
    }
    if (batchLoops.size() > 1)
      return {&op, WholeBatchUse::Kind::PairedSamples};
    int batchLoop = batchLoops.front();
    if (space->reduction[batchLoop]) {
      statistics.insert(op.result_begin(), op.result_end());
      continue;
    }
    if (readsStatistic)
      return {&op, WholeBatchUse::Kind::Statistic};
    recordBatch(*space, batchLoop, batchDims);
  }
  return {};
}
