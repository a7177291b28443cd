// RUN: split-file %s %t
// RUN: autopar-opt %t/causal.mlir --autopar-analyze=report=%t/fused.json -o /dev/null
// RUN: FileCheck %s --check-prefix=FUSED < %t/fused.json
// RUN: autopar-opt %t/causal.mlir --autopar-analyze="report=%t/decomposed.json cudnn-attention=0" -o /dev/null
// RUN: FileCheck %s --check-prefix=DECOMPOSED < %t/decomposed.json
// RUN: autopar-opt %t/causal.mlir --autopar-plan="target=h100-dgx mesh=1 report=-" -o /dev/null | FileCheck %s --check-prefix=PLAN
// RUN: autopar-opt %t/causal.mlir --autopar-plan="target=h100-dgx mesh=1 report=- cudnn-attention=0" -o /dev/null | FileCheck %s --check-prefix=PLAN-DECOMPOSED
// RUN: autopar-opt %t/causal32.mlir --autopar-plan="target=h100-dgx mesh=1 report=- precision=bf16" -o /dev/null | FileCheck %s --check-prefix=PLAN
// RUN: autopar-opt %t/causal32.mlir --autopar-plan="target=h100-dgx mesh=1 report=-" -o /dev/null | FileCheck %s --check-prefix=PLAN-F32
// RUN: autopar-opt %t/rows.mlir --autopar-plan="target=h100-dgx mesh=4 report=-" -o /dev/null | FileCheck %s --check-prefix=ROWS
// RUN: autopar-opt %t/rows.mlir --autopar-plan="target=h100-dgx mesh=4 report=- cudnn-attention=0" -o /dev/null | FileCheck %s --check-prefix=ROWS-DECOMPOSED
// RUN: autopar-opt %t/long.mlir --autopar-plan="target=h100-dgx mesh=4 report=-" -o /dev/null | FileCheck %s --check-prefix=LONG
// RUN: autopar-opt %t/grouped-long.mlir --autopar-plan="target=h100-dgx mesh=2 report=-" -o /dev/null | FileCheck %s --check-prefix=GLONG2
// RUN: autopar-opt %t/grouped-long.mlir --autopar-plan="target=h100-dgx mesh=4 report=-" -o /dev/null | FileCheck %s --check-prefix=GLONG4
// RUN: %python %autopar_src/models/generate.py gpt --batch 2 --layers 1 --seq 16 --hidden 32 --heads 2 --ffn 64 --vocab 64 --max-pos 16 --dtype bf16 | autopar-opt --autopar-fuse-attention --mlir-print-debuginfo -o %t/gpt.mlir
// RUN: autopar-opt %t/gpt.mlir --autopar-analyze=report=%t/gpt.json -o /dev/null
// RUN: FileCheck %s --check-prefix=VIEWS < %t/gpt.json
// RUN: autopar-opt %t/gpt.mlir --autopar-analyze="report=%t/gpt0.json cudnn-attention=0" -o /dev/null
// RUN: FileCheck %s --check-prefix=VIEWS0 < %t/gpt0.json
// RUN: autopar-opt %t/grad.mlir --autopar-analyze=report=%t/grad.json -o /dev/null
// RUN: FileCheck %s --check-prefix=GRAD < %t/grad.json
// RUN: autopar-opt %t/grouped.mlir --autopar-analyze=report=%t/grouped.json -o /dev/null
// RUN: FileCheck %s --check-prefix=GROUPED < %t/grouped.json
// RUN: autopar-opt %t/left.mlir --autopar-analyze=report=%t/left.json -o /dev/null
// RUN: FileCheck %s --check-prefix=LEFT < %t/left.json
// RUN: autopar-opt %t/share.mlir --autopar-analyze=report=%t/share.json -o /dev/null
// RUN: FileCheck %s --check-prefix=SHARE < %t/share.json

