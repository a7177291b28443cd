//===- Presets.cpp - built-in target machines -----------------------------===//
//
// Public datasheet figures of the GPUs and their interconnects. Link
// bandwidths are what one GPU can push in one direction into the collective
// fabric (bytes/s); latencies are per-message start-up times (s).
//
//===----------------------------------------------------------------------===//

#include "autopar/Target/Presets.h"

#include "mlir/IR/Builders.h"

using namespace mlir;
using namespace mlir::autopar;

namespace {
struct GpuSpec {
  const char *name;
  // FLOP/s; 0 where the GPU has no such path.
  double f64, f32, tf32, f16, bf16, f8, i8;
  double memoryBandwidth;
  uint64_t memoryCapacity;
  double powerBusy, powerIdle;
  // Roofline shape (docs/cost-model.md): achievable fractions of peak,
  // per-kernel overhead, and the parallel work at which a kernel reaches
  // half of its achievable rate (a quarter of the resident threads:
  // SMs x 2048).
  double computeEfficiency, memoryEfficiency, launchOverhead;
  double saturationThreads;
};

struct LinkSpec {
  LinkTopology topology;
  double bandwidth, latency;
};

struct PresetSpec {
  const char *name;
  int64_t nodes, gpusPerNode;
  GpuSpec gpu;
  LinkSpec intraNode, interNode;
};

constexpr uint64_t GiB = 1ull << 30;

// clang-format off
const PresetSpec kPresets[] = {
  // The WAP paper's machine: 4x TITAN Xp (Pascal GP102) on PCIe 3.0 x16.
  // Compute efficiency 1.0 is calibrated on the paper's own single-GPU
  // AlexNet throughput, which implies about 103% of the rated f32 peak
  // (cuDNN's Winograd/FFT convolutions do fewer multiplies than the nominal
  // FLOPs, and the card boosts above its rated 1582 MHz); see
  // bench/README.md.
  {"titanxp-pcie-4", 1, 4,
   {"TITAN Xp", 0.38e12, 12.15e12, 0, 0.19e12, 0, 0, 48.6e12,
    547.7e9, 12 * GiB, 250.0, 15.0,
    1.00, 0.80, 5.0e-6, 15360},
   // GeForce cards do not talk peer-to-peer over PCIe here: NCCL stages
   // through host memory. 6 GB/s of all-reduce bus bandwidth is what the
   // paper's 4-GPU AlexNet throughputs imply (bench/README.md).
   {LinkTopology::PCIe, 6.0e9, 10.0e-6},
   {LinkTopology::Ethernet, 1.25e9, 50.0e-6}},
  // DGX-1 with 8x Tesla P100 SXM2 16GB, NVLink 1.0 hybrid cube mesh.
  {"p100-dgx1", 1, 8,
   {"Tesla P100-SXM2-16GB", 5.3e12, 10.6e12, 0, 21.2e12, 0, 0, 0,
    732.0e9, 16 * GiB, 300.0, 30.0,
    0.60, 0.80, 5.0e-6, 28672},
   {LinkTopology::NVLink, 60.0e9, 5.0e-6},
   {LinkTopology::InfiniBand, 6.25e9, 5.0e-6}},
  // DGX-1 with 8x Tesla V100 SXM2 32GB, NVLink 2.0 hybrid cube mesh.
  {"v100-dgx1", 1, 8,
   {"Tesla V100-SXM2-32GB", 7.8e12, 15.7e12, 0, 125.0e12, 0, 0, 62.0e12,
    900.0e9, 32 * GiB, 300.0, 40.0,
    0.55, 0.80, 5.0e-6, 40960},
   {LinkTopology::NVLink, 130.0e9, 5.0e-6},
   {LinkTopology::InfiniBand, 6.25e9, 5.0e-6}},
  // DGX A100: 8x A100 SXM4 80GB on NVSwitch, 8x 200 Gb/s HDR InfiniBand.
  {"a100-dgx", 1, 8,
   {"A100-SXM4-80GB", 19.5e12, 19.5e12, 156.0e12, 312.0e12, 312.0e12, 0,
    624.0e12, 2039.0e9, 80 * GiB, 400.0, 50.0,
    0.60, 0.80, 4.0e-6, 55296},
   {LinkTopology::NVSwitch, 240.0e9, 3.0e-6},
   {LinkTopology::InfiniBand, 25.0e9, 5.0e-6}},
  // DGX H100: 8x H100 SXM5 80GB on NVSwitch, 8x 400 Gb/s NDR InfiniBand.
  {"h100-dgx", 1, 8,
   {"H100-SXM5-80GB", 67.0e12, 67.0e12, 494.7e12, 989.4e12, 989.4e12,
    1978.9e12, 1978.9e12, 3350.0e9, 80 * GiB, 700.0, 70.0,
    0.60, 0.80, 4.0e-6, 67584},
   {LinkTopology::NVSwitch, 360.0e9, 3.0e-6},
   {LinkTopology::InfiniBand, 50.0e9, 5.0e-6}},
  // DGX H200: H100 compute with 141 GB of HBM3e at 4.8 TB/s.
  {"h200-dgx", 1, 8,
   {"H200-SXM5-141GB", 67.0e12, 67.0e12, 494.7e12, 989.4e12, 989.4e12,
    1978.9e12, 1978.9e12, 4800.0e9, 141000000000ull, 700.0, 70.0,
    0.60, 0.80, 4.0e-6, 67584},
   {LinkTopology::NVSwitch, 360.0e9, 3.0e-6},
   {LinkTopology::InfiniBand, 50.0e9, 5.0e-6}},
};
// clang-format on

LinkAttr buildLink(MLIRContext *context, const LinkSpec &spec) {
  return LinkAttr::get(context, spec.topology, llvm::APFloat(spec.bandwidth),
                       llvm::APFloat(spec.latency));
}
} // namespace

