//===- autopar-calibrate.cpp - measure this GPU, write a target -----------===//
//
//   autopar-calibrate [--base=h100-dgx] [-o target.json] [--repeat N] [-n N]
//
// Measures the GPU this process sees (device 0, or LOCAL_RANK's) and writes
// a target JSON (docs/targets.md) that starts from a preset and replaces
// the GPU's numbers by measured ones (autopar_cuda_calibrate in
// libautopar_cuda_runtime):
//
//  * f32 GEMM throughput through the same cuBLAS call the CUDA backend
//    makes (autopar_cuda_gemm), over square sizes 256..8192: the best is
//    written as peak f32 FLOP/s and each size is printed;
//  * memory bandwidth: device-to-device copies of 256 MiB (read + write);
//  * kernel launch overhead: back-to-back launches of an empty kernel;
//  * memory capacity and the GPU's name.
//
// Measured rates are achieved rates, so the efficiencies are written as
// 1.0. With -n N (N > 1) it starts itself under mpirun, one rank per GPU
// (or runs under an existing mpirun/srun/torchrun job), and also times NCCL
// all-reduces of 8 B to 256 MiB over the job: the bus bandwidth of the
// largest becomes the link's bandwidth (intra-node, or inter-node when the
// job spans nodes) and the smallest's time its latency. Alone, the links
// keep the preset's numbers. Rank 0 prints and writes.
//
// The tool loads the CUDA driver and the runtime at run time, so that it
// starts, and says why it cannot measure, on machines without a GPU.
//
//===----------------------------------------------------------------------===//

#include "autopar/Runtime/CUDARuntime.h"
#include "autopar/Tools/Launch.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>
#include <cstdlib>
#include <dlfcn.h>

#include <algorithm>
#include <string>

namespace cl = llvm::cl;

static cl::OptionCategory calibrateCategory("autopar-calibrate options");

static cl::opt<std::string> base("base",
                                 cl::desc("The preset the target starts from"),
                                 cl::init("h100-dgx"),
                                 cl::cat(calibrateCategory));
static cl::opt<std::string> output("o", cl::desc("Target JSON to write"),
                                   cl::value_desc("file"), cl::init("-"),
                                   cl::cat(calibrateCategory));
static cl::opt<int> repeat("repeat", cl::desc("Timed repetitions per case"),
                           cl::init(10), cl::cat(calibrateCategory));

static cl::opt<int> ranks("n",
                          cl::desc("Ranks (one GPU each) for the link "
                                   "measurement; started under mpirun"),
                          cl::init(1), cl::cat(calibrateCategory));

