//===- ProfileOps.h - which ops autopar-profile-ops times -------*- C++ -*-===//

#ifndef AUTOPAR_CONVERSION_PROFILEOPS_H
#define AUTOPAR_CONVERSION_PROFILEOPS_H

#include "mlir/Dialect/Func/IR/FuncOps.h"

namespace mlir::autopar {

/// The ops of `func` that autopar-profile-ops times, in the order of their
/// site numbers: the structured ops, pads, slice insertions and collectives
/// of the function's body (its top level).
SmallVector<Operation *> getProfiledOps(func::FuncOp func);

/// Whether `op` is one of the clock calls autopar-profile-ops inserts (they
/// touch no buffer: passes that look for adjacent ops may step over them).
bool isProfilingCall(Operation *op);

} // namespace mlir::autopar

#endif // AUTOPAR_CONVERSION_PROFILEOPS_H
