//===- LowerCollectives.cpp - collectives to a runtime's calls ------------===//
//
// Bufferized autopar collectives (the `into` form) and device coordinates
// become calls to a runtime: contiguous buffers passed by address, the
// dimension a collective works along turned into the [outer, group, chunk]
// views the runtime expects, a permute's (source, target) pairs as a
// constant table of the module. Both runtimes take the same calls under their
// own prefix: the MPI runtime of the CPU backend (`autopar_rt_*`,
// lib/Runtime/CPURuntime.cpp) and the NCCL runtime of the CUDA backend
// (`autopar_nccl_*`, lib/Runtime/CUDARuntime.cpp).
//
//===----------------------------------------------------------------------===//

#include "autopar/Dialect/AutoparOps.h"
#include "autopar/Conversion/Passes.h"
#include "autopar/Conversion/RuntimeCalls.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/Transforms/BufferViewFlowAnalysis.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "mlir/Interfaces/ViewLikeInterface.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include <set>

namespace mlir::autopar {
#define GEN_PASS_DEF_LOWERCOLLECTIVESTOMPI
#define GEN_PASS_DEF_LOWERCOLLECTIVESTONCCL
#define GEN_PASS_DEF_STRIPANNOTATIONS
#include "autopar/Conversion/Passes.h.inc"
} // namespace mlir::autopar

using namespace mlir;
using namespace mlir::autopar;

