//===- Passes.td - autopar lowerings to runtimes and GPU code ---*- tablegen -*-===//

#ifndef AUTOPAR_CONVERSION_PASSES_TD
#define AUTOPAR_CONVERSION_PASSES_TD

include "mlir/Pass/PassBase.td"

def AllocsToGPU : Pass<"autopar-allocs-to-gpu", "::mlir::ModuleOp"> {
  let summary = "Place host buffers in device memory or managed memory";
  let description = [{
    For the CUDA backend (`autopar-lower-to-cuda`, after kernel outlining):
    every `memref.alloc` outside GPU modules becomes GPU memory. A buffer
    that only the GPU touches (its uses, and those of its views, are kernel
    launches, runtime calls marked `autopar.stream_ordered`, which take
    buffers by address, and its deallocation) comes from the device's
    stream-ordered pool: `gpu.alloc async` on the compute stream. A buffer
    the host touches (host loops, `memref.copy`, a result of the function, an
    argument of another function) is `gpu.alloc host_shared`, CUDA managed
    memory, readable by both. Every `memref.dealloc` becomes a call to
    `autopar_cuda_free` (stream-ordered: the runtime returns pool memory to
    the pool on the compute stream and frees managed memory once the stream
    is done with it). Constants (`memref.get_global`), which live in host
    memory, are copied into managed memory where they are taken and freed
    at the function's end.
  }];
  let dependentDialects = ["::mlir::gpu::GPUDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::func::FuncDialect",
                           "::mlir::memref::MemRefDialect"];
}

