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

def Autopar_AttentionOpInterface : OpInterface<"AttentionOpInterface"> {
  let cppNamespace = "::mlir::autopar";
  let description = [{
    An attention or its gradient: loops (b, i, j, d, e) over `query`
    [B, I, D], `key` [B, D, J] (keys transposed) and `value` [B, J, E],
    scores scaled by `scale`, and an optional `mask` region of (b, i, j)
    and the `mask_inputs` it reads yielding `i1` (true: the score is
    replaced by `masked`). The batch may be several leading dimensions
    (batch and heads apart, [N0, N1, I, D]: B = N0 N1, so that the heads
    can be split where the batch is not); the mask's b is then the batch
    index linearised row-major. The interface verifies what both ops share
    (ranks, sizes, one floating-point type, the mask's form); each op
    checks its other operands.
  }];
  let methods = [
    InterfaceMethod<"The queries [B, I, D].", "::mlir::TypedValue<::mlir::RankedTensorType>",
      "getQuery", (ins), [{}], [{ return $_op.getQuery(); }]>,
    InterfaceMethod<"The transposed keys [B, D, J].", "::mlir::TypedValue<::mlir::RankedTensorType>",
      "getKey", (ins), [{}], [{ return $_op.getKey(); }]>,
    InterfaceMethod<"The values [B, J, E].", "::mlir::TypedValue<::mlir::RankedTensorType>",
      "getValue", (ins), [{}], [{ return $_op.getValue(); }]>,
    InterfaceMethod<"The scores' scale.", "double", "getScaleValue", (ins),
      [{}], [{ return $_op.getScale().convertToDouble(); }]>,
    InterfaceMethod<"The masked scores' value, when there is a mask.",
      "std::optional<double>", "getMaskedValue", (ins), [{}], [{
        if (std::optional<::llvm::APFloat> masked = $_op.getMasked())
          return masked->convertToDouble();
        return std::nullopt;
      }]>,
    InterfaceMethod<"Whether the masked value is added to the score "
      "(the gradient passing) rather than replacing it.", "bool",
      "isAdditiveMask", (ins), [{}], [{ return $_op.getAdditive(); }]>,
    InterfaceMethod<"The mask region (empty when nothing is masked).",
      "::mlir::Region &", "getMaskRegion", (ins), [{}],
      [{ return $_op.getMask(); }]>,
    InterfaceMethod<"The tensors the mask reads (its region's arguments "
      "after b, i, j).", "::mlir::OperandRange", "getMaskInputs", (ins), [{}],
      [{ return $_op.getMaskInputs(); }]>,
    InterfaceMethod<"The mask inputs, to change them.",
      "::mlir::MutableOperandRange", "getMaskInputsMutable", (ins), [{}],
      [{ return $_op.getMaskInputsMutable(); }]>,
  ];
  let extraSharedClassDeclaration = [{
    /// Whether a mask region is present.
    bool hasMask() { return !$_op.getMaskRegion().empty(); }
    /// Whether `operand` is one the mask reads (whole on every device and
    /// in every block, never differentiated).
    bool isMaskInput(::mlir::OpOperand &operand) {
      ::mlir::OperandRange inputs = $_op.getMaskInputs();
      if (inputs.empty() || operand.getOwner() != $_op.getOperation())
        return false;
      unsigned first = inputs.getBeginOperandIndex();
      unsigned number = operand.getOperandNumber();
      return number >= first && number < first + inputs.size();
    }
    /// The number of leading batch dimensions (1: [B, I, D]).
    unsigned getBatchRank() {
      return $_op.getQuery().getType().getRank() - 2;
    }
    /// The leading batch dimensions' sizes.
    ::llvm::ArrayRef<int64_t> getBatchShape() {
      return $_op.getQuery().getType().getShape().take_front(getBatchRank());
    }
    /// The loop sizes (b, i, j, d, e), b the batch dimensions' product
    /// (dynamic when one of them is).
    ::llvm::SmallVector<int64_t, 5> getLoopSizes() {
      ::mlir::RankedTensorType query = $_op.getQuery().getType();
      ::mlir::RankedTensorType value = $_op.getValue().getType();
      unsigned n = getBatchRank();
      int64_t batch = 1;
      for (int64_t size : getBatchShape())
        batch = ::mlir::ShapedType::isDynamic(size) || 
                        ::mlir::ShapedType::isDynamic(batch)
                    ? ::mlir::ShapedType::kDynamic
                    : batch * size;
      return {batch, query.getDimSize(n), value.getDimSize(n),
              query.getDimSize(n + 1), value.getDimSize(n + 1)};
    }
  }];
  let verify = [{ return ::mlir::autopar::detail::verifyAttentionOp($_op); }];
}

#endif // AUTOPAR_DIALECT_AUTOPARINTERFACES_TD
