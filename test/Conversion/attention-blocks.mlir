// RUN: autopar-opt %s --autopar-prepare-lowering=attention-block-bytes=512 -split-input-file | FileCheck %s
// RUN: autopar-opt %s --autopar-prepare-lowering -split-input-file | FileCheck %s --check-prefix=WHOLE
// RUN: autopar-opt %s --autopar-prepare-lowering=attention-block-bytes=64 -split-input-file | FileCheck %s --check-prefix=ROWS
// autopar-prepare-lowering decomposes an attention and its gradient a
// block of batches at a time when a score-sized buffer (4 x 8 x 8 f32 here,
// 256 bytes per batch) would exceed attention-block-bytes: 512 bytes take 2
// of the 4 batches per iteration. The mask reads the global batch index
// (the loop's first batch added to the block's own). Each block's results
// are computed in the slice of the outs they are inserted into (the
// context's zeros filled there), so that bufferization writes them in
// place instead of copying each block's into the outs.

// CHECK-LABEL: func.func @attention(
// CHECK: %[[C0:.*]] = arith.constant 0 : index
// CHECK: %[[R:.*]]:2 = scf.for %[[B:.*]] = %{{.*}} to %{{.*}} step %{{.*}} iter_args(%[[O:.*]] = %{{.*}}, %[[L:.*]] = %{{.*}}) -> (tensor<4x8x4xf32>, tensor<4x8xf32>)
// CHECK: %[[Q:.*]] = tensor.extract_slice %{{.*}}[%[[B]], 0, 0] [2, 8, 4] [1, 1, 1] : tensor<4x8x4xf32> to tensor<2x8x4xf32>
// CHECK: linalg.batch_matmul ins(%[[Q]], %{{.*}} : tensor<2x8x4xf32>, tensor<2x4x8xf32>) outs(%{{.*}} : tensor<2x8x8xf32>)
// CHECK: %[[BI:.*]] = linalg.index 0 : index
// CHECK: %[[GLOBAL:.*]] = arith.addi %[[BI]], %[[B]] : index
// CHECK: arith.cmpi eq, %[[GLOBAL]], %{{.*}} : index
// CHECK: %[[OS:.*]] = tensor.extract_slice %[[O]][%[[B]], 0, 0] [2, 8, 4] [1, 1, 1]
// CHECK: %[[OF:.*]] = linalg.fill ins(%{{.*}} : f32) outs(%[[OS]] : tensor<2x8x4xf32>)
// CHECK: %[[C:.*]] = linalg.batch_matmul ins(%{{.*}}, %{{.*}} : tensor<2x8x8xf32>, tensor<2x8x4xf32>) outs(%[[OF]] : tensor<2x8x4xf32>)
// CHECK: %[[IO:.*]] = tensor.insert_slice %[[C]] into %[[O]][%[[B]], 0, 0] [2, 8, 4] [1, 1, 1] : tensor<2x8x4xf32> into tensor<4x8x4xf32>
// CHECK: %[[IL:.*]] = tensor.insert_slice %{{.*}} into %[[L]][%[[B]], 0] [2, 8] [1, 1] : tensor<2x8xf32> into tensor<4x8xf32>
// CHECK: scf.yield %[[IO]], %[[IL]] : tensor<4x8x4xf32>, tensor<4x8xf32>
// CHECK: return %[[R]]#0
// Below one batch's 256 bytes, a loop over the batches runs one over
// blocks of query rows (64 bytes: 2 rows of 8 keys): the queries, output
// and lse sliced by batch and rows, keys and values by batch; the mask
// reads the global batch (and row).
// ROWS-LABEL: func.func @attention(
// ROWS: %[[R:.*]]:2 = scf.for %[[B:[a-z0-9_]+]] = %{{.*}} to %{{.*}} step %{{.*}} iter_args(%[[O:.*]] = %{{.*}}, %[[L:.*]] = %{{.*}}) -> (tensor<4x8x4xf32>, tensor<4x8xf32>)
// ROWS: %[[BO:.*]] = tensor.extract_slice %[[O]][%[[B]], 0, 0] [1, 8, 4] [1, 1, 1] : tensor<4x8x4xf32> to tensor<1x8x4xf32>
// ROWS: %[[BL:.*]] = tensor.extract_slice %[[L]][%[[B]], 0] [1, 8] [1, 1] : tensor<4x8xf32> to tensor<1x8xf32>
// ROWS: %[[IR:.*]]:2 = scf.for %[[I:[a-z0-9_]+]] = %{{.*}} to %{{.*}} step %{{.*}} iter_args(%[[IO:.*]] = %[[BO]], %[[IL:.*]] = %[[BL]]) -> (tensor<1x8x4xf32>, tensor<1x8xf32>)
// ROWS: %[[Q:.*]] = tensor.extract_slice %{{.*}}[%[[B]], %[[I]], 0] [1, 2, 4] [1, 1, 1] : tensor<4x8x4xf32> to tensor<1x2x4xf32>
// ROWS: %[[K:.*]] = tensor.extract_slice %{{.*}}[%[[B]], 0, 0] [1, 4, 8] [1, 1, 1] : tensor<4x4x8xf32> to tensor<1x4x8xf32>
// ROWS: linalg.batch_matmul ins(%[[Q]], %[[K]] : tensor<1x2x4xf32>, tensor<1x4x8xf32>) outs(%{{.*}} : tensor<1x2x8xf32>)
// ROWS: %[[BI:.*]] = linalg.index 0 : index
// ROWS: %[[GLOBAL:.*]] = arith.addi %[[BI]], %[[B]] : index
// ROWS: arith.cmpi eq, %[[GLOBAL]], %{{.*}} : index
// ROWS: linalg.batch_matmul ins(%{{.*}}, %{{.*}} : tensor<1x2x8xf32>, tensor<1x8x4xf32>) outs(%{{.*}} : tensor<1x2x4xf32>)
// ROWS: tensor.insert_slice %{{.*}} into %[[IO]][0, %[[I]], 0] [1, 2, 4] [1, 1, 1] : tensor<1x2x4xf32> into tensor<1x8x4xf32>
// ROWS: tensor.insert_slice %{{.*}} into %[[IL]][0, %[[I]]] [1, 2] [1, 1] : tensor<1x2xf32> into tensor<1x8xf32>
// ROWS: tensor.insert_slice %[[IR]]#0 into %[[O]][%[[B]], 0, 0] [1, 8, 4] [1, 1, 1] : tensor<1x8x4xf32> into tensor<4x8x4xf32>
// ROWS: return %[[R]]#0
// WHOLE-LABEL: func.func @attention(
// WHOLE-NOT: scf.for
// WHOLE: linalg.batch_matmul ins(%{{.*}}, %{{.*}} : tensor<4x8x4xf32>, tensor<4x4x8xf32>) outs(%{{.*}} : tensor<4x8x8xf32>)
func.func @attention(%q: tensor<4x8x4xf32>, %k: tensor<4x4x8xf32>, %v: tensor<4x8x4xf32>) -> tensor<4x8x4xf32> {
  %o = tensor.empty() : tensor<4x8x4xf32>
  %l = tensor.empty() : tensor<4x8xf32>
  %r, %lse = autopar.attention ins(%q, %k, %v : tensor<4x8x4xf32>, tensor<4x4x8xf32>, tensor<4x8x4xf32>) outs(%o, %l : tensor<4x8x4xf32>, tensor<4x8xf32>) scale 1.0 masked 0xFF800000 mask {
  ^bb0(%b: index, %i: index, %j: index):
    // The first batch masks every score (a mask that reads b).
    %c0 = arith.constant 0 : index
    %c = arith.cmpi eq, %b, %c0 : index
    autopar.yield %c : i1
  } -> tensor<4x8x4xf32>, tensor<4x8xf32>
  return %r : tensor<4x8x4xf32>
}

