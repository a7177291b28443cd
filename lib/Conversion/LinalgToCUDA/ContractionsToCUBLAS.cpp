//===- ContractionsToCUBLAS.cpp - matmuls as cuBLAS calls -----------------===//
//
// For the CUDA backend: every bufferized structured op that is a
// contraction (mul-add body, two inputs, one output) over one m, one n and
// one k loop, at most one batch loop (outermost), on contiguous f32, f16 or
// bf16 buffers (16-bit inputs may accumulate into f32), becomes a call to
// `autopar_cuda_gemm`, which runs cuBLAS's strided batched GEMM (SGEMM for
// f32; GemmEx with f32 compute for 16-bit types, which rounds the result
// once where linalg's loops round after every addition, and does not round
// products to 16 bits where a body widens the product rather than the
// operands). The operands may be stored transposed ([k, m] for
// the left one, [n, k] for the right one, as the backward pass produces
// them); a result stored [n, m] is the product with the inputs exchanged.
// Derived from indexing maps, so linalg.matmul, batch_matmul, their transposed
// variants and the generic contractions of the backward pass are all covered.
// A following op that adds a bias over n (and a residual, and may apply a
// ReLU or tanh-GELU) is folded into the product as a cuBLASLt epilogue
// (`autopar_cuda_gemm_epilogue`) when nothing else can see the product;
// a tanh-GELU after a bias add whose sum others read too (a training
// step's GELU and its backward) folds with the bias add, the call writing
// the sum as AUX (`autopar_cuda_gemm_gelu_aux`); the GELU's backward, with
// its bias's gradient, folds into the product that makes its gradient,
// reading the sum as AUX (`autopar_cuda_gemm_dgelu`, DGELU_BGRAD). A
// training step's ReLU after a bias folds likewise with its backward,
// keeping a bitmask instead of the product (`autopar_cuda_gemm_relu_aux`,
// RELU_AUX_BIAS; `autopar_cuda_gemm_drelu`, DRELU_BGRAD). Other
// contractions run as generated kernels.
//
//===----------------------------------------------------------------------===//

#include "autopar/Analysis/Fusion.h"
#include "autopar/Analysis/Reductions.h"
#include "autopar/Conversion/Buffers.h"
#include "autopar/Conversion/Passes.h"
#include "autopar/Conversion/ProfileOps.h"
#include "autopar/Conversion/RuntimeCalls.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

namespace mlir::autopar {
#define GEN_PASS_DEF_CONTRACTIONSTOCUBLAS
#include "autopar/Conversion/Passes.h.inc"
} // namespace mlir::autopar

using namespace mlir;
using namespace mlir::autopar;

namespace {
/// A contraction as cuBLAS sees it (row-major storage).
struct Gemm {
  int64_t m, n, k, batch;
  bool transA, transB;
  /// Element types as autopar_cuda_gemm encodes them: 0 f32, 1 f16, 2 bf16
  /// (the inputs' and the result's).
  int32_t inputType, resultType;
  /// The op's first input is the right operand: the result is stored
  /// [n, m] for the op's own m and n, i.e. it is the product with the
  /// inputs in the other order.
  bool swapped = false;
};
} // namespace

/// The loop dimensions an operand's map reads, in order, when each result
/// is a plain loop dimension.
static std::optional<SmallVector<unsigned>> getDims(AffineMap map) {
  SmallVector<unsigned> dims;
  for (AffineExpr result : map.getResults()) {
    auto dim = dyn_cast<AffineDimExpr>(result);
    if (!dim)
      return std::nullopt;
    dims.push_back(dim.getPosition());
  }
  return dims;
}

static std::optional<Gemm> matchGemm(linalg::LinalgOp op) {
  if (!op.hasPureBufferSemantics() || op.getNumDpsInputs() != 2 ||
      op.getNumDpsInits() != 1 || !linalg::isaContractionOpInterface(op))
    return std::nullopt;
  // Both inputs of one type (f32, f16 or bf16); the result of that type or
  // f32. Bodies may widen the inputs (extf): exact, as cuBLAS's f32 compute.
  std::optional<int32_t> left = getLibraryElementType(op->getOperand(0)),
                         right = getLibraryElementType(op->getOperand(1)),
                         result = getLibraryElementType(op->getOperand(2));
  if (!left || !right || !result || *left != *right ||
      (*result != *left && *result != 0))
    return std::nullopt;
  if (!llvm::all_of(op.getBlock()->without_terminator(), [](Operation &inner) {
        return isa<arith::MulFOp, arith::AddFOp, arith::ExtFOp>(inner);
      }))
    return std::nullopt;
  FailureOr<linalg::ContractionDimensions> contraction =
      linalg::inferContractionDims(op);
  if (failed(contraction) || contraction->m.size() != 1 ||
      contraction->n.size() != 1 || contraction->k.size() != 1 ||
      contraction->batch.size() > 1)
    return std::nullopt;
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  std::optional<SmallVector<unsigned>> a = getDims(maps[0]),
                                       b = getDims(maps[1]),
                                       c = getDims(maps[2]);
  if (!a || !b || !c)
    return std::nullopt;
  unsigned m = contraction->m[0], n = contraction->n[0], k = contraction->k[0];
  // A batch loop leads every operand.
  if (!contraction->batch.empty()) {
    unsigned batch = contraction->batch[0];
    for (SmallVector<unsigned> *dims : {&*a, &*b, &*c}) {
      if (dims->empty() || dims->front() != batch)
        return std::nullopt;
      dims->erase(dims->begin());
    }
  }
  auto is = [](ArrayRef<unsigned> dims, unsigned first, unsigned second) {
    return dims.size() == 2 && dims[0] == first && dims[1] == second;
  };
  Gemm gemm;
  gemm.inputType = *left;
  gemm.resultType = *result;
  if (is(*c, n, m)) {
    // C[n, m] = sum_k B[., .] A[., .]: the same product with the inputs
    // exchanged.
    std::swap(a, b);
    std::swap(m, n);
    gemm.swapped = true;
  }
  if (!is(*c, m, n))
    return std::nullopt;
  if (is(*a, m, k))
    gemm.transA = false;
  else if (is(*a, k, m))
    gemm.transA = true;
  else
    return std::nullopt;
  if (is(*b, k, n))
    gemm.transB = false;
  else if (is(*b, n, k))
    gemm.transB = true;
  else
    return std::nullopt;
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  gemm.m = ranges[m];
  gemm.n = ranges[n];
  gemm.k = ranges[k];
  gemm.batch = contraction->batch.empty() ? 1 : ranges[contraction->batch[0]];
  return gemm;
}

/// A bias (and a residual, and an activation) applied to a gemm's result by
/// the op that follows it, which cuBLASLt folds into the product as an
/// epilogue.
struct Epilogue {
  linalg::GenericOp op;
  Value bias, output;
  /// The other summand (C, beta = 1), if any.
  Value residual;
  EpilogueActivation activation;
  /// Buffers freed between the product and the epilogue (the product's
  /// inputs, freed after their last use): freed after the fused call.
  SmallVector<memref::DeallocOp> frees;
  /// The view of the product the epilogue reads, if any.
  memref::ExpandShapeOp view;
  /// The epilogue reads the product (16-bit inputs, f32) rounded to the
  /// inputs' type: the call writes D in that type.
  bool rounded = false;
};

/// Whether the product's buffer is a whole allocation of the gemm's block
/// (not one a loop around reuses): a fold may replace the product.
static bool hasOwnProductBuffer(linalg::LinalgOp gemmOp) {
  Operation *alloc = gemmOp.getDpsInits()[0].getDefiningOp();
  return alloc && isa<memref::AllocOp, gpu::AllocOp>(alloc) &&
         alloc->getBlock() == gemmOp->getBlock();
}

