//===- CostModel.cpp - time, communication and memory on a target ---------===//
//
// The formulas (derived in docs/cost-model.md):
//
// Kernel on one GPU, with W = FLOPs, B = bytes, P = independent work items:
//   u   = P / (P + P_sat)     occupancy: too little parallel work under-uses
//                             the GPU (the WAP paper's observation)
//   t_c = W / (peak * e_c * u)
//   t_m = B / (bw * e_m * u)
//   t   = t_launch + max(t_c, t_m)
//
// Collectives over p devices, n bytes, link bandwidth b, latency a (the
// inter-node link when the group spans nodes):
//   all_reduce     ring  2(p-1)/p * n/b + 2(p-1) a
//                  tree  2 log2(p) a + 2 n/b
//                  hierarchical (k nodes of g): reduce_scatter inside,
//                        all_reduce of n/g across, all_gather inside
//   all_gather,
//   reduce_scatter ring  (p-1)/p * n/b + (p-1) a
//   all_to_all     direct (p-1)/p * n/b + (p-1) a
//   broadcast      ring (pipelined) n/b + (p-1) a;  tree log2(p) (a + n/b)
//   permute        direct n/b + a
//
//===----------------------------------------------------------------------===//

#include "autopar/Cost/CostModel.h"
#include "autopar/Analysis/Fusion.h"

#include "llvm/ADT/StringSwitch.h"

#include "mlir/IR/BuiltinTypes.h"

#include <algorithm>
#include <cmath>

using namespace mlir;
using namespace mlir::autopar;

StringRef mlir::autopar::stringifyCollectiveKind(CollectiveKind kind) {
  switch (kind) {
  case CollectiveKind::AllReduce:
    return "all_reduce";
  case CollectiveKind::AllGather:
    return "all_gather";
  case CollectiveKind::ReduceScatter:
    return "reduce_scatter";
  case CollectiveKind::AllToAll:
    return "all_to_all";
  case CollectiveKind::Broadcast:
    return "broadcast";
  case CollectiveKind::Permute:
    return "permute";
  }
  llvm_unreachable("unknown collective");
}

StringRef
mlir::autopar::stringifyCollectiveAlgorithm(CollectiveAlgorithm algorithm) {
  switch (algorithm) {
  case CollectiveAlgorithm::Ring:
    return "ring";
  case CollectiveAlgorithm::Tree:
    return "tree";
  case CollectiveAlgorithm::Hierarchical:
    return "hierarchical";
  case CollectiveAlgorithm::Direct:
    return "direct";
  }
  llvm_unreachable("unknown algorithm");
}

StringRef mlir::autopar::stringifyOptimizer(Optimizer optimizer) {
  switch (optimizer) {
  case Optimizer::SGD:
    return "sgd";
  case Optimizer::Momentum:
    return "momentum";
  case Optimizer::Adam:
    return "adam";
  }
  llvm_unreachable("unknown optimizer");
}

CostModel::CostModel(TargetAttr target) : target(target) {
  GpuAttr gpu = target.getGpu();
  memoryBandwidth = gpu.getMemoryBandwidth().convertToDouble();
  computeEfficiency = gpu.getComputeEfficiency().convertToDouble();
  memoryEfficiency = gpu.getMemoryEfficiency().convertToDouble();
  launchOverhead = gpu.getLaunchOverhead().convertToDouble();
  saturationThreads = gpu.getSaturationThreads().convertToDouble();
  powerBusy = gpu.getPowerBusy().convertToDouble();
  powerIdle = gpu.getPowerIdle().convertToDouble();
  intraNode = {target.getIntraNode().getBandwidth().convertToDouble(),
               target.getIntraNode().getLatency().convertToDouble()};
  hasInterNode = static_cast<bool>(target.getInterNode());
  if (hasInterNode)
    interNode = {target.getInterNode().getBandwidth().convertToDouble(),
                 target.getInterNode().getLatency().convertToDouble()};
  else
    interNode = intraNode;
}

std::optional<Optimizer> mlir::autopar::symbolizeOptimizer(StringRef name) {
  for (Optimizer optimizer :
       {Optimizer::SGD, Optimizer::Momentum, Optimizer::Adam})
    if (name == stringifyOptimizer(optimizer))
      return optimizer;
  return std::nullopt;
}

StringRef mlir::autopar::stringifyPrecision(Precision precision) {
  switch (precision) {
  case Precision::Model:
    return "model";
  case Precision::F32:
    return "f32";
  case Precision::BF16:
    return "bf16";
  case Precision::FP16:
    return "fp16";
  }
  llvm_unreachable("unknown precision");
}

