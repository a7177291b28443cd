//===- ProfileOps.cpp - time each op of a function
//-------------------------===//
//
// Wraps every op that does work in the named functions with calls to the
// runtime's clock: `%t = call @autopar_rt_clock()` before it and
// `call @autopar_rt_profile(site, %t)` after it, the site being the op's
// index in getProfiledOps. Both runtimes' work is synchronous (kernels,
// library calls and collectives return when their results are there), so
// the host clock measures each op. autopar-run --profile uses it for its
// per-layer table.
//
//===----------------------------------------------------------------------===//

#include "autopar/Conversion/ProfileOps.h"
#include "autopar/Dialect/AutoparOps.h"
#include "autopar/Conversion/Passes.h"
#include "autopar/Conversion/RuntimeCalls.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

namespace mlir::autopar {
#define GEN_PASS_DEF_PROFILEOPS
#include "autopar/Conversion/Passes.h.inc"
} // namespace mlir::autopar

using namespace mlir;
using namespace mlir::autopar;

SmallVector<Operation *> mlir::autopar::getProfiledOps(func::FuncOp func) {
  SmallVector<Operation *> ops;
  if (func.isExternal())
    return ops;
  for (Operation &op : func.getBody().front())
    if (isa<linalg::LinalgOp, CollectiveOpInterface, tensor::PadOp,
            tensor::InsertSliceOp>(op))
      ops.push_back(&op);
  return ops;
}

static constexpr llvm::StringLiteral kClock = "autopar_rt_clock";
static constexpr llvm::StringLiteral kProfile = "autopar_rt_profile";

bool mlir::autopar::isProfilingCall(Operation *op) {
  auto call = dyn_cast<func::CallOp>(op);
  return call && (call.getCallee() == kClock || call.getCallee() == kProfile);
}

namespace {
struct ProfileOpsPass
    : public mlir::autopar::impl::ProfileOpsBase<ProfileOpsPass> {
  using ProfileOpsBase::ProfileOpsBase;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    OpBuilder builder(module.getContext());
    Type f64 = builder.getF64Type(), i64 = builder.getI64Type();
    for (const std::string &name : functions) {
      auto func = module.lookupSymbol<func::FuncOp>(name);
      if (!func) {
        module.emitError() << "autopar-profile-ops: no function @" << name;
        return signalPassFailure();
      }
      func::FuncOp clock = getOrDeclareRuntimeFunction(
          builder, module, "autopar_rt_clock", {}, {f64});
      func::FuncOp profile =
          getOrDeclareRuntimeFunction(builder, module, kProfile, {i64, f64}, {});
      for (auto [site, op] : llvm::enumerate(getProfiledOps(func))) {
        Location loc = op->getLoc();
        builder.setInsertionPoint(op);
        Value start = func::CallOp::create(builder, loc, clock).getResult(0);
        builder.setInsertionPointAfter(op);
        Value id = arith::ConstantOp::create(builder, loc,
                                             builder.getI64IntegerAttr(site));
        func::CallOp::create(builder, loc, profile, ValueRange{id, start});
      }
    }
  }
};
} // namespace
