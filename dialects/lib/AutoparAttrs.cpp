//===- AutoparAttrs.cpp - autopar attributes ------------------------------===//
//
// Parsing, printing and verification of the autopar attributes.
//
//===----------------------------------------------------------------------===//

#include "autopar/Dialect/AutoparAttrs.h"
#include "autopar/Dialect/AutoparDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallSet.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/ADT/TypeSwitch.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

using namespace mlir;
using namespace mlir::autopar;

#include "autopar/Dialect/AutoparEnums.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "autopar/Dialect/AutoparAttrs.cpp.inc"

//===----------------------------------------------------------------------===//
// Shared parsing helpers
//===----------------------------------------------------------------------===//

FailureOr<double> mlir::autopar::parseDouble(AsmParser &parser) {
  // Accept integer literals too (`250` as well as `250.0`).
  bool negative = succeeded(parser.parseOptionalMinus());
  int64_t intValue = 0;
  OptionalParseResult intResult = parser.parseOptionalInteger(intValue);
  if (intResult.has_value()) {
    if (failed(*intResult))
      return failure();
    return negative ? -static_cast<double>(intValue)
                    : static_cast<double>(intValue);
  }
  double value = 0.0;
  if (parser.parseFloat(value))
    return failure();
  return negative ? -value : value;
}

FailureOr<llvm::APFloat>
mlir::autopar::parseDoubleAsAPFloat(AsmParser &parser) {
  FailureOr<double> value = parseDouble(parser);
  if (failed(value))
    return failure();
  return llvm::APFloat(*value);
}

void mlir::autopar::printDouble(AsmPrinter &printer, double value) {
  // The shortest decimal form that reads back as the same double, always
  // with a decimal point so that MLIR lexes it as a float literal.
  char buffer[64];
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buffer, sizeof(buffer), "%.*g", precision, value);
    if (std::strtod(buffer, nullptr) == value)
      break;
  }
  std::string text(buffer);
  // Prefer plain notation for moderate magnitudes: 250.0, not 2.5e+02.
  double magnitude = std::fabs(value);
  if (text.find('e') != std::string::npos && magnitude >= 1e-3 &&
      magnitude < 1e7) {
    for (int decimals = 0; decimals <= 17; ++decimals) {
      std::snprintf(buffer, sizeof(buffer), "%.*f", decimals, value);
      if (std::strtod(buffer, nullptr) == value)
        break;
    }
    text = buffer;
  }
  if (text.find_first_of(".ni") == std::string::npos) {
    size_t exponent = text.find('e');
    text.insert(exponent == std::string::npos ? text.size() : exponent, ".0");
  }
  printer << text;
}

static ParseResult parseAxisName(AsmParser &parser, StringAttr &name) {
  std::string text;
  if (parser.parseKeywordOrString(&text))
    return failure();
  name = parser.getBuilder().getStringAttr(text);
  return success();
}

ParseResult mlir::autopar::parseAxisList(AsmParser &parser, ArrayAttr &axes) {
  SmallVector<Attribute> names;
  if (parser.parseCommaSeparatedList(AsmParser::Delimiter::Square, [&] {
        StringAttr name;
        if (parseAxisName(parser, name))
          return failure();
        names.push_back(name);
        return success();
      }))
    return failure();
  axes = parser.getBuilder().getArrayAttr(names);
  return success();
}

void mlir::autopar::printAxisList(AsmPrinter &printer, ArrayAttr axes) {
  printer << '[';
  llvm::interleaveComma(axes, printer, [&](Attribute axis) {
    printer.printKeywordOrString(cast<StringAttr>(axis).getValue());
  });
  printer << ']';
}

/// Parses `[[a], [], [b, c]]`: one axis list per dimension or loop.
static ParseResult parseAxisLists(AsmParser &parser,
                                  SmallVectorImpl<ArrayAttr> &lists) {
  return parser.parseCommaSeparatedList(AsmParser::Delimiter::Square, [&] {
    ArrayAttr axes;
    if (parseAxisList(parser, axes))
      return failure();
    lists.push_back(axes);
    return success();
  });
}

