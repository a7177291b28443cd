//===- CUDAEmulator.cpp - the CUDA libraries on the host, for checking ----===//
//
// Host implementations of the part of the CUDA driver, cuBLAS, cuBLASLt,
// cuDNN and NCCL that lib/Runtime/CUDARuntime.cpp calls, with the same
// names and signatures (from the toolkit's headers), so that the CUDA
// runtime built against them (libautopar_cuda_emulated_runtime) runs the
// programs autopar-lower-to-cuda{emulate=1} builds on a machine without a
// GPU: autopar-run --backend=cuda --emulate-gpu. Every call runs at once,
// in program order; "device" memory is host memory, filled with NaN bytes
// when allocated (a kernel or library call that reads what nothing wrote
// shows up as NaN); a free of an address that is not a live allocation
// fails. The libraries compute as documented (column-major BLAS, NCHW
// cross-correlation, NCCL's rank order), summing in f32 in the order the
// CPU path's loops do (so that a difference is the program's, not the
// summation order's) and rounding to the data type at the end. NCCL's
// communicators are MPI communicators (the job must be an MPI job, as
// autopar-run's is).
//
// This checks what autopar generates and how its runtime drives the
// libraries, not the libraries or the GPU: timing, concurrency between
// streams, and memory limits are not emulated (docs/cuda.md, "Emulation
// on the CPU").
//
//===----------------------------------------------------------------------===//

#include "CUDAAttention.h"

#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda.h>
#include <cudnn.h>
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>
#include <nccl.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <new>
#include <optional>
#include <string>
#include <vector>

// The handles the headers leave opaque.
struct CUctx_st {};
struct CUstream_st {
  /// Sends enqueued on this stream and not known to be complete (their
  /// buffers' stream-ordered frees wait for them).
  std::vector<MPI_Request> sends;
  std::vector<CUdeviceptr> frees;
};
struct CUevent_st {
  double seconds = 0;
};
struct CUmemPoolHandle_st {};
/// A captured graph: its work ran as it was captured (kernels are host
/// code here, not launches the emulator could record), so its first launch
/// has nothing left to do and a second cannot be emulated.
struct CUgraph_st {};
struct CUgraphExec_st {
  bool launched = false;
};
struct cublasContext {};
struct cublasLtContext {};
struct cudnnContext {};
struct cudnnTensorStruct {
  cudnnDataType_t type = CUDNN_DATA_FLOAT;
  int n = 0, c = 0, h = 0, w = 0;
};
struct cudnnFilterStruct {
  cudnnDataType_t type = CUDNN_DATA_FLOAT;
  int k = 0, c = 0, h = 0, w = 0;
};
struct cudnnConvolutionStruct {
  int padH = 0, padW = 0, strideH = 1, strideW = 1, dilationH = 1,
      dilationW = 1;
  /// Whether f32 data is multiplied on TF32 tensor cores: every math type
  /// but CUDNN_FMA_MATH allows it on the GPUs autopar targets (cuDNN's
  /// default included), so the emulator rounds f32 operands to TF32 then.
  bool tf32 = true;
};
struct ncclComm {
  MPI_Comm comm = MPI_COMM_NULL;
  int rank = 0, size = 1;
  /// Sends and receives issued and not yet complete: a non-blocking
  /// communicator's operations in progress (ncclCommGetAsyncError says
  /// ncclInProgress until they complete).
  std::vector<MPI_Request> pending;
};

