//===- BufferLifetimes.cpp - where buffers stop being used ----------------===//
//
// autopar-free-buffers-early, over bufferized functions: each memref.dealloc
// of an allocation moves up to just after the last op of its block that
// uses the buffer or an alias of it.
//
// And autopar-simplify-deallocations, upstream's simplification of the
// deallocations ownership-based deallocation inserts, where it is affordable.
//
// See the pass descriptions in Passes.td.
//
//===----------------------------------------------------------------------===//

#include "autopar/Conversion/Passes.h"
#include "autopar/Dialect/AutoparOps.h"

#include "mlir/Dialect/Bufferization/Transforms/BufferViewFlowAnalysis.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Pass/PassManager.h"

namespace mlir::autopar {
#define GEN_PASS_DEF_FREEBUFFERSEARLY
#define GEN_PASS_DEF_SIMPLIFYDEALLOCATIONS
#include "autopar/Conversion/Passes.h.inc"
} // namespace mlir::autopar

using namespace mlir;
using namespace mlir::autopar;

/// The last op of `block` that uses `buffer` (defined in `block` or an
/// argument of its region) or an alias of it in a way `counts` accepts (a
/// use inside a region counting as a use by the op of `block` that holds
/// it); ops in `ignored` aside. Null when some use or alias is outside the
/// block or is its terminator.
static Operation *
findLastUse(Block *block, Value buffer, ArrayRef<Operation *> ignored,
            const BufferViewFlowAnalysis &aliases,
            function_ref<bool(Operation *user, Value alias)> counts) {
  Operation *last = buffer.getDefiningOp();
  auto consider = [&](Operation *op, bool counted) {
    Operation *holder = block->findAncestorOpInBlock(*op);
    if (!holder || holder->hasTrait<OpTrait::IsTerminator>())
      return false;
    if (counted && (!last || last->isBeforeInBlock(holder)))
      last = holder;
    return true;
  };
  for (Value alias : aliases.resolve(buffer)) {
    for (Operation *user : alias.getUsers())
      if (!llvm::is_contained(ignored, user) &&
          !consider(user, counts(user, alias)))
        return nullptr;
    // An alias made in the block (a view) is itself a use.
    if (Operation *definer = alias.getDefiningOp())
      if (!consider(definer, alias != buffer))
        return nullptr;
  }
  return last;
}

namespace {
struct FreeBuffersEarlyPass
    : public mlir::autopar::impl::FreeBuffersEarlyBase<FreeBuffersEarlyPass> {
  void runOnOperation() override {
    BufferViewFlowAnalysis aliases(getOperation());
    SmallVector<memref::DeallocOp> deallocs;
    getOperation()->walk(
        [&](memref::DeallocOp dealloc) { deallocs.push_back(dealloc); });
    for (memref::DeallocOp dealloc : deallocs) {
      Value buffer = dealloc.getMemref();
      Block *block = dealloc->getBlock();
      Operation *alloc = buffer.getDefiningOp();
      if (!isa_and_nonnull<memref::AllocOp>(alloc) ||
          alloc->getBlock() != block || !alloc->isBeforeInBlock(dealloc))
        continue;
      // A buffer whose address is taken (a library or runtime call reads
      // it through an integer) is used where that address is: unknown.
      bool addressTaken =
          llvm::any_of(aliases.resolve(buffer), [](Value alias) {
            return llvm::any_of(alias.getUsers(), [](Operation *user) {
              return isa<memref::ExtractAlignedPointerAsIndexOp,
                         UnrealizedConversionCastOp>(user);
            });
          });
      if (addressTaken)
        continue;
      Operation *last =
          findLastUse(block, buffer, {dealloc.getOperation()}, aliases,
                      [](Operation *, Value) { return true; });
      if (last && last->isBeforeInBlock(dealloc))
        dealloc->moveAfter(last);
    }
  }
};

struct SimplifyDeallocationsPass
    : public mlir::autopar::impl::SimplifyDeallocationsBase<
          SimplifyDeallocationsPass> {
  void runOnOperation() override {
    func::FuncOp func = getOperation();
    if (func->hasAttr(AutoparDialect::kRuntimeDeallocationAttrName))
      return;
    OpPassManager simplify(func::FuncOp::getOperationName());
    simplify.addPass(
        bufferization::createBufferDeallocationSimplificationPass());
    if (failed(runPipeline(simplify, func)))
      signalPassFailure();
  }
};

} // namespace
