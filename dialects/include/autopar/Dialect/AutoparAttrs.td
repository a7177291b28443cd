//===- AutoparAttrs.td - autopar attributes ---------------*- tablegen -*-===//

#ifndef AUTOPAR_DIALECT_AUTOPARATTRS_TD
#define AUTOPAR_DIALECT_AUTOPARATTRS_TD

include "autopar/Dialect/AutoparBase.td"
include "mlir/IR/BuiltinAttributeInterfaces.td"

class Autopar_Attr<string name, string attrMnemonic, list<Trait> traits = []>
    : AttrDef<Autopar_Dialect, name, traits> {
  let mnemonic = attrMnemonic;
}

// A double printed so that it parses back to the same value.
def Autopar_DoubleParameter : APFloatParameter<"a real number"> {
  let parser = "::mlir::autopar::parseDoubleAsAPFloat($_parser)";
  let printer = "::mlir::autopar::printDouble($_printer, $_self.convertToDouble())";
}

class Autopar_DefaultDoubleParameter<string value>
    : APFloatParameter<"a real number, " # value # " when omitted"> {
  let parser = Autopar_DoubleParameter.parser;
  let printer = Autopar_DoubleParameter.printer;
  let defaultValue = "::llvm::APFloat(" # value # ")";
}

// FLOP/s per element type: `{f16 = 2.4e+13, f32 = 1.2e+13}`.
def Autopar_FlopsTableParameter
    : AttrParameter<"::mlir::DictionaryAttr", "peak FLOP/s per element type"> {
  let parser = "::mlir::autopar::parseFlopsTable($_parser)";
  let printer = "::mlir::autopar::printFlopsTable($_printer, $_self)";
}

//===----------------------------------------------------------------------===//
// MeshAttr
//===----------------------------------------------------------------------===//

def Autopar_MeshAttr : Autopar_Attr<"Mesh", "mesh"> {
  let summary = "a device mesh: named axes with sizes";
  let description = [{
    A logical arrangement of devices as an N-dimensional grid. Each axis has
    a name and a size; the mesh holds the product of the sizes devices, and
    a device's coordinate is given row-major (the last axis varies fastest).

    ```mlir
    #autopar.mesh<nodes = 2, gpus = 8>
    #autopar.mesh<gpus = 4>
    ```

    Axis names are unique identifiers (or quoted strings); sizes are at
    least 1. A mesh has at least one axis.
  }];
  let parameters = (ins
    ArrayRefParameter<"::mlir::StringAttr", "axis names">:$axis_names,
    ArrayRefParameter<"int64_t", "axis sizes">:$axis_sizes);
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    unsigned getRank() const { return getAxisNames().size(); }
    /// The index of `axis`, or std::nullopt when the mesh has no such axis.
    std::optional<unsigned> getAxisIndex(::llvm::StringRef axis) const;
    /// The size of `axis`; the axis must exist.
    int64_t getAxisSize(::llvm::StringRef axis) const;
    /// The number of devices in the mesh.
    int64_t getNumDevices() const;
  }];
}

//===----------------------------------------------------------------------===//
// ShardingAttr
//===----------------------------------------------------------------------===//

