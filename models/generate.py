#!/usr/bin/env python3
"""Emit forward programs of well-known DNNs as MLIR (linalg on tensors, or TOSA).

Usage:  python3 models/generate.py MODEL [options] [-o FILE]

MODEL is one of mlp, alexnet, vgg16, resnet50, bert, gpt. The program is one
`func.func @forward` whose arguments are the batch input(s) followed by the
parameters (and, for ResNet-50 with running BatchNorm statistics, the state),
in layer order. Every op and argument carries a `loc("layer.name")`. See
models/README.md for the models, the options and the conventions.

Standard library only; output is deterministic.
"""

import argparse
import math
import shlex
import sys

# --------------------------------------------------------------------------
# Element types
# --------------------------------------------------------------------------

FLOAT_TYPES = ("f32", "f64", "f16", "bf16")
# Bit patterns of -inf (MLIR accepts hexadecimal float literals).
NEG_INF = {"f32": "0xFF800000", "f64": "0xFFF0000000000000", "f16": "0xFC00", "bf16": "0xFF80"}
# Largest finite value (used by tosa.clamp as "no upper bound").
FLOAT_MAX = {"f32": "3.4028235e+38", "f64": "1.7976931348623157e+308", "f16": "65504.0", "bf16": "3.38953139e+38"}
# Lowest finite value (torch.finfo(dtype).min: PyTorch's additive masks).
FLOAT_LOWEST = {t: "-" + v for t, v in FLOAT_MAX.items()}


def fmt_float(v):
    """An MLIR float literal for v (always with a decimal point)."""
    s = repr(float(v))
    if "inf" in s or "nan" in s:
        raise ValueError("use hexadecimal literals for non-finite constants")
    mant, _, exp = s.partition("e")
    if "." not in mant:
        mant += ".0"
    return mant + ("e" + exp if exp else "")


def ttype(shape, et):
    """The MLIR ranked tensor type with `shape` and element type `et`."""
    if not shape:
        return "tensor<%s>" % et
    return "tensor<%sx%s>" % ("x".join(str(d) for d in shape), et)


def ident(n):
    """`n` as an SSA suffix (letters, digits, `$._-`, not starting with a digit)."""
    s = "".join(c if (c.isalnum() or c in "$._-") else "_" for c in n)
    return s if s and not s[0].isdigit() else "_" + s


def prod(xs):
    r = 1
    for x in xs:
        r *= x
    return r


def check_spatial(ho, wo, name):
    if ho < 1 or wo < 1:
        raise SystemExit("generate.py: error: the image is too small: %s would produce %dx%d" % (name, ho, wo))


class Value:
    """An SSA tensor value: its name, shape and element type."""

    __slots__ = ("name", "shape", "et")

    def __init__(self, name, shape, et):
        self.name, self.shape, self.et = name, tuple(shape), et

    @property
    def type(self):
        return ttype(self.shape, self.et)

    def __repr__(self):
        return "%s : %s" % (self.name, self.type)


# --------------------------------------------------------------------------
# IR builder
# --------------------------------------------------------------------------


class Block:
    """Emits the scalar body of a linalg.generic (or of a tensor.pad)."""

    def __init__(self, builder, indent):
        self.b, self.indent, self.lines = builder, indent, []

    def _new(self, text):
        name = self.b.fresh()
        self.lines.append("%s%s = %s" % (self.indent, name, text))
        return name

    def op(self, opname, *operands, et=None):
        """A same-type arith/math op: `%r = opname %a, %b : et`."""
        return self._new("%s %s : %s" % (opname, ", ".join(operands), et or self.b.dt))

    def index(self, dim):
        return self._new("linalg.index %d : index" % dim)

    def index_cast(self, v, src="i64"):
        return self._new("arith.index_cast %s : %s to index" % (v, src))

    def extract(self, table, idx):
        return self._new("tensor.extract %s[%s] : %s" % (table.name, ", ".join(idx), table.type))

    def cmpi(self, pred, a, b, et="index"):
        return self._new("arith.cmpi %s, %s, %s : %s" % (pred, a, b, et))

    def select(self, c, a, b):
        return self._new("arith.select %s, %s, %s : %s" % (c, a, b, self.b.dt))


