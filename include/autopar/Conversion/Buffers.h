//===- Buffers.h - which buffers a lowering may tell apart ------*- C++ -*-===//
//
// The aliasing rules the lowerings on buffers share (loop fusion, stream
// order): a buffer is a view of a root; roots this function allocates are
// distinct from every other root; roots it was given may be one buffer
// passed twice.
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_CONVERSION_BUFFERS_H
#define AUTOPAR_CONVERSION_BUFFERS_H

#include "mlir/IR/Value.h"

namespace mlir::autopar {

/// The buffer `buffer` is a view of (itself when it is none), through
/// view-like ops.
Value getRootBuffer(Value buffer);

/// Whether the root buffer `root` is one this function allocates
/// (memref.alloc, gpu.alloc) or a constant it takes (memref.get_global),
/// not one it was given.
bool isAllocatedBuffer(Value root);

/// Whether two root buffers may share memory: the same buffer, or two that
/// this function did not allocate (arguments may be one buffer twice),
/// except two arguments one of which is marked autopar.in_place (the
/// function writes its update over it: bufferization gives it a buffer of
/// its own at every call).
bool mayAliasBuffers(Value a, Value b);

/// Whether `op`, or an op nested in it, takes a buffer whose root may be
/// `root` (mayAliasBuffers).
bool touchesBuffer(Operation *op, Value root);

/// The fill that starts `op`'s accumulation into `output` and nothing else
/// sees: a `linalg.fill` into `output` itself, earlier in `op`'s block, with
/// no op in between touching a buffer that may alias it and no other
/// operand of `op` that may. Null when there is none.
Operation *getFillBefore(Operation *op, Value output);

/// getFillBefore's fill when it fills with zero: the fill a library call
/// replacing `op` (a linalg op accumulating into `output`) makes redundant
/// when it writes instead of adding (beta = 0).
Operation *getZeroFillBefore(Operation *op, Value output);

} // namespace mlir::autopar

#endif // AUTOPAR_CONVERSION_BUFFERS_H
