//===- PlanReport.cpp - explaining a parallelization plan -----------------===//

#include "autopar/Search/PlanReport.h"
#include "autopar/Cost/AnalysisReport.h"
#include "autopar/Dialect/AutoparDialect.h"
#include "autopar/Support/Output.h"

#include "llvm/Support/Format.h"
#include "llvm/Support/JSON.h"

using namespace mlir;
using namespace mlir::autopar;

PlanSummary mlir::autopar::summarizePlan(const MeshPlan &plan,
                                         const Planner &planner,
                                         double oneGpuStep) {
  PlanSummary summary;
  summary.mesh = plan.mesh.str();
  summary.gpus = plan.metrics.gpus;
  summary.stepSeconds = plan.metrics.stepSeconds();
  summary.samplesPerSecond = plan.metrics.samplesPerSecond();
  summary.speedup =
      summary.stepSeconds > 0 ? oneGpuStep / summary.stepSeconds : 0;
  summary.efficiency = summary.speedup / static_cast<double>(summary.gpus);
  summary.energyPerSample = plan.energyPerSample;
  summary.memoryPerGpu = plan.metrics.memoryPerGpu;
  summary.computeSeconds = plan.metrics.computeSeconds;
  summary.commSeconds = plan.metrics.commSeconds;
  summary.hiddenCommSeconds = plan.metrics.hiddenCommSeconds;
  summary.fitsMemory = plan.fitsMemory;
  summary.pruned = plan.pruned;
  summary.recomputeSeconds = plan.metrics.recomputeSeconds;
  summary.config = plan.config;
  summary.memory = plan.metrics.memory;
  int64_t peak = summary.memory.peakNode;
  if (!summary.memory.peakAtSync && peak >= 0 &&
      static_cast<size_t>(peak) < planner.getSpaces().size()) {
    Operation *op = planner.getSpaces()[peak].op;
    summary.peakOp = op->getName().getStringRef().str();
    summary.peakLoc = formatLocation(op->getLoc());
    summary.peakInLoss = op->hasAttr(AutoparDialect::kLossAttrName);
  }
  return summary;
}

PlanReport mlir::autopar::buildPlanReport(
    const Planner &planner, const MeshPlan &best, const MeshPlan &oneGpu,
    const MeshPlan *dataParallel, ArrayRef<MeshPlan> considered,
    StringRef objective, StringRef target, double memoryCapacity) {
  PlanReport report;
  report.target = target.str();
  report.objective = objective.str();
  report.batch = best.metrics.batch;
  report.memoryCapacity = memoryCapacity;
  double oneStep = oneGpu.metrics.stepSeconds();
  report.plan = summarizePlan(best, planner, oneStep);
  report.forwardCommunication = planner.forwardCommunication(best);
  report.oneGpu = summarizePlan(oneGpu, planner, oneStep);
  if (dataParallel) {
    report.haveDataParallel = true;
    report.dataParallel = summarizePlan(*dataParallel, planner, oneStep);
  }
  for (const MeshPlan &plan : considered)
    report.meshes.push_back(summarizePlan(plan, planner, oneStep));
  report.exact = best.solution.exact;
  report.solverMethod = stringifySolverMethod(best.solution.method).str();
  report.coreNodes = best.solution.coreNodes;
  report.width = best.solution.width;
  report.lowerBound = best.solution.lowerBound;
  report.reusedCopies = best.solution.reusedCopies;
  report.repetition = planner.getRepetition();
  if (report.repetition.count > 0)
    report.repetitionLoc = formatLocation(
        planner.getSpaces()[report.repetition.start].op->getLoc());
  auto nextBest = planner.nextBest(best);
  for (auto [index, node] : llvm::enumerate(best.nodes)) {
    // Ops without work are left out, but pins stay: their resharding shows.
    if (!node.work && !node.space.pinned)
      continue;
    PlanLayerReport layer;
    unsigned chosen = best.choice[index];
    layer.op = node.space.op->getName().getStringRef().str();
    layer.loc = formatLocation(node.space.op->getLoc());
    layer.strategy =
        describeStrategy(node.space, node.strategies[chosen], best.mesh);
    layer.computeSeconds = node.compute[chosen] + best.apartSeconds[index];
    layer.commSeconds = node.sync[chosen] + best.edgeSeconds[index];
    if (chosen < node.works.size())
      layer.busiestShare = node.works[chosen].busiestShare;
    if (auto next = nextBest[index]) {
      layer.hasNextBest = true;
      layer.nextBestStrategy =
          describeStrategy(node.space, node.strategies[next->first], best.mesh);
      layer.nextBestSeconds = next->second;
    }
    report.layers.push_back(std::move(layer));
  }
  return report;
}

