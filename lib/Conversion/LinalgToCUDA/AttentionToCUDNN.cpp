//===- AttentionToCUDNN.cpp - attentions as cuDNN's fused attention -------===//
//
// autopar-attention-to-cudnn: 16-bit autopar.attention and
// autopar.attention_grad ops that cuDNN's fused flash attention computes
// become autopar.library_call ops of autopar_cuda_attention(_grad), reading
// and writing the heads' views in place where the operands are views of
// [b, s, h * d] projections, grouped-query attention's stacked query heads
// too (include/autopar/Conversion/Passes.td).
//
//===----------------------------------------------------------------------===//

#include "autopar/Conversion/Passes.h"
#include "autopar/Dialect/AutoparOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/StringSet.h"

namespace mlir::autopar {
#define GEN_PASS_DEF_ATTENTIONTOCUDNN
#include "autopar/Conversion/Passes.h.inc"
} // namespace mlir::autopar

using namespace mlir;
using namespace mlir::autopar;

namespace {
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

/// Whether `reassociation` splits or merges [B, X, Y] as the heads' view
/// of an operand with `stacks` query stacks: B into [b, h] and nothing else
/// ([[0, 1], [2], [3]]), or, stacked, also X into [stacks, S]
/// ([[0, 1], [2, 3], [4]]).
bool isHeadsGrouping(ArrayRef<ReassociationIndices> reassociation,
                     int64_t stacks) {
  return reassociation.size() == 3 && reassociation[0].size() == 2 &&
         reassociation[1].size() == (stacks > 1 ? 2u : 1u) &&
         reassociation[2].size() == 1;
}

/// The strides of the heads' view [b, h, X, Y] of a grouped tensor with
/// `strides` per dimension: as they are, or, stacked ([b, h', stacks, S,
/// Y]), with h' and the stacks merged into h = h' x stacks heads where
/// the layout allows it (h' stride = stacks x the stacks' stride).
std::optional<SmallVector<int64_t, 4>>
mergeStacks(ArrayRef<int64_t> groupedShape, ArrayRef<int64_t> strides,
            int64_t stacks) {
  if (stacks == 1)
    return SmallVector<int64_t, 4>(strides);
  if (groupedShape[2] != stacks ||
      (groupedShape[1] > 1 && strides[1] != stacks * strides[2]))
    return std::nullopt;
  return SmallVector<int64_t, 4>{strides[0], strides[2], strides[3],
                                 strides[4]};
}

/// A copy of `input` into `init` permuted as linalg.transpose permutes
/// (result dimension k is input dimension permutation[k]).
struct PermutationCopy {
  Value input, init;
  SmallVector<int64_t, 5> permutation;
};

/// `op` as a permutation copy: a linalg.transpose, or a linalg.generic of
/// one input, both maps permutations, that yields its input (into
/// anything) or adds it to a zero fill, as a training step's backward
/// transposes a gradient.
std::optional<PermutationCopy> getPermutationCopy(Operation *op) {
  if (auto transpose = dyn_cast_or_null<linalg::TransposeOp>(op))
    return PermutationCopy{transpose.getInput(), transpose.getInit(),
                           SmallVector<int64_t, 5>(transpose.getPermutation())};
  auto generic = dyn_cast_or_null<linalg::GenericOp>(op);
  if (!generic || generic.getNumDpsInputs() != 1 ||
      generic.getNumDpsInits() != 1 || !generic.hasPureTensorSemantics() ||
      generic.getNumReductionLoops() != 0)
    return std::nullopt;
  AffineMap inputMap =
      generic.getMatchingIndexingMap(generic.getDpsInputOperand(0));
  AffineMap outputMap =
      generic.getMatchingIndexingMap(generic.getDpsInitOperand(0));
  if (!outputMap.isPermutation() || !inputMap.isPermutation())
    return std::nullopt;
  Block &body = generic.getRegion().front();
  Value yielded = cast<linalg::YieldOp>(body.getTerminator()).getOperand(0);
  Value in = body.getArgument(0), out = body.getArgument(1);
  Value init = generic.getDpsInits()[0];
  bool copies = yielded == in;
  if (auto add = yielded.getDefiningOp<arith::AddFOp>())
    copies = ((add.getLhs() == out && add.getRhs() == in) ||
              (add.getLhs() == in && add.getRhs() == out)) &&
             isZeroFilled(init);
  if (!copies || !llvm::hasNItems(body, yielded == in ? 1 : 2))
    return std::nullopt;
  // The input's index from the result's: input dimension m is result
  // dimension k where the composite's result m is d_k.
  AffineMap composite = inputMap.compose(inversePermutation(outputMap));
  PermutationCopy copy{generic.getDpsInputs()[0], init, {}};
  copy.permutation.resize(composite.getNumResults());
  for (unsigned m = 0; m < composite.getNumResults(); ++m)
    copy.permutation[composite.getDimPosition(m)] = m;
  return copy;
}

/// The view [B, X, Y] `value` is of a row-major tensor (X = stacks x S
/// rows), with its first dimension split into [b, h] where it is a
/// collapse of a grouped tensor (isHeadsGrouping); with `swap`, read as
/// [B, Y, X]. Read as it is, it is [B, stacks] heads of S rows.
HeadsView traceInput(Value value, bool swap, int64_t stacks) {
  HeadsView view;
  ArrayRef<int64_t> shape = shapeOf(value);
  SmallVector<int64_t, 4> strides;
  auto collapse = value.getDefiningOp<tensor::CollapseShapeOp>();
  if (collapse && isHeadsGrouping(collapse.getReassociationIndices(), stacks)) {
    Value grouped = collapse.getSrc();
    ArrayRef<int64_t> groupedShape = shapeOf(grouped);
    int64_t rank = static_cast<int64_t>(groupedShape.size());
    view.batch = groupedShape[0];
    view.heads = groupedShape[1] * stacks;
    Value source = grouped;
    SmallVector<int64_t> permutation = llvm::to_vector(llvm::seq(rank));
    if (std::optional<PermutationCopy> copy =
            getPermutationCopy(grouped.getDefiningOp())) {
      source = copy->input;
      permutation.assign(copy->permutation.begin(), copy->permutation.end());
    }
    SmallVector<int64_t, 4> sourceStrides = rowMajorStrides(shapeOf(source));
    // An expansion of a row-major tensor is laid out as that tensor.
    view.base = source;
    if (auto expand = source.getDefiningOp<tensor::ExpandShapeOp>())
      view.base = expand.getSrc();
    SmallVector<int64_t, 5> groupedStrides;
    for (int64_t i = 0; i < rank; ++i)
      groupedStrides.push_back(sourceStrides[permutation[i]]);
    std::optional<SmallVector<int64_t, 4>> merged =
        mergeStacks(groupedShape, groupedStrides, stacks);
    if (!merged)
      return HeadsView();
    strides = *merged;
  } else {
    view.base = value;
    view.batch = shape[0];
    view.heads = stacks;
    std::array<int64_t, 3> plain =
        contiguousStrides(stacks, shape[1] / stacks, shape[2]);
    strides = {plain[0], plain[1], plain[2], 1};
  }
  if (swap)
    std::swap(strides[2], strides[3]);
  if (strides[3] != 1)
    view.base = nullptr;
  view.strides = {strides[0], strides[1], strides[2]};
  return view;
}

/// The runtime's code for a 16-bit type: 1 f16, 2 bf16.
int32_t getTypeCode(Type type) { return type.isF16() ? 1 : 2; }

/// An output of the call: its init (what cuDNN writes, a new tensor) and
/// how to get the op's result back from the call's.
struct OutputPlan {
  HeadsView view;
  /// The grouped [b, h, X, Y] (stacked: [b, h', stacks, S, Y]) -> layout
  /// transpose (a permutation copy) whose result the call's output
  /// replaces, its permutation (and the expansion before it, with its
  /// reassociation), or none.
  mutable Operation *transpose = nullptr;
  SmallVector<int64_t, 5> permutation;
  mutable tensor::ExpandShapeOp expand;
  SmallVector<ReassociationIndices> grouping;
  bool swap = false;
};

/// Where the call writes result `value` [B, X, Y] (with `swap`, as
/// [B, Y, X]; X = stacks x S rows) given the inputs' [b, h] split: into the
/// layout of the transpose its expansion feeds, when that is its use,
/// else row-major.
OutputPlan planOutput(Value value, int64_t batch, int64_t heads, bool swap,
                      int64_t stacks) {
  OutputPlan plan;
  plan.swap = swap;
  plan.view.batch = batch;
  plan.view.heads = heads;
  ArrayRef<int64_t> shape = shapeOf(value);
  for (Operation *user : value.getUsers()) {
    auto expand = dyn_cast<tensor::ExpandShapeOp>(user);
    if (!expand || !isHeadsGrouping(expand.getReassociationIndices(), stacks) ||
        shapeOf(expand.getResult())[0] != batch || !expand->hasOneUse())
      continue;
    Operation *transpose = *expand->user_begin();
    std::optional<PermutationCopy> copy = getPermutationCopy(transpose);
    if (!copy || copy->input != expand.getResult() ||
        !(copy->init.getDefiningOp<tensor::EmptyOp>() ||
          isZeroFilled(copy->init)))
      continue;
    ArrayRef<int64_t> permutation = copy->permutation;
    ArrayRef<int64_t> groupedShape = shapeOf(expand.getResult());
    size_t rank = groupedShape.size();
    SmallVector<int64_t, 5> layout =
        rowMajorStrides(shapeOf(transpose->getResult(0)));
    SmallVector<int64_t, 5> groupedStrides(rank);
    for (size_t k = 0; k < rank; ++k)
      groupedStrides[permutation[k]] = layout[k];
    std::optional<SmallVector<int64_t, 4>> strides =
        mergeStacks(groupedShape, groupedStrides, stacks);
    if (!strides)
      continue;
    if (swap)
      std::swap((*strides)[2], (*strides)[3]);
    if ((*strides)[3] != 1)
      continue;
    plan.transpose = transpose;
    plan.permutation = copy->permutation;
    plan.expand = expand;
    plan.grouping = expand.getReassociationIndices();
    plan.view.strides = {(*strides)[0], (*strides)[1], (*strides)[2]};
    return plan;
  }
  int64_t x = swap ? shape[2] : shape[1] / stacks;
  int64_t y = swap ? shape[1] : shape[2];
  plan.view.strides = contiguousStrides(heads, x, y);
  return plan;
}

/// The call's output tensor for `plan` of result `value`.
Value buildOutputInit(OpBuilder &builder, Location loc, Value value,
                      const OutputPlan &plan) {
  auto type = cast<RankedTensorType>(value.getType());
  if (plan.transpose)
    return tensor::EmptyOp::create(builder, loc,
                                   shapeOf(plan.transpose->getResult(0)),
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
  ArrayRef<int64_t> permutation = plan.permutation;
  SmallVector<int64_t, 5> inverse(permutation.size());
  for (size_t k = 0; k < permutation.size(); ++k)
    inverse[permutation[k]] = k;
  plan.transpose->getResult(0).replaceAllUsesWith(written);
  plan.transpose->erase();
  plan.expand->erase();
  if (value.use_empty())
    return;
  Value heads = buildTranspose(builder, loc, written, inverse);
  Value back = tensor::CollapseShapeOp::create(builder, loc, value.getType(),
                                               heads, plan.grouping);
  value.replaceAllUsesWith(back);
}

/// An operand of the call: the op's value, whether it is read as [B, Y,
/// X] (the keys, [B, D, J]) and whether it has the query's rows (stacked
/// where the op's are: FusedAttentionForm::stacks) or the keys'.
struct CallOperand {
  Value value;
  bool swap = false, queryRows = true;
};

/// The inputs' views, with one [b, h] split: h query heads (of the query,
/// output and its adjoint) reading h / stacks key-value heads (of the keys
/// and values). Where a view's split differs, or cuDNN cannot read it (the
/// head dimension not contiguous), every operand is read as it is (the key
/// transposed to [B, J, D]): [B, stacks] query heads, [B, 1] key-value
/// heads.
SmallVector<HeadsView> planInputs(OpBuilder &builder, Location loc,
                                  ArrayRef<CallOperand> operands,
                                  int64_t stacks) {
  auto stacksOf = [&](const CallOperand &operand) {
    return operand.queryRows ? stacks : 1;
  };
  SmallVector<HeadsView> views;
  for (const CallOperand &operand : operands)
    views.push_back(traceInput(operand.value, operand.swap, stacksOf(operand)));
  // The keys' heads (operand 1) are the key-value heads.
  int64_t kvHeads = views[1].heads;
  bool agree = llvm::all_of(llvm::zip_equal(views, operands), [&](auto pair) {
    auto [view, operand] = pair;
    return view.base && view.batch == views[0].batch &&
           view.heads == kvHeads * stacksOf(operand);
  });
  if (agree)
    return views;
  for (auto [view, operand] : llvm::zip_equal(views, operands)) {
    Value plain = operand.swap
                      ? buildTranspose(builder, loc, operand.value, {0, 2, 1})
                      : operand.value;
    ArrayRef<int64_t> shape = shapeOf(plain);
    int64_t heads = stacksOf(operand);
    view.base = plain;
    view.batch = shape[0];
    view.heads = heads;
    view.strides = contiguousStrides(heads, shape[1] / heads, shape[2]);
  }
  return views;
}

/// The call's run-time scalar: the causal mask's row offset (the first
/// query row of a device whose rows are split, within its stack where
/// they are a share of one; 0 otherwise).
Value buildRowOffset(OpBuilder &builder, Location loc,
                     const FusedAttentionForm &form) {
  if (!form.rowOffset)
    return arith::ConstantIndexOp::create(builder, loc, 0);
  if (!form.rowOffsetModulus)
    return form.rowOffset;
  return arith::RemUIOp::create(
      builder, loc, form.rowOffset,
      arith::ConstantIndexOp::create(builder, loc, form.rowOffsetModulus));
}

/// The runtime call's values: the strides of what it reads and then of
/// what it writes; b, the query heads and the key-value heads (the views'
/// split: `views` starts with the query's and the keys'); the rows of one
/// stack, keys and head dimensions (from the query [B, I, D] and the value
/// [B, J, E]); the scale, the mask, the type.
ArrayAttr buildValues(Builder &builder, ArrayRef<HeadsView> views, Value query,
                      Value value, APFloat scale,
                      const FusedAttentionForm &form) {
  SmallVector<Attribute> values;
  for (const HeadsView &view : views)
    for (int64_t stride : view.strides)
      values.push_back(builder.getI64IntegerAttr(stride));
  ArrayRef<int64_t> rows = shapeOf(query), keys = shapeOf(value);
  for (int64_t size : {views[0].batch, views[0].heads, views[1].heads,
                       rows[1] / form.stacks, keys[1], rows[2], keys[2]})
    values.push_back(builder.getI64IntegerAttr(size));
  values.push_back(builder.getF64FloatAttr(scale.convertToDouble()));
  values.push_back(builder.getI32IntegerAttr(form.causal));
  values.push_back(builder.getI32IntegerAttr(getTypeCode(form.element)));
  return builder.getArrayAttr(values);
}

void rewriteAttention(AttentionOp op, const FusedAttentionForm &form) {
  OpBuilder builder(op);
  Location loc = op.getLoc();
  SmallVector<HeadsView> inputs = planInputs(builder, loc,
                                             {{op.getQuery()},
                                              {op.getKey(), true, false},
                                              {op.getValue(), false, false}},
                                             form.stacks);
  int64_t batch = inputs[0].batch, heads = inputs[0].heads;
  OutputPlan out = planOutput(op.getResult(), batch, heads, false, form.stacks);
  Value outInit = buildOutputInit(builder, loc, op.getResult(), out);
  auto lseType = cast<RankedTensorType>(op.getLse().getType());
  Value lseInit = tensor::EmptyOp::create(builder, loc, lseType.getShape(),
                                          lseType.getElementType());
  SmallVector<HeadsView> views = inputs;
  views.push_back(out.view);
  ArrayAttr values = buildValues(builder, views, op.getQuery(), op.getValue(),
                                 op.getScale(), form);
  auto call = LibraryCallOp::create(
      builder, loc, TypeRange{outInit.getType(), lseType},
      "autopar_cuda_attention",
      ValueRange{inputs[0].base, inputs[1].base, inputs[2].base},
      ValueRange{outInit, lseInit}, values,
      ValueRange{buildRowOffset(builder, loc, form)},
      /*stream_ordered=*/true);
  op.getLse().replaceAllUsesWith(call.getResult(1));
  replaceOutput(builder, loc, op.getResult(), call.getResult(0), out);
  op->erase();
}

void rewriteAttentionGrad(AttentionGradOp op, const FusedAttentionForm &form) {
  OpBuilder builder(op);
  Location loc = op.getLoc();
  SmallVector<HeadsView> inputs = planInputs(builder, loc,
                                             {{op.getQuery()},
                                              {op.getKey(), true, false},
                                              {op.getValue(), false, false},
                                              {op.getOutput()},
                                              {op.getOutputGrad()}},
                                             form.stacks);
  int64_t batch = inputs[0].batch, heads = inputs[0].heads;
  int64_t kvHeads = inputs[1].heads;
  OutputPlan dQ =
      planOutput(op.getQueryGrad(), batch, heads, false, form.stacks);
  OutputPlan dK = planOutput(op.getKeyGrad(), batch, kvHeads, true, 1);
  OutputPlan dV = planOutput(op.getValueGrad(), batch, kvHeads, false, 1);
  SmallVector<Value> inits = {
      buildOutputInit(builder, loc, op.getQueryGrad(), dQ),
      buildOutputInit(builder, loc, op.getKeyGrad(), dK),
      buildOutputInit(builder, loc, op.getValueGrad(), dV)};
  SmallVector<HeadsView> views = inputs;
  views.append({dQ.view, dK.view, dV.view});
  ArrayAttr values = buildValues(builder, views, op.getQuery(), op.getValue(),
                                 op.getScale(), form);
  auto call = LibraryCallOp::create(
      builder, loc, ValueRange(inits).getTypes(), "autopar_cuda_attention_grad",
      ValueRange{inputs[0].base, inputs[1].base, inputs[2].base, inputs[3].base,
                 inputs[4].base, op.getLse()},
      inits, values, ValueRange{buildRowOffset(builder, loc, form)},
      /*stream_ordered=*/true);
  replaceOutput(builder, loc, op.getQueryGrad(), call.getResult(0), dQ);
  replaceOutput(builder, loc, op.getKeyGrad(), call.getResult(1), dK);
  replaceOutput(builder, loc, op.getValueGrad(), call.getResult(2), dV);
  op->erase();
}

struct AttentionToCUDNNPass
    : public mlir::autopar::impl::AttentionToCUDNNBase<AttentionToCUDNNPass> {
  using AttentionToCUDNNBase::AttentionToCUDNNBase;

  void runOnOperation() override {
    llvm::StringSet<> host;
    for (const std::string &name : hostFunctions)
      host.insert(name);
    SmallVector<std::pair<AttentionOp, FusedAttentionForm>> forward;
    SmallVector<std::pair<AttentionGradOp, FusedAttentionForm>> backward;
    IRRewriter rewriter(&getContext());
    getOperation().walk([&](func::FuncOp func) {
      if (host.contains(func.getSymName()))
        return;
      // Batch and heads kept apart (autopar-fuse-attention) merge again:
      // the call's views read [B, X, Y] as the heads' collapse makes it.
      SmallVector<AttentionOpInterface> attentions;
      func.walk([&](AttentionOpInterface op) { attentions.push_back(op); });
      for (AttentionOpInterface op : attentions)
        mergeAttentionBatch(rewriter, op);
      func.walk([&](Operation *op) {
        if (auto attention = dyn_cast<AttentionOp>(op)) {
          if (std::optional<FusedAttentionForm> form =
                  getFusedAttentionForm(attention))
            forward.push_back({attention, *form});
        } else if (auto grad = dyn_cast<AttentionGradOp>(op)) {
          if (std::optional<FusedAttentionForm> form =
                  getFusedAttentionForm(grad))
            backward.push_back({grad, *form});
        }
      });
    });
    // Forward first: a gradient then reads the layout its forward wrote.
    for (auto [op, form] : forward)
      rewriteAttention(op, form);
    for (auto [op, form] : backward)
      rewriteAttentionGrad(op, form);
    if (forward.empty() && backward.empty())
      return;
    // The heads' views the calls no longer read (producers after users).
    SmallVector<Operation *> views;
    getOperation().walk([&](Operation *op) {
      if (isa<tensor::CollapseShapeOp, tensor::ExpandShapeOp,
              linalg::TransposeOp, linalg::FillOp, tensor::EmptyOp>(op) ||
          getPermutationCopy(op))
        views.push_back(op);
    });
    for (Operation *op : llvm::reverse(views))
      if (isOpTriviallyDead(op))
        op->erase();
  }
};
} // namespace