def Autopar_ShardingAttr : Autopar_Attr<"Sharding", "sharding"> {
  let summary = "how a tensor value is laid out over a device mesh";
  let description = [{
    For each dimension of a tensor, the list of mesh axes it is split over
    (outermost first; an empty list means the dimension is not split), and
    optionally the mesh axes over which every device holds only a partial
    result that still has to be combined with `reduction`.

    ```mlir
    // dim 0 split over `gpus`, dim 1 whole: data parallel activations.
    #autopar.sharding<@mesh, [[gpus], []]>
    // dim 0 split over both axes of a 2-D mesh.
    #autopar.sharding<@mesh, [[nodes, gpus], []]>
    // a weight gradient that is a partial sum over `gpus`.
    #autopar.sharding<@mesh, [[], []], partial = sum [gpus]>
    ```

    A mesh axis appears at most once in a sharding. The number of dimension
    entries equals the rank of the value it describes; where the sharding is
    attached to a value the verifier checks that, and that the axes exist in
    the referenced `autopar.mesh`.
  }];
  let parameters = (ins
    "::mlir::FlatSymbolRefAttr":$mesh,
    ArrayRefParameter<"::mlir::ArrayAttr", "per-dim axes">:$dim_axes,
    "::mlir::ArrayAttr":$partial_axes,
    "::mlir::autopar::ReductionKind":$partial_kind);
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let builders = [
    AttrBuilderWithInferredContext<(ins
        "::mlir::FlatSymbolRefAttr":$mesh,
        "::llvm::ArrayRef<::mlir::ArrayAttr>":$dimAxes), [{
      return $_get(mesh.getContext(), mesh, dimAxes,
                   ::mlir::ArrayAttr::get(mesh.getContext(), {}),
                   ::mlir::autopar::ReductionKind::Sum);
    }]>
  ];
  let extraClassDeclaration = [{
    int64_t getRank() const { return getDimAxes().size(); }
    bool isReplicated() const;
    bool isPartial() const { return !getPartialAxes().empty(); }
    /// Checks the sharding against a value of type `type` on `mesh`: the
    /// rank, and that every axis exists. Reports through `emitError`.
    ::llvm::LogicalResult
    verifyFor(::mlir::Type type, MeshAttr mesh,
              ::llvm::function_ref<::mlir::InFlightDiagnostic()> emitError) const;
  }];
}

//===----------------------------------------------------------------------===//
// StrategyAttr
//===----------------------------------------------------------------------===//

def Autopar_StrategyAttr : Autopar_Attr<"Strategy", "strategy"> {
  let summary = "which loop dimensions of an op are split over which mesh axes";
  let description = [{
    One entry per loop (iteration) dimension of the op, in the order of its
    iteration space (for linalg ops, the order of `iterator_types`): the mesh
    axes that dimension is split over. Splitting a parallel loop shards the
    results along it; splitting a reduction loop leaves partial results.

    ```mlir
    // linalg.matmul (m, n, k): data parallel over m on `gpus`.
    #autopar.strategy<@mesh, [[gpus], [], []]>
    // the same op with its reduction k split: partial sums over `gpus`.
    #autopar.strategy<@mesh, [[], [], [gpus]]>
    ```
  }];
  let parameters = (ins
    "::mlir::FlatSymbolRefAttr":$mesh,
    ArrayRefParameter<"::mlir::ArrayAttr", "per-loop axes">:$loop_axes);
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    int64_t getNumLoops() const { return getLoopAxes().size(); }
    /// Checks the strategy against an op with `numLoops` loops (or any
    /// number when std::nullopt) on `mesh`.
    ::llvm::LogicalResult
    verifyFor(std::optional<int64_t> numLoops, MeshAttr mesh,
              ::llvm::function_ref<::mlir::InFlightDiagnostic()> emitError) const;
  }];
}

//===----------------------------------------------------------------------===//
// Target description
//===----------------------------------------------------------------------===//

