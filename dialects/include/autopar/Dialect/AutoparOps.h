//===- AutoparOps.h - autopar operations ------------------------*- C++ -*-===//

#ifndef AUTOPAR_DIALECT_AUTOPAROPS_H
#define AUTOPAR_DIALECT_AUTOPAROPS_H

#include "autopar/Dialect/AutoparAttrs.h"
#include "autopar/Dialect/AutoparDialect.h"

#include "mlir/Dialect/Bufferization/IR/BufferizableOpInterface.h"
#include "mlir/Dialect/Linalg/IR/LinalgInterfaces.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/DestinationStyleOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace mlir::autopar {
class CollectiveOpInterface;

/// Looks up the mesh `meshRef` from `from`. Emits an error on `from` and
/// returns null when there is no such symbol or it is not an autopar.mesh.
MeshAttr lookupMesh(Operation *from, FlatSymbolRefAttr meshRef,
                    SymbolTableCollection *symbolTables = nullptr);

/// How pipeline stage `stage` (a value of autopar.stage; -1: an op of no
/// stage) runs its training step beyond the shardings: its own ZeRO stage
/// and recomputation when autopar.pipeline gives them per stage, else the
/// step's (autopar.step); ZeRO 0 and "none" when the module has neither.
struct StageStep {
  int64_t zero = 0;
  StringRef recompute = "none";
};
StageStep getStageStep(ModuleOp module, int64_t stage);

namespace detail {
LogicalResult verifyAttentionOp(Operation *op);
LogicalResult verifyCollectiveOp(Operation *op);
LogicalResult verifyCollectiveSymbolUses(CollectiveOpInterface op,
                                         SymbolTableCollection &symbolTables);
void getCollectiveEffects(
    CollectiveOpInterface op,
    SmallVectorImpl<SideEffects::EffectInstance<MemoryEffects::Effect>>
        &effects);
FailureOr<bufferization::BufferLikeType>
getCollectiveBufferType(CollectiveOpInterface op, Value value);
/// Whether the collective's result may be written over its input (an
/// all-reduce: same type, each element combines the same element of every
/// device), so that bufferization runs it in place when the input is dead.
bool collectiveWritesInPlace(Operation *op);
LogicalResult
bufferizeCollective(CollectiveOpInterface op, RewriterBase &rewriter,
                    const bufferization::BufferizationOptions &options,
                    bufferization::BufferizationState &state);
} // namespace detail
} // namespace mlir::autopar

#include "autopar/Dialect/AutoparInterfaces.h.inc"

#define GET_OP_CLASSES
#include "autopar/Dialect/AutoparOps.h.inc"

