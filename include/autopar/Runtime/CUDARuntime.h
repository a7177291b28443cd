//===- CUDARuntime.h - what CUDA programs from autopar call -----*- C++ -*-===//
//
// libautopar_cuda_runtime: the entry points the host code of
// `autopar-lower-to-cuda` calls. The `mgpu*` functions are the ABI that
// MLIR's gpu-to-llvm lowering and the gpu.binary translation emit (module
// loading, kernel launches, streams, allocation); `autopar_cuda_*` are
// autopar's own. Implemented on the CUDA driver API, on the device this
// process owns (LOCAL_RANK, OMPI_COMM_WORLD_LOCAL_RANK or SLURM_LOCALID
// modulo the device count; device 0 otherwise), in its primary context.
//
// Stream order: kernels, cuBLAS, cuDNN and NCCL calls are enqueued on one
// in-order compute stream (NCCL's started collectives on a communication
// stream, joined back by event) and return without waiting for the GPU;
// the host waits only in autopar_cuda_synchronize, which the lowering calls
// before host code touches a buffer (autopar-order-on-stream). Device
// buffers come from the device's stream-ordered memory pool, host-visible
// ones are managed memory.
//
// Every CUDA call is checked: a failure prints the call, the CUDA error
// and the process's rank, and exits with status 1 (an MPI launcher then
// stops the other ranks). A kernel that fails is reported where the host
// next waits; AUTOPAR_CUDA_BLOCKING=1 waits after every launch and library
// call, so that the failure names the kernel or call.
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_RUNTIME_CUDARUNTIME_H
#define AUTOPAR_RUNTIME_CUDARUNTIME_H

#include <cstddef>
#include <cstdint>

