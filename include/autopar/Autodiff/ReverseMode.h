//===- ReverseMode.h - reverse-mode differentiation -------------*- C++ -*-===//
//
// Builds the backward pass of a straight-line tensor program: walks the ops
// in reverse, asks each op's ReverseModeOpInterface for the adjoints of its
// operands, and sums the adjoints of values used more than once. Every op a
// rule creates is tagged `autopar.grad_of = N`, N the `autopar.layer` of the
// forward op it differentiates, so that later stages can give a layer's
// backward the layer's strategy.
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_AUTODIFF_REVERSEMODE_H
#define AUTOPAR_AUTODIFF_REVERSEMODE_H

#include "autopar/Dialect/AutoparOps.h"

#include "mlir/Dialect/Utils/StructuredOpsUtils.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/Value.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"

namespace mlir {
class DialectRegistry;
namespace autopar {

class AdjointState;
FailureOr<SmallVector<Value>> buildBackward(OpBuilder &builder, Block &block,
                                            Value output, Value seed,
                                            ArrayRef<Value> wrt);

/// The adjoints known so far during a backward pass.
class AdjointState {
public:
  /// The adjoint of `value`, or null when no gradient reaches it.
  Value getAdjoint(Value value) const { return adjoints.lookup(value); }
  /// Adds `adjoint` to the adjoint of `value` (a sum when one exists).
  void addAdjoint(OpBuilder &builder, Location loc, Value value,
                  Value adjoint);
  /// Whether a gradient must flow into `value`: it is floating point and
  /// depends on a value the gradient is taken with respect to.
  bool needsGradient(Value value) const { return active.contains(value); }

private:
  friend FailureOr<SmallVector<Value>> buildBackward(OpBuilder &, Block &,
                                                     Value, Value,
                                                     ArrayRef<Value>);
  DenseMap<Value, Value> adjoints;
  DenseSet<Value> active;
};

/// Differentiates the ops of `block` (before its terminator): seeds
/// `output` with `seed` and returns the adjoints of `wrt`, zero tensors
/// where no gradient reaches. Backward ops are created at `builder`'s
/// insertion point. Fails with an error at the first op without a rule.
FailureOr<SmallVector<Value>> buildBackward(OpBuilder &builder, Block &block,
                                            Value output, Value seed,
                                            ArrayRef<Value> wrt);

/// A zero tensor of `type` (buildFilled, AutoparOps.h).
inline Value createZeros(OpBuilder &builder, Location loc,
                         RankedTensorType type) {
  return buildFilled(builder, loc, type, 0.0);
}

/// Attaches the reverse-mode rules to linalg and tensor ops.
void registerReverseModeExternalModels(DialectRegistry &registry);

} // namespace autopar
} // namespace mlir

#include "autopar/Autodiff/ReverseModeInterface.h.inc"

#endif // AUTOPAR_AUTODIFF_REVERSEMODE_H
