//===- Fusion.h - which ops run inside their users' kernels -----*- C++ -*-===//
//
// The one rule of producer-consumer fusion, shared by the code generators
// (autopar-fuse-elementwise, which both backends run before bufferization)
// and the cost model (the workload analysis prices a fused op's memory
// traffic and launch where its users run it). Both ask the same question of
// each op, so the kernels priced are the kernels built.
//
// An op is fused into its users when it is a `linalg.generic` on tensors
// (or a named elementwise op such as `linalg.add`, as the generic it stands
// for) with one result and parallel loops only (elementwise work,
// broadcasts, transposes), and every use of its result is an input of such
// an op with a parallel loop (a reduction to a scalar runs as host code) in
// the same block that upstream's elementwise fusion accepts
// (`linalg::areElementwiseOpsFusable`) and that is neither a contraction,
// a convolution nor any reduction whose body is a multiply-accumulate (those
// go to cuBLAS and cuDNN, whose calls take no prologue; the one exception, a
// widening of a 16-bit value read by a contraction whose other operand
// holds the same 16-bit type, goes into its body: the library call reads
// the 16-bit values, as a 16-bit PyTorch export's products should), and
// the producer's body does not read its result's initial value. It has at most
// kMaxFusedUsers users, and with more than one its inputs are at most
// kMaxFusedInputRatio times its result's size: each user runs the
// producer's body again on the producer's inputs, so the producer's result
// is never written or read, and its kernel is never launched.
//
// The second rule, horizontal (autopar-fuse-parallel-loops, after the loops
// are built; the cost model's optimizer update): neighbouring loop nests
// that touch disjoint buffers run as one kernel over their iteration spaces
// one after another, as many as fit in kMaxMergedLoops nests and
// kMaxMergedArgumentBytes of kernel arguments (each buffer passes its
// memref descriptor: two pointers, an offset, a size and a stride per
// dimension). The optimizer's update of every parameter (a nest over its
// parameter, gradient and states each) is the case it is made for.
//
// The third, rows (autopar-row-kernels, the CUDA backend's): a reduction
// over the trailing loops of kRowKernelMinRows rows or more, each of
// kRowKernelMinLength elements or more, and the generics after it over the
// same rows that read it run as one kernel with a block of threads per row,
// each member after the first reading the row from cache. The cost model
// asks formsRowKernel of an attention's decomposition (its rows per block,
// its keys per row): the softmax's maximum, sum, division and lse one
// kernel, the backward's row term and dS another; and findRowKernels of a
// forward's ops on tensors (an unfused softmax, a LayerNorm, the loss),
// which restates the pass's grouping (lib/Conversion/LinalgToCUDA/
// RowKernels.cpp, on buffers) before bufferization.
//
// The fourth, GEMM epilogues (autopar-contractions-to-cublas, the CUDA
// backend's): an elementwise op that adds a bias over the last loop to a
// product (and a residual, C; and may apply a ReLU or tanh-GELU) runs
// inside the product's cuBLASLt call. The pass and the cost model share
// the op's form (matchEpilogueForm); the cost model restates on tensors
// the pass's conditions on buffers (getGemmEpilogue). A 16-bit training
// step's product is rounded from f32 before its bias is added: the
// rounding runs in the call too, and the bias's cast to 16 bits is kept
// out of the epilogue (isEpilogueBias), its own loop beside the other
// working copies' casts (merged with them by the second rule). A training
// step's tanh-GELU folds with its sum kept for the backward (cuBLASLt's
// GELU_AUX_BIAS): that sum is not fused into its users (isGeluAuxSum). A
// training step's ReLU after a bias folds with a bitmask kept for the
// backward instead of the product (RELU_AUX_BIAS, getReluMaskBytes), its
// backward in the epilogue of the product that makes its gradient
// (DRELU_BGRAD; isReluGradient, isActivationGradientInEpilogue).
//
// The fifth, layouts (autopar-fuse-elementwise, both backends): a 2-D
// transpose read only by 2-D contractions, or of a 2-D contraction's
// one-use result, runs inside them: the contraction reads (or writes)
// through the composed map (isTransposeFoldedIntoUsers,
// isTransposeFoldedIntoProducer). The cost model prices such a transpose
// as fused (no launch, no bytes; its backward, the gradient's transpose,
// folds the same way).
//
// Last, constants: a tensor made from nothing but a scalar
// (isMadeFromScalar) is made inside its users' kernels, never as a kernel
// of its own or a buffer they read: a GEMM writes with beta = 0, a row
// kernel or a reduction starts from the value in registers, a fill runs in
// the loop nest that accumulates into it (autopar-fuse-parallel-loops).
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_ANALYSIS_FUSION_H
#define AUTOPAR_ANALYSIS_FUSION_H

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/Block.h"
#include "mlir/IR/Operation.h"
#include "mlir/IR/Types.h"
#include "llvm/ADT/DenseMap.h"

