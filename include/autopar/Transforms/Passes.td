//===- Passes.td - autopar passes -------------------------*- tablegen -*-===//

#ifndef AUTOPAR_TRANSFORMS_PASSES_TD
#define AUTOPAR_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def SetTarget : Pass<"autopar-set-target", "::mlir::ModuleOp"> {
  let summary = "Attach a target-machine description to the module";
  let description = [{
    Resolves `target=` (a preset name such as `titanxp-pcie-4`, or a JSON
    file, see docs/targets.md) and attaches
    the resulting `#autopar.target` to the module as `autopar.target`, where
    the analyses and the search read it. A target already on the module is
    kept unless `target=` is given explicitly.
  }];
  let options = [
    Option<"target", "target", "std::string", /*default=*/"\"\"",
           "Target machine: a preset name or a .json file (default: "
           "titanxp-pcie-4)">
  ];
  let dependentDialects = ["::mlir::autopar::AutoparDialect"];
}

def Analyze : Pass<"autopar-analyze", "::mlir::ModuleOp"> {
  let summary = "Report each op's workload and its cost on one GPU of the target";
  let description = [{
    Runs the workload analysis (FLOPs, bytes, parameters, activations kept
    for the backward pass, backward FLOPs, gradients to synchronise; derived
    from linalg indexing maps, loop bounds and scalar bodies) and the cost
    model (roofline time on one GPU of the target, memory, predicted
    single-GPU training step) and writes a report: a text table, or JSON
    when `report` ends in `.json` (schema in docs/reports.md). The IR is
    not changed. Ops the analysis does not understand get a warning and a
    conservative estimate.
  }];
  let options = [
    Option<"target", "target", "std::string", /*default=*/"\"\"",
           "Target machine: a preset name or a .json file (default: the "
           "module's autopar.target, else titanxp-pcie-4)">,
    Option<"report", "report", "std::string", /*default=*/"\"-\"",
           "Where to write the report: a file (JSON when it ends in .json), "
           "'-' for stdout, or empty for none">,
    Option<"optimizer", "optimizer", "std::string", /*default=*/"\"momentum\"",
           "Optimizer whose state and update the step includes: sgd, "
           "momentum or adam">
  ];
  let dependentDialects = ["::mlir::autopar::AutoparDialect"];
}

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
           "Pin the mesh shape, e.g. 4 or 2x4">,
    Option<"optimizer", "optimizer", "std::string", /*default=*/"\"momentum\"",
           "Optimizer of the training step: sgd, momentum or adam">,
    Option<"report", "report", "std::string", /*default=*/"\"-\"",
           "Where to write the plan report: a file (JSON when it ends in "
           ".json), '-' for stdout, or empty for none">,
    Option<"trace", "trace", "std::string", /*default=*/"\"\"",
           "Write the predicted timeline per GPU as Chrome-trace JSON here">,
    Option<"exhaustive", "exhaustive", "bool", /*default=*/"false",
           "Enumerate every strategy combination (tiny graphs only)">,
    Option<"parallelism", "parallelism", "std::string", /*default=*/"\"hybrid\"",
           "hybrid (any loop on any mesh axis), data (the WAP paper's "
           "space: batch split or replication only), tensor (forced model "
           "parallelism: every op that can be is split along a loop other "
           "than its batch loop) or data-tensor (forced hybrid: batch "
           "loops on the first mesh axis, other loops on the others)">
  ];
  let dependentDialects = ["::mlir::autopar::AutoparDialect"];
}

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
    argument `[B]`; `mse` adds a label argument of the result's type (mean
    squared error over all elements).

    Reverse-mode rules come from `ReverseModeOpInterface`
    (lib/Autodiff/): one generic rule for linalg structured ops with
    projected-permutation maps (elementwise, broadcasts, reductions,
    contractions), by differentiating the scalar body; reshapes. An op
    without a rule is an error naming the op. Forward ops are tagged
    `autopar.layer = N` and every backward op `autopar.grad_of = N` of the
    forward op it differentiates.
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
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
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
    Option<"report", "report", "std::string", /*default=*/"\"-\"",
           "Where to write the report (\"-\": stdout; *.json: JSON)">,
  ];
}

