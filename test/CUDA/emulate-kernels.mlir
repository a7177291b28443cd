// RUN: autopar-opt %s -split-input-file -autopar-emulate-gpu-kernels -verify-diagnostics | FileCheck %s

// A launch becomes loops over the grid (z, y, x) and the block (z, y, x)
// calling the kernel, now a host function whose index operations read its
// trailing arguments (block index, thread index, block size, grid size);
// the launch's token is its dependency's; the kernel module is gone.

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
// CHECK-NEXT: scf.for %[[TZ:.*]] = %{{.*}} to %[[C1]]
// CHECK-NEXT: scf.for %[[TY:.*]] = %{{.*}} to %[[C1]]
// CHECK-NEXT: scf.for %[[TX:.*]] = %{{.*}} to %[[C4]]
// CHECK-NEXT: func.call @__autopar_emulated_kernels_scale(%[[BUF]], %[[F]], %[[GX]], %[[GY]], %[[GZ]], %[[TX]], %[[TY]], %[[TZ]], %[[C4]], %[[C1]], %[[C1]], %[[C2]], %[[C1]], %[[C1]])
// CHECK: gpu.wait [%[[S]]]
// CHECK: func.func private @__autopar_emulated_kernels_scale(%{{.*}}: memref<8xf32>, %{{.*}}: f32, %[[BX:[^:]*]]: index, %{{[^:]*}}: index, %{{[^:]*}}: index, %[[TX2:[^:]*]]: index, %{{[^:]*}}: index, %{{[^:]*}}: index, %[[DX:[^:]*]]: index,
// CHECK-NOT: gpu.
// CHECK: arith.muli %[[BX]], %[[DX]]
// CHECK: return

// -----

// Threads that synchronise cannot run one after another.
module attributes {gpu.container_module} {
  gpu.module @kernels {
    gpu.func @sync(%buffer: memref<8xf32>) kernel {
      // expected-error @below {{autopar-emulate-gpu-kernels: 'gpu.barrier' in kernel @sync cannot run on the host one thread after another}}
      gpu.barrier
      gpu.return
    }
  }
}

// -----

module attributes {gpu.container_module} {
  gpu.module @kernels {
    // expected-error @below {{autopar-emulate-gpu-kernels: kernel @shared uses shared or private memory attributions; its threads cannot run one after another}}
    gpu.func @shared(%buffer: memref<8xf32>) workgroup(%tile: memref<8xf32, #gpu.address_space<workgroup>>) kernel {
      gpu.return
    }
  }
}
