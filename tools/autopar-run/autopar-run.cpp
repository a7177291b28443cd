//===- autopar-run.cpp - compile and run a model on N ranks ---------------===//
//
//   autopar-run --backend=cpu -n 4 model.mlir [--training="loss=mse ..."]
//               [--plan="mesh=2x2 parallelism=data ..."] [--steps K]
//               [--seed S] [--check] [--tol 1e-5]
//
// Started by hand, it runs itself under mpirun (-n N, --oversubscribe, and
// --allow-run-as-root as root); under mpirun or srun, each rank:
//  1. forms fused attentions (autopar-fuse-attention; --fuse-attention=0
//     keeps the chains) and optionally builds the training step
//     (autopar-training),
//  2. plans it on a mesh of N devices, propagates and partitions it
//     (autopar-plan, autopar-propagate, autopar-partition),
//  3. builds a driver: seeded random global inputs (identical on every
//     rank), each rank's slices of them, K calls of the partitioned
//     function (results that update an argument, `autopar.updates`, feed
//     the next call), and with --check the same K calls of the unsharded
//     function on the global data, every result gathered and compared
//     (largest |a - b| over largest |b|, at least 1e-3, per result),
//  4. lowers it for the CPU (collectives to the MPI runtime) or, with
//     --backend=cuda, for the GPU of its local rank (kernels, cuBLAS,
//     collectives to NCCL; the communicator's id shared through MPI) and
//     runs it with MLIR's ExecutionEngine.
// Rank 0 prints the errors and the step times; every rank exits non-zero
// when an error is above the tolerance.
//
//===----------------------------------------------------------------------===//

#include "autopar/Autodiff/Passes.h"
#include "autopar/Autodiff/ReverseMode.h"
#include "autopar/Conversion/Passes.h"
#include "autopar/Conversion/ProfileOps.h"
#include "autopar/Conversion/RuntimeCalls.h"
#include "autopar/Cost/AnalysisReport.h"
#include "autopar/Cost/Passes.h"
#include "autopar/Dialect/AutoparOps.h"
#include "autopar/InitAutopar.h"
#include "autopar/Interop/Passes.h"
#include "autopar/Interop/ShardInterop.h"
#include "autopar/Partition/Passes.h"
#include "autopar/Partition/ReshardingBuilder.h"
#include "autopar/Runtime/CPURuntime.h"
#include "autopar/Search/Communication.h"
#include "autopar/Search/Passes.h"
#include "autopar/Search/ShardingSpace.h"
#include "autopar/Target/Passes.h"
#include "autopar/Target/Target.h"
#include "autopar/Tools/Launch.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/ExecutionEngine/ExecutionEngine.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Verifier.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/IR/Function.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Target/TargetMachine.h"

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <map>

using namespace mlir;
using namespace mlir::autopar;
namespace cl = llvm::cl;

static cl::OptionCategory runCategory("autopar-run options");

static cl::opt<std::string> inputFile(cl::Positional, cl::desc("<model.mlir>"),
                                      cl::Required, cl::cat(runCategory));
static cl::opt<int> ranks("n", cl::desc("Number of ranks (mesh devices)"),
                          cl::init(1), cl::cat(runCategory));
static cl::opt<std::string> chip("chip",
                                 cl::desc("--backend=cuda: the GPU's SM "
                                          "version"),
                                 cl::init("sm_90"), cl::cat(runCategory));
static cl::opt<std::string> cudaOptions(
    "cuda-options",
    cl::desc("--backend=cuda: more autopar-lower-to-cuda options, as its "
             "pipeline takes them (e.g. \"row-kernels=0\" or "
             "\"row-min-rows=1 row-min-length=8\")"),
    cl::init(""), cl::cat(runCategory));
static cl::opt<bool> cudaGraph(
    "cuda-graph",
    cl::desc("--backend=cuda: capture the step's GPU work into a CUDA graph "
             "at its second call and replay it at the others (its results "
             "are then written into buffers the driver passes; a step that "
             "cannot be captured runs as is, with a warning)"),
    cl::init(false), cl::cat(runCategory));
static cl::opt<bool> compileOnly(
    "compile-only",
    cl::desc("Compile (and for CUDA build the kernel binaries) but do not "
             "run"),
    cl::init(false), cl::cat(runCategory));
static cl::opt<std::string> backend("backend",
                                    cl::desc("cpu (MPI ranks on this CPU) or "
                                             "cuda (one GPU per rank, "
                                             "collectives through NCCL)"),
                                    cl::init("cpu"), cl::cat(runCategory));

/// What the backend builds where the cost model has a choice: cuDNN's fused
/// attention only on CUDA, as --cuda-options sets autopar-lower-to-cuda's
/// cudnn-attention (options it cannot parse are the pipeline's to report).
static WorkloadOptions getBuiltWorkloadOptions() {
  WorkloadOptions options;
  LowerToCUDAPipelineOptions lowering;
  if (succeeded(lowering.parseFromString(cudaOptions, llvm::nulls())))
    options.cudnnAttention = lowering.cudnnAttention;
  options.cudnnAttention &= backend == "cuda";
  return options;
}
static cl::opt<bool> emulateGpu(
    "emulate-gpu",
    cl::desc("--backend=cuda without a GPU: the kernels run as host code "
             "and the CUDA libraries by host implementations "
             "(libautopar_cuda_emulated_runtime); checks the program, not "
             "the GPU's speed"),
    cl::init(false), cl::cat(runCategory));
static cl::opt<std::string>
    planOptions("plan",
                cl::desc("Options of autopar-plan (e.g. "
                         "\"mesh=2x2 parallelism=data\"); the mesh "
                         "defaults to -n"),
                cl::init(""), cl::cat(runCategory));
static cl::opt<std::string>
    trainingOptions("training",
                    cl::desc("Build and run the training step with these "
                             "autopar-training options (e.g. \"loss=mse "
                             "optimizer=sgd lr=0.1\")"),
                    cl::init(""), cl::cat(runCategory));
static cl::opt<bool> fuseAttention(
    "fuse-attention",
    cl::desc("Form autopar.attention from the model's attention chains "
             "first (autopar-fuse-attention), as auto-shard does"),
    cl::init(true), cl::cat(runCategory));
static cl::opt<bool> training("train",
                              cl::desc("Run the training step (default "
                                       "options unless --training)"),
                              cl::init(false), cl::cat(runCategory));
static cl::opt<std::string> funcName("func",
                                     cl::desc("The function to run (default: "
                                              "train_step or forward)"),
                                     cl::init(""), cl::cat(runCategory));
static cl::opt<int> steps("steps", cl::desc("Calls of the function"),
                          cl::init(1), cl::cat(runCategory));
static cl::opt<bool> unrollSteps(
    "unroll-steps",
    cl::desc("Emit every step's call in sequence instead of a loop over all "
             "but the last (the driver then holds every step's results to the "
             "end, as it did before the loop; kept to compare the two)"),
    cl::init(false), cl::cat(runCategory));
static cl::opt<uint64_t> seed("seed", cl::desc("Seed of the random inputs"),
                              cl::init(0), cl::cat(runCategory));
static cl::opt<bool> check("check",
                           cl::desc("Compare with an unsharded run on the "
                                    "same data"),
                           cl::init(false), cl::cat(runCategory));
static cl::opt<double> tolerance("tol",
                                 cl::desc("Largest relative error accepted"),
                                 cl::init(1e-5), cl::cat(runCategory));
static cl::opt<int64_t>
    intRange("int-range",
             cl::desc("Integer inputs are drawn from [0, N) (labels: the "
                      "number of classes)"),
             cl::init(2), cl::cat(runCategory));
static cl::opt<std::string> dumpIR("dump-ir",
                                   cl::desc("Write the partitioned driver "
                                            "module (rank 0) to this file"),
                                   cl::init(""), cl::cat(runCategory));
static cl::opt<unsigned> optLevel("O",
                                  cl::desc("LLVM optimisation level of the "
                                           "host program (0-3; default 2, "
                                           "0 for a CUDA program without "
                                           "--check)"),
                                  cl::init(2), cl::Prefix,
                                  cl::cat(runCategory));
static cl::list<std::string> inputFiles(
    "input",
    cl::desc("[N=]FILE.npy: argument N (default: the next one) from a NumPy "
             "file (little-endian, C order, dtype and shape of the "
             "argument); other arguments are seeded random"),
    cl::ZeroOrMore, cl::cat(runCategory));
static cl::opt<bool> profileOps(
    "profile",
    cl::desc("Time every op of the partitioned function (rank 0) and print "
             "the sums per layer, beside the cost model's per-layer "
             "prediction (-n 1)"),
    cl::init(false), cl::cat(runCategory));
static cl::opt<bool> groupCollectives(
    "group-collectives",
    cl::desc("Pack independent all_reduces into one buffer after "
             "partitioning (autopar-group-collectives; default on)"),
    cl::init(true), cl::cat(runCategory));
static cl::opt<int64_t> bucketBytes(
    "bucket-bytes",
    cl::desc("Most bytes one packed collective carries "
             "(autopar-group-collectives max-bytes; default 25 MiB, the "
             "cost model's bucket)"),
    cl::init(0), cl::cat(runCategory));
static cl::opt<int64_t> gatherUnitBytes(
    "gather-unit-bytes",
    cl::desc("Bytes at which a unit of ZeRO-3's parameter gathers closes "
             "(autopar-group-collectives unit-bytes and the plan's "
             "gather-unit-bytes; default 25 MiB)"),
    cl::init(0), cl::cat(runCategory));
static cl::opt<std::string> partitioner(
    "partitioner",
    cl::desc("autopar (autopar-partition) or upstream (the plan exported "
             "as shard dialect annotations, partitioned by upstream "
             "sharding-propagation and shard-partition, imported back)"),
    cl::init("autopar"), cl::cat(runCategory));
static cl::opt<std::string> mpirun("mpirun", cl::desc("The MPI launcher"),
                                   cl::init("mpirun"), cl::cat(runCategory));

static int fail(const Twine &message) {
  // One write per message: every rank may fail at once, and their lines
  // must not interleave.
  std::string line = ("autopar-run: " + message + "\n").str();
  llvm::errs().write(line.data(), line.size());
  llvm::errs().flush();
  return 1;
}

/// Starts `mpirun -n N ... this program` and returns its exit code.
static int launch(int argc, char **argv) {
  std::string error;
  int code = ::autopar::tools::runUnderMPI(argc, argv, (void *)&launch, ranks,
                                           mpirun, error);
  if (code < 0)
    return fail(error);
  return code;
}

//===----------------------------------------------------------------------===//
// NumPy inputs
//===----------------------------------------------------------------------===//

