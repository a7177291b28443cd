//===- AnalysisReport.cpp - the workload report ---------------------------===//

#include "autopar/Cost/AnalysisReport.h"
#include "autopar/Support/Output.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Location.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/Path.h"

using namespace mlir;
using namespace mlir::autopar;

std::string mlir::autopar::formatLocation(Location loc) {
  if (auto name = dyn_cast<NameLoc>(loc))
    return name.getName().str();
  if (auto file = dyn_cast<FileLineColLoc>(loc))
    return (llvm::sys::path::filename(file.getFilename().getValue()) + ":" +
            Twine(file.getLine()) + ":" + Twine(file.getColumn()))
        .str();
  if (auto fused = dyn_cast<FusedLoc>(loc))
    for (Location inner : fused.getLocations()) {
      std::string text = formatLocation(inner);
      if (!text.empty())
        return text;
    }
  if (auto callSite = dyn_cast<CallSiteLoc>(loc))
    return formatLocation(callSite.getCallee());
  return "";
}

static std::string formatType(Type type) {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << type;
  return text;
}

FunctionOpInterface mlir::autopar::findEntryFunction(Operation *module) {
  FunctionOpInterface first;
  for (Region &region : module->getRegions())
    for (Block &block : region)
      for (Operation &op : block) {
        auto func = dyn_cast<FunctionOpInterface>(op);
        if (!func || func.isExternal())
          continue;
        if (func.getName() == "forward")
          return func;
        if (!first)
          first = func;
      }
  return first;
}

const FunctionWorkload *
mlir::autopar::getEntryFunction(const WorkloadAnalysis &analysis) {
  if (analysis.getFunctions().empty())
    return nullptr;
  FunctionOpInterface entry = findEntryFunction(
      analysis.getFunctions().front()->getFunction()->getParentOp());
  for (const auto &function : analysis.getFunctions())
    if (function->getFunction() == entry)
      return function.get();
  return analysis.getFunctions().front().get();
}

