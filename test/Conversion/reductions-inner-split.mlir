// RUN: autopar-opt %s --autopar-reductions-inner="gpu-threads=270336" | FileCheck %s
// RUN: autopar-opt %s --autopar-reductions-inner | FileCheck %s --check-prefix=OFF

// The CUDA backend's split of reductions with few parallel iterations
// (autopar-reductions-inner's gpu-threads, which autopar-lower-to-cuda
// sets): one GPU thread per output element would sum a whole batch, one
// dependent load after another. Off (the CPU backend), the loops are only
// interchanged.

// A convolution's bias gradient: 64 channels, each summing 128 x 55 x 55
// values in one thread. The batch loop becomes parallel (64 x 128 = 8192
// iterations); the next, 55 rows, is cut into 5 chunks of 11 (40960
// threads, each summing 11 x 55 = 605 values; the second generic's threads
// add 128 x 5 = 640 partials: the two chains balance). The chunks are
// interleaved: chunk c sums rows c, c + 5, ..., c + 50 (the input's rows
// expanded to 11 x 5, the chunk the innermost parallel loop, so that
// neighbouring GPU threads read neighbouring rows). The input is
// expanded so that the indexing stays a permutation. The partials are
// started at 0 and added to the output in a second generic.
// CHECK-DAG: #[[IN5:.*]] = affine_map<(d0, d1, d2, d3, d4) -> (d1, d0, d3, d2, d4)>
// CHECK-DAG: #[[ROWS3:.*]] = affine_map<(d0, d1, d2) -> (d0, d2, d1)>
// CHECK-DAG: #[[COLS:.*]] = affine_map<(d0, d1, d2) -> (d2, d0, d1)>
// CHECK-DAG: #[[PARTS:.*]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-DAG: #[[TOTAL:.*]] = affine_map<(d0, d1) -> (d1, d0)>
// CHECK-LABEL: func.func @bias_grad
// CHECK: %[[IN:.*]] = memref.expand_shape %arg0 {{\[}}[0], [1], [2, 3], [4]] output_shape [128, 64, 11, 5, 55]
// CHECK: %[[PART:.*]] = memref.alloc() : memref<64x128x5xf32>
// CHECK: %[[ZERO:.*]] = arith.constant 0.000000e+00 : f32
// CHECK: linalg.fill ins(%[[ZERO]] : f32) outs(%[[PART]] : memref<64x128x5xf32>)
// CHECK: linalg.generic {indexing_maps = [#[[IN5]], #{{.*}}], iterator_types = ["parallel", "parallel", "parallel", "reduction", "reduction"]} ins(%[[IN]] : memref<128x64x11x5x55xf32>) outs(%[[PART]] : memref<64x128x5xf32>)
// CHECK: arith.addf
// CHECK: linalg.generic {indexing_maps = [#{{.*}}, #{{.*}}], iterator_types = ["parallel", "reduction", "reduction"]} ins(%[[PART]] : memref<64x128x5xf32>) outs(%arg1 : memref<64xf32>)
// CHECK: arith.addf
// CHECK: memref.dealloc %[[PART]]
// OFF-LABEL: func.func @bias_grad
// OFF-NOT: memref.alloc
// OFF: linalg.generic {indexing_maps = [#{{.*}}, #{{.*}}], iterator_types = ["parallel", "reduction", "reduction", "reduction"]} ins(%arg0 : memref<128x64x55x55xf32>) outs(%arg1 : memref<64xf32>)
#in4 = affine_map<(n, c, h, w) -> (n, c, h, w)>
#out4 = affine_map<(n, c, h, w) -> (c)>
func.func @bias_grad(%g: memref<128x64x55x55xf32>, %out: memref<64xf32>) {
  linalg.generic {indexing_maps = [#in4, #out4], iterator_types = ["reduction", "parallel", "reduction", "reduction"]}
      ins(%g : memref<128x64x55x55xf32>) outs(%out : memref<64xf32>) {
  ^bb0(%x: f32, %acc: f32):
    %s = arith.addf %acc, %x : f32
    linalg.yield %s : f32
  }
  return
}

// A maximum over rows: 16 rows of 4096 become 16 x 64 chunks of 64,
// started at -inf, the maximum's neutral element.
// CHECK-LABEL: func.func @row_max
// CHECK: memref.expand_shape %arg0 {{\[}}[0], [1, 2]] output_shape [16, 64, 64]
// CHECK: %[[PART:.*]] = memref.alloc() : memref<16x64xf32>
// CHECK: %[[NEG:.*]] = arith.constant 0xFF800000 : f32
// CHECK: linalg.fill ins(%[[NEG]] : f32) outs(%[[PART]] : memref<16x64xf32>)
// CHECK: linalg.generic {indexing_maps = [#[[ROWS3]], #{{.*}}], iterator_types = ["parallel", "parallel", "reduction"]
// CHECK: arith.maximumf
// CHECK: iterator_types = ["parallel", "reduction"]} ins(%[[PART]] : memref<16x64xf32>) outs(%arg1 : memref<16xf32>)
// CHECK: arith.maximumf
#rows = affine_map<(r, k) -> (r, k)>
#row = affine_map<(r, k) -> (r)>
func.func @row_max(%x: memref<16x4096xf32>, %out: memref<16xf32>) {
  linalg.generic {indexing_maps = [#rows, #row], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<16x4096xf32>) outs(%out : memref<16xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %m = arith.maximumf %a, %acc : f32
    linalg.yield %m : f32
  }
  return
}

// Short chains (rows of 64): splitting would not halve the time once the
// second launch counts: unchanged.
// CHECK-LABEL: func.func @many_rows
// CHECK-NOT: memref.alloc
// CHECK: linalg.generic {{.*}} ins(%arg0 : memref<65536x64xf32>) outs(%arg1 : memref<65536xf32>)
func.func @many_rows(%x: memref<65536x64xf32>, %out: memref<65536xf32>) {
  linalg.generic {indexing_maps = [#rows, #row], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<65536x64xf32>) outs(%out : memref<65536xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %s = arith.addf %a, %acc : f32
    linalg.yield %s : f32
  }
  return
}

// An output the body reads twice is no combiner: unchanged.
// CHECK-LABEL: func.func @not_a_combiner
// CHECK-NOT: memref.alloc
// CHECK: return
func.func @not_a_combiner(%x: memref<16x4096xf32>, %out: memref<16xf32>) {
  linalg.generic {indexing_maps = [#rows, #row], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<16x4096xf32>) outs(%out : memref<16xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %p = arith.mulf %acc, %acc : f32
    %s = arith.addf %a, %p : f32
    linalg.yield %s : f32
  }
  return
}

// Index ops (a causal mask): in the split, the chunked loop's index is
// index within the chunk x 64 + chunk.
// CHECK-LABEL: func.func @masked_sum
// CHECK: memref.expand_shape %arg0 {{\[}}[0], [1, 2]] output_shape [16, 64, 64]
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]
// CHECK-DAG: %[[ROW:.*]] = linalg.index 0 : index
// CHECK-DAG: %[[CHUNK:.*]] = linalg.index 1 : index
// CHECK-DAG: %[[WITHIN:.*]] = linalg.index 2 : index
// CHECK-DAG: %[[CHUNKS:.*]] = arith.constant 64 : index
// CHECK: %[[SCALED:.*]] = arith.muli %[[WITHIN]], %[[CHUNKS]] : index
// CHECK: %[[COLUMN:.*]] = arith.addi %[[SCALED]], %[[CHUNK]] : index
// CHECK: arith.cmpi ule, %[[COLUMN]], %[[ROW]] : index
func.func @masked_sum(%x: memref<16x4096xf32>, %out: memref<16xf32>) {
  linalg.generic {indexing_maps = [#rows, #row], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<16x4096xf32>) outs(%out : memref<16xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %r = linalg.index 0 : index
    %k = linalg.index 1 : index
    %keep = arith.cmpi ule, %k, %r : index
    %zero = arith.constant 0.0 : f32
    %v = arith.select %keep, %a, %zero : f32
    %s = arith.addf %v, %acc : f32
    linalg.yield %s : f32
  }
  return
}

// A sum into one value (a loss over batch x sequence x vocabulary): the
// leading loops become 4 x 64 = 256 parallel partials, and with
// gpu-threads the last is cut into 256 interleaved chunks of 16 (65536
// threads, at most gpu-threads); those partials are summed once more
// without chunks (256 threads of 256), and the host adds 256. Off (the
// CPU backend), only the leading loops: 256 partials of 4096.
// CHECK-LABEL: func.func @scalar_sum
// CHECK: memref.expand_shape %arg0 {{\[}}[0], [1], [2, 3]] output_shape [4, 64, 16, 256]
// CHECK: %[[PART:.*]] = memref.alloc() : memref<4x64x256xf32>
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "reduction"]
// CHECK: %[[PART2:.*]] = memref.alloc() : memref<4x64xf32>
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[PART]] : memref<4x64x256xf32>) outs(%[[PART2]] : memref<4x64xf32>)
// CHECK: linalg.generic {{.*}} iterator_types = ["reduction", "reduction"]} ins(%[[PART2]] : memref<4x64xf32>) outs(%arg1 : memref<f32>)
// OFF-LABEL: func.func @scalar_sum
// OFF-NOT: expand_shape
// OFF: %[[PART:.*]] = memref.alloc() : memref<4x64xf32>
// OFF: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]} ins(%arg0 : memref<4x64x4096xf32>) outs(%[[PART]] : memref<4x64xf32>)
// OFF: linalg.generic {{.*}} iterator_types = ["reduction", "reduction"]} ins(%[[PART]] : memref<4x64xf32>) outs(%arg1 : memref<f32>)
#all3 = affine_map<(b, s, v) -> (b, s, v)>
#none3 = affine_map<(b, s, v) -> ()>
func.func @scalar_sum(%x: memref<4x64x4096xf32>, %out: memref<f32>) {
  linalg.generic {indexing_maps = [#all3, #none3], iterator_types = ["reduction", "reduction", "reduction"]}
      ins(%x : memref<4x64x4096xf32>) outs(%out : memref<f32>) {
  ^bb0(%a: f32, %acc: f32):
    %s = arith.addf %a, %acc : f32
    linalg.yield %s : f32
  }
  return
}

// GPT-2's loss shape, shortened (8 x 1024 x 58): 8192 partials, the last
// loop cut in 2 chunks of 29, summed once more without chunks (8192
// threads of 2): that would leave one GPU thread a chain of 8192
// partials. While the last level is longer than 256, its partials are
// summed once more in chunks: 8 x 64 chunks of 16, then 8 x 4 chunks of
// 16; the last thread adds 32. Off: 8192 partials of 58, then 8192.
// CHECK-LABEL: func.func @loss_sum
// CHECK: %[[P1:.*]] = memref.alloc() : memref<8x1024x2xf32>
// CHECK: %[[P2:.*]] = memref.alloc() : memref<8x1024xf32>
// CHECK: linalg.generic {{.*}} ins(%[[P1]] : memref<8x1024x2xf32>) outs(%[[P2]] : memref<8x1024xf32>)
// CHECK: memref.expand_shape %[[P2]] {{\[}}[0], [1, 2]] output_shape [8, 16, 64]
// CHECK: %[[P3:.*]] = memref.alloc() : memref<8x64xf32>
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]{{.*}} outs(%[[P3]] : memref<8x64xf32>)
// CHECK: memref.expand_shape %[[P3]] {{\[}}[0], [1, 2]] output_shape [8, 16, 4]
// CHECK: %[[P4:.*]] = memref.alloc() : memref<8x4xf32>
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]{{.*}} outs(%[[P4]] : memref<8x4xf32>)
// CHECK: linalg.generic {{.*}} iterator_types = ["reduction", "reduction"]} ins(%[[P4]] : memref<8x4xf32>) outs(%arg1 : memref<f32>)
// OFF-LABEL: func.func @loss_sum
// OFF: %[[PART:.*]] = memref.alloc() : memref<8x1024xf32>
// OFF: linalg.generic {{.*}} outs(%[[PART]] : memref<8x1024xf32>)
// OFF: linalg.generic {{.*}} iterator_types = ["reduction", "reduction"]} ins(%[[PART]] : memref<8x1024xf32>) outs(%arg1 : memref<f32>)
// OFF-NEXT: ^bb0
// OFF-NEXT: arith.addf
// OFF-NEXT: linalg.yield
// OFF-NEXT: }
// OFF-NEXT: memref.dealloc %[[PART]]
// OFF-NEXT: return
func.func @loss_sum(%x: memref<8x1024x58xf32>, %out: memref<f32>) {
  linalg.generic {indexing_maps = [#all3, #none3], iterator_types = ["reduction", "reduction", "reduction"]}
      ins(%x : memref<8x1024x58xf32>) outs(%out : memref<f32>) {
  ^bb0(%a: f32, %acc: f32):
    %s = arith.addf %a, %acc : f32
    linalg.yield %s : f32
  }
  return
}

// A dense layer's bias gradient: 768 columns, each summing 8192 rows. The
// column indexes the input's contiguous dimension: it becomes the innermost
// parallel loop (the fastest thread index) after the 64 interleaved chunks
// of rows, and the partials' last dimension, so that neighbouring threads
// read and write neighbouring columns, and the second generic's threads
// (a column each) read neighbouring partials.
// CHECK-LABEL: func.func @column_sum
// CHECK: %[[IN:.*]] = memref.expand_shape %arg0 {{\[}}[0, 1], [2]] output_shape [128, 64, 768]
// CHECK: %[[PART:.*]] = memref.alloc() : memref<64x768xf32>
// CHECK: linalg.generic {indexing_maps = [#[[COLS]], #[[PARTS]]], iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[IN]] : memref<128x64x768xf32>) outs(%[[PART]] : memref<64x768xf32>)
// CHECK: linalg.generic {indexing_maps = [#[[TOTAL]], #{{.*}}], iterator_types = ["parallel", "reduction"]} ins(%[[PART]] : memref<64x768xf32>) outs(%arg1 : memref<768xf32>)
#xt = affine_map<(c, r) -> (r, c)>
#col = affine_map<(c, r) -> (c)>
func.func @column_sum(%g: memref<8192x768xf32>, %out: memref<768xf32>) {
  linalg.generic {indexing_maps = [#xt, #col], iterator_types = ["parallel", "reduction"]}
      ins(%g : memref<8192x768xf32>) outs(%out : memref<768xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %s = arith.addf %a, %acc : f32
    linalg.yield %s : f32
  }
  return
}