def Autopar_GpuAttr : Autopar_Attr<"Gpu", "gpu"> {
  let summary = "a GPU model: peak rates, memory and power";
  let description = [{
    ```mlir
    #autopar.gpu<name = "TITAN Xp", peak_flops = {f32 = 1.215e+13},
                 memory_bandwidth = 5.476e+11, memory_capacity = 12784238592,
                 power_busy = 250.0, power_idle = 60.0>
    ```
    `peak_flops` gives FLOP/s per element type (`f64`, `f32`, `tf32`, `f16`,
    `bf16`, `f8`, `i8`); `memory_bandwidth` is in bytes/s,
    `memory_capacity` in bytes, the powers in watts.

    The optional fields shape the cost model's roofline (see
    docs/cost-model.md); they are printed only when they differ from their
    defaults:
    * `compute_efficiency` (0.7): the fraction of peak FLOP/s that large
      kernels achieve;
    * `memory_efficiency` (0.8): the fraction of the memory bandwidth that
      large streaming kernels achieve;
    * `launch_overhead` (5.0e-06 s): the fixed cost of one kernel;
    * `saturation_threads` (16384.0): the number of independent work items
      (output elements) at which a kernel runs at half its achievable rate;
      kernels with less parallel work under-use the GPU.
  }];
  let parameters = (ins
    StringRefParameter<"marketing name">:$name,
    Autopar_FlopsTableParameter:$peak_flops,
    Autopar_DoubleParameter:$memory_bandwidth,
    "uint64_t":$memory_capacity,
    Autopar_DoubleParameter:$power_busy,
    Autopar_DoubleParameter:$power_idle,
    Autopar_DefaultDoubleParameter<"0.7">:$compute_efficiency,
    Autopar_DefaultDoubleParameter<"0.8">:$memory_efficiency,
    Autopar_DefaultDoubleParameter<"5.0e-6">:$launch_overhead,
    Autopar_DefaultDoubleParameter<"16384.0">:$saturation_threads);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// Peak FLOP/s for `dtype` (e.g. "f32"), or std::nullopt.
    std::optional<double> getPeakFlopsFor(::llvm::StringRef dtype) const;
  }];
}

def Autopar_LinkAttr : Autopar_Attr<"Link", "link"> {
  let summary = "an interconnect between GPUs";
  let description = [{
    ```mlir
    #autopar.link<topology = nvlink, bandwidth = 2.0e+10, latency = 5.0e-06>
    ```
    `bandwidth` is the unidirectional bandwidth one GPU sees into the link
    (bytes/s), `latency` the start-up time of a transfer (s).
  }];
  let parameters = (ins
    EnumParameter<Autopar_LinkTopology>:$topology,
    Autopar_DoubleParameter:$bandwidth,
    Autopar_DoubleParameter:$latency);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

def Autopar_TargetAttr : Autopar_Attr<"Target", "target"> {
  let summary = "a machine: nodes of GPUs and their interconnects";
  let description = [{
    ```mlir
    #autopar.target<name = "titanxp-pcie-4", nodes = 1, gpus_per_node = 4,
      gpu = <...>, intra_node = <topology = pcie, ...>>
    ```
    `inter_node` is required when `nodes` is more than 1.
  }];
  let parameters = (ins
    StringRefParameter<"preset or file name">:$name,
    "int64_t":$nodes,
    "int64_t":$gpus_per_node,
    Autopar_GpuAttr:$gpu,
    Autopar_LinkAttr:$intra_node,
    OptionalParameter<"::mlir::autopar::LinkAttr">:$inter_node);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    int64_t getNumGpus() const { return getNodes() * getGpusPerNode(); }
  }];
}

//===----------------------------------------------------------------------===//
// PlanAttr
//===----------------------------------------------------------------------===//

def Autopar_PlanAttr : Autopar_Attr<"Plan", "plan"> {
  let summary = "the summary of a parallelization plan";
  let description = [{
    Attached to the module as `autopar.plan` by the search: the chosen mesh,
    how many GPUs it uses, the objective, and the predicted figures of one
    training step.

    ```mlir
    #autopar.plan<mesh = @mesh, gpus = 4, objective = "time",
                  step_time = 0.29, samples_per_second = 7050.0,
                  speedup = 3.2, efficiency = 0.8,
                  energy_per_sample = 0.13, memory_per_gpu = 3.1e+09>
    ```
    Times in seconds, energy in joules, memory in bytes.
  }];
  let parameters = (ins
    "::mlir::FlatSymbolRefAttr":$mesh,
    "int64_t":$gpus,
    StringRefParameter<"objective">:$objective,
    Autopar_DoubleParameter:$step_time,
    Autopar_DoubleParameter:$samples_per_second,
    Autopar_DoubleParameter:$speedup,
    Autopar_DoubleParameter:$efficiency,
    Autopar_DoubleParameter:$energy_per_sample,
    Autopar_DoubleParameter:$memory_per_gpu);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

#endif // AUTOPAR_DIALECT_AUTOPARATTRS_TD
