#!/usr/bin/env python3
"""Random small linalg programs through autopar: plan, partition, and
(optionally) run on 2 ranks against one process.

Each program is a random chain over a [batch, features] tensor: matmuls with
parameter weights, broadcast bias adds, ReLU/tanh, row sums, transposes,
reshapes through unit and split dimensions, softmax, concatenation, padding,
slices, self-attention over the rows (causal or not; fused by
autopar-fuse-attention), 2-D convolutions (stride 1 or 2, a max pool by
turns) over the features viewed as [c, h, w], layer norms, residual
blocks and an embedding lookup of integer ids (a second input), with
sizes drawn from {0, 1, 2, 3, 4, 6, 8} (zero-size and unit dimensions
included on purpose). For every program:

  plan       autopar-opt --auto-shard (target a100-dgx, 1-8 GPUs)
  partition  autopar-opt --autopar-plan=mesh=2 --autopar-partition, twice:
             the two outputs must be byte-identical
  run        autopar-run -n 2 --check (with --run; slower; --ranks N): the
             search's plan, parallelism=data or parallelism=tensor by turns
  train      autopar-run -n 2 --train --check: the training step with the
             loss below and SGD or momentum, in f64 (tolerance 1e-10;
             with --run); under parallelism=data also ZeRO 1-3,
             2 microbatches or recomputation by turns, unpinned 2
             pipeline stages every other program
  loss       plan again with loss=mse or softmax-cross-entropy (by turns)

Every plan is for --target (a100-dgx; `slow`: a GPU a million times
slower than its links, so that the search splits even these programs
itself rather than only under the pins; `tight`: the same with 1 KiB of
memory, so that its plans also shard state, recompute or pipeline).

A stage passes when it succeeds or stops with a located error (exit 1 and
"error:" on stderr); it FAILS on a crash (a signal, a stack dump, an
assertion), on an error without a location, or, for run and train, on a
result that differs from one process. Failing programs are kept in --keep.

    python3 bench/fuzz.py [--build build] [--count 200] [--seed 1] [--run]
        [--ranks 2] [--mesh 2x2] [--backend cpu|cuda] [--keep DIR]
        [--steps layernorm,residual,...] [--target slow|tight]

Exit status: 0 when every program passed every stage.
"""
import argparse
import os
import random
import re
import subprocess
import sys
import tempfile

SIZES = [0, 1, 2, 3, 4, 6, 8]
# --target slow: 1 MFLOP/s and 10 MB/s beside 1 TB/s links of 1 ns;
# --target tight: the same with 1 KiB of memory, so that the search's
# plans also shard state (ZeRO), recompute or pipeline to fit.
SLOW_TARGET = """{
  "name": "fuzz-%(name)s-gpu", "nodes": 1, "gpus_per_node": 4,
  "gpu": {"name": "%(name)s", "peak_flops": {"f32": 1e6, "f64": 1e6},
          "memory_bandwidth": 1e7, "memory_capacity": %(memory)d,
          "power_busy": 100, "power_idle": 10, "launch_overhead": 0,
          "saturation_threads": 1},
  "intra_node": {"topology": "nvswitch", "bandwidth": 1e12, "latency": 1e-9},
  "inter_node": {"topology": "infiniband", "bandwidth": 1e12, "latency": 1e-9}
}
"""
CRASH = re.compile(r"Stack dump|PLEASE submit|Assertion|terminate called|"
                   r"Segmentation|LLVM ERROR|UNREACHABLE")


