// autopar-opt lists each autopar pass and pipeline with its description,
// next to the upstream ones (passes first, then pipelines).
// RUN: autopar-opt --help | FileCheck %s
// CHECK: --autopar-set-target {{.*}}- Attach a target-machine description to the module
// CHECK-NEXT: --target=<string> {{.*}}- Preset name of the target machine
// CHECK: --one-shot-bufferize
// CHECK: --auto-shard {{.*}}- Plan the parallelization of a model
// CHECK-NEXT: --target=<string> {{.*}}- Preset name of the target machine