// The workload prices a 16-bit attention as the CUDA backend builds it
// (getFusedAttentionForm, shared with autopar-attention-to-cudnn): one call
// of cuDNN's fused attention. B = 4 (2 x 2 heads), I = J = 64, D = E = 32,
// causal: 64 * 65 / 2 = 2080 scores a batch computed, 8320 in all;
// 8320 * (32 + 32) = 532480 multiply-accumulates, 2 * 532480 + 6 * 8320
// FLOPs. Bytes: query, keys and values read (3 * 16384), the output
// (16384) and the lse (4 * 64 * 4) written; one launch. Backward:
// 8320 * (3 * 32 + 2 * 32) multiply-accumulates (2 * 1331200 + 8 * 8320
// FLOPs); q, k, v read and their gradients written, o and dO read, the
// lse read, dQ's f32 accumulator (32768) and the row term (1024) written
// and read: 199680 bytes, three launches; nothing score-sized held but
// those 33792 bytes.
// FUSED: "cudnn_attentions": 1
// FUSED: "op": "autopar.attention",
// FUSED: "flops": 1114880,
// FUSED-NEXT: "macs": 532480,
// FUSED-NEXT: "params": {{[0-9]+}},
// FUSED-NEXT: "bytes": 66560,
// FUSED: "bwd_flops": 2728960,
// FUSED-NEXT: "bwd_bytes": 199680,
// FUSED: "launches": 1,
// FUSED-NEXT: "bwd_launches": 3
// With cudnn-attention=0 (what autopar-lower-to-cuda{cudnn-attention=0}
// builds), the decomposition: every score computed (4 * 64 * 64 = 16384:
// 16384 * 64 multiply-accumulates, 2 * 1048576 + 6 * 16384 FLOPs), the
// score-sized buffers written and read, seven kernels forward and nine
// backward (256 rows are too few for the row kernel: formsRowKernel).
// DECOMPOSED: "op": "autopar.attention",
// DECOMPOSED: "flops": 2195456,
// DECOMPOSED-NEXT: "macs": 1048576,
// DECOMPOSED: "launches": 7,
// DECOMPOSED-NEXT: "bwd_launches": 9
// The plan's memory at the attention's backward: fused, its 33 KiB of
// f32 dQ and row term beside 33 KiB of gradients in flight; decomposed,
// four f32 score-sized buffers (256 KiB) more.
// (The report's header says how many attentions were priced so.)
// PLAN: autopar plan: @forward on h100-dgx, batch 1, objective time, 1 attention priced as cuDNN's fused call
// PLAN-DECOMPOSED: autopar plan: @forward on h100-dgx, batch 1, objective time{{$}}
// PLAN: memory peak: {{.*}} in the backward of autopar.attention at {{.*}} transient 66.00 KiB
// PLAN-DECOMPOSED: memory peak: {{.*}} in the backward of autopar.attention at {{.*}} transient 289.00 KiB

//--- causal.mlir
func.func @forward(%q: tensor<4x64x32xbf16> {autopar.role = "param"},
                   %kt: tensor<4x32x64xbf16> {autopar.role = "param"},
                   %v: tensor<4x64x32xbf16> {autopar.role = "param"}) -> tensor<4x64x32xbf16> {
  %oi = tensor.empty() : tensor<4x64x32xbf16>
  %li = tensor.empty() : tensor<4x64xf32>
  %o, %lse = autopar.attention ins(%q, %kt, %v : tensor<4x64x32xbf16>, tensor<4x32x64xbf16>, tensor<4x64x32xbf16>) outs(%oi, %li : tensor<4x64x32xbf16>, tensor<4x64xf32>) scale 0.125 masked 0xFFF0000000000000 mask {
  ^bb0(%b: index, %i: index, %j: index):
    %c = arith.cmpi ugt, %j, %i : index
    autopar.yield %c : i1
  } -> tensor<4x64x32xbf16>, tensor<4x64xf32>
  return %o : tensor<4x64x32xbf16>
}

// The same attention in f32: trained in bf16 (precision=bf16:
// autopar-training makes it a bf16 attention), it is cuDNN's and priced
// so (66 KiB transient, as above); trained in f32 it decomposes (f32
// scores: 322 KiB).
// PLAN-F32: memory peak: {{.*}} in the backward of autopar.attention at {{.*}} transient 322.00 KiB

//--- causal32.mlir
func.func @forward(%q: tensor<4x64x32xf32> {autopar.role = "param"},
                   %kt: tensor<4x32x64xf32> {autopar.role = "param"},
                   %v: tensor<4x64x32xf32> {autopar.role = "param"}) -> tensor<4x64x32xf32> {
  %oi = tensor.empty() : tensor<4x64x32xf32>
  %li = tensor.empty() : tensor<4x64xf32>
  %o, %lse = autopar.attention ins(%q, %kt, %v : tensor<4x64x32xf32>, tensor<4x32x64xf32>, tensor<4x64x32xf32>) outs(%oi, %li : tensor<4x64x32xf32>, tensor<4x64xf32>) scale 0.125 masked 0xFFF0000000000000 mask {
  ^bb0(%b: index, %i: index, %j: index):
    %c = arith.cmpi ugt, %j, %i : index
    autopar.yield %c : i1
  } -> tensor<4x64x32xf32>, tensor<4x64xf32>
  return %o : tensor<4x64x32xf32>
}