/// Whether a fold may move a call past `op`, which touches no memory:
/// an allocation, autopar-profile-ops' clock call, or an op without memory
/// effects or regions (frees aside: each caller says which it allows).
static bool touchesNoMemory(Operation *op) {
  return isa<memref::AllocOp, gpu::AllocOp>(op) || isProfilingCall(op) ||
         (isMemoryEffectFree(op) && op->getNumRegions() == 0);
}

/// The op after `gemmOp` that a fold may take into the call: when the
/// product has its own buffer (hasOwnProductBuffer), the next op that
/// touches memory (frees aside; `frees` collects the frees before it), if
/// it is an elementwise generic on buffers with `minInputs` to `maxInputs`
/// inputs and one output.
static linalg::GenericOp
getFollowingElementwise(linalg::LinalgOp gemmOp, unsigned minInputs,
                        unsigned maxInputs,
                        SmallVectorImpl<memref::DeallocOp> &frees) {
  if (!hasOwnProductBuffer(gemmOp))
    return {};
  Operation *next = gemmOp->getNextNode();
  while (next && (isa<memref::DeallocOp>(next) || touchesNoMemory(next))) {
    if (auto free = dyn_cast<memref::DeallocOp>(next))
      frees.push_back(free);
    next = next->getNextNode();
  }
  auto generic = dyn_cast_or_null<linalg::GenericOp>(next);
  if (!generic || generic.getNumDpsInputs() < minInputs ||
      generic.getNumDpsInputs() > maxInputs || generic.getNumDpsInits() != 1 ||
      !generic.hasPureBufferSemantics() ||
      generic.getNumParallelLoops() != generic.getNumLoops())
    return {};
  return generic;
}

/// Whether the product's buffer `product` is used by `gemmOp`, `follower`
/// (the op folded into the call), `view` (a view of it `follower` reads)
/// and `alsoReading` (ops the caller folds too), otherwise only freed or
/// written before the gemm (its initialization, by ops that make no views
/// of it); when `output` is the product's buffer, read after `follower`
/// too. And whether `output` is
/// the product's buffer or an allocation of its own that cannot overlap
/// the product's inputs (unfused, `follower` may write in place into an
/// input that dies there; fused, the product would read what it writes).
static bool isFoldableProduct(linalg::LinalgOp gemmOp, Operation *follower,
                              Operation *view, Value output,
                              ArrayRef<Operation *> alsoReading = {}) {
  Value product = gemmOp.getDpsInits()[0];
  for (Operation *user : product.getUsers()) {
    if (user == gemmOp.getOperation() || user == follower || user == view ||
        isa<memref::DeallocOp>(user) || llvm::is_contained(alsoReading, user))
      continue;
    if (output == product && user->getBlock() == follower->getBlock() &&
        follower->isBeforeInBlock(user))
      continue;
    if (user->getBlock() != gemmOp->getBlock() ||
        !user->isBeforeInBlock(gemmOp) || user->getNumResults() != 0)
      return false;
  }
  Operation *outputAlloc = output.getDefiningOp();
  if (output != product &&
      (!outputAlloc || !isa<memref::AllocOp, gpu::AllocOp>(outputAlloc)))
    return false;
  for (Value input : gemmOp.getDpsInputs())
    if (mayAliasBuffers(getRootBuffer(output), getRootBuffer(input)))
      return false;
  return true;
}

/// Whether `value` is `product`'s buffer or a view of it (an expand_shape).
static bool readsProduct(Value value, Value product) {
  auto view = value.getDefiningOp<memref::ExpandShapeOp>();
  return value == product || (view && view.getSrc() == product);
}

/// The view through which `reader` reads the product (readsProduct's
/// `read`): none when it reads the buffer itself; else the product with its
/// rows split into leading dimensions (a 3-D dense layer's [b, s, n] view
/// of the [b * s, n] product: the same memory, row after row), used by
/// `reader` alone, or failure.
static FailureOr<memref::ExpandShapeOp>
getRowSplitView(Value read, Value product, Operation *reader) {
  if (read == product)
    return memref::ExpandShapeOp();
  auto view = read.getDefiningOp<memref::ExpandShapeOp>();
  if (!isRowSplit(view.getReassociationIndices()) ||
      !llvm::all_of(view->getUsers(),
                    [&](Operation *user) { return user == reader; }))
    return failure();
  return view;
}

/// The elementwise op after `gemm` (a product without batch, stored [m, n],
/// whose inputs and result are of one type: f32, or f16 or bf16 on tensor
/// cores) that computes act(x + b [+ r]) of the product x, or of its rows
/// split into leading dimensions ([b, s, n] of m = b * s), a bias b over n
/// and, when the product starts from zeros (`zeroFilled`), a residual r of
/// x's shape and type (C, beta = 1), the activation none, ReLU or tanh-GELU
/// (Analysis/Fusion.h, matchEpilogueForm), when folding it into the
/// product cannot change what any op sees: the product's buffer is a whole
/// allocation that nothing reads or writes between the two ops nor after
/// the second (deallocation aside), and nothing between them writes
/// memory. A product of 16-bit inputs into zeros in f32 may be read
/// rounded to the inputs' type (a 16-bit training step's dense layer):
/// then x, b, r and the result are of the inputs' type. Ops in
/// `alsoReading` may read the product after the epilogue (the caller folds
/// them too: matchReluTraining).
static std::optional<Epilogue>
matchEpilogue(linalg::LinalgOp gemmOp, const Gemm &gemm, bool zeroFilled,
              ArrayRef<Operation *> alsoReading = {}) {
  if (gemm.swapped || gemm.batch != 1)
    return std::nullopt;
  Value product = gemmOp.getDpsInits()[0];
  SmallVector<memref::DeallocOp> frees;
  linalg::GenericOp generic = getFollowingElementwise(gemmOp, 1, 3, frees);
  if (!generic)
    return std::nullopt;
  // The form (Analysis/Fusion.h, which the cost model asks too).
  std::optional<EpilogueForm> form = matchEpilogueForm(generic);
  if (!form)
    return std::nullopt;
  // One term reads the product, or its rows split (getRowSplitView); the
  // other, if any, is the residual.
  Value read, residual;
  for (Value term : form->terms) {
    if (!read && readsProduct(term, product))
      read = term;
    else
      residual = term;
  }
  if (!read || (residual && (!zeroFilled || readsProduct(residual, product))))
    return std::nullopt;
  // Of one type, or rounded from f32 to the inputs' 16 bits (into zeros:
  // C is then D, in the inputs' type): the product read rounded, or the
  // whole result (a 16-bit export's layer, its bias widened from 16 bits).
  bool rounded = (form->rounded && form->rounded == read) || form->roundsResult;
  if ((form->rounded && !rounded) ||
      (rounded ? gemm.inputType == 0 || gemm.resultType != 0 || !zeroFilled
               : gemm.inputType != gemm.resultType))
    return std::nullopt;
  Type dType = rounded ? getElementTypeOrSelf(gemmOp.getDpsInputs()[0])
                       : getElementTypeOrSelf(product);
  FailureOr<memref::ExpandShapeOp> view =
      getRowSplitView(read, product, generic);
  if (failed(view))
    return std::nullopt;
  if (generic.getNumLoops() != cast<MemRefType>(read.getType()).getRank())
    return std::nullopt;
  Value bias = form->bias, output = generic.getDpsInits()[0];
  auto biasType = bias ? dyn_cast<MemRefType>(bias.getType()) : MemRefType();
  auto outputType = dyn_cast<MemRefType>(output.getType());
  auto readType = cast<MemRefType>(read.getType()).clone(dType);
  if ((bias && (!biasType || biasType.getElementType() != dType ||
                !biasType.getLayout().isIdentity())) ||
      !outputType || outputType != readType || (*view && output == read) ||
      (residual && residual.getType() != readType))
    return std::nullopt;
  if (!isFoldableProduct(gemmOp, generic, view->getOperation(), output,
                         alsoReading))
    return std::nullopt;
  // What is freed in between is none of the epilogue's buffers.
  for (memref::DeallocOp free : frees)
    if (llvm::is_contained({product, bias, output}, free.getMemref()) ||
        (residual && free.getMemref() == residual))
      return std::nullopt;
  return Epilogue{generic,          bias,  output, residual, form->activation,
                  std::move(frees), *view, rounded};
}

