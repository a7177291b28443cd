//===- ShardInterop.cpp - autopar plans to and from upstream shard IR -----===//
//
// autopar-export-shard writes a plan as upstream `shard` dialect IR: meshes
// become `shard.grid`s (axis names kept in `autopar.axis_names`), argument,
// result and op-result shardings `shard.shard` annotations, pins too, so
// that upstream's sharding-propagation and shard-partition can partition
// the program. autopar-import-shard reads upstream IR back: grids become
// meshes, `shard.shard` annotations pins (`autopar.shard`) that the search
// respects, and the SPMD ops shard-partition emits (collectives, process
// indices, all_slice) their autopar counterparts, so an upstream-partitioned
// program runs on autopar's runtimes.
//
//===----------------------------------------------------------------------===//

#include "autopar/Interop/ShardInterop.h"
#include "autopar/Dialect/AutoparOps.h"
#include "autopar/Search/ShardingSpace.h"
#include "autopar/Interop/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Shard/IR/ShardDialect.h"
#include "mlir/Dialect/Shard/IR/ShardOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Transforms/RegionUtils.h"
#include "llvm/ADT/TypeSwitch.h"

namespace mlir::autopar {
#define GEN_PASS_DEF_EXPORTSHARD
#define GEN_PASS_DEF_IMPORTSHARD
#include "autopar/Interop/Passes.h.inc"
} // namespace mlir::autopar

using namespace mlir;
using namespace mlir::autopar;

static constexpr StringLiteral kAxisNamesAttrName = "autopar.axis_names";

/// `sharding` without its partial axes.
static ShardingAttr withoutPartial(ShardingAttr sharding) {
  if (!sharding || !sharding.isPartial())
    return sharding;
  return ShardingAttr::get(sharding.getMesh(), sharding.getDimAxes());
}

static ShardingAttr replicatedSharding(FlatSymbolRefAttr mesh, int64_t rank) {
  Builder builder(mesh.getContext());
  SmallVector<ArrayAttr> dims(rank, builder.getArrayAttr({}));
  return ShardingAttr::get(mesh, dims);
}

SmallVector<ShardingAttr>
mlir::autopar::getExportedResultShardings(func::FuncOp func,
                                          FlatSymbolRefAttr mesh) {
  SmallVector<ShardingAttr> shardings;
  auto ret = cast<func::ReturnOp>(func.getBody().front().getTerminator());
  for (auto [index, operand] : llvm::enumerate(ret.getOperands())) {
    auto type = dyn_cast<RankedTensorType>(operand.getType());
    if (!type) {
      shardings.push_back({});
      continue;
    }
    ShardingAttr sharding = func.getResultAttrOfType<ShardingAttr>(
        index, AutoparDialect::kShardingAttrName);
    if (!sharding) {
      if (auto arg = dyn_cast<BlockArgument>(operand)) {
        sharding = func.getArgAttrOfType<ShardingAttr>(
            arg.getArgNumber(), AutoparDialect::kShardingAttrName);
      } else if (auto all = operand.getDefiningOp()->getAttrOfType<ArrayAttr>(
                     AutoparDialect::kShardingsAttrName)) {
        sharding = dyn_cast<ShardingAttr>(
            all[cast<OpResult>(operand).getResultNumber()]);
      } else if (auto pin = operand.getDefiningOp<ShardOp>()) {
        sharding = pin.getSharding();
      }
    }
    if (!sharding || sharding.getMesh() != mesh)
      sharding = replicatedSharding(mesh, type.getRank());
    shardings.push_back(withoutPartial(sharding));
  }
  return shardings;
}

//===----------------------------------------------------------------------===//
// Export
//===----------------------------------------------------------------------===//

namespace {
struct ExportShardPass
    : public mlir::autopar::impl::ExportShardBase<ExportShardPass> {
  using ExportShardBase::ExportShardBase;
  void runOnOperation() override;
  LogicalResult exportFunction(func::FuncOp func, MeshAttr mesh,
                               FlatSymbolRefAttr meshRef);
};
} // namespace

