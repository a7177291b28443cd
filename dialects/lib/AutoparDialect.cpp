//===- AutoparDialect.cpp - autopar dialect -------------------------------===//
//
// Dialect registration and verification of autopar's discardable attributes.
//
//===----------------------------------------------------------------------===//

#include "autopar/Dialect/AutoparDialect.h"
#include "autopar/Dialect/AutoparOps.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Interfaces/CallInterfaces.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "mlir/Interfaces/TilingInterface.h"

using namespace mlir;
using namespace mlir::autopar;

#include "autopar/Dialect/AutoparDialect.cpp.inc"

void AutoparDialect::initialize() {
  registerAttributes();
  addOperations<
#define GET_OP_LIST
#include "autopar/Dialect/AutoparOps.cpp.inc"
      >();
}

/// The number of loops of `op`, when it has an iteration space.
static std::optional<int64_t> getNumLoops(Operation *op) {
  if (auto linalgOp = dyn_cast<linalg::LinalgOp>(op))
    return linalgOp.getNumLoops();
  if (auto tilingOp = dyn_cast<TilingInterface>(op))
    return static_cast<int64_t>(tilingOp.getLoopIteratorTypes().size());
  return std::nullopt;
}

/// Verifies `sharding` for a value of `type`, attached to (or owned by) `op`.
static LogicalResult verifyShardingOf(Operation *op, Attribute attr, Type type,
                                      const Twine &what) {
  auto sharding = dyn_cast<ShardingAttr>(attr);
  if (!sharding)
    return op->emitError() << what << " must be a #autopar.sharding, got "
                           << attr;
  MeshAttr mesh = lookupMesh(op, sharding.getMesh());
  if (!mesh)
    return failure();
  return sharding.verifyFor(type, mesh,
                            [&] { return op->emitError() << what << ": "; });
}

