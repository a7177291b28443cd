//===- CUDAAttention.h - the fused attention behind the CUDA runtime ------===//
//
// Internal to libautopar_cuda_runtime: autopar_cuda_attention and
// autopar_cuda_attention_grad (CUDARuntime.cpp) check their arguments and
// call these. The GPU build runs them as cuDNN's fused flash attention,
// built with the cuDNN frontend's graph API (CUDAAttention.cpp); the
// emulated build computes them on the host (CUDAEmulator.cpp), in f32, as
// the CPU path's decomposition does.
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_LIB_RUNTIME_CUDAATTENTION_H
#define AUTOPAR_LIB_RUNTIME_CUDAATTENTION_H

#include <cudnn.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

namespace autopar::cuda {

/// A [batch, heads, sequence, dim] operand: its first element and the
/// strides (in elements) of its first three dimensions; the last is
/// contiguous.
struct AttentionOperand {
  void *data = nullptr;
  int64_t strides[3] = {0, 0, 0};
};

/// One attention: Q [b, h, rows, dim], K [b, kvHeads, keys, dim], V
/// [b, kvHeads, keys, valueDim] and O [b, h, rows, valueDim] of `dtype` (1
/// f16, 2 bf16), query head h reading key-value head h / (h / kvHeads); the
/// log-sum-exp of each row's scaled (and masked) scores in f32, contiguous
/// [b, h, rows]; with `causal`, key j > row i + rowOffset is masked (the
/// rows a device holds of a longer query, rowOffset its first).
struct AttentionProblem {
  int64_t batch, heads, kvHeads, rows, keys, dim, valueDim;
  double scale;
  bool causal;
  int32_t dtype;
  int64_t rowOffset;
};

/// Device memory of at least the given size, valid until the next call.
using Workspace = std::function<void *(size_t)>;

/// O and the lse from Q, K and V; "" or why it could not run.
std::string runAttention(cudnnHandle_t handle, const AttentionProblem &problem,
                         const AttentionOperand &q, const AttentionOperand &k,
                         const AttentionOperand &v, const AttentionOperand &o,
                         float *lse, const Workspace &workspace);

/// dQ, dK and dV (written, not added to) from Q, K, V, O, dO and the lse
/// (the lse's own adjoint zero); "" or why it could not run.
std::string
runAttentionGrad(cudnnHandle_t handle, const AttentionProblem &problem,
                 const AttentionOperand &q, const AttentionOperand &k,
                 const AttentionOperand &v, const AttentionOperand &o,
                 const AttentionOperand &dO, const float *lse,
                 const AttentionOperand &dQ, const AttentionOperand &dK,
                 const AttentionOperand &dV, const Workspace &workspace);

} // namespace autopar::cuda

#endif // AUTOPAR_LIB_RUNTIME_CUDAATTENTION_H
