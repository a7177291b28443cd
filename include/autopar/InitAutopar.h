//===- InitAutopar.h - register everything autopar provides -----*- C++ -*-===//

#ifndef AUTOPAR_INITAUTOPAR_H
#define AUTOPAR_INITAUTOPAR_H

namespace mlir {
class DialectRegistry;
namespace autopar {
/// Adds the autopar dialect and the dialects its passes create to
/// `registry`.
void registerAutoparDialects(DialectRegistry &registry);
/// Registers autopar's passes and pipelines (`autopar-*`, `auto-shard`).
void registerAllAutoparPasses();
} // namespace autopar
} // namespace mlir

#endif // AUTOPAR_INITAUTOPAR_H