namespace {

/// The runtime the calls go to: the prefix of its entry points and its name
/// for messages.
struct Runtime {
  StringRef prefix;
  StringRef name;
};

/// The runtime's encodings of a mesh and a list of its axes.
FailureOr<std::pair<int64_t, int64_t>> encodeGroup(Operation *op,
                                                   const Runtime &runtime,
                                                   FlatSymbolRefAttr meshRef,
                                                   ArrayAttr axes) {
  MeshAttr mesh = lookupMesh(op, meshRef);
  if (!mesh)
    return failure();
  if (mesh.getRank() > 4)
    return op->emitError() << "autopar: the " << runtime.name
                           << " supports meshes of at most 4 axes";
  int64_t meshCode = 0;
  for (auto [axis, size] : llvm::enumerate(mesh.getAxisSizes())) {
    if (size >= (1 << 16))
      return op->emitError() << "autopar: mesh axis of size " << size
                             << " is too large for the " << runtime.name;
    meshCode |= size << (16 * axis);
  }
  int64_t axesCode = 0;
  for (auto [position, axis] : llvm::enumerate(axes)) {
    std::optional<unsigned> index =
        mesh.getAxisIndex(cast<StringAttr>(axis).getValue());
    if (!index)
      return op->emitError()
             << "autopar: no axis " << axis << " in " << meshRef;
    axesCode |= static_cast<int64_t>(*index + 1) << (4 * position);
  }
  return std::make_pair(meshCode, axesCode);
}

FailureOr<int32_t> encodeType(Operation *op, const Runtime &runtime,
                              Type element) {
  if (element.isF32())
    return 0;
  if (element.isF64())
    return 1;
  if (element.isInteger(32))
    return 2;
  if (element.isInteger(64))
    return 3;
  if (element.isInteger(8))
    return 4;
  if (element.isBF16())
    return 6;
  if (element.isF16())
    return 7;
  if (element.isInteger(1)) {
    // Booleans move as bytes; adding them has no one meaning (arith's
    // i1 add is xor, a runtime's byte sum is not).
    if (isa<AllReduceOp, ReduceScatterOp>(op))
      return op->emitError() << "autopar: the " << runtime.name
                             << " does not reduce 'i1' values";
    return 5;
  }
  return op->emitError() << "autopar: the " << runtime.name
                         << " has no collectives on " << element;
}

func::FuncOp declare(Operation *op, PatternRewriter &rewriter, StringRef name,
                     TypeRange inputs, TypeRange results) {
  return getOrDeclareRuntimeFunction(rewriter, op->getParentOfType<ModuleOp>(),
                                     name, inputs, results);
}

/// The address of a contiguous buffer holding `value` (a copy when its
/// layout is not the identity), and the copy to free afterwards.
std::pair<Value, Value> addressOf(PatternRewriter &rewriter, Location loc,
                                  Value value) {
  auto type = cast<MemRefType>(value.getType());
  Value buffer = value, copy;
  if (!type.getLayout().isIdentity()) {
    auto contiguous = MemRefType::get(type.getShape(), type.getElementType());
    copy = memref::AllocOp::create(rewriter, loc, contiguous);
    memref::CopyOp::create(rewriter, loc, value, copy);
    buffer = copy;
  }
  return {getBufferAddress(rewriter, loc, buffer), copy};
}

int64_t product(ArrayRef<int64_t> shape) {
  int64_t result = 1;
  for (int64_t size : shape)
    result *= size;
  return result;
}

/// Emits the runtime call for `op` with `extra` integer constants (value,
/// width) after the two buffers, then the i64 values `addresses` (made by
/// `makeAddresses` at the call), then the mesh and axes codes.
LogicalResult
lowerCollective(CollectiveOpInterface op, PatternRewriter &rewriter,
                const Runtime &runtime, StringRef name,
                ArrayRef<std::pair<int64_t, unsigned>> extra,
                function_ref<SmallVector<Value>()> makeAddresses = nullptr) {
  Operation *operation = op.getOperation();
  Location loc = operation->getLoc();
  Value input = operation->getOperand(0);
  Value output =
      operation->getNumOperands() > 1 ? operation->getOperand(1) : Value();
  if (!isa<MemRefType>(input.getType()) || !output)
    return rewriter.notifyMatchFailure(operation, "not bufferized");
  auto outputType = cast<MemRefType>(output.getType());
  if (!outputType.hasStaticShape() ||
      !cast<MemRefType>(input.getType()).hasStaticShape())
    return operation->emitError()
           << "autopar: the " << runtime.name << " needs static shapes";
  FailureOr<std::pair<int64_t, int64_t>> group =
      encodeGroup(operation, runtime, op.getMeshAttr(), op.getAxesAttr());
  if (failed(group))
    return failure();
  auto [in, inCopy] = addressOf(rewriter, loc, input);
  Value outBuffer = output, outCopy;
  if (!outputType.getLayout().isIdentity()) {
    outCopy = memref::AllocOp::create(
        rewriter, loc,
        MemRefType::get(outputType.getShape(), outputType.getElementType()));
    outBuffer = outCopy;
  }
  auto [out, unused] = addressOf(rewriter, loc, outBuffer);
  SmallVector<Value> operands = {in, out};
  SmallVector<Type> types = {rewriter.getI64Type(), rewriter.getI64Type()};
  for (auto [value, width] : extra) {
    Type type = rewriter.getIntegerType(width);
    operands.push_back(arith::ConstantOp::create(
        rewriter, loc, rewriter.getIntegerAttr(type, value)));
    types.push_back(type);
  }
  if (makeAddresses)
    for (Value address : makeAddresses()) {
      operands.push_back(address);
      types.push_back(rewriter.getI64Type());
    }
  for (int64_t code : {group->first, group->second}) {
    operands.push_back(arith::ConstantOp::create(
        rewriter, loc, rewriter.getI64IntegerAttr(code)));
    types.push_back(rewriter.getI64Type());
  }
  // All-reduces, reduce-scatters and all-gathers start here and are
  // waited for right after; sinkWaits then moves each wait down to where
  // its buffers are next touched (gradient buckets run behind the rest of
  // the backward, ZeRO-3's prefetched gathers behind the layer before).
  if (isa<AllReduceOp, ReduceScatterOp, AllGatherOp>(operation)) {
    Type i64 = rewriter.getI64Type();
    func::FuncOp start =
        declare(operation, rewriter, (runtime.prefix + name + "_start").str(),
                types, {i64});
    Value handle =
        func::CallOp::create(rewriter, loc, start, operands).getResult(0);
    func::FuncOp wait = declare(operation, rewriter,
                                (runtime.prefix + "wait").str(), {i64}, {});
    func::CallOp::create(rewriter, loc, wait, ValueRange{handle});
  } else {
    func::FuncOp func =
        declare(operation, rewriter, (runtime.prefix + name).str(), types, {});
    func::CallOp::create(rewriter, loc, func, operands);
  }
  if (outCopy) {
    memref::CopyOp::create(rewriter, loc, outCopy, output);
    memref::DeallocOp::create(rewriter, loc, outCopy);
  }
  if (inCopy)
    memref::DeallocOp::create(rewriter, loc, inCopy);
  rewriter.eraseOp(operation);
  return success();
}

/// [outer, chunk] sizes of a row-major shape split before `dim` (outer) and
/// from `dim` on (chunk).
std::pair<int64_t, int64_t> outerChunk(ArrayRef<int64_t> shape, int64_t dim) {
  return {product(shape.take_front(dim)), product(shape.drop_front(dim))};
}

/// A pattern that lowers `OpTy` to a call into `runtime`.
template <typename OpTy> struct RuntimeCallPattern : OpRewritePattern<OpTy> {
  RuntimeCallPattern(MLIRContext *context, Runtime runtime)
      : OpRewritePattern<OpTy>(context), runtime(runtime) {}
  Runtime runtime;

  /// `value`'s buffer type and the runtime's code for its element type;
  /// failure when it is not bufferized yet or the type has no code.
  FailureOr<std::pair<MemRefType, int32_t>> getBuffer(Operation *op,
                                                      Value value) const {
    auto type = dyn_cast_or_null<MemRefType>(value ? value.getType() : Type());
    if (!type)
      return failure();
    FailureOr<int32_t> dtype = encodeType(op, runtime, type.getElementType());
    if (failed(dtype))
      return failure();
    return std::make_pair(type, *dtype);
  }
};

struct AllReduceLowering : RuntimeCallPattern<AllReduceOp> {
  using RuntimeCallPattern::RuntimeCallPattern;
  LogicalResult matchAndRewrite(AllReduceOp op,
                                PatternRewriter &rewriter) const override {
    FailureOr<std::pair<MemRefType, int32_t>> buffer =
        getBuffer(op, op.getInput());
    if (failed(buffer))
      return failure();
    auto [type, dtype] = *buffer;
    return lowerCollective(op, rewriter, runtime, "all_reduce",
                           {{product(type.getShape()), 64},
                            {dtype, 32},
                            {static_cast<int32_t>(op.getReduction()), 32}});
  }
};

struct AllGatherLowering : RuntimeCallPattern<AllGatherOp> {
  using RuntimeCallPattern::RuntimeCallPattern;
  LogicalResult matchAndRewrite(AllGatherOp op,
                                PatternRewriter &rewriter) const override {
    FailureOr<std::pair<MemRefType, int32_t>> buffer =
        getBuffer(op, op.getInput());
    if (failed(buffer))
      return failure();
    auto [type, dtype] = *buffer;
    auto [outer, chunk] = outerChunk(type.getShape(), op.getGatherDim());
    return lowerCollective(op, rewriter, runtime, "all_gather",
                           {{outer, 64}, {chunk, 64}, {dtype, 32}});
  }
};

struct ReduceScatterLowering : RuntimeCallPattern<ReduceScatterOp> {
  using RuntimeCallPattern::RuntimeCallPattern;
  LogicalResult matchAndRewrite(ReduceScatterOp op,
                                PatternRewriter &rewriter) const override {
    FailureOr<std::pair<MemRefType, int32_t>> buffer =
        getBuffer(op, op.getOutput());
    if (failed(buffer) || !isa<MemRefType>(op.getInput().getType()))
      return failure();
    auto [type, dtype] = *buffer;
    // The output's [outer, chunk]: the input is [outer, group, chunk].
    auto [outer, chunk] = outerChunk(type.getShape(), op.getScatterDim());
    return lowerCollective(op, rewriter, runtime, "reduce_scatter",
                           {{outer, 64},
                            {chunk, 64},
                            {dtype, 32},
                            {static_cast<int32_t>(op.getReduction()), 32}});
  }
};

struct AllToAllLowering : RuntimeCallPattern<AllToAllOp> {
  using RuntimeCallPattern::RuntimeCallPattern;
  LogicalResult matchAndRewrite(AllToAllOp op,
                                PatternRewriter &rewriter) const override {
    FailureOr<std::pair<MemRefType, int32_t>> buffer =
        getBuffer(op, op.getInput());
    if (failed(buffer) || !op.getOutput())
      return failure();
    auto [type, dtype] = *buffer;
    // (lowerCollective encodes and checks the group.)
    MeshAttr mesh = lookupMesh(op, op.getMeshAttr());
    if (!mesh)
      return failure();
    int64_t size = 1;
    for (Attribute axis : op.getAxes())
      size *= mesh.getAxisSize(cast<StringAttr>(axis).getValue());
    // One slice: the input with split_dim divided by the group size.
    SmallVector<int64_t> piece(type.getShape());
    piece[op.getSplitDim()] /= size;
    auto [splitOuter, splitChunk] = outerChunk(piece, op.getSplitDim());
    auto [concatOuter, concatChunk] = outerChunk(piece, op.getConcatDim());
    return lowerCollective(op, rewriter, runtime, "all_to_all",
                           {{splitOuter, 64},
                            {splitChunk, 64},
                            {concatOuter, 64},
                            {concatChunk, 64},
                            {dtype, 32}});
  }
};

struct PermuteLowering : RuntimeCallPattern<PermuteOp> {
  using RuntimeCallPattern::RuntimeCallPattern;
  LogicalResult matchAndRewrite(PermuteOp op,
                                PatternRewriter &rewriter) const override {
    FailureOr<std::pair<MemRefType, int32_t>> buffer =
        getBuffer(op, op.getInput());
    if (failed(buffer) || !op.getOutput())
      return failure();
    auto [type, dtype] = *buffer;
    // The (source, target) pairs as a constant table of the module, one per
    // distinct list.
    ArrayRef<int64_t> pairs = op.getPairs();
    auto tableType = MemRefType::get({static_cast<int64_t>(pairs.size())},
                                     rewriter.getI64Type());
    auto module = op->getParentOfType<ModuleOp>();
    auto initial = DenseIntElementsAttr::get(
        RankedTensorType::get(tableType.getShape(), rewriter.getI64Type()),
        pairs);
    memref::GlobalOp table;
    for (auto global : module.getOps<memref::GlobalOp>())
      if (global.getSymName().starts_with("__autopar_permute_pairs") &&
          global.getInitialValueAttr() == initial)
        table = global;
    if (!table) {
      // Made detached and inserted through the symbol table, which gives
      // each further list a name of its own.
      OpBuilder detached(op.getContext());
      table = memref::GlobalOp::create(
          detached, op.getLoc(), "__autopar_permute_pairs",
          rewriter.getStringAttr("private"), tableType, initial,
          /*constant=*/true, /*alignment=*/nullptr);
      SymbolTable(module).insert(table, module.getBody()->begin());
    }
    return lowerCollective(
        op, rewriter, runtime, "permute",
        {{product(type.getShape()), 64},
         {dtype, 32},
         {static_cast<int64_t>(pairs.size() / 2), 64}},
        [&]() -> SmallVector<Value> {
          Value pairsBuffer = memref::GetGlobalOp::create(
              rewriter, op.getLoc(), tableType, table.getSymName());
          return {getBufferAddress(rewriter, op.getLoc(), pairsBuffer)};
        });
  }
};

/// A send or a recv: `<prefix>send(buffer, count, dtype, peer, tag, mesh,
/// axes)`, the same for recv (the runtime copies a sent value out before
/// it returns).
template <typename OpTy> struct TransferLowering : RuntimeCallPattern<OpTy> {
  TransferLowering(MLIRContext *context, Runtime runtime, StringRef name)
      : RuntimeCallPattern<OpTy>(context, runtime), name(name) {}
  StringRef name;

  LogicalResult matchAndRewrite(OpTy op,
                                PatternRewriter &rewriter) const override {
    Value buffer = op->getNumOperands() ? op->getOperand(0) : Value();
    FailureOr<std::pair<MemRefType, int32_t>> typed =
        this->getBuffer(op, buffer);
    if (failed(typed))
      return rewriter.notifyMatchFailure(op, "not bufferized");
    FailureOr<std::pair<int64_t, int64_t>> group =
        encodeGroup(op, this->runtime, op.getMeshAttr(), op.getAxesAttr());
    if (failed(group))
      return failure();
    Location loc = op.getLoc();
    bool receives = isa<RecvOp>(op);
    // A strided view goes through a contiguous copy.
    auto [address, copy] = addressOf(rewriter, loc, buffer);
    Type i64 = rewriter.getI64Type(), i32 = rewriter.getI32Type();
    auto constant = [&](Type type, int64_t value) -> Value {
      return arith::ConstantOp::create(rewriter, loc,
                                       rewriter.getIntegerAttr(type, value));
    };
    SmallVector<Value> operands = {
        address,
        constant(i64, product(typed->first.getShape())),
        constant(i32, typed->second),
        constant(i64, op.getPeer()),
        constant(i64, op.getTag()),
        constant(i64, group->first),
        constant(i64, group->second)};
    func::FuncOp func =
        declare(op, rewriter, (this->runtime.prefix + name).str(),
                ValueRange(operands).getTypes(), {});
    func::CallOp::create(rewriter, loc, func, operands);
    if (copy) {
      if (receives)
        memref::CopyOp::create(rewriter, loc, copy, buffer);
      memref::DeallocOp::create(rewriter, loc, copy);
    }
    rewriter.eraseOp(op);
    return success();
  }
};

struct DeviceCoordLowering : RuntimeCallPattern<DeviceCoordOp> {
  using RuntimeCallPattern::RuntimeCallPattern;
  LogicalResult matchAndRewrite(DeviceCoordOp op,
                                PatternRewriter &rewriter) const override {
    FailureOr<std::pair<int64_t, int64_t>> group =
        encodeGroup(op, runtime, op.getMeshAttr(), op.getAxesAttr());
    if (failed(group))
      return failure();
    Location loc = op.getLoc();
    Type i64 = rewriter.getI64Type();
    func::FuncOp func =
        declare(op, rewriter, (runtime.prefix + "device_coord").str(),
                {i64, i64}, {i64});
    Value mesh = arith::ConstantOp::create(
        rewriter, loc, rewriter.getI64IntegerAttr(group->first));
    Value axes = arith::ConstantOp::create(
        rewriter, loc, rewriter.getI64IntegerAttr(group->second));
    auto call =
        func::CallOp::create(rewriter, loc, func, ValueRange{mesh, axes});
    rewriter.replaceOpWithNewOp<arith::IndexCastOp>(op, rewriter.getIndexType(),
                                                    call.getResult(0));
    return success();
  }
};

struct StripAnnotationsPass
    : public mlir::autopar::impl::StripAnnotationsBase<StripAnnotationsPass> {
  void runOnOperation() override {
    WalkResult left = getOperation().walk([](Operation *op) {
      if (isa<CollectiveOpInterface, DeviceCoordOp, SendOp, RecvOp>(op)) {
        op->emitError() << "autopar: '" << op->getName()
                        << "' still needs its mesh; lower it before "
                           "removing the annotations";
        return WalkResult::interrupt();
      }
      return WalkResult::advance();
    });
    if (left.wasInterrupted())
      return signalPassFailure();
    stripAutoparAnnotations(getOperation());
  }
};

/// The buffer whose address `value` is (getBufferAddress's
/// extract_aligned_pointer_as_index and index_cast), or null.
Value getAddressedBuffer(Value value) {
  auto cast = value.getDefiningOp<arith::IndexCastOp>();
  if (!cast)
    return {};
  auto extract =
      cast.getIn().getDefiningOp<memref::ExtractAlignedPointerAsIndexOp>();
  return extract ? extract.getSource() : Value();
}

/// Moves each `runtime`'s wait of a started collective down its block to
/// just before the first op that touches the collective's buffers, the
/// buffers they are views of or a view of those (a use anywhere inside the
/// op counts), a profiling call
/// (autopar-run --profile times each op whole) or the terminator; the
/// buffers' deallocations on the way move below the wait.
void sinkWaits(ModuleOp module, const Runtime &runtime) {
  std::string waitName = (runtime.prefix + "wait").str();
  for (auto func : module.getOps<func::FuncOp>()) {
    if (func.isExternal())
      continue;
    SmallVector<func::CallOp> waits;
    func.walk([&](func::CallOp call) {
      if (call.getCallee() == waitName)
        waits.push_back(call);
    });
    if (waits.empty())
      continue;
    BufferViewFlowAnalysis aliases(func);
    for (func::CallOp wait : waits) {
      auto start = wait.getOperand(0).getDefiningOp<func::CallOp>();
      if (!start)
        continue;
      // The collective's buffers, the buffers they are views of, and
      // every view of those: a write into the whole buffer, or another
      // view of it, reaches the collective's part.
      DenseSet<Value> touched;
      for (Value operand : start.getOperands())
        if (Value buffer = getAddressedBuffer(operand)) {
          while (auto view = buffer.getDefiningOp<ViewLikeOpInterface>())
            buffer = view.getViewSource();
          for (Value alias : aliases.resolve(buffer))
            touched.insert(alias);
        }
      auto touches = [&](Operation *op) {
        return op
            ->walk([&](Operation *inner) {
              for (Value operand : inner->getOperands())
                if (touched.contains(operand))
                  return WalkResult::interrupt();
              return WalkResult::advance();
            })
            .wasInterrupted();
      };
      Operation *stop = wait->getNextNode();
      SmallVector<Operation *> deallocs;
      for (; stop && !stop->hasTrait<OpTrait::IsTerminator>();
           stop = stop->getNextNode()) {
        if (auto call = dyn_cast<func::CallOp>(stop);
            call && call.getCallee().starts_with("autopar_rt_profile"))
          break;
        if (!touches(stop))
          continue;
        if (isa<memref::DeallocOp>(stop)) {
          deallocs.push_back(stop);
          continue;
        }
        break;
      }
      if (!stop)
        continue;
      wait->moveBefore(stop);
      Operation *after = wait;
      for (Operation *dealloc : deallocs) {
        dealloc->moveAfter(after);
        after = dealloc;
      }
    }
  }
}

/// Lowers every collective and device coordinate of `module` to `runtime`'s
/// calls and removes the annotations; an error at any op left.
LogicalResult lowerCollectives(ModuleOp module, const Runtime &runtime) {
  // What the runtime cannot take is said once, at the op, before any
  // rewriting.
  WalkResult unsupported = module.walk([&](CollectiveOpInterface op) {
    Type type = op->getOperand(0).getType();
    if (!isa<MemRefType>(type))
      return WalkResult::advance();
    if (failed(
            encodeType(op, runtime, cast<MemRefType>(type).getElementType())) ||
        failed(encodeGroup(op, runtime, op.getMeshAttr(), op.getAxesAttr())))
      return WalkResult::interrupt();
    return WalkResult::advance();
  });
  if (unsupported.wasInterrupted())
    return failure();
  // NCCL: a program with point-to-point transfers (a pipeline's stages)
  // makes every communicator it uses at its entry, in one order on every
  // rank: its groups', and one per direction of its transfers (the
  // coordinates of sender and receiver along the transfer's axes), since
  // a stage reaches them at its own time and splitting is collective.
  // Before it returns it joins the collectives it started.
  if (runtime.prefix == "autopar_nccl_")
    for (auto func : module.getOps<func::FuncOp>()) {
      if (func.isExternal() || func.walk([](Operation *op) {
                                     return isa<SendOp, RecvOp>(op)
                                                ? WalkResult::interrupt()
                                                : WalkResult::advance();
                                   }).wasInterrupted() == false)
        continue;
      std::set<std::pair<int64_t, int64_t>> groups;
      std::set<std::tuple<int64_t, int64_t, int64_t, int64_t>> directions;
      WalkResult walked = func.walk([&](Operation *op) -> WalkResult {
        FlatSymbolRefAttr mesh;
        ArrayAttr axes;
        // A transfer's peer, and whether this device sends.
        std::optional<int64_t> peer;
        bool isSend = false;
        if (auto collective = dyn_cast<CollectiveOpInterface>(op)) {
          mesh = collective.getMeshAttr();
          axes = collective.getAxesAttr();
        } else if (auto send = dyn_cast<SendOp>(op)) {
          mesh = send.getMeshAttr();
          axes = send.getAxesAttr();
          peer = send.getPeer();
          isSend = true;
        } else if (auto recv = dyn_cast<RecvOp>(op)) {
          mesh = recv.getMeshAttr();
          axes = recv.getAxesAttr();
          peer = recv.getPeer();
        }
        if (!mesh)
          return WalkResult::advance();
        FailureOr<std::pair<int64_t, int64_t>> group =
            encodeGroup(op, runtime, mesh, axes);
        if (failed(group))
          return peer ? WalkResult::interrupt() : WalkResult::advance();
        groups.insert(*group);
        if (!peer)
          return WalkResult::advance();
        // This device's coordinate: the case of the innermost switch on
        // it that holds the transfer (the default case's coordinate is
        // known from the other end's transfer).
        std::optional<int64_t> self;
        bool inDefault = false;
        for (Operation *parent = op->getParentOp();
             parent && !self && !inDefault; parent = parent->getParentOp()) {
          auto stageSwitch = dyn_cast<scf::IndexSwitchOp>(parent);
          if (!stageSwitch)
            continue;
          auto coord = stageSwitch.getArg().getDefiningOp<DeviceCoordOp>();
          if (!coord || coord.getMeshAttr() != mesh ||
              coord.getAxesAttr() != axes)
            continue;
          Region *region = op->getParentRegion();
          while (region->getParentOp() != stageSwitch)
            region = region->getParentOp()->getParentRegion();
          if (region == &stageSwitch.getDefaultRegion())
            inDefault = true;
          else
            self = stageSwitch.getCases()[region->getRegionNumber() - 1];
        }
        if (!self && !inDefault)
          return op->emitError()
                 << "autopar-lower-collectives-to-nccl: a transfer outside a "
                    "switch on the device's coordinate along its axes: NCCL "
                    "needs each direction's communicator made at the "
                    "program's entry, and its sender is not known here";
        if (self)
          directions.insert(
              isSend
                  ? std::make_tuple(group->first, group->second, *self, *peer)
                  : std::make_tuple(group->first, group->second, *peer, *self));
        return WalkResult::advance();
      });
      if (walked.wasInterrupted())
        return failure();
      OpBuilder builder(module.getContext());
      Type i64 = builder.getI64Type();
      Location loc = func.getLoc();
      auto constant = [&](int64_t value) -> Value {
        return arith::ConstantOp::create(builder, loc,
                                         builder.getI64IntegerAttr(value));
      };
      func::FuncOp prepare = getOrDeclareRuntimeFunction(
          builder, module, "autopar_nccl_prepare_group", {i64, i64}, {});
      func::FuncOp prepareTransfer = getOrDeclareRuntimeFunction(
          builder, module, "autopar_nccl_prepare_transfer",
          {i64, i64, i64, i64}, {});
      func::FuncOp flush = getOrDeclareRuntimeFunction(
          builder, module, "autopar_nccl_flush_sends", {}, {});
      builder.setInsertionPointToStart(&func.getBody().front());
      for (auto [mesh, axes] : groups)
        func::CallOp::create(builder, loc, prepare,
                             ValueRange{constant(mesh), constant(axes)});
      for (auto [mesh, axes, from, to] : directions)
        func::CallOp::create(builder, loc, prepareTransfer,
                             ValueRange{constant(mesh), constant(axes),
                                        constant(from), constant(to)});
      func.walk([&](func::ReturnOp ret) {
        builder.setInsertionPoint(ret);
        func::CallOp::create(builder, ret.getLoc(), flush, ValueRange{});
      });
    }
  MLIRContext *context = module.getContext();
  RewritePatternSet patterns(context);
  patterns.add<AllReduceLowering, AllGatherLowering, ReduceScatterLowering,
               AllToAllLowering, PermuteLowering, DeviceCoordLowering>(context,
                                                                       runtime);
  patterns.add<TransferLowering<SendOp>>(context, runtime, "send");
  patterns.add<TransferLowering<RecvOp>>(context, runtime, "recv");
  if (failed(applyPatternsGreedily(module, std::move(patterns))))
    return failure();
  WalkResult left = module.walk([&](Operation *op) {
    if (isa<CollectiveOpInterface, DeviceCoordOp, SendOp, RecvOp>(op)) {
      op->emitError() << "autopar: '" << op->getName()
                      << "' has no lowering to the " << runtime.name
                      << (((isa<CollectiveOpInterface, SendOp>(op) &&
                            isa<TensorType>(op->getOperand(0).getType())) ||
                           (isa<RecvOp>(op) && op->getNumResults()))
                              ? " (bufferize it first)"
                              : "");
      return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  if (left.wasInterrupted())
    return failure();
  sinkWaits(module, runtime);
  stripAutoparAnnotations(module, /*keepBufferFacts=*/true);
  return success();
}

struct LowerCollectivesToMPIPass
    : public mlir::autopar::impl::LowerCollectivesToMPIBase<
          LowerCollectivesToMPIPass> {
  void runOnOperation() override {
    if (failed(
            lowerCollectives(getOperation(), {"autopar_rt_", "CPU runtime"})))
      signalPassFailure();
  }
};

struct LowerCollectivesToNCCLPass
    : public mlir::autopar::impl::LowerCollectivesToNCCLBase<
          LowerCollectivesToNCCLPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (failed(lowerCollectives(module, {"autopar_nccl_", "NCCL runtime"})))
      return signalPassFailure();
    // Every NCCL entry point enqueues its work on the GPU's streams
    // (docs/cuda.md, "Stream order").
    for (auto func : module.getOps<func::FuncOp>())
      if (func.isExternal() && func.getName().starts_with("autopar_nccl_"))
        setStreamOrdered(func);
  }
};
} // namespace

void mlir::autopar::stripAutoparAnnotations(ModuleOp module,
                                            bool keepBufferFacts) {
  MLIRContext *context = module.getContext();
  // Argument and result annotations describe tensors, the function's
  // names the mesh; the lowered functions take LLVM structs.
  auto strip = [&](DictionaryAttr attrs) {
    SmallVector<NamedAttribute> kept;
    if (attrs)
      for (NamedAttribute attr : attrs)
        if (!attr.getName().getValue().starts_with("autopar.") ||
            (keepBufferFacts &&
             attr.getName() == AutoparDialect::kInPlaceAttrName))
          kept.push_back(attr);
    return DictionaryAttr::get(context, kept);
  };
  for (auto func : module.getOps<FunctionOpInterface>()) {
    for (unsigned i = 0; i < func.getNumArguments(); ++i)
      func.setArgAttrs(i, strip(func.getArgAttrDict(i)));
    for (unsigned i = 0; i < func.getNumResults(); ++i)
      func.setResultAttrs(i, strip(func.getResultAttrDict(i)));
    SmallVector<StringAttr> own;
    for (NamedAttribute attr : func->getDiscardableAttrs())
      if (attr.getName().getValue().starts_with("autopar.") &&
          !(keepBufferFacts && attr.getName() == kStreamOrderedAttrName))
        own.push_back(attr.getName());
    for (StringAttr name : own)
      func->removeDiscardableAttr(name);
  }
  // Meshes and the plan have served their purpose.
  for (MeshOp mesh : llvm::make_early_inc_range(module.getOps<MeshOp>()))
    mesh.erase();
  SmallVector<StringAttr> names;
  for (NamedAttribute attr : module->getDiscardableAttrs())
    if (attr.getName().getValue().starts_with("autopar."))
      names.push_back(attr.getName());
  for (StringAttr name : names)
    module->removeDiscardableAttr(name);
}
