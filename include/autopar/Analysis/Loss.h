//===- Loss.h - a training step's loss and its gradient ---------*- C++ -*-===//
//
// The losses autopar-training adds after a forward function's output, and
// the same ops appended to the forward function for the analyses to price
// (autopar-plan and autopar-analyze loss=): one builder for both, so the
// loss the plan prices is the loss the step runs.
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_ANALYSIS_LOSS_H
#define AUTOPAR_ANALYSIS_LOSS_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/Interfaces/FunctionInterfaces.h"

#include <optional>

namespace mlir::autopar {

enum class LossKind {
  /// The function returns its loss (one element): nothing is added.
  Auto,
  /// Logits [B, C] (or [B, ..., C]) against i64 class indices [B] (or
  /// [B, ...]): the mean over rows of logsumexp(row) - row[label].
  SoftmaxCrossEntropy,
  /// The output against a label of its type: the mean squared difference.
  MeanSquaredError
};
/// `auto`, `softmax-cross-entropy` or `mse`, or std::nullopt.
std::optional<LossKind> symbolizeLoss(StringRef name);
StringRef stringifyLoss(LossKind kind);
/// symbolizeLoss with its error: at `loc`, prefixed with `pass`, naming
/// the losses there are.
FailureOr<LossKind> parseLoss(Location loc, StringRef pass, StringRef name);

/// Checks that `kind` applies to an output of `outputType` (a statically
/// shaped float tensor: one element for auto, rank 2 or more for
/// softmax-cross-entropy); an error at `at`, prefixed with `pass`, if not.
LogicalResult verifyLossOutput(Operation *at, StringRef pass, LossKind kind,
                               Type outputType);

/// The labels `kind` reads for an output of `outputType`: one i64 class
/// index per row (the output's shape without its last dimension) or the
/// output's own type (mse); null for auto.
RankedTensorType getLabelType(LossKind kind, RankedTensorType outputType);

/// Where the loss's ops are: `loss` at the forward function's location.
Location getLossLoc(Operation *forward);

struct BuiltLoss {
  /// The loss, a rank-0 tensor (auto: the output itself).
  Value loss;
  /// d loss / d output, the backward's seed, of the output's type.
  Value seed;
};

/// `kind`'s loss of `output` against `labels` (auto: none), computed in the
/// output's element type, and its gradient with respect to `output`, built
/// at `builder`'s insertion point.
BuiltLoss buildLoss(OpBuilder &builder, Location loc, LossKind kind,
                    Value output, Value labels);

/// A training step's loss appended to its forward function for the
/// analyses to price (autopar-plan and autopar-analyze loss=): before the
/// return, the ops autopar-training builds after the forward's output (the loss
/// in f32 when the output is 16-bit, and its gradient cast back), reading
/// labels made by a tensor.empty (the function's signature is unchanged), each
/// op marked `autopar.loss` (the workload prices them forward only: their
/// backward is the gradient op, one of them). Nothing uses their results.
class AppendedLoss {
public:
  /// Appends `kind`'s loss of `forward`'s only result; an error at the
  /// function, prefixed with `pass`, when it has several results or the
  /// loss does not apply. Auto appends nothing.
  static FailureOr<AppendedLoss> append(func::FuncOp forward, StringRef pass,
                                        LossKind kind);
  /// The loss named `name` (parseLoss) appended to `entry`, the function a
  /// pass prices (it must be a func.func unless the loss is auto); errors
  /// at `loc`, prefixed with `pass`.
  static FailureOr<AppendedLoss> append(Location loc, FunctionOpInterface entry,
                                        StringRef pass, StringRef name);
  AppendedLoss() = default;
  AppendedLoss(AppendedLoss &&other) : ops(std::move(other.ops)) {
    other.ops.clear();
  }
  AppendedLoss(const AppendedLoss &) = delete;
  AppendedLoss &operator=(const AppendedLoss &) = delete;
  AppendedLoss &operator=(AppendedLoss &&) = delete;
  /// Erases the appended ops (the plan's annotations on them go too).
  ~AppendedLoss() { erase(); }
  void erase();
  bool empty() const { return ops.empty(); }

private:
  /// In program order.
  SmallVector<Operation *> ops;
};

} // namespace mlir::autopar

#endif // AUTOPAR_ANALYSIS_LOSS_H
