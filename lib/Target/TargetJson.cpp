//===- TargetJson.cpp - target descriptions from JSON files ---------------===//
//
// A validating reader: every error names the file and the field's path in
// the document (`gpu.peak_flops.f32`), so a user can find it.
//
//===----------------------------------------------------------------------===//

#include "autopar/Dialect/AutoparDialect.h"
#include "autopar/Target/Target.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"

using namespace mlir;
using namespace mlir::autopar;
namespace json = llvm::json;

namespace {
/// Reads the fields of one JSON document into attributes, collecting the
/// first error with its path.
class TargetReader {
public:
  TargetReader(MLIRContext *context, StringRef fileName,
               function_ref<InFlightDiagnostic()> emitError)
      : context(context), builder(context), fileName(fileName),
        emitError(emitError) {}

  FailureOr<TargetAttr> read(const json::Value &document);

private:
  /// Reports `message` at `path` (a dotted field path).
  LogicalResult fail(const Twine &path, const Twine &message) {
    emitError() << fileName << ": " << path << ": " << message;
    return failure();
  }
  /// Checks that `object` has only the `known` keys.
  LogicalResult checkKeys(const json::Object &object, const Twine &path,
                          ArrayRef<StringRef> known);
  FailureOr<double> getNumber(const json::Object &object, StringRef key,
                              const Twine &path, std::optional<double> fallback);
  FailureOr<std::string> getString(const json::Object &object, StringRef key,
                                   const Twine &path,
                                   std::optional<StringRef> fallback);
  FailureOr<GpuAttr> readGpu(const json::Object &object, GpuAttr base,
                             const Twine &path);
  FailureOr<LinkAttr> readLink(const json::Object &object, LinkAttr base,
                               const Twine &path);

  MLIRContext *context;
  Builder builder;
  StringRef fileName;
  function_ref<InFlightDiagnostic()> emitError;
};
} // namespace

static std::string fieldPath(const Twine &path, StringRef key) {
  std::string prefix = path.str();
  return prefix.empty() ? key.str() : prefix + "." + key.str();
}

LogicalResult TargetReader::checkKeys(const json::Object &object,
                                      const Twine &path,
                                      ArrayRef<StringRef> known) {
  // Report unknown keys in sorted order, so that errors are deterministic.
  SmallVector<StringRef> keys;
  for (const auto &entry : object)
    keys.push_back(StringRef(entry.first));
  llvm::sort(keys);
  for (StringRef key : keys)
    if (!llvm::is_contained(known, key))
      return fail(fieldPath(path, key), "unknown field; expected one of: " +
                                       llvm::join(known, ", "));
  return success();
}

FailureOr<double> TargetReader::getNumber(const json::Object &object,
                                          StringRef key, const Twine &path,
                                          std::optional<double> fallback) {
  const json::Value *value = object.get(key);
  if (!value) {
    if (fallback)
      return *fallback;
    return fail(fieldPath(path, key), "missing required number");
  }
  std::optional<double> number = value->getAsNumber();
  if (!number)
    return fail(fieldPath(path, key), "expected a number");
  return *number;
}

FailureOr<std::string> TargetReader::getString(
    const json::Object &object, StringRef key, const Twine &path,
    std::optional<StringRef> fallback) {
  const json::Value *value = object.get(key);
  if (!value) {
    if (fallback)
      return fallback->str();
    return fail(fieldPath(path, key), "missing required string");
  }
  std::optional<StringRef> text = value->getAsString();
  if (!text)
    return fail(fieldPath(path, key), "expected a string");
  return text->str();
}

/// Runs an attribute's verifier, reporting its message under `path`.
template <typename AttrT, typename... Args>
static FailureOr<AttrT>
getVerified(function_ref<InFlightDiagnostic()> emitError, StringRef fileName,
            const std::string &path, MLIRContext *context, Args &&...args) {
  auto attr = AttrT::getChecked(
      [&] {
        InFlightDiagnostic diag = emitError();
        diag << fileName << ": " << (path.empty() ? "target" : path) << ": ";
        return diag;
      },
      context, std::forward<Args>(args)...);
  if (!attr)
    return failure();
  return attr;
}

FailureOr<LinkAttr> TargetReader::readLink(const json::Object &object,
                                           LinkAttr base, const Twine &path) {
  if (failed(checkKeys(object, path, {"topology", "bandwidth", "latency"})))
    return failure();
  std::optional<StringRef> baseTopology;
  if (base)
    baseTopology = stringifyLinkTopology(base.getTopology());
  FailureOr<std::string> topologyName =
      getString(object, "topology", path, baseTopology);
  if (failed(topologyName))
    return failure();
  std::optional<LinkTopology> topology = symbolizeLinkTopology(*topologyName);
  if (!topology)
    return fail(fieldPath(path, "topology"),
                "unknown topology '" + *topologyName +
                    "'; expected one of: pcie, nvlink, nvswitch, infiniband, "
                    "ethernet");
  auto fallback = [&](llvm::APFloat value) -> std::optional<double> {
    if (!base)
      return std::nullopt;
    return value.convertToDouble();
  };
  FailureOr<double> bandwidth = getNumber(
      object, "bandwidth", path,
      base ? fallback(base.getBandwidth()) : std::nullopt);
  FailureOr<double> latency = getNumber(
      object, "latency", path, base ? fallback(base.getLatency()) : std::nullopt);
  if (failed(bandwidth) || failed(latency))
    return failure();
  return getVerified<LinkAttr>(emitError, fileName, path.str(), context,
                               *topology, llvm::APFloat(*bandwidth),
                               llvm::APFloat(*latency));
}

