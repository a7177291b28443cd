#!/usr/bin/env python3
"""Random small linalg programs through autopar: plan, partition, and
(optionally) run on 2 ranks against one process.

Each program is a random chain over a [batch, features] tensor: matmuls with
parameter weights, broadcast bias adds, ReLU/tanh, row sums, transposes,
reshapes through unit and split dimensions, softmax, concatenation, padding
and slices, with sizes drawn from {0, 1, 2, 3, 4, 6, 8} (zero-size and unit
dimensions included on purpose). For every program:

  plan       autopar-opt --auto-shard (target a100-dgx, 1-8 GPUs)
  partition  autopar-opt --autopar-plan=mesh=2 --autopar-partition
  run        autopar-run -n 2 --check (with --run; slower)
  loss       plan again with loss=mse or softmax-cross-entropy (by turns)

A stage passes when it succeeds or stops with a located error (exit 1 and
"error:" on stderr); it FAILS on a crash (a signal, a stack dump, an
assertion), on an error without a location, or, for run, on a result that
differs from one process. Failing programs are kept in --keep.

    python3 bench/fuzz.py [--build build] [--count 200] [--seed 1] [--run]
        [--keep DIR]

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
        value = self.fresh()
        self.lines.append("%s = linalg.fill ins(%%zero : f32) outs(%s : %s) -> %s"
                          % (value, self.empty(shape), self.ty(shape),
                             self.ty(shape)))
        return value

    def generic(self, ins, in_maps, shape, out_map, iterators, body):
        """body: text using %a, %b (inputs) and %acc (the output)."""
        value = self.fresh()
        names = ["%%a%d" % i for i in range(len(ins))] + ["%acc"]
        args = ", ".join("%s: f32" % n for n in names)
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
        n = self.rng.choice(SIZES[1:])
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

    STEPS = ["matmul", "matmul", "bias", "activation", "rowsum_broadcast",
             "transpose_twice", "reshape", "softmax", "concat", "pad", "slice"]

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
        body = "\n".join("  " + l.replace("\n", "\n  ") for l in self.lines)
        return ("func.func @forward(%s) -> %s {\n  %%zero = arith.constant 0.0 : f32\n%s\n  return %s : %s\n}\n"
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
    if outcome == "run" and "check: max relative error" in result.stdout:
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
    parser.add_argument("--keep", default="",
                        help="directory for the programs that fail")
    args = parser.parse_args()
    opt = os.path.join(args.build, "bin", "autopar-opt")
    runner = os.path.join(args.build, "bin", "autopar-run")
    tally = {}
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        for index in range(args.count):
            rng = random.Random(args.seed * 100003 + index)
            text = Program(rng).build(rng.randint(1, args.length))
            path = os.path.join(tmp, "p%d.mlir" % index)
            with open(path, "w") as f:
                f.write(text)
            commands = [
                ("plan", [opt, path, "--auto-shard=target=a100-dgx report=",
                          "-o", os.devnull]),
                ("partition", [opt, path,
                               "--autopar-plan=mesh=2 target=a100-dgx report=",
                               "--autopar-partition", "-o", os.devnull]),
            ]
            if args.run:
                commands.append(("run", [runner, "-O0", "-n", "2", path,
                                         "--check"]))
            # The plan again with a training loss priced (appended and
            # erased by autopar-plan), one of the two by turns.
            loss = ("mse", "softmax-cross-entropy")[index % 2]
            commands.append(("loss", [opt, path,
                                      "--auto-shard=target=a100-dgx report= "
                                      "loss=" + loss, "-o", os.devnull]))
            for stage, command in commands:
                result = subprocess.run(command, capture_output=True, text=True)
                outcome = check(stage, result, stage)
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
                if outcome == "error":
                    first = [l for l in result.stderr.splitlines()
                             if "error:" in l][0]
                    tally.setdefault(("errors", stage), set()).add(
                        re.sub(r"^.*?error: ", "", first)[:100])
                    break
    stages = ["plan", "partition"] + (["run"] if args.run else []) + ["loss"]
    print("fuzz: %d programs (seed %d)" % (args.count, args.seed))
    for stage in stages:
        print("  %-10s ok %d, located errors %d, failures %d" % (
            stage, tally.get((stage, "ok"), 0), tally.get((stage, "error"), 0),
            tally.get((stage, "FAIL"), 0)))
        for message in sorted(tally.get(("errors", stage), [])):
            print("    error: %s" % message)
    print("fuzz: %s" % ("PASS" if failures == 0 else "%d FAILED" % failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
