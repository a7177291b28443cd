// Malformed autopar attributes: a located diagnostic each, never a crash.
// RUN: autopar-opt %s -split-input-file -verify-diagnostics

// expected-error @+1 {{a mesh needs at least one axis}}
autopar.mesh @m <>

// -----

// expected-error @+1 {{mesh axis 'gpus' is declared more than once}}
autopar.mesh @m <gpus = 2, gpus = 4>

// -----

// expected-error @+1 {{mesh axis 'gpus' must have a size of at least 1, got 0}}
autopar.mesh @m <gpus = 0>

// -----

// expected-error @+1 {{expected '='}}
autopar.mesh @m <gpus 4>

// -----

autopar.mesh @m <nodes = 2, gpus = 4>
// expected-error @+1 {{mesh axis 'gpus' is used more than once}}
func.func private @f(tensor<8x8xf32> {autopar.sharding = #autopar.sharding<@m, [[gpus], [gpus]]>})

// -----

autopar.mesh @m <nodes = 2, gpus = 4>
// expected-error @+1 {{mesh axis 'gpus' is used more than once}}
func.func private @f(tensor<8x8xf32> {autopar.sharding = #autopar.sharding<@m, [[gpus], []], partial = sum [gpus]>})

// -----

autopar.mesh @m <nodes = 2, gpus = 4>
// expected-error @+1 {{unknown reduction 'avg', expected one of: sum, prod, min, max}}
func.func private @f(tensor<8x8xf32> {autopar.sharding = #autopar.sharding<@m, [[], []], partial = avg [gpus]>})

// -----

autopar.mesh @m <nodes = 2, gpus = 4>
// expected-error @+1 {{expected 'partial'}}
func.func private @f(tensor<8x8xf32> {autopar.sharding = #autopar.sharding<@m, [[], []], parital = sum [gpus]>})

// -----

autopar.mesh @m <nodes = 2, gpus = 4>
// expected-error @+1 {{'autopar.sharding' of argument #0: sharding has 1 dimension entries but the value 'tensor<8x8xf32>' has rank 2}}
func.func private @f(tensor<8x8xf32> {autopar.sharding = #autopar.sharding<@m, [[gpus]]>})

// -----

autopar.mesh @m <nodes = 2, gpus = 4>
// expected-error @+1 {{'autopar.sharding' of result #0: mesh @m has no axis 'gpu'}}
func.func private @f() -> (tensor<8xf32> {autopar.sharding = #autopar.sharding<@m, [[gpu]]>})

// -----

// expected-error @+1 {{no mesh named @nomesh (declare it with autopar.mesh)}}
func.func private @f(tensor<8xf32> {autopar.sharding = #autopar.sharding<@nomesh, [[gpus]]>})

// -----

// expected-note @+1 {{symbol defined here}}
func.func private @g()
// expected-error @+1 {{@g is not an autopar.mesh}}
func.func private @f(tensor<8xf32> {autopar.sharding = #autopar.sharding<@g, [[gpus]]>})

// -----

autopar.mesh @m <gpus = 4>
// expected-error @+1 {{unknown autopar argument attribute 'autopar.shard'; known: autopar.sharding, autopar.role, autopar.batch_dim, autopar.in_place}}
func.func private @f(tensor<8xf32> {autopar.shard = #autopar.sharding<@m, [[gpus]]>})

// -----

// expected-error @+1 {{'autopar.in_place' takes no value, got true}}
func.func private @f(tensor<8xf32> {autopar.in_place = true})

// -----

autopar.mesh @m <gpus = 4>
// expected-error @+1 {{'autopar.sharding' of argument #0 must be a #autopar.sharding, got #autopar.strategy<@m, [[gpus]]>}}
func.func private @f(tensor<8xf32> {autopar.sharding = #autopar.strategy<@m, [[gpus]]>})

// -----

autopar.mesh @m <gpus = 4>
func.func @f(%a: tensor<8x4xf32>, %b: tensor<4x8xf32>, %c: tensor<8x8xf32>) -> tensor<8x8xf32> {
  // expected-error @+1 {{'autopar.strategy': strategy has 2 loop entries but the op has 3 loops}}
  %0 = linalg.matmul {autopar.strategy = #autopar.strategy<@m, [[gpus], []]>}
      ins(%a, %b : tensor<8x4xf32>, tensor<4x8xf32>) outs(%c : tensor<8x8xf32>) -> tensor<8x8xf32>
  return %0 : tensor<8x8xf32>
}

// -----

autopar.mesh @m <gpus = 4>
func.func @f(%a: tensor<8x4xf32>, %b: tensor<4x8xf32>, %c: tensor<8x8xf32>) -> tensor<8x8xf32> {
  // expected-error @+1 {{'autopar.strategy': mesh @m has no axis 'nodes'}}
  %0 = linalg.matmul {autopar.strategy = #autopar.strategy<@m, [[nodes], [], []]>}
      ins(%a, %b : tensor<8x4xf32>, tensor<4x8xf32>) outs(%c : tensor<8x8xf32>) -> tensor<8x8xf32>
  return %0 : tensor<8x8xf32>
}

// -----

autopar.mesh @m <gpus = 4>
func.func @f(%a: tensor<8xf32>) -> tensor<8xf32> {
  // expected-error @+1 {{'autopar.strategy' must be a #autopar.strategy, got 1 : i64}}
  %0 = arith.addf %a, %a {autopar.strategy = 1} : tensor<8xf32>
  return %0 : tensor<8xf32>
}

// -----

autopar.mesh @m <gpus = 4>
func.func @f(%a: tensor<8xf32>) -> tensor<8xf32> {
  // expected-error @+1 {{'autopar.shardings' must be an array with one #autopar.sharding per result (1)}}
  %0 = arith.addf %a, %a {autopar.shardings = []} : tensor<8xf32>
  return %0 : tensor<8xf32>
}

// -----

autopar.mesh @m <gpus = 4>
func.func @f(%a: tensor<8xf32>) -> tensor<8xf32> {
  // expected-error @+1 {{'autopar.shardings' of result #0: sharding has 2 dimension entries but the value 'tensor<8xf32>' has rank 1}}
  %0 = arith.addf %a, %a {autopar.shardings = [#autopar.sharding<@m, [[gpus], []]>]} : tensor<8xf32>
  return %0 : tensor<8xf32>
}

// -----

func.func @f(%a: tensor<8xf32>) -> tensor<8xf32> {
  // expected-error @+1 {{unknown autopar attribute 'autopar.bogus'; known: autopar.shardings, autopar.strategy, autopar.target, autopar.plan, autopar.step, autopar.layer, autopar.grad_of}}
  %0 = arith.addf %a, %a {autopar.bogus} : tensor<8xf32>
  return %0 : tensor<8xf32>
}

// -----

// expected-error @+1 {{'autopar.target' belongs on a builtin.module}}
func.func private @f() attributes {autopar.target = #autopar.link<topology = pcie, bandwidth = 1.0, latency = 0.0>}

// -----

// expected-error @+1 {{'autopar.target' must be a #autopar.target, got #autopar.link<topology = pcie, bandwidth = 1.0, latency = 0.0>}}
module attributes {autopar.target = #autopar.link<topology = pcie, bandwidth = 1.0, latency = 0.0>} {}

// -----

// expected-error @+2 {{expected ::mlir::autopar::LinkTopology to be one of: pcie, nvlink, nvswitch, infiniband, ethernet}}
// expected-error @+1 {{failed to parse Autopar_LinkAttr parameter 'topology'}}
module attributes {autopar.target = #autopar.link<topology = pci, bandwidth = 1.0, latency = 0.0>} {}

// -----

// expected-error @+1 {{link 'bandwidth' must be positive}}
module attributes {autopar.target = #autopar.link<topology = nvlink, bandwidth = 0.0, latency = 0.0>} {}

// -----

// expected-error @+1 {{link 'latency' must not be negative}}
module attributes {autopar.target = #autopar.link<topology = nvlink, bandwidth = 1.0e9, latency = -1.0e-6>} {}

// -----

// A missing field: the struct parser wants the next one.
// expected-error @+1 {{expected ','}}
module attributes {autopar.target = #autopar.link<topology = nvlink, bandwidth = 1.0e9>} {}

// -----

// expected-error @+1 {{duplicate or unknown struct parameter name: speed}}
module attributes {autopar.target = #autopar.link<topology = nvlink, speed = 1.0e9, latency = 0.0>} {}

// -----

// expected-error @+1 {{gpu 'peak_flops' has unknown element type 'f17', expected one of: f64, f32, tf32, f16, bf16, f8, i8}}
module attributes {autopar.target = #autopar.gpu<name = "G", peak_flops = {f17 = 1.0e12}, memory_bandwidth = 1.0e11, memory_capacity = 1024, power_busy = 100.0, power_idle = 10.0>} {}

// -----

// expected-error @+1 {{gpu 'peak_flops' needs at least one element type}}
module attributes {autopar.target = #autopar.gpu<name = "G", peak_flops = {}, memory_bandwidth = 1.0e11, memory_capacity = 1024, power_busy = 100.0, power_idle = 10.0>} {}

// -----

// expected-error @+1 {{gpu 'peak_flops' for f32 must be a positive number}}
module attributes {autopar.target = #autopar.gpu<name = "G", peak_flops = {f32 = -1.0}, memory_bandwidth = 1.0e11, memory_capacity = 1024, power_busy = 100.0, power_idle = 10.0>} {}

// -----

// expected-error @+1 {{gpu 'memory_bandwidth' must be positive}}
module attributes {autopar.target = #autopar.gpu<name = "G", peak_flops = {f32 = 1.0e12}, memory_bandwidth = 0.0, memory_capacity = 1024, power_busy = 100.0, power_idle = 10.0>} {}

// -----

// expected-error @+1 {{gpu 'memory_capacity' must be positive}}
module attributes {autopar.target = #autopar.gpu<name = "G", peak_flops = {f32 = 1.0e12}, memory_bandwidth = 1.0e11, memory_capacity = 0, power_busy = 100.0, power_idle = 10.0>} {}

// -----

// expected-error @+1 {{gpu 'power_idle' must be between 0 and 'power_busy'}}
module attributes {autopar.target = #autopar.gpu<name = "G", peak_flops = {f32 = 1.0e12}, memory_bandwidth = 1.0e11, memory_capacity = 1024, power_busy = 100.0, power_idle = 200.0>} {}

// -----

// expected-error @+1 {{gpu 'name' must not be empty}}
module attributes {autopar.target = #autopar.gpu<name = "", peak_flops = {f32 = 1.0e12}, memory_bandwidth = 1.0e11, memory_capacity = 1024, power_busy = 100.0, power_idle = 10.0>} {}

// -----

// expected-error @+1 {{target 'nodes' must be at least 1, got 0}}
module attributes {autopar.target = #autopar.target<name = "t", nodes = 0, gpus_per_node = 4, gpu = <name = "G", peak_flops = {f32 = 1.0e12}, memory_bandwidth = 1.0e11, memory_capacity = 1024, power_busy = 100.0, power_idle = 10.0>, intra_node = <topology = pcie, bandwidth = 1.0e10, latency = 0.0>>} {}

// -----

// expected-error @+1 {{target 'gpus_per_node' must be at least 1, got -2}}
module attributes {autopar.target = #autopar.target<name = "t", nodes = 1, gpus_per_node = -2, gpu = <name = "G", peak_flops = {f32 = 1.0e12}, memory_bandwidth = 1.0e11, memory_capacity = 1024, power_busy = 100.0, power_idle = 10.0>, intra_node = <topology = pcie, bandwidth = 1.0e10, latency = 0.0>>} {}

// -----

// expected-error @+1 {{target with 2 nodes needs an 'inter_node' link}}
module attributes {autopar.target = #autopar.target<name = "t", nodes = 2, gpus_per_node = 4, gpu = <name = "G", peak_flops = {f32 = 1.0e12}, memory_bandwidth = 1.0e11, memory_capacity = 1024, power_busy = 100.0, power_idle = 10.0>, intra_node = <topology = pcie, bandwidth = 1.0e10, latency = 0.0>>} {}

// -----

// expected-error @+1 {{target 'name' must not be empty}}
module attributes {autopar.target = #autopar.target<name = "", nodes = 1, gpus_per_node = 4, gpu = <name = "G", peak_flops = {f32 = 1.0e12}, memory_bandwidth = 1.0e11, memory_capacity = 1024, power_busy = 100.0, power_idle = 10.0>, intra_node = <topology = pcie, bandwidth = 1.0e10, latency = 0.0>>} {}

// -----

// expected-error @+1 {{struct is missing required parameter: gpu}}
module attributes {autopar.target = #autopar.target<name = "t", nodes = 1, gpus_per_node = 4, intra_node = <topology = pcie, bandwidth = 1.0e10, latency = 0.0>>} {}

// -----

// expected-error @+1 {{'autopar.role' of argument #1 must be one of "input", "label", "param", "state", got "weights"}}
func.func private @f(tensor<8xf32> {autopar.role = "input"}, tensor<8xf32> {autopar.role = "weights"})

// -----

// expected-error @+1 {{'autopar.batch_dim' of argument #0 must be an integer dimension of 'tensor<8x4xf32>', got 2 : i64}}
func.func private @f(tensor<8x4xf32> {autopar.role = "input", autopar.batch_dim = 2})

// -----

// expected-error @+1 {{unknown autopar result attribute 'autopar.role'; known: autopar.sharding}}
func.func private @f() -> (tensor<8xf32> {autopar.role = "input"})

// -----

// expected-error @+1 {{gpu 'compute_efficiency' must be in (0, 1], got 1.5}}
module attributes {autopar.target = #autopar.gpu<name = "G", peak_flops = {f32 = 1.0e12}, memory_bandwidth = 1.0e11, memory_capacity = 1024, power_busy = 100.0, power_idle = 10.0, compute_efficiency = 1.5>} {}

// -----

// expected-error @+1 {{gpu 'saturation_threads' must not be negative}}
module attributes {autopar.target = #autopar.gpu<name = "G", peak_flops = {f32 = 1.0e12}, memory_bandwidth = 1.0e11, memory_capacity = 1024, power_busy = 100.0, power_idle = 10.0, saturation_threads = -1.0>} {}

// -----

// expected-error @+1 {{plan 'gpus' must be at least 1, got 0}}
module attributes {autopar.plan = #autopar.plan<mesh = @m, gpus = 0, objective = "time", step_time = 1.0, samples_per_second = 1.0, speedup = 1.0, efficiency = 1.0, energy_per_sample = 1.0, memory_per_gpu = 1.0>} {}

// -----

// expected-error @+1 {{no mesh named @nomesh (declare it with autopar.mesh)}}
module attributes {autopar.plan = #autopar.plan<mesh = @nomesh, gpus = 1, objective = "time", step_time = 1.0, samples_per_second = 1.0, speedup = 1.0, efficiency = 1.0, energy_per_sample = 1.0, memory_per_gpu = 1.0>} {}

// -----

// expected-error @+1 {{'autopar.updates' of result #0 must be an argument number, got 3 : i64}}
func.func private @f(tensor<4xf32>) -> (tensor<4xf32> {autopar.updates = 3})

// -----

// expected-error @+1 {{'autopar.updates' of result #0: argument #0 has type 'tensor<4xf32>', the result 'tensor<8xf32>'}}
func.func private @f(tensor<4xf32>) -> (tensor<8xf32> {autopar.updates = 0})

// -----

func.func private @gemm(i64, i64) attributes {autopar.stream_ordered}
func.func @f(%a: i64) {
  // expected-error @+1 {{'autopar.writes' is an array of operand numbers on a call}}
  call @gemm(%a, %a) {autopar.writes = array<i32: 2>} : (i64, i64) -> ()
  return
}

// -----

func.func @f(%a: tensor<8xf32>) -> tensor<8xf32> {
  // expected-error @+1 {{'autopar.runtime_deallocation' is a unit attribute on a function}}
  %0 = arith.addf %a, %a {autopar.runtime_deallocation} : tensor<8xf32>
  return %0 : tensor<8xf32>
}

// -----

// expected-error @+1 {{'autopar.runtime_deallocation' is a unit attribute on a function}}
func.func private @g() attributes {autopar.runtime_deallocation = 1 : i64}