/// A `shard.sharding` of `sharding` (partial axes dropped) at the builder's
/// insertion point.
static Value createSharding(OpBuilder &builder, Location loc,
                            ShardingAttr sharding, MeshAttr mesh) {
  SmallVector<shard::GridAxesAttr> splitAxes;
  for (ArrayAttr axes : sharding.getDimAxes()) {
    SmallVector<shard::GridAxis> indices;
    for (Attribute axis : axes)
      indices.push_back(static_cast<shard::GridAxis>(
          *mesh.getAxisIndex(cast<StringAttr>(axis).getValue())));
    splitAxes.push_back(builder.getDenseI16ArrayAttr(indices));
  }
  // Upstream wants at least one (possibly empty) entry.
  if (splitAxes.empty())
    splitAxes.push_back(builder.getDenseI16ArrayAttr({}));
  return shard::ShardingOp::create(builder, loc, sharding.getMesh(), splitAxes,
                                   ArrayRef<int64_t>{}, ArrayRef<int64_t>{})
      .getResult();
}

/// Annotates `value` with `sharding` right where the builder is and makes
/// every use except `keep` read the annotation.
static Value annotate(OpBuilder &builder, Location loc, Value value,
                      ShardingAttr sharding, MeshAttr mesh, bool forUsers) {
  Value spec = createSharding(builder, loc, sharding, mesh);
  auto annotated = shard::ShardOp::create(builder, loc, value, spec, forUsers);
  value.replaceAllUsesExcept(annotated.getResult(), annotated);
  return annotated.getResult();
}

LogicalResult ExportShardPass::exportFunction(func::FuncOp func, MeshAttr mesh,
                                              FlatSymbolRefAttr meshRef) {
  if (func->hasAttr(AutoparDialect::kSpmdAttrName))
    return func.emitError() << "autopar-export-shard: @" << func.getName()
                            << " is already partitioned; export the plan "
                               "before autopar-partition";
  if (!func.getBody().hasOneBlock())
    return func.emitError() << "autopar-export-shard: functions with "
                               "control flow between blocks are not "
                               "supported";
  Block &body = func.getBody().front();
  OpBuilder builder(func.getContext());
  SmallVector<ShardingAttr> resultShardings =
      getExportedResultShardings(func, meshRef);

  // Arguments: annotated for their users at the top of the body.
  builder.setInsertionPointToStart(&body);
  for (BlockArgument arg : func.getArguments()) {
    auto type = dyn_cast<RankedTensorType>(arg.getType());
    auto sharding = func.getArgAttrOfType<ShardingAttr>(
        arg.getArgNumber(), AutoparDialect::kShardingAttrName);
    func.removeArgAttr(arg.getArgNumber(), AutoparDialect::kShardingAttrName);
    if (!type || !sharding)
      continue;
    annotate(builder, arg.getLoc(), arg, withoutPartial(sharding), mesh,
             /*forUsers=*/true);
  }
  // Constants a body reads from above are copied into it: upstream's
  // shard-partition loses captured values when it splits a reduction.
  for (Operation &op : body) {
    for (Region &region : op.getRegions()) {
      if (!region.hasOneBlock())
        continue;
      SetVector<Value> captured;
      getUsedValuesDefinedAbove(region, captured);
      OpBuilder inner = OpBuilder::atBlockBegin(&region.front());
      for (Value value : captured) {
        Operation *constant = value.getDefiningOp();
        if (!constant || !constant->hasTrait<OpTrait::ConstantLike>())
          continue;
        Value copy = inner.clone(*constant)->getResult(0);
        replaceAllUsesInRegionWith(value, copy, region);
      }
    }
  }
  // Op results and pins.
  for (Operation &op : llvm::make_early_inc_range(body)) {
    if (auto pin = dyn_cast<ShardOp>(op)) {
      builder.setInsertionPoint(pin);
      Value spec =
          createSharding(builder, pin.getLoc(), pin.getSharding(), mesh);
      auto annotated = shard::ShardOp::create(builder, pin.getLoc(),
                                              pin.getInput(), spec, false);
      pin.replaceAllUsesWith(annotated.getResult());
      pin.erase();
      continue;
    }
    auto shardings =
        op.getAttrOfType<ArrayAttr>(AutoparDialect::kShardingsAttrName);
    op.removeAttr(AutoparDialect::kShardingsAttrName);
    op.removeAttr(AutoparDialect::kStrategyAttrName);
    if (!shardings || !annotateResults)
      continue;
    builder.setInsertionPointAfter(&op);
    for (auto [result, attr] : llvm::zip(op.getResults(), shardings)) {
      auto sharding = dyn_cast<ShardingAttr>(attr);
      if (!sharding || !isa<RankedTensorType>(result.getType()))
        continue;
      annotate(builder, op.getLoc(), result, withoutPartial(sharding), mesh,
               /*forUsers=*/false);
    }
  }
  // Results leave in the layout the function promises.
  auto ret = cast<func::ReturnOp>(body.getTerminator());
  builder.setInsertionPoint(ret);
  for (auto [index, sharding] : llvm::enumerate(resultShardings)) {
    func.removeResultAttr(
        index,
        StringAttr::get(func.getContext(), AutoparDialect::kShardingAttrName));
    if (!sharding)
      continue;
    Value spec = createSharding(builder, ret.getLoc(), sharding, mesh);
    auto annotated = shard::ShardOp::create(builder, ret.getLoc(),
                                            ret.getOperand(index), spec, false);
    ret.setOperand(index, annotated.getResult());
  }
  return success();
}

