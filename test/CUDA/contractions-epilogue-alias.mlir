// RUN: autopar-opt %s -split-input-file -autopar-contractions-to-cublas | FileCheck %s

// The bias op after a product folds into it as a cuBLASLt epilogue only
// when its output is not one of the product's inputs: unfused, an op may
// write in place into an input that dies at the product (a layer's input
// buffer reused for its output); fused, cuBLASLt would read A while it
// writes D = A. Found by autopar-run --emulate-gpu on an MLP with two
// hidden layers (its forward's second layer was wrong by 27%).

#id = affine_map<(d0, d1) -> (d0, d1)>
#n = affine_map<(d0, d1) -> (d1)>

// CHECK-LABEL: func.func @in_place
// CHECK-NOT: autopar_cuda_gemm_epilogue
// CHECK: call @autopar_cuda_gemm(
// CHECK-NEXT: linalg.generic
func.func @in_place(%x: memref<2x4xf32>, %w: memref<4x4xf32>,
                    %b: memref<4xf32>) -> memref<2x4xf32> {
  %h = memref.alloc() : memref<2x4xf32>
  memref.copy %x, %h : memref<2x4xf32> to memref<2x4xf32>
  %p = memref.alloc() : memref<2x4xf32>
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%p : memref<2x4xf32>)
  linalg.matmul ins(%h, %w : memref<2x4xf32>, memref<4x4xf32>)
                outs(%p : memref<2x4xf32>)
  linalg.generic {indexing_maps = [#id, #n, #id],
                  iterator_types = ["parallel", "parallel"]}
      ins(%p, %b : memref<2x4xf32>, memref<4xf32>) outs(%h : memref<2x4xf32>) {
  ^bb0(%v: f32, %bias: f32, %out: f32):
    %s = arith.addf %v, %bias : f32
    linalg.yield %s : f32
  }
  memref.dealloc %p : memref<2x4xf32>
  return %h : memref<2x4xf32>
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>
#n = affine_map<(d0, d1) -> (d1)>

// The same layer writing a buffer of its own folds.
// CHECK-LABEL: func.func @own_output
// CHECK: call @autopar_cuda_gemm_epilogue(
// CHECK-NOT: linalg.generic
func.func @own_output(%x: memref<2x4xf32>, %w: memref<4x4xf32>,
                      %b: memref<4xf32>) -> memref<2x4xf32> {
  %h = memref.alloc() : memref<2x4xf32>
  memref.copy %x, %h : memref<2x4xf32> to memref<2x4xf32>
  %p = memref.alloc() : memref<2x4xf32>
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%p : memref<2x4xf32>)
  linalg.matmul ins(%h, %w : memref<2x4xf32>, memref<4x4xf32>)
                outs(%p : memref<2x4xf32>)
  %y = memref.alloc() : memref<2x4xf32>
  linalg.generic {indexing_maps = [#id, #n, #id],
                  iterator_types = ["parallel", "parallel"]}
      ins(%p, %b : memref<2x4xf32>, memref<4xf32>) outs(%y : memref<2x4xf32>) {
  ^bb0(%v: f32, %bias: f32, %out: f32):
    %s = arith.addf %v, %bias : f32
    linalg.yield %s : f32
  }
  memref.dealloc %p : memref<2x4xf32>
  memref.dealloc %h : memref<2x4xf32>
  return %y : memref<2x4xf32>
}
