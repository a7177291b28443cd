//===- ConstantInputs.h - constant inputs made in the body ------*- C++ -*-===//
//
// A generic op's constant inputs that its body can make (a splat's scalar,
// an iota's loop index) made there instead of read from a tensor: the
// form torch-mlir's linalg export writes its scalars in, which the planner
// prices and the lowerings take without a host global (managed memory on
// the CUDA backend, which keeps a step out of a CUDA graph).
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_SUPPORT_CONSTANTINPUTS_H
#define AUTOPAR_SUPPORT_CONSTANTINPUTS_H

#include "mlir/IR/Operation.h"

namespace mlir::autopar {

/// Replaces each generic op on tensors under `root` by the same op without
/// its inputs that are constants its body can make, each made in the body
/// instead: a splat (torch-mlir's
/// 0-d tensors, a mask's fill value or a scale; TOSA's [1, 1, 1]
/// constants) as a scalar constant, a 1-D integer constant whose element i
/// is i (an arange TOSA exports as a constant) read at a loop as that
/// loop's index. An op with none is left as it is; constants left unused
/// are erased. `onlyScalars`
/// keeps splats of more than one element (which may be weights a
/// params-as-constants export initialised to one value: a LayerNorm's
/// ones) as inputs. A constant tensor
/// operand is a buffer copied from a host global (managed memory on the
/// CUDA backend, which the host writes: no CUDA graph); a scalar or an
/// index is an operand of the instructions that use it.
void foldConstantInputs(Operation *root, bool onlyScalars = false);

} // namespace mlir::autopar

#endif // AUTOPAR_SUPPORT_CONSTANTINPUTS_H