/// The NumPy dtype of `element`, as a little-endian descr ("<f4").
static std::optional<std::string> getNpyDescr(Type element) {
  if (element.isF32())
    return "<f4";
  if (element.isF64())
    return "<f8";
  if (element.isF16())
    return "<f2";
  if (element.isInteger(64))
    return "<i8";
  if (element.isInteger(32))
    return "<i4";
  if (element.isInteger(8))
    return "|i1";
  return std::nullopt;
}

/// The contents of .npy file `path` as a constant of `type`, or an error
/// naming the file and what does not match.
static FailureOr<DenseElementsAttr> readNpy(StringRef path,
                                            RankedTensorType type) {
  auto error = [&](const Twine &message) {
    fail(path + ": " + message);
    return failure();
  };
  std::string typeText;
  llvm::raw_string_ostream(typeText) << type;
  std::string message;
  std::unique_ptr<llvm::MemoryBuffer> file = openInputFile(path, &message);
  if (!file)
    return error(message);
  StringRef data = file->getBuffer();
  if (!data.starts_with("\x93NUMPY") || data.size() < 10)
    return error("not a NumPy .npy file");
  unsigned major = static_cast<unsigned char>(data[6]);
  size_t headerLength, offset;
  if (major == 1) {
    headerLength = static_cast<unsigned char>(data[8]) |
                   static_cast<unsigned char>(data[9]) << 8;
    offset = 10;
  } else if (major == 2 || major == 3) {
    if (data.size() < 12)
      return error("truncated header");
    headerLength = 0;
    for (int i = 0; i < 4; ++i)
      headerLength |=
          static_cast<size_t>(static_cast<unsigned char>(data[8 + i]))
          << (8 * i);
    offset = 12;
  } else {
    return error("unsupported .npy version " + Twine(major));
  }
  if (data.size() < offset + headerLength)
    return error("truncated header");
  StringRef header = data.substr(offset, headerLength);
  auto field = [&](StringRef key) -> StringRef {
    size_t at = header.find("'" + key.str() + "'");
    if (at == StringRef::npos)
      return {};
    StringRef rest = header.substr(at + key.size() + 2).ltrim(" :");
    if (rest.starts_with("(")) {
      return rest.substr(0, rest.find(')') + 1);
    }
    return rest.substr(0, rest.find_first_of(",}")).trim();
  };
  std::string expected = *getNpyDescr(type.getElementType());
  StringRef descr = field("descr").trim("'\"");
  if (descr != expected &&
      !(descr.drop_front() == StringRef(expected).drop_front() &&
        (descr.front() == '=' || descr.front() == '|')))
    return error("dtype '" + descr + "' but the argument is " +
                 Twine(expected) + " (" + typeText + ")");
  if (field("fortran_order") != "False")
    return error("Fortran-ordered arrays are not supported");
  SmallVector<int64_t> shape;
  StringRef dims = field("shape").trim("()");
  SmallVector<StringRef> parts;
  dims.split(parts, ',', -1, /*KeepEmpty=*/false);
  for (StringRef part : parts) {
    int64_t size;
    if (part.trim().getAsInteger(10, size))
      return error("cannot read shape (" + dims + ")");
    shape.push_back(size);
  }
  if (ArrayRef<int64_t>(shape) != type.getShape()) {
    std::string text;
    llvm::raw_string_ostream os(text);
    llvm::interleave(shape, os, "x");
    return error("shape " + Twine(text.empty() ? "()" : text) +
                 " but the argument is " + typeText);
  }
  StringRef values = data.substr(offset + headerLength);
  size_t bytes =
      type.getNumElements() * ((type.getElementTypeBitWidth() + 7) / 8);
  if (values.size() != bytes)
    return error("has " + Twine(values.size()) + " bytes of data, " + typeText +
                 " needs " + Twine(bytes));
  return DenseElementsAttr::getFromRawBuffer(
      type, ArrayRef<char>(values.data(), values.size()));
}

//===----------------------------------------------------------------------===//
// The driver
//===----------------------------------------------------------------------===//

namespace {
class DriverBuilder {
public:
  DriverBuilder(ModuleOp module, func::FuncOp sharded, func::FuncOp reference)
      : module(module), sharded(sharded), reference(reference),
        builder(module.getContext()), loc(builder.getUnknownLoc()) {}
  LogicalResult build();
  /// Integer labels are drawn from [0, classes) when known.
  int64_t classes = 0;
  /// Arguments read from .npy files.
  std::map<unsigned, std::string> files;
  /// How many leading arguments are the model's (the forward function's; a
  /// training step's optimizer state follows them): the model's float state
  /// (buffers such as batch-norm statistics) starts at one, so that a
  /// normalisation by a running variance stays finite; other state at zero.
  unsigned modelArgs = 0;
  /// The CUDA backend's: the step's device memory measured by its runtime
  /// (autopar_cuda_memory_*) and reported to this one's.
  bool cuda = false;
  /// The step is replayed as a CUDA graph: the graphs captured and replayed
  /// are reported after the steps (autopar_cuda_graph_*).
  bool graphs = false;

private:
  Value random(RankedTensorType type, int64_t stream, int64_t range,
               double bound = 1.0);
  /// A tensor of `type` filled with `value`.
  Value filled(RankedTensorType type, double value);
  /// A global value's local slice (`toLocal`), or the whole value
  /// gathered from a local one, under `sharding` (autopar-partition's
  /// resharding emitter).
  FailureOr<Value> reshard(Value value, RankedTensorType global,
                           ShardingAttr sharding, bool toLocal);
  Value relativeError(Value actual, Value expected);
  /// Result `index` of the partitioned function on every rank: a per-stage
  /// program's result (`autopar.stage`) is its stage's, summed over the
  /// stages with the others' taken as zeros.
  Value fromOwner(Value local, unsigned index);
  Value constantI64(int64_t value) {
    return arith::ConstantOp::create(builder, loc,
                                     builder.getI64IntegerAttr(value));
  }
  func::FuncOp declare(StringRef name, TypeRange inputs, TypeRange results);

  ModuleOp module;
  func::FuncOp sharded, reference;
  OpBuilder builder;
  Location loc;
};
} // namespace

func::FuncOp DriverBuilder::declare(StringRef name, TypeRange inputs,
                                    TypeRange results) {
  return getOrDeclareRuntimeFunction(builder, module, name, inputs, results);
}

Value DriverBuilder::filled(RankedTensorType type, double value) {
  return buildFilled(builder, loc, type, value);
}

/// Seeded values from a hash of (seed, stream, linear index): floats in
/// [-1, 1) times `bound`, integers in [0, range).
Value DriverBuilder::random(RankedTensorType type, int64_t stream,
                            int64_t range, double bound) {
  Type element = type.getElementType();
  Value empty = tensor::EmptyOp::create(builder, loc, type.getShape(), element);
  unsigned rank = type.getRank();
  SmallVector<AffineMap> maps = {builder.getMultiDimIdentityMap(rank)};
  SmallVector<utils::IteratorType> iterators(rank,
                                             utils::IteratorType::parallel);
  int64_t salt = static_cast<int64_t>(seed) * 1000003 + stream * 7919 + 1;
  auto generic = linalg::GenericOp::create(
      builder, loc, TypeRange{type}, ValueRange{}, ValueRange{empty}, maps,
      iterators, [&](OpBuilder &b, Location l, ValueRange) {
        Type i64 = b.getI64Type();
        auto c = [&](uint64_t v) {
          return arith::ConstantOp::create(
              b, l, b.getI64IntegerAttr(static_cast<int64_t>(v)));
        };
        Value linear = c(0);
        for (unsigned d = 0; d < rank; ++d) {
          Value index = linalg::IndexOp::create(b, l, d);
          Value wide = arith::IndexCastOp::create(b, l, i64, index);
          linear = arith::MulIOp::create(b, l, linear, c(type.getDimSize(d)));
          linear = arith::AddIOp::create(b, l, linear, wide);
        }
        // splitmix64 of (linear + salt * golden ratio).
        Value h = arith::AddIOp::create(
            b, l, linear,
            c(static_cast<uint64_t>(salt) * 0x9E3779B97F4A7C15ull));
        auto mix = [&](Value x, uint64_t multiplier, int shift) {
          Value shifted = arith::ShRUIOp::create(b, l, x, c(shift));
          Value mixed = arith::XOrIOp::create(b, l, x, shifted);
          return arith::MulIOp::create(b, l, mixed, c(multiplier)).getResult();
        };
        h = mix(h, 0xBF58476D1CE4E5B9ull, 30);
        h = mix(h, 0x94D049BB133111EBull, 27);
        h = arith::XOrIOp::create(b, l, h,
                                  arith::ShRUIOp::create(b, l, h, c(31)));
        Value result;
        if (auto floatType = dyn_cast<FloatType>(element)) {
          Value top = arith::ShRUIOp::create(b, l, h, c(40));
          Value unit = arith::UIToFPOp::create(b, l, b.getF64Type(), top);
          Value scaled = arith::MulFOp::create(
              b, l, unit,
              arith::ConstantOp::create(b, l,
                                        b.getF64FloatAttr(2.0 / (1 << 24))));
          Value centered = arith::SubFOp::create(
              b, l, scaled,
              arith::ConstantOp::create(b, l, b.getF64FloatAttr(1.0)));
          if (bound != 1.0)
            centered = arith::MulFOp::create(
                b, l, centered,
                arith::ConstantOp::create(b, l, b.getF64FloatAttr(bound)));
          result = centered;
          if (floatType.getWidth() < 64)
            result = arith::TruncFOp::create(b, l, element, centered);
        } else {
          Value value =
              arith::RemUIOp::create(b, l, h, c(std::max<int64_t>(range, 1)));
          result = value;
          if (element.isIndex())
            result = arith::IndexCastOp::create(b, l, element, value);
          else if (element.getIntOrFloatBitWidth() < 64)
            result = arith::TruncIOp::create(b, l, element, value);
        }
        linalg::YieldOp::create(b, l, result);
      });
  return generic.getResult(0);
}

FailureOr<Value> DriverBuilder::reshard(Value value, RankedTensorType global,
                                        ShardingAttr sharding, bool toLocal) {
  if (!sharding || sharding.isReplicated())
    return value;
  MeshAttr mesh = lookupMesh(sharded, sharding.getMesh());
  if (!mesh)
    return failure();
  FailureOr<TensorSharding> layout = fromShardingAttr(sharding, mesh);
  if (failed(layout))
    return failure();
  ReshardingBuilder resharding(builder, mesh, sharding.getMesh(),
                               builder.getInsertionBlock());
  TensorSharding whole = resharding.getReplicated();
  return toLocal ? resharding.reshard(value, global, whole, *layout,
                                      ReductionKind::Sum, loc)
                 : resharding.reshard(value, global, *layout, whole,
                                      ReductionKind::Sum, loc);
}

