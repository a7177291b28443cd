//===- Passes.td - bringing models into linalg on tensors --*- tablegen -*-===//

#ifndef AUTOPAR_IMPORT_PASSES_TD
#define AUTOPAR_IMPORT_PASSES_TD

include "mlir/Pass/PassBase.td"

def Import : Pass<"autopar-import", "::mlir::ModuleOp"> {
  let summary = "Bring a model into the linalg on tensors autopar plans: "
                "TOSA to linalg, static shapes behind casts exposed";
  let description = [{
    autopar plans, differentiates, partitions and lowers linalg on tensors.
    A module holding TOSA ops (`autopar-import-torch --dialect tosa`,
    `models/generate.py --tosa`, TFLite/ONNX exports) is rewritten with
    upstream's TOSA-to-linalg, -arith and -tensor conversions, and the TOSA
    shape constants they leave dead are erased. The converted forms are
    then written as torch-mlir's linalg export writes them, which the
    analyses and lowerings read: a `linalg.batch_matmul` over a batch of
    one as a `linalg.matmul`, reshapes that undo each other folded, an
    input expanded with unit dimensions the op only broadcasts read from
    its unexpanded source (a bias `[n]` at `(d2)`, not `[1, 1, n]` at
    `(0, 0, d2)`), a `linalg.reduce` as a generic op that writes the
    dimensions the expansion after it keeps (`[b, s, 1]` at `(d0, d1, 0)`),
    then canonicalized. In every module (linalg too), a generic op's
    constant inputs of one element (torch-mlir's 0-d tensors: a clamp's
    bounds, a mask's fill value; TOSA's `[1, 1, 1]` scales) become scalar
    constants in its body and an iota constant read at a loop (an arange)
    that loop's index: the planner takes tensor constants for weights
    (a params-as-constants export's) and priced their gradients. `normalize=false` leaves the
    forms as they come (to compare). A `tensor.concat` whose
    operands are `tensor.cast`s of static tensors to dynamic sizes
    (torch-mlir's export of `torch.roll`, in Swin) concatenates the static
    tensors instead, when its result type stays the same: partitioning and
    differentiation need static shapes. A module with none of these is
    left untouched (byte-identical). The auto-shard pipeline, autopar-plan,
    autopar-training and both lowering pipelines run it first, so a TOSA
    file goes wherever a linalg file goes.
  }];
  let options = [
    Option<"normalize", "normalize", "bool", /*default=*/"true",
           "Write the converted TOSA in torch-mlir's linalg forms">,
  ];
}

#endif // AUTOPAR_IMPORT_PASSES_TD