class Builder:
    """Accumulates one `func.func @forward` in linalg on tensors.

    Tracks arguments (with roles and locations), hoisted constants, affine-map
    aliases, fresh SSA names, and the generator's own bookkeeping of the
    parameter count and of the multiply-accumulates (MACs) of contractions.
    """

    def __init__(self, dtype, roles=True):
        self.dt = dtype
        self.roles = roles
        # Projections of [B,S,K] activations as one 3-D contraction instead
        # of collapse + matmul + expand (`--gemm 3d`).
        self.gemm3d = False
        # Dense layers as PyTorch's nn.Linear exports: a [N,K] weight
        # transposed by linalg.transpose, then the matmul (`--linear torch`).
        self.torch_linear = False
        self.args = []  # (Value, role, loc)
        self.consts = {}  # (literal, type) -> name
        self.const_lines = []
        self.maps = {}  # affine_map text -> alias
        self.body = []
        self.results = []
        self.n = 0
        self.params = 0
        self.state = 0
        self.macs = 0  # for the whole batch
        self.ind = "    "

    # -- names, arguments, constants, maps ---------------------------------

    def fresh(self):
        self.n += 1
        return "%%%d" % self.n

    def _arg(self, name, shape, et, role):
        v = Value("%" + ident(name), shape, et)
        if any(a[0].name == v.name for a in self.args):
            raise ValueError("duplicate argument " + name)
        self.args.append((v, role, name))
        return v

    def input(self, name, shape, et=None):
        """A batch input (batch is dim 0)."""
        return self._arg(name, shape, et or self.dt, "input")

    def param(self, name, shape):
        """A trained parameter (counted)."""
        self.params += prod(shape)
        return self._arg(name, shape, self.dt, "param")

    def state_arg(self, name, shape):
        """Non-trained, non-batched state such as BN running statistics."""
        self.state += prod(shape)
        return self._arg(name, shape, self.dt, "state")

    def cst(self, v, et=None):
        """A hoisted scalar `arith.constant`; v is a float or a literal string."""
        et = et or self.dt
        lit = v if isinstance(v, str) else fmt_float(v)
        key = (lit, et)
        if key not in self.consts:
            name = "%%cst_%d" % len(self.consts)
            self.consts[key] = name
            self.const_lines.append("%s%s = arith.constant %s : %s" % (self.ind, name, lit, et))
        return self.consts[key]

    def neg_inf(self):
        return self.cst(NEG_INF[self.dt])

    def amap(self, ndims, results):
        """An alias for affine_map<(d0..d{ndims-1}) -> (results)>."""
        dims = ", ".join("d%d" % i for i in range(ndims))
        text = "affine_map<(%s) -> (%s)>" % (dims, ", ".join(results))
        if text not in self.maps:
            self.maps[text] = "#map%d" % len(self.maps)
        return self.maps[text]

    def ident_map(self, ndims):
        return self.amap(ndims, ["d%d" % i for i in range(ndims)])

    def emit(self, line):
        self.body.append(self.ind + line)

    @staticmethod
    def loc(name):
        return ' loc("%s")' % name

    # -- generic tensor ops ------------------------------------------------

    def empty(self, shape, name, et=None):
        v = Value(self.fresh(), shape, et or self.dt)
        self.emit("%s = tensor.empty() : %s%s" % (v.name, v.type, self.loc(name)))
        return v

    def fill(self, scalar, shape, name):
        e = self.empty(shape, name)
        v = Value(self.fresh(), shape, self.dt)
        self.emit("%s = linalg.fill ins(%s : %s) outs(%s : %s) -> %s%s"
                  % (v.name, scalar, self.dt, e.name, e.type, v.type, self.loc(name)))
        return v

    def generic(self, ins, outs, maps, iters, body, name):
        """A linalg.generic with one result.

        ins: input Values; outs: the init Value; maps: affine-map aliases for
        ins then outs; iters: iterator types; body(blk, *args) returns the
        yielded scalar name, args being the block arguments (ins then out).
        """
        res = Value(self.fresh(), outs.shape, outs.et)
        blk = Block(self, self.ind + "  ")
        bargs = [self.fresh().replace("%", "%in") for _ in ins] + ["%out" + self.fresh()[1:]]
        y = body(blk, *bargs)
        head = '%s = linalg.generic {indexing_maps = [%s], iterator_types = [%s]}' % (
            res.name, ", ".join(maps), ", ".join('"%s"' % t for t in iters))
        if ins:
            head += " ins(%s : %s)" % (", ".join(v.name for v in ins), ", ".join(v.type for v in ins))
        head += " outs(%s : %s) {" % (outs.name, outs.type)
        self.emit(head)
        types = [v.et for v in ins] + [outs.et]
        self.emit("^bb0(%s):" % ", ".join("%s: %s" % (a, t) for a, t in zip(bargs, types)))
        self.body.extend(blk.lines)
        self.emit("  linalg.yield %s : %s" % (y, outs.et))
        self.emit("} -> %s%s" % (res.type, self.loc(name)))
        return res

    def elementwise(self, ins, body, name, shape=None, bcast=None):
        """A parallel generic over `shape` (default: shape of ins[0]).

        bcast maps an input position to the list of loop dims it is indexed
        by (for broadcasts such as biases); others use the identity map.
        """
        shape = shape or ins[0].shape
        r = len(shape)
        bcast = bcast or {}
        maps = [self.amap(r, ["d%d" % d for d in bcast[i]]) if i in bcast else self.ident_map(r)
                for i in range(len(ins))]
        maps.append(self.ident_map(r))
        return self.generic(ins, self.empty(shape, name), maps, ["parallel"] * r, body, name)

    def reduce(self, ins, keep, init, body, name, in_dims=None):
        """A reduction generic over the full shape of ins[0], keeping the loop
        dims in `keep`; init is the scalar that fills the output."""
        shape = ins[0].shape
        r = len(shape)
        in_dims = in_dims or {}
        out = self.fill(init, [shape[d] for d in keep], name)
        maps = [self.amap(r, ["d%d" % d for d in in_dims[i]]) if i in in_dims else self.ident_map(r)
                for i in range(len(ins))]
        maps.append(self.amap(r, ["d%d" % d for d in keep]))
        iters = ["parallel" if d in keep else "reduction" for d in range(r)]
        return self.generic(ins, out, maps, iters, body, name)

    # -- named ops -----------------------------------------------------------

    def matmul(self, a, w, name, transpose_b=False):
        """[M,K] x [K,N] (or x [N,K] with transpose_b) -> [M,N]."""
        m, k = a.shape
        n = w.shape[0] if transpose_b else w.shape[1]
        assert (w.shape[1] if transpose_b else w.shape[0]) == k, (a, w)
        out = self.fill(self.cst(0.0), [m, n], name)
        res = Value(self.fresh(), [m, n], self.dt)
        maps = ""
        if transpose_b:
            maps = (" indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>, "
                    "affine_map<(d0, d1, d2) -> (d1, d2)>, affine_map<(d0, d1, d2) -> (d0, d1)>]")
        self.emit("%s = linalg.matmul%s ins(%s, %s : %s, %s) outs(%s : %s) -> %s%s"
                  % (res.name, maps, a.name, w.name, a.type, w.type, out.name, out.type,
                     res.type, self.loc(name)))
        self.macs += m * n * k
        return res

    def batch_matmul(self, a, b, name):
        """[B,M,K] x [B,K,N] -> [B,M,N]."""
        bb, m, k = a.shape
        assert b.shape[0] == bb and b.shape[1] == k, (a, b)
        n = b.shape[2]
        out = self.fill(self.cst(0.0), [bb, m, n], name)
        res = Value(self.fresh(), [bb, m, n], self.dt)
        self.emit("%s = linalg.batch_matmul ins(%s, %s : %s, %s) outs(%s : %s) -> %s%s"
                  % (res.name, a.name, b.name, a.type, b.type, out.name, out.type,
                     res.type, self.loc(name)))
        self.macs += bb * m * n * k
        return res

    def matmul3(self, x, w, name):
        """[B,S,K] x [K,N] -> [B,S,N] as one contraction over (b, s, n, k)
        (`--gemm 3d`): the sequence stays a loop of its own."""
        bsz, s, k = x.shape
        assert w.shape[0] == k, (x, w)
        n = w.shape[1]
        out = self.fill(self.cst(0.0), [bsz, s, n], name)

        def body(blk, xa, wa, acc):
            return blk.op("arith.addf", acc, blk.op("arith.mulf", xa, wa))
        res = self.generic([x, w], out,
                           [self.amap(4, ["d0", "d1", "d3"]), self.amap(4, ["d3", "d2"]),
                            self.amap(4, ["d0", "d1", "d2"])],
                           ["parallel", "parallel", "parallel", "reduction"], body, name)
        self.macs += bsz * s * n * k
        return res

    def project3(self, x, w, name):
        """[B,S,K] x [K,N] -> [B,S,N]: collapse to [B*S,K], matmul, expand
        (the default), or one 3-D contraction with `--gemm 3d`."""
        if self.gemm3d:
            return self.matmul3(x, w, name)
        bsz, s, _ = x.shape
        y = self.matmul(self.collapse(x, [[0, 1], [2]], name), w, name)
        return self.expand(y, [[0, 1], [2]], [bsz, s, w.shape[1]], name)

    def pad(self, x, low, high, value, name):
        shape = [d + l + h for d, l, h in zip(x.shape, low, high)]
        res = Value(self.fresh(), shape, x.et)
        idx = ", ".join("%%i%s_%d" % (res.name[1:], i) for i in range(len(shape)))
        self.emit("%s = tensor.pad %s low[%s] high[%s] {" % (
            res.name, x.name, ", ".join(map(str, low)), ", ".join(map(str, high))))
        self.emit("^bb0(%s):" % ", ".join("%s: index" % i for i in idx.split(", ")))
        self.emit("  tensor.yield %s : %s" % (value, x.et))
        self.emit("} : %s to %s%s" % (x.type, res.type, self.loc(name)))
        return res

    def conv2d(self, x, w, stride, name):
        """linalg.conv_2d_nchw_fchw (no padding; pad first)."""
        n, c, h, wd = x.shape
        f, c2, kh, kw = w.shape
        assert c == c2, (x, w)
        ho, wo = (h - kh) // stride + 1, (wd - kw) // stride + 1
        check_spatial(ho, wo, name)
        out = self.fill(self.cst(0.0), [n, f, ho, wo], name)
        res = Value(self.fresh(), out.shape, self.dt)
        self.emit("%s = linalg.conv_2d_nchw_fchw {dilations = dense<1> : tensor<2xi64>, "
                  "strides = dense<%d> : tensor<2xi64>} ins(%s, %s : %s, %s) outs(%s : %s) -> %s%s"
                  % (res.name, stride, x.name, w.name, x.type, w.type, out.name, out.type,
                     res.type, self.loc(name)))
        self.macs += n * f * ho * wo * c * kh * kw
        return res

    def pool(self, kind, x, k, stride, name):
        """linalg.pooling_nchw_{max,sum} (no padding; pad first)."""
        n, c, h, w = x.shape
        ho, wo = (h - k) // stride + 1, (w - k) // stride + 1
        check_spatial(ho, wo, name)
        init = self.neg_inf() if kind == "max" else self.cst(0.0)
        out = self.fill(init, [n, c, ho, wo], name)
        win = self.empty([k, k], name)
        res = Value(self.fresh(), out.shape, self.dt)
        self.emit("%s = linalg.pooling_nchw_%s {dilations = dense<1> : tensor<2xi64>, "
                  "strides = dense<%d> : tensor<2xi64>} ins(%s, %s : %s, %s) outs(%s : %s) -> %s%s"
                  % (res.name, kind, stride, x.name, win.name, x.type, win.type, out.name,
                     out.type, res.type, self.loc(name)))
        return res

    def transpose(self, x, perm, name):
        shape = [x.shape[p] for p in perm]
        e = self.empty(shape, name)
        res = Value(self.fresh(), shape, x.et)
        self.emit("%s = linalg.transpose ins(%s : %s) outs(%s : %s) permutation = [%s]%s"
                  % (res.name, x.name, x.type, e.name, e.type,
                     ", ".join(map(str, perm)), self.loc(name)))
        return res

    @staticmethod
    def _reassoc(groups):
        return "[%s]" % ", ".join("[%s]" % ", ".join(map(str, g)) for g in groups)

    def collapse(self, x, groups, name):
        shape = [prod(x.shape[i] for i in g) for g in groups]
        res = Value(self.fresh(), shape, x.et)
        self.emit("%s = tensor.collapse_shape %s %s : %s into %s%s"
                  % (res.name, x.name, self._reassoc(groups), x.type, res.type, self.loc(name)))
        return res

    def expand(self, x, groups, shape, name):
        res = Value(self.fresh(), shape, x.et)
        self.emit("%s = tensor.expand_shape %s %s output_shape [%s] : %s into %s%s"
                  % (res.name, x.name, self._reassoc(groups), ", ".join(map(str, shape)),
                     x.type, res.type, self.loc(name)))
        return res

    def extract_slice(self, x, offsets, sizes, result_shape, name):
        res = Value(self.fresh(), result_shape, x.et)
        self.emit("%s = tensor.extract_slice %s[%s] [%s] [%s] : %s to %s%s"
                  % (res.name, x.name, ", ".join(map(str, offsets)), ", ".join(map(str, sizes)),
                     ", ".join("1" for _ in sizes), x.type, res.type, self.loc(name)))
        return res

    def ret(self, *vals):
        self.results = list(vals)

    # -- printing ------------------------------------------------------------

    def render(self, header):
        out = ["// " + l if l else "//" for l in header]
        for text, alias in self.maps.items():
            out.append("%s = %s" % (alias, text))
        out.append("module {")
        args = []
        for v, role, name in self.args:
            attr = ' {autopar.role = "%s"}' % role if self.roles else ""
            args.append("%s: %s%s%s" % (v.name, v.type, attr, self.loc(name)))
        rtypes = ", ".join(v.type for v in self.results)
        if len(self.results) != 1:
            rtypes = "(%s)" % rtypes
        out.append("  func.func @forward(")
        out.append(",\n".join("      " + a for a in args))
        out.append("  ) -> %s {" % rtypes)
        out.extend(self.const_lines)
        out.extend(self.body)
        out.append("    return %s : %s" % (", ".join(v.name for v in self.results),
                                             ", ".join(v.type for v in self.results)))
        out.append("  }")
        out.append("}")
        return "\n".join(out) + "\n"


