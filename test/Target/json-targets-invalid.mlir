// Invalid target files: each error names the file and the field.
// RUN: not autopar-opt %s -autopar-set-target=target=%S/Inputs/syntax.json 2>&1 | FileCheck %s --check-prefix=SYNTAX
// RUN: not autopar-opt %s -autopar-set-target=target=%S/Inputs/unknown-field.json 2>&1 | FileCheck %s --check-prefix=UNKNOWN
// RUN: not autopar-opt %s -autopar-set-target=target=%S/Inputs/wrong-type.json 2>&1 | FileCheck %s --check-prefix=TYPE
// RUN: not autopar-opt %s -autopar-set-target=target=%S/Inputs/missing.json 2>&1 | FileCheck %s --check-prefix=MISSING
// RUN: not autopar-opt %s -autopar-set-target=target=%S/Inputs/invalid-value.json 2>&1 | FileCheck %s --check-prefix=VALUE
// RUN: not autopar-opt %s -autopar-set-target=target=%S/Inputs/no-inter-node.json 2>&1 | FileCheck %s --check-prefix=NODES
// RUN: not autopar-opt %s -autopar-set-target=target=%S/Inputs/bad-preset.json 2>&1 | FileCheck %s --check-prefix=PRESET
// RUN: not autopar-opt %s -autopar-set-target=target=%S/Inputs/bad-topology.json 2>&1 | FileCheck %s --check-prefix=TOPOLOGY
// RUN: not autopar-opt %s -autopar-set-target=target=%S/Inputs/absent.json 2>&1 | FileCheck %s --check-prefix=ABSENT
// RUN: not autopar-opt %s --autopar-analyze=target=dgx-9000 2>&1 | FileCheck %s --check-prefix=NAME

// SYNTAX: error: {{.*}}syntax.json: invalid JSON: [3:14, byte=36]: Expected object key
// UNKNOWN: error: {{.*}}unknown-field.json: gpu.memory_bandwith: unknown field; expected one of: name, peak_flops, memory_capacity, memory_bandwidth,
// TYPE: error: {{.*}}wrong-type.json: gpu.peak_flops.f32: expected a number
// MISSING: error: {{.*}}missing.json: intra_node: missing required object
// VALUE: error: {{.*}}invalid-value.json: gpu: gpu 'power_idle' must be between 0 and 'power_busy'
// NODES: error: {{.*}}no-inter-node.json: target: target with 2 nodes needs an 'inter_node' link
// PRESET: error: {{.*}}bad-preset.json: preset: unknown preset 'dgx-9000'; presets: titanxp-pcie-4, p100-dgx1, v100-dgx1, a100-dgx, h100-dgx, h200-dgx
// TOPOLOGY: error: {{.*}}bad-topology.json: intra_node.topology: unknown topology 'carrier-pigeon'; expected one of: pcie, nvlink, nvswitch, infiniband, ethernet
// ABSENT: error: cannot read target file '{{.*}}absent.json': No such file or directory
// NAME: error: unknown target 'dgx-9000'; presets: titanxp-pcie-4, p100-dgx1, v100-dgx1, a100-dgx, h100-dgx, h200-dgx (or a .json file)
module {
}
