//===- Sequentializer.h - a step's microbatches as a loop or stages -*- C++ -*-===//
//
// The shared core of Microbatch.cpp (the loop of microbatches) and
// PipelineProgram.cpp (the per-stage programs of a pipeline): the program
// autopar-partition leaves on a mesh with the microbatch axis, split into
// one microbatch's ops, the collectives over the microbatches that end them
// (accumulators) and what runs before and after.
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_LIB_PARTITION_SEQUENTIALIZER_H
#define AUTOPAR_LIB_PARTITION_SEQUENTIALIZER_H

#include "autopar/Dialect/AutoparOps.h"
#include "autopar/Partition/Microbatch.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "llvm/ADT/SetVector.h"

namespace mlir::autopar::detail {

bool isOnMicrobatchAxis(ArrayAttr axes);
bool isMicrobatchCollective(Operation *op);
/// `lhs` combined with `rhs` by `kind`, element type of `lhs`.
Value combine(OpBuilder &b, Location loc, ReductionKind kind, Value lhs,
              Value rhs);
/// An element-by-element linalg.generic over `input` into `init`: `body`
/// maps (input element, init element) to the result element.
Value mapElements(
    OpBuilder &b, Location loc, Value input, Value init,
    function_ref<Value(OpBuilder &, Location, Value, Value)> body);

/// One collective over the microbatches: a value the loop carries.
struct Accumulator {
  CollectiveOpInterface collective;
  /// What each iteration contributes (the collective's input, or the f32
  /// input of a rounding cast feeding it).
  Value contribution;
  /// The rounding cast applied after the loop instead of per iteration.
  Operation *rounding = nullptr;
  /// The loop-carried value's type.
  RankedTensorType carried;
  ReductionKind kind = ReductionKind::Sum;
};

/// An accumulator's value before the first microbatch: the reduction's
/// identity, or an empty tensor the microbatches' blocks fill.
Value startAccumulator(OpBuilder &b, Location loc, const Accumulator &acc);
/// `sum` with microbatch `microbatch`'s `contribution` added (16-bit
/// contributions extended to the carried f32), or its block inserted;
/// right after the contribution's producer when that is in `b`'s block (a
/// last microbatch's sum is then ready, and its synchronisation can start,
/// before the rest of its backward runs).
Value accumulate(OpBuilder &b, const Accumulator &acc, Value sum,
                 Value contribution, OpFoldResult microbatch);

/// Whether the step synchronises `acc`'s accumulated value, a tensor of
/// rank 1 or more, over real axes (a data-parallel all-reduce or ZeRO-1's
/// reduce-scatter of a gradient reads it): then
/// the last microbatch runs outside the loop, so that the synchronisation
/// can start inside its backward (peelLastIteration).
bool isSynchronised(const Accumulator &acc);
/// Runs the last of `loop`'s iterations after it, straight-line (the loop,
/// from 0 by 1 to a constant, then runs one fewer), and makes what read
/// the loop's results read that iteration's yields instead; returns them
/// (the loop's results, unchanged, when its trip count is not a constant
/// of at least 1). Each op of that iteration can then be followed by what
/// reads its value once the microbatches are done: a gradient's
/// synchronisation starts right after its last microbatch's backward made
/// it (autopar-group-collectives emits it there), as the planner prices it
/// (Cost/Overlap.h).
SmallVector<Value> peelLastIteration(OpBuilder &b, scf::ForOp loop);

class Sequentializer {
public:
  Sequentializer(func::FuncOp func, FlatSymbolRefAttr meshRef,
                 MeshAttr microMesh)
      : func(func), body(func.front()), meshRef(meshRef), microMesh(microMesh),
        builder(func.getContext()),
        count(microMesh.getAxisSize(kMicrobatchAxisName)) {}

  LogicalResult run();
  /// With `pipeline`, per-stage programs instead of the loop.
  const PipelineProgramOptions *pipeline = nullptr;

private:
  /// Replaces the device coordinates involving the microbatch axis by
  /// arithmetic on one coordinate along it alone (`microbatch`).
  void isolateCoordinate();
  /// Moves reductions over real axes after the accumulation over the
  /// microbatches (one collective per step instead of one per microbatch).
  void reduceOncePerStep();
  /// The ops of one microbatch and the collectives that end the loop.
  LogicalResult collectLoopBody();
  void buildLoop();
  /// The loop-carried values, in the order of their collectives.
  SmallVector<Accumulator> collectAccumulators();
  /// `acc`'s collective's value from the accumulated `value` (the rounding
  /// the microbatches skipped, the collective's element type).
  Value finishAccumulator(OpBuilder &b, const Accumulator &acc, Value value);
  /// PipelineProgram.cpp: the stages' programs in a switch on the stage.
  LogicalResult buildStagePrograms();

  Operation *ancestor(Operation *op) { return body.findAncestorOpInBlock(*op); }
  /// The ZeRO stage `op` runs at: its pipeline chunk's (getStageStep; the
  /// chunk assignChunks gives it, Search/ChunkAssignment.h); the step's
  /// when the stages do not differ or it has no chunk.
  int64_t getZeroStage(Operation *op);
  /// Whether the all_gather `op` runs in each microbatch rather than once
  /// before them, when only microbatches read it: ZeRO-3's gathers of a
  /// parameter (tagged with their layer), and any other gather read only
  /// by ops at ZeRO-3.
  bool isGatheredEachMicrobatch(Operation *op);

  func::FuncOp func;
  Block &body;
  FlatSymbolRefAttr meshRef;
  MeshAttr microMesh;
  OpBuilder builder;
  int64_t count;
  Value microbatch;
  DenseSet<Operation *> inLoop, afterLoop;
  SetVector<Operation *> boundary;
  /// getZeroStage's chunks (assignChunks), made when first asked for;
  /// reduceOncePerStep keeps them up to date. Only reduceOncePerStep and
  /// collectLoopBody ask.
  std::optional<DenseMap<Operation *, int64_t>> chunks;
};

} // namespace mlir::autopar::detail

#endif // AUTOPAR_LIB_PARTITION_SEQUENTIALIZER_H