// Split by query rows, a device keeps cuDNN's call, its causal mask
// offset by its first row (the diagonal band's right bound), and the last
// device computes the most: its 512 rows see 1,536 to 2,047 keys, 1.75
// times an even quarter of the scores (OpWorkload::getRowSplitImbalance).
// On 4 GPUs (B = 2) the call on every GPU (0.031 ms) still beats the rows
// split 4 ways (0.056 ms, the keys' and values' gathers and gradients'
// reductions added; 0.156 ms when a split device was priced as the
// decomposition); with cudnn-attention=0 the split is chosen.
// ROWS: autopar.attention {{.*}} replicated 0.0313 {{.*}} d1:gpus (0.056370)
// ROWS-DECOMPOSED: autopar.attention {{.*}} d1:gpus 0.1265
// A sequence of 16,384 (B = 1): the rows split 4 ways, each device's call
// 0.2205 ms of compute against 0.48 ms whole (1.75 / 4 of it and the
// launch), is chosen: context parallelism with gathered keys and values;
// the report says how unevenly the split computes.
// LONG: chosen: 4 GPUs, mesh gpus=4; step 0.291 ms
// LONG: autopar.attention {{.*}} d1:gpus, busiest 1.75x 0.2205 0.0710 replicated (0.480483)
// Grouped-query rows (2 query heads of 8,192 rows stacked on one
// key-value head): split 2 ways, each device a whole stack, evenly (0.1396
// ms of 0.2574); 4 ways, each device half a stack, its mask offset within
// it, the second halves busiest (1.5 x an even quarter: 0.1079 ms).
// GLONG2: autopar.attention {{.*}} d1:gpus 0.1396 0.0237 replicated (0.257382)
// GLONG4: autopar.attention {{.*}} d1:gpus, busiest 1.50x 0.1079 0.0535 replicated (0.257382)

//--- rows.mlir
func.func @forward(%q: tensor<2x2048x64xbf16> {autopar.role = "param"},
                   %kt: tensor<2x64x2048xbf16> {autopar.role = "param"},
                   %v: tensor<2x2048x64xbf16> {autopar.role = "param"}) -> tensor<2x2048x64xbf16> {
  %oi = tensor.empty() : tensor<2x2048x64xbf16>
  %li = tensor.empty() : tensor<2x2048xf32>
  %o, %lse = autopar.attention ins(%q, %kt, %v : tensor<2x2048x64xbf16>, tensor<2x64x2048xbf16>, tensor<2x2048x64xbf16>) outs(%oi, %li : tensor<2x2048x64xbf16>, tensor<2x2048xf32>) scale 0.125 masked 0xFFF0000000000000 mask {
  ^bb0(%b: index, %i: index, %j: index):
    %c = arith.cmpi ugt, %j, %i : index
    autopar.yield %c : i1
  } -> tensor<2x2048x64xbf16>, tensor<2x2048xf32>
  return %o : tensor<2x2048x64xbf16>
}

//--- long.mlir
func.func @forward(%q: tensor<1x16384x128xbf16> {autopar.role = "param"},
                   %kt: tensor<1x128x16384xbf16> {autopar.role = "param"},
                   %v: tensor<1x16384x128xbf16> {autopar.role = "param"}) -> tensor<1x16384x128xbf16> {
  %oi = tensor.empty() : tensor<1x16384x128xbf16>
  %li = tensor.empty() : tensor<1x16384xf32>
  %o, %lse = autopar.attention ins(%q, %kt, %v : tensor<1x16384x128xbf16>, tensor<1x128x16384xbf16>, tensor<1x16384x128xbf16>) outs(%oi, %li : tensor<1x16384x128xbf16>, tensor<1x16384xf32>) scale 0.125 masked 0xFFF0000000000000 mask {
  ^bb0(%b: index, %i: index, %j: index):
    %c = arith.cmpi ugt, %j, %i : index
    autopar.yield %c : i1
  } -> tensor<1x16384x128xbf16>, tensor<1x16384xf32>
  return %o : tensor<1x16384x128xbf16>
}

