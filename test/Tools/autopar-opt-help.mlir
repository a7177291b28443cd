// autopar-opt lists each autopar pass and pipeline with its description,
// next to the upstream ones (passes first, then pipelines).
// RUN: autopar-opt --help | FileCheck %s
// CHECK: --autopar-analyze {{.*}}- Report each op's workload and its cost on one GPU of the target
// CHECK-NEXT: --cudnn-attention {{.*}}- Price 16-bit attentions that cuDNN's fused attention computes as that one call
// CHECK-NEXT: --loss=<string>
// CHECK-NEXT: --optimizer=<string>
// CHECK-NEXT: --report=<string>
// CHECK-NEXT: --target=<string> {{.*}}- Target machine: a preset name or a .json file
// CHECK: --autopar-plan {{.*}}- Choose how many GPUs to use and how to split every op
// CHECK: --autopar-set-target {{.*}}- Attach a target-machine description to the module
// CHECK-NEXT: --target=<string> {{.*}}- Target machine: a preset name or a .json file
// CHECK: --autopar-training {{.*}}- Build a training step (forward, backward, update) from a forward function
// CHECK: --one-shot-bufferize
// CHECK: --auto-shard {{.*}}- Plan the parallelization of a model
// CHECK-DAG: --cudnn-attention {{.*}}- Price 16-bit attentions cuDNN's fused attention computes as that call
// CHECK-DAG: --objective=<string>
// CHECK-DAG: --loss=<string>
// CHECK-DAG: --max-gpus=<long>
// CHECK-DAG: --mesh=<string>
// CHECK-DAG: --report=<string>
// CHECK-DAG: --trace=<string>
// CHECK-DAG: --target=<string> {{.*}}- Target machine: a preset name or a .json file
// CHECK: --autopar-lower-to-cpu {{.*}}- Lower linalg on tensors to LLVM for the host CPU