namespace mlir::autopar {
/// The smallest magnitude of a huge masked value C: "score + C" is C for
/// any score that matters (it rounds to C for |score| below 2^-24 |C| in
/// f32), so that an additive mask of it holds a row masked everywhere
/// uniform, and no unmasked row's log-sum-exp comes near C / 2.
constexpr double kHugeMaskedValue = 1e30;
/// The smallest magnitude of a masked value from which a row masked
/// everywhere is recognised by its lse in the backward (its lse, C + log J,
/// loses log J to rounding in f32 from about 2^20): no unmasked row's
/// log-sum-exp comes near C / 2.
constexpr double kLargeMaskedValue = 1 << 20;
/// The type `op`'s decomposition accumulates and computes in: the
/// queries', but f32 for 16-bit queries. Its products, row maxima, row sums
/// and row terms accumulate in it and its elementwise steps compute in it;
/// each score-sized buffer is stored in the queries' type (as PyTorch's
/// eager 16-bit attention: a row sum of J exponentials rounded to 8 or 11
/// bits at every addition would lose the row).
Type getAttentionAccumulatorType(AttentionOpInterface op);
/// `op` computed with its batch as the leading dimensions `batchShape` (of
/// the same product): a new op of its kind whose batch-carrying operands
/// are reshapes of `op`'s (composed with the reshapes that make them, so
/// that [b, h, I, D] read through a collapse to [b h, I, D] is read as it
/// was made), and whose results, reshaped back, replace `op`'s (composed
/// with the reshapes that read them). The mask is kept: its b is the
/// linearised batch index either way. Returns `op` itself when its batch
/// already has that shape. autopar-fuse-attention keeps batch and heads
/// apart with it; lowering merges them again (batchShape = {B}).
AttentionOpInterface reshapeAttentionBatch(RewriterBase &rewriter,
                                           AttentionOpInterface op,
                                           ArrayRef<int64_t> batchShape);
/// `op` with its batch merged into one dimension B (reshapeAttentionBatch),
/// the form the lowerings take; `op` itself when its batch is one
/// dimension already or has a dynamic size.
AttentionOpInterface mergeAttentionBatch(RewriterBase &rewriter,
                                         AttentionOpInterface op);
/// A tensor of `type` filled with `value` (tensor.empty + linalg.fill; an
/// integer type takes the value truncated): the attention's
/// decompositions' accumulators, and every zero or seed autopar-training
/// builds.
Value buildFilled(OpBuilder &b, Location loc, RankedTensorType type,
                  double value);
/// `value` (a ranked tensor) with float element type `element`: an
/// elementwise linalg.generic of extf or truncf; `value` itself when it has
/// it. The attention's decompositions round with it, and so do training
/// steps (createCast).
Value buildConverted(OpBuilder &b, Location loc, Value value, Type element);

/// The iterators of a linalg.generic writing at `map`: the loops `map` uses
/// are parallel, every other loop is a reduction.
SmallVector<utils::IteratorType> getIteratorsWritingAt(AffineMap map);

/// Whether `value` is a linalg.fill of a floating-point zero.
bool isZeroFilled(Value value);

/// An elementwise linalg.generic over `inputs` (all of `type`'s shape) whose
/// scalar result is `body(inputs' elements)`.
Value buildElementwise(
    OpBuilder &builder, Location loc, ValueRange inputs, RankedTensorType type,
    function_ref<Value(OpBuilder &, Location, ValueRange)> body);

/// Reduces `inputs` (read at `inputMaps`) into a tensor written at
/// `outMap`, starting from `start`, with `body(elements, accumulator)`; the
/// loops `outMap` does not use are reduced.
Value buildReduction(
    OpBuilder &builder, Location loc, ValueRange inputs,
    ArrayRef<AffineMap> inputMaps, AffineMap outMap, RankedTensorType outType,
    double start,
    function_ref<Value(OpBuilder &, Location, ValueRange, Value)> body);
/// The masked, scaled scores S' of `op` ([B, I, J], in
/// getAttentionAccumulatorType: f32 for a 16-bit attention, never rounded
/// to 16 bits, so that no kernel of its own rounds them and the softmax
/// reads them as the product made them): a zero-filled
/// linalg.batch_matmul of query and key, then (when the scale is not 1 or
/// there is a mask) a linalg.generic multiplying by the scale and
/// selecting the masked value where the mask holds, which fuses into the
/// softmax's kernels. Shared by the attention's decomposition and its
/// gradient's, which recomputes them.
Value buildAttentionScores(OpBuilder &b, Location loc, AttentionOpInterface op);
/// Inside the body of a linalg op over [B, I, J] (before its yield): the
/// mask of `op` at the op's loop indices (linalg.index 0, 1, 2), or null
/// when `op` has no mask.
Value buildAttentionMask(OpBuilder &b, Location loc, AttentionOpInterface op);
/// The bytes one score-sized buffer ([b, I, J]) of an attention or its
/// gradient may take when lowered, unless told otherwise.
constexpr int64_t kAttentionBlockBytes = int64_t(64) << 20;
/// How many batches (b) of `op` lowering computes at once: the most
/// whose score-sized buffers take at most `budgetBytes` (at least 1), or
/// the largest divisor of B if it is more than half of that; when it does
/// not divide B, a last block takes the rest. All of B when the budget is
/// 0 or the sizes are dynamic.
int64_t getAttentionBatchBlock(AttentionOpInterface op,
                               int64_t budgetBytes = kAttentionBlockBytes);
/// How many query rows (i) of one batch lowering computes at once: all of
/// I when one batch's score-sized buffers fit `budgetBytes` (or the budget
/// is 0, or the sizes are dynamic); else chosen from I's rows as
/// getAttentionBatchBlock chooses from B's batches.
int64_t getAttentionRowBlock(AttentionOpInterface op,
                             int64_t budgetBytes = kAttentionBlockBytes);
/// How cuDNN's fused flash attention computes an attention or its
/// gradient as one library call (autopar-attention-to-cudnn builds it; the
/// workload analysis prices it so).
struct FusedAttentionForm {
  /// f16 or bf16: the type of every operand but the lse.
  Type element;
  /// Whether the scores of keys after their query (j > i) are masked:
  /// cuDNN's causal mask (top-left aligned); none are otherwise.
  bool causal = false;
  /// The query rows I as `stacks` stacks of I / stacks rows, each masked
  /// on its own (j > i mod I / stacks): the query heads that share one
  /// key-value head (grouped-query attention), which cuDNN computes as
  /// that many heads reading the same keys and values. 1 otherwise.
  int64_t stacks = 1;
  /// With `causal`, an index computed outside the mask (a device's first
  /// query row where the rows are split over devices) by which the rows
  /// are offset: key j > i + rowOffset is masked (cuDNN's diagonal band,
  /// its right bound the offset). Null where j > i.
  Value rowOffset;
  /// Where non-zero, the offset is rowOffset modulo this: a device's share
  /// of one stack of that many rows (grouped-query rows split finer than
  /// their stacks; the share never crosses a stack's end).
  int64_t rowOffsetModulus = 0;
};
/// The form of `op` as cuDNN's fused attention, when it has one: query,
/// keys, values and output (for a gradient also the output's adjoint) all
/// f16 or all bf16 with static shapes, the lse f32, head dimensions D
/// and E multiples of 8 up to 256, no mask or the causal one (key j > row
/// i, j > i + r for a device's share of the rows (r computed outside the
/// mask; also (i + r) mod S, a share of one stack of S), or j > i mod S
/// for stacked query heads, also written !(j <= i) on
/// indices cast to i64 as PyTorch exports it, replacing the score by, or
/// adding to it, a masked value of at most -1e30; no mask inputs), and
/// for a gradient a zero lse adjoint. Both
/// autopar-attention-to-cudnn and the workload analysis ask this, so that
/// what is priced is what is built. With `computeAs` (bf16 or f16), float
/// operands wider than 16 bits are taken as that type: the op as a
/// training step in that precision makes it (autopar-training
/// precision=).
std::optional<FusedAttentionForm> getFusedAttentionForm(AttentionOpInterface op,
                                                        Type computeAs = {});
/// A linalg.generic summing lhs * rhs into zeros of `type`, over the loops
/// `maps` and `iterators` give (a contraction or a row sum of products);
/// operands of another float type are converted to `type`'s first.
Value buildProductSum(OpBuilder &b, Location loc, Value lhs, Value rhs,
                      RankedTensorType type, ArrayRef<AffineMap> maps,
                      ArrayRef<utils::IteratorType> iterators);
} // namespace mlir::autopar

#endif // AUTOPAR_DIALECT_AUTOPAROPS_H
