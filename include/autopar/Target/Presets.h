//===- Presets.h - built-in target machines ---------------------*- C++ -*-===//

#ifndef AUTOPAR_TARGET_PRESETS_H
#define AUTOPAR_TARGET_PRESETS_H

#include "autopar/Dialect/AutoparAttrs.h"
#include "mlir/Support/LLVM.h"

namespace mlir::autopar {
/// The preset used when no target is given: the WAP paper's machine.
inline constexpr llvm::StringLiteral kDefaultTargetPreset = "titanxp-pcie-4";

/// Names of the built-in presets, in a fixed order.
ArrayRef<StringRef> getTargetPresetNames();

/// The preset `name`, or null when there is none.
TargetAttr getTargetPreset(MLIRContext *context, StringRef name);
} // namespace mlir::autopar

#endif // AUTOPAR_TARGET_PRESETS_H
