//===- ConvolutionsToCUDNN.cpp - 2-D convolutions as cuDNN calls ----------===//
//
// For the CUDA backend: bufferized structured ops that compute a 2-D
// convolution in NCHW layout, or one of its two gradients as the training
// step writes them, become calls to `autopar_cuda_conv2d` (cuDNN). The
// three forms are recognized from indexing maps over seven loops (n, f, c,
// two output positions o, two window positions k), with a mul-add body:
//
//   forward          Y[n, f, o]  += X[n, c, o * s + k * d] W[f, c, k]
//   filter gradient  W[f, c, k]  += X[n, c, o * s + k * d] Y[n, f, o]
//   data gradient    X[n, c, i]  += Y[n, f, i + (K - 1) d - k * d] W[f, c, k]
//
// (the data gradient reads the output gradient dilated by the stride and
// padded by (K - 1) d, so that it is the transposed convolution with stride
// 1). The geometry is checked against cuDNN's (the output's size follows
// from the input's, the padding, stride and dilation); other convolutions
// (grouped, depthwise, other layouts, pooling) run as generated kernels.
//
//===----------------------------------------------------------------------===//

#include "autopar/Conversion/Buffers.h"
#include "autopar/Conversion/Passes.h"
#include "autopar/Conversion/RuntimeCalls.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"

namespace mlir::autopar {
#define GEN_PASS_DEF_CONVOLUTIONSTOCUDNN
#include "autopar/Conversion/Passes.h.inc"
} // namespace mlir::autopar

using namespace mlir;
using namespace mlir::autopar;

