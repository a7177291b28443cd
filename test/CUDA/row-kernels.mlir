// RUN: autopar-opt %s -split-input-file --autopar-row-kernels="report=1" -verify-diagnostics | FileCheck %s

// A softmax over 4 x 512 rows of 1024: its row maximum, its row sum of
// exponentials and its division become one kernel with a block per row
// (2048 blocks of 256 threads, each thread reading elements t, t + 256,
// ... of its row). The fills of the maximum and the sum fold into it (thread
// 0 combines each row's value with the fill's), the output's allocation
// moves before it, the deallocations stay after it.
// CHECK-LABEL: func.func @softmax(
// CHECK-SAME: %[[X:.*]]: memref<4x512x1024xf32>)
// CHECK-DAG: %[[NINF:.*]] = arith.constant 0xFF800000 : f32
// CHECK-DAG: %[[ZERO:.*]] = arith.constant 0.000000e+00 : f32
// CHECK: %[[MAX:.*]] = memref.alloc() : memref<4x512xf32>
// CHECK-NEXT: %[[SUM:.*]] = memref.alloc() : memref<4x512xf32>
// CHECK-NEXT: %[[Y:.*]] = memref.alloc() : memref<4x512x1024xf32>
// CHECK-NOT: linalg.fill
// CHECK-DAG: %[[ROWS:.*]] = arith.constant 2048 : index
// CHECK-DAG: %[[THREADS:.*]] = arith.constant 256 : index
// CHECK: gpu.launch blocks(%[[B:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %[[ROWS]], {{.*}} threads(%[[T:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %[[THREADS]], {{.*}} workgroup(%[[SHARED:.*]] : memref<8xf32, #gpu.address_space<workgroup>>)
// CHECK: %[[I:.*]] = arith.remui %[[B]], %{{.*}} : index
// CHECK: %[[N:.*]] = arith.divui %[[B]], %{{.*}} : index
// The maximum: each thread's partial over its elements of the row...
// CHECK: %[[PART:.*]] = scf.for %[[J:.*]] = %[[T]] to %{{.*}} step %{{.*}} iter_args(%[[ACC:.*]] = %{{.*}}) -> (f32)
// CHECK: %[[V:.*]] = memref.load %[[X]][%[[N]], %[[I]], %[[J]]]
// CHECK: arith.maxnumf %[[V]], %[[ACC]]
// ... then each warp's by shuffles (xor 16, 8, 4, 2, 1); lane 0 of each of
// the 8 warps puts its warp's maximum in shared memory; after a barrier,
// the first 8 threads of every warp read them (the others the neutral
// element) and shuffle again (xor 4, 2, 1) ...
// CHECK: %[[W16:.*]], %{{.*}} = gpu.shuffle {{ *}}xor %[[PART]], %{{.*}}, %{{.*}} : f32
// CHECK: arith.maxnumf %[[W16]], %[[PART]]
// CHECK-COUNT-4: gpu.shuffle {{ *}}xor
// CHECK: %[[LANE:.*]] = arith.remui %[[T]]
// CHECK: scf.if
// CHECK: memref.store %{{.*}}, %[[SHARED]]
// CHECK-NEXT: }
// CHECK-NEXT: gpu.barrier
// CHECK: scf.if
// CHECK-NEXT: memref.load %[[SHARED]][%[[T]]]
// CHECK-COUNT-3: gpu.shuffle {{ *}}xor
// CHECK-NOT: gpu.shuffle
// ... thread 0 combining the row's maximum into the output.
// CHECK: %[[FIRST:.*]] = arith.cmpi eq, %[[T]]
// CHECK: scf.if %[[FIRST]]
// CHECK-NEXT: %[[NEW:.*]] = arith.maxnumf %{{.*}}, %[[NINF]]
// CHECK-NEXT: memref.store %[[NEW]], %[[MAX]][%[[N]], %[[I]]]
// The sum reads the maximum after a barrier.
// CHECK: gpu.barrier
// CHECK: scf.for
// CHECK: memref.load %[[MAX]][%[[N]], %[[I]]]
// CHECK: math.exp
// CHECK: arith.addf
// CHECK-COUNT-8: gpu.shuffle
// CHECK: arith.addf %{{.*}}, %[[ZERO]]
// CHECK-NEXT: memref.store %{{.*}}, %[[SUM]][%[[N]], %[[I]]]
// The division: each thread writes its elements.
// CHECK: gpu.barrier
// CHECK: scf.for %[[K:.*]] = %[[T]]
// CHECK: arith.divf
// CHECK: memref.store %{{.*}}, %[[Y]][%[[N]], %[[I]], %[[K]]]
// CHECK-NOT: gpu.barrier
// CHECK: gpu.terminator
// CHECK-NOT: linalg.generic
// CHECK: memref.dealloc %[[MAX]]
// CHECK: memref.dealloc %[[SUM]]
#row = affine_map<(b, i, j) -> (b, i, j)>
#red = affine_map<(b, i, j) -> (b, i)>
func.func @softmax(%x: memref<4x512x1024xf32>) -> memref<4x512x1024xf32> {
  %ninf = arith.constant 0xFF800000 : f32
  %zero = arith.constant 0.0 : f32
  %max = memref.alloc() : memref<4x512xf32>
  linalg.fill ins(%ninf : f32) outs(%max : memref<4x512xf32>)
  // expected-remark @below {{row kernel: 2048 rows of 1024, 256 threads a row; reduction reduction elementwise}}
  linalg.generic {indexing_maps = [#row, #red], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x : memref<4x512x1024xf32>) outs(%max : memref<4x512xf32>) {
  ^bb0(%in: f32, %out: f32):
    %m = arith.maxnumf %in, %out : f32
    linalg.yield %m : f32
  }
  %sum = memref.alloc() : memref<4x512xf32>
  linalg.fill ins(%zero : f32) outs(%sum : memref<4x512xf32>)
  linalg.generic {indexing_maps = [#row, #red, #red], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %max : memref<4x512x1024xf32>, memref<4x512xf32>) outs(%sum : memref<4x512xf32>) {
  ^bb0(%in: f32, %m: f32, %out: f32):
    %d = arith.subf %in, %m : f32
    %e = math.exp %d : f32
    %s = arith.addf %e, %out : f32
    linalg.yield %s : f32
  }
  %y = memref.alloc() : memref<4x512x1024xf32>
  linalg.generic {indexing_maps = [#row, #red, #red, #row], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%x, %max, %sum : memref<4x512x1024xf32>, memref<4x512xf32>, memref<4x512xf32>) outs(%y : memref<4x512x1024xf32>) {
  ^bb0(%in: f32, %m: f32, %s: f32, %out: f32):
    %d = arith.subf %in, %m : f32
    %e = math.exp %d : f32
    %q = arith.divf %e, %s : f32
    linalg.yield %q : f32
  }
  memref.dealloc %max : memref<4x512xf32>
  memref.dealloc %sum : memref<4x512xf32>
  return %y : memref<4x512x1024xf32>
}

// -----

// Rows of 50257 (a loss over GPT-2's vocabulary): the largest block, 1024
// threads of 50 elements each, 32 warps.
// CHECK-LABEL: func.func @vocabulary(
// CHECK: gpu.launch {{.*}} workgroup(%{{.*}} : memref<32xf32, #gpu.address_space<workgroup>>)
func.func @vocabulary(%x: memref<8192x50257xf32>, %sum: memref<8192xf32>) {
  %s = memref.alloc() : memref<8192xf32>
  // expected-remark @below {{row kernel: 8192 rows of 50257, 1024 threads a row; reduction}}
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i)>], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<8192x50257xf32>) outs(%s : memref<8192xf32>) {
  ^bb0(%in: f32, %out: f32):
    %a = arith.addf %in, %out : f32
    linalg.yield %a : f32
  }
  memref.copy %s, %sum : memref<8192xf32> to memref<8192xf32>
  return
}