FailureOr<GpuAttr> TargetReader::readGpu(const json::Object &object,
                                         GpuAttr base, const Twine &path) {
  static constexpr StringRef kNumbers[] = {
      "memory_bandwidth",  "power_busy",       "power_idle",
      "compute_efficiency", "memory_efficiency", "launch_overhead",
      "saturation_threads"};
  SmallVector<StringRef> known = {"name", "peak_flops", "memory_capacity"};
  known.append(std::begin(kNumbers), std::end(kNumbers));
  if (failed(checkKeys(object, path, known)))
    return failure();

  std::optional<StringRef> baseName;
  if (base)
    baseName = base.getName();
  FailureOr<std::string> name = getString(object, "name", path, baseName);
  if (failed(name))
    return failure();

  DictionaryAttr peakFlops = base ? base.getPeakFlops() : DictionaryAttr();
  if (const json::Value *table = object.get("peak_flops")) {
    const json::Object *entries = table->getAsObject();
    if (!entries)
      return fail(fieldPath(path, "peak_flops"),
                  "expected an object of element type to FLOP/s");
    // Entries override the base GPU's; its other element types stay (a
    // calibrated f32 rate keeps the preset's bf16 one).
    NamedAttrList flops(peakFlops ? peakFlops.getValue()
                                  : ArrayRef<NamedAttribute>());
    for (const auto &entry : *entries) {
      std::optional<double> rate = entry.second.getAsNumber();
      if (!rate)
        return fail(fieldPath(fieldPath(path, "peak_flops"), StringRef(entry.first)),
                    "expected a number");
      flops.set(builder.getStringAttr(StringRef(entry.first)),
                builder.getF64FloatAttr(*rate));
    }
    peakFlops = flops.getDictionary(builder.getContext());
  } else if (!peakFlops) {
    return fail(fieldPath(path, "peak_flops"), "missing required object");
  }

  // Numbers default to the base GPU's, or to the attribute's defaults for
  // the optional roofline fields.
  auto numberOr = [&](StringRef key, std::optional<double> fallback) {
    return getNumber(object, key, path, fallback);
  };
  auto fromBase = [&](auto getter) -> std::optional<double> {
    if (!base)
      return std::nullopt;
    return (base.*getter)().convertToDouble();
  };
  FailureOr<double> bandwidth =
      numberOr("memory_bandwidth", fromBase(&GpuAttr::getMemoryBandwidth));
  FailureOr<double> busy = numberOr("power_busy", fromBase(&GpuAttr::getPowerBusy));
  FailureOr<double> idle = numberOr("power_idle", fromBase(&GpuAttr::getPowerIdle));
  auto optional = [&](StringRef key, auto getter, double fallback) {
    std::optional<double> value = fromBase(getter);
    return numberOr(key, value ? *value : fallback);
  };
  FailureOr<double> computeEfficiency =
      optional("compute_efficiency", &GpuAttr::getComputeEfficiency, 0.7);
  FailureOr<double> memoryEfficiency =
      optional("memory_efficiency", &GpuAttr::getMemoryEfficiency, 0.8);
  FailureOr<double> launchOverhead =
      optional("launch_overhead", &GpuAttr::getLaunchOverhead, 5.0e-6);
  FailureOr<double> saturationThreads =
      optional("saturation_threads", &GpuAttr::getSaturationThreads, 16384.0);
  std::optional<double> baseCapacity;
  if (base)
    baseCapacity = static_cast<double>(base.getMemoryCapacity());
  FailureOr<double> capacity = numberOr("memory_capacity", baseCapacity);
  if (failed(bandwidth) || failed(busy) || failed(idle) ||
      failed(computeEfficiency) || failed(memoryEfficiency) ||
      failed(launchOverhead) || failed(saturationThreads) || failed(capacity))
    return failure();
  if (*capacity < 0 || *capacity != std::floor(*capacity))
    return fail(fieldPath(path, "memory_capacity"),
                "expected a whole number of bytes");
  return getVerified<GpuAttr>(
      emitError, fileName, path.str(), context, StringRef(*name), peakFlops,
      llvm::APFloat(*bandwidth), static_cast<uint64_t>(*capacity),
      llvm::APFloat(*busy), llvm::APFloat(*idle),
      llvm::APFloat(*computeEfficiency), llvm::APFloat(*memoryEfficiency),
      llvm::APFloat(*launchOverhead), llvm::APFloat(*saturationThreads));
}

