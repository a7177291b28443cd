//===- CostModel.h - time, communication and memory on a target -*- C++ -*-===//
//
// Every formula of the cost model lives in lib/Cost/CostModel.cpp and is
// derived in docs/cost-model.md. The cost model knows the target machine and
// workloads; it knows nothing of the search or of lowering.
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_COST_COSTMODEL_H
#define AUTOPAR_COST_COSTMODEL_H

#include "autopar/Dialect/AutoparAttrs.h"
#include "llvm/ADT/DenseMap.h"

namespace mlir::autopar {

/// The time of one kernel on one GPU.
struct KernelTime {
  double seconds = 0;
  double computeSeconds = 0;
  double memorySeconds = 0;
  /// Whether compute (rather than memory traffic) bounds the kernel.
  bool computeBound = false;
};

enum class CollectiveKind {
  AllReduce,
  AllGather,
  ReduceScatter,
  AllToAll,
  Broadcast,
  Permute
};
StringRef stringifyCollectiveKind(CollectiveKind kind);

enum class CollectiveAlgorithm { Ring, Tree, Hierarchical, Direct };
StringRef stringifyCollectiveAlgorithm(CollectiveAlgorithm algorithm);

struct CollectiveTime {
  double seconds = 0;
  CollectiveAlgorithm algorithm = CollectiveAlgorithm::Ring;
};

/// A group of devices taking part in a collective: `size` devices spread
/// over `nodes` nodes (evenly).
struct DeviceGroup {
  int64_t size = 1;
  int64_t nodes = 1;
};

enum class Optimizer { SGD, Momentum, Adam };
StringRef stringifyOptimizer(Optimizer optimizer);
/// `sgd`, `momentum` or `adam`, or std::nullopt.
std::optional<Optimizer> symbolizeOptimizer(StringRef name);
/// Optimizer state per parameter, in parameter sizes (0, 1 or 2).
double getOptimizerStates(Optimizer optimizer);
/// FLOPs and element transfers per parameter of one optimizer step.
std::pair<double, double> getOptimizerUpdateCost(Optimizer optimizer);
/// Kernel launches one parameter's update takes (a fraction): the code
/// generators update many parameters of rank `rank` in one kernel, as many
/// as their buffers' descriptors fit (getLoopsPerMergedKernel,
/// include/autopar/Analysis/Fusion.h).
double getOptimizerUpdateLaunches(Optimizer optimizer, unsigned rank);

/// Memory one GPU holds during a training step.
/// The arithmetic of a training step: the model's own float type, or mixed
/// precision (16-bit forward and backward with f32 accumulation, f32
/// master parameters and optimizer state).
enum class Precision { Model, F32, BF16, FP16 };
StringRef stringifyPrecision(Precision precision);
/// "f32", "bf16", "fp16" (also "f16"); std::nullopt for anything else.
std::optional<Precision> symbolizePrecision(StringRef name);
/// Whether `precision` trains 16-bit copies of f32 master parameters.
inline bool isMixedPrecision(Precision precision) {
  return precision == Precision::BF16 || precision == Precision::FP16;
}

/// Activation recomputation: keep every saved activation (none), drop the
/// ones that are cheap to recompute and recompute them in the backward
/// (selective), or keep only segment inputs and recompute every forward op
/// (full).
enum class Recompute { None, Selective, Full };
StringRef stringifyRecompute(Recompute recompute);
std::optional<Recompute> symbolizeRecompute(StringRef name);

/// Bytes of one element of a value of `elementBytes` bytes as the step
/// computes and communicates it: 2 under mixed precision.
inline double getWorkingBytes(Precision precision, unsigned elementBytes) {
  return isMixedPrecision(precision) ? 2.0 : elementBytes;
}

/// Most bytes one packed collective carries: the step's small collectives
/// of one kind are packed into buffers of at most this size
/// (autopar-group-collectives max-bytes; PyTorch DDP's bucket size), and
/// the memory model holds one such buffer at the gradients'
/// synchronisation.
constexpr int64_t kCollectiveBucketBytes = 25 << 20;

/// ZeRO-3 gathers a pass's parameters by units, as FSDP's size-based
/// wrapping does: consecutive parameters in the order the pass first reads
/// them, a unit closing once it holds this many bytes or more
/// (getGatherUnits, Cost/Overlap.h; autopar-group-collectives
/// unit-bytes). A unit is gathered at once, one unit ahead of its use.
constexpr int64_t kGatherUnitBytes = 25 << 20;

/// Bytes per parameter element of the training state on one GPU, the ZeRO
/// paper's accounting: the (working) parameters, their gradients, the f32
/// master copy (mixed precision only) and the optimizer's states, each
/// divided over the data-parallel group where the ZeRO stage shards it
/// (1: master and optimizer states, 2: also gradients, 3: also parameters).
/// Mixed-precision Adam without ZeRO: 2 + 2 + 4 + 4 + 4 = 16 bytes.
struct ParameterStateBytes {
  double params = 0, gradients = 0, master = 0, optimizer = 0;
  double total() const { return params + gradients + master + optimizer; }
};
ParameterStateBytes getParameterStateBytes(Precision precision,
                                           unsigned elementBytes,
                                           Optimizer optimizer, unsigned zero,
                                           double dataGroup);

/// One GPU's memory for a training step on one GPU (autopar-analyze):
/// getParameterStateBytes per parameter, plus the saved activations.
struct MemoryBreakdown {
  double params = 0;
  double gradients = 0;
  /// The f32 master copy of 16-bit parameters (0 otherwise).
  double master = 0;
  double optimizerState = 0;
  double activations = 0;
  double total() const {
    return params + gradients + master + optimizerState + activations;
  }
};

class CostModel {
public:
  explicit CostModel(TargetAttr target);