static void printAxisLists(AsmPrinter &printer, ArrayRef<ArrayAttr> lists) {
  printer << '[';
  llvm::interleaveComma(lists, printer,
                        [&](ArrayAttr axes) { printAxisList(printer, axes); });
  printer << ']';
}

/// Checks that every element of every list is a non-empty StringAttr and that
/// no axis appears twice over all lists.
static LogicalResult
verifyAxisLists(function_ref<InFlightDiagnostic()> emitError,
                ArrayRef<ArrayAttr> lists, StringRef what) {
  llvm::StringSet<> seen;
  for (ArrayAttr list : lists) {
    if (!list)
      return emitError() << "expected an axis list for every " << what;
    for (Attribute axis : list) {
      auto name = dyn_cast<StringAttr>(axis);
      if (!name || name.getValue().empty())
        return emitError() << "mesh axes must be non-empty names, got " << axis;
      if (!seen.insert(name.getValue()).second)
        return emitError() << "mesh axis '" << name.getValue()
                           << "' is used more than once";
    }
  }
  return success();
}

/// Checks that every axis in `lists` exists in `mesh`.
static LogicalResult
verifyAxesInMesh(function_ref<InFlightDiagnostic()> emitError,
                 ArrayRef<ArrayAttr> lists, MeshAttr mesh,
                 FlatSymbolRefAttr meshRef) {
  for (ArrayAttr list : lists)
    for (Attribute axis : list) {
      StringRef name = cast<StringAttr>(axis).getValue();
      if (!mesh.getAxisIndex(name))
        return emitError() << "mesh " << meshRef << " has no axis '" << name
                           << "'";
    }
  return success();
}

//===----------------------------------------------------------------------===//
// MeshAttr
//===----------------------------------------------------------------------===//

Attribute MeshAttr::parse(AsmParser &parser, Type) {
  SmallVector<StringAttr> names;
  SmallVector<int64_t> sizes;
  SMLoc loc = parser.getCurrentLocation();
  if (parser.parseCommaSeparatedList(AsmParser::Delimiter::LessGreater, [&] {
        StringAttr name;
        int64_t size = 0;
        if (parseAxisName(parser, name) || parser.parseEqual() ||
            parser.parseInteger(size))
          return failure();
        names.push_back(name);
        sizes.push_back(size);
        return success();
      }))
    return {};
  return parser.getChecked<MeshAttr>(loc, parser.getContext(), names, sizes);
}

void MeshAttr::print(AsmPrinter &printer) const {
  printer << '<';
  llvm::interleaveComma(
      llvm::zip_equal(getAxisNames(), getAxisSizes()), printer, [&](auto axis) {
        printer.printKeywordOrString(std::get<0>(axis).getValue());
        printer << " = " << std::get<1>(axis);
      });
  printer << '>';
}

LogicalResult MeshAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                               ArrayRef<StringAttr> axisNames,
                               ArrayRef<int64_t> axisSizes) {
  if (axisNames.empty())
    return emitError() << "a mesh needs at least one axis";
  if (axisNames.size() != axisSizes.size())
    return emitError() << "a mesh needs one size per axis name";
  llvm::StringSet<> seen;
  for (auto [name, size] : llvm::zip_equal(axisNames, axisSizes)) {
    if (!name || name.getValue().empty())
      return emitError() << "mesh axis names must not be empty";
    if (!seen.insert(name.getValue()).second)
      return emitError() << "mesh axis '" << name.getValue()
                         << "' is declared more than once";
    if (size < 1)
      return emitError() << "mesh axis '" << name.getValue()
                         << "' must have a size of at least 1, got " << size;
  }
  return success();
}

std::optional<unsigned> MeshAttr::getAxisIndex(StringRef axis) const {
  for (auto [index, name] : llvm::enumerate(getAxisNames()))
    if (name.getValue() == axis)
      return index;
  return std::nullopt;
}

int64_t MeshAttr::getAxisSize(StringRef axis) const {
  std::optional<unsigned> index = getAxisIndex(axis);
  assert(index && "no such mesh axis");
  return getAxisSizes()[*index];
}

