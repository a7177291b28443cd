// Four copies of one op that read nothing of each other (the same
// attention of the same inputs): the repeated-block solver, which joins
// copies through what the next reads of the one before, leaves copies
// with no such interface to the general elimination (it crashed on
// factors over no variable). Each copy is planned; the solution exact.
// RUN: autopar-opt %s --autopar-plan="mesh=2 report=-" -o /dev/null | FileCheck %s
// CHECK-COUNT-4: autopar.attention {{.*}} d0:gpus
// CHECK: solver: elimination, exact
func.func @f(%q: tensor<4x8x16xbf16>, %kt: tensor<4x16x16xbf16>, %v: tensor<4x16x16xbf16>) -> (tensor<4x8x16xbf16>, tensor<4x8x16xbf16>, tensor<4x8x16xbf16>, tensor<4x8x16xbf16>) {
  %oi = tensor.empty() : tensor<4x8x16xbf16>
  %li = tensor.empty() : tensor<4x8xf32>
  %o0, %l0 = autopar.attention ins(%q, %kt, %v : tensor<4x8x16xbf16>, tensor<4x16x16xbf16>, tensor<4x16x16xbf16>) outs(%oi, %li : tensor<4x8x16xbf16>, tensor<4x8xf32>) scale 2.500000e-01 -> tensor<4x8x16xbf16>, tensor<4x8xf32>
  %o1, %l1 = autopar.attention ins(%q, %kt, %v : tensor<4x8x16xbf16>, tensor<4x16x16xbf16>, tensor<4x16x16xbf16>) outs(%oi, %li : tensor<4x8x16xbf16>, tensor<4x8xf32>) scale 2.500000e-01 -> tensor<4x8x16xbf16>, tensor<4x8xf32>
  %o2, %l2 = autopar.attention ins(%q, %kt, %v : tensor<4x8x16xbf16>, tensor<4x16x16xbf16>, tensor<4x16x16xbf16>) outs(%oi, %li : tensor<4x8x16xbf16>, tensor<4x8xf32>) scale 2.500000e-01 -> tensor<4x8x16xbf16>, tensor<4x8xf32>
  %o3, %l3 = autopar.attention ins(%q, %kt, %v : tensor<4x8x16xbf16>, tensor<4x16x16xbf16>, tensor<4x16x16xbf16>) outs(%oi, %li : tensor<4x8x16xbf16>, tensor<4x8xf32>) scale 2.500000e-01 -> tensor<4x8x16xbf16>, tensor<4x8xf32>
  return %o0, %o1, %o2, %o3 : tensor<4x8x16xbf16>, tensor<4x8x16xbf16>, tensor<4x8x16xbf16>, tensor<4x8x16xbf16>
}
