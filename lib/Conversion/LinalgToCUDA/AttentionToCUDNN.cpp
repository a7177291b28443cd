//===- AttentionToCUDNN.cpp - attentions as cuDNN's fused attention -------===//
//
// autopar-attention-to-cudnn: 16-bit autopar.attention and
// autopar.attention_grad ops that cuDNN's fused flash attention computes
// become autopar.library_call ops of autopar_cuda_attention(_grad), reading
// and writing the heads' views in place where the operands are views of
// [b, s, h * d] projections (include/autopar/Conversion/Passes.td).
//
//===----------------------------------------------------------------------===//

#include "autopar/Conversion/Passes.h"
#include "autopar/Dialect/AutoparOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/StringSet.h"

namespace mlir::autopar {
#define GEN_PASS_DEF_ATTENTIONTOCUDNN
#include "autopar/Conversion/Passes.h.inc"
} // namespace mlir::autopar

using namespace mlir;
using namespace mlir::autopar;

namespace {
/// Largest head dimension cuDNN's fused attention takes (Hopper).
constexpr int64_t kMaxHeadDim = 256;

/// An operand as cuDNN reads or writes it: [b, h, s, d] elements of the
/// row-major tensor `base`, with these strides for b, h and s (d's is 1).
struct HeadsView {
  Value base;
  int64_t batch = 0, heads = 0;
  std::array<int64_t, 3> strides = {0, 0, 0};
};

SmallVector<int64_t, 4> rowMajorStrides(ArrayRef<int64_t> shape) {
  SmallVector<int64_t, 4> strides(shape.size(), 1);
  for (int64_t i = static_cast<int64_t>(shape.size()) - 2; i >= 0; --i)
    strides[i] = strides[i + 1] * shape[i + 1];
  return strides;
}

/// The b, h and s strides of a row-major [b * h, X, Y] tensor read as
/// [b, h, X, Y].
std::array<int64_t, 3> contiguousStrides(int64_t heads, int64_t x, int64_t y) {
  return {heads * x * y, x * y, y};
}

ArrayRef<int64_t> shapeOf(Value value) {
  return cast<RankedTensorType>(value.getType()).getShape();
}

/// Whether `reassociation` splits or merges the first two dimensions of a
/// 4-D shape and keeps the other two ([[0, 1], [2], [3]]).
bool isHeadsGrouping(ArrayRef<ReassociationIndices> reassociation) {
  return reassociation.size() == 3 && reassociation[0].size() == 2 &&
         reassociation[1].size() == 1 && reassociation[2].size() == 1;
}

/// The view [B, X, Y] `value` is of a row-major tensor, with its first
/// dimension split into [b, h] where it is a collapse of a 4-D tensor; with
/// `swap`, read as [B, Y, X].
HeadsView traceInput(Value value, bool swap) {
  HeadsView view;
  ArrayRef<int64_t> shape = shapeOf(value);
  SmallVector<int64_t, 4> strides;
  auto collapse = value.getDefiningOp<tensor::CollapseShapeOp>();
  if (collapse && isHeadsGrouping(collapse.getReassociationIndices())) {
    Value grouped = collapse.getSrc();
    ArrayRef<int64_t> groupedShape = shapeOf(grouped);
    view.batch = groupedShape[0];
    view.heads = groupedShape[1];
    Value source = grouped;
    SmallVector<int64_t> permutation = {0, 1, 2, 3};
    if (auto transpose = grouped.getDefiningOp<linalg::TransposeOp>()) {
      source = transpose.getInput();
      permutation.assign(transpose.getPermutation().begin(),
                         transpose.getPermutation().end());
    }
    SmallVector<int64_t, 4> sourceStrides = rowMajorStrides(shapeOf(source));
    // An expansion of a row-major tensor is laid out as that tensor.
    view.base = source;
    if (auto expand = source.getDefiningOp<tensor::ExpandShapeOp>())
      view.base = expand.getSrc();
    for (int64_t i = 0; i < 4; ++i)
      strides.push_back(sourceStrides[permutation[i]]);
  } else {
    view.base = value;
    view.batch = shape[0];
    view.heads = 1;
    std::array<int64_t, 3> plain = contiguousStrides(1, shape[1], shape[2]);
    strides = {plain[0], plain[1], plain[2], 1};
  }
  if (swap)
    std::swap(strides[2], strides[3]);
  if (strides[3] != 1)
    view.base = nullptr;
  view.strides = {strides[0], strides[1], strides[2]};
  return view;
}

/// Whether `value` is zeros (a fill with 0, or a zero splat).
bool isZeros(Value value) {
  return isZeroFilled(value) || matchPattern(value, m_AnyZeroFloat());
}

/// Whether the mask region is the causal mask j > i (or none at all) with
/// a masked value that zeroes the probability.
std::optional<bool> getCausal(AttentionOpInterface op,
                              std::optional<double> masked, bool additive,
                              bool hasMaskInputs) {
  if (!op.hasMask())
    return false;
  if (additive || hasMaskInputs || !masked || *masked > -1e30)
    return std::nullopt;
  Block &block = op.getMaskRegion().front();
  if (block.getNumArguments() != 3 ||
      !llvm::hasSingleElement(block.without_terminator()))
    return std::nullopt;
  auto compare = dyn_cast<arith::CmpIOp>(block.front());
  auto yield = cast<YieldOp>(block.getTerminator());
  if (!compare || yield.getValues().size() != 1 ||
      yield.getValues()[0] != compare.getResult())
    return std::nullopt;
  Value row = block.getArgument(1), key = block.getArgument(2);
  arith::CmpIPredicate predicate = compare.getPredicate();
  bool keyAbove = compare.getLhs() == key && compare.getRhs() == row &&
                  (predicate == arith::CmpIPredicate::ugt ||
                   predicate == arith::CmpIPredicate::sgt);
  bool rowBelow = compare.getLhs() == row && compare.getRhs() == key &&
                  (predicate == arith::CmpIPredicate::ult ||
                   predicate == arith::CmpIPredicate::slt);
  if (!keyAbove && !rowBelow)
    return std::nullopt;
  return true;
}

/// The runtime's code for a 16-bit type: 1 f16, 2 bf16.
std::optional<int32_t> getTypeCode(Type type) {
  if (type.isF16())
    return 1;
  if (type.isBF16())
    return 2;
  return std::nullopt;
}

/// An output of the call: its init (what cuDNN writes, a new tensor) and
/// how to get the op's result back from the call's.
struct OutputPlan {
  HeadsView view;
  /// The [b, h, X, Y] -> layout transpose whose result the call's output
  /// replaces (and the expansion before it), or none.
  mutable linalg::TransposeOp transpose;
  mutable tensor::ExpandShapeOp expand;
  bool swap = false;
};

/// Where the call writes result `value` [B, X, Y] (with `swap`, as
/// [B, Y, X]) given the inputs' [b, h] split: into the layout of the
/// transpose its expansion feeds, when that is its use, else row-major.
OutputPlan planOutput(Value value, int64_t batch, int64_t heads, bool swap) {
  OutputPlan plan;
  plan.swap = swap;
  ArrayRef<int64_t> shape = shapeOf(value);
  for (Operation *user : value.getUsers()) {
    auto expand = dyn_cast<tensor::ExpandShapeOp>(user);
    if (!expand || !isHeadsGrouping(expand.getReassociationIndices()) ||
        shapeOf(expand.getResult())[0] != batch || !expand->hasOneUse())
      continue;
    auto transpose = dyn_cast<linalg::TransposeOp>(*expand->user_begin());
    if (!transpose || transpose.getInput() != expand.getResult() ||
        !transpose.getInit().getDefiningOp<tensor::EmptyOp>())
      continue;
    ArrayRef<int64_t> permutation = transpose.getPermutation();
    SmallVector<int64_t, 4> layout =
        rowMajorStrides(shapeOf(transpose.getResult()[0]));
    SmallVector<int64_t, 4> strides(4);
    for (int64_t k = 0; k < 4; ++k)
      strides[permutation[k]] = layout[k];
    if (swap)
      std::swap(strides[2], strides[3]);
    if (strides[3] != 1)
      continue;
    plan.transpose = transpose;
    plan.expand = expand;
    plan.view.batch = batch;
    plan.view.heads = heads;
    plan.view.strides = {strides[0], strides[1], strides[2]};
    return plan;
  }
  plan.view.batch = batch;
  plan.view.heads = heads;
  int64_t x = swap ? shape[2] : shape[1], y = swap ? shape[1] : shape[2];
  plan.view.strides = contiguousStrides(heads, x, y);
  return plan;
}

/// The call's output tensor for `plan` of result `value`.
Value buildOutputInit(OpBuilder &builder, Location loc, Value value,
                      const OutputPlan &plan) {
  auto type = cast<RankedTensorType>(value.getType());
  if (plan.transpose)
    return tensor::EmptyOp::create(builder, loc,
                                   shapeOf(plan.transpose.getResult()[0]),
                                   type.getElementType());
  SmallVector<int64_t, 3> shape(type.getShape());
  if (plan.swap)
    std::swap(shape[1], shape[2]);
  return tensor::EmptyOp::create(builder, loc, shape, type.getElementType());
}

Value buildTranspose(OpBuilder &builder, Location loc, Value input,
                     ArrayRef<int64_t> permutation) {
  auto type = cast<RankedTensorType>(input.getType());
  SmallVector<int64_t, 4> shape;
  for (int64_t i : permutation)
    shape.push_back(type.getDimSize(i));
  Value init =
      tensor::EmptyOp::create(builder, loc, shape, type.getElementType());
  return linalg::TransposeOp::create(builder, loc, input, init, permutation)
      ->getResult(0);
}

/// Replaces `value` (an attention's result) by what the call wrote into
/// `written` for `plan`: the transpose it replaces takes it as is; other
/// users get [B, X, Y] back (a transpose, then the collapse of the heads).
void replaceOutput(OpBuilder &builder, Location loc, Value value, Value written,
                   const OutputPlan &plan) {
  if (!plan.transpose) {
    value.replaceAllUsesWith(
        plan.swap ? buildTranspose(builder, loc, written, {0, 2, 1}) : written);
    return;
  }
  SmallVector<int64_t, 4> inverse(4);
  ArrayRef<int64_t> permutation = plan.transpose.getPermutation();
  for (int64_t k = 0; k < 4; ++k)
    inverse[permutation[k]] = k;
  plan.transpose.getResult()[0].replaceAllUsesWith(written);
  plan.transpose->erase();
  plan.expand->erase();
  if (value.use_empty())
    return;
  Value heads = buildTranspose(builder, loc, written, inverse);
  Value back = tensor::CollapseShapeOp::create(
      builder, loc, value.getType(), heads,
      ArrayRef<ReassociationIndices>{{0, 1}, {2}, {3}});
  value.replaceAllUsesWith(back);
}

/// The inputs' views, all with the same [b, h] split: a view whose split
/// differs, or that cuDNN cannot read (the head dimension not contiguous),
/// is read as the op's operand itself (the key transposed to [B, J, D]),
/// [B, 1] for all.
SmallVector<HeadsView> planInputs(OpBuilder &builder, Location loc,
                                  ArrayRef<Value> values,
                                  ArrayRef<bool> swaps) {
  SmallVector<HeadsView> views;
  for (auto [value, swap] : llvm::zip_equal(values, swaps))
    views.push_back(traceInput(value, swap));
  bool agree = llvm::all_of(views, [&](const HeadsView &view) {
    return view.base && view.batch == views[0].batch &&
           view.heads == views[0].heads;
  });
  if (agree)
    return views;
  for (auto [view, value, swap] : llvm::zip_equal(views, values, swaps)) {
    Value plain = swap ? buildTranspose(builder, loc, value, {0, 2, 1}) : value;
    ArrayRef<int64_t> shape = shapeOf(plain);
    view.base = plain;
    view.batch = shape[0];
    view.heads = 1;
    view.strides = contiguousStrides(1, shape[1], shape[2]);
  }
  return views;
}

/// The attention's checks: 16-bit operands of one type, f32 lse, head
/// dimensions cuDNN takes, static shapes, the causal mask or none.
struct Eligible {
  int32_t dtype;
  bool causal;
};

std::optional<Eligible> getEligible(AttentionOpInterface op,
                                    ArrayRef<Value> sixteenBit, Value lse,
                                    std::optional<double> masked, bool additive,
                                    bool hasMaskInputs) {
  std::optional<int32_t> dtype;
  for (Value value : sixteenBit) {
    auto type = dyn_cast<RankedTensorType>(value.getType());
    if (!type || !type.hasStaticShape() || type.getRank() != 3)
      return std::nullopt;
    std::optional<int32_t> code = getTypeCode(type.getElementType());
    if (!code || (dtype && *code != *dtype))
      return std::nullopt;
    dtype = code;
  }
  auto lseType = dyn_cast<RankedTensorType>(lse.getType());
  if (!lseType || !lseType.getElementType().isF32() || !dtype)
    return std::nullopt;
  // Query [B, I, D], key [B, D, J], value [B, J, E].
  int64_t dim = shapeOf(sixteenBit[0])[2], valueDim = shapeOf(sixteenBit[2])[2];
  for (int64_t size : {dim, valueDim})
    if (size % 8 != 0 || size > kMaxHeadDim)
      return std::nullopt;
  std::optional<bool> causal = getCausal(op, masked, additive, hasMaskInputs);
  if (!causal)
    return std::nullopt;
  return Eligible{*dtype, *causal};
}

/// The runtime call's values: the strides of what it reads and then of
/// what it writes, b, h, the rows, keys and head dimensions (from the
/// query [B, I, D] and the value [B, J, E]), the scale, the mask, the type.
ArrayAttr buildValues(Builder &builder, ArrayRef<HeadsView> views, Value query,
                      Value value, APFloat scale, const Eligible &eligible) {
  SmallVector<Attribute> values;
  for (const HeadsView &view : views)
    for (int64_t stride : view.strides)
      values.push_back(builder.getI64IntegerAttr(stride));
  ArrayRef<int64_t> rows = shapeOf(query), keys = shapeOf(value);
  for (int64_t size :
       {views[0].batch, views[0].heads, rows[1], keys[1], rows[2], keys[2]})
    values.push_back(builder.getI64IntegerAttr(size));
  values.push_back(builder.getF64FloatAttr(scale.convertToDouble()));
  values.push_back(builder.getI32IntegerAttr(eligible.causal));
  values.push_back(builder.getI32IntegerAttr(eligible.dtype));
  return builder.getArrayAttr(values);
}

void rewriteAttention(AttentionOp op, const Eligible &eligible) {
  OpBuilder builder(op);
  Location loc = op.getLoc();
  SmallVector<HeadsView> inputs =
      planInputs(builder, loc, {op.getQuery(), op.getKey(), op.getValue()},
                 {false, true, false});
  int64_t batch = inputs[0].batch, heads = inputs[0].heads;
  OutputPlan out = planOutput(op.getResult(), batch, heads, false);
  Value outInit = buildOutputInit(builder, loc, op.getResult(), out);
  auto lseType = cast<RankedTensorType>(op.getLse().getType());
  Value lseInit = tensor::EmptyOp::create(builder, loc, lseType.getShape(),
                                          lseType.getElementType());
  SmallVector<HeadsView> views = inputs;
  views.push_back(out.view);
  ArrayAttr values = buildValues(builder, views, op.getQuery(), op.getValue(),
                                 op.getScale(), eligible);
  auto call = LibraryCallOp::create(
      builder, loc, TypeRange{outInit.getType(), lseType},
      "autopar_cuda_attention",
      ValueRange{inputs[0].base, inputs[1].base, inputs[2].base},
      ValueRange{outInit, lseInit}, values,
      /*stream_ordered=*/true);
  op.getLse().replaceAllUsesWith(call.getResult(1));
  replaceOutput(builder, loc, op.getResult(), call.getResult(0), out);
  op->erase();
}

void rewriteAttentionGrad(AttentionGradOp op, const Eligible &eligible) {
  OpBuilder builder(op);
  Location loc = op.getLoc();
  SmallVector<HeadsView> inputs =
      planInputs(builder, loc,
                 {op.getQuery(), op.getKey(), op.getValue(), op.getOutput(),
                  op.getOutputGrad()},
                 {false, true, false, false, false});
  int64_t batch = inputs[0].batch, heads = inputs[0].heads;
  OutputPlan dQ = planOutput(op.getQueryGrad(), batch, heads, false);
  OutputPlan dK = planOutput(op.getKeyGrad(), batch, heads, true);
  OutputPlan dV = planOutput(op.getValueGrad(), batch, heads, false);
  SmallVector<Value> inits = {
      buildOutputInit(builder, loc, op.getQueryGrad(), dQ),
      buildOutputInit(builder, loc, op.getKeyGrad(), dK),
      buildOutputInit(builder, loc, op.getValueGrad(), dV)};
  SmallVector<HeadsView> views = inputs;
  views.append({dQ.view, dK.view, dV.view});
  ArrayAttr values = buildValues(builder, views, op.getQuery(), op.getValue(),
                                 op.getScale(), eligible);
  auto call = LibraryCallOp::create(
      builder, loc, ValueRange(inits).getTypes(), "autopar_cuda_attention_grad",
      ValueRange{inputs[0].base, inputs[1].base, inputs[2].base, inputs[3].base,
                 inputs[4].base, op.getLse()},
      inits, values, /*stream_ordered=*/true);
  replaceOutput(builder, loc, op.getQueryGrad(), call.getResult(0), dQ);
  replaceOutput(builder, loc, op.getKeyGrad(), call.getResult(1), dK);
  replaceOutput(builder, loc, op.getValueGrad(), call.getResult(2), dV);
  op->erase();
}

std::optional<double> toDouble(std::optional<APFloat> value) {
  if (!value)
    return std::nullopt;
  return value->convertToDouble();
}

struct AttentionToCUDNNPass
    : public mlir::autopar::impl::AttentionToCUDNNBase<AttentionToCUDNNPass> {
  using AttentionToCUDNNBase::AttentionToCUDNNBase;

  void runOnOperation() override {
    llvm::StringSet<> host;
    for (const std::string &name : hostFunctions)
      host.insert(name);
    SmallVector<std::pair<AttentionOp, Eligible>> forward;
    SmallVector<std::pair<AttentionGradOp, Eligible>> backward;
    getOperation().walk([&](func::FuncOp func) {
      if (host.contains(func.getSymName()))
        return;
      func.walk([&](Operation *op) {
        if (auto attention = dyn_cast<AttentionOp>(op)) {
          if (std::optional<Eligible> eligible = getEligible(
                  attention,
                  {attention.getQuery(), attention.getKey(),
                   attention.getValue(), attention.getOutput()},
                  attention.getLse(), toDouble(attention.getMasked()),
                  attention.getAdditive(), !attention.getMaskInputs().empty()))
            forward.push_back({attention, *eligible});
        } else if (auto grad = dyn_cast<AttentionGradOp>(op)) {
          if (!isZeros(grad.getLseGrad()))
            return;
          if (std::optional<Eligible> eligible = getEligible(
                  grad,
                  {grad.getQuery(), grad.getKey(), grad.getValue(),
                   grad.getOutput(), grad.getOutputGrad()},
                  grad.getLse(), toDouble(grad.getMasked()), grad.getAdditive(),
                  !grad.getMaskInputs().empty()))
            backward.push_back({grad, *eligible});
        }
      });
    });
    // Forward first: a gradient then reads the layout its forward wrote.
    for (auto [op, eligible] : forward)
      rewriteAttention(op, eligible);
    for (auto [op, eligible] : backward)
      rewriteAttentionGrad(op, eligible);
    if (forward.empty() && backward.empty())
      return;
    // The heads' views the calls no longer read (producers after users).
    SmallVector<Operation *> views;
    getOperation().walk([&](Operation *op) {
      if (isa<tensor::CollapseShapeOp, tensor::ExpandShapeOp,
              linalg::TransposeOp, tensor::EmptyOp>(op))
        views.push_back(op);
    });
    for (Operation *op : llvm::reverse(views))
      if (isOpTriviallyDead(op))
        op->erase();
  }
};
} // namespace