// -----

// The gradient the same way: its seven operands and three outs sliced by
// the batch, the three gradients inserted into the outs the loop carries.
// By rows: dK and dV sum over the rows, so each batch's are zeroed and
// every row block's added; dQ's rows are inserted.
// ROWS-LABEL: func.func @attention_grad(
// ROWS: scf.for %[[B:[a-z0-9_]+]] =
// ROWS: linalg.fill ins(%{{.*}} : f32) outs(%{{.*}} : tensor<1x4x8xf32>)
// ROWS: linalg.fill ins(%{{.*}} : f32) outs(%{{.*}} : tensor<1x8x4xf32>)
// ROWS: scf.for %[[I:[a-z0-9_]+]] = {{.*}} -> (tensor<1x8x4xf32>, tensor<1x4x8xf32>, tensor<1x8x4xf32>)
// ROWS: linalg.batch_matmul ins(%{{.*}}, %{{.*}} : tensor<1x2x4xf32>, tensor<1x4x8xf32>) outs(%{{.*}} : tensor<1x2x8xf32>)
// ROWS: %[[QS:.*]] = tensor.extract_slice %{{.*}}[0, %[[I]], 0] [1, 2, 4]
// ROWS: %[[QF:.*]] = linalg.fill ins(%{{.*}} : f32) outs(%[[QS]] : tensor<1x2x4xf32>)
// ROWS: %[[DQ:.*]] = linalg.generic {{.*}} outs(%[[QF]] :
// ROWS: tensor.insert_slice %[[DQ]] into %{{.*}}[0, %[[I]], 0] [1, 2, 4]
// ROWS: linalg.add ins(%{{.*}}, %{{.*}} : tensor<1x4x8xf32>, tensor<1x4x8xf32>)
// ROWS: linalg.add ins(%{{.*}}, %{{.*}} : tensor<1x8x4xf32>, tensor<1x8x4xf32>)
// ROWS: scf.yield
// ROWS-COUNT-3: tensor.insert_slice %{{.*}} into %{{.*}}[%[[B]], 0, 0]
// CHECK-LABEL: func.func @attention_grad(
// CHECK: %[[R:.*]]:3 = scf.for %[[B:[a-z0-9_]+]] = %{{.*}} to %{{.*}} step %{{.*}} iter_args(%[[QO:[a-z0-9_]+]] = %{{.*}}, %[[KO:[a-z0-9_]+]] = %{{.*}}, %[[VO:[a-z0-9_]+]] = %{{.*}}) -> (tensor<4x8x4xf32>, tensor<4x4x8xf32>, tensor<4x8x4xf32>)
// CHECK-COUNT-10: tensor.extract_slice %{{.*}}[%[[B]],
// CHECK-NOT: tensor.extract_slice
// CHECK: linalg.batch_matmul ins(%{{.*}}, %{{.*}} : tensor<2x8x4xf32>, tensor<2x4x8xf32>) outs(%{{.*}} : tensor<2x8x8xf32>)
// CHECK: %[[VS:.*]] = tensor.extract_slice %[[VO]][%[[B]], 0, 0] [2, 8, 4]
// CHECK: %[[VF:.*]] = linalg.fill ins(%{{.*}} : f32) outs(%[[VS]] :
// CHECK: %[[DV:.*]] = linalg.generic {{.*}} outs(%[[VF]] :
// CHECK: %[[QS:.*]] = tensor.extract_slice %[[QO]][%[[B]], 0, 0] [2, 8, 4]
// CHECK: %[[QF:.*]] = linalg.fill ins(%{{.*}} : f32) outs(%[[QS]] :
// CHECK: %[[DQ:.*]] = linalg.generic {{.*}} outs(%[[QF]] :
// CHECK: %[[KS:.*]] = tensor.extract_slice %[[KO]][%[[B]], 0, 0] [2, 4, 8]
// CHECK: %[[KF:.*]] = linalg.fill ins(%{{.*}} : f32) outs(%[[KS]] :
// CHECK: %[[DK:.*]] = linalg.generic {{.*}} outs(%[[KF]] :
// CHECK: tensor.insert_slice %[[DQ]] into %[[QO]][%[[B]], 0, 0]
// CHECK: tensor.insert_slice %[[DK]] into %[[KO]][%[[B]], 0, 0]
// CHECK: tensor.insert_slice %[[DV]] into %[[VO]][%[[B]], 0, 0]
// CHECK: scf.yield
// CHECK: return %[[R]]#1
func.func @attention_grad(%q: tensor<4x8x4xf32>, %k: tensor<4x4x8xf32>, %v: tensor<4x8x4xf32>, %o: tensor<4x8x4xf32>, %l: tensor<4x8xf32>, %do: tensor<4x8x4xf32>, %dl: tensor<4x8xf32>) -> tensor<4x4x8xf32> {
  %eq = tensor.empty() : tensor<4x8x4xf32>
  %ek = tensor.empty() : tensor<4x4x8xf32>
  %ev = tensor.empty() : tensor<4x8x4xf32>
  %dq, %dk, %dv = autopar.attention_grad ins(%q, %k, %v, %o, %l, %do, %dl : tensor<4x8x4xf32>, tensor<4x4x8xf32>, tensor<4x8x4xf32>, tensor<4x8x4xf32>, tensor<4x8xf32>, tensor<4x8x4xf32>, tensor<4x8xf32>) outs(%eq, %ek, %ev : tensor<4x8x4xf32>, tensor<4x4x8xf32>, tensor<4x8x4xf32>) scale 5.000000e-01 -> tensor<4x8x4xf32>, tensor<4x4x8xf32>, tensor<4x8x4xf32>
  return %dk : tensor<4x4x8xf32>
}

