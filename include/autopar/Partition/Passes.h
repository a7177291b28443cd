//===- Passes.h - autopar partitioning passes -------------------*- C++ -*-===//

#ifndef AUTOPAR_PARTITION_PASSES_H
#define AUTOPAR_PARTITION_PASSES_H

#include "autopar/Cost/CostModel.h"
#include "autopar/Dialect/AutoparDialect.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir::autopar {
#define GEN_PASS_DECL
#include "autopar/Partition/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "autopar/Partition/Passes.h.inc"

} // namespace mlir::autopar

#endif // AUTOPAR_PARTITION_PASSES_H
