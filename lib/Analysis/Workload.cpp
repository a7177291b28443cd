//===- Workload.cpp - per-op workload of a model --------------------------===//
//
// Linalg ops are analysed from their structure alone:
//   iterations = product of the static loop ranges;
//   flops      = iterations x floating-point ops in the scalar body;
//   macs       = iterations when the body accumulates a product into the
//                output (matmul, convolution, ...);
//   bytes      = every input read once (the init too when the body reads it),
//                every result written once; tensors read with tensor.extract
//                inside the body (gathers) cost one element per iteration.
// The backward pass is derived from the same body: the gradient with respect
// to each differentiable input costs iterations x body flops, and an input
// must be kept for the backward when the body uses it non-linearly (a product
// of two variables, a division by a variable, max/min/compare, exp, ...).
//
//===----------------------------------------------------------------------===//

#include "autopar/Analysis/Workload.h"
#include "autopar/Analysis/Fusion.h"
#include "autopar/Analysis/Reductions.h"
#include "autopar/Dialect/AutoparOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/Interfaces/CastInterfaces.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/SmallBitVector.h"

using namespace mlir;
using namespace mlir::autopar;

//===----------------------------------------------------------------------===//
// Sizes
//===----------------------------------------------------------------------===//

/// Bytes of one element of `type` (at least 1; index counts as 8).
static double elementBytes(Type type) {
  if (type.isIndex())
    return 8;
  if (auto complex = dyn_cast<ComplexType>(type))
    return 2 * elementBytes(complex.getElementType());
  unsigned bits = type.getIntOrFloatBitWidth();
  return std::max(1u, (bits + 7) / 8);
}

/// Elements of a ranked tensor or memref (dynamic dimensions count as 1), or
/// 1 for a scalar.
static double numElements(Type type) {
  auto shaped = dyn_cast<ShapedType>(type);
  if (!shaped)
    return 1;
  if (!shaped.hasRank())
    return 1;
  double count = 1;
  for (int64_t dim : shaped.getShape())
    count *= ShapedType::isDynamic(dim) ? 1 : static_cast<double>(dim);
  return count;
}

static Type elementTypeOf(Type type) {
  if (auto shaped = dyn_cast<ShapedType>(type))
    return shaped.getElementType();
  return type;
}

static double sizeInBytes(Type type) {
  Type element = elementTypeOf(type);
  if (!element.isIntOrIndexOrFloat() && !isa<ComplexType>(element))
    return 0;
  return numElements(type) * elementBytes(element);
}

double mlir::autopar::getElementCount(Type type) { return numElements(type); }

double mlir::autopar::getSizeInBytes(Type type) { return sizeInBytes(type); }

namespace {
/// The score-sized traffic (bytes per score, B x I x J) and kernels of an
/// attention's decomposition as the CUDA lowering builds it: products (a
/// cuBLAS call each) computed in the accumulator type and written in the
/// stored type (a 16-bit attention's rounding folds into the call), but the
/// scores, kept in the accumulator type (buildAttentionScores); the
/// softmax's maximum, sum, division and lse one row kernel when its blocks'
/// rows are enough for one (Analysis/Fusion.h: formsRowKernel), reading the
/// scores from memory once, else kernels of their own (the maximum and the
/// sum split in two each) that read them three times.
///
/// Forward: S = Q K^T written, read by the row kernel (which scales and
/// masks it), which writes P; P read by the context product.
/// Backward: S recomputed, written and read by the kernel that makes P
/// (scale, mask, exponential); dV = P^T dO reads P; dP = dO V^T written;
/// the row term sum(dP * P) and dS = P (dP - row) read dP and P and write
/// dS (one row kernel, or two kernels reading both twice); dQ's and dK's
/// products read dS.
struct AttentionPasses {
  double fwdReadPerScore = 0, fwdWrittenPerScore = 0, fwdKernels = 0;
  double bwdPerScore = 0, bwdKernels = 0;
};

/// An attention's backward (autopar.attention_grad's decomposition): the
/// scores and probabilities recomputed from the saved query, keys and row
/// log-sum-exp, then dV, dP, dS, dQ and dK': 3D + 2E multiply-accumulates
/// and about 8 FLOPs per score (B x I x J), its score-sized traffic and
/// kernels as AttentionPasses counts them; query, keys and values read
/// twice and their gradients written, the output and its gradient read;
/// four score-sized buffers live at once.
struct AttentionBackward {
  double macs = 0, flops = 0, bytes = 0, inputBytes = 0, internalBytes = 0,
         internalBytesLimit = 0, kernels = 0;
};
} // namespace

/// The most bytes one score-sized buffer of an attention takes when
/// lowered, on any device: a block of whole batches, or of one batch's
/// query rows, within kAttentionBlockBytes, at least one row's (`rowBytes`,
/// J).
static double getAttentionBlockBytes(double rowBytes) {
  return std::max<double>(kAttentionBlockBytes, rowBytes);
}

/// The bytes `buffers` score-sized buffers of `op` hold at once (each in
/// the accumulator type, as the largest of them, the products, are: f32 for
/// a 16-bit attention), and what lowering's blocks bound them to per device
/// (OpWorkload::internalBytes and internalBytesLimit).
static std::pair<double, double> getAttentionHeldBytes(AttentionOpInterface op,
                                                       double buffers) {
  SmallVector<int64_t, 5> loops = op.getLoopSizes();
  double rows = static_cast<double>(loops[0]) * loops[1];
  double held = rows * loops[2] * elementBytes(getAttentionAccumulatorType(op));
  return {buffers * held, buffers * getAttentionBlockBytes(held / rows)};
}

static AttentionPasses getAttentionPasses(AttentionOpInterface op) {
  AttentionPasses passes;
  double a = elementBytes(getAttentionAccumulatorType(op));
  double s = elementBytes(op.getQuery().getType().getElementType());
  // The rows of one block lowering computes at once, each of J keys.
  SmallVector<int64_t, 5> loops = op.getLoopSizes();
  double blockRows = static_cast<double>(getAttentionBatchBlock(op)) *
                     static_cast<double>(getAttentionRowBlock(op));
  bool rowKernel = formsRowKernel(blockRows, static_cast<double>(loops[2]));
  // S written, read (three times without a row kernel); P written and
  // read.
  double rowReads = rowKernel ? 1.0 : 3.0;
  passes.fwdReadPerScore = rowReads * a + s;
  passes.fwdWrittenPerScore = a + s;
  passes.fwdKernels = rowKernel ? 3.0 : 7.0;
  // S written and read; P written and read; dP written; dP and P read by
  // the row term and dS (twice each without a row kernel); dS written and
  // read twice.
  passes.bwdPerScore = 2 * a + 3 * s + (rowKernel ? 2.0 : 4.0) * s + 3 * s;
  passes.bwdKernels = rowKernel ? 7.0 : 9.0;
  return passes;
}