/// A tanh-GELU after a bias epilogue (no activation, no residual) that
/// reads the epilogue's output (the sum, or its rows split into leading
/// dimensions) alone, which other ops read too
/// (a training step's GELU backward): one call writes the GELU's output as
/// D and the sum as AUX (cuBLASLt's GELU_AUX_BIAS; Analysis/Fusion.h,
/// isGeluAuxSum), when the GELU's output is an allocation of the type it
/// reads that cannot overlap the product's inputs, and the sum's last
/// dimension (AUX's leading dimension) a multiple of 8.
struct GeluAux {
  linalg::GenericOp op;
  Value output;
  SmallVector<memref::DeallocOp> frees;
};

static std::optional<GeluAux> matchGeluAux(linalg::LinalgOp gemmOp,
                                           Epilogue &epilogue) {
  if (epilogue.activation != EpilogueActivation::None || epilogue.residual ||
      !epilogue.bias)
    return std::nullopt;
  SmallVector<memref::DeallocOp> frees;
  linalg::GenericOp gelu = getFollowingElementwise(
      cast<linalg::LinalgOp>(epilogue.op.getOperation()), 1, 1, frees);
  if (!gelu || !isGeluOfInput(gelu))
    return std::nullopt;
  // The GELU reads the sum, or its rows split into leading dimensions (a
  // Hugging Face GPT-2's Conv1D sums [b * s, n], its GELU reads [b, s, n]).
  Value read = gelu.getDpsInputs()[0];
  auto view = read.getDefiningOp<memref::ExpandShapeOp>();
  if (read != epilogue.output && (!view || view.getSrc() != epilogue.output ||
                                  !isRowSplit(view.getReassociationIndices())))
    return std::nullopt;
  Value output = gelu.getDpsInits()[0];
  auto sumType = cast<MemRefType>(epilogue.output.getType());
  Operation *alloc = output.getDefiningOp();
  if (output == epilogue.output || output.getType() != read.getType() ||
      !sumType.getLayout().isIdentity() || !isGeluAuxShape(sumType) || !alloc ||
      !isa<memref::AllocOp, gpu::AllocOp>(alloc))
    return std::nullopt;
  for (Value input : gemmOp.getDpsInputs())
    if (mayAliasBuffers(getRootBuffer(output), getRootBuffer(input)))
      return std::nullopt;
  // Frees in between (the bias's, the product's inputs') move after the
  // call; the sum and the output live on.
  for (memref::DeallocOp free : frees)
    if (llvm::is_contained({epilogue.output, output}, free.getMemref()))
      return std::nullopt;
  return GeluAux{gelu, output, std::move(frees)};
}

/// Whether `op` writes all of `buffer` and reads none of it: an
/// elementwise generic whose one init is `buffer` (identity map), its
/// value unread, and whose inputs are other buffers.
static bool overwrites(Operation *op, Value buffer) {
  auto generic = dyn_cast<linalg::GenericOp>(op);
  if (!generic || !generic.hasPureBufferSemantics() ||
      generic.getNumDpsInits() != 1 || generic.getDpsInits()[0] != buffer ||
      generic.getNumParallelLoops() != generic.getNumLoops() ||
      !generic.getMatchingIndexingMap(generic.getDpsInitOperand(0))
           .isIdentity() ||
      !generic.getMatchingBlockArgument(generic.getDpsInitOperand(0))
           .use_empty())
    return false;
  return llvm::none_of(generic.getDpsInputs(), [&](Value input) {
    return mayAliasBuffers(getRootBuffer(input), buffer);
  });
}

/// Whether no op after `op` in its block reads `buffer` (an allocation)
/// before it is freed or overwritten whole.
static bool isDeadAfter(Value buffer, Operation *op) {
  for (Operation *next = op->getNextNode(); next; next = next->getNextNode()) {
    // Views pass it on (their users are what touch it); anything else
    // that takes it (a return, a call, a reading op) reads it.
    if (!touchesBuffer(next, buffer) || isa<ViewLikeOpInterface>(next))
      continue;
    if (auto free = dyn_cast<memref::DeallocOp>(next))
      return free.getMemref() == buffer;
    return overwrites(next, buffer);
  }
  return true;
}

/// A residual added after a bias epilogue (no activation, no residual,
/// the product into zeros) that reads the epilogue's output (the sum), or
/// its rows split into leading dimensions, which nothing reads after it
/// (isDeadAfter): a Hugging Face GPT-2's Conv1D sums [b * s, n] and the
/// residual add reads it viewed [b, s, n]. One call writes the residual
/// add's result as D, the residual as C (beta = 1); the sum is not written
/// (its buffer goes when nothing else uses it). A 16-bit export's sum is
/// rounded (the epilogue's `rounded`) and the residual added in 16 bits:
/// the call adds C to the f32 sum and rounds once, where the IR rounds the
/// sum, then the addition (within a 16-bit ulp of it).
/// Under matchEpilogue's conditions for the residual: of the read's type,
/// the result an allocation of that type that overlaps neither the
/// product's inputs nor the residual.
struct ResidualAfter {
  linalg::GenericOp op;
  Value residual, output;
  memref::ExpandShapeOp view;
  SmallVector<memref::DeallocOp> frees;
};

static std::optional<ResidualAfter> matchResidualAfter(linalg::LinalgOp gemmOp,
                                                       Epilogue &epilogue,
                                                       bool zeroFilled) {
  if (epilogue.activation != EpilogueActivation::None || epilogue.residual ||
      !epilogue.bias || !zeroFilled)
    return std::nullopt;
  SmallVector<memref::DeallocOp> frees;
  linalg::GenericOp add = getFollowingElementwise(
      cast<linalg::LinalgOp>(epilogue.op.getOperation()), 2, 2, frees);
  if (!add)
    return std::nullopt;
  std::optional<EpilogueForm> form = matchEpilogueForm(add);
  if (!form || form->bias || form->rounded ||
      form->activation != EpilogueActivation::None || form->terms.size() != 2)
    return std::nullopt;
  Value sum = epilogue.output;
  unsigned index = readsProduct(form->terms[0], sum) ? 0 : 1;
  Value read = form->terms[index], residual = form->terms[1 - index];
  if (!readsProduct(read, sum) || readsProduct(residual, sum))
    return std::nullopt;
  // (The view may serve others too: bufferization gives the sums of two
  // such layers one buffer, and CSE their views one op.)
  auto view = read.getDefiningOp<memref::ExpandShapeOp>();
  if (read != sum && !isRowSplit(view.getReassociationIndices()))
    return std::nullopt;
  // Nothing else reads the sum: after the add, the buffer is freed or
  // written whole before anything reads it (bufferization gives the sums
  // of two such layers one buffer).
  if (!isDeadAfter(sum, add))
    return std::nullopt;
  Value output = add.getDpsInits()[0];
  Operation *alloc = output.getDefiningOp();
  if (output.getType() != read.getType() ||
      residual.getType() != read.getType() ||
      add.getNumLoops() != cast<MemRefType>(read.getType()).getRank() ||
      !cast<MemRefType>(output.getType()).getLayout().isIdentity() || !alloc ||
      !isa<memref::AllocOp, gpu::AllocOp>(alloc) ||
      mayAliasBuffers(getRootBuffer(output), getRootBuffer(residual)))
    return std::nullopt;
  for (Value input : gemmOp.getDpsInputs())
    if (mayAliasBuffers(getRootBuffer(output), getRootBuffer(input)))
      return std::nullopt;
  for (memref::DeallocOp free : frees)
    if (llvm::is_contained({output, residual}, free.getMemref()))
      return std::nullopt;
  return ResidualAfter{add, residual, output, view, std::move(frees)};
}