int64_t MeshAttr::getNumDevices() const {
  int64_t devices = 1;
  for (int64_t size : getAxisSizes())
    devices *= size;
  return devices;
}

//===----------------------------------------------------------------------===//
// ShardingAttr
//===----------------------------------------------------------------------===//

Attribute ShardingAttr::parse(AsmParser &parser, Type) {
  SMLoc loc = parser.getCurrentLocation();
  FlatSymbolRefAttr mesh;
  SmallVector<ArrayAttr> dims;
  if (parser.parseLess() || parser.parseAttribute(mesh) ||
      parser.parseComma() || parseAxisLists(parser, dims))
    return {};
  ArrayAttr partial = parser.getBuilder().getArrayAttr({});
  ReductionKind kind = ReductionKind::Sum;
  if (succeeded(parser.parseOptionalComma())) {
    std::string kindName;
    SMLoc kindLoc;
    if (parser.parseKeyword("partial") || parser.parseEqual())
      return {};
    kindLoc = parser.getCurrentLocation();
    if (parser.parseKeywordOrString(&kindName))
      return {};
    std::optional<ReductionKind> parsedKind = symbolizeReductionKind(kindName);
    if (!parsedKind) {
      parser.emitError(kindLoc) << "unknown reduction '" << kindName
                                << "', expected one of: sum, prod, min, max";
      return {};
    }
    kind = *parsedKind;
    if (parseAxisList(parser, partial))
      return {};
  }
  if (parser.parseGreater())
    return {};
  return parser.getChecked<ShardingAttr>(loc, parser.getContext(), mesh, dims,
                                         partial, kind);
}

void ShardingAttr::print(AsmPrinter &printer) const {
  printer << '<' << getMesh() << ", ";
  printAxisLists(printer, getDimAxes());
  if (isPartial()) {
    printer << ", partial = " << stringifyReductionKind(getPartialKind())
            << ' ';
    printAxisList(printer, getPartialAxes());
  }
  printer << '>';
}

LogicalResult ShardingAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                   FlatSymbolRefAttr mesh,
                                   ArrayRef<ArrayAttr> dimAxes,
                                   ArrayAttr partialAxes, ReductionKind) {
  if (!mesh)
    return emitError() << "a sharding needs a mesh symbol";
  SmallVector<ArrayAttr> all(dimAxes);
  all.push_back(partialAxes);
  return verifyAxisLists(emitError, all, "dimension");
}

bool ShardingAttr::isReplicated() const {
  return !isPartial() && llvm::all_of(getDimAxes(), [](ArrayAttr axes) {
    return axes.empty();
  });
}

LogicalResult
ShardingAttr::verifyFor(Type type, MeshAttr mesh,
                        function_ref<InFlightDiagnostic()> emitError) const {
  auto shaped = dyn_cast<ShapedType>(type);
  int64_t rank = shaped && shaped.hasRank() ? shaped.getRank() : 0;
  if (shaped && !shaped.hasRank())
    return emitError() << "a sharding needs a ranked type, got " << type;
  if (getRank() != rank)
    return emitError() << "sharding has " << getRank()
                       << " dimension entries but the value " << type
                       << " has rank " << rank;
  SmallVector<ArrayAttr> all(getDimAxes());
  all.push_back(getPartialAxes());
  return verifyAxesInMesh(emitError, all, mesh, getMesh());
}

//===----------------------------------------------------------------------===//
// StrategyAttr
//===----------------------------------------------------------------------===//

Attribute StrategyAttr::parse(AsmParser &parser, Type) {
  SMLoc loc = parser.getCurrentLocation();
  FlatSymbolRefAttr mesh;
  SmallVector<ArrayAttr> loops;
  if (parser.parseLess() || parser.parseAttribute(mesh) ||
      parser.parseComma() || parseAxisLists(parser, loops) ||
      parser.parseGreater())
    return {};
  return parser.getChecked<StrategyAttr>(loc, parser.getContext(), mesh, loops);
}