// -----

// Not row kernels: too few rows (a split reduction uses the GPU better);
// rows that are not contiguous (a bias gradient summing over the batch: a
// column each); a row reduction into a buffer the function was given (a
// block could not tell its rows from another's).
// CHECK-LABEL: func.func @few_rows(
// CHECK-NOT: gpu.launch
// CHECK: linalg.generic
func.func @few_rows(%x: memref<64x1024xf32>) -> memref<64xf32> {
  %s = memref.alloc() : memref<64xf32>
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i)>], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<64x1024xf32>) outs(%s : memref<64xf32>) {
  ^bb0(%in: f32, %out: f32):
    %a = arith.addf %in, %out : f32
    linalg.yield %a : f32
  }
  return %s : memref<64xf32>
}
// CHECK-LABEL: func.func @columns(
// CHECK-NOT: gpu.launch
// CHECK: linalg.generic
func.func @columns(%x: memref<8192x4096xf32>) -> memref<4096xf32> {
  %s = memref.alloc() : memref<4096xf32>
  linalg.generic {indexing_maps = [affine_map<(j, i) -> (i, j)>, affine_map<(j, i) -> (j)>], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<8192x4096xf32>) outs(%s : memref<4096xf32>) {
  ^bb0(%in: f32, %out: f32):
    %a = arith.addf %in, %out : f32
    linalg.yield %a : f32
  }
  return %s : memref<4096xf32>
}
// CHECK-LABEL: func.func @given_output(
// CHECK-NOT: gpu.launch
// CHECK: linalg.generic
func.func @given_output(%x: memref<8192x1024xf32>, %s: memref<8192xf32>) {
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i)>], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<8192x1024xf32>) outs(%s : memref<8192xf32>) {
  ^bb0(%in: f32, %out: f32):
    %a = arith.addf %in, %out : f32
    linalg.yield %a : f32
  }
  return
}

