// What autopar-training cannot differentiate is an error naming the op.
// RUN: autopar-opt %s -split-input-file -verify-diagnostics --autopar-training=loss=mse -o /dev/null
// RUN: not autopar-opt %s -split-input-file --autopar-training=loss=hinge -o /dev/null 2>&1 | FileCheck %s --check-prefix=LOSS
// RUN: not autopar-opt %s -split-input-file --autopar-training="loss=mse optimizer=lamb" -o /dev/null 2>&1 | FileCheck %s --check-prefix=OPT
// RUN: not autopar-opt %s -split-input-file --autopar-training="loss=mse func=model" -o /dev/null 2>&1 | FileCheck %s --check-prefix=FUNC
// RUN: not autopar-opt %s -split-input-file --autopar-training -o /dev/null 2>&1 | FileCheck %s --check-prefix=AUTO

// LOSS: error: autopar-training: unknown loss 'hinge'; expected auto, softmax-cross-entropy or mse
// OPT: error: autopar-training: unknown optimizer 'lamb'; expected sgd, momentum or adam
// FUNC: error: autopar-training: no function 'model' with a body
// AUTO: error: autopar-training: loss=auto needs the function to return the loss (one element), it returns 'tensor<4xf32>'; choose loss=softmax-cross-entropy or loss=mse

#id = affine_map<(d0) -> (d0)>
func.func @forward(%x: tensor<4xf32> {autopar.role = "input"},
                   %w: tensor<4xf32> {autopar.role = "param"}) -> tensor<4xf32> {
  %e = tensor.empty() : tensor<4xf32>
  // expected-error @+1 {{autopar-training: cannot differentiate 'math.atan' in the body of 'linalg.generic'}}
  %y = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel"]}
      ins(%x, %w : tensor<4xf32>, tensor<4xf32>) outs(%e : tensor<4xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %m = arith.mulf %a, %b : f32
    %s = math.atan %m : f32
    linalg.yield %s : f32
  } -> tensor<4xf32>
  return %y : tensor<4xf32>
}

// -----

#id = affine_map<(d0) -> (d0)>
func.func @forward(%x: tensor<4xindex> {autopar.role = "input"},
                   %table: tensor<8xf32> {autopar.role = "param"}) -> tensor<4xf32> {
  %e = tensor.empty() : tensor<4xf32>
  %c0 = arith.constant 0 : index
  // expected-error @+1 {{autopar-training: cannot differentiate through a value captured by 'linalg.generic' other than by tensor.extract in a linalg body; pass it as an operand}}
  %y = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]}
      ins(%x : tensor<4xindex>) outs(%e : tensor<4xf32>) {
  ^bb0(%i: index, %o: f32):
    %row = tensor.extract_slice %table[%i] [1] [1] : tensor<8xf32> to tensor<1xf32>
    %v = tensor.extract %row[%c0] : tensor<1xf32>
    linalg.yield %v : f32
  } -> tensor<4xf32>
  return %y : tensor<4xf32>
}

// -----

#id = affine_map<(d0) -> (d0)>
#none = affine_map<(d0) -> ()>
func.func @forward(%x: tensor<4xf32> {autopar.role = "input"},
                   %w: tensor<4xf32> {autopar.role = "param"}) -> tensor<f32> {
  %one = arith.constant 1.0 : f32
  %e = tensor.empty() : tensor<f32>
  %f = linalg.fill ins(%one : f32) outs(%e : tensor<f32>) -> tensor<f32>
  // expected-error @+1 {{autopar-training: cannot differentiate the reduction combiner 'arith.mulf' of 'linalg.generic'}}
  %y = linalg.generic {indexing_maps = [#id, #id, #none], iterator_types = ["reduction"]}
      ins(%x, %w : tensor<4xf32>, tensor<4xf32>) outs(%f : tensor<f32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.addf %a, %b : f32
    %p = arith.mulf %acc, %m : f32
    linalg.yield %p : f32
  } -> tensor<f32>
  return %y : tensor<f32>
}

// -----

func.func @forward(%x: tensor<2x4xf32> {autopar.role = "input"},
                   %w: tensor<2x4xf32> {autopar.role = "param"}) -> tensor<2x4xf32> {
  %e = tensor.empty() : tensor<2x4xf32>
  %s = linalg.add ins(%x, %w : tensor<2x4xf32>, tensor<2x4xf32>) outs(%e : tensor<2x4xf32>) -> tensor<2x4xf32>
  %i = arith.constant dense<[[1], [0]]> : tensor<2x1xindex>
  // expected-error @+1 {{autopar-training: no reverse-mode rule for 'tensor.gather'}}
  %p = tensor.gather %s[%i] gather_dims([0]) : (tensor<2x4xf32>, tensor<2x1xindex>) -> tensor<2x4xf32>
  return %p : tensor<2x4xf32>
}

// -----

// A table read along a loop longer than the table's dimension.
#id = affine_map<(d0) -> (d0)>
func.func @forward(%x: tensor<8xf32> {autopar.role = "input"},
                   %table: tensor<4xf32> {autopar.role = "param"}) -> tensor<8xf32> {
  %e = tensor.empty() : tensor<8xf32>
  // expected-error @+1 {{autopar-training: cannot differentiate 'linalg.generic': table dimension 0 (size 4) is read along a loop of size 8; static sizes with the loop no longer than the table are supported}}
  %y = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]}
      ins(%x : tensor<8xf32>) outs(%e : tensor<8xf32>) {
  ^bb0(%a: f32, %o: f32):
    %i = linalg.index 0 : index
    %t = tensor.extract %table[%i] : tensor<4xf32>
    %m = arith.mulf %a, %t : f32
    linalg.yield %m : f32
  } -> tensor<8xf32>
  return %y : tensor<8xf32>
}

// -----

// A mask input that needs a gradient (a learned bias read as data, which
// autopar-fuse-attention never forms) is refused: mask inputs get none.
func.func @forward(%q: tensor<1x4x2xf32> {autopar.role = "param"},
                   %k: tensor<1x2x4xf32> {autopar.role = "input"},
                   %v: tensor<1x4x2xf32> {autopar.role = "input"},
                   %bias: tensor<1x4xf32> {autopar.role = "param"}) -> tensor<1x4x2xf32> {
  %o = tensor.empty() : tensor<1x4x2xf32>
  %l = tensor.empty() : tensor<1x4xf32>
  // expected-error @+1 {{the attention's mask reads a value that needs a gradient; its mask inputs get none (a learned bias stays unfused)}}
  %r, %lse = autopar.attention ins(%q, %k, %v : tensor<1x4x2xf32>, tensor<1x2x4xf32>, tensor<1x4x2xf32>) outs(%o, %l : tensor<1x4x2xf32>, tensor<1x4xf32>) scale 1.0 masked -1.0e4 reading(%bias : tensor<1x4xf32>) mask {
  ^bb0(%b: index, %i: index, %j: index, %m: tensor<1x4xf32>):
    %zero = arith.constant 0.0 : f32
    %c0 = arith.constant 0 : index
    %x = tensor.extract %m[%c0, %j] : tensor<1x4xf32>
    %c = arith.cmpf olt, %x, %zero : f32
    autopar.yield %c : i1
  } -> tensor<1x4x2xf32>, tensor<1x4xf32>
  return %r : tensor<1x4x2xf32>
}
