/* autopar_cuda_conv2d's dtype 3 (f32 buffers holding widened 16-bit
 * values, convolved on TF32 tensor cores) against dtype 0 (f32, FMA math),
 * through the CUDA runtime built against the emulator, which rounds f32
 * operands to TF32 (10 significand bits, ties away from zero) whenever the
 * math type allows tensor cores: a 1x1 convolution of x by 1. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
void *mgpuMemAlloc(uint64_t bytes, void *stream, _Bool isHostShared);
void autopar_cuda_synchronize(void);
void autopar_cuda_conv2d(int64_t x, int64_t w, int64_t y, int64_t n, int64_t c,
                         int64_t h, int64_t wd, int64_t f, int64_t kh,
                         int64_t kw, int64_t padH, int64_t padW,
                         int64_t strideH, int64_t strideW, int64_t dilationH,
                         int64_t dilationW, int32_t mode, int32_t dtype,
                         int32_t accumulate);
void autopar_cuda_emulated_load(void);
int main(void) {
  autopar_cuda_emulated_load(); // what a program's kernel-module constructor
                                // calls
  float *x = mgpuMemAlloc(4, 0, 1), *w = mgpuMemAlloc(4, 0, 1),
        *y = mgpuMemAlloc(4, 0, 1);
  const float values[2] = {1.0f + 0x1p-11f, 1.0f + 0x1p-7f};
  for (int v = 0; v < 2; ++v)
    for (int dtype = 0; dtype <= 3; dtype += 3) {
      *x = values[v];
      *w = 1.0f;
      *y = 0.0f;
      autopar_cuda_conv2d((int64_t)x, (int64_t)w, (int64_t)y, 1, 1, 1, 1, 1, 1,
                          1, 0, 0, 1, 1, 1, 1, 0, dtype, 0);
      autopar_cuda_synchronize();
      printf("x %a dtype %d: y %a\n", values[v], dtype, *y);
    }
  return 0;
}
