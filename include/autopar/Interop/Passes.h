//===- Passes.h - autopar upstream shard interop passes ---------*- C++ -*-===//

#ifndef AUTOPAR_INTEROP_PASSES_H
#define AUTOPAR_INTEROP_PASSES_H

#include "autopar/Dialect/AutoparDialect.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir::autopar {
#define GEN_PASS_DECL
#include "autopar/Interop/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "autopar/Interop/Passes.h.inc"

} // namespace mlir::autopar

#endif // AUTOPAR_INTEROP_PASSES_H