AnalysisReport mlir::autopar::buildAnalysisReport(
    const FunctionWorkload &workload, const CostModel &costModel,
    Optimizer optimizer) {
  AnalysisReport report;
  report.target = costModel.getTarget().getName().str();
  report.function = workload.getFunction().getName().str();
  report.batch = workload.getBatchSize();
  report.optimizer = optimizer;
  report.totals = workload.getTotals();

  for (const OpWorkload &work : workload.getOps()) {
    LayerReport layer;
    layer.op = work.op->getName().getStringRef().str();
    layer.loc = formatLocation(work.op->getLoc());
    if (work.op->getNumResults())
      layer.shape = formatType(work.op->getResult(0).getType());
    layer.flops = work.flops;
    layer.macs = work.macs;
    layer.params = work.paramCount;
    layer.bytes = work.bytes();
    layer.intensity = work.intensity();
    layer.savedBytes = work.savedBytes;
    layer.bwdFlops = work.bwdFlops();
    layer.bwdBytes = work.bwdBytes;
    layer.estimated = work.estimated;
    layer.fused = work.fused;
    layer.inRowKernel = work.inRowKernel;
    layer.inEpilogue = work.inEpilogue;
    // An op computed in blocks (an attention's batch) launches its
    // kernels once per block, as the planner prices it.
    double blocks = work.getBlocks();
    layer.launches = work.launches() * blocks;
    // A 16-bit 2-D convolution runs at the TF32 rate on the CUDA backend.
    Type type = work.convolution
                    ? CostModel::getConvolutionComputeType(work.elementType)
                    : work.elementType;
    KernelTime forward =
        costModel.kernelTime(work.flops, work.bytes(), work.parallelIterations,
                             type, layer.launches);
    layer.timeFwd = forward.seconds;
    layer.computeBound = forward.computeBound;
    // The data and weight gradients are separate kernels; their bytes are
    // split in proportion to their FLOPs.
    double bwdFlops = work.bwdFlops();
    if (bwdFlops > 0) {
      auto [dataBytes, weightBytes] = work.splitBwdBytes(work.bwdBytes);
      for (auto [part, bytes, launches] :
           {std::tuple(work.bwdDataFlops, dataBytes, work.bwdDataLaunches()),
            std::tuple(work.bwdWeightFlops, weightBytes,
                       work.bwdWeightLaunches())})
        if (part > 0) {
          layer.bwdLaunches += launches * blocks;
          layer.timeBwd += costModel
                               .kernelTime(part, bytes, work.parallelIterations,
                                           type, launches * blocks)
                               .seconds;
        }
    } else if (work.bwdBytes > 0) {
      layer.bwdLaunches = work.bwdDataLaunches() * blocks;
      layer.timeBwd = costModel
                          .kernelTime(0, work.bwdBytes, work.parallelIterations,
                                      work.elementType, layer.bwdLaunches)
                          .seconds;
    }
    report.forwardTime += layer.timeFwd;
    report.backwardTime += layer.timeBwd;
    report.layers.push_back(std::move(layer));
  }

  auto [updateFlops, updateBytes] = getOptimizerUpdateCost(optimizer);
  for (Value param : workload.getGradientValues()) {
    GradientReport gradient;
    auto type = cast<ShapedType>(param.getType());
    gradient.shape = formatType(type);
    gradient.elements = getElementCount(type);
    gradient.bytes = getSizeInBytes(type);
    if (auto arg = dyn_cast<BlockArgument>(param))
      gradient.name = "arg" + std::to_string(arg.getArgNumber());
    else
      gradient.name = formatLocation(param.getLoc());
    report.updateTime +=
        costModel
            .kernelTime(updateFlops * gradient.elements,
                        updateBytes * gradient.bytes, gradient.elements,
                        type.getElementType(),
                        getOptimizerUpdateLaunches(optimizer, type.getRank()))
            .seconds;
    report.gradients.push_back(std::move(gradient));
  }
  // Gradient synchronisation of data parallelism over 2, 4, 8, ... GPUs and
  // over all of them, nodes filled first.
  TargetAttr target = costModel.getTarget();
  SmallVector<int64_t> sizes;
  for (int64_t gpus = 2; gpus < target.getNumGpus(); gpus *= 2)
    sizes.push_back(gpus);
  if (target.getNumGpus() > 1)
    sizes.push_back(target.getNumGpus());
  for (int64_t gpus : sizes) {
    DeviceGroup group{gpus, (gpus + target.getGpusPerNode() - 1) /
                                target.getGpusPerNode()};
    CollectiveTime time = costModel.collectiveTime(
        CollectiveKind::AllReduce, report.totals.paramBytes, group);
    report.gradientSync.push_back(
        {gpus, group.nodes, time.seconds,
         stringifyCollectiveAlgorithm(time.algorithm).str()});
  }
  // Parameter state as the planner counts it (one place, CostModel.cpp):
  // a 16-bit parameter trains with an f32 master and f32 optimizer state.
  for (const GradientReport &gradient : report.gradients) {
    auto elementBytes = static_cast<unsigned>(gradient.bytes /
                                              std::max(1.0, gradient.elements));
    ParameterStateBytes state = getParameterStateBytes(
        elementBytes == 2 ? Precision::BF16 : Precision::Model, elementBytes,
        optimizer, /*zero=*/0, /*dataGroup=*/1);
    report.memory.params += state.params * gradient.elements;
    report.memory.gradients += state.gradients * gradient.elements;
    report.memory.master += state.master * gradient.elements;
    report.memory.optimizerState += state.optimizer * gradient.elements;
  }
  report.memory.activations = report.totals.activationBytes;
  return report;
}

//===----------------------------------------------------------------------===//
// Text
//===----------------------------------------------------------------------===//