static AttentionBackward getAttentionBackward(AttentionOpInterface op) {
  SmallVector<int64_t, 5> loops = op.getLoopSizes();
  double b = loops[0], i = loops[1], j = loops[2], d = loops[3], e = loops[4];
  double scores = b * i * j;
  AttentionPasses passes = getAttentionPasses(op);
  AttentionBackward backward;
  backward.macs = scores * (3 * d + 2 * e);
  backward.flops = 2 * backward.macs + 8 * scores;
  for (Value input : {op.getQuery(), op.getKey(), op.getValue()})
    backward.inputBytes += sizeInBytes(input.getType());
  double outputBytes =
      b * i * e * elementBytes(op.getQuery().getType().getElementType());
  backward.bytes =
      scores * passes.bwdPerScore + 3 * backward.inputBytes + 2 * outputBytes;
  for (Value input : op.getMaskInputs())
    backward.bytes += sizeInBytes(input.getType());
  std::tie(backward.internalBytes, backward.internalBytesLimit) =
      getAttentionHeldBytes(op, 4);
  backward.kernels = passes.bwdKernels;
  return backward;
}

/// An attention as one call of cuDNN's fused flash attention
/// (getFusedAttentionForm), forward and backward as FlashAttention computes
/// them: nothing score-sized is ever written. Per score it computes (the
/// causal mask's skipped blocks not computed: getUnmaskedScores) the same
/// multiply-accumulates and scalar FLOPs as the decomposition; it moves
/// only its operands: the forward reads query, keys and values and writes
/// the output and the lse (f32); the backward reads those and the output's
/// adjoint, writes the inputs' adjoints, and accumulates dQ in f32 beside a
/// row term sum(dO * O) (f32), both written and read once, its only
/// internal buffers. Launches: one forward; three backward (the row term,
/// the main kernel, dQ's conversion, as FlashAttention-2's backward and
/// cuDNN's are built).
namespace {
struct FusedAttentionWork {
  double macs = 0, flops = 0, bytesRead = 0, bytesWritten = 0;
  double bwdMacs = 0, bwdFlops = 0, bwdBytes = 0, bwdInputBytes = 0,
         bwdInternalBytes = 0;
  static constexpr double kKernels = 1, kBwdKernels = 3;
};
} // namespace

double mlir::autopar::getCausalScores(double rows, double keys, double offset) {
  // Rows 0..seeing - 1 see i + offset + 1 keys, the others all of them.
  double seeing = std::clamp(keys - offset, 0.0, rows);
  return seeing * (seeing + 1) / 2 + seeing * offset + (rows - seeing) * keys;
}

std::optional<double> OpWorkload::getRowSplitImbalance(int64_t parts) const {
  int64_t stacks = std::max<int64_t>(fusedAttentionStacks, 1);
  if (!causalAttention || parts <= 1 || attentionRows <= 0 ||
      stacks % parts == 0)
    return 1.0;
  // A device's share of one stack, its mask offset within the stack.
  if (parts % stacks != 0)
    return std::nullopt;
  int64_t perStack = parts / stacks;
  double rows = static_cast<double>(attentionRows / stacks);
  double keys = static_cast<double>(attentionKeys);
  double share = rows / static_cast<double>(perStack);
  double all = getCausalScores(rows, keys, 0);
  if (all <= 0)
    return 1.0;
  return static_cast<double>(perStack) *
         getCausalScores(share, keys, rows - share) / all;
}

/// The scores of `op` that cuDNN's fused attention computes in `form`: a
/// causal mask's leaves (per stack of S query rows, row i sees keys
/// 0..min(i, J - 1), top-left aligned), or all B x I x J. A device's share
/// of the rows (its mask offset by its first row, known at run time) is
/// counted as the busiest device's, the last I rows of J.
static double getUnmaskedScores(AttentionOpInterface op,
                                const FusedAttentionForm &form) {
  SmallVector<int64_t, 5> loops = op.getLoopSizes();
  double b = loops[0], i = loops[1], j = loops[2];
  if (!form.causal)
    return b * i * j;
  double s = i / static_cast<double>(form.stacks);
  double offset = form.rowOffset ? std::max(0.0, j - s) : 0.0;
  return b * static_cast<double>(form.stacks) * getCausalScores(s, j, offset);
}

static FusedAttentionWork
getFusedAttentionWork(AttentionOpInterface op, const FusedAttentionForm &form) {
  SmallVector<int64_t, 5> loops = op.getLoopSizes();
  double b = loops[0], i = loops[1], d = loops[3], e = loops[4];
  double scores = getUnmaskedScores(op, form);
  // In the op's own types: the planner scales a wider model's bytes to
  // its precision.
  double stored = elementBytes(op.getQuery().getType().getElementType());
  FusedAttentionWork work;
  work.macs = scores * (d + e);
  work.flops = 2 * work.macs + 6 * scores;
  for (Value input : {op.getQuery(), op.getKey(), op.getValue()})
    work.bwdInputBytes += sizeInBytes(input.getType());
  double outputBytes = b * i * e * stored, lseBytes = b * i * 4;
  work.bytesRead = work.bwdInputBytes;
  work.bytesWritten = outputBytes + lseBytes;
  work.bwdMacs = scores * (3 * d + 2 * e);
  work.bwdFlops = 2 * work.bwdMacs + 8 * scores;
  // dQ's f32 accumulator and the row term, each written and read.
  work.bwdInternalBytes = b * i * d * 4 + b * i * 4;
  work.bwdBytes = 2 * work.bwdInputBytes + 2 * outputBytes + lseBytes +
                  2 * work.bwdInternalBytes;
  return work;
}

static bool isFloatLike(Type type) {
  return isa<FloatType, ComplexType>(elementTypeOf(type));
}

static bool hasStaticShape(Type type) {
  auto shaped = dyn_cast<ShapedType>(type);
  return !shaped || shaped.hasStaticShape();
}

//===----------------------------------------------------------------------===//
// Scalar bodies
//===----------------------------------------------------------------------===//

/// FLOPs of one scalar op: 1 for floating-point arithmetic, comparisons and
/// math functions; 0 for casts, constants, selects and integer or index
/// arithmetic (address computation).
static unsigned scalarFlops(Operation *op) {
  if (isa<CastOpInterface, arith::SelectOp, arith::ConstantOp>(op))
    return 0;
  Dialect *dialect = op->getDialect();
  if (!dialect || !isa<arith::ArithDialect, math::MathDialect>(dialect))
    return 0;
  auto anyFloat = [](TypeRange types) {
    return llvm::any_of(types, [](Type type) { return isFloatLike(type); });
  };
  return anyFloat(op->getOperandTypes()) || anyFloat(op->getResultTypes())
             ? 1
             : 0;
}

/// Ops through which the derivative is constant: their inputs need not be
/// kept for the backward pass.
static bool isLinearInAllOperands(Operation *op) {
  return isa<arith::AddFOp, arith::SubFOp, arith::NegFOp, CastOpInterface,
             linalg::YieldOp, arith::ConstantOp, linalg::IndexOp>(op) ||
         scalarFlops(op) == 0;
}

