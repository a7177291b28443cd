//===- Microbatch.h - a step's batch as a loop of microbatches --*- C++ -*-===//
//
// Gradient accumulation without a transform of its own: the microbatches
// are one more mesh axis, the last, whose "devices" are the iterations of
// a loop. autopar-partition splits each op's batch loop over that axis as
// it splits loops over real axes (a device's local batch is cut into M
// slices; a weight gradient becomes a partial sum over the microbatches),
// and the collectives it emits over the axis say where the loop ends: an
// all_reduce over the microbatches is the accumulation of a gradient (or of
// the loss) across iterations, an all_gather over them the concatenation of
// a per-sample result. sequentializeMicrobatches then turns the program
// into that loop.
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_PARTITION_MICROBATCH_H
#define AUTOPAR_PARTITION_MICROBATCH_H

#include "autopar/Dialect/AutoparAttrs.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"

#include <string>

namespace mlir::autopar {

/// The name of the microbatch axis; it never leaves autopar-partition.
inline constexpr StringLiteral kMicrobatchAxisName = "#microbatches";

/// `mesh` with the microbatch axis of size `count` added last (its
/// coordinate varies fastest: a device's local batch is cut into `count`
/// consecutive slices).
MeshAttr getMeshWithMicrobatchAxis(MeshAttr mesh, int64_t count);

/// Rewrites `func`, a device's program partitioned on `microMesh` (a mesh
/// from getMeshWithMicrobatchAxis, referred to as `meshRef`), into one
/// whose ops that depend on the microbatch run in an `scf.for` over the
/// microbatches:
///  * the microbatch coordinate is the loop's induction variable;
///  * an all_reduce over the axis accumulates its operand across
///    iterations in a loop-carried value (16-bit floats in f32; a rounding
///    cast feeding it is applied once after the loop instead of per
///    microbatch), an all_gather over it inserts each iteration's block;
///  * the same value's reduction over real axes is taken once, after the
///    loop, except that a reduce_scatter of ops at ZeRO-2 or 3 stays in
///    the loop so only the gradient's shard is accumulated (the ZeRO stage
///    of the ops' pipeline stage, getStageStep, else the step's), and a
///    ZeRO-3 parameter's all_gather (tagged autopar.layer or
///    autopar.grad_of by the ZeRO sharding, or read only by ops at ZeRO-3)
///    used only in the loop runs in it;
///  * everything that does not depend on the microbatch runs once, before
///    the loop (parameter casts, constants) or after it (the update).
/// Fails with a diagnostic at the op that needs a value combined over the
/// whole batch before the microbatches end (a statistic over the batch, as
/// batch normalization takes), which no loop of microbatches can compute.
///
/// With `pipeline`, the program becomes the pipeline's per-stage programs
/// instead (PipelineProgram.cpp): see PipelineProgramOptions.
struct PipelineProgramOptions;
LogicalResult
sequentializeMicrobatches(func::FuncOp func, FlatSymbolRefAttr meshRef,
                          MeshAttr microMesh,
                          const PipelineProgramOptions *pipeline = nullptr);

/// A pipeline's per-device programs. The program's ops carry their chunk
/// (`autopar.stage`, from the plan through autopar-propagate: a stage, or
/// one of P * v chunks of the interleaved schedule, chunk c on device
/// c mod P; ops without one take it from what they read: a forward op the
/// latest of its operands' chunks, a backward op the earliest; ops that
/// read no staged value run on every device that needs them). The function
/// becomes a switch on the device's coordinate along the mesh's `stages`
/// axis, one straight-line program per device: its chunks' forward (F) and
/// backward (B) of each microbatch in the schedule's order
/// (getPipelineActions), a value another device made received
/// (`autopar.recv`) before the work that reads it and a value another
/// device reads sent (`autopar.send`) after it, each device taking a
/// peer's values in the order the peer sends them, gradients accumulated
/// over the microbatches, then the device's once-per-step work
/// (synchronisation, the update). A result belongs to the device that makes
/// it (result attribute `autopar.stage`): the other devices return its
/// argument's value (a parameter's update) or zeros.
struct PipelineProgramOptions {
  /// Devices along the stages' axis (P).
  int64_t stages = 1;
  /// "gpipe", "1f1b" or "interleaved" (getPipelineActions, Pipeline.h).
  std::string schedule = "1f1b";
  /// Chunks per device (v): the ops' `autopar.stage` is a chunk below
  /// P * v, chunk c on device c mod P.
  int64_t virtualStages = 1;
  /// The schedule's actions as loops over the microbatches
  /// (getPipelineLoops); false unrolls them.
  bool loops = true;
};

} // namespace mlir::autopar

#endif // AUTOPAR_PARTITION_MICROBATCH_H
