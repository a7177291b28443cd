//===- Workload.h - per-op workload of a model ------------------*- C++ -*-===//
//
// The workload of every op of a model, derived generically: for linalg ops
// from the iteration domain (loop bounds), the indexing maps (what is read
// and written) and the scalar body (FLOPs per iteration, multiply-
// accumulates, which inputs the backward pass needs); for the tensor data
// movement ops (pad, slices, concatenation, reshapes) from their shapes.
// Nothing here depends on the target machine: see Cost/CostModel.h for times.
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_ANALYSIS_WORKLOAD_H
#define AUTOPAR_ANALYSIS_WORKLOAD_H

#include "autopar/Analysis/ArgumentRoles.h"

#include "mlir/IR/Operation.h"
#include "llvm/ADT/DenseMap.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <optional>

namespace mlir::autopar {

class AttentionOpInterface;
struct FusedAttentionForm;

/// How the CUDA backend will build what the analysis prices, where it has a
/// choice (the planner's options of the same names).
struct WorkloadOptions {
  /// 16-bit attentions cuDNN's fused attention computes
  /// (getFusedAttentionForm) as that one call, forward and backward, as
  /// autopar-lower-to-cuda builds them by default (its cudnn-attention);
  /// false: as their decomposition.
  bool cudnnAttention = true;
  /// The 16-bit type (bf16 or f16) the step computes the model's wider
  /// floats in (the plan's precision=), or none: an f32 attention trained
  /// so is a 16-bit one, which cuDNN's fused attention computes.
  Type halfPrecision;
};

/// How many blocks an op whose internal buffers take `internalBytes` is
/// computed in when its lowering holds them to `limit` bytes at a time (0:
/// no bound, one block): an attention's batch blocks.
inline double getInternalBlocks(double internalBytes, double limit) {
  if (limit <= 0)
    return 1;
  return std::max(1.0, std::ceil(internalBytes / limit));
}

/// Elements of a ranked tensor or memref (a dynamic dimension counts as 1),
/// 1 for a scalar; and their bytes (an index 8, 0 for an element type
/// that is no number).
double getElementCount(Type type);
double getSizeInBytes(Type type);

/// The scores a causal mask leaves of `rows` query rows over `keys` keys,
/// the rows offset by `offset` (row i sees keys 0..min(i + offset, keys -
/// 1)): what cuDNN's fused attention computes of them.
double getCausalScores(double rows, double keys, double offset);

/// The work of one op, forward and backward. Bytes assume every operand is
/// read once and every result written once (perfect reuse within the op).
struct OpWorkload {
  Operation *op = nullptr;
  /// The number of loop iterations (1 for ops without loops), and how many
  /// of them can run at once: the parallel loops (output elements) times up
  /// to kReductionThreads iterations of the reduction loops (a GPU splits a
  /// reduction across the threads of a block).
  double iterations = 0;
  double parallelIterations = 0;
  static constexpr double kReductionThreads = 256;
  /// Forward: floating-point operations (a multiply-add is 2), of which
  /// multiply-accumulate iterations, and memory traffic.
  double flops = 0;
  double macs = 0;
  double bytesRead = 0;
  double bytesWritten = 0;
  /// Parameters the op reads (elements and bytes).
  double paramCount = 0;
  double paramBytes = 0;
  /// Activation bytes that training keeps from the forward pass for this op's
  /// backward (each value counted once, at its first user that needs it).
  double savedBytes = 0;
  /// Backward: FLOPs of the gradients with respect to activations (data) and
  /// parameters (weights), and memory traffic.
  double bwdDataFlops = 0;
  double bwdWeightFlops = 0;
  double bwdBytes = 0;
  /// Bytes the op holds while it runs beyond its operands and results (an
  /// attention's scores and probabilities, B x I x J each, in the larger of
  /// its forward and backward, counted in its accumulator type, f32 for a
  /// 16-bit attention, whatever the plan's precision): part of its working
  /// set.
  double internalBytes = 0;
  /// At most this many of them on a device, whatever its share (an
  /// attention's lowering computes a block of its batch at a time,
  /// getAttentionBatchBlock); 0: no such bound.
  double internalBytesLimit = 0;
  /// The blocks the lowering computes the op in at the whole batch
  /// (getInternalBlocks): its kernels launch once per block.
  double getBlocks() const {
    return getInternalBlocks(internalBytes, internalBytesLimit);
  }
  /// The element type the op computes in.
  Type elementType;
  /// A 2-D convolution, as cuDNN takes them (seven loops: its rate in a
  /// training step, CostModel::getConvolutionComputeType).
  bool convolution = false;
  /// The op was not understood and its numbers are a conservative estimate.
  bool estimated = false;
  /// The op runs inside its users' kernels (Analysis/Fusion.h; a tensor
  /// made from a scalar, isMadeFromScalar, too): it moves no
  /// bytes of its own (its users read its inputs instead of its result, in
  /// the forward and, as the chain fuses there too, in the backward) and
  /// launches no kernel.
  bool fused = false;
  /// The op runs inside an earlier op's row kernel (Analysis/Fusion.h,
  /// findRowKernels): its forward launches nothing of its own (kernels 0)
  /// and reads from cache what the kernel read or wrote before it.
  bool inRowKernel = false;
  /// The op runs in the call of the product before it, as its cuBLASLt
  /// epilogue (Analysis/Fusion.h, getGemmEpilogue; a 16-bit training
  /// step's product, accumulated in f32 and rounded, with its rounding;
  /// no activation: a training step keeps the product for its gradient):
  /// its forward launches nothing and reads only the bias and the
  /// residual. A tanh-GELU runs there too, writing the sum its backward
  /// reads (cuBLASLt's GELU_AUX_BIAS; keepsAux), and so does a ReLU whose
  /// backward runs in a product's epilogue, writing the bitmask that
  /// backward reads (RELU_AUX_BIAS, DRELU_BGRAD; keepsAux), unless the
  /// planner's recomputation makes them again (then it is a kernel,
  /// bytesAlone).
  bool inEpilogue = false;
  bool keepsAux = false;
  /// For an op in a row kernel (its first op or a later member): the
  /// kernel's rows, which a device's share may leave too few for one (a
  /// sharded or microbatched batch: the planner asks again of the share).
  double rowKernelRows = 0;
  /// For an op in a row kernel or a GEMM's epilogue: the bytes its forward
  /// moves as a kernel of its own, reading everything from memory.
  double bytesAlone = 0;
  /// For an op in a row kernel (or fused into its members) whose backward
  /// runs in that kernel's backward (the lowering's row kernel over the
  /// same rows: a softmax's gradient, a LayerNorm's): the data gradient
  /// launches nothing of its own but at the kernel's first op with a
  /// backward (bwdDataInRowKernel), reads a gradient made in the kernel or a
  /// value the kernel already loaded from cache and writes an input's gradient
  /// once; the weight gradient (a column sum over the rows) stays a kernel
  /// of its own reading from memory, `bwdWeightBytes` of bwdBytes (-1: the
  /// data and weight parts split bwdBytes in proportion to their FLOPs).
  /// `bwdBytesAlone`: the backward as kernels of their own (a device's share
  /// of the rows too few for a row kernel).
  /// `bwdRowKernelRows`: that kernel's rows (0: the backward is priced op
  /// by op), which a device's share may leave too few for one.
  bool bwdDataInRowKernel = false;
  /// A fused op whose parameter's gradient is a column sum (a bias add
  /// fused into a residual add): that sum is a kernel of its own, reading
  /// the result's gradient (bwdWeightLaunches).
  bool bwdWeightKernel = false;
  double bwdWeightBytes = -1;
  double bwdBytesAlone = 0;
  double bwdRowKernelRows = 0;
  /// The earlier op whose kernel or library call this op runs in (a row
  /// kernel's first op, an epilogue's product); null when it runs its own.
  /// A cut between the two (a pipeline stage boundary) would break that
  /// kernel.
  Operation *runsIn = nullptr;
  /// For an attention (or gradient) priced as cuDNN's fused attention
  /// (getFusedAttentionForm; 0 otherwise): its query rows' stacks, and an
  /// attention's price as the
  /// decomposition, which a device whose query rows are part of a stack
  /// of several builds (its rows' position in their stack offset: cuDNN's
  /// mask is not that); the planner prices such a split so.
  int64_t fusedAttentionStacks = 0;
  std::shared_ptr<const OpWorkload> decomposedAttention;
  /// A fused attention's query rows and keys, and whether its mask is
  /// causal: where its rows are split over `parts` devices, each keeps
  /// cuDNN's call, its mask offset by its first row (within its stack),
  /// and the one with a stack's last rows computes the most:
  /// getRowSplitImbalance.
  int64_t attentionRows = 0, attentionKeys = 0;
  bool causalAttention = false;
  /// How much more than an even 1/`parts` share of the scores the busiest
  /// of `parts` devices computes where a fused attention's rows are split:
  /// 1 for a mask that is not causal or whole stacks a device; for a share
  /// of one stack, the last share's scores over an even one's; none where
  /// a device's rows would cross a stack's end (built decomposed).
  std::optional<double> getRowSplitImbalance(int64_t parts) const;
  /// Kernels the op's forward and its backward each launch when it is not
  /// fused: one, but an attention's decomposition runs several (and once
  /// per block of its batch: the planner multiplies by the blocks,
  /// internalBytesLimit).
  double kernels = 1;
  double bwdKernels = 1;
  /// Kernels the op launches, forward and backward (0 when fused).
  double launches() const { return fused ? 0.0 : kernels; }
  double bwdLaunches() const { return fused ? 0.0 : bwdKernels; }
  double bwdDataLaunches() const {
    return bwdDataInRowKernel ? 0.0 : bwdLaunches();
  }
  double bwdWeightLaunches() const {
    return bwdWeightKernel ? bwdKernels : bwdLaunches();
  }
  /// The backward's bytes `bytes` (bwdBytes, or a share of it) split into
  /// the data and the weight gradients' kernels.
  std::pair<double, double> splitBwdBytes(double bytes) const {
    if (bwdWeightBytes >= 0 && bwdBytes > 0) {
      double weight = bytes * bwdWeightBytes / bwdBytes;
      return {bytes - weight, weight};
    }
    return splitBwdBytesByFlops(bytes);
  }
  /// `bytes` split in proportion to the data and weight gradients' FLOPs
  /// (all data without FLOPs).
  std::pair<double, double> splitBwdBytesByFlops(double bytes) const {
    double total = bwdFlops();
    if (total <= 0)
      return {bytes, 0.0};
    return {bytes * bwdDataFlops / total, bytes * bwdWeightFlops / total};
  }

