//===- Overlap.cpp - gradient synchronisation behind the backward ---------===//
//
// The rule documented in include/autopar/Cost/Overlap.h.
//
//===----------------------------------------------------------------------===//

#include "autopar/Cost/Overlap.h"

#include <algorithm>

using namespace mlir;
using namespace mlir::autopar;

double mlir::autopar::getExposedSync(ArrayRef<BackwardStep> steps,
                                     double bucketBytes) {
  double now = 0;        // the backward's clock
  double streamFree = 0; // when the communication stream is next idle
  double bucketSeconds = 0, bucketFill = 0, bucketReady = 0;
  bool open = false;
  auto launch = [&] {
    if (!open)
      return;
    streamFree = std::max(streamFree, bucketReady) + bucketSeconds;
    bucketSeconds = bucketFill = 0;
    open = false;
  };
  for (const BackwardStep &step : llvm::reverse(steps)) {
    now += step.backwardSeconds;
    if (step.syncSeconds <= 0 && step.syncBytes <= 0)
      continue;
    if (open && bucketFill + step.syncBytes > bucketBytes)
      launch();
    bucketSeconds += step.syncSeconds;
    bucketFill += step.syncBytes;
    bucketReady = now;
    open = true;
  }
  launch();
  return std::max(0.0, streamFree - now);
}
