//===- Output.cpp - writing reports and formatting quantities -------------===//

#include "autopar/Support/Output.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/ToolOutputFile.h"

using namespace mlir;

std::string mlir::autopar::formatBytes(double bytes) {
  const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int unit = 0;
  while (bytes >= 1024 && unit < 4) {
    bytes /= 1024;
    ++unit;
  }
  std::string text;
  llvm::raw_string_ostream os(text);
  os << llvm::format(unit ? "%.2f %s" : "%.0f %s", bytes, units[unit]);
  return text;
}

LogicalResult
mlir::autopar::writeOutputFile(Location loc, StringRef path,
                               function_ref<void(raw_ostream &)> write) {
  // Reports go to stderr unless asked for elsewhere: stdout carries the IR,
  // so that autopar-opt's output pipes into the next tool.
  if (path == kReportToStderr) {
    write(llvm::errs());
    llvm::errs().flush();
    return success();
  }
  std::string errorMessage;
  std::unique_ptr<llvm::ToolOutputFile> file =
      openOutputFile(path, &errorMessage);
  if (!file)
    return emitError(loc) << "cannot write '" << path << "': " << errorMessage;
  write(file->os());
  file->keep();
  return success();
}