static std::string gib(double bytes) {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << llvm::format("%.2f GiB", bytes / (1024.0 * 1024.0 * 1024.0));
  return text;
}

static void printSummaryLine(llvm::raw_ostream &os, StringRef label,
                             const PlanSummary &summary) {
  os << llvm::format(
      "  %-16s %-18s %3lld GPUs  step %9.3f ms  %10.1f "
      "samples/s  speedup %5.2f  efficiency %4.2f  %9.4g "
      "J/sample  %s/GPU%s\n",
      label.str().c_str(), summary.mesh.c_str(),
      static_cast<long long>(summary.gpus), summary.stepSeconds * 1e3,
      summary.samplesPerSecond, summary.speedup, summary.efficiency,
      summary.energyPerSample, gib(summary.memoryPerGpu).c_str(),
      summary.fitsMemory ? ""
      : summary.pruned   ? " (does not fit; cannot beat the chosen plan, not "
                           "searched further)"
                         : " (does not fit)");
}

void mlir::autopar::printRepeatedBlock(llvm::raw_ostream &os,
                                       const Repetition &repetition,
                                       StringRef loc) {
  os << "; repeated block: " << repetition.count << " copies of "
     << repetition.length << " ops from op " << repetition.start;
  if (!loc.empty())
    os << " (" << loc << ")";
}

void mlir::autopar::writeRepeatedBlockJson(llvm::json::OStream &json,
                                           const Repetition &repetition) {
  json.attributeObject("repeated_block", [&] {
    json.attribute("first_op", static_cast<int64_t>(repetition.start));
    json.attribute("ops", static_cast<int64_t>(repetition.length));
    json.attribute("copies", static_cast<int64_t>(repetition.count));
  });
}