# --------------------------------------------------------------------------
# Layers (linalg)
# --------------------------------------------------------------------------


def relu_body(b):
    zero = b.cst(0.0)
    return lambda blk, x, out: blk.op("arith.maximumf", x, zero)


def bias_act(b, x, bias, bias_dim, act, name):
    """x + bias (broadcast along loop dim bias_dim), then act ('relu'/'tanh'/None)."""
    zero = b.cst(0.0)

    def body(blk, v, bv, out):
        s = blk.op("arith.addf", v, bv)
        if act == "relu":
            s = blk.op("arith.maximumf", s, zero)
        elif act == "tanh":
            s = blk.op("math.tanh", s)
        return s

    return b.elementwise([x, bias], body, name + ".bias_" + (act or "add"), bcast={1: [bias_dim]})


def dense(b, x, n_out, name, act=None):
    """Fully connected layer on [M,K]: matmul with a [K,N] weight (or, as
    PyTorch's nn.Linear exports, a transposed [N,K] one), bias, act."""
    if b.torch_linear:
        w = b.transpose(b.param(name + ".weight", [n_out, x.shape[1]]), [1, 0], name + ".t")
    else:
        w = b.param(name + ".weight", [x.shape[1], n_out])
    bias = b.param(name + ".bias", [n_out])
    y = b.matmul(x, w, name)
    return bias_act(b, y, bias, 1, act, name)


def dense3(b, x, n_out, name, act=None):
    """Fully connected layer on [B,S,K]: collapse to [B*S,K], matmul, expand
    back to [B,S,N] (or one 3-D contraction, `--gemm 3d`), then bias (+act:
    'relu', 'tanh', 'gelu_erf', 'gelu_tanh') on the 3-D value (batch stays
    dim 0)."""
    bsz, s, k = x.shape
    w = b.param(name + ".weight", [k, n_out])
    bias = b.param(name + ".bias", [n_out])
    y3 = b.project3(x, w, name)
    if act in ("gelu_erf", "gelu_tanh"):
        y3 = bias_act(b, y3, bias, 2, None, name)
        return gelu(b, y3, name + ".gelu", act[5:])
    return bias_act(b, y3, bias, 2, act, name)


def conv(b, x, c_out, k, stride, pad, name, bias=True, act="relu"):
    """Conv2d NCHW/FCHW: tensor.pad (zeros), conv, then bias + act generic."""
    w = b.param(name + ".weight", [c_out, x.shape[1], k, k])
    bias_v = b.param(name + ".bias", [c_out]) if bias else None
    if pad:
        x = b.pad(x, [0, 0, pad, pad], [0, 0, pad, pad], b.cst(0.0), name + ".pad")
    y = b.conv2d(x, w, stride, name)
    if bias_v is not None:
        y = bias_act(b, y, bias_v, 1, act, name)
    return y


def maxpool(b, x, k, stride, name, pad=0):
    if pad:
        x = b.pad(x, [0, 0, pad, pad], [0, 0, pad, pad], b.neg_inf(), name + ".pad")
    return b.pool("max", x, k, stride, name)


def flatten(b, x, name):
    """[N,C,H,W] -> [N,C*H*W]."""
    return b.collapse(x, [[0], list(range(1, len(x.shape)))], name)


