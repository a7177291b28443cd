//===- Zero.h - ZeRO as shardings of a training step ------------*- C++ -*-===//
//
// ZeRO (Rajbhandari et al., SC'20) needs no collective of its own: each
// stage is a sharding of the training step over the data axes of its
// parameters, and autopar-partition's resharding emits the collectives.
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_PARTITION_ZERO_H
#define AUTOPAR_PARTITION_ZERO_H

#include "autopar/Dialect/AutoparAttrs.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"

namespace mlir::autopar {

/// Places the optimizer update of the training step `step` (whose ops carry
/// strategies, as autopar-propagate leaves them) by ZeRO stage, over each
/// parameter's data axes (the mesh axes whose batch split makes its
/// gradient a partial sum):
///  * stage 0: the update and the optimizer state are laid out like the
///    parameter: the gradient is all-reduced;
///  * stage >= 1: the update ops and the optimizer state are split over the
///    data axes along one dimension of the parameter: the gradient is
///    reduce-scattered into the shard instead of all-reduced, and the new
///    parameter is all-gathered (in a single-batch step, stages 1 and 2 are
///    the same program);
///  * stage 3: the parameter itself stays sharded between steps; an
///    `autopar.shard` pin before its forward uses and another before its
///    backward uses gather it where it is needed (twice, as ZeRO-3 does, so
///    the whole parameter is not live between the forward and the backward).
/// Under mixed precision the parameter argument is an f32 master cast to a
/// 16-bit working copy: from stage 1 the master is kept split (it is
/// optimizer state, as ZeRO counts it), the cast runs on the shard and the
/// 16-bit copy is what is gathered.
/// Parameters no dimension of which divides over their data axes keep the
/// replicated update. The result updating an argument is not touched: the
/// caller gives it the argument's sharding. `stageOf` gives each
/// parameter's ZeRO stage (a pipeline's stages may differ).
void applyZeroSharding(func::FuncOp step, MeshAttr mesh,
                       FlatSymbolRefAttr meshRef,
                       function_ref<unsigned(Value)> stageOf);

} // namespace mlir::autopar

#endif // AUTOPAR_PARTITION_ZERO_H