Value DriverBuilder::fromOwner(Value local, unsigned index) {
  auto stage =
      sharded.getResultAttrOfType<IntegerAttr>(index, AutoparDialect::kStageAttrName);
  auto type = dyn_cast<RankedTensorType>(local.getType());
  if (!stage || !type)
    return local;
  FlatSymbolRefAttr meshRef = FlatSymbolRefAttr::get(builder.getContext(), "mesh");
  ArrayAttr axes = builder.getStrArrayAttr({AutoparDialect::kStageAxisName});
  Value coord = DeviceCoordOp::create(builder, loc, builder.getIndexType(),
                                      meshRef, axes);
  Value owner = arith::CmpIOp::create(
      builder, loc, arith::CmpIPredicate::eq, coord,
      arith::ConstantIndexOp::create(builder, loc, stage.getInt()));
  Value kept = arith::SelectOp::create(builder, loc, owner, local,
                                       filled(type, 0.0));
  return AllReduceOp::create(builder, loc, type, kept, Value(), meshRef, axes,
                             ReductionKind::Sum)
      .getResult();
}

/// max |a - b| / max(max |b|, 1e-3), in f64: relative to the tensor's
/// largest finite element, absolute below 1e-3 (a gradient that is zero in
/// exact arithmetic, such as a softmax-invariant bias's, is rounding noise on
/// both sides; the gradient checks use the same floor).
Value DriverBuilder::relativeError(Value actual, Value expected) {
  auto type = cast<RankedTensorType>(actual.getType());
  unsigned rank = type.getRank();
  Type f64 = builder.getF64Type();
  auto scalar = RankedTensorType::get({}, f64);
  Value empty = tensor::EmptyOp::create(builder, loc, ArrayRef<int64_t>{}, f64);
  Value zero =
      arith::ConstantOp::create(builder, loc, builder.getF64FloatAttr(0));
  Value init = linalg::FillOp::create(builder, loc, zero, empty).getResult(0);
  SmallVector<AffineMap> maps = {builder.getMultiDimIdentityMap(rank),
                                 builder.getMultiDimIdentityMap(rank),
                                 AffineMap::get(rank, 0, builder.getContext()),
                                 AffineMap::get(rank, 0, builder.getContext())};
  SmallVector<utils::IteratorType> iterators(rank,
                                             utils::IteratorType::reduction);
  auto generic = linalg::GenericOp::create(
      builder, loc, TypeRange{scalar, scalar}, ValueRange{actual, expected},
      ValueRange{init, init}, maps, iterators,
      [&](OpBuilder &b, Location l, ValueRange args) {
        auto widen = [&](Value v) -> Value {
          if (v.getType().isF64())
            return v;
          return arith::ExtFOp::create(b, l, f64, v);
        };
        Value a = widen(args[0]), e = widen(args[1]);
        // Equal values agree, infinities and NaNs included (both runs made
        // a NaN there: a mean over no samples); a NaN on one side only
        // makes the error NaN, which fails the check.
        auto isNaN = [&](Value v) {
          return arith::CmpFOp::create(b, l, arith::CmpFPredicate::UNO, v, v);
        };
        Value same = arith::OrIOp::create(
            b, l, arith::CmpFOp::create(b, l, arith::CmpFPredicate::OEQ, a, e),
            arith::AndIOp::create(b, l, isNaN(a), isNaN(e)));
        Value zero = arith::ConstantOp::create(b, l, b.getF64FloatAttr(0));
        Value diff = arith::SelectOp::create(
            b, l, same, zero,
            math::AbsFOp::create(b, l, arith::SubFOp::create(b, l, a, e)));
        Value magnitude = math::AbsFOp::create(b, l, e);
        Value finite = arith::CmpFOp::create(
            b, l, arith::CmpFPredicate::OLT, magnitude,
            arith::ConstantOp::create(b, l, b.getF64FloatAttr(INFINITY)));
        Value size = arith::SelectOp::create(b, l, finite, magnitude, zero);
        Value maxDiff = arith::MaximumFOp::create(b, l, args[2], diff);
        Value maxSize = arith::MaximumFOp::create(b, l, args[3], size);
        linalg::YieldOp::create(b, l, ValueRange{maxDiff, maxSize});
      });
  Value diff = tensor::ExtractOp::create(builder, loc, generic.getResult(0),
                                         ValueRange{});
  Value size = tensor::ExtractOp::create(builder, loc, generic.getResult(1),
                                         ValueRange{});
  Value tiny =
      arith::ConstantOp::create(builder, loc, builder.getF64FloatAttr(1e-3));
  Value floor = arith::MaximumFOp::create(builder, loc, size, tiny);
  return arith::DivFOp::create(builder, loc, diff, floor);
}

