//===- AutoparPlugin.cpp - autopar as an mlir-opt plugin ------------------===//
//
// Lets a stock mlir-opt load the autopar dialect (--load-dialect-plugin) and
// autopar's passes and pipelines (--load-pass-plugin).
//
//===----------------------------------------------------------------------===//

#include "autopar/InitAutopar.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/Plugins/DialectPlugin.h"
#include "mlir/Tools/Plugins/PassPlugin.h"
#include "llvm/Config/llvm-config.h"
#include "llvm/Support/Compiler.h"

extern "C" LLVM_ATTRIBUTE_WEAK mlir::DialectPluginLibraryInfo
mlirGetDialectPluginInfo() {
  return {MLIR_PLUGIN_API_VERSION, "Autopar", LLVM_VERSION_STRING,
          [](mlir::DialectRegistry *registry) {
            mlir::autopar::registerAutoparDialects(*registry);
          }};
}

extern "C" LLVM_ATTRIBUTE_WEAK mlir::PassPluginLibraryInfo
mlirGetPassPluginInfo() {
  return {MLIR_PLUGIN_API_VERSION, "AutoparPasses", LLVM_VERSION_STRING,
          []() { mlir::autopar::registerAllAutoparPasses(); }};
}
