//===- Plan.cpp - the search pass -----------------------------------------===//
//
// Runs the planner over the candidate meshes, picks the mesh for the
// objective, annotates the IR and writes the report and the trace.
//
//===----------------------------------------------------------------------===//

#include "autopar/Analysis/Loss.h"
#include "autopar/Analysis/Workload.h"
#include "autopar/Cost/AnalysisReport.h"
#include "autopar/Dialect/AutoparOps.h"
#include "autopar/Import/Passes.h"
#include "autopar/Search/Passes.h"
#include "autopar/Search/PipelinePlan.h"
#include "autopar/Search/PlanReport.h"
#include "autopar/Search/Planner.h"
#include "autopar/Support/Output.h"
#include "autopar/Target/Target.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/Format.h"

#include <chrono>
#include <map>

namespace mlir::autopar {
#define GEN_PASS_DEF_PLAN
#include "autopar/Search/Passes.h.inc"
} // namespace mlir::autopar

using namespace mlir;
using namespace mlir::autopar;

namespace {
struct PlanPass : public mlir::autopar::impl::PlanBase<PlanPass> {
  using PlanBase::PlanBase;
  void getDependentDialects(DialectRegistry &registry) const override {
    PlanBase::getDependentDialects(registry);
    getImportDialects(registry);
  }
  void runOnOperation() override;

private:
  /// mesh=, parsed: one shape, or one per pipeline stage.
  SmallVector<SmallVector<int64_t>> stageMeshes;
  /// recompute= and zero=, parsed: one each, or one per pipeline stage.
  SmallVector<Recompute> stageRecomputes;
  SmallVector<unsigned> stageZeros;

  LogicalResult parseOptions(ModuleOp module, PlannerOptions &options);
  /// The step's precision, ZeRO stage, recomputation and microbatches,
  /// checked against the planned function.
  LogicalResult parseStepOptions(const FunctionWorkload &entry,
                                 PlannerOptions &options);
  void annotate(ModuleOp module, const MeshPlan &plan, const Planner &planner,
                const PlanSummary &summary);
  /// Declares `@mesh` as `mesh` (replacing one that exists).
  FlatSymbolRefAttr declareMesh(ModuleOp module, const MeshShape &mesh);
  /// The strategies and result shardings of `plan`'s ops on `meshRef`, and
  /// the planned function's argument shardings.
  void annotateOps(ModuleOp module, const MeshPlan &plan,
                   FlatSymbolRefAttr meshRef);
  /// The schedule= option: a schedule, or none for auto (searched); an
  /// error at `loc` naming the choices.
  FailureOr<std::optional<PipelineSchedule>> parseSchedule(Location loc);
  /// The pipeline request of stages= `count` (>= 2) and the other pins.
  FailureOr<PipelineRequest>
  makePipelineRequest(int64_t count, const FunctionWorkload &entry,
                      const Planner &planner, const PlannerOptions &options,
                      TargetAttr target, int64_t available);
  /// stages=0: the fastest pipeline of any stage count >= 2 that divides
  /// the GPUs into stages tiling nodes, or none.
  std::optional<PipelinePlan>
  searchStageCounts(const FunctionWorkload &entry, Planner &planner,
                    const CostModel &costModel, const PlannerOptions &options,
                    TargetAttr target, int64_t available);
  /// Annotates and reports `plan`; `unpipelined` (the best plan without
  /// stages, when searched) is reported beside it.
  LogicalResult emitPipeline(ModuleOp module, const FunctionWorkload &entry,
                             Planner &planner, const PipelinePlan &plan,
                             const PlannerOptions &options, TargetAttr target,
                             const MeshPlan *unpipelined);
};
} // namespace

LogicalResult PlanPass::parseOptions(ModuleOp module, PlannerOptions &options) {
  StringRef spec = objective;
  if (spec == "time") {
    options.objective = Objective::Time;
  } else if (spec == "energy") {
    options.objective = Objective::Energy;
  } else if (spec.consume_front("efficiency:")) {
    double floor;
    if (spec.getAsDouble(floor) || floor <= 0 || floor > 1)
      return mlir::emitError(module.getLoc())
             << "objective=efficiency:X needs X in (0, 1], got '" << spec
             << "'";
    options.objective = Objective::Efficiency;
    options.efficiencyFloor = floor;
  } else {
    return mlir::emitError(module.getLoc()) << "unknown objective '" << objective
                              << "'; expected time, energy or efficiency:X";
  }
  std::optional<Optimizer> parsed =
      symbolizeOptimizer(optimizer);
  if (!parsed)
    return mlir::emitError(module.getLoc()) << "unknown optimizer '" << optimizer
                              << "'; expected sgd, momentum or adam";
  options.optimizer = *parsed;
  if (maxGpus < 0)
    return mlir::emitError(module.getLoc()) << "max-gpus must not be negative";
  options.maxGpus = maxGpus;
  // mesh=: one shape (every stage's, with stages=), or one per stage.
  stageMeshes.clear();
  if (!mesh.empty()) {
    SmallVector<StringRef> shapes;
    StringRef(mesh).split(shapes, ',');
    for (StringRef shape : shapes) {
      SmallVector<StringRef> parts;
      shape.split(parts, 'x');
      SmallVector<int64_t> sizes;
      for (StringRef part : parts) {
        int64_t size;
        if (part.getAsInteger(10, size) || size < 1)
          return mlir::emitError(module.getLoc())
                 << "mesh='" << mesh
                 << "' is not a shape such as 4 or 2x4 (or one per stage: "
                    "4,2x2)";
        sizes.push_back(size);
      }
      if (sizes.size() > 2)
        return mlir::emitError(module.getLoc())
               << "mesh='" << mesh << "': autopar plans on 1-D and 2-D meshes";
      stageMeshes.push_back(std::move(sizes));
    }
    if (stageMeshes.size() == 1)
      options.mesh = stageMeshes.front();
  }
  options.exhaustive = exhaustive;
  options.reuseBlocks = reuseBlocks;
  options.overlap = overlap;
  if (gatherUnitBytes <= 0)
    return mlir::emitError(module.getLoc())
           << "autopar-plan: gather-unit-bytes=" << gatherUnitBytes.getValue()
           << ": a gather unit needs a positive size";
  options.gatherUnitBytes = static_cast<double>(gatherUnitBytes);
  if (interleavedNodes <= 0)
    return mlir::emitError(module.getLoc())
           << "autopar-plan: interleaved-nodes=" << interleavedNodes.getValue()
           << ": the interleaved stage search needs a positive node budget";
  if (parallelism != "hybrid" && parallelism != "data" &&
      parallelism != "tensor" && parallelism != "data-tensor")
    return mlir::emitError(module.getLoc())
           << "unknown parallelism '" << parallelism
           << "'; expected hybrid, data, tensor or data-tensor";
  options.dataParallelOnly = parallelism == "data";
  options.tensorParallelOnly = parallelism == "tensor";
  options.dataTensor = parallelism == "data-tensor";
  return success();
}