LogicalResult DriverBuilder::build() {
  Type f64 = builder.getF64Type(), i64 = builder.getI64Type();
  func::FuncOp report = declare("autopar_rt_report", {i64, f64}, {});
  func::FuncOp reportTime = declare("autopar_rt_report_time", {i64, f64}, {});
  func::FuncOp wtime = declare("autopar_rt_wtime", {}, {f64});
  func::FuncOp reportLoss = declare("autopar_rt_report_loss", {i64, f64}, {});
  func::FuncOp reportLossScale =
      declare("autopar_rt_report_loss_scale", {i64, f64}, {});
  func::FuncOp memoryMark = declare("autopar_rt_memory_mark", {}, {});
  func::FuncOp memoryReport = declare("autopar_rt_memory_report", {i64}, {});
  func::FuncOp deviceMark, poolPeak, managedPeak, workspaces, reportDevice;
  if (cuda) {
    deviceMark = declare("autopar_cuda_memory_mark", {}, {});
    poolPeak = declare("autopar_cuda_memory_pool_peak", {}, {f64});
    managedPeak = declare("autopar_cuda_memory_managed_peak", {}, {f64});
    workspaces = declare("autopar_cuda_memory_workspaces", {}, {f64});
    reportDevice =
        declare("autopar_rt_report_device_memory", {i64, f64, f64, f64}, {});
  }

  // A training step's loss: its first result that updates no argument, one
  // float (the step's result order, docs/training.md).
  std::optional<unsigned> lossIndex;
  for (unsigned r = 0; r < reference.getNumResults(); ++r) {
    if (reference.getResultAttr(r, AutoparDialect::kUpdatesAttrName))
      continue;
    auto type = dyn_cast<RankedTensorType>(reference.getResultTypes()[r]);
    if (r > 0 && type && type.getRank() == 0 &&
        isa<FloatType>(type.getElementType()))
      lossIndex = r;
    break;
  }
  // fp16's loss scale for the next step (autopar-training).
  std::optional<unsigned> lossScaleIndex;
  for (unsigned r = 0; r < reference.getNumResults(); ++r)
    if (reference.getResultAttr(r, AutoparDialect::kLossScaleAttrName))
      lossScaleIndex = r;

  builder.setInsertionPointToEnd(module.getBody());
  auto main = func::FuncOp::create(builder, loc, "autopar_main",
                                   builder.getFunctionType({}, {}));
  // The step loop frees the state it carries while retaining the state a
  // step returns, hundreds of buffers the analysis cannot tell apart:
  // checked at run time, not simplified (autopar-simplify-deallocations).
  main->setAttr(AutoparDialect::kRuntimeDeallocationAttrName,
                builder.getUnitAttr());
  builder.setInsertionPointToStart(main.addEntryBlock());

  // Global inputs, the same on every rank; each rank's slices.
  SmallVector<Value> globals, locals;
  for (auto [index, type] : llvm::enumerate(reference.getArgumentTypes())) {
    auto tensorType = dyn_cast<RankedTensorType>(type);
    if (!tensorType)
      return reference.emitError()
             << "autopar-run: argument #" << index << " is not a ranked tensor";
    auto role = reference.getArgAttrOfType<StringAttr>(
        index, AutoparDialect::kRoleAttrName);
    bool state = role && role.getValue() == "state";
    bool modelState = state && index < modelArgs &&
                      isa<FloatType>(tensorType.getElementType());
    int64_t range = intRange;
    if (role && role.getValue() == "label" &&
        intRange.getNumOccurrences() == 0 && classes > 0)
      range = classes;
    Value global;
    if (auto file = files.find(index); file != files.end()) {
      if (!getNpyDescr(tensorType.getElementType()))
        return reference.emitError()
               << "autopar-run: argument #" << index << " (" << tensorType
               << ") has no NumPy dtype";
      FailureOr<DenseElementsAttr> values = readNpy(file->second, tensorType);
      if (failed(values))
        return failure();
      global = arith::ConstantOp::create(builder, loc, *values);
    } else if (state) {
      global = filled(tensorType, modelState ? 1.0 : 0.0);
    } else {
      // Parameters of rank 2 and more (weights) are uniform in +-1/sqrt(fan
      // in), fan in = elements per leading index, as PyTorch initialises
      // layers: deep models keep finite activations.
      double bound = 1.0;
      if (role && role.getValue() == "param" && tensorType.getRank() >= 2 &&
          tensorType.hasStaticShape() && tensorType.getDimSize(0) > 0)
        bound =
            1.0 / std::sqrt(static_cast<double>(tensorType.getNumElements() /
                                                tensorType.getDimSize(0)));
      global = random(tensorType, index, range, bound);
    }
    globals.push_back(global);
    FailureOr<Value> local =
        reshard(global, tensorType,
                sharded.getArgAttrOfType<ShardingAttr>(
                    index, AutoparDialect::kShardingAttrName),
                /*toLocal=*/true);
    if (failed(local))
      return failure();
    if (local->getType() != sharded.getArgumentTypes()[index])
      return sharded.emitError()
             << "autopar-run: argument #" << index << " of the partitioned "
             << "function has type " << sharded.getArgumentTypes()[index]
             << ", its sharding gives " << local->getType();
    locals.push_back(*local);
  }

  // The partitioned step's arguments beyond the reference's: buffers its
  // results are written into (addOutputArguments), made here once and
  // carried from step to step like the state.
  for (Type type : sharded.getArgumentTypes().drop_front(locals.size())) {
    auto tensorType = cast<RankedTensorType>(type);
    locals.push_back(tensor::EmptyOp::create(
        builder, loc, tensorType.getShape(), tensorType.getElementType()));
  }

  // --check: the reference takes its own copy of each argument the
  // partitioned step takes as is (replicated on one rank), made here: the
  // steps write their updates over their arguments, and bufferization
  // would otherwise copy it at the first step's call, inside that step's
  // memory mark and clock.
  if (check) {
    module.getContext()
        ->getOrLoadDialect<bufferization::BufferizationDialect>();
    for (auto [global, local] :
         llvm::zip(globals, ArrayRef(locals).take_front(globals.size())))
      if (global == local)
        global = bufferization::AllocTensorOp::create(
            builder, loc, cast<RankedTensorType>(global.getType()),
            ValueRange{}, local);
  }

  auto feed = [&](func::FuncOp func, SmallVector<Value> &args,
                  ValueRange results) {
    for (unsigned r = 0; r < results.size(); ++r)
      if (auto updates = func.getResultAttrOfType<IntegerAttr>(
              r, AutoparDialect::kUpdatesAttrName))
        args[updates.getInt()] = results[r];
  };
  SmallVector<Value> shardedResults, referenceResults;
  // One step, reported as step `stepIndex` (i64): the partitioned function
  // on `args` (and with --check the reference on `refArgs`), its time,
  // memory, loss and loss scale; then the arguments it updates replaced by
  // its results.
  auto emitStep = [&](Value stepIndex, SmallVector<Value> &args,
                      SmallVector<Value> &refArgs) -> LogicalResult {
    func::CallOp::create(builder, loc, memoryMark, ValueRange{});
    if (cuda)
      func::CallOp::create(builder, loc, deviceMark, ValueRange{});
    Value start = func::CallOp::create(builder, loc, wtime).getResult(0);
    auto call = func::CallOp::create(builder, loc, sharded, args);
    func::CallOp::create(builder, loc, memoryReport, ValueRange{stepIndex});
    if (cuda) {
      Value pool = func::CallOp::create(builder, loc, poolPeak).getResult(0);
      Value managed =
          func::CallOp::create(builder, loc, managedPeak).getResult(0);
      Value held = func::CallOp::create(builder, loc, workspaces).getResult(0);
      func::CallOp::create(builder, loc, reportDevice,
                           ValueRange{stepIndex, pool, managed, held});
    }
    // Wait for the results before the clock stops: a barrier in wtime
    // orders it after the call's collectives.
    Value stop = func::CallOp::create(builder, loc, wtime).getResult(0);
    Value seconds = arith::SubFOp::create(builder, loc, stop, start);
    func::CallOp::create(builder, loc, reportTime,
                         ValueRange{stepIndex, seconds});
    if (lossIndex) {
      auto type =
          cast<RankedTensorType>(reference.getResultTypes()[*lossIndex]);
      FailureOr<Value> whole =
          reshard(fromOwner(call.getResult(*lossIndex), *lossIndex), type,
                  sharded.getResultAttrOfType<ShardingAttr>(
                      *lossIndex, AutoparDialect::kShardingAttrName),
                  /*toLocal=*/false);
      if (failed(whole))
        return failure();
      Value loss =
          tensor::ExtractOp::create(builder, loc, *whole, ValueRange{});
      if (loss.getType() != f64)
        loss = arith::ExtFOp::create(builder, loc, f64, loss);
      func::CallOp::create(builder, loc, reportLoss,
                           ValueRange{stepIndex, loss});
    }
    if (lossScaleIndex) {
      // Rank-0 results are whole on every rank.
      Value scale = tensor::ExtractOp::create(
          builder, loc,
          fromOwner(call.getResult(*lossScaleIndex), *lossScaleIndex),
          ValueRange{});
      if (scale.getType() != f64)
        scale = arith::ExtFOp::create(builder, loc, f64, scale);
      func::CallOp::create(builder, loc, reportLossScale,
                           ValueRange{stepIndex, scale});
    }
    shardedResults.assign(call.getResults().begin(), call.getResults().end());
    feed(sharded, args, call.getResults());
    if (check) {
      auto ref = func::CallOp::create(builder, loc, reference, refArgs);
      referenceResults.assign(ref.getResults().begin(), ref.getResults().end());
      feed(reference, refArgs, ref.getResults());
    }
    return success();
  };
  // Every step but the last in a loop that carries the arguments the steps
  // update: each iteration's inputs are freed once its step has replaced
  // them (unrolled, the driver held every step's results until it
  // returned: one more copy of the training state per step, and on CUDA
  // fresh managed pages for every step's updates). The last step follows
  // the loop, its results kept for --check. Unrolled where an update's
  // type differs from its argument's.
  auto keepsTypes = [](func::FuncOp func) {
    for (unsigned r = 0; r < func.getNumResults(); ++r)
      if (auto updates = func.getResultAttrOfType<IntegerAttr>(
              r, AutoparDialect::kUpdatesAttrName))
        if (updates.getInt() < 0 ||
            updates.getInt() >= static_cast<int64_t>(func.getNumArguments()) ||
            func.getArgumentTypes()[updates.getInt()] !=
                func.getResultTypes()[r])
          return false;
    return true;
  };
  int loopSteps = steps - 1;
  if (loopSteps > 0 && !unrollSteps && keepsTypes(sharded) &&
      (!check || keepsTypes(reference))) {
    SmallVector<Value> init(locals);
    if (check)
      llvm::append_range(init, globals);
    Value lower = arith::ConstantIndexOp::create(builder, loc, 0);
    Value upper = arith::ConstantIndexOp::create(builder, loc, loopSteps);
    Value one = arith::ConstantIndexOp::create(builder, loc, 1);
    auto loop = scf::ForOp::create(builder, loc, lower, upper, one, init);
    {
      OpBuilder::InsertionGuard guard(builder);
      Block *body = loop.getBody();
      if (!body->empty() && body->back().hasTrait<OpTrait::IsTerminator>())
        body->back().erase();
      builder.setInsertionPointToEnd(body);
      ValueRange carried = loop.getRegionIterArgs();
      SmallVector<Value> args(carried.take_front(locals.size()));
      SmallVector<Value> refArgs(carried.drop_front(locals.size()));
      Value index =
          arith::IndexCastOp::create(builder, loc, i64, loop.getInductionVar());
      if (failed(emitStep(index, args, refArgs)))
        return failure();
      SmallVector<Value> yielded(args);
      llvm::append_range(yielded, refArgs);
      scf::YieldOp::create(builder, loc, yielded);
    }
    ValueRange results = loop.getResults();
    locals.assign(results.begin(), results.begin() + locals.size());
    if (check)
      globals.assign(results.begin() + locals.size(), results.end());
  } else {
    loopSteps = 0;
  }
  for (int step = loopSteps; step < steps; ++step)
    if (failed(emitStep(constantI64(step), locals, globals)))
      return failure();
  if (check) {
    for (auto [index, pair] :
         llvm::enumerate(llvm::zip_equal(shardedResults, referenceResults))) {
      auto [local, expected] = pair;
      auto type = dyn_cast<RankedTensorType>(expected.getType());
      if (!type || !isa<FloatType>(type.getElementType()))
        continue;
      FailureOr<Value> whole =
          reshard(fromOwner(local, index), type,
                  sharded.getResultAttrOfType<ShardingAttr>(
                      index, AutoparDialect::kShardingAttrName),
                  /*toLocal=*/false);
      if (failed(whole))
        return failure();
      Value error = relativeError(*whole, expected);
      func::CallOp::create(builder, loc, report,
                           ValueRange{constantI64(index), error});
    }
  }
  if (graphs) {
    Value captures =
        func::CallOp::create(builder, loc,
                             declare("autopar_cuda_graph_captures", {}, {i64}))
            .getResult(0);
    Value replays =
        func::CallOp::create(builder, loc,
                             declare("autopar_cuda_graph_replays", {}, {i64}))
            .getResult(0);
    func::CallOp::create(builder, loc,
                         declare("autopar_rt_report_graphs", {i64, i64}, {}),
                         ValueRange{captures, replays});
  }
  func::ReturnOp::create(builder, loc);
  return success();
}

//===----------------------------------------------------------------------===//
// main
//===----------------------------------------------------------------------===//

/// For a step replayed as a CUDA graph: each result that replaces no
/// argument (the loss) gets an argument of its own that it replaces
/// (`autopar.updates`), so that autopar-update-in-place can write it there
/// and the step returns nothing a replay would have to make.
static LogicalResult addOutputArguments(func::FuncOp func) {
  MLIRContext *context = func.getContext();
  for (unsigned r = 0; r < func.getNumResults(); ++r) {
    if (func.getResultAttr(r, AutoparDialect::kUpdatesAttrName))
      continue;
    auto type = dyn_cast<RankedTensorType>(func.getResultTypes()[r]);
    if (!type || !type.hasStaticShape())
      continue;
    unsigned index = func.getNumArguments();
    SmallVector<NamedAttribute> attrs;
    if (Attribute sharding =
            func.getResultAttr(r, AutoparDialect::kShardingAttrName))
      attrs.emplace_back(AutoparDialect::kShardingAttrName, sharding);
    if (failed(func.insertArgument(
            index, type, DictionaryAttr::get(context, attrs), func.getLoc())))
      return failure();
    func.setResultAttr(r, AutoparDialect::kUpdatesAttrName,
                       IntegerAttr::get(IntegerType::get(context, 64), index));
  }
  return success();
}

