//===- InitAutopar.cpp - register everything autopar provides -------------===//

#include "autopar/InitAutopar.h"
#include "autopar/Autodiff/Passes.h"
#include "autopar/Autodiff/ReverseMode.h"
#include "autopar/Conversion/Passes.h"
#include "autopar/Cost/Passes.h"
#include "autopar/Dialect/AutoparDialect.h"
#include "autopar/Import/Passes.h"
#include "autopar/Interop/Passes.h"
#include "autopar/Partition/Passes.h"
#include "autopar/Search/Passes.h"
#include "autopar/Target/Passes.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Target/LLVM/NVVM/Target.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"

void mlir::autopar::registerAutoparDialects(DialectRegistry &registry) {
  registry.insert<AutoparDialect>();
  registerReverseModeExternalModels(registry);
  // autopar-lower-to-cuda compiles kernels: NVVM targets and the
  // translations to LLVM IR they serialize through.
  NVVM::registerNVVMTargetInterfaceExternalModels(registry);
  registerAllToLLVMIRTranslations(registry);
}

void mlir::autopar::registerAllAutoparPasses() {
  registerAutoparImportPasses();
  registerAutoparTargetPasses();
  registerAutoparCostPasses();
  registerAutoparSearchPasses();
  registerAutoparAutodiffPasses();
  registerAutoparPartitionPasses();
  registerAutoparInteropPasses();
  registerAutoparConversionPasses();
  registerAutoShardPipeline();
  registerLowerToCPUPipeline();
  registerLowerToCUDAPipeline();
}