/// The float type the model computes in: its parameters', else its ops'.
static Type getModelFloatType(const FunctionWorkload &entry) {
  FunctionOpInterface func = entry.getFunction();
  for (BlockArgument arg : func.getArguments())
    if (entry.getRoles().isParameter(arg))
      if (auto type = dyn_cast<FloatType>(getElementTypeOrSelf(arg.getType())))
        return type;
  Type found;
  func.walk([&](Operation *op) {
    if (found)
      return;
    if (const OpWorkload *work = entry.lookup(op))
      if (isa_and_nonnull<FloatType>(work->elementType))
        found = work->elementType;
  });
  return found;
}

/// A pin given once or once per pipeline stage (`name`=`text`: "1" or
/// "1,0"), each entry read by `parse`; empty when `text` is one of
/// `searched`. An entry `parse` rejects is an error `bad` words; several
/// entries without stages=P (P >= 2), an error naming `what` an entry is.
template <typename T>
static FailureOr<SmallVector<T>>
parsePerStagePin(FunctionOpInterface func, StringRef name, StringRef text,
                 ArrayRef<StringRef> searched, StringRef what, int64_t stages,
                 function_ref<std::optional<T>(StringRef)> parse,
                 function_ref<void(InFlightDiagnostic &, StringRef)> bad) {
  SmallVector<T> values;
  if (llvm::is_contained(searched, text))
    return values;
  SmallVector<StringRef> entries;
  text.split(entries, ',');
  for (StringRef entry : entries) {
    std::optional<T> parsed = parse(entry);
    if (!parsed) {
      InFlightDiagnostic diag = func.emitError();
      bad(diag, entry);
      return diag;
    }
    values.push_back(*parsed);
  }
  if (values.size() > 1 && stages < 2)
    return func.emitError()
           << "autopar-plan: " << name << "=" << text << " gives one " << what
           << " per pipeline stage, which needs stages=P "
              "(P >= 2)";
  return values;
}

LogicalResult PlanPass::parseStepOptions(const FunctionWorkload &entry,
                                         PlannerOptions &options) {
  FunctionOpInterface func = entry.getFunction();
  Type modelType = getModelFloatType(entry);
  auto model16 = [&](Type type) {
    return type && cast<FloatType>(type).getWidth() == 16;
  };
  if (precision.empty()) {
    options.precision = !modelType           ? Precision::Model
                        : modelType.isBF16() ? Precision::BF16
                        : modelType.isF16()  ? Precision::FP16
                                             : Precision::Model;
  } else {
    std::optional<Precision> parsed = symbolizePrecision(precision);
    if (!parsed)
      return func.emitError() << "autopar-plan: unknown precision '"
                              << precision << "'; expected f32, bf16 or fp16";
    if (!modelType)
      return func.emitError()
             << "autopar-plan: precision=" << precision << " but @"
             << func.getName()
             << " computes in no float type (an integer model); drop "
                "precision=";
    if (*parsed == Precision::F32) {
      if (!modelType.isF32())
        return func.emitError()
               << "autopar-plan: precision=f32 on a model written in "
               << modelType << "; f32 steps need an f32 model (a 16-bit "
               << "model trains in mixed precision: drop precision=)";
      *parsed = Precision::Model;
    } else if (model16(modelType) &&
               (modelType.isBF16() != (*parsed == Precision::BF16))) {
      return func.emitError()
             << "autopar-plan: precision=" << precision
             << " on a model written in " << modelType
             << "; choose precision=" << (modelType.isBF16() ? "bf16" : "fp16")
             << " or drop precision=";
    }
    options.precision = *parsed;
  }
  int64_t microbatches = this->microbatches;
  // zero= and recompute=: one value (every pipeline stage's), or one per
  // stage.
  FailureOr<SmallVector<unsigned>> zeros = parsePerStagePin<unsigned>(
      func, "zero", zero, {"auto", "-1"}, "ZeRO stage", stages,
      [](StringRef value) -> std::optional<unsigned> {
        unsigned parsed;
        if (value.getAsInteger(10, parsed) || parsed > 3)
          return std::nullopt;
        return parsed;
      },
      [](InFlightDiagnostic &diag, StringRef value) {
        diag << "autopar-plan: zero=" << value
             << " is not a ZeRO stage; expected 0, 1, 2 or 3 (or auto to "
                "search; with stages=, one per stage: 1,0)";
      });
  if (failed(zeros))
    return failure();
  stageZeros = std::move(*zeros);
  if (stageZeros.size() == 1)
    options.zero = stageZeros.front();
  FailureOr<SmallVector<Recompute>> recomputes = parsePerStagePin<Recompute>(
      func, "recompute", recompute, {"auto"}, "kind", stages,
      [](StringRef kind) { return symbolizeRecompute(kind); },
      [](InFlightDiagnostic &diag, StringRef kind) {
        diag << "autopar-plan: unknown recompute '" << kind
             << "'; expected none, selective, full or auto (or one of the "
                "first three per stage: full,none)";
      });
  if (failed(recomputes))
    return failure();
  stageRecomputes = std::move(*recomputes);
  if (stageRecomputes.size() == 1)
    options.recompute = stageRecomputes.front();
  int64_t batch = entry.getBatchSize();
  if (microbatches < 0)
    return func.emitError() << "autopar-plan: microbatches=" << microbatches
                            << " must be positive (or 0 to search)";
  if (microbatches > 1 && batch < 1)
    return func.emitError()
           << "autopar-plan: microbatches=" << microbatches
           << " splits the batch, but the function's batch is empty (its "
              "inputs have 0 samples); use microbatches=1";
  if (microbatches > 0) {
    if (microbatches > 1 && batch % microbatches != 0) {
      InFlightDiagnostic diag = func.emitError()
                                << "autopar-plan: microbatches=" << microbatches
                                << " does not divide the batch of " << batch
                                << "; choose one of";
      for (int64_t m = 1; m <= batch; ++m)
        if (batch % m == 0)
          diag << " " << m;
      return diag;
    }
    options.microbatches = microbatches;
  }
  // Batch statistics and pairs of samples change with the microbatches:
  // only one fits.
  if (WholeBatchUse use = findWholeBatchUse(func)) {
    if (microbatches > 1) {
      InFlightDiagnostic diag = use.op->emitError()
                                << "autopar-plan: microbatches=" << microbatches
                                << ", but this op ";
      if (use.kind == WholeBatchUse::Kind::Statistic)
        diag << "normalizes by a statistic over the whole batch (as "
                "BatchNorm in training does), which microbatches would "
                "change";
      else
        diag << "pairs samples of the batch with one another (its operands "
                "carry the batch along different loops, as an attention "
                "whose sequence is the samples), which microbatches would "
                "separate";
      return diag << "; use microbatches=1";
    }
    options.microbatches = 1;
  }
  return success();
}