static std::string humanCount(double value) {
  const char *units[] = {"", "K", "M", "G", "T", "P"};
  int unit = 0;
  while (std::abs(value) >= 1000 && unit < 5) {
    value /= 1000;
    ++unit;
  }
  std::string text;
  llvm::raw_string_ostream os(text);
  os << llvm::format(unit ? "%.2f%s" : "%.0f%s", value, units[unit]);
  return text;
}

void mlir::autopar::printAnalysisReportText(llvm::raw_ostream &os,
                                            const AnalysisReport &report) {
  os << "autopar workload report: @" << report.function << " on "
     << report.target << " (1 GPU), batch " << report.batch << ", optimizer "
     << stringifyOptimizer(report.optimizer);
  if (report.loss != "auto")
    os << ", loss " << report.loss << " priced";
  if (report.cudnnAttentions > 0)
    os << ", " << report.cudnnAttentions << " attention"
       << (report.cudnnAttentions > 1 ? "s" : "")
       << " priced as cuDNN's fused call";
  os << "\n\n";
  os << llvm::format("%-4s %-24s %-26s %-24s %10s %10s %11s %8s %10s %10s %s\n",
                     "#", "op", "loc", "shape", "FLOP", "params", "bytes",
                     "FLOP/B", "fwd ms", "bwd ms", "bound");
  for (auto [index, layer] : llvm::enumerate(report.layers)) {
    std::string bound = layer.computeBound ? "compute" : "memory";
    if (layer.fused)
      bound = "fused into users";
    else if (layer.inRowKernel)
      bound += " (in a row kernel)";
    else if (layer.inEpilogue)
      bound += " (in the GEMM's epilogue)";
    if (layer.estimated)
      bound += " (estimated)";
    os << llvm::format(
        "%-4zu %-24s %-26s %-24s %10s %10s %11s %8.1f %10.4f %10.4f %s\n",
        index, layer.op.c_str(), layer.loc.c_str(), layer.shape.c_str(),
        humanCount(layer.flops).c_str(), humanCount(layer.params).c_str(),
        formatBytes(layer.bytes).c_str(), layer.intensity,
        layer.timeFwd * 1e3, layer.timeBwd * 1e3, bound.c_str());
  }
  const WorkloadTotals &totals = report.totals;
  os << "\ntotals\n";
  os << llvm::format("  parameters           %.0f (%s)\n", totals.params,
                     formatBytes(totals.paramBytes).c_str());
  os << llvm::format("  forward              %s FLOP, %s MAC (%s MAC/sample)\n",
                     humanCount(totals.forwardFlops).c_str(),
                     humanCount(totals.forwardMacs).c_str(),
                     humanCount(totals.forwardMacs / report.batch).c_str());
  os << llvm::format("  backward             %s FLOP\n",
                     humanCount(totals.backwardFlops).c_str());
  os << llvm::format("  gradients to sync    %zu tensors, %s\n",
                     report.gradients.size(),
                     formatBytes(totals.paramBytes).c_str());
  os << llvm::format("  memory per GPU       %s (params %s, gradients %s, ",
                     formatBytes(report.memory.total()).c_str(),
                     formatBytes(report.memory.params).c_str(),
                     formatBytes(report.memory.gradients).c_str());
  if (report.memory.master > 0)
    os << "f32 master " << formatBytes(report.memory.master) << ", ";
  os << llvm::format("optimizer %s, activations %s)\n",
                     formatBytes(report.memory.optimizerState).c_str(),
                     formatBytes(report.memory.activations).c_str());
  os << llvm::format("  step time, 1 GPU     %.3f ms (forward %.3f, backward "
                     "%.3f, update %.3f)\n",
                     report.stepTime() * 1e3, report.forwardTime * 1e3,
                     report.backwardTime * 1e3, report.updateTime * 1e3);
  os << llvm::format("  throughput, 1 GPU    %.1f samples/s\n",
                     report.samplesPerSecond());
  for (const SyncReport &sync : report.gradientSync)
    os << llvm::format("  gradient all-reduce  %lld GPUs on %lld node(s): "
                       "%.3f ms (%s)\n",
                       static_cast<long long>(sync.gpus),
                       static_cast<long long>(sync.nodes), sync.seconds * 1e3,
                       sync.algorithm.c_str());
}