namespace mlir::autopar {

/// Users a fused producer's body may be repeated in.
constexpr unsigned kMaxFusedUsers = 4;
/// A producer with several users is repeated in each only when its inputs
/// are together at most this many times the size of its result.
constexpr double kMaxFusedInputRatio = 1.25;

/// A generic on tensors, or a named elementwise op on tensors (linalg.add,
/// linalg.exp, ...), which fuses as the generic it stands for.
bool isFusionCandidate(Operation *op);

/// Whether the producer of `use`'s value can run inside `use`'s owner:
/// the pair is elementwise-fusable as above.
bool canFuseIntoUser(OpOperand &use);

/// Whether `op` runs inside its users' kernels: canFuseIntoUser holds for
/// every use of its one result, and there are 1 to kMaxFusedUsers of them.
bool isFusedIntoUsers(Operation *op);

/// Loop nests one merged kernel runs at most.
constexpr unsigned kMaxMergedLoops = 64;
/// Kernel argument bytes a merged kernel takes at most: under the 4 KiB
/// every CUDA device and driver accepts.
constexpr int64_t kMaxMergedArgumentBytes = 4000;

/// Bytes `type` takes as a kernel argument: a memref its descriptor (8
/// bytes a field), any other value 8.
int64_t getKernelArgumentBytes(Type type);

/// Loop nests over `buffers` distinct buffers of rank `rank` each that one
/// merged kernel runs (at least 1).
unsigned getLoopsPerMergedKernel(unsigned buffers, unsigned rank);

/// Rows a row reduction needs, at least, to become a row kernel (fewer
/// leave the GPU's blocks idle), and elements each row needs.
constexpr int64_t kRowKernelMinRows = 1024;
constexpr int64_t kRowKernelMinLength = 64;

/// Whether a row reduction over `rows` rows of `length` elements becomes a
/// row kernel (the defaults of autopar-row-kernels' options).
bool formsRowKernel(double rows, double length);

/// Whether `generic` (on tensors or buffers, with static loop ranges)
/// starts a row kernel: a row reduction (getRowReductionLoops) over
/// `minRows` rows or more of `minLength` elements or more, read along its
/// rows (getContiguousLoop is its last loop). autopar-row-kernels asks it
/// with its options, findRowKernels with the defaults.
bool isRowKernelSeed(linalg::GenericOp generic,
                     int64_t minRows = kRowKernelMinRows,
                     int64_t minLength = kRowKernelMinLength);

/// The bytes of one row a row kernel's later members read again from
/// cache, at most: a block's share of an SM's L1 (256 KiB on an H100, 8
/// blocks of 256 threads). Longer rows (a loss over 50257 classes) are
/// priced as read from memory by each member. Not yet measured on a GPU.
constexpr double kRowKernelCacheBytes = 32 * 1024;

/// Ops the later members of a row kernel may move past, at most (a
/// LayerNorm gradient's column sums and copies between its row sums: 5).
constexpr unsigned kRowKernelMaxStayed = 16;

/// The row kernels autopar-row-kernels makes of `block`'s linalg ops on
/// tensors, as the cost model predicts them: for each op that runs inside
/// an earlier op's row kernel (a later member), that kernel's first op (its
/// seed, a row reduction for which formsRowKernel holds, reading its rows
/// contiguously). A later member is a generic over the same leading row
/// ranges, elementwise or reducing the same rows, that reads what the
/// kernel wrote (or is another reduction of those rows), every such read at
/// its own row, and whose operands are ready where the seed runs; ops fused
/// into their users, fills and ops without memory effects are passed over,
/// other linalg ops stay behind (at most kRowKernelMaxStayed), anything
/// else (a library call) ends the kernel.
llvm::DenseMap<Operation *, Operation *> findRowKernels(Block &block);

/// The activation a GEMM epilogue applies to its sum (cuBLASLt's bias
/// epilogues: none, ReLU, and GELU, which cuBLASLt computes in its tanh
/// form: x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))).
enum class EpilogueActivation { None = 0, Relu = 1, GeluTanh = 2 };

/// An elementwise op in a GEMM epilogue's form: act(x [+ b] [+ r]), with a
/// bias, a residual or an activation.
struct EpilogueForm {
  /// The bias, if any: a rank-1 operand indexed by the last loop alone.
  Value bias;
  /// The summed operands indexed by the loops (identity maps): the product
  /// and, if there are two, a residual (C of cuBLASLt's D = act(A B + C +
  /// bias)).
  SmallVector<Value, 2> terms;
  /// The term, if any, read rounded to a narrower float type (`truncf`):
  /// a 16-bit training step's product, accumulated in f32 and rounded
  /// where its bias is added. The call computes in f32 and rounds once,
  /// after the bias (where the IR rounds the product, then the sum).
  Value rounded;
  /// The op rounds its whole result to a narrower float type instead
  /// (`truncf` of act(sum)), its other operands read widened (`extf`) from
  /// that type: a 16-bit PyTorch export's layer, summed in f32 and rounded
  /// once, as the call computes it.
  bool roundsResult = false;
  EpilogueActivation activation = EpilogueActivation::None;
  /// On tensors, the elementwise producers fused into the op (their one
  /// user) that the form was read through: a bias add fused into the
  /// residual add or the GELU after it, as autopar-fuse-elementwise merges
  /// them before the lowering sees one op.
  SmallVector<Operation *, 2> through;
};

/// Whether `generic` (on tensors or buffers) has a GEMM epilogue's form:
/// parallel loops only, one output indexed by the loops and not read, and
/// a body (with, on tensors, the bodies of the single-use elementwise
/// producers fused into it) that yields act(t1 + ... + tn) of its operands,
/// each once: at most one bias (EpilogueForm::bias), one or two operands
/// indexed by the loops (one of which may be read rounded to a narrower
/// float, EpilogueForm::rounded), and nothing else; a bias, a second operand or
/// an activation at least (LLaMA's residual adds have no bias). The activation
/// is max(s, 0) (ReLU) or a function of the sum alone that equals tanh-GELU's
/// to 1e-6 at fixed points, evaluated in double precision (any way of writing
/// it: x^3 as a power or products, tanh or 2 sigmoid - 1); erf-GELU, 1e-4 from
/// it, is no epilogue cuBLASLt has.
std::optional<EpilogueForm> matchEpilogueForm(linalg::GenericOp generic);

/// The product in whose cuBLASLt call `generic`, on tensors, runs as its
/// epilogue (the lowering's fold, as the cost model predicts it), with the
/// form it folds: `generic` has an epilogue's form (matchEpilogueForm), is
/// not fused into its users, and one of its terms is the result of a
/// contraction without batch loops stored [m, n] (or that result with its
/// rows split into leading dimensions), used by nothing else, whose inputs,
/// result, bias and residual are of one type, with nothing that touches
/// memory between the two but the producers the form was read through. A
/// 16-bit training step's product (16-bit inputs accumulated into f32) may
/// be read rounded to its inputs' type, by the op itself or through a
/// rounding op (getRoundedProduct) and the view: the call writes D in the
/// inputs' type.
struct GemmEpilogue {
  Operation *product = nullptr;
  EpilogueForm form;
  /// The term that is not the product, if any: C, read by the call.
  Value residual;
  /// For a GELU of a sum the call keeps (isGeluAuxSum): that sum, written
  /// by the call as cuBLASLt's AUX.
  Value aux;
};
std::optional<GemmEpilogue> getGemmEpilogue(linalg::GenericOp generic);

/// Whether `generic` (on tensors or buffers) computes tanh-GELU of its one
/// input, elementwise (identity maps).
bool isGeluOfInput(linalg::GenericOp generic);

/// Whether `generic` (on tensors or buffers, two inputs, identity maps)
/// computes, elementwise, its input `gradient` times tanh-GELU's
/// derivative at its input `sum`: a training step's GELU backward, which
/// cuBLASLt runs in the epilogue of the product that makes the gradient
/// (DGELU, the sum read as AUX).
bool isGeluGradient(linalg::GenericOp generic, unsigned gradient, unsigned sum);

/// Whether the backward of `activation`, a GELU whose sum a training step
/// keeps (GELU_AUX_BIAS) or a ReLU whose mask it keeps (RELU_AUX_BIAS),
/// runs in the epilogue of the product that makes its gradient, with its
/// bias's gradient (cuBLASLt's DGELU_BGRAD or DRELU_BGRAD; the lowering's
/// matchGeluGradient and matchReluTraining): f32, and its result read only
/// by a 2-D contraction, directly or with its leading dimensions merged (a
/// dense layer's [b * s, n] view), whose data gradient is that product.
/// Or 16-bit (a 16-bit export's GELU: DGELU with a 16-bit D, rounded once;
/// its bias's gradient stays an f32 sum of its own): then read widened by
/// a widening fused into that contraction.
bool isActivationGradientInEpilogue(linalg::GenericOp activation);

/// When `op` is an elementwise producer fused into a GELU (through its
/// one-use users: torch-mlir writes tanh-GELU as a chain of ops, each
/// reading the sum; or the bias add before it) whose product's call keeps
/// the sum (GELU_AUX) and whose backward runs in an epilogue
/// (isActivationGradientInEpilogue): the value the GELU is of, as it reads
/// it. Then `op` has no backward kernel either, and writes no gradient of
/// that value (the epilogue's D) nor of other fused values; else null.
Value getFusedGeluGradientSum(Operation *op);

/// Whether `generic` (on tensors or buffers; one init) yields, element for
/// element, its input `gradient` where the sum of its inputs `terms` (the
/// product, and its bias if any) is positive and 0 where it is negative: a
/// training step's ReLU backward, any way it is written (evaluated at
/// points on both sides of 0; at exactly 0 either value, the IR's
/// `x >= 0` or cuBLASLt's mask). With `accumulated`, the body adds that to
/// its init (a bias's gradient summed over rows).
bool isReluGradient(linalg::GenericOp generic, unsigned gradient,
                    ArrayRef<unsigned> terms, bool accumulated = false);

/// cuBLASLt keeps a ReLU's mask (RELU_AUX) as a bitmask, one bit an
/// element, each of D's columns (row-major: each row of [m, n]) padded to
/// a multiple of this many bits (CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD).
/// Only cuBLASLt reads it (DRELU), so its bit order is never relied upon.
constexpr int64_t kReluMaskLdAlignment = 128;

/// The bytes of the ReLU mask of a row-major [rows, columns] product.
int64_t getReluMaskBytes(int64_t rows, int64_t columns);

/// Whether cuBLASLt can keep a GELU's input of this shape as its AUX
/// matrix: a static last dimension (AUX's leading dimension) that is a
/// multiple of 8 (cublasLt.h, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD).
bool isGeluAuxShape(Type type);

/// Whether `op`, on tensors, is a bias added to a product (a GEMM epilogue
/// without activation or residual) that a tanh-GELU of it alone reads, and
/// others too (a training step's GELU backward), or that GELU through the
/// sum's rows split into leading dimensions (a Hugging Face GPT-2's
/// Conv1D: [b * s, n] viewed [b, s, n], which the GELU cannot fuse
/// across), its last dimension a multiple of 8: it is not fused into its
/// users (isFusedIntoUsers) but
/// written by the product's cuBLASLt call as AUX, beside the GELU's result
/// (cuBLASLt's GELU_AUX_BIAS); the GELU runs in that call
/// (GemmEpilogue::aux), and the backward reads the sum.
bool isGeluAuxSum(Operation *op);

/// Whether `op` is such a sum read through its rows split (isGeluAuxSum)
/// whose GELU's backward runs in a product's epilogue
/// (isActivationGradientInEpilogue): then the bias's gradient, this op's
/// backward, is summed there too (DGELU_BGRAD). Where the GELU reads the
/// sum itself, the bias add is fused into it and the GELU's backward
/// carries the bias's gradient.
bool isViewedGeluSumGradientInEpilogue(Operation *op);

/// The 2-D contraction whose one-use result `op` only rounds to a narrower
/// float type (a generic with one input, identity maps and a body that
/// yields `truncf` of it), or null: a 16-bit training step's product,
/// accumulated in f32 (autopar-training's mixed precision). cuBLAS writes
/// the rounded result itself (autopar-contractions-to-cublas).
linalg::LinalgOp getRoundedProduct(Operation *op);

/// Whether `use` is the bias of a GEMM epilogue: a rank-1 operand read over
/// the last loop by an elementwise generic that also reads, over all its
/// loops, a 2-D contraction's result (or that result's rounding, or its
/// rows split into leading dimensions). cuBLASLt reads the bias from
/// memory in the result's type, so the bias's producer (a 16-bit working
/// copy's cast) is not fused into that user (canFuseIntoUser), unless it
/// widens a 16-bit bias (a 16-bit export's, whose sum is rounded back to
/// the bias's type: EpilogueForm::roundsResult).
bool isEpilogueBias(OpOperand &use);

/// Whether `op`, on tensors, copies its one input element for element
/// (parallel loops, identity maps, the input's type, `yield` of the input):
/// a gradient passed on unchanged, which autopar-fuse-elementwise forwards
/// to its users, and which a widening's users look through.
bool isElementCopy(linalg::LinalgOp op);

/// Whether `op` is a 2-D transpose (linalg.transpose, or a generic that
/// only copies its one input through a [1, 0] map) on tensors whose every
/// use is an input of a 2-D contraction (one m, one n and one k loop, no
/// batch): each reads the transpose's input through the composed map
/// instead (cuBLAS's transA / transB), so the transpose never runs.
/// PyTorch's linear layers export as a transpose of the weight and a
/// matmul (torch-mlir's decomposition of aten.linear).
bool isTransposeFoldedIntoUsers(Operation *op);

/// Whether `op` is a 2-D transpose on tensors of the one-use result of a 2-D
/// contraction that starts from a tensor made from a scalar: the
/// contraction writes the transposed result itself (its result map
/// composed with the inverse permutation; cuBLAS's product with the inputs
/// exchanged). A training step's weight gradients have this form (the
/// transpose's gradient of the product's).
bool isTransposeFoldedIntoProducer(Operation *op);

/// The transpose's input and its indexing map in the transpose's loops, for
/// the transposes the two rules above take.
std::pair<Value, AffineMap> getTransposedInput(Operation *op);

/// Whether `op` makes a tensor from nothing but a scalar: an operand-less
/// `tensor.empty`, or a `linalg.fill` of a scalar into one. Partitioning
/// makes such a value where it is needed, in the layout each user needs,
/// so it never moves between devices; the lowerings make it inside its
/// users' kernels.
bool isMadeFromScalar(Operation *op);

} // namespace mlir::autopar

#endif // AUTOPAR_ANALYSIS_FUSION_H
