//===- OverlapTest.cpp - communication behind compute ---------------------===//
//
// Prints getExposedCommunication (Cost/Overlap.h) on small passes whose
// answer is worked out by hand in overlap.test.
//
//===----------------------------------------------------------------------===//

#include "autopar/Cost/Overlap.h"

#include <cstdio>

using namespace mlir::autopar;

namespace {
void print(const char *name, llvm::ArrayRef<PassStep> steps, double bucketBytes,
           bool prefetch = true, double unitBytes = 1) {
  std::printf("%s: exposed %.2f\n", name,
              getExposedCommunication(steps, prefetch, bucketBytes, unitBytes));
}
} // namespace

int main() {
  // Backwards, in the order they run (the last op's first).
  PassStep none{1, 0, 0, 0, 0}, synced{1, 0, 0, 2, 10};
  print("two buckets", {synced, synced, none}, 15);
  print("one bucket", {synced, synced, none}, 100);
  print("nothing to synchronise", {none, none}, 15);
  print("hidden", {PassStep{1, 0, 0, 1, 10}, PassStep{5, 0, 0, 0, 0}}, 5);
  print("stream busy", {synced, synced, synced}, 10);
  // Forwards with parameter gathers (ZeRO-3), each op's parameters a unit
  // of their own (1 byte, units of 1).
  PassStep gathers{2, 1, 1, 0, 0};
  print("gathers on demand", {gathers, gathers, gathers}, 10,
        /*prefetch=*/false);
  print("gathers prefetched", {gathers, gathers, gathers}, 10);
  print("prefetch past an op without parameters",
        {gathers, none, PassStep{1, 3, 1, 0, 0}}, 10);
  // Units of 2 bytes: ops 0-1 one unit, ops 2-3 the next.
  PassStep small{2, 1, 1, 0, 0};
  print("units", {small, small, small, small}, 10, /*prefetch=*/true,
        /*unitBytes=*/2);
  // A backward: gathers prefetched, each gradient its own bucket on the
  // same stream.
  print("gathers and buckets",
        {PassStep{2, 1, 1, 1, 10}, PassStep{2, 1, 1, 1, 10}}, 10);
  // The units themselves.
  std::printf("units of 10:");
  for (unsigned unit : getGatherUnits({4, 4, 4, 30, 1, 2}, 10))
    std::printf(" %u", unit);
  std::printf("\n");
  return 0;
}
