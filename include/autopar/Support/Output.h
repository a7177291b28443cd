//===- Output.h - writing reports and formatting quantities -----*- C++ -*-===//
//
// What every report shares: human-readable byte counts and writing a report
// file with a diagnostic when it cannot be written.
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_SUPPORT_OUTPUT_H
#define AUTOPAR_SUPPORT_OUTPUT_H

#include "mlir/IR/Location.h"
#include "mlir/Support/LLVM.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/raw_ostream.h"

#include <string>

namespace mlir::autopar {

/// `bytes` with a binary unit: "512 B", "1.50 KiB", ..., "2.00 TiB".
std::string formatBytes(double bytes);

/// The `report=` value that means standard error: every report's default.
inline constexpr llvm::StringLiteral kReportToStderr = "stderr";

/// Writes `path` with `write`: "stderr" (kReportToStderr) is standard error,
/// "-" is stdout, anything else a file. On failure emits an error at `loc`
/// naming the file and returns failure.
LogicalResult writeOutputFile(Location loc, StringRef path,
                              function_ref<void(raw_ostream &)> write);

} // namespace mlir::autopar

#endif // AUTOPAR_SUPPORT_OUTPUT_H
