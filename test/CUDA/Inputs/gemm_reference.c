/* What autopar_cuda_gemm computes (include/autopar/Runtime/CUDARuntime.h),
   on the host with plain loops: row-major C[b][m, n] += A[b] B[b], A stored
   [m, k] or [k, m] (transA), B [k, n] or [n, k] (transB), elements f32 (0),
   f16 (1) or bf16 (2), computed in f32 and rounded once into C (C's
   previous contents not read when `accumulate` is 0). Lets the
   CPU check which contractions autopar-contractions-to-cublas hands to
   cuBLAS and with which arguments. */
#include <math.h>
#include <stdint.h>
#include <string.h>

static float load(const void *base, int64_t index, int32_t type) {
  if (type == 1)
    return (float)((const _Float16 *)base)[index];
  if (type == 2) {
    uint32_t bits = (uint32_t)((const uint16_t *)base)[index] << 16;
    float value;
    memcpy(&value, &bits, sizeof(value));
    return value;
  }
  return ((const float *)base)[index];
}

static void store(void *base, int64_t index, int32_t type, float value) {
  if (type == 1) {
    ((_Float16 *)base)[index] = (_Float16)value;
  } else if (type == 2) {
    uint32_t bits;
    memcpy(&bits, &value, sizeof(bits));
    bits += 0x7fff + ((bits >> 16) & 1); /* round to nearest even */
    ((uint16_t *)base)[index] = (uint16_t)(bits >> 16);
  } else {
    ((float *)base)[index] = value;
  }
}

void autopar_cuda_gemm(int64_t a, int64_t b, int64_t c, int64_t m, int64_t n,
                       int64_t k, int64_t batch, int32_t transA, int32_t transB,
                       int32_t inputType, int32_t resultType,
                       int32_t accumulate) {
  const void *A = (const void *)a, *B = (const void *)b;
  void *C = (void *)c;
  for (int64_t s = 0; s < batch; ++s)
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        int64_t at = s * m * n + i * n + j;
        float sum = accumulate ? load(C, at, resultType) : 0.0f;
        for (int64_t p = 0; p < k; ++p) {
          float x =
              load(A, transA ? s * m * k + p * m + i : s * m * k + i * k + p,
                   inputType);
          float y =
              load(B, transB ? s * k * n + j * k + p : s * k * n + p * n + j,
                   inputType);
          sum += x * y;
        }
        store(C, at, resultType, sum);
      }
}

/* autopar_cuda_gemm_epilogue: row-major D[m, n] = act(C + A B + bias[n]),
   all of `type`, computed in f32 and rounded once into D, act none, a
   ReLU or tanh-GELU (`activation` 0, 1, 2); C and D may be the same
   buffer; C not read when `accumulate` is 0. */
void autopar_cuda_gemm_epilogue(int64_t a, int64_t b, int64_t c, int64_t d,
                                int64_t bias, int64_t m, int64_t n, int64_t k,
                                int32_t transA, int32_t transB,
                                int32_t activation, int32_t type,
                                int32_t accumulate) {
  const void *A = (const void *)a, *B = (const void *)b;
  const void *C = (const void *)c, *bv = (const void *)bias;
  void *D = (void *)d;
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      float sum = accumulate ? load(C, i * n + j, type) : 0.0f;
      for (int64_t p = 0; p < k; ++p)
        sum += load(A, transA ? p * m + i : i * k + p, type) *
               load(B, transB ? j * k + p : p * n + j, type);
      if (bv)
        sum += load(bv, j, type);
      if (activation == 1 && sum < 0)
        sum = 0;
      if (activation == 2)
        sum =
            0.5f * sum *
            (1.0f + tanhf(0.7978845608f * (sum + 0.044715f * sum * sum * sum)));
      store(D, i * n + j, type, sum);
    }
}

/* autopar_cuda_gemm_gelu_aux: as autopar_cuda_gemm_epilogue with tanh-GELU
   and a bias, the sum before the activation written into `aux` too. */
void autopar_cuda_gemm_gelu_aux(int64_t a, int64_t b, int64_t c, int64_t d,
                                int64_t bias, int64_t aux, int64_t m, int64_t n,
                                int64_t k, int32_t transA, int32_t transB,
                                int32_t type, int32_t accumulate) {
  autopar_cuda_gemm_epilogue(a, b, c, aux, bias, m, n, k, transA, transB, 0,
                             type, accumulate);
  for (int64_t i = 0; i < m * n; ++i) {
    float x = load((const void *)aux, i, type);
    store((void *)d, i, type,
          0.5f * x *
              (1.0f + tanhf(0.7978845608f * (x + 0.044715f * x * x * x))));
  }
}

/* autopar_cuda_gemm_dgelu: D = (A B) * GELU'(aux) (tanh form), and with
   `bias` its column sums (a training step's GELU and bias gradients). */
void autopar_cuda_gemm_dgelu(int64_t a, int64_t b, int64_t d, int64_t bias,
                             int64_t aux, int64_t m, int64_t n, int64_t k,
                             int32_t transA, int32_t transB, int32_t type) {
  autopar_cuda_gemm_epilogue(a, b, d, d, 0, m, n, k, transA, transB, 0, type,
                             0);
  for (int64_t i = 0; i < m * n; ++i) {
    float x = load((const void *)aux, i, type);
    float t = tanhf(0.7978845608f * (x + 0.044715f * x * x * x));
    float derivative =
        0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * 0.7978845608f *
                                (1.0f + 3.0f * 0.044715f * x * x);
    store((void *)d, i, type, load((const void *)d, i, type) * derivative);
  }
  if (!bias)
    return;
  for (int64_t j = 0; j < n; ++j) {
    float sum = 0;
    for (int64_t i = 0; i < m; ++i)
      sum += load((const void *)d, i * n + j, type);
    store((void *)bias, j, type, sum);
  }
}
