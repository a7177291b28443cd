//===- ConstantInputs.cpp - constant inputs made in the body --------------===//
//
// Part of autopar: see include/autopar/Support/ConstantInputs.h.
//
//===----------------------------------------------------------------------===//

#include "autopar/Support/ConstantInputs.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"
#include "llvm/ADT/SetVector.h"

#include <functional>

using namespace mlir;
using namespace mlir::autopar;

/// The value a constant input of `generic` read through `map` has at each
/// iteration, when the body can make it: a splat's scalar, or an iota's
/// (a 1-D integer constant whose element i is i, read at loop k: a
/// torch.arange TOSA exports as a constant) loop index k. Null otherwise,
/// and for a splat of more than one element when `onlyScalars`.
static std::function<Value(OpBuilder &, Location)>
getConstantInputValue(Value input, AffineMap map, bool onlyScalars) {
  DenseElementsAttr value;
  if (!matchPattern(input, m_Constant(&value)) ||
      !value.getElementType().isIntOrFloat())
    return nullptr;
  if (value.isSplat()) {
    if (onlyScalars && value.getNumElements() != 1)
      return nullptr;
    auto scalar = value.getSplatValue<TypedAttr>();
    return [scalar](OpBuilder &b, Location loc) -> Value {
      return arith::ConstantOp::create(b, loc, scalar);
    };
  }
  if (value.getType().getRank() != 1 ||
      !isa<IntegerType>(value.getElementType()))
    return nullptr;
  auto dim = dyn_cast<AffineDimExpr>(map.getResult(0));
  if (!dim)
    return nullptr;
  int64_t position = 0;
  for (const APInt &element : value.getValues<APInt>())
    if (element.getSExtValue() != position++)
      return nullptr;
  Type type = value.getElementType();
  unsigned loop = dim.getPosition();
  return [type, loop](OpBuilder &b, Location loc) -> Value {
    Value index = linalg::IndexOp::create(b, loc, loop);
    return arith::IndexCastOp::create(b, loc, type, index);
  };
}

/// `generic` without its inputs that getConstantInputValue can make, each
/// made in the body instead; left as it is when it has none.
static void foldGenericConstantInputs(RewriterBase &rewriter,
                                      linalg::GenericOp generic,
                                      bool onlyScalars) {
  SmallVector<std::pair<unsigned, std::function<Value(OpBuilder &, Location)>>>
      constants;
  for (OpOperand *input : generic.getDpsInputOperands())
    if (auto make = getConstantInputValue(
            input->get(), generic.getMatchingIndexingMap(input), onlyScalars))
      constants.push_back({input->getOperandNumber(), std::move(make)});
  if (constants.empty())
    return;
  SmallVector<Value> inputs;
  SmallVector<AffineMap> maps;
  for (OpOperand *input : generic.getDpsInputOperands()) {
    if (llvm::any_of(constants, [&](auto &constant) {
          return constant.first == input->getOperandNumber();
        }))
      continue;
    inputs.push_back(input->get());
    maps.push_back(generic.getMatchingIndexingMap(input));
  }
  for (OpOperand &init : generic.getDpsInitsMutable())
    maps.push_back(generic.getMatchingIndexingMap(&init));
  rewriter.setInsertionPoint(generic);
  auto folded = linalg::GenericOp::create(
      rewriter, generic.getLoc(), generic->getResultTypes(), inputs,
      generic.getDpsInits(), maps, generic.getIteratorTypesArray());
  // The discardable attributes (autopar's annotations) carry over.
  for (NamedAttribute attr : generic->getDiscardableAttrs())
    folded->setAttr(attr.getName(), attr.getValue());
  rewriter.inlineRegionBefore(generic.getRegion(), folded.getRegion(),
                              folded.getRegion().end());
  Block &body = folded.getRegion().front();
  rewriter.setInsertionPointToStart(&body);
  for (auto &[number, make] : llvm::reverse(constants)) {
    BlockArgument arg = body.getArgument(number);
    rewriter.replaceAllUsesWith(arg, make(rewriter, generic.getLoc()));
    body.eraseArgument(number);
  }
  llvm::SetVector<Operation *> constantOps;
  for (auto &constant : constants)
    constantOps.insert(generic->getOperand(constant.first).getDefiningOp());
  rewriter.replaceOp(generic, folded->getResults());
  for (Operation *constant : constantOps)
    if (constant->use_empty())
      rewriter.eraseOp(constant);
}

void mlir::autopar::foldConstantInputs(Operation *root, bool onlyScalars) {
  SmallVector<linalg::GenericOp> generics;
  root->walk([&](linalg::GenericOp generic) {
    if (generic.hasPureTensorSemantics())
      generics.push_back(generic);
  });
  IRRewriter rewriter(root->getContext());
  for (linalg::GenericOp generic : generics)
    foldGenericConstantInputs(rewriter, generic, onlyScalars);
}