// -----

// The ops after a row reduction join its kernel only while each stays
// within its block's row: a division reading the sum of another row (a
// transposed access) ends the kernel, as does one writing a buffer the
// function was given. The next row reduction starts a kernel of its own.
// CHECK-LABEL: func.func @other_rows(
// CHECK: gpu.launch
// CHECK: linalg.generic
// CHECK: gpu.launch
// CHECK: linalg.generic
#x2 = affine_map<(i, j) -> (i, j)>
#r2 = affine_map<(i, j) -> (i)>
func.func @other_rows(%x: memref<2048x2048xf32>, %given: memref<2048x2048xf32>) -> memref<2048x2048xf32> {
  %s = memref.alloc() : memref<2048xf32>
  // expected-remark @below {{row kernel: 2048 rows of 2048, 512 threads a row; reduction}}
  linalg.generic {indexing_maps = [#x2, #r2], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<2048x2048xf32>) outs(%s : memref<2048xf32>) {
  ^bb0(%in: f32, %out: f32):
    %a = arith.addf %in, %out : f32
    linalg.yield %a : f32
  }
  %y = memref.alloc() : memref<2048x2048xf32>
  linalg.generic {indexing_maps = [#x2, affine_map<(i, j) -> (j)>, #x2], iterator_types = ["parallel", "parallel"]}
      ins(%x, %s : memref<2048x2048xf32>, memref<2048xf32>) outs(%y : memref<2048x2048xf32>) {
  ^bb0(%in: f32, %t: f32, %out: f32):
    %q = arith.divf %in, %t : f32
    linalg.yield %q : f32
  }
  %s2 = memref.alloc() : memref<2048xf32>
  // expected-remark @below {{row kernel: 2048 rows of 2048, 512 threads a row; reduction}}
  linalg.generic {indexing_maps = [#x2, #r2], iterator_types = ["parallel", "reduction"]}
      ins(%y : memref<2048x2048xf32>) outs(%s2 : memref<2048xf32>) {
  ^bb0(%in: f32, %out: f32):
    %a = arith.addf %in, %out : f32
    linalg.yield %a : f32
  }
  linalg.generic {indexing_maps = [#x2, #r2, #x2], iterator_types = ["parallel", "parallel"]}
      ins(%y, %s2 : memref<2048x2048xf32>, memref<2048xf32>) outs(%given : memref<2048x2048xf32>) {
  ^bb0(%in: f32, %t: f32, %out: f32):
    %q = arith.divf %in, %t : f32
    linalg.yield %q : f32
  }
  return %y : memref<2048x2048xf32>
}

// -----

// The later members move up past linalg ops that touch none of their
// buffers for writing (a LayerNorm gradient's column sum between its row
// sums and the elementwise op reading them: the column sum reads %x too,
// and stays where it was, now after the kernel); a candidate reading what
// such an op writes (%copy) ends the kernel instead.
// CHECK-LABEL: func.func @past_columns(
// CHECK-SAME: %[[X:[^:]*]]: memref<2048x512xf32>
// CHECK: %[[COL:.*]] = memref.alloc() : memref<512xf32>
// CHECK: gpu.launch
// CHECK: gpu.terminator
// CHECK-NEXT: }
// CHECK-NEXT: linalg.generic {{.*}} iterator_types = ["reduction", "parallel"]} ins(%[[X]] : memref<2048x512xf32>) outs(%[[COL]] : memref<512xf32>)
// CHECK: linalg.copy
// CHECK: gpu.launch
// CHECK: gpu.terminator
// CHECK-NOT: linalg.generic
// CHECK: return
func.func @past_columns(%x: memref<2048x512xf32>) -> (memref<2048x512xf32>, memref<512xf32>, memref<2048x512xf32>) {
  %s = memref.alloc() : memref<2048xf32>
  // expected-remark @below {{row kernel: 2048 rows of 512, 128 threads a row; reduction elementwise}}
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i)>], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<2048x512xf32>) outs(%s : memref<2048xf32>) {
  ^bb0(%in: f32, %out: f32):
    %a = arith.addf %in, %out : f32
    linalg.yield %a : f32
  }
  %col = memref.alloc() : memref<512xf32>
  linalg.generic {indexing_maps = [affine_map<(j, i) -> (i, j)>, affine_map<(j, i) -> (j)>], iterator_types = ["reduction", "parallel"]}
      ins(%x : memref<2048x512xf32>) outs(%col : memref<512xf32>) {
  ^bb0(%in: f32, %out: f32):
    %a = arith.addf %in, %out : f32
    linalg.yield %a : f32
  }
  %y = memref.alloc() : memref<2048x512xf32>
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]}
      ins(%x, %s : memref<2048x512xf32>, memref<2048xf32>) outs(%y : memref<2048x512xf32>) {
  ^bb0(%in: f32, %t: f32, %out: f32):
    %q = arith.divf %in, %t : f32
    linalg.yield %q : f32
  }
  %copy = memref.alloc() : memref<2048xf32>
  linalg.copy ins(%s : memref<2048xf32>) outs(%copy : memref<2048xf32>)
  %s2 = memref.alloc() : memref<2048xf32>
  // expected-remark @below {{row kernel: 2048 rows of 512, 128 threads a row; reduction elementwise}}
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i)>, affine_map<(i, j) -> (i)>], iterator_types = ["parallel", "reduction"]}
      ins(%y, %copy : memref<2048x512xf32>, memref<2048xf32>) outs(%s2 : memref<2048xf32>) {
  ^bb0(%in: f32, %c: f32, %out: f32):
    %m = arith.mulf %in, %c : f32
    %a = arith.addf %m, %out : f32
    linalg.yield %a : f32
  }
  %z = memref.alloc() : memref<2048x512xf32>
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]}
      ins(%y, %s2 : memref<2048x512xf32>, memref<2048xf32>) outs(%z : memref<2048x512xf32>) {
  ^bb0(%in: f32, %t: f32, %out: f32):
    %q = arith.mulf %in, %t : f32
    linalg.yield %q : f32
  }
  return %y, %col, %z : memref<2048x512xf32>, memref<512xf32>, memref<2048x512xf32>
}

