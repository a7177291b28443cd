// A library call must be bufferized before autopar-lower-library-calls makes
// it a call: one still on tensors is an error at its location.
// RUN: autopar-opt %s --autopar-lower-library-calls -split-input-file -verify-diagnostics

func.func @on_tensors(%t: tensor<4xf32>) -> tensor<4xf32> {
  %init = tensor.empty() : tensor<4xf32>
  // expected-error @+1 {{library call to 'lib_f' is still on tensors: bufferize first}}
  %r = autopar.library_call "lib_f" ins(%t : tensor<4xf32>) outs(%init : tensor<4xf32>) values [] -> tensor<4xf32>
  return %r : tensor<4xf32>
}

// -----

// A call whose operands do not match the callee's existing declaration.
func.func private @lib_g(i64)
func.func @mismatch(%m: memref<4xf32>, %o: memref<4xf32>) {
  // expected-error @+1 {{library call to 'lib_g' does not match its declaration '(i64) -> ()'}}
  autopar.library_call "lib_g" ins(%m : memref<4xf32>) outs(%o : memref<4xf32>) values []
  return
}