//--- grouped-long.mlir
func.func @forward(%q: tensor<1x16384x128xbf16> {autopar.role = "param"},
                   %kt: tensor<1x128x8192xbf16> {autopar.role = "param"},
                   %v: tensor<1x8192x128xbf16> {autopar.role = "param"}) -> tensor<1x16384x128xbf16> {
  %oi = tensor.empty() : tensor<1x16384x128xbf16>
  %li = tensor.empty() : tensor<1x16384xf32>
  %o, %lse = autopar.attention ins(%q, %kt, %v : tensor<1x16384x128xbf16>, tensor<1x128x8192xbf16>, tensor<1x8192x128xbf16>) outs(%oi, %li : tensor<1x16384x128xbf16>, tensor<1x16384xf32>) scale 0.125 masked 0xFFF0000000000000 mask {
  ^bb0(%b: index, %i: index, %j: index):
    %c8192 = arith.constant 8192 : index
    %r = arith.remui %i, %c8192 : index
    %c = arith.cmpi ugt, %j, %r : index
    autopar.yield %c : i1
  } -> tensor<1x16384x128xbf16>, tensor<1x16384xf32>
  return %o : tensor<1x16384x128xbf16>
}

// The heads' transposes around a fused attention (q, k and v into
// [b, h, s, d], the context back) are read and written in place by the
// cuDNN calls, forward and backward (autopar-attention-to-cudnn): no
// bytes, no launch. Decomposed, each is a kernel.
// VIEWS: "loc": "h.0.attn.q.transpose",
// VIEWS: "bytes": 0,
// VIEWS: "bwd_bytes": 0,
// VIEWS: "launches": 0,
// VIEWS-NEXT: "bwd_launches": 0
// VIEWS: "loc": "h.0.attn.context.transpose",
// VIEWS: "launches": 0,
// VIEWS-NEXT: "bwd_launches": 0
// VIEWS0: "loc": "h.0.attn.q.transpose",
// VIEWS0: "bytes": 4096,
// VIEWS0: "launches": 1,
// VIEWS0: "loc": "h.0.attn.context.transpose",
// VIEWS0: "launches": 1,

// A training step's attention_grad with a zero lse adjoint is the fused
// backward: the same 2728960 FLOPs; its gradients (3 * 16384 bytes)
// written, the rest read (199680 in all); three launches.
// GRAD: "op": "autopar.attention_grad",
// GRAD: "flops": 2728960,
// GRAD-NEXT: "macs": 1331200,
// GRAD-NEXT: "params": 0,
// GRAD-NEXT: "bytes": 199680,
// GRAD: "launches": 3,

//--- grad.mlir
func.func @forward(%q: tensor<4x64x32xbf16>, %kt: tensor<4x32x64xbf16>, %v: tensor<4x64x32xbf16>,
                   %o: tensor<4x64x32xbf16>, %do: tensor<4x64x32xbf16>, %lse: tensor<4x64xf32>) -> (tensor<4x64x32xbf16>, tensor<4x32x64xbf16>, tensor<4x64x32xbf16>) {
  %zero = arith.constant 0.0 : f32
  %le = tensor.empty() : tensor<4x64xf32>
  %dlse = linalg.fill ins(%zero : f32) outs(%le : tensor<4x64xf32>) -> tensor<4x64xf32>
  %dqi = tensor.empty() : tensor<4x64x32xbf16>
  %dki = tensor.empty() : tensor<4x32x64xbf16>
  %dvi = tensor.empty() : tensor<4x64x32xbf16>
  %dq, %dk, %dv = autopar.attention_grad ins(%q, %kt, %v, %o, %lse, %do, %dlse : tensor<4x64x32xbf16>, tensor<4x32x64xbf16>, tensor<4x64x32xbf16>, tensor<4x64x32xbf16>, tensor<4x64xf32>, tensor<4x64x32xbf16>, tensor<4x64xf32>) outs(%dqi, %dki, %dvi : tensor<4x64x32xbf16>, tensor<4x32x64xbf16>, tensor<4x64x32xbf16>) scale 0.125 masked 0xFFF0000000000000 mask {
  ^bb0(%b: index, %i: index, %j: index):
    %c = arith.cmpi ugt, %j, %i : index
    autopar.yield %c : i1
  } -> tensor<4x64x32xbf16>, tensor<4x32x64xbf16>, tensor<4x64x32xbf16>
  return %dq, %dk, %dv : tensor<4x64x32xbf16>, tensor<4x32x64xbf16>, tensor<4x64x32xbf16>
}

// Grouped-query attention: the 64 query rows are 2 stacks of 32 (j > i
// mod 32), each masked on its own: 32 * 33 / 2 = 528 scores per stack,
// 4 * 2 * 528 = 4224 in all, 4224 * 64 = 270336 multiply-accumulates
// (the keys J = 32).
// GROUPED: "op": "autopar.attention",
// GROUPED: "macs": 270336,
// GROUPED: "launches": 1,

