//===- AutoparDialect.h - autopar dialect -----------------------*- C++ -*-===//
//
// The autopar dialect: meshes, shardings, strategies, targets, collectives.
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_DIALECT_AUTOPARDIALECT_H
#define AUTOPAR_DIALECT_AUTOPARDIALECT_H

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/IR/Dialect.h"

#include "autopar/Dialect/AutoparDialect.h.inc"

#endif // AUTOPAR_DIALECT_AUTOPARDIALECT_H