void StrategyAttr::print(AsmPrinter &printer) const {
  printer << '<' << getMesh() << ", ";
  printAxisLists(printer, getLoopAxes());
  printer << '>';
}

LogicalResult StrategyAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                   FlatSymbolRefAttr mesh,
                                   ArrayRef<ArrayAttr> loopAxes) {
  if (!mesh)
    return emitError() << "a strategy needs a mesh symbol";
  return verifyAxisLists(emitError, loopAxes, "loop");
}

LogicalResult
StrategyAttr::verifyFor(std::optional<int64_t> numLoops, MeshAttr mesh,
                        function_ref<InFlightDiagnostic()> emitError) const {
  if (numLoops && *numLoops != getNumLoops())
    return emitError() << "strategy has " << getNumLoops()
                       << " loop entries but the op has " << *numLoops
                       << " loops";
  return verifyAxesInMesh(emitError, getLoopAxes(), mesh, getMesh());
}

//===----------------------------------------------------------------------===//
// Target description
//===----------------------------------------------------------------------===//

/// The element types a peak FLOP/s entry may name.
static bool isKnownFlopsType(StringRef dtype) {
  return llvm::is_contained({"f64", "f32", "tf32", "f16", "bf16", "f8", "i8"},
                            dtype);
}

FailureOr<DictionaryAttr> mlir::autopar::parseFlopsTable(AsmParser &parser) {
  SmallVector<NamedAttribute> entries;
  Builder &builder = parser.getBuilder();
  if (parser.parseCommaSeparatedList(AsmParser::Delimiter::Braces, [&] {
        StringAttr dtype;
        if (parseAxisName(parser, dtype) || parser.parseEqual())
          return failure();
        FailureOr<double> value = parseDouble(parser);
        if (failed(value))
          return failure();
        entries.emplace_back(dtype, builder.getF64FloatAttr(*value));
        return success();
      }))
    return failure();
  return builder.getDictionaryAttr(entries);
}

void mlir::autopar::printFlopsTable(AsmPrinter &printer, DictionaryAttr table) {
  printer << '{';
  llvm::interleaveComma(table, printer, [&](NamedAttribute entry) {
    printer.printKeywordOrString(entry.getName().getValue());
    printer << " = ";
    printDouble(printer, cast<FloatAttr>(entry.getValue()).getValueAsDouble());
  });
  printer << '}';
}

LogicalResult GpuAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                              StringRef name, DictionaryAttr peakFlops,
                              llvm::APFloat memoryBandwidthValue,
                              uint64_t memoryCapacity,
                              llvm::APFloat powerBusyValue,
                              llvm::APFloat powerIdleValue,
                              llvm::APFloat computeEfficiency,
                              llvm::APFloat memoryEfficiency,
                              llvm::APFloat launchOverhead,
                              llvm::APFloat saturationThreads) {
  double memoryBandwidth = memoryBandwidthValue.convertToDouble();
  double powerBusy = powerBusyValue.convertToDouble();
  double powerIdle = powerIdleValue.convertToDouble();
  if (name.empty())
    return emitError() << "gpu 'name' must not be empty";
  if (!peakFlops || peakFlops.empty())
    return emitError() << "gpu 'peak_flops' needs at least one element type";
  for (NamedAttribute entry : peakFlops) {
    StringRef dtype = entry.getName().getValue();
    if (!isKnownFlopsType(dtype))
      return emitError() << "gpu 'peak_flops' has unknown element type '"
                         << dtype
                         << "', expected one of: f64, f32, tf32, f16, bf16, "
                            "f8, i8";
    auto value = dyn_cast<FloatAttr>(entry.getValue());
    if (!value || !(value.getValueAsDouble() > 0.0) ||
        !std::isfinite(value.getValueAsDouble()))
      return emitError() << "gpu 'peak_flops' for " << dtype
                         << " must be a positive number";
  }
  if (!(memoryBandwidth > 0.0) || !std::isfinite(memoryBandwidth))
    return emitError() << "gpu 'memory_bandwidth' must be positive";
  if (memoryCapacity == 0)
    return emitError() << "gpu 'memory_capacity' must be positive";
  if (!(powerBusy > 0.0) || !std::isfinite(powerBusy))
    return emitError() << "gpu 'power_busy' must be positive";
  if (!(powerIdle >= 0.0) || powerIdle > powerBusy)
    return emitError() << "gpu 'power_idle' must be between 0 and 'power_busy'";
  for (auto [field, value] :
       {std::make_pair("compute_efficiency", computeEfficiency),
        std::make_pair("memory_efficiency", memoryEfficiency)}) {
    double fraction = value.convertToDouble();
    if (!(fraction > 0.0) || fraction > 1.0)
      return emitError() << "gpu '" << field << "' must be in (0, 1], got "
                         << fraction;
  }
  for (auto [field, value] :
       {std::make_pair("launch_overhead", launchOverhead),
        std::make_pair("saturation_threads", saturationThreads)}) {
    double amount = value.convertToDouble();
    if (!(amount >= 0.0) || !std::isfinite(amount))
      return emitError() << "gpu '" << field << "' must not be negative";
  }
  return success();
}

