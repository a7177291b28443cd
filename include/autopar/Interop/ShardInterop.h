//===- ShardInterop.h - autopar plans and upstream shard IR -----*- C++ -*-===//
//
// What autopar-export-shard annotates at a function's boundary, for tools
// (autopar-run) that run upstream's shard-partition on an exported plan and
// need to know the layout of the per-device arguments and results.
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_INTEROP_SHARDINTEROP_H
#define AUTOPAR_INTEROP_SHARDINTEROP_H

#include "autopar/Dialect/AutoparAttrs.h"

namespace mlir {
namespace func {
class FuncOp;
} // namespace func
namespace autopar {

/// The shardings autopar-export-shard gives the tensor results of `func`
/// (null for other results): the result's `autopar.sharding`, else its
/// producer's sharding (`autopar.shardings`, or the argument's) without
/// partial axes, else replicated. Upstream shardings cannot be partial;
/// what leaves the function is complete.
SmallVector<ShardingAttr> getExportedResultShardings(func::FuncOp func,
                                                     FlatSymbolRefAttr mesh);

} // namespace autopar
} // namespace mlir

#endif // AUTOPAR_INTEROP_SHARDINTEROP_H
