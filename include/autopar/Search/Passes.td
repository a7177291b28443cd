//===- Passes.td - autopar planning passes -----------------*- tablegen -*-===//

#ifndef AUTOPAR_SEARCH_PASSES_TD
#define AUTOPAR_SEARCH_PASSES_TD

include "mlir/Pass/PassBase.td"

def Plan : Pass<"autopar-plan", "::mlir::ModuleOp"> {
  let summary = "Choose how many GPUs to use and how to split every op";
  let description = [{
    The search. For every candidate mesh (1-D with 1..N GPUs, 2-D meshes that
    map onto nodes x GPUs), it finds the strategy of every op (which loops
    are split over which mesh axes: data, tensor, reduction or hybrid
    parallelism, or replication) that minimises the predicted training step
    (local compute forward and backward, gradient all-reduces, resharding
    between ops, optimizer update) within the GPU memory, then picks the mesh
    that is best for the objective. It annotates the IR with an
    `autopar.mesh`, `autopar.strategy` and `autopar.shardings` on every op,
    `autopar.sharding` on the arguments and an `autopar.plan` summary on the
    module, and explains the decision in a report (docs/search.md).
    Sharding pins (`autopar.shard`) are respected.
  }];
  let options = [
    Option<"target", "target", "std::string", /*default=*/"\"\"",
           "Target machine: a preset name or a .json file (default: the "
           "module's autopar.target, else titanxp-pcie-4)">,
    Option<"objective", "objective", "std::string", /*default=*/"\"time\"",
           "time (shortest step), energy (least energy per sample) or "
           "efficiency:X (most throughput with parallel efficiency >= X)">,
    Option<"maxGpus", "max-gpus", "int64_t", /*default=*/"0",
           "Use at most this many GPUs (0: all of the target's)">,
    Option<"mesh", "mesh", "std::string", /*default=*/"\"\"",
           "Pin the mesh shape, e.g. 4 or 2x4 (with stages: one per stage, e.g. 4,2x2)">,
    Option<"optimizer", "optimizer", "std::string", /*default=*/"\"momentum\"",
           "Optimizer of the training step: sgd, momentum or adam">,
    Option<"loss", "loss", "std::string", /*default=*/"\"auto\"",
           "The training step's loss, priced with the model (autopar-"
           "training's loss=): auto (the function returns its loss; none "
           "is added), softmax-cross-entropy or mse (the loss and its "
           "gradient priced after the function's output)">,
    Option<"report", "report", "std::string", /*default=*/"\"stderr\"",
           "Where to write the plan report: stderr (default), '-' (stdout), a "
           "file (JSON when it ends in .json), or empty for none">,
    Option<"trace", "trace", "std::string", /*default=*/"\"\"",
           "Write the predicted timeline per GPU as Chrome-trace JSON here">,
    Option<"exhaustive", "exhaustive", "bool", /*default=*/"false",
           "Enumerate every strategy combination (tiny graphs only)">,
    Option<"reuseBlocks", "reuse-blocks", "bool", /*default=*/"true",
           "Find runs of identical blocks (a Transformer's layers) and solve "
           "one copy for all; false solves the whole graph (the same plan, "
           "slower)">,
    Option<"cudnnAttention", "cudnn-attention", "bool", /*default=*/"true",
           "Price 16-bit attentions that cuDNN's fused attention computes "
           "as that one call, forward and backward, as autopar-lower-to-"
           "cuda builds them by default (its cudnn-attention); false: as "
           "their decomposition (score-sized buffers and kernels)">,
    Option<"overlap", "overlap", "bool", /*default=*/"true",
           "Price gradient synchronisation behind the backward and ZeRO-3's "
           "parameter gathers behind the unit before, as autopar's backends "
           "run them (docs/cost-model.md, \"Overlap\"); false: all of it "
           "exposed, as the WAP paper assumed and as frameworks without "
           "overlap run it">,
    Option<"interleavedNodes", "interleaved-nodes", "int64_t",
           /*default=*/"::mlir::autopar::kInterleavedNodeBudget",
           "Partial partitions the interleaved stage search's branch and "
           "bound visits at most per search before it keeps the best found "
           "(the report says how far a lower bound leaves it); more proves "
           "more pipelines the best, slower">,
    Option<"gatherUnitBytes", "gather-unit-bytes", "int64_t",
           /*default=*/"::mlir::autopar::kGatherUnitBytes",
           "Bytes at which a unit of ZeRO-3's parameter gathers closes, as "
           "autopar-group-collectives unit-bytes builds them">,
    Option<"parallelism", "parallelism", "std::string", /*default=*/"\"hybrid\"",
           "hybrid (any loop on any mesh axis), data (the WAP paper's "
           "space: batch split or replication only), tensor (forced model "
           "parallelism: every op that can be is split along a loop other "
           "than its batch loop) or data-tensor (forced hybrid: batch "
           "loops on the first mesh axis, other loops on the others)">,
    Option<"precision", "precision", "std::string", /*default=*/"\"\"",
           "Arithmetic of the step: f32, bf16 or fp16 (mixed precision: "
           "16-bit compute, f32 master parameters and optimizer state); "
           "default: the model's own type, mixed when it is 16-bit">,
    Option<"zero", "zero", "std::string", /*default=*/"\"auto\"",
           "Pin the ZeRO stage over the data axes: 0 (none), 1 (shard "
           "optimizer state), 2 (and gradients), 3 (and parameters), or "
           "with stages= one per stage (1,0; 2 and 3 only for every "
           "stage); auto or -1: searched (with stages=, 0 or 1 per stage)">,
    Option<"recompute", "recompute", "std::string", /*default=*/"\"auto\"",
           "Pin activation recomputation: none, selective or full, or with "
           "stages= one per stage (full,none); auto: searched (with "
           "stages=, per stage)">,
    Option<"microbatches", "microbatches", "int64_t", /*default=*/"0",
           "Pin the number of microbatches the batch is split into "
           "(gradient accumulation); 0: searched">,
    Option<"stages", "stages", "int64_t", /*default=*/"1",
           "Pipeline stages: 1 (none), P >= 2 to plan the model as P "
           "contiguous stages on meshes of GPUs/P GPUs each (mesh= then pins "
           "every stage's mesh), or 0 to search the count (P = 1 included)">,
    Option<"schedule", "schedule", "std::string", /*default=*/"\"auto\"",
           "Pipeline schedule: gpipe, 1f1b, interleaved, or auto (1f1b and "
           "interleaved searched)">,
    Option<"virtualStages", "virtual-stages", "int64_t", /*default=*/"0",
           "Chunks per device of the interleaved schedule: 2 or more, or 0 "
           "to search them">
  ];
  let dependentDialects = ["::mlir::autopar::AutoparDialect"];
}

#endif // AUTOPAR_SEARCH_PASSES_TD