  double bytes() const { return bytesRead + bytesWritten; }
  double bwdFlops() const { return bwdDataFlops + bwdWeightFlops; }
  /// FLOPs per byte moved (forward).
  double intensity() const { return bytes() > 0 ? flops / bytes() : 0.0; }
};

/// Sums over a function.
struct WorkloadTotals {
  double params = 0;
  double paramBytes = 0;
  double forwardFlops = 0;
  double forwardMacs = 0;
  double backwardFlops = 0;
  double activationBytes = 0;
  double bytes = 0;
  /// Attentions (and their gradients) priced as cuDNN's fused call.
  int64_t cudnnAttentions = 0;
};

/// The workload of one function.
class FunctionWorkload {
public:
  explicit FunctionWorkload(FunctionOpInterface func,
                            WorkloadOptions options = {});

  FunctionOpInterface getFunction() const { return func; }
  const ArgumentRoles &getRoles() const { return roles; }
  /// Ops that do work, in program order (reshapes and other free ops are
  /// left out).
  ArrayRef<OpWorkload> getOps() const { return ops; }
  const OpWorkload *lookup(Operation *op) const;
  const WorkloadTotals &getTotals() const { return totals; }
  int64_t getBatchSize() const { return roles.getBatchSize(); }
  /// Values whose gradients need synchronising when the batch is split:
  /// the parameters that some op reads.
  ArrayRef<Value> getGradientValues() const { return gradientValues; }
  /// Whether `value` carries a gradient in training (a parameter, or
  /// computed from one).
  bool requiresGradient(Value value) const {
    return requiresGrad.contains(value);
  }

private:
  void analyzeOp(Operation *op);
  /// Whether `op` is a transpose of the heads' views (a [b, s, h * d]
  /// projection's into [b, h, s, d], or back) that cuDNN's fused attention
  /// reads or writes in place, forward and backward, so that the CUDA
  /// backend builds no transpose (autopar-attention-to-cudnn; which also
  /// needs the strides to fit, which nearly every model's do).
  bool isInPlaceByFusedAttention(Operation *op) const;
  /// The form cuDNN's fused attention computes `op` in, when the backend
  /// builds it so (the options).
  std::optional<FusedAttentionForm>
  getBuiltFusedForm(AttentionOpInterface op) const;

