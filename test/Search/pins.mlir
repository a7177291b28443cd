// A user pin (autopar.shard) fixes its value's sharding and the mesh; the
// search plans everything else around it. Here the weight is pinned to a
// column split, so the matmul is tensor parallel on the pinned mesh @m.
// RUN: autopar-opt %s --autopar-plan=report=%t.txt | FileCheck %s
// RUN: FileCheck %s --check-prefix=REPORT < %t.txt

module {
  autopar.mesh @m <x = 2>
  func.func @forward(%a: tensor<64x32xf32>, %w: tensor<32x16xf32>) -> tensor<64x16xf32> {
    %z = arith.constant 0.0 : f32
    %e = tensor.empty() : tensor<64x16xf32>
    %f = linalg.fill ins(%z : f32) outs(%e : tensor<64x16xf32>) -> tensor<64x16xf32>
    %ws = autopar.shard %w : tensor<32x16xf32> to #autopar.sharding<@m, [[], [x]]>
    %r = linalg.matmul ins(%a, %ws : tensor<64x32xf32>, tensor<32x16xf32>) outs(%f : tensor<64x16xf32>) -> tensor<64x16xf32>
    return %r : tensor<64x16xf32>
  }
}

// CHECK: autopar.plan = #autopar.plan<mesh = @m, gpus = 2
// CHECK: autopar.mesh @m <x = 2>
// CHECK-NOT: autopar.mesh
// CHECK: autopar.shard %arg1 : tensor<32x16xf32> to #autopar.sharding<@m, {{\[\[}}], [x]]>
// CHECK: linalg.matmul {autopar.shardings = [#autopar.sharding<@m, {{\[\[}}], [x]]>], autopar.strategy = #autopar.strategy<@m, {{\[\[}}], [x], []]>}

// REPORT: chosen: 2 GPUs, mesh x=2
// REPORT: meshes considered
// REPORT-NEXT: x=2 2 GPUs
// REPORT-NEXT: {{^$}}
// REPORT: autopar.shard {{.*}} d1:x
// REPORT: linalg.matmul {{.*}} d1:x