void mlir::autopar::printPlanReportText(llvm::raw_ostream &os,
                                        const PlanReport &report) {
  os << "autopar plan: @" << report.function << " on " << report.target
     << ", batch " << report.batch << ", objective " << report.objective;
  if (report.loss != "auto")
    os << ", loss " << report.loss << " priced";
  if (report.cudnnAttentions > 0)
    os << ", " << report.cudnnAttentions << " attention"
       << (report.cudnnAttentions > 1 ? "s" : "")
       << " priced as cuDNN's fused call";
  os << "\n\n";
  os << llvm::format("chosen: %lld GPUs, mesh %s; step %.3f ms, %.1f "
                     "samples/s, speedup %.2f over 1 GPU, efficiency %.2f, "
                     "%.4g J/sample, %s per GPU of %s\n\n",
                     static_cast<long long>(report.plan.gpus),
                     report.plan.mesh.c_str(), report.plan.stepSeconds * 1e3,
                     report.plan.samplesPerSecond, report.plan.speedup,
                     report.plan.efficiency, report.plan.energyPerSample,
                     formatBytes(report.plan.memoryPerGpu).c_str(),
                     formatBytes(report.memoryCapacity).c_str());
  const PlanSummary &plan = report.plan;
  os << "step: "
     << (report.precision == "bf16"   ? "mixed bf16 (f32 master parameters)"
         : report.precision == "fp16" ? "mixed fp16 (f32 master parameters)"
                                      : "in the model's precision")
     << ", " << report.optimizer << ", " << plan.config.str() << " of "
     << report.batch / std::max<int64_t>(1, plan.config.microbatches);
  if (plan.recomputeSeconds > 0)
    os << llvm::format("; recomputation %.3f ms", plan.recomputeSeconds * 1e3);
  if (plan.hiddenCommSeconds >= 5e-7)
    os << llvm::format("; %.3f ms of communication hidden behind compute",
                       plan.hiddenCommSeconds * 1e3);
  os << "\n";
  const PlanMemory &memory = plan.memory;
  const ParameterStateBytes &state = memory.state;
  os << "memory per GPU: parameters " << formatBytes(state.params)
     << ", gradients " << formatBytes(state.gradients);
  if (state.master > 0)
    os << ", f32 master " << formatBytes(state.master);
  os << ", optimizer state " << formatBytes(state.optimizer) << ", activations "
     << formatBytes(memory.activations) << ", transient "
     << formatBytes(memory.transient) << "\n";
  if (memory.peakAtSync) {
    os << "memory peak: " << formatBytes(memory.total())
       << " at the gradients' synchronisation, holding gradients "
       << formatBytes(memory.peakGradients) << ", collective buffers "
       << formatBytes(memory.collectiveBuffers)
       << " with the parameters and optimizer state\n";
  } else if (memory.peakNode >= 0) {
    os << "memory peak: " << formatBytes(memory.total())
       << (plan.peakInLoss ? " at the loss's " : " in the backward of ")
       << plan.peakOp;
    if (!plan.peakLoc.empty())
      os << " at " << plan.peakLoc;
    os << ", holding gradients " << formatBytes(memory.peakGradients)
       << ", activations " << formatBytes(memory.peakActivations)
       << ", transient " << formatBytes(memory.peakTransient)
       << " with the parameters and optimizer state\n";
  }
  os << "\n";
  printSummaryLine(os, "plan", report.plan);
  printSummaryLine(os, "1 GPU", report.oneGpu);
  if (report.haveDataParallel)
    printSummaryLine(os, "data parallel", report.dataParallel);
  os << "\nmeshes considered\n";
  for (const PlanSummary &mesh : report.meshes)
    printSummaryLine(os, "", mesh);
  os << "\n"
     << llvm::format("%-4s %-24s %-24s %-28s %10s %10s  %s\n", "#", "op", "loc",
                     "strategy", "compute ms", "comm ms", "next best (ms)");
  for (auto [index, layer] : llvm::enumerate(report.layers)) {
    std::string next =
        layer.hasNextBest
            ? layer.nextBestStrategy + " (" +
                  std::to_string(layer.nextBestSeconds * 1e3).substr(0, 8) + ")"
            : "-";
    // A split whose devices compute unevenly says by how much its busiest
    // one (priced) computes over an even share.
    std::string strategy = layer.strategy;
    if (layer.busiestShare != 1.0)
      strategy += llvm::formatv(", busiest {0:F2}x", layer.busiestShare).str();
    os << llvm::format("%-4zu %-24s %-24s %-28s %10.4f %10.4f  %s\n", index,
                       layer.op.c_str(), layer.loc.c_str(), strategy.c_str(),
                       layer.computeSeconds * 1e3, layer.commSeconds * 1e3,
                       next.c_str());
  }
  os << "\nsolver: " << report.solverMethod << ", "
     << (report.exact ? "exact" : "heuristic") << ", width " << report.width
     << ", " << report.coreNodes << " nodes left after elimination";
  if (!report.exact)
    os << llvm::format(", lower bound %.3f ms", report.lowerBound * 1e3);
  if (report.reusedCopies > 0) {
    printRepeatedBlock(os, report.repetition, report.repetitionLoc);
    os << ", solved once";
  }
  os << "\nforward collectives per step: "
     << describeCommunication(report.forwardCommunication) << "\n";
}