def batchnorm(b, x, name, mode, relu):
    """BatchNorm2d over NCHW with gamma/beta parameters (eps 1e-5).

    mode 'running': inference form with running mean/var as state arguments;
    mode 'batch': statistics computed from the batch by reductions.
    """
    c = x.shape[1]
    gamma = b.param(name + ".weight", [c])
    beta = b.param(name + ".bias", [c])
    eps, zero = b.cst(1e-5), b.cst(0.0)
    if mode == "running":
        mean = b.state_arg(name + ".running_mean", [c])
        var = b.state_arg(name + ".running_var", [c])
        ins = [x, mean, var, gamma, beta]

        def body(blk, v, m, s2, g, bt, out):
            d = blk.op("arith.subf", v, m)
            r = blk.op("math.rsqrt", blk.op("arith.addf", s2, eps))
            y = blk.op("arith.addf", blk.op("arith.mulf", blk.op("arith.mulf", d, r), g), bt)
            return blk.op("arith.maximumf", y, zero) if relu else y

        return b.elementwise(ins, body, name, bcast={i: [1] for i in range(1, 5)})
    count = b.cst(float(x.shape[0] * x.shape[2] * x.shape[3]))
    s = b.reduce([x], [1], zero, lambda blk, v, acc: blk.op("arith.addf", v, acc), name + ".sum")

    def sq(blk, v, sm, acc):
        d = blk.op("arith.subf", v, blk.op("arith.divf", sm, count))
        return blk.op("arith.addf", blk.op("arith.mulf", d, d), acc)

    q = b.reduce([x, s], [1], zero, sq, name + ".sumsq", in_dims={1: [1]})

    def norm(blk, v, sm, sq_, g, bt, out):
        mean = blk.op("arith.divf", sm, count)
        var = blk.op("arith.divf", sq_, count)
        r = blk.op("math.rsqrt", blk.op("arith.addf", var, eps))
        d = blk.op("arith.subf", v, mean)
        y = blk.op("arith.addf", blk.op("arith.mulf", blk.op("arith.mulf", d, r), g), bt)
        return blk.op("arith.maximumf", y, zero) if relu else y

    return b.elementwise([x, s, q, gamma, beta], norm, name, bcast={i: [1] for i in range(1, 5)})


def add(b, x, y, name, relu=False):
    zero = b.cst(0.0)

    def body(blk, u, v, out):
        s = blk.op("arith.addf", u, v)
        return blk.op("arith.maximumf", s, zero) if relu else s

    return b.elementwise([x, y], body, name)


def layernorm(b, x, name, eps):
    """LayerNorm over the last dim of [B,S,H]: sum and centred-square
    reductions, then normalise, scale by gamma, shift by beta."""
    bsz, s, h = x.shape
    gamma = b.param(name + ".weight", [h])
    beta = b.param(name + ".bias", [h])
    zero, inv_h, eps_c = b.cst(0.0), b.cst(1.0 / h), b.cst(eps)
    sm = b.reduce([x], [0, 1], zero, lambda blk, v, acc: blk.op("arith.addf", v, acc), name + ".sum")

    def sq(blk, v, m, acc):
        d = blk.op("arith.subf", v, blk.op("arith.mulf", m, inv_h))
        return blk.op("arith.addf", blk.op("arith.mulf", d, d), acc)

    q = b.reduce([x, sm], [0, 1], zero, sq, name + ".sumsq", in_dims={1: [0, 1]})

    def norm(blk, v, m, q_, g, bt, out):
        mean = blk.op("arith.mulf", m, inv_h)
        var = blk.op("arith.mulf", q_, inv_h)
        r = blk.op("math.rsqrt", blk.op("arith.addf", var, eps_c))
        d = blk.op("arith.subf", v, mean)
        return blk.op("arith.addf", blk.op("arith.mulf", blk.op("arith.mulf", d, r), g), bt)

    return b.elementwise([x, sm, q, gamma, beta], norm, name,
                         bcast={1: [0, 1], 2: [0, 1], 3: [2], 4: [2]})


def gelu(b, x, name, form):
    """GELU: 'erf' form x/2 (1 + erf(x/sqrt 2)) or 'tanh' form
    x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))."""
    half, one = b.cst(0.5), b.cst(1.0)
    if form == "erf":
        r2 = b.cst(1.0 / math.sqrt(2.0))

        def body(blk, v, out):
            e = blk.op("math.erf", blk.op("arith.mulf", v, r2))
            return blk.op("arith.mulf", blk.op("arith.mulf", v, half), blk.op("arith.addf", e, one))
    else:
        k, c = b.cst(math.sqrt(2.0 / math.pi)), b.cst(0.044715)

        def body(blk, v, out):
            v3 = blk.op("arith.mulf", blk.op("arith.mulf", v, v), v)
            inner = blk.op("arith.mulf", k, blk.op("arith.addf", v, blk.op("arith.mulf", c, v3)))
            t = blk.op("math.tanh", inner)
            return blk.op("arith.mulf", blk.op("arith.mulf", v, half), blk.op("arith.addf", t, one))

    return b.elementwise([x], body, name)


def softmax(b, scores, name, scale, causal, padding=None, heads=1):
    """Row softmax of [N,S,S] scores (scaled; causal-masked with -inf above
    the diagonal): max reduction, exp(x - max), sum reduction, divide.
    With `padding` (an i64 [batch, S] input, N = batch x heads) the mask is
    additive, as PyTorch's models apply an attention_mask: the lowest finite
    value added where the key is padding (0) or, causal, in the future."""
    sc, ninf = b.cst(scale), b.neg_inf()

    def scale_mask(blk, v, out):
        y = blk.op("arith.mulf", v, sc)
        if padding is not None:
            j = blk.index(2)
            seq = blk.op("arith.divui", blk.index(0), b.cst(str(heads), "index"), et="index")
            keep = blk.extract(padding, [seq, j])
            masked = blk.cmpi("eq", keep, b.cst("0", "i64"), et="i64")
            if causal:
                future = blk.cmpi("ugt", j, blk.index(1))
                masked = blk.op("arith.ori", masked, future, et="i1")
            bias = blk.select(masked, b.cst(FLOAT_LOWEST[b.dt]), b.cst(0.0))
            return blk.op("arith.addf", y, bias)
        if causal:
            i, j = blk.index(1), blk.index(2)
            y = blk.select(blk.cmpi("ugt", j, i), ninf, y)
        return y

    s = b.elementwise([scores], scale_mask, name + ".scale" + (".mask" if causal or padding is not None else ""))
    mx = b.reduce([s], [0, 1], ninf, lambda blk, v, acc: blk.op("arith.maximumf", v, acc), name + ".max")
    e = b.elementwise([s, mx], lambda blk, v, m, out: blk.op("math.exp", blk.op("arith.subf", v, m)),
                      name + ".exp", bcast={1: [0, 1]})
    sm = b.reduce([e], [0, 1], b.cst(0.0), lambda blk, v, acc: blk.op("arith.addf", v, acc), name + ".sum")
    return b.elementwise([e, sm], lambda blk, v, t, out: blk.op("arith.divf", v, t),
                         name + ".div", bcast={1: [0, 1]})


def attention(b, x, heads, name, causal, padding=None):
    """Multi-head self-attention on [B,S,H]: Q/K/V projections with bias,
    per-head batch_matmuls on [B*heads, S, head_dim], softmax (masked by
    the `padding` input when given), output dense."""
    bsz, s, h = x.shape
    assert h % heads == 0, "hidden size must be divisible by heads"
    hd = h // heads
    q = dense3(b, x, h, name + ".q")
    k = dense3(b, x, h, name + ".k")
    v = dense3(b, x, h, name + ".v")

    def split(t, perm, nm):
        t4 = b.expand(t, [[0], [1], [2, 3]], [bsz, s, heads, hd], nm + ".split")
        tt = b.transpose(t4, perm, nm + ".transpose")
        return b.collapse(tt, [[0, 1], [2], [3]], nm + ".heads")

    qh = split(q, [0, 2, 1, 3], name + ".q")  # [B*nh, S, hd]
    kt = split(k, [0, 2, 3, 1], name + ".k")  # [B*nh, hd, S]
    vh = split(v, [0, 2, 1, 3], name + ".v")  # [B*nh, S, hd]
    scores = b.batch_matmul(qh, kt, name + ".scores")
    p = softmax(b, scores, name + ".softmax", 1.0 / math.sqrt(hd), causal, padding, heads)
    ctx = b.batch_matmul(p, vh, name + ".context")
    c4 = b.expand(ctx, [[0, 1], [2], [3]], [bsz, heads, s, hd], name + ".context.split")
    ct = b.transpose(c4, [0, 2, 1, 3], name + ".context.transpose")
    c3 = b.collapse(ct, [[0], [1], [2, 3]], name + ".context.merge")
    return dense3(b, c3, h, name + ".out")