FailureOr<TargetAttr> TargetReader::read(const json::Value &document) {
  const json::Object *object = document.getAsObject();
  if (!object)
    return fail("target", "expected a JSON object at the top level");
  if (failed(checkKeys(*object, "",
                       {"preset", "name", "nodes", "gpus_per_node", "gpu",
                        "intra_node", "inter_node"})))
    return failure();

  // A preset may serve as the base that the other fields override.
  TargetAttr base;
  if (const json::Value *preset = object->get("preset")) {
    std::optional<StringRef> name = preset->getAsString();
    if (!name)
      return fail("preset", "expected a string");
    base = getTargetPreset(context, *name);
    if (!base)
      return fail("preset", "unknown preset '" + *name + "'; presets: " +
                                llvm::join(getTargetPresetNames(), ", "));
  }

  std::optional<StringRef> baseName;
  if (base)
    baseName = base.getName();
  FailureOr<std::string> name = getString(*object, "name", "", baseName);
  std::optional<double> baseNodes, baseGpus;
  if (base) {
    baseNodes = static_cast<double>(base.getNodes());
    baseGpus = static_cast<double>(base.getGpusPerNode());
  }
  FailureOr<double> nodes = getNumber(*object, "nodes", "", baseNodes);
  FailureOr<double> gpusPerNode =
      getNumber(*object, "gpus_per_node", "", baseGpus);
  if (failed(name) || failed(nodes) || failed(gpusPerNode))
    return failure();
  for (auto [key, value] : {std::make_pair("nodes", *nodes),
                            std::make_pair("gpus_per_node", *gpusPerNode)})
    if (value != std::floor(value))
      return fail(key, "expected a whole number");

  auto readObject = [&](StringRef key, auto readFn,
                        auto baseValue) -> FailureOr<decltype(baseValue)> {
    const json::Value *value = object->get(key);
    if (!value) {
      if (baseValue)
        return baseValue;
      return decltype(baseValue)();
    }
    const json::Object *fields = value->getAsObject();
    if (!fields)
      return fail(key, "expected an object");
    return readFn(*fields, baseValue, key);
  };
  FailureOr<GpuAttr> gpu = readObject(
      "gpu",
      [&](const json::Object &fields, GpuAttr baseGpu, StringRef path) {
        return readGpu(fields, baseGpu, path);
      },
      base ? base.getGpu() : GpuAttr());
  if (failed(gpu))
    return failure();
  if (!*gpu)
    return fail("gpu", "missing required object");
  auto linkReader = [&](const json::Object &fields, LinkAttr baseLink,
                        StringRef path) { return readLink(fields, baseLink, path); };
  FailureOr<LinkAttr> intra =
      readObject("intra_node", linkReader, base ? base.getIntraNode() : LinkAttr());
  if (failed(intra))
    return failure();
  if (!*intra)
    return fail("intra_node", "missing required object");
  FailureOr<LinkAttr> inter =
      readObject("inter_node", linkReader, base ? base.getInterNode() : LinkAttr());
  if (failed(inter))
    return failure();
  return getVerified<TargetAttr>(emitError, fileName, "", context,
                                 StringRef(*name),
                                 static_cast<int64_t>(*nodes),
                                 static_cast<int64_t>(*gpusPerNode), *gpu,
                                 *intra, *inter);
}

FailureOr<TargetAttr>
mlir::autopar::parseTargetJson(MLIRContext *context, StringRef text,
                               StringRef fileName,
                               function_ref<InFlightDiagnostic()> emitError) {
  llvm::Expected<json::Value> document = json::parse(text);
  if (!document) {
    std::string message = llvm::toString(document.takeError());
    emitError() << fileName << ": invalid JSON: " << message;
    return failure();
  }
  TargetReader reader(context, fileName, emitError);
  return reader.read(*document);
}

FailureOr<TargetAttr>
mlir::autopar::resolveTarget(MLIRContext *context, StringRef spec,
                             function_ref<InFlightDiagnostic()> emitError) {
  if (spec.ends_with(".json") || spec.contains('/')) {
    llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> buffer =
        llvm::MemoryBuffer::getFile(spec, /*IsText=*/true);
    if (!buffer) {
      emitError() << "cannot read target file '" << spec
                  << "': " << buffer.getError().message();
      return failure();
    }
    return parseTargetJson(context, (*buffer)->getBuffer(), spec, emitError);
  }
  if (TargetAttr preset = getTargetPreset(context, spec))
    return preset;
  emitError() << "unknown target '" << spec << "'; presets: "
              << llvm::join(getTargetPresetNames(), ", ")
              << " (or a .json file)";
  return failure();
}

FailureOr<TargetAttr>
mlir::autopar::getModuleTarget(Operation *module, StringRef spec,
                               function_ref<InFlightDiagnostic()> emitError) {
  if (spec.empty())
    if (auto attr =
            module->getAttrOfType<TargetAttr>(AutoparDialect::kTargetAttrName))
      return attr;
  return resolveTarget(module->getContext(),
                       spec.empty() ? StringRef(kDefaultTargetPreset) : spec,
                       emitError);
}
