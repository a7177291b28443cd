//===- Passes.h - bringing models into linalg on tensors --------*- C++ -*-===//

#ifndef AUTOPAR_IMPORT_PASSES_H
#define AUTOPAR_IMPORT_PASSES_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassManager.h"

namespace mlir::autopar {
#define GEN_PASS_DECL
#include "autopar/Import/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "autopar/Import/Passes.h.inc"

/// Whether `module` holds ops that autopar-import rewrites (TOSA, casts
/// that hide a concatenation's static shapes).
bool needsImport(ModuleOp module);

/// Runs autopar-import on `module` from inside another pass, through
/// `runPipeline` (the pass's own, a dynamic pipeline), when it needs it.
/// The pass declares the dialects it may create with getImportDialects.
LogicalResult importIfNeeded(
    ModuleOp module,
    function_ref<LogicalResult(OpPassManager &, ModuleOp)> runPipeline);

/// The dialects autopar-import creates.
void getImportDialects(DialectRegistry &registry);

} // namespace mlir::autopar

#endif // AUTOPAR_IMPORT_PASSES_H
