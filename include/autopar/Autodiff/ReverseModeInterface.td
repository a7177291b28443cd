//===- ReverseModeInterface.td - reverse-mode rules ------*- tablegen -*-===//
//
// How an op contributes to a backward pass: given the adjoints of its
// results, it emits the adjoints of its differentiable operands. Attached as
// external models (lib/Autodiff/ReverseModeModels.cpp): one generic rule for
// every linalg structured op, explicit rules where the math demands it.
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_AUTODIFF_REVERSEMODEINTERFACE_TD
#define AUTOPAR_AUTODIFF_REVERSEMODEINTERFACE_TD

include "mlir/IR/OpBase.td"

def ReverseModeOpInterface : OpInterface<"ReverseModeOpInterface"> {
  let cppNamespace = "::mlir::autopar";
  let description = [{
    Reverse-mode differentiation of one op. `buildAdjoints` reads the
    adjoints of the op's results from `state` (`state.getAdjoint(result)`,
    null when no gradient reaches it), and adds the adjoint of each operand
    that needs one (`state.needsGradient(operand)`) with
    `state.addAdjoint(operand, adjoint)`, creating ops with `builder`. It
    fails with an error at the op when it cannot differentiate this
    instance.
  }];
  let methods = [
    InterfaceMethod<
      "Emits the adjoints of the operands from those of the results.",
      "::llvm::LogicalResult", "buildAdjoints",
      (ins "::mlir::OpBuilder &":$builder,
           "::mlir::autopar::AdjointState &":$state)>,
  ];
}

#endif // AUTOPAR_AUTODIFF_REVERSEMODEINTERFACE_TD