void ExportShardPass::runOnOperation() {
  ModuleOp module = getOperation();
  // Upstream's shard dialect has no pipeline stages: every device would
  // run the whole step.
  if (module->hasAttr(AutoparDialect::kPipelineAttrName)) {
    module.emitError() << "autopar-export-shard: the module is planned as a "
                          "pipeline (autopar.pipeline), which upstream's "
                          "shard dialect cannot express; partition it with "
                          "autopar-partition";
    return signalPassFailure();
  }
  SmallVector<MeshOp> meshes(module.getOps<MeshOp>());
  for (auto func : module.getOps<func::FuncOp>()) {
    if (func.isExternal())
      continue;
    FailureOr<FlatSymbolRefAttr> meshRef =
        getAnnotatedMesh(func, "autopar-export-shard");
    if (failed(meshRef))
      return signalPassFailure();
    if (!*meshRef)
      continue;
    MeshAttr mesh = lookupMesh(func, *meshRef);
    if (!mesh || failed(exportFunction(func, mesh, *meshRef)))
      return signalPassFailure();
  }
  // The plan names the mesh; the grids replace the meshes.
  module->removeAttr(AutoparDialect::kPlanAttrName);
  OpBuilder builder(module.getBodyRegion());
  for (MeshOp mesh : meshes) {
    builder.setInsertionPoint(mesh);
    MeshAttr shape = mesh.getMesh();
    auto grid = shard::GridOp::create(
        builder, mesh.getLoc(), mesh.getSymNameAttr(),
        builder.getDenseI64ArrayAttr(shape.getAxisSizes()));
    SmallVector<Attribute> names(shape.getAxisNames().begin(),
                                 shape.getAxisNames().end());
    grid->setAttr(kAxisNamesAttrName, builder.getArrayAttr(names));
    mesh.erase();
  }
}

//===----------------------------------------------------------------------===//
// Import
//===----------------------------------------------------------------------===//

namespace {
struct ImportShardPass
    : public mlir::autopar::impl::ImportShardBase<ImportShardPass> {
  void runOnOperation() override;
};
} // namespace

/// The autopar reduction of an upstream collective `op`, or an error at it.
static FailureOr<ReductionKind> importKind(Operation *op,
                                           shard::ReductionKind kind) {
  switch (kind) {
  case shard::ReductionKind::Sum:
    return ReductionKind::Sum;
  case shard::ReductionKind::Product:
    return ReductionKind::Product;
  case shard::ReductionKind::Max:
    return ReductionKind::Max;
  case shard::ReductionKind::Min:
    return ReductionKind::Min;
  default:
    return op->emitError() << "autopar-import-shard: reduction "
                           << shard::stringifyReductionKind(kind)
                           << " is not supported";
  }
}

