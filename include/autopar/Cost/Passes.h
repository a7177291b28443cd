//===- Passes.h - autopar workload and cost analysis passes -----*- C++ -*-===//

#ifndef AUTOPAR_COST_PASSES_H
#define AUTOPAR_COST_PASSES_H

#include "autopar/Dialect/AutoparDialect.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir::autopar {
#define GEN_PASS_DECL
#include "autopar/Cost/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "autopar/Cost/Passes.h.inc"

} // namespace mlir::autopar

#endif // AUTOPAR_COST_PASSES_H
