//===- InitAutopar.cpp - register everything autopar provides -------------===//

#include "autopar/InitAutopar.h"
#include "autopar/Autodiff/ReverseMode.h"
#include "autopar/Dialect/AutoparDialect.h"
#include "autopar/Transforms/Passes.h"

#include "mlir/IR/DialectRegistry.h"

void mlir::autopar::registerAutoparDialects(DialectRegistry &registry) {
  registry.insert<AutoparDialect>();
  registerReverseModeExternalModels(registry);
}

void mlir::autopar::registerAllAutoparPasses() {
  registerAutoparPasses();
  registerAutoShardPipeline();
  registerLowerToCPUPipeline();
}