def CopiesToKernels : Pass<"autopar-copies-to-kernels", "::mlir::ModuleOp"> {
  let summary = "Turn host buffer copies into linalg copies (GPU kernels)";
  let description = [{
    For the CUDA backend, before linalg becomes parallel loops: every
    `memref.copy` outside GPU modules whose source is not a host constant
    (`memref.get_global`, or a view of one) becomes `linalg.copy`, so that
    it runs as a kernel in stream order and its buffers can live in device
    memory (a `memref.copy` is a host `memcpy`).
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect"];
}

def HostComputeToKernels : Pass<"autopar-host-compute-to-kernels",
                                "::mlir::ModuleOp"> {
  let summary = "Run the host's scalar compute on buffers as one-thread "
                "kernels";
  let description = [{
    For the CUDA backend, after parallel loops are tiled and before they
    are mapped to the GPU: each run of consecutive operations of a
    function's body, or of a block of its host control flow (a pipeline
    stage's case of an `scf.index_switch`, a loop body), that only load,
    store and compute on scalars (arith, math,
    and `scf.for`/`scf.if` of them; constants may sit in between) and
    store at least once becomes a one-iteration block and thread loop
    nest, so a kernel of one thread. What linalg leaves without parallel
    loops (the final sum of a loss's partials, a 0-d optimizer update
    such as Adam's bias corrections) then runs in stream order, its
    buffers can live in device memory, and the host no longer waits for
    the GPU to do it. A run whose values are used after it stays on the
    host. The functions named in `functions` (a reference kept on the
    host) are left alone.
  }];
  let options = [ListOption<"functions", "functions", "std::string",
                            "Names of the functions to leave on the host">];
  let dependentDialects = ["::mlir::scf::SCFDialect",
                           "::mlir::arith::ArithDialect"];
}

def OrderOnStream : Pass<"autopar-order-on-stream", "::mlir::ModuleOp"> {
  let summary = "Run kernel launches asynchronously on the compute stream; "
                "synchronise the host only where it touches buffers";
  let description = [{
    For the CUDA backend, after `autopar-allocs-to-gpu`: every kernel launch
    in host code becomes `gpu.launch_func async` on the function's compute
    stream (one `gpu.wait async` at the function's entry: the runtime has
    one compute stream, in-order, so the tokens carry no ordering of their
    own), so the host does not wait for it. cuBLAS, cuDNN and NCCL calls
    (runtime functions marked `autopar.stream_ordered`) are enqueued on the
    same stream. A call to `autopar_cuda_synchronize` is inserted before
    each host operation that reads or writes memory (a load, a store, a
    host copy, a call to any other external function, the return of a
    public function) when GPU work may still be in flight: after a launch,
    a stream-ordered call or a call into another function, and at a
    function's or a loop body's entry. A loop nest that touches memory and
    launches nothing is synchronised once, before it.
  }];
  let dependentDialects = ["::mlir::gpu::GPUDialect",
                           "::mlir::func::FuncDialect"];
}

def CaptureGraphs : Pass<"autopar-capture-graphs", "::mlir::ModuleOp"> {
  let summary = "Replay the named functions' GPU work as CUDA graphs";
  let description = [{
    For the CUDA backend, after `autopar-order-on-stream`: each function
    named in `functions` whose host code only enqueues work on the compute
    stream (kernel launches, stream-ordered runtime calls, allocations from
    the stream-ordered pool and their frees; the NCCL entry points are
    stream-ordered, their communicators' preparation doing nothing after
    its first call): no host access to a buffer, no
    wait for the GPU, no managed allocation, no call to another function of
    the module) and returns nothing (its results written over its
    arguments) is wrapped so that the CUDA runtime captures its work into a
    graph and replays it: the function passes its buffers' addresses
    (`autopar_cuda_graph_key`, the graph's key), asks
    `autopar_cuda_graph_begin` whether to run (the key's first call runs
    as is, its second is captured) or to skip its host code (the graph was
    launched), and runs `autopar_cuda_graph_end` after its work. A step of
    hundreds of kernels then costs one launch from the host. A named
    function that cannot be captured keeps running as is, with a warning
    that says why; a name that is not a function of the module is an error.
  }];
  let options = [ListOption<"functions", "functions", "std::string",
                            "Names of the functions to replay as graphs">];
  let dependentDialects = ["::mlir::scf::SCFDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::LLVM::LLVMDialect"];
}

def AttentionToCUDNN : Pass<"autopar-attention-to-cudnn", "::mlir::ModuleOp"> {
  let summary = "Run 16-bit attentions and their gradients as cuDNN's fused "
                "flash attention";
  let description = [{
    For the CUDA backend, on tensors (before autopar-prepare-lowering
    decomposes attentions): every `autopar.attention` and
    `autopar.attention_grad` that cuDNN's fused attention computes becomes
    an `autopar.library_call` of `autopar_cuda_attention` or
    `autopar_cuda_attention_grad` (lib/Runtime/CUDAAttention.cpp): those
    `getFusedAttentionForm` (AutoparOps.h) accepts, the rule the cost model
    prices by: query, key, value and output all f16 or all bf16, the lse
    f32, head dimensions multiples of 8 up to 256, static shapes, no mask
    or the causal one (key j masked where j > i, j > i + r for a device's
    share of the rows, r its first row computed outside the mask and
    passed to the call as a run-time scalar, or j > i mod S for query
    rows stacked S at a time, by -inf or the lowest finite value, or
    added to the score where that value is at most -1e30, no mask
    inputs), and for the gradient a zero lse adjoint.
    The scores never reach memory: one call forward, one backward, instead
    of the decomposition's products, row kernels and score-sized buffers.
    Stacked rows are grouped-query attention: the g query heads sharing a
    key-value head, which cuDNN computes as g heads reading that one.

    The heads need not be transposed for it: where an operand is a
    `collapse_shape` of the heads' `transpose` of an `expand_shape` (a
    [b, s, h * d] projection viewed as [b * h, s, d]), cuDNN reads the
    projection itself with the strides of that view, and where a result's
    only use is the inverse chain, cuDNN writes the [b, s, h, d] layout
    that chain makes (other users get the transpose). The key, which the
    attention takes as [b * h, d, s], is read as [b, h, s, d] the same way
    (or transposed first when it is not such a view); dK is written so.
    A stacked query is read the same way from its [b, h_kv, g, S, d] view
    where h_kv and g merge into one head dimension.
    Functions in `host-functions` are left alone (they run on the CPU).
  }];
  let options = [
    ListOption<"hostFunctions", "host-functions", "std::string",
               "Functions that run on the host CPU">,
  ];
  let dependentDialects = ["::mlir::linalg::LinalgDialect",
                           "::mlir::tensor::TensorDialect",
                           "::mlir::autopar::AutoparDialect"];
}

def LowerLibraryCalls : Pass<"autopar-lower-library-calls",
                             "::mlir::ModuleOp"> {
  let summary = "Bufferized autopar.library_call ops as calls of their "
                "runtime functions";
  let description = [{
    After bufferization: each `autopar.library_call` on buffers becomes a
    `func.call` of its callee (declared private, marked
    `autopar.stream_ordered` where the op is) with the buffers' addresses
    (i64: inputs, then outputs), then its values as constants of their
    types and then its run-time scalars as i64; the call records that it writes the outputs
    (`autopar.writes`). A library call still on tensors is an error.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
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
    alike. Others are left to the generated kernels. What cuBLASLt can do
    after a product joins its call as an epilogue
    (`autopar_cuda_gemm_epilogue`: a bias, a residual, ReLU or tanh-GELU;
    `autopar_cuda_gemm_gelu_aux`: a training step's GELU, its input kept;
    `autopar_cuda_gemm_dgelu`: the GELU's backward and its bias's gradient,
    DGELU_BGRAD; `autopar_cuda_gemm_relu_aux` and `autopar_cuda_gemm_drelu`:
    a training step's ReLU with a bitmask kept, and its backward,
    RELU_AUX_BIAS and DRELU_BGRAD), as does a 16-bit product's rounding
    (docs/cuda.md).
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
    For the CUDA backend: every structured op on contiguous buffers that
    computes a 2-D NCHW convolution (input [n, c, h, w], filter
    [f, c, kh, kw], output [n, f, oh, ow], any stride and dilation), its
    filter gradient, or its data gradient in the form autopar-training
    writes it (the output gradient dilated and padded, read through a
    flipped window), becomes a call to `autopar_cuda_conv2d` (cuDNN's
    forward, backward-filter or backward-data convolution, accumulating into
    the result as linalg does). Recognized from indexing maps and a mul-add
    body, so named and generic convolutions alike; others are left to the
    generated kernels. The three buffers are all f32 (FMA math), all f16 or
    all bf16 (tensor cores, f32 accumulation); 16-bit inputs accumulated
    into an f32 result (the mixed-precision step's form, widening in its
    body) are first widened into f32 buffers of their own (a kernel each,
    exact), then convolved in f32 (cuDNN's legacy API has one data type for
    all three) with tensor-op math: TF32 tensor cores, whose operands keep
    f16's and bf16's significands whole, so the products are exact.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::func::FuncDialect",
                           "::mlir::linalg::LinalgDialect",
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

def PrepareLowering : Pass<"autopar-prepare-lowering"> {
  let summary = "Rewrite what bufferization and loop lowering cannot take";
  let description = [{
    Both backends run it first, on tensors, after autopar's analyses and
    transformations have seen the program as written:

    * ops implementing `linalg::AggregatedOpInterface` (`linalg.softmax`
      among others), which have no loop lowering of their own, are replaced
      by the structured ops their `decomposeOperation` builds (for softmax:
      max, subtract and exp, sum, divide), so that the planner and
      autopar-training see one op (one sharding rule, one reverse-mode
      rule) and code generation sees generics;
    * side-effect-free ops whose tensor results all have no elements become
      `tensor.empty` (there is nothing to compute, and upstream's
      bufferization of some of them, `tensor.concat` for one, writes
      subviews that start out of bounds in the empty dimension);
    * `autopar.scatter_add` becomes an `scf.forall` over the elements of
      a destination row, each running an `scf.for` over the positions
      that adds the position's update element into the row its index
      names (a column of the destination, carried by the loop, which
      bufferizes in place). Every destination element takes its updates in
      position order, as one sequential loop would; on the GPU it is one
      kernel that reads the indices itself (it was a host loop reading
      them, one launch per position);
    * a `linalg.generic`'s inputs that are splat constants (torch-mlir's
      0-d tensors: a causal mask's fill value) are read as scalar
      constants in its body: bufferized, each was a buffer copied from a
      host global, managed memory on the CUDA backend, which kept a
      PyTorch export's step out of a CUDA graph.

    An `autopar.attention` or `autopar.attention_grad` whose score-sized
    buffers ([B, I, J]) would exceed `attention-block-bytes` is decomposed
    inside an `scf.for` over blocks of its batch (the largest divisor of B
    that fits, at least one batch): the same chain on each block's slices,
    inserted into the outs the loop carries. Exact (batches are
    independent); the scores, probabilities and their gradients then hold
    one block at a time. When even one batch exceeds it (long sequences),
    an `scf.for` over the batches runs one over blocks of query rows (the
    largest divisor of I that fits, at least one row): the operands indexed
    by row are sliced by batch and rows, keys and values by batch; the
    gradient's dK and dV, sums over the rows, are zeroed per batch and
    each row block's added. Exact up to the order of those sums.

    An aggregate that cannot be decomposed is an error at the op.
  }];
  let options = [
    Option<"attentionBlockBytes", "attention-block-bytes", "int64_t",
           /*default=*/"::mlir::autopar::kAttentionBlockBytes",
           "Bytes one score-sized buffer of an attention may take (0: no "
           "limit, the whole batch at once)">
  ];
  let dependentDialects = ["::mlir::linalg::LinalgDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::tensor::TensorDialect"];
}

def ReductionsInner : Pass<"autopar-reductions-inner"> {
  let summary = "Put every generic op's parallel loops outside its "
                "reduction loops";
  let description = [{
    Both backends, on buffers, before linalg becomes parallel loops: a
    `linalg.generic` whose iterators put a reduction before a parallel loop
    (a bias gradient summed over the batch, `[reduction, parallel]`) is
    interchanged so that its parallel loops come first, in their order,
    then its reductions, in theirs. `convert-linalg-to-parallel-loops` makes
    the outer parallel loops one `scf.parallel`; before, a leading reduction
    became a host `scf.for` around it, on the GPU one kernel launch per
    reduced index (a GPT bias gradient: one per token). Each result element
    still accumulates over the reduction in the same order: the values are
    unchanged.

    A generic with no parallel loop that adds values into one float (a
    loss: `out + x` into a rank-0 buffer) had no parallel loop to map: the
    host summed the whole input (a GPT loss: batch x sequence x
    vocabulary elements, read from managed memory). Its leading loops
    become parallel loops over partial sums in a buffer of their own (at
    least 1024 partials, or all loops but the last), a kernel, and a second
    generic adds the partials to the output (on the host, a few thousand
    values). With `gpu-threads`, the next loop is also cut into chunks
    (as many as fit in that many threads, each combining `min-chunk`
    elements or more), and those partials are summed once more the same
    way without chunks (a GPT-2 loss: 8192 partials of 50257 elements, 21
    ms on an H200; now 237568 of 1733, then 8192 of 29). While the last
    level would leave one GPU thread more than 256 partials to add, they
    are summed once more in chunks (GPT-2: 512 of 16, then 32 of 16). The
    total is then summed in another order: it rounds differently.

    With `gpu-threads` (the CUDA backend), a reduction whose threads (one
    per parallel iteration) would each combine a long chain of elements (a
    convolution's bias gradient: 64 channels, each summing batch x height x
    width elements, 171 ms on an H200) is split the same way when that
    halves its time by this measure: chain length times the waves of
    `gpu-threads` threads the parallel iterations need, for the split's two
    generics together. Its outer reduction loops become parallel loops
    whole, the next is cut into chunks (a divisor of its range; the inputs
    it indexes are expanded), each partial combining `min-chunk` elements
    or more. Chunks are interleaved (chunk c of C combines elements c,
    c + C, c + 2C, ...) and the chunk is the innermost parallel loop, so
    that neighbouring GPU threads read neighbouring elements of a row;
    where a parallel loop reads the largest input's contiguous dimension
    instead (a bias gradient's columns), that loop is the innermost and
    the partials' last dimension.
    Every output must be combined by one associative op (add, mul, max,
    min) with a neutral element, which the partials start from; a second
    generic per output combines its partials into it in a fixed order
    (deterministic; sums round differently).
  }];
  let options = [
    Option<"gpuThreads", "gpu-threads", "int64_t", "0",
           "Threads the GPU runs at once; reductions are split to use them "
           "(0: only sums into one value are split)">,
    Option<"minChunk", "min-chunk", "int64_t",
           "::mlir::autopar::kMinReductionChunk",
           "Elements each partial of a split reduction combines, at least">,
    Option<"report", "report", "bool", "false",
           "A remark at each reduction with parallel loops: its threads "
           "and chain length, and those of its split (bench/"
           "reduction_chains.py)">,
  ];
  let dependentDialects = ["::mlir::linalg::LinalgDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::memref::MemRefDialect"];
}

def FuseElementwise : Pass<"autopar-fuse-elementwise"> {
  let summary = "Run elementwise producers inside their users' kernels";
  let description = [{
    Fuses every op that the fusion rule (include/autopar/Analysis/Fusion.h)
    says runs inside its users: a `linalg.generic` with parallel loops only
    and one result, whose every use (at most four) is an input of a generic
    in the same block that upstream's elementwise fusion accepts and that
    is neither a contraction nor a convolution. Each user gets the
    producer's body and reads the producer's inputs (upstream's
    `linalg::fuseElementwiseOps`); the producer is erased, so its result is
    never written and its kernel never launched. Chains fuse to the end
    (a scale, a subtraction and an exponential into the reduction that sums
    them). A 2-D transpose read only by 2-D contractions (PyTorch's linear
    layers: the weight transposed, then the matmul) goes too: each reads
    its input through the composed map (cuBLAS's transA / transB); so does
    a 2-D transpose of a contraction's one-use result (a training step's
    weight gradient), which the contraction writes transposed. The
    workload analysis prices the same ops the same way, so the cost
    model's kernels are the ones built.

    Both backends run it after `autopar-prepare-lowering`, on tensors
    (`autopar-lower-to-cpu` and `autopar-lower-to-cuda`, option `fuse`,
    default true).
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect"];
}

def FuseAttention : Pass<"autopar-fuse-attention"> {
  let summary = "Form autopar.attention from the linalg chain it stands for";
  let description = [{
    Finds, from the ops' structure alone, the chain of scaled dot-product
    attention in linalg on tensors and replaces it with one
    `autopar.attention`:

      1. scores: a `linalg.batch_matmul` of Q [B, I, D] and K' [B, D, J]
         into a zero fill;
      2. optionally scales and a mask: elementwise `linalg.generic`s of
         the scores (each their only user) whose bodies multiply or divide
         by a constant (or by an input holding a splat constant), and
         select a constant where a predicate of the indices holds or add a
         mask select(p, 0, C) (C <= -1e30 or |C| < 2^20) that a tensor
         computed from indices, constants and data without gradient holds;
      3. a softmax over J: a max reduction from -inf or the lowest finite
         float (a generic, whose further results such as an argmax are
         unused, or a `linalg.reduce`), `exp(x - max)` (one generic or a
         subtraction and an exponential), a sum reduction from 0 and the
         division by the sum (or the product with its reciprocal, as TOSA
         exports lower);
      4. context: a `linalg.batch_matmul` of the probabilities and V
         [B, J, E] into a zero fill;

    every intermediate used only inside the chain. Between the products
    the chain may run over [b..., I, J] with the b's multiplying to B
    (PyTorch exports reshape the scores to [batch, heads, rows, keys]),
    reshapes in between, and keep the rows as [b..., I, 1]. A mask tensor
    is rebuilt at the region's indices from the ops computing it (iotas,
    comparisons, selects, broadcasts, reshapes, splat constants), folded,
    comparisons decided from the indices' ranges; a mask that never masks
    is dropped. What is data defined before the scores (an integer
    tensor, such as a padding mask passed as input or a constant that is
    not a splat, or float data whose role is input or state) the region
    reads with `tensor.extract` from the op's mask inputs; other float data
    (a learned bias, which would need a gradient) stays. An added mask
    stays additive (`additive`: the gradient passes it). The op decomposes
    back into the 3-D chain when lowered; what changes is the training step: the backward recomputes the
    probabilities from Q, K' and the row log-sum-exp the op returns, so the
    step keeps B x I values per attention instead of B x I x J. The
    chain's ops, and the mask's once no attention reads it, are erased. A
    chain the rule does not match stays as it is (a bias given as float
    data, a chain whose probabilities have other users). `report=1` prints one
    remark per fused attention, and one at each scores product that a
    softmax seems to read (a row maximum within a few reshapes or
    elementwise ops) saying which part did not match. Without `report=1`,
    near misses are one warning at the first (their count and its reason).
  }];
  let options = [Option<"report", "report", "bool", "false",
                        "emit a remark at each attention formed, and at "
                        "each near miss with the reason">];
  let dependentDialects = ["::mlir::autopar::AutoparDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::math::MathDialect"];
}

def FuseParallelLoops : Pass<"autopar-fuse-parallel-loops"> {
  let summary = "Fuse neighbouring parallel loop nests, vertically and "
                "horizontally";
  let description = [{
    Both backends, once every linalg op is an `scf.parallel` nest (on the
    GPU a kernel each; `buildParallelLoopPasses`, option `fuse`).

    Vertically, neighbouring nests over the same iteration space whose
    accesses line up become one (upstream's `naivelyFuseParallelOps`: a
    fill and the reduction that accumulates into it, an elementwise op and
    the next one reading its result at the same index). The buffers
    bufferization allocates and frees between two such nests would stop
    it: the allocations move before the first nest and the frees after the
    second.

    Horizontally, neighbouring nests with constant bounds that touch
    disjoint buffers (by root buffer: two allocations never alias, two
    arguments may) become one one-dimensional nest over their iteration
    spaces one after another. Each nest's part starts at a multiple of
    `align` (the GPU backend passes its threads per block, so that a block
    runs one part), a binary search over the parts' starts selects the
    body, and the index is split back into the nest's own induction
    variables (last one fastest). A group holds at most 64 nests and 4000
    bytes of kernel arguments (include/autopar/Analysis/Fusion.h; the cost
    model prices the optimizer update by the same rule). The optimizer's
    update is the case it is made for: one kernel updates many parameters
    and their states.
  }];
  let options = [
    Option<"horizontal", "horizontal", "bool", /*default=*/"true",
           "Also merge independent neighbouring nests of any bounds">,
    Option<"align", "align", "int64_t", /*default=*/"1",
           "Each merged nest's part starts at a multiple of this">,
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::scf::SCFDialect"];
}

def SimplifyDeallocations
    : Pass<"autopar-simplify-deallocations", "func::FuncOp"> {
  let summary = "Upstream's dealloc simplification, except in functions "
                "that keep run-time alias checks";
  let description = [{
    Runs upstream's `buffer-deallocation-simplification` on the function it
    is given unless the function carries `autopar.runtime_deallocation`.
    The simplification proves, at compile time, which of a
    `bufferization.dealloc`'s buffers cannot alias the values it retains;
    its patterns compare operands pairwise, and each split of a dealloc
    starts the comparisons again, so a dealloc with N buffers whose origin
    it cannot tell apart from N retained values costs on the order of N^3
    queries. autopar-run's driver has such a dealloc: its loop over the
    training steps frees the N buffers of the state it carries (GPT-2
    small: 136) while retaining the N a step returned, all of unknown
    origin to the analysis. GPT-2's driver took 500 s to simplify. The
    driver is marked; its deallocations are lowered with the run-time
    checks (`bufferization-lower-deallocations`' helper: about N x 2N
    pointer comparisons a step on the host).
  }];
  let dependentDialects = ["::mlir::bufferization::BufferizationDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::memref::MemRefDialect"];
}

def FreeBuffersEarly : Pass<"autopar-free-buffers-early"> {
  let summary = "Free each buffer right after its last use";
  let description = [{
    Upstream's ownership-based deallocation frees a buffer at the end of
    the block that allocates it, so a training step holds every buffer it
    ever allocates until it returns: its peak is the sum of its buffers,
    not the most that is live at once. This pass moves each
    `memref.dealloc` of an allocation of its own block up to just after
    the last op of that block that uses the buffer or any alias of it
    (views, casts, values that loops and branches carry:
    `BufferViewFlowAnalysis`), a use inside a region counting as a use by
    the op in the block that holds it. A buffer with a use it cannot place
    (an alias used outside the block, an address taken as an integer for a
    library call) keeps its deallocation.

    Both backends run it right after bufferization, before any lowering
    turns buffers into addresses; the frees are synchronous (every kernel,
    library call and collective has completed when the host moves on).
  }];
}

def UpdateInPlace : Pass<"autopar-update-in-place", "::mlir::ModuleOp"> {
  let summary = "Compute a private function's updates of its arguments "
                "into those arguments";
  let description = [{
    Before bufferization: in every private function, each result that
    replaces an argument (`autopar.updates`, the new parameters and
    optimizer state of a training step) and is made by a linalg op writing
    into a `tensor.empty` of the argument's (static) type, which its body
    does not read, gets the argument as that op's destination, and the
    argument is marked `autopar.in_place`: bufferization gives it a buffer
    no other argument shares at every call, so the buffer passes may tell
    it apart from the other arguments (Buffers.h: the optimizer's updates
    still merge into one kernel). One-shot bufferization then writes
    the update over the argument's buffer where nothing reads the argument
    afterwards (copying where something does), and
    drop-equivalent-buffer-results removes the result: the caller's buffer
    holds the new value. A step so compiled holds one copy of its state, as
    PyTorch's in-place optimizers do; autopar-run makes its step functions
    private for this. Public functions keep their calling convention. Both
    backends run it before bufferization.
  }];
  let dependentDialects = ["::mlir::tensor::TensorDialect"];
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

def CollapseParallelLoops : Pass<"autopar-collapse-parallel-loops"> {
  let summary = "Make every outermost parallel loop nest one-dimensional";
  let description = [{
    The CUDA backend, before tiling: every outermost `scf.parallel` of more
    than one dimension (and no reductions) becomes one loop over the
    product of its trip counts (upstream's `collapseParallelLoops`; the
    body recovers each induction variable, the last one fastest). Tiling
    by the block size then gives every kernel full blocks of threads along
    `x`, consecutive threads on consecutive elements of the innermost
    dimension (coalesced loads and stores), and as many blocks as the work
    needs: before, a nest's first two dimensions were tiled 16 x 16 and
    mapped outermost-first, so neighbouring threads read addresses a row
    apart, a nest of one dimension ran 16 threads a block, and a leading
    dimension shorter than 16 left threads idle.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::scf::SCFDialect"];
}

def GuardAsserts : Pass<"autopar-guard-asserts", "::mlir::func::FuncOp"> {
  let summary = "Asserts inside parallel loops as branches, so that the "
                "loops map to the GPU";
  let description = [{
    The CUDA backend, after tiling, before `convert-parallel-loops-to-gpu`:
    each `cf.assert %ok, "message"` inside an `scf.parallel` becomes
    `scf.if` (not %ok) around `cf.assert false, "message"`: the same
    check. Upstream's conversion leaves a loop with a bare `cf.assert` in
    its body on the host (torch-mlir's gathers check every index, so every
    embedding of a PyTorch export and its gradient ran as host loops on
    managed memory, the host waiting for the GPU before each, and the step
    could not be captured in a CUDA graph); in a branch it maps, and the
    kernel's assert lowers to `__assertfail` (a device-side assert, as
    PyTorch's gathers have: a bad index stops the kernel, and the runtime
    reports the launch's error).
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::scf::SCFDialect"];
}

def RowKernels : Pass<"autopar-row-kernels", "::mlir::func::FuncOp"> {
  let summary = "A block of GPU threads per row: a row's reductions and the "
                "elementwise ops that read them as one kernel";
  let description = [{
    The CUDA backend, on buffers, before linalg becomes parallel loops. A
    `linalg.generic` whose leading loops are parallel and the rest
    reductions (a softmax's row maximum and sum, a LayerNorm's mean and
    variance), each output indexed by the parallel loops alone and
    combined by one associative op with a neutral element, whose reduced
    rows are long (`min-length`) and contiguous in its largest input, and
    whose rows are many (`min-rows`: fewer would leave SMs idle, which a
    split reduction uses better), becomes a `gpu.launch` with a block per
    row: the block's threads read the row in turn (thread t elements t,
    t + T, t + 2T, ...: neighbouring threads read neighbouring elements),
    each combining its own partial; each warp combines its partials by
    `gpu.shuffle xor`, lane 0 of each puts the warp's value in shared
    memory, and after a `gpu.barrier` the warps' values are combined by
    shuffles again (bf16 partials, which shuffles do not take, by a tree
    in shared memory); thread 0 writes the row's value. The generics that follow it over the same rows (the
    same leading loop ranges) and read its results join the kernel, after
    a barrier: an elementwise op over the row (softmax's division, a
    LayerNorm's normalisation) or another row reduction (the variance
    after the mean). A softmax's max, sum and division run as one kernel,
    each reading the row from cache after the first.

    Only buffers the function allocates, accessed by every member at its
    own row (the leading loops in their order), are written: a block
    never reads another's row. The kernel runs where its first member
    was: allocations, constants and fills between the members move before
    it; other linalg ops between them (a LayerNorm gradient's column sums)
    stay, now after the later members, which must then not write a buffer
    such an op touches nor touch one it writes; anything else ends the
    kernel. Partials combine in another order than the loops': sums round
    differently.
  }];
  let options = [
    Option<"minRows", "min-rows", "int64_t",
           "::mlir::autopar::kRowKernelMinRows",
           "Rows (blocks) a reduction needs, at least, to become a row "
           "kernel">,
    Option<"minLength", "min-length", "int64_t",
           "::mlir::autopar::kRowKernelMinLength",
           "Elements each row needs, at least">,
    Option<"maxThreads", "max-threads", "int64_t", "1024",
           "Threads a row's block has, at most (a power of two)">,
    Option<"report", "report", "bool", "false",
           "A remark at each row kernel: its rows, their length, the "
           "block's threads and the ops it runs">,
  ];
  let dependentDialects = ["::mlir::gpu::GPUDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::affine::AffineDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::memref::MemRefDialect"];
}

def EmulateGpuKernels : Pass<"autopar-emulate-gpu-kernels", "::mlir::ModuleOp"> {
  let summary = "Run the outlined GPU kernels on the host, for checking the "
                "CUDA backend without a GPU";
  let description = [{
    Each kernel of a `gpu.module` becomes a host function
    `@__autopar_emulated_<module>_<kernel>` that runs one block: it takes
    the kernel's arguments and then its block index and the block and grid
    sizes (x, y, z each), and runs the kernel's body in loops over the
    block's threads; each `gpu.launch_func` becomes loops over the grid
    that call it, in program order (the host code's stream order is then
    the order the host runs it in); the GPU modules go. The kernels' bodies
    are those the GPU would compile: only what makes a kernel a GPU
    program (the index operations) is replaced. A body with `gpu.barrier`s
    and `gpu.shuffle`s (autopar-row-kernels') is cut at each into parts,
    each run for all the block's threads before the next; shared memory
    (workgroup attributions) is a host buffer per block; a value a part
    uses from an earlier one is recomputed there when it has no side
    effects, else (a scalar) kept in a host buffer of one value per
    thread; an xor shuffle reads its partner's value from that buffer. A
    barrier or shuffle inside a loop or branch, other shuffle modes,
    non-scalar values across parts and private memory cannot be run so:
    an error names the kernel. A global constructor calling `autopar_cuda_emulated_load` stands
    for the real path's, which load the kernels' modules: the emulated
    runtime refuses to start if it did not run. autopar-run --emulate-gpu
    runs the result with the CUDA runtime built against host
    implementations of the driver, cuBLAS(Lt), cuDNN and NCCL
    (docs/cuda.md, "Emulation on the CPU").
  }];
  let dependentDialects = ["::mlir::func::FuncDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::gpu::GPUDialect",
                           "::mlir::LLVM::LLVMDialect"];
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
    through NCCL on GPU buffers; every entry point is marked
    `autopar.stream_ordered` (enqueued on the compute stream). Run before
    `autopar-allocs-to-gpu`, so that the contiguous copies it makes of
    strided buffers live in GPU memory too.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::func::FuncDialect",
                           "::mlir::memref::MemRefDialect"];
}

#endif // AUTOPAR_CONVERSION_PASSES_TD
