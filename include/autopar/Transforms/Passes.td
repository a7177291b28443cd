//===- Passes.td - autopar passes -------------------------*- tablegen -*-===//

#ifndef AUTOPAR_TRANSFORMS_PASSES_TD
#define AUTOPAR_TRANSFORMS_PASSES_TD

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

def Analyze : Pass<"autopar-analyze", "::mlir::ModuleOp"> {
  let summary = "Report each op's workload and its cost on one GPU of the target";
  let description = [{
    Runs the workload analysis (FLOPs, bytes, parameters, activations kept
    for the backward pass, backward FLOPs, gradients to synchronise; derived
    from linalg indexing maps, loop bounds and scalar bodies) and the cost
    model (roofline time on one GPU of the target, memory, predicted
    single-GPU training step) and writes a report: a text table, or JSON
    when `report` ends in `.json` (schema in docs/reports.md). The IR is
    not changed. Ops the analysis does not understand get a warning and a
    conservative estimate.
  }];
  let options = [
    Option<"target", "target", "std::string", /*default=*/"\"\"",
           "Target machine: a preset name or a .json file (default: the "
           "module's autopar.target, else titanxp-pcie-4)">,
    Option<"report", "report", "std::string", /*default=*/"\"-\"",
           "Where to write the report: a file (JSON when it ends in .json), "
           "'-' for stdout, or empty for none">,
    Option<"optimizer", "optimizer", "std::string", /*default=*/"\"momentum\"",
           "Optimizer whose state and update the step includes: sgd, "
           "momentum or adam">
  ];
  let dependentDialects = ["::mlir::autopar::AutoparDialect"];
}

#endif // AUTOPAR_TRANSFORMS_PASSES_TD
