//===- Passes.td - autopar upstream shard interop passes ---*- tablegen -*-===//

#ifndef AUTOPAR_INTEROP_PASSES_TD
#define AUTOPAR_INTEROP_PASSES_TD

include "mlir/Pass/PassBase.td"

def ExportShard : Pass<"autopar-export-shard", "::mlir::ModuleOp"> {
  let summary = "Write an autopar plan as upstream shard dialect annotations";
  let description = [{
    Every function that carries autopar shardings gets them as upstream
    `shard` IR, ready for `sharding-propagation` and `shard-partition`:
    each `autopar.mesh` becomes a `shard.grid` of the same name and shape
    (its axis names kept in `autopar.axis_names`), argument shardings
    `shard.shard ... annotate_for_users` at the top of the body, op result
    shardings (`autopar.shardings`, with `results=true`) `shard.shard`
    after the op, pins `shard.shard`, and results the layout the function
    returns them in. Upstream shardings have no partial axes: a partial
    result is annotated without them (upstream reduces it right after its
    op). The autopar annotations that name the mesh (strategies,
    shardings, the plan) are removed; roles, layers and `autopar.updates`
    stay. Functions already partitioned are refused.
  }];
  let options = [
    Option<"annotateResults", "results", "bool", /*default=*/"true",
           "Annotate every op result (false: only arguments, results and "
           "pins, and let upstream propagation decide the rest)">,
  ];
  let dependentDialects = ["::mlir::shard::ShardDialect"];
}

def ImportShard : Pass<"autopar-import-shard", "::mlir::ModuleOp"> {
  let summary = "Read upstream shard dialect IR as autopar pins and SPMD ops";
  let description = [{
    Each `shard.grid` becomes an `autopar.mesh` of the same name and shape
    (axis names from `autopar.axis_names`, else `a0`, `a1`, ...). Each
    `shard.shard` annotation becomes a pin (`autopar.shard`) that
    `autopar-plan` respects and `autopar-partition` honours. The SPMD ops
    upstream's `shard-partition` emits become autopar's: `all_reduce`,
    `reduce_scatter`, `all_gather`, `all_to_all` the autopar collectives,
    `all_slice` a `tensor.extract_slice` at the device's coordinate,
    `process_multi_index` / `process_linear_index` `autopar.device_coord`.
    Shardings with halos or explicit offsets, reductions other than sum,
    product, max and min, and other shard ops are reported as errors.
  }];
  let dependentDialects = ["::mlir::autopar::AutoparDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::tensor::TensorDialect"];
}

#endif // AUTOPAR_INTEROP_PASSES_TD
