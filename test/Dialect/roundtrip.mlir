// Every autopar attribute and op: parse, print, parse again (custom and
// generic forms) and check the printed form.
// RUN: autopar-opt %s | autopar-opt | FileCheck %s
// RUN: autopar-opt %s -mlir-print-op-generic | autopar-opt | FileCheck %s

// CHECK: module attributes {autopar.plan = #autopar.plan<mesh = @mesh, gpus = 8, objective = "time", step_time = 0.25, samples_per_second = 512.0, speedup = 6.5, efficiency = 0.8125, energy_per_sample = 0.5, memory_per_gpu = 1.2e+09>,
// CHECK-SAME: autopar.target = #autopar.target<name = "paper", nodes = 2, gpus_per_node = 4,
// CHECK-SAME: gpu = <name = "TITAN Xp", peak_flops = {f16 = 1.9e+11, f32 = 1.215e+13}, memory_bandwidth = 5.477e+11, memory_capacity = 12884901888, power_busy = 250.0, power_idle = 15.0>,
// CHECK-SAME: intra_node = <topology = pcie, bandwidth = 1.2e+10, latency = 1.0e-05>,
// CHECK-SAME: inter_node = <topology = ethernet, bandwidth = 1.25e+09, latency = 5.0e-05>>}
module attributes {autopar.plan = #autopar.plan<mesh = @mesh, gpus = 8, objective = "time", step_time = 0.25, samples_per_second = 512, speedup = 6.5, efficiency = 0.8125, energy_per_sample = 0.5, memory_per_gpu = 1.2e9>,
    autopar.target = #autopar.target<name = "paper", nodes = 2, gpus_per_node = 4,
    gpu = <name = "TITAN Xp", peak_flops = {f32 = 12.15e12, f16 = 1.9e11},
           memory_bandwidth = 547.7e9, memory_capacity = 12884901888,
           power_busy = 250, power_idle = 15.0>,
    intra_node = <topology = pcie, bandwidth = 12.0e9, latency = 10.0e-6>,
    inter_node = <topology = ethernet, bandwidth = 1.25e9, latency = 50.0e-6>>} {

// Optional roofline fields print only when they differ from the defaults.
// CHECK: test.gpu_examples = [#autopar.gpu<name = "A", peak_flops = {bf16 = 3.12e+14}, memory_bandwidth = 2.039e+12, memory_capacity = 85899345920, power_busy = 400.0, power_idle = 50.0>,
// CHECK-SAME: #autopar.gpu<name = "B", peak_flops = {f32 = 1.0e+13}, memory_bandwidth = 1.0e+12, memory_capacity = 1024, power_busy = 300.0, power_idle = 0.0, compute_efficiency = 0.5, memory_efficiency = 0.9, launch_overhead = 1.0e-05, saturation_threads = 0.0>]
func.func private @gpus() attributes {test.gpu_examples = [
    #autopar.gpu<name = "A", peak_flops = {bf16 = 312.0e12}, memory_bandwidth = 2039.0e9, memory_capacity = 85899345920, power_busy = 400, power_idle = 50, compute_efficiency = 0.7, launch_overhead = 5.0e-6>,
    #autopar.gpu<name = "B", saturation_threads = 0, power_idle = 0, peak_flops = {f32 = 1.0e13}, memory_bandwidth = 1.0e12, memory_capacity = 1024, power_busy = 300, compute_efficiency = 0.5, memory_efficiency = 0.9, launch_overhead = 1.0e-5>]}

// CHECK: autopar.mesh @mesh <nodes = 2, gpus = 4>
autopar.mesh @mesh <nodes = 2, gpus = 4>
// CHECK: autopar.mesh @line <"gpu axis" = 8>
autopar.mesh @line <"gpu axis" = 8>

// CHECK-LABEL: func.func @shardings
// CHECK-SAME: (%{{.*}}: tensor<8x16xf32> {autopar.sharding = #autopar.sharding<@mesh, {{\[}}[gpus], []]>}
// CHECK-SAME: %{{.*}}: tensor<f32> {autopar.sharding = #autopar.sharding<@mesh, []>})
// CHECK-SAME: -> (tensor<8x16xf32> {autopar.sharding = #autopar.sharding<@mesh, {{\[}}[], []], partial = max [nodes, gpus]>})
func.func @shardings(%x: tensor<8x16xf32> {autopar.sharding = #autopar.sharding<@mesh, [[gpus], []]>},
                     %s: tensor<f32> {autopar.sharding = #autopar.sharding<@mesh, []>})
    -> (tensor<8x16xf32> {autopar.sharding = #autopar.sharding<@mesh, [[], []], partial = max [nodes, gpus]>}) {
  // CHECK: autopar.shard %{{.*}} : tensor<8x16xf32> to #autopar.sharding<@mesh, {{\[}}[nodes, gpus], []]>
  %0 = autopar.shard %x : tensor<8x16xf32> to #autopar.sharding<@mesh, [[nodes, gpus], []]>
  // CHECK: autopar.shard %{{.*}} : tensor<8x16xf32> to #autopar.sharding<@mesh, {{\[}}[], [gpus]], partial = sum [nodes]>
  %1 = autopar.shard %0 : tensor<8x16xf32> to #autopar.sharding<@mesh, [[], [gpus]], partial = sum [nodes]>
  // CHECK: autopar.shard %{{.*}} : tensor<8x16xf32> to #autopar.sharding<@line, {{\[}}["gpu axis"], []]>
  %2 = autopar.shard %1 : tensor<8x16xf32> to #autopar.sharding<@line, [["gpu axis"], []]>
  // CHECK: linalg.add {autopar.shardings = [#autopar.sharding<@mesh, {{\[}}[gpus], []]>]
  // CHECK-SAME: autopar.strategy = #autopar.strategy<@mesh, {{\[}}[gpus], []]>}
  %3 = linalg.add {autopar.strategy = #autopar.strategy<@mesh, [[gpus], []]>,
                   autopar.shardings = [#autopar.sharding<@mesh, [[gpus], []]>]}
      ins(%2, %2 : tensor<8x16xf32>, tensor<8x16xf32>) outs(%2 : tensor<8x16xf32>) -> tensor<8x16xf32>
  return %3 : tensor<8x16xf32>
}

// CHECK-LABEL: func.func private @roles
// CHECK-SAME: (tensor<4x8xf32> {autopar.batch_dim = 1 : i64, autopar.role = "input"}, tensor<8xi64> {autopar.role = "label"}, tensor<4x4xf32> {autopar.role = "param"}, tensor<4xf32> {autopar.role = "state"})
func.func private @roles(tensor<4x8xf32> {autopar.role = "input", autopar.batch_dim = 1}, tensor<8xi64> {autopar.role = "label"},
                         tensor<4x4xf32> {autopar.role = "param"}, tensor<4xf32> {autopar.role = "state"})

// CHECK-LABEL: func.func @matmul_strategies
func.func @matmul_strategies(%a: tensor<64x32xf32>, %b: tensor<32x16xf32>, %c: tensor<64x16xf32>) -> tensor<64x16xf32> {
  // CHECK: linalg.matmul {autopar.strategy = #autopar.strategy<@mesh, {{\[}}[nodes], [], [gpus]]>}
  %0 = linalg.matmul {autopar.strategy = #autopar.strategy<@mesh, [[nodes], [], [gpus]]>}
      ins(%a, %b : tensor<64x32xf32>, tensor<32x16xf32>) outs(%c : tensor<64x16xf32>) -> tensor<64x16xf32>
  return %0 : tensor<64x16xf32>
}

// CHECK-LABEL: func.func @collectives_on_tensors
func.func @collectives_on_tensors(%x: tensor<8x16xf32>) -> index {
  // CHECK: autopar.all_reduce %{{.*}} on @mesh axes [gpus] reduction = sum : tensor<8x16xf32> -> tensor<8x16xf32>
  %0 = autopar.all_reduce %x on @mesh axes [gpus] reduction = sum : tensor<8x16xf32> -> tensor<8x16xf32>
  // CHECK: autopar.all_reduce %{{.*}} on @mesh axes [nodes, gpus] reduction = prod
  %1 = autopar.all_reduce %0 on @mesh axes [nodes, gpus] reduction = prod : tensor<8x16xf32> -> tensor<8x16xf32>
  // CHECK: autopar.all_gather %{{.*}} on @mesh axes [gpus] gather_dim = 0 : tensor<8x16xf32> -> tensor<32x16xf32>
  %2 = autopar.all_gather %1 on @mesh axes [gpus] gather_dim = 0 : tensor<8x16xf32> -> tensor<32x16xf32>
  // CHECK: autopar.all_gather %{{.*}} on @mesh axes [nodes, gpus] gather_dim = 1 : tensor<8x16xf32> -> tensor<8x128xf32>
  %3 = autopar.all_gather %1 on @mesh axes [nodes, gpus] gather_dim = 1 : tensor<8x16xf32> -> tensor<8x128xf32>
  // CHECK: autopar.reduce_scatter %{{.*}} on @mesh axes [gpus] scatter_dim = 0 reduction = max : tensor<32x16xf32> -> tensor<8x16xf32>
  %4 = autopar.reduce_scatter %2 on @mesh axes [gpus] scatter_dim = 0 reduction = max : tensor<32x16xf32> -> tensor<8x16xf32>
  // CHECK: autopar.reduce_scatter %{{.*}} on @mesh axes [nodes] scatter_dim = 1 reduction = min : tensor<8x16xf32> -> tensor<8x8xf32>
  %5 = autopar.reduce_scatter %4 on @mesh axes [nodes] scatter_dim = 1 reduction = min : tensor<8x16xf32> -> tensor<8x8xf32>
  // CHECK: autopar.all_to_all %{{.*}} on @mesh axes [gpus] split_dim = 1 concat_dim = 0 : tensor<8x16xf32> -> tensor<32x4xf32>
  %6 = autopar.all_to_all %4 on @mesh axes [gpus] split_dim = 1 concat_dim = 0 : tensor<8x16xf32> -> tensor<32x4xf32>
  // CHECK: autopar.all_to_all %{{.*}} on @mesh axes [gpus] split_dim = 0 concat_dim = 0 : tensor<8x16xf32> -> tensor<8x16xf32>
  %7 = autopar.all_to_all %4 on @mesh axes [gpus] split_dim = 0 concat_dim = 0 : tensor<8x16xf32> -> tensor<8x16xf32>
  // CHECK: autopar.broadcast %{{.*}} on @mesh axes [nodes, gpus] root = [1, 3] : tensor<8x16xf32> -> tensor<8x16xf32>
  %8 = autopar.broadcast %7 on @mesh axes [nodes, gpus] root = [1, 3] : tensor<8x16xf32> -> tensor<8x16xf32>
  // CHECK: autopar.permute %{{.*}} on @mesh axes [gpus] pairs = [0 -> 1, 1 -> 2, 2 -> 3] : tensor<8x16xf32> -> tensor<8x16xf32>
  %9 = autopar.permute %8 on @mesh axes [gpus] pairs = [0 -> 1, 1 -> 2, 2 -> 3] : tensor<8x16xf32> -> tensor<8x16xf32>
  // CHECK: autopar.all_gather %{{.*}} on @mesh axes [gpus] gather_dim = 0 : tensor<?x16xf32> -> tensor<?x16xf32>
  %d = tensor.cast %9 : tensor<8x16xf32> to tensor<?x16xf32>
  %10 = autopar.all_gather %d on @mesh axes [gpus] gather_dim = 0 : tensor<?x16xf32> -> tensor<?x16xf32>
  // CHECK: autopar.device_coord on @mesh axes [gpus] : index
  %i = autopar.device_coord on @mesh axes [gpus] : index
  // CHECK: autopar.device_coord on @mesh axes [nodes, gpus] : index
  %j = autopar.device_coord on @mesh axes [nodes, gpus] : index
  return %j : index
}

// CHECK-LABEL: func.func @collectives_on_buffers
func.func @collectives_on_buffers(%a: memref<8x16xf32>, %b: memref<8x16xf32>, %c: memref<32x16xf32>, %d: memref<16x8xf16>, %e: memref<4x8xf16>) {
  // CHECK: autopar.all_reduce %{{.*}} into %{{.*}} on @mesh axes [gpus] reduction = sum : memref<8x16xf32> -> memref<8x16xf32>
  autopar.all_reduce %a into %b on @mesh axes [gpus] reduction = sum : memref<8x16xf32> -> memref<8x16xf32>
  // CHECK: autopar.all_gather %{{.*}} into %{{.*}} on @mesh axes [gpus] gather_dim = 0 : memref<8x16xf32> -> memref<32x16xf32>
  autopar.all_gather %a into %c on @mesh axes [gpus] gather_dim = 0 : memref<8x16xf32> -> memref<32x16xf32>
  // CHECK: autopar.reduce_scatter %{{.*}} into %{{.*}} on @mesh axes [gpus] scatter_dim = 0 reduction = sum : memref<16x8xf16> -> memref<4x8xf16>
  autopar.reduce_scatter %d into %e on @mesh axes [gpus] scatter_dim = 0 reduction = sum : memref<16x8xf16> -> memref<4x8xf16>
  // CHECK: autopar.all_to_all %{{.*}} into %{{.*}} on @mesh axes [nodes] split_dim = 0 concat_dim = 1 : memref<8x16xf32> -> memref<4x32xf32>
  %f = memref.alloc() : memref<4x32xf32>
  autopar.all_to_all %a into %f on @mesh axes [nodes] split_dim = 0 concat_dim = 1 : memref<8x16xf32> -> memref<4x32xf32>
  // CHECK: autopar.broadcast %{{.*}} into %{{.*}} on @mesh axes [gpus] root = [2] : memref<8x16xf32> -> memref<8x16xf32>
  autopar.broadcast %a into %b on @mesh axes [gpus] root = [2] : memref<8x16xf32> -> memref<8x16xf32>
  // CHECK: autopar.permute %{{.*}} into %{{.*}} on @mesh axes [nodes] pairs = [0 -> 1, 1 -> 0] : memref<8x16xf32> -> memref<8x16xf32>
  autopar.permute %a into %b on @mesh axes [nodes] pairs = [0 -> 1, 1 -> 0] : memref<8x16xf32> -> memref<8x16xf32>
  // CHECK: autopar.send %{{.*}} to 1 on @mesh axes [nodes] tag 5 : memref<8x16xf32>
  autopar.send %a to 1 on @mesh axes [nodes] tag 5 : memref<8x16xf32>
  // CHECK: autopar.recv from 0 on @mesh axes [nodes] tag 5 into %{{.*}} : memref<8x16xf32>
  autopar.recv from 0 on @mesh axes [nodes] tag 5 into %b : memref<8x16xf32>
  return
}

// CHECK-LABEL: func.func @transfers
func.func @transfers(%x: tensor<8x16xbf16>) -> tensor<8x16xbf16> {
  // CHECK: autopar.send %{{.*}} to 3 on @mesh axes [nodes, gpus] tag 0 : tensor<8x16xbf16>
  autopar.send %x to 3 on @mesh axes [nodes, gpus] tag 0 : tensor<8x16xbf16>
  // CHECK: %{{.*}} = autopar.recv from 7 on @mesh axes [nodes, gpus] tag 1 : tensor<8x16xbf16>
  %0 = autopar.recv from 7 on @mesh axes [nodes, gpus] tag 1 : tensor<8x16xbf16>
  return %0 : tensor<8x16xbf16>
}

// CHECK-LABEL: func.func @scatter_add
// CHECK: autopar.scatter_add %{{.*}} at %{{.*}} into %{{.*}} : tensor<4x8x16xf32>, tensor<4x8xi64> into tensor<50x16xf32>
func.func @scatter_add(%u: tensor<4x8x16xf32>, %i: tensor<4x8xi64>, %d: tensor<50x16xf32>) -> tensor<50x16xf32> {
  %r = autopar.scatter_add %u at %i into %d : tensor<4x8x16xf32>, tensor<4x8xi64> into tensor<50x16xf32>
  return %r : tensor<50x16xf32>
}

// CHECK-LABEL: func.func @attention
// CHECK: autopar.attention ins(%{{.*}}, %{{.*}}, %{{.*}} : tensor<2x8x4xbf16>, tensor<2x4x8xbf16>, tensor<2x8x4xbf16>) outs(%{{.*}}, %{{.*}} : tensor<2x8x4xbf16>, tensor<2x8xf32>) scale 1.250000e-01 masked -1.000000e+04 mask {
// CHECK: ^bb0(%{{.*}}: index, %[[I:.*]]: index, %[[J:.*]]: index):
// CHECK: arith.cmpi ugt, %[[J]], %[[I]] : index
// CHECK: autopar.yield %{{.*}} : i1
// CHECK: } -> tensor<2x8x4xbf16>, tensor<2x8xf32>
// CHECK: autopar.attention {{.*}} scale 1.000000e+00 -> tensor<2x8x4xbf16>, tensor<2x8xf32>
func.func @attention(%q: tensor<2x8x4xbf16>, %k: tensor<2x4x8xbf16>, %v: tensor<2x8x4xbf16>) -> (tensor<2x8x4xbf16>, tensor<2x8x4xbf16>) {
  %o = tensor.empty() : tensor<2x8x4xbf16>
  %l = tensor.empty() : tensor<2x8xf32>
  %r, %lse = autopar.attention ins(%q, %k, %v : tensor<2x8x4xbf16>, tensor<2x4x8xbf16>, tensor<2x8x4xbf16>) outs(%o, %l : tensor<2x8x4xbf16>, tensor<2x8xf32>) scale 0.125 masked -1.0e4 mask {
  ^bb0(%b: index, %i: index, %j: index):
    %c = arith.cmpi ugt, %j, %i : index
    autopar.yield %c : i1
  } -> tensor<2x8x4xbf16>, tensor<2x8xf32>
  %r2, %lse2 = autopar.attention ins(%q, %k, %v : tensor<2x8x4xbf16>, tensor<2x4x8xbf16>, tensor<2x8x4xbf16>) outs(%o, %l : tensor<2x8x4xbf16>, tensor<2x8xf32>) scale 1.0 -> tensor<2x8x4xbf16>, tensor<2x8xf32>
  return %r, %r2 : tensor<2x8x4xbf16>, tensor<2x8x4xbf16>
}

// Batch and heads apart: [b, h] leading dimensions, the gradient alike.
// CHECK-LABEL: func.func @attention_heads
// CHECK: autopar.attention ins({{.*}} : tensor<2x3x8x4xbf16>, tensor<2x3x4x8xbf16>, tensor<2x3x8x4xbf16>) outs({{.*}} : tensor<2x3x8x4xbf16>, tensor<2x3x8xf32>) scale 1.250000e-01
// CHECK: autopar.attention_grad {{.*}} -> tensor<2x3x8x4xbf16>, tensor<2x3x4x8xbf16>, tensor<2x3x8x4xbf16>
func.func @attention_heads(%q: tensor<2x3x8x4xbf16>, %k: tensor<2x3x4x8xbf16>, %v: tensor<2x3x8x4xbf16>, %do: tensor<2x3x8x4xbf16>, %dl: tensor<2x3x8xf32>) -> tensor<2x3x8x4xbf16> {
  %o = tensor.empty() : tensor<2x3x8x4xbf16>
  %l = tensor.empty() : tensor<2x3x8xf32>
  %r, %lse = autopar.attention ins(%q, %k, %v : tensor<2x3x8x4xbf16>, tensor<2x3x4x8xbf16>, tensor<2x3x8x4xbf16>) outs(%o, %l : tensor<2x3x8x4xbf16>, tensor<2x3x8xf32>) scale 0.125 -> tensor<2x3x8x4xbf16>, tensor<2x3x8xf32>
  %eq = tensor.empty() : tensor<2x3x8x4xbf16>
  %ek = tensor.empty() : tensor<2x3x4x8xbf16>
  %dq, %dk, %dv = autopar.attention_grad ins(%q, %k, %v, %r, %lse, %do, %dl : tensor<2x3x8x4xbf16>, tensor<2x3x4x8xbf16>, tensor<2x3x8x4xbf16>, tensor<2x3x8x4xbf16>, tensor<2x3x8xf32>, tensor<2x3x8x4xbf16>, tensor<2x3x8xf32>) outs(%eq, %ek, %eq : tensor<2x3x8x4xbf16>, tensor<2x3x4x8xbf16>, tensor<2x3x8x4xbf16>) scale 0.125 -> tensor<2x3x8x4xbf16>, tensor<2x3x4x8xbf16>, tensor<2x3x8x4xbf16>
  return %dq : tensor<2x3x8x4xbf16>
}

// A padding mask read as data, added to the scores.
// CHECK-LABEL: func.func @attention_padded
// CHECK: autopar.attention {{.*}} scale 1.250000e-01 masked -3.000000e+38 additive reading(%{{.*}} : tensor<1x8xi64>) mask {
// CHECK: ^bb0(%{{.*}}: index, %{{.*}}: index, %[[J:.*]]: index, %[[M:.*]]: tensor<1x8xi64>):
// CHECK: tensor.extract %[[M]][%{{.*}}, %[[J]]] : tensor<1x8xi64>
// CHECK: autopar.attention_grad {{.*}} scale 1.250000e-01 masked -3.000000e+38 additive reading(%{{.*}} : tensor<1x8xi64>) mask {
func.func @attention_padded(%q: tensor<2x8x4xf32>, %k: tensor<2x4x8xf32>, %v: tensor<2x8x4xf32>, %pad: tensor<1x8xi64>, %do: tensor<2x8x4xf32>, %dl: tensor<2x8xf32>) -> tensor<2x8x4xf32> {
  %o = tensor.empty() : tensor<2x8x4xf32>
  %l = tensor.empty() : tensor<2x8xf32>
  %r, %lse = autopar.attention ins(%q, %k, %v : tensor<2x8x4xf32>, tensor<2x4x8xf32>, tensor<2x8x4xf32>) outs(%o, %l : tensor<2x8x4xf32>, tensor<2x8xf32>) scale 0.125 masked -3.0e38 additive reading(%pad : tensor<1x8xi64>) mask {
  ^bb0(%b: index, %i: index, %j: index, %m: tensor<1x8xi64>):
    %c0 = arith.constant 0 : index
    %zero = arith.constant 0 : i64
    %keep = tensor.extract %m[%c0, %j] : tensor<1x8xi64>
    %c = arith.cmpi eq, %keep, %zero : i64
    autopar.yield %c : i1
  } -> tensor<2x8x4xf32>, tensor<2x8xf32>
  %ek = tensor.empty() : tensor<2x4x8xf32>
  %dq, %dk, %dv = autopar.attention_grad ins(%q, %k, %v, %r, %lse, %do, %dl : tensor<2x8x4xf32>, tensor<2x4x8xf32>, tensor<2x8x4xf32>, tensor<2x8x4xf32>, tensor<2x8xf32>, tensor<2x8x4xf32>, tensor<2x8xf32>) outs(%o, %ek, %o : tensor<2x8x4xf32>, tensor<2x4x8xf32>, tensor<2x8x4xf32>) scale 0.125 masked -3.0e38 additive reading(%pad : tensor<1x8xi64>) mask {
  ^bb0(%b: index, %i: index, %j: index, %m: tensor<1x8xi64>):
    %c0 = arith.constant 0 : index
    %zero = arith.constant 0 : i64
    %keep = tensor.extract %m[%c0, %j] : tensor<1x8xi64>
    %c = arith.cmpi eq, %keep, %zero : i64
    autopar.yield %c : i1
  } -> tensor<2x8x4xf32>, tensor<2x4x8xf32>, tensor<2x8x4xf32>
  return %dq : tensor<2x8x4xf32>
}

// CHECK-LABEL: func.func @attention_grad
// CHECK: autopar.attention_grad ins(%{{.*}} : tensor<2x8x4xbf16>, tensor<2x4x8xbf16>, tensor<2x8x4xbf16>, tensor<2x8x4xbf16>, tensor<2x8xf32>, tensor<2x8x4xbf16>, tensor<2x8xf32>) outs(%{{.*}} : tensor<2x8x4xbf16>, tensor<2x4x8xbf16>, tensor<2x8x4xbf16>) scale 1.250000e-01 masked -1.000000e+04 mask {
// CHECK: ^bb0(%{{.*}}: index, %[[I:.*]]: index, %[[J:.*]]: index):
// CHECK: arith.cmpi ugt, %[[J]], %[[I]] : index
// CHECK: } -> tensor<2x8x4xbf16>, tensor<2x4x8xbf16>, tensor<2x8x4xbf16>
func.func @attention_grad(%q: tensor<2x8x4xbf16>, %k: tensor<2x4x8xbf16>, %v: tensor<2x8x4xbf16>, %o: tensor<2x8x4xbf16>, %l: tensor<2x8xf32>, %do: tensor<2x8x4xbf16>, %dl: tensor<2x8xf32>) -> tensor<2x4x8xbf16> {
  %eq = tensor.empty() : tensor<2x8x4xbf16>
  %ek = tensor.empty() : tensor<2x4x8xbf16>
  %ev = tensor.empty() : tensor<2x8x4xbf16>
  %dq, %dk, %dv = autopar.attention_grad ins(%q, %k, %v, %o, %l, %do, %dl : tensor<2x8x4xbf16>, tensor<2x4x8xbf16>, tensor<2x8x4xbf16>, tensor<2x8x4xbf16>, tensor<2x8xf32>, tensor<2x8x4xbf16>, tensor<2x8xf32>) outs(%eq, %ek, %ev : tensor<2x8x4xbf16>, tensor<2x4x8xbf16>, tensor<2x8x4xbf16>) scale 0.125 masked -1.0e4 mask {
  ^bb0(%b: index, %i: index, %j: index):
    %c = arith.cmpi ugt, %j, %i : index
    autopar.yield %c : i1
  } -> tensor<2x8x4xbf16>, tensor<2x4x8xbf16>, tensor<2x8x4xbf16>
  return %dk : tensor<2x4x8xbf16>
}
}