namespace {
/// Which quantity the op computes, as autopar_cuda_conv2d's `mode`.
enum class ConvMode : int32_t {
  Forward = 0,
  BackwardData = 1,
  BackwardFilter = 2
};

/// A convolution in cuDNN's terms: X [n, c, h, w], W [f, c, kh, kw],
/// Y [n, f, oh, ow], symmetric padding, stride, dilation.
struct Conv2D {
  ConvMode mode;
  /// The op's operands holding X, W and Y.
  Value x, w, y;
  int64_t n, c, h, wd, f, kh, kw;
  int64_t pad[2], stride[2], dilation[2];
  /// The element type of all three, as autopar_cuda_conv2d's `dtype`: 0
  /// f32, 1 f16, 2 bf16; 3 f32 holding widened 16-bit inputs (TF32 tensor
  /// cores, exact for them).
  int32_t dtype;
  /// 16-bit inputs into an f32 result: the inputs are widened into f32
  /// buffers of their own first.
  bool widen;
};

/// An affine expression as sum_i coefficient_i * d_i + constant.
struct Linear {
  SmallVector<int64_t> coefficients;
  int64_t constant = 0;
};

std::optional<Linear> getLinear(AffineExpr expr, unsigned numDims) {
  Linear result;
  result.coefficients.assign(numDims, 0);
  if (auto dim = dyn_cast<AffineDimExpr>(expr)) {
    result.coefficients[dim.getPosition()] = 1;
    return result;
  }
  if (auto constant = dyn_cast<AffineConstantExpr>(expr)) {
    result.constant = constant.getValue();
    return result;
  }
  auto binary = dyn_cast<AffineBinaryOpExpr>(expr);
  if (!binary)
    return std::nullopt;
  std::optional<Linear> lhs = getLinear(binary.getLHS(), numDims);
  std::optional<Linear> rhs = getLinear(binary.getRHS(), numDims);
  if (!lhs || !rhs)
    return std::nullopt;
  if (binary.getKind() == AffineExprKind::Add) {
    for (unsigned i = 0; i < numDims; ++i)
      result.coefficients[i] = lhs->coefficients[i] + rhs->coefficients[i];
    result.constant = lhs->constant + rhs->constant;
    return result;
  }
  if (binary.getKind() != AffineExprKind::Mul)
    return std::nullopt;
  // One side is a constant (affine maps guarantee it).
  const Linear &factor =
      llvm::all_of(rhs->coefficients, [](int64_t c) { return c == 0; }) ? *rhs
                                                                        : *lhs;
  const Linear &term = &factor == &*rhs ? *lhs : *rhs;
  for (unsigned i = 0; i < numDims; ++i)
    result.coefficients[i] = term.coefficients[i] * factor.constant;
  result.constant = term.constant * factor.constant;
  return result;
}

/// One spatial index of the windowed operand: coefficient * `outer` +
/// step * `window` + offset.
struct Window {
  unsigned outer, window;
  int64_t coefficient, step, offset;
};

/// The two loops of a window expression, `window` being the one that the
/// filter reads at `filterLoop`.
std::optional<Window> getWindow(AffineExpr expr, unsigned numDims,
                                unsigned filterLoop) {
  std::optional<Linear> linear = getLinear(expr, numDims);
  if (!linear || linear->coefficients[filterLoop] == 0)
    return std::nullopt;
  Window window;
  window.window = filterLoop;
  window.step = linear->coefficients[filterLoop];
  window.offset = linear->constant;
  int found = 0;
  for (unsigned dim = 0; dim < numDims; ++dim) {
    if (dim == filterLoop || linear->coefficients[dim] == 0)
      continue;
    window.outer = dim;
    window.coefficient = linear->coefficients[dim];
    ++found;
  }
  if (found != 1)
    return std::nullopt;
  return window;
}

/// The loops an operand reads, when every index is a plain loop.
std::optional<SmallVector<unsigned>> getDims(AffineMap map) {
  SmallVector<unsigned> dims;
  for (AffineExpr result : map.getResults()) {
    auto dim = dyn_cast<AffineDimExpr>(result);
    if (!dim)
      return std::nullopt;
    dims.push_back(dim.getPosition());
  }
  return dims;
}

/// A contiguous static 4-D buffer's element type code (0 f32, 1 f16, 2
/// bf16), or none.
std::optional<int32_t> getContiguousType(Value value) {
  auto type = dyn_cast<MemRefType>(value.getType());
  if (!type || type.getRank() != 4)
    return std::nullopt;
  return getLibraryElementType(value);
}

/// out += in0 * in1, the inputs possibly widened first (extf), nothing
/// else.
bool isMulAdd(Block &body) {
  if (body.getNumArguments() != 3)
    return false;
  auto yield = dyn_cast<linalg::YieldOp>(body.getTerminator());
  auto add = yield ? yield->getOperand(0).getDefiningOp<arith::AddFOp>()
                   : arith::AddFOp();
  if (!add || add->getBlock() != &body)
    return false;
  auto mul = add.getRhs().getDefiningOp<arith::MulFOp>();
  Value acc = add.getLhs();
  if (!mul) {
    mul = add.getLhs().getDefiningOp<arith::MulFOp>();
    acc = add.getRhs();
  }
  if (!mul || acc != body.getArgument(2))
    return false;
  // An input, or its widening.
  auto input = [&](Value value) -> Value {
    if (auto ext = value.getDefiningOp<arith::ExtFOp>())
      return ext.getIn();
    return value;
  };
  Value a = input(mul.getLhs()), b = input(mul.getRhs());
  size_t widenings = (a != mul.getLhs()) + (b != mul.getRhs());
  if (body.getOperations().size() != 3 + widenings)
    return false;
  return (a == body.getArgument(0) && b == body.getArgument(1)) ||
         (a == body.getArgument(1) && b == body.getArgument(0));
}

int64_t dimOf(Value value, unsigned dim) {
  return cast<MemRefType>(value.getType()).getDimSize(dim);
}

std::optional<Conv2D> matchConv2D(linalg::LinalgOp op) {
  if (!op.hasPureBufferSemantics() || op.getNumDpsInputs() != 2 ||
      op.getNumDpsInits() != 1 || op.getNumLoops() != 7 ||
      !isMulAdd(*op.getBlock()))
    return std::nullopt;
  // One element type for the three (cuDNN's legacy API: 16-bit data with
  // f32 accumulation), or 16-bit inputs accumulated into f32 (widened to
  // f32 first: the legacy API has one data type for all three).
  std::optional<int32_t> dtype = getContiguousType(op->getOperand(0));
  std::optional<int32_t> result = getContiguousType(op->getOperand(2));
  if (!dtype || getContiguousType(op->getOperand(1)) != dtype || !result ||
      (*result != *dtype && *result != 0))
    return std::nullopt;
  bool widen = *result != *dtype;
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  unsigned numLoops = op.getNumLoops();
  // The windowed operand: the only one whose last two indices are not
  // plain loops.
  int windowed = -1;
  for (unsigned i = 0; i < 3; ++i)
    if (!getDims(maps[i])) {
      if (windowed >= 0)
        return std::nullopt;
      windowed = i;
    }
  if (windowed < 0)
    return std::nullopt;
  // The filter: the plain operand whose last two loops are the window
  // loops; the third is the other plain one.
  SmallVector<unsigned> plain;
  for (unsigned i = 0; i < 3; ++i)
    if (static_cast<int>(i) != windowed)
      plain.push_back(i);
  AffineMap windowMap = maps[windowed];
  if (windowMap.getNumResults() != 4)
    return std::nullopt;
  auto windowDims =
      [&](unsigned loop0,
          unsigned loop1) -> std::optional<std::pair<Window, Window>> {
    std::optional<Window> first =
        getWindow(windowMap.getResult(2), numLoops, loop0);
    std::optional<Window> second =
        getWindow(windowMap.getResult(3), numLoops, loop1);
    if (!first || !second)
      return std::nullopt;
    return std::make_pair(*first, *second);
  };
  for (unsigned pick = 0; pick < 2; ++pick) {
    unsigned filter = plain[pick], other = plain[1 - pick];
    std::optional<SmallVector<unsigned>> w = getDims(maps[filter]);
    std::optional<SmallVector<unsigned>> t = getDims(maps[other]);
    auto lead0 = dyn_cast<AffineDimExpr>(windowMap.getResult(0));
    auto lead1 = dyn_cast<AffineDimExpr>(windowMap.getResult(1));
    if (!w || !t || w->size() != 4 || t->size() != 4 || !lead0 || !lead1)
      continue;
    std::optional<std::pair<Window, Window>> windows =
        windowDims((*w)[2], (*w)[3]);
    if (!windows || windows->first.outer != (*t)[2] ||
        windows->second.outer != (*t)[3])
      continue;
    // Seven distinct loops: n, two channels, two outputs, two windows.
    llvm::SmallDenseSet<unsigned> loops(t->begin(), t->end());
    loops.insert(w->begin(), w->end());
    if (loops.size() != 7)
      continue;
    unsigned n = lead0.getPosition();
    int output = static_cast<int>(maps.size()) - 1;
    Conv2D conv;
    // Widened inputs are 16-bit values in f32 buffers: TF32 tensor cores
    // multiply them exactly.
    conv.dtype = widen ? 3 : *result;
    conv.widen = widen;
    bool flipped = windows->first.step < 0;
    if (!flipped) {
      // X[n, c, o s + k d] with W[f, c, k] and Y[n, f, o].
      if ((*t)[0] != n || (*w)[1] != lead1.getPosition() || (*t)[1] != (*w)[0])
        continue;
      for (const Window &window : {windows->first, windows->second})
        if (window.coefficient < 1 || window.step < 1 || window.offset != 0)
          return std::nullopt;
      conv.x = op->getOperand(windowed);
      conv.w = op->getOperand(filter);
      conv.y = op->getOperand(other);
      if (output == static_cast<int>(other))
        conv.mode = ConvMode::Forward;
      else if (output == static_cast<int>(filter))
        conv.mode = ConvMode::BackwardFilter;
      else
        return std::nullopt;
      conv.stride[0] = windows->first.coefficient;
      conv.stride[1] = windows->second.coefficient;
      conv.dilation[0] = windows->first.step;
      conv.dilation[1] = windows->second.step;
      conv.pad[0] = conv.pad[1] = 0;
    } else {
      // dY[n, f, i + (K - 1) d - k d] with W[f, c, k] into dX[n, c, i].
      if ((*t)[0] != n || (*w)[0] != lead1.getPosition() ||
          (*t)[1] != (*w)[1] || output != static_cast<int>(other))
        continue;
      conv.mode = ConvMode::BackwardData;
      conv.x = op->getOperand(other);
      conv.w = op->getOperand(filter);
      conv.y = op->getOperand(windowed);
      SmallVector<int64_t> ranges = op.getStaticLoopRanges();
      unsigned index = 0;
      for (const Window &window : {windows->first, windows->second}) {
        int64_t dilation = -window.step;
        int64_t k = ranges[window.window];
        if (dilation < 1 || window.coefficient != 1 ||
            window.offset != (k - 1) * dilation)
          return std::nullopt;
        conv.stride[index] = 1;
        conv.dilation[index] = dilation;
        conv.pad[index] = (k - 1) * dilation;
        ++index;
      }
    }
    conv.n = dimOf(conv.x, 0);
    conv.c = dimOf(conv.x, 1);
    conv.h = dimOf(conv.x, 2);
    conv.wd = dimOf(conv.x, 3);
    conv.f = dimOf(conv.w, 0);
    conv.kh = dimOf(conv.w, 2);
    conv.kw = dimOf(conv.w, 3);
    // cuDNN's geometry: Y's size follows from X's; the loops cover the
    // buffers exactly.
    if (dimOf(conv.y, 0) != conv.n || dimOf(conv.y, 1) != conv.f ||
        dimOf(conv.w, 1) != conv.c)
      return std::nullopt;
    int64_t kernel[2] = {conv.kh, conv.kw}, size[2] = {conv.h, conv.wd};
    for (unsigned i = 0; i < 2; ++i) {
      int64_t span =
          size[i] + 2 * conv.pad[i] - (kernel[i] - 1) * conv.dilation[i] - 1;
      if (span < 0 || span / conv.stride[i] + 1 != dimOf(conv.y, 2 + i))
        return std::nullopt;
    }
    return conv;
  }
  return std::nullopt;
}

struct ConvolutionsToCUDNNPass
    : public mlir::autopar::impl::ConvolutionsToCUDNNBase<
          ConvolutionsToCUDNNPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<std::pair<linalg::LinalgOp, Conv2D>> found;
    module.walk([&](linalg::LinalgOp op) {
      if (op->getParentOfType<gpu::GPUModuleOp>())
        return;
      if (std::optional<Conv2D> conv = matchConv2D(op))
        found.push_back({op, *conv});
    });
    if (found.empty())
      return;
    OpBuilder builder(module.getBodyRegion());
    Type i64 = builder.getI64Type(), i32 = builder.getI32Type();
    SmallVector<Type> inputs(16, i64);
    inputs.append({i32, i32, i32});
    func::FuncOp callee = getOrDeclareRuntimeFunction(
        builder, module, "autopar_cuda_conv2d", inputs, {});
    setStreamOrdered(callee);
    for (auto [op, conv] : found) {
      builder.setInsertionPoint(op);
      Location loc = op.getLoc();
      // Into a buffer just filled with zeros: written, not added to (beta
      // = 0), and the fill goes.
      Operation *zeroFill = getZeroFillBefore(op, op.getDpsInits()[0]);
      // 16-bit inputs of an f32 result: f32 copies (exact), freed after.
      SmallVector<Value> widened;
      auto widenInput = [&](Value buffer) -> Value {
        if (!conv.widen || buffer == op.getDpsInits()[0])
          return buffer;
        auto type = cast<MemRefType>(buffer.getType());
        auto wide = MemRefType::get(type.getShape(), builder.getF32Type());
        Value copy = memref::AllocOp::create(builder, loc, wide);
        AffineMap identity = builder.getMultiDimIdentityMap(type.getRank());
        SmallVector<utils::IteratorType> parallel(
            type.getRank(), utils::IteratorType::parallel);
        linalg::GenericOp::create(
            builder, loc, TypeRange{}, ValueRange{buffer}, ValueRange{copy},
            ArrayRef<AffineMap>{identity, identity}, parallel,
            [&](OpBuilder &b, Location l, ValueRange args) {
              linalg::YieldOp::create(
                  b, l,
                  arith::ExtFOp::create(b, l, b.getF32Type(), args[0])
                      .getResult());
            });
        widened.push_back(copy);
        return copy;
      };
      SmallVector<Value> operands;
      for (Value buffer : {conv.x, conv.w, conv.y})
        operands.push_back(getBufferAddress(builder, loc, widenInput(buffer)));
      for (int64_t value : {conv.n, conv.c, conv.h, conv.wd, conv.f, conv.kh,
                            conv.kw, conv.pad[0], conv.pad[1], conv.stride[0],
                            conv.stride[1], conv.dilation[0], conv.dilation[1]})
        operands.push_back(arith::ConstantOp::create(
            builder, loc, builder.getI64IntegerAttr(value)));
      operands.push_back(arith::ConstantOp::create(
          builder, loc,
          builder.getIntegerAttr(i32, static_cast<int32_t>(conv.mode))));
      operands.push_back(arith::ConstantOp::create(
          builder, loc, builder.getIntegerAttr(i32, conv.dtype)));
      operands.push_back(arith::ConstantOp::create(
          builder, loc, builder.getIntegerAttr(i32, zeroFill ? 0 : 1)));
      auto call = func::CallOp::create(builder, loc, callee, operands);
      // The one of X, W, Y the mode computes.
      setWrittenOperands(call, {conv.mode == ConvMode::Forward        ? 2
                                : conv.mode == ConvMode::BackwardData ? 0
                                                                      : 1});
      for (Value copy : widened)
        memref::DeallocOp::create(builder, loc, copy);
      op->erase();
      if (zeroFill)
        zeroFill->erase();
    }
  }
};
} // namespace