std::optional<double> GpuAttr::getPeakFlopsFor(StringRef dtype) const {
  if (auto value = getPeakFlops().getAs<FloatAttr>(dtype))
    return value.getValueAsDouble();
  return std::nullopt;
}

LogicalResult LinkAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                               LinkTopology topology,
                               llvm::APFloat bandwidthValue,
                               llvm::APFloat latencyValue) {
  double bandwidth = bandwidthValue.convertToDouble();
  double latency = latencyValue.convertToDouble();
  if (!(bandwidth > 0.0) || !std::isfinite(bandwidth))
    return emitError() << "link 'bandwidth' must be positive";
  if (!(latency >= 0.0) || !std::isfinite(latency))
    return emitError() << "link 'latency' must not be negative";
  return success();
}

LogicalResult TargetAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                 StringRef name, int64_t nodes,
                                 int64_t gpusPerNode, GpuAttr gpu,
                                 LinkAttr intraNode, LinkAttr interNode) {
  if (name.empty())
    return emitError() << "target 'name' must not be empty";
  if (nodes < 1)
    return emitError() << "target 'nodes' must be at least 1, got " << nodes;
  if (gpusPerNode < 1)
    return emitError() << "target 'gpus_per_node' must be at least 1, got "
                       << gpusPerNode;
  if (!gpu || !intraNode)
    return emitError() << "target needs 'gpu' and 'intra_node'";
  if (nodes > 1 && !interNode)
    return emitError() << "target with " << nodes
                       << " nodes needs an 'inter_node' link";
  return success();
}

//===----------------------------------------------------------------------===//
// PlanAttr
//===----------------------------------------------------------------------===//

LogicalResult PlanAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                               FlatSymbolRefAttr mesh, int64_t gpus,
                               StringRef objective, llvm::APFloat stepTime,
                               llvm::APFloat samplesPerSecond,
                               llvm::APFloat speedup, llvm::APFloat efficiency,
                               llvm::APFloat energyPerSample,
                               llvm::APFloat memoryPerGpu) {
  if (!mesh)
    return emitError() << "a plan needs a mesh";
  if (gpus < 1)
    return emitError() << "plan 'gpus' must be at least 1, got " << gpus;
  for (auto [field, value] :
       {std::make_pair("step_time", stepTime),
        std::make_pair("samples_per_second", samplesPerSecond),
        std::make_pair("speedup", speedup),
        std::make_pair("efficiency", efficiency),
        std::make_pair("energy_per_sample", energyPerSample),
        std::make_pair("memory_per_gpu", memoryPerGpu)}) {
    double number = value.convertToDouble();
    if (!(number >= 0.0) || !std::isfinite(number))
      return emitError() << "plan '" << field << "' must not be negative";
  }
  return success();
}

//===----------------------------------------------------------------------===//
// Registration
//===----------------------------------------------------------------------===//

void AutoparDialect::registerAttributes() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "autopar/Dialect/AutoparAttrs.cpp.inc"
      >();
}
