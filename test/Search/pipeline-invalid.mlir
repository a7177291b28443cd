// RUN: autopar-opt %s -split-input-file -verify-diagnostics

// expected-error @+1 {{'autopar.pipeline' must be {gpus = N (a multiple of stages), microbatches = M >= 1, schedule = "gpipe"|"1f1b"|"interleaved", stages = P >= 1, virtual_stages = v >= 1}}}
module attributes {autopar.pipeline = {gpus = 8 : i64, microbatches = 4 : i64, schedule = "zigzag", stages = 4 : i64, virtual_stages = 1 : i64}} {
}

// -----

module attributes {autopar.pipeline = {gpus = 4 : i64, microbatches = 4 : i64, schedule = "1f1b", stages = 2 : i64, virtual_stages = 1 : i64}} {
  func.func @f(%a: tensor<4xf32>) -> tensor<4xf32> {
    %0 = arith.addf %a, %a {autopar.stage = 1 : i64} : tensor<4xf32>
    // expected-error @+1 {{'autopar.stage' is 0 after an op of stage 1: stages are contiguous in program order}}
    %1 = arith.mulf %0, %0 {autopar.stage = 0 : i64} : tensor<4xf32>
    return %1 : tensor<4xf32>
  }
}

// -----

module attributes {autopar.pipeline = {gpus = 4 : i64, microbatches = 4 : i64, schedule = "1f1b", stages = 2 : i64, virtual_stages = 1 : i64}} {
  func.func @f(%a: tensor<4xf32>) -> tensor<4xf32> {
    // expected-error @+1 {{'autopar.stage' is 2 but the pipeline has 2 stages}}
    %0 = arith.addf %a, %a {autopar.stage = 2 : i64} : tensor<4xf32>
    return %0 : tensor<4xf32>
  }
}

// -----

func.func @f(%a: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'autopar.stage' must be a non-negative integer (a pipeline stage), got -1 : i64}}
  %0 = arith.addf %a, %a {autopar.stage = -1 : i64} : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// Each stage's recomputation and ZeRO stage: one entry per stage.
// expected-error @+1 {{and optionally recompute = ["none"|"selective"|"full", ...] and zero = array<i64: 0..3, ...> with P * v entries each}}
module attributes {autopar.pipeline = {gpus = 4 : i64, microbatches = 4 : i64, recompute = ["full", "none"], schedule = "1f1b", stages = 2 : i64, virtual_stages = 1 : i64, zero = array<i64: 1>}} {
}

// -----

// expected-error @+1 {{and optionally recompute}}
module attributes {autopar.pipeline = {gpus = 4 : i64, microbatches = 4 : i64, recompute = ["full", "some"], schedule = "1f1b", stages = 2 : i64, virtual_stages = 1 : i64, zero = array<i64: 1, 0>}} {
}

// -----

// expected-error @+1 {{and optionally recompute}}
module attributes {autopar.pipeline = {gpus = 4 : i64, microbatches = 4 : i64, recompute = ["full", "none"], schedule = "1f1b", stages = 2 : i64, virtual_stages = 1 : i64}} {
}

// -----

// Valid: each stage its own.
module attributes {autopar.pipeline = {gpus = 4 : i64, microbatches = 4 : i64, recompute = ["full", "none"], schedule = "1f1b", stages = 2 : i64, virtual_stages = 1 : i64, zero = array<i64: 1, 0>}} {
}