/// Whether `generic` sums its one input (identity map) over every loop but
/// the last into its init (a rank-1 buffer over that loop).
static bool isColumnSum(linalg::GenericOp generic) {
  unsigned rank = generic.getNumLoops();
  if (generic.getNumDpsInputs() != 1 || generic.getNumDpsInits() != 1 ||
      rank < 2 || generic.getNumReductionLoops() != rank - 1 ||
      generic.getIteratorTypesArray().back() != utils::IteratorType::parallel)
    return false;
  SmallVector<AffineMap> maps = generic.getIndexingMapsArray();
  MLIRContext *context = generic.getContext();
  if (!maps[0].isIdentity() ||
      maps[1] != AffineMap::get(rank, 0, {getAffineDimExpr(rank - 1, context)},
                                context))
    return false;
  Block &body = *generic.getBlock();
  auto add = body.getTerminator()->getOperand(0).getDefiningOp<arith::AddFOp>();
  return add && body.getOperations().size() == 2 &&
         llvm::is_contained({add.getLhs(), add.getRhs()},
                            body.getArgument(0)) &&
         llvm::is_contained({add.getLhs(), add.getRhs()}, body.getArgument(1));
}

/// The first op after `from` that reads `buffer` or a view of it, when
/// everything between touches no memory, frees another buffer (collected
/// in `frees`) or is a linalg op on buffers that writes none of `gemmOp`'s
/// inputs (so that the product may move down to it); else null.
static Operation *
getFirstReaderAfter(Operation *from, Value buffer, linalg::LinalgOp gemmOp,
                    SmallVectorImpl<memref::DeallocOp> &frees) {
  auto reads = [&](Value value) { return readsProduct(value, buffer); };
  for (Operation *next = from->getNextNode(); next;
       next = next->getNextNode()) {
    if (auto free = dyn_cast<memref::DeallocOp>(next)) {
      if (free.getMemref() == buffer)
        return nullptr;
      frees.push_back(free);
      continue;
    }
    if (touchesNoMemory(next))
      continue;
    auto linalgOp = dyn_cast<linalg::LinalgOp>(next);
    if (!linalgOp || !linalgOp.hasPureBufferSemantics())
      return nullptr;
    if (llvm::any_of(next->getOperands(), reads))
      return next;
    for (Value written : linalgOp.getDpsInits())
      for (Value input : gemmOp.getDpsInputs())
        if (mayAliasBuffers(getRootBuffer(written), getRootBuffer(input)))
          return nullptr;
  }
  return nullptr;
}

/// The first op after `gemmOp` (whose product has a buffer of its own)
/// that reads the product or a view of it, past ops that write none of the
/// product's inputs (getFirstReaderAfter: the weight gradient autodiff
/// puts between a data gradient and its reader); else null.
static Operation *getFirstReader(linalg::LinalgOp gemmOp,
                                 SmallVectorImpl<memref::DeallocOp> &frees) {
  if (!hasOwnProductBuffer(gemmOp))
    return nullptr;
  return getFirstReaderAfter(gemmOp, gemmOp.getDpsInits()[0], gemmOp, frees);
}

/// The op after `gemm` (a product of 16-bit inputs into an f32 buffer it
/// writes whole, beta = 0) that only rounds the product to the inputs'
/// type, into an allocation of the same shape (a 16-bit attention's
/// products, its context and gradients; a 16-bit export's data gradients):
/// cuBLAS writes the rounded product directly (it computes in f32 and
/// rounds once, the values the two ops make), without the f32 buffer's
/// write and read and the rounding's kernel. The rounding is the product's
/// first reader (getFirstReader: the product moves down to it past the
/// weight gradient autodiff puts between them, which writes none of its
/// inputs); folded under matchEpilogue's conditions.
struct Rounding {
  linalg::GenericOp op;
  Value output;
  SmallVector<memref::DeallocOp> frees;
};

static std::optional<Rounding> matchRounding(linalg::LinalgOp gemmOp,
                                             const Gemm &gemm) {
  if (gemm.inputType == 0 || gemm.resultType != 0)
    return std::nullopt;
  Value product = gemmOp.getDpsInits()[0];
  SmallVector<memref::DeallocOp> frees;
  auto generic =
      dyn_cast_or_null<linalg::GenericOp>(getFirstReader(gemmOp, frees));
  if (!generic || generic.getNumDpsInputs() != 1 ||
      generic.getNumDpsInits() != 1 ||
      generic.getNumParallelLoops() != generic.getNumLoops() ||
      generic.getDpsInputs()[0] != product)
    return std::nullopt;
  Value output = generic.getDpsInits()[0];
  auto productType = cast<MemRefType>(product.getType());
  auto outputType = dyn_cast<MemRefType>(output.getType());
  if (!outputType || outputType.getShape() != productType.getShape() ||
      !outputType.getLayout().isIdentity() ||
      !productType.getLayout().isIdentity() ||
      getLibraryElementType(output) != gemm.inputType ||
      !llvm::all_of(generic.getIndexingMapsArray(),
                    [](AffineMap map) { return map.isIdentity(); }))
    return std::nullopt;
  // Body: yield truncf(x).
  Block &body = *generic.getBlock();
  auto truncate =
      body.getTerminator()->getOperand(0).getDefiningOp<arith::TruncFOp>();
  if (!truncate || truncate.getIn() != body.getArgument(0) ||
      body.getOperations().size() != 2 || output == product ||
      !isFoldableProduct(gemmOp, generic, nullptr, output))
    return std::nullopt;
  for (memref::DeallocOp free : frees)
    if (free.getMemref() == output)
      return std::nullopt;
  return Rounding{generic, output, std::move(frees)};
}

/// The op after `op` past allocations, ops without memory effects, frees of
/// buffers `op` does not write and at most one linalg.fill (set in `fill`):
/// where a bias's gradient, a zero-filled allocation summed into, follows
/// the gradient it sums.
static Operation *getNextAfterFill(linalg::LinalgOp op, Operation *&fill) {
  fill = nullptr;
  for (Operation *next = op->getNextNode(); next; next = next->getNextNode()) {
    if (isa<linalg::FillOp>(next)) {
      if (fill)
        return next;
      fill = next;
      continue;
    }
    if (auto free = dyn_cast<memref::DeallocOp>(next)) {
      if (llvm::is_contained(op.getDpsInits(), free.getMemref()))
        return next;
      continue;
    }
    if (isa<memref::AllocOp>(next) ||
        (isMemoryEffectFree(next) && next->getNumRegions() == 0))
      continue;
    return next;
  }
  return nullptr;
}

