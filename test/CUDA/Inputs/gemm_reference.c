/* What autopar_cuda_gemm computes (include/autopar/Runtime/CUDARuntime.h),
   on the host with plain loops: row-major C[b][m, n] += A[b] B[b], A stored
   [m, k] or [k, m] (transA), B [k, n] or [n, k] (transB). Lets the CPU check
   which contractions autopar-contractions-to-cublas hands to cuBLAS and
   with which arguments. */
#include <stdint.h>

void autopar_cuda_gemm(int64_t a, int64_t b, int64_t c, int64_t m, int64_t n,
                       int64_t k, int64_t batch, int32_t transA,
                       int32_t transB) {
  const float *A = (const float *)a, *B = (const float *)b;
  float *C = (float *)c;
  for (int64_t s = 0; s < batch; ++s)
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        float sum = C[s * m * n + i * n + j];
        for (int64_t p = 0; p < k; ++p) {
          float x = transA ? A[s * m * k + p * m + i] : A[s * m * k + i * k + p];
          float y = transB ? B[s * k * n + j * k + p] : B[s * k * n + p * n + j];
          sum += x * y;
        }
        C[s * m * n + i * n + j] = sum;
      }
}
