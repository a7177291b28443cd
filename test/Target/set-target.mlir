// autopar-set-target attaches a preset as the module's autopar.target.
// RUN: autopar-opt %s -autopar-set-target | FileCheck %s --check-prefix=DEFAULT
// RUN: autopar-opt %s -autopar-set-target=target=titanxp-pcie-4 | FileCheck %s --check-prefix=TITANXP
// RUN: autopar-opt %s -autopar-set-target=target=p100-dgx1 | FileCheck %s --check-prefix=P100
// RUN: autopar-opt %s -autopar-set-target=target=v100-dgx1 | FileCheck %s --check-prefix=V100
// RUN: autopar-opt %s -autopar-set-target=target=a100-dgx | FileCheck %s --check-prefix=A100
// RUN: autopar-opt %s -autopar-set-target=target=h100-dgx | FileCheck %s --check-prefix=H100
// RUN: autopar-opt %s -autopar-set-target=target=h200-dgx | FileCheck %s --check-prefix=H200
// Every preset reads back as it prints.
// RUN: autopar-opt %s -autopar-set-target=target=h200-dgx | autopar-opt | FileCheck %s --check-prefix=H200
// RUN: autopar-opt %s -autopar-set-target=target=a100-dgx | autopar-opt -autopar-set-target | FileCheck %s --check-prefix=A100

// DEFAULT: autopar.target = #autopar.target<name = "titanxp-pcie-4", nodes = 1, gpus_per_node = 4,
// TITANXP: autopar.target = #autopar.target<name = "titanxp-pcie-4", nodes = 1, gpus_per_node = 4,
// TITANXP-SAME: gpu = <name = "TITAN Xp", peak_flops = {f16 = 1.9e+11, f32 = 1.215e+13, f64 = 3.8e+11, i8 = 4.86e+13},
// TITANXP-SAME: memory_bandwidth = 5.477e+11, memory_capacity = 12884901888, power_busy = 250.0, power_idle = 15.0, compute_efficiency = 1.0, saturation_threads = 15360.0>
// TITANXP-SAME: intra_node = <topology = pcie, bandwidth = 6.0e+09, latency = 1.0e-05>
// P100: #autopar.target<name = "p100-dgx1", nodes = 1, gpus_per_node = 8, gpu = <name = "Tesla P100-SXM2-16GB",
// P100-SAME: intra_node = <topology = nvlink,
// V100: #autopar.target<name = "v100-dgx1", nodes = 1, gpus_per_node = 8, gpu = <name = "Tesla V100-SXM2-32GB",
// A100: #autopar.target<name = "a100-dgx", nodes = 1, gpus_per_node = 8, gpu = <name = "A100-SXM4-80GB",
// A100-SAME: memory_capacity = 85899345920
// A100-SAME: intra_node = <topology = nvswitch, bandwidth = 2.4e+11, latency = 3.0e-06>, inter_node = <topology = infiniband, bandwidth = 2.5e+10, latency = 5.0e-06>
// H100: #autopar.target<name = "h100-dgx", nodes = 1, gpus_per_node = 8, gpu = <name = "H100-SXM5-80GB",
// H100-SAME: memory_bandwidth = 3.35e+12
// H200: #autopar.target<name = "h200-dgx", nodes = 1, gpus_per_node = 8, gpu = <name = "H200-SXM5-141GB",
// H200-SAME: memory_bandwidth = 4.8e+12, memory_capacity = 141000000000
module {
  func.func @f() {
    return
  }
}