/// Whether `bias`, which `sum` sums a gradient into, is a rank-1
/// allocation of `elementType` in `sum`'s block that `fill` fills with
/// zeros just before: a bias's gradient that cuBLASLt's BGRAD epilogues
/// write whole.
static bool isBiasGradientBuffer(linalg::GenericOp sum, Value bias,
                                 Operation *fill, Type elementType) {
  auto biasType = dyn_cast<MemRefType>(bias.getType());
  auto biasAlloc = bias.getDefiningOp<memref::AllocOp>();
  return fill && getZeroFillBefore(sum, bias) == fill && biasType &&
         biasType.getRank() == 1 && biasType.getLayout().isIdentity() &&
         biasType.getElementType() == elementType && biasAlloc &&
         biasAlloc->getNumOperands() == 0 &&
         biasAlloc->getBlock() == sum->getBlock();
}

/// A training step's GELU backward after the product that makes its
/// gradient: the first op after `gemmOp` (f32, no batch, stored [m, n],
/// into zeros) that reads the product, or its rows split into leading
/// dimensions, multiplies it by tanh-GELU's derivative at a kept sum h of
/// its shape (Analysis/Fusion.h, isGeluGradient) into an allocation of
/// that shape, its last dimension a multiple of 8 (h as cuBLASLt's AUX).
/// The product moves down to it: one call writes the gradient (cuBLASLt's
/// DGELU) where it stood, when the ops in between neither touch the
/// product's buffer nor write the product's inputs (linalg ops on buffers
/// only: the weight gradient autodiff puts between them). When the next op
/// sums that gradient (or it with its leading dimensions merged) over its
/// rows into a zero-filled [n] buffer (the bias's gradient) the call
/// writes that sum too (DGELU_BGRAD), and the fill and the sum go.
/// A product of 16-bit inputs (f32, into zeros) may reach the backward
/// rounded to the inputs' type (matchRounding: a 16-bit export's data
/// gradient, read by nothing else): the call then computes in f32 and
/// writes the gradient in that type (h and the result of that type), and
/// the rounding goes; its bias gradient, a sum in f32 of the widened
/// 16-bit gradient, stays an op of its own (BGRAD's sum would be of D's
/// type).
struct GeluGradient {
  linalg::GenericOp op;
  Value output, aux;
  memref::ExpandShapeOp view;
  SmallVector<memref::DeallocOp> frees;
  /// The rounding of the product the backward reads, if any.
  std::optional<Rounding> rounding;
  /// The bias gradient's sum, its fill and its buffer, if folded.
  linalg::GenericOp biasSum;
  Operation *biasFill = nullptr;
  Value biasGradient;
};

static std::optional<GeluGradient>
matchGeluGradient(linalg::LinalgOp gemmOp, const Gemm &gemm, bool zeroFilled) {
  if (gemm.swapped || gemm.batch != 1 || !zeroFilled || gemm.resultType != 0)
    return std::nullopt;
  GeluGradient match;
  // The buffer the backward reads: the product's, or its rounding's.
  Value product = gemmOp.getDpsInits()[0];
  Operation *reader = nullptr;
  if (gemm.inputType == 0) {
    reader = getFirstReader(gemmOp, match.frees);
  } else {
    match.rounding = matchRounding(gemmOp, gemm);
    if (!match.rounding)
      return std::nullopt;
    product = match.rounding->output;
    reader =
        getFirstReaderAfter(match.rounding->op, product, gemmOp, match.frees);
  }
  auto reads = [&](Value value) { return readsProduct(value, product); };
  auto generic = dyn_cast_or_null<linalg::GenericOp>(reader);
  if (!generic || generic.getNumDpsInputs() != 2)
    return std::nullopt;
  unsigned read = reads(generic.getDpsInputs()[0]) ? 0 : 1;
  Value gradient = generic.getDpsInputs()[read];
  Value aux = generic.getDpsInputs()[1 - read];
  Value output = generic.getDpsInits()[0];
  if (!reads(gradient) || reads(aux) ||
      !isGeluGradient(generic, read, 1 - read))
    return std::nullopt;
  FailureOr<memref::ExpandShapeOp> view =
      getRowSplitView(gradient, product, generic);
  if (failed(view))
    return std::nullopt;
  match.view = *view;
  auto outputType = dyn_cast<MemRefType>(output.getType());
  if (!outputType || outputType != gradient.getType() ||
      aux.getType() != outputType || !outputType.getLayout().isIdentity() ||
      !isGeluAuxShape(outputType) || output == aux)
    return std::nullopt;
  if (!match.rounding) {
    if (!isFoldableProduct(gemmOp, generic, match.view.getOperation(), output))
      return std::nullopt;
  } else {
    // The rounded product is read by the backward alone, and the result
    // is an allocation of its own that the product's inputs cannot share.
    Operation *alloc = output.getDefiningOp();
    if (!alloc || !isa<memref::AllocOp, gpu::AllocOp>(alloc))
      return std::nullopt;
    for (Operation *user : product.getUsers())
      if (user != match.rounding->op.getOperation() &&
          user != generic.getOperation() && user != match.view.getOperation() &&
          !isa<memref::DeallocOp>(user))
        return std::nullopt;
    for (Value input : gemmOp.getDpsInputs())
      if (mayAliasBuffers(getRootBuffer(output), getRootBuffer(input)))
        return std::nullopt;
  }
  for (memref::DeallocOp free : match.frees)
    if (llvm::is_contained({aux, output}, free.getMemref()))
      return std::nullopt;
  match.op = generic;
  match.output = output;
  match.aux = aux;
  if (match.rounding)
    return match;
  // The bias's gradient next: an allocation filled with zeros, then the
  // sum of the gradient over its rows into it.
  Operation *fill = nullptr;
  // The sum reads the gradient, or it with its leading dimensions merged
  // (the same rows: a Hugging Face GPT-2's bias gradient over [b * s, n]).
  auto sum =
      dyn_cast_or_null<linalg::GenericOp>(getNextAfterFill(generic, fill));
  if (!fill || !sum || !sum.hasPureBufferSemantics() || !isColumnSum(sum))
    return match;
  Value summed = sum.getDpsInputs()[0];
  if (auto merged = summed.getDefiningOp<memref::CollapseShapeOp>())
    if (merged.getSrc() == output &&
        isRowSplit(merged.getReassociationIndices()))
      summed = output;
  if (summed != output)
    return match;
  Value bias = sum.getDpsInits()[0];
  if (!isBiasGradientBuffer(sum, bias, fill, outputType.getElementType()))
    return match;
  match.biasSum = sum;
  match.biasFill = fill;
  match.biasGradient = bias;
  return match;
}

/// A training step's ReLU after a bias epilogue and its backward, folded
/// into the two products around them (cuBLASLt's RELU_AUX_BIAS and
/// DRELU_BGRAD). The forward: relu(x + b) of a product x (f32, no batch,
/// stored [m, n], into zeros) that matchEpilogue takes but for the ops
/// that read the product after it, which must be the ReLU's backward:
/// the op that yields the gradient g where x + b is positive and 0 where it
/// is negative (Analysis/Fusion.h, isReluGradient; g, x and the result
/// [m, n], b over n) and, if any, the sum of that over the rows into a
/// zero-filled [n] allocation (the bias's gradient) right after it. And g
/// the product of another gemm (f32, no batch, stored [m, n], into zeros)
/// that matchGeluGradient's conditions let move down to the backward, g
/// read by nothing else. Then the forward's call writes the ReLU's result
/// and a bitmask of where the sum is positive (AUX, getReluMaskBytes), the
/// backward's call writes the masked gradient and the bias's gradient
/// reading it, and x and g are never written: the step keeps a bit an
/// element between the two instead of x.
struct ReluTraining {
  Epilogue forward;
  linalg::LinalgOp gradientOp;
  Gemm gradientGemm;
  Operation *gradientFill = nullptr;
  linalg::GenericOp backward;
  SmallVector<memref::DeallocOp> backwardFrees;
  /// The bias gradient's sum and its fill, if any.
  linalg::GenericOp biasSum;
  Operation *biasFill = nullptr;
};