def lookup(b, ids, table, name, prev=None):
    """Embedding lookup [B,S] ids -> [B,S,H] rows of table (added to prev):
    a generic that index_casts the id and tensor.extracts table[id, h]."""
    bsz, s = ids.shape
    h = table.shape[1]
    ins = ([prev] if prev is not None else []) + [ids]
    bcast = {len(ins) - 1: [0, 1]}

    def body(blk, *args):
        if prev is not None:
            acc, i = args[0], args[1]
        else:
            acc, i = None, args[0]
        row = blk.index_cast(i, ids.et)
        e = blk.extract(table, [row, blk.index(2)])
        return blk.op("arith.addf", acc, e) if acc is not None else e

    return b.elementwise(ins, body, name, shape=[bsz, s, h], bcast=bcast)


def position_add(b, x, table, name):
    """x[b,s,:] + table[s,:], the table row read by tensor.extract at linalg.index 1."""

    def body(blk, v, out):
        e = blk.extract(table, [blk.index(1), blk.index(2)])
        return blk.op("arith.addf", v, e)

    return b.elementwise([x], body, name)


# --------------------------------------------------------------------------
# Models (linalg)
# --------------------------------------------------------------------------


def model_mlp(b, a):
    sizes = a.layers
    x = b.input("input", [a.batch, sizes[0]])
    for i, n in enumerate(sizes[1:]):
        last = i == len(sizes) - 2
        x = dense(b, x, n, "fc%d" % (i + 1), None if last else "relu")
    b.ret(x)


def scaled(a, width):
    """A channel or hidden width divided by --width (at least 1)."""
    return max(1, width // a.width)


def model_alexnet(b, a):
    x = b.input("images", [a.batch, 3, a.image, a.image])
    x = conv(b, x, scaled(a, 64), 11, 4, 0, "conv1")
    x = maxpool(b, x, 3, 2, "pool1")
    x = conv(b, x, scaled(a, 192), 5, 1, 2, "conv2")
    x = maxpool(b, x, 3, 2, "pool2")
    x = conv(b, x, scaled(a, 384), 3, 1, 1, "conv3")
    x = conv(b, x, scaled(a, 384), 3, 1, 1, "conv4")
    x = conv(b, x, scaled(a, 256), 3, 1, 1, "conv5")
    x = maxpool(b, x, 3, 2, "pool5")
    x = flatten(b, x, "flatten")
    x = dense(b, x, scaled(a, 4096), "fc6", "relu")
    x = dense(b, x, scaled(a, 4096), "fc7", "relu")
    x = dense(b, x, a.classes, "fc8")
    b.ret(x)


VGG16_CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]


def model_vgg16(b, a):
    x = b.input("images", [a.batch, 3, a.image, a.image])
    stage, idx = 1, 1
    for v in VGG16_CFG:
        if v == "M":
            x = maxpool(b, x, 2, 2, "pool%d" % stage)
            stage, idx = stage + 1, 1
        else:
            x = conv(b, x, scaled(a, v), 3, 1, 1, "conv%d_%d" % (stage, idx))
            idx += 1
    x = flatten(b, x, "flatten")
    x = dense(b, x, scaled(a, 4096), "fc6", "relu")
    x = dense(b, x, scaled(a, 4096), "fc7", "relu")
    x = dense(b, x, a.classes, "fc8")
    b.ret(x)


def bottleneck(b, x, planes, stride, name, bn):
    """torchvision Bottleneck (v1.5: stride on the 3x3 conv), expansion 4."""
    out_c = planes * 4
    y = conv(b, x, planes, 1, 1, 0, name + ".conv1", bias=False)
    y = batchnorm(b, y, name + ".bn1", bn, relu=True)
    y = conv(b, y, planes, 3, stride, 1, name + ".conv2", bias=False)
    y = batchnorm(b, y, name + ".bn2", bn, relu=True)
    y = conv(b, y, out_c, 1, 1, 0, name + ".conv3", bias=False)
    y = batchnorm(b, y, name + ".bn3", bn, relu=False)
    if stride != 1 or x.shape[1] != out_c:
        x = conv(b, x, out_c, 1, stride, 0, name + ".downsample.0", bias=False)
        x = batchnorm(b, x, name + ".downsample.1", bn, relu=False)
    return add(b, y, x, name + ".add", relu=True)


def model_resnet50(b, a):
    x = b.input("images", [a.batch, 3, a.image, a.image])
    x = conv(b, x, scaled(a, 64), 7, 2, 3, "conv1", bias=False)
    x = batchnorm(b, x, "bn1", a.bn, relu=True)
    x = maxpool(b, x, 3, 2, "maxpool", pad=1)
    for li, (blocks, planes, stride) in enumerate([(3, 64, 1), (4, 128, 2), (6, 256, 2), (3, 512, 2)]):
        for bi in range(blocks):
            x = bottleneck(b, x, scaled(a, planes), stride if bi == 0 else 1, "layer%d.%d" % (li + 1, bi), a.bn)
    n, c, h, w = x.shape
    s = b.pool("sum", x, h, 1, "avgpool")  # global: window = the whole feature map
    s = flatten(b, s, "avgpool.flatten")
    inv = b.cst(1.0 / (h * w))
    x = b.elementwise([s], lambda blk, v, out: blk.op("arith.mulf", v, inv), "avgpool.div")
    x = dense(b, x, a.classes, "fc")
    b.ret(x)


def model_bert(b, a):
    ids = b.input("input_ids", [a.batch, a.seq], "i64")
    tids = b.input("token_type_ids", [a.batch, a.seq], "i64")
    pad = b.input("attention_mask", [a.batch, a.seq], "i64") if a.padding_mask else None
    assert a.seq <= a.max_pos, "--seq exceeds --max-pos"
    word = b.param("embeddings.word_embeddings", [a.vocab, a.hidden])
    pos = b.param("embeddings.position_embeddings", [a.max_pos, a.hidden])
    typ = b.param("embeddings.token_type_embeddings", [a.type_vocab, a.hidden])
    x = lookup(b, ids, word, "embeddings.word")
    x = position_add(b, x, pos, "embeddings.position")
    x = lookup(b, tids, typ, "embeddings.token_type", prev=x)
    x = layernorm(b, x, "embeddings.layernorm", 1e-12)
    for i in range(a.layers):
        nm = "encoder.%d" % i
        y = attention(b, x, a.heads, nm + ".attn", causal=False, padding=pad)
        x = layernorm(b, add(b, y, x, nm + ".attn.residual"), nm + ".attn.layernorm", 1e-12)
        y = dense3(b, x, a.ffn, nm + ".ffn.in", act="gelu_erf")
        y = dense3(b, y, a.hidden, nm + ".ffn.out")
        x = layernorm(b, add(b, y, x, nm + ".ffn.residual"), nm + ".ffn.layernorm", 1e-12)
    first = b.extract_slice(x, [0, 0, 0], [a.batch, 1, a.hidden], [a.batch, a.hidden], "pooler.first_token")
    pooled = dense(b, first, a.hidden, "pooler.dense", "tanh")
    b.ret(x, pooled)


