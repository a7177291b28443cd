//===- SetTarget.cpp - attach a target description to the module ----------===//

#include "autopar/Dialect/AutoparOps.h"
#include "autopar/Target/Presets.h"
#include "autopar/Transforms/Passes.h"

#include "llvm/ADT/StringExtras.h"

namespace mlir::autopar {
#define GEN_PASS_DEF_SETTARGET
#include "autopar/Transforms/Passes.h.inc"
} // namespace mlir::autopar

using namespace mlir;
using namespace mlir::autopar;

namespace {
struct SetTargetPass
    : public mlir::autopar::impl::SetTargetBase<SetTargetPass> {
  using SetTargetBase::SetTargetBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    StringRef name = target;
    if (name.empty()) {
      if (module->hasAttr(AutoparDialect::kTargetAttrName))
        return;
      name = kDefaultTargetPreset;
    }
    TargetAttr attr = getTargetPreset(&getContext(), name);
    if (!attr) {
      module.emitError() << "unknown target '" << name << "'; presets: "
                         << llvm::join(getTargetPresetNames(), ", ");
      return signalPassFailure();
    }
    module->setAttr(AutoparDialect::kTargetAttrName, attr);
  }
};
} // namespace
