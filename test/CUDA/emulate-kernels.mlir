// RUN: autopar-opt %s -split-input-file -autopar-emulate-gpu-kernels -verify-diagnostics | FileCheck %s

// A launch becomes loops over the grid (z, y, x) calling the kernel, now a
// host function that runs one block: its body in loops over the block's
// threads (z, y, x), the thread index their induction variables (and the
// linear index computed from them first), the other
// index operations its trailing arguments (block index, block size, grid
// size); the launch's token is its dependency's; the kernel module is
// gone.

module attributes {gpu.container_module} {
  gpu.module @kernels {
    gpu.func @scale(%buffer: memref<8xf32>, %factor: f32) kernel {
      %block = gpu.block_id x
      %thread = gpu.thread_id x
      %size = gpu.block_dim x
      %base = arith.muli %block, %size : index
      %i = arith.addi %base, %thread : index
      %global = gpu.global_id x
      %same = arith.cmpi eq, %i, %global : index
      cf.assert %same, "global id"
      %x = memref.load %buffer[%i] : memref<8xf32>
      %y = arith.mulf %x, %factor : f32
      memref.store %y, %buffer[%i] : memref<8xf32>
      gpu.return
    }
  }
  func.func @step(%buffer: memref<8xf32>, %factor: f32) {
    %c1 = arith.constant 1 : index
    %c2 = arith.constant 2 : index
    %c4 = arith.constant 4 : index
    %stream = gpu.wait async
    %done = gpu.launch_func async [%stream] @kernels::@scale
        blocks in (%c2, %c1, %c1) threads in (%c4, %c1, %c1)
        args(%buffer : memref<8xf32>, %factor : f32)
    gpu.wait [%done]
    return
  }
}

// CHECK-NOT: gpu.module
// CHECK-LABEL: func.func @step(
// CHECK-SAME: %[[BUF:.*]]: memref<8xf32>, %[[F:.*]]: f32)
// CHECK: %[[C1:.*]] = arith.constant 1 : index
// CHECK: %[[C2:.*]] = arith.constant 2 : index
// CHECK: %[[C4:.*]] = arith.constant 4 : index
// CHECK: %[[S:.*]] = gpu.wait async
// CHECK: scf.for %[[GZ:.*]] = %{{.*}} to %[[C1]]
// CHECK-NEXT: scf.for %[[GY:.*]] = %{{.*}} to %[[C1]]
// CHECK-NEXT: scf.for %[[GX:.*]] = %{{.*}} to %[[C2]]
// CHECK-NEXT: func.call @__autopar_emulated_kernels_scale(%[[BUF]], %[[F]], %[[GX]], %[[GY]], %[[GZ]], %[[C4]], %[[C1]], %[[C1]], %[[C2]], %[[C1]], %[[C1]])
// CHECK: gpu.wait [%[[S]]]
// CHECK: func.func private @__autopar_emulated_kernels_scale(%{{.*}}: memref<8xf32>, %{{.*}}: f32, %[[BX:[^:]*]]: index, %{{[^:]*}}: index, %{{[^:]*}}: index, %[[DX:[^:]*]]: index, %[[DY:[^:]*]]: index, %[[DZ:[^:]*]]: index,
// CHECK-NOT: gpu.
// CHECK: scf.for %{{.*}} to %[[DZ]]
// CHECK-NEXT: scf.for %{{.*}} to %[[DY]]
// CHECK-NEXT: scf.for %[[TX:.*]] = %{{.*}} to %[[DX]]
// CHECK: %[[BASE:.*]] = arith.muli %[[BX]], %[[DX]]
// CHECK-NEXT: arith.addi %[[BASE]], %[[TX]]
// CHECK: return

// -----

// A block that synchronises (a row's sum, autopar-row-kernels): the body is
// cut at each barrier into parts that run for every thread of the block
// before the next; shared memory is a host buffer per block; a value of an
// earlier part without side effects (the row index) is recomputed.
module attributes {gpu.container_module} {
  gpu.module @kernels {
    gpu.func @row_sum(%x: memref<4x8xf32>, %out: memref<4xf32>) workgroup(%partials: memref<8xf32, #gpu.address_space<workgroup>>) kernel {
      %row = gpu.block_id x
      %thread = gpu.thread_id x
      %value = memref.load %x[%row, %thread] : memref<4x8xf32>
      memref.store %value, %partials[%thread] : memref<8xf32, #gpu.address_space<workgroup>>
      gpu.barrier
      %c0 = arith.constant 0 : index
      %first = arith.cmpi eq, %thread, %c0 : index
      scf.if %first {
        %zero = arith.constant 0.0 : f32
        %sum = affine.for %i = 0 to 8 iter_args(%acc = %zero) -> f32 {
          %p = memref.load %partials[%i] : memref<8xf32, #gpu.address_space<workgroup>>
          %next = arith.addf %acc, %p : f32
          affine.yield %next : f32
        }
        memref.store %sum, %out[%row] : memref<4xf32>
      }
      gpu.return
    }
  }
  func.func @step(%x: memref<4x8xf32>, %out: memref<4xf32>) {
    %c1 = arith.constant 1 : index
    %c4 = arith.constant 4 : index
    %c8 = arith.constant 8 : index
    gpu.launch_func @kernels::@row_sum blocks in (%c4, %c1, %c1) threads in (%c8, %c1, %c1)
        args(%x : memref<4x8xf32>, %out : memref<4xf32>)
    return
  }
}