def model_gpt(b, a):
    ids = b.input("input_ids", [a.batch, a.seq], "i64")
    pad = b.input("attention_mask", [a.batch, a.seq], "i64") if a.padding_mask else None
    assert a.seq <= a.max_pos, "--seq exceeds --max-pos"
    wte = b.param("wte", [a.vocab, a.hidden])
    wpe = b.param("wpe", [a.max_pos, a.hidden])
    x = lookup(b, ids, wte, "wte")
    x = position_add(b, x, wpe, "wpe")
    for i in range(a.layers):
        nm = "h.%d" % i
        y = attention(b, layernorm(b, x, nm + ".ln_1", 1e-5), a.heads, nm + ".attn", causal=True,
                      padding=pad)
        x = add(b, x, y, nm + ".attn.residual")
        y = dense3(b, layernorm(b, x, nm + ".ln_2", 1e-5), a.ffn or 4 * a.hidden, nm + ".mlp.fc", act="gelu_tanh")
        y = dense3(b, y, a.hidden, nm + ".mlp.proj")
        x = add(b, x, y, nm + ".mlp.residual")
    x = layernorm(b, x, "ln_f", 1e-5)
    x2 = b.collapse(x, [[0, 1], [2]], "lm_head")
    logits = b.matmul(x2, wte, "lm_head", transpose_b=True)  # tied: reads wte [V,H]
    b.ret(b.expand(logits, [[0, 1], [2]], [a.batch, a.seq, a.vocab], "lm_head"))


def rmsnorm(b, x, name, eps):
    """RMSNorm over the last dim of [B,S,H]: x * rsqrt(mean(x^2) + eps) * gamma."""
    bsz, s, h = x.shape
    gamma = b.param(name + ".weight", [h])
    zero, inv_h, eps_c = b.cst(0.0), b.cst(1.0 / h), b.cst(eps)
    q = b.reduce([x], [0, 1], zero,
                 lambda blk, v, acc: blk.op("arith.addf", blk.op("arith.mulf", v, v), acc),
                 name + ".sumsq")

    def norm(blk, v, q_, g, out):
        r = blk.op("math.rsqrt", blk.op("arith.addf", blk.op("arith.mulf", q_, inv_h), eps_c))
        return blk.op("arith.mulf", blk.op("arith.mulf", v, r), g)

    return b.elementwise([x, q, gamma], norm, name, bcast={1: [0, 1], 2: [2]})


def linear3(b, x, n_out, name):
    """A bias-free projection of [B,S,K] to [B,S,N] (collapse, matmul,
    expand; or one 3-D contraction, `--gemm 3d`)."""
    w = b.param(name + ".weight", [x.shape[2], n_out])
    return b.project3(x, w, name)


def gqa_attention(b, x, heads, kv_heads, name):
    """Causal grouped-query attention (LLaMA) on [B,S,H], no biases: q has
    `heads` heads, k and v `kv_heads`, each shared by heads/kv_heads query
    heads. The group's query heads are stacked along the rows: scores are
    a batch_matmul over B*kv_heads of [g*S, hd] x [hd, S], masked where the
    key position exceeds the row's position (row mod S). No rotary
    embedding (position-wise elementwise work, omitted)."""
    bsz, s, h = x.shape
    assert h % heads == 0 and heads % kv_heads == 0, (h, heads, kv_heads)
    hd, g = h // heads, heads // kv_heads
    q = linear3(b, x, h, name + ".q_proj")
    k = linear3(b, x, kv_heads * hd, name + ".k_proj")
    v = linear3(b, x, kv_heads * hd, name + ".v_proj")
    q5 = b.expand(q, [[0], [1], [2, 3, 4]], [bsz, s, kv_heads, g, hd], name + ".q.split")
    qt = b.transpose(q5, [0, 2, 3, 1, 4], name + ".q.transpose")  # [B,kvh,g,S,hd]
    qh = b.collapse(qt, [[0, 1], [2, 3], [4]], name + ".q.groups")  # [B*kvh, g*S, hd]
    k4 = b.expand(k, [[0], [1], [2, 3]], [bsz, s, kv_heads, hd], name + ".k.split")
    kt = b.collapse(b.transpose(k4, [0, 2, 3, 1], name + ".k.transpose"),
                    [[0, 1], [2], [3]], name + ".k.heads")  # [B*kvh, hd, S]
    v4 = b.expand(v, [[0], [1], [2, 3]], [bsz, s, kv_heads, hd], name + ".v.split")
    vh = b.collapse(b.transpose(v4, [0, 2, 1, 3], name + ".v.transpose"),
                    [[0, 1], [2], [3]], name + ".v.heads")  # [B*kvh, S, hd]
    scores = b.batch_matmul(qh, kt, name + ".scores")  # [B*kvh, g*S, S]
    sc, ninf = b.cst(1.0 / math.sqrt(hd)), b.neg_inf()
    seq = b.cst(str(s), "index")

    def scale_mask(blk, v_, out):
        y = blk.op("arith.mulf", v_, sc)
        pos = blk.op("arith.remui", blk.index(1), seq, et="index")
        return blk.select(blk.cmpi("ugt", blk.index(2), pos), ninf, y)

    masked = b.elementwise([scores], scale_mask, name + ".softmax.scale.mask")
    mx = b.reduce([masked], [0, 1], ninf, lambda blk, v_, acc: blk.op("arith.maximumf", v_, acc),
                  name + ".softmax.max")
    e = b.elementwise([masked, mx], lambda blk, v_, m, out: blk.op("math.exp", blk.op("arith.subf", v_, m)),
                      name + ".softmax.exp", bcast={1: [0, 1]})
    sm = b.reduce([e], [0, 1], b.cst(0.0), lambda blk, v_, acc: blk.op("arith.addf", v_, acc),
                  name + ".softmax.sum")
    p_ = b.elementwise([e, sm], lambda blk, v_, t, out: blk.op("arith.divf", v_, t),
                       name + ".softmax.div", bcast={1: [0, 1]})
    ctx = b.batch_matmul(p_, vh, name + ".context")  # [B*kvh, g*S, hd]
    c5 = b.expand(ctx, [[0, 1], [2, 3], [4]], [bsz, kv_heads, g, s, hd], name + ".context.split")
    ct = b.transpose(c5, [0, 3, 1, 2, 4], name + ".context.transpose")  # [B,S,kvh,g,hd]
    c3 = b.collapse(ct, [[0], [1], [2, 3, 4]], name + ".context.merge")
    return linear3(b, c3, h, name + ".o_proj")


def swiglu(b, x, ffn, name):
    """LLaMA's MLP: down(silu(gate(x)) * up(x)), no biases."""
    gate = linear3(b, x, ffn, name + ".gate_proj")
    up = linear3(b, x, ffn, name + ".up_proj")
    one = b.cst(1.0)

    def body(blk, g_, u, out):
        sig = blk.op("arith.divf", one,
                     blk.op("arith.addf", one, blk.op("math.exp", blk.op("arith.negf", g_))))
        return blk.op("arith.mulf", blk.op("arith.mulf", g_, sig), u)

    h = b.elementwise([gate, up], body, name + ".act")
    return linear3(b, h, x.shape[2], name + ".down_proj")


