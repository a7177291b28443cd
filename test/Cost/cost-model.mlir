// The cost model's formulas on a target with round numbers (unit.json:
// 10 TFLOP/s, 1 TB/s, full efficiency, no launch overhead or occupancy
// loss; 2 nodes x 4 GPUs, NVLink 10 GB/s and 1 us inside a node,
// InfiniBand 1 GB/s and 10 us across).
// RUN: autopar-opt %s --autopar-analyze="target=%S/../Target/Inputs/unit.json report=%t.json optimizer=sgd" -o /dev/null
// RUN: FileCheck %s < %t.json
// RUN: FileCheck %s --check-prefix=MEM < %t.json

// Kernel time = max(FLOP / 1e13, bytes / 1e12). The matmul: 2e9 FLOP ->
// 200 us; it reads x and w and writes the result, 3 x 4 MB -> 12 us (the
// init, a zero fill, is made in the call: beta = 0): compute bound.
// CHECK: "op": "linalg.matmul",
// CHECK: "flops": 2000000000,
// CHECK: "bytes": 12000000,
// CHECK: "time_fwd_s": {{0\.0002(0*1)?}},
// Backward: only the weight gradient (x is an input): 2e9 FLOP, 200 us.
// CHECK: "time_bwd_s": {{0\.0002(0*1)?}},
// CHECK: "bound": "compute",

// Gradient all-reduce of n = 4e6 bytes (the 1000x1000 f32 weight):
// 2 GPUs, 1 node: ring 2(1/2) n/1e10 + 2(1) 1e-6 = 402 us (tree: 802 us).
// CHECK: "gradient_sync": [
// CHECK: "gpus": 2,
// CHECK-NEXT: "nodes": 1,
// CHECK-NEXT: "seconds": {{0\.000402(0|$)}}
// CHECK-NEXT: "algorithm": "ring"
// 4 GPUs, 1 node: ring 2(3/4) n/1e10 + 2(3) 1e-6 = 606 us.
// CHECK: "gpus": 4,
// CHECK-NEXT: "nodes": 1,
// CHECK-NEXT: "seconds": {{0\.0006(06|0599)}}
// CHECK-NEXT: "algorithm": "ring"
// 8 GPUs on 2 nodes: a flat ring over InfiniBand would take
// 2(7/8) n/1e9 + 2(6 x 1e-6 + 1 x 1e-5) = 7.03 ms (ring-latency.test);
// hierarchical: reduce-scatter inside
// ((3/4) n/1e10 + 3e-6 = 303 us), all-reduce of n/4 across the 2 nodes
// (ring: 1 ms + 20 us = 1020 us), all-gather inside (303 us) = 1.626 ms.
// CHECK: "gpus": 8,
// CHECK-NEXT: "nodes": 2,
// CHECK-NEXT: "seconds": {{0\.001626|0\.0016259}}
// CHECK-NEXT: "algorithm": "hierarchical"

// Memory with plain SGD: parameters and gradients (4 MB each), no optimizer
// state, and the saved activation x (1000 x 1000 f32, 4 MB).
// MEM: "memory_per_gpu": {
// MEM-NEXT: "params": 4000000,
// MEM-NEXT: "gradients": 4000000,
// MEM-NEXT: "master": 0,
// MEM-NEXT: "optimizer_state": 0,
// MEM-NEXT: "activations": 4000000,
// MEM-NEXT: "total": 12000000

func.func @forward(%x: tensor<1000x1000xf32>, %w: tensor<1000x1000xf32>) -> tensor<1000x1000xf32> {
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<1000x1000xf32>
  %init = linalg.fill ins(%zero : f32) outs(%empty : tensor<1000x1000xf32>) -> tensor<1000x1000xf32>
  %0 = linalg.matmul ins(%x, %w : tensor<1000x1000xf32>, tensor<1000x1000xf32>) outs(%init : tensor<1000x1000xf32>) -> tensor<1000x1000xf32>
  return %0 : tensor<1000x1000xf32>
}