// -----

// bf16 partials (which `gpu.shuffle` does not take) combine as a tree in
// shared memory: a partial per thread, 7 levels for 128 threads.
// CHECK-LABEL: func.func @bf16_rows(
// CHECK: gpu.launch {{.*}} workgroup(%[[TREE:.*]] : memref<128xbf16, #gpu.address_space<workgroup>>)
// CHECK-NOT: gpu.shuffle
// CHECK: memref.store %{{.*}}, %[[TREE]]
// CHECK-COUNT-8: gpu.barrier
// CHECK-NOT: gpu.barrier
// CHECK: gpu.terminator
func.func @bf16_rows(%x: memref<2048x512xbf16>) -> memref<2048xbf16> {
  %s = memref.alloc() : memref<2048xbf16>
  // expected-remark @below {{row kernel: 2048 rows of 512, 128 threads a row; reduction}}
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i)>], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<2048x512xbf16>) outs(%s : memref<2048xbf16>) {
  ^bb0(%in: bf16, %out: bf16):
    %a = arith.addf %in, %out : bf16
    linalg.yield %a : bf16
  }
  return %s : memref<2048xbf16>
}

// -----

// Under autopar-run --profile, autopar-profile-ops' clock calls around each
// op stay where they are: the kernel runs in the seed's interval (its
// layer is charged the whole kernel), the division's interval is empty.
// CHECK-LABEL: func.func @profiled(
// CHECK: call @autopar_rt_clock()
// CHECK-NOT: call
// CHECK: gpu.launch
// CHECK: gpu.terminator
// CHECK: call @autopar_rt_profile
// CHECK-NEXT: call @autopar_rt_clock()
// CHECK-NEXT: call @autopar_rt_profile
// CHECK-NOT: linalg.generic
func.func private @autopar_rt_clock() -> f64
func.func private @autopar_rt_profile(i64, f64)
func.func @profiled(%x: memref<2048x512xf32>) -> memref<2048x512xf32> {
  %s = memref.alloc() : memref<2048xf32>
  %y = memref.alloc() : memref<2048x512xf32>
  %c0 = arith.constant 0 : i64
  %c1 = arith.constant 1 : i64
  %t0 = func.call @autopar_rt_clock() : () -> f64
  // expected-remark @below {{row kernel: 2048 rows of 512, 128 threads a row; reduction elementwise}}
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i)>], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<2048x512xf32>) outs(%s : memref<2048xf32>) {
  ^bb0(%in: f32, %out: f32):
    %a = arith.addf %in, %out : f32
    linalg.yield %a : f32
  }
  func.call @autopar_rt_profile(%c0, %t0) : (i64, f64) -> ()
  %t1 = func.call @autopar_rt_clock() : () -> f64
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]}
      ins(%x, %s : memref<2048x512xf32>, memref<2048xf32>) outs(%y : memref<2048x512xf32>) {
  ^bb0(%in: f32, %t: f32, %out: f32):
    %q = arith.divf %in, %t : f32
    linalg.yield %q : f32
  }
  func.call @autopar_rt_profile(%c1, %t1) : (i64, f64) -> ()
  return %y : memref<2048x512xf32>
}

