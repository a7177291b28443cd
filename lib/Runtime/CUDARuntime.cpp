//===- CUDARuntime.cpp - what CUDA programs from autopar call -------------===//

#include "autopar/Runtime/CUDARuntime.h"

#include <cublas_v2.h>
#include <cuda.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>

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

[[noreturn]] void fail(const char *call, CUresult result) {
  const char *name = nullptr, *text = nullptr;
  cuGetErrorName(result, &name);
  cuGetErrorString(result, &text);
  std::fprintf(stderr, "autopar CUDA runtime: rank %d: %s failed: %s (%s)\n",
               getRank(), call, name ? name : "unknown error",
               text ? text : "no description");
  std::fflush(stderr);
  std::exit(1);
}

#define CHECK(call)                                                            \
  do {                                                                         \
    CUresult result_ = (call);                                                 \
    if (result_ != CUDA_SUCCESS)                                               \
      fail(#call, result_);                                                    \
  } while (false)

[[noreturn]] void failBlas(const char *call, cublasStatus_t status) {
  std::fprintf(stderr, "autopar CUDA runtime: rank %d: %s failed: %s (%s)\n",
               getRank(), call, cublasGetStatusName(status),
               cublasGetStatusString(status));
  std::fflush(stderr);
  std::exit(1);
}

#define CHECK_BLAS(call)                                                       \
  do {                                                                         \
    cublasStatus_t status_ = (call);                                           \
    if (status_ != CUBLAS_STATUS_SUCCESS)                                      \
      failBlas(#call, status_);                                                \
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
    if (count == 0) {
      std::fprintf(stderr, "autopar CUDA runtime: rank %d: no CUDA device\n",
                   getRank());
      std::exit(1);
    }
    int ordinal = defaultDevice >= 0 ? defaultDevice : getLocalRank() % count;
    CUdevice device;
    CHECK(cuDeviceGet(&device, ordinal));
    CHECK(cuDevicePrimaryCtxRetain(&context, device));
    defaultDevice = ordinal;
  });
  CHECK(cuCtxSetCurrent(context));
}

/// This process's cuBLAS handle, made on first use.
cublasHandle_t getBlas() {
  static std::once_flag once;
  static cublasHandle_t handle = nullptr;
  ensureContext();
  std::call_once(once, [] { CHECK_BLAS(cublasCreate(&handle)); });
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
  CHECK(cuLaunchKernel(static_cast<CUfunction>(function), gridX, gridY, gridZ,
                       blockX, blockY, blockZ, sharedMemBytes,
                       static_cast<CUstream>(stream), params, extra));
}

void *mgpuStreamCreate() {
  ensureContext();
  CUstream stream = nullptr;
  CHECK(cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING));
  return stream;
}

void mgpuStreamDestroy(void *stream) {
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
  if (isHostShared)
    CHECK(cuMemAllocManaged(&pointer, bytes, CU_MEM_ATTACH_GLOBAL));
  else
    CHECK(cuMemAlloc(&pointer, bytes));
  return reinterpret_cast<void *>(pointer);
}

void mgpuMemFree(void *ptr, void * /*stream*/) {
  if (!ptr)
    return;
  ensureContext();
  CHECK(cuMemFree(reinterpret_cast<CUdeviceptr>(ptr)));
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

void autopar_cuda_free(int64_t address) {
  mgpuMemFree(reinterpret_cast<void *>(address), nullptr);
}

void autopar_cuda_gemm(int64_t a, int64_t b, int64_t c, int64_t m, int64_t n,
                       int64_t k, int64_t batch, int32_t transA,
                       int32_t transB) {
  // Row-major C[m, n] += A B is column-major C^T = B^T A^T: B comes first.
  cublasHandle_t handle = getBlas();
  const float one = 1.0f;
  cublasOperation_t opB = transB ? CUBLAS_OP_T : CUBLAS_OP_N;
  cublasOperation_t opA = transA ? CUBLAS_OP_T : CUBLAS_OP_N;
  int64_t ldb = transB ? k : n, lda = transA ? m : k;
  CHECK_BLAS(cublasSgemmStridedBatched(
      handle, opB, opA, static_cast<int>(n), static_cast<int>(m),
      static_cast<int>(k), &one, reinterpret_cast<const float *>(b),
      static_cast<int>(ldb), k * n, reinterpret_cast<const float *>(a),
      static_cast<int>(lda), m * k, &one, reinterpret_cast<float *>(c),
      static_cast<int>(n), m * n, static_cast<int>(batch)));
  // The kernels run on their own streams and the host reads managed
  // memory: finish before returning.
  CHECK(cuCtxSynchronize());
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
    CHECK(cuEventRecord(start, nullptr));
    for (int i = 0; i < times; ++i)
      work();
    CHECK(cuEventRecord(stop, nullptr));
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
    int index = result->gemmCount++;
    result->gemmSizes[index] = n;
    result->gemmSeconds[index] =
        time(n >= 4096 ? std::min(repeat, 3) : repeat, [&] {
          autopar_cuda_gemm(reinterpret_cast<int64_t>(a),
                            reinterpret_cast<int64_t>(b),
                            reinterpret_cast<int64_t>(c), n, n, n, 1, 0, 0);
        });
    mgpuMemFree(a, nullptr);
    mgpuMemFree(b, nullptr);
    mgpuMemFree(c, nullptr);
  }
  result->copyBytes = 256u << 20;
  void *from = mgpuMemAlloc(result->copyBytes, nullptr, false);
  void *to = mgpuMemAlloc(result->copyBytes, nullptr, false);
  result->copySeconds = time(repeat, [&] {
    CHECK(cuMemcpyDtoD(reinterpret_cast<CUdeviceptr>(to),
                       reinterpret_cast<CUdeviceptr>(from), result->copyBytes));
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
                         nullptr, nullptr, nullptr));
  });
  mgpuModuleUnload(module);
  CHECK(cuEventDestroy(start));
  CHECK(cuEventDestroy(stop));
}

int32_t autopar_cuda_device() {
  ensureContext();
  return defaultDevice;
}
}
