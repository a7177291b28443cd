//===- Training.cpp - a training step from a forward function -------------===//
//
// `autopar-training`: clones the forward function into a new one, adds the
// loss, the backward pass (lib/Autodiff) and the optimizer update.
//
//===----------------------------------------------------------------------===//

#include "autopar/Analysis/ArgumentRoles.h"
#include "autopar/Analysis/Loss.h"
#include "autopar/Autodiff/Passes.h"
#include "autopar/Autodiff/ReverseMode.h"
#include "autopar/Autodiff/StepTransforms.h"
#include "autopar/Cost/CostModel.h"
#include "autopar/Import/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::autopar {
#define GEN_PASS_DEF_TRAINING
#include "autopar/Autodiff/Passes.h.inc"
} // namespace mlir::autopar

using namespace mlir;
using namespace mlir::autopar;

/// Drops the results of a multi-result linalg.generic that nothing uses
/// when the used ones do not depend on them (torch exports max with its
/// argmax as one op and uses only the max): reverse mode differentiates
/// single-result ops. Other generics are left as they are.
static void pruneUnusedResults(OpBuilder &b, linalg::GenericOp generic) {
  if (generic.getNumResults() < 2 || !generic.hasPureTensorSemantics())
    return;
  SmallVector<unsigned> used;
  for (OpResult result : generic->getResults())
    if (!result.use_empty())
      used.push_back(result.getResultNumber());
  if (used.size() == generic.getNumResults() || used.empty())
    return;
  // The body ops the used yields need, and whether they read an unused
  // output's accumulator.
  Block &body = generic.getRegion().front();
  auto yield = cast<linalg::YieldOp>(body.getTerminator());
  llvm::SmallPtrSet<Operation *, 16> needed;
  SmallVector<Value> work;
  for (unsigned r : used)
    work.push_back(yield.getOperand(r));
  unsigned numInputs = generic.getNumDpsInputs();
  while (!work.empty()) {
    Value value = work.pop_back_val();
    if (auto arg = dyn_cast<BlockArgument>(value)) {
      if (arg.getOwner() == &body && arg.getArgNumber() >= numInputs &&
          !llvm::is_contained(used, arg.getArgNumber() - numInputs))
        return;
      continue;
    }
    Operation *def = value.getDefiningOp();
    if (!def || def->getBlock() != &body || !needed.insert(def).second)
      continue;
    if (def->getNumRegions() != 0)
      return;
    llvm::append_range(work, def->getOperands());
  }
  SmallVector<Value> inits;
  SmallVector<AffineMap> allMaps = generic.getIndexingMapsArray();
  SmallVector<AffineMap> maps(allMaps.begin(), allMaps.begin() + numInputs);
  SmallVector<Type> types;
  for (unsigned r : used) {
    inits.push_back(generic.getDpsInitOperand(r)->get());
    maps.push_back(allMaps[numInputs + r]);
    types.push_back(generic.getResult(r).getType());
  }
  b.setInsertionPoint(generic);
  auto pruned = linalg::GenericOp::create(
      b, generic.getLoc(), types, generic.getDpsInputs(), inits, maps,
      generic.getIteratorTypesArray(),
      [&](OpBuilder &nb, Location loc, ValueRange args) {
        IRMapping mapping;
        for (unsigned i = 0; i < numInputs; ++i)
          mapping.map(body.getArgument(i), args[i]);
        for (auto [k, r] : llvm::enumerate(used))
          mapping.map(body.getArgument(numInputs + r), args[numInputs + k]);
        for (Operation &op : body.without_terminator())
          if (needed.contains(&op))
            nb.clone(op, mapping);
        SmallVector<Value> yielded;
        for (unsigned r : used)
          yielded.push_back(mapping.lookup(yield.getOperand(r)));
        linalg::YieldOp::create(nb, loc, yielded);
      });
  for (NamedAttribute attr : generic->getDiscardableAttrs())
    pruned->setAttr(attr.getName(), attr.getValue());
  for (auto [k, r] : llvm::enumerate(used))
    generic.getResult(r).replaceAllUsesWith(pruned.getResult(k));
  generic.erase();
}