// -----

// A member may write a slice of an allocated buffer (an attention block's
// rows of its lse) when every member reaches that buffer through the same
// unit-stride subview: the block's rows map to the slice's one to one. Two
// different slices of one buffer (here the sum's rows read back shifted by
// one block) could map one block's row onto another's: the kernel ends.
// CHECK-LABEL: func.func @slice_rows(
// CHECK: gpu.launch
// CHECK-NOT: linalg.generic
// CHECK: return
// CHECK-LABEL: func.func @other_slices(
// CHECK: gpu.launch
// CHECK: linalg.generic
// CHECK: return
#x3 = affine_map<(i, j) -> (i, j)>
#r3 = affine_map<(i, j) -> (i)>
func.func @slice_rows(%x: memref<2048x512xf32>, %b: index) -> memref<4096xf32> {
  %lse = memref.alloc() : memref<4096xf32>
  %s = memref.alloc() : memref<2048xf32>
  // expected-remark @below {{row kernel: 2048 rows of 512, 128 threads a row; reduction elementwise}}
  linalg.generic {indexing_maps = [#x3, #r3], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<2048x512xf32>) outs(%s : memref<2048xf32>) {
  ^bb0(%in: f32, %out: f32):
    %a = arith.addf %in, %out : f32
    linalg.yield %a : f32
  }
  %slice = memref.subview %lse[%b] [2048] [1] : memref<4096xf32> to memref<2048xf32, strided<[1], offset: ?>>
  linalg.generic {indexing_maps = [affine_map<(i) -> (i)>, affine_map<(i) -> (i)>], iterator_types = ["parallel"]}
      ins(%s : memref<2048xf32>) outs(%slice : memref<2048xf32, strided<[1], offset: ?>>) {
  ^bb0(%in: f32, %out: f32):
    %l = math.log %in : f32
    linalg.yield %l : f32
  }
  return %lse : memref<4096xf32>
}
func.func @other_slices(%x: memref<2048x512xf32>, %b: index) -> memref<4096xf32> {
  %lse = memref.alloc() : memref<4096xf32>
  %first = memref.subview %lse[0] [2048] [1] : memref<4096xf32> to memref<2048xf32, strided<[1]>>
  // expected-remark @below {{row kernel: 2048 rows of 512, 128 threads a row; reduction}}
  linalg.generic {indexing_maps = [#x3, #r3], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<2048x512xf32>) outs(%first : memref<2048xf32, strided<[1]>>) {
  ^bb0(%in: f32, %out: f32):
    %a = arith.addf %in, %out : f32
    linalg.yield %a : f32
  }
  %second = memref.subview %lse[%b] [2048] [1] : memref<4096xf32> to memref<2048xf32, strided<[1], offset: ?>>
  linalg.generic {indexing_maps = [affine_map<(i) -> (i)>, affine_map<(i) -> (i)>], iterator_types = ["parallel"]}
      ins(%first : memref<2048xf32, strided<[1]>>) outs(%second : memref<2048xf32, strided<[1], offset: ?>>) {
  ^bb0(%in: f32, %out: f32):
    %l = math.log %in : f32
    linalg.yield %l : f32
  }
  return %lse : memref<4096xf32>
}