LogicalResult AutoparDialect::verifyOperationAttribute(Operation *op,
                                                       NamedAttribute attr) {
  StringRef name = attr.getName().getValue();
  if (name == kShardingsAttrName) {
    auto shardings = dyn_cast<ArrayAttr>(attr.getValue());
    if (!shardings || shardings.size() != op->getNumResults())
      return op->emitError()
             << "'" << name << "' must be an array with one #autopar.sharding "
             << "per result (" << op->getNumResults() << ")";
    for (auto [index, sharding] : llvm::enumerate(shardings))
      if (failed(verifyShardingOf(op, sharding, op->getResult(index).getType(),
                                  "'" + name + "' of result #" + Twine(index))))
        return failure();
    return success();
  }
  if (name == kStrategyAttrName) {
    auto strategy = dyn_cast<StrategyAttr>(attr.getValue());
    if (!strategy)
      return op->emitError()
             << "'" << name << "' must be a #autopar.strategy, got "
             << attr.getValue();
    MeshAttr mesh = lookupMesh(op, strategy.getMesh());
    if (!mesh)
      return failure();
    return strategy.verifyFor(getNumLoops(op), mesh, [&] {
      return op->emitError() << "'" << name << "': ";
    });
  }
  if (name == kTargetAttrName) {
    if (!isa<ModuleOp>(op))
      return op->emitError() << "'" << name << "' belongs on a builtin.module";
    if (!isa<TargetAttr>(attr.getValue()))
      return op->emitError()
             << "'" << name << "' must be a #autopar.target, got "
             << attr.getValue();
    return success();
  }
  if (name == kPlanAttrName) {
    if (!isa<ModuleOp>(op))
      return op->emitError() << "'" << name << "' belongs on a builtin.module";
    auto plan = dyn_cast<PlanAttr>(attr.getValue());
    if (!plan)
      return op->emitError() << "'" << name << "' must be a #autopar.plan, got "
                             << attr.getValue();
    return lookupMesh(op, plan.getMesh()) ? success() : failure();
  }
  if (name == kStepAttrName) {
    // How the planned training step runs beyond the shardings:
    // {microbatches = M, precision = "...", recompute = "...", zero = Z}.
    auto step = dyn_cast<DictionaryAttr>(attr.getValue());
    if (!isa<ModuleOp>(op) || !step)
      return op->emitError() << "'" << name
                             << "' belongs on a builtin.module and is a "
                                "dictionary";
    auto zero = step.getAs<IntegerAttr>("zero");
    auto microbatches = step.getAs<IntegerAttr>("microbatches");
    auto recompute = step.getAs<StringAttr>("recompute");
    auto precision = step.getAs<StringAttr>("precision");
    if (!zero || zero.getInt() < 0 || zero.getInt() > 3 || !microbatches ||
        microbatches.getInt() < 1 || !recompute ||
        !llvm::is_contained({"none", "selective", "full"},
                            recompute.getValue()) ||
        !precision ||
        !llvm::is_contained({"model", "f32", "bf16", "fp16"},
                            precision.getValue()) ||
        step.size() != 4)
      return op->emitError()
             << "'" << name
             << "' must be {microbatches = M >= 1, precision = "
                "\"model\"|\"f32\"|\"bf16\"|\"fp16\", recompute = "
                "\"none\"|\"selective\"|\"full\", zero = 0..3}, got "
             << attr.getValue();
    return success();
  }
  if (name == kPipelineAttrName) {
    // A pipeline plan: {gpus = N, microbatches = M, schedule = "...",
    // stages = P, virtual_stages = v}; the planned ops carry their stage.
    auto pipeline = dyn_cast<DictionaryAttr>(attr.getValue());
    if (!isa<ModuleOp>(op) || !pipeline)
      return op->emitError() << "'" << name
                             << "' belongs on a builtin.module and is a "
                                "dictionary";
    auto stages = pipeline.getAs<IntegerAttr>("stages");
    auto chunks = pipeline.getAs<IntegerAttr>("virtual_stages");
    auto microbatches = pipeline.getAs<IntegerAttr>("microbatches");
    auto gpus = pipeline.getAs<IntegerAttr>("gpus");
    auto schedule = pipeline.getAs<StringAttr>("schedule");
    // Optionally, each stage's own ZeRO stage and recomputation (both or
    // neither; one entry per stage, virtual stages included).
    Attribute zeroAttr = pipeline.get("zero"),
              recomputeAttr = pipeline.get("recompute");
    auto zeros = dyn_cast_or_null<DenseI64ArrayAttr>(zeroAttr);
    auto recomputes = dyn_cast_or_null<ArrayAttr>(recomputeAttr);
    bool perStage = zeroAttr || recomputeAttr;
    int64_t stageCount =
        stages && chunks ? stages.getInt() * chunks.getInt() : 0;
    bool perStageValid =
        !perStage ||
        (zeros && recomputes && zeros.size() == stageCount &&
         static_cast<int64_t>(recomputes.size()) == stageCount &&
         llvm::all_of(zeros.asArrayRef(),
                      [](int64_t zero) { return zero >= 0 && zero <= 3; }) &&
         llvm::all_of(recomputes, [](Attribute kind) {
           auto name = dyn_cast<StringAttr>(kind);
           return name && llvm::is_contained({"none", "selective", "full"},
                                             name.getValue());
         }));
    if (!stages || stages.getInt() < 1 || !chunks || chunks.getInt() < 1 ||
        !microbatches || microbatches.getInt() < 1 || !gpus ||
        gpus.getInt() < stages.getInt() || gpus.getInt() % stages.getInt() ||
        !schedule ||
        !llvm::is_contained({"gpipe", "1f1b", "interleaved"},
                            schedule.getValue()) ||
        pipeline.size() != (perStage ? 7u : 5u) || !perStageValid)
      return op->emitError()
             << "'" << name
             << "' must be {gpus = N (a multiple of stages), microbatches = "
                "M >= 1, schedule = \"gpipe\"|\"1f1b\"|\"interleaved\", "
                "stages = P >= 1, virtual_stages = v >= 1} and optionally "
                "recompute = [\"none\"|\"selective\"|\"full\", ...] and "
                "zero = array<i64: 0..3, ...> with P * v entries each, got "
             << attr.getValue();
    // Stages follow program order and stay below P * v; a backward op
    // (autopar.grad_of, or a forward op recomputed for the backward) has
    // its forward op's stage and runs in reverse.
    int64_t limit = stages.getInt() * chunks.getInt();
    WalkResult result = op->walk([&](Block *block) {
      int64_t previous = 0;
      for (Operation &nested : *block) {
        auto stage =
            nested.getAttrOfType<IntegerAttr>(AutoparDialect::kStageAttrName);
        if (!stage)
          continue;
        bool backward = nested.hasAttr(AutoparDialect::kGradOfAttrName) ||
                        nested.hasAttr(AutoparDialect::kRecomputedAttrName);
        if (stage.getInt() >= limit) {
          nested.emitError()
              << "'" << kStageAttrName << "' is " << stage.getInt()
              << " but the pipeline has " << limit << " stages";
          return WalkResult::interrupt();
        }
        if (backward)
          continue;
        if (stage.getInt() < previous) {
          nested.emitError()
              << "'" << kStageAttrName << "' is " << stage.getInt()
              << " after an op of stage " << previous
              << ": stages are contiguous in program order";
          return WalkResult::interrupt();
        }
        previous = stage.getInt();
      }
      return WalkResult::advance();
    });
    return failure(result.wasInterrupted());
  }
  if (name == kStageAttrName) {
    auto stage = dyn_cast<IntegerAttr>(attr.getValue());
    if (!stage || stage.getInt() < 0)
      return op->emitError() << "'" << name
                             << "' must be a non-negative integer (a pipeline "
                                "stage), got "
                             << attr.getValue();
    return success();
  }
  if (name == kLayerAttrName || name == kGradOfAttrName) {
    auto layer = dyn_cast<IntegerAttr>(attr.getValue());
    if (!layer || layer.getInt() < 0)
      return op->emitError() << "'" << name
                             << "' must be a non-negative integer (a layer "
                                "number), got "
                             << attr.getValue();
    return success();
  }
  if (name == kRecomputedAttrName) {
    // A forward op cloned into the backward (activation recomputation):
    // kept apart from the original (CSE would merge them).
    if (!isa<UnitAttr>(attr.getValue()))
      return op->emitError() << "'" << name << "' must be a unit attribute";
    return success();
  }
  if (name == "autopar.axis_names") {
    // Kept by autopar-export-shard on a shard.grid: the mesh's axis names.
    auto names = dyn_cast<ArrayAttr>(attr.getValue());
    if (!names || !llvm::all_of(names, llvm::IsaPred<StringAttr>))
      return op->emitError() << "'" << name
                             << "' must be an array of axis names";
    return success();
  }
  if (name == "autopar.stream_ordered") {
    // On a runtime function's declaration (Conversion/RuntimeCalls.h): it
    // works on the GPU in stream order and never touches a buffer from the
    // host.
    auto func = dyn_cast<FunctionOpInterface>(op);
    if (!func || !func.isExternal() || !isa<UnitAttr>(attr.getValue()))
      return op->emitError() << "'" << name
                             << "' is a unit attribute on a function "
                                "declaration (a runtime entry point)";
    return success();
  }
  if (name == "autopar.writes") {
    // On a call to a stream-ordered runtime function (Conversion/
    // RuntimeCalls.h): the operands whose buffers it writes.
    auto written = dyn_cast<DenseI32ArrayAttr>(attr.getValue());
    if (!written || !isa<CallOpInterface>(op) ||
        llvm::any_of(written.asArrayRef(), [&](int32_t index) {
          return index < 0 ||
                 static_cast<unsigned>(index) >= op->getNumOperands();
        }))
      return op->emitError()
             << "'" << name << "' is an array of operand numbers on a call";
    return success();
  }
  if (name == kSpmdAttrName) {
    // A function autopar-partition made: the program every device of the
    // mesh runs.
    auto mesh = dyn_cast<FlatSymbolRefAttr>(attr.getValue());
    if (!isa<FunctionOpInterface>(op) || !mesh)
      return op->emitError() << "'" << name
                             << "' belongs on a function and names a mesh";
    return lookupMesh(op, mesh) ? success() : failure();
  }
  if (name == kRuntimeDeallocationAttrName) {
    // A function whose deallocations keep their run-time alias checks
    // (autopar-run's driver: see autopar-simplify-deallocations).
    if (!isa<FunctionOpInterface>(op) || !isa<UnitAttr>(attr.getValue()))
      return op->emitError()
             << "'" << name << "' is a unit attribute on a function";
    return success();
  }
  return op->emitError() << "unknown autopar attribute '" << name
                         << "'; known: " << kShardingsAttrName << ", "
                         << kStrategyAttrName << ", " << kTargetAttrName << ", "
                         << kPlanAttrName << ", " << kStepAttrName << ", "
                         << kLayerAttrName << ", " << kGradOfAttrName << ", "
                         << kRecomputedAttrName << ", " << kSpmdAttrName << ", "
                         << kRuntimeDeallocationAttrName
                         << ", autopar.axis_names, autopar.stream_ordered, "
                            "autopar.writes";
}