// CHECK-LABEL: func.func private @__autopar_emulated_kernels_row_sum(
// CHECK-SAME: %[[X:[^:]*]]: memref<4x8xf32>, %[[OUT:[^:]*]]: memref<4xf32>, %[[BX:[^:]*]]: index,
// CHECK: %[[SHARED:.*]] = memref.alloca() : memref<8xf32>
// CHECK: scf.for
// CHECK-NEXT: scf.for
// CHECK-NEXT: scf.for %[[T1:.*]] =
// CHECK: %[[V:.*]] = memref.load %[[X]][%[[BX]], %[[T1]]]
// CHECK-NEXT: memref.store %[[V]], %[[SHARED]][%[[T1]]]
// CHECK: scf.for
// CHECK-NEXT: scf.for
// CHECK-NEXT: scf.for %[[T2:.*]] =
// CHECK: arith.cmpi eq, %[[T2]]
// CHECK: memref.load %[[SHARED]]
// CHECK: memref.store %{{.*}}, %[[OUT]][%[[BX]]]
// CHECK-NOT: gpu.barrier

// -----

// Threads cannot meet at a barrier some of them skip.
module attributes {gpu.container_module} {
  gpu.module @kernels {
    gpu.func @sync(%buffer: memref<8xf32>, %flag: i1) kernel {
      scf.if %flag {
        // expected-error @below {{autopar-emulate-gpu-kernels: 'gpu.barrier' inside control flow or across threads in kernel @sync}}
        gpu.barrier
      }
      gpu.return
    }
  }
}

// -----

// A thread's loaded value outlives its part in a host buffer of one
// value per thread (written where it is loaded, read where it is used);
// a shuffle reads its partner's from that buffer: lane ^ 1 of the warp.
module attributes {gpu.container_module} {
  gpu.module @kernels {
    gpu.func @carried(%buffer: memref<64xf32>) kernel {
      %thread = gpu.thread_id x
      %value = memref.load %buffer[%thread] : memref<64xf32>
      gpu.barrier
      %c1 = arith.constant 1 : i32
      %c32 = arith.constant 32 : i32
      %other, %valid = gpu.shuffle xor %value, %c1, %c32 : f32
      %sum = arith.addf %value, %other : f32
      memref.store %sum, %buffer[%thread] : memref<64xf32>
      gpu.return
    }
  }
}

// CHECK-LABEL: func.func private @__autopar_emulated_kernels_carried(
// CHECK-SAME: %[[BUF:[^:]*]]: memref<64xf32>
// CHECK: %[[SLOT:.*]] = memref.alloca(%{{.*}}) : memref<?xf32>
// CHECK: scf.for
// CHECK: %[[V:.*]] = memref.load %[[BUF]]
// CHECK-NEXT: memref.store %[[V]], %[[SLOT]][%{{.*}}]
// CHECK: scf.for
// CHECK: %[[MINE:.*]] = memref.load %[[SLOT]][%[[T2:.*]]]
// CHECK: %[[LANE:.*]] = arith.remui %[[T2]]
// CHECK: %[[PARTNER_LANE:.*]] = arith.xori %[[LANE]]
// CHECK: %[[FROM:.*]] = arith.select
// CHECK: %[[THEIRS:.*]] = memref.load %[[SLOT]][%[[FROM]]]
// CHECK: arith.addf %[[MINE]], %[[THEIRS]]
// CHECK-NOT: gpu.

// -----

// A buffer made before a barrier cannot be kept per thread.
module attributes {gpu.container_module} {
  gpu.module @kernels {
    gpu.func @buffer(%buffer: memref<8xf32>) kernel {
      %thread = gpu.thread_id x
      // expected-error @below {{autopar-emulate-gpu-kernels: a value that is not a scalar, from before a barrier or shuffle, in kernel @buffer}}
      %local = memref.alloca() : memref<8xf32>
      gpu.barrier
      %value = memref.load %local[%thread] : memref<8xf32>
      memref.store %value, %buffer[%thread] : memref<8xf32>
      gpu.return
    }
  }
}

// -----

// Shuffles other than xor, or inside control flow, are not emulated.
module attributes {gpu.container_module} {
  gpu.module @kernels {
    gpu.func @shuffle_down(%buffer: memref<8xf32>) kernel {
      %thread = gpu.thread_id x
      %value = memref.load %buffer[%thread] : memref<8xf32>
      %c1 = arith.constant 1 : i32
      %c32 = arith.constant 32 : i32
      // expected-error @below {{autopar-emulate-gpu-kernels: a shuffle other than xor in kernel @shuffle_down}}
      %other, %valid = gpu.shuffle down %value, %c1, %c32 : f32
      memref.store %other, %buffer[%thread] : memref<8xf32>
      gpu.return
    }
  }
}

// -----

module attributes {gpu.container_module} {
  gpu.module @kernels {
    gpu.func @shuffle_branch(%buffer: memref<8xf32>, %flag: i1) kernel {
      %thread = gpu.thread_id x
      %value = memref.load %buffer[%thread] : memref<8xf32>
      scf.if %flag {
        %c1 = arith.constant 1 : i32
        %c32 = arith.constant 32 : i32
        // expected-error @below {{autopar-emulate-gpu-kernels: 'gpu.shuffle' inside control flow or across threads in kernel @shuffle_branch}}
        %other, %valid = gpu.shuffle xor %value, %c1, %c32 : f32
        memref.store %other, %buffer[%thread] : memref<8xf32>
      }
      gpu.return
    }
  }
}
