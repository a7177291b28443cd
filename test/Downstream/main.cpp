// Parses autopar IR and runs an autopar pass from outside the autopar tree.
#include "autopar/Dialect/AutoparOps.h"
#include "autopar/InitAutopar.h"
#include "autopar/Target/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/raw_ostream.h"

int main() {
  mlir::DialectRegistry registry;
  registry.insert<mlir::func::FuncDialect>();
  mlir::autopar::registerAutoparDialects(registry);
  mlir::MLIRContext context(registry);
  const char *source = R"mlir(
    autopar.mesh @mesh <gpus = 4>
    func.func @f(%x: tensor<2x8xf32>) -> tensor<8x8xf32> {
      %0 = autopar.all_gather %x on @mesh axes [gpus] gather_dim = 0 : tensor<2x8xf32> -> tensor<8x8xf32>
      return %0 : tensor<8x8xf32>
    }
  )mlir";
  mlir::OwningOpRef<mlir::ModuleOp> module =
      mlir::parseSourceString<mlir::ModuleOp>(source, &context);
  if (!module)
    return 1;
  mlir::PassManager pm(&context);
  mlir::autopar::SetTargetOptions options;
  options.target = "h100-dgx";
  pm.addPass(mlir::autopar::createSetTarget(options));
  if (mlir::failed(pm.run(*module)))
    return 1;
  auto mesh = llvm::cast<mlir::autopar::MeshOp>(module->getBody()->front());
  llvm::outs() << "mesh devices: " << mesh.getMesh().getNumDevices() << "\n";
  module->print(llvm::outs());
  return 0;
}
