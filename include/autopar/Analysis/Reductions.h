//===- Reductions.h - the shape of a reduction ------------------*- C++ -*-===//
//
// The shape of a linalg reduction that the lowerings may reorder and that
// the cost model prices as they do: each output combined by one
// associative and commutative op with a neutral element, so that partial
// results (split chunks, a block's threads) can start at that element and
// be combined in any order; the loop whose iterations read memory
// contiguously, which decides how they share the work out
// (autopar-reductions-inner, autopar-row-kernels); and the rows a row
// reduction reduces over (its leading parallel loops). On buffers and on
// tensors alike (a tensor is read contiguously along its last dimension).
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_ANALYSIS_REDUCTIONS_H
#define AUTOPAR_ANALYSIS_REDUCTIONS_H

#include "mlir/Dialect/Linalg/IR/Linalg.h"

namespace mlir::autopar {

/// The combiner of output `index` of `generic`: the op yielding
/// `combiner(x, out)` where `out` is the output's block argument, read
/// there only, and `combiner` an associative and commutative arith op with
/// a neutral element. Null when the body has another shape.
Operation *getCombiner(linalg::GenericOp generic, unsigned index);

/// The loop of `generic` that indexes the innermost dimension of its
/// largest input (static shape, rank 1 or more), when that dimension is
/// contiguous (a tensor's always is; a memref's when its stride is 1): the
/// loop whose neighbouring iterations read neighbouring elements, which GPU
/// threads should share out to read coalesced. None when that dimension is
/// strided or indexed otherwise.
std::optional<unsigned> getContiguousLoop(linalg::GenericOp generic);

/// The rows `generic` reduces over: its leading parallel loops, when the
/// others are all reductions and each output is indexed by exactly those
/// loops, in order (then, kept dimensions of size 1: torch-mlir's
/// `keepdim` reductions index [b, s, 1] at (d0, d1, 0)), and combined by an
/// op partials can be combined by (a combiner with a neutral element).
std::optional<unsigned> getRowReductionLoops(linalg::GenericOp generic);

/// Whether `generic` sums into one float: no parallel loop, two loops or
/// more, one rank-0 float output combined by `out + x`. The lowering
/// splits such a sum into partial sums over as many GPU threads as it has,
/// each combining kMinReductionChunk elements or more
/// (autopar-reductions-inner), and the cost model prices it so.
bool isSumIntoOneFloat(linalg::GenericOp generic);

/// Whether `max`, a row maximum of `x`, only shifts a softmax of `x`: every
/// user computes exp(x - max) elementwise (one op, or the difference and
/// then its exponential), and every such exponential e is read only by
/// its row sum s (over the same rows) and by e / s. A softmax is the same
/// for any shift, so no gradient reaches the maximum (it is zero up to
/// rounding): autopar-training does not differentiate it, and the cost
/// model prices no backward for it.
bool isSoftmaxShift(linalg::GenericOp max);

/// Elements each partial of a split reduction combines, at least (the
/// default of autopar-reductions-inner's min-chunk).
constexpr int64_t kMinReductionChunk = 16;

/// `op`'s loop ranges, when every one is static.
std::optional<SmallVector<int64_t>> getStaticRanges(linalg::LinalgOp op);

/// Whether `map`'s first `rowLoops` results are the loops 0, 1, ... in
/// order: the access stays within the row the leading loops name.
bool indexesRow(AffineMap map, unsigned rowLoops);

/// Whether a reshape's reassociation `groups` merges the leading dimensions
/// of a value into one and keeps its last ([b, s, n] <-> [b * s, n], expand
/// or collapse, tensor or memref: the same memory, row after row).
bool isRowSplit(ArrayRef<ReassociationIndices> groups);

/// Whether `value` is a buffer or tensor itself, or reshapes of one
/// (expand_shape, collapse_shape, on tensors or memrefs) that keep its
/// first `rowLoops` dimensions as they are and only add or drop dimensions
/// of size 1 after them: an access indexing the rows of the view
/// (indexesRow) reaches the same rows of the source. A LayerNorm's
/// gradient writes its row sums [b, s] and reads them as [b, s, 1].
bool isRowView(Value value, unsigned rowLoops);

} // namespace mlir::autopar

#endif // AUTOPAR_ANALYSIS_REDUCTIONS_H
