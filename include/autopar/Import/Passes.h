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

/// Runs autopar-import on `module` from inside another pass: the TOSA
/// conversions through `runPipeline` (the pass's own, a dynamic pipeline)
/// when the module holds TOSA, then the casts that hide a concatenation's
/// static shapes; a module with neither is left as it is.
/// The pass declares the dialects it may create with getImportDialects.
/// `normalize` false keeps the conversions' own forms.
LogicalResult importIfNeeded(
    ModuleOp module,
    function_ref<LogicalResult(OpPassManager &, ModuleOp)> runPipeline,
    bool normalize = true);

/// The dialects autopar-import creates.
void getImportDialects(DialectRegistry &registry);

} // namespace mlir::autopar

#endif // AUTOPAR_IMPORT_PASSES_H
