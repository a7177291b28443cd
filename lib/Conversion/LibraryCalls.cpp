//===- LibraryCalls.cpp - autopar.library_call as runtime calls -----------===//
//
// autopar-lower-library-calls: after bufferization, each autopar.library_call
// on buffers becomes the func.call of its runtime function, with the
// buffers' addresses and its values as constants (include/autopar/
// Conversion/Passes.td).
//
//===----------------------------------------------------------------------===//

#include "autopar/Conversion/Passes.h"
#include "autopar/Conversion/RuntimeCalls.h"
#include "autopar/Dialect/AutoparOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"

namespace mlir::autopar {
#define GEN_PASS_DEF_LOWERLIBRARYCALLS
#include "autopar/Conversion/Passes.h.inc"
} // namespace mlir::autopar

using namespace mlir;
using namespace mlir::autopar;

namespace {
struct LowerLibraryCallsPass
    : public mlir::autopar::impl::LowerLibraryCallsBase<LowerLibraryCallsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<LibraryCallOp> calls;
    module.walk([&](LibraryCallOp op) { calls.push_back(op); });
    OpBuilder builder(&getContext());
    Type i64 = builder.getI64Type();
    for (LibraryCallOp op : calls) {
      if (!op.getResults().empty()) {
        op.emitError("library call to '")
            << op.getCallee() << "' is still on tensors: bufferize first";
        return signalPassFailure();
      }
      builder.setInsertionPoint(op);
      Location loc = op.getLoc();
      SmallVector<Value> operands;
      SmallVector<Type> types;
      for (Value buffer :
           llvm::concat<Value>(op.getInputs(), op.getOutputs())) {
        operands.push_back(getBufferAddress(builder, loc, buffer));
        types.push_back(i64);
      }
      for (Attribute value : op.getValues()) {
        auto typed = cast<TypedAttr>(value);
        operands.push_back(arith::ConstantOp::create(builder, loc, typed));
        types.push_back(typed.getType());
      }
      // Run-time integers, as i64.
      for (Value scalar : op.getScalars()) {
        if (scalar.getType().isIndex())
          scalar = arith::IndexCastOp::create(builder, loc, i64, scalar);
        else if (scalar.getType() != i64)
          scalar = arith::ExtSIOp::create(builder, loc, i64, scalar);
        operands.push_back(scalar);
        types.push_back(i64);
      }
      func::FuncOp callee = getOrDeclareRuntimeFunction(
          builder, module, op.getCallee(), types, {});
      if (TypeRange(callee.getFunctionType().getInputs()) != TypeRange(types)) {
        op.emitError("library call to '")
            << op.getCallee() << "' does not match its declaration "
            << callee.getFunctionType();
        return signalPassFailure();
      }
      if (op.getStreamOrdered())
        setStreamOrdered(callee);
      auto call = func::CallOp::create(builder, loc, callee, operands);
      SmallVector<int32_t> written;
      for (unsigned i = 0, e = op.getOutputs().size(); i < e; ++i)
        written.push_back(op.getInputs().size() + i);
      setWrittenOperands(call, written);
      op->erase();
    }
  }
};
} // namespace
