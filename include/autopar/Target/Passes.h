//===- Passes.h - autopar target passes -------------------------*- C++ -*-===//

#ifndef AUTOPAR_TARGET_PASSES_H
#define AUTOPAR_TARGET_PASSES_H

#include "autopar/Dialect/AutoparDialect.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir::autopar {
#define GEN_PASS_DECL
#include "autopar/Target/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "autopar/Target/Passes.h.inc"

} // namespace mlir::autopar

#endif // AUTOPAR_TARGET_PASSES_H
