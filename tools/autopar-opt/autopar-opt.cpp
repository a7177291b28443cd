//===- autopar-opt.cpp - the autopar optimizer driver ---------------------===//
//
// mlir-opt with every upstream dialect, pass and extension plus autopar's.
//
//===----------------------------------------------------------------------===//

#include "autopar/InitAutopar.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::registerAllPasses();
  mlir::autopar::registerAllAutoparPasses();

  mlir::DialectRegistry registry;
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  mlir::autopar::registerAutoparDialects(registry);

  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "autopar optimizer driver\n", registry));
}
