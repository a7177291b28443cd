//===- Reductions.h - where a reduction's partials start ----------*- C++
//-*-===//
//
// What the lowerings build from a reduction's shape (getCombiner,
// getContiguousLoop, getRowReductionLoops: Analysis/Reductions.h, which the
// cost model shares): the value partial results start from.
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_CONVERSION_REDUCTIONS_H
#define AUTOPAR_CONVERSION_REDUCTIONS_H

#include "autopar/Analysis/Reductions.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/Builders.h"

namespace mlir::autopar {

/// The value partial results start from: 0 for sums (+0.0: the scalar
/// sums' partials always began there), else the combiner's neutral
/// element; null when it has none.
Value getNeutral(OpBuilder &b, Location loc, Operation *combiner, Type element);

} // namespace mlir::autopar

#endif // AUTOPAR_CONVERSION_REDUCTIONS_H
