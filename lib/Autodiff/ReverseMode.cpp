//===- ReverseMode.cpp - the backward-pass driver -------------------------===//

#include "autopar/Autodiff/ReverseMode.h"
#include "autopar/Analysis/Reductions.h"
#include "autopar/Dialect/AutoparDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Transforms/RegionUtils.h"
#include "llvm/ADT/ScopeExit.h"

using namespace mlir;
using namespace mlir::autopar;

#include "autopar/Autodiff/ReverseModeInterface.cpp.inc"

static constexpr StringLiteral kLayerAttrName = AutoparDialect::kLayerAttrName;
static constexpr StringLiteral kGradOfAttrName = AutoparDialect::kGradOfAttrName;

void AdjointState::addAdjoint(OpBuilder &builder, Location loc, Value value,
                              Value adjoint) {
  Value &slot = adjoints[value];
  if (!slot) {
    slot = adjoint;
    return;
  }
  auto type = cast<RankedTensorType>(adjoint.getType());
  Value empty = tensor::EmptyOp::create(builder, loc, type.getShape(),
                                        type.getElementType());
  slot = linalg::AddOp::create(builder, loc, ValueRange{slot, adjoint},
                               ValueRange{empty})
             .getResult(0);
}

namespace mlir::autopar {
/// Tags every op created while differentiating one forward op with that
/// op's layer.
class ReverseModeDriver : public OpBuilder::Listener {
public:
  void notifyOperationInserted(Operation *op,
                               OpBuilder::InsertPoint) override {
    // Top-level ops only, not the scalar ops inside their bodies.
    if (layer && op->getBlock() == block)
      op->setAttr(kGradOfAttrName, layer);
  }
  IntegerAttr layer;
  Block *block = nullptr;
};
} // namespace mlir::autopar

static bool isFloatTensor(Value value) {
  auto type = dyn_cast<RankedTensorType>(value.getType());
  return type && isa<FloatType>(type.getElementType());
}

FailureOr<SmallVector<Value>>
mlir::autopar::buildBackward(OpBuilder &builder, Block &block, Value output,
                             Value seed, ArrayRef<Value> wrt) {
  AdjointState state;
  for (Value value : wrt)
    if (isFloatTensor(value))
      state.active.insert(value);
  // Activity: forward from the values differentiated against, through
  // operands and through values an op's body reads (captured).
  DenseSet<Operation *> readsActiveCapture;
  for (Operation &op : block.without_terminator()) {
    bool anyActive = llvm::any_of(op.getOperands(), [&](Value operand) {
      return state.active.contains(operand);
    });
    if (op.getNumRegions()) {
      SetVector<Value> captured;
      getUsedValuesDefinedAbove(op.getRegions(), captured);
      for (Value value : captured) {
        if (!state.active.contains(value))
          continue;
        // Only linalg ops reading the value with tensor.extract in their
        // body have a rule for it (the table rule).
        bool extractsOnly =
            isa<linalg::LinalgOp>(op) &&
            llvm::all_of(value.getUses(), [&](OpOperand &use) {
              return !op.isProperAncestor(use.getOwner()) ||
                     isa<tensor::ExtractOp>(use.getOwner());
            });
        if (!extractsOnly)
          return op.emitError()
                 << "autopar-training: cannot differentiate through a value "
                    "captured by '"
                 << op.getName()
                 << "' other than by tensor.extract in a linalg body; pass "
                    "it as an operand";
        readsActiveCapture.insert(&op);
        anyActive = true;
      }
    }
    // A softmax's row maximum carries no gradient: the softmax is the
    // same for any shift (isSoftmaxShift, Analysis/Reductions.h).
    if (auto generic = dyn_cast<linalg::GenericOp>(op);
        generic && isSoftmaxShift(generic))
      anyActive = false;
    if (anyActive)
      for (Value result : op.getResults())
        if (isFloatTensor(result))
          state.active.insert(result);
  }
  state.adjoints[output] = seed;

  ReverseModeDriver driver;
  driver.block = &block;
  OpBuilder::Listener *previous = builder.getListener();
  builder.setListener(&driver);
  llvm::scope_exit restore([&] { builder.setListener(previous); });
  for (Operation &op :
       llvm::make_early_inc_range(llvm::reverse(block.without_terminator()))) {
    if (llvm::none_of(op.getResults(),
                      [&](Value result) { return state.getAdjoint(result); }))
      continue;
    if (llvm::none_of(op.getOperands(),
                      [&](Value operand) {
                        return state.needsGradient(operand);
                      }) &&
        !readsActiveCapture.contains(&op))
      continue;
    auto rule = dyn_cast<ReverseModeOpInterface>(op);
    if (!rule)
      return op.emitError() << "autopar-training: no reverse-mode rule for '"
                            << op.getName() << "'";
    driver.layer = op.getAttrOfType<IntegerAttr>(kLayerAttrName);
    if (failed(rule.buildAdjoints(builder, state)))
      return failure();
  }
  driver.layer = nullptr;

  SmallVector<Value> gradients;
  for (Value value : wrt) {
    Value adjoint = state.getAdjoint(value);
    if (!adjoint && isFloatTensor(value))
      adjoint = createZeros(builder, value.getLoc(),
                            cast<RankedTensorType>(value.getType()));
    gradients.push_back(adjoint);
  }
  return gradients;
}