static int fail(const llvm::Twine &message) {
  llvm::errs() << "autopar-calibrate: " << message << "\n";
  return 1;
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::HideUnrelatedOptions(calibrateCategory);
  cl::ParseCommandLineOptions(argc, argv,
                              "autopar-calibrate: measure this GPU and write "
                              "a target JSON for the cost model\n");
  if (ranks < 1)
    return fail("-n must be at least 1");
  if (ranks > 1 && !autopar::tools::isUnderLauncher(/*orTorchRun=*/true)) {
    std::string error;
    int code = autopar::tools::runUnderMPI(
        argc, argv, reinterpret_cast<void *>(&fail), ranks, "mpirun", error);
    return code < 0 ? fail(error) : code;
  }
  if (std::string reason = autopar::tools::findCUDADevice(); !reason.empty())
    return fail("cannot calibrate: " + reason);
  llvm::SmallString<256> path(llvm::sys::path::parent_path(
      llvm::sys::path::parent_path(llvm::sys::fs::getMainExecutable(
          argv[0], reinterpret_cast<void *>(&fail)))));
  llvm::sys::path::append(path, "lib", "libautopar_cuda_runtime.so");
  void *runtime = dlopen(path.c_str(), RTLD_NOW);
  if (!runtime)
    return fail("cannot load " + path + ": " + dlerror());
  auto calibrate = reinterpret_cast<void (*)(AutoparCalibration *, int32_t)>(
      dlsym(runtime, "autopar_cuda_calibrate"));
  if (!calibrate)
    return fail(path + " has no autopar_cuda_calibrate");

  auto calibrateLinks =
      reinterpret_cast<int32_t (*)(AutoparLinkCalibration *, int32_t)>(
          dlsym(runtime, "autopar_cuda_calibrate_links"));
  auto getRank =
      reinterpret_cast<int32_t (*)()>(dlsym(runtime, "autopar_cuda_rank"));
  if (!calibrateLinks || !getRank)
    return fail(path + " has no autopar_cuda_calibrate_links");

  AutoparCalibration measured;
  calibrate(&measured, std::max(1, repeat.getValue()));
  AutoparLinkCalibration links;
  bool haveLinks = calibrateLinks(&links, std::max(1, repeat.getValue()));
  if (ranks > 1 && (!haveLinks || links.ranks != ranks))
    return fail("-n " + llvm::Twine(ranks) + " but this job has " +
                llvm::Twine(haveLinks ? links.ranks : 1) + " rank(s)");
  // Every rank measured; rank 0 reports.
  if (getRank() != 0)
    return 0;
  llvm::outs() << "autopar-calibrate: device " << measured.device << ": "
               << measured.name << ", "
               << llvm::format("%.1f", measured.memoryCapacity / 1073741824.0)
               << " GiB\n";
  // The best rate over the sizes, per element type.
  auto gemms = [&](const char *type, const double *seconds) {
    double best = 0;
    for (int i = 0; i < measured.gemmCount; ++i) {
      double n = static_cast<double>(measured.gemmSizes[i]);
      double flops = 2.0 * n * n * n / seconds[i];
      best = std::max(best, flops);
      llvm::outs() << llvm::format(
          "  gemm %s %5lld^3: %9.3f ms  %8.2f TFLOP/s\n", type,
          static_cast<long long>(measured.gemmSizes[i]), seconds[i] * 1e3,
          flops * 1e-12);
    }
    return best;
  };
  double bestFlops = gemms("f32", measured.gemmSeconds);
  double bestBf16Flops = gemms("bf16", measured.gemmBf16Seconds);
  double bandwidth = 2.0 * measured.copyBytes / measured.copySeconds;
  llvm::outs() << llvm::format("  copy 256 MiB: %.3f ms  %.1f GB/s\n",
                               measured.copySeconds * 1e3, bandwidth * 1e-9);
  llvm::outs() << llvm::format("  empty kernel launch: %.2f us\n",
                               measured.launchSeconds * 1e6);

  double linkBandwidth = 0, linkLatency = 0;
  if (haveLinks && links.count > 0) {
    double p = links.ranks;
    for (int i = 0; i < links.count; ++i) {
      // NCCL's bus bandwidth: what one GPU pushes into the ring.
      double bus = 2 * (p - 1) / p * links.sizeBytes[i] / links.seconds[i];
      llvm::outs() << llvm::format(
          "  all_reduce %2d ranks %10lld B: %9.3f ms  %8.2f GB/s bus\n",
          links.ranks, static_cast<long long>(links.sizeBytes[i]),
          links.seconds[i] * 1e3, bus * 1e-9);
      if (i == links.count - 1)
        linkBandwidth = bus;
    }
    // The cost model's small-message all-reduce on one node: 2 ceil(log2
    // p) latencies. Across k nodes the model's tree takes p/k - 1
    // intra-node levels and ceil(log2 k) inter-node ones; the job does not
    // know k or the intra-node latency here, so a job spanning nodes
    // writes every level at the inter-node latency (an over-estimate of
    // it; docs/targets.md).
    linkLatency = links.seconds[0] / (2 * std::max(1.0, std::ceil(std::log2(p))));
  }

  std::error_code error;
  auto file = std::make_unique<llvm::ToolOutputFile>(output.getValue(), error,
                                                     llvm::sys::fs::OF_Text);
  if (error)
    return fail("cannot write " + output + ": " + error.message());
  llvm::json::OStream json(file->os(), 2);
  json.object([&] {
    json.attribute("preset", base);
    json.attribute("name", std::string(measured.name) + " (calibrated)");
    json.attributeObject("gpu", [&] {
      json.attribute("name", measured.name);
      // The other element types keep the preset's rates (peaks).
      json.attributeObject("peak_flops", [&] {
        json.attribute("bf16", bestBf16Flops);
        json.attribute("f32", bestFlops);
      });
      json.attribute("memory_bandwidth", bandwidth);
      json.attribute("memory_capacity",
                     static_cast<int64_t>(measured.memoryCapacity));
      json.attribute("compute_efficiency", 1.0);
      json.attribute("memory_efficiency", 1.0);
      json.attribute("launch_overhead", measured.launchSeconds);
    });
    if (linkBandwidth > 0)
      json.attributeObject(links.singleNode ? "intra_node" : "inter_node", [&] {
        json.attribute("bandwidth", linkBandwidth);
        json.attribute("latency", linkLatency);
      });
  });
  file->os() << "\n";
  file->keep();
  return 0;
}