void ImportShardPass::runOnOperation() {
  ModuleOp module = getOperation();
  MLIRContext *context = &getContext();
  OpBuilder builder(context);
  // Each grid's axis names: those export kept, else a0, a1, ...
  llvm::StringMap<SmallVector<StringAttr>> axisNames;
  for (auto grid : module.getOps<shard::GridOp>()) {
    SmallVector<StringAttr> names;
    auto kept = grid->getAttrOfType<ArrayAttr>(kAxisNamesAttrName);
    for (int64_t axis = 0; axis < grid.getRank(); ++axis)
      names.push_back(
          kept && kept.size() == grid.getShape().size()
              ? cast<StringAttr>(kept[axis])
              : StringAttr::get(context, "a" + std::to_string(axis)));
    axisNames[grid.getSymName()] = names;
  }
  auto gridOf = [&](Operation *op,
                    StringRef grid) -> FailureOr<ArrayRef<StringAttr>> {
    auto it = axisNames.find(grid);
    if (it == axisNames.end())
      return op->emitError() << "autopar-import-shard: no shard.grid @" << grid;
    return ArrayRef<StringAttr>(it->second);
  };
  auto namesOf = [&](ArrayRef<StringAttr> names, ArrayRef<int16_t> axes) {
    SmallVector<Attribute> result;
    for (int16_t axis : axes)
      result.push_back(names[axis]);
    return builder.getArrayAttr(result);
  };

  WalkResult walk = module.walk([&](Operation *op) -> WalkResult {
    if (!isa<shard::ShardDialect>(op->getDialect()) ||
        isa<shard::GridOp, shard::ShardingOp>(op))
      return WalkResult::advance();
    Location loc = op->getLoc();
    builder.setInsertionPoint(op);
    auto attr = op->getAttrOfType<FlatSymbolRefAttr>("grid");
    if (auto annotation = dyn_cast<shard::ShardOp>(op)) {
      auto spec = annotation.getSharding().getDefiningOp<shard::ShardingOp>();
      if (!spec || !spec.getStaticHaloSizes().empty() ||
          !spec.getStaticShardedDimsOffsets().empty() ||
          !spec.getDynamicHaloSizes().empty() ||
          !spec.getDynamicShardedDimsOffsets().empty())
        return op->emitError()
               << "autopar-import-shard: only shardings made by a "
                  "shard.sharding without halos or offsets are supported";
      FailureOr<ArrayRef<StringAttr>> names = gridOf(op, spec.getGrid());
      if (failed(names))
        return WalkResult::interrupt();
      auto type = cast<RankedTensorType>(annotation.getType());
      SmallVector<ArrayAttr> dims(type.getRank(), builder.getArrayAttr({}));
      for (auto [dim, axes] : llvm::enumerate(spec.getSplitAxes().getAxes())) {
        if (dim >= dims.size()) {
          if (!axes.empty())
            return op->emitError() << "autopar-import-shard: the sharding "
                                      "splits dimension "
                                   << dim << " of " << type;
          continue;
        }
        dims[dim] = namesOf(*names, axes.asArrayRef());
      }
      auto sharding = ShardingAttr::get(
          FlatSymbolRefAttr::get(context, spec.getGrid()), dims);
      auto pin = ShardOp::create(builder, loc, annotation.getType(),
                                 annotation.getSrc(), sharding);
      annotation.replaceAllUsesWith(pin.getResult());
      op->erase();
      return WalkResult::skip();
    }
    if (!attr)
      return op->emitError() << "autopar-import-shard: '" << op->getName()
                             << "' has no autopar counterpart";
    FailureOr<ArrayRef<StringAttr>> names = gridOf(op, attr.getValue());
    if (failed(names))
      return WalkResult::interrupt();
    auto i64 = [&](const APInt &value) {
      return builder.getI64IntegerAttr(value.getSExtValue());
    };
    auto coord = [&](ArrayRef<int16_t> axes) {
      SmallVector<StringRef> strings;
      for (Attribute name : namesOf(*names, axes))
        strings.push_back(cast<StringAttr>(name).getValue());
      return DeviceCoordOp::create(builder, loc, builder.getIndexType(), attr,
                                   builder.getStrArrayAttr(strings))
          .getResult();
    };
    // An op's axes, or every axis of its grid when it names none.
    auto axesOrAll = [&](ArrayRef<int16_t> axes) {
      SmallVector<int16_t> result(axes.begin(), axes.end());
      if (axes.empty())
        for (int16_t axis = 0; axis < static_cast<int16_t>(names->size());
             ++axis)
          result.push_back(axis);
      return result;
    };
    Value replacement;
    SmallVector<Value> replacements;
    // A collective over no axes is a group of one: nothing moves.
    if (auto axes = op->getAttrOfType<DenseI16ArrayAttr>("grid_axes");
        axes && axes.empty() && op->getNumOperands() == 1 &&
        op->getNumResults() == 1 &&
        op->getOperand(0).getType() == op->getResult(0).getType()) {
      op->replaceAllUsesWith(op->getOperands());
      op->erase();
      return WalkResult::skip();
    }
    LogicalResult converted =
        llvm::TypeSwitch<Operation *, LogicalResult>(op)
            .Case([&](shard::AllReduceOp reduce) -> LogicalResult {
              FailureOr<ReductionKind> kind =
                  importKind(op, reduce.getReduction());
              if (failed(kind))
                return failure();
              replacement = AllReduceOp::create(
                                builder, loc, reduce.getType(),
                                reduce.getInput(), Value(), attr,
                                namesOf(*names, reduce.getGridAxes()), *kind)
                                .getResult();
              return success();
            })
            .Case([&](shard::ReduceScatterOp reduce) -> LogicalResult {
              FailureOr<ReductionKind> kind =
                  importKind(op, reduce.getReduction());
              if (failed(kind))
                return failure();
              replacement =
                  ReduceScatterOp::create(builder, loc, reduce.getType(),
                                          reduce.getInput(), Value(), attr,
                                          namesOf(*names, reduce.getGridAxes()),
                                          i64(reduce.getScatterAxis()), *kind)
                      .getResult();
              return success();
            })
            .Case([&](shard::AllGatherOp gather) {
              replacement =
                  AllGatherOp::create(builder, loc, gather.getType(),
                                      gather.getInput(), Value(), attr,
                                      namesOf(*names, gather.getGridAxes()),
                                      i64(gather.getGatherAxis()))
                      .getResult();
              return success();
            })
            .Case([&](shard::AllToAllOp move) {
              replacement =
                  AllToAllOp::create(
                      builder, loc, move.getType(), move.getInput(), Value(),
                      attr, namesOf(*names, move.getGridAxes()),
                      i64(move.getSplitAxis()), i64(move.getConcatAxis()))
                      .getResult();
              return success();
            })
            .Case([&](shard::AllSliceOp slice) {
              // The device's block along the slice axis.
              auto type = cast<RankedTensorType>(slice.getType());
              int64_t dim = slice.getSliceAxis().getSExtValue();
              SmallVector<OpFoldResult> offsets, sizes, strides;
              for (int64_t d = 0; d < type.getRank(); ++d) {
                sizes.push_back(builder.getIndexAttr(type.getDimSize(d)));
                strides.push_back(builder.getIndexAttr(1));
                if (d != dim) {
                  offsets.push_back(builder.getIndexAttr(0));
                  continue;
                }
                Value size = arith::ConstantIndexOp::create(builder, loc,
                                                            type.getDimSize(d));
                offsets.push_back(
                    arith::MulIOp::create(builder, loc,
                                          coord(slice.getGridAxes()), size)
                        .getResult());
              }
              replacement = tensor::ExtractSliceOp::create(
                                builder, loc, type, slice.getInput(), offsets,
                                sizes, strides)
                                .getResult();
              return success();
            })
            .Case([&](shard::ProcessMultiIndexOp index) {
              for (int16_t axis : axesOrAll(index.getAxes()))
                replacements.push_back(coord({axis}));
              return success();
            })
            .Case([&](shard::GridShapeOp shape) -> LogicalResult {
              auto grid =
                  SymbolTable::lookupNearestSymbolFrom<shard::GridOp>(op, attr);
              if (!grid)
                return op->emitError()
                       << "autopar-import-shard: no shard.grid " << attr;
              for (int16_t axis : axesOrAll(shape.getAxes()))
                replacements.push_back(arith::ConstantIndexOp::create(
                    builder, loc, grid.getShape()[axis]));
              return success();
            })
            .Case([&](shard::ProcessLinearIndexOp) {
              replacement = coord(axesOrAll({}));
              return success();
            })
            .Default([&](Operation *) {
              return op->emitError()
                     << "autopar-import-shard: '" << op->getName()
                     << "' has no autopar counterpart";
            });
    if (failed(converted))
      return WalkResult::interrupt();
    if (replacement)
      replacements.push_back(replacement);
    op->replaceAllUsesWith(replacements);
    op->erase();
    return WalkResult::skip();
  });
  if (walk.wasInterrupted())
    return signalPassFailure();

  // Shardings are consumed; grids become meshes.
  SmallVector<Operation *> dead;
  module.walk([&](shard::ShardingOp op) { dead.push_back(op); });
  for (Operation *op : dead) {
    if (!op->use_empty()) {
      op->emitError() << "autopar-import-shard: a sharding is still used";
      return signalPassFailure();
    }
    op->erase();
  }
  for (auto grid : llvm::make_early_inc_range(module.getOps<shard::GridOp>())) {
    builder.setInsertionPoint(grid);
    SmallVector<StringAttr> names = axisNames[grid.getSymName()];
    auto mesh =
        MeshAttr::get(context, names, SmallVector<int64_t>(grid.getShape()));
    MeshOp::create(builder, grid.getLoc(), grid.getSymName(), mesh);
    grid.erase();
  }
}
