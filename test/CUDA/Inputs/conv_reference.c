/* What autopar_cuda_conv2d computes (include/autopar/Runtime/CUDARuntime.h),
   on the host with plain loops: a 2-D NCHW cross-correlation with symmetric
   padding, accumulating into its result (set to zeros first when
   `accumulate` is 0); mode 0 the output, 1 the data gradient, 2 the filter
   gradient. Lets the CPU check which ops
   autopar-convolutions-to-cudnn hands to cuDNN and with which geometry. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

void autopar_cuda_conv2d(int64_t x, int64_t w, int64_t y, int64_t n, int64_t c,
                         int64_t h, int64_t wd, int64_t f, int64_t kh,
                         int64_t kw, int64_t padH, int64_t padW,
                         int64_t strideH, int64_t strideW, int64_t dilationH,
                         int64_t dilationW, int32_t mode, int32_t dtype,
                         int32_t accumulate) {
  float *X = (float *)x, *W = (float *)w, *Y = (float *)y;
  /* f32 buffers: 0, or 3 (widened 16-bit values, exact products). */
  if (dtype != 0 && dtype != 3) {
    fprintf(stderr, "conv_reference: f32 only, got element type code %d\n",
            dtype);
    exit(1);
  }
  int64_t oh = (h + 2 * padH - (kh - 1) * dilationH - 1) / strideH + 1;
  int64_t ow = (wd + 2 * padW - (kw - 1) * dilationW - 1) / strideW + 1;
  if (mode < 0 || mode > 2) {
    fprintf(stderr, "conv_reference: bad mode %d\n", mode);
    exit(1);
  }
  if (!accumulate) {
    float *out = mode == 0 ? Y : mode == 1 ? X : W;
    int64_t count = mode == 0   ? n * f * oh * ow
                    : mode == 1 ? n * c * h * wd
                                : f * c * kh * kw;
    for (int64_t e = 0; e < count; ++e)
      out[e] = 0.0f;
  }
  for (int64_t b = 0; b < n; ++b)
    for (int64_t o = 0; o < f; ++o)
      for (int64_t p = 0; p < oh; ++p)
        for (int64_t q = 0; q < ow; ++q)
          for (int64_t i = 0; i < c; ++i)
            for (int64_t r = 0; r < kh; ++r)
              for (int64_t s = 0; s < kw; ++s) {
                int64_t row = p * strideH + r * dilationH - padH;
                int64_t col = q * strideW + s * dilationW - padW;
                if (row < 0 || row >= h || col < 0 || col >= wd)
                  continue;
                float *xv = &X[((b * c + i) * h + row) * wd + col];
                float *wv = &W[((o * c + i) * kh + r) * kw + s];
                float *yv = &Y[((b * f + o) * oh + p) * ow + q];
                if (mode == 0)
                  *yv += *xv * *wv;
                else if (mode == 1)
                  *xv += *yv * *wv;
                else
                  *wv += *xv * *yv;
              }
}