namespace {
struct TrainingPass : public mlir::autopar::impl::TrainingBase<TrainingPass> {
  using Base::Base;
  void getDependentDialects(DialectRegistry &registry) const override {
    Base::getDependentDialects(registry);
    getImportDialects(registry);
  }
  void runOnOperation() override;
};
} // namespace

void TrainingPass::runOnOperation() {
  ModuleOp module = getOperation();
  // A TOSA model is differentiated as the linalg it imports to.
  if (failed(importIfNeeded(module, [&](OpPassManager &pm, ModuleOp op) {
        return runPipeline(pm, op);
      })))
    return signalPassFailure();
  auto forward = module.lookupSymbol<func::FuncOp>(func);
  if (!forward || forward.isExternal()) {
    mlir::emitError(module.getLoc())
        << "autopar-training: no function '" << func << "' with a body";
    return signalPassFailure();
  }
  if (module.lookupSymbol(name)) {
    mlir::emitError(module.getLoc())
        << "autopar-training: a symbol '" << name << "' already exists";
    return signalPassFailure();
  }
  FailureOr<LossKind> parsedLoss =
      parseLoss(module.getLoc(), "autopar-training", loss);
  if (failed(parsedLoss))
    return signalPassFailure();
  LossKind lossKind = *parsedLoss;
  std::optional<Optimizer> optimizerKind = symbolizeOptimizer(optimizer);
  if (!optimizerKind) {
    mlir::emitError(module.getLoc())
        << "autopar-training: unknown optimizer '" << optimizer
        << "'; expected sgd, momentum or adam";
    return signalPassFailure();
  }

  std::optional<Recompute> recomputeKind = symbolizeRecompute(recompute);
  if (!recomputeKind) {
    mlir::emitError(module.getLoc())
        << "autopar-training: unknown recompute '" << recompute
        << "'; expected none, selective or full";
    return signalPassFailure();
  }

  // The compute type precision= asks for (the planner's vocabulary:
  // symbolizePrecision); without it, the model's own.
  MLIRContext *context = &getContext();
  FloatType requested;
  if (!precision.empty()) {
    std::optional<Precision> kind = symbolizePrecision(precision);
    if (!kind || *kind == Precision::Model) {
      mlir::emitError(module.getLoc())
          << "autopar-training: unknown precision '" << precision
          << "'; expected f32, bf16 or fp16";
      return signalPassFailure();
    }
    if (*kind == Precision::BF16)
      requested = BFloat16Type::get(context);
    else if (*kind == Precision::FP16)
      requested = Float16Type::get(context);
    else
      requested = Float32Type::get(context);
  }
  // A 16-bit precision on an f32 model: the model is cast to the 16-bit
  // type first (arguments, constants, every value), then trains as a model
  // written in it does, with f32 master parameters.
  if (requested && requested.getWidth() == 16) {
    auto f32 = Float32Type::get(context);
    bool computesInF32 =
        llvm::any_of(forward.getFunctionType().getResults(), [&](Type type) {
          return getElementTypeOrSelf(type) == f32;
        });
    if (computesInF32 && failed(castFunctionFloats(forward, f32, requested)))
      return signalPassFailure();
  }

  FunctionType forwardType = forward.getFunctionType();
  int64_t resultIndex = result;
  if (resultIndex < 0) {
    if (forwardType.getNumResults() != 1) {
      forward.emitError() << "autopar-training: the forward function returns "
                          << forwardType.getNumResults()
                          << " values; choose the model's output with "
                             "result=N";
      return signalPassFailure();
    }
    resultIndex = 0;
  } else if (resultIndex >= forwardType.getNumResults()) {
    forward.emitError() << "autopar-training: result=" << resultIndex
                        << " but the forward function returns "
                        << forwardType.getNumResults() << " values";
    return signalPassFailure();
  }
  if (failed(verifyLossOutput(forward, "autopar-training", lossKind,
                              forwardType.getResult(resultIndex))))
    return signalPassFailure();
  auto outputType = cast<RankedTensorType>(forwardType.getResult(resultIndex));
  Type elementType = outputType.getElementType();

  // Mixed precision: a 16-bit model trains in its own type with f32 master
  // parameters, optimizer state and update.
  auto modelFloat = cast<FloatType>(elementType);
  FloatType compute = requested ? requested : modelFloat;
  if (compute != modelFloat) {
    InFlightDiagnostic diag = forward.emitError()
                              << "autopar-training: precision=" << precision
                              << " but the model computes in " << modelFloat;
    if (modelFloat.getWidth() == 16)
      diag << "; a 16-bit model trains in its own type with f32 master "
              "parameters (omit precision=, or export the model in f32)";
    else
      diag << "; only f32 models are cast to 16-bit: export it in f32, "
              "bf16 or fp16";
    return signalPassFailure();
  }
  bool mixed = compute.getWidth() == 16;
  bool scaled = compute.isF16();
  Type f32 = Float32Type::get(context);
  // The type the update (and the loss) computes in.
  Type updateElement = mixed ? f32 : elementType;

  // The parameters: arguments with the param role.
  ArgumentRoles roles(forward);
  SmallVector<unsigned> paramArgs;
  for (BlockArgument arg : forward.getArguments())
    if (roles.getRole(arg) == ValueRole::Param) {
      auto type = dyn_cast<RankedTensorType>(arg.getType());
      if (!type || !type.hasStaticShape() ||
          !isa<FloatType>(type.getElementType())) {
        forward.emitError() << "autopar-training: parameter #"
                            << arg.getArgNumber()
                            << " must be a statically shaped float tensor";
        return signalPassFailure();
      }
      paramArgs.push_back(arg.getArgNumber());
    }

  // Float tensor constants: lifted to parameters, or counted for the
  // warning below.
  SmallVector<arith::ConstantOp> constants;
  for (Operation &op : forward.getBody().front())
    if (auto constant = dyn_cast<arith::ConstantOp>(op)) {
      auto type = dyn_cast<RankedTensorType>(constant.getType());
      if (type && type.getRank() > 0 && isa<FloatType>(type.getElementType()))
        constants.push_back(constant);
    }

  // The signature: forward args, lifted constants, labels, optimizer state.
  Builder attrs(context);
  SmallVector<Type> argTypes(forwardType.getInputs());
  SmallVector<DictionaryAttr> argAttrs;
  // The forward's roles written out: the step marks its labels and state,
  // so an argument it left unmarked would read as a parameter (the batch
  // input of a forward whose roles were inferred).
  for (BlockArgument arg : forward.getArguments()) {
    NamedAttrList dict(forward.getArgAttrDict(arg.getArgNumber()));
    if (!dict.get(AutoparDialect::kRoleAttrName))
      dict.set(AutoparDialect::kRoleAttrName,
               attrs.getStringAttr(stringifyValueRole(roles.getRole(arg))));
    argAttrs.push_back(dict.getDictionary(context));
  }
  auto roleDict = [&](StringRef role) {
    return DictionaryAttr::get(
        context, {attrs.getNamedAttr(AutoparDialect::kRoleAttrName,
                                     attrs.getStringAttr(role))});
  };
  DenseMap<Value, unsigned> liftedArg;
  if (liftConstants)
    for (arith::ConstantOp constant : constants) {
      liftedArg[constant.getResult()] = argTypes.size();
      paramArgs.push_back(argTypes.size());
      argTypes.push_back(constant.getType());
      argAttrs.push_back(roleDict("param"));
    }
  if (paramArgs.empty()) {
    InFlightDiagnostic diag = forward.emitWarning()
                              << "autopar-training: @" << forward.getName()
                              << " has no parameters (arguments with "
                                 "autopar.role = \"param\"); the step "
                                 "trains nothing";
    if (!constants.empty())
      diag << "; its " << constants.size()
           << " float tensor constants (weights, as torch-mlir exports "
              "them) are trained with lift-constants=true";
  }
  // 16-bit parameters are f32 masters in the step's signature; the forward
  // reads 16-bit working copies cast at the start.
  DenseMap<unsigned, Type> workingType;
  if (mixed)
    for (unsigned param : paramArgs) {
      auto type = cast<RankedTensorType>(argTypes[param]);
      if (type.getElementType().getIntOrFloatBitWidth() >= 32)
        continue;
      workingType[param] = type.getElementType();
      argTypes[param] = type.clone(f32);
    }
  int labelArg = -1;
  if (RankedTensorType labelType = getLabelType(lossKind, outputType)) {
    labelArg = argTypes.size();
    argTypes.push_back(labelType);
    argAttrs.push_back(roleDict("label"));
  }
  auto statesPerParam =
      static_cast<unsigned>(getOptimizerStates(*optimizerKind));
  unsigned firstState = argTypes.size();
  for (unsigned s = 0; s < statesPerParam; ++s)
    for (unsigned param : paramArgs) {
      argTypes.push_back(argTypes[param]);
      argAttrs.push_back(roleDict("state"));
    }
  int stepArg = -1;
  if (*optimizerKind == Optimizer::Adam) {
    stepArg = argTypes.size();
    argTypes.push_back(RankedTensorType::get({}, updateElement));
    argAttrs.push_back(roleDict("state"));
  }
  // fp16's dynamic loss scale: its exponent offset from the initial scale
  // and the clean steps since it last changed (zeros to start).
  int scaleArg = -1, cleanArg = -1;
  if (scaled) {
    scaleArg = argTypes.size();
    cleanArg = scaleArg + 1;
    for (int i = 0; i < 2; ++i) {
      argTypes.push_back(RankedTensorType::get({}, f32));
      argAttrs.push_back(roleDict("state"));
    }
  }

  OpBuilder builder(context);
  builder.setInsertionPointAfter(forward);
  auto step = func::FuncOp::create(builder, forward.getLoc(), name,
                                   builder.getFunctionType(argTypes, {}));
  step.setAllArgAttrs(argAttrs);
  Block *body = step.addEntryBlock();
  builder.setInsertionPointToEnd(body);
  auto ret = func::ReturnOp::create(builder, forward.getLoc(), ValueRange{});
  builder.setInsertionPoint(ret);

  // The 16-bit working copies of the f32 masters.
  DenseMap<unsigned, Value> working;
  for (unsigned param : paramArgs)
    if (Type type = workingType.lookup(param))
      working[param] =
          createCast(builder, forward.getLoc(), body->getArgument(param), type);
  auto parameterValue = [&](unsigned arg) -> Value {
    if (Value copy = working.lookup(arg))
      return copy;
    return body->getArgument(arg);
  };

  // The forward pass, each op tagged with its layer number.
  IRMapping mapping;
  for (BlockArgument arg : forward.getArguments())
    mapping.map(arg, parameterValue(arg.getArgNumber()));
  int64_t layer = 0;
  Value output;
  for (Operation &op : forward.getBody().front()) {
    if (auto constant = dyn_cast<arith::ConstantOp>(op);
        constant && liftedArg.count(constant.getResult())) {
      mapping.map(constant.getResult(),
                  parameterValue(liftedArg[constant.getResult()]));
      continue;
    }
    if (auto forwardReturn = dyn_cast<func::ReturnOp>(op)) {
      output = mapping.lookup(forwardReturn.getOperand(resultIndex));
      continue;
    }
    Operation *clone = builder.clone(op, mapping);
    if (!isa<tensor::EmptyOp>(clone) &&
        llvm::any_of(clone->getResultTypes(),
                     [](Type type) { return isa<TensorType>(type); }))
      clone->setAttr("autopar.layer", builder.getI64IntegerAttr(layer++));
  }

  // Multi-result generics whose extra results are dead (max with argmax).
  {
    SmallVector<linalg::GenericOp> generics;
    body->walk([&](linalg::GenericOp generic) {
      if (generic.getNumResults() > 1)
        generics.push_back(generic);
    });
    OpBuilder::InsertionGuard guard(builder);
    for (linalg::GenericOp generic : generics) {
      if (llvm::is_contained(generic->getResults(), output))
        continue;
      pruneUnusedResults(builder, generic);
    }
  }

  // The loss and its gradient with respect to the output.
  Location loc = forward.getLoc();
  Location lossLoc = getLossLoc(forward);
  // fp16: the loss scale of an exponent offset, initial * 2^offset; this
  // step's scale and its inverse.
  auto f32Scalar = RankedTensorType::get({}, f32);
  double initialScale = lossScale;
  auto scaleOf = [&](Value offset) {
    return buildElementwise(
        builder, loc, {offset}, f32Scalar,
        [&](OpBuilder &nb, Location nloc, ValueRange args) {
          Value two =
              arith::ConstantOp::create(nb, nloc, nb.getFloatAttr(f32, 2.0));
          Value start = arith::ConstantOp::create(
              nb, nloc, nb.getFloatAttr(f32, initialScale));
          Value power = math::PowFOp::create(nb, nloc, two, args[0]);
          return arith::MulFOp::create(nb, nloc, start, power).getResult();
        });
  };
  Value scale, inverseScale;
  if (scaled) {
    scale = scaleOf(body->getArgument(scaleArg));
    inverseScale = buildElementwise(
        builder, loc, {scale}, f32Scalar,
        [&](OpBuilder &nb, Location nloc, ValueRange args) {
          Value one =
              arith::ConstantOp::create(nb, nloc, nb.getFloatAttr(f32, 1.0));
          return arith::DivFOp::create(nb, nloc, one, args[0]).getResult();
        });
  }
  // Mixed precision computes the loss in f32.
  Value modelOutput = output;
  RankedTensorType modelOutputType = outputType;
  elementType = updateElement;
  outputType = outputType.clone(updateElement);
  output = createCast(builder, lossLoc, output, updateElement);
  auto scalarType = RankedTensorType::get({}, elementType);
  BuiltLoss built =
      buildLoss(builder, lossLoc, lossKind, output,
                labelArg >= 0 ? Value(body->getArgument(labelArg)) : Value());
  Value lossValue = built.loss, seed = built.seed;

  // The seed in the model's type (fp16: scaled first).
  if (scaled)
    seed = createScaled(builder, lossLoc, seed, scale,
                        modelOutputType.getElementType());
  else
    seed = createCast(builder, lossLoc, seed, modelOutputType.getElementType());
  output = modelOutput;

  // The backward pass.
  SmallVector<Value> params, workingParams;
  for (unsigned param : paramArgs) {
    params.push_back(body->getArgument(param));
    workingParams.push_back(parameterValue(param));
  }
  FailureOr<SmallVector<Value>> gradients =
      buildBackward(builder, *body, output, seed, workingParams);
  if (failed(gradients)) {
    step.erase();
    return signalPassFailure();
  }
  // The update reads f32 gradients (fp16: unscaled).
  if (mixed)
    for (Value &gradient : *gradients)
      gradient = scaled
                     ? createScaled(builder, loc, gradient, inverseScale, f32)
                     : createCast(builder, loc, gradient, f32);
  // fp16: the step is skipped when a gradient is inf or NaN. Summing g * 0
  // over every gradient gives NaN exactly then; ok is 1 or 0.
  Value ok;
  if (scaled) {
    Value bad;
    for (Value gradient : *gradients) {
      auto type = cast<RankedTensorType>(gradient.getType());
      unsigned rank = type.getRank();
      Value sum = buildReduction(
          builder, loc, {gradient}, {builder.getMultiDimIdentityMap(rank)},
          AffineMap::get(rank, 0, context), f32Scalar, 0.0,
          [&](OpBuilder &nb, Location nloc, ValueRange args, Value acc) {
            Value zero =
                arith::ConstantOp::create(nb, nloc, nb.getFloatAttr(f32, 0.0));
            Value product = arith::MulFOp::create(nb, nloc, args[0], zero);
            return arith::AddFOp::create(nb, nloc, acc, product).getResult();
          });
      bad = bad ? linalg::AddOp::create(
                      builder, loc, ValueRange{bad, sum},
                      ValueRange{tensor::EmptyOp::create(
                          builder, loc, ArrayRef<int64_t>{}, f32)})
                      .getResult(0)
                : sum;
    }
    ok = buildElementwise(
        builder, loc, {bad}, f32Scalar,
        [&](OpBuilder &nb, Location nloc, ValueRange args) {
          Value finite = arith::CmpFOp::create(
              nb, nloc, arith::CmpFPredicate::ORD, args[0], args[0]);
          Value one =
              arith::ConstantOp::create(nb, nloc, nb.getFloatAttr(f32, 1.0));
          Value zero =
              arith::ConstantOp::create(nb, nloc, nb.getFloatAttr(f32, 0.0));
          return arith::SelectOp::create(nb, nloc, finite, one, zero)
              .getResult();
        });
  }

  // The update.
  SmallVector<Value> newParams, newStates(statesPerParam * params.size());
  Value newStep;
  double lr = learningRate;
  Value stepValue, correction1, correction2;
  if (*optimizerKind == Optimizer::Adam) {
    // t' = t + 1; the bias corrections 1 - beta^t' as rank-0 tensors.
    stepValue = buildElementwise(
        builder, loc, {body->getArgument(stepArg)}, scalarType,
        [&](OpBuilder &nb, Location nloc, ValueRange args) {
          Value one = arith::ConstantOp::create(
              nb, nloc, nb.getFloatAttr(elementType, 1.0));
          return arith::AddFOp::create(nb, nloc, args[0], one).getResult();
        });
    newStep = stepValue;
    auto correction = [&](double beta) {
      return buildElementwise(
          builder, loc, {stepValue}, scalarType,
          [&](OpBuilder &nb, Location nloc, ValueRange args) {
            Value base = arith::ConstantOp::create(
                nb, nloc, nb.getFloatAttr(elementType, beta));
            Value one = arith::ConstantOp::create(
                nb, nloc, nb.getFloatAttr(elementType, 1.0));
            Value power = math::PowFOp::create(nb, nloc, base, args[0]);
            return arith::SubFOp::create(nb, nloc, one, power).getResult();
          });
    };
    correction1 = correction(beta1);
    correction2 = correction(beta2);
  }
  for (auto [index, param] : llvm::enumerate(params)) {
    auto type = cast<RankedTensorType>(param.getType());
    Type element = type.getElementType();
    Value gradient = (*gradients)[index];
    auto constant = [&](OpBuilder &nb, Location nloc, double value) {
      return arith::ConstantOp::create(nb, nloc, nb.getFloatAttr(element, value))
          .getResult();
    };
    switch (*optimizerKind) {
    case Optimizer::SGD:
      newParams.push_back(buildElementwise(
          builder, loc, {param, gradient}, type,
          [&](OpBuilder &nb, Location nloc, ValueRange args) {
            Value delta =
                arith::MulFOp::create(nb, nloc, args[1], constant(nb, nloc, lr));
            return arith::SubFOp::create(nb, nloc, args[0], delta).getResult();
          }));
      break;
    case Optimizer::Momentum: {
      // v' = momentum * v + g; p' = p - lr * v'
      Value velocity = body->getArgument(firstState + index);
      double mu = momentum;
      Value newVelocity = buildElementwise(
          builder, loc, {velocity, gradient}, type,
          [&](OpBuilder &nb, Location nloc, ValueRange args) {
            Value kept =
                arith::MulFOp::create(nb, nloc, args[0], constant(nb, nloc, mu));
            return arith::AddFOp::create(nb, nloc, kept, args[1]).getResult();
          });
      newStates[index] = newVelocity;
      newParams.push_back(buildElementwise(
          builder, loc, {param, newVelocity}, type,
          [&](OpBuilder &nb, Location nloc, ValueRange args) {
            Value delta =
                arith::MulFOp::create(nb, nloc, args[1], constant(nb, nloc, lr));
            return arith::SubFOp::create(nb, nloc, args[0], delta).getResult();
          }));
      break;
    }
    case Optimizer::Adam: {
      // m' = b1 m + (1 - b1) g; v' = b2 v + (1 - b2) g^2;
      // p' = p - lr * (m' / c1) / (sqrt(v' / c2) + eps)
      Value m = body->getArgument(firstState + index);
      Value v = body->getArgument(firstState + params.size() + index);
      double b1 = beta1, b2 = beta2, eps = epsilon;
      Value newM = buildElementwise(
          builder, loc, {m, gradient}, type,
          [&](OpBuilder &nb, Location nloc, ValueRange args) {
            Value kept =
                arith::MulFOp::create(nb, nloc, args[0], constant(nb, nloc, b1));
            Value added = arith::MulFOp::create(nb, nloc, args[1],
                                                constant(nb, nloc, 1 - b1));
            return arith::AddFOp::create(nb, nloc, kept, added).getResult();
          });
      Value newV = buildElementwise(
          builder, loc, {v, gradient}, type,
          [&](OpBuilder &nb, Location nloc, ValueRange args) {
            Value kept =
                arith::MulFOp::create(nb, nloc, args[0], constant(nb, nloc, b2));
            Value square = arith::MulFOp::create(nb, nloc, args[1], args[1]);
            Value added = arith::MulFOp::create(nb, nloc, square,
                                                constant(nb, nloc, 1 - b2));
            return arith::AddFOp::create(nb, nloc, kept, added).getResult();
          });
      newStates[index] = newM;
      newStates[params.size() + index] = newV;
      // The corrections are rank-0 tensors: broadcast them in the update.
      unsigned rank = type.getRank();
      AffineMap identity = builder.getMultiDimIdentityMap(rank);
      AffineMap scalarMap = AffineMap::get(rank, 0, context);
      Value init = tensor::EmptyOp::create(builder, loc, type.getShape(), element);
      newParams.push_back(
          linalg::GenericOp::create(
              builder, loc, TypeRange{type},
              ValueRange{param, newM, newV, correction1, correction2},
              ValueRange{init},
              SmallVector<AffineMap>{identity, identity, identity, scalarMap,
                                     scalarMap, identity},
              SmallVector<utils::IteratorType>(rank,
                                               utils::IteratorType::parallel),
              [&](OpBuilder &nb, Location nloc, ValueRange args) {
                Value mHat = arith::DivFOp::create(nb, nloc, args[1], args[3]);
                Value vHat = arith::DivFOp::create(nb, nloc, args[2], args[4]);
                Value root = math::SqrtOp::create(nb, nloc, vHat);
                Value denominator = arith::AddFOp::create(
                    nb, nloc, root, constant(nb, nloc, eps));
                Value ratio =
                    arith::DivFOp::create(nb, nloc, mHat, denominator);
                Value delta = arith::MulFOp::create(nb, nloc, ratio,
                                                    constant(nb, nloc, lr));
                linalg::YieldOp::create(
                    nb, nloc,
                    arith::SubFOp::create(nb, nloc, args[0], delta)
                        .getResult());
              })
              .getResult(0));
      break;
    }
    }
  }

  // fp16: a step with an overflow keeps the parameters and the state, and
  // halves the scale; growth-interval clean steps in a row double it.
  Value newScale, newClean, nextScale;
  if (scaled) {
    for (auto [index, param] : llvm::enumerate(params))
      newParams[index] =
          createSelect(builder, loc, ok, newParams[index], param);
    for (unsigned s = 0; s < newStates.size(); ++s)
      newStates[s] = createSelect(builder, loc, ok, newStates[s],
                                  body->getArgument(firstState + s));
    if (newStep)
      newStep =
          createSelect(builder, loc, ok, newStep, body->getArgument(stepArg));
    double interval = static_cast<double>(growthInterval);
    auto scaleUpdate = [&](bool exponent) {
      return buildElementwise(
          builder, loc,
          {ok, body->getArgument(scaleArg), body->getArgument(cleanArg)},
          f32Scalar, [&](OpBuilder &nb, Location nloc, ValueRange args) {
            auto constant = [&](double value) {
              return arith::ConstantOp::create(nb, nloc,
                                               nb.getFloatAttr(f32, value))
                  .getResult();
            };
            Value clean =
                arith::AddFOp::create(nb, nloc, args[2], constant(1.0));
            Value grow = arith::CmpFOp::create(
                nb, nloc, arith::CmpFPredicate::OGE, clean, constant(interval));
            Value fine = arith::CmpFOp::create(
                nb, nloc, arith::CmpFPredicate::UNE, args[0], constant(0.0));
            if (!exponent) {
              Value kept =
                  arith::SelectOp::create(nb, nloc, grow, constant(0.0), clean);
              return arith::SelectOp::create(nb, nloc, fine, kept,
                                             constant(0.0))
                  .getResult();
            }
            Value up = arith::AddFOp::create(nb, nloc, args[1], constant(1.0));
            Value down =
                arith::SubFOp::create(nb, nloc, args[1], constant(1.0));
            Value kept = arith::SelectOp::create(nb, nloc, grow, up, args[1]);
            return arith::SelectOp::create(nb, nloc, fine, kept, down)
                .getResult();
          });
    };
    newScale = scaleUpdate(true);
    newClean = scaleUpdate(false);
    nextScale = scaleOf(newScale);
  }

  // Results: new parameters, new optimizer state, the loss.
  SmallVector<Value> results(newParams);
  llvm::append_range(results, newStates);
  if (newStep)
    results.push_back(newStep);
  if (scaled) {
    results.push_back(newScale);
    results.push_back(newClean);
  }
  results.push_back(lossValue);
  if (scaled)
    results.push_back(nextScale);
  if (returnGradients)
    llvm::append_range(results, *gradients);
  ret->setOperands(results);
  step.setType(builder.getFunctionType(argTypes, ValueRange(results).getTypes()));
  // Each new parameter and state names the argument it replaces.
  SmallVector<unsigned> updated(paramArgs);
  for (unsigned s = 0; s < newStates.size(); ++s)
    updated.push_back(firstState + s);
  if (newStep)
    updated.push_back(stepArg);
  if (scaled) {
    updated.push_back(scaleArg);
    updated.push_back(cleanArg);
  }
  for (auto [result, arg] : llvm::enumerate(updated))
    step.setResultAttr(result, AutoparDialect::kUpdatesAttrName,
                       builder.getI64IntegerAttr(arg));
  if (scaled)
    step.setResultAttr(updated.size() + 1, AutoparDialect::kLossScaleAttrName,
                       builder.getUnitAttr());

  // Backward generics clone the whole forward body and take all the forward
  // op's inputs; drop what the derivative does not read.
  RewritePatternSet patterns(context);
  linalg::populateEraseUnusedOperandsAndResultsPatterns(patterns);
  if (failed(applyPatternsGreedily(step, std::move(patterns)))) {
    step.emitError() << "autopar-training: clean-up did not converge";
    return signalPassFailure();
  }
  // Mixed precision: contractions and reductions accumulate in f32.
  if (mixed) {
    IRRewriter rewriter(context);
    SmallVector<linalg::LinalgOp> reductions;
    for (Operation &op : *body)
      if (auto linalgOp = dyn_cast<linalg::LinalgOp>(op))
        reductions.push_back(linalgOp);
    for (linalg::LinalgOp op : reductions)
      (void)widenAccumulation(rewriter, op);
    // The 16-bit inits the f32 ones replaced.
    for (Operation &op : llvm::make_early_inc_range(llvm::reverse(*body)))
      if (isOpTriviallyDead(&op))
        op.erase();
  }
  if (*recomputeKind != Recompute::None)
    recomputeForward(*body, [&](Operation *) { return *recomputeKind; });
}