/// Verifies an `autopar.sharding` on argument or result `index` of `op`.
static LogicalResult verifyFunctionValueAttr(Operation *op, NamedAttribute attr,
                                             Type type, StringRef kind,
                                             unsigned index) {
  StringRef name = attr.getName().getValue();
  if (name != AutoparDialect::kShardingAttrName)
    return op->emitError() << "unknown autopar " << kind << " attribute '"
                           << name << "'; known: "
                           << AutoparDialect::kShardingAttrName;
  return verifyShardingOf(op, attr.getValue(), type,
                          "'" + name + "' of " + kind + " #" + Twine(index));
}

/// Verifies `autopar.role` and `autopar.batch_dim` on argument `index`.
static LogicalResult verifyRoleAttr(Operation *op, NamedAttribute attr,
                                    Type type, unsigned index) {
  StringRef name = attr.getName().getValue();
  if (name == AutoparDialect::kRoleAttrName) {
    auto role = dyn_cast<StringAttr>(attr.getValue());
    if (!role || !llvm::is_contained({"input", "label", "param", "state"},
                                     role.getValue()))
      return op->emitError()
             << "'" << name << "' of argument #" << index
             << " must be one of \"input\", \"label\", \"param\", \"state\", got "
             << attr.getValue();
    return success();
  }
  auto dim = dyn_cast<IntegerAttr>(attr.getValue());
  auto shaped = dyn_cast<ShapedType>(type);
  if (!dim || !shaped || !shaped.hasRank() || dim.getInt() < 0 ||
      dim.getInt() >= shaped.getRank())
    return op->emitError() << "'" << name << "' of argument #" << index
                           << " must be an integer dimension of " << type
                           << ", got " << attr.getValue();
  return success();
}