void mlir::autopar::writeCommunicationJson(
    llvm::json::OStream &json, const CommunicationSummary &summary) {
  for (const auto &[kind, entry] : summary)
    json.attributeObject(kind, [&] {
      json.attribute("count", entry.count);
      json.attribute("bytes", static_cast<int64_t>(entry.bytes));
      json.attribute("time_s", entry.seconds);
    });
}

static void writeSummary(llvm::json::OStream &json,
                         const PlanSummary &summary) {
  json.attribute("mesh", summary.mesh);
  json.attribute("gpus", summary.gpus);
  json.attribute("step_time_s", summary.stepSeconds);
  json.attribute("samples_per_s", summary.samplesPerSecond);
  json.attribute("speedup", summary.speedup);
  json.attribute("efficiency", summary.efficiency);
  json.attribute("energy_per_sample_j", summary.energyPerSample);
  json.attribute("memory_per_gpu_bytes", summary.memoryPerGpu);
  json.attribute("compute_s", summary.computeSeconds);
  json.attribute("comm_s", summary.commSeconds);
  json.attribute("hidden_comm_s", summary.hiddenCommSeconds);
  json.attribute("fits_memory", summary.fitsMemory);
  if (summary.pruned)
    json.attribute("pruned", true);
  json.attributeObject("step", [&] {
    json.attribute("zero", static_cast<int64_t>(summary.config.zero));
    json.attribute("recompute",
                   stringifyRecompute(summary.config.recompute).str());
    json.attribute("microbatches", summary.config.microbatches);
    json.attribute("recompute_s", summary.recomputeSeconds);
  });
  json.attributeObject("memory", [&] {
    const ParameterStateBytes &state = summary.memory.state;
    json.attribute("parameters_bytes", state.params);
    json.attribute("gradients_bytes", state.gradients);
    json.attribute("master_bytes", state.master);
    json.attribute("optimizer_state_bytes", state.optimizer);
    json.attribute("activations_bytes", summary.memory.activations);
    json.attribute("transient_bytes", summary.memory.transient);
    json.attributeObject("peak", [&] {
      json.attribute("at", summary.memory.peakAtSync ? "synchronisation"
                           : summary.peakInLoss      ? "loss"
                                                     : "backward");
      json.attribute("op", summary.peakOp);
      json.attribute("loc", summary.peakLoc);
      json.attribute("collective_bytes", summary.memory.peakAtSync
                                             ? summary.memory.collectiveBuffers
                                             : 0.0);
      json.attribute("gradients_bytes", summary.memory.peakGradients);
      json.attribute("activations_bytes", summary.memory.peakActivations);
      json.attribute("transient_bytes", summary.memory.peakTransient);
    });
  });
}

void mlir::autopar::printPlanReportJson(llvm::raw_ostream &os,
                                        const PlanReport &report) {
  llvm::json::OStream json(os, /*IndentSize=*/2);
  json.object([&] {
    json.attribute("schema", "autopar-plan-1");
    json.attribute("target", report.target);
    json.attribute("function", report.function);
    json.attribute("batch", report.batch);
    json.attribute("precision", report.precision);
    json.attribute("optimizer", report.optimizer);
    json.attribute("loss", report.loss);
    json.attribute("objective", report.objective);
    json.attribute("memory_capacity_bytes", report.memoryCapacity);
    json.attributeObject("plan", [&] { writeSummary(json, report.plan); });
    json.attributeObject("one_gpu", [&] { writeSummary(json, report.oneGpu); });
    if (report.haveDataParallel)
      json.attributeObject("data_parallel",
                           [&] { writeSummary(json, report.dataParallel); });
    json.attributeObject("solver", [&] {
      json.attribute("method", report.solverMethod);
      json.attribute("exact", report.exact);
      json.attribute("width", static_cast<int64_t>(report.width));
      json.attribute("core_nodes", static_cast<int64_t>(report.coreNodes));
      json.attribute("lower_bound_s", report.lowerBound);
      if (report.reusedCopies > 0)
        writeRepeatedBlockJson(json, report.repetition);
    });
    json.attributeArray("meshes", [&] {
      for (const PlanSummary &mesh : report.meshes)
        json.object([&] { writeSummary(json, mesh); });
    });
    json.attributeObject("forward_collectives", [&] {
      writeCommunicationJson(json, report.forwardCommunication);
    });
    json.attribute("cudnn_attentions", report.cudnnAttentions);
    json.attributeArray("layers", [&] {
      for (const PlanLayerReport &layer : report.layers)
        json.object([&] {
          json.attribute("op", layer.op);
          json.attribute("loc", layer.loc);
          json.attribute("strategy", layer.strategy);
          json.attribute("compute_s", layer.computeSeconds);
          json.attribute("comm_s", layer.commSeconds);
          if (layer.busiestShare != 1.0)
            json.attribute("busiest_share", layer.busiestShare);
          if (layer.hasNextBest)
            json.attributeObject("next_best", [&] {
              json.attribute("strategy", layer.nextBestStrategy);
              json.attribute("cost_s", layer.nextBestSeconds);
            });
          else
            json.attribute("next_best", nullptr);
        });
    });
  });
  os << "\n";
}