namespace {

[[noreturn]] void emulatorFail(const char *what) {
  std::fprintf(stderr, "autopar CUDA emulator: %s\n", what);
  std::fflush(stderr);
  std::exit(1);
}

//===--------------------------------------------------------------------===//
// Memory
//===--------------------------------------------------------------------===//

struct Allocation {
  size_t bytes = 0;
  bool managed = false;
};

std::map<uintptr_t, Allocation> &getAllocations() {
  static std::map<uintptr_t, Allocation> allocations;
  return allocations;
}

size_t &getHeld() {
  static size_t held = 0;
  return held;
}

/// The stream-ordered pool's bytes in use (its allocations; not managed
/// memory) and their high watermark, as the pool's attributes report them.
struct PoolUse {
  size_t used = 0, high = 0;
};
PoolUse &getPoolUse() {
  static PoolUse use;
  return use;
}

CUresult allocate(CUdeviceptr *pointer, size_t bytes, bool managed) {
  if (!pointer)
    return CUDA_ERROR_INVALID_VALUE;
  size_t size = bytes ? bytes : 1;
  void *memory = std::malloc(size);
  if (!memory)
    return CUDA_ERROR_OUT_OF_MEMORY;
  // NaN in every float type, -1 in every integer type: what nothing wrote
  // is visible when read.
  std::memset(memory, 0xff, size);
  uintptr_t address = reinterpret_cast<uintptr_t>(memory);
  getAllocations()[address] = {size, managed};
  getHeld() += size;
  if (!managed) {
    PoolUse &pool = getPoolUse();
    pool.used += size;
    pool.high = std::max(pool.high, pool.used);
  }
  *pointer = static_cast<CUdeviceptr>(address);
  return CUDA_SUCCESS;
}

CUresult release(CUdeviceptr pointer) {
  auto &allocations = getAllocations();
  auto it = allocations.find(static_cast<uintptr_t>(pointer));
  if (it == allocations.end())
    return CUDA_ERROR_INVALID_VALUE;
  getHeld() -= it->second.bytes;
  if (!it->second.managed)
    getPoolUse().used -= it->second.bytes;
  allocations.erase(it);
  std::free(reinterpret_cast<void *>(pointer));
  return CUDA_SUCCESS;
}

void *at(CUdeviceptr pointer) { return reinterpret_cast<void *>(pointer); }

/// Whether `stream`'s sends have completed (waiting for them with
/// `wait`); then the frees enqueued behind them happen.
bool progressStream(CUstream stream, bool wait) {
  if (!stream->sends.empty()) {
    int done = 0;
    if (wait) {
      MPI_Waitall(static_cast<int>(stream->sends.size()), stream->sends.data(),
                  MPI_STATUSES_IGNORE);
      done = 1;
    } else {
      MPI_Testall(static_cast<int>(stream->sends.size()), stream->sends.data(),
                  &done, MPI_STATUSES_IGNORE);
    }
    if (!done)
      return false;
    stream->sends.clear();
  }
  for (CUdeviceptr pointer : stream->frees)
    release(pointer);
  stream->frees.clear();
  return true;
}

//===--------------------------------------------------------------------===//
// Element types
//===--------------------------------------------------------------------===//

enum class Element { F32, F16, BF16, F64 };

float halfToFloat(uint16_t h) {
  uint32_t sign = (h & 0x8000u) << 16, exponent = (h >> 10) & 0x1f,
           mantissa = h & 0x3ff, bits;
  if (exponent == 0x1f) {
    bits = sign | 0x7f800000u | (mantissa << 13);
  } else if (exponent == 0) {
    if (mantissa == 0) {
      bits = sign;
    } else {
      // Subnormal: normalise.
      int shift = 0;
      while (!(mantissa & 0x400)) {
        mantissa <<= 1;
        ++shift;
      }
      mantissa &= 0x3ff;
      bits = sign | ((127 - 15 + 1 - shift) << 23) | (mantissa << 13);
    }
  } else {
    bits = sign | ((exponent + 127 - 15) << 23) | (mantissa << 13);
  }
  float value;
  std::memcpy(&value, &bits, 4);
  return value;
}

uint16_t floatToHalf(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  uint32_t sign = (bits >> 16) & 0x8000u;
  if (std::isnan(value))
    return static_cast<uint16_t>(sign | 0x7e00u);
  float magnitude = std::fabs(value);
  if (magnitude >= 65520.0f)
    return static_cast<uint16_t>(sign | 0x7c00u);
  if (magnitude < 6.103515625e-05f) {
    // Subnormal half: a multiple of 2^-24, rounded to nearest even.
    float scaled = magnitude * 16777216.0f;
    return static_cast<uint16_t>(sign |
                                 static_cast<uint32_t>(std::nearbyint(scaled)));
  }
  uint32_t exponent = ((bits >> 23) & 0xff) - 127 + 15;
  uint32_t mantissa = bits & 0x7fffff;
  uint32_t half = (exponent << 10) | (mantissa >> 13);
  uint32_t rest = mantissa & 0x1fff;
  if (rest > 0x1000 || (rest == 0x1000 && (half & 1)))
    ++half; // may carry into the exponent, as it should
  return static_cast<uint16_t>(sign | half);
}

float bf16ToFloat(uint16_t b) {
  uint32_t bits = static_cast<uint32_t>(b) << 16;
  float value;
  std::memcpy(&value, &bits, 4);
  return value;
}

uint16_t floatToBf16(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  if (std::isnan(value))
    return static_cast<uint16_t>((bits >> 16) | 0x40);
  uint32_t rounding = 0x7fff + ((bits >> 16) & 1);
  return static_cast<uint16_t>((bits + rounding) >> 16);
}

size_t elementSize(Element type) {
  switch (type) {
  case Element::F32:
    return 4;
  case Element::F16:
  case Element::BF16:
    return 2;
  case Element::F64:
    return 8;
  }
  return 4;
}

double load(const void *base, size_t index, Element type) {
  switch (type) {
  case Element::F32:
    return static_cast<const float *>(base)[index];
  case Element::F16:
    return halfToFloat(static_cast<const uint16_t *>(base)[index]);
  case Element::BF16:
    return bf16ToFloat(static_cast<const uint16_t *>(base)[index]);
  case Element::F64:
    return static_cast<const double *>(base)[index];
  }
  return 0;
}

void store(void *base, size_t index, Element type, double value) {
  switch (type) {
  case Element::F32:
    static_cast<float *>(base)[index] = static_cast<float>(value);
    return;
  case Element::F16:
    static_cast<uint16_t *>(base)[index] =
        floatToHalf(static_cast<float>(value));
    return;
  case Element::BF16:
    static_cast<uint16_t *>(base)[index] =
        floatToBf16(static_cast<float>(value));
    return;
  case Element::F64:
    static_cast<double *>(base)[index] = value;
    return;
  }
}

bool fromCuda(cudaDataType type, Element &element) {
  switch (type) {
  case CUDA_R_32F:
    element = Element::F32;
    return true;
  case CUDA_R_16F:
    element = Element::F16;
    return true;
  case CUDA_R_16BF:
    element = Element::BF16;
    return true;
  case CUDA_R_64F:
    element = Element::F64;
    return true;
  default:
    return false;
  }
}

//===--------------------------------------------------------------------===//
// Column-major GEMM, as cuBLAS defines it
//===--------------------------------------------------------------------===//

struct Matrix {
  const void *data;
  Element type;
  int64_t ld;
  bool transposed;
  /// op(X)[i, j], X column-major with leading dimension ld.
  double get(int64_t i, int64_t j) const {
    return transposed ? load(data, static_cast<size_t>(j + i * ld), type)
                      : load(data, static_cast<size_t>(i + j * ld), type);
  }
};

/// D[i, j] = epilogue(beta C + alpha op(A) op(B)) for an m x n result; C
/// is not read when beta is 0 (cuBLAS's contract).
template <typename Epilogue>
void gemm(int64_t m, int64_t n, int64_t k, double alpha, const Matrix &a,
          const Matrix &b, double beta, const void *c, Element cType,
          int64_t ldc, void *d, Element dType, int64_t ldd,
          Epilogue &&epilogue) {
  for (int64_t j = 0; j < n; ++j)
    for (int64_t i = 0; i < m; ++i) {
      // f32 accumulation onto beta C, in k's order: the order of the
      // CPU path's loops (linalg's accumulation into its output), so that
      // --check compares programs, not summation orders.
      float sum = 0;
      if (beta != 0)
        sum = static_cast<float>(
            beta * load(c, static_cast<size_t>(i + j * ldc), cType));
      for (int64_t l = 0; l < k; ++l)
        sum += static_cast<float>(alpha * a.get(i, l)) *
               static_cast<float>(b.get(l, j));
      store(d, static_cast<size_t>(i + j * ldd), dType, epilogue(i, j, sum));
    }
}

const void *offset(const void *base, int64_t elements, Element type) {
  return static_cast<const char *>(base) + elements * elementSize(type);
}

struct LtDesc {
  cublasOperation_t transA = CUBLAS_OP_N, transB = CUBLAS_OP_N;
  cublasLtEpilogue_t epilogue = CUBLASLT_EPILOGUE_DEFAULT;
  const void *bias = nullptr;
  /// GELU_AUX_BIAS: where the sum before the GELU goes, in D's type;
  /// DGELU: where it is read from. (The bias pointer is written for
  /// DGELU_BGRAD: the bias gradient.)
  void *aux = nullptr;
  int64_t auxLd = 0;
};
struct LtLayout {
  cudaDataType type = CUDA_R_32F;
  uint64_t rows = 0, cols = 0;
  int64_t ld = 0;
};
static_assert(sizeof(LtDesc) <= sizeof(cublasLtMatmulDescOpaque_t));
static_assert(sizeof(LtLayout) <= sizeof(cublasLtMatrixLayoutOpaque_t));

LtDesc &desc(cublasLtMatmulDesc_t handle) {
  return *reinterpret_cast<LtDesc *>(handle);
}
LtLayout &layout(cublasLtMatrixLayout_t handle) {
  return *reinterpret_cast<LtLayout *>(handle);
}

/// Copies a cuBLASLt attribute's value into `field`, if it has the
/// field's size.
template <typename T>
cublasStatus_t setField(T &field, const void *buffer, size_t size) {
  if (size != sizeof(field))
    return CUBLAS_STATUS_INVALID_VALUE;
  std::memcpy(&field, buffer, size);
  return CUBLAS_STATUS_SUCCESS;
}

//===--------------------------------------------------------------------===//
// NCCL over MPI
//===--------------------------------------------------------------------===//

bool &inGroup() {
  static bool group = false;
  return group;
}

/// The communicators of the sends and receives of the open group.
std::vector<ncclComm_t> &getGroupComms() {
  static std::vector<ncclComm_t> comms;
  return comms;
}

/// Whether `comm`'s sends and receives have completed (forgotten then).
bool progress(ncclComm_t comm) {
  if (comm->pending.empty())
    return true;
  int done = 0;
  MPI_Testall(static_cast<int>(comm->pending.size()), comm->pending.data(),
              &done, MPI_STATUSES_IGNORE);
  if (done)
    comm->pending.clear();
  return done != 0;
}

std::string &getLastError() {
  static std::string error;
  return error;
}

/// AUTOPAR_CUDA_EMULATOR_TRACE=1: each NCCL call on stderr, with the
/// world rank (for finding which transfers of a pipeline do not match).
void trace(const char *format, ...) __attribute__((format(printf, 1, 2)));
void trace(const char *format, ...) {
  static const bool enabled = [] {
    const char *value = std::getenv("AUTOPAR_CUDA_EMULATOR_TRACE");
    return value && *value && std::string(value) != "0";
  }();
  if (!enabled)
    return;
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  std::fprintf(stderr, "autopar CUDA emulator: rank %d: ", rank);
  va_list args;
  va_start(args, format);
  std::vfprintf(stderr, format, args);
  va_end(args);
  std::fputc('\n', stderr);
  std::fflush(stderr);
}

ncclResult_t ncclError(const std::string &what) {
  getLastError() = what;
  return ncclInvalidUsage;
}

bool ncclElement(ncclDataType_t type, size_t &bytes, bool &floating,
                 Element &element) {
  floating = true;
  switch (type) {
  case ncclFloat32:
    bytes = 4;
    element = Element::F32;
    return true;
  case ncclFloat64:
    bytes = 8;
    element = Element::F64;
    return true;
  case ncclFloat16:
    bytes = 2;
    element = Element::F16;
    return true;
  case ncclBfloat16:
    bytes = 2;
    element = Element::BF16;
    return true;
  case ncclInt8:
  case ncclUint8:
    floating = false;
    bytes = 1;
    return true;
  case ncclInt32:
    floating = false;
    bytes = 4;
    return true;
  case ncclInt64:
    floating = false;
    bytes = 8;
    return true;
  default:
    return false;
  }
}

/// The size of one element of `type`, if the emulator knows the type.
std::optional<size_t> ncclBytes(ncclDataType_t type) {
  size_t bytes = 0;
  bool floating = false;
  Element element = Element::F32;
  if (!ncclElement(type, bytes, floating, element))
    return std::nullopt;
  return bytes;
}

/// The integer element `index` of `base`, `bytes` wide (signed except
/// uint8).
int64_t loadInt(const void *base, size_t index, size_t bytes, bool isUnsigned) {
  const char *at = static_cast<const char *>(base) + index * bytes;
  switch (bytes) {
  case 1:
    return isUnsigned
               ? static_cast<int64_t>(*reinterpret_cast<const uint8_t *>(at))
               : static_cast<int64_t>(*reinterpret_cast<const int8_t *>(at));
  case 4:
    return *reinterpret_cast<const int32_t *>(at);
  default:
    return *reinterpret_cast<const int64_t *>(at);
  }
}

void storeInt(void *base, size_t index, size_t bytes, int64_t value) {
  char *at = static_cast<char *>(base) + index * bytes;
  switch (bytes) {
  case 1:
    *reinterpret_cast<int8_t *>(at) = static_cast<int8_t>(value);
    return;
  case 4:
    *reinterpret_cast<int32_t *>(at) = static_cast<int32_t>(value);
    return;
  default:
    *reinterpret_cast<int64_t *>(at) = value;
  }
}

template <typename T> T combine(ncclRedOp_t op, T x, T y) {
  switch (op) {
  case ncclProd:
    return x * y;
  case ncclMin:
    return y < x ? y : x;
  case ncclMax:
    return y > x ? y : x;
  default:
    return x + y;
  }
}

/// Every rank's `count` elements gathered, then reduced in rank order into
/// `out` (elements `first` .. `first + count` of the gathered rows).
ncclResult_t reduceRows(const void *in, void *out, size_t count, size_t first,
                        size_t rowCount, ncclDataType_t type, ncclRedOp_t op,
                        ncclComm_t comm) {
  size_t bytes = 0;
  bool floating = false;
  Element element = Element::F32;
  if (!ncclElement(type, bytes, floating, element))
    return ncclError("emulated NCCL: unsupported data type");
  std::vector<char> all(rowCount * bytes * comm->size);
  MPI_Allgather(in, static_cast<int>(rowCount * bytes), MPI_BYTE, all.data(),
                static_cast<int>(rowCount * bytes), MPI_BYTE, comm->comm);
  for (size_t i = 0; i < count; ++i) {
    size_t index = first + i;
    if (floating) {
      double value = load(all.data(), index, element);
      for (int r = 1; r < comm->size; ++r)
        value =
            combine(op, value, load(all.data(), r * rowCount + index, element));
      store(out, i, element, value);
    } else {
      bool isUnsigned = type == ncclUint8;
      int64_t value = loadInt(all.data(), index, bytes, isUnsigned);
      for (int r = 1; r < comm->size; ++r)
        value = combine(
            op, value,
            loadInt(all.data(), r * rowCount + index, bytes, isUnsigned));
      storeInt(out, i, bytes, value);
    }
  }
  return ncclSuccess;
}

double now() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

CUctx_st theContext;
CUmemPoolHandle_st thePool;
cublasContext theBlas;
cublasLtContext theLt;
cudnnContext theDnn;

// Stream capture (CUDA graphs), in CU_STREAM_CAPTURE_MODE_THREAD_LOCAL's
// rules (the only mode the runtime uses): while a stream is being captured,
// this thread may not wait for the GPU or allocate, free or set memory
// outside stream order; such a call fails and invalidates the capture,
// which cuStreamEndCapture then reports, as the driver does. The captured
// work itself runs at once, as all work here does.
struct Capture {
  CUstream stream = nullptr;
  bool invalidated = false;
};
Capture &getCapture() {
  static Capture capture;
  return capture;
}
/// CUDA_SUCCESS, or the error of an operation that capture forbids.
CUresult checkNotCapturing() {
  Capture &capture = getCapture();
  if (!capture.stream)
    return CUDA_SUCCESS;
  capture.invalidated = true;
  return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
}

} // namespace