//===----------------------------------------------------------------------===//
// JSON
//===----------------------------------------------------------------------===//

void mlir::autopar::printAnalysisReportJson(llvm::raw_ostream &os,
                                            const AnalysisReport &report) {
  llvm::json::OStream json(os, /*IndentSize=*/2);
  const WorkloadTotals &totals = report.totals;
  json.object([&] {
    json.attribute("schema", "autopar-analysis-1");
    json.attribute("target", report.target);
    json.attribute("function", report.function);
    json.attribute("batch", report.batch);
    json.attribute("optimizer", stringifyOptimizer(report.optimizer));
    json.attribute("loss", report.loss);
    json.attributeObject("total", [&] {
      json.attribute("params", totals.params);
      json.attribute("param_bytes", totals.paramBytes);
      json.attribute("forward_flops", totals.forwardFlops);
      json.attribute("forward_macs", totals.forwardMacs);
      json.attribute("backward_flops", totals.backwardFlops);
      json.attribute("activation_bytes", totals.activationBytes);
      json.attribute("cudnn_attentions", totals.cudnnAttentions);
      json.attribute("gradient_bytes", totals.paramBytes);
      json.attributeObject("memory_per_gpu", [&] {
        json.attribute("params", report.memory.params);
        json.attribute("gradients", report.memory.gradients);
        json.attribute("master", report.memory.master);
        json.attribute("optimizer_state", report.memory.optimizerState);
        json.attribute("activations", report.memory.activations);
        json.attribute("total", report.memory.total());
      });
      json.attribute("time_fwd_s", report.forwardTime);
      json.attribute("time_bwd_s", report.backwardTime);
      json.attribute("time_update_s", report.updateTime);
      json.attribute("step_time_s", report.stepTime());
      json.attribute("samples_per_s", report.samplesPerSecond());
    });
    json.attributeArray("layers", [&] {
      for (const LayerReport &layer : report.layers)
        json.object([&] {
          json.attribute("op", layer.op);
          json.attribute("loc", layer.loc);
          json.attribute("shape", layer.shape);
          json.attribute("flops", layer.flops);
          json.attribute("macs", layer.macs);
          json.attribute("params", layer.params);
          json.attribute("bytes", layer.bytes);
          json.attribute("intensity", layer.intensity);
          json.attribute("saved_bytes", layer.savedBytes);
          json.attribute("bwd_flops", layer.bwdFlops);
          json.attribute("bwd_bytes", layer.bwdBytes);
          json.attribute("time_fwd_s", layer.timeFwd);
          json.attribute("time_bwd_s", layer.timeBwd);
          json.attribute("bound", layer.computeBound ? "compute" : "memory");
          json.attribute("estimated", layer.estimated);
          json.attribute("fused", layer.fused);
          json.attribute("in_row_kernel", layer.inRowKernel);
          json.attribute("in_gemm_epilogue", layer.inEpilogue);
          json.attribute("launches", layer.launches);
          json.attribute("bwd_launches", layer.bwdLaunches);
        });
    });
    json.attributeArray("gradient_sync", [&] {
      for (const SyncReport &sync : report.gradientSync)
        json.object([&] {
          json.attribute("gpus", sync.gpus);
          json.attribute("nodes", sync.nodes);
          json.attribute("seconds", sync.seconds);
          json.attribute("algorithm", sync.algorithm);
        });
    });
    json.attributeArray("gradients", [&] {
      for (const GradientReport &gradient : report.gradients)
        json.object([&] {
          json.attribute("name", gradient.name);
          json.attribute("shape", gradient.shape);
          json.attribute("elements", gradient.elements);
          json.attribute("bytes", gradient.bytes);
        });
    });
  });
  os << "\n";
}
