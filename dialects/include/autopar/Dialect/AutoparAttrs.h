//===- AutoparAttrs.h - autopar attributes ----------------------*- C++ -*-===//

#ifndef AUTOPAR_DIALECT_AUTOPARATTRS_H
#define AUTOPAR_DIALECT_AUTOPARATTRS_H

#include "mlir/IR/Attributes.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectImplementation.h"

#include "autopar/Dialect/AutoparEnums.h.inc"

namespace mlir::autopar {
/// Parses a real number (an integer or float literal, optionally negative).
FailureOr<double> parseDouble(AsmParser &parser);
/// parseDouble for APFloat-typed attribute parameters.
FailureOr<llvm::APFloat> parseDoubleAsAPFloat(AsmParser &parser);
/// Prints `value` in the shortest form that parses back to the same double.
void printDouble(AsmPrinter &printer, double value);
/// Parses `{f32 = 1.2e+13, ...}` into a dictionary of f64 FloatAttrs.
FailureOr<DictionaryAttr> parseFlopsTable(AsmParser &parser);
/// Prints a dictionary of FloatAttrs as `{f32 = 1.2e+13, ...}`.
void printFlopsTable(AsmPrinter &printer, DictionaryAttr table);
/// Parses a list of mesh axis names, `[gpus, nodes]`, into an ArrayAttr of
/// StringAttrs.
ParseResult parseAxisList(AsmParser &parser, ArrayAttr &axes);
/// Prints an ArrayAttr of StringAttrs as `[gpus, nodes]`.
void printAxisList(AsmPrinter &printer, ArrayAttr axes);
} // namespace mlir::autopar

#define GET_ATTRDEF_CLASSES
#include "autopar/Dialect/AutoparAttrs.h.inc"

#endif // AUTOPAR_DIALECT_AUTOPARATTRS_H
