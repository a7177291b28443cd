//===- Passes.td - autopar partitioning passes -------------*- tablegen -*-===//

#ifndef AUTOPAR_PARTITION_PASSES_TD
#define AUTOPAR_PARTITION_PASSES_TD

include "mlir/Pass/PassBase.td"

def Propagate : Pass<"autopar-propagate", "::mlir::ModuleOp"> {
  let summary = "Give the other functions of a planned module (training "
                "steps) the plan's strategies";
  let description = [{
    After `autopar-plan` has annotated the forward function, every other
    function on the same mesh gets a strategy on each op: ops of a layer
    (`autopar.layer = N`) take the strategy of the forward op N; their
    backward ops (`autopar.grad_of = N`) that iterate over the same loops
    take the same strategy; every other op (losses, optimizer updates,
    gradient bookkeeping) the strategy that moves the fewest bytes from its
    operands' shardings (and, for results that become an argument's new
    value through `autopar.updates`, to that argument's sharding).
    Arguments of the forward function keep its shardings; the others take
    the sharding their first consumer asks for. Functions that already
    carry strategies are left alone.

    The optimizer update follows the ZeRO stage the plan chose
    (`autopar.step`'s `zero`, 0 without one): at stage 0 it runs where its
    parameter lives and gradients are all-reduced; from stage 1 the update
    and the optimizer state are split over the parameter's data axes
    (gradients reduce-scattered, new parameters all-gathered); at stage 3
    the parameters stay split and `autopar.shard` pins tagged with the
    layer they serve gather each one before its forward and again before
    its backward uses.
  }];
  let dependentDialects = ["::mlir::autopar::AutoparDialect"];
}

def Partition : Pass<"autopar-partition", "::mlir::ModuleOp"> {
  let summary = "Rewrite sharded functions into per-device SPMD programs";
  let description = [{
    Every function that carries shardings (`autopar.strategy` on ops,
    `autopar.sharding` on arguments, `autopar.shard` pins) becomes the
    program that each device of its mesh runs: arguments and results take
    their local shapes, each op computes its share under its strategy, and
    autopar collectives (all_reduce, reduce_scatter, all_gather,
    all_to_all) appear wherever a value's sharding differs from what its
    consumer needs; slices of replicated values are taken by the device's
    mesh coordinate (`autopar.device_coord`). Split reductions add their
    init once. Ops without a sharding rule run replicated with a remark.
    Splits that do not divide a dimension are refused with an error (the
    search never proposes them). Results leave complete (partial values are
    reduced) with the sharding recorded as `autopar.sharding` on the
    result, or the one the result already asks for. A partitioned function
    is marked `autopar.spmd = @mesh` and is left alone by later runs.

    A module planned as a pipeline (`autopar.pipeline`) becomes one program
    per device along its mesh's `stages` axis, the microbatches' forwards
    and backwards in the schedule's order with sends and receives between
    the devices: loops over the microbatches for GPipe and 1F1B (the
    activations a backward reads kept in a buffer of as many microbatches
    as the device holds), unrolled for the interleaved schedule or with
    `pipeline-loops=false`.
  }];
  let options = [
    Option<"pipelineLoops", "pipeline-loops", "bool", /*default=*/"true",
           "Run a pipeline's GPipe and 1F1B schedules as loops over the "
           "microbatches (false: one copy of each forward and backward per "
           "microbatch)">
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::bufferization::BufferizationDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::tensor::TensorDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::autopar::AutoparDialect"];
}

def ReportCommunication : Pass<"autopar-report-communication",
                               "::mlir::ModuleOp"> {
  let summary = "Report what each function communicates per call";
  let description = [{
    For every function: before partitioning (it carries shardings and
    strategies), the collectives `autopar-partition` will emit, predicted
    with the resharding steps the planner prices; after partitioning (it
    is marked `autopar.spmd`), the collectives counted in the IR. Per
    kind: the count, the bytes each device puts in, and the cost model's
    time on the module's target. The two agree exactly for the same
    function. The IR is not changed.

    Text lines read
    `@train_step predicted: all_reduce 4 (1024 B) ...; 0.031 ms on a100-dgx`;
    a `report` path ending in `.json` gets JSON.
  }];
  let options = [
    Option<"target", "target", "std::string", /*default=*/"\"\"",
           "Target to price the collectives on (the module's autopar.target "
           "when empty)">,
    Option<"report", "report", "std::string", /*default=*/"\"stderr\"",
           "Where to write the report: stderr (default), '-' (stdout), or a "
           "file (JSON when it ends in .json)">,
  ];
  // The target it prices on is an autopar attribute, made where the input
  // does not carry one (a preset).
  let dependentDialects = ["::mlir::autopar::AutoparDialect"];
}

def GroupCollectives : Pass<"autopar-group-collectives",
                            "::mlir::func::FuncOp"> {
  let summary = "Pack independent collectives into one buffer";
  let description = [{
    On partitioned functions (tensor form): collectives of one group (same
    kind, mesh, axes, reduction and element type) that do not depend on
    one another become one collective on a packed buffer, as data-parallel
    trainers bucket gradients: one latency instead of many, the same
    values. Groups of all-reduces and reduce-scatters are emitted once the
    last of their operands is made (a bucket launched when its last
    gradient is ready), groups of all-gathers just before the first op
    that reads one of them. ZeRO-3's parameter gathers (tagged with the
    layer whose forward or backward they serve) go by units, as FSDP wraps
    modules by size: in the order they are first used, consecutive
    parameters of one phase until the unit holds `unit-bytes` (default 25
    MiB); a unit's gathers group together (within `max-bytes`) and are
    emitted together, before the unit's first use or, with `prefetch`
    (default on), just before the first read of the unit before it, so
    that they run behind that unit's compute (the collective lowering
    waits for each where its result is first read). The step then holds
    two units' gathered parameters. The planner prices the same units
    (docs/cost-model.md, "Overlap").
    all_reduces are packed flat; reduce_scatters and all_gathers along
    dimension 0 as [devices, n] blocks side by side (`tensor.expand_shape`,
    `tensor.insert_slice`, `tensor.extract_slice`), so each device's block
    stays its own; those along other dimensions are left alone.

    A group holds at most `max-bytes` (default 25 MiB, PyTorch DDP's
    bucket size; 0: no limit): packing copies the members into the pack,
    so the step holds up to one group's bytes beyond its gradients while
    the groups are packed one after another (with no limit, a second copy
    of every gradient).
  }];
  let options = [
    Option<"maxBytes", "max-bytes", "int64_t",
           /*default=*/"::mlir::autopar::kCollectiveBucketBytes",
           "Largest packed buffer in bytes (0: no limit)">,
    Option<"unitBytes", "unit-bytes", "int64_t",
           /*default=*/"::mlir::autopar::kGatherUnitBytes",
           "ZeRO-3's parameter gathers go by units of consecutive "
           "parameters that close once they hold this many bytes">,
    Option<"prefetch", "prefetch", "bool", /*default=*/"true",
           "Emit each gather unit one unit ahead, before the first read of "
           "the unit before it, so that it runs behind that unit's compute">,
  ];
  let dependentDialects = ["::mlir::tensor::TensorDialect"];
}

#endif // AUTOPAR_PARTITION_PASSES_TD
