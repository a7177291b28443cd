//===- DeviceLayoutTest.cpp - the CUDA runtime's call mapping on the CPU --===//
//
// Checks include/autopar/Runtime/DeviceLayout.h without a GPU, by applying
// its plans with host implementations of the library calls' documented
// semantics:
//  * planSwapOuter's 2-D copies (cuMemcpy2D: `height` rows of `width` bytes
//    between pitched addresses) turn [a, b, row] into [b, a, row];
//  * mapRowMajorGemm's column-major GEMM (cuBLAS: C = op(A) op(B) + C on
//    column-major storage with leading dimensions and batch strides)
//    computes the row-major C[m, n] += A B for every storage transpose,
//    reading only inside the stored layouts it describes (cuBLASLt's).
// Prints a summary the lit test checks; exits 1 on a mismatch.
//
//===----------------------------------------------------------------------===//

#include "autopar/Runtime/DeviceLayout.h"

#include <cstdio>
#include <cstring>
#include <vector>

using namespace autopar::runtime;

namespace {
int failures = 0;
/// Elements read outside the stored layouts the mapping describes.
long outside = 0;

/// cuMemcpy2D on host memory.
void apply(const Copy2D &copy, char *dst, const char *src) {
  for (size_t row = 0; row < copy.height; ++row)
    std::memcpy(dst + copy.dstOffset + row * copy.dstPitch,
                src + copy.srcOffset + row * copy.srcPitch, copy.width);
}

long checkSwaps() {
  long cases = 0;
  for (size_t a = 1; a <= 6; ++a)
    for (size_t b = 1; b <= 6; ++b)
      for (size_t row : {1, 4, 12}) {
        std::vector<char> from(a * b * row), to(a * b * row, 0),
            expected(a * b * row);
        for (size_t i = 0; i < from.size(); ++i)
          from[i] = static_cast<char>(i * 7 + 3);
        for (size_t i = 0; i < a; ++i)
          for (size_t j = 0; j < b; ++j)
            std::memcpy(&expected[(j * a + i) * row], &from[(i * b + j) * row],
                        row);
        std::vector<Copy2D> plan = planSwapOuter(a, b, row);
        for (const Copy2D &copy : plan)
          apply(copy, to.data(), from.data());
        ++cases;
        size_t most = a == 1 || b == 1 ? 1 : (a < b ? a : b);
        if (to != expected || plan.size() != most) {
          if (failures++ < 10)
            std::printf("FAIL: swap a=%zu b=%zu row=%zu\n", a, b, row);
        }
      }
  return cases;
}

/// cuBLAS's strided batched GEMM on host memory (column-major):
/// C[i + j ldc] += sum_p op(X)(i, p) op(Y)(p, j), op(X) m x k.
void columnMajorGemm(const ColumnMajorGemm &g, const float *x, const float *y,
                     float *c, int64_t batch) {
  for (int64_t s = 0; s < batch; ++s)
    for (int64_t i = 0; i < g.m; ++i)
      for (int64_t j = 0; j < g.n; ++j) {
        float sum = 0;
        for (int64_t p = 0; p < g.k; ++p) {
          const float *xs = x + s * g.strideFirst, *ys = y + s * g.strideSecond;
          // The element of each operand as stored: (row, column) within
          // the layout cuBLASLt is given.
          int64_t xr = g.transFirst ? p : i, xc = g.transFirst ? i : p;
          int64_t yr = g.transSecond ? j : p, yc = g.transSecond ? p : j;
          if (xr >= g.firstRows() || xc >= g.firstColumns() ||
              g.firstRows() > g.ldFirst || yr >= g.secondRows() ||
              yc >= g.secondColumns() || g.secondRows() > g.ldSecond)
            ++outside;
          sum += xs[xr + xc * g.ldFirst] * ys[yr + yc * g.ldSecond];
        }
        c[s * g.strideC + i + j * g.ldc] += sum;
      }
}

long checkGemms() {
  long cases = 0;
  for (int64_t m : {1, 2, 3, 5})
    for (int64_t n : {1, 2, 4})
      for (int64_t k : {1, 3, 4})
        for (int64_t batch : {1, 3})
          for (int transA = 0; transA < 2; ++transA)
            for (int transB = 0; transB < 2; ++transB) {
              std::vector<float> a(batch * m * k), b(batch * k * n),
                  c(batch * m * n), expected;
              for (size_t i = 0; i < a.size(); ++i)
                a[i] = static_cast<float>(static_cast<int>(i * 5 % 7) - 3);
              for (size_t i = 0; i < b.size(); ++i)
                b[i] = static_cast<float>(static_cast<int>(i * 3 % 5) - 2);
              for (size_t i = 0; i < c.size(); ++i)
                c[i] = static_cast<float>(i % 3);
              expected = c;
              // Row-major reference, storage transposes as documented.
              for (int64_t s = 0; s < batch; ++s)
                for (int64_t i = 0; i < m; ++i)
                  for (int64_t j = 0; j < n; ++j)
                    for (int64_t p = 0; p < k; ++p) {
                      float av = transA ? a[s * m * k + p * m + i]
                                        : a[s * m * k + i * k + p];
                      float bv = transB ? b[s * k * n + j * k + p]
                                        : b[s * k * n + p * n + j];
                      expected[s * m * n + i * n + j] += av * bv;
                    }
              ColumnMajorGemm g = mapRowMajorGemm(m, n, k, transA, transB);
              outside = 0;
              columnMajorGemm(g, g.firstIsB ? b.data() : a.data(),
                              g.firstIsB ? a.data() : b.data(), c.data(),
                              batch);
              ++cases;
              if ((c != expected || outside) && failures++ < 10)
                std::printf("FAIL: gemm m=%lld n=%lld k=%lld batch=%lld "
                            "transA=%d transB=%d\n",
                            (long long)m, (long long)n, (long long)k,
                            (long long)batch, transA, transB);
            }
  return cases;
}
} // namespace

int main() {
  long swaps = checkSwaps();
  long gemms = checkGemms();
  std::printf("device layout: %ld swaps, %ld gemms, %d failures\n", swaps,
              gemms, failures);
  return failures ? 1 : 0;
}
