//===- RuntimeCalls.h - calls from generated code into runtimes -*- C++ -*-===//
//
// What every lowering to a runtime library does: declare the runtime's
// entry points in the module and pass buffers to them by address.
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_CONVERSION_RUNTIMECALLS_H
#define AUTOPAR_CONVERSION_RUNTIMECALLS_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"

#include <optional>

namespace mlir::autopar {

/// The private function `name` of `module`, declared with `inputs` ->
/// `results` at the start of the module if it is not there yet.
func::FuncOp getOrDeclareRuntimeFunction(OpBuilder &builder, ModuleOp module,
                                         StringRef name, TypeRange inputs,
                                         TypeRange results);

/// The address of the memref `buffer`'s first element as an i64: its
/// aligned pointer, plus its offset when its layout has one (a view into a
/// larger buffer).
Value getBufferAddress(OpBuilder &builder, Location loc, Value buffer);

/// The CUDA runtime's code for the element type of a contiguous static
/// buffer (row-major, possibly a view at an offset into a larger one) that
/// its library calls take: 0 f32, 1 f16, 2
/// bf16 (include/autopar/Runtime/CUDARuntime.h); none otherwise.
std::optional<int32_t> getLibraryElementType(Value buffer);

/// The unit attribute on a runtime function's declaration saying that it
/// does its work on the GPU in the order of the CUDA runtime's compute
/// stream (enqueued there, or on the communication stream and joined back)
/// and never reads or writes a buffer from the host: code that calls it
/// need not wait for the GPU first (autopar-order-on-stream), and the
/// buffers it is given may live in device memory (autopar-allocs-to-gpu).
inline constexpr StringLiteral kStreamOrderedAttrName =
    "autopar.stream_ordered";

/// Marks the runtime function `func` stream-ordered.
void setStreamOrdered(func::FuncOp func);

/// Whether `op` calls a runtime function marked stream-ordered.
bool isStreamOrderedCall(Operation *op);

/// The operands (buffer addresses) a runtime call writes, when its lowering
/// says: the others it only reads (autopar-order-on-stream lets the host
/// read a buffer that work in flight only reads).
inline constexpr StringLiteral kWritesAttrName = "autopar.writes";

/// Records that `call` writes the buffers of `operands` and reads the rest.
void setWrittenOperands(Operation *call, ArrayRef<int32_t> operands);

/// Whether `call` may write the buffer passed as operand `index`: listed
/// by setWrittenOperands, or every operand of a call not described.
bool mayWriteOperand(Operation *call, unsigned index);

} // namespace mlir::autopar

#endif // AUTOPAR_CONVERSION_RUNTIMECALLS_H
