//===- Reductions.h - what a reduction's body combines -----------*- C++
//-*-===//
//
// The shape of a linalg reduction the lowerings may reorder: each output
// combined by one associative and commutative op with a neutral element,
// so that partial results (split chunks, a block's threads) can start at
// that element and be combined in any order; and the loop whose
// iterations read memory contiguously, which decides how they share the
// work out (autopar-reductions-inner, autopar-row-kernels).
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_CONVERSION_REDUCTIONS_H
#define AUTOPAR_CONVERSION_REDUCTIONS_H

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/Builders.h"

namespace mlir::autopar {

/// The combiner of output `index` of `generic`: the op yielding
/// `combiner(x, out)` where `out` is the output's block argument, read
/// there only, and `combiner` an associative and commutative arith op with
/// a neutral element. Null when the body has another shape.
Operation *getCombiner(linalg::GenericOp generic, unsigned index);

/// The loop of `generic` that indexes the innermost dimension of its
/// largest input (static shape, rank 1 or more), when that dimension is
/// contiguous: the loop whose neighbouring iterations read neighbouring
/// elements, which GPU threads should share out to read coalesced. None
/// when that dimension is strided or indexed otherwise.
std::optional<unsigned> getContiguousLoop(linalg::GenericOp generic);

/// The value partial results start from: 0 for sums (+0.0: the scalar
/// sums' partials always began there), else the combiner's neutral
/// element; null when it has none.
Value getNeutral(OpBuilder &b, Location loc, Operation *combiner, Type element);

} // namespace mlir::autopar

#endif // AUTOPAR_CONVERSION_REDUCTIONS_H
