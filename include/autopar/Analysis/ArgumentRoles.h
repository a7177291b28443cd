//===- ArgumentRoles.h - which values are inputs, labels, parameters -*- C++
//-*-===//
//
// The roles of a function's values for training: batch inputs and labels
// (split along their batch dimension by data parallelism), parameters (which
// get gradients that need synchronising), state, and the activations
// computed from them.
//
// Roles come from `autopar.role` argument attributes. Without any, the first
// argument is the batch input (batch in dim 0) and every other argument is a
// parameter; a scalar argument (an index, a count) is state, never a
// parameter. Tensor constants (`arith.constant`, as torch-mlir exports
// weights with --params-as-constants) are parameters too when no argument
// is one.
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_ANALYSIS_ARGUMENTROLES_H
#define AUTOPAR_ANALYSIS_ARGUMENTROLES_H

#include "mlir/Interfaces/FunctionInterfaces.h"
#include "llvm/ADT/DenseMap.h"

namespace mlir::autopar {

enum class ValueRole { Input, Label, Param, State, Activation };

/// The name of `role` as written in `autopar.role`.
StringRef stringifyValueRole(ValueRole role);

class ArgumentRoles {
public:
  explicit ArgumentRoles(FunctionOpInterface func);

  /// The role of `value`: of the argument or constant it is a view of
  /// (through reshapes, casts and transposes), or Activation.
  ValueRole getRole(Value value) const;
  bool isParameter(Value value) const {
    return getRole(value) == ValueRole::Param;
  }
  /// The root argument or constant `value` is a view of, else `value`.
  Value getSource(Value value) const;

  /// The batch dimension of a batch input or label argument.
  int64_t getBatchDim(BlockArgument arg) const;
  /// The batch inputs and labels: the ranked tensor arguments that data
  /// parallelism and microbatches split along their batch dimension, in
  /// argument order.
  ArrayRef<BlockArgument> getBatchArguments() const { return batchArguments; }
  /// The first batch input among them (where the batch size is read), or
  /// null.
  BlockArgument getFirstInput() const { return firstInput; }
  /// The batch size: the batch dimension of the first batch input, or 1 when
  /// there is none (or it is dynamic).
  int64_t getBatchSize() const { return batchSize; }
  /// Whether roles were inferred (no `autopar.role` on any argument).
  bool areInferred() const { return inferred; }

  /// Parameters in order of appearance: arguments first, then constants.
  ArrayRef<Value> getParameters() const { return parameters; }

private:
  FunctionOpInterface func;
  llvm::DenseMap<Value, ValueRole> roots;
  SmallVector<Value> parameters;
  SmallVector<BlockArgument> batchArguments;
  BlockArgument firstInput;
  int64_t batchSize = 1;
  bool inferred = true;
};

/// Whether `op` makes the 16-bit working copy of an f32 master parameter
/// (mixed precision): an untagged (neither forward nor backward)
/// elementwise `linalg.generic` with one input and one result of the
/// input's shape and another element type. autopar-partition's ZeRO
/// shards the parameter, its working copy and their gathers alike.
bool isWorkingCopy(Operation *op);

} // namespace mlir::autopar

#endif // AUTOPAR_ANALYSIS_ARGUMENTROLES_H
