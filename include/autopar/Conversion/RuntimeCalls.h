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

namespace mlir::autopar {

/// The private function `name` of `module`, declared with `inputs` ->
/// `results` at the start of the module if it is not there yet.
func::FuncOp getOrDeclareRuntimeFunction(OpBuilder &builder, ModuleOp module,
                                         StringRef name, TypeRange inputs,
                                         TypeRange results);

/// The aligned address of the memref `buffer` as an i64.
Value getBufferAddress(OpBuilder &builder, Location loc, Value buffer);

} // namespace mlir::autopar

#endif // AUTOPAR_CONVERSION_RUNTIMECALLS_H