/// Whether `generic` (2 loops, parallel then `lastIterator`) reads `inputs`
/// in that order, the first two [m, n] and the third (the bias) over n,
/// and writes an [m, n] init (`lastIterator` parallel) or an [n] one.
static bool readsReluOperands(linalg::GenericOp generic, ValueRange inputs,
                              bool summed) {
  if (!generic.hasPureBufferSemantics() || generic.getNumLoops() != 2 ||
      generic.getNumDpsInits() != 1 ||
      !llvm::equal(generic.getDpsInputs(), inputs))
    return false;
  MLIRContext *context = generic.getContext();
  AffineMap identity = AffineMap::getMultiDimIdentityMap(2, context);
  AffineMap columns =
      AffineMap::get(2, 0, {getAffineDimExpr(1, context)}, context);
  SmallVector<AffineMap> maps = generic.getIndexingMapsArray();
  SmallVector<utils::IteratorType> iterators = generic.getIteratorTypesArray();
  return maps[0] == identity && maps[1] == identity && maps[2] == columns &&
         maps[3] == (summed ? columns : identity) &&
         iterators[0] == (summed ? utils::IteratorType::reduction
                                 : utils::IteratorType::parallel) &&
         iterators[1] == utils::IteratorType::parallel;
}

static std::optional<ReluTraining>
matchReluTraining(linalg::LinalgOp gemmOp, const Gemm &gemm, bool zeroFilled,
                  const llvm::DenseMap<Operation *, Gemm> &gemms) {
  if (!zeroFilled || gemm.inputType != 0 || gemm.resultType != 0 ||
      gemm.swapped || gemm.batch != 1 || !hasOwnProductBuffer(gemmOp))
    return std::nullopt;
  Value product = gemmOp.getDpsInits()[0];
  Block *block = gemmOp->getBlock();
  // The readers after the epilogue's op: the backward and the bias sum.
  SmallVector<memref::DeallocOp> frees;
  linalg::GenericOp relu = getFollowingElementwise(gemmOp, 2, 2, frees);
  if (!relu)
    return std::nullopt;
  SmallVector<Operation *, 2> readers;
  for (Operation *user : product.getUsers()) {
    if (user == gemmOp.getOperation() || user == relu.getOperation() ||
        isa<memref::DeallocOp>(user) ||
        (user->getBlock() == block && user->isBeforeInBlock(gemmOp)))
      continue;
    if (user->getBlock() != block || llvm::is_contained(readers, user))
      return std::nullopt;
    readers.push_back(user);
  }
  if (readers.empty() || readers.size() > 2)
    return std::nullopt;
  llvm::sort(readers,
             [](Operation *a, Operation *b) { return a->isBeforeInBlock(b); });
  std::optional<Epilogue> forward =
      matchEpilogue(gemmOp, gemm, zeroFilled, readers);
  if (!forward || forward->op != relu ||
      forward->activation != EpilogueActivation::Relu || !forward->bias ||
      forward->residual || forward->rounded || forward->view)
    return std::nullopt;
  ReluTraining match;
  match.forward = std::move(*forward);
  Value bias = match.forward.bias;

  // The backward: g masked where x + b is positive, into an [m, n]
  // allocation.
  match.backward = dyn_cast<linalg::GenericOp>(readers[0]);
  if (!match.backward || match.backward.getNumDpsInputs() != 3)
    return std::nullopt;
  Value gradient = match.backward.getDpsInputs()[0];
  Value output = match.backward.getDpsInits()[0];
  auto productType = cast<MemRefType>(product.getType());
  if (!readsReluOperands(match.backward, {gradient, product, bias},
                         /*summed=*/false) ||
      !isReluGradient(match.backward, 0, {1, 2}) ||
      gradient.getType() != productType || output.getType() != productType ||
      !productType.getLayout().isIdentity() ||
      !isa_and_nonnull<memref::AllocOp>(output.getDefiningOp()) ||
      llvm::is_contained({gradient, product, bias}, output))
    return std::nullopt;

  // g: the product of a gemm of the same m and n, moved down to the
  // backward, read by nothing else.
  auto gradientOp = [&]() -> linalg::LinalgOp {
    for (Operation *user : gradient.getUsers())
      if (auto candidate = dyn_cast<linalg::LinalgOp>(user))
        if (gemms.contains(user) && candidate.getDpsInits()[0] == gradient)
          return candidate;
    return {};
  }();
  if (!gradientOp || gradientOp->getBlock() != block ||
      !relu->isBeforeInBlock(gradientOp))
    return std::nullopt;
  match.gradientOp = gradientOp;
  match.gradientGemm = gemms.lookup(gradientOp);
  const Gemm &other = match.gradientGemm;
  match.gradientFill = getZeroFillBefore(gradientOp, gradient);
  if (!match.gradientFill || other.swapped || other.batch != 1 ||
      other.inputType != 0 || other.resultType != 0 || other.m != gemm.m ||
      other.n != gemm.n ||
      getFirstReader(gradientOp, match.backwardFrees) != match.backward)
    return std::nullopt;
  for (Value input : gradientOp.getDpsInputs())
    if (mayAliasBuffers(getRootBuffer(output), getRootBuffer(input)))
      return std::nullopt;

  // The bias's gradient, if the product has a second reader: the same
  // masked gradient summed over the rows, right after the backward.
  if (readers.size() == 2) {
    match.biasSum = dyn_cast<linalg::GenericOp>(readers[1]);
    if (!match.biasSum ||
        getNextAfterFill(match.backward, match.biasFill) != match.biasSum ||
        match.biasSum.getNumDpsInputs() != 3 ||
        !readsReluOperands(match.biasSum, {gradient, product, bias},
                           /*summed=*/true) ||
        !isReluGradient(match.biasSum, 0, {1, 2}, /*accumulated=*/true) ||
        !isBiasGradientBuffer(match.biasSum, match.biasSum.getDpsInits()[0],
                              match.biasFill, productType.getElementType()))
      return std::nullopt;
  }
  // Nothing else reads g; what is freed before the backward is none of
  // its buffers.
  for (Operation *user : gradient.getUsers())
    if (user != gradientOp.getOperation() && user != match.gradientFill &&
        user != match.backward.getOperation() &&
        user != match.biasSum.getOperation() && !isa<memref::DeallocOp>(user))
      return std::nullopt;
  for (memref::DeallocOp free : match.backwardFrees)
    if (llvm::is_contained({output, product, bias}, free.getMemref()))
      return std::nullopt;
  return match;
}

/// Erases `buffer`'s allocation and frees when nothing else uses it.
static void eraseIfUnused(Value buffer) {
  Operation *alloc = buffer.getDefiningOp();
  if (!alloc || !llvm::all_of(buffer.getUsers(), [](Operation *user) {
        return isa<memref::DeallocOp, gpu::DeallocOp>(user);
      }))
    return;
  for (Operation *user : llvm::make_early_inc_range(buffer.getUsers()))
    user->erase();
  alloc->erase();
}