def model_llama(b, a):
    ids = b.input("input_ids", [a.batch, a.seq], "i64")
    embed = b.param("embed_tokens", [a.vocab, a.hidden])
    x = lookup(b, ids, embed, "embed_tokens")
    for i in range(a.layers):
        nm = "layers.%d" % i
        y = gqa_attention(b, rmsnorm(b, x, nm + ".input_layernorm", 1e-5), a.heads,
                          a.kv_heads or a.heads, nm + ".self_attn")
        x = add(b, x, y, nm + ".attn.residual")
        y = swiglu(b, rmsnorm(b, x, nm + ".post_attention_layernorm", 1e-5), a.ffn, nm + ".mlp")
        x = add(b, x, y, nm + ".mlp.residual")
    x = rmsnorm(b, x, "norm", 1e-5)
    w = b.param("lm_head.weight", [a.hidden, a.vocab])  # not tied
    logits = b.matmul(b.collapse(x, [[0, 1], [2]], "lm_head"), w, "lm_head")
    b.ret(b.expand(logits, [[0, 1], [2]], [a.batch, a.seq, a.vocab], "lm_head"))


# --------------------------------------------------------------------------
# TOSA
# --------------------------------------------------------------------------


class TosaBuilder(Builder):
    """Builder for TOSA programs (same arguments, names and bookkeeping)."""

    def zp(self):
        key = ("tosa.zp", self.dt)
        if key not in self.consts:
            name = "%%zp_%d" % len(self.consts)
            self.consts[key] = name
            self.const_lines.append('%s%s = "tosa.const"() <{values = dense<0.0> : tensor<1x%s>}> : () -> tensor<1x%s>'
                                    % (self.ind, name, self.dt, self.dt))
        return self.consts[key]

    def shape_const(self, shape):
        key = ("tosa.shape",) + tuple(shape)
        if key not in self.consts:
            name = "%%shape_%d" % len(self.consts)
            self.consts[key] = name
            self.const_lines.append("%s%s = tosa.const_shape {values = dense<[%s]> : tensor<%dxindex>} : () -> !tosa.shape<%d>"
                                    % (self.ind, name, ", ".join(map(str, shape)), len(shape), len(shape)))
        return self.consts[key]

    def op(self, text, ins, shape, name):
        res = Value(self.fresh(), shape, self.dt)
        self.emit("%s = %s : (%s) -> %s%s" % (res.name, text, ", ".join(ins), res.type, self.loc(name)))
        return res

    def reshape(self, x, shape, name):
        s = self.shape_const(shape)
        return self.op("tosa.reshape %s, %s" % (x.name, s), [x.type, "!tosa.shape<%d>" % len(shape)], shape, name)

    def acc(self):
        return "f32" if self.dt == "bf16" else self.dt

    def dense(self, x3, n_out, name, relu):
        """[1,M,K] x [1,K,N] + [1,1,N] (+ clamp)."""
        _, m, k = x3.shape
        w = self.param(name + ".weight", [1, k, n_out])
        bias = self.param(name + ".bias", [1, 1, n_out])
        zp = self.zp()
        y = self.op("tosa.matmul %s, %s, %s, %s" % (x3.name, w.name, zp, zp),
                    [x3.type, w.type, "tensor<1x%s>" % self.dt, "tensor<1x%s>" % self.dt], [1, m, n_out], name)
        self.macs += m * n_out * k
        y = self.op("tosa.add %s, %s" % (y.name, bias.name), [y.type, bias.type], y.shape, name + ".bias_add")
        return self.relu(y, name + ".relu") if relu else y

    def relu(self, x, name):
        return self.op("tosa.clamp %s {min_val = 0.0 : %s, max_val = %s : %s}"
                       % (x.name, self.dt, FLOAT_MAX[self.dt], self.dt), [x.type], x.shape, name)

    def conv(self, x, c_out, k, stride, pad, name):
        """NHWC conv with OHWI weights and a bias, then ReLU."""
        n, h, w_, c = x.shape
        w = self.param(name + ".weight", [c_out, k, k, c])
        bias = self.param(name + ".bias", [c_out])
        ho, wo = (h + 2 * pad - k) // stride + 1, (w_ + 2 * pad - k) // stride + 1
        zp = self.zp()
        y = self.op("tosa.conv2d %s, %s, %s, %s, %s {acc_type = %s, dilation = array<i64: 1, 1>, "
                    "pad = array<i64: %d, %d, %d, %d>, stride = array<i64: %d, %d>}"
                    % (x.name, w.name, bias.name, zp, zp, self.acc(), pad, pad, pad, pad, stride, stride),
                    [x.type, w.type, bias.type, "tensor<1x%s>" % self.dt, "tensor<1x%s>" % self.dt],
                    [n, ho, wo, c_out], name)
        self.macs += n * ho * wo * c_out * k * k * c
        return self.relu(y, name + ".relu")

    def maxpool(self, x, k, stride, name):
        n, h, w, c = x.shape
        ho, wo = (h - k) // stride + 1, (w - k) // stride + 1
        return self.op("tosa.max_pool2d %s {kernel = array<i64: %d, %d>, pad = array<i64: 0, 0, 0, 0>, "
                       "stride = array<i64: %d, %d>}" % (x.name, k, k, stride, stride),
                       [x.type], [n, ho, wo, c], name)


def tosa_mlp(b, a):
    sizes = a.layers
    x = b.input("input", [a.batch, sizes[0]])
    x = b.reshape(x, [1, a.batch, sizes[0]], "input.reshape")
    for i, n in enumerate(sizes[1:]):
        last = i == len(sizes) - 2
        x = b.dense(x, n, "fc%d" % (i + 1), not last)
    b.ret(b.reshape(x, [a.batch, sizes[-1]], "output.reshape"))


def tosa_alexnet(b, a):
    x = b.input("images", [a.batch, a.image, a.image, 3])  # NHWC, TOSA's layout
    x = b.conv(x, 64, 11, 4, 0, "conv1")
    x = b.maxpool(x, 3, 2, "pool1")
    x = b.conv(x, 192, 5, 1, 2, "conv2")
    x = b.maxpool(x, 3, 2, "pool2")
    x = b.conv(x, 384, 3, 1, 1, "conv3")
    x = b.conv(x, 384, 3, 1, 1, "conv4")
    x = b.conv(x, 256, 3, 1, 1, "conv5")
    x = b.maxpool(x, 3, 2, "pool5")
    n, h, w, c = x.shape
    x = b.reshape(x, [1, n, h * w * c], "flatten")
    x = b.dense(x, 4096, "fc6", True)
    x = b.dense(x, 4096, "fc7", True)
    x = b.dense(x, a.classes, "fc8", False)
    b.ret(b.reshape(x, [n, a.classes], "output.reshape"))


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------

MODELS = {
    "mlp": (model_mlp, tosa_mlp),
    "alexnet": (model_alexnet, tosa_alexnet),
    "vgg16": (model_vgg16, None),
    "resnet50": (model_resnet50, None),
    "bert": (model_bert, None),
    "gpt": (model_gpt, None),
    "llama": (model_llama, None),
}

DEFAULTS = {
    "mlp": dict(batch=128, layers="784,512,10"),
    "alexnet": dict(batch=128, image=227, classes=1000, width=1),
    "vgg16": dict(batch=1, image=224, classes=1000, width=1),
    "resnet50": dict(batch=1, image=224, classes=1000, width=1),
    "bert": dict(batch=8, seq=128, hidden=768, layers=12, heads=12, ffn=3072, vocab=30522,
                 max_pos=512, type_vocab=2),
    "gpt": dict(batch=8, seq=1024, hidden=768, layers=12, heads=12, ffn=None, vocab=50257,
                max_pos=1024),
    # LLaMA-3 8B's shape at a short sequence.
    "llama": dict(batch=1, seq=512, hidden=4096, layers=32, heads=32, kv_heads=8, ffn=14336,
                  vocab=128256),
}