  FunctionOpInterface func;
  WorkloadOptions options;
  ArgumentRoles roles;
  SmallVector<OpWorkload> ops;
  llvm::DenseMap<Operation *, unsigned> index;
  WorkloadTotals totals;
  SmallVector<Value> gradientValues;
  /// Values that carry a gradient (parameters and what is computed from
  /// them) and values already counted as saved for the backward.
  llvm::DenseSet<Value> requiresGrad;
  llvm::DenseSet<Value> saved;
  /// Per fused op, the bytes a user reads in place of its result: the
  /// op's own reads (its inputs, fused producers' inputs in turn).
  llvm::DenseMap<Operation *, double> fusedReads;
  /// The block's row kernels (findRowKernels: each later member's first
  /// op), and per kernel whose rows fit in cache the values its members
  /// have loaded or written so far (read again from cache).
  llvm::DenseMap<Operation *, Operation *> rowKernelSeeds;
  llvm::DenseSet<Operation *> rowKernelStarts;
  llvm::DenseMap<Operation *, llvm::DenseSet<Value>> rowKernelValues;
  /// Per row kernel (its first op), what its backward (the lowering's row
  /// kernel of the gradients over the same rows) has loaded so far and
  /// the gradients of values from outside it that it writes, and whether
  /// a member has taken its launch (the first with a backward of its own:
  /// a softmax's maximum has none, isSoftmaxShift).
  struct RowKernelBackward {
    llvm::DenseSet<Value> loaded, written;
    bool launched = false;
  };
  llvm::DenseMap<Operation *, RowKernelBackward> rowKernelBackward;
  /// The values a read of `value` loads: its own, or a fused producer's
  /// inputs (in turn).
  void collectLoaded(Value value, SmallVectorImpl<Value> &loaded) const;
  /// The row kernel (its first op) `op` runs in: as its first op, a later
  /// member, or fused into ops that all run in it; null otherwise.
  Operation *getRowKernelOf(Operation *op, unsigned depth = 0) const;
};

/// The workload analysis of a module (or of one function): one
/// FunctionWorkload per function with a body. Ops it does not understand get
/// a warning and a conservative estimate. With the default options, use
/// through `getAnalysis<WorkloadAnalysis>()` so later passes share the
/// result.
class WorkloadAnalysis {
public:
  explicit WorkloadAnalysis(Operation *op, WorkloadOptions options = {});

  ArrayRef<std::unique_ptr<FunctionWorkload>> getFunctions() const {
    return functions;
  }
  /// The workload of `op`, or null when it does no work.
  const OpWorkload *lookup(Operation *op) const;

private:
  SmallVector<std::unique_ptr<FunctionWorkload>> functions;
};

} // namespace mlir::autopar

#endif // AUTOPAR_ANALYSIS_WORKLOAD_H
