//===- AutoparBase.td - autopar dialect definition --------*- tablegen -*-===//
//
// The autopar dialect: device meshes, tensor shardings, op strategies, target
// descriptions and the collectives of SPMD programs.
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_DIALECT_AUTOPARBASE_TD
#define AUTOPAR_DIALECT_AUTOPARBASE_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"

def Autopar_Dialect : Dialect {
  let name = "autopar";
  let cppNamespace = "::mlir::autopar";
  let summary = "Automatic parallelization of DNN training over GPU meshes";
  let description = [{
    The autopar dialect describes how a single-device program is spread over
    a mesh of devices, and the communication of the resulting SPMD program.

    * `autopar.mesh` declares a device mesh: named axes with sizes, for
      example `nodes = 2, gpus = 8`.
    * `#autopar.sharding` says, for each dimension of a tensor value, over
      which mesh axes it is split, and over which axes the value is only a
      partial result (a sum, max, ... still to be reduced).
    * `#autopar.strategy` says which loop (iteration) dimensions of an op are
      split over which mesh axes.
    * `#autopar.target` describes the machine: GPU, links, nodes.
    * The collectives (`all_reduce`, `all_gather`, `reduce_scatter`,
      `all_to_all`, `broadcast`, `permute`) work over a set of mesh axes, on
      tensors or on memrefs, and bufferize with one-shot-bufferize.

    Discardable attributes the dialect verifies:
    * `autopar.sharding` on function arguments and results: a
      `#autopar.sharding` of the argument's or result's rank;
    * `autopar.role` on function arguments: `"input"` (a batch input),
      `"label"` (a batch of labels), `"param"` (a trained parameter) or
      `"state"` (neither trained nor batched, e.g. running statistics);
    * `autopar.batch_dim` on a batch input or label argument: the dimension
      that holds the batch (default 0);
    * `autopar.shardings` on any op: an array with one `#autopar.sharding`
      per result;
    * `autopar.strategy` on any op: a `#autopar.strategy`; on an op with
      loops (linalg, TilingInterface) one entry per loop;
    * `autopar.target` on a module: a `#autopar.target`;
    * `autopar.plan` on a module: a `#autopar.plan`, the search's summary;
    * `autopar.pipeline` on a module: a pipeline plan's dictionary
      (`stages`, `virtual_stages`, `schedule`, `microbatches`, `gpus`);
      `autopar.stage` on each planned op: the index of its stage (chunk),
      non-decreasing in program order, below stages x virtual_stages;
    * `autopar.runtime_deallocation` (unit) on a function: its
      `bufferization.dealloc` ops keep their run-time alias checks
      (`autopar-simplify-deallocations` leaves them as they are).
  }];
  let dependentDialects = ["::mlir::bufferization::BufferizationDialect"];
  let useDefaultAttributePrinterParser = 1;
  let hasOperationAttrVerify = 1;
  let hasRegionArgAttrVerify = 1;
  let hasRegionResultAttrVerify = 1;
  let extraClassDeclaration = [{
    void registerAttributes();

    /// Names of the discardable attributes the dialect verifies.
    static constexpr ::llvm::StringLiteral kShardingAttrName = "autopar.sharding";
    static constexpr ::llvm::StringLiteral kShardingsAttrName = "autopar.shardings";
    static constexpr ::llvm::StringLiteral kStrategyAttrName = "autopar.strategy";
    static constexpr ::llvm::StringLiteral kTargetAttrName = "autopar.target";
    static constexpr ::llvm::StringLiteral kPlanAttrName = "autopar.plan";
    static constexpr ::llvm::StringLiteral kStepAttrName = "autopar.step";
    static constexpr ::llvm::StringLiteral kPipelineAttrName = "autopar.pipeline";
    static constexpr ::llvm::StringLiteral kStageAttrName = "autopar.stage";
    /// The mesh axis a pipeline's stages lie along (the first of @mesh).
    static constexpr ::llvm::StringLiteral kStageAxisName = "stages";
    static constexpr ::llvm::StringLiteral kLayerAttrName = "autopar.layer";
    static constexpr ::llvm::StringLiteral kGradOfAttrName = "autopar.grad_of";
    static constexpr ::llvm::StringLiteral kRecomputedAttrName = "autopar.recomputed";
    static constexpr ::llvm::StringLiteral kRoleAttrName = "autopar.role";
    static constexpr ::llvm::StringLiteral kBatchDimAttrName = "autopar.batch_dim";
    static constexpr ::llvm::StringLiteral kUpdatesAttrName = "autopar.updates";
    /// On an argument of a private function that writes its update over it
    /// (autopar-update-in-place): bufferization gives such an argument a
    /// buffer of its own at every call, shared with no other argument.
    static constexpr ::llvm::StringLiteral kInPlaceAttrName = "autopar.in_place";
    static constexpr ::llvm::StringLiteral kLossScaleAttrName = "autopar.loss_scale";
    /// On the ops of a loss the planner appends to price it (AppendedLoss,
    /// autopar-plan loss=); erased before the pass ends.
    static constexpr ::llvm::StringLiteral kLossAttrName = "autopar.loss";
    static constexpr ::llvm::StringLiteral kSpmdAttrName = "autopar.spmd";
    static constexpr ::llvm::StringLiteral kRuntimeDeallocationAttrName =
        "autopar.runtime_deallocation";
  }];
}

//===----------------------------------------------------------------------===//
// Enums
//===----------------------------------------------------------------------===//

def Autopar_ReductionKind : I32EnumAttr<"ReductionKind",
    "how partial results combine", [
  I32EnumAttrCase<"Sum", 0, "sum">,
  I32EnumAttrCase<"Product", 1, "prod">,
  I32EnumAttrCase<"Min", 2, "min">,
  I32EnumAttrCase<"Max", 3, "max">
]> {
  let genSpecializedAttr = 0;
  let cppNamespace = "::mlir::autopar";
}

def Autopar_LinkTopology : I32EnumAttr<"LinkTopology",
    "the kind of interconnect between GPUs", [
  I32EnumAttrCase<"PCIe", 0, "pcie">,
  I32EnumAttrCase<"NVLink", 1, "nvlink">,
  I32EnumAttrCase<"NVSwitch", 2, "nvswitch">,
  I32EnumAttrCase<"InfiniBand", 3, "infiniband">,
  I32EnumAttrCase<"Ethernet", 4, "ethernet">
]> {
  let genSpecializedAttr = 0;
  let cppNamespace = "::mlir::autopar";
}

#endif // AUTOPAR_DIALECT_AUTOPARBASE_TD