void mlir::autopar::writeTraceTrackName(llvm::json::OStream &json,
                                        int64_t track, StringRef name) {
  json.object([&] {
    json.attribute("name", "thread_name");
    json.attribute("ph", "M");
    json.attribute("pid", 0);
    json.attribute("tid", track);
    json.attributeObject("args", [&] { json.attribute("name", name); });
  });
}

void mlir::autopar::writeTraceEvent(llvm::json::OStream &json, StringRef name,
                                    StringRef category, int64_t track,
                                    double start, double seconds,
                                    llvm::function_ref<void()> args) {
  json.object([&] {
    json.attribute("name", name);
    json.attribute("cat", category);
    json.attribute("ph", "X");
    json.attribute("pid", 0);
    json.attribute("tid", track);
    json.attribute("ts", start * 1e6);
    json.attribute("dur", seconds * 1e6);
    if (args)
      json.attributeObject("args", args);
  });
}

void mlir::autopar::printPlanTrace(llvm::raw_ostream &os,
                                   const MeshPlan &plan) {
  // One step: forward in program order (incoming resharding, then the op),
  // backward in reverse (the op's gradients, then its all-reduces).
  struct Event {
    std::string name, category;
    double start, duration;
  };
  std::vector<Event> events;
  double clock = 0;
  auto add = [&](std::string name, StringRef category, double seconds) {
    if (seconds <= 0)
      return;
    events.push_back({std::move(name), category.str(), clock, seconds});
    clock += seconds;
  };
  auto nameOf = [&](const PlanNode &node) {
    std::string loc = formatLocation(node.space.op->getLoc());
    return node.space.op->getName().getStringRef().str() +
           (loc.empty() ? "" : " " + loc);
  };
  for (auto [index, node] : llvm::enumerate(plan.nodes)) {
    unsigned s = plan.choice[index];
    add("reshard -> " + nameOf(node), "comm", plan.edgeSeconds[index]);
    add("fwd " + nameOf(node), "compute",
        node.forward[s] + plan.apartSeconds[index]);
  }
  for (size_t index = plan.nodes.size(); index-- > 0;) {
    const PlanNode &node = plan.nodes[index];
    unsigned s = plan.choice[index];
    add("bwd " + nameOf(node), "compute", node.compute[s] - node.forward[s]);
    add("all_reduce grads " + nameOf(node), "comm", node.sync[s]);
  }
  llvm::json::OStream json(os, /*IndentSize=*/1);
  json.object([&] {
    json.attribute("displayTimeUnit", "ms");
    json.attributeArray("traceEvents", [&] {
      for (int64_t gpu = 0; gpu < plan.metrics.gpus; ++gpu) {
        writeTraceTrackName(json, gpu, "GPU " + std::to_string(gpu));
        for (const Event &event : events)
          writeTraceEvent(json, event.name, event.category, gpu, event.start,
                          event.duration);
      }
    });
  });
  os << "\n";
}