// -----

// A bf16 gradient by rows sums dK and dV over the row blocks in f32 (its
// accumulator type) and rounds them to bf16 once, after the last block:
// summed in bf16, each block's share would be rounded to 8 bits at every
// addition. dQ's rows are computed whole in each block and stay bf16. The
// score-sized buffers are f32 products (64 bytes: 2 rows of 8 keys).
// ROWS-LABEL: func.func @attention_grad_bf16(
// ROWS: scf.for %[[B:[a-z0-9_]+]] =
// ROWS: linalg.fill ins(%{{.*}} : f32) outs(%{{.*}} : tensor<1x4x8xf32>)
// ROWS: linalg.fill ins(%{{.*}} : f32) outs(%{{.*}} : tensor<1x8x4xf32>)
// ROWS: %[[INNER:.*]]:3 = scf.for %[[I:[a-z0-9_]+]] = {{.*}} -> (tensor<1x8x4xbf16>, tensor<1x4x8xf32>, tensor<1x8x4xf32>)
// ROWS: tensor.insert_slice %{{.*}} into %{{.*}}[0, %[[I]], 0] [1, 2, 4] {{.*}} : tensor<1x2x4xbf16> into tensor<1x8x4xbf16>
// ROWS: linalg.add ins(%{{.*}}, %{{.*}} : tensor<1x4x8xf32>, tensor<1x4x8xf32>)
// ROWS: linalg.add ins(%{{.*}}, %{{.*}} : tensor<1x8x4xf32>, tensor<1x8x4xf32>)
// ROWS: scf.yield
// ROWS: tensor.insert_slice %[[INNER]]#0 into %{{.*}}[%[[B]], 0, 0] [1, 8, 4] {{.*}} : tensor<1x8x4xbf16> into tensor<4x8x4xbf16>
// ROWS: linalg.generic {{.*}} ins(%[[INNER]]#1 : tensor<1x4x8xf32>) outs(%{{.*}} : tensor<1x4x8xbf16>)
// ROWS: arith.truncf %{{.*}} : f32 to bf16
// ROWS: tensor.insert_slice %{{.*}} into %{{.*}}[%[[B]], 0, 0] [1, 4, 8] {{.*}} : tensor<1x4x8xbf16> into tensor<4x4x8xbf16>
// ROWS: linalg.generic {{.*}} ins(%[[INNER]]#2 : tensor<1x8x4xf32>) outs(%{{.*}} : tensor<1x8x4xbf16>)
// ROWS: arith.truncf %{{.*}} : f32 to bf16
// ROWS: tensor.insert_slice %{{.*}} into %{{.*}}[%[[B]], 0, 0] [1, 8, 4] {{.*}} : tensor<1x8x4xbf16> into tensor<4x8x4xbf16>
func.func @attention_grad_bf16(%q: tensor<4x8x4xbf16>, %k: tensor<4x4x8xbf16>, %v: tensor<4x8x4xbf16>, %o: tensor<4x8x4xbf16>, %l: tensor<4x8xf32>, %do: tensor<4x8x4xbf16>, %dl: tensor<4x8xf32>) -> tensor<4x4x8xbf16> {
  %eq = tensor.empty() : tensor<4x8x4xbf16>
  %ek = tensor.empty() : tensor<4x4x8xbf16>
  %ev = tensor.empty() : tensor<4x8x4xbf16>
  %dq, %dk, %dv = autopar.attention_grad ins(%q, %k, %v, %o, %l, %do, %dl : tensor<4x8x4xbf16>, tensor<4x4x8xbf16>, tensor<4x8x4xbf16>, tensor<4x8x4xbf16>, tensor<4x8xf32>, tensor<4x8x4xbf16>, tensor<4x8xf32>) outs(%eq, %ek, %ev : tensor<4x8x4xbf16>, tensor<4x4x8xbf16>, tensor<4x8x4xbf16>) scale 5.000000e-01 -> tensor<4x8x4xbf16>, tensor<4x4x8xbf16>, tensor<4x8x4xbf16>
  return %dk : tensor<4x4x8xbf16>
}