std::optional<Precision> mlir::autopar::symbolizePrecision(StringRef name) {
  return llvm::StringSwitch<std::optional<Precision>>(name)
      .Case("f32", Precision::F32)
      .Case("bf16", Precision::BF16)
      .Cases({"fp16", "f16"}, Precision::FP16)
      .Default(std::nullopt);
}

StringRef mlir::autopar::stringifyRecompute(Recompute recompute) {
  switch (recompute) {
  case Recompute::None:
    return "none";
  case Recompute::Selective:
    return "selective";
  case Recompute::Full:
    return "full";
  }
  llvm_unreachable("unknown recomputation");
}

std::optional<Recompute> mlir::autopar::symbolizeRecompute(StringRef name) {
  return llvm::StringSwitch<std::optional<Recompute>>(name)
      .Case("none", Recompute::None)
      .Case("selective", Recompute::Selective)
      .Case("full", Recompute::Full)
      .Default(std::nullopt);
}

ParameterStateBytes mlir::autopar::getParameterStateBytes(Precision precision,
                                                          unsigned elementBytes,
                                                          Optimizer optimizer,
                                                          unsigned zero,
                                                          double dataGroup) {
  ParameterStateBytes state;
  bool mixed = isMixedPrecision(precision);
  double working = getWorkingBytes(precision, elementBytes);
  // The optimizer's states live in the master precision.
  double master = mixed ? 4 : elementBytes;
  double group = std::max(1.0, dataGroup);
  state.params = working / (zero >= 3 ? group : 1);
  state.gradients = working / (zero >= 2 ? group : 1);
  state.master = (mixed ? master : 0) / (zero >= 1 ? group : 1);
  state.optimizer =
      getOptimizerStates(optimizer) * master / (zero >= 1 ? group : 1);
  return state;
}

double mlir::autopar::getOptimizerStates(Optimizer optimizer) {
  return optimizer == Optimizer::SGD        ? 0
         : optimizer == Optimizer::Momentum ? 1
                                            : 2;
}

std::pair<double, double>
mlir::autopar::getOptimizerUpdateCost(Optimizer optimizer) {
  switch (optimizer) {
  case Optimizer::SGD: // p -= lr * g: read p, g; write p.
    return {2, 3};
  case Optimizer::Momentum: // v = m v + g; p -= lr v: read p, g, v; write p, v.
    return {4, 5};
  case Optimizer::Adam: // two moments, bias correction, sqrt, divide.
    return {12, 7};
  }
  llvm_unreachable("unknown optimizer");
}

double mlir::autopar::getOptimizerUpdateLaunches(Optimizer optimizer,
                                                 unsigned rank) {
  // Each element transfer is a buffer of its own: read p, g, states; write
  // p, states.
  unsigned buffers =
      static_cast<unsigned>(getOptimizerUpdateCost(optimizer).second);
  return 1.0 / getLoopsPerMergedKernel(buffers, rank);
}

/// The name of `type` in a GPU's `peak_flops` table.
static StringRef flopsKey(Type type) {
  if (type.isF64())
    return "f64";
  if (type.isTF32())
    return "tf32";
  if (type.isF16())
    return "f16";
  if (type.isBF16())
    return "bf16";
  if (isa<FloatType>(type) && type.getIntOrFloatBitWidth() == 8)
    return "f8";
  if (type.isInteger(8))
    return "i8";
  return "f32";
}

Type CostModel::getConvolutionComputeType(Type computeType) {
  auto floatType = dyn_cast_or_null<FloatType>(computeType);
  if (floatType && floatType.getWidth() == 16)
    return FloatTF32Type::get(computeType.getContext());
  return computeType;
}

double CostModel::peakFlops(Type elementType) const {
  // Asked per op and strategy by the search: the GPU's table is read once
  // per element type.
  auto cached = peakFlopsCache.find(elementType);
  if (cached != peakFlopsCache.end())
    return cached->second;
  double peak = lookupPeakFlops(elementType);
  peakFlopsCache[elementType] = peak;
  return peak;
}

double CostModel::lookupPeakFlops(Type elementType) const {
  GpuAttr gpu = target.getGpu();
  if (elementType)
    if (std::optional<double> peak = gpu.getPeakFlopsFor(flopsKey(elementType)))
      return *peak;
  if (std::optional<double> peak = gpu.getPeakFlopsFor("f32"))
    return *peak;
  // Any rate the GPU lists (the verifier guarantees one).
  return cast<FloatAttr>(gpu.getPeakFlops().begin()->getValue())
      .getValueAsDouble();
}

