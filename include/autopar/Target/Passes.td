//===- Passes.td - autopar target passes -------------------*- tablegen -*-===//

#ifndef AUTOPAR_TARGET_PASSES_TD
#define AUTOPAR_TARGET_PASSES_TD

include "mlir/Pass/PassBase.td"

def SetTarget : Pass<"autopar-set-target", "::mlir::ModuleOp"> {
  let summary = "Attach a target-machine description to the module";
  let description = [{
    Resolves `target=` (a preset name such as `titanxp-pcie-4`, or a JSON
    file, see docs/targets.md) and attaches
    the resulting `#autopar.target` to the module as `autopar.target`, where
    the analyses and the search read it. A target already on the module is
    kept unless `target=` is given explicitly.
  }];
  let options = [
    Option<"target", "target", "std::string", /*default=*/"\"\"",
           "Target machine: a preset name or a .json file (default: "
           "titanxp-pcie-4)">
  ];
  let dependentDialects = ["::mlir::autopar::AutoparDialect"];
}

#endif // AUTOPAR_TARGET_PASSES_TD