// -----

// Blocks that do not divide the loop: 3 batches of 7 x 7 f32 scores (196
// bytes each) in 512 bytes take 2 batches a block, and the last batch
// runs alone after the loop; by rows (64 bytes: 2 rows of 7 keys), 7 rows
// are 3 blocks of 2 and a last row, not 7 blocks of one row (the largest
// divisor). Each block's mask sees its global batch and row.
// CHECK-LABEL: func.func @uneven(
// CHECK: %[[LOOP:.*]]:2 = scf.for %[[B:[a-z0-9_]+]] = %{{.*}} to %{{.*}} step %{{.*}} iter_args
// CHECK: tensor.extract_slice %{{.*}}[%[[B]], 0, 0] [2, 7, 4]
// CHECK: scf.yield
// CHECK: %[[LAST:.*]] = arith.constant 2 : index
// CHECK: tensor.extract_slice %{{.*}}[%[[LAST]], 0, 0] [1, 7, 4]
// CHECK: arith.addi %{{.*}}, %[[LAST]] : index
// CHECK: %[[R:.*]] = tensor.insert_slice %{{.*}} into %[[LOOP]]#0[%[[LAST]], 0, 0] [1, 7, 4]
// CHECK: return %[[R]]
// ROWS-LABEL: func.func @uneven(
// ROWS: scf.for %[[B:[a-z0-9_]+]] =
// ROWS: %[[INNER:.*]]:2 = scf.for %[[I:[a-z0-9_]+]] = %{{.*}} to %{{.*}} step %{{.*}} iter_args
// ROWS: tensor.extract_slice %{{.*}}[%[[B]], %[[I]], 0] [1, 2, 4]
// ROWS: scf.yield
// ROWS: %[[LAST:.*]] = arith.constant 6 : index
// ROWS: tensor.extract_slice %{{.*}}[%[[B]], %[[LAST]], 0] [1, 1, 4]
// ROWS: tensor.insert_slice %{{.*}} into %[[INNER]]#0[0, %[[LAST]], 0] [1, 1, 4]
// ROWS: scf.yield
// WHOLE-LABEL: func.func @uneven(
// WHOLE-NOT: scf.for
// WHOLE: return
func.func @uneven(%q: tensor<3x7x4xf32>, %k: tensor<3x4x7xf32>, %v: tensor<3x7x4xf32>) -> tensor<3x7x4xf32> {
  %o = tensor.empty() : tensor<3x7x4xf32>
  %l = tensor.empty() : tensor<3x7xf32>
  %r, %lse = autopar.attention ins(%q, %k, %v : tensor<3x7x4xf32>, tensor<3x4x7xf32>, tensor<3x7x4xf32>) outs(%o, %l : tensor<3x7x4xf32>, tensor<3x7xf32>) scale 5.000000e-01 masked -1.000000e+04 mask {
  ^bb0(%b: index, %i: index, %j: index):
    %m = arith.cmpi ugt, %j, %i : index
    autopar.yield %m : i1
  } -> tensor<3x7x4xf32>, tensor<3x7xf32>
  return %r : tensor<3x7x4xf32>
}