LogicalResult AutoparDialect::verifyRegionArgAttribute(Operation *op,
                                                       unsigned regionIndex,
                                                       unsigned argIndex,
                                                       NamedAttribute attr) {
  Region &region = op->getRegion(regionIndex);
  Type type = argIndex < region.getNumArguments()
                  ? region.getArgument(argIndex).getType()
                  : Type();
  if (auto func = dyn_cast<FunctionOpInterface>(op))
    type = func.getArgumentTypes()[argIndex];
  StringRef name = attr.getName().getValue();
  if (name == kRoleAttrName || name == kBatchDimAttrName)
    return verifyRoleAttr(op, attr, type, argIndex);
  if (name == kInPlaceAttrName) {
    if (!isa<UnitAttr>(attr.getValue()))
      return op->emitError() << "'" << kInPlaceAttrName
                             << "' takes no value, got " << attr.getValue();
    return success();
  }
  if (name != kShardingAttrName)
    return op->emitError() << "unknown autopar argument attribute '" << name
                           << "'; known: " << kShardingAttrName << ", "
                           << kRoleAttrName << ", " << kBatchDimAttrName << ", "
                           << kInPlaceAttrName;
  return verifyFunctionValueAttr(op, attr, type, "argument", argIndex);
}

LogicalResult AutoparDialect::verifyRegionResultAttribute(Operation *op,
                                                          unsigned regionIndex,
                                                          unsigned resultIndex,
                                                          NamedAttribute attr) {
  auto func = dyn_cast<FunctionOpInterface>(op);
  if (!func)
    return op->emitError() << "'" << attr.getName().getValue()
                           << "' on a result needs a function op";
  if (attr.getName() == kUpdatesAttrName) {
    // The result is the new value of an argument (a training step's
    // parameters and optimizer state): same type, fed back next step.
    auto index = dyn_cast<IntegerAttr>(attr.getValue());
    if (!index || index.getInt() < 0 ||
        index.getInt() >= static_cast<int64_t>(func.getNumArguments()))
      return op->emitError() << "'" << kUpdatesAttrName << "' of result #"
                             << resultIndex
                             << " must be an argument number, got "
                             << attr.getValue();
    if (func.getArgumentTypes()[index.getInt()] !=
        func.getResultTypes()[resultIndex])
      return op->emitError()
             << "'" << kUpdatesAttrName << "' of result #" << resultIndex
             << ": argument #" << index.getInt() << " has type "
             << func.getArgumentTypes()[index.getInt()] << ", the result "
             << func.getResultTypes()[resultIndex];
    return success();
  }
  if (attr.getName() == kStageAttrName) {
    // The pipeline stage whose devices make the result (a per-stage
    // program's; the other stages return a placeholder).
    auto stage = dyn_cast<IntegerAttr>(attr.getValue());
    if (!stage || stage.getInt() < 0)
      return op->emitError() << "'" << kStageAttrName << "' of result #"
                             << resultIndex
                             << " must be a non-negative integer (the "
                                "pipeline stage that makes it), got "
                             << attr.getValue();
    return success();
  }
  if (attr.getName() == kLossScaleAttrName) {
    // A training step's loss scale for the next step (fp16).
    // (A tensor, or a buffer once bufferized.)
    auto type = dyn_cast<ShapedType>(func.getResultTypes()[resultIndex]);
    if (!isa<UnitAttr>(attr.getValue()) || !type || !type.hasRank() ||
        type.getRank() != 0 || !isa<FloatType>(type.getElementType()))
      return op->emitError()
             << "'" << kLossScaleAttrName << "' of result #" << resultIndex
             << " must be a unit attribute on a rank-0 float value";
    return success();
  }
  return verifyFunctionValueAttr(op, attr, func.getResultTypes()[resultIndex],
                                 "result", resultIndex);
}