namespace {
/// What the scalar body of a linalg op does per iteration.
struct BodySummary {
  unsigned flops = 0;
  bool multiplyAccumulate = false;
  /// Inputs (by DPS input number) whose values the backward needs.
  llvm::SmallBitVector neededInputs;
  /// Tensors defined outside the op and read with tensor.extract inside.
  SmallVector<Value> gathered;
};
} // namespace

/// Strips casts (extf, truncf, ...) from `value`.
static Value stripCasts(Value value) {
  while (Operation *def = value.getDefiningOp()) {
    if (!isa<CastOpInterface>(def) || def->getNumOperands() != 1)
      break;
    value = def->getOperand(0);
  }
  return value;
}

/// Whether input `input` of `op` gets the result's gradient unchanged: the
/// one result is that input plus a term that does not read it, element for
/// element (the same map, the same type). A training step then passes the
/// gradient on without writing it anew (a bias add's 3-D operand:
/// autopar-fuse-elementwise forwards the copy).
static bool passesGradientThrough(linalg::LinalgOp op, unsigned input) {
  Block *body = op.getBlock();
  if (!body || op->getNumResults() != 1 ||
      op.getNumParallelLoops() != op.getNumLoops())
    return false;
  OpOperand *operand = op.getDpsInputOperand(input);
  OpOperand *init = op.getDpsInitOperand(0);
  if (operand->get().getType() != op->getResult(0).getType() ||
      op.getMatchingIndexingMap(operand) != op.getMatchingIndexingMap(init))
    return false;
  auto yield = cast<linalg::YieldOp>(body->getTerminator());
  auto add = yield.getOperand(0).getDefiningOp<arith::AddFOp>();
  if (!add || add->getBlock() != body)
    return false;
  BlockArgument arg = body->getArgument(input);
  Value other = add.getLhs() == arg ? add.getRhs() : add.getLhs();
  if (add.getLhs() != arg && add.getRhs() != arg)
    return false;
  // The other term must not read the input.
  SmallVector<Value> pending = {other};
  while (!pending.empty()) {
    Value value = pending.pop_back_val();
    if (value == arg)
      return false;
    if (Operation *def = value.getDefiningOp(); def && def->getBlock() == body)
      llvm::append_range(pending, def->getOperands());
  }
  return true;
}

static BodySummary summarizeBody(linalg::LinalgOp op) {
  BodySummary summary;
  unsigned numInputs = op.getNumDpsInputs();
  summary.neededInputs.resize(numInputs);
  Block *body = op.getBlock();
  if (!body)
    return summary;

  // For each body value, the block arguments it depends on.
  llvm::DenseMap<Value, llvm::SmallBitVector> deps;
  unsigned numArgs = body->getNumArguments();
  for (BlockArgument arg : body->getArguments()) {
    llvm::SmallBitVector bits(numArgs);
    bits.set(arg.getArgNumber());
    deps[arg] = bits;
  }
  auto depsOf = [&](Value value) {
    auto it = deps.find(value);
    return it == deps.end() ? llvm::SmallBitVector(numArgs) : it->second;
  };
  auto markNeeded = [&](const llvm::SmallBitVector &bits) {
    for (int arg : bits.set_bits())
      if (static_cast<unsigned>(arg) < numInputs)
        summary.neededInputs.set(arg);
  };

  for (Operation &inner : body->without_terminator()) {
    summary.flops += scalarFlops(&inner);
    llvm::SmallBitVector resultDeps(numArgs);
    for (Value operand : inner.getOperands())
      resultDeps |= depsOf(operand);
    for (Value result : inner.getResults())
      deps[result] = resultDeps;

    if (auto extract = dyn_cast<tensor::ExtractOp>(inner))
      if (extract.getTensor().getParentBlock() != body)
        summary.gathered.push_back(extract.getTensor());

    if (isLinearInAllOperands(&inner))
      continue;
    if (isa<arith::MulFOp>(inner)) {
      // Linear in each factor: keep both only when both vary.
      llvm::SmallBitVector lhs = depsOf(inner.getOperand(0));
      llvm::SmallBitVector rhs = depsOf(inner.getOperand(1));
      if (lhs.any() && rhs.any()) {
        markNeeded(lhs);
        markNeeded(rhs);
      }
      continue;
    }
    if (isa<arith::DivFOp>(inner)) {
      if (depsOf(inner.getOperand(1)).any())
        markNeeded(resultDeps);
      continue;
    }
    markNeeded(resultDeps);
  }

  // Multiply-accumulate: yield(add(out, mul(...))) up to casts.
  auto yield = cast<linalg::YieldOp>(body->getTerminator());
  for (Value yielded : yield.getOperands()) {
    auto add = stripCasts(yielded).getDefiningOp<arith::AddFOp>();
    if (!add)
      continue;
    for (int side = 0; side < 2; ++side) {
      Value acc = stripCasts(add->getOperand(side));
      Value other = stripCasts(add->getOperand(1 - side));
      auto accArg = dyn_cast<BlockArgument>(acc);
      if (accArg && accArg.getOwner() == body &&
          accArg.getArgNumber() >= numInputs &&
          other.getDefiningOp<arith::MulFOp>())
        summary.multiplyAccumulate = true;
    }
  }
  return summary;
}

//===----------------------------------------------------------------------===//
// FunctionWorkload
//===----------------------------------------------------------------------===//

/// The bytes of one row of a row reduction's largest input.
static double getRowCount(linalg::GenericOp reduction) {
  std::optional<unsigned> rowLoops = getRowReductionLoops(reduction);
  SmallVector<int64_t> ranges = reduction.getStaticLoopRanges();
  double rows = 1;
  for (int64_t range :
       ArrayRef<int64_t>(ranges).take_front(rowLoops.value_or(ranges.size())))
    rows *= static_cast<double>(range);
  return rows;
}

static double getRowBytes(linalg::GenericOp reduction) {
  double bytes = 0;
  for (Value input : reduction.getDpsInputs())
    bytes = std::max(bytes, sizeInBytes(input.getType()));
  return bytes / std::max(getRowCount(reduction), 1.0);
}

FunctionWorkload::FunctionWorkload(FunctionOpInterface func,
                                   WorkloadOptions options)
    : func(func), options(options), roles(func) {
  for (Value param : roles.getParameters())
    requiresGrad.insert(param);
  Region &body = func.getFunctionBody();
  for (Block &block : body) {
    rowKernelSeeds = findRowKernels(block);
    // The kernels whose rows stay in cache (kRowKernelCacheBytes) track
    // what their members have read or written.
    rowKernelValues.clear();
    rowKernelStarts.clear();
    rowKernelBackward.clear();
    for (auto [member, seed] : rowKernelSeeds)
      rowKernelStarts.insert(seed);
    for (auto [member, seed] : rowKernelSeeds)
      if (getRowBytes(cast<linalg::GenericOp>(seed)) <= kRowKernelCacheBytes)
        rowKernelValues.try_emplace(seed);
    for (Operation &op : block)
      analyzeOp(&op);
  }

  // Parameters that some op reads get gradients to synchronise.
  llvm::DenseSet<Value> read;
  for (Block &block : body)
    block.walk([&](Operation *op) {
      for (Value operand : op->getOperands())
        read.insert(roles.getSource(operand));
    });
  for (Value param : roles.getParameters()) {
    // Only ranked float tensors are trained (an index or integer argument
    // left unmarked gets no gradient).
    auto shaped = dyn_cast<ShapedType>(param.getType());
    if (!read.contains(param) || !shaped || !shaped.hasRank() ||
        !isFloatLike(shaped))
      continue;
    gradientValues.push_back(param);
    totals.params += numElements(param.getType());
    totals.paramBytes += sizeInBytes(param.getType());
  }
  for (const OpWorkload &work : ops) {
    totals.forwardFlops += work.flops;
    if (work.fusedAttentionStacks > 0)
      ++totals.cudnnAttentions;
    totals.forwardMacs += work.macs;
    totals.backwardFlops += work.bwdFlops();
    totals.activationBytes += work.savedBytes;
    totals.bytes += work.bytes();
  }
}

