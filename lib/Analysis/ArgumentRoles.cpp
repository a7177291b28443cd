//===- ArgumentRoles.cpp - which values are inputs, labels, parameters ----===//

#include "autopar/Analysis/ArgumentRoles.h"
#include "autopar/Dialect/AutoparDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinTypes.h"

using namespace mlir;
using namespace mlir::autopar;

StringRef mlir::autopar::stringifyValueRole(ValueRole role) {
  switch (role) {
  case ValueRole::Input:
    return "input";
  case ValueRole::Label:
    return "label";
  case ValueRole::Param:
    return "param";
  case ValueRole::State:
    return "state";
  case ValueRole::Activation:
    return "activation";
  }
  llvm_unreachable("unknown role");
}

static std::optional<ValueRole> parseRole(StringRef name) {
  return llvm::StringSwitch<std::optional<ValueRole>>(name)
      .Case("input", ValueRole::Input)
      .Case("label", ValueRole::Label)
      .Case("param", ValueRole::Param)
      .Case("state", ValueRole::State)
      .Default(std::nullopt);
}

ArgumentRoles::ArgumentRoles(FunctionOpInterface func) : func(func) {
  unsigned numArgs = func.getNumArguments();
  for (unsigned i = 0; i < numArgs; ++i)
    if (func.getArgAttr(i, AutoparDialect::kRoleAttrName))
      inferred = false;

  Region &body = func.getFunctionBody();
  if (body.empty())
    return;
  bool haveBatch = false;
  for (BlockArgument arg : body.getArguments()) {
    ValueRole role;
    if (inferred) {
      role = arg.getArgNumber() == 0 ? ValueRole::Input : ValueRole::Param;
    } else {
      auto attr = func.getArgAttrOfType<StringAttr>(
          arg.getArgNumber(), AutoparDialect::kRoleAttrName);
      // Unmarked arguments of a marked function are parameters.
      role = attr ? parseRole(attr.getValue()).value_or(ValueRole::Param)
                  : ValueRole::Param;
    }
    // A scalar (an index, a count) is no weight: state, without a gradient.
    if (role == ValueRole::Param && !isa<ShapedType>(arg.getType()))
      role = ValueRole::State;
    roots[arg] = role;
    if (role == ValueRole::Param)
      parameters.push_back(arg);
    if ((role == ValueRole::Input || role == ValueRole::Label) &&
        isa<RankedTensorType>(arg.getType())) {
      batchArguments.push_back(arg);
      if (!firstInput && role == ValueRole::Input)
        firstInput = arg;
    }
    if (role == ValueRole::Input && !haveBatch) {
      haveBatch = true;
      auto shaped = dyn_cast<ShapedType>(arg.getType());
      int64_t dim = getBatchDim(arg);
      if (shaped && shaped.hasRank() && dim < shaped.getRank() &&
          !shaped.isDynamicDim(dim))
        batchSize = shaped.getDimSize(dim);
    }
  }
  // Tensor constants are weights when no argument is (torch-mlir's
  // params-as-constants exports); beside parameter arguments they are
  // constants of the model (a clamp's bounds, a TOSA convolution's zero
  // bias, a mask), which get no gradient.
  if (!parameters.empty())
    return;
  func.walk([&](arith::ConstantOp constant) {
    if (isa<RankedTensorType>(constant.getType())) {
      roots[constant.getResult()] = ValueRole::Param;
      parameters.push_back(constant.getResult());
    }
  });
}

int64_t ArgumentRoles::getBatchDim(BlockArgument arg) const {
  FunctionOpInterface function = func;
  if (auto dim = function.getArgAttrOfType<IntegerAttr>(
          arg.getArgNumber(), AutoparDialect::kBatchDimAttrName))
    return dim.getInt();
  return 0;
}

/// The single tensor operand of a data-layout op that keeps the values of
/// its input (reshapes, casts, transposes, broadcasts), or null.
static Value getViewSource(Operation *op) {
  if (isa<tensor::CollapseShapeOp, tensor::ExpandShapeOp, tensor::CastOp,
          tensor::ReshapeOp, tensor::BitcastOp>(op))
    return op->getOperand(0);
  if (auto transpose = dyn_cast<linalg::TransposeOp>(op))
    return transpose.getInput();
  if (auto broadcast = dyn_cast<linalg::BroadcastOp>(op))
    return broadcast.getInput();
  return {};
}

Value ArgumentRoles::getSource(Value value) const {
  while (Operation *def = value.getDefiningOp()) {
    Value source = getViewSource(def);
    if (!source)
      break;
    value = source;
  }
  return value;
}

ValueRole ArgumentRoles::getRole(Value value) const {
  auto it = roots.find(getSource(value));
  return it == roots.end() ? ValueRole::Activation : it->second;
}

bool mlir::autopar::isWorkingCopy(Operation *op) {
  auto generic = dyn_cast<linalg::GenericOp>(op);
  if (!generic || generic->hasAttr(AutoparDialect::kLayerAttrName) ||
      generic->hasAttr(AutoparDialect::kGradOfAttrName) ||
      generic.getNumDpsInputs() != 1 || generic->getNumResults() != 1 ||
      generic.getNumReductionLoops() != 0)
    return false;
  auto input = dyn_cast<RankedTensorType>(
      generic.getDpsInputOperand(0)->get().getType());
  auto result = dyn_cast<RankedTensorType>(generic->getResult(0).getType());
  return input && result && result.getShape() == input.getShape() &&
         result.getElementType() != input.getElementType();
}