def GroupCollectives : Pass<"autopar-group-collectives",
                            "::mlir::func::FuncOp"> {
  let summary = "Pack independent collectives into one buffer";
  let description = [{
    On partitioned functions (tensor form): collectives of one group (same
    kind, mesh, axes, reduction and element type) that do not depend on
    one another become one collective on a packed buffer, emitted just
    before the first op that reads one of them, as data-parallel trainers
    bucket gradients: one latency instead of many, the same values.
    all_reduces are packed flat; reduce_scatters and all_gathers along
    dimension 0 as [devices, n] blocks side by side (`tensor.expand_shape`,
    `tensor.insert_slice`, `tensor.extract_slice`), so each device's block
    stays its own; those along other dimensions are left alone. With
    `max-bytes` > 0, a group holds at most that many bytes.
  }];
  let options = [
    Option<"maxBytes", "max-bytes", "int64_t", /*default=*/"0",
           "Largest packed buffer in bytes (0: no limit)">,
  ];
  let dependentDialects = ["::mlir::tensor::TensorDialect"];
}

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

def AllocsToGPU : Pass<"autopar-allocs-to-gpu", "::mlir::ModuleOp"> {
  let summary = "Allocate host buffers in memory the GPU can address";
  let description = [{
    For the CUDA backend (`autopar-lower-to-cuda`): every `memref.alloc`
    outside GPU modules becomes `gpu.alloc host_shared` (CUDA managed
    memory), so that the host code and the kernels it launches share every
    buffer, and every `memref.dealloc` a call to `autopar_cuda_free` (the
    runtime frees it; gpu-to-llvm lowers only asynchronous `gpu.dealloc`).
    Constants (`memref.get_global`), which live in host memory, are copied
    into managed memory where they are taken and freed at the function's
    end. Collectives, which have no CUDA
    lowering yet, are reported as errors.
  }];
  let dependentDialects = ["::mlir::gpu::GPUDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::func::FuncDialect",
                           "::mlir::memref::MemRefDialect"];
}