//--- grouped.mlir
func.func @forward(%q: tensor<4x64x32xbf16>, %kt: tensor<4x32x32xbf16>, %v: tensor<4x32x32xbf16>) -> tensor<4x64x32xbf16> {
  %oi = tensor.empty() : tensor<4x64x32xbf16>
  %li = tensor.empty() : tensor<4x64xf32>
  %o, %lse = autopar.attention ins(%q, %kt, %v : tensor<4x64x32xbf16>, tensor<4x32x32xbf16>, tensor<4x32x32xbf16>) outs(%oi, %li : tensor<4x64x32xbf16>, tensor<4x64xf32>) scale 0.125 masked 0xFFF0000000000000 mask {
  ^bb0(%b: index, %i: index, %j: index):
    %c32 = arith.constant 32 : index
    %r = arith.remui %i, %c32 : index
    %c = arith.cmpi ugt, %j, %r : index
    autopar.yield %c : i1
  } -> tensor<4x64x32xbf16>, tensor<4x64xf32>
  return %o : tensor<4x64x32xbf16>
}

// What cuDNN's fused attention does not compute is priced as its
// decomposition: f32 (every score: 16384 * 64 multiply-accumulates) and
// a bf16 attention under a mask other than the causal one.
// LEFT: "op": "autopar.attention",
// LEFT: "macs": 1048576,
// LEFT: "launches": 7,
// LEFT: "op": "autopar.attention",
// LEFT: "macs": 1048576,
// LEFT: "launches": 7,

//--- left.mlir
func.func @forward(%q: tensor<4x64x32xf32>, %kt: tensor<4x32x64xf32>, %v: tensor<4x64x32xf32>,
                   %qb: tensor<4x64x32xbf16>, %kb: tensor<4x32x64xbf16>, %vb: tensor<4x64x32xbf16>) -> (tensor<4x64x32xf32>, tensor<4x64x32xbf16>) {
  %oi = tensor.empty() : tensor<4x64x32xf32>
  %li = tensor.empty() : tensor<4x64xf32>
  %o, %lse = autopar.attention ins(%q, %kt, %v : tensor<4x64x32xf32>, tensor<4x32x64xf32>, tensor<4x64x32xf32>) outs(%oi, %li : tensor<4x64x32xf32>, tensor<4x64xf32>) scale 0.125 -> tensor<4x64x32xf32>, tensor<4x64xf32>
  %ob = tensor.empty() : tensor<4x64x32xbf16>
  %o2, %lse2 = autopar.attention ins(%qb, %kb, %vb : tensor<4x64x32xbf16>, tensor<4x32x64xbf16>, tensor<4x64x32xbf16>) outs(%ob, %li : tensor<4x64x32xbf16>, tensor<4x64xf32>) scale 0.125 masked 0xFFF0000000000000 mask {
  ^bb0(%b: index, %i: index, %j: index):
    %c = arith.cmpi ult, %j, %i : index
    autopar.yield %c : i1
  } -> tensor<4x64x32xbf16>, tensor<4x64xf32>
  return %o, %o2 : tensor<4x64x32xf32>, tensor<4x64x32xbf16>
}

// A device's share of a causal attention's rows (8 of 16, its mask offset
// by its first row, a run-time value): cuDNN's call, priced as the
// busiest device's, the last 8 rows (seeing 9 to 16 keys: 100 scores a
// batch, 36 for the first 8), 4 x 100 x 32 multiply-accumulates.
// SHARE: "op": "autopar.attention",
// SHARE: "flops": 28000,
// SHARE-NEXT: "macs": 12800,
// SHARE: "launches": 1,

//--- share.mlir
func.func @forward(%q: tensor<4x8x16xbf16>, %kt: tensor<4x16x16xbf16>, %v: tensor<4x16x16xbf16>, %first: index) -> tensor<4x8x16xbf16> {
  %oi = tensor.empty() : tensor<4x8x16xbf16>
  %li = tensor.empty() : tensor<4x8xf32>
  %o, %lse = autopar.attention ins(%q, %kt, %v : tensor<4x8x16xbf16>, tensor<4x16x16xbf16>, tensor<4x16x16xbf16>) outs(%oi, %li : tensor<4x8x16xbf16>, tensor<4x8xf32>) scale 2.500000e-01 masked 0xFFF0000000000000 mask {
  ^bb0(%b: index, %i: index, %j: index):
    %row = arith.addi %i, %first : index
    %c = arith.cmpi ugt, %j, %row : index
    autopar.yield %c : i1
  } -> tensor<4x8x16xbf16>, tensor<4x8xf32>
  return %o : tensor<4x8x16xbf16>
}
