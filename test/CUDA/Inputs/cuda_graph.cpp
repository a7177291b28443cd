/* The CUDA runtime's graph calls (autopar_cuda_graph_*), as a function
 * autopar-capture-graphs wrapped makes them, through the runtime built
 * against the emulator: the key's first call runs as is, later ones are
 * captured (the emulator cannot replay: on a GPU they would be replayed),
 * other buffers make another key; the captured work runs (its result is
 * there). With `wait` the step waits for the GPU inside, with `free` it
 * frees a buffer allocated before the capture: both are errors while
 * capturing. */
#include "autopar/Runtime/CUDARuntime.h"

#include <cstdio>
#include <cstring>

/// The emulator's stand-in for loading the kernels' modules (a compiled
/// program's global constructor calls it; CUDAEmulator.cpp).
extern "C" void autopar_cuda_emulated_load();

namespace {
const char *const kName = "step";

/// A device buffer allocated before any capture (`free` frees it inside
/// one).
void *outside = nullptr;

/// One call of a step on `buffer`: a scratch buffer from the pool, a fill
/// of `buffer` with `value`, the scratch freed (with `wait`, a host wait
/// inside; with `free`, `outside` freed while capturing). Returns
/// autopar_cuda_graph_begin's answer.
int step(unsigned *buffer, unsigned value, bool wait, bool free) {
  autopar_cuda_graph_key(reinterpret_cast<int64_t>(buffer));
  int action = autopar_cuda_graph_begin(kName);
  if (action != 2) {
    void *stream = mgpuStreamCreate();
    void *scratch = mgpuMemAlloc(64, stream, /*isHostShared=*/false);
    mgpuMemset32(buffer, value, 4, stream);
    if (wait)
      autopar_cuda_synchronize();
    if (free && action == 1)
      autopar_cuda_free_device(reinterpret_cast<int64_t>(outside));
    autopar_cuda_free_device(reinterpret_cast<int64_t>(scratch));
    autopar_cuda_graph_end(kName);
  }
  return action;
}
} // namespace

int main(int argc, char **argv) {
  autopar_cuda_emulated_load();
  bool wait = argc > 1 && !std::strcmp(argv[1], "wait");
  bool free = argc > 1 && !std::strcmp(argv[1], "free");
  outside = mgpuMemAlloc(64, nullptr, /*isHostShared=*/false);
  auto *a = static_cast<unsigned *>(mgpuMemAlloc(16, nullptr, true));
  auto *b = static_cast<unsigned *>(mgpuMemAlloc(16, nullptr, true));
  for (unsigned call = 0; call < 3; ++call) {
    int action = step(a, call + 1, wait, free);
    autopar_cuda_synchronize();
    printf("a, call %u: action %d, a[3] = %u\n", call, action, a[3]);
  }
  int action = step(b, 9, wait, free);
  autopar_cuda_synchronize();
  printf("b: action %d, b[3] = %u\n", action, b[3]);
  printf("captures %lld, replays %lld\n",
         static_cast<long long>(autopar_cuda_graph_captures()),
         static_cast<long long>(autopar_cuda_graph_replays()));
  return 0;
}
