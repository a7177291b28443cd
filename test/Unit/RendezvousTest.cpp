//===- RendezvousTest.cpp - drives the runtime's rendezvous ---------------===//
//
// autopar-rendezvous-test [SEED]: reads the job from the environment as the
// CUDA runtime does, lets rank 0 share a 128-byte blob made from SEED (the
// size of NCCL's unique id) and prints what this rank received. Exit 1 with
// the runtime's message when the rendezvous fails.
//
//===----------------------------------------------------------------------===//

#include "autopar/Runtime/Rendezvous.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>

using namespace autopar::runtime;

int main(int argc, char **argv) {
  World world;
  std::string error = getWorldFromEnvironment(world);
  if (!error.empty()) {
    std::fprintf(stderr, "error: %s\n", error.c_str());
    return 1;
  }
  uint64_t seed = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1;
  unsigned char blob[128] = {};
  if (world.rank == 0)
    for (unsigned i = 0; i < sizeof(blob); ++i)
      blob[i] = static_cast<unsigned char>((seed * 131 + i * 7) & 0xff);
  error =
      broadcastFromRankZero(world, blob, sizeof(blob), getRendezvousTimeout());
  if (!error.empty()) {
    std::fprintf(stderr, "error: rank %d: %s\n", world.rank, error.c_str());
    return 1;
  }
  uint64_t sum = 0;
  for (unsigned char byte : blob)
    sum = sum * 31 + byte;
  std::printf("rank %d of %d (local %d, %s): blob %016llx\n", world.rank,
              world.size, world.localRank, getLauncherName(world.launcher),
              static_cast<unsigned long long>(sum));
  return 0;
}
