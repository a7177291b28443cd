//===- AutoparInterfaces.td - autopar interfaces ----------*- tablegen -*-===//

#ifndef AUTOPAR_DIALECT_AUTOPARINTERFACES_TD
#define AUTOPAR_DIALECT_AUTOPARINTERFACES_TD

include "mlir/IR/OpBase.td"

def Autopar_CollectiveOpInterface : OpInterface<"CollectiveOpInterface"> {
  let cppNamespace = "::mlir::autopar";
  let description = [{
    A collective over the groups of devices that differ only in their
    coordinates along `axes` of `mesh`. It works either on tensors
    (`%r = op %input ...`) or on buffers (`op %input into %output ...`).
    The interface verifies the form, element types and the axes; each op
    checks its own shape arithmetic in `verifyShapes`.
  }];
  let methods = [
    InterfaceMethod<"The value sent.", "::mlir::Value", "getInput", (ins), [{}],
      [{ return $_op.getInput(); }]>,
    InterfaceMethod<"The destination buffer (buffer form), or null.",
      "::mlir::Value", "getOutput", (ins), [{}],
      [{ return $_op.getOutput(); }]>,
    InterfaceMethod<"The mesh the collective runs on.",
      "::mlir::FlatSymbolRefAttr", "getMeshAttr", (ins), [{}],
      [{ return $_op.getMeshAttr(); }]>,
    InterfaceMethod<"The mesh axes that form a group.",
      "::mlir::ArrayAttr", "getAxesAttr", (ins), [{}],
      [{ return $_op.getAxesAttr(); }]>,
    InterfaceMethod<[{
        Checks the input and result shapes for a group of `groupSize`
        devices (the product of the sizes of `axes`) on `mesh`.
      }], "::llvm::LogicalResult", "verifyShapes",
      (ins "int64_t":$groupSize, "::mlir::autopar::MeshAttr":$mesh)>,
  ];
  let extraSharedClassDeclaration = [{
    /// Whether the op works on buffers (`into` form) rather than tensors.
    bool hasBufferSemantics() { return $_op.getOutput() != nullptr; }
    /// The type of the produced value: the result or the `into` buffer.
    ::mlir::ShapedType getResultShapedType() {
      return ::llvm::cast<::mlir::ShapedType>(hasBufferSemantics()
          ? $_op.getOutput().getType() : $_op->getResult(0).getType());
    }
    ::mlir::ShapedType getInputShapedType() {
      return ::llvm::cast<::mlir::ShapedType>($_op.getInput().getType());
    }
  }];
  let verify = [{ return ::mlir::autopar::detail::verifyCollectiveOp($_op); }];
}

#endif // AUTOPAR_DIALECT_AUTOPARINTERFACES_TD