def ContractionsToCUBLAS : Pass<"autopar-contractions-to-cublas",
                                "::mlir::ModuleOp"> {
  let summary = "Run bufferized matmul-like contractions through cuBLAS";
  let description = [{
    For the CUDA backend: every structured op on buffers that is a
    contraction (mul-add body) over one m, one n and one k loop and at most
    one outermost batch loop, on contiguous f32 buffers, with the left
    operand stored [m, k] or [k, m], the right one [k, n] or [n, k] and the
    result [m, n] (or [n, m]: the product with the inputs exchanged),
    becomes a call to `autopar_cuda_gemm` (cuBLAS strided
    batched SGEMM, accumulating into the result as linalg does). The
    contractions are recognized from indexing maps, so matmul, batch_matmul,
    their transposed forms and the backward pass's generic contractions
    alike. Others are left to the generated kernels.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::func::FuncDialect",
                           "::mlir::memref::MemRefDialect"];
}

def ConvolutionsToCUDNN : Pass<"autopar-convolutions-to-cudnn",
                               "::mlir::ModuleOp"> {
  let summary = "Run bufferized 2-D convolutions and their gradients "
                "through cuDNN";
  let description = [{
    For the CUDA backend: every structured op on contiguous f32 buffers
    that computes a 2-D NCHW convolution (input [n, c, h, w], filter
    [f, c, kh, kw], output [n, f, oh, ow], any stride and dilation), its
    filter gradient, or its data gradient in the form autopar-training
    writes it (the output gradient dilated and padded, read through a
    flipped window), becomes a call to `autopar_cuda_conv2d` (cuDNN's
    forward, backward-filter or backward-data convolution, accumulating into
    the result as linalg does). Recognized from indexing maps and a mul-add
    body, so named and generic convolutions alike; others are left to the
    generated kernels.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::func::FuncDialect",
                           "::mlir::memref::MemRefDialect"];
}

def StripCompileTimes : Pass<"autopar-strip-compile-times",
                             "::mlir::ModuleOp"> {
  let summary = "Drop compile-time measurements from GPU binaries";
  let description = [{
    `gpu-module-to-binary` records how long each step took in the
    properties of every `#gpu.object` (`LLVMIRToISATimeInMs`,
    `ISAToBinaryTimeInMs`); this pass removes them so that the same input
    gives byte-identical IR.
  }];
}

def StripAnnotations : Pass<"autopar-strip-annotations", "::mlir::ModuleOp"> {
  let summary = "Remove autopar annotations, meshes and the plan";
  let description = [{
    Once a program is lowered, the autopar attributes of functions, their
    arguments and results (shardings, roles, updates, `autopar.spmd`), the
    meshes and the module's plan and target have served their purpose; the
    LLVM lowering does not know them. Collectives and device coordinates,
    which still need their mesh, are errors.
  }];
}

def LowerCollectivesToMPI : Pass<"autopar-lower-collectives-to-mpi",
                                 "::mlir::ModuleOp"> {
  let summary = "Lower bufferized collectives and device coordinates to the "
                "MPI runtime";
  let description = [{
    For the CPU backend: every bufferized autopar collective (`into` form)
    becomes a call to the MPI runtime (`autopar_rt_all_reduce`, ...,
    include/autopar/Runtime/CPURuntime.h) on contiguous buffers, and
    `autopar.device_coord` a call to `autopar_rt_device_coord`; the meshes
    and the module's plan are then removed. Collectives still on tensors, broadcast and permute are reported as errors. The
    autopar annotations of function arguments and results (shardings,
    roles), which describe tensors, are dropped.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::func::FuncDialect",
                           "::mlir::memref::MemRefDialect"];
}

def HostFunctionsToLoops : Pass<"autopar-host-functions-to-loops",
                                "::mlir::ModuleOp"> {
  let summary = "Lower the linalg ops of some functions to sequential loops "
                "on the host";
  let description = [{
    For the CUDA backend: the named functions (bufferized) get the CPU
    backend's lowering of linalg (`convert-linalg-to-loops`), so that the
    GPU passes that follow leave them on the host. `autopar-run
    --backend=cuda` compiles the unsharded reference this way, so that
    `--check` compares the GPU program against the CPU path.
  }];
  let options = [ListOption<"functions", "functions", "std::string",
                            "Names of the functions to keep on the host">];
  let dependentDialects = ["::mlir::scf::SCFDialect",
                           "::mlir::memref::MemRefDialect"];
}

def ProfileOps : Pass<"autopar-profile-ops", "::mlir::ModuleOp"> {
  let summary = "Time every op that does work in some functions";
  let description = [{
    Wraps each structured op, pad, slice insertion and collective at the top
    level of the named functions with `autopar_rt_clock` (before) and
    `autopar_rt_profile(site, start)` (after), the site numbering those ops
    in order. The runtimes' work is synchronous, so the host clock measures
    each op (kernel, library call or collective included); `autopar-run
    --profile` prints the sums per layer next to the cost model's
    prediction.
  }];
  let options = [ListOption<"functions", "functions", "std::string",
                            "Names of the functions to time">];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::func::FuncDialect"];
}

def MergeGpuModules : Pass<"autopar-merge-gpu-modules", "::mlir::ModuleOp"> {
  let summary = "Put every outlined kernel into one GPU module";
  let description = [{
    Kernel outlining makes one `gpu.module` per kernel, and each is then
    compiled on its own (libdevice linked, the NVPTX backend and `ptxas` run
    once per module): a training step with a thousand kernels spends most of
    its compile time there. This pass moves every kernel into one module,
    `@autopar_kernels`, each renamed after the module it came from (unique),
    and points the launches at it; helper symbols that outlining copied into
    several modules are kept once.
  }];
  let dependentDialects = ["::mlir::gpu::GPUDialect"];
}

def LowerCollectivesToNCCL : Pass<"autopar-lower-collectives-to-nccl",
                                  "::mlir::ModuleOp"> {
  let summary = "Lower bufferized collectives and device coordinates to the "
                "NCCL runtime";
  let description = [{
    For the CUDA backend, the same lowering as
    `autopar-lower-collectives-to-mpi` with the CUDA runtime's entry points
    (`autopar_nccl_all_reduce`, ..., `autopar_nccl_device_coord`,
    include/autopar/Runtime/CUDARuntime.h), which run the collectives
    through NCCL on GPU buffers. Run before `autopar-allocs-to-gpu`, so that
    the contiguous copies it makes of strided buffers live in GPU memory too.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::func::FuncDialect",
                           "::mlir::memref::MemRefDialect"];
}

#endif // AUTOPAR_TRANSFORMS_PASSES_TD
