//===- StepTransforms.h - pieces of a training step -------------*- C++ -*-===//
//
// What autopar-training uses beyond reverse mode: mixed precision's casts,
// loss scaling and f32 accumulation (MixedPrecision.cpp), and activation
// recomputation (Recompute.cpp).
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_AUTODIFF_STEPTRANSFORMS_H
#define AUTOPAR_AUTODIFF_STEPTRANSFORMS_H

#include "autopar/Cost/CostModel.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/FunctionInterfaces.h"

namespace mlir::autopar {

/// `value` with float element type `element` (extf or truncf).
Value createCast(OpBuilder &b, Location loc, Value value, Type element);

/// `func` computing in `to` wherever it computed in `from`: the types of
/// its arguments, results, ops and body arguments, and its constants
/// (rounded to nearest even). Fails with a diagnostic when the result does
/// not verify.
LogicalResult castFunctionFloats(FunctionOpInterface func, FloatType from,
                                 FloatType to);

/// `value` times the rank-0 f32 `scale`, computed in f32 and stored as
/// `element`.
Value createScaled(OpBuilder &b, Location loc, Value value, Value scale,
                   Type element);

/// `updated` where the rank-0 flag `ok` is 1, `old` where it is 0.
Value createSelect(OpBuilder &b, Location loc, Value ok, Value updated,
                   Value old);

/// Mixed precision's f32 accumulation: `op`, a linalg op with reduction
/// loops writing 16-bit floats, becomes a generic that computes in f32 and
/// accumulates into f32 (its inits widened), followed by a rounding of each
/// widened result to its 16-bit type. Inputs stay 16-bit (storage); the
/// body extends them. Fails (changing nothing) for other ops.
LogicalResult widenAccumulation(IRRewriter &rewriter, linalg::LinalgOp op);

/// Activation recomputation over the forward (`autopar.layer`) and backward
/// (`autopar.grad_of`) ops of `body`: backward ops read clones of the
/// forward values that are not kept, each forward op recomputed as
/// `kindOf` says (docs/training.md).
void recomputeForward(Block &body, function_ref<Recompute(Operation *)> kindOf);

} // namespace mlir::autopar

#endif // AUTOPAR_AUTODIFF_STEPTRANSFORMS_H