static LogicalResult runPipeline(ModuleOp module, StringRef pipeline) {
  PassManager pm(module.getContext(), ModuleOp::getOperationName());
  if (failed(parsePassPipeline(pipeline, pm, llvm::errs())))
    return failure();
  if (std::getenv("AUTOPAR_RUN_DEBUG")) {
    pm.printAsTextualPipeline(llvm::errs());
    llvm::errs() << "\n";
  }
  return pm.run(module);
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  registerAllPasses();
  registerAllAutoparPasses();
  cl::HideUnrelatedOptions(runCategory);
  // Each line as it is said (a run stopped at a time limit keeps what it
  // printed; the output is a few dozen lines).
  llvm::outs().SetUnbuffered();
  cl::ParseCommandLineOptions(argc, argv,
                              "autopar-run: compile a model for N ranks, run "
                              "it and check it against one process\n");
  if (backend != "cpu" && backend != "cuda")
    return fail("unknown backend '" + backend + "'; expected cpu or cuda");
  if (ranks < 1)
    return fail("-n must be at least 1");
  if (emulateGpu && backend != "cuda")
    return fail("--emulate-gpu emulates the CUDA backend: use it with "
                "--backend=cuda");
  if (!::autopar::tools::isUnderLauncher()) {
    // A torchrun-style launcher started this process: autopar-run's driver
    // needs MPI, and a nested mpirun per rank would be wrong.
    if (std::getenv("WORLD_SIZE") && std::getenv("RANK"))
      return fail("started by a torchrun-style launcher (RANK, WORLD_SIZE): "
                  "autopar-run needs MPI; run it under mpirun or srun, or "
                  "lower with autopar-opt --autopar-lower-to-cuda and launch "
                  "the program with torchrun");
    return launch(argc, argv);
  }

  ::autopar::runtime::initialize();
  int rank = ::autopar::runtime::getRank();
  auto say = [&]() -> llvm::raw_ostream & {
    return rank == 0 ? llvm::outs() : llvm::nulls();
  };
  if (::autopar::runtime::getSize() != ranks)
    return fail("rank " + Twine(rank) + ": -n " + Twine(ranks) +
                " but the job has " + Twine(::autopar::runtime::getSize()) +
                " ranks");

  DialectRegistry registry;
  registerAllDialects(registry);
  registerAllExtensions(registry);
  registerAutoparDialects(registry);
  registerBuiltinDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
  MLIRContext context(registry);
  context.loadAllAvailableDialects();
  // Only rank 0 reports diagnostics in full; every rank fails alike.
  llvm::SourceMgr sourceMgr;
  std::string errorMessage;
  auto file = openInputFile(inputFile, &errorMessage);
  if (!file)
    return fail(errorMessage);
  sourceMgr.AddNewSourceBuffer(std::move(file), llvm::SMLoc());
  SourceMgrDiagnosticHandler handler(sourceMgr, &context,
                                     rank == 0 ? llvm::errs() : llvm::nulls());
  OwningOpRef<ModuleOp> module = parseSourceFile<ModuleOp>(sourceMgr, &context);
  if (!module)
    return 1;

  if (fuseAttention && failed(runPipeline(*module, "autopar-fuse-attention")))
    return 1;
  bool train = training || !trainingOptions.empty();
  if (train &&
      failed(runPipeline(*module, "autopar-training{" + trainingOptions + "}")))
    return 1;
  std::string name = funcName;
  if (name.empty())
    name = train ? "train_step" : "forward";
  if (!module->lookupSymbol<func::FuncOp>(name)) {
    if (!funcName.empty() || train)
      return fail("no function @" + name);
    for (auto func : module->getOps<func::FuncOp>())
      if (!func.isExternal()) {
        name = func.getName().str();
        break;
      }
  }
  // The step's attentions that the GPU program runs as cuDNN's fused call,
  // where the host reference (--check) runs their decomposition.
  int64_t cudnnAttentions = 0;
  if (auto step = module->lookupSymbol<func::FuncOp>(name);
      step && getBuiltWorkloadOptions().cudnnAttention)
    step.walk([&](AttentionOp op) {
      cudnnAttentions += getFusedAttentionForm(op).has_value();
    });
  OwningOpRef<ModuleOp> reference = cast<ModuleOp>((*module)->clone());
  // The classes of a classifier: the last dimension of the forward's output.
  int64_t classes = 0;
  if (auto forward = module->lookupSymbol<func::FuncOp>("forward"))
    if (forward.getNumResults() > 0)
      if (auto type = dyn_cast<RankedTensorType>(forward.getResultTypes()[0]))
        if (type.getRank() > 0 && !type.isDynamicDim(type.getRank() - 1))
          classes = type.getDimSize(type.getRank() - 1);

  std::string plan = planOptions;
  // A pipeline's stages share the ranks: each stage's mesh has N / P.
  int64_t stages = 1;
  for (StringRef option : llvm::split(StringRef(planOptions), ' '))
    if (option.consume_front("stages=") && option.getAsInteger(10, stages))
      return fail("--plan: stages=" + option + " is not a number");
  if (stages == 0)
    return fail("--plan: stages=0 searches the stage count, which autopar-run "
                "does not: pin stages=");
  if (stages < 1 || ranks % stages != 0)
    return fail("--plan: stages=" + Twine(stages) + " does not divide -n " +
                Twine(ranks));
  if (plan.find("mesh=") == std::string::npos)
    plan += " mesh=" + std::to_string(ranks / stages);
  if (plan.find("max-gpus=") == std::string::npos)
    plan += " max-gpus=" + std::to_string(ranks);
  // Price the step autopar-training builds: the loss, recomputation,
  // optimizer and precision its own options ask for (a recompute= of --plan
  // alone is the plan's to choose, and autopar-recompute builds it).
  // Microbatches are the plan's (autopar-partition builds them): one unless
  // --plan asks for more. The ZeRO stage is the plan's too: autopar-propagate
  // shards the update by it.
  SmallVector<std::string> pins = {"recompute=none", "microbatches=1"};
  for (StringRef option : llvm::split(StringRef(trainingOptions), ' '))
    for (StringRef key : {"recompute=", "optimizer=", "precision=", "loss="})
      if (option.starts_with(key)) {
        // Both naming it differently would plan another step than the one
        // built.
        for (StringRef planOption : llvm::split(StringRef(planOptions), ' '))
          if (planOption.starts_with(key) && planOption != option)
            return fail("--plan's " + planOption + " and --training's " +
                        option +
                        " differ: the plan would price another step than "
                        "the one built; give it once (--training)");
        llvm::erase_if(pins, [&](const std::string &pin) {
          return StringRef(pin).starts_with(key);
        });
        pins.push_back(option.str());
      }
  for (const std::string &pin : pins)
    if (plan.find(StringRef(pin).split('=').first.str() + "=") ==
        std::string::npos)
      plan += " " + pin;
  // The plan prices the attentions as the backend builds them.
  if (!getBuiltWorkloadOptions().cudnnAttention &&
      plan.find("cudnn-attention=") == std::string::npos)
    plan += " cudnn-attention=0";
  // The plan prices the gather units the grouping pass builds.
  if (gatherUnitBytes > 0 &&
      plan.find("gather-unit-bytes=") == std::string::npos)
    plan += " gather-unit-bytes=" + std::to_string(gatherUnitBytes);
  // The cost model's machine decides the plan, not this CPU: by default a
  // node of 8 A100s.
  if (plan.find("target=") == std::string::npos)
    plan += " target=a100-dgx";
  // --profile on a training step: the plan's own per-layer costs (its
  // JSON report, to a temporary file) are the prediction per layer.
  SmallString<128> planJson;
  if (profileOps && train && rank == 0 &&
      plan.find("report=") == std::string::npos &&
      !llvm::sys::fs::createTemporaryFile("autopar-plan", "json", planJson))
    plan += " report=" + planJson.str().str();
  else if (rank != 0 || plan.find("report=") == std::string::npos)
    plan += " report=";
  std::optional<llvm::FileRemover> removePlanJson;
  if (!planJson.empty())
    removePlanJson.emplace(planJson);
  // A recomputation the plan chose (recompute= in --plan, not in
  // --training: one per stage, say) is applied to the step here.
  if (failed(runPipeline(*module, "autopar-plan{" + plan +
                                      "}, autopar-propagate, "
                                      "autopar-recompute")))
    return 1;
  llvm::StringMap<double> predictedPerLayer;
  std::string predictedWhat;
  if (!planJson.empty()) {
    if (auto buffer = llvm::MemoryBuffer::getFile(planJson)) {
      if (auto json = llvm::json::parse((*buffer)->getBuffer())) {
        const llvm::json::Object *root = json->getAsObject();
        if (const llvm::json::Array *layers =
                root ? root->getArray("layers") : nullptr)
          for (const llvm::json::Value &entry : *layers)
            if (const llvm::json::Object *layer = entry.getAsObject())
              if (auto loc = layer->getString("loc"))
                predictedPerLayer[*loc] +=
                    layer->getNumber("compute_s").value_or(0);
        if (const llvm::json::Object *summary =
                root ? root->getObject("plan") : nullptr)
          predictedPerLayer["(collectives)"] =
              summary->getNumber("comm_s").value_or(0);
      } else {
        llvm::consumeError(json.takeError());
      }
    }
    predictedWhat = "the plan's compute per layer (forward + backward, per "
                    "device) and communication";
  }
  for (MeshOp mesh : module->getOps<MeshOp>())
    if (mesh.getMesh().getNumDevices() != ranks)
      return fail("the plan's mesh @" + mesh.getSymName() + " has " +
                  Twine(mesh.getMesh().getNumDevices()) +
                  " devices but the job runs " + Twine(ranks) + " ranks (-n)");
  // What one step communicates: predicted from the annotated step (the
  // resharding steps the planner prices), then counted in the partitioned
  // IR as partition emits it, and after clean-up (canonicalize, cse, grouping:
  // shared and redundant collectives go). Per kind: the collectives and the
  // bytes each device puts in (its local input).
  FailureOr<TargetAttr> targetAttr = getModuleTarget(
      *module, "", [&] { return mlir::emitError(module->getLoc()); });
  if (failed(targetAttr))
    return 1;
  CostModel costModel(*targetAttr);
  // --profile of a forward pass on one device: the cost model's forward
  // time per layer, by the op's location.
  if (profileOps && !train && ranks == 1)
    if (auto forward = reference->lookupSymbol<func::FuncOp>("forward")) {
      FunctionWorkload workload(forward, getBuiltWorkloadOptions());
      AnalysisReport analysis =
          buildAnalysisReport(workload, costModel, Optimizer::Momentum);
      for (const LayerReport &layer : analysis.layers)
        predictedPerLayer[layer.loc] += layer.timeFwd;
      predictedWhat = "the forward time per layer";
    }
  auto describe = [&](StringRef when, const CommunicationSummary &summary) {
    double seconds = getTotalSeconds(summary);
    say() << "autopar-run: @" << name << " " << when << " for " << ranks
          << " rank" << (ranks > 1 ? "s" : "")
          << "; collectives per step: " << describeCommunication(summary)
          << llvm::format(" (%.4f ms on ", seconds * 1e3)
          << targetAttr->getName() << ")\n";
  };
  if (auto annotated = module->lookupSymbol<func::FuncOp>(name)) {
    FailureOr<CommunicationSummary> predicted =
        predictCommunication(annotated, &costModel);
    if (failed(predicted))
      return 1;
    // A pipeline's prediction, as the partitioned count below, is the
    // busiest stage's program (a device runs one), its sends included.
    describe((*module)->hasAttr(AutoparDialect::kPipelineAttrName)
                 ? "predicted (busiest stage)"
                 : "predicted",
             *predicted);
  }
  if (partitioner == "upstream") {
    // Only the function to run goes through upstream's passes.
    auto annotated = module->lookupSymbol<func::FuncOp>(name);
    SmallVector<func::FuncOp> others;
    for (auto func : module->getOps<func::FuncOp>())
      if (func != annotated)
        others.push_back(func);
    for (func::FuncOp func : others)
      func.erase();
    FailureOr<FlatSymbolRefAttr> meshRef =
        getAnnotatedMesh(annotated, "autopar-run");
    if (failed(meshRef))
      return 1;
    if (!*meshRef)
      return fail("@" + name + " has no shardings to export");
    // The per-device function's boundary, as export annotates it.
    SmallVector<ShardingAttr> argShardings;
    for (unsigned i = 0; i < annotated.getNumArguments(); ++i)
      argShardings.push_back(annotated.getArgAttrOfType<ShardingAttr>(
          i, AutoparDialect::kShardingAttrName));
    SmallVector<ShardingAttr> resultShardings =
        getExportedResultShardings(annotated, *meshRef);
    if (failed(runPipeline(*module, "autopar-export-shard, "
                                    "func.func(sharding-propagation, "
                                    "shard-partition), autopar-import-shard")))
      return 1;
    auto partitioned = module->lookupSymbol<func::FuncOp>(name);
    for (auto [index, sharding] : llvm::enumerate(argShardings))
      if (sharding)
        partitioned.setArgAttr(index, AutoparDialect::kShardingAttrName,
                               sharding);
    for (auto [index, sharding] : llvm::enumerate(resultShardings))
      if (sharding)
        partitioned.setResultAttr(index, AutoparDialect::kShardingAttrName,
                                  sharding);
    partitioned->setAttr(AutoparDialect::kSpmdAttrName, *meshRef);
  } else if (partitioner != "autopar") {
    return fail("unknown --partitioner '" + partitioner +
                "'; expected autopar or upstream");
  } else if (failed(runPipeline(*module, "autopar-partition"))) {
    return 1;
  }

  // One module: the partitioned function, the reference, the driver.
  auto sharded = module->lookupSymbol<func::FuncOp>(name);
  if (!sharded)
    return fail("no function @" + name + " after partitioning");
  auto countCollectives = [&](StringRef when) {
    describe(when, countCommunication(sharded, &costModel));
  };
  countCollectives(partitioner == "upstream" ? "partitioned by upstream"
                                             : "partitioned");
  std::string grouping = "func.func(autopar-group-collectives{";
  if (bucketBytes > 0)
    grouping += "max-bytes=" + std::to_string(bucketBytes) + " ";
  if (gatherUnitBytes > 0)
    grouping += "unit-bytes=" + std::to_string(gatherUnitBytes);
  grouping += "})";
  if (failed(runPipeline(*module, groupCollectives
                                      ? "canonicalize, cse, " + grouping
                                      : std::string("canonicalize, cse"))))
    return 1;
  countCollectives("cleaned up");
  SmallVector<func::FuncOp> others;
  for (auto func : module->getOps<func::FuncOp>())
    if (func != sharded)
      others.push_back(func);
  for (func::FuncOp func : others)
    func.erase();
  auto referenceFunc = reference->lookupSymbol<func::FuncOp>(name);
  auto copy = cast<func::FuncOp>(referenceFunc->clone());
  copy.setName(name + "__reference");
  // On one device a pin is the identity.
  copy.walk([](ShardOp pin) {
    pin.replaceAllUsesWith(pin.getInput());
    pin.erase();
  });
  module->getBody()->push_back(copy);
  bool graphs = cudaGraph && backend == "cuda";
  if (cudaGraph && !graphs)
    return fail("--cuda-graph needs --backend=cuda");
  if (graphs && failed(addOutputArguments(sharded)))
    return fail("@" + name +
                ": cannot add the arguments its results are "
                "written into (--cuda-graph)");
  DriverBuilder driver(*module, sharded, copy);
  driver.classes = classes;
  driver.cuda = backend == "cuda";
  driver.graphs = graphs;
  if (auto forward = reference->lookupSymbol<func::FuncOp>("forward"))
    driver.modelArgs = forward.getNumArguments();
  unsigned next = 0;
  for (const std::string &spec : inputFiles) {
    StringRef text(spec), number, path = text;
    unsigned index = next;
    if (text.contains('=')) {
      std::tie(number, path) = text.split('=');
      if (number.getAsInteger(10, index))
        return fail("--input=" + spec + ": expected [N=]FILE.npy");
    }
    if (index >= copy.getNumArguments())
      return fail("--input=" + spec + ": @" + name + " has " +
                  Twine(copy.getNumArguments()) + " arguments");
    driver.files[index] = path.str();
    next = index + 1;
  }
  if (failed(driver.build()))
    return 1;
  // Only the driver calls the steps: private, so that each writes its
  // updates over the arguments they replace (autopar-update-in-place), and
  // the driver holds one copy of the training state.
  sharded.setPrivate();
  copy.setPrivate();
  // Without --check the driver never calls the reference: it is not
  // compiled (on CUDA it is a third of GPT-2's host program).
  bool keepReference = !copy.symbolKnownUseEmpty(*module);
  if (!keepReference)
    copy.erase();
  if (failed(verify(*module)))
    return 1;
  if (!dumpIR.empty() && rank == 0) {
    std::string error;
    auto output = openOutputFile(dumpIR, &error);
    if (!output)
      return fail(error);
    module->print(output->os());
    output->keep();
  }
  // --profile: each timed op's layer, by site (autopar-profile-ops).
  // Each site: its layer; its op as the per-op list shows it (name,
  // iterators p/r: parallel/reduction, result type); its FLOPs and bytes
  // (Analysis/Workload.h: each operand read once, each result written
  // once), for the rates it achieved.
  struct Site {
    std::string layer;
    std::string op;
    double flops = 0;
    double bytes = 0;
    /// The time at the target's peak: a product's FLOPs at its element
    /// type's peak, an elementwise op's bytes at the memory bandwidth (0:
    /// neither kind).
    double productSeconds = 0;
    double elementwiseSeconds = 0;
  };
  SmallVector<Site> sites;
  if (profileOps) {
    FunctionWorkload workload(sharded, getBuiltWorkloadOptions());
    llvm::DenseMap<int64_t, std::string> layerNames;
    sharded.walk([&](Operation *op) {
      if (auto layer =
              op->getAttrOfType<IntegerAttr>(AutoparDialect::kLayerAttrName))
        layerNames.try_emplace(layer.getInt(), formatLocation(op->getLoc()));
    });
    for (Operation *op : getProfiledOps(sharded)) {
      std::string name;
      IntegerAttr layer =
          op->getAttrOfType<IntegerAttr>(AutoparDialect::kLayerAttrName);
      if (!layer)
        layer = op->getAttrOfType<IntegerAttr>(AutoparDialect::kGradOfAttrName);
      if (isa<CollectiveOpInterface>(op))
        name = "(collectives)";
      else if (layer)
        name = layerNames.lookup(layer.getInt());
      else if (!train || formatLocation(op->getLoc()) == "loss")
        // A forward pass's ops by location; a training step's loss and its
        // gradient at the loss's (getLossLoc), which the plan prices.
        name = formatLocation(op->getLoc());
      else
        name = "(update)";
      if (name.empty())
        name = layer ? "layer " + std::to_string(layer.getInt()) : "(other)";
      Site &site = sites.emplace_back();
      site.layer = name;
      std::string description;
      llvm::raw_string_ostream os(description);
      os << op->getName();
      if (auto linalgOp = dyn_cast<linalg::LinalgOp>(op)) {
        os << " [";
        for (utils::IteratorType iterator : linalgOp.getIteratorTypesArray())
          os << (iterator == utils::IteratorType::parallel ? "p" : "r");
        os << "]";
      }
      if (op->getNumResults() > 0)
        os << " -> " << op->getResult(0).getType();
      site.op = description;
      if (const OpWorkload *work = workload.lookup(op)) {
        site.flops = work->flops;
        site.bytes = work->bytes();
        if (auto linalgOp = dyn_cast<linalg::LinalgOp>(op)) {
          if (linalg::isaContractionOpInterface(linalgOp) &&
              linalgOp.getNumDpsInputs() > 0)
            site.productSeconds =
                site.flops / costModel.peakFlops(getElementTypeOrSelf(
                                 linalgOp.getDpsInputs()[0].getType()));
          else if (linalgOp.getNumReductionLoops() == 0)
            site.elementwiseSeconds =
                site.bytes /
                targetAttr->getGpu().getMemoryBandwidth().convertToDouble();
        }
      }
    }
    if (failed(runPipeline(*module, "autopar-profile-ops{functions=" +
                                        sharded.getName().str() + "}")))
      return 1;
  }
  // The step's arguments, held before it starts (the runtime counts what
  // it allocates).
  double argumentBytes = 0;
  for (Type type : sharded.getArgumentTypes())
    argumentBytes += getTensorBytes(type);
  // The plan's prediction, to print beside the measurement.
  PlanAttr planAttr =
      (*module)->getAttrOfType<PlanAttr>(AutoparDialect::kPlanAttrName);
  bool cuda = backend == "cuda";
  // On CUDA the reference runs on the host, compiled as the CPU backend
  // compiles it: --check compares the GPU program against the CPU path.
  auto lowerStart = std::chrono::steady_clock::now();
  if (failed(runPipeline(
          *module,
          cuda ? "autopar-lower-to-cuda{chip=" + chip +
                     (emulateGpu ? " emulate=1" : "") +
                     (cudaOptions.empty() ? std::string() : " " + cudaOptions) +
                     (keepReference ? " host-functions=" + name + "__reference"
                                    : std::string()) +
                     (graphs ? " graph-functions=" + name : std::string()) + "}"
               : std::string("autopar-lower-to-cpu{count-allocations=1}"))))
    return 1;
  auto secondsSince = [](std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                         start)
        .count();
  };
  say() << llvm::format("autopar-run: @%s lowered%s in %.1f s\n", name.c_str(),
                        cuda && !emulateGpu ? " and its kernels compiled" : "",
                        secondsSince(lowerStart));
  if (std::getenv("AUTOPAR_RUN_DEBUG"))
    module->print(llvm::errs());
  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  // A CUDA program's host code only enqueues kernels and library calls:
  // without -O it is JIT-compiled at -O0 (GPT-2 small's, ~750 launches:
  // seconds instead of most of a minute); a CPU program, an emulated one
  // (its kernels are host code) and --check's reference (host loops) at -O2.
  unsigned level = std::min(optLevel.getValue(), 3u);
  if (optLevel.getNumOccurrences() == 0 && cuda && !emulateGpu && !check)
    level = 0;
  llvm::CodeGenOptLevel codeGenLevel =
      llvm::CodeGenOpt::getLevel(level).value_or(
          llvm::CodeGenOptLevel::Default);
  ExecutionEngineOptions options;
  auto transformer = makeOptimizingTransformer(level, 0, nullptr);
  options.jitCodeGenOptLevel = codeGenLevel;
  options.transformer = transformer;
  // ExecutionEngine builds its target machine before it reads
  // jitCodeGenOptLevel, so that alone leaves code generation at -O2 (a
  // GPT-2 host program "at -O0" took 27-41 s, -O2's time): the machine is
  // made here, at the level asked for.
  auto machineBuilder = llvm::orc::JITTargetMachineBuilder::detectHost();
  if (!machineBuilder)
    return fail("no target machine for the host: " +
                llvm::toString(machineBuilder.takeError()));
  machineBuilder->setCodeGenOptLevel(codeGenLevel);
  auto machine = machineBuilder->createTargetMachine();
  if (!machine)
    return fail("no target machine for the host: " +
                llvm::toString(machine.takeError()));
  std::string notRun;
  if (compileOnly)
    notRun = "--compile-only";
  else if (cuda && !emulateGpu)
    notRun = ::autopar::tools::findCUDADevice();
  if (!notRun.empty()) {
    // Translate the program to LLVM IR (the kernels already are binaries).
    llvm::LLVMContext llvmContext;
    std::unique_ptr<llvm::Module> llvmModule =
        translateModuleToLLVMIR(*module, llvmContext);
    if (!llvmModule)
      return fail("translation to LLVM IR failed");
    int64_t kernels = 0, kernelBytes = 0;
    module->walk([&](gpu::BinaryOp binary) {
      for (Attribute object : binary.getObjectsAttr()) {
        ++kernels;
        kernelBytes += cast<gpu::ObjectAttr>(object).getObject().size();
      }
    });
    say() << "autopar-run: @" << name << " compiled for "
          << (cuda ? chip.getValue() : std::string("the host")) << ": "
          << llvm::count_if(llvmModule->functions(),
                            [](const llvm::Function &function) {
                              return !function.isDeclaration();
                            })
          << " host functions";
    if (cuda)
      say() << ", " << kernels << " kernels (" << kernelBytes
            << " bytes of GPU binaries)";
    say() << "; not run: " << notRun << "\n";
    if (!compileOnly)
      return fail("cannot run on CUDA: " + notRun +
                  " (--compile-only compiles without running)");
    // The host program to an object in memory, as the JIT would compile it
    // (same target machine, same level): its compile time, without a
    // device.
    auto hostStart = std::chrono::steady_clock::now();
    llvmModule->setDataLayout((*machine)->createDataLayout());
    llvmModule->setTargetTriple((*machine)->getTargetTriple());
    if (llvm::Error error = transformer(llvmModule.get()))
      return fail("optimizing the host program failed: " +
                  llvm::toString(std::move(error)));
    SmallVector<char> object;
    llvm::raw_svector_ostream objectStream(object);
    llvm::legacy::PassManager codeGen;
    if ((*machine)->addPassesToEmitFile(codeGen, objectStream, nullptr,
                                        llvm::CodeGenFileType::ObjectFile))
      return fail("the host's target machine cannot emit object files");
    codeGen.run(*llvmModule);
    say() << llvm::format("autopar-run: host program compiled (-O%u) in %.1f "
                          "s: %zu bytes of object code\n",
                          level, secondsSince(hostStart), object.size());
    return 0;
  }

  std::string utils = "/usr/lib/llvm-22/lib/libmlir_c_runner_utils.so";
  SmallVector<StringRef> libs;
  if (llvm::sys::fs::exists(utils))
    libs.push_back(utils);
  // The CUDA runtime sits in the build's (or the install's) lib directory.
  std::string cudaRuntime;
  if (cuda) {
    SmallString<256> path(
        llvm::sys::path::parent_path(llvm::sys::path::parent_path(
            llvm::sys::fs::getMainExecutable(argv[0], (void *)&launch))));
    llvm::sys::path::append(path, "lib",
                            emulateGpu ? "libautopar_cuda_emulated_runtime.so"
                                       : "libautopar_cuda_runtime.so");
    cudaRuntime = path.str().str();
    if (!llvm::sys::fs::exists(cudaRuntime))
      return fail(
          "no " + cudaRuntime + " (autopar was built without a CUDA toolkit" +
          (emulateGpu ? ", or without cuDNN's and NCCL's headers" : "") + ")");
    libs.push_back(cudaRuntime);
  }
  options.sharedLibPaths = libs;
  auto jitStart = std::chrono::steady_clock::now();
  auto engine = ExecutionEngine::create(*module, options, std::move(*machine));
  if (!engine)
    return fail("JIT compilation failed: " +
                llvm::toString(engine.takeError()));
  (*engine)->registerSymbols([](llvm::orc::MangleAndInterner interner) {
    llvm::orc::SymbolMap map;
    auto add = [&](StringRef symbol, void *address) {
      map[interner(symbol)] = {llvm::orc::ExecutorAddr::fromPtr(address),
                               llvm::JITSymbolFlags::Exported};
    };
    add("autopar_rt_device_coord", (void *)&autopar_rt_device_coord);
    add("autopar_rt_all_reduce", (void *)&autopar_rt_all_reduce);
    add("autopar_rt_all_gather", (void *)&autopar_rt_all_gather);
    add("autopar_rt_reduce_scatter", (void *)&autopar_rt_reduce_scatter);
    add("autopar_rt_all_to_all", (void *)&autopar_rt_all_to_all);
    add("autopar_rt_wtime", (void *)&autopar_rt_wtime);
    add("autopar_rt_report", (void *)&autopar_rt_report);
    add("autopar_rt_report_time", (void *)&autopar_rt_report_time);
    add("autopar_rt_report_loss_scale", (void *)&autopar_rt_report_loss_scale);
    add("autopar_rt_report_graphs", (void *)&autopar_rt_report_graphs);
    add("autopar_rt_memory_mark", (void *)&autopar_rt_memory_mark);
    add("autopar_rt_memory_report", (void *)&autopar_rt_memory_report);
    add("autopar_rt_report_device_memory",
        (void *)&autopar_rt_report_device_memory);
    add("_mlir_memref_to_llvm_alloc", (void *)&_mlir_memref_to_llvm_alloc);
    add("_mlir_memref_to_llvm_aligned_alloc",
        (void *)&_mlir_memref_to_llvm_aligned_alloc);
    add("_mlir_memref_to_llvm_free", (void *)&_mlir_memref_to_llvm_free);
    add("autopar_rt_report_loss", (void *)&autopar_rt_report_loss);
    add("autopar_rt_clock", (void *)&autopar_rt_clock);
    add("autopar_rt_profile", (void *)&autopar_rt_profile);
    return map;
  });
  // Compiling the host program happens at the first lookup: timed apart
  // from the run.
  auto entry = (*engine)->lookupPacked("autopar_main");
  if (!entry)
    return fail("JIT compilation failed: " + llvm::toString(entry.takeError()));
  say() << llvm::format("autopar-run: host program JIT-compiled (-O%u) in "
                        "%.1f s\n",
                        level, secondsSince(jitStart));
  // invokePacked runs the global constructors first (on a GPU they load
  // the kernels' modules: calling the entry directly skipped them and every
  // launch failed with an invalid handle on the H200), then the program.
  if (llvm::Error error = (*engine)->invokePacked("autopar_main"))
    return fail("running failed: " + llvm::toString(std::move(error)));

  int64_t count = 0;
  const double *times = ::autopar::runtime::getStepTimes(count);
  say() << "autopar-run: @" << name << " on " << ranks << " rank"
        << (ranks > 1 ? "s" : "") << ", " << steps << " step"
        << (steps > 1 ? "s" : "")
        << (emulateGpu ? ", CUDA emulated on the host (kernels as host "
                         "code, CUDA libraries by host implementations; "
                         "times are not GPU times)"
                       : "")
        << "\n";
  int64_t lossCount = 0;
  const double *losses = ::autopar::runtime::getStepLosses(lossCount);
  int64_t scaleCount = 0;
  const double *scales = ::autopar::runtime::getStepLossScales(scaleCount);
  for (int64_t step = 0; step < count; ++step) {
    say() << llvm::format("  step %lld: %.3f ms", (long long)step,
                          times[step] * 1e3);
    if (step < lossCount)
      say() << llvm::format(", loss %.6g", losses[step]);
    if (step < scaleCount && !std::isnan(scales[step]))
      say() << llvm::format(", next loss scale %.6g", scales[step]);
    say() << "\n";
  }
  // The first step warms up (module loads, first touches): the median of
  // the others when there are others.
  double measured = 0;
  if (count > 0) {
    SmallVector<double> steady(times + (count > 1 ? 1 : 0), times + count);
    llvm::sort(steady);
    measured = steady[steady.size() / 2];
  }
  if (count > 0 && planAttr && planAttr.getStepTime().convertToDouble() > 0) {
    double predicted = planAttr.getStepTime().convertToDouble();
    double samples = std::round(
        planAttr.getSamplesPerSecond().convertToDouble() * predicted);
    std::string over = count > 1
                           ? "median of steps 1.." + std::to_string(count - 1)
                           : std::string("step 0");
    say() << llvm::format("  step time: %.3f ms measured (%s), %.3f ms "
                          "predicted on ",
                          measured * 1e3, over.c_str(), predicted * 1e3)
          << targetAttr->getName() << (train ? "" : " (for a training step)")
          << llvm::format("; %.0f samples/s measured, %.0f predicted\n",
                          samples / measured, samples / predicted);
  }
  // Memory: the most the step held at once on this rank (its updates
  // written over its arguments: autopar-update-in-place), beside the plan's
  // peak per GPU (the CPU backend counts its buffers).
  int64_t memoryCount = 0;
  const double *peaks = ::autopar::runtime::getStepPeakBytes(memoryCount);
  // The largest of the steps' figures (NaN where a step reported none).
  auto largest = [](const double *values, int64_t count) {
    double most = 0;
    for (int64_t step = 0; step < count; ++step)
      if (!std::isnan(values[step]))
        most = std::max(most, values[step]);
    return most;
  };
  if (!cuda && memoryCount > 0 && train) {
    double peak = largest(peaks, memoryCount);
    double held = argumentBytes + peak;
    say() << llvm::format("  memory: %.0f bytes at the step's peak on rank 0 "
                          "(arguments %.0f + allocated %.0f)",
                          held, argumentBytes, peak);
    if (planAttr && planAttr.getMemoryPerGpu().convertToDouble() > 0) {
      double predicted = planAttr.getMemoryPerGpu().convertToDouble();
      say() << llvm::format("; %.0f predicted per GPU (x%.2f)", predicted,
                            held / predicted);
    }
    say() << "\n";
  }
  // On CUDA: what the runtime measured on the device. The step's results
  // are new managed buffers beside its arguments (not written over them as
  // the plan's prediction assumes), and the pool's peak is the GPU's count
  // in stream order; the sum bounds what the step held at once.
  int64_t poolCount = 0, managedCount = 0;
  const double *poolPeaks =
      ::autopar::runtime::getStepDevicePoolPeaks(poolCount);
  const double *managedPeaks =
      ::autopar::runtime::getStepDeviceManagedPeaks(managedCount);
  int64_t workspaceCount = 0;
  const double *workspaceBytes =
      ::autopar::runtime::getStepDeviceWorkspaces(workspaceCount);
  if (cuda && poolCount > 0) {
    double pool = largest(poolPeaks, poolCount);
    double managed = largest(managedPeaks, managedCount);
    double held = largest(workspaceBytes, workspaceCount);
    say() << llvm::format("  device memory: %.0f bytes at most on rank 0 "
                          "(managed %.0f: the step's arguments and results; "
                          "stream-ordered pool %.0f at its peak, %.0f of it "
                          "library workspaces)",
                          pool + managed, managed, pool, held);
    if (train && planAttr && planAttr.getMemoryPerGpu().convertToDouble() > 0) {
      double predicted = planAttr.getMemoryPerGpu().convertToDouble();
      say() << llvm::format("; %.0f predicted per GPU (x%.2f)", predicted,
                            (pool + managed) / predicted);
    }
    say() << "\n";
  }
  int64_t captures = 0, replays = 0;
  if (::autopar::runtime::getGraphCounts(captures, replays)) {
    if (captures == 0)
      say() << "  CUDA graph: none captured ("
            << (steps < 2 ? "a step is captured at its second call"
                          : "the step ran as is: see the warning above, or "
                            "AUTOPAR_CUDA_BLOCKING is set")
            << ")\n";
    else if (emulateGpu)
      say() << "  CUDA graph: @" << name << " captured " << captures
            << " time(s) after its first step (the emulator runs captured "
               "work as it is captured and cannot replay a graph: each "
               "later step is captured anew)\n";
    else
      say() << "  CUDA graph: @" << name << " captured " << captures
            << " time(s) after its first step, replayed " << replays
            << " time(s)\n";
  }
  if (profileOps) {
    // Per site, the median over the steps after the first (or step 0);
    // summed per layer in order of first appearance.
    const std::vector<std::vector<double>> &profile =
        ::autopar::runtime::getProfile();
    SmallVector<std::string> order;
    llvm::StringMap<double> measured;
    SmallVector<std::pair<double, size_t>> perSite;
    double total = 0;
    for (auto [site, info] : llvm::enumerate(sites)) {
      const std::string &name = info.layer;
      SmallVector<double> perStep;
      if (site < profile.size())
        for (size_t step = 0; step < profile[site].size(); ++step)
          if (step > 0 || profile[site].size() == 1)
            perStep.push_back(profile[site][step]);
      llvm::sort(perStep);
      double seconds = perStep.empty() ? 0 : perStep[perStep.size() / 2];
      if (!measured.count(name))
        order.push_back(name);
      measured[name] += seconds;
      perSite.push_back({seconds, site});
      total += seconds;
    }
    say() << "  per layer (" << sites.size() << " ops timed on rank 0"
          << (steps > 1 ? ", median of steps 1.." + std::to_string(steps - 1)
                        : std::string(", step 0"))
          << "; predicted: "
          << (predictedPerLayer.empty()
                  ? std::string("for training steps and -n 1 forward passes")
                  : predictedWhat + " on " + targetAttr->getName().str())
          << "):\n";
    // A row's prediction and the measured time's ratio to it.
    auto sayPredicted = [&](double seconds, double predicted) {
      say() << llvm::format("  predicted %10.3f ms  (x%.2f)", predicted * 1e3,
                            predicted > 0 ? seconds / predicted : 0.0);
    };
    for (const std::string &name : order) {
      say() << llvm::format("    %-24s %10.3f ms", name.c_str(),
                            measured[name] * 1e3);
      auto predicted = predictedPerLayer.find(name);
      if (predicted != predictedPerLayer.end())
        sayPredicted(measured[name], predicted->second);
      say() << "\n";
    }
    say() << llvm::format("    %-24s %10.3f ms\n", "(all timed ops)",
                          total * 1e3);
    // Repeated blocks (a transformer's `h.0.attn.q` ... `h.11.attn.q`):
    // the layers whose names differ only in their numbers, summed under
    // the name with each number as `*`, largest first.
    {
      auto kindOf = [](StringRef name) {
        std::string kind;
        for (size_t i = 0; i < name.size(); ++i) {
          if (!llvm::isDigit(name[i])) {
            kind += name[i];
            continue;
          }
          kind += '*';
          while (i + 1 < name.size() && llvm::isDigit(name[i + 1]))
            ++i;
        }
        return kind;
      };
      struct Kind {
        double seconds = 0, predicted = 0;
        int layers = 0;
      };
      SmallVector<std::string> kinds;
      llvm::StringMap<Kind> byKind;
      for (const std::string &name : order) {
        std::string kind = kindOf(name);
        auto [it, inserted] = byKind.try_emplace(kind);
        if (inserted)
          kinds.push_back(kind);
        it->second.seconds += measured[name];
        it->second.predicted += predictedPerLayer.lookup(name);
        ++it->second.layers;
      }
      if (kinds.size() < order.size()) {
        llvm::stable_sort(kinds,
                          [&](const std::string &a, const std::string &b) {
                            return byKind[a].seconds > byKind[b].seconds;
                          });
        say() << "  per layer kind (numbers in layer names as *; largest "
                 "first):\n";
        for (const std::string &kind : kinds) {
          const Kind &sum = byKind[kind];
          say() << llvm::format("    %-28s %3d x %10.3f ms", kind.c_str(),
                                sum.layers, sum.seconds * 1e3);
          if (sum.predicted > 0)
            sayPredicted(sum.seconds, sum.predicted);
          say() << "\n";
        }
      }
    }
    // Issue 17's goals: products at 90% of the GPU's peak or more,
    // elementwise ops at 80% of its memory bandwidth. Each kind's share of
    // its ideal time (at the target's rates: autopar-calibrate's when the
    // target is calibrated) and how many ops reach the goal.
    auto rollUp = [&](StringRef kind, double Site::*ideal, double goal,
                      StringRef rate) {
      double time = 0, best = 0;
      int count = 0, reaching = 0;
      for (auto [seconds, site] : perSite) {
        double at = sites[site].*ideal;
        if (at <= 0)
          continue;
        ++count;
        time += seconds;
        best += at;
        if (seconds > 0 && at / seconds >= goal)
          ++reaching;
      }
      if (count == 0)
        return;
      say() << llvm::format("    %-11s %4d ops %10.3f ms: %5.1f%% of %s; "
                            "%d of %d at %.0f%% or more\n",
                            kind.str().c_str(), count, time * 1e3,
                            time > 0 ? best / time * 100 : 0.0,
                            rate.str().c_str(), reaching, count, goal * 100);
    };
    say() << "  against " << targetAttr->getName()
          << "'s rates (time at the rate over time measured):\n";
    rollUp("products", &Site::productSeconds, 0.9, "peak FLOP/s");
    rollUp("elementwise", &Site::elementwiseSeconds, 0.8, "memory bandwidth");
    // The slowest ops one by one (ties in site order).
    llvm::stable_sort(perSite, [](const auto &a, const auto &b) {
      return a.first > b.first;
    });
    size_t shown = std::min<size_t>(perSite.size(), 12);
    say() << "  slowest " << shown
          << " ops (achieved FLOP/s and bytes/s: each operand read once, "
             "each result written once):\n";
    for (auto [seconds, site] : ArrayRef(perSite).take_front(shown)) {
      const Site &info = sites[site];
      say() << llvm::format("    %10.3f ms  %9.1f GFLOP/s  %7.1f GB/s  %-20s ",
                            seconds * 1e3,
                            seconds > 0 ? info.flops / seconds * 1e-9 : 0.0,
                            seconds > 0 ? info.bytes / seconds * 1e-9 : 0.0,
                            info.layer.c_str())
            << info.op << "\n";
    }
  }
  // One line to read at a glance: steps, loss from first to last, the
  // steady step time.
  if (count > 0) {
    say() << "summary: " << count << " step" << (count > 1 ? "s" : "") << " on "
          << ranks << " rank" << (ranks > 1 ? "s" : "");
    if (lossCount > 0)
      say() << llvm::format(", loss %.6g -> %.6g", losses[0],
                            losses[lossCount - 1]);
    say() << llvm::format(", %.3f ms per step", measured * 1e3)
          << (count > 1 ? " (median after the first)" : "") << "\n";
  }
  int code = 0;
  if (check) {
    const double *errors = ::autopar::runtime::getReported(count);
    double worst = 0;
    for (int64_t index = 0; index < count; ++index) {
      say() << llvm::format("  result #%lld: max relative error %.3e\n",
                            (long long)index, errors[index]);
      // A NaN error (NaN results) fails the check: max() would drop it.
      worst =
          std::isnan(errors[index]) ? INFINITY : std::max(worst, errors[index]);
    }
    bool pass = worst <= tolerance;
    say() << llvm::format("check: max relative error %.3e (tolerance %.1e): ",
                          worst, tolerance.getValue())
          << (pass ? "PASS" : "FAIL") << "\n";
    // Adam divides each gradient by its running root mean square: a
    // parameter whose gradient is zero up to rounding (a bias that a
    // softmax cancels, such as attention's key bias) takes an update of
    // full size made of rounding noise, which any other summation order
    // (microbatches, partial sums across devices) changes.
    bool adam = llvm::any_of(
        llvm::split(StringRef(trainingOptions), ' '),
        [](StringRef option) { return option == "optimizer=adam"; });
    if (!pass && adam && !std::isinf(worst))
      say() << "note: Adam normalises each gradient, so a parameter whose "
               "gradient is zero up to rounding (attention's key bias) "
               "differs by its rounding noise between any two summation "
               "orders; optimizer=sgd or momentum checks the partitioning "
               "itself, --tol accepts the difference\n";
    // cuDNN's fused attention keeps the scores' adjoint in f32 where the
    // host reference (the decomposition, PyTorch eager's roundings) stores
    // the probabilities, dP and dS in the 16-bit type: a gradient that is
    // a sum of cancelling terms (the query and key weights) carries that
    // rounding.
    if (!pass && cudnnAttentions > 0 && !std::isinf(worst))
      say() << "note: " << cudnnAttentions << " attention"
            << (cudnnAttentions > 1 ? "s run" : " runs")
            << " as cuDNN's fused call, which keeps the scores' gradient "
               "in f32 where the host reference stores it in 16 bits: "
               "gradients that are sums of cancelling terms (query and key "
               "weights) differ by that rounding; "
               "--cuda-options=\"cudnn-attention=0\" checks the "
               "partitioning itself, --tol accepts the difference\n";
    code = pass ? 0 : 1;
  }
  llvm::outs().flush();
  return code;
}