const OpWorkload *FunctionWorkload::lookup(Operation *op) const {
  auto it = index.find(op);
  return it == index.end() ? nullptr : &ops[it->second];
}

void FunctionWorkload::collectLoaded(Value value,
                                     SmallVectorImpl<Value> &loaded) const {
  Operation *def = value.getDefiningOp();
  auto producer = dyn_cast_or_null<linalg::LinalgOp>(def);
  if (!producer || !fusedReads.contains(def)) {
    loaded.push_back(value);
    return;
  }
  for (Value input : producer.getDpsInputs())
    if (isa<ShapedType>(input.getType()))
      collectLoaded(input, loaded);
}

Operation *FunctionWorkload::getRowKernelOf(Operation *op,
                                            unsigned depth) const {
  if (rowKernelStarts.contains(op))
    return op;
  if (auto seed = rowKernelSeeds.find(op); seed != rowKernelSeeds.end())
    return seed->second;
  // A chain fused into its users (a softmax's scale and exponential) runs
  // in their kernel when they all share it.
  if (depth > 4 || op->use_empty() || !isFusedIntoUsers(op))
    return nullptr;
  Operation *kernel = nullptr;
  for (Operation *user : op->getUsers()) {
    Operation *userKernel = getRowKernelOf(user, depth + 1);
    if (!userKernel || (kernel && userKernel != kernel))
      return nullptr;
    kernel = userKernel;
  }
  return kernel;
}

/// Ops that only relabel data or produce no tensor work.
static bool isFree(Operation *op) {
  if (isa<tensor::CollapseShapeOp, tensor::ExpandShapeOp, tensor::CastOp,
          tensor::ReshapeOp, tensor::BitcastOp, tensor::EmptyOp,
          tensor::DimOp, arith::ConstantOp>(op))
    return true;
  // Sharding pins only annotate a value; resharding is the search's cost.
  if (isa<ShardOp>(op))
    return true;
  if (op->hasTrait<OpTrait::IsTerminator>() || isa<func::CallOp>(op))
    return true;
  // Scalar computations (shapes, indices, asserts on scalars).
  auto isTensor = [](Type type) { return isa<ShapedType>(type); };
  return op->getNumRegions() == 0 &&
         llvm::none_of(op->getOperandTypes(), isTensor) &&
         llvm::none_of(op->getResultTypes(), isTensor);
}

std::optional<FusedAttentionForm>
FunctionWorkload::getBuiltFusedForm(AttentionOpInterface op) const {
  if (!options.cudnnAttention)
    return std::nullopt;
  return getFusedAttentionForm(op, options.halfPrecision);
}

bool FunctionWorkload::isInPlaceByFusedAttention(Operation *op) const {
  auto transpose = dyn_cast<linalg::TransposeOp>(op);
  if (!transpose)
    return false;
  auto isFused = [&](Operation *user) {
    auto attention = dyn_cast_or_null<AttentionOp>(user);
    return attention && getBuiltFusedForm(attention).has_value();
  };
  // Read: every use a fused attention's query, keys or values, directly
  // (batch and heads apart) or through a collapse read only so.
  auto isFusedInput = [&](OpOperand &use) {
    return use.getOperandNumber() < 3 && isFused(use.getOwner());
  };
  Value result = transpose->getResult(0);
  bool read = !result.use_empty() &&
              llvm::all_of(result.getUses(), [&](OpOperand &use) {
                if (isFusedInput(use))
                  return true;
                auto collapse =
                    dyn_cast<tensor::CollapseShapeOp>(use.getOwner());
                return collapse && !collapse->use_empty() &&
                       llvm::all_of(collapse->getUses(), isFusedInput);
              });
  if (read)
    return true;
  // Written: the transpose of a fused attention's output, or of an
  // expansion of it.
  Value written = transpose.getInput();
  if (auto expand = written.getDefiningOp<tensor::ExpandShapeOp>()) {
    if (!expand->hasOneUse())
      return false;
    written = expand.getSrc();
  }
  auto attention = written.getDefiningOp<AttentionOp>();
  return attention && written == attention.getResult() && isFused(attention);
}

