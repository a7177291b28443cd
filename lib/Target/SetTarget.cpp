//===- SetTarget.cpp - attach a target description to the module ----------===//

#include "autopar/Dialect/AutoparOps.h"
#include "autopar/Target/Target.h"
#include "autopar/Target/Passes.h"

namespace mlir::autopar {
#define GEN_PASS_DEF_SETTARGET
#include "autopar/Target/Passes.h.inc"
} // namespace mlir::autopar

using namespace mlir;
using namespace mlir::autopar;

namespace {
struct SetTargetPass
    : public mlir::autopar::impl::SetTargetBase<SetTargetPass> {
  using SetTargetBase::SetTargetBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    FailureOr<TargetAttr> attr =
        getModuleTarget(module, target, [&] { return mlir::emitError(module.getLoc()); });
    if (failed(attr))
      return signalPassFailure();
    module->setAttr(AutoparDialect::kTargetAttrName, *attr);
  }
};
} // namespace
