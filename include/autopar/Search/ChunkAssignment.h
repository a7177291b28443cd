//===- ChunkAssignment.h - which pipeline chunk each op runs in -*- C++ -*-===//
//
// The one rule of where a pipelined step's ops run, shared by
// autopar-partition's stage programs, its microbatch loops (which ZeRO
// stage a collective runs at) and autopar-report-communication's
// prediction: an op's `autopar.stage` when the plan gave it one, else the
// chunk chooseChunk (Search/Pipeline.h) picks from the chunks of the values
// it reads (its operands and the values its regions use), the earliest for
// backward work (the gradient ops and what recomputation makes again, and
// whatever reads them) and the latest for the rest. Empty tensors and
// constant fills get none: each device that reads one makes it.
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_SEARCH_CHUNKASSIGNMENT_H
#define AUTOPAR_SEARCH_CHUNKASSIGNMENT_H

#include "mlir/IR/Block.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/STLFunctionalExtras.h"

namespace mlir::autopar {

/// The chunk of each op of `block` (but its terminator) that has one, in
/// one pass over the block. `isBackward(op)` says whether `op` is backward
/// work by itself (its tags); what reads backward work is backward work
/// too.
llvm::DenseMap<Operation *, int64_t>
assignChunks(Block &block, llvm::function_ref<bool(Operation *)> isBackward);

} // namespace mlir::autopar

#endif // AUTOPAR_SEARCH_CHUNKASSIGNMENT_H