  TargetAttr getTarget() const { return target; }

  /// Peak FLOP/s of one GPU for `elementType` (f32 when the GPU lists no
  /// rate for it; TF32, `tf32`, where the GPU lists one).
  double peakFlops(Type elementType) const;

  /// The type whose rate a 2-D convolution of a training step runs at when
  /// its model computes in `computeType`: a training step accumulates
  /// every 16-bit reduction in f32, and cuDNN has no 16-bit convolution
  /// into an f32 result, so the CUDA backend runs 16-bit convolutions,
  /// forward and gradients, on widened inputs with TF32 tensor cores
  /// (autopar_cuda_conv2d dtype 3, exact for 16-bit values): TF32 for 16-bit
  /// float types, `computeType` otherwise. (The widening kernels are not
  /// priced.)
  static Type getConvolutionComputeType(Type computeType);

  /// The time of a kernel doing `flops` and moving `bytes` on one GPU with
  /// `parallelism` independent work items (output elements): a roofline over
  /// achievable rates that fall when there is too little parallel work, plus
  /// the launch overhead of `launches` kernels (0 for work fused into
  /// another op's kernel, Analysis/Fusion.h).
  KernelTime kernelTime(double flops, double bytes, double parallelism,
                        Type elementType, double launches = 1) const;

  /// The time of a collective moving `bytes` (the full, unsplit size of the
  /// value on one device) among `group`. Chooses the cheapest algorithm.
  CollectiveTime collectiveTime(CollectiveKind kind, double bytes,
                                DeviceGroup group) const;

  /// Whether recomputing a forward op that does `flops` costs less than
  /// the memory traffic of keeping `savedBytes`: its arithmetic intensity
  /// per saved byte is below the GPU's ridge point (peak FLOP/s over memory
  /// bandwidth). Selective recomputation recomputes exactly these ops
  /// (elementwise ops, normalisations, softmax and attention's score
  /// products; not the weight GEMMs), as Megatron-LM's does by hand.
  bool isCheapToRecompute(double flops, double savedBytes,
                          Type elementType) const;

  /// Energy (J) of `gpus` GPUs over `seconds`, each busy for `busySeconds`.
  double energy(int64_t gpus, double seconds, double busySeconds) const;
  /// The energy of a second of communication (GPU idle) relative to a
  /// second of compute (GPU busy): the weight that turns a time-minimal
  /// search on a fixed mesh into an energy-minimal one.
  double getCommEnergyWeight() const {
    return powerBusy > 0 ? powerIdle / powerBusy : 1.0;
  }

private:
  /// Bandwidth and latency of the link a group uses.
  std::pair<double, double> linkFor(DeviceGroup group) const;
  /// peakFlops without the cache.
  double lookupPeakFlops(Type elementType) const;

  TargetAttr target;
  /// The target's numbers as doubles (the attribute stores APFloats).
  struct Link {
    double bandwidth, latency;
  };
  double memoryBandwidth, computeEfficiency, memoryEfficiency;
  double launchOverhead, saturationThreads, powerBusy, powerIdle;
  Link intraNode, interNode;
  bool hasInterNode;
  /// peakFlops by element type (a cost model is used by one thread).
  mutable llvm::DenseMap<Type, double> peakFlopsCache;
};

} // namespace mlir::autopar

#endif // AUTOPAR_COST_COSTMODEL_H