# Which options each model reads (others are rejected).
OPTIONS = {
    "mlp": {"batch", "layers"},
    "alexnet": {"batch", "image", "classes", "width"},
    "vgg16": {"batch", "image", "classes", "width"},
    "resnet50": {"batch", "image", "classes", "bn", "width"},
    "bert": {"batch", "seq", "hidden", "layers", "heads", "ffn", "vocab", "max_pos", "type_vocab"},
    "gpt": {"batch", "seq", "hidden", "layers", "heads", "ffn", "vocab", "max_pos"},
    "llama": {"batch", "seq", "hidden", "layers", "heads", "kv_heads", "ffn", "vocab"},
}


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="generate.py",
        description="Emit a DNN forward pass as MLIR (linalg on tensors, or TOSA with --tosa).")
    p.add_argument("model", choices=sorted(MODELS))
    p.add_argument("-o", "--output", help="output file (default: stdout)")
    p.add_argument("--batch", type=int, help="batch size (dim 0 of every activation)")
    p.add_argument("--layers", help="mlp: comma-separated layer sizes; bert/gpt: number of blocks")
    p.add_argument("--image", type=int, help="image height = width")
    p.add_argument("--classes", type=int, help="number of classes of the classifier")
    p.add_argument("--width", type=int,
                   help="alexnet/vgg16/resnet50: divide every channel count and hidden "
                        "width by this (small models for tests; default 1)")
    p.add_argument("--bn", choices=["running", "batch"], default=None,
                   help="resnet50 BatchNorm: running statistics as state arguments "
                        "(inference form, default) or batch statistics by reductions")
    p.add_argument("--seq", type=int, help="sequence length")
    p.add_argument("--hidden", type=int, help="hidden size")
    p.add_argument("--heads", type=int, help="attention heads")
    p.add_argument("--kv-heads", type=int, dest="kv_heads",
                   help="llama: key/value heads (grouped-query attention; default: --heads)")
    p.add_argument("--ffn", type=int, help="feed-forward inner size (gpt default: 4 x hidden)")
    p.add_argument("--vocab", type=int, help="vocabulary size")
    p.add_argument("--max-pos", type=int, dest="max_pos", help="position-embedding rows")
    p.add_argument("--type-vocab", type=int, dest="type_vocab", help="bert: token-type rows")
    p.add_argument("--dtype", choices=FLOAT_TYPES, default="f32", help="element type (default f32)")
    p.add_argument("--padding-mask", dest="padding_mask", action="store_true",
                   help="bert/gpt: an attention_mask input (i64, batch x seq; 0 = padding) added to the "
                        "scores as PyTorch's models add it")
    p.add_argument("--tosa", action="store_true", help="emit TOSA (mlp, alexnet) instead of linalg")
    p.add_argument("--gemm", choices=["2d", "3d"], default="2d",
                   help="bert/gpt/llama: projections of [B,S,K] activations as collapse + "
                        "matmul + expand (2d, default) or one contraction over (b, s, n, k) (3d), "
                        "which leaves the sequence a loop of its own")
    p.add_argument("--linear", choices=["matmul", "torch"], default="matmul",
                   help="mlp: dense layers as a matmul with a [K,N] weight (default) or as "
                        "PyTorch's nn.Linear exports them, a [N,K] weight transposed, then the matmul")
    p.add_argument("--no-roles", dest="roles", action="store_false",
                   help="omit the autopar.role argument attributes")
    p.add_argument("--summary", action="store_true",
                   help="print the parameter count and MACs per sample instead of IR")
    a = p.parse_args(argv)

    given = {k for k in ("batch", "layers", "image", "classes", "bn", "seq", "hidden", "heads", "kv_heads",
                         "ffn", "vocab", "max_pos", "type_vocab") if getattr(a, k) is not None}
    bad = given - OPTIONS[a.model]
    if bad:
        p.error("option(s) not used by %s: %s" % (a.model, ", ".join("--" + k.replace("_", "-") for k in sorted(bad))))
    for k, v in DEFAULTS[a.model].items():
        if getattr(a, k) is None:
            setattr(a, k, v)
    if a.model == "resnet50" and a.bn is None:
        a.bn = "running"
    if a.padding_mask and a.model not in ("bert", "gpt"):
        p.error("--padding-mask is for bert and gpt")
    if a.model == "mlp":
        try:
            a.layers = [int(s) for s in a.layers.split(",")]
        except ValueError:
            p.error("--layers for mlp is a comma-separated list of sizes, e.g. 784,512,10")
        if len(a.layers) < 2:
            p.error("--layers needs at least two sizes")
    elif a.model in ("bert", "gpt", "llama"):
        try:
            a.layers = int(a.layers)
        except ValueError:
            p.error("--layers for %s is the number of blocks" % a.model)
        if a.hidden % a.heads:
            p.error("--hidden must be divisible by --heads")
        if a.model == "llama" and a.heads % a.kv_heads:
            p.error("--heads must be divisible by --kv-heads")
        if a.model != "llama" and a.seq > a.max_pos:
            p.error("--seq must not exceed --max-pos")
    if a.linear == "torch" and (a.model != "mlp" or a.tosa):
        p.error("--linear torch is available for: mlp")
    if a.gemm == "3d" and a.model not in ("bert", "gpt", "llama"):
        p.error("--gemm 3d is available for: bert, gpt, llama")
    if a.tosa and MODELS[a.model][1] is None:
        p.error("--tosa is available for: " + ", ".join(m for m in MODELS if MODELS[m][1]))
    if a.batch is not None and a.batch < 1:
        p.error("--batch must be positive")
    return a


def config_line(a):
    keys = ["batch"] + sorted(OPTIONS[a.model] - {"batch"})
    parts = []
    for k in keys:
        v = getattr(a, k)
        if isinstance(v, list):
            v = ",".join(map(str, v))
        if k == "width" and v == 1:
            continue
        if k == "ffn" and v is None:
            v = "4*hidden"
        parts.append("%s=%s" % (k.replace("_", "-"), v))
    return " ".join(parts + ["dtype=" + a.dtype] + (["tosa"] if a.tosa else [])
                    + (["gemm=3d"] if a.gemm == "3d" else [])
                    + (["linear=torch"] if a.linear == "torch" else []))


def build(a):
    lin, tosa = MODELS[a.model]
    b = TosaBuilder(a.dtype, a.roles) if a.tosa else Builder(a.dtype, a.roles)
    b.gemm3d = a.gemm == "3d"
    b.torch_linear = a.linear == "torch"
    (tosa if a.tosa else lin)(b, a)
    return b


def main(argv):
    a = parse_args(argv)
    b = build(a)
    macs = b.macs // a.batch
    assert macs * a.batch == b.macs
    if a.summary:
        text = ("model: %s (%s)\nparams: %d\nmacs_per_sample: %d\n"
                % (a.model, config_line(a), b.params, macs))
        if b.state:
            text += "state: %d\n" % b.state
    else:
        cmd = " ".join(shlex.quote(s) for s in ["python3", "models/generate.py"] + list(argv))
        header = [
            "Generated by: " + cmd,
            "Model: %s (%s)" % (a.model, config_line(a)),
            "Forward pass only, %s. Arguments: the batch input(s), then the parameters%s in layer order."
            % ("TOSA" if a.tosa else "linalg on tensors",
               " and the BatchNorm running statistics (state)" if b.state else ""),
            "Generator's bookkeeping (the compiler's analysis recomputes these):",
            "  parameters: {:,} ({})".format(b.params, b.params),
            "  MACs per sample (contractions only): {:,} ({})".format(macs, macs),
        ]
        if b.state:
            header.append("  non-parameter state elements: {:,}".format(b.state))
        text = b.render(header)
    if a.output:
        with open(a.output, "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main(sys.argv[1:])
