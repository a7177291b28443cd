//===- DeviceLayout.h - how the CUDA runtime maps its calls -----*- C++ -*-===//
//
// The arithmetic of the CUDA runtime's calls, kept free of CUDA so that it
// is checked on any machine (test/Unit/DeviceLayoutTest.cpp applies it with
// host implementations of the library calls' documented semantics):
//
//  * the 2-D copies that reorder an [a, b, row] array into [b, a, row]
//    (collectives along inner dimensions);
//  * the column-major cuBLAS GEMM that computes a row-major product.
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_RUNTIME_DEVICELAYOUT_H
#define AUTOPAR_RUNTIME_DEVICELAYOUT_H

#include <cstddef>
#include <cstdint>
#include <vector>

namespace autopar::runtime {

/// One strided copy (cuMemcpy2D): `height` rows of `width` bytes from
/// src + i * srcPitch to dst + i * dstPitch (offsets in bytes).
struct Copy2D {
  size_t dstOffset, dstPitch, srcOffset, srcPitch, width, height;
};

/// The copies that turn an [a, b, row] array of `row`-byte rows into
/// [b, a, row] order: min(a, b) strided copies (one plain copy when a or b
/// is 1).
inline std::vector<Copy2D> planSwapOuter(size_t a, size_t b, size_t row) {
  std::vector<Copy2D> copies;
  if (a == 1 || b == 1) {
    copies.push_back({0, a * b * row, 0, a * b * row, a * b * row, 1});
    return copies;
  }
  if (b <= a) {
    // Column j of the source ([*, j]) is the contiguous block j of the result.
    for (size_t j = 0; j < b; ++j)
      copies.push_back({j * a * row, row, j * row, b * row, row, a});
  } else {
    // Block i of the source ([i, *]) is column i of the result.
    for (size_t i = 0; i < a; ++i)
      copies.push_back({i * row, a * row, i * b * row, row, row, b});
  }
  return copies;
}

/// A cuBLAS strided batched GEMM in column-major terms:
/// C = op(first) op(second) + C, C column-major m x n with leading
/// dimension ldc; `firstIsB` says which row-major operand is passed first.
struct ColumnMajorGemm {
  bool transFirst, transSecond;
  int64_t m, n, k;
  bool firstIsB;
  int64_t ldFirst, strideFirst, ldSecond, strideSecond, ldc, strideC;
  /// The operands as stored (column-major rows x columns), as cuBLASLt's
  /// matrix layouts describe them.
  int64_t firstRows() const { return transFirst ? k : m; }
  int64_t firstColumns() const { return transFirst ? m : k; }
  int64_t secondRows() const { return transSecond ? n : k; }
  int64_t secondColumns() const { return transSecond ? k : n; }
};

/// Row-major C[m, n] += A B (A stored [m, k] or [k, m] with `transA`, B
/// [k, n] or [n, k] with `transB`) is column-major C^T = B^T A^T: B first,
/// the roles of m and n exchanged, the storage transposes unchanged.
inline ColumnMajorGemm mapRowMajorGemm(int64_t m, int64_t n, int64_t k,
                                       bool transA, bool transB) {
  ColumnMajorGemm gemm;
  gemm.transFirst = transB;
  gemm.transSecond = transA;
  gemm.m = n;
  gemm.n = m;
  gemm.k = k;
  gemm.firstIsB = true;
  gemm.ldFirst = transB ? k : n;
  gemm.strideFirst = k * n;
  gemm.ldSecond = transA ? m : k;
  gemm.strideSecond = m * k;
  gemm.ldc = n;
  gemm.strideC = m * n;
  return gemm;
}

} // namespace autopar::runtime

#endif // AUTOPAR_RUNTIME_DEVICELAYOUT_H