/// An integer constant of `type` at `loc`: a runtime call's size or flag.
static Value createIntConstant(OpBuilder &builder, Location loc, Type type,
                               int64_t value) {
  return arith::ConstantOp::create(builder, loc,
                                   builder.getIntegerAttr(type, value));
}

/// A call of `callee` where `at` stands: an activation's backward in the
/// epilogue of `gemmOp`, the product that makes its gradient
/// (`autopar_cuda_gemm_dgelu`, `autopar_cuda_gemm_drelu`), with operands A,
/// B, D (`output`), the bias gradient (a null address without one), the
/// forward's AUX (`aux`: a GELU's sum, a ReLU's mask), m, n, k; transA,
/// transB, dtype. It writes D and the bias gradient, whose allocation moves
/// before it.
static func::CallOp createGradientEpilogueCall(OpBuilder &builder,
                                               ModuleOp module,
                                               StringRef callee, Operation *at,
                                               linalg::LinalgOp gemmOp,
                                               const Gemm &gemm, Value output,
                                               Value biasGradient, Value aux) {
  Type i64 = builder.getI64Type(), i32 = builder.getI32Type();
  Location loc = at->getLoc();
  if (biasGradient)
    biasGradient.getDefiningOp()->moveBefore(at);
  builder.setInsertionPoint(at);
  SmallVector<Type> types(8, i64);
  types.append(3, i32);
  func::FuncOp function =
      getOrDeclareRuntimeFunction(builder, module, callee, types, {});
  setStreamOrdered(function);
  SmallVector<Value> operands;
  for (Value buffer : {gemmOp->getOperand(0), gemmOp->getOperand(1), output})
    operands.push_back(getBufferAddress(builder, loc, buffer));
  operands.push_back(biasGradient ? getBufferAddress(builder, loc, biasGradient)
                                  : createIntConstant(builder, loc, i64, 0));
  operands.push_back(getBufferAddress(builder, loc, aux));
  for (int64_t size : {gemm.m, gemm.n, gemm.k})
    operands.push_back(createIntConstant(builder, loc, i64, size));
  for (int64_t flag :
       {int64_t(gemm.transA), int64_t(gemm.transB), int64_t(gemm.resultType)})
    operands.push_back(createIntConstant(builder, loc, i32, flag));
  auto call = func::CallOp::create(builder, loc, function, operands);
  SmallVector<int32_t, 2> written = {2}; // D, and the bias gradient
  if (biasGradient)
    written.push_back(3);
  setWrittenOperands(call, written);
  return call;
}

/// Rewrites a ReLU's forward and backward (matchReluTraining) into
/// cuBLASLt calls: `autopar_cuda_gemm_relu_aux` where the ReLU stood,
/// writing its result and the mask (an allocation of its own, freed after
/// the backward), and `autopar_cuda_gemm_drelu` where the backward stood,
/// writing the masked gradient and, if summed, the bias's gradient.
static void foldReluTraining(OpBuilder &builder, ModuleOp module,
                             linalg::LinalgOp gemmOp, const Gemm &gemm,
                             Operation *zeroFill, ReluTraining &relu) {
  Type i64 = builder.getI64Type(), i32 = builder.getI32Type();
  auto constant = [&](Location loc, Type type, int64_t value) {
    return createIntConstant(builder, loc, type, value);
  };
  Epilogue &forward = relu.forward;
  Location loc = forward.op.getLoc();
  builder.setInsertionPoint(forward.op);
  auto maskType =
      MemRefType::get({getReluMaskBytes(gemm.m, gemm.n)}, builder.getI8Type());
  Value mask = memref::AllocOp::create(builder, loc, maskType,
                                       builder.getI64IntegerAttr(64));
  // A, B, C, D, bias, mask, m, n, k; transA, transB, dtype, accumulate.
  SmallVector<Type> types(9, i64);
  types.append(4, i32);
  func::FuncOp forwardCallee = getOrDeclareRuntimeFunction(
      builder, module, "autopar_cuda_gemm_relu_aux", types, {});
  setStreamOrdered(forwardCallee);
  // C is unread (beta = 0): D stands for it, and the product's buffer goes.
  SmallVector<Value> operands;
  for (Value buffer : {gemmOp->getOperand(0), gemmOp->getOperand(1),
                       forward.output, forward.output, forward.bias, mask})
    operands.push_back(getBufferAddress(builder, loc, buffer));
  for (int64_t size : {gemm.m, gemm.n, gemm.k})
    operands.push_back(constant(loc, i64, size));
  for (int64_t flag : {int64_t(gemm.transA), int64_t(gemm.transB),
                       int64_t(gemm.resultType), int64_t(0)})
    operands.push_back(constant(loc, i32, flag));
  auto forwardCall =
      func::CallOp::create(builder, loc, forwardCallee, operands);
  setWrittenOperands(forwardCall, {3, 5}); // D, and the mask
  for (memref::DeallocOp free : llvm::reverse(forward.frees))
    free->moveAfter(forwardCall);
  forward.op->erase();

  // The backward, where the masking op stood.
  linalg::LinalgOp gradientOp = relu.gradientOp;
  Value biasGradient = relu.biasSum ? relu.biasSum.getDpsInits()[0] : Value();
  func::CallOp backwardCall = createGradientEpilogueCall(
      builder, module, "autopar_cuda_gemm_drelu", relu.backward, gradientOp,
      relu.gradientGemm, relu.backward.getDpsInits()[0], biasGradient, mask);
  builder.setInsertionPointAfter(backwardCall);
  memref::DeallocOp::create(builder, backwardCall.getLoc(), mask);
  for (memref::DeallocOp free : llvm::reverse(relu.backwardFrees))
    free->moveAfter(backwardCall);
  relu.backward->erase();
  if (relu.biasSum) {
    relu.biasSum->erase();
    relu.biasFill->erase();
  }
  // Neither product is written: their buffers go with their fills.
  Value product = gemmOp.getDpsInits()[0];
  Value gradient = gradientOp.getDpsInits()[0];
  gradientOp->erase();
  relu.gradientFill->erase();
  gemmOp->erase();
  if (zeroFill)
    zeroFill->erase();
  eraseIfUnused(gradient);
  eraseIfUnused(product);
}

