// Targets from JSON files: a full description, and a preset with overrides.
// RUN: autopar-opt %s -autopar-set-target=target=%S/Inputs/good.json | FileCheck %s --check-prefix=GOOD
// RUN: autopar-opt %s -autopar-set-target=target=%S/Inputs/preset-override.json | FileCheck %s --check-prefix=OVERRIDE
// A preset with one element type's rate overridden (autopar-calibrate's
// files: f32 measured) keeps the preset's other rates.
// RUN: autopar-opt %s -autopar-set-target=target=%S/Inputs/preset-calibrated.json | FileCheck %s --check-prefix=CALIBRATED
// The analysis reads the file as well.
// RUN: autopar-opt %s --autopar-analyze="target=%S/Inputs/good.json report=-" -o /dev/null | FileCheck %s --check-prefix=REPORT

// GOOD: autopar.target = #autopar.target<name = "lab-box", nodes = 1, gpus_per_node = 2,
// GOOD-SAME: gpu = <name = "RTX 4090", peak_flops = {f16 = 1.652e+14, f32 = 8.26e+13}, memory_bandwidth = 1.008e+12, memory_capacity = 25769803776, power_busy = 450.0, power_idle = 20.0, compute_efficiency = 0.5>,
// GOOD-SAME: intra_node = <topology = pcie, bandwidth = 2.5e+10, latency = 8.0e-06>>

// OVERRIDE: #autopar.target<name = "a100-dgx-x4", nodes = 4, gpus_per_node = 8, gpu = <name = "A100-SXM4-80GB"
// OVERRIDE-SAME: inter_node = <topology = infiniband, bandwidth = 2.0e+10, latency = 5.0e-06>>

// CALIBRATED: gpu = <name = "H200-SXM5-141GB", peak_flops = {bf16 = 9.894e+14, f16 = 9.894e+14, f32 = 5.0e+13, f64 = 6.7e+13, f8 = 1.9789e+15, i8 = 1.9789e+15, tf32 = 4.947e+14}

// REPORT: autopar workload report: @forward on lab-box (1 GPU)
func.func @forward(%x: tensor<4x4xf32>) -> tensor<4x4xf32> {
  %0 = linalg.add ins(%x, %x : tensor<4x4xf32>, tensor<4x4xf32>) outs(%x : tensor<4x4xf32>) -> tensor<4x4xf32>
  return %0 : tensor<4x4xf32>
}