void PlanPass::annotateOps(ModuleOp module, const MeshPlan &plan,
                           FlatSymbolRefAttr meshRef) {
  Builder builder(&getContext());
  llvm::DenseMap<Value, ShardingAttr> argShardings;
  for (auto [index, node] : llvm::enumerate(plan.nodes)) {
    const Strategy &strategy = node.strategies[plan.choice[index]];
    Operation *op = node.space.op;
    if (!isa<ShardOp>(op))
      op->setAttr(AutoparDialect::kStrategyAttrName,
                  toStrategyAttr(node.space, strategy, plan.mesh, meshRef));
    SmallVector<Attribute> shardings;
    for (OpResult result : op->getResults()) {
      const Binding *binding = nullptr;
      for (const Binding &candidate : node.space.results)
        if (candidate.value == result)
          binding = &candidate;
      unsigned rank = 0;
      if (auto shaped = dyn_cast<ShapedType>(result.getType()))
        rank = shaped.getRank();
      TensorSharding sharding;
      if (binding)
        sharding = getSharding(node.space, *binding, strategy, true);
      else
        sharding.axisDim.assign(plan.mesh.getRank(),
                                TensorSharding::kReplicated);
      shardings.push_back(toShardingAttr(sharding, plan.mesh, meshRef, rank));
    }
    op->setAttr(AutoparDialect::kShardingsAttrName,
                builder.getArrayAttr(shardings));
    for (const Binding &operand : node.space.operands)
      if (isa<BlockArgument>(operand.value) &&
          !argShardings.count(operand.value))
        argShardings[operand.value] = toShardingAttr(
            getSharding(node.space, operand, strategy, false), plan.mesh,
            meshRef, operand.shape.size());
  }
  // The planned function's arguments (other functions, such as training
  // steps, get theirs from autopar-propagate).
  for (auto func : module.getOps<FunctionOpInterface>()) {
    if (func.isExternal() || plan.nodes.empty() ||
        !func->isAncestor(plan.nodes.front().space.op))
      continue;
    for (BlockArgument arg : func.getArguments()) {
      auto shaped = dyn_cast<ShapedType>(arg.getType());
      if (!shaped || !shaped.hasRank())
        continue;
      ShardingAttr sharding = argShardings.lookup(arg);
      if (!sharding) {
        TensorSharding replicated;
        replicated.axisDim.assign(plan.mesh.getRank(),
                                  TensorSharding::kReplicated);
        sharding = toShardingAttr(replicated, plan.mesh, meshRef,
                                  shaped.getRank());
      }
      func.setArgAttr(arg.getArgNumber(), AutoparDialect::kShardingAttrName,
                      sharding);
    }
  }
}

FlatSymbolRefAttr PlanPass::declareMesh(ModuleOp module,
                                        const MeshShape &mesh) {
  MLIRContext *context = &getContext();
  Builder builder(context);
  auto meshRef = FlatSymbolRefAttr::get(context, "mesh");
  SmallVector<StringAttr> names;
  for (const std::string &name : mesh.names)
    names.push_back(builder.getStringAttr(name));
  auto meshAttr = MeshAttr::get(context, names, mesh.sizes);
  auto existing = SymbolTable::lookupSymbolIn(module, meshRef.getAttr());
  if (auto meshOp = dyn_cast_or_null<MeshOp>(existing)) {
    meshOp.setMeshAttr(meshAttr);
  } else {
    OpBuilder opBuilder(module.getBodyRegion());
    MeshOp::create(opBuilder, module.getLoc(), "mesh", meshAttr);
  }
  return meshRef;
}

void PlanPass::annotate(ModuleOp module, const MeshPlan &plan,
                        const Planner &planner, const PlanSummary &summary) {
  MLIRContext *context = &getContext();
  // The mesh: the pins' mesh, or `@mesh` (replaced if it exists).
  FlatSymbolRefAttr meshRef;
  if (auto pinned = planner.getPinnedMesh())
    meshRef = pinned->second;
  else
    meshRef = declareMesh(module, plan.mesh);
  annotateOps(module, plan, meshRef);
  module->setAttr(
      AutoparDialect::kPlanAttrName,
      PlanAttr::get(context, meshRef, summary.gpus, objective,
                    llvm::APFloat(summary.stepSeconds),
                    llvm::APFloat(summary.samplesPerSecond),
                    llvm::APFloat(summary.speedup),
                    llvm::APFloat(summary.efficiency),
                    llvm::APFloat(summary.energyPerSample),
                    llvm::APFloat(summary.memoryPerGpu)));
}

