// An attention whose batch is several dimensions, one of them dynamic: its
// decomposition needs the batch merged into one static dimension, which
// it is not; autopar-prepare-lowering says so at the op and fails.
// RUN: autopar-opt %s --autopar-prepare-lowering -verify-diagnostics

func.func @dynamic(%q: tensor<?x2x8x4xf32>, %k: tensor<?x2x4x8xf32>, %v: tensor<?x2x8x4xf32>, %o: tensor<?x2x8x4xf32>, %l: tensor<?x2x8xf32>) -> tensor<?x2x8x4xf32> {
  // expected-error @+2 {{'autopar.attention' op cannot merge a dynamic batch to decompose}}
  // expected-error @+1 {{autopar: cannot decompose 'autopar.attention' into structured ops}}
  %r, %lse = autopar.attention ins(%q, %k, %v : tensor<?x2x8x4xf32>, tensor<?x2x4x8xf32>, tensor<?x2x8x4xf32>) outs(%o, %l : tensor<?x2x8x4xf32>, tensor<?x2x8xf32>) scale 1.0 -> tensor<?x2x8x4xf32>, tensor<?x2x8xf32>
  return %r : tensor<?x2x8x4xf32>
}