ArrayRef<StringRef> mlir::autopar::getTargetPresetNames() {
  static const SmallVector<StringRef> names = [] {
    SmallVector<StringRef> result;
    for (const PresetSpec &preset : kPresets)
      result.push_back(preset.name);
    return result;
  }();
  return names;
}

TargetAttr mlir::autopar::getTargetPreset(MLIRContext *context,
                                          StringRef name) {
  for (const PresetSpec &preset : kPresets) {
    if (name != preset.name)
      continue;
    Builder builder(context);
    const GpuSpec &gpu = preset.gpu;
    SmallVector<NamedAttribute> flops;
    auto addFlops = [&](StringRef dtype, double value) {
      if (value > 0.0)
        flops.emplace_back(builder.getStringAttr(dtype),
                           builder.getF64FloatAttr(value));
    };
    addFlops("f64", gpu.f64);
    addFlops("f32", gpu.f32);
    addFlops("tf32", gpu.tf32);
    addFlops("f16", gpu.f16);
    addFlops("bf16", gpu.bf16);
    addFlops("f8", gpu.f8);
    addFlops("i8", gpu.i8);
    auto gpuAttr = GpuAttr::get(
        context, gpu.name, builder.getDictionaryAttr(flops),
        llvm::APFloat(gpu.memoryBandwidth), gpu.memoryCapacity,
        llvm::APFloat(gpu.powerBusy), llvm::APFloat(gpu.powerIdle),
        llvm::APFloat(gpu.computeEfficiency),
        llvm::APFloat(gpu.memoryEfficiency), llvm::APFloat(gpu.launchOverhead),
        llvm::APFloat(gpu.saturationThreads));
    return TargetAttr::get(context, preset.name, preset.nodes,
                           preset.gpusPerNode, gpuAttr,
                           buildLink(context, preset.intraNode),
                           buildLink(context, preset.interNode));
  }
  return {};
}