extern "C" {
// Modules and kernels.
void *mgpuModuleLoad(void *data, size_t size);
void *mgpuModuleLoadJIT(void *data, int optLevel);
void mgpuModuleUnload(void *module);
void *mgpuModuleGetFunction(void *module, const char *name);
void mgpuLaunchKernel(void *function, intptr_t gridX, intptr_t gridY,
                      intptr_t gridZ, intptr_t blockX, intptr_t blockY,
                      intptr_t blockZ, int32_t sharedMemBytes, void *stream,
                      void **params, void **extra, size_t paramsCount);
// Streams and events.
void *mgpuStreamCreate();
void mgpuStreamDestroy(void *stream);
void mgpuStreamSynchronize(void *stream);
void mgpuStreamWaitEvent(void *stream, void *event);
void *mgpuEventCreate();
void mgpuEventDestroy(void *event);
void mgpuEventSynchronize(void *event);
void mgpuEventRecord(void *event, void *stream);
// Memory: `isHostShared` gives managed memory (host and device); else
// device memory from the pool, in `stream`'s order (the compute stream's
// when null). Running out is an error naming the bytes asked and held.
void *mgpuMemAlloc(uint64_t bytes, void *stream, bool isHostShared);
void mgpuMemFree(void *ptr, void *stream);
void mgpuMemcpy(void *dst, void *src, size_t bytes, void *stream);
void mgpuMemset32(void *dst, unsigned int value, size_t count, void *stream);
void mgpuMemset16(void *dst, unsigned short value, size_t count, void *stream);
void mgpuSetDefaultDevice(int32_t device);

/// Frees a buffer that `mgpuMemAlloc` returned, by address (the lowering
/// of `memref.dealloc` in host code): pool memory in the compute stream's
/// order; managed memory kept for reuse once an event recorded on the
/// compute stream at the free has completed (the host does not wait; with
/// AUTOPAR_CUDA_BLOCKING=1 it does).
void autopar_cuda_free(int64_t address);
/// autopar_cuda_free of a buffer known to come from the device pool
/// (`gpu.alloc` without host_shared): no driver query.
void autopar_cuda_free_device(int64_t address);
/// autopar_cuda_free of a buffer known to be managed memory (`gpu.alloc
/// host_shared`): no driver query.
void autopar_cuda_free_managed(int64_t address);
/// Waits until the GPU has done everything enqueued so far, watching the
/// NCCL communicators with work in it (an error or the collective timeout,
/// AUTOPAR_COLLECTIVE_TIMEOUT, ends the job with a message naming the
/// collective and the rank).
void autopar_cuda_synchronize();
/// Row-major C[batch][m, n] += A[batch] B[batch] through cuBLAS, A stored
/// [m, k] (or [k, m] with `transA`), B [k, n] (or [n, k] with `transB`);
/// buffers by address (autopar-contractions-to-cublas). Element types (0
/// f32, 1 f16, 2 bf16): A and B `inputType`, C `resultType` (the same or
/// f32); computed in f32 (no TF32), C rounded once. `accumulate` 0: C =
/// A B, its previous contents ignored (beta = 0: the zero fill before the
/// product was dropped).
void autopar_cuda_gemm(int64_t a, int64_t b, int64_t c, int64_t m, int64_t n,
                       int64_t k, int64_t batch, int32_t transA, int32_t transB,
                       int32_t inputType, int32_t resultType,
                       int32_t accumulate);
/// Row-major D[m, n] = act(A B + C + bias[n]) through cuBLASLt (a bias
/// epilogue, none when `bias` is 0; `activation` 0 none, 1 ReLU, 2 GELU in
/// its tanh form); A and
/// B stored as for
/// autopar_cuda_gemm, C and D [m, n] (possibly the same buffer), bias [n],
/// all of `dtype` (0 f32, no TF32; 1 f16 or 2 bf16 on tensor cores),
/// computed in f32 and rounded once into D; `accumulate` 0: C is not read
/// (taken as zeros).
void autopar_cuda_gemm_epilogue(int64_t a, int64_t b, int64_t c, int64_t d,
                                int64_t bias, int64_t m, int64_t n, int64_t k,
                                int32_t transA, int32_t transB,
                                int32_t activation, int32_t dtype,
                                int32_t accumulate);
/// As autopar_cuda_gemm_epilogue with tanh-GELU and a bias, writing the
/// sum before the activation, A B + C + bias, into `aux` too ([m, n], of
/// `dtype`; cuBLASLt's GELU_AUX_BIAS): a training step's backward reads
/// it.
void autopar_cuda_gemm_gelu_aux(int64_t a, int64_t b, int64_t c, int64_t d,
                                int64_t bias, int64_t aux, int64_t m, int64_t n,
                                int64_t k, int32_t transA, int32_t transB,
                                int32_t dtype, int32_t accumulate);
/// D = (A B) * GELU'(aux) ([m, n], of `dtype`; cuBLASLt's DGELU), and
/// with a `biasGradient` buffer D summed over its rows into it
/// (DGELU_BGRAD): a training step's GELU backward.
void autopar_cuda_gemm_dgelu(int64_t a, int64_t b, int64_t d,
                             int64_t biasGradient, int64_t aux, int64_t m,
                             int64_t n, int64_t k, int32_t transA,
                             int32_t transB, int32_t dtype);
/// As autopar_cuda_gemm_epilogue with ReLU (and a bias, or none), writing
/// into `mask` a bit an element for where the sum is positive, each of
/// D's rows padded to 128 bits (cuBLASLt's RELU_AUX_BIAS; Analysis/
/// Fusion.h, getReluMaskBytes): the backward's autopar_cuda_gemm_drelu
/// reads it.
void autopar_cuda_gemm_relu_aux(int64_t a, int64_t b, int64_t c, int64_t d,
                                int64_t bias, int64_t mask, int64_t m,
                                int64_t n, int64_t k, int32_t transA,
                                int32_t transB, int32_t dtype,
                                int32_t accumulate);
/// D = A B where the forward's `mask` is set, else 0 (cuBLASLt's DRELU),
/// and with a `biasGradient` buffer D summed over its rows into it
/// (DRELU_BGRAD): a training step's ReLU backward.
void autopar_cuda_gemm_drelu(int64_t a, int64_t b, int64_t d,
                             int64_t biasGradient, int64_t mask, int64_t m,
                             int64_t n, int64_t k, int32_t transA,
                             int32_t transB, int32_t dtype);
/// What autopar-calibrate measures (autopar_cuda_calibrate).
struct AutoparCalibration {
  char name[256];
  int32_t device;
  uint64_t memoryCapacity;
  /// f32 GEMM through autopar_cuda_gemm, square sizes gemmSizes[i]; and
  /// bf16 (bf16 inputs and result, f32 compute: a bf16 model's products)
  /// at the same sizes.
  int32_t gemmCount;
  int64_t gemmSizes[8];
  double gemmSeconds[8];
  double gemmBf16Seconds[8];
  /// Device-to-device copy of copyBytes (read and write).
  uint64_t copyBytes;
  double copySeconds;
  /// One launch of an empty kernel, back to back.
  double launchSeconds;
};
/// Measures this process's GPU (each case `repeat` times after a warm-up)
/// into `result`.
void autopar_cuda_calibrate(AutoparCalibration *result, int32_t repeat);
/// The device this process uses.
int32_t autopar_cuda_device();
/// Device memory over a training step, for autopar-run's memory report:
/// autopar_cuda_memory_mark starts the measure (the stream-ordered pool's
/// high watermark reset to what it holds, the managed bytes held then
/// kept); after the step, autopar_cuda_memory_pool_peak waits for the
/// stream and returns the most bytes the pool held at once since the mark
/// (the GPU's own count: allocations and frees in stream order; with the
/// graphs' memory, which a step launched as a CUDA graph holds), and
/// autopar_cuda_memory_managed_peak the most managed bytes held at once
/// (the step's arguments and results; counted at the host's allocate and
/// free calls). autopar_cuda_memory_workspaces: the pool's bytes the
/// libraries' workspaces (cuDNN's, cuBLASLt's, cuBLAS's) hold, kept between
/// steps.
void autopar_cuda_memory_mark();
double autopar_cuda_memory_pool_peak();
double autopar_cuda_memory_managed_peak();
double autopar_cuda_memory_workspaces();
/// What autopar-calibrate measures of the links (autopar_cuda_calibrate_links).
struct AutoparLinkCalibration {
  int32_t ranks;
  /// Whether every rank is on this node (the intra-node link), else the
  /// job spans nodes (the slowest link, inter-node).
  int32_t singleNode;
  /// f32 all-reduce over the whole job of sizeBytes[i] bytes.
  int32_t count;
  int64_t sizeBytes[12];
  double seconds[12];
};
/// On every rank of a job of several (one GPU each, NCCL): times all-reduces
/// of 8 B to 256 MiB (each `repeat` times after a warm-up) into `result`;
/// returns 0 for a job of one (nothing to measure), 1 otherwise.
int32_t autopar_cuda_calibrate_links(AutoparLinkCalibration *result,
                                     int32_t repeat);
/// This process's rank in the job (0 alone).
int32_t autopar_cuda_rank();

/// Scaled dot-product attention as one cuDNN flash attention (f32 compute):
/// O = softmax(scale * Q K^T, masked) V and each row's log-sum-exp of the
/// scaled, masked scores. Q [batch, heads, rows, dim], K [batch, kvHeads,
/// keys, dim], V [batch, kvHeads, keys, valueDim], O [batch, heads, rows,
/// valueDim] (query head h reads key-value head h / (heads / kvHeads):
/// grouped-query attention where kvHeads < heads), all of `dtype` (1 f16,
/// 2 bf16), each given by its address and then (after the lse's) the
/// strides (in elements) of its first three dimensions (the last is
/// contiguous); lse f32 [batch, heads, rows], contiguous. `causal`: key
/// j > row i + rowOffset is masked (-inf); rowOffset >= 0 is the first
/// row of a device that holds a share of the query's rows, else 0.
void autopar_cuda_attention(int64_t q, int64_t k, int64_t v, int64_t o,
                            int64_t lse, int64_t qB, int64_t qH, int64_t qS,
                            int64_t kB, int64_t kH, int64_t kS, int64_t vB,
                            int64_t vH, int64_t vS, int64_t oB, int64_t oH,
                            int64_t oS, int64_t batch, int64_t heads,
                            int64_t kvHeads, int64_t rows, int64_t keys,
                            int64_t dim, int64_t valueDim, double scale,
                            int32_t causal, int32_t dtype, int64_t rowOffset);

/// The gradients of autopar_cuda_attention: dQ, dK and dV (written) from Q,
/// K, V, O, dO and the lse (whose own adjoint is zero), the operands as
/// there (dO, dQ, dK and dV shaped as O, Q, K and V: a key-value head's
/// gradients sum over the query heads that read it).
void autopar_cuda_attention_grad(
    int64_t q, int64_t k, int64_t v, int64_t o, int64_t dO, int64_t lse,
    int64_t dQ, int64_t dK, int64_t dV, int64_t qB, int64_t qH, int64_t qS,
    int64_t kB, int64_t kH, int64_t kS, int64_t vB, int64_t vH, int64_t vS,
    int64_t oB, int64_t oH, int64_t oS, int64_t dOB, int64_t dOH, int64_t dOS,
    int64_t dQB, int64_t dQH, int64_t dQS, int64_t dKB, int64_t dKH,
    int64_t dKS, int64_t dVB, int64_t dVH, int64_t dVS, int64_t batch,
    int64_t heads, int64_t kvHeads, int64_t rows, int64_t keys, int64_t dim,
    int64_t valueDim, double scale, int32_t causal, int32_t dtype,
    int64_t rowOffset);

/// A 2-D NCHW convolution through cuDNN, accumulating into its result:
/// mode 0 y += conv(x, w), 1 x += the data gradient of y, 2 w += the
/// filter gradient of y; x [n, c, h, wd], w [f, c, kh, kw], y as cuDNN
/// derives it from the padding, stride and dilation; all three of `dtype`
/// (0 f32 with FMA math, 1 f16 or 2 bf16 on tensor cores, accumulating in
/// f32; 3 f32 buffers whose inputs hold 16-bit values, on TF32 tensor
/// cores, which is exact for them: a TF32 operand keeps f16's and bf16's
/// significands whole). `accumulate` 0: the result is written, not added
/// to (beta = 0).
void autopar_cuda_conv2d(int64_t x, int64_t w, int64_t y, int64_t n, int64_t c,
                         int64_t h, int64_t wd, int64_t f, int64_t kh,
                         int64_t kw, int64_t padH, int64_t padW,
                         int64_t strideH, int64_t strideW, int64_t dilationH,
                         int64_t dilationW, int32_t mode, int32_t dtype,
                         int32_t accumulate);

/// Collectives through NCCL, with the MPI runtime's contract
/// (CPURuntime.h): device buffers by address, mesh and axes codes
/// (MeshGroup.h). Each is enqueued on the compute stream and returns at
/// once.
int64_t autopar_nccl_device_coord(int64_t meshCode, int64_t axesCode);
void autopar_nccl_all_reduce(int64_t in, int64_t out, int64_t count,
                             int32_t dtype, int32_t op, int64_t meshCode,
                             int64_t axesCode);
void autopar_nccl_all_gather(int64_t in, int64_t out, int64_t outer,
                             int64_t chunk, int32_t dtype, int64_t meshCode,
                             int64_t axesCode);
void autopar_nccl_reduce_scatter(int64_t in, int64_t out, int64_t outer,
                                 int64_t chunk, int32_t dtype, int32_t op,
                                 int64_t meshCode, int64_t axesCode);
void autopar_nccl_all_to_all(int64_t in, int64_t out, int64_t splitOuter,
                             int64_t splitChunk, int64_t concatOuter,
                             int64_t concatChunk, int32_t dtype,
                             int64_t meshCode, int64_t axesCode);
/// The all-reduce, reduce-scatter and all-gather started on the
/// communication stream once the compute stream's work so far is done; the
/// handle's autopar_nccl_wait makes the compute stream wait for it (the
/// collective lowering waits where the buffers are next used). Every other NCCL
/// call first joins the collectives still in flight to the compute stream
/// (their handles' waits then return at once).
int64_t autopar_nccl_all_reduce_start(int64_t in, int64_t out, int64_t count,
                                      int32_t dtype, int32_t op,
                                      int64_t meshCode, int64_t axesCode);
int64_t autopar_nccl_reduce_scatter_start(int64_t in, int64_t out,
                                          int64_t outer, int64_t chunk,
                                          int32_t dtype, int32_t op,
                                          int64_t meshCode, int64_t axesCode);
int64_t autopar_nccl_all_gather_start(int64_t in, int64_t out, int64_t outer,
                                      int64_t chunk, int32_t dtype,
                                      int64_t meshCode, int64_t axesCode);
void autopar_nccl_wait(int64_t handle);

/// CUDA graphs for a function autopar-capture-graphs wrapped: its key (the
/// function and its buffers' addresses, one autopar_cuda_graph_key call per
/// buffer), then autopar_cuda_graph_begin(name), which returns 0: run the
/// function as is (the key's first call, or AUTOPAR_CUDA_BLOCKING); 1: run
/// it, its work is being captured; 2: its graph was launched, skip it.
/// autopar_cuda_graph_end(name) after the function's work ends a capture:
/// the graph is instantiated, launched, and kept for the key. A capture
/// that fails (an operation that cannot be captured) is an error naming the
/// function. The emulated runtime cannot replay: every call after the
/// first is captured again.
void autopar_cuda_graph_key(int64_t address);
int32_t autopar_cuda_graph_begin(const char *name);
void autopar_cuda_graph_end(const char *name);
/// Graphs captured and launches that replayed one, since the start.
int64_t autopar_cuda_graph_captures();
int64_t autopar_cuda_graph_replays();
}

#endif // AUTOPAR_RUNTIME_CUDARUNTIME_H
