//===- Passes.td - autopar training-step passes ------------*- tablegen -*-===//

#ifndef AUTOPAR_AUTODIFF_PASSES_TD
#define AUTOPAR_AUTODIFF_PASSES_TD

include "mlir/Pass/PassBase.td"

def Training : Pass<"autopar-training", "::mlir::ModuleOp"> {
  let summary = "Build a training step (forward, backward, update) from a forward function";
  let description = [{
    Adds a function `name` (default `train_step`) that runs the forward
    function `func` (default `forward`), a loss, the reverse-mode backward
    pass and the parameter update, and returns the new parameters, the new
    optimizer state and the loss, in that order. Its arguments: the forward
    function's arguments, then the labels (when the pass adds the loss),
    then the optimizer state (one tensor per parameter for momentum, two per
    parameter and a step counter for Adam).

    Parameters are the arguments with `autopar.role = "param"` (without any
    roles: every argument but the first, see docs/cost-model.md), and with
    `lift-constants=true` the forward function's float tensor constants
    (each becomes a parameter argument after the forward's arguments); the
    gradient is taken with respect to them. A step without parameters gets
    a warning. The loss: `auto` uses the
    function's own result, which must be a single-element float tensor;
    `softmax-cross-entropy` takes logits `[B, C]` and adds an `i64` label
    argument `[B]` (or logits `[B, S, V]` and labels `[B, S]`: the mean
    over tokens, for language models); `mse` adds a label argument of the result's type (mean
    squared error over all elements).

    Reverse-mode rules come from `ReverseModeOpInterface`
    (lib/Autodiff/): one generic rule for linalg structured ops with
    projected-permutation maps (elementwise, broadcasts, reductions,
    contractions), by differentiating the scalar body; reshapes. An op
    without a rule is an error naming the op. Forward ops are tagged
    `autopar.layer = N` and every backward op `autopar.grad_of = N` of the
    forward op it differentiates.

    Mixed precision (`precision=bf16|fp16`, the default for a bf16 or f16
    model): the step's parameter arguments are f32 masters, cast to the
    16-bit type at the start; the forward, the backward and the gradients
    stay 16-bit; the loss is computed in f32; the optimizer state, the
    update and the new parameters are f32. fp16 adds dynamic loss scaling:
    two rank-0 state arguments after the optimizer state (the scale's
    exponent offset from `loss-scale`, and the clean steps counted), the
    seed multiplied by the scale, gradients divided by it, the update
    skipped (parameters and state kept) when any gradient is inf or NaN
    and the scale halved, doubled after `growth-interval` clean steps; the
    next step's scale is returned after the loss (`autopar.loss_scale`).
  }];
  let options = [
    Option<"func", "func", "std::string", /*default=*/"\"forward\"",
           "The forward function">,
    Option<"name", "name", "std::string", /*default=*/"\"train_step\"",
           "Name of the training-step function to add">,
    Option<"loss", "loss", "std::string", /*default=*/"\"auto\"",
           "auto (the function returns the loss), softmax-cross-entropy "
           "or mse">,
    Option<"optimizer", "optimizer", "std::string", /*default=*/"\"momentum\"",
           "sgd, momentum or adam">,
    Option<"learningRate", "lr", "double", /*default=*/"0.01",
           "Learning rate">,
    Option<"momentum", "momentum", "double", /*default=*/"0.9",
           "Momentum (optimizer=momentum)">,
    Option<"beta1", "beta1", "double", /*default=*/"0.9",
           "Adam's first-moment decay">,
    Option<"beta2", "beta2", "double", /*default=*/"0.999",
           "Adam's second-moment decay">,
    Option<"epsilon", "epsilon", "double", /*default=*/"1e-8",
           "Adam's epsilon">,
    Option<"liftConstants", "lift-constants", "bool", /*default=*/"false",
           "Train the float tensor constants of the forward function too "
           "(torch-mlir exports weights as constants): each becomes a "
           "parameter argument of the step">,
    Option<"result", "result", "int64_t", /*default=*/"-1",
           "Which result of the forward function is the model's output "
           "(default: its only result)">,
    Option<"precision", "precision", "std::string", /*default=*/"\"\"",
           "Arithmetic of the forward and backward: f32, bf16 or fp16 "
           "(default: the model's own type). 16-bit training keeps f32 "
           "master parameters (the step's parameter arguments), f32 "
           "optimizer state and an f32 update; fp16 adds dynamic loss "
           "scaling">,
    Option<"lossScale", "loss-scale", "double", /*default=*/"65536",
           "fp16: the initial loss scale (PyTorch's GradScaler: 2^16)">,
    Option<"growthInterval", "growth-interval", "int64_t",
           /*default=*/"2000",
           "fp16: clean steps after which the loss scale doubles">,
    Option<"recompute", "recompute", "std::string", /*default=*/"\"none\"",
           "Activation recomputation: none, selective (elementwise forward "
           "ops are recomputed in the backward; outputs of ops with "
           "reduction loops are kept) or full (only the values that alone "
           "cross a cut of the forward are kept; each segment's forward is "
           "recomputed before its backward)">,
    Option<"returnGradients", "return-gradients", "bool", /*default=*/"false",
           "Also return the parameters' gradients, after the loss (for "
           "gradient checks)">
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::tensor::TensorDialect",
                           "::mlir::autopar::AutoparDialect"];
}

def PlannedRecompute : Pass<"autopar-recompute", "::mlir::ModuleOp"> {
  let summary = "Apply the plan's activation recomputation to the training step";
  let description = [{
    Recomputes the training step's forward values as the plan priced it:
    each forward op (`autopar.layer`) as its pipeline stage's recomputation
    (`autopar.pipeline`'s `recompute`, one kind per stage), else the
    step's (`autopar.step`'s `recompute`); the rule is autopar-training's
    `recompute=` (docs/training.md). Runs after autopar-propagate, which
    gives the step's ops their stages and strategies; the clones keep
    both. A function that recomputes already (built with
    autopar-training's `recompute=`) is left as it is; one whose plan
    recomputes nothing too. This is how a pipeline whose stages recompute
    differently is built: autopar-training without `recompute=`, then
    autopar-plan (which picks each stage's), autopar-propagate and this
    pass.
  }];
  let dependentDialects = ["::mlir::autopar::AutoparDialect"];
}

#endif // AUTOPAR_AUTODIFF_PASSES_TD
