//===- CUDARuntime.cpp - what CUDA programs from autopar call -------------===//

#include "autopar/Runtime/CUDARuntime.h"
#include "autopar/Runtime/DeviceLayout.h"
#include "autopar/Runtime/MeshGroup.h"
#include "autopar/Runtime/Rendezvous.h"

#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda.h>
#ifdef AUTOPAR_HAVE_NCCL
#include <nccl.h>
#endif
#ifdef AUTOPAR_HAVE_CUDNN
#include <cudnn.h>

#include "CUDAAttention.h"
#endif

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>

namespace {

/// This process's rank for messages: the launcher's, or -1.
int getRank() {
  for (const char *name :
       {"OMPI_COMM_WORLD_RANK", "PMI_RANK", "RANK", "SLURM_PROCID"})
    if (const char *value = std::getenv(name))
      return std::atoi(value);
  return -1;
}

/// This process's rank on its node, to pick the device.
int getLocalRank() {
  for (const char *name : {"LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_RANK",
                           "MPI_LOCALRANKID", "SLURM_LOCALID"})
    if (const char *value = std::getenv(name))
      return std::atoi(value);
  return 0;
}

/// Reports `message` with this process's rank and exits: the launcher
/// (mpirun, torchrun) then stops the other ranks.
[[noreturn]] void fail(const std::string &message) {
  std::fprintf(stderr, "autopar CUDA runtime: rank %d: %s\n", getRank(),
               message.c_str());
  std::fflush(stderr);
  std::exit(1);
}

/// Reports a failed library call: the call, the error's name and text.
[[noreturn]] void failCall(const char *call, const char *name,
                           const char *text) {
  fail(std::string(call) + " failed: " + (name ? name : "unknown error") +
       " (" + (text ? text : "no description") + ")");
}

[[noreturn]] void fail(const char *call, CUresult result) {
  const char *name = nullptr, *text = nullptr;
  cuGetErrorName(result, &name);
  cuGetErrorString(result, &text);
  failCall(call, name, text);
}

#define CHECK(call)                                                            \
  do {                                                                         \
    CUresult result_ = (call);                                                 \
    if (result_ != CUDA_SUCCESS)                                               \
      fail(#call, result_);                                                    \
  } while (false)

#define CHECK_BLAS(call)                                                       \
  do {                                                                         \
    cublasStatus_t status_ = (call);                                           \
    if (status_ != CUBLAS_STATUS_SUCCESS)                                      \
      failCall(#call, cublasGetStatusName(status_),                            \
               cublasGetStatusString(status_));                                \
  } while (false)

int defaultDevice = -1;

/// Makes this thread use the process's device (its primary context),
/// initializing the driver on first use.
void ensureContext() {
  static std::once_flag once;
  static CUcontext context = nullptr;
  std::call_once(once, [] {
    CHECK(cuInit(0));
    int count = 0;
    CHECK(cuDeviceGetCount(&count));
    if (count == 0)
      fail("no CUDA device");
    // NCCL needs one GPU per rank: the local rank's, or the only one this
    // process sees (a launcher that gives each rank its own GPU, e.g.
    // srun --gpus-per-task=1, makes it device 0).
    int local = count == 1 ? 0 : getLocalRank();
    if (defaultDevice < 0 && local >= count)
      fail("local rank " + std::to_string(local) +
           " has no GPU of its own: this node has " + std::to_string(count) +
           "; start at most " + std::to_string(count) + " ranks per node");
    int ordinal = defaultDevice >= 0 ? defaultDevice : local;
    CUdevice device;
    CHECK(cuDeviceGet(&device, ordinal));
    CHECK(cuDevicePrimaryCtxRetain(&context, device));
    defaultDevice = ordinal;
  });
  CHECK(cuCtxSetCurrent(context));
}

/// This process's streams, each made on first use. The compute stream:
/// kernels, cuBLAS, cuDNN and the blocking NCCL calls run on it, in
/// program order (generated code asks for a stream per launch: it gets this
/// one, and destroying it is a no-op). The communication stream: started
/// collectives (autopar_nccl_*_start), beside it.
enum StreamKind { kComputeStream, kCommStream };
CUstream getStream(StreamKind kind) {
  static std::once_flag once[2];
  static CUstream streams[2] = {nullptr, nullptr};
  ensureContext();
  std::call_once(once[kind], [kind] {
    CHECK(cuStreamCreate(&streams[kind], CU_STREAM_NON_BLOCKING));
  });
  return streams[kind];
}

CUstream getComputeStream() { return getStream(kComputeStream); }

/// Makes `stream` wait (on the GPU) for the compute stream's work so far.
void waitForComputeStream(CUstream stream) {
  CUevent ready = nullptr;
  CHECK(cuEventCreate(&ready, CU_EVENT_DISABLE_TIMING));
  CHECK(cuEventRecord(ready, getComputeStream()));
  CHECK(cuStreamWaitEvent(stream, ready, 0));
  CHECK(cuEventDestroy(ready));
}

/// AUTOPAR_CUDA_BLOCKING=1: the host waits for every kernel and library
/// call, so that a failure is reported at the call that failed (as
/// CUDA_LAUNCH_BLOCKING does); else only where the host reads a buffer.
bool isBlocking() {
  static const bool blocking = [] {
    const char *value = std::getenv("AUTOPAR_CUDA_BLOCKING");
    return value && *value && std::string(value) != "0";
  }();
  return blocking;
}

/// In blocking mode, waits for the compute stream and names `what` when
/// it failed.
void checkpoint(const std::string &what) {
  if (!isBlocking())
    return;
  CUresult result = cuStreamSynchronize(getComputeStream());
  if (result != CUDA_SUCCESS)
    fail(what.c_str(), result);
}

/// The device's stream-ordered memory pool, keeping what is freed for the
/// next allocations (the default release threshold would hand it back to
/// the driver at every synchronisation).
CUmemoryPool getPool() {
  static std::once_flag once;
  static CUmemoryPool pool = nullptr;
  ensureContext();
  std::call_once(once, [] {
    CUdevice device;
    CHECK(cuDeviceGet(&device, defaultDevice));
    CHECK(cuDeviceGetDefaultMemPool(&pool, device));
    cuuint64_t threshold = ~cuuint64_t(0);
    CHECK(cuMemPoolSetAttribute(pool, CU_MEMPOOL_ATTR_RELEASE_THRESHOLD,
                                &threshold));
  });
  return pool;
}

void releaseManagedCache();
/// Destroys the CUDA graphs captured (before the communicators whose work
/// they hold).
void destroyGraphs();

/// Bytes of the pool the libraries' workspaces (cuDNN's, cuBLASLt's) hold
/// for the rest of the run.
size_t &getWorkspaceBytes() {
  static size_t bytes = 0;
  return bytes;
}

/// CUDA graphs (autopar_cuda_graph_*): whether the compute stream is being
/// captured, and how many times a buffer that captured work uses across
/// calls (a library's workspace, a collective's scratch) has been replaced:
/// a graph captured before a replacement would still use the old one.
struct GraphState {
  bool capturing = false;
  uint64_t generation = 0;
  /// The device buffers allocated during the capture (the graph's own):
  /// the only ones a captured step may free.
  std::set<CUdeviceptr> allocated;
};
GraphState &getGraphState() {
  static GraphState state;
  return state;
}

/// `bytes` of device memory from the pool, in `stream`'s order; running
/// out releases the managed buffers kept for reuse and tries again, then
/// is an error that says how much was asked and how much is held.
CUdeviceptr allocDevice(size_t bytes, CUstream stream, const char *what) {
  CUdeviceptr pointer = 0;
  CUresult result = cuMemAllocFromPoolAsync(
      &pointer, std::max<size_t>(bytes, 1), getPool(), stream);
  GraphState &graph = getGraphState();
  if (graph.capturing) {
    // A graph's own memory: nothing to release and retry inside a capture.
    if (result == CUDA_ERROR_OUT_OF_MEMORY)
      fail(std::string("out of GPU memory while capturing a step into a CUDA "
                       "graph: ") +
           what + " needs " + std::to_string(bytes) +
           " bytes; run without --cuda-graph");
    if (result == CUDA_SUCCESS)
      graph.allocated.insert(pointer);
  }
  if (result == CUDA_ERROR_OUT_OF_MEMORY) {
    releaseManagedCache();
    result = cuMemAllocFromPoolAsync(&pointer, std::max<size_t>(bytes, 1),
                                     getPool(), stream);
  }
  if (result == CUDA_ERROR_OUT_OF_MEMORY) {
    cuuint64_t used = 0;
    cuMemPoolGetAttribute(getPool(), CU_MEMPOOL_ATTR_USED_MEM_CURRENT, &used);
    size_t free = 0, total = 0;
    cuMemGetInfo(&free, &total);
    fail(std::string("out of GPU memory: ") + what + " needs " +
         std::to_string(bytes) + " bytes; the program holds " +
         std::to_string(used) + " bytes, the GPU has " + std::to_string(free) +
         " of " + std::to_string(total) + " free");
  }
  if (result != CUDA_SUCCESS)
    fail("cuMemAllocFromPoolAsync", result);
  return pointer;
}

/// Before a kept buffer (`what`) is made or replaced: graphs captured
/// before are out of date. During a capture it is an error: the new buffer
/// would belong to the graph (the step ran once before it was captured, so
/// its buffers should have their sizes by then).
void replacingKeptBuffer(const char *what) {
  GraphState &state = getGraphState();
  if (state.capturing)
    fail(std::string(what) +
         " had to grow while a step was being captured into a CUDA graph "
         "(it should have its size from the step's first, uncaptured run); "
         "run without --cuda-graph");
  ++state.generation;
}

/// During a capture, a free of a buffer the capture did not allocate is an
/// error: the graph would free it at every replay (and managed memory's
/// free waits on an event the host queries later).
void checkCapturedFree(int64_t address) {
  GraphState &state = getGraphState();
  if (state.capturing &&
      !state.allocated.count(static_cast<CUdeviceptr>(address)))
    fail("a buffer the step did not allocate is freed while it is being "
         "captured into a CUDA graph (a replay would free it again); run "
         "without --cuda-graph");
}

/// The CUDA data type of the runtime's element type code (0 f32, 1 f16, 2
/// bf16); `what` names the call for the error.
cudaDataType dataType(int32_t code, const char *what) {
  switch (code) {
  case 0:
    return CUDA_R_32F;
  case 1:
    return CUDA_R_16F;
  case 2:
    return CUDA_R_16BF;
  }
  fail(std::string(what) + ": unknown element type code " +
       std::to_string(code));
}

/// Managed buffers freed and kept for reuse, by size. A training step
/// returns its new parameters and optimizer state in managed memory and
/// the caller frees the previous step's: handing those back keeps their
/// pages on the GPU (a new managed buffer faults its pages in when first
/// touched). At most half the GPU's memory is kept; all of it is released
/// when an allocation runs out.
struct ManagedCache {
  std::multimap<size_t, CUdeviceptr> buffers;
  size_t bytes = 0;
  /// Every managed buffer allocated, by address: the size asked for.
  std::map<CUdeviceptr, size_t> sizes;
  /// Buffers freed in stream order: each usable once its event (recorded on
  /// the compute stream at the free) has completed, oldest first.
  std::deque<std::pair<CUevent, CUdeviceptr>> pending;
  /// Events of retired frees, for reuse.
  std::vector<CUevent> events;
};
ManagedCache &getManagedCache() {
  static ManagedCache cache;
  return cache;
}

/// Managed bytes the program holds (allocated and not yet freed by it,
/// whether or not the cache keeps them afterwards), and the most since
/// autopar_cuda_memory_mark.
struct ManagedHeld {
  size_t bytes = 0, peak = 0;
  void add(size_t size) {
    bytes += size;
    peak = std::max(peak, bytes);
  }
  void remove(size_t size) { bytes -= std::min(bytes, size); }
};
ManagedHeld &getManagedHeld() {
  static ManagedHeld held;
  return held;
}

void freeManaged(CUdeviceptr pointer);

/// Moves the stream-ordered frees whose GPU work has completed into the
/// cache; with `all`, waits for every one (the caller has waited for the
/// stream, or is about to release everything).
void retireManagedFrees(bool all) {
  ManagedCache &cache = getManagedCache();
  while (!cache.pending.empty()) {
    auto [event, pointer] = cache.pending.front();
    CUresult result = cuEventQuery(event);
    if (result == CUDA_ERROR_NOT_READY) {
      if (!all)
        return; // later frees were recorded later on the same stream
      result = cuEventSynchronize(event);
    }
    if (result != CUDA_SUCCESS)
      fail("waiting for the GPU before reusing a freed buffer (a kernel or "
           "library call before the free; AUTOPAR_CUDA_BLOCKING=1 names it)",
           result);
    cache.pending.pop_front();
    cache.events.push_back(event);
    freeManaged(pointer);
  }
}

void releaseManagedCache() {
  retireManagedFrees(/*all=*/true);
  ManagedCache &cache = getManagedCache();
  for (auto &[size, pointer] : cache.buffers) {
    CHECK(cuMemFree(pointer));
    cache.sizes.erase(pointer);
  }
  cache.buffers.clear();
  cache.bytes = 0;
}

/// `bytes` of managed memory, preferably on the GPU.
CUdeviceptr allocManaged(size_t bytes) {
  ManagedCache &cache = getManagedCache();
  retireManagedFrees(/*all=*/false);
  if (auto it = cache.buffers.find(bytes); it != cache.buffers.end()) {
    CUdeviceptr pointer = it->second;
    cache.buffers.erase(it);
    cache.bytes -= bytes;
    getManagedHeld().add(bytes);
    return pointer;
  }
  CUdeviceptr pointer = 0;
  CUresult result = cuMemAllocManaged(&pointer, bytes, CU_MEM_ATTACH_GLOBAL);
  if (result == CUDA_ERROR_OUT_OF_MEMORY) {
    // What the pool keeps for reuse and the cache, given back.
    releaseManagedCache();
    CHECK(cuStreamSynchronize(getComputeStream()));
    CHECK(cuMemPoolTrimTo(getPool(), 0));
    result = cuMemAllocManaged(&pointer, bytes, CU_MEM_ATTACH_GLOBAL);
  }
  if (result == CUDA_ERROR_OUT_OF_MEMORY) {
    size_t free = 0, total = 0;
    cuMemGetInfo(&free, &total);
    fail("out of GPU memory: a host-visible buffer needs " +
         std::to_string(bytes) + " bytes, the GPU has " + std::to_string(free) +
         " of " + std::to_string(total) + " free");
  }
  if (result != CUDA_SUCCESS)
    fail("cuMemAllocManaged", result);
  // Kernels touch these buffers far more than the host does: keep their
  // pages on the GPU where the device can access managed memory
  // concurrently (elsewhere they migrate on first touch).
  static int concurrent = [] {
    CUdevice device;
    CHECK(cuDeviceGet(&device, defaultDevice));
    int value = 0;
    CHECK(cuDeviceGetAttribute(
        &value, CU_DEVICE_ATTRIBUTE_CONCURRENT_MANAGED_ACCESS, device));
    return value;
  }();
  if (concurrent) {
    CUmemLocation location = {};
    location.type = CU_MEM_LOCATION_TYPE_DEVICE;
    location.id = defaultDevice;
    CHECK(cuMemAdvise(pointer, bytes, CU_MEM_ADVISE_SET_PREFERRED_LOCATION,
                      location));
  }
  cache.sizes[pointer] = bytes;
  getManagedHeld().add(bytes);
  return pointer;
}

/// Frees managed buffer `pointer` (the GPU is done with it) into the cache.
void freeManaged(CUdeviceptr pointer) {
  static size_t limit = [] {
    size_t free = 0, total = 0;
    CHECK(cuMemGetInfo(&free, &total));
    return total / 2;
  }();
  ManagedCache &cache = getManagedCache();
  auto known = cache.sizes.find(pointer);
  if (known == cache.sizes.end() || cache.bytes + known->second > limit) {
    if (known != cache.sizes.end())
      cache.sizes.erase(known);
    CHECK(cuMemFree(pointer));
    return;
  }
  size_t bytes = known->second;
  cache.buffers.emplace(bytes, pointer);
  cache.bytes += bytes;
}

/// This process's cuBLAS handle, made on first use, on the compute stream.
cublasHandle_t getBlas() {
  static std::once_flag once;
  static cublasHandle_t handle = nullptr;
  ensureContext();
  std::call_once(once, [] {
    CHECK_BLAS(cublasCreate(&handle));
    CHECK_BLAS(cublasSetStream(handle, getComputeStream()));
  });
  return handle;
}

} // namespace

extern "C" {

void *mgpuModuleLoad(void *data, size_t /*size*/) {
  ensureContext();
  CUmodule module = nullptr;
  CHECK(cuModuleLoadData(&module, data));
  return module;
}

void *mgpuModuleLoadJIT(void *data, int optLevel) {
  ensureContext();
  CUmodule module = nullptr;
  CUjit_option options[] = {CU_JIT_OPTIMIZATION_LEVEL};
  void *values[] = {reinterpret_cast<void *>(static_cast<intptr_t>(optLevel))};
  CHECK(cuModuleLoadDataEx(&module, data, 1, options, values));
  return module;
}

void mgpuModuleUnload(void *module) {
  CHECK(cuModuleUnload(static_cast<CUmodule>(module)));
}

void *mgpuModuleGetFunction(void *module, const char *name) {
  CUfunction function = nullptr;
  CHECK(cuModuleGetFunction(&function, static_cast<CUmodule>(module), name));
  return function;
}

void mgpuLaunchKernel(void *function, intptr_t gridX, intptr_t gridY,
                      intptr_t gridZ, intptr_t blockX, intptr_t blockY,
                      intptr_t blockZ, int32_t sharedMemBytes, void *stream,
                      void **params, void **extra, size_t /*paramsCount*/) {
  ensureContext();
  auto kernel = static_cast<CUfunction>(function);
  CUresult result = cuLaunchKernel(
      kernel, gridX, gridY, gridZ, blockX, blockY, blockZ, sharedMemBytes,
      static_cast<CUstream>(stream), params, extra);
  if (result == CUDA_SUCCESS && !isBlocking())
    return;
  const char *name = nullptr;
  if (cuFuncGetName(&name, kernel) != CUDA_SUCCESS)
    name = nullptr;
  std::string what = std::string("kernel ") + (name ? name : "(unnamed)") +
                     " on a grid of " + std::to_string(gridX) + "x" +
                     std::to_string(gridY) + "x" + std::to_string(gridZ) +
                     " blocks of " + std::to_string(blockX) + "x" +
                     std::to_string(blockY) + "x" + std::to_string(blockZ);
  if (result != CUDA_SUCCESS)
    fail(("launching " + what).c_str(), result);
  checkpoint(what);
}

void *mgpuStreamCreate() { return getComputeStream(); }

void mgpuStreamDestroy(void *stream) {
  if (stream != getComputeStream())
    CHECK(cuStreamDestroy(static_cast<CUstream>(stream)));
}

void mgpuStreamSynchronize(void *stream) {
  CHECK(cuStreamSynchronize(static_cast<CUstream>(stream)));
}

void mgpuStreamWaitEvent(void *stream, void *event) {
  CHECK(cuStreamWaitEvent(static_cast<CUstream>(stream),
                          static_cast<CUevent>(event), 0));
}

void *mgpuEventCreate() {
  ensureContext();
  CUevent event = nullptr;
  CHECK(cuEventCreate(&event, CU_EVENT_DISABLE_TIMING));
  return event;
}

void mgpuEventDestroy(void *event) {
  CHECK(cuEventDestroy(static_cast<CUevent>(event)));
}

void mgpuEventSynchronize(void *event) {
  CHECK(cuEventSynchronize(static_cast<CUevent>(event)));
}

void mgpuEventRecord(void *event, void *stream) {
  CHECK(cuEventRecord(static_cast<CUevent>(event),
                      static_cast<CUstream>(stream)));
}

void *mgpuMemAlloc(uint64_t bytes, void *stream, bool isHostShared) {
  ensureContext();
  if (bytes == 0)
    return nullptr;
  CUdeviceptr pointer = 0;
  if (isHostShared) {
    if (getGraphState().capturing)
      fail("a host-visible (managed) buffer of " + std::to_string(bytes) +
           " bytes allocated while a step is being captured into a CUDA "
           "graph (a replay would not allocate it again); run without "
           "--cuda-graph");
    pointer = allocManaged(bytes);
  } else {
    pointer = allocDevice(
        bytes, stream ? static_cast<CUstream>(stream) : getComputeStream(),
        "a buffer");
  }
  return reinterpret_cast<void *>(pointer);
}

void mgpuMemFree(void *ptr, void * /*stream*/) {
  autopar_cuda_free(reinterpret_cast<int64_t>(ptr));
}

void mgpuMemcpy(void *dst, void *src, size_t bytes, void *stream) {
  CHECK(cuMemcpyAsync(reinterpret_cast<CUdeviceptr>(dst),
                      reinterpret_cast<CUdeviceptr>(src), bytes,
                      static_cast<CUstream>(stream)));
}

void mgpuMemset32(void *dst, unsigned int value, size_t count, void *stream) {
  CHECK(cuMemsetD32Async(reinterpret_cast<CUdeviceptr>(dst), value, count,
                         static_cast<CUstream>(stream)));
}

void mgpuMemset16(void *dst, unsigned short value, size_t count, void *stream) {
  CHECK(cuMemsetD16Async(reinterpret_cast<CUdeviceptr>(dst), value, count,
                         static_cast<CUstream>(stream)));
}

void mgpuSetDefaultDevice(int32_t device) { defaultDevice = device; }

void autopar_cuda_free_device(int64_t address) {
  if (!address)
    return;
  ensureContext();
  checkCapturedFree(address);
  // Pool memory: reusable once the stream's work so far is done.
  CHECK(cuMemFreeAsync(static_cast<CUdeviceptr>(address), getComputeStream()));
}

void autopar_cuda_free_managed(int64_t address) {
  if (!address)
    return;
  ensureContext();
  checkCapturedFree(address);
  CUdeviceptr pointer = static_cast<CUdeviceptr>(address);
  if (auto known = getManagedCache().sizes.find(pointer);
      known != getManagedCache().sizes.end())
    getManagedHeld().remove(known->second);
  // Managed memory: freed (kept for reuse) once the GPU work enqueued so
  // far, which may read it, has completed; the host does not wait here.
  if (isBlocking()) {
    autopar_cuda_synchronize();
    freeManaged(pointer);
    return;
  }
  ManagedCache &cache = getManagedCache();
  CUevent event = nullptr;
  if (!cache.events.empty()) {
    event = cache.events.back();
    cache.events.pop_back();
  } else {
    CHECK(cuEventCreate(&event, CU_EVENT_DISABLE_TIMING));
  }
  CHECK(cuEventRecord(event, getComputeStream()));
  cache.pending.emplace_back(event, pointer);
}

void autopar_cuda_free(int64_t address) {
  if (!address)
    return;
  ensureContext();
  // During a capture the only buffers freed are the graph's own (device
  // memory, not yet backed: no pointer query).
  if (getGraphState().capturing) {
    autopar_cuda_free_device(address);
    return;
  }
  unsigned managed = 0;
  CHECK(cuPointerGetAttribute(&managed, CU_POINTER_ATTRIBUTE_IS_MANAGED,
                              static_cast<CUdeviceptr>(address)));
  if (managed)
    autopar_cuda_free_managed(address);
  else
    autopar_cuda_free_device(address);
}

namespace {
/// Whether one product goes through the strided batched entry points as a
/// batch of one (AUTOPAR_CUBLAS_BATCHED=1, what the runtime did before;
/// kept to compare the two in one run) instead of the plain GEMM.
bool batchedForOneProduct() {
  static bool on = [] {
    const char *value = std::getenv("AUTOPAR_CUBLAS_BATCHED");
    return value && std::string(value) == "1";
  }();
  return on;
}
} // namespace

void autopar_cuda_gemm(int64_t a, int64_t b, int64_t c, int64_t m, int64_t n,
                       int64_t k, int64_t batch, int32_t transA, int32_t transB,
                       int32_t inputType, int32_t resultType,
                       int32_t accumulate) {
  // Row-major C[m, n] += A B is column-major C^T = B^T A^T: B comes first
  // (DeviceLayout.h).
  cublasHandle_t handle = getBlas();
  const float one = 1.0f;
  // beta: C's previous contents added (linalg's accumulation) or ignored.
  const float beta = accumulate ? 1.0f : 0.0f;
  autopar::runtime::ColumnMajorGemm gemm =
      autopar::runtime::mapRowMajorGemm(m, n, k, transA, transB);
  const void *first = reinterpret_cast<const void *>(gemm.firstIsB ? b : a);
  const void *second = reinterpret_cast<const void *>(gemm.firstIsB ? a : b);
  cublasOperation_t opFirst = gemm.transFirst ? CUBLAS_OP_T : CUBLAS_OP_N;
  cublasOperation_t opSecond = gemm.transSecond ? CUBLAS_OP_T : CUBLAS_OP_N;
  // One product goes to the plain GEMM, as PyTorch's 2-D matmul does: the
  // batched entry points' heuristics may choose other kernels (a batch of
  // one small-M product, AlexNet's fc layers at batch 128, gets few tiles
  // and no split-K where the plain GEMM's heuristics would split K).
  bool plain = batch == 1 && !batchedForOneProduct();
  if (plain && inputType == 0 && resultType == 0) {
    CHECK_BLAS(cublasSgemm(
        handle, opFirst, opSecond, static_cast<int>(gemm.m),
        static_cast<int>(gemm.n), static_cast<int>(gemm.k), &one,
        static_cast<const float *>(first), static_cast<int>(gemm.ldFirst),
        static_cast<const float *>(second), static_cast<int>(gemm.ldSecond),
        &beta, reinterpret_cast<float *>(c), static_cast<int>(gemm.ldc)));
  } else if (plain) {
    CHECK_BLAS(cublasGemmEx(
        handle, opFirst, opSecond, static_cast<int>(gemm.m),
        static_cast<int>(gemm.n), static_cast<int>(gemm.k), &one, first,
        dataType(inputType, "autopar_cuda_gemm"),
        static_cast<int>(gemm.ldFirst), second,
        dataType(inputType, "autopar_cuda_gemm"),
        static_cast<int>(gemm.ldSecond), &beta, reinterpret_cast<void *>(c),
        dataType(resultType, "autopar_cuda_gemm"), static_cast<int>(gemm.ldc),
        CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
  } else if (inputType == 0 && resultType == 0) {
    CHECK_BLAS(cublasSgemmStridedBatched(
        handle, opFirst, opSecond, static_cast<int>(gemm.m),
        static_cast<int>(gemm.n), static_cast<int>(gemm.k), &one,
        static_cast<const float *>(first), static_cast<int>(gemm.ldFirst),
        gemm.strideFirst, static_cast<const float *>(second),
        static_cast<int>(gemm.ldSecond), gemm.strideSecond, &beta,
        reinterpret_cast<float *>(c), static_cast<int>(gemm.ldc), gemm.strideC,
        static_cast<int>(batch)));
  } else {
    // 16-bit inputs, f32 compute (no TF32; tensor cores for 16-bit
    // inputs), result in its own type.
    CHECK_BLAS(cublasGemmStridedBatchedEx(
        handle, opFirst, opSecond, static_cast<int>(gemm.m),
        static_cast<int>(gemm.n), static_cast<int>(gemm.k), &one, first,
        dataType(inputType, "autopar_cuda_gemm"),
        static_cast<int>(gemm.ldFirst), gemm.strideFirst, second,
        dataType(inputType, "autopar_cuda_gemm"),
        static_cast<int>(gemm.ldSecond), gemm.strideSecond, &beta,
        reinterpret_cast<void *>(c), dataType(resultType, "autopar_cuda_gemm"),
        static_cast<int>(gemm.ldc), gemm.strideC, static_cast<int>(batch),
        CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
  }
  checkpoint("autopar_cuda_gemm (" + std::to_string(m) + "x" +
             std::to_string(n) + "x" + std::to_string(k) + ")");
}

void autopar_cuda_calibrate(AutoparCalibration *result, int32_t repeat) {
  ensureContext();
  *result = AutoparCalibration();
  result->device = defaultDevice;
  CUdevice device;
  CHECK(cuDeviceGet(&device, defaultDevice));
  CHECK(cuDeviceGetName(result->name, sizeof(result->name) - 1, device));
  size_t capacity = 0;
  CHECK(cuDeviceTotalMem(&capacity, device));
  result->memoryCapacity = capacity;
  CUevent start, stop;
  CHECK(cuEventCreate(&start, CU_EVENT_DEFAULT));
  CHECK(cuEventCreate(&stop, CU_EVENT_DEFAULT));
  auto time = [&](int times, auto &&work) {
    work(); // warm up
    CHECK(cuCtxSynchronize());
    CHECK(cuEventRecord(start, getComputeStream()));
    for (int i = 0; i < times; ++i)
      work();
    CHECK(cuEventRecord(stop, getComputeStream()));
    CHECK(cuEventSynchronize(stop));
    float ms = 0;
    CHECK(cuEventElapsedTime(&ms, start, stop));
    return ms * 1e-3 / times;
  };
  for (int64_t n : {256, 512, 1024, 2048, 4096, 8192}) {
    size_t count = static_cast<size_t>(n) * n;
    void *a = mgpuMemAlloc(count * sizeof(float), nullptr, false);
    void *b = mgpuMemAlloc(count * sizeof(float), nullptr, false);
    void *c = mgpuMemAlloc(count * sizeof(float), nullptr, false);
    CHECK(cuMemsetD32(reinterpret_cast<CUdeviceptr>(a), 0x3f800000u, count));
    CHECK(cuMemsetD32(reinterpret_cast<CUdeviceptr>(b), 0x3f800000u, count));
    CHECK(cuMemsetD32(reinterpret_cast<CUdeviceptr>(c), 0, count));
    // C = A B, inputs and result of element type `type` (0 f32, 2 bf16).
    auto timeGemm = [&](int32_t type) {
      return time(n >= 4096 ? std::min(repeat, 3) : repeat, [&] {
        autopar_cuda_gemm(
            reinterpret_cast<int64_t>(a), reinterpret_cast<int64_t>(b),
            reinterpret_cast<int64_t>(c), n, n, n, 1, 0, 0, type, type, 1);
      });
    };
    int index = result->gemmCount++;
    result->gemmSizes[index] = n;
    result->gemmSeconds[index] = timeGemm(0);
    // The same product in bf16 (1.0 is 0x3f80), in the first half of the
    // same buffers.
    CHECK(cuMemsetD16(reinterpret_cast<CUdeviceptr>(a), 0x3f80u, count));
    CHECK(cuMemsetD16(reinterpret_cast<CUdeviceptr>(b), 0x3f80u, count));
    result->gemmBf16Seconds[index] = timeGemm(2);
    mgpuMemFree(a, nullptr);
    mgpuMemFree(b, nullptr);
    mgpuMemFree(c, nullptr);
  }
  result->copyBytes = 256u << 20;
  void *from = mgpuMemAlloc(result->copyBytes, nullptr, false);
  void *to = mgpuMemAlloc(result->copyBytes, nullptr, false);
  result->copySeconds = time(repeat, [&] {
    CHECK(cuMemcpyDtoDAsync(reinterpret_cast<CUdeviceptr>(to),
                            reinterpret_cast<CUdeviceptr>(from),
                            result->copyBytes, getComputeStream()));
  });
  mgpuMemFree(from, nullptr);
  mgpuMemFree(to, nullptr);
  // An empty kernel in PTX, loaded by the driver's JIT.
  static const char kEmpty[] = ".version 7.0\n.target sm_52\n"
                               ".address_size 64\n"
                               ".visible .entry empty()\n{\n  ret;\n}\n";
  void *module = mgpuModuleLoad(const_cast<char *>(kEmpty), sizeof(kEmpty));
  void *function = mgpuModuleGetFunction(module, "empty");
  result->launchSeconds = time(1000, [&] {
    CHECK(cuLaunchKernel(static_cast<CUfunction>(function), 1, 1, 1, 1, 1, 1, 0,
                         getComputeStream(), nullptr, nullptr));
  });
  mgpuModuleUnload(module);
  CHECK(cuEventDestroy(start));
  CHECK(cuEventDestroy(stop));
}

int32_t autopar_cuda_device() {
  ensureContext();
  return defaultDevice;
}

void autopar_cuda_memory_mark() {
  ensureContext();
  // Setting the high watermark to 0 resets it to what the pool holds now.
  cuuint64_t zero = 0;
  CHECK(cuMemPoolSetAttribute(getPool(), CU_MEMPOOL_ATTR_USED_MEM_HIGH, &zero));
  // CUDA graphs allocate from memory of their own.
  CUdevice device;
  CHECK(cuDeviceGet(&device, defaultDevice));
  CHECK(cuDeviceSetGraphMemAttribute(device, CU_GRAPH_MEM_ATTR_USED_MEM_HIGH,
                                     &zero));
  ManagedHeld &managed = getManagedHeld();
  managed.peak = managed.bytes;
}

double autopar_cuda_memory_pool_peak() {
  ensureContext();
  CHECK(cuStreamSynchronize(getComputeStream()));
  cuuint64_t high = 0;
  CHECK(cuMemPoolGetAttribute(getPool(), CU_MEMPOOL_ATTR_USED_MEM_HIGH, &high));
  // A step launched as a CUDA graph allocates its buffers from the graphs'
  // memory, which it keeps between launches.
  CUdevice device;
  CHECK(cuDeviceGet(&device, defaultDevice));
  cuuint64_t graphs = 0;
  CHECK(cuDeviceGetGraphMemAttribute(device, CU_GRAPH_MEM_ATTR_USED_MEM_HIGH,
                                     &graphs));
  return static_cast<double>(high + graphs);
}

double autopar_cuda_memory_managed_peak() {
  return static_cast<double>(getManagedHeld().peak);
}

double autopar_cuda_memory_workspaces() {
  return static_cast<double>(getWorkspaceBytes());
}
}

//===----------------------------------------------------------------------===//
// Collectives through NCCL
//===----------------------------------------------------------------------===//
//
// The calls autopar-lower-collectives-to-nccl emits, with the CPU runtime's
// contract (include/autopar/Runtime/CPURuntime.h): buffers by address,
// [outer, group, chunk] views, mesh and axes codes (MeshGroup.h). One NCCL
// communicator spans the job (its unique id shared by Rendezvous.cpp); each
// group of mesh axes gets its own, split from it on first use (every rank
// runs the same program, so all reach the split together). Communicators are
// non-blocking: every wait polls NCCL's asynchronous error and gives up after
// AUTOPAR_COLLECTIVE_TIMEOUT (default 300 s), aborting the communicators and
// naming the collective. Each collective runs on the compute stream and is
// finished on return, as kernels and cuBLAS calls are.

namespace {
using autopar::runtime::MeshGroup;

/// The job, as its launcher's environment describes it.
const autopar::runtime::World &getWorld() {
  static autopar::runtime::World world = [] {
    autopar::runtime::World result;
    std::string error = autopar::runtime::getWorldFromEnvironment(result);
    if (!error.empty())
      fail(error);
    return result;
  }();
  return world;
}

/// The group of this rank for a collective over `axesCode` of `meshCode`.
MeshGroup getGroup(int64_t meshCode, int64_t axesCode) {
  const autopar::runtime::World &world = getWorld();
  MeshGroup group;
  std::string error = autopar::runtime::getMeshGroup(
      meshCode, axesCode, world.rank, world.size, group);
  if (!error.empty())
    fail(error);
  return group;
}

size_t elementBytes(int32_t dtype) {
  switch (dtype) {
  case 0:
  case 2:
    return 4;
  case 1:
  case 3:
    return 8;
  case 4:
  case 5:
    return 1;
  case 6:
  case 7:
    return 2;
  }
  fail("unsupported element type code " + std::to_string(dtype));
}

CUdeviceptr pointer(int64_t address) {
  return static_cast<CUdeviceptr>(address);
}

/// A device buffer of at least `bytes` for temporary layouts, kept between
/// calls (one per `slot`).
CUdeviceptr getScratch(int slot, size_t bytes) {
  static CUdeviceptr buffers[2] = {0, 0};
  static size_t sizes[2] = {0, 0};
  if (sizes[slot] < bytes) {
    replacingKeptBuffer("a collective's scratch buffer");
    // Replaced in stream order: earlier calls may still be using it.
    if (buffers[slot])
      CHECK(cuMemFreeAsync(buffers[slot], getComputeStream()));
    buffers[slot] = allocDevice(bytes, getComputeStream(), "a collective");
    sizes[slot] = bytes;
  }
  return buffers[slot];
}

/// Copies an [a, b, row] array of `row`-byte rows into [b, a, row] order on
/// `stream` (the copies planned by DeviceLayout.h).
void swapOuter(CUdeviceptr to, CUdeviceptr from, size_t a, size_t b, size_t row,
               CUstream stream) {
  for (const autopar::runtime::Copy2D &plan :
       autopar::runtime::planSwapOuter(a, b, row)) {
    CUDA_MEMCPY2D copy = {};
    copy.srcMemoryType = CU_MEMORYTYPE_UNIFIED;
    copy.srcDevice = from + plan.srcOffset;
    copy.srcPitch = plan.srcPitch;
    copy.dstMemoryType = CU_MEMORYTYPE_UNIFIED;
    copy.dstDevice = to + plan.dstOffset;
    copy.dstPitch = plan.dstPitch;
    copy.WidthInBytes = plan.width;
    copy.Height = plan.height;
    CHECK(cuMemcpy2DAsync(&copy, stream));
  }
}

#ifdef AUTOPAR_HAVE_NCCL
using Clock = std::chrono::steady_clock;

std::map<std::pair<int64_t, int64_t>, ncclComm_t> &getGroupComms() {
  static std::map<std::pair<int64_t, int64_t>, ncclComm_t> comms;
  return comms;
}

ncclComm_t &getWorldComm() {
  static ncclComm_t comm = nullptr;
  return comm;
}

/// The communicator and stream of one direction between two coordinates
/// along a group's axes (a pipeline's stages): the sender only sends on
/// it, from a stream of its own, the receiver only receives, on the
/// compute stream. NCCL runs a communicator's operations in order and a
/// group's transfers together, so sends that shared a communicator (or a
/// group) with the receives coming back could wait for each other: a
/// send here holds up nothing but later sends in its direction, which the
/// peer receives in that order (autopar-partition's order).
struct Direction {
  ncclComm_t comm = nullptr;
  CUstream stream = nullptr;
  /// Sends enqueued since the host last waited for this stream.
  bool busy = false;
};
/// (mesh, axes, from, to) -> its direction, this rank being one end.
using DirectionKey = std::tuple<int64_t, int64_t, int64_t, int64_t>;
std::map<DirectionKey, Direction> &getDirections() {
  // Never destroyed: the exit handler that destroys the communicators
  // (registered before the first direction is made) runs after static
  // destructors of later-constructed objects.
  static auto *directions = new std::map<DirectionKey, Direction>();
  return *directions;
}

/// The direction from `from` to `to` along `axesCode`; an error that says
/// the program did not make it at its entry otherwise.
Direction &getDirection(int64_t meshCode, int64_t axesCode, int64_t from,
                        int64_t to, const char *what) {
  auto it = getDirections().find({meshCode, axesCode, from, to});
  if (it == getDirections().end())
    fail(std::string(what) + " from coordinate " + std::to_string(from) +
         " to " + std::to_string(to) + " along mesh axes " +
         autopar::runtime::describeAxes(axesCode) +
         ": no communicator for this direction (the program makes one per "
         "direction it uses at its entry: autopar_nccl_prepare_transfer)");
  return it->second;
}
/// Aborts every communicator (so that no NCCL kernel keeps the GPU) and
/// fails with `message`.
[[noreturn]] void abortAll(const std::string &message) {
  // NCCL waits for the CUDA graphs that hold a communicator's work to go
  // before it aborts or destroys it.
  destroyGraphs();
  for (auto &[key, direction] : getDirections())
    ncclCommAbort(direction.comm);
  for (auto &[key, comm] : getGroupComms())
    if (comm && comm != getWorldComm())
      ncclCommAbort(comm);
  if (getWorldComm())
    ncclCommAbort(getWorldComm());
  fail(message);
}

#define CHECK_NCCL(call)                                                       \
  do {                                                                         \
    ncclResult_t result_ = (call);                                             \
    if (result_ != ncclSuccess && result_ != ncclInProgress)                   \
      abortAll(std::string(#call) +                                            \
               " failed: " + ncclGetErrorString(result_) + " (" +              \
               ncclGetLastError(nullptr) + ")");                               \
  } while (false)

bool timedOut(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count() >
         autopar::runtime::getCollectiveTimeout();
}

std::string timeoutText() {
  return "timed out after " + std::to_string(int(autopar::runtime::getCollectiveTimeout())) +
         " s (AUTOPAR_COLLECTIVE_TIMEOUT); another rank failed or diverged";
}

/// Between two polls: spin for the first millisecond (collectives are often
/// that short), then sleep, so that a rank waiting for a slow peer does not
/// hold a core.
void pause(Clock::time_point start) {
  if (Clock::now() - start < std::chrono::milliseconds(1))
    std::this_thread::yield();
  else
    std::this_thread::sleep_for(std::chrono::microseconds(50));
}

/// `comm`'s asynchronous state during a wait that began at `start`: fails
/// (aborting every communicator) on an NCCL error or after the timeout.
ncclResult_t watch(ncclComm_t comm, const std::string &what,
                   Clock::time_point start) {
  ncclResult_t state = ncclInProgress;
  CHECK_NCCL(ncclCommGetAsyncError(comm, &state));
  if (state != ncclSuccess && state != ncclInProgress)
    abortAll(what + ": NCCL error " + ncclGetErrorString(state) + " (" +
             ncclGetLastError(comm) + ")");
  if (state == ncclInProgress && timedOut(start))
    abortAll(what + " " + timeoutText());
  return state;
}

/// Waits until `comm` has no operation in progress; `what` names it.
void await(ncclComm_t comm, const std::string &what) {
  auto start = Clock::now();
  while (watch(comm, what, start) != ncclSuccess)
    pause(start);
}

/// NCCL work enqueued since the host last waited for the GPU: its
/// communicator and what it is, watched (errors, the timeout) and named
/// when the host waits (autopar_cuda_synchronize).
struct Outstanding {
  ncclComm_t comm = nullptr;
  std::string what;
};
std::vector<Outstanding> &getOutstanding() {
  static std::vector<Outstanding> outstanding;
  return outstanding;
}

/// After enqueuing NCCL work on `comm`: waits until NCCL has taken it
/// (a non-blocking communicator may still be issuing it) and remembers it
/// for the next host synchronisation; the GPU runs it in stream order.
void enqueued(ncclComm_t comm, const std::string &what) {
  await(comm, what);
  std::vector<Outstanding> &outstanding = getOutstanding();
  // One entry per communicator: the latest names what is waited for.
  for (Outstanding &entry : outstanding)
    if (entry.comm == comm) {
      entry.what = what;
      return;
    }
  outstanding.push_back({comm, what});
}

ncclConfig_t nonBlocking() {
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.blocking = 0;
  return config;
}

/// The communicator of the whole job, made on first use.
ncclComm_t worldComm() {
  ncclComm_t &comm = getWorldComm();
  if (comm)
    return comm;
  ensureContext();
  const autopar::runtime::World &world = getWorld();
  ncclUniqueId id = {};
  if (world.rank == 0)
    CHECK_NCCL(ncclGetUniqueId(&id));
  std::string error = autopar::runtime::broadcastFromRankZero(
      world, &id, sizeof(id), autopar::runtime::getRendezvousTimeout());
  if (!error.empty())
    fail("rendezvous (" +
         std::string(autopar::runtime::getLauncherName(world.launcher)) +
         "): " + error);
  ncclConfig_t config = nonBlocking();
  CHECK_NCCL(
      ncclCommInitRankConfig(&comm, world.size, id, world.rank, &config));
  // Release NCCL (its threads, its GPU memory) before the driver goes.
  std::atexit([] {
    destroyGraphs();
    for (auto &[key, direction] : getDirections())
      ncclCommDestroy(direction.comm);
    getDirections().clear();
    for (auto &[key, group] : getGroupComms())
      if (group && group != getWorldComm())
        ncclCommDestroy(group);
    if (getWorldComm())
      ncclCommDestroy(getWorldComm());
    getGroupComms().clear();
    getWorldComm() = nullptr;
  });
  await(comm,
        "ncclCommInitRankConfig over " + std::to_string(world.size) + " ranks");
  return comm;
}

/// The communicator of `group` (the job's when it spans the job in order).
ncclComm_t groupComm(int64_t meshCode, int64_t axesCode,
                     const MeshGroup &group) {
  auto key = std::make_pair(meshCode, axesCode);
  auto &comms = getGroupComms();
  auto found = comms.find(key);
  if (found != comms.end())
    return found->second;
  ncclComm_t parent = worldComm();
  bool whole = static_cast<int>(group.members.size()) == getWorld().size;
  for (size_t i = 0; whole && i < group.members.size(); ++i)
    whole = group.members[i] == static_cast<int>(i);
  ncclComm_t comm = parent;
  if (!whole) {
    ncclConfig_t config = nonBlocking();
    CHECK_NCCL(ncclCommSplit(parent, static_cast<int>(group.index),
                             group.position, &comm, &config));
    await(parent, "ncclCommSplit for mesh axes " +
                      autopar::runtime::describeAxes(axesCode));
    await(comm, "ncclCommSplit for mesh axes " +
                    autopar::runtime::describeAxes(axesCode));
  }
  comms[key] = comm;
  return comm;
}

ncclDataType_t ncclType(int32_t dtype) {
  switch (dtype) {
  case 0:
    return ncclFloat32;
  case 1:
    return ncclFloat64;
  case 2:
    return ncclInt32;
  case 3:
    return ncclInt64;
  case 4:
    return ncclInt8;
  case 5:
    return ncclUint8;
  case 6:
    return ncclBfloat16;
  case 7:
    return ncclFloat16;
  }
  fail("unsupported element type code " + std::to_string(dtype));
}

ncclRedOp_t ncclReduction(int32_t op) {
  switch (op) {
  case 0:
    return ncclSum;
  case 1:
    return ncclProd;
  case 2:
    return ncclMin;
  case 3:
    return ncclMax;
  }
  fail("unsupported reduction code " + std::to_string(op));
}
#endif // AUTOPAR_HAVE_NCCL

/// What a collective is, for messages.
std::string describe(const char *name, int64_t axesCode) {
  return std::string("collective ") + name + " over mesh axes " +
         autopar::runtime::describeAxes(axesCode);
}

/// A group of one: the collective is a copy (or a reordering that is the
/// identity), done without NCCL.
bool copyAlone(const MeshGroup &group, int64_t in, int64_t out, size_t bytes) {
  if (group.members.size() != 1)
    return false;
  CUstream stream = getComputeStream();
  if (in != out)
    CHECK(cuMemcpyAsync(pointer(out), pointer(in), bytes, stream));
  return true;
}

/// A collective started on the communication stream and not yet waited
/// for (autopar_nccl_*_start): the event its completion records, its
/// communicator, what it is, and a buffer of its own to free.
struct InFlight {
  CUevent done = nullptr;
#ifdef AUTOPAR_HAVE_NCCL
  ncclComm_t comm = nullptr;
#endif
  std::string what;
  CUdeviceptr scratch = 0;
};
std::map<int64_t, InFlight> &getInFlight() {
  static std::map<int64_t, InFlight> inFlight;
  return inFlight;
}

/// The stream started collectives run on, beside the compute stream.
CUstream getCommStream() { return getStream(kCommStream); }

/// Makes the compute stream wait for started collective `handle` (on the
/// GPU: the host goes on) and forgets it; its buffer goes back to the pool
/// after it, and the next host synchronisation watches its communicator.
void waitInFlight(int64_t handle) {
  auto it = getInFlight().find(handle);
  if (it == getInFlight().end())
    fail("autopar_nccl_wait: no collective in flight with handle " +
         std::to_string(handle));
  InFlight flight = std::move(it->second);
  getInFlight().erase(it);
  CUstream compute = getComputeStream();
  CHECK(cuStreamWaitEvent(compute, flight.done, 0));
#ifdef AUTOPAR_HAVE_NCCL
  enqueued(flight.comm, flight.what);
#endif
  CHECK(cuEventDestroy(flight.done));
  if (flight.scratch)
    CHECK(cuMemFreeAsync(flight.scratch, compute));
}

/// Every started collective joined back to the compute stream: NCCL work
/// then runs one collective at a time, in program order on every rank.
void drainInFlight() {
  while (!getInFlight().empty())
    waitInFlight(getInFlight().begin()->first);
}

/// The world rank of the member at `peer` of this rank's group.
int transferPeer(int64_t peer, int64_t meshCode, int64_t axesCode,
                 const char *what) {
  int rank = 0;
  std::string error = autopar::runtime::getTransferPeer(
      getGroup(meshCode, axesCode), peer, axesCode, what, rank);
  if (!error.empty())
    fail(error);
  return rank;
}

#ifdef AUTOPAR_HAVE_NCCL
/// Enqueues a collective on the communication stream once the compute
/// stream's work so far is done, records its completion and returns its
/// handle for autopar_nccl_wait (`scratch`, if any, freed there).
int64_t startOnCommStream(ncclComm_t comm, const std::string &what,
                          CUdeviceptr scratch,
                          const std::function<void(CUstream)> &enqueue) {
  static int64_t next = 0;
  CUstream stream = getCommStream();
  waitForComputeStream(stream);
  enqueue(stream);
  await(comm, what);
  InFlight flight;
  CHECK(cuEventCreate(&flight.done, CU_EVENT_DISABLE_TIMING));
  CHECK(cuEventRecord(flight.done, stream));
  flight.comm = comm;
  flight.what = what;
  flight.scratch = scratch;
  getInFlight().emplace(++next, std::move(flight));
  return next;
}
#endif

/// What starting a collective does first: a group of one is a copy, done
/// here (std::nullopt).
std::optional<MeshGroup> beginStart(int64_t meshCode, int64_t axesCode,
                                    int64_t in, int64_t out, size_t bytes) {
  ensureContext();
  MeshGroup group = getGroup(meshCode, axesCode);
  if (copyAlone(group, in, out, bytes))
    return std::nullopt;
  return group;
}

#ifndef AUTOPAR_HAVE_NCCL
[[noreturn]] void noNCCL(const char *name) {
  fail(std::string(name) +
       " across ranks needs NCCL, and this runtime was built without it");
}
#endif
#ifdef AUTOPAR_HAVE_NCCL
/// The NCCL work the host waits for, for messages.
std::string describeOutstanding() {
  std::string text;
  for (const Outstanding &entry : getOutstanding())
    text += (text.empty() ? "" : ", ") + entry.what;
  return text;
}
#endif
} // namespace

extern "C" {

void autopar_cuda_synchronize() {
  ensureContext();
  if (getGraphState().capturing)
    fail("the host waits for the GPU while a step is being captured into a "
         "CUDA graph (a captured step cannot wait: its host code does not "
         "run when the graph is replayed); run without --cuda-graph");
  CUstream stream = getComputeStream();
#ifdef AUTOPAR_HAVE_NCCL
  std::vector<Outstanding> &outstanding = getOutstanding();
  if (!outstanding.empty()) {
    // A peer that fails or never arrives leaves the stream waiting: poll
    // it, watching the communicators, up to the collective timeout.
    // The sends' streams too: the step is done when its sends are.
    std::vector<CUstream> streams = {stream};
    for (auto &[key, direction] : getDirections())
      if (direction.busy)
        streams.push_back(direction.stream);
    auto start = Clock::now();
    while (true) {
      CUresult result = CUDA_SUCCESS;
      for (CUstream waited : streams) {
        result = cuStreamQuery(waited);
        if (result != CUDA_SUCCESS)
          break;
      }
      if (result == CUDA_SUCCESS)
        break;
      if (result != CUDA_ERROR_NOT_READY)
        fail(("waiting for the GPU (" + describeOutstanding() +
              " among its work)")
                 .c_str(),
             result);
      for (const Outstanding &entry : outstanding)
        watch(entry.comm, entry.what, start);
      if (timedOut(start))
        abortAll("rank " + std::to_string(getWorld().rank) + " waiting for " +
                 describeOutstanding() + ": " + timeoutText());
      pause(start);
    }
    outstanding.clear();
    for (auto &[key, direction] : getDirections())
      direction.busy = false;
    retireManagedFrees(/*all=*/true);
    return;
  }
#endif
  CUresult result = cuStreamSynchronize(stream);
  if (result != CUDA_SUCCESS)
    fail("waiting for the GPU (a kernel or library call since the host last "
         "waited; AUTOPAR_CUDA_BLOCKING=1 names it)",
         result);
  retireManagedFrees(/*all=*/true);
}

int64_t autopar_nccl_device_coord(int64_t meshCode, int64_t axesCode) {
  const autopar::runtime::World &world = getWorld();
  int64_t coord = 0;
  std::string error = autopar::runtime::getDeviceCoord(
      meshCode, axesCode, world.rank, world.size, coord);
  if (!error.empty())
    fail(error);
  return coord;
}

void autopar_nccl_all_reduce(int64_t in, int64_t out, int64_t count,
                             int32_t dtype, int32_t op, int64_t meshCode,
                             int64_t axesCode) {
  ensureContext();
  drainInFlight();
  MeshGroup group = getGroup(meshCode, axesCode);
  if (copyAlone(group, in, out, count * elementBytes(dtype)))
    return;
#ifdef AUTOPAR_HAVE_NCCL
  ncclComm_t comm = groupComm(meshCode, axesCode, group);
  CHECK_NCCL(ncclAllReduce(
      reinterpret_cast<const void *>(in), reinterpret_cast<void *>(out), count,
      ncclType(dtype), ncclReduction(op), comm, getComputeStream()));
  enqueued(comm, describe("all_reduce", axesCode));
#else
  noNCCL("all_reduce");
#endif
}

void autopar_nccl_all_gather(int64_t in, int64_t out, int64_t outer,
                             int64_t chunk, int32_t dtype, int64_t meshCode,
                             int64_t axesCode) {
  ensureContext();
  drainInFlight();
  MeshGroup group = getGroup(meshCode, axesCode);
  size_t row = chunk * elementBytes(dtype);
  if (copyAlone(group, in, out, outer * row))
    return;
#ifdef AUTOPAR_HAVE_NCCL
  ncclComm_t comm = groupComm(meshCode, axesCode, group);
  CUstream stream = getComputeStream();
  size_t members = group.members.size();
  // NCCL gathers [group, outer, chunk]; the result is [outer, group, chunk].
  CUdeviceptr gathered =
      outer == 1 ? pointer(out) : getScratch(0, members * outer * row);
  CHECK_NCCL(ncclAllGather(reinterpret_cast<const void *>(in),
                           reinterpret_cast<void *>(gathered), outer * chunk,
                           ncclType(dtype), comm, stream));
  await(comm, describe("all_gather", axesCode));
  if (outer != 1)
    swapOuter(pointer(out), gathered, members, outer, row, stream);
  enqueued(comm, describe("all_gather", axesCode));
#else
  noNCCL("all_gather");
#endif
}

void autopar_nccl_reduce_scatter(int64_t in, int64_t out, int64_t outer,
                                 int64_t chunk, int32_t dtype, int32_t op,
                                 int64_t meshCode, int64_t axesCode) {
  ensureContext();
  drainInFlight();
  MeshGroup group = getGroup(meshCode, axesCode);
  size_t row = chunk * elementBytes(dtype);
  if (copyAlone(group, in, out, outer * row))
    return;
#ifdef AUTOPAR_HAVE_NCCL
  ncclComm_t comm = groupComm(meshCode, axesCode, group);
  CUstream stream = getComputeStream();
  size_t members = group.members.size();
  // The input is [outer, group, chunk]; NCCL scatters [group, outer, chunk].
  CUdeviceptr packed = pointer(in);
  if (outer != 1) {
    packed = getScratch(0, members * outer * row);
    swapOuter(packed, pointer(in), outer, members, row, stream);
  }
  CHECK_NCCL(ncclReduceScatter(
      reinterpret_cast<const void *>(packed), reinterpret_cast<void *>(out),
      outer * chunk, ncclType(dtype), ncclReduction(op), comm, stream));
  enqueued(comm, describe("reduce_scatter", axesCode));
#else
  noNCCL("reduce_scatter");
#endif
}

int64_t autopar_nccl_all_reduce_start(int64_t in, int64_t out, int64_t count,
                                      int32_t dtype, int32_t op,
                                      int64_t meshCode, int64_t axesCode) {
  std::optional<MeshGroup> group =
      beginStart(meshCode, axesCode, in, out, count * elementBytes(dtype));
  if (!group)
    return 0;
#ifdef AUTOPAR_HAVE_NCCL
  ncclComm_t comm = groupComm(meshCode, axesCode, *group);
  return startOnCommStream(
      comm, describe("all_reduce", axesCode), 0, [&](CUstream stream) {
        CHECK_NCCL(ncclAllReduce(
            reinterpret_cast<const void *>(in), reinterpret_cast<void *>(out),
            count, ncclType(dtype), ncclReduction(op), comm, stream));
      });
#else
  noNCCL("all_reduce");
#endif
}

int64_t autopar_nccl_reduce_scatter_start(int64_t in, int64_t out,
                                          int64_t outer, int64_t chunk,
                                          int32_t dtype, int32_t op,
                                          int64_t meshCode, int64_t axesCode) {
  size_t row = chunk * elementBytes(dtype);
  std::optional<MeshGroup> group =
      beginStart(meshCode, axesCode, in, out, outer * row);
  if (!group)
    return 0;
#ifdef AUTOPAR_HAVE_NCCL
  ncclComm_t comm = groupComm(meshCode, axesCode, *group);
  size_t members = group->members.size();
  // The input is [outer, group, chunk]; NCCL scatters [group, outer,
  // chunk], packed into a buffer of this collective's own.
  CUdeviceptr packed = 0;
  if (outer != 1)
    packed = allocDevice(members * outer * row, getComputeStream(),
                         "a reduce_scatter");
  return startOnCommStream(
      comm, describe("reduce_scatter", axesCode), packed, [&](CUstream stream) {
        if (packed)
          swapOuter(packed, pointer(in), outer, members, row, stream);
        CHECK_NCCL(ncclReduceScatter(
            reinterpret_cast<const void *>(packed ? packed : pointer(in)),
            reinterpret_cast<void *>(out), outer * chunk, ncclType(dtype),
            ncclReduction(op), comm, stream));
      });
#else
  noNCCL("reduce_scatter");
#endif
}

int64_t autopar_nccl_all_gather_start(int64_t in, int64_t out, int64_t outer,
                                      int64_t chunk, int32_t dtype,
                                      int64_t meshCode, int64_t axesCode) {
  size_t row = chunk * elementBytes(dtype);
  std::optional<MeshGroup> group =
      beginStart(meshCode, axesCode, in, out, outer * row);
  if (!group)
    return 0;
#ifdef AUTOPAR_HAVE_NCCL
  ncclComm_t comm = groupComm(meshCode, axesCode, *group);
  size_t members = group->members.size();
  // NCCL gathers [group, outer, chunk], into a buffer of this collective's
  // own when the result is [outer, group, chunk].
  CUdeviceptr gathered = 0;
  if (outer != 1)
    gathered =
        allocDevice(members * outer * row, getComputeStream(), "an all_gather");
  return startOnCommStream(
      comm, describe("all_gather", axesCode), gathered, [&](CUstream stream) {
        CHECK_NCCL(ncclAllGather(
            reinterpret_cast<const void *>(in),
            reinterpret_cast<void *>(gathered ? gathered : pointer(out)),
            outer * chunk, ncclType(dtype), comm, stream));
        if (gathered)
          swapOuter(pointer(out), gathered, members, outer, row, stream);
      });
#else
  noNCCL("all_gather");
#endif
}

void autopar_nccl_wait(int64_t handle) {
  // 0: a group of one, copied at the start; a handle no longer in flight:
  // an NCCL call since then waited for it (drainInFlight).
  if (handle != 0 && getInFlight().count(handle))
    waitInFlight(handle);
}

void autopar_nccl_permute(int64_t in, int64_t out, int64_t count, int32_t dtype,
                          int64_t numPairs, int64_t pairs, int64_t meshCode,
                          int64_t axesCode) {
  ensureContext();
  drainInFlight();
  MeshGroup group = getGroup(meshCode, axesCode);
  size_t bytes = count * elementBytes(dtype);
  int target, source;
  autopar::runtime::getPermutePeers(reinterpret_cast<const int64_t *>(pairs),
                                    numPairs, group.position, target, source);
  CUstream stream = getComputeStream();
  // The input stays readable while the output is received or zeroed.
  CUdeviceptr send = pointer(in);
  if (in == out && target >= 0 && target != group.position) {
    send = getScratch(0, bytes);
    CHECK(cuMemcpyAsync(send, pointer(in), bytes, stream));
  }
  if (source < 0)
    CHECK(cuMemsetD8Async(pointer(out), 0, bytes, stream));
  if (source == group.position && in != out)
    CHECK(cuMemcpyAsync(pointer(out), send, bytes, stream));
  bool remote = (source >= 0 && source != group.position) ||
                (target >= 0 && target != group.position);
  if (!remote)
    return;
#ifdef AUTOPAR_HAVE_NCCL
  ncclComm_t comm = groupComm(meshCode, axesCode, group);
  ncclDataType_t type = ncclType(dtype);
  CHECK_NCCL(ncclGroupStart());
  if (target >= 0 && target != group.position)
    CHECK_NCCL(ncclSend(reinterpret_cast<const void *>(send), count, type,
                        target, comm, stream));
  if (source >= 0 && source != group.position)
    CHECK_NCCL(ncclRecv(reinterpret_cast<void *>(pointer(out)), count, type,
                        source, comm, stream));
  CHECK_NCCL(ncclGroupEnd());
  enqueued(comm, describe("permute", axesCode));
#else
  noNCCL("permute");
#endif
}

void autopar_nccl_send(int64_t in, int64_t count, int32_t dtype, int64_t peer,
                       int64_t tag, int64_t meshCode, int64_t axesCode) {
  ensureContext();
  int target = transferPeer(peer, meshCode, axesCode, "send");
  std::string what = "send (tag " + std::to_string(tag) + ") from rank " +
                     std::to_string(getWorld().rank) + " to rank " +
                     std::to_string(target);
#ifdef AUTOPAR_HAVE_NCCL
  MeshGroup group = getGroup(meshCode, axesCode);
  Direction &direction =
      getDirection(meshCode, axesCode, group.position, peer, "send");
  // The value as it is now (the program may overwrite its buffer), sent
  // on the direction's stream once the compute stream has made it; the
  // copy goes back to the pool after the send.
  size_t bytes = count * elementBytes(dtype);
  CUstream compute = getComputeStream();
  CUdeviceptr data = allocDevice(bytes, compute, "a send");
  CHECK(cuMemcpyAsync(data, pointer(in), bytes, compute));
  waitForComputeStream(direction.stream);
  CHECK_NCCL(ncclSend(reinterpret_cast<const void *>(data), count,
                      ncclType(dtype), /*peer=*/1, direction.comm,
                      direction.stream));
  enqueued(direction.comm, what);
  CHECK(cuMemFreeAsync(data, direction.stream));
  direction.busy = true;
#else
  (void)in;
  (void)count;
  (void)dtype;
  noNCCL("send");
#endif
}

void autopar_nccl_recv(int64_t out, int64_t count, int32_t dtype, int64_t peer,
                       int64_t tag, int64_t meshCode, int64_t axesCode) {
  ensureContext();
  int source = transferPeer(peer, meshCode, axesCode, "recv");
  std::string what = "recv (tag " + std::to_string(tag) + ") on rank " +
                     std::to_string(getWorld().rank) + " from rank " +
                     std::to_string(source);
#ifdef AUTOPAR_HAVE_NCCL
  MeshGroup group = getGroup(meshCode, axesCode);
  Direction &direction =
      getDirection(meshCode, axesCode, peer, group.position, "recv");
  CHECK_NCCL(ncclRecv(reinterpret_cast<void *>(pointer(out)), count,
                      ncclType(dtype), /*peer=*/0, direction.comm,
                      getComputeStream()));
  enqueued(direction.comm, what);
#else
  (void)out;
  (void)count;
  (void)dtype;
  noNCCL("recv");
#endif
}

/// Makes the communicator of one direction of transfers along `axesCode`,
/// from coordinate `from` to `to`: the lowering calls it at a program's
/// entry for every direction the program's sends use, in one order on
/// every rank (splitting is collective over all ranks).
void autopar_nccl_prepare_transfer(int64_t meshCode, int64_t axesCode,
                                   int64_t from, int64_t to) {
  ensureContext();
#ifdef AUTOPAR_HAVE_NCCL
  DirectionKey key{meshCode, axesCode, from, to};
  // Every rank takes part in the split once, the pair's two ends and the
  // others alike (only the ends keep a direction): a rank that split again
  // at the next step would wait for the ends, which do not.
  static std::set<DirectionKey> prepared;
  if (!prepared.insert(key).second)
    return;
  MeshGroup group = getGroup(meshCode, axesCode);
  bool member = group.position == from || group.position == to;
  ncclComm_t parent = worldComm(), comm = nullptr;
  ncclConfig_t config = nonBlocking();
  // One communicator per group along the axes: the sender is its rank 0,
  // the receiver its rank 1.
  CHECK_NCCL(ncclCommSplit(
      parent, member ? static_cast<int>(group.index) : NCCL_SPLIT_NOCOLOR,
      group.position == from ? 0 : 1, &comm, &config));
  std::string what = "ncclCommSplit for transfers from " +
                     std::to_string(from) + " to " + std::to_string(to) +
                     " along mesh axes " +
                     autopar::runtime::describeAxes(axesCode);
  await(parent, what);
  if (!member)
    return;
  await(comm, what);
  Direction direction;
  direction.comm = comm;
  CHECK(cuStreamCreate(&direction.stream, CU_STREAM_NON_BLOCKING));
  getDirections()[key] = direction;
#else
  (void)meshCode;
  (void)axesCode;
  (void)from;
  (void)to;
#endif
}

void autopar_nccl_flush_sends() {
  ensureContext();
  drainInFlight();
#ifdef AUTOPAR_HAVE_NCCL
  // The sends join the compute stream (on the GPU): the step is done when
  // they are, and a CUDA graph capturing the step takes them in whole
  // (every stream a capture forks must join it).
  CUstream compute = getComputeStream();
  for (auto &[key, direction] : getDirections()) {
    // (Busy: a send since the host last waited, so within this step; a
    // capture joins only the streams it forked.)
    if (!direction.busy)
      continue;
    CUevent sent = nullptr;
    CHECK(cuEventCreate(&sent, CU_EVENT_DISABLE_TIMING));
    CHECK(cuEventRecord(sent, direction.stream));
    CHECK(cuStreamWaitEvent(compute, sent, 0));
    CHECK(cuEventDestroy(sent));
  }
#endif
}

/// Makes the communicators of `meshCode`'s group over `axesCode` now: the
/// lowering calls it at a program's entry for every group the program
/// uses, in one order on every rank (pipeline stages reach their
/// collectives in different orders, and splitting a communicator is
/// collective over all ranks).
void autopar_nccl_prepare_group(int64_t meshCode, int64_t axesCode) {
  ensureContext();
#ifdef AUTOPAR_HAVE_NCCL
  MeshGroup group = getGroup(meshCode, axesCode);
  if (group.members.size() > 1)
    groupComm(meshCode, axesCode, group);
#endif
}

void autopar_nccl_all_to_all(int64_t in, int64_t out, int64_t splitOuter,
                             int64_t splitChunk, int64_t concatOuter,
                             int64_t concatChunk, int32_t dtype,
                             int64_t meshCode, int64_t axesCode) {
  ensureContext();
  drainInFlight();
  MeshGroup group = getGroup(meshCode, axesCode);
  size_t bytes = elementBytes(dtype);
  size_t piece = splitOuter * splitChunk;
  if (static_cast<size_t>(concatOuter * concatChunk) != piece)
    fail("all_to_all: inconsistent slice sizes");
  if (copyAlone(group, in, out, piece * bytes))
    return;
#ifdef AUTOPAR_HAVE_NCCL
  ncclComm_t comm = groupComm(meshCode, axesCode, group);
  CUstream stream = getComputeStream();
  size_t members = group.members.size();
  // [splitOuter, group, splitChunk] -> [group, splitOuter, splitChunk]:
  // slot j goes to member j; slot i of the received comes from member i.
  CUdeviceptr packed = pointer(in), received = pointer(out);
  if (splitOuter != 1) {
    packed = getScratch(0, members * piece * bytes);
    swapOuter(packed, pointer(in), splitOuter, members, splitChunk * bytes,
              stream);
  }
  if (concatOuter != 1)
    received = getScratch(1, members * piece * bytes);
  ncclDataType_t type = ncclType(dtype);
  CHECK_NCCL(ncclGroupStart());
  for (size_t peer = 0; peer < members; ++peer) {
    CUdeviceptr sendSlot = packed + peer * piece * bytes;
    CUdeviceptr receiveSlot = received + peer * piece * bytes;
    if (static_cast<int>(peer) == group.position) {
      CHECK(cuMemcpyAsync(receiveSlot, sendSlot, piece * bytes, stream));
      continue;
    }
    CHECK_NCCL(ncclSend(reinterpret_cast<const void *>(sendSlot), piece, type,
                        static_cast<int>(peer), comm, stream));
    CHECK_NCCL(ncclRecv(reinterpret_cast<void *>(receiveSlot), piece, type,
                        static_cast<int>(peer), comm, stream));
  }
  CHECK_NCCL(ncclGroupEnd());
  await(comm, describe("all_to_all", axesCode));
  // [group, concatOuter, concatChunk] -> [concatOuter, group, concatChunk].
  if (concatOuter != 1)
    swapOuter(pointer(out), received, members, concatOuter, concatChunk * bytes,
              stream);
  enqueued(comm, describe("all_to_all", axesCode));
#else
  noNCCL("all_to_all");
#endif
}
}

//===----------------------------------------------------------------------===//
// Convolutions through cuDNN
//===----------------------------------------------------------------------===//
//
// autopar_cuda_conv2d (autopar-convolutions-to-cudnn): cuDNN's convolution
// API (legacy in cuDNN 9, still supported), f32 with FMA math (no TF32, so
// results stay within the CPU check's tolerance) unless the inputs are
// widened 16-bit values, which TF32 tensor cores multiply exactly. Each shape's
// descriptors and algorithm are made once: the algorithm by timing every
// candidate (cuDNN's Find, on a scratch output; AUTOPAR_CUDNN_BENCHMARK=0: the
// one its heuristics rank first), the workspace kept between calls.

#ifdef AUTOPAR_HAVE_CUDNN
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
namespace {
#define CHECK_DNN(call)                                                        \
  do {                                                                         \
    cudnnStatus_t status_ = (call);                                            \
    if (status_ != CUDNN_STATUS_SUCCESS)                                       \
      failCall(#call, "cuDNN error", cudnnGetErrorString(status_));            \
  } while (false)

cudnnHandle_t getDnn() {
  static std::once_flag once;
  static cudnnHandle_t handle = nullptr;
  ensureContext();
  std::call_once(once, [] {
    CHECK_DNN(cudnnCreate(&handle));
    CHECK_DNN(cudnnSetStream(handle, getComputeStream()));
  });
  return handle;
}

/// A device buffer of at least `bytes` for cuDNN's workspace.
void *getWorkspace(size_t bytes) {
  static CUdeviceptr buffer = 0;
  static size_t size = 0;
  if (bytes == 0)
    return nullptr;
  if (size < bytes) {
    replacingKeptBuffer("cuDNN's workspace");
    // Replaced in stream order: earlier calls may still be using it.
    if (buffer)
      CHECK(cuMemFreeAsync(buffer, getComputeStream()));
    buffer = allocDevice(bytes, getComputeStream(), "cuDNN's workspace");
    getWorkspaceBytes() += bytes - size;
    size = bytes;
  }
  return reinterpret_cast<void *>(buffer);
}

/// Whether an algorithm multiplies transforms of the inputs (FFT,
/// Winograd) rather than the inputs themselves (the GEMM forms): under
/// TF32 math the transforms are rounded, so widened 16-bit inputs are
/// exact only in the GEMM forms.
bool transformsInputs(cudnnConvolutionFwdAlgo_t algo) {
  return algo == CUDNN_CONVOLUTION_FWD_ALGO_FFT ||
         algo == CUDNN_CONVOLUTION_FWD_ALGO_FFT_TILING ||
         algo == CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD ||
         algo == CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED;
}
bool transformsInputs(cudnnConvolutionBwdDataAlgo_t algo) {
  return algo == CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT ||
         algo == CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT_TILING ||
         algo == CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD ||
         algo == CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD_NONFUSED;
}
bool transformsInputs(cudnnConvolutionBwdFilterAlgo_t algo) {
  return algo == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT ||
         algo == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT_TILING ||
         algo == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_WINOGRAD_NONFUSED;
}

/// The first algorithm of a ranking (cuDNN's heuristics, or its timed
/// runs, fastest first) that can run; with `gemmOnly`, of the GEMM forms.
template <typename Perf, typename Find>
Perf pickAlgorithm(const char *what, bool gemmOnly, Find &&find) {
  Perf results[16];
  int count = 0;
  find(16, &count, results);
  for (int i = 0; i < count; ++i)
    if (results[i].status == CUDNN_STATUS_SUCCESS &&
        !(gemmOnly && transformsInputs(results[i].algo)))
      return results[i];
  fail(std::string("cuDNN has no algorithm for this ") + what +
       (gemmOnly ? " in a GEMM form (TF32 on widened 16-bit inputs)" : ""));
}

/// Workspace the timed runs may use, at most: candidates needing more are
/// not tried.
constexpr size_t kFindWorkspace = size_t(1) << 30;

/// The algorithm for one convolution: cuDNN's heuristics' first, or with
/// `timed` the fastest of cuDNN's timed runs (`find`, writing into a
/// scratch result), given a workspace of their own as large as the
/// heuristics' candidates need (1 GiB and half the free memory at most).
template <typename Perf, typename Heuristics, typename Find>
Perf chooseAlgorithm(const char *what, bool timed, bool gemmOnly,
                     Heuristics &&heuristics, Find &&find) {
  if (!timed)
    return pickAlgorithm<Perf>(what, gemmOnly, heuristics);
  Perf ranked[16];
  int count = 0;
  heuristics(16, &count, ranked);
  size_t bytes = 0;
  for (int i = 0; i < count; ++i)
    if (ranked[i].status == CUDNN_STATUS_SUCCESS &&
        !(gemmOnly && transformsInputs(ranked[i].algo)))
      bytes = std::max(bytes, ranked[i].memory);
  size_t freeBytes = 0, totalBytes = 0;
  CHECK(cuMemGetInfo(&freeBytes, &totalBytes));
  bytes = std::min({bytes, kFindWorkspace, freeBytes / 2});
  CUdeviceptr workspace =
      bytes ? allocDevice(bytes, getComputeStream(),
                          "a convolution's timed runs' workspace")
            : 0;
  Perf chosen = pickAlgorithm<Perf>(
      what, gemmOnly, [&](int max, int *found, Perf *results) {
        find(max, found, results, reinterpret_cast<void *>(workspace), bytes);
      });
  if (workspace)
    CHECK(cuMemFreeAsync(workspace, getComputeStream()));
  return chosen;
}

/// Whether convolutions pick their algorithms by timing every candidate
/// once per shape (cuDNN's Find, as PyTorch's cudnn.benchmark), the
/// default, or by cuDNN's heuristics alone (AUTOPAR_CUDNN_BENCHMARK=0).
bool benchmarkConvolutions() {
  static bool on = [] {
    const char *value = std::getenv("AUTOPAR_CUDNN_BENCHMARK");
    return !value || std::string(value) != "0";
  }();
  return on;
}

/// One convolution shape, mode and element type: its descriptors and the
/// algorithm chosen the first time (kept for the process).
struct ConvPlan {
  cudnnTensorDescriptor_t x = nullptr, y = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;
  int algo = 0;
  size_t workspace = 0;
};

std::map<std::array<int64_t, 15>, ConvPlan> &getConvPlans() {
  static std::map<std::array<int64_t, 15>, ConvPlan> plans;
  return plans;
}
} // namespace
#endif

extern "C" void autopar_cuda_conv2d(int64_t x, int64_t w, int64_t y, int64_t n,
                                    int64_t c, int64_t h, int64_t wd, int64_t f,
                                    int64_t kh, int64_t kw, int64_t padH,
                                    int64_t padW, int64_t strideH,
                                    int64_t strideW, int64_t dilationH,
                                    int64_t dilationW, int32_t mode,
                                    int32_t dtype, int32_t accumulate) {
#ifdef AUTOPAR_HAVE_CUDNN
  cudnnHandle_t handle = getDnn();
  // 16-bit data on tensor cores with f32 accumulation (cuDNN's
  // pseudo-half configurations); f32 with FMA math (no TF32), so that
  // results stay within the CPU check's tolerance; f32 buffers holding
  // widened 16-bit inputs with tensor-op math, which on f32 data is TF32:
  // its 10-bit significand holds f16's and bf16's whole, so the products
  // are exact and the sums f32, as the 16-bit configurations'.
  cudnnDataType_t data;
  switch (dtype) {
  case 0:
  case 3:
    data = CUDNN_DATA_FLOAT;
    break;
  case 1:
    data = CUDNN_DATA_HALF;
    break;
  case 2:
    data = CUDNN_DATA_BFLOAT16;
    break;
  default:
    fail("autopar_cuda_conv2d: unknown element type code " +
         std::to_string(dtype));
  }
  if (mode < 0 || mode > 2)
    fail("autopar_cuda_conv2d: unknown mode " + std::to_string(mode));
  // linalg accumulates into its output: beta = 1 (0 when the zero fill
  // before it was dropped).
  const float one = 1.0f;
  const float beta = accumulate ? 1.0f : 0.0f;
  void *xp = reinterpret_cast<void *>(x), *wp = reinterpret_cast<void *>(w),
       *yp = reinterpret_cast<void *>(y);
  std::array<int64_t, 15> key = {n,       c,         h,         wd,   f,
                                 kh,      kw,        padH,      padW, strideH,
                                 strideW, dilationH, dilationW, mode, dtype};
  auto [found, fresh] = getConvPlans().try_emplace(key);
  ConvPlan &plan = found->second;
  if (fresh) {
    CHECK_DNN(cudnnCreateTensorDescriptor(&plan.x));
    CHECK_DNN(cudnnCreateTensorDescriptor(&plan.y));
    CHECK_DNN(cudnnCreateFilterDescriptor(&plan.w));
    CHECK_DNN(cudnnCreateConvolutionDescriptor(&plan.conv));
    CHECK_DNN(cudnnSetTensor4dDescriptor(plan.x, CUDNN_TENSOR_NCHW, data, n, c,
                                         h, wd));
    CHECK_DNN(cudnnSetFilter4dDescriptor(plan.w, data, CUDNN_TENSOR_NCHW, f, c,
                                         kh, kw));
    CHECK_DNN(cudnnSetConvolution2dDescriptor(
        plan.conv, padH, padW, strideH, strideW, dilationH, dilationW,
        CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    CHECK_DNN(cudnnSetConvolutionMathType(
        plan.conv, dtype == 0 ? CUDNN_FMA_MATH : CUDNN_TENSOR_OP_MATH));
    int on = 0, of = 0, oh = 0, ow = 0;
    CHECK_DNN(cudnnGetConvolution2dForwardOutputDim(plan.conv, plan.x, plan.w,
                                                    &on, &of, &oh, &ow));
    CHECK_DNN(cudnnSetTensor4dDescriptor(plan.y, CUDNN_TENSOR_NCHW, data, on,
                                         of, oh, ow));
    // Timed runs write their result: into a scratch buffer of the
    // result's size, so that an accumulating call's output is kept.
    size_t element = data == CUDNN_DATA_FLOAT ? 4 : 2;
    size_t resultBytes = element * size_t(mode == 0 ? int64_t(on) * of * oh * ow
                                          : mode == 1 ? n * c * h * wd
                                                      : f * c * kh * kw);
    bool timed = benchmarkConvolutions();
    // Widened 16-bit inputs are exact in TF32 only where they are multiplied
    // as they are: not through FFT or Winograd transforms.
    bool gemmOnly = dtype == 3;
    CUdeviceptr scratch = timed ? allocDevice(resultBytes, getComputeStream(),
                                              "a convolution's timed runs")
                                : 0;
    void *out = reinterpret_cast<void *>(scratch);
    const cudnnHandle_t dnn = handle;
    const ConvPlan &p = plan;
    if (mode == 0) {
      auto perf = chooseAlgorithm<cudnnConvolutionFwdAlgoPerf_t>(
          "forward convolution", timed, gemmOnly,
          [&](int max, int *count, auto *results) {
            CHECK_DNN(cudnnGetConvolutionForwardAlgorithm_v7(
                dnn, p.x, p.w, p.conv, p.y, max, count, results));
          },
          [&](int max, int *count, auto *results, void *space, size_t bytes) {
            CHECK_DNN(cudnnFindConvolutionForwardAlgorithmEx(
                dnn, p.x, xp, p.w, wp, p.conv, p.y, out, max, count, results,
                space, bytes));
          });
      plan.algo = perf.algo;
      CHECK_DNN(cudnnGetConvolutionForwardWorkspaceSize(
          handle, plan.x, plan.w, plan.conv, plan.y, perf.algo,
          &plan.workspace));
    } else if (mode == 1) {
      auto perf = chooseAlgorithm<cudnnConvolutionBwdDataAlgoPerf_t>(
          "data gradient", timed, gemmOnly,
          [&](int max, int *count, auto *results) {
            CHECK_DNN(cudnnGetConvolutionBackwardDataAlgorithm_v7(
                dnn, p.w, p.y, p.conv, p.x, max, count, results));
          },
          [&](int max, int *count, auto *results, void *space, size_t bytes) {
            CHECK_DNN(cudnnFindConvolutionBackwardDataAlgorithmEx(
                dnn, p.w, wp, p.y, yp, p.conv, p.x, out, max, count, results,
                space, bytes));
          });
      plan.algo = perf.algo;
      CHECK_DNN(cudnnGetConvolutionBackwardDataWorkspaceSize(
          handle, plan.w, plan.y, plan.conv, plan.x, perf.algo,
          &plan.workspace));
    } else {
      auto perf = chooseAlgorithm<cudnnConvolutionBwdFilterAlgoPerf_t>(
          "filter gradient", timed, gemmOnly,
          [&](int max, int *count, auto *results) {
            CHECK_DNN(cudnnGetConvolutionBackwardFilterAlgorithm_v7(
                dnn, p.x, p.y, p.conv, p.w, max, count, results));
          },
          [&](int max, int *count, auto *results, void *space, size_t bytes) {
            CHECK_DNN(cudnnFindConvolutionBackwardFilterAlgorithmEx(
                dnn, p.x, xp, p.y, yp, p.conv, p.w, out, max, count, results,
                space, bytes));
          });
      plan.algo = perf.algo;
      CHECK_DNN(cudnnGetConvolutionBackwardFilterWorkspaceSize(
          handle, plan.x, plan.y, plan.conv, plan.w, perf.algo,
          &plan.workspace));
    }
    if (scratch)
      CHECK(cuMemFreeAsync(scratch, getComputeStream()));
  }
  void *workspace = getWorkspace(plan.workspace);
  switch (mode) {
  case 0:
    CHECK_DNN(cudnnConvolutionForward(
        handle, &one, plan.x, xp, plan.w, wp, plan.conv,
        static_cast<cudnnConvolutionFwdAlgo_t>(plan.algo), workspace,
        plan.workspace, &beta, plan.y, yp));
    break;
  case 1:
    CHECK_DNN(cudnnConvolutionBackwardData(
        handle, &one, plan.w, wp, plan.y, yp, plan.conv,
        static_cast<cudnnConvolutionBwdDataAlgo_t>(plan.algo), workspace,
        plan.workspace, &beta, plan.x, xp));
    break;
  default:
    CHECK_DNN(cudnnConvolutionBackwardFilter(
        handle, &one, plan.x, xp, plan.y, yp, plan.conv,
        static_cast<cudnnConvolutionBwdFilterAlgo_t>(plan.algo), workspace,
        plan.workspace, &beta, plan.w, wp));
    break;
  }
  checkpoint("autopar_cuda_conv2d (mode " + std::to_string(mode) + ")");
#else
  fail("autopar_cuda_conv2d: this runtime was built without cuDNN");
#endif
}
#ifdef AUTOPAR_HAVE_CUDNN
#pragma GCC diagnostic pop
#endif

//===----------------------------------------------------------------------===//
// Fused attention (autopar-attention-to-cudnn)
//===----------------------------------------------------------------------===//
//
// autopar_cuda_attention and autopar_cuda_attention_grad: an
// autopar.attention and its gradient as one cuDNN flash attention each
// (CUDAAttention.h: the GPU build through the cuDNN frontend, the emulated
// build on the host). Every 16-bit operand is [b, h, sequence, dim] with
// the strides given and a contiguous last dimension (the strides let the
// lowering pass the heads' views of [b, s, h * d] tensors untransposed);
// the lse is f32 [b, h, rows], contiguous.

namespace {
autopar::cuda::AttentionOperand operand(int64_t address, int64_t b, int64_t h,
                                        int64_t s) {
  autopar::cuda::AttentionOperand result;
  result.data = reinterpret_cast<void *>(address);
  result.strides[0] = b;
  result.strides[1] = h;
  result.strides[2] = s;
  return result;
}

autopar::cuda::AttentionProblem
attentionProblem(const char *name, int64_t batch, int64_t heads,
                 int64_t kvHeads, int64_t rows, int64_t keys, int64_t dim,
                 int64_t valueDim, double scale, int32_t causal, int32_t dtype,
                 int64_t rowOffset) {
  if (dtype != 1 && dtype != 2)
    fail(std::string(name) +
         ": the fused attention takes f16 or bf16 (type "
         "code " +
         std::to_string(dtype) + ")");
  if (batch <= 0 || heads <= 0 || kvHeads <= 0 || rows <= 0 || keys <= 0 ||
      dim <= 0 || valueDim <= 0)
    fail(std::string(name) + ": empty or negative sizes");
  if (heads % kvHeads != 0)
    fail(std::string(name) + ": " + std::to_string(heads) +
         " query heads do not share " + std::to_string(kvHeads) +
         " key-value heads evenly");
  if (rowOffset < 0 || rowOffset > std::numeric_limits<int32_t>::max())
    fail(std::string(name) + ": row offset " + std::to_string(rowOffset) +
         " out of range");
  return {batch,    heads, kvHeads,     rows,  keys,     dim,
          valueDim, scale, causal != 0, dtype, rowOffset};
}

#ifdef AUTOPAR_HAVE_CUDNN
std::string attentionText(const char *name,
                          const autopar::cuda::AttentionProblem &p) {
  return std::string(name) + " (" + std::to_string(p.batch) + "x" +
         std::to_string(p.heads) + " heads" +
         (p.kvHeads != p.heads
              ? " on " + std::to_string(p.kvHeads) + " key-value heads"
              : std::string()) +
         ", " + std::to_string(p.rows) + " rows, " + std::to_string(p.keys) +
         " keys, dim " + std::to_string(p.dim) + (p.causal ? ", causal" : "") +
         (p.causal && p.rowOffset > 0
              ? " from row " + std::to_string(p.rowOffset)
              : std::string()) +
         ")";
}

/// Fails with cuDNN's reason where the call could not run, else waits for
/// it where the runtime checks every call.
void finishAttention(const char *name,
                     const autopar::cuda::AttentionProblem &problem,
                     const std::string &error) {
  if (!error.empty())
    fail(attentionText(name, problem) + ": " + error +
         " (autopar-lower-to-cuda{cudnn-attention=0} decomposes it instead)");
  checkpoint(attentionText(name, problem));
}
#endif
} // namespace

extern "C" void autopar_cuda_attention(
    int64_t q, int64_t k, int64_t v, int64_t o, int64_t lse, int64_t qB,
    int64_t qH, int64_t qS, int64_t kB, int64_t kH, int64_t kS, int64_t vB,
    int64_t vH, int64_t vS, int64_t oB, int64_t oH, int64_t oS, int64_t batch,
    int64_t heads, int64_t kvHeads, int64_t rows, int64_t keys, int64_t dim,
    int64_t valueDim, double scale, int32_t causal, int32_t dtype,
    int64_t rowOffset) {
  const char *name = "autopar_cuda_attention";
  autopar::cuda::AttentionProblem problem =
      attentionProblem(name, batch, heads, kvHeads, rows, keys, dim, valueDim,
                       scale, causal, dtype, rowOffset);
#ifdef AUTOPAR_HAVE_CUDNN
  finishAttention(name, problem,
                  autopar::cuda::runAttention(
                      getDnn(), problem, operand(q, qB, qH, qS),
                      operand(k, kB, kH, kS), operand(v, vB, vH, vS),
                      operand(o, oB, oH, oS), reinterpret_cast<float *>(lse),
                      getWorkspace));
#else
  fail(std::string(name) + ": this runtime was built without cuDNN");
#endif
}

extern "C" void autopar_cuda_attention_grad(
    int64_t q, int64_t k, int64_t v, int64_t o, int64_t dO, int64_t lse,
    int64_t dQ, int64_t dK, int64_t dV, int64_t qB, int64_t qH, int64_t qS,
    int64_t kB, int64_t kH, int64_t kS, int64_t vB, int64_t vH, int64_t vS,
    int64_t oB, int64_t oH, int64_t oS, int64_t dOB, int64_t dOH, int64_t dOS,
    int64_t dQB, int64_t dQH, int64_t dQS, int64_t dKB, int64_t dKH,
    int64_t dKS, int64_t dVB, int64_t dVH, int64_t dVS, int64_t batch,
    int64_t heads, int64_t kvHeads, int64_t rows, int64_t keys, int64_t dim,
    int64_t valueDim, double scale, int32_t causal, int32_t dtype,
    int64_t rowOffset) {
  const char *name = "autopar_cuda_attention_grad";
  autopar::cuda::AttentionProblem problem =
      attentionProblem(name, batch, heads, kvHeads, rows, keys, dim, valueDim,
                       scale, causal, dtype, rowOffset);
#ifdef AUTOPAR_HAVE_CUDNN
  finishAttention(name, problem,
                  autopar::cuda::runAttentionGrad(
                      getDnn(), problem, operand(q, qB, qH, qS),
                      operand(k, kB, kH, kS), operand(v, vB, vH, vS),
                      operand(o, oB, oH, oS), operand(dO, dOB, dOH, dOS),
                      reinterpret_cast<const float *>(lse),
                      operand(dQ, dQB, dQH, dQS), operand(dK, dKB, dKH, dKS),
                      operand(dV, dVB, dVH, dVS), getWorkspace));
#else
  fail(std::string(name) + ": this runtime was built without cuDNN");
#endif
}

//===----------------------------------------------------------------------===//
// Link calibration (autopar-calibrate -n N)
//===----------------------------------------------------------------------===//

extern "C" int32_t autopar_cuda_rank() { return getWorld().rank; }

extern "C" int32_t autopar_cuda_calibrate_links(AutoparLinkCalibration *result,
                                                int32_t repeat) {
  *result = AutoparLinkCalibration();
  const autopar::runtime::World &world = getWorld();
  result->ranks = world.size;
  if (world.size < 2)
    return 0;
#ifdef AUTOPAR_HAVE_NCCL
  // Several nodes when the launcher says the node holds fewer ranks.
  int local = world.size;
  for (const char *name : {"LOCAL_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_SIZE",
                           "MPI_LOCALNRANKS", "SLURM_NTASKS_PER_NODE"})
    if (const char *value = std::getenv(name)) {
      local = std::atoi(value);
      break;
    }
  if (const char *nodes = std::getenv("SLURM_NNODES"))
    if (std::atoi(nodes) > 1)
      local = 0;
  result->singleNode = local >= world.size;
  ncclComm_t comm = worldComm();
  CUstream stream = getComputeStream();
  size_t largest = size_t(256) << 20;
  CUdeviceptr buffer = getScratch(0, largest);
  CHECK(cuMemsetD8Async(buffer, 0, largest, stream));
  CUevent start, stop;
  CHECK(cuEventCreate(&start, CU_EVENT_DEFAULT));
  CHECK(cuEventCreate(&stop, CU_EVENT_DEFAULT));
  for (size_t bytes = 8; bytes <= largest; bytes *= 8) {
    auto allReduce = [&] {
      CHECK_NCCL(ncclAllReduce(reinterpret_cast<const void *>(buffer),
                               reinterpret_cast<void *>(buffer), bytes / 4,
                               ncclFloat32, ncclSum, comm, stream));
      await(comm, "calibration all_reduce");
    };
    // Warm up, and time from the GPU's side without a host wait in
    // between, so that ranks leaving a host wait at different moments do
    // not count.
    allReduce();
    allReduce();
    CHECK(cuEventRecord(start, stream));
    for (int i = 0; i < repeat; ++i)
      allReduce();
    CHECK(cuEventRecord(stop, stream));
    enqueued(comm, "calibration all_reduce");
    autopar_cuda_synchronize();
    float ms = 0;
    CHECK(cuEventElapsedTime(&ms, start, stop));
    int index = result->count++;
    result->sizeBytes[index] = static_cast<int64_t>(bytes);
    result->seconds[index] = ms * 1e-3 / repeat;
    if (bytes * 8 > largest && bytes != largest)
      bytes = largest / 8; // end on the largest size
  }
  CHECK(cuEventDestroy(start));
  CHECK(cuEventDestroy(stop));
  return 1;
#else
  noNCCL("link calibration");
#endif
}

//===----------------------------------------------------------------------===//
// GEMM with a bias (+ReLU) epilogue through cuBLASLt
//===----------------------------------------------------------------------===//

namespace {
#define CHECK_LT(call)                                                         \
  do {                                                                         \
    cublasStatus_t status_ = (call);                                           \
    if (status_ != CUBLAS_STATUS_SUCCESS)                                      \
      failCall(#call, cublasLtGetStatusName(status_),                          \
               cublasLtGetStatusString(status_));                              \
  } while (false)

cublasLtHandle_t getLt() {
  static std::once_flag once;
  static cublasLtHandle_t handle = nullptr;
  ensureContext();
  std::call_once(once, [] { CHECK_LT(cublasLtCreate(&handle)); });
  return handle;
}

/// cuBLASLt's workspace, kept between calls.
void *getLtWorkspace(size_t bytes) {
  static CUdeviceptr buffer = 0;
  if (!buffer && bytes) {
    replacingKeptBuffer("cuBLASLt's workspace");
    buffer = allocDevice(bytes, getComputeStream(), "cuBLASLt's workspace");
    getWorkspaceBytes() += bytes;
  }
  return reinterpret_cast<void *>(buffer);
}
} // namespace

/// One cuBLASLt call, row-major D[m, n] = epilogue(A B + C + bias[n]),
/// with `aux` [m, n] (the sum before the activation) when the epilogue
/// writes or reads one; a ReLU's (`bitmask`) is a bit an element, each
/// row of D padded to a multiple of 128 bits (Analysis/Fusion.h,
/// getReluMaskBytes, which sizes it).
static void runGemmEpilogue(int64_t a, int64_t b, int64_t c, int64_t d,
                            int64_t bias, int64_t aux, int64_t m, int64_t n,
                            int64_t k, int32_t transA, int32_t transB,
                            cublasLtEpilogue_t epilogue, int32_t dtype,
                            int32_t accumulate, const char *name,
                            bool bitmask = false) {
  // Row-major D[m, n] = act(A B + C + bias[n]) is column-major
  // D^T = act(B^T A^T + C^T + bias), bias over D^T's rows (DeviceLayout.h).
  cublasLtHandle_t handle = getLt();
  autopar::runtime::ColumnMajorGemm gemm =
      autopar::runtime::mapRowMajorGemm(m, n, k, transA, transB);
  const void *first = reinterpret_cast<const void *>(gemm.firstIsB ? b : a);
  const void *second = reinterpret_cast<const void *>(gemm.firstIsB ? a : b);
  cublasLtMatmulDesc_t desc;
  // f32 compute and scaling (no TF32); 16-bit data on tensor cores.
  cudaDataType type = dataType(dtype, name);
  CHECK_LT(cublasLtMatmulDescCreate(&desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
  cublasOperation_t opFirst = gemm.transFirst ? CUBLAS_OP_T : CUBLAS_OP_N;
  cublasOperation_t opSecond = gemm.transSecond ? CUBLAS_OP_T : CUBLAS_OP_N;
  const void *biasPointer = reinterpret_cast<const void *>(bias);
  CHECK_LT(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSA,
                                          &opFirst, sizeof(opFirst)));
  CHECK_LT(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSB,
                                          &opSecond, sizeof(opSecond)));
  CHECK_LT(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_EPILOGUE,
                                          &epilogue, sizeof(epilogue)));
  if (bias)
    CHECK_LT(cublasLtMatmulDescSetAttribute(desc,
                                            CUBLASLT_MATMUL_DESC_BIAS_POINTER,
                                            &biasPointer, sizeof(biasPointer)));
  if (aux) {
    // The aux matrix as D^T is stored: its leading dimension D's (n), in
    // elements (bits for a bitmask, which cuBLASLt wants a multiple of
    // 128).
    void *auxPointer = reinterpret_cast<void *>(aux);
    int64_t auxLd = bitmask ? (gemm.ldc + 127) / 128 * 128 : gemm.ldc;
    CHECK_LT(cublasLtMatmulDescSetAttribute(
        desc, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER, &auxPointer,
        sizeof(auxPointer)));
    CHECK_LT(cublasLtMatmulDescSetAttribute(
        desc, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD, &auxLd, sizeof(auxLd)));
  }
  // Layouts as stored (column-major rows x columns, leading dimension).
  cublasLtMatrixLayout_t firstLayout, secondLayout, resultLayout;
  CHECK_LT(cublasLtMatrixLayoutCreate(&firstLayout, type, gemm.firstRows(),
                                      gemm.firstColumns(), gemm.ldFirst));
  CHECK_LT(cublasLtMatrixLayoutCreate(&secondLayout, type, gemm.secondRows(),
                                      gemm.secondColumns(), gemm.ldSecond));
  CHECK_LT(cublasLtMatrixLayoutCreate(&resultLayout, type, gemm.m, gemm.n,
                                      gemm.ldc));
  constexpr size_t kWorkspace = size_t(32) << 20;
  cublasLtMatmulPreference_t preference;
  CHECK_LT(cublasLtMatmulPreferenceCreate(&preference));
  CHECK_LT(cublasLtMatmulPreferenceSetAttribute(
      preference, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &kWorkspace,
      sizeof(kWorkspace)));
  cublasLtMatmulHeuristicResult_t heuristic = {};
  int found = 0;
  CHECK_LT(cublasLtMatmulAlgoGetHeuristic(
      handle, desc, firstLayout, secondLayout, resultLayout, resultLayout,
      preference, 1, &heuristic, &found));
  if (found == 0)
    fail("cuBLASLt has no algorithm for a " + std::to_string(m) + "x" +
         std::to_string(n) + "x" + std::to_string(k) + " product with " + name +
         "'s epilogue");
  const float one = 1.0f;
  const float beta = accumulate ? 1.0f : 0.0f; // C read or not
  CHECK_LT(cublasLtMatmul(
      handle, desc, &one, first, firstLayout, second, secondLayout, &beta,
      reinterpret_cast<void *>(c), resultLayout, reinterpret_cast<void *>(d),
      resultLayout, &heuristic.algo, getLtWorkspace(kWorkspace), kWorkspace,
      getComputeStream()));
  CHECK_LT(cublasLtMatmulPreferenceDestroy(preference));
  CHECK_LT(cublasLtMatrixLayoutDestroy(resultLayout));
  CHECK_LT(cublasLtMatrixLayoutDestroy(secondLayout));
  CHECK_LT(cublasLtMatrixLayoutDestroy(firstLayout));
  CHECK_LT(cublasLtMatmulDescDestroy(desc));
  checkpoint(std::string(name) + " (" + std::to_string(m) + "x" +
             std::to_string(n) + "x" + std::to_string(k) + ")");
}

extern "C" void autopar_cuda_gemm_epilogue(int64_t a, int64_t b, int64_t c,
                                           int64_t d, int64_t bias, int64_t m,
                                           int64_t n, int64_t k, int32_t transA,
                                           int32_t transB, int32_t activation,
                                           int32_t dtype, int32_t accumulate) {
  // The activation as autopar-contractions-to-cublas numbers it
  // (EpilogueActivation): none, ReLU, GELU (cuBLASLt's is the tanh form).
  // A null `bias`: the epilogue without one.
  cublasLtEpilogue_t epilogue;
  switch (activation) {
  case 0:
    epilogue = bias ? CUBLASLT_EPILOGUE_BIAS : CUBLASLT_EPILOGUE_DEFAULT;
    break;
  case 1:
    epilogue = bias ? CUBLASLT_EPILOGUE_RELU_BIAS : CUBLASLT_EPILOGUE_RELU;
    break;
  case 2:
    epilogue = bias ? CUBLASLT_EPILOGUE_GELU_BIAS : CUBLASLT_EPILOGUE_GELU;
    break;
  default:
    fail("autopar_cuda_gemm_epilogue: unknown activation " +
         std::to_string(activation));
  }
  runGemmEpilogue(a, b, c, d, bias, /*aux=*/0, m, n, k, transA, transB,
                  epilogue, dtype, accumulate, "autopar_cuda_gemm_epilogue");
}

extern "C" void autopar_cuda_gemm_gelu_aux(int64_t a, int64_t b, int64_t c,
                                           int64_t d, int64_t bias, int64_t aux,
                                           int64_t m, int64_t n, int64_t k,
                                           int32_t transA, int32_t transB,
                                           int32_t dtype, int32_t accumulate) {
  if (!bias || !aux)
    fail("autopar_cuda_gemm_gelu_aux: needs a bias and an aux buffer");
  runGemmEpilogue(a, b, c, d, bias, aux, m, n, k, transA, transB,
                  CUBLASLT_EPILOGUE_GELU_AUX_BIAS, dtype, accumulate,
                  "autopar_cuda_gemm_gelu_aux");
}

extern "C" void autopar_cuda_gemm_dgelu(int64_t a, int64_t b, int64_t d,
                                        int64_t biasGradient, int64_t aux,
                                        int64_t m, int64_t n, int64_t k,
                                        int32_t transA, int32_t transB,
                                        int32_t dtype) {
  // D = (A B) * GELU'(aux); with a bias gradient buffer, its sum over D's
  // rows (row-major: over m, one value per column n) too. cuBLASLt writes
  // the bias gradient through the bias pointer.
  if (!aux)
    fail("autopar_cuda_gemm_dgelu: needs the GELU's input (aux)");
  runGemmEpilogue(a, b, d, d, biasGradient, aux, m, n, k, transA, transB,
                  biasGradient ? CUBLASLT_EPILOGUE_DGELU_BGRAD
                               : CUBLASLT_EPILOGUE_DGELU,
                  dtype, /*accumulate=*/0, "autopar_cuda_gemm_dgelu");
}

extern "C" void autopar_cuda_gemm_relu_aux(int64_t a, int64_t b, int64_t c,
                                           int64_t d, int64_t bias,
                                           int64_t mask, int64_t m, int64_t n,
                                           int64_t k, int32_t transA,
                                           int32_t transB, int32_t dtype,
                                           int32_t accumulate) {
  // D = relu(A B + C + bias) and the bitmask of where it is positive,
  // which autopar_cuda_gemm_drelu reads.
  if (!mask)
    fail("autopar_cuda_gemm_relu_aux: needs a mask buffer");
  runGemmEpilogue(a, b, c, d, bias, mask, m, n, k, transA, transB,
                  bias ? CUBLASLT_EPILOGUE_RELU_AUX_BIAS
                       : CUBLASLT_EPILOGUE_RELU_AUX,
                  dtype, accumulate, "autopar_cuda_gemm_relu_aux",
                  /*bitmask=*/true);
}

extern "C" void autopar_cuda_gemm_drelu(int64_t a, int64_t b, int64_t d,
                                        int64_t biasGradient, int64_t mask,
                                        int64_t m, int64_t n, int64_t k,
                                        int32_t transA, int32_t transB,
                                        int32_t dtype) {
  // D = (A B) where the forward's sum was positive, else 0; with a bias
  // gradient buffer, D summed over its rows too.
  if (!mask)
    fail("autopar_cuda_gemm_drelu: needs the ReLU's mask");
  runGemmEpilogue(a, b, d, d, biasGradient, mask, m, n, k, transA, transB,
                  biasGradient ? CUBLASLT_EPILOGUE_DRELU_BGRAD
                               : CUBLASLT_EPILOGUE_DRELU,
                  dtype, /*accumulate=*/0, "autopar_cuda_gemm_drelu",
                  /*bitmask=*/true);
}

//===----------------------------------------------------------------------===//
// CUDA graphs
//===----------------------------------------------------------------------===//
//
// A function autopar-capture-graphs wrapped (a training step whose work is
// all on the compute stream) passes its buffers' addresses, one
// autopar_cuda_graph_key call each, then asks autopar_cuda_graph_begin what
// to do. Per key (the function and those addresses): the first call runs
// as usual (the libraries choose their algorithms and size their
// workspaces, the kernels' modules load); the second is captured into a
// graph (cuStreamBeginCapture), instantiated and launched at
// autopar_cuda_graph_end; every later call launches that graph and skips
// the function's host code. A kept buffer replaced since (a workspace that
// grew) makes the graph out of date: it is captured again. The emulator
// runs captured work as it is captured and cannot replay a graph: there
// every call after the first is captured anew.

namespace {
#ifdef AUTOPAR_CUDA_EMULATED
constexpr bool kCanReplay = false;
#else
constexpr bool kCanReplay = true;
#endif

struct Graph {
  CUgraphExec exec = nullptr;
  uint64_t generation = 0;
#ifdef AUTOPAR_HAVE_NCCL
  /// The NCCL work in it, watched at the host's next wait after a launch.
  std::vector<Outstanding> outstanding;
#endif
};
struct Graphs {
  /// The key autopar_cuda_graph_key calls are building.
  std::vector<int64_t> pending;
  /// The key being captured, and how much NCCL work was outstanding when
  /// its capture began.
  std::vector<int64_t> capturing;
  size_t outstandingBefore = 0;
  std::map<std::vector<int64_t>, Graph> graphs;
  /// Calls run without a graph, per key.
  std::map<std::vector<int64_t>, int64_t> runs;
  int64_t captures = 0, replays = 0;
};
Graphs &getGraphs() {
  static Graphs graphs;
  return graphs;
}

/// Launches `graph` on the compute stream; running out of memory for the
/// graph's own buffers (mapped at its first launch) is an error naming it.
void launchGraph(CUgraphExec graph, const char *name) {
  CUresult result = cuGraphLaunch(graph, getComputeStream());
  if (result == CUDA_ERROR_OUT_OF_MEMORY) {
    size_t free = 0, total = 0;
    cuMemGetInfo(&free, &total);
    fail(std::string("out of GPU memory launching the CUDA graph of @") + name +
         " (its buffers are its own, beside the pool's " +
         std::to_string(total - free) +
         " bytes in use); run without "
         "--cuda-graph");
  }
  if (result != CUDA_SUCCESS)
    fail((std::string("launching the CUDA graph of @") + name).c_str(), result);
}

/// What captured library calls need of their handles: cuBLAS a workspace
/// of its own (it would otherwise allocate one inside the capture), from a
/// wrapped step's first call on, so that the run as is and the captured
/// one choose the same kernels.
void prepareLibrariesForCapture() {
  static bool prepared = false;
  if (prepared)
    return;
  prepared = true;
  constexpr size_t kBlasWorkspace = size_t(32) << 20;
  replacingKeptBuffer("cuBLAS's workspace");
  CUdeviceptr workspace =
      allocDevice(kBlasWorkspace, getComputeStream(), "cuBLAS's workspace");
  getWorkspaceBytes() += kBlasWorkspace;
  CHECK_BLAS(cublasSetWorkspace(getBlas(), reinterpret_cast<void *>(workspace),
                                kBlasWorkspace));
}

enum GraphAction : int32_t { kRunAsIs = 0, kCapture = 1, kReplayed = 2 };
} // namespace

extern "C" void autopar_cuda_graph_key(int64_t address) {
  getGraphs().pending.push_back(address);
}

extern "C" int32_t autopar_cuda_graph_begin(const char *name) {
  ensureContext();
  Graphs &graphs = getGraphs();
  GraphState &state = getGraphState();
  std::vector<int64_t> key = std::move(graphs.pending);
  graphs.pending.clear();
  key.insert(key.begin(),
             static_cast<int64_t>(reinterpret_cast<intptr_t>(name)));
  if (state.capturing)
    fail(std::string("@") + name +
         " called while another step is being captured into a CUDA graph");
  // Blocking mode waits after every call: nothing to capture.
  if (isBlocking())
    return kRunAsIs;
  prepareLibrariesForCapture();
  if (auto found = graphs.graphs.find(key); found != graphs.graphs.end()) {
#ifdef AUTOPAR_HAVE_NCCL
    // Every rank must capture the same collectives: a recapture on one
    // rank alone would hang them.
    if (found->second.generation != state.generation &&
        !found->second.outstanding.empty())
      fail(std::string("a library workspace or collective buffer grew after "
                       "@") +
           name +
           " was captured into a CUDA graph with NCCL work in it; "
           "capturing it again would need every rank to; run without "
           "--cuda-graph");
#endif
    if (kCanReplay && found->second.generation == state.generation) {
      launchGraph(found->second.exec, name);
#ifdef AUTOPAR_HAVE_NCCL
      for (const Outstanding &entry : found->second.outstanding)
        enqueued(entry.comm, entry.what);
#endif
      ++graphs.replays;
      return kReplayed;
    }
    CHECK(cuGraphExecDestroy(found->second.exec));
    graphs.graphs.erase(found);
  }
  if (graphs.runs[key]++ == 0)
    return kRunAsIs;
  // Collectives started before the capture join the compute stream
  // before it (a capture may wait only on its own work).
  drainInFlight();
#ifdef AUTOPAR_HAVE_NCCL
  graphs.outstandingBefore = getOutstanding().size();
#endif
  state.allocated.clear();
  CUresult result = cuStreamBeginCapture(getComputeStream(),
                                         CU_STREAM_CAPTURE_MODE_THREAD_LOCAL);
  if (result != CUDA_SUCCESS)
    fail((std::string("capturing @") + name + " into a CUDA graph").c_str(),
         result);
  state.capturing = true;
  graphs.capturing = std::move(key);
  return kCapture;
}

extern "C" void autopar_cuda_graph_end(const char *name) {
  GraphState &state = getGraphState();
  if (!state.capturing)
    return; // run as is
  Graphs &graphs = getGraphs();
  CUstream stream = getComputeStream();
  // Every stream the capture forked must join it before it ends: the
  // collectives started on the communication stream join the compute
  // stream here if the step did not wait for them.
  drainInFlight();
  CUgraph graph = nullptr;
  CUresult result = cuStreamEndCapture(stream, &graph);
  state.capturing = false;
  if (result != CUDA_SUCCESS)
    fail((std::string("capturing @") + name +
          " into a CUDA graph (an operation in it cannot be captured; run "
          "without --cuda-graph)")
             .c_str(),
         result);
  state.allocated.clear();
  Graph entry;
  entry.generation = state.generation;
  // A buffer the graph allocates and does not free (none should) is freed
  // before its next launch.
  CHECK(cuGraphInstantiate(&entry.exec, graph,
                           CUDA_GRAPH_INSTANTIATE_FLAG_AUTO_FREE_ON_LAUNCH));
  CHECK(cuGraphDestroy(graph));
  // The graph's buffers are its own memory: what the pool kept of the
  // step's first run goes back to the device first.
  CHECK(cuStreamSynchronize(stream));
  CHECK(cuMemPoolTrimTo(getPool(), 0));
  launchGraph(entry.exec, name);
#ifdef AUTOPAR_HAVE_NCCL
  const std::vector<Outstanding> &outstanding = getOutstanding();
  entry.outstanding.assign(
      outstanding.begin() +
          std::min(graphs.outstandingBefore, outstanding.size()),
      outstanding.end());
#endif
  graphs.graphs[std::move(graphs.capturing)] = std::move(entry);
  graphs.capturing.clear();
  ++graphs.captures;
}

namespace {
void destroyGraphs() {
  for (auto &[key, graph] : getGraphs().graphs)
    cuGraphExecDestroy(graph.exec);
  getGraphs().graphs.clear();
}
} // namespace

extern "C" int64_t autopar_cuda_graph_captures() {
  return getGraphs().captures;
}

extern "C" int64_t autopar_cuda_graph_replays() { return getGraphs().replays; }
