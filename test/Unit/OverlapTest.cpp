//===- OverlapTest.cpp - gradient synchronisation behind the backward -----===//
//
// Prints getExposedSync (Cost/Overlap.h) on small backwards whose answer is
// worked out by hand in overlap.test.
//
//===----------------------------------------------------------------------===//

#include "autopar/Cost/Overlap.h"

#include <cstdio>

using namespace mlir::autopar;

namespace {
void print(const char *name, llvm::ArrayRef<BackwardStep> steps,
           double bucketBytes) {
  std::printf("%s: exposed %.2f\n", name, getExposedSync(steps, bucketBytes));
}
} // namespace

int main() {
  // Forward order; the backward runs them last to first.
  BackwardStep none{1, 0, 0}, synced{1, 2, 10};
  print("two buckets", {none, synced, synced}, 15);
  print("one bucket", {none, synced, synced}, 100);
  print("nothing to synchronise", {none, none}, 15);
  print("hidden", {BackwardStep{5, 0, 0}, BackwardStep{1, 1, 10}}, 5);
  print("stream busy", {synced, synced, synced}, 10);
  return 0;
}