KernelTime CostModel::kernelTime(double flops, double bytes, double parallelism,
                                 Type elementType, double launches) const {
  KernelTime time;
  double work = std::max(parallelism, 1.0);
  double occupancy = work / (work + saturationThreads);
  if (flops > 0)
    time.computeSeconds =
        flops / (peakFlops(elementType) * computeEfficiency * occupancy);
  if (bytes > 0)
    time.memorySeconds =
        bytes / (memoryBandwidth * memoryEfficiency * occupancy);
  time.computeBound = time.computeSeconds >= time.memorySeconds;
  time.seconds = launches * launchOverhead +
                 std::max(time.computeSeconds, time.memorySeconds);
  return time;
}

std::pair<double, double> CostModel::linkFor(DeviceGroup group) const {
  const Link &link = group.nodes > 1 && hasInterNode ? interNode : intraNode;
  return {link.bandwidth, link.latency};
}

CollectiveTime CostModel::collectiveTime(CollectiveKind kind, double bytes,
                                         DeviceGroup group) const {
  CollectiveTime best;
  double p = static_cast<double>(group.size);
  if (group.size <= 1 || bytes <= 0)
    return best;
  auto [bw, latency] = linkFor(group);
  // A ring's steps each pay one hop's latency: of its p - 1 steps around a
  // group on k nodes (filled evenly), k - 1 cross to another node and the
  // others stay inside one (NCCL's own tuning model: (nsteps -
  // nInterSteps) intra + nInterSteps inter). A tree climbs p/k - 1 levels
  // inside each node and ceil(log2 k) across nodes.
  double k = static_cast<double>(std::max<int64_t>(group.nodes, 1));
  double intraLatency = intraNode.latency;
  auto ringLatency = [&](double rounds) {
    if (k <= 1 || !hasInterNode)
      return rounds * (p - 1) * latency;
    return rounds * ((p - k) * intraLatency + (k - 1) * latency);
  };
  auto consider = [&](CollectiveAlgorithm algorithm, double seconds) {
    if (best.seconds == 0 || seconds < best.seconds) {
      best.seconds = seconds;
      best.algorithm = algorithm;
    }
  };
  double log2p = std::ceil(std::log2(p));
  double treeLatency =
      k <= 1 || !hasInterNode
          ? log2p * latency
          : (p / k - 1) * intraLatency + std::ceil(std::log2(k)) * latency;
  switch (kind) {
  case CollectiveKind::AllReduce: {
    consider(CollectiveAlgorithm::Ring,
             2 * (p - 1) / p * bytes / bw + ringLatency(2));
    consider(CollectiveAlgorithm::Tree, 2 * treeLatency + 2 * bytes / bw);
    if (group.nodes > 1 && group.size > group.nodes) {
      // Reduce-scatter within each node, all-reduce the node's share across
      // nodes, all-gather within the node.
      DeviceGroup inside{group.size / group.nodes, 1};
      DeviceGroup across{group.nodes, group.nodes};
      double seconds =
          collectiveTime(CollectiveKind::ReduceScatter, bytes, inside).seconds +
          collectiveTime(CollectiveKind::AllReduce,
                         bytes / static_cast<double>(inside.size), across)
              .seconds +
          collectiveTime(CollectiveKind::AllGather, bytes, inside).seconds;
      consider(CollectiveAlgorithm::Hierarchical, seconds);
    }
    break;
  }
  case CollectiveKind::AllGather:
  case CollectiveKind::ReduceScatter:
    consider(CollectiveAlgorithm::Ring,
             (p - 1) / p * bytes / bw + ringLatency(1));
    break;
  case CollectiveKind::AllToAll:
    consider(CollectiveAlgorithm::Direct,
             (p - 1) / p * bytes / bw + (p - 1) * latency);
    break;
  case CollectiveKind::Broadcast:
    consider(CollectiveAlgorithm::Ring, bytes / bw + ringLatency(1));
    consider(CollectiveAlgorithm::Tree, log2p * (latency + bytes / bw));
    break;
  case CollectiveKind::Permute:
    consider(CollectiveAlgorithm::Direct, bytes / bw + latency);
    break;
  }
  return best;
}

bool CostModel::isCheapToRecompute(double flops, double savedBytes,
                                   Type elementType) const {
  if (savedBytes <= 0)
    return false;
  double ridge = peakFlops(elementType) * computeEfficiency /
                 (memoryBandwidth * memoryEfficiency);
  return flops / savedBytes <= ridge;
}

double CostModel::energy(int64_t gpus, double seconds,
                         double busySeconds) const {
  double busyTime = std::min(busySeconds, seconds);
  return static_cast<double>(gpus) *
         (powerBusy * busyTime + powerIdle * (seconds - busyTime));
}