/// A module that was planned or partitioned already is refused: the new
/// plan's @mesh would replace the mesh its shardings and collectives refer
/// to. Pins (autopar.shard) and their mesh are what a plan honours, so they
/// pass.
static LogicalResult checkNotPlanned(ModuleOp module) {
  if (module->hasAttr(AutoparDialect::kPlanAttrName) ||
      module->hasAttr(AutoparDialect::kPipelineAttrName))
    return module.emitError()
           << "autopar-plan: the module is planned already (it has "
              "autopar.plan or autopar.pipeline); plan the original program";
  Operation *existing = SymbolTable::lookupSymbolIn(
      module, StringAttr::get(module.getContext(), "mesh"));
  if (existing && !isa<MeshOp>(existing))
    return existing->emitError()
           << "autopar-plan: '" << existing->getName()
           << "' already defines @mesh, the symbol of the plan's mesh; "
              "import upstream shard IR with autopar-import-shard first";
  WalkResult result = module.walk([&](Operation *op) {
    if (op->hasAttr(AutoparDialect::kStrategyAttrName) ||
        op->hasAttr(AutoparDialect::kShardingsAttrName)) {
      op->emitError() << "autopar-plan: the module has shardings already ("
                         "this op carries autopar.strategy or "
                         "autopar.shardings); plan the original program, or "
                         "pin values with autopar.shard";
      return WalkResult::interrupt();
    }
    // Devices' programs hold coordinates and collectives; a scatter-add
    // (an embedding's gradient) is a computation like any other.
    if (isa_and_nonnull<AutoparDialect>(op->getDialect()) &&
        !isa<MeshOp, ShardOp, ScatterAddOp, AttentionOp, AttentionGradOp,
             YieldOp>(op)) {
      op->emitError() << "autopar-plan: the module holds '" << op->getName()
                      << "' already: it was partitioned; plan the program "
                         "before partitioning";
      return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  return failure(result.wasInterrupted());
}

/// How the planned step runs beyond the shardings (for the passes that
/// build it) and the machine it was planned for (later passes price and
/// report against it), on the module.
static void setStepAndTarget(ModuleOp module, const StepConfig &config,
                             Precision precision, TargetAttr target) {
  Builder b(module.getContext());
  module->setAttr(
      AutoparDialect::kStepAttrName,
      b.getDictionaryAttr(
          {b.getNamedAttr("microbatches",
                          b.getI64IntegerAttr(config.microbatches)),
           b.getNamedAttr("precision",
                          b.getStringAttr(stringifyPrecision(precision))),
           b.getNamedAttr("recompute", b.getStringAttr(stringifyRecompute(
                                           config.recompute))),
           b.getNamedAttr("zero", b.getI64IntegerAttr(config.zero))}));
  module->setAttr(AutoparDialect::kTargetAttrName, target);
}

void PlanPass::runOnOperation() {
  ModuleOp module = getOperation();
  if (failed(checkNotPlanned(module)))
    return signalPassFailure();
  // A TOSA model is planned as the linalg it imports to.
  if (failed(importIfNeeded(module, [&](OpPassManager &pm, ModuleOp op) {
        return runPipeline(pm, op);
      })))
    return signalPassFailure();
  PlannerOptions options;
  if (failed(parseOptions(module, options)))
    return signalPassFailure();
  FailureOr<TargetAttr> targetAttr =
      getModuleTarget(module, target, [&] { return mlir::emitError(module.getLoc()); });
  if (failed(targetAttr))
    return signalPassFailure();
  int64_t available = targetAttr->getNumGpus();
  if (options.maxGpus > available) {
    mlir::emitError(module.getLoc()) << "max-gpus=" << options.maxGpus << " but target '"
                       << targetAttr->getName() << "' has " << available
                       << " GPUs";
    return signalPassFailure();
  }
  if (!stageMeshes.empty()) {
    // One shape per stage: the stages' GPUs together.
    int64_t devices = 0;
    for (ArrayRef<int64_t> shape : stageMeshes) {
      int64_t count = 1;
      for (int64_t size : shape)
        count *= size;
      devices += count;
    }
    if (devices > available) {
      mlir::emitError(module.getLoc()) << "mesh=" << mesh << " needs " << devices
                         << " GPUs but target '" << targetAttr->getName()
                         << "' has " << available;
      return signalPassFailure();
    }
    if (options.maxGpus > 0 && devices > options.maxGpus) {
      mlir::emitError(module.getLoc())
          << "mesh=" << mesh << " needs " << devices << " GPUs but max-gpus="
          << options.maxGpus;
      return signalPassFailure();
    }
  }

  // The step's loss, appended to the function while the plan is searched
  // and priced as any op (erased when the pass ends, with the plan's
  // annotations of it).
  FailureOr<AppendedLoss> appendedLoss = AppendedLoss::append(
      module.getLoc(), findEntryFunction(module), "autopar-plan", loss);
  if (failed(appendedLoss))
    return signalPassFailure();

  // The attentions as the backend builds them: a 16-bit step's (the
  // precision asked for, checked with the other step options below) are
  // cuDNN's fused attention.
  WorkloadOptions workloadOptions;
  workloadOptions.cudnnAttention = cudnnAttention;
  std::optional<Precision> asked = symbolizePrecision(precision);
  if (asked == Precision::BF16)
    workloadOptions.halfPrecision = BFloat16Type::get(&getContext());
  else if (asked == Precision::FP16)
    workloadOptions.halfPrecision = Float16Type::get(&getContext());
  WorkloadAnalysis analysis(module, workloadOptions);
  const FunctionWorkload *entry = getEntryFunction(analysis);
  if (!entry) {
    mlir::emitWarning(module.getLoc()) << "autopar-plan: no function with a body";
    return;
  }
  if (failed(parseStepOptions(*entry, options)))
    return signalPassFailure();
  CostModel costModel(*targetAttr);
  Planner planner(*entry, costModel, options);
  if (failed(planner.initialize()))
    return signalPassFailure();
  if (stages < 0) {
    mlir::emitError(entry->getFunction().getLoc())
        << "autopar-plan: stages=" << static_cast<int64_t>(stages)
        << " must be 1 (no pipeline), 0 (search) or more";
    return signalPassFailure();
  }
  // A pipeline's own options without a pipeline are said, not ignored.
  if (stages == 1 && (schedule != "auto" || virtualStages != 0)) {
    mlir::emitError(entry->getFunction().getLoc())
        << "autopar-plan: "
        << (schedule != "auto"
                ? "schedule=" + schedule
                : "virtual-stages=" +
                      std::to_string(static_cast<int64_t>(virtualStages)))
        << " needs a pipeline: stages=2 or more, or stages=0 to search one "
           "(stages=1 runs none)";
    return signalPassFailure();
  }
  if (stageMeshes.size() > 1 &&
      static_cast<int64_t>(stageMeshes.size()) != stages) {
    mlir::emitError(entry->getFunction().getLoc())
        << "autopar-plan: mesh=" << mesh << " lists " << stageMeshes.size()
        << " shapes, one per pipeline stage, but stages="
        << static_cast<int64_t>(stages);
    return signalPassFailure();
  }
  if (stages >= 2) {
    FailureOr<PipelineRequest> request = makePipelineRequest(
        stages, *entry, planner, options, *targetAttr, available);
    if (failed(request))
      return signalPassFailure();
    FailureOr<PipelinePlan> plan = planPipeline(planner, costModel, *request,
                                                entry->getFunction().getLoc());
    if (failed(plan) || failed(emitPipeline(module, *entry, planner, *plan,
                                            options, *targetAttr, nullptr)))
      return signalPassFailure();
    return;
  }
  std::optional<PipelinePlan> pipelined;
  if (stages == 0 && options.objective != Objective::Time) {
    mlir::emitError(entry->getFunction().getLoc())
        << "autopar-plan: stages=0 searches pipelines for objective=time "
           "only; pin stages= or use objective=time";
    return signalPassFailure();
  }
  if (stages == 0) {
    if (planner.getPinnedMesh()) {
      mlir::emitError(entry->getFunction().getLoc())
          << "autopar-plan: stages=0 with sharding pins (autopar.shard) is "
             "not supported; drop the pins or stages=";
      return signalPassFailure();
    }
    // The schedule's name is checked once; mesh= pins the whole mesh of a
    // plan without stages, so no pipeline is searched beside it.
    if (failed(parseSchedule(entry->getFunction().getLoc())))
      return signalPassFailure();
    if (options.mesh.empty())
      pipelined = searchStageCounts(*entry, planner, costModel, options,
                                    *targetAttr, available);
  }

  // Plan on every candidate mesh; the 1-GPU plan is the reference.
  SmallVector<MeshShape> meshes = planner.getCandidateMeshes();
  std::vector<MeshPlan> plans(meshes.size());
  // For the time objective, the most GPUs first: a fast plan found early
  // bounds the others (planOnMesh stops a mesh whose lower bound reaches
  // it). The plans keep the candidates' order.
  SmallVector<size_t> order =
      llvm::to_vector(llvm::seq<size_t>(0, meshes.size()));
  bool bounded = options.objective == Objective::Time;
  if (bounded)
    llvm::stable_sort(order, [&](size_t a, size_t b) {
      return meshes[a].getNumDevices() > meshes[b].getNumDevices();
    });
  double incumbent = std::numeric_limits<double>::infinity();
  // A long search shows which mesh it is on, on a terminal only (never in
  // a pipe or a log), once it has taken over two seconds.
  bool showProgress = llvm::errs().is_displayed();
  auto started = std::chrono::steady_clock::now();
  bool progressShown = false;
  for (auto [step, index] : llvm::enumerate(order)) {
    const MeshShape &mesh = meshes[index];
    double elapsed = std::chrono::duration<double>(
                         std::chrono::steady_clock::now() - started)
                         .count();
    if (showProgress && elapsed > 2.0) {
      llvm::errs() << llvm::format("\rautopar-plan: mesh %zu of %zu (",
                                   step + 1, meshes.size())
                   << mesh.str() << llvm::format("), %.1f s   ", elapsed);
      llvm::errs().flush();
      progressShown = true;
    }
    // The one-GPU plan is the reference of speedups: searched in full.
    FailureOr<MeshPlan> plan =
        planner.planOnMesh(mesh, mesh.getNumDevices() == 1
                                     ? std::numeric_limits<double>::infinity()
                                     : incumbent);
    if (failed(plan))
      return signalPassFailure();
    if (bounded && plan->fitsMemory)
      incumbent = std::min(incumbent, plan->metrics.stepSeconds());
    plans[index] = std::move(*plan);
    // Only a plan that can still be chosen keeps its ops (a large model's
    // nodes on hundreds of meshes do not fit in memory): one that does not
    // fit, or, for time, is slower than a plan found, keeps its figures.
    for (MeshPlan &kept : plans)
      if (!kept.nodes.empty() &&
          (!kept.fitsMemory ||
           (bounded && kept.metrics.stepSeconds() > incumbent * (1 + 1e-6))))
        kept.dropOps();
  }
  if (progressShown)
    llvm::errs() << "\r\033[K";
  MeshShape single;
  single.sizes = {1};
  single.names = {"gpus"};
  single.gpusPerNode = targetAttr->getGpusPerNode();
  MeshPlan oneGpu;
  if (plans.front().mesh.getNumDevices() == 1) {
    oneGpu = plans.front();
  } else {
    FailureOr<MeshPlan> plan = planner.planOnMesh(single);
    if (failed(plan))
      return signalPassFailure();
    oneGpu = std::move(*plan);
  }
  double oneStep = oneGpu.metrics.stepSeconds();

  // Pick the mesh for the objective among the plans that fit in memory;
  // ties go to fewer GPUs (earlier candidates).
  const MeshPlan *best = nullptr;
  auto better = [&](const MeshPlan &a, const MeshPlan &b) {
    switch (options.objective) {
    case Objective::Time:
      return a.metrics.stepSeconds() < b.metrics.stepSeconds() * (1 - 1e-9);
    case Objective::Energy:
      return a.energyPerSample < b.energyPerSample * (1 - 1e-9);
    case Objective::Efficiency:
      return a.metrics.samplesPerSecond() >
             b.metrics.samplesPerSecond() * (1 + 1e-9);
    }
    return false;
  };
  for (const MeshPlan &plan : plans) {
    if (!plan.fitsMemory)
      continue;
    if (options.objective == Objective::Efficiency) {
      double speedup = oneStep / plan.metrics.stepSeconds();
      if (speedup / plan.metrics.gpus < options.efficiencyFloor - 1e-12)
        continue;
    }
    if (!best || better(plan, *best))
      best = &plan;
  }
  // stages=0: a pipeline that is faster than every plan without one.
  if (pipelined && (!best || pipelined->timing.seconds <
                                 best->metrics.stepSeconds() * (1 - 1e-9))) {
    if (failed(emitPipeline(module, *entry, planner, *pipelined, options,
                            *targetAttr, best)))
      return signalPassFailure();
    return;
  }
  if (!best) {
    // The leanest plan that can run says how far from fitting the model
    // is; only when none can run (every one's microbatches cut its batch
    // split) is that the error.
    auto leanness = [](const MeshPlan &plan) {
      return std::make_pair(!plan.feasible, plan.metrics.memoryPerGpu);
    };
    const MeshPlan *leanest = &plans.front();
    for (const MeshPlan &plan : plans)
      if (leanness(plan) < leanness(*leanest))
        leanest = &plan;
    double capacity =
        static_cast<double>(targetAttr->getGpu().getMemoryCapacity());
    Location loc = entry->getFunction()->getLoc();
    if (!leanest->feasible) {
      mlir::emitError(loc)
          << "autopar: microbatches=" << leanest->config.microbatches
          << " leaves microbatches of "
          << entry->getBatchSize() / leanest->config.microbatches
          << " samples, which the batch split of the plan on mesh "
          << leanest->mesh.str()
          << " does not divide; choose fewer microbatches (microbatches "
             "slice the global batch before the data axes split it)";
      return signalPassFailure();
    }
    InFlightDiagnostic diag = mlir::emitError(loc);
    diag << "autopar: no plan fits in the " << formatBytes(capacity) << " of a "
         << targetAttr->getGpu().getName()
         << ": the least memory per GPU found is "
         << formatBytes(leanest->metrics.memoryPerGpu) << " (mesh "
         << leanest->mesh.str() << ", " << leanest->config.str()
         << "; parameter state "
         << formatBytes(leanest->metrics.memory.state.total() -
                        leanest->metrics.memory.state.gradients)
         << ", gradients " << formatBytes(leanest->metrics.memory.peakGradients)
         << ", activations "
         << formatBytes(leanest->metrics.memory.peakActivations) << ", working "
         << formatBytes(leanest->metrics.memory.peakTransient);
    if (leanest->metrics.memory.peakAtSync)
      diag << ", collective buffers "
           << formatBytes(leanest->metrics.memory.collectiveBuffers);
    diag << ")";
    if (!options.zero || !options.recompute || !options.microbatches)
      diag << " with ZeRO, recomputation and microbatches searched";
    else
      diag << "; unpin zero=, recompute= or microbatches= to search them";
    if (options.objective == Objective::Efficiency)
      diag << ", or none reaches efficiency " << options.efficiencyFloor;
    return signalPassFailure();
  }

  // Pinned data parallelism that splits nothing (a batch that does not
  // divide over the mesh, ops that cannot split theirs) runs every op
  // whole on each device: said, not silent.
  int64_t devices = best->mesh.getNumDevices();
  int64_t batch = entry->getBatchSize();
  auto sayWhy = [&](InFlightDiagnostic &diag) {
    if (options.dataParallelOnly && batch > 0 && batch % devices != 0)
      diag << " (the batch of " << batch << " does not divide over its "
           << devices << " devices)";
  };
  if (options.dataParallelOnly && devices > 1 &&
      !(options.zero && *options.zero > 0)) {
    bool split = false;
    for (auto [index, node] : llvm::enumerate(best->nodes))
      split |= llvm::any_of(node.strategies[best->choice[index]],
                            [](int loop) { return loop >= 0; });
    if (!split) {
      InFlightDiagnostic diag =
          mlir::emitWarning(entry->getFunction().getLoc());
      diag << "autopar-plan: parallelism=data, but no op of the plan on mesh "
           << best->mesh.str() << " splits its batch";
      sayWhy(diag);
      diag << ": every device runs the whole step";
    }
  }

  // A pinned ZeRO stage shards over data axes: the plan must have one.
  if (options.zero && *options.zero > 0) {
    bool sharded = false;
    for (auto [index, node] : llvm::enumerate(best->nodes))
      for (const StrategyWork::Param &param :
           node.works[best->choice[index]].params)
        sharded |= param.axes != 0;
    if (!sharded) {
      InFlightDiagnostic diag =
          mlir::emitError(entry->getFunction().getLoc())
          << "autopar-plan: zero=" << *options.zero
          << " shards over the data axes, but the chosen plan (mesh "
          << best->mesh.str() << ") replicates no parameter over a split batch";
      sayWhy(diag);
      diag << "; use zero=0, or a mesh and parallelism with a data axis";
      return signalPassFailure();
    }
  }

  // Pure data parallelism on all GPUs, for comparison.
  std::optional<MeshPlan> dataParallel;
  if (!planner.getPinnedMesh()) {
    MeshShape all;
    all.sizes = {options.maxGpus > 0 ? options.maxGpus : available};
    all.names = {"gpus"};
    all.gpusPerNode = targetAttr->getGpusPerNode();
    FailureOr<MeshPlan> plan = planner.dataParallelOnMesh(all);
    if (succeeded(plan))
      dataParallel = std::move(*plan);
  }

  PlanReport built = buildPlanReport(
      planner, *best, oneGpu, dataParallel ? &*dataParallel : nullptr, plans,
      objective, targetAttr->getName(),
      static_cast<double>(targetAttr->getGpu().getMemoryCapacity()));
  built.function = entry->getFunction().getName().str();
  built.precision = stringifyPrecision(options.precision).str();
  built.optimizer = stringifyOptimizer(options.optimizer).str();
  built.loss = loss;
  built.cudnnAttentions = entry->getTotals().cudnnAttentions;
  annotate(module, *best, planner, built.plan);
  setStepAndTarget(module, best->config, options.precision, *targetAttr);

  if (!report.empty() &&
      failed(writeOutputFile(module.getLoc(), report, [&](raw_ostream &os) {
        if (StringRef(report).ends_with(".json"))
          printPlanReportJson(os, built);
        else
          printPlanReportText(os, built);
      })))
    return signalPassFailure();
  if (!trace.empty() &&
      failed(writeOutputFile(module.getLoc(), trace,
                       [&](raw_ostream &os) { printPlanTrace(os, *best); })))
    return signalPassFailure();
}

FailureOr<std::optional<PipelineSchedule>>
PlanPass::parseSchedule(Location loc) {
  if (schedule == "auto")
    return std::optional<PipelineSchedule>();
  std::optional<PipelineSchedule> parsed = parsePipelineSchedule(schedule);
  if (!parsed)
    return emitError(loc) << "autopar-plan: unknown schedule '" << schedule
                          << "'; expected gpipe, 1f1b, interleaved or auto";
  return parsed;
}

FailureOr<PipelineRequest> PlanPass::makePipelineRequest(
    int64_t count, const FunctionWorkload &entry, const Planner &planner,
    const PlannerOptions &options, TargetAttr target, int64_t available) {
  Location loc = entry.getFunction().getLoc();
  FailureOr<std::optional<PipelineSchedule>> parsed = parseSchedule(loc);
  if (failed(parsed))
    return failure();
  if (planner.getPinnedMesh())
    return emitError(loc) << "autopar-plan: stages=" << count
                          << " with sharding pins (autopar.shard) is not "
                             "supported; drop the pins or stages=";
  PipelineRequest request;
  request.stages = count;
  request.schedule = *parsed;
  request.virtualStages = static_cast<int64_t>(virtualStages);
  for (ArrayRef<int64_t> shape : stageMeshes)
    request.stageMeshes.emplace_back(shape.begin(), shape.end());
  request.zero = options.zero;
  request.recompute = options.recompute;
  if (stageRecomputes.size() > 1)
    request.stageRecompute = stageRecomputes;
  if (stageZeros.size() > 1)
    request.stageZero = stageZeros;
  request.microbatches = options.microbatches;
  request.nodeBudget = interleavedNodes;
  request.memoryCapacity =
      static_cast<double>(target.getGpu().getMemoryCapacity());
  request.gpus = options.maxGpus > 0 ? options.maxGpus : available;
  if (!stageMeshes.empty()) {
    request.gpus = 0;
    for (ArrayRef<int64_t> shape : stageMeshes) {
      int64_t devices = 1;
      for (int64_t size : shape)
        devices *= size;
      request.gpus += devices;
    }
    if (stageMeshes.size() == 1)
      request.gpus *= count;
    if (request.gpus > available)
      return emitError(loc)
             << "autopar-plan: stages=" << count << " x mesh=" << mesh
             << " needs " << request.gpus << " GPUs but target '"
             << target.getName() << "' has " << available;
  }
  return request;
}

std::optional<PipelinePlan> PlanPass::searchStageCounts(
    const FunctionWorkload &entry, Planner &planner, const CostModel &costModel,
    const PlannerOptions &options, TargetAttr target, int64_t available) {
  // Stage counts that cannot hold (too few ops, GPUs, microbatches, or
  // memory) are skipped silently: the search says what it chose.
  ScopedDiagnosticHandler quiet(entry.getFunction().getContext(),
                                [](Diagnostic &) { return success(); });
  std::optional<PipelinePlan> best;
  int64_t gpus = options.maxGpus > 0 ? options.maxGpus : available;
  int64_t nodes = static_cast<int64_t>(planner.getSpaces().size());
  for (int64_t count = 2; count <= std::min(gpus, nodes); ++count) {
    if (gpus % count != 0)
      continue;
    FailureOr<PipelineRequest> request =
        makePipelineRequest(count, entry, planner, options, target, available);
    if (failed(request))
      continue;
    if (best)
      request->incumbent = best->timing.seconds;
    FailureOr<PipelinePlan> plan = planPipeline(planner, costModel, *request,
                                                entry.getFunction().getLoc());
    if (failed(plan))
      continue;
    if (!best || plan->timing.seconds < best->timing.seconds * (1 - 1e-9))
      best = std::move(*plan);
  }
  return best;
}

LogicalResult
PlanPass::emitPipeline(ModuleOp module, const FunctionWorkload &entry,
                       Planner &planner, const PipelinePlan &plan,
                       const PlannerOptions &options, TargetAttr target,
                       const MeshPlan *unpipelined) {
  // The stages on the ops, the pipeline and the step on the module.
  Builder b(module.getContext());
  for (auto [index, space] : llvm::enumerate(planner.getSpaces()))
    space.op->setAttr(AutoparDialect::kStageAttrName,
                      b.getI64IntegerAttr(plan.chunkOfNode[index]));
  SmallVector<NamedAttribute> pipeline = {
      b.getNamedAttr("gpus", b.getI64IntegerAttr(plan.gpus)),
      b.getNamedAttr("microbatches",
                     b.getI64IntegerAttr(plan.config.microbatches)),
      b.getNamedAttr("schedule",
                     b.getStringAttr(stringifyPipelineSchedule(plan.schedule))),
      b.getNamedAttr("stages", b.getI64IntegerAttr(plan.stages)),
      b.getNamedAttr("virtual_stages",
                     b.getI64IntegerAttr(plan.virtualStages))};
  // Stages that differ in ZeRO stage or recomputation: each stage's (the
  // step's are then the most any stage uses).
  if (!plan.uniformConfig()) {
    SmallVector<int64_t> zeros;
    SmallVector<Attribute> recomputes;
    for (const PipelineChunk &chunk : plan.chunks) {
      zeros.push_back(chunk.config.zero);
      recomputes.push_back(
          b.getStringAttr(stringifyRecompute(chunk.config.recompute)));
    }
    pipeline.push_back(b.getNamedAttr("recompute", b.getArrayAttr(recomputes)));
    pipeline.push_back(b.getNamedAttr("zero", b.getDenseI64ArrayAttr(zeros)));
  }
  module->setAttr(AutoparDialect::kPipelineAttrName,
                  b.getDictionaryAttr(pipeline));
  setStepAndTarget(module, plan.config, options.precision, target);

  // Every op's strategy on its stage's mesh. @mesh is the pipeline's: the
  // stages' axis first (no op splits along it), then the stage mesh; when
  // the stages' meshes differ in shape, their refinement (m0, m1, ...; each
  // axis of each stage mesh is a run of them, in the same device order),
  // so that every stage's strategies are shardings of one mesh. The
  // stages' programs are built from these (autopar-partition).
  SmallVector<MeshShape> chunkMeshes;
  for (const PipelineChunk &chunk : plan.chunks)
    chunkMeshes.push_back(chunk.meshShape);
  const MeshShape &stageMesh = chunkMeshes.front();
  bool uniform = llvm::all_of(chunkMeshes, [&](const MeshShape &mesh) {
    return mesh.names == stageMesh.names && mesh.sizes == stageMesh.sizes;
  });
  std::optional<MeshRefinement> refinement;
  if (!uniform)
    refinement = refineMeshes(chunkMeshes);
  if (!uniform && !refinement) {
    mlir::emitWarning(entry.getFunction().getLoc())
        << "autopar-plan: the stages' meshes have no common refinement (their "
           "axes' prefix products do not divide one another); the ops carry "
           "their stages but no shardings, and cannot be partitioned (pin "
           "one shape for every stage, mesh=AxB, or shapes that refine one "
           "another, mesh=4,2x2)";
  } else if (!llvm::is_contained(stageMesh.names,
                                 AutoparDialect::kStageAxisName.str())) {
    MeshPlan stagePlan;
    stagePlan.mesh = uniform ? stageMesh : refinement->mesh;
    // The nodes of each stage mesh, numbered as its choices are.
    std::map<std::string, std::vector<PlanNode>> nodesOn;
    for (const MeshShape &mesh : chunkMeshes) {
      if (nodesOn.count(mesh.str()))
        continue;
      FailureOr<std::vector<PlanNode>> nodes = planner.getNodesOnMesh(mesh);
      if (failed(nodes))
        return failure();
      nodesOn[mesh.str()] = std::move(*nodes);
    }
    for (int64_t node = 0,
                 count = static_cast<int64_t>(plan.chunkOfNode.size());
         node < count; ++node) {
      int64_t chunk = plan.chunkOfNode[node];
      const PlanNode &onStage = nodesOn[chunkMeshes[chunk].str()][node];
      const Strategy &strategy =
          onStage.strategies[plan.chunks[chunk].choice[node]];
      PlanNode &annotated = stagePlan.nodes.emplace_back();
      annotated.space = onStage.space;
      annotated.strategies.push_back(
          uniform ? strategy
                  : refineStrategy(strategy, refinement->axisOf[chunk]));
      stagePlan.choice.push_back(0);
    }
    MeshShape whole = stagePlan.mesh;
    whole.names.insert(whole.names.begin(),
                       AutoparDialect::kStageAxisName.str());
    whole.sizes.insert(whole.sizes.begin(), plan.stages);
    annotateOps(module, stagePlan, declareMesh(module, whole));
  }

  if (!trace.empty()) {
    LogicalResult traced = success();
    if (failed(writeOutputFile(module.getLoc(), trace,
                               [&](raw_ostream &os) {
                                 traced = printPipelineTrace(
                                     os, plan, entry.getFunction().getLoc());
                               })) ||
        failed(traced))
      return failure();
  }
  if (report.empty())
    return success();
  return writeOutputFile(module.getLoc(), report, [&](raw_ostream &os) {
    if (StringRef(report).ends_with(".json")) {
      llvm::json::OStream json(os, /*IndentSize=*/2);
      json.object([&] {
        json.attribute("target", target.getName());
        json.attribute("function", entry.getFunction().getName());
        json.attribute("batch", entry.getBatchSize());
        writePipelineJson(json, plan, planner);
        if (unpipelined)
          json.attributeObject("without_stages", [&] {
            json.attribute("mesh", unpipelined->mesh.str());
            json.attribute("step_time_s", unpipelined->metrics.stepSeconds());
            json.attribute("fits_memory", unpipelined->fitsMemory);
          });
      });
      os << "\n";
      return;
    }
    os << "autopar-plan: @" << entry.getFunction().getName() << " on target "
       << target.getName() << ", batch " << entry.getBatchSize() << "\n";
    printPipelineReportText(os, plan, planner);
    if (unpipelined)
      os << llvm::format("without stages: %.3f ms on mesh ",
                         unpipelined->metrics.stepSeconds() * 1e3)
         << unpipelined->mesh.str() << "\n";
  });
}
