// An op without a sharding rule runs replicated, with a warning; it is never
// dropped. (Here the matmul stays replicated too: splitting it would need an
// all-gather before the loop that costs more than it saves.)
// RUN: autopar-opt %s --autopar-plan="mesh=2 report=%t.txt" -verify-diagnostics | FileCheck %s
// RUN: FileCheck %s --check-prefix=REPORT < %t.txt

func.func @forward(%x: tensor<4096x1024xf32>, %w: tensor<1024x1024xf32>) -> tensor<4096x1024xf32> {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %c1 = arith.constant 1 : index
  %e = tensor.empty() : tensor<4096x1024xf32>
  %m = linalg.matmul ins(%x, %w : tensor<4096x1024xf32>, tensor<1024x1024xf32>) outs(%e : tensor<4096x1024xf32>) -> tensor<4096x1024xf32>
  // expected-warning @+2 {{autopar: cannot analyse 'scf.for'}}
  // expected-warning @+1 {{autopar: no sharding rule for 'scf.for'; it runs replicated}}
  %r = scf.for %i = %c0 to %c2 step %c1 iter_args(%acc = %m) -> (tensor<4096x1024xf32>) {
    scf.yield %acc : tensor<4096x1024xf32>
  }
  return %r : tensor<4096x1024xf32>
}

// CHECK: linalg.matmul {autopar.shardings
// CHECK: scf.for {{.*}} {
// CHECK-NEXT: scf.yield
// CHECK-NEXT: } {autopar.shardings = [#autopar.sharding<@mesh, {{\[\[}}], []]>]

// REPORT: linalg.matmul
// REPORT: scf.for {{.*}} replicated
