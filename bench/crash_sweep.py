#!/usr/bin/env python3
"""Every checked-in MLIR input through autopar's passes: no crash.

The lit tests run each input through the passes it was written for; users
run any input through any pass. This sweep takes every `.mlir` file under
test/ (and ../shared/corpus when present), split as lit splits it
(`--split-input-file`), through each pipeline below, and reports the runs
that crash (a signal, a stack dump, an assertion, an LLVM fatal error) or
hang past --timeout. An error, located or not, is the pass declining the
input and counts as a pass here (the lit tests check the errors
themselves).

    python3 bench/crash_sweep.py [--build build] [--timeout 60]
        [--pipelines analyze,plan,...] [--keep DIR] [--run]

With --run, every input that is one module (no `// -----` splits) is also
compiled by `autopar-run -n 2 --compile-only` for the CPU and the CUDA
backend, its forward and a training step (loss=mse, SGD): the planner,
training, partition and both lowerings end to end (304 compiles, ~7 min
more).

Exit status: 0 when nothing crashed or hung. One run over the 106 inputs
and 12 pipelines takes 45 s on 2 cores (test/Tools/crash-sweep.test).
"""
import argparse
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fuzz import CRASH  # noqa: E402  (what a crash prints)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

PIPELINES = {
    "analyze": ["--autopar-analyze"],
    "auto-shard": ["--auto-shard"],
    "plan": ["--autopar-plan=mesh=2"],
    "partition": ["--autopar-plan=mesh=2", "--autopar-partition"],
    "training": ["--autopar-training"],
    "train-partition": ["--autopar-training", "--autopar-plan=mesh=2",
                        "--autopar-propagate", "--autopar-partition"],
    "fuse-attention": ["--autopar-fuse-attention"],
    "fuse-elementwise": ["--autopar-fuse-elementwise"],
    "export-shard": ["--autopar-export-shard"],
    "report-communication": ["--autopar-report-communication"],
    "lower-to-cpu": ["--autopar-lower-to-cpu"],
    "lower-to-cuda": ["--autopar-lower-to-cuda=emulate=1"],
}


def inputs():
    roots = [os.path.join(ROOT, "test"),
             os.path.join(os.path.dirname(ROOT), "shared", "corpus")]
    for root in roots:
        for directory, _, files in sorted(os.walk(root)):
            for name in sorted(files):
                if name.endswith(".mlir"):
                    yield os.path.join(directory, name)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--timeout", type=int, default=60)
    parser.add_argument("--pipelines", default=",".join(PIPELINES))
    parser.add_argument("--keep", default=None,
                        help="write each crash's output here")
    parser.add_argument("--run", action="store_true",
                        help="also compile each one-module input with "
                        "autopar-run on 2 ranks, both backends")
    args = parser.parse_args()
    opt = os.path.join(args.build, "bin", "autopar-opt")
    run = os.path.join(args.build, "bin", "autopar-run")
    chosen = args.pipelines.split(",")
    for name in chosen:
        if name not in PIPELINES:
            parser.error("unknown pipeline '%s' (%s)" %
                         (name, ", ".join(PIPELINES)))
    if args.keep:
        os.makedirs(args.keep, exist_ok=True)
    runs = failures = 0
    for path in inputs():
        commands = [(name, [opt, path, "--split-input-file"] +
                     PIPELINES[name] + ["-o", os.devnull])
                    for name in chosen]
        if args.run:
            with open(path) as f:
                split = "\n// -----\n" in f.read()
            if not split:
                for backend in ("cpu", "cuda"):
                    base = [run, "-n", "2", path, "--backend=" + backend,
                            "--compile-only"]
                    commands.append(("run-" + backend, base))
                    commands.append(
                        ("train-" + backend,
                         base + ["--training=loss=mse optimizer=sgd lr=0.01"]))
        for name, command in commands:
            runs += 1
            # A whole compile gets five times a pass's limit.
            limit = args.timeout * (1 if name in PIPELINES else 5)
            try:
                result = subprocess.run(command, capture_output=True,
                                        text=True, timeout=limit)
                output = result.stdout + result.stderr
                crashed = result.returncode < 0 or CRASH.search(output)
                what = "crash (exit %d)" % result.returncode
            except subprocess.TimeoutExpired:
                output, crashed = "", True
                what = "hang (> %d s)" % limit
            if not crashed:
                continue
            failures += 1
            shown = os.path.relpath(path, os.path.dirname(ROOT))
            print("FAIL %-22s %s: %s" % (name, shown, what), flush=True)
            if args.keep:
                log = os.path.join(args.keep, "%s.%s.log" %
                                   (os.path.basename(path), name))
                with open(log, "w") as f:
                    f.write(" ".join(command) + "\n" + output)
    print("crash sweep: %d runs (%d pipelines%s), %d crashed or hung" %
          (runs, len(chosen), ", autopar-run" if args.run else "", failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
