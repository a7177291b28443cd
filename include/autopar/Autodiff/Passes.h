//===- Passes.h - autopar training-step passes ------------------*- C++ -*-===//

#ifndef AUTOPAR_AUTODIFF_PASSES_H
#define AUTOPAR_AUTODIFF_PASSES_H

#include "autopar/Dialect/AutoparDialect.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir::autopar {
#define GEN_PASS_DECL
#include "autopar/Autodiff/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "autopar/Autodiff/Passes.h.inc"

} // namespace mlir::autopar

#endif // AUTOPAR_AUTODIFF_PASSES_H
