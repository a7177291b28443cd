//===- Passes.td - autopar workload and cost analysis passes ---*- tablegen -*-===//

#ifndef AUTOPAR_COST_PASSES_TD
#define AUTOPAR_COST_PASSES_TD

include "mlir/Pass/PassBase.td"

def Analyze : Pass<"autopar-analyze", "::mlir::ModuleOp"> {
  let summary = "Report each op's workload and its cost on one GPU of the target";
  let description = [{
    Runs the workload analysis (FLOPs, bytes, parameters, activations kept
    for the backward pass, backward FLOPs, gradients to synchronise; derived
    from linalg indexing maps, loop bounds and scalar bodies) and the cost
    model (roofline time on one GPU of the target, memory, predicted
    single-GPU training step) and writes a report: a text table, or JSON
    when `report` ends in `.json` (schema in docs/reports.md). The IR is
    not changed (a loss= is appended while the report is made, and erased). Ops the analysis does not understand get a warning and a
    conservative estimate.
  }];
  let options = [
    Option<"target", "target", "std::string", /*default=*/"\"\"",
           "Target machine: a preset name or a .json file (default: the "
           "module's autopar.target, else titanxp-pcie-4)">,
    Option<"report", "report", "std::string", /*default=*/"\"stderr\"",
           "Where to write the report: stderr (default), '-' (stdout), a "
           "file (JSON when it ends in .json), or empty for none">,
    Option<"optimizer", "optimizer", "std::string", /*default=*/"\"momentum\"",
           "Optimizer whose state and update the step includes: sgd, "
           "momentum or adam">,
    Option<"loss", "loss", "std::string", /*default=*/"\"auto\"",
           "The training step's loss, priced with the model (autopar-"
           "training's loss=): auto (the function returns its loss; none "
           "is added), softmax-cross-entropy or mse (its ops and its "
           "gradient reported at location `loss`)">,
    Option<"cudnnAttention", "cudnn-attention", "bool", /*default=*/"true",
           "Price 16-bit attentions that cuDNN's fused attention computes "
           "as that one call, forward and backward, as autopar-lower-to-"
           "cuda builds them by default (its cudnn-attention); false: as "
           "their decomposition (score-sized buffers and kernels)">
  ];
  let dependentDialects = ["::mlir::autopar::AutoparDialect"];
}

#endif // AUTOPAR_COST_PASSES_TD
