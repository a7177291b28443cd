//===- UpdateInPlace.cpp - training-step updates over their arguments -----===//
//
// autopar-update-in-place: a private function's result that replaces one of
// its arguments (`autopar.updates`), made by a linalg op that writes into
// an empty tensor (static shape, its body not reading it), is made into
// that argument instead, and the argument is marked `autopar.in_place`.
// Bufferization then writes the update over the argument's buffer wherever
// nothing reads the argument afterwards (and copies where something does: its
// own analysis decides), upstream's drop-equivalent-buffer-results removes the
// result, and the caller keeps using the argument's buffer: a training step
// holds one copy of the parameters and optimizer state, as PyTorch's in-place
// optimizers do, instead of the old and the new. An update that a region
// of an `scf.index_switch` or `scf.if` yields (a pipeline stage's program:
// each stage's case updates its own parameters and passes the others'
// arguments through) is made into the argument in each region. Public
// functions keep their calling convention (each update in a buffer of its
// own). A value received from another stage or made by a collective
// (`autopar.recv`, ZeRO's all-gather: no destination at the tensor level)
// is copied into the argument.
//
//===----------------------------------------------------------------------===//

#include "autopar/Conversion/Passes.h"
#include "autopar/Dialect/AutoparOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

namespace mlir::autopar {
#define GEN_PASS_DEF_UPDATEINPLACE
#include "autopar/Conversion/Passes.h.inc"
} // namespace mlir::autopar

using namespace mlir;
using namespace mlir::autopar;

namespace {
/// Makes `value`, which replaces `argument`, into the argument where a
/// linalg op writes it into an empty tensor (static shape, its body not
/// reading it), looking through the regions of `scf.index_switch` and
/// `scf.if`; returns whether it changed anything. Always the same values:
/// an empty tensor's elements are never read, so the argument's in their
/// place change nothing the op computes (bufferization then writes over
/// the argument where nothing reads it afterwards, and copies where
/// something does).
bool writeInto(OpOperand &use, BlockArgument argument) {
  Value value = use.get();
  auto opResult = dyn_cast<OpResult>(value);
  if (!opResult || value.getType() != argument.getType())
    return false;
  Operation *owner = opResult.getOwner();
  if (isa<scf::IndexSwitchOp, scf::IfOp>(owner)) {
    bool changed = false;
    for (Region &region : owner->getRegions())
      if (!region.empty())
        changed |= writeInto(region.front().getTerminator()->getOpOperand(
                                 opResult.getResultNumber()),
                             argument);
    return changed;
  }
  // A value received from another stage (a tied weight's update, made on
  // the stage that owns it) or made by a collective (ZeRO's all-gather of
  // the updated shards): copied into the argument, so that the step returns
  // no buffer of its own (the communication's is freed after the copy;
  // these ops have no destination to write into at the tensor level).
  // (Through the slices and reshapes that unpack a grouped collective's
  // value and lay it out as the argument.)
  Operation *root = owner;
  while (isa<tensor::ExpandShapeOp, tensor::CollapseShapeOp,
             tensor::ExtractSliceOp>(root))
    if (!(root = root->getOperand(0).getDefiningOp()))
      return false;
  // The copy goes where the value is returned (or yielded), after every
  // other use, so that nothing reads the argument after it is written.
  if (isa<RecvOp, CollectiveOpInterface>(root)) {
    OpBuilder builder(use.getOwner());
    auto copy =
        linalg::CopyOp::create(builder, owner->getLoc(), value, argument);
    use.set(copy.getResult(0));
    return true;
  }
  // A linalg op (whose body says whether it reads its destination); other
  // destination-style ops keep theirs.
  auto producer = dyn_cast<linalg::LinalgOp>(owner);
  if (!producer || !producer.hasPureTensorSemantics())
    return false;
  OpOperand *init = producer.getDpsInitOperand(opResult.getResultNumber());
  if (!init->get().getDefiningOp<tensor::EmptyOp>() ||
      producer.payloadUsesValueFromOperand(init))
    return false;
  init->set(argument);
  return true;
}

struct UpdateInPlacePass
    : public mlir::autopar::impl::UpdateInPlaceBase<UpdateInPlacePass> {
  void runOnOperation() override {
    for (auto func : getOperation().getOps<func::FuncOp>()) {
      if (func.isExternal() || !func.isPrivate() ||
          !func.getBody().hasOneBlock())
        continue;
      auto ret = dyn_cast<func::ReturnOp>(func.getBody().front().back());
      if (!ret)
        continue;
      llvm::SmallDenseSet<unsigned> taken;
      for (auto [index, result] : llvm::enumerate(ret.getOperands())) {
        auto updates = func.getResultAttrOfType<IntegerAttr>(
            index, AutoparDialect::kUpdatesAttrName);
        if (!updates || updates.getInt() < 0 ||
            updates.getInt() >= func.getNumArguments() ||
            !taken.insert(updates.getInt()).second)
          continue;
        BlockArgument argument = func.getArgument(updates.getInt());
        auto type = dyn_cast<RankedTensorType>(argument.getType());
        // Static shapes: an empty tensor of a dynamic shape might not have
        // the argument's sizes.
        if (!type || !type.hasStaticShape() ||
            !writeInto(ret->getOpOperand(index), argument))
          continue;
        // Callers now pass a buffer the step writes: bufferization gives
        // it one no other argument shares, which later passes may rely on
        // (Buffers.h, mayAliasBuffers).
        func.setArgAttr(argument.getArgNumber(),
                        AutoparDialect::kInPlaceAttrName,
                        UnitAttr::get(func.getContext()));
      }
    }
  }
};
} // namespace