extern "C" {

//===----------------------------------------------------------------------===//
// Driver
//===----------------------------------------------------------------------===//

/// Whether the program's global constructors ran: on a GPU they load the
/// kernels' modules (autopar-emulate-gpu-kernels adds one that calls
/// autopar_cuda_emulated_load), so a driver that skips them fails here as
/// every launch would fail there.
static bool &constructorsRan() {
  static bool ran = false;
  return ran;
}
void autopar_cuda_emulated_load() { constructorsRan() = true; }

CUresult cuInit(unsigned int) {
  if (!constructorsRan()) {
    std::fprintf(stderr, "CUDA emulator: cuInit before the program's global "
                         "constructors ran (on a GPU they load the kernels' "
                         "modules: every launch would fail)\n");
    return CUDA_ERROR_NOT_INITIALIZED;
  }
  return CUDA_SUCCESS;
}
CUresult cuDeviceGetCount(int *count) {
  *count = 1;
  return CUDA_SUCCESS;
}
CUresult cuDeviceGet(CUdevice *device, int ordinal) {
  if (ordinal != 0)
    return CUDA_ERROR_INVALID_DEVICE;
  *device = 0;
  return CUDA_SUCCESS;
}
CUresult cuDevicePrimaryCtxRetain(CUcontext *context, CUdevice) {
  *context = &theContext;
  return CUDA_SUCCESS;
}
CUresult cuCtxSetCurrent(CUcontext) { return CUDA_SUCCESS; }
CUresult cuCtxSynchronize() { return checkNotCapturing(); }
CUresult cuDeviceGetName(char *name, int length, CUdevice) {
  std::snprintf(name, length, "CUDA emulated on the host CPU");
  return CUDA_SUCCESS;
}
CUresult cuDeviceTotalMem(size_t *bytes, CUdevice) {
  *bytes = size_t(64) << 30;
  return CUDA_SUCCESS;
}
CUresult cuMemGetInfo(size_t *free, size_t *total) {
  *total = size_t(64) << 30;
  *free = *total > getHeld() ? *total - getHeld() : 0;
  return CUDA_SUCCESS;
}
CUresult cuDeviceGetAttribute(int *value, CUdevice_attribute, CUdevice) {
  *value = 0; // no concurrent managed access: no cuMemAdvise
  return CUDA_SUCCESS;
}
CUresult cuGetErrorName(CUresult result, const char **name) {
  switch (result) {
  case CUDA_SUCCESS:
    *name = "CUDA_SUCCESS";
    break;
  case CUDA_ERROR_INVALID_VALUE:
    *name = "CUDA_ERROR_INVALID_VALUE";
    break;
  case CUDA_ERROR_OUT_OF_MEMORY:
    *name = "CUDA_ERROR_OUT_OF_MEMORY";
    break;
  case CUDA_ERROR_NOT_SUPPORTED:
    *name = "CUDA_ERROR_NOT_SUPPORTED";
    break;
  case CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED:
    *name = "CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED";
    break;
  case CUDA_ERROR_STREAM_CAPTURE_INVALIDATED:
    *name = "CUDA_ERROR_STREAM_CAPTURE_INVALIDATED";
    break;
  case CUDA_ERROR_ILLEGAL_STATE:
    *name = "CUDA_ERROR_ILLEGAL_STATE";
    break;
  default:
    *name = "CUDA_ERROR";
  }
  return CUDA_SUCCESS;
}
CUresult cuGetErrorString(CUresult result, const char **text) {
  switch (result) {
  case CUDA_ERROR_INVALID_VALUE:
    *text = "emulated: an argument is invalid (a free of an address that is "
            "not a live allocation, among others)";
    break;
  case CUDA_ERROR_NOT_SUPPORTED:
    *text = "emulated: not supported by the CUDA emulator (kernels run as "
            "host code; modules cannot be loaded; graphs cannot be "
            "replayed)";
    break;
  case CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED:
    *text = "emulated: the operation is not permitted while a stream is "
            "being captured";
    break;
  case CUDA_ERROR_STREAM_CAPTURE_INVALIDATED:
    *text = "emulated: the capture was invalidated by an operation that "
            "cannot be captured";
    break;
  default:
    *text = "emulated error";
  }
  return CUDA_SUCCESS;
}

CUresult cuStreamBeginCapture(CUstream stream, CUstreamCaptureMode mode) {
  if (!stream || getCapture().stream)
    return CUDA_ERROR_ILLEGAL_STATE;
  if (mode != CU_STREAM_CAPTURE_MODE_THREAD_LOCAL)
    return CUDA_ERROR_NOT_SUPPORTED;
  getCapture() = {stream, false};
  return CUDA_SUCCESS;
}
CUresult cuStreamEndCapture(CUstream stream, CUgraph *graph) {
  Capture &capture = getCapture();
  if (!stream || capture.stream != stream)
    return CUDA_ERROR_ILLEGAL_STATE;
  bool invalidated = capture.invalidated;
  capture = {};
  *graph = invalidated ? nullptr : new CUgraph_st();
  return invalidated ? CUDA_ERROR_STREAM_CAPTURE_INVALIDATED : CUDA_SUCCESS;
}
CUresult cuGraphInstantiate(CUgraphExec *exec, CUgraph graph,
                            unsigned long long) {
  if (!graph)
    return CUDA_ERROR_INVALID_VALUE;
  *exec = new CUgraphExec_st();
  return CUDA_SUCCESS;
}
CUresult cuGraphLaunch(CUgraphExec exec, CUstream stream) {
  if (!exec || !stream || getCapture().stream)
    return CUDA_ERROR_INVALID_VALUE;
  if (exec->launched)
    return CUDA_ERROR_NOT_SUPPORTED;
  exec->launched = true;
  return CUDA_SUCCESS;
}
CUresult cuGraphExecDestroy(CUgraphExec exec) {
  delete exec;
  return CUDA_SUCCESS;
}
CUresult cuGraphDestroy(CUgraph graph) {
  delete graph;
  return CUDA_SUCCESS;
}
/// Captured allocations come from the pool here (the pool's watermark
/// counts them): graphs hold no memory of their own.
CUresult cuDeviceGetGraphMemAttribute(CUdevice, CUgraphMem_attribute,
                                      void *value) {
  *static_cast<cuuint64_t *>(value) = 0;
  return CUDA_SUCCESS;
}
CUresult cuDeviceSetGraphMemAttribute(CUdevice, CUgraphMem_attribute,
                                      void *value) {
  return *static_cast<cuuint64_t *>(value) == 0 ? CUDA_SUCCESS
                                                : CUDA_ERROR_INVALID_VALUE;
}

// Streams: everything but sends runs when it is enqueued; a send stays in
// progress on its stream until its receive takes it (a peer that never
// receives leaves the stream busy, as on a GPU).
CUresult cuStreamCreate(CUstream *stream, unsigned int) {
  *stream = new CUstream_st();
  return CUDA_SUCCESS;
}
CUresult cuStreamDestroy(CUstream) { return CUDA_SUCCESS; }
CUresult cuStreamQuery(CUstream stream) {
  if (stream && stream == getCapture().stream)
    return checkNotCapturing();
  return stream && !progressStream(stream, /*wait=*/false)
             ? CUDA_ERROR_NOT_READY
             : CUDA_SUCCESS;
}
CUresult cuStreamSynchronize(CUstream stream) {
  if (CUresult result = checkNotCapturing())
    return result;
  if (stream)
    progressStream(stream, /*wait=*/true);
  return CUDA_SUCCESS;
}
CUresult cuStreamWaitEvent(CUstream, CUevent, unsigned int) {
  return CUDA_SUCCESS;
}

CUresult cuEventCreate(CUevent *event, unsigned int) {
  *event = new CUevent_st();
  return CUDA_SUCCESS;
}
CUresult cuEventDestroy(CUevent event) {
  delete event;
  return CUDA_SUCCESS;
}
CUresult cuEventRecord(CUevent event, CUstream) {
  event->seconds = now();
  return CUDA_SUCCESS;
}
CUresult cuEventSynchronize(CUevent) { return checkNotCapturing(); }
CUresult cuEventQuery(CUevent) { return CUDA_SUCCESS; }
CUresult cuEventElapsedTime(float *ms, CUevent start, CUevent stop) {
  *ms = static_cast<float>((stop->seconds - start->seconds) * 1e3);
  return CUDA_SUCCESS;
}

CUresult cuDeviceGetDefaultMemPool(CUmemoryPool *pool, CUdevice) {
  *pool = &thePool;
  return CUDA_SUCCESS;
}
CUresult cuMemPoolSetAttribute(CUmemoryPool, CUmemPool_attribute attribute,
                               void *value) {
  // The high watermarks can only be reset (to what the pool holds now).
  if (attribute == CU_MEMPOOL_ATTR_USED_MEM_HIGH ||
      attribute == CU_MEMPOOL_ATTR_RESERVED_MEM_HIGH) {
    if (*static_cast<cuuint64_t *>(value) != 0)
      return CUDA_ERROR_INVALID_VALUE;
    getPoolUse().high = getPoolUse().used;
  }
  return CUDA_SUCCESS;
}
CUresult cuMemPoolGetAttribute(CUmemoryPool, CUmemPool_attribute attribute,
                               void *value) {
  cuuint64_t result = 0;
  if (attribute == CU_MEMPOOL_ATTR_USED_MEM_CURRENT ||
      attribute == CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT)
    result = getPoolUse().used;
  else if (attribute == CU_MEMPOOL_ATTR_USED_MEM_HIGH ||
           attribute == CU_MEMPOOL_ATTR_RESERVED_MEM_HIGH)
    result = getPoolUse().high;
  *static_cast<cuuint64_t *>(value) = result;
  return CUDA_SUCCESS;
}
CUresult cuMemPoolTrimTo(CUmemoryPool, size_t) { return CUDA_SUCCESS; }
CUresult cuMemAllocFromPoolAsync(CUdeviceptr *pointer, size_t bytes,
                                 CUmemoryPool, CUstream) {
  return allocate(pointer, bytes, /*managed=*/false);
}
CUresult cuMemFreeAsync(CUdeviceptr pointer, CUstream stream) {
  auto it = getAllocations().find(static_cast<uintptr_t>(pointer));
  if (it == getAllocations().end() || it->second.managed)
    return CUDA_ERROR_INVALID_VALUE; // managed memory is freed with cuMemFree
  // In stream order: after the stream's sends in progress.
  if (stream && !progressStream(stream, /*wait=*/false)) {
    stream->frees.push_back(pointer);
    return CUDA_SUCCESS;
  }
  return release(pointer);
}
CUresult cuMemAllocManaged(CUdeviceptr *pointer, size_t bytes, unsigned int) {
  if (CUresult result = checkNotCapturing())
    return result;
  return allocate(pointer, bytes, /*managed=*/true);
}
CUresult cuMemFree(CUdeviceptr pointer) {
  if (CUresult result = checkNotCapturing())
    return result;
  return release(pointer);
}
CUresult cuMemAdvise(CUdeviceptr, size_t, CUmem_advise, CUmemLocation) {
  return CUDA_SUCCESS;
}
CUresult cuPointerGetAttribute(void *data, CUpointer_attribute attribute,
                               CUdeviceptr pointer) {
  auto &allocations = getAllocations();
  auto it = allocations.upper_bound(static_cast<uintptr_t>(pointer));
  if (it == allocations.begin())
    return CUDA_ERROR_INVALID_VALUE;
  --it;
  if (static_cast<uintptr_t>(pointer) >= it->first + it->second.bytes)
    return CUDA_ERROR_INVALID_VALUE;
  if (attribute != CU_POINTER_ATTRIBUTE_IS_MANAGED)
    return CUDA_ERROR_NOT_SUPPORTED;
  *static_cast<unsigned *>(data) = it->second.managed ? 1 : 0;
  return CUDA_SUCCESS;
}

CUresult cuMemcpyAsync(CUdeviceptr to, CUdeviceptr from, size_t bytes,
                       CUstream) {
  std::memmove(at(to), at(from), bytes);
  return CUDA_SUCCESS;
}
CUresult cuMemcpyDtoDAsync(CUdeviceptr to, CUdeviceptr from, size_t bytes,
                           CUstream) {
  std::memmove(at(to), at(from), bytes);
  return CUDA_SUCCESS;
}
CUresult cuMemcpy2DAsync(const CUDA_MEMCPY2D *copy, CUstream) {
  if (copy->srcMemoryType != CU_MEMORYTYPE_UNIFIED ||
      copy->dstMemoryType != CU_MEMORYTYPE_UNIFIED)
    return CUDA_ERROR_NOT_SUPPORTED;
  for (size_t row = 0; row < copy->Height; ++row)
    std::memmove(static_cast<char *>(at(copy->dstDevice)) +
                     copy->dstY * copy->dstPitch + copy->dstXInBytes +
                     row * copy->dstPitch,
                 static_cast<const char *>(at(copy->srcDevice)) +
                     copy->srcY * copy->srcPitch + copy->srcXInBytes +
                     row * copy->srcPitch,
                 copy->WidthInBytes);
  return CUDA_SUCCESS;
}
CUresult cuMemsetD8Async(CUdeviceptr to, unsigned char value, size_t count,
                         CUstream) {
  std::memset(at(to), value, count);
  return CUDA_SUCCESS;
}
CUresult cuMemsetD16Async(CUdeviceptr to, unsigned short value, size_t count,
                          CUstream) {
  auto *data = static_cast<unsigned short *>(at(to));
  for (size_t i = 0; i < count; ++i)
    data[i] = value;
  return CUDA_SUCCESS;
}
CUresult cuMemsetD32Async(CUdeviceptr to, unsigned int value, size_t count,
                          CUstream) {
  auto *data = static_cast<unsigned int *>(at(to));
  for (size_t i = 0; i < count; ++i)
    data[i] = value;
  return CUDA_SUCCESS;
}
CUresult cuMemsetD32(CUdeviceptr to, unsigned int value, size_t count) {
  if (CUresult result = checkNotCapturing())
    return result;
  return cuMemsetD32Async(to, value, count, nullptr);
}
CUresult cuMemsetD16(CUdeviceptr to, unsigned short value, size_t count) {
  if (CUresult result = checkNotCapturing())
    return result;
  return cuMemsetD16Async(to, value, count, nullptr);
}

// Kernels run as host code (autopar-emulate-gpu-kernels): nothing is loaded
// or launched through the driver.
CUresult cuModuleLoadData(CUmodule *, const void *) {
  return CUDA_ERROR_NOT_SUPPORTED;
}
CUresult cuModuleLoadDataEx(CUmodule *, const void *, unsigned int,
                            CUjit_option *, void **) {
  return CUDA_ERROR_NOT_SUPPORTED;
}
CUresult cuModuleUnload(CUmodule) { return CUDA_ERROR_NOT_SUPPORTED; }
CUresult cuModuleGetFunction(CUfunction *, CUmodule, const char *) {
  return CUDA_ERROR_NOT_SUPPORTED;
}
CUresult cuLaunchKernel(CUfunction, unsigned int, unsigned int, unsigned int,
                        unsigned int, unsigned int, unsigned int, unsigned int,
                        CUstream, void **, void **) {
  return CUDA_ERROR_NOT_SUPPORTED;
}
CUresult cuFuncGetName(const char **name, CUfunction) {
  *name = "(emulated)";
  return CUDA_SUCCESS;
}

//===----------------------------------------------------------------------===//
// cuBLAS
//===----------------------------------------------------------------------===//

cublasStatus_t cublasCreate_v2(cublasHandle_t *handle) {
  *handle = &theBlas;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSetStream_v2(cublasHandle_t, cudaStream_t) {
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSetWorkspace_v2(cublasHandle_t, void *workspace,
                                     size_t bytes) {
  return workspace || bytes == 0 ? CUBLAS_STATUS_SUCCESS
                                 : CUBLAS_STATUS_INVALID_VALUE;
}
const char *cublasGetStatusName(cublasStatus_t status) {
  return status == CUBLAS_STATUS_SUCCESS ? "CUBLAS_STATUS_SUCCESS"
                                         : "CUBLAS_STATUS_INVALID_VALUE";
}
const char *cublasGetStatusString(cublasStatus_t status) {
  return status == CUBLAS_STATUS_SUCCESS
             ? "success"
             : "emulated: an argument is out of range";
}

/// Checks cuBLAS's argument rules for op(X) of `rows` x `cols` stored
/// with leading dimension `ld`.
static bool validLd(bool transposed, int64_t rows, int64_t cols, int64_t ld) {
  int64_t stored = transposed ? cols : rows;
  return ld >= std::max<int64_t>(1, stored);
}

static cublasStatus_t stridedGemm(cublasOperation_t transA,
                                  cublasOperation_t transB, int m, int n, int k,
                                  double alpha, const void *a, Element aType,
                                  int lda, long long strideA, const void *b,
                                  Element bType, int ldb, long long strideB,
                                  double beta, void *c, Element cType, int ldc,
                                  long long strideC, int batch) {
  bool ta = transA != CUBLAS_OP_N, tb = transB != CUBLAS_OP_N;
  if (m < 0 || n < 0 || k < 0 || batch < 0 || !validLd(ta, m, k, lda) ||
      !validLd(tb, k, n, ldb) || ldc < std::max(1, m))
    return CUBLAS_STATUS_INVALID_VALUE;
  for (int i = 0; i < batch; ++i) {
    Matrix left{offset(a, i * strideA, aType), aType, lda, ta};
    Matrix right{offset(b, i * strideB, bType), bType, ldb, tb};
    void *result = const_cast<void *>(offset(c, i * strideC, cType));
    gemm(m, n, k, alpha, left, right, beta, result, cType, ldc, result, cType,
         ldc, [](int64_t, int64_t, double value) { return value; });
  }
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t
cublasSgemmStridedBatched(cublasHandle_t, cublasOperation_t transA,
                          cublasOperation_t transB, int m, int n, int k,
                          const float *alpha, const float *a, int lda,
                          long long int strideA, const float *b, int ldb,
                          long long int strideB, const float *beta, float *c,
                          int ldc, long long int strideC, int batchCount) {
  return stridedGemm(transA, transB, m, n, k, *alpha, a, Element::F32, lda,
                     strideA, b, Element::F32, ldb, strideB, *beta, c,
                     Element::F32, ldc, strideC, batchCount);
}

cublasStatus_t cublasSgemm_v2(cublasHandle_t handle, cublasOperation_t transA,
                              cublasOperation_t transB, int m, int n, int k,
                              const float *alpha, const float *a, int lda,
                              const float *b, int ldb, const float *beta,
                              float *c, int ldc) {
  return cublasSgemmStridedBatched(handle, transA, transB, m, n, k, alpha, a,
                                   lda, 0, b, ldb, 0, beta, c, ldc, 0, 1);
}

cublasStatus_t cublasGemmEx(cublasHandle_t handle, cublasOperation_t transA,
                            cublasOperation_t transB, int m, int n, int k,
                            const void *alpha, const void *a,
                            cudaDataType aType, int lda, const void *b,
                            cudaDataType bType, int ldb, const void *beta,
                            void *c, cudaDataType cType, int ldc,
                            cublasComputeType_t computeType,
                            cublasGemmAlgo_t algo) {
  return cublasGemmStridedBatchedEx(handle, transA, transB, m, n, k, alpha, a,
                                    aType, lda, 0, b, bType, ldb, 0, beta, c,
                                    cType, ldc, 0, 1, computeType, algo);
}

cublasStatus_t cublasGemmStridedBatchedEx(
    cublasHandle_t, cublasOperation_t transA, cublasOperation_t transB, int m,
    int n, int k, const void *alpha, const void *a, cudaDataType aType, int lda,
    long long int strideA, const void *b, cudaDataType bType, int ldb,
    long long int strideB, const void *beta, void *c, cudaDataType cType,
    int ldc, long long int strideC, int batchCount,
    cublasComputeType_t computeType, cublasGemmAlgo_t) {
  Element ae, be, ce;
  if (!fromCuda(aType, ae) || !fromCuda(bType, be) || !fromCuda(cType, ce))
    return CUBLAS_STATUS_NOT_SUPPORTED;
  // f32 compute: alpha and beta are floats.
  if (computeType != CUBLAS_COMPUTE_32F &&
      computeType != CUBLAS_COMPUTE_32F_PEDANTIC)
    return CUBLAS_STATUS_NOT_SUPPORTED;
  return stridedGemm(transA, transB, m, n, k,
                     *static_cast<const float *>(alpha), a, ae, lda, strideA, b,
                     be, ldb, strideB, *static_cast<const float *>(beta), c, ce,
                     ldc, strideC, batchCount);
}

//===----------------------------------------------------------------------===//
// cuBLASLt
//===----------------------------------------------------------------------===//

cublasStatus_t cublasLtCreate(cublasLtHandle_t *handle) {
  *handle = &theLt;
  return CUBLAS_STATUS_SUCCESS;
}
const char *cublasLtGetStatusName(cublasStatus_t status) {
  return cublasGetStatusName(status);
}
const char *cublasLtGetStatusString(cublasStatus_t status) {
  return cublasGetStatusString(status);
}
cublasStatus_t cublasLtMatmulDescCreate(cublasLtMatmulDesc_t *handle,
                                        cublasComputeType_t computeType,
                                        cudaDataType_t scaleType) {
  if (computeType != CUBLAS_COMPUTE_32F || scaleType != CUDA_R_32F)
    return CUBLAS_STATUS_NOT_SUPPORTED;
  auto *opaque = new cublasLtMatmulDescOpaque_t();
  new (opaque) LtDesc();
  *handle = opaque;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulDescDestroy(cublasLtMatmulDesc_t handle) {
  delete handle;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t
cublasLtMatmulDescSetAttribute(cublasLtMatmulDesc_t handle,
                               cublasLtMatmulDescAttributes_t attribute,
                               const void *buffer, size_t size) {
  LtDesc &d = desc(handle);
  switch (attribute) {
  case CUBLASLT_MATMUL_DESC_TRANSA:
    return setField(d.transA, buffer, size);
  case CUBLASLT_MATMUL_DESC_TRANSB:
    return setField(d.transB, buffer, size);
  case CUBLASLT_MATMUL_DESC_EPILOGUE:
    return setField(d.epilogue, buffer, size);
  case CUBLASLT_MATMUL_DESC_BIAS_POINTER:
    return setField(d.bias, buffer, size);
  case CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER:
    return setField(d.aux, buffer, size);
  case CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD:
    return setField(d.auxLd, buffer, size);
  default:
    return CUBLAS_STATUS_NOT_SUPPORTED;
  }
}
cublasStatus_t cublasLtMatrixLayoutCreate(cublasLtMatrixLayout_t *handle,
                                          cudaDataType type, uint64_t rows,
                                          uint64_t cols, int64_t ld) {
  if (ld < static_cast<int64_t>(std::max<uint64_t>(1, rows)))
    return CUBLAS_STATUS_INVALID_VALUE;
  auto *opaque = new cublasLtMatrixLayoutOpaque_t();
  new (opaque) LtLayout{type, rows, cols, ld};
  *handle = opaque;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatrixLayoutDestroy(cublasLtMatrixLayout_t handle) {
  delete handle;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t
cublasLtMatmulPreferenceCreate(cublasLtMatmulPreference_t *handle) {
  *handle = new cublasLtMatmulPreferenceOpaque_t();
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t
cublasLtMatmulPreferenceDestroy(cublasLtMatmulPreference_t handle) {
  delete handle;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t
cublasLtMatmulPreferenceSetAttribute(cublasLtMatmulPreference_t,
                                     cublasLtMatmulPreferenceAttributes_t,
                                     const void *, size_t) {
  return CUBLAS_STATUS_SUCCESS;
}

/// Whether op(A) op(B) of `d`'s layouts is an m x n product (cuBLASLt's
/// shape rules), with k set.
static bool ltShapes(const LtDesc &d, const LtLayout &a, const LtLayout &b,
                     const LtLayout &c, const LtLayout &out, uint64_t &k) {
  bool ta = d.transA != CUBLAS_OP_N, tb = d.transB != CUBLAS_OP_N;
  uint64_t aRows = ta ? a.cols : a.rows, aCols = ta ? a.rows : a.cols;
  uint64_t bRows = tb ? b.cols : b.rows, bCols = tb ? b.rows : b.cols;
  k = aCols;
  return aCols == bRows && aRows == out.rows && bCols == out.cols &&
         c.rows == out.rows && c.cols == out.cols;
}

cublasStatus_t cublasLtMatmulAlgoGetHeuristic(
    cublasLtHandle_t, cublasLtMatmulDesc_t operation,
    cublasLtMatrixLayout_t aDesc, cublasLtMatrixLayout_t bDesc,
    cublasLtMatrixLayout_t cDesc, cublasLtMatrixLayout_t dDesc,
    cublasLtMatmulPreference_t, int requested,
    cublasLtMatmulHeuristicResult_t results[], int *returned) {
  uint64_t k = 0;
  if (!ltShapes(desc(operation), layout(aDesc), layout(bDesc), layout(cDesc),
                layout(dDesc), k) ||
      requested < 1) {
    *returned = 0;
    return CUBLAS_STATUS_NOT_SUPPORTED;
  }
  results[0] = cublasLtMatmulHeuristicResult_t();
  results[0].state = CUBLAS_STATUS_SUCCESS;
  *returned = 1;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmul(cublasLtHandle_t, cublasLtMatmulDesc_t operation,
                              const void *alpha, const void *a,
                              cublasLtMatrixLayout_t aDesc, const void *b,
                              cublasLtMatrixLayout_t bDesc, const void *beta,
                              const void *c, cublasLtMatrixLayout_t cDesc,
                              void *d, cublasLtMatrixLayout_t dDesc,
                              const cublasLtMatmulAlgo_t *, void *, size_t,
                              cudaStream_t) {
  const LtDesc &op = desc(operation);
  const LtLayout &al = layout(aDesc), &bl = layout(bDesc), &cl = layout(cDesc),
                 &dl = layout(dDesc);
  uint64_t k = 0;
  if (!ltShapes(op, al, bl, cl, dl, k))
    return CUBLAS_STATUS_INVALID_VALUE;
  Element ae, be, ce, de;
  if (!fromCuda(al.type, ae) || !fromCuda(bl.type, be) ||
      !fromCuda(cl.type, ce) || !fromCuda(dl.type, de))
    return CUBLAS_STATUS_NOT_SUPPORTED;
  bool bias = false, relu = false, gelu = false, aux = false, dgelu = false,
       drelu = false, bgrad = false;
  switch (op.epilogue) {
  case CUBLASLT_EPILOGUE_DEFAULT:
    break;
  case CUBLASLT_EPILOGUE_RELU:
    relu = true;
    break;
  case CUBLASLT_EPILOGUE_BIAS:
    bias = true;
    break;
  case CUBLASLT_EPILOGUE_RELU_BIAS:
    bias = relu = true;
    break;
  case CUBLASLT_EPILOGUE_RELU_AUX:
    relu = aux = true;
    break;
  case CUBLASLT_EPILOGUE_RELU_AUX_BIAS:
    bias = relu = aux = true;
    break;
  case CUBLASLT_EPILOGUE_DRELU:
    drelu = aux = true;
    break;
  case CUBLASLT_EPILOGUE_DRELU_BGRAD:
    drelu = aux = bgrad = true;
    break;
  case CUBLASLT_EPILOGUE_GELU:
    gelu = true;
    break;
  case CUBLASLT_EPILOGUE_GELU_BIAS:
    bias = gelu = true;
    break;
  case CUBLASLT_EPILOGUE_GELU_AUX_BIAS:
    bias = gelu = aux = true;
    break;
  case CUBLASLT_EPILOGUE_DGELU:
    dgelu = aux = true;
    break;
  case CUBLASLT_EPILOGUE_DGELU_BGRAD:
    dgelu = aux = bgrad = true;
    break;
  default:
    return CUBLAS_STATUS_NOT_SUPPORTED;
  }
  if ((bias || bgrad) && !op.bias)
    return CUBLAS_STATUS_INVALID_VALUE;
  // cuBLASLt's rules for the AUX it keeps: a pointer, and a leading
  // dimension of at least D's rows, divisible by 8 for a GELU's input and
  // by 128 for a ReLU's bitmask (in bits).
  bool bitmask = aux && (relu || drelu);
  if (aux && (!op.aux || op.auxLd < static_cast<int64_t>(dl.rows) ||
              op.auxLd % (bitmask ? 128 : 8) != 0))
    return CUBLAS_STATUS_INVALID_VALUE;
  // The bitmask's bit for D's element (row, column), least significant
  // bit first (cuBLASLt's own order is not documented; only its DRELU
  // reads the mask, and this emulator's DRELU reads this one).
  auto maskBit = [&](int64_t row, int64_t column) {
    size_t bit = static_cast<size_t>(row + column * op.auxLd);
    return std::make_pair(static_cast<uint8_t *>(op.aux) + bit / 8,
                          static_cast<uint8_t>(1u << (bit % 8)));
  };
  // The bias has D's type and one element per row of D; so has the bias
  // gradient, D summed over its columns.
  const void *biasData = op.bias;
  // cuBLASLt's GELU is the tanh form.
  constexpr double kSqrt2OverPi = 0.7978845608028654, kGeluCube = 0.044715;
  std::vector<double> columnSums(bgrad ? dl.rows : 0, 0.0);
  Matrix left{a, ae, al.ld, op.transA != CUBLAS_OP_N};
  Matrix right{b, be, bl.ld, op.transB != CUBLAS_OP_N};
  gemm(static_cast<int64_t>(dl.rows), static_cast<int64_t>(dl.cols),
       static_cast<int64_t>(k), *static_cast<const float *>(alpha), left, right,
       *static_cast<const float *>(beta), c, ce, cl.ld, d, de, dl.ld,
       [&](int64_t row, int64_t column, double value) {
         if (bias)
           value += load(biasData, static_cast<size_t>(row), de);
         if (drelu) {
           // The product where the forward's sum was positive.
           auto [byte, bit] = maskBit(row, column);
           if (!(*byte & bit))
             value = 0;
         } else if (bitmask) {
           // Where the sum is positive (a ReLU's derivative there is 1).
           auto [byte, bit] = maskBit(row, column);
           *byte = value > 0 ? (*byte | bit) : (*byte & ~bit);
         } else if (aux && dgelu) {
           // The GELU's input, read in D's type: D is the product times
           // the GELU's derivative there.
           double x =
               load(op.aux, static_cast<size_t>(row + column * op.auxLd), de);
           double t = std::tanh(kSqrt2OverPi * (x + kGeluCube * x * x * x));
           value *= 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * kSqrt2OverPi *
                                        (1 + 3 * kGeluCube * x * x);
         } else if (aux) {
           // Stored in D's type, and the GELU reads it as stored.
           size_t at = static_cast<size_t>(row + column * op.auxLd);
           store(op.aux, at, de, value);
           value = load(op.aux, at, de);
         }
         if (bgrad)
           columnSums[static_cast<size_t>(row)] += value;
         if (relu)
           value = value > 0 ? value : 0;
         if (gelu)
           value = 0.5 * value *
                   (1 + std::tanh(kSqrt2OverPi *
                                  (value + kGeluCube * value * value * value)));
         return value;
       });
  for (size_t row = 0; row < columnSums.size(); ++row)
    store(const_cast<void *>(biasData), row, de, columnSums[row]);
  return CUBLAS_STATUS_SUCCESS;
}

//===----------------------------------------------------------------------===//
// cuDNN
//===----------------------------------------------------------------------===//

cudnnStatus_t cudnnCreate(cudnnHandle_t *handle) {
  *handle = &theDnn;
  return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnSetStream(cudnnHandle_t, cudaStream_t) {
  return CUDNN_STATUS_SUCCESS;
}
const char *cudnnGetErrorString(cudnnStatus_t status) {
  return status == CUDNN_STATUS_SUCCESS ? "CUDNN_STATUS_SUCCESS"
                                        : "CUDNN_STATUS_BAD_PARAM (emulated)";
}
cudnnStatus_t cudnnCreateTensorDescriptor(cudnnTensorDescriptor_t *desc) {
  *desc = new cudnnTensorStruct();
  return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnDestroyTensorDescriptor(cudnnTensorDescriptor_t desc) {
  delete desc;
  return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnCreateFilterDescriptor(cudnnFilterDescriptor_t *desc) {
  *desc = new cudnnFilterStruct();
  return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnDestroyFilterDescriptor(cudnnFilterDescriptor_t desc) {
  delete desc;
  return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t
cudnnCreateConvolutionDescriptor(cudnnConvolutionDescriptor_t *desc) {
  *desc = new cudnnConvolutionStruct();
  return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t
cudnnDestroyConvolutionDescriptor(cudnnConvolutionDescriptor_t desc) {
  delete desc;
  return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnSetTensor4dDescriptor(cudnnTensorDescriptor_t desc,
                                         cudnnTensorFormat_t format,
                                         cudnnDataType_t type, int n, int c,
                                         int h, int w) {
  if (format != CUDNN_TENSOR_NCHW || n <= 0 || c <= 0 || h <= 0 || w <= 0)
    return CUDNN_STATUS_BAD_PARAM;
  *desc = {type, n, c, h, w};
  return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnSetFilter4dDescriptor(cudnnFilterDescriptor_t desc,
                                         cudnnDataType_t type,
                                         cudnnTensorFormat_t format, int k,
                                         int c, int h, int w) {
  if (format != CUDNN_TENSOR_NCHW || k <= 0 || c <= 0 || h <= 0 || w <= 0)
    return CUDNN_STATUS_BAD_PARAM;
  *desc = {type, k, c, h, w};
  return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnSetConvolution2dDescriptor(cudnnConvolutionDescriptor_t desc,
                                              int padH, int padW, int strideH,
                                              int strideW, int dilationH,
                                              int dilationW,
                                              cudnnConvolutionMode_t mode,
                                              cudnnDataType_t) {
  if (mode != CUDNN_CROSS_CORRELATION || padH < 0 || padW < 0 || strideH <= 0 ||
      strideW <= 0 || dilationH <= 0 || dilationW <= 0)
    return CUDNN_STATUS_BAD_PARAM;
  desc->padH = padH;
  desc->padW = padW;
  desc->strideH = strideH;
  desc->strideW = strideW;
  desc->dilationH = dilationH;
  desc->dilationW = dilationW;
  return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnSetConvolutionMathType(cudnnConvolutionDescriptor_t desc,
                                          cudnnMathType_t math) {
  desc->tf32 = math != CUDNN_FMA_MATH;
  return CUDNN_STATUS_SUCCESS;
}

static int outputSize(int input, int kernel, int pad, int stride,
                      int dilation) {
  return (input + 2 * pad - dilation * (kernel - 1) - 1) / stride + 1;
}

cudnnStatus_t cudnnGetConvolution2dForwardOutputDim(
    const cudnnConvolutionDescriptor_t conv, const cudnnTensorDescriptor_t x,
    const cudnnFilterDescriptor_t w, int *n, int *c, int *h, int *wd) {
  if (x->c != w->c)
    return CUDNN_STATUS_BAD_PARAM;
  *n = x->n;
  *c = w->k;
  *h = outputSize(x->h, w->h, conv->padH, conv->strideH, conv->dilationH);
  *wd = outputSize(x->w, w->w, conv->padW, conv->strideW, conv->dilationW);
  return *h > 0 && *wd > 0 ? CUDNN_STATUS_SUCCESS : CUDNN_STATUS_BAD_PARAM;
}

static Element dnnElement(cudnnDataType_t type) {
  switch (type) {
  case CUDNN_DATA_HALF:
    return Element::F16;
  case CUDNN_DATA_BFLOAT16:
    return Element::BF16;
  case CUDNN_DATA_DOUBLE:
    return Element::F64;
  default:
    return Element::F32;
  }
}

/// The three convolutions' shared shape checks: y is x convolved by w.
static bool convShapes(const cudnnTensorStruct &x, const cudnnFilterStruct &w,
                       const cudnnConvolutionStruct &conv,
                       const cudnnTensorStruct &y) {
  return x.c == w.c && y.n == x.n && y.c == w.k &&
         y.h == outputSize(x.h, w.h, conv.padH, conv.strideH, conv.dilationH) &&
         y.w == outputSize(x.w, w.w, conv.padW, conv.strideW, conv.dilationW) &&
         x.type == w.type && x.type == y.type;
}

} // extern "C"

/// Visits every (input, filter, output) index triple of the convolution.
template <typename Visit>
static void forEachTap(const cudnnTensorStruct &x, const cudnnFilterStruct &w,
                       const cudnnConvolutionStruct &conv,
                       const cudnnTensorStruct &y, Visit &&visit) {
  for (int n = 0; n < y.n; ++n)
    for (int f = 0; f < y.c; ++f)
      for (int oh = 0; oh < y.h; ++oh)
        for (int ow = 0; ow < y.w; ++ow)
          for (int c = 0; c < x.c; ++c)
            for (int kh = 0; kh < w.h; ++kh) {
              int ih = oh * conv.strideH - conv.padH + kh * conv.dilationH;
              if (ih < 0 || ih >= x.h)
                continue;
              for (int kw = 0; kw < w.w; ++kw) {
                int iw = ow * conv.strideW - conv.padW + kw * conv.dilationW;
                if (iw < 0 || iw >= x.w)
                  continue;
                size_t xi = ((size_t(n) * x.c + c) * x.h + ih) * x.w + iw;
                size_t wi = ((size_t(f) * w.c + c) * w.h + kh) * w.w + kw;
                size_t yi = ((size_t(n) * y.c + f) * y.h + oh) * y.w + ow;
                visit(xi, wi, yi);
              }
            }
}

/// An operand of a convolution's products as the GPU's units read it: f32
/// data under a math type that allows tensor cores is rounded to TF32 (10
/// significand bits, to nearest with ties away from zero, as the `cvt.rna`
/// conversion), exact for values widened from f16 or bf16.
static float convOperand(const void *base, size_t index, Element type,
                         const cudnnConvolutionStruct &conv) {
  float value = static_cast<float>(load(base, index, type));
  if (type != Element::F32 || !conv.tf32 || !std::isfinite(value))
    return value;
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  bits = (bits + 0x1000u) & ~0x1FFFu;
  std::memcpy(&value, &bits, sizeof(bits));
  return value;
}

extern "C" {

/// The sums' start: beta * out, or 0 (out not read when beta is 0).
static std::vector<float> start(const void *out, Element type, size_t count,
                                double beta) {
  std::vector<float> sums(count, 0.0f);
  if (beta != 0)
    for (size_t i = 0; i < count; ++i)
      sums[i] = static_cast<float>(beta * load(out, i, type));
  return sums;
}

static void finish(void *out, Element type, const std::vector<float> &sums) {
  for (size_t i = 0; i < sums.size(); ++i)
    store(out, i, type, sums[i]);
}

} // extern "C"

template <typename Perf>
static cudnnStatus_t oneAlgorithm(int requested, int *returned, Perf *results) {
  if (requested < 1)
    return CUDNN_STATUS_BAD_PARAM;
  results[0] = Perf();
  results[0].status = CUDNN_STATUS_SUCCESS;
  results[0].memory = 0;
  *returned = 1;
  return CUDNN_STATUS_SUCCESS;
}

extern "C" {

cudnnStatus_t cudnnGetConvolutionForwardAlgorithm_v7(
    cudnnHandle_t, const cudnnTensorDescriptor_t, const cudnnFilterDescriptor_t,
    const cudnnConvolutionDescriptor_t, const cudnnTensorDescriptor_t,
    const int requested, int *returned,
    cudnnConvolutionFwdAlgoPerf_t *results) {
  return oneAlgorithm(requested, returned, results);
}
cudnnStatus_t cudnnGetConvolutionBackwardDataAlgorithm_v7(
    cudnnHandle_t, const cudnnFilterDescriptor_t, const cudnnTensorDescriptor_t,
    const cudnnConvolutionDescriptor_t, const cudnnTensorDescriptor_t,
    const int requested, int *returned,
    cudnnConvolutionBwdDataAlgoPerf_t *results) {
  return oneAlgorithm(requested, returned, results);
}
cudnnStatus_t cudnnGetConvolutionBackwardFilterAlgorithm_v7(
    cudnnHandle_t, const cudnnTensorDescriptor_t, const cudnnTensorDescriptor_t,
    const cudnnConvolutionDescriptor_t, const cudnnFilterDescriptor_t,
    const int requested, int *returned,
    cudnnConvolutionBwdFilterAlgoPerf_t *results) {
  return oneAlgorithm(requested, returned, results);
}
// Timed choices (cuDNN's Find): one algorithm, as above; nothing is run.
cudnnStatus_t cudnnFindConvolutionForwardAlgorithmEx(
    cudnnHandle_t, const cudnnTensorDescriptor_t, const void *,
    const cudnnFilterDescriptor_t, const void *,
    const cudnnConvolutionDescriptor_t, const cudnnTensorDescriptor_t, void *,
    const int requested, int *returned, cudnnConvolutionFwdAlgoPerf_t *results,
    void *, size_t) {
  return oneAlgorithm(requested, returned, results);
}
cudnnStatus_t cudnnFindConvolutionBackwardDataAlgorithmEx(
    cudnnHandle_t, const cudnnFilterDescriptor_t, const void *,
    const cudnnTensorDescriptor_t, const void *,
    const cudnnConvolutionDescriptor_t, const cudnnTensorDescriptor_t, void *,
    const int requested, int *returned,
    cudnnConvolutionBwdDataAlgoPerf_t *results, void *, size_t) {
  return oneAlgorithm(requested, returned, results);
}
cudnnStatus_t cudnnFindConvolutionBackwardFilterAlgorithmEx(
    cudnnHandle_t, const cudnnTensorDescriptor_t, const void *,
    const cudnnTensorDescriptor_t, const void *,
    const cudnnConvolutionDescriptor_t, const cudnnFilterDescriptor_t, void *,
    const int requested, int *returned,
    cudnnConvolutionBwdFilterAlgoPerf_t *results, void *, size_t) {
  return oneAlgorithm(requested, returned, results);
}
cudnnStatus_t cudnnGetConvolutionForwardWorkspaceSize(
    cudnnHandle_t, const cudnnTensorDescriptor_t, const cudnnFilterDescriptor_t,
    const cudnnConvolutionDescriptor_t, const cudnnTensorDescriptor_t,
    cudnnConvolutionFwdAlgo_t, size_t *bytes) {
  *bytes = 0;
  return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnGetConvolutionBackwardDataWorkspaceSize(
    cudnnHandle_t, const cudnnFilterDescriptor_t, const cudnnTensorDescriptor_t,
    const cudnnConvolutionDescriptor_t, const cudnnTensorDescriptor_t,
    cudnnConvolutionBwdDataAlgo_t, size_t *bytes) {
  *bytes = 0;
  return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnGetConvolutionBackwardFilterWorkspaceSize(
    cudnnHandle_t, const cudnnTensorDescriptor_t, const cudnnTensorDescriptor_t,
    const cudnnConvolutionDescriptor_t, const cudnnFilterDescriptor_t,
    cudnnConvolutionBwdFilterAlgo_t, size_t *bytes) {
  *bytes = 0;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnConvolutionForward(
    cudnnHandle_t, const void *alpha, const cudnnTensorDescriptor_t xDesc,
    const void *x, const cudnnFilterDescriptor_t wDesc, const void *w,
    const cudnnConvolutionDescriptor_t convDesc, cudnnConvolutionFwdAlgo_t,
    void *, size_t, const void *beta, const cudnnTensorDescriptor_t yDesc,
    void *y) {
  if (!convShapes(*xDesc, *wDesc, *convDesc, *yDesc))
    return CUDNN_STATUS_BAD_PARAM;
  Element type = dnnElement(xDesc->type);
  float scale = *static_cast<const float *>(alpha);
  std::vector<float> sums =
      start(y, type, size_t(yDesc->n) * yDesc->c * yDesc->h * yDesc->w,
            *static_cast<const float *>(beta));
  forEachTap(*xDesc, *wDesc, *convDesc, *yDesc,
             [&](size_t xi, size_t wi, size_t yi) {
               sums[yi] += scale * convOperand(x, xi, type, *convDesc) *
                           convOperand(w, wi, type, *convDesc);
             });
  finish(y, type, sums);
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnConvolutionBackwardData(
    cudnnHandle_t, const void *alpha, const cudnnFilterDescriptor_t wDesc,
    const void *w, const cudnnTensorDescriptor_t dyDesc, const void *dy,
    const cudnnConvolutionDescriptor_t convDesc, cudnnConvolutionBwdDataAlgo_t,
    void *, size_t, const void *beta, const cudnnTensorDescriptor_t dxDesc,
    void *dx) {
  if (!convShapes(*dxDesc, *wDesc, *convDesc, *dyDesc))
    return CUDNN_STATUS_BAD_PARAM;
  Element type = dnnElement(dxDesc->type);
  float scale = *static_cast<const float *>(alpha);
  std::vector<float> sums =
      start(dx, type, size_t(dxDesc->n) * dxDesc->c * dxDesc->h * dxDesc->w,
            *static_cast<const float *>(beta));
  forEachTap(*dxDesc, *wDesc, *convDesc, *dyDesc,
             [&](size_t xi, size_t wi, size_t yi) {
               sums[xi] += scale * convOperand(dy, yi, type, *convDesc) *
                           convOperand(w, wi, type, *convDesc);
             });
  finish(dx, type, sums);
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnConvolutionBackwardFilter(
    cudnnHandle_t, const void *alpha, const cudnnTensorDescriptor_t xDesc,
    const void *x, const cudnnTensorDescriptor_t dyDesc, const void *dy,
    const cudnnConvolutionDescriptor_t convDesc,
    cudnnConvolutionBwdFilterAlgo_t, void *, size_t, const void *beta,
    const cudnnFilterDescriptor_t dwDesc, void *dw) {
  if (!convShapes(*xDesc, *dwDesc, *convDesc, *dyDesc))
    return CUDNN_STATUS_BAD_PARAM;
  Element type = dnnElement(xDesc->type);
  float scale = *static_cast<const float *>(alpha);
  std::vector<float> sums =
      start(dw, type, size_t(dwDesc->k) * dwDesc->c * dwDesc->h * dwDesc->w,
            *static_cast<const float *>(beta));
  forEachTap(*xDesc, *dwDesc, *convDesc, *dyDesc,
             [&](size_t xi, size_t wi, size_t yi) {
               sums[wi] += scale * convOperand(x, xi, type, *convDesc) *
                           convOperand(dy, yi, type, *convDesc);
             });
  finish(dw, type, sums);
  return CUDNN_STATUS_SUCCESS;
}

//===----------------------------------------------------------------------===//
// NCCL
//===----------------------------------------------------------------------===//

const char *ncclGetErrorString(ncclResult_t result) {
  return result == ncclSuccess ? "no error" : "invalid usage (emulated NCCL)";
}
const char *ncclGetLastError(ncclComm_t) { return getLastError().c_str(); }
ncclResult_t ncclGetUniqueId(ncclUniqueId *id) {
  std::memset(id, 0, sizeof(*id));
  return ncclSuccess;
}
ncclResult_t ncclCommInitRankConfig(ncclComm_t *comm, int nranks, ncclUniqueId,
                                    int rank, ncclConfig_t *) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized)
    return ncclError("emulated NCCL needs an MPI job");
  int worldRank = 0, worldSize = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &worldRank);
  MPI_Comm_size(MPI_COMM_WORLD, &worldSize);
  if (nranks != worldSize || rank != worldRank)
    return ncclError("emulated NCCL: a communicator other than the MPI job's "
                     "own is made by ncclCommSplit");
  auto *result = new ncclComm();
  MPI_Comm_dup(MPI_COMM_WORLD, &result->comm);
  result->rank = rank;
  result->size = nranks;
  *comm = result;
  return ncclSuccess;
}
ncclResult_t ncclCommSplit(ncclComm_t comm, int color, int key,
                           ncclComm_t *newcomm, ncclConfig_t *) {
  MPI_Comm split = MPI_COMM_NULL;
  MPI_Comm_split(comm->comm, color < 0 ? MPI_UNDEFINED : color, key, &split);
  if (split == MPI_COMM_NULL) {
    *newcomm = nullptr;
    return ncclSuccess;
  }
  auto *result = new ncclComm();
  result->comm = split;
  MPI_Comm_rank(split, &result->rank);
  MPI_Comm_size(split, &result->size);
  *newcomm = result;
  return ncclSuccess;
}
static void freeComm(ncclComm_t comm) {
  if (!comm)
    return;
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized && comm->comm != MPI_COMM_NULL)
    MPI_Comm_free(&comm->comm);
  delete comm;
}
ncclResult_t ncclCommDestroy(ncclComm_t comm) {
  freeComm(comm);
  return ncclSuccess;
}
ncclResult_t ncclCommAbort(ncclComm_t comm) {
  // The peers may be stuck: no collective MPI_Comm_free; transfers in
  // progress are cancelled.
  if (comm)
    for (MPI_Request &request : comm->pending)
      MPI_Cancel(&request);
  return ncclSuccess;
}
ncclResult_t ncclCommGetAsyncError(ncclComm_t comm, ncclResult_t *state) {
  *state = progress(comm) ? ncclSuccess : ncclInProgress;
  return ncclSuccess;
}

/// A collective on `comm` after transfers still in progress on it: NCCL
/// runs a communicator's operations in order, and so does the emulator,
/// which cannot leave a collective in progress.
static bool transfersDone(ncclComm_t comm) {
  if (progress(comm))
    return true;
  getLastError() = "emulated NCCL: a collective on a communicator whose "
                   "sends and receives are still in progress";
  return false;
}

ncclResult_t ncclAllReduce(const void *in, void *out, size_t count,
                           ncclDataType_t type, ncclRedOp_t op, ncclComm_t comm,
                           cudaStream_t) {
  if (inGroup())
    return ncclError("emulated NCCL: collectives inside a group");
  if (!transfersDone(comm))
    return ncclInvalidUsage;
  trace("all_reduce of %zu elements over %d ranks", count, comm->size);
  return reduceRows(in, out, count, 0, count, type, op, comm);
}
ncclResult_t ncclReduceScatter(const void *in, void *out, size_t count,
                               ncclDataType_t type, ncclRedOp_t op,
                               ncclComm_t comm, cudaStream_t) {
  if (inGroup())
    return ncclError("emulated NCCL: collectives inside a group");
  if (!transfersDone(comm))
    return ncclInvalidUsage;
  // Rank r's `count` elements are block r of each rank's input: gather
  // the whole inputs, reduce block r.
  trace("reduce_scatter of %zu elements over %d ranks", count, comm->size);
  return reduceRows(in, out, count, comm->rank * count, count * comm->size,
                    type, op, comm);
}
ncclResult_t ncclAllGather(const void *in, void *out, size_t count,
                           ncclDataType_t type, ncclComm_t comm, cudaStream_t) {
  if (inGroup())
    return ncclError("emulated NCCL: collectives inside a group");
  if (!transfersDone(comm))
    return ncclInvalidUsage;
  std::optional<size_t> bytes = ncclBytes(type);
  if (!bytes)
    return ncclError("emulated NCCL: unsupported data type");
  trace("all_gather of %zu elements over %d ranks", count, comm->size);
  std::vector<char> copy(static_cast<const char *>(in),
                         static_cast<const char *>(in) + count * *bytes);
  MPI_Allgather(copy.data(), static_cast<int>(count * *bytes), MPI_BYTE, out,
                static_cast<int>(count * *bytes), MPI_BYTE, comm->comm);
  return ncclSuccess;
}
ncclResult_t ncclGroupStart() {
  trace("group start");
  inGroup() = true;
  return ncclSuccess;
}
ncclResult_t ncclGroupEnd() {
  // A non-blocking communicator: the group's transfers are issued and
  // complete when their peers take part (the caller polls
  // ncclCommGetAsyncError, with its own timeout); a peer that never
  // posts the matching operation leaves them in progress, as on a GPU.
  inGroup() = false;
  bool done = true;
  for (ncclComm_t comm : getGroupComms())
    done = progress(comm) && done;
  trace("group end: %s", done ? "complete" : "in progress");
  getGroupComms().clear();
  return done ? ncclSuccess : ncclInProgress;
}
ncclResult_t ncclSend(const void *data, size_t count, ncclDataType_t type,
                      int peer, ncclComm_t comm, cudaStream_t stream) {
  std::optional<size_t> bytes = ncclBytes(type);
  if (!bytes)
    return ncclError("emulated NCCL: unsupported data type");
  trace("send of %zu bytes to %d", count * *bytes, peer);
  MPI_Request request;
  MPI_Isend(data, static_cast<int>(count * *bytes), MPI_BYTE, peer, 7,
            comm->comm, &request);
  // In progress on its stream until the peer receives it: the host goes
  // on (NCCL enqueues it); the stream's later frees wait for it.
  if (stream)
    stream->sends.push_back(request);
  else
    comm->pending.push_back(request);
  getGroupComms().push_back(comm);
  return inGroup() ? ncclSuccess : ncclGroupEnd();
}
ncclResult_t ncclRecv(void *data, size_t count, ncclDataType_t type, int peer,
                      ncclComm_t comm, cudaStream_t) {
  std::optional<size_t> bytes = ncclBytes(type);
  if (!bytes)
    return ncclError("emulated NCCL: unsupported data type");
  trace("recv of %zu bytes from %d", count * *bytes, peer);
  MPI_Request request;
  MPI_Irecv(data, static_cast<int>(count * *bytes), MPI_BYTE, peer, 7,
            comm->comm, &request);
  comm->pending.push_back(request);
  getGroupComms().push_back(comm);
  return inGroup() ? ncclSuccess : ncclGroupEnd();
}

} // extern "C"

//===----------------------------------------------------------------------===//
// The fused attention (CUDAAttention.h)
//===----------------------------------------------------------------------===//
//
// Not a library function the runtime calls by cuDNN's name: the GPU build
// builds cuDNN graphs through the frontend's C++ API (CUDAAttention.cpp),
// which is checked on a device only. Here the two calls compute what those
// graphs do, by definition, in f32: the scores from the 16-bit operands
// (exact products, f32 sums over the head dimension in order), each row's
// lse, the probabilities exp(S - lse), and the outputs rounded once.

namespace {
using autopar::cuda::AttentionOperand;
using autopar::cuda::AttentionProblem;

/// Element (b, h, s, d) of an attention operand.
size_t at(const AttentionOperand &operand, int64_t b, int64_t h, int64_t s,
          int64_t d) {
  return static_cast<size_t>(b * operand.strides[0] + h * operand.strides[1] +
                             s * operand.strides[2] + d);
}

Element attentionElement(const AttentionProblem &problem) {
  return problem.dtype == 1 ? Element::F16 : Element::BF16;
}

float loadAt(const AttentionOperand &operand, const AttentionProblem &p,
             int64_t b, int64_t h, int64_t s, int64_t d) {
  return static_cast<float>(
      load(operand.data, at(operand, b, h, s, d), attentionElement(p)));
}

void storeAt(const AttentionOperand &operand, const AttentionProblem &p,
             int64_t b, int64_t h, int64_t s, int64_t d, float value) {
  store(operand.data, at(operand, b, h, s, d), attentionElement(p), value);
}

/// The key-value head query head `h` reads.
int64_t kvHeadOf(const AttentionProblem &p, int64_t h) {
  return h / (p.heads / p.kvHeads);
}

/// Row i's scaled scores (-inf where masked) of query head h.
void attentionScores(const AttentionProblem &p, const AttentionOperand &q,
                     const AttentionOperand &k, int64_t b, int64_t h, int64_t i,
                     std::vector<float> &scores) {
  scores.assign(p.keys, -INFINITY);
  int64_t kvHead = kvHeadOf(p, h);
  for (int64_t j = 0; j < p.keys; ++j) {
    if (p.causal && j > i + p.rowOffset)
      continue;
    float sum = 0;
    for (int64_t d = 0; d < p.dim; ++d)
      sum += loadAt(q, p, b, h, i, d) * loadAt(k, p, b, kvHead, j, d);
    scores[j] = static_cast<float>(p.scale) * sum;
  }
}

size_t lseAt(const AttentionProblem &p, int64_t b, int64_t h, int64_t i) {
  return static_cast<size_t>((b * p.heads + h) * p.rows + i);
}
} // namespace

std::string autopar::cuda::runAttention(
    cudnnHandle_t, const AttentionProblem &p, const AttentionOperand &q,
    const AttentionOperand &k, const AttentionOperand &v,
    const AttentionOperand &o, float *lse, const Workspace &) {
  std::vector<float> scores, out(p.valueDim);
  for (int64_t b = 0; b < p.batch; ++b)
    for (int64_t h = 0; h < p.heads; ++h)
      for (int64_t i = 0; i < p.rows; ++i) {
        attentionScores(p, q, k, b, h, i, scores);
        float max = -INFINITY;
        for (float score : scores)
          max = std::max(max, score);
        float sum = 0;
        for (float score : scores)
          sum += std::exp(score - max);
        float rowLse = max + std::log(sum);
        lse[lseAt(p, b, h, i)] = rowLse;
        std::fill(out.begin(), out.end(), 0.0f);
        for (int64_t j = 0; j < p.keys; ++j) {
          float probability = std::exp(scores[j] - rowLse);
          for (int64_t e = 0; e < p.valueDim; ++e)
            out[e] += probability * loadAt(v, p, b, kvHeadOf(p, h), j, e);
        }
        for (int64_t e = 0; e < p.valueDim; ++e)
          storeAt(o, p, b, h, i, e, out[e]);
      }
  return "";
}

std::string autopar::cuda::runAttentionGrad(
    cudnnHandle_t, const AttentionProblem &p, const AttentionOperand &q,
    const AttentionOperand &k, const AttentionOperand &v,
    const AttentionOperand &o, const AttentionOperand &dO, const float *lse,
    const AttentionOperand &dQ, const AttentionOperand &dK,
    const AttentionOperand &dV, const Workspace &) {
  std::vector<float> scores, gradScores(p.keys), gradQ(p.dim);
  std::vector<float> gradK(p.keys * p.dim), gradV(p.keys * p.valueDim);
  int64_t group = p.heads / p.kvHeads;
  for (int64_t b = 0; b < p.batch; ++b)
    for (int64_t kvHead = 0; kvHead < p.kvHeads; ++kvHead) {
      // A key-value head's gradients sum over the query heads reading it.
      std::fill(gradK.begin(), gradK.end(), 0.0f);
      std::fill(gradV.begin(), gradV.end(), 0.0f);
      for (int64_t h = kvHead * group; h < (kvHead + 1) * group; ++h)
        for (int64_t i = 0; i < p.rows; ++i) {
          attentionScores(p, q, k, b, h, i, scores);
          float rowLse = lse[lseAt(p, b, h, i)];
          float rowDot = 0;
          for (int64_t e = 0; e < p.valueDim; ++e)
            rowDot += loadAt(dO, p, b, h, i, e) * loadAt(o, p, b, h, i, e);
          for (int64_t j = 0; j < p.keys; ++j) {
            float probability = std::exp(scores[j] - rowLse);
            float gradProbability = 0;
            for (int64_t e = 0; e < p.valueDim; ++e) {
              float gradOut = loadAt(dO, p, b, h, i, e);
              gradV[j * p.valueDim + e] += probability * gradOut;
              gradProbability += gradOut * loadAt(v, p, b, kvHead, j, e);
            }
            gradScores[j] = std::isinf(scores[j])
                                ? 0.0f
                                : static_cast<float>(p.scale) * probability *
                                      (gradProbability - rowDot);
          }
          std::fill(gradQ.begin(), gradQ.end(), 0.0f);
          for (int64_t j = 0; j < p.keys; ++j)
            for (int64_t d = 0; d < p.dim; ++d) {
              gradQ[d] += gradScores[j] * loadAt(k, p, b, kvHead, j, d);
              gradK[j * p.dim + d] += gradScores[j] * loadAt(q, p, b, h, i, d);
            }
          for (int64_t d = 0; d < p.dim; ++d)
            storeAt(dQ, p, b, h, i, d, gradQ[d]);
        }
      for (int64_t j = 0; j < p.keys; ++j) {
        for (int64_t d = 0; d < p.dim; ++d)
          storeAt(dK, p, b, kvHead, j, d, gradK[j * p.dim + d]);
        for (int64_t e = 0; e < p.valueDim; ++e)
          storeAt(dV, p, b, kvHead, j, e, gradV[j * p.valueDim + e]);
      }
    }
  return "";
}
