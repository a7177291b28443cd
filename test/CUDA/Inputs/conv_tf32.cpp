/* autopar_cuda_conv2d's dtype 3 (f32 buffers holding widened 16-bit
 * values, convolved on TF32 tensor cores) against dtype 0 (f32, FMA math),
 * through the CUDA runtime built against the emulator, which rounds f32
 * operands to TF32 (10 significand bits, ties away from zero) whenever the
 * math type allows tensor cores: a 1x1 convolution of x by 1. */
#include "autopar/Runtime/CUDARuntime.h"

#include <cstdio>

/// The emulator's stand-in for loading the kernels' modules (a compiled
/// program's global constructor calls it; CUDAEmulator.cpp).
extern "C" void autopar_cuda_emulated_load();

int main() {
  autopar_cuda_emulated_load();
  auto *x = static_cast<float *>(mgpuMemAlloc(4, nullptr, true));
  auto *w = static_cast<float *>(mgpuMemAlloc(4, nullptr, true));
  auto *y = static_cast<float *>(mgpuMemAlloc(4, nullptr, true));
  const float values[2] = {1.0f + 0x1p-11f, 1.0f + 0x1p-7f};
  for (int v = 0; v < 2; ++v)
    for (int dtype = 0; dtype <= 3; dtype += 3) {
      *x = values[v];
      *w = 1.0f;
      *y = 0.0f;
      autopar_cuda_conv2d(reinterpret_cast<int64_t>(x),
                          reinterpret_cast<int64_t>(w),
                          reinterpret_cast<int64_t>(y), 1, 1, 1, 1, 1, 1, 1, 0,
                          0, 1, 1, 1, 1, 0, dtype, 0);
      autopar_cuda_synchronize();
      printf("x %a dtype %d: y %a\n", values[v], dtype, *y);
    }
  return 0;
}
