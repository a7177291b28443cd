// RUN: autopar-opt %s -autopar-set-target=target=dgx9000 -verify-diagnostics

// expected-error @+1 {{unknown target 'dgx9000'; presets: titanxp-pcie-4, p100-dgx1, v100-dgx1, a100-dgx, h100-dgx, h200-dgx}}
module {
}