namespace {
struct ContractionsToCUBLASPass
    : public mlir::autopar::impl::ContractionsToCUBLASBase<
          ContractionsToCUBLASPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<std::pair<linalg::LinalgOp, Gemm>> found;
    module.walk([&](linalg::LinalgOp op) {
      if (op->getParentOfType<gpu::GPUModuleOp>())
        return;
      if (std::optional<Gemm> gemm = matchGemm(op))
        found.push_back({op, *gemm});
    });
    if (found.empty())
      return;
    OpBuilder builder(module.getBodyRegion());
    Type i64 = builder.getI64Type(), i32 = builder.getI32Type();
    func::FuncOp callee = getOrDeclareRuntimeFunction(
        builder, module, "autopar_cuda_gemm",
        {i64, i64, i64, i64, i64, i64, i64, i32, i32, i32, i32, i32}, {});
    setStreamOrdered(callee);
    auto constant = [&](Location loc, Type type, int64_t value) {
      return createIntConstant(builder, loc, type, value);
    };
    llvm::DenseMap<Operation *, Gemm> gemms;
    for (auto [op, gemm] : found)
      gemms[op] = gemm;
    // Gemms already folded into a call with another's (a ReLU's backward).
    llvm::DenseSet<Operation *> folded;
    for (auto [op, gemm] : found) {
      if (folded.contains(op))
        continue;
      // A product into a buffer just filled with zeros writes it instead
      // (beta = 0): the fill goes.
      Operation *zeroFill = getZeroFillBefore(op, op->getOperand(2));
      auto accumulate = [&](Location loc) {
        return constant(loc, i32, zeroFill ? 0 : 1);
      };
      if (std::optional<ReluTraining> relu =
              matchReluTraining(op, gemm, zeroFill != nullptr, gemms)) {
        foldReluTraining(builder, module, op, gemm, zeroFill, *relu);
        folded.insert(relu->gradientOp);
        continue;
      }
      if (std::optional<Epilogue> epilogue =
              matchEpilogue(op, gemm, zeroFill != nullptr)) {
        // One cuBLASLt call where the epilogue op stood: D = act(A B + C +
        // bias), C the residual or the product's initial buffer, D the
        // epilogue's output. With a GELU of that sum after it, the call
        // stands where the GELU stood, D its output and AUX the sum.
        std::optional<GeluAux> gelu = matchGeluAux(op, *epilogue);
        std::optional<ResidualAfter> after;
        if (!gelu) {
          after = matchResidualAfter(op, *epilogue, zeroFill != nullptr);
          if (after)
            epilogue->residual = after->residual;
        }
        Operation *last = gelu    ? gelu->op.getOperation()
                          : after ? after->op.getOperation()
                                  : epilogue->op.getOperation();
        builder.setInsertionPoint(last);
        Location loc = last->getLoc();
        // A, B, C, D, bias[, aux], m, n, k; transA, transB[, activation],
        // dtype, accumulate.
        SmallVector<Type> types(gelu ? 9 : 8, i64);
        types.append(gelu ? 4 : 5, i32);
        func::FuncOp fused = getOrDeclareRuntimeFunction(
            builder, module,
            gelu ? "autopar_cuda_gemm_gelu_aux" : "autopar_cuda_gemm_epilogue",
            types, {});
        setStreamOrdered(fused);
        Value d = gelu    ? gelu->output
                  : after ? after->output
                          : epilogue->output;
        SmallVector<Value> operands;
        // C unread (beta = 0) is the product's buffer, or D when the call
        // rounds (the f32 buffer then goes).
        Value c = epilogue->residual  ? epilogue->residual
                  : epilogue->rounded ? d
                                      : op->getOperand(2);
        for (Value buffer : {op->getOperand(0), op->getOperand(1), c, d})
          operands.push_back(getBufferAddress(builder, loc, buffer));
        // No bias: a null address.
        operands.push_back(epilogue->bias
                               ? getBufferAddress(builder, loc, epilogue->bias)
                               : constant(loc, i64, 0));
        if (gelu)
          operands.push_back(getBufferAddress(builder, loc, epilogue->output));
        for (int64_t size : {gemm.m, gemm.n, gemm.k})
          operands.push_back(constant(loc, i64, size));
        operands.push_back(constant(loc, i32, gemm.transA));
        operands.push_back(constant(loc, i32, gemm.transB));
        if (!gelu)
          operands.push_back(
              constant(loc, i32, static_cast<int64_t>(epilogue->activation)));
        operands.push_back(constant(
            loc, i32, epilogue->rounded ? gemm.inputType : gemm.resultType));
        operands.push_back(epilogue->residual ? constant(loc, i32, 1)
                                              : accumulate(loc));
        auto call = func::CallOp::create(builder, loc, fused, operands);
        // D, and AUX.
        if (gelu)
          setWrittenOperands(call, {3, 5});
        else
          setWrittenOperands(call, {3});
        for (memref::DeallocOp free : llvm::reverse(epilogue->frees))
          free->moveAfter(call);
        if (gelu) {
          for (memref::DeallocOp free : llvm::reverse(gelu->frees))
            free->moveAfter(call);
          gelu->op->erase();
        }
        if (after) {
          for (memref::DeallocOp free : llvm::reverse(after->frees))
            free->moveAfter(call);
          after->op->erase();
          if (after->view && after->view->use_empty())
            after->view->erase();
        }
        Value sum = epilogue->output;
        epilogue->op->erase();
        if (epilogue->view)
          epilogue->view->erase();
        if (after)
          eraseIfUnused(sum);
        Value product = op->getOperand(2);
        op->erase();
        if (zeroFill)
          zeroFill->erase();
        // Rounded, or with a residual after the sum as C, the product's
        // buffer is only allocated and freed.
        if (epilogue->rounded || after)
          eraseIfUnused(product);
        continue;
      }
      // A GELU's backward reading the product (the gradient): one call
      // where the backward stood, writing its result and, when the bias's
      // gradient follows, that too.
      if (std::optional<GeluGradient> dgelu =
              matchGeluGradient(op, gemm, zeroFill != nullptr)) {
        // Read rounded, the call writes the gradient in the inputs' type.
        Gemm written = gemm;
        if (dgelu->rounding)
          written.resultType = gemm.inputType;
        func::CallOp call = createGradientEpilogueCall(
            builder, module, "autopar_cuda_gemm_dgelu", dgelu->op, op, written,
            dgelu->output, dgelu->biasGradient, dgelu->aux);
        for (memref::DeallocOp free : llvm::reverse(dgelu->frees))
          free->moveAfter(call);
        dgelu->op->erase();
        if (dgelu->view)
          dgelu->view->erase();
        if (dgelu->biasSum) {
          dgelu->biasSum->erase();
          dgelu->biasFill->erase();
        }
        if (dgelu->rounding) {
          for (memref::DeallocOp free : llvm::reverse(dgelu->rounding->frees))
            free->moveAfter(call);
          dgelu->rounding->op->erase();
          eraseIfUnused(dgelu->rounding->output);
        }
        Value product = op->getOperand(2);
        op->erase();
        if (zeroFill)
          zeroFill->erase();
        eraseIfUnused(product);
        continue;
      }
      // A product into zeros rounded to its inputs' type by the next op:
      // one call writing the rounded result where the rounding stood.
      std::optional<Rounding> rounding;
      if (zeroFill)
        rounding = matchRounding(op, gemm);
      builder.setInsertionPoint(rounding ? rounding->op.getOperation()
                                         : op.getOperation());
      Location loc = op.getLoc();
      SmallVector<Value> buffers(op->getOperands());
      if (gemm.swapped)
        std::swap(buffers[0], buffers[1]);
      if (rounding) {
        buffers[2] = rounding->output;
        gemm.resultType = gemm.inputType;
      }
      SmallVector<Value> operands;
      for (Value buffer : buffers)
        operands.push_back(getBufferAddress(builder, loc, buffer));
      for (int64_t size : {gemm.m, gemm.n, gemm.k, gemm.batch})
        operands.push_back(constant(loc, i64, size));
      operands.push_back(constant(loc, i32, gemm.transA));
      operands.push_back(constant(loc, i32, gemm.transB));
      operands.push_back(constant(loc, i32, gemm.inputType));
      operands.push_back(constant(loc, i32, gemm.resultType));
      operands.push_back(accumulate(loc));
      auto call = func::CallOp::create(builder, loc, callee, operands);
      setWrittenOperands(call, {2}); // C
      if (rounding) {
        for (memref::DeallocOp free : llvm::reverse(rounding->frees))
          free->moveAfter(call);
        rounding->op->erase();
      }
      Value product = op->getOperand(2);
      op->erase();
      if (zeroFill)
        zeroFill->erase();
      // The f32 product's buffer, now only allocated and freed, goes.
      if (rounding)
        eraseIfUnused(product);
    }
  }
};
} // namespace
