//===- Target.h - resolving target descriptions -----------------*- C++ -*-===//
//
// A target is named by a preset (`titanxp-pcie-4`, ...) or by a JSON file
// with the schema of docs/targets.md.
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_TARGET_TARGET_H
#define AUTOPAR_TARGET_TARGET_H

#include "autopar/Dialect/AutoparAttrs.h"
#include "autopar/Target/Presets.h"

namespace mlir::autopar {

/// Resolves `spec`: a path to a JSON file when it ends in `.json` or contains
/// a `/`, else a preset name. Errors go through `emitError` and name the
/// preset list, the file, or the bad field.
FailureOr<TargetAttr>
resolveTarget(MLIRContext *context, StringRef spec,
              function_ref<InFlightDiagnostic()> emitError);

/// Reads a target from JSON text; `fileName` appears in the diagnostics.
FailureOr<TargetAttr>
parseTargetJson(MLIRContext *context, StringRef json, StringRef fileName,
                function_ref<InFlightDiagnostic()> emitError);

/// The target of `module`: its `autopar.target` attribute, else `spec`
/// resolved (the default preset when `spec` is empty). A non-empty `spec`
/// wins over the attribute.
FailureOr<TargetAttr>
getModuleTarget(Operation *module, StringRef spec,
                function_ref<InFlightDiagnostic()> emitError);

} // namespace mlir::autopar

#endif // AUTOPAR_TARGET_TARGET_H
