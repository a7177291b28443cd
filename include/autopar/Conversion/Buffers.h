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
/// this function did not allocate (arguments may be one buffer twice).
bool mayAliasBuffers(Value a, Value b);

} // namespace mlir::autopar

#endif // AUTOPAR_CONVERSION_BUFFERS_H