void FunctionWorkload::analyzeOp(Operation *op) {
  // A loss appended for pricing (AppendedLoss, autopar/Analysis/Loss.h) is
  // priced forward only: its backward is its gradient op, one of its own
  // ops; what it reads gets no gradient from it. So is a softmax's row
  // maximum, which training does not differentiate (isSoftmaxShift).
  SmallVector<Value> hidden;
  auto generic = dyn_cast<linalg::GenericOp>(op);
  if (op->hasAttr(AutoparDialect::kLossAttrName) ||
      (generic && isSoftmaxShift(generic)))
    for (Value operand : op->getOperands())
      if (requiresGrad.erase(operand))
        hidden.push_back(operand);
  auto restore = llvm::make_scope_exit(
      [&] { requiresGrad.insert(hidden.begin(), hidden.end()); });

  auto anyGradOperand = [&](ValueRange values) {
    return llvm::any_of(values, [&](Value value) {
      return requiresGrad.contains(value) && isFloatLike(value.getType());
    });
  };
  auto propagateGrad = [&](ValueRange operands) {
    if (anyGradOperand(operands))
      for (Value result : op->getResults())
        if (isFloatLike(result.getType()))
          requiresGrad.insert(result);
  };

  if (isFree(op)) {
    propagateGrad(op->getOperands());
    return;
  }

  OpWorkload work;
  work.op = op;
  work.iterations = 1;
  if (op->getNumResults()) {
    work.elementType = elementTypeOf(op->getResult(0).getType());
    work.parallelIterations = numElements(op->getResult(0).getType());
  }

  auto addParamRead = [&](Value value) {
    if (roles.isParameter(value)) {
      work.paramCount += numElements(value.getType());
      work.paramBytes += sizeInBytes(value.getType());
    }
  };
  auto keepForBackward = [&](Value value) {
    if (roles.isParameter(value) || !saved.insert(value).second)
      return;
    work.savedBytes += sizeInBytes(value.getType());
  };
  for (Value result : op->getResults())
    work.bytesWritten += sizeInBytes(result.getType());
  // What the op writes as a kernel of its own (a fold below may drop it).
  const double resultBytes = work.bytesWritten;

  if (auto linalgOp = dyn_cast<linalg::LinalgOp>(op)) {
    SmallVector<int64_t> ranges = linalgOp.getStaticLoopRanges();
    SmallVector<utils::IteratorType> iterators =
        linalgOp.getIteratorTypesArray();
    work.parallelIterations = 1;
    double reductionIterations = 1;
    for (auto [range, iterator] : llvm::zip_equal(ranges, iterators)) {
      if (ShapedType::isDynamic(range)) {
        work.estimated = true;
        continue;
      }
      work.iterations *= static_cast<double>(range);
      if (iterator == utils::IteratorType::parallel)
        work.parallelIterations *= static_cast<double>(range);
      else
        reductionIterations *= static_cast<double>(range);
    }
    work.parallelIterations *=
        std::min(reductionIterations, OpWorkload::kReductionThreads);
    // A sum into one float (a loss) is split into partial sums, each of
    // kMinReductionChunk elements or more, over as many threads as the GPU
    // runs (autopar-reductions-inner): not one block's.
    if (generic && isSumIntoOneFloat(generic))
      work.parallelIterations = std::max(
          work.parallelIterations,
          reductionIterations / static_cast<double>(kMinReductionChunk));
    if (work.estimated)
      op->emitWarning() << "autopar: dynamic loop bounds; counting each "
                           "dynamic dimension as 1";
    BodySummary body = summarizeBody(linalgOp);
    work.flops = work.iterations * body.flops;
    work.macs = body.multiplyAccumulate ? work.iterations : 0;
    if (!linalgOp.getDpsInputs().empty())
      work.elementType =
          elementTypeOf(linalgOp.getDpsInputs().front().getType());
    work.convolution = linalg::isaConvolutionOpInterface(linalgOp) &&
                       linalgOp.getNumLoops() == 7;

    // A value made by a fused producer is never written: a user reads the
    // producer's inputs instead (and gets no gradient of it written).
    auto readBytes = [&](Value value) {
      auto it = fusedReads.find(value.getDefiningOp());
      return it != fusedReads.end() ? it->second : sizeInBytes(value.getType());
    };
    auto isFusedValue = [&](Value value) {
      return fusedReads.contains(value.getDefiningOp());
    };
    // A transpose of the heads' views that cuDNN's fused attention reads
    // or writes in place (its gradient too) is never built.
    bool inPlaceByAttention = isInPlaceByFusedAttention(op);
    work.fused = isFusedIntoUsers(op) || isTransposeFoldedIntoUsers(op) ||
                 inPlaceByAttention;
    // A later member of a row kernel (Analysis/Fusion.h) launches nothing of
    // its own and reads again from cache what the kernel read or wrote
    // before it, while the kernel's rows fit (kRowKernelCacheBytes).
    auto seed = rowKernelSeeds.find(op);
    bool member = seed != rowKernelSeeds.end();
    const llvm::DenseSet<Value> *cached = nullptr;
    if (member) {
      work.kernels = 0;
      work.inRowKernel = true;
      work.runsIn = seed->second;
      if (auto values = rowKernelValues.find(seed->second);
          values != rowKernelValues.end())
        cached = &values->second;
    }
    // What the inputs cost read from memory (outside a row kernel).
    double readAlone = 0;
    for (OpOperand *input : linalgOp.getDpsInputOperands()) {
      readAlone += readBytes(input->get());
      if (cached) {
        // What the member loads (a fused producer's inputs for its result),
        // less what the kernel already holds.
        SmallVector<Value> loaded;
        collectLoaded(input->get(), loaded);
        for (Value value : loaded)
          if (!cached->contains(value))
            work.bytesRead += sizeInBytes(value.getType());
      } else {
        work.bytesRead += readBytes(input->get());
      }
      addParamRead(input->get());
    }
    if (auto values = rowKernelValues.find(member ? seed->second : op);
        values != rowKernelValues.end()) {
      for (Value input : linalgOp.getDpsInputs()) {
        SmallVector<Value> loaded;
        collectLoaded(input, loaded);
        values->second.insert(loaded.begin(), loaded.end());
      }
      values->second.insert(op->result_begin(), op->result_end());
    }
    // An initial value made from a scalar is made in the kernel (a GEMM's
    // beta = 0, a reduction's start in registers), not read.
    for (OpOperand &init : linalgOp.getDpsInitsMutable()) {
      Operation *def = init.get().getDefiningOp();
      if (linalgOp.payloadUsesValueFromOperand(&init) &&
          !(def && isMadeFromScalar(def))) {
        work.bytesRead += sizeInBytes(init.get().getType());
        readAlone += sizeInBytes(init.get().getType());
      }
    }
    // In a row kernel, its rows and the op's bytes as a kernel of its own.
    if (Operation *first =
            member ? seed->second
                   : (rowKernelStarts.contains(op) ? op : nullptr)) {
      work.rowKernelRows = getRowCount(cast<linalg::GenericOp>(first));
      work.bytesAlone = readAlone + work.bytesWritten;
    }
    // A bias (and a residual) added in the product's cuBLASLt call
    // (Analysis/Fusion.h) reads the bias (and the residual, C); the
    // product's write is its result, priced there. An activation's
    // gradient needs the sum: a training step keeps it, which cuBLASLt
    // writes beside a tanh-GELU's result (GELU_AUX_BIAS, when the last
    // dimension is a multiple of 8: Fusion.h, isGeluAuxSum), so a GELU
    // epilogue writes the sum too. For a ReLU after a bias, on an f32
    // [m, n] product, whose backward runs in the epilogue of the product
    // that makes its gradient (isActivationGradientInEpilogue), cuBLASLt
    // writes a bitmask of where the sum is positive (RELU_AUX_BIAS,
    // getReluMaskBytes) and the step keeps that instead of the product;
    // other ReLUs stay kernels (the lowering folds them in a forward pass
    // alone). A 16-bit product is trained accumulating in f32
    // and rounded (autopar-training's mixed precision): the rounding folds
    // into the call with the bias, and the bias's 16-bit copy is made
    // beside the weights' (Analysis/Fusion.h).
    auto generic = dyn_cast<linalg::GenericOp>(op);
    std::optional<GemmEpilogue> epilogue =
        generic ? getGemmEpilogue(generic) : std::nullopt;
    bool keepsSum =
        epilogue && epilogue->form.activation == EpilogueActivation::GeluTanh &&
        (epilogue->form.bias || epilogue->aux) && !epilogue->residual &&
        isGeluAuxShape(op->getResult(0).getType());
    auto resultType = op->getNumResults()
                          ? dyn_cast<ShapedType>(op->getResult(0).getType())
                          : ShapedType();
    bool keepsMask =
        epilogue && epilogue->form.activation == EpilogueActivation::Relu &&
        epilogue->form.bias && !epilogue->residual && !epilogue->form.rounded &&
        resultType && resultType.hasStaticShape() &&
        resultType.getRank() == 2 && resultType.getElementType().isF32() &&
        isActivationGradientInEpilogue(generic);
    double maskBytes =
        keepsMask ? static_cast<double>(getReluMaskBytes(
                        resultType.getDimSize(0), resultType.getDimSize(1)))
                  : 0.0;
    if (epilogue && (epilogue->form.activation == EpilogueActivation::None ||
                     keepsSum || keepsMask)) {
      work.inEpilogue = true;
      work.keepsAux = keepsSum || keepsMask;
      work.runsIn = epilogue->product;
      work.bytesAlone = work.bytes();
      work.kernels = 0;
      Value bias = epilogue->form.bias, residual = epilogue->residual;
      work.bytesRead = (bias ? sizeInBytes(bias.getType()) : 0.0) +
                       (residual ? sizeInBytes(residual.getType()) : 0.0);
      work.bytesWritten = keepsSum ? resultBytes : maskBytes;
    }
    for (Value gathered : body.gathered) {
      double perIteration = elementBytes(elementTypeOf(gathered.getType()));
      work.bytesRead +=
          std::min(work.iterations * perIteration, sizeInBytes(gathered.getType()));
      addParamRead(gathered);
    }

    // Backward: one gradient per differentiable input.
    SmallVector<Value> gradInputs;
    for (Value input : linalgOp.getDpsInputs())
      gradInputs.push_back(input);
    llvm::append_range(gradInputs, body.gathered);
    bool anyGrad = false;
    double outBytes = resultBytes;
    // The one input the result's gradient passes to unchanged (a bias
    // add's activation; not a residual add's two): no work, nothing
    // written.
    Value passedInput;
    for (unsigned k = 0; k < linalgOp.getNumDpsInputs(); ++k)
      if (passesGradientThrough(linalgOp, k)) {
        if (passedInput) {
          passedInput = Value();
          break;
        }
        passedInput = linalgOp.getDpsInputs()[k];
      }
    // A member of a GELU chain whose backward runs in an epilogue
    // (getFusedGeluGradientSum): the epilogue writes the gradient of the
    // sum the GELU is of, not this op.
    Value geluSum = getFusedGeluGradientSum(op);
    // A parameter read the same at every row (its map does not use the
    // first loop: a bias, a LayerNorm's scale): its gradient sums over the
    // rows, a column reduction that no elementwise chain or row kernel of
    // the gradients runs.
    auto isColumnSummed = [&](Value input) {
      if (!roles.isParameter(input))
        return false;
      auto operand = llvm::find(linalgOp.getDpsInputs(), input);
      if (operand == linalgOp.getDpsInputs().end())
        return false;
      AffineMap map = linalgOp.getMatchingIndexingMap(
          linalgOp.getDpsInputOperand(static_cast<unsigned>(
              operand - linalgOp.getDpsInputs().begin())));
      return !map.isFunctionOfDim(0);
    };
    // A fused op's column sum (a bias add fused into a residual add) is a
    // kernel of its own reading the result's gradient, unless an f32
    // activation it feeds has its gradient, and its bias's, made in a
    // product's epilogue (DGELU_BGRAD, DRELU_BGRAD).
    auto sumInEpilogue = [&] {
      for (Operation *user = op; user && user->hasOneUse();) {
        user = *user->getUsers().begin();
        auto activation = dyn_cast<linalg::GenericOp>(user);
        if (!activation)
          return false;
        if (isActivationGradientInEpilogue(activation))
          return getElementTypeOrSelf(activation->getResult(0).getType())
              .isF32();
        if (!isFusedIntoUsers(activation))
          return false;
      }
      return false;
    };
    unsigned written = 0;
    for (Value input : gradInputs) {
      if (!requiresGrad.contains(input) || !isFloatLike(input.getType()))
        continue;
      anyGrad = true;
      if (input == passedInput)
        continue;
      ++written;
      if (work.fused && isColumnSummed(input) && !sumInEpilogue()) {
        work.bwdWeightKernel = true;
        work.bwdBytes += outBytes;
      }
      // A gather's gradient is a scatter-add: one FLOP per iteration.
      bool isGather = llvm::is_contained(body.gathered, input);
      double gradFlops = work.iterations * (isGather ? 1 : body.flops);
      if (roles.isParameter(input))
        work.bwdWeightFlops += gradFlops;
      else
        work.bwdDataFlops += gradFlops;
      // The output's gradient, read (made in the users' fused backward
      // when this op is fused), and the input's, written (unless its
      // producer is fused: then it is the producer's backward's input).
      work.bwdBytes += (work.fused ? 0.0 : outBytes) +
                       (isFusedValue(input) || input == geluSum
                            ? 0.0
                            : sizeInBytes(input.getType()));
    }
    // Only the passed gradient: no backward kernel.
    if (anyGrad && written == 0)
      work.bwdKernels = 0;
    // The attention's gradient call reads and writes the other layout.
    if (inPlaceByAttention)
      work.bwdBytes = 0;
    // A GELU of a kept sum (GELU_AUX) needs that sum alone, whichever
    // ops compute it (torch-mlir writes a GELU as a chain, the ops fused
    // into this one); a chain's member keeps nothing.
    if (anyGrad && keepsSum && epilogue->aux) {
      keepForBackward(epilogue->aux);
      work.bwdBytes += sizeInBytes(epilogue->aux.getType());
    } else if (anyGrad && !keepsMask && !geluSum) {
      for (int input : body.neededInputs.set_bits()) {
        Value value = linalgOp.getDpsInputs()[input];
        keepForBackward(value);
        work.bwdBytes += readBytes(value);
      }
    }
    // A GELU whose sum the step keeps, or a ReLU whose mask it keeps: its
    // backward (and its bias's gradient, fused here) runs in the epilogue
    // of the product that makes its gradient (DGELU_BGRAD, DRELU_BGRAD),
    // which writes the result; the epilogue reads the kept sum or mask.
    if (anyGrad && keepsSum && isActivationGradientInEpilogue(generic)) {
      work.bwdKernels = 0;
      work.bwdBytes = resultBytes;
    }
    if (anyGrad && keepsMask) {
      work.savedBytes += maskBytes;
      work.bwdKernels = 0;
      work.bwdBytes = maskBytes;
    }
    // A bias add whose sum such a GELU reads through a view (Hugging Face
    // GPT-2's Conv1D): its backward, the bias's gradient, is summed in that
    // epilogue too (DGELU_BGRAD), which writes it.
    if (anyGrad && work.inEpilogue && isViewedGeluSumGradientInEpilogue(op)) {
      work.bwdKernels = 0;
      work.bwdBytes = 0;
      for (Value input : gradInputs)
        if (requiresGrad.contains(input) && input != passedInput &&
            isFloatLike(input.getType()))
          work.bwdBytes += sizeInBytes(input.getType());
    }
    // In a row kernel (or fused into its members), the backward runs in
    // the row kernel the lowering builds of the gradients over the same
    // rows (a softmax's: one row sum and the elementwise gradient; a
    // LayerNorm's: its row sums and the input's gradient): its data
    // gradient reads the result's gradient only when made outside that
    // kernel, writes an input's gradient only when the input comes from
    // outside it (once for the kernel), and loads what it needs once for
    // the kernel while the rows stay in cache (kRowKernelCacheBytes); the
    // gradient of a parameter read the same at every row (a column sum)
    // is a kernel of its own, reading the result's gradient and what it
    // needs from memory.
    Operation *rowKernel = anyGrad && !work.inEpilogue && !geluSum && !epilogue
                               ? getRowKernelOf(op)
                               : nullptr;
    if (rowKernel) {
      RowKernelBackward &kernel = rowKernelBackward[rowKernel];
      bool fits = rowKernelValues.contains(rowKernel);
      auto inKernel = [&](Operation *other) {
        return other && getRowKernelOf(other) == rowKernel;
      };
      bool gradientInKernel = llvm::all_of(op->getUsers(), inKernel);
      double data = 0, weight = 0;
      bool anyData = false, anyWeight = false;
      for (Value input : gradInputs) {
        if (!requiresGrad.contains(input) || !isFloatLike(input.getType()) ||
            input == passedInput)
          continue;
        bool leaves = !isFusedValue(input) && !inKernel(input.getDefiningOp());
        if (isColumnSummed(input)) {
          anyWeight = true;
          weight += outBytes + sizeInBytes(input.getType());
          continue;
        }
        anyData = true;
        if (leaves && kernel.written.insert(input).second)
          data += sizeInBytes(input.getType());
      }
      if (anyData && !work.fused && !gradientInKernel)
        data += outBytes;
      for (int input : body.neededInputs.set_bits()) {
        SmallVector<Value> loaded;
        collectLoaded(linalgOp.getDpsInputs()[input], loaded);
        for (Value value : loaded) {
          double bytes = sizeInBytes(value.getType());
          if (anyData && (!fits || kernel.loaded.insert(value).second))
            data += bytes;
          if (anyWeight)
            weight += bytes;
        }
      }
      work.bwdBytesAlone = work.bwdBytes;
      work.bwdBytes = data + weight;
      work.bwdWeightBytes = weight;
      work.bwdDataInRowKernel = kernel.launched;
      if (!work.fused)
        kernel.launched = true;
      work.bwdRowKernelRows = getRowCount(cast<linalg::GenericOp>(rowKernel));
    }
    propagateGrad(gradInputs);
    // A tensor made from a scalar is made in its users' kernels: no bytes,
    // no launch, nothing its users read (Analysis/Fusion.h).
    if (isMadeFromScalar(op)) {
      work.fused = true;
      work.bytesRead = 0;
    }
    if (work.fused) {
      fusedReads[op] = work.bytesRead;
      work.bytesRead = work.bytesWritten = 0;
    }
  } else if (auto scatter = dyn_cast<ScatterAddOp>(op)) {
    // One add per update element: the update rows read, the destination
    // rows they name read and written (a training step's, never
    // differentiated).
    double rows = sizeInBytes(scatter.getUpdates().getType());
    work.iterations = numElements(scatter.getUpdates().getType());
    work.parallelIterations = work.iterations;
    work.flops = work.iterations;
    work.bytesRead = 2 * rows + sizeInBytes(scatter.getIndices().getType());
    work.bytesWritten = rows;
  } else if (auto attention = dyn_cast<AttentionOp>(op)) {
    // Priced as the CUDA backend builds it: one call of cuDNN's fused
    // attention where it computes it (getFusedAttentionWork), else the
    // chain it decomposes into (autopar.attention's description): per
    // score (B x I x J) the scores' and context's multiply-accumulates
    // (D + E), and 6 FLOPs of scale, mask and softmax; the score-sized
    // traffic and kernels as lowering builds them (getAttentionPasses).
    // The backward recomputes the scores and probabilities from the saved
    // query, keys and row log-sum-exp, then makes dV, dP, dS, dQ and dK':
    // 3D + 2E multiply-accumulates and about 8 FLOPs per score
    // (getAttentionBackward). Kept either way: query, keys, values, output
    // and lse, nothing per score.
    RankedTensorType query = attention.getQuery().getType();
    SmallVector<int64_t, 5> loops = attention.getLoopSizes();
    double b = loops[0], i = loops[1], j = loops[2], d = loops[3], e = loops[4];
    double scores = b * i * j;
    std::optional<FusedAttentionForm> form = getBuiltFusedForm(attention);
    work.elementType = query.getElementType();
    work.iterations = scores * (d + e);
    work.parallelIterations =
        b * i * std::min(j, OpWorkload::kReductionThreads);
    SmallVector<Value> inputs = {attention.getQuery(), attention.getKey(),
                                 attention.getValue()};
    for (Value input : inputs)
      addParamRead(input);
    bool differentiated = anyGradOperand(inputs);
    // The decomposition's price, into `w` (its results' bytes written).
    auto priceDecomposition = [&](OpWorkload &w) {
      AttentionPasses passes = getAttentionPasses(attention);
      w.macs = scores * (d + e);
      w.flops = 2 * w.macs + 6 * scores;
      double inputBytes = 0;
      for (Value input : inputs)
        inputBytes += sizeInBytes(input.getType());
      // The mask's inputs (a padding mask: batch x keys) read once.
      for (Value input : attention.getMaskInputs())
        inputBytes += sizeInBytes(input.getType());
      w.bytesRead = inputBytes + scores * passes.fwdReadPerScore;
      w.bytesWritten += scores * passes.fwdWrittenPerScore;
      std::tie(w.internalBytes, w.internalBytesLimit) =
          getAttentionHeldBytes(attention, 2);
      w.kernels = passes.fwdKernels;
      if (differentiated) {
        AttentionBackward backward = getAttentionBackward(attention);
        w.bwdDataFlops = backward.flops;
        w.bwdBytes = backward.bytes;
        w.internalBytes = backward.internalBytes;
        w.internalBytesLimit = backward.internalBytesLimit;
        w.bwdKernels = backward.kernels;
      }
    };
    std::shared_ptr<OpWorkload> decomposed;
    if (form) {
      // What a device whose query rows are no whole stacks builds.
      decomposed = std::make_shared<OpWorkload>(work);
      priceDecomposition(*decomposed);
      FusedAttentionWork fused = getFusedAttentionWork(attention, *form);
      work.macs = fused.macs;
      work.flops = fused.flops;
      work.bytesRead = fused.bytesRead;
      work.bytesWritten = fused.bytesWritten;
      work.kernels = FusedAttentionWork::kKernels;
      if (differentiated) {
        work.bwdDataFlops = fused.bwdFlops;
        work.bwdBytes = fused.bwdBytes;
        work.internalBytes = fused.bwdInternalBytes;
        work.bwdKernels = FusedAttentionWork::kBwdKernels;
      }
      work.fusedAttentionStacks = form->stacks;
      SmallVector<int64_t, 5> loops = attention.getLoopSizes();
      work.attentionRows = loops[1];
      work.attentionKeys = loops[2];
      work.causalAttention = form->causal;
    } else {
      priceDecomposition(work);
    }
    if (differentiated) {
      for (Value input : inputs)
        keepForBackward(input);
      for (Value input : attention.getMaskInputs())
        keepForBackward(input);
      keepForBackward(attention.getResult());
      keepForBackward(attention.getLse());
    }
    if (decomposed) {
      // Kept and read alike.
      decomposed->savedBytes = work.savedBytes;
      decomposed->paramCount = work.paramCount;
      decomposed->paramBytes = work.paramBytes;
      work.decomposedAttention = std::move(decomposed);
    }
    propagateGrad(inputs);
  } else if (auto grad = dyn_cast<AttentionGradOp>(op)) {
    // A training step's backward of an attention, priced as the
    // attention's backward estimate (never differentiated itself): cuDNN's
    // fused backward where it computes it, else the decomposition's.
    SmallVector<int64_t, 5> loops = grad.getLoopSizes();
    work.elementType = grad.getQuery().getType().getElementType();
    work.parallelIterations =
        loops[0] * loops[1] *
        std::min<double>(loops[2], OpWorkload::kReductionThreads);
    std::optional<FusedAttentionForm> form = getBuiltFusedForm(grad);
    if (form) {
      FusedAttentionWork fused = getFusedAttentionWork(grad, *form);
      work.fusedAttentionStacks = form->stacks;
      work.macs = fused.bwdMacs;
      work.flops = fused.bwdFlops;
      work.bytesWritten = fused.bwdInputBytes;
      work.bytesRead = fused.bwdBytes - fused.bwdInputBytes;
      work.internalBytes = fused.bwdInternalBytes;
      work.kernels = FusedAttentionWork::kBwdKernels;
    } else {
      AttentionBackward backward = getAttentionBackward(grad);
      work.macs = backward.macs;
      work.flops = backward.flops;
      // The gradients (shaped like the inputs) written, the rest read.
      work.bytesWritten = backward.inputBytes;
      work.bytesRead = backward.bytes - backward.inputBytes;
      work.internalBytes = backward.internalBytes;
      work.internalBytesLimit = backward.internalBytesLimit;
      work.kernels = backward.kernels;
    }
    work.iterations = work.macs;
  } else if (auto softmax = dyn_cast<linalg::SoftmaxOp>(op)) {
    // Per element: max, subtract, exp, sum, divide; the backward
    // y * (dy - sum(dy * y)) reads the saved output and costs four.
    Value input = softmax.getInput();
    work.iterations = numElements(input.getType());
    work.flops = 5 * work.iterations;
    work.bytesRead = sizeInBytes(input.getType());
    if (anyGradOperand(input)) {
      work.bwdDataFlops = 4 * work.iterations;
      work.bwdBytes = 3 * work.bytesWritten;
      keepForBackward(softmax.getResult()[0]);
    }
    propagateGrad(input);
  } else if (auto pad = dyn_cast<tensor::PadOp>(op)) {
    work.bytesRead = sizeInBytes(pad.getSource().getType());
    if (requiresGrad.contains(pad.getSource()))
      work.bwdBytes = work.bytesRead + work.bytesWritten;
    propagateGrad(pad.getSource());
  } else if (isa<tensor::ExtractSliceOp>(op)) {
    work.bytesRead = work.bytesWritten;
    if (anyGradOperand(op->getOperands()))
      work.bwdBytes = 2 * work.bytesWritten;
    propagateGrad(op->getOperands());
  } else if (auto insert = dyn_cast<tensor::InsertSliceOp>(op)) {
    double moved = sizeInBytes(insert.getSource().getType());
    work.bytesRead = moved;
    work.bytesWritten = moved;
    if (anyGradOperand(op->getOperands()))
      work.bwdBytes = 2 * moved;
    propagateGrad(op->getOperands());
  } else if (isa<tensor::ConcatOp, tensor::InsertOp, tensor::ExtractOp,
                 tensor::FromElementsOp, tensor::SplatOp, tensor::GenerateOp>(
                 op)) {
    for (Value operand : op->getOperands())
      work.bytesRead += sizeInBytes(operand.getType());
    if (anyGradOperand(op->getOperands()))
      work.bwdBytes = work.bytesRead + work.bytesWritten;
    propagateGrad(op->getOperands());
  } else if (op->hasTrait<OpTrait::Elementwise>() && op->getNumRegions() == 0 &&
             op->getNumResults() == 1 &&
             hasStaticShape(op->getResultTypes()[0])) {
    // Elementwise arithmetic on whole tensors.
    work.iterations = numElements(op->getResult(0).getType());
    work.flops = work.iterations * scalarFlops(op);
    for (Value operand : op->getOperands()) {
      work.bytesRead += sizeInBytes(operand.getType());
      addParamRead(operand);
    }
    for (Value operand : op->getOperands())
      if (requiresGrad.contains(operand) && isFloatLike(operand.getType())) {
        double gradFlops = work.iterations * std::max(1u, scalarFlops(op));
        if (roles.isParameter(operand))
          work.bwdWeightFlops += gradFlops;
        else
          work.bwdDataFlops += gradFlops;
        work.bwdBytes += work.bytesWritten + sizeInBytes(operand.getType());
      }
    if (!isLinearInAllOperands(op) && anyGradOperand(op->getOperands()))
      for (Value operand : op->getOperands())
        keepForBackward(operand);
    propagateGrad(op->getOperands());
  } else {
    // Not understood: say so, and assume one FLOP per result element, a
    // full read of every operand and a backward as costly as the forward.
    work.estimated = true;
    for (Value result : op->getResults())
      work.flops += numElements(result.getType());
    for (Value operand : op->getOperands()) {
      work.bytesRead += sizeInBytes(operand.getType());
      addParamRead(operand);
    }
    if (anyGradOperand(op->getOperands())) {
      work.bwdDataFlops = work.flops;
      work.bwdBytes = work.bytes();
    }
    op->emitWarning() << "autopar: cannot analyse '" << op->getName()
                      << "'; assuming one FLOP per result element, one read "
                         "of every operand and a backward as costly as the "
                         "forward";
    propagateGrad(op->getOperands());
  }
  index[op] = ops.size();
  ops.push_back(work);
}

//===----------------------------------------------------------------------===//
// WorkloadAnalysis
//===----------------------------------------------------------------------===//

WorkloadAnalysis::WorkloadAnalysis(Operation *op, WorkloadOptions options) {
  auto analyze = [&](FunctionOpInterface func) {
    if (!func.isExternal())
      functions.push_back(std::make_unique<FunctionWorkload>(func, options));
  };
  if (auto func = dyn_cast<FunctionOpInterface>(op)) {
    analyze(func);
    return;
  }
  for (Region &region : op->getRegions())
    for (Block &block : region)
      for (Operation &nested : block)
        if (auto func = dyn_cast<FunctionOpInterface>(nested))
          analyze(func);
}

const OpWorkload *WorkloadAnalysis::lookup(Operation *op) const {
  for (const auto &function : functions)
    if (const OpWorkload *work = function->lookup(op))
      return work;
  return nullptr;
}