class Program:
    """Builds one function as text, tracking the current value's shape."""

    def __init__(self, rng):
        self.rng = rng
        self.lines = []
        self.params = []
        self.count = 0
        self.maps = {}
        self.ids = None  # the embedding's ids' shape, once drawn

    def fresh(self):
        self.count += 1
        return "%%v%d" % self.count

    def param(self, shape):
        name = "%%p%d" % len(self.params)
        self.params.append((name, shape))
        return name

    @staticmethod
    def ty(shape):
        return "tensor<%sxf32>" % "x".join(str(d) for d in shape) \
            if shape else "tensor<f32>"

    def empty(self, shape):
        value = self.fresh()
        self.lines.append("%s = tensor.empty() : %s" % (value, self.ty(shape)))
        return value

    def zeros(self, shape):
        return self.fill(shape, "%zero")

    def fill(self, shape, constant):
        value = self.fresh()
        self.lines.append("%s = linalg.fill ins(%s : f32) outs(%s : %s) -> %s"
                          % (value, constant, self.empty(shape), self.ty(shape),
                             self.ty(shape)))
        return value

    def generic(self, ins, in_maps, shape, out_map, iterators, body,
                init=None):
        """body: text using %a, %b (inputs) and %acc (the output)."""
        value = self.fresh()
        names = ["%%a%d" % i for i in range(len(ins))] + ["%acc"]
        args = ", ".join("%s: f32" % n for n in names)
        if init is None:
            init = self.zeros(shape) if "reduction" in iterators else \
                self.empty(shape)
        maps = ", ".join("affine_map<%s>" % m for m in in_maps + [out_map])
        its = ", ".join('"%s"' % i for i in iterators)
        ins_text = ", ".join(v for v, _ in ins)
        ins_types = ", ".join(self.ty(s) for _, s in ins)
        self.lines.append(
            "%s = linalg.generic {indexing_maps = [%s], iterator_types = [%s]}"
            " ins(%s : %s) outs(%s : %s) {\n  ^bb0(%s):\n%s\n  } -> %s" % (
                value, maps, its, ins_text, ins_types, init, self.ty(shape),
                args, "\n".join("    " + l for l in body), self.ty(shape)))
        return value

    # --- steps on a 2-D [b, f] value ------------------------------------
    def matmul(self, x, shape):
        return self.matmul_to(x, shape, self.rng.choice(SIZES[1:]))

    def matmul_to(self, x, shape, n):
        w = self.param([shape[1], n])
        out = self.zeros([shape[0], n])
        value = self.fresh()
        self.lines.append("%s = linalg.matmul ins(%s, %s : %s, %s) outs(%s : %s) -> %s"
                          % (value, x, w, self.ty(shape), self.ty([shape[1], n]),
                             out, self.ty([shape[0], n]), self.ty([shape[0], n])))
        return value, [shape[0], n]

    def bias(self, x, shape):
        b = self.param([shape[1]])
        value = self.generic([(x, shape), (b, [shape[1]])],
                             ["(d0, d1) -> (d0, d1)", "(d0, d1) -> (d1)"], shape,
                             "(d0, d1) -> (d0, d1)", ["parallel", "parallel"],
                             ["%s = arith.addf %%a0, %%a1 : f32" % "%r",
                              "linalg.yield %r : f32"])
        return value, shape

    def activation(self, x, shape):
        op = self.rng.choice(["relu", "tanh"])
        body = (["%m = arith.maximumf %a0, %zero : f32", "linalg.yield %m : f32"]
                if op == "relu" else
                ["%m = math.tanh %a0 : f32", "linalg.yield %m : f32"])
        return self.generic([(x, shape)], ["(d0, d1) -> (d0, d1)"], shape,
                            "(d0, d1) -> (d0, d1)", ["parallel", "parallel"],
                            body), shape

    def rowsum_broadcast(self, x, shape):
        # x - sum(x, 1): a reduction and a broadcast back.
        s = self.generic([(x, shape)], ["(d0, d1) -> (d0, d1)"], [shape[0]],
                         "(d0, d1) -> (d0)", ["parallel", "reduction"],
                         ["%r = arith.addf %a0, %acc : f32",
                          "linalg.yield %r : f32"])
        value = self.generic([(x, shape), (s, [shape[0]])],
                             ["(d0, d1) -> (d0, d1)", "(d0, d1) -> (d0)"], shape,
                             "(d0, d1) -> (d0, d1)", ["parallel", "parallel"],
                             ["%r = arith.subf %a0, %a1 : f32",
                              "linalg.yield %r : f32"])
        return value, shape

    def transpose_twice(self, x, shape):
        t = [shape[1], shape[0]]
        mid = self.fresh()
        self.lines.append("%s = linalg.transpose ins(%s : %s) outs(%s : %s) permutation = [1, 0]"
                          % (mid, x, self.ty(shape), self.empty(t), self.ty(t)))
        act, _ = self.activation(mid, t)
        back = self.fresh()
        self.lines.append("%s = linalg.transpose ins(%s : %s) outs(%s : %s) permutation = [1, 0]"
                          % (back, act, self.ty(t), self.empty(shape),
                             self.ty(shape)))
        return back, shape

    def reshape(self, x, shape):
        # [b, f] -> [b, 1, f] or [b, f0, f1] -> back to [b, f].
        f = shape[1]
        splits = [(1, f)] + [(a, f // a) for a in (2, 3, 4) if f and f % a == 0]
        f0, f1 = self.rng.choice(splits)
        expanded = [shape[0], f0, f1]
        e = self.fresh()
        self.lines.append("%s = tensor.expand_shape %s [[0], [1, 2]] output_shape [%d, %d, %d] : %s into %s"
                          % (e, x, shape[0], f0, f1, self.ty(shape),
                             self.ty(expanded)))
        c = self.fresh()
        self.lines.append("%s = tensor.collapse_shape %s [[0], [1, 2]] : %s into %s"
                          % (c, e, self.ty(expanded), self.ty(shape)))
        return c, shape

    def softmax(self, x, shape):
        value = self.fresh()
        self.lines.append("%s = linalg.softmax dimension(1) ins(%s : %s) outs(%s : %s) -> %s"
                          % (value, x, self.ty(shape), self.empty(shape),
                             self.ty(shape), self.ty(shape)))
        return value, shape

    def concat(self, x, shape):
        act, _ = self.activation(x, shape)
        out = [shape[0], 2 * shape[1]]
        value = self.fresh()
        self.lines.append("%s = tensor.concat dim(1) %s, %s : (%s, %s) -> %s"
                          % (value, x, act, self.ty(shape), self.ty(shape),
                             self.ty(out)))
        return value, out

    def pad(self, x, shape):
        out = [shape[0], shape[1] + 2]
        value = self.fresh()
        self.lines.append("%s = tensor.pad %s low[0, 1] high[0, 1] {\n  ^bb0(%%i: index, %%j: index):\n    tensor.yield %%zero : f32\n  } : %s to %s"
                          % (value, x, self.ty(shape), self.ty(out)))
        return value, out

    def slice(self, x, shape):
        if shape[1] < 2 or shape[0] == 0:  # offsets must be in bounds
            return x, shape
        n = shape[1] // 2
        out = [shape[0], n]
        value = self.fresh()
        self.lines.append("%s = tensor.extract_slice %s[0, 1] [%d, %d] [1, 1] : %s to %s"
                          % (value, x, shape[0], n, self.ty(shape), self.ty(out)))
        return value, out

    def conv(self, x, shape):
        # [b, f] -> [b, c, h, w] (f = c x h x w), a 2-D convolution with a
        # parameter filter (stride 1 or 2), a max pool by turns, back to
        # [b, co x oh x ow].
        b, f = shape
        shapes = [(c, h, f // c // h) for c in range(1, f + 1) if f % c == 0
                  for h in range(1, f // c + 1) if (f // c) % h == 0]
        c, h, w = self.rng.choice(shapes)
        kh, kw = self.rng.randint(1, min(h, 3)), self.rng.randint(1, min(w, 3))
        stride = self.rng.choice([1, 1, 2])
        oh, ow = (h - kh) // stride + 1, (w - kw) // stride + 1
        co = self.rng.choice([1, 2, 3, 4])
        image = [b, c, h, w]
        e = self.fresh()
        self.lines.append("%s = tensor.expand_shape %s [[0], [1, 2, 3]] output_shape [%d, %d, %d, %d] : %s into %s"
                          % (e, x, b, c, h, w, self.ty(shape),
                             self.ty(image)))
        filt = self.param([co, c, kh, kw])
        out = [b, co, oh, ow]
        y = self.fresh()
        self.lines.append("%s = linalg.conv_2d_nchw_fchw {strides = dense<%d> : tensor<2xi64>, dilations = dense<1> : tensor<2xi64>} ins(%s, %s : %s, %s) outs(%s : %s) -> %s"
                          % (y, stride, e, filt, self.ty(image),
                             self.ty([co, c, kh, kw]), self.zeros(out),
                             self.ty(out), self.ty(out)))
        if oh >= 2 and self.rng.random() < 0.5:
            window = self.fresh()
            self.lines.append("%s = tensor.empty() : tensor<2x1xf32>" % window)
            pooled = [b, co, oh // 2, ow]
            p = self.fresh()
            self.lines.append("%s = linalg.pooling_nchw_max {strides = dense<[2, 1]> : tensor<2xi64>, dilations = dense<1> : tensor<2xi64>} ins(%s, %s : %s, tensor<2x1xf32>) outs(%s : %s) -> %s"
                              % (p, y, window, self.ty(out),
                                 self.fill(pooled, "%ninf"), self.ty(pooled),
                                 self.ty(pooled)))
            y, out = p, pooled
        flat = [b, out[1] * out[2] * out[3]]
        back = self.fresh()
        self.lines.append("%s = tensor.collapse_shape %s [[0], [1, 2, 3]] : %s into %s"
                          % (back, y, self.ty(out), self.ty(flat)))
        return back, flat

    def attention(self, x, shape):
        # Self-attention over the rows: [b, f] -> [B, S, f] (b = B x S),
        # queries, keys and values by matmuls, scores, an optional causal
        # mask, the softmax as the generics models export, the context,
        # back to [b, d]. autopar-fuse-attention makes it one
        # autopar.attention; a plan may split its batch or its rows.
        b, f = shape
        splits = [(1, b)] + [(a, b // a) for a in (2, 3, 4) if b and b % a == 0]
        batches, rows = self.rng.choice(splits)
        d = self.rng.choice(SIZES[1:])
        causal = self.rng.random() < 0.7
        q, _ = self.matmul_to(x, shape, d)
        k, _ = self.matmul_to(x, shape, d)
        v, _ = self.matmul_to(x, shape, d)
        three = [batches, rows, d]

        def expand(value):
            e = self.fresh()
            self.lines.append("%s = tensor.expand_shape %s [[0, 1], [2]] output_shape [%d, %d, %d] : %s into %s"
                              % (e, value, batches, rows, d,
                                 self.ty([b, d]), self.ty(three)))
            return e
        q3, k3, v3 = expand(q), expand(k), expand(v)
        kt = self.fresh()
        self.lines.append("%s = linalg.transpose ins(%s : %s) outs(%s : %s) permutation = [0, 2, 1]"
                          % (kt, k3, self.ty(three),
                             self.empty([batches, d, rows]),
                             self.ty([batches, d, rows])))
        square = [batches, rows, rows]
        s = self.fresh()
        self.lines.append("%s = linalg.batch_matmul ins(%s, %s : %s, %s) outs(%s : %s) -> %s"
                          % (s, q3, kt, self.ty(three),
                             self.ty([batches, d, rows]), self.zeros(square),
                             self.ty(square), self.ty(square)))
        ident = "(d0, d1, d2) -> (d0, d1, d2)"
        row = "(d0, d1, d2) -> (d0, d1)"
        body = ["%sx = arith.mulf %a0, %scale : f32"]
        if causal:
            body += ["%i = linalg.index 1 : index",
                     "%j = linalg.index 2 : index",
                     "%c = arith.cmpi ugt, %j, %i : index",
                     "%sy = arith.select %c, %ninf, %sx : f32",
                     "linalg.yield %sy : f32"]
        else:
            body += ["linalg.yield %sx : f32"]
        par3 = ["parallel"] * 3
        red3 = ["parallel", "parallel", "reduction"]
        m = self.generic([(s, square)], [ident], square, ident, par3, body)
        mx = self.generic([(m, square)], [ident], [batches, rows], row, red3,
                          ["%r = arith.maximumf %a0, %acc : f32",
                           "linalg.yield %r : f32"],
                          init=self.fill([batches, rows], "%ninf"))
        ex = self.generic([(m, square), (mx, [batches, rows])], [ident, row],
                          square, ident, par3,
                          ["%t = arith.subf %a0, %a1 : f32",
                           "%r = math.exp %t : f32", "linalg.yield %r : f32"])
        sm = self.generic([(ex, square)], [ident], [batches, rows], row, red3,
                          ["%r = arith.addf %a0, %acc : f32",
                           "linalg.yield %r : f32"])
        p = self.generic([(ex, square), (sm, [batches, rows])], [ident, row],
                         square, ident, par3,
                         ["%r = arith.divf %a0, %a1 : f32",
                          "linalg.yield %r : f32"])
        o = self.fresh()
        self.lines.append("%s = linalg.batch_matmul ins(%s, %s : %s, %s) outs(%s : %s) -> %s"
                          % (o, p, v3, self.ty(square), self.ty(three),
                             self.zeros(three), self.ty(three), self.ty(three)))
        c = self.fresh()
        self.lines.append("%s = tensor.collapse_shape %s [[0, 1], [2]] : %s into %s"
                          % (c, o, self.ty(three), self.ty([b, d])))
        return c, [b, d]

    def layernorm(self, x, shape):
        # Over the features, as exports write it: the mean, the centred
        # value, the variance, a scale by rsqrt(var + eps), then a
        # parameter scale and shift.
        b, f = shape
        inv = "%%inv = arith.constant %r : f32" % (1.0 / max(f, 1))
        ident = "(d0, d1) -> (d0, d1)"
        row, col = "(d0, d1) -> (d0)", "(d0, d1) -> (d1)"
        par, red = ["parallel", "parallel"], ["parallel", "reduction"]
        s = self.generic([(x, shape)], [ident], [b], row, red,
                         ["%r = arith.addf %a0, %acc : f32",
                          "linalg.yield %r : f32"])
        c = self.generic([(x, shape), (s, [b])], [ident, row], shape, ident,
                         par, [inv, "%m = arith.mulf %a1, %inv : f32",
                               "%r = arith.subf %a0, %m : f32",
                               "linalg.yield %r : f32"])
        v = self.generic([(c, shape)], [ident], [b], row, red,
                         ["%q = arith.mulf %a0, %a0 : f32",
                          "%r = arith.addf %q, %acc : f32",
                          "linalg.yield %r : f32"])
        n = self.generic([(c, shape), (v, [b])], [ident, row], shape, ident,
                         par, [inv, "%eps = arith.constant 1.0e-5 : f32",
                               "%m = arith.mulf %a1, %inv : f32",
                               "%e = arith.addf %m, %eps : f32",
                               "%d = math.rsqrt %e : f32",
                               "%r = arith.mulf %a0, %d : f32",
                               "linalg.yield %r : f32"])
        gamma, beta = self.param([f]), self.param([f])
        y = self.generic([(n, shape), (gamma, [f]), (beta, [f])],
                         [ident, col, col], shape, ident, par,
                         ["%m = arith.mulf %a0, %a1 : f32",
                          "%r = arith.addf %m, %a2 : f32",
                          "linalg.yield %r : f32"])
        return y, shape

    def add(self, a, b, shape):
        """a + b, both of `shape` ([b, f])."""
        ident = "(d0, d1) -> (d0, d1)"
        return self.generic([(a, shape), (b, shape)], [ident, ident], shape,
                            ident, ["parallel", "parallel"],
                            ["%r = arith.addf %a0, %a1 : f32",
                             "linalg.yield %r : f32"])

    def residual(self, x, shape):
        # x + act(x W): a block whose input also skips it.
        y, _ = self.matmul_to(x, shape, shape[1])
        a, _ = self.activation(y, shape)
        return self.add(x, a, shape), shape

    def embedding(self, x, shape):
        # A lookup of integer ids (a second batch input, drawn by
        # autopar-run from [0, 2)) in a parameter table the body reads, as
        # torch-mlir exports nn.Embedding, added to the value. Once per
        # program (the ids are one input).
        if self.ids is not None:
            return x, shape
        b, f = shape
        vocab = self.rng.choice([2, 3, 4])
        table = self.param([vocab, f])
        self.ids = [b]
        value = self.fresh()
        self.lines.append(
            "%s = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0)>,"
            " affine_map<(d0, d1) -> (d0, d1)>], iterator_types = [\"parallel\","
            " \"parallel\"]} ins(%%ids : tensor<%dxi64>) outs(%s : %s) {\n"
            "  ^bb0(%%id: i64, %%out: f32):\n"
            "    %%i = arith.index_cast %%id : i64 to index\n"
            "    %%j = linalg.index 1 : index\n"
            "    %%e = tensor.extract %s[%%i, %%j] : %s\n"
            "    linalg.yield %%e : f32\n  } -> %s"
            % (value, b, self.empty(shape), self.ty(shape), table,
               self.ty([vocab, f]), self.ty(shape)))
        return self.add(x, value, shape), shape

    STEPS = ["matmul", "matmul", "bias", "activation", "rowsum_broadcast",
             "transpose_twice", "reshape", "softmax", "concat", "pad", "slice",
             "attention", "conv", "layernorm", "residual", "embedding"]

    def build(self, length):
        batch = self.rng.choice(SIZES)
        features = self.rng.choice(SIZES[1:])
        shape = [batch, features]
        x = "%x"
        for _ in range(length):
            step = self.rng.choice(self.STEPS)
            x, shape = getattr(self, step)(x, shape)
        args = ["%%%s: %s {autopar.role = \"param\"}" % (n[1:], self.ty(s))
                for n, s in self.params]
        args.append("%%x: %s {autopar.role = \"input\"}" % self.ty([batch,
                                                                    features]))
        if self.ids is not None:
            args.append("%%ids: tensor<%dxi64> {autopar.role = \"input\"}"
                        % self.ids[0])
        body = "\n".join("  " + l.replace("\n", "\n  ") for l in self.lines)
        return ("func.func @forward(%s) -> %s {\n  %%zero = arith.constant 0.0 : f32\n  %%ninf = arith.constant 0xFF800000 : f32\n  %%scale = arith.constant 0.5 : f32\n%s\n  return %s : %s\n}\n"
                % (", ".join(args), self.ty(shape), body, x, self.ty(shape)))


def check(name, result, outcome):
    """'ok', 'error' (a located error), or a failure description."""
    text = result.stderr
    if result.returncode < 0 or CRASH.search(text):
        return "CRASH (%s): %s" % (name, (CRASH.search(text).group(0)
                                          if CRASH.search(text) else
                                          "signal %d" % -result.returncode))
    if result.returncode == 0:
        return "ok"
    errors = [l for l in text.splitlines() if "error:" in l]
    if not errors:
        return "FAIL (%s): exit %d without an error" % (name, result.returncode)
    if outcome in ("run", "train") and \
            "check: max relative error" in result.stdout:
        return "FAIL (%s): results differ" % name
    if not re.search(r":\d+:\d+: error", errors[0]):
        return "FAIL (%s): error without a location: %s" % (name, errors[0])
    # autopar's own diagnostics name the tool or pass; anything else is IR
    # that a pass produced and the verifier rejected.
    if "autopar" not in errors[0]:
        return "FAIL (%s): invalid IR: %s" % (name, errors[0])
    return "error"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--build", default="build")
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--length", type=int, default=6,
                        help="most steps per program")
    parser.add_argument("--run", action="store_true",
                        help="also run each program on 2 ranks with --check")
    parser.add_argument("--ranks", type=int, default=2,
                        help="ranks of the --run stages")
    parser.add_argument("--backend", default="cpu", choices=("cpu", "cuda"),
                        help="backend of the --run stages (cuda: emulated, "
                        "--emulate-gpu: the CUDA lowering's kernels and "
                        "library calls on the host)")
    parser.add_argument("--mesh", default="",
                        help="mesh of the --run stages (e.g. 2x2 with "
                        "--ranks 4; default: the ranks in a row)")
    parser.add_argument("--keep", default="",
                        help="directory for the programs that fail")
    parser.add_argument("--target", default="a100-dgx",
                        help="target of every plan: a preset, a JSON file, "
                        "'slow' (a GPU a million times slower than its "
                        "links: the search splits every program) or "
                        "'tight' (the same with 1 KiB of memory: the "
                        "search also shards state, recomputes or pipelines "
                        "to fit)")
    parser.add_argument("--steps", default="",
                        help="comma-separated steps to draw from (default: "
                        "all: %s)" % ", ".join(sorted(set(Program.STEPS))))
    args = parser.parse_args()
    if args.steps:
        steps = args.steps.split(",")
        unknown = [s for s in steps if s not in Program.STEPS]
        if unknown:
            parser.error("unknown steps: %s" % ", ".join(unknown))
        Program.STEPS = steps
    opt = os.path.join(args.build, "bin", "autopar-opt")
    runner = os.path.join(args.build, "bin", "autopar-run")
    tally = {}
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        target = args.target
        if target in ("slow", "tight"):
            # Compute a million times slower than the links: splitting
            # pays for any op, so the search's own plans split these tiny
            # programs (mixed strategies, reductions split, reshards).
            memory = 1 << 30 if target == "slow" else 1024
            target = os.path.join(tmp, target + ".json")
            with open(target, "w") as f:
                f.write(SLOW_TARGET % {"name": args.target, "memory": memory})
        for index in range(args.count):
            rng = random.Random(args.seed * 100003 + index)
            text = Program(rng).build(rng.randint(1, args.length))
            path = os.path.join(tmp, "p%d.mlir" % index)
            with open(path, "w") as f:
                f.write(text)
            commands = [
                ("plan", [opt, path, "--auto-shard=target=%s report=" % target,
                          "-o", os.devnull]),
                ("partition", [opt, path,
                               "--autopar-plan=mesh=2 target=%s report=" % target,
                               "--autopar-partition", "-o", "-"]),
            ]
            loss = ("mse", "softmax-cross-entropy")[index % 2]
            if args.run:
                ranks = str(args.ranks)
                backend = (["--backend=cuda", "--emulate-gpu"]
                           if args.backend == "cuda" else [])
                # The search's own plan, or a kind of parallelism pinned
                # (tiny programs are cheapest unsplit: the pins make the
                # devices split and communicate), by turns.
                pinned = ("", "parallelism=data",
                          "parallelism=tensor")[index // 4 % 3]
                if args.mesh and pinned == "parallelism=data":
                    pinned = "parallelism=data-tensor"
                options = " ".join(o for o in (
                    "mesh=" + args.mesh if args.mesh else "", pinned,
                    "target=" + target) if o)
                plan = ["--plan=" + options]
                commands.append(("run", [runner, "-O0", "-n", ranks, path,
                                         "--check"] + backend + plan))
                # The training step (the loss below against random
                # targets, momentum by turns), planned, partitioned and
                # run on the same ranks.
                optimizer = ("sgd", "momentum")[index // 2 % 2]
                # With a data axis pinned, a ZeRO stage, microbatches or
                # recomputation by turns as well.
                extra = ("", "zero=1", "zero=2", "zero=3", "microbatches=2",
                         "recompute=selective", "recompute=full")[index % 7]
                trainPlan = plan
                if "parallelism=data" in options and extra:
                    trainPlan = ["--plan=" + options + " " + extra]
                # Unpinned, every other program as 2 pipeline stages of
                # 2 microbatches (one rank a stage on 2 ranks).
                if not pinned and index % 2 and not args.mesh:
                    trainPlan = ["--plan=stages=2 microbatches=2 target=%s"
                                 % target]
                # In f64: a random program's gradients can be sums of
                # terms that cancel (found: 1.5e-5 in f32 from a changed
                # summation order alone, 0 in f64), so f32 would need a
                # loose tolerance; in f64 any real difference stands out.
                path64 = os.path.join(tmp, "p%d-f64.mlir" % index)
                with open(path64, "w") as f:
                    f.write(text.replace("f32", "f64").replace(
                        "0xFF800000", "0xFFF0000000000000"))
                commands.append(("train", [runner, "-O0", "-n", ranks, path64,
                                           "--train", "--check", "--tol=1e-10",
                                           "--training=loss=%s optimizer=%s"
                                           % (loss, optimizer)]
                                 + backend + trainPlan))
            # The plan again with a training loss priced (appended and
            # erased by autopar-plan), one of the two by turns.
            commands.append(("loss", [opt, path,
                                      "--auto-shard=target=%s report= " % target +
                                      "loss=" + loss, "-o", os.devnull]))
            for stage, command in commands:
                result = subprocess.run(command, capture_output=True, text=True)
                outcome = check(stage, result, stage)
                # The same input gives byte-identical IR: the partitioned
                # program again.
                if stage == "partition" and outcome == "ok":
                    again = subprocess.run(command, capture_output=True,
                                           text=True)
                    if again.stdout != result.stdout:
                        outcome = "FAIL (partition): the IR differs " \
                            "between two runs"
                key = (stage, outcome if outcome in ("ok", "error") else "FAIL")
                tally[key] = tally.get(key, 0) + 1
                if outcome not in ("ok", "error"):
                    failures += 1
                    print("program %d (seed %d): %s" % (index, args.seed,
                                                        outcome))
                    if args.keep:
                        os.makedirs(args.keep, exist_ok=True)
                        kept = os.path.join(args.keep, "p%d.mlir" % index)
                        with open(kept, "w") as f:
                            f.write(text)
                        print("  kept %s" % kept)
                    break
                if stage in ("run", "train") and outcome == "ok" and \
                        "collectives per step: none" not in result.stdout:
                    tally[("communicated", stage)] = tally.get(
                        ("communicated", stage), 0) + 1
                if outcome == "error":
                    first = [l for l in result.stderr.splitlines()
                             if "error:" in l][0]
                    tally.setdefault(("errors", stage), set()).add(
                        re.sub(r"^.*?error: ", "", first)[:100])
                    break
    stages = ["plan", "partition"] + (["run", "train"] if args.run else []) \
        + ["loss"]
    print("fuzz: %d programs (seed %d)" % (args.count, args.seed))
    for stage in stages:
        print("  %-10s ok %d, located errors %d, failures %d" % (
            stage, tally.get((stage, "ok"), 0), tally.get((stage, "error"), 0),
            tally.get((stage, "FAIL"), 0)))
        if stage in ("run", "train"):
            print("    %d of them with collectives" %
                  tally.get(("communicated", stage), 0))
        for message in sorted(tally.get(("errors", stage), [])):
            print("    error: %s" % message)
    print("fuzz: %s" % ("PASS" if failures == 0 else "%d FAILED" % failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
