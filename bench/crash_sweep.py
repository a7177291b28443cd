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
        [--pipelines analyze,plan,...] [--keep DIR]

Exit status: 0 when nothing crashed or hung. One run over the 106 inputs
and 12 pipelines takes 45 s on 2 cores (test/Tools/crash-sweep.test).
"""
import argparse
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CRASH = re.compile(r"Stack dump|PLEASE submit|Assertion|terminate called|"
                   r"Segmentation|LLVM ERROR|UNREACHABLE")

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
    args = parser.parse_args()
    opt = os.path.join(args.build, "bin", "autopar-opt")
    chosen = args.pipelines.split(",")
    for name in chosen:
        if name not in PIPELINES:
            parser.error("unknown pipeline '%s' (%s)" %
                         (name, ", ".join(PIPELINES)))
    if args.keep:
        os.makedirs(args.keep, exist_ok=True)
    runs = failures = 0
    for path in inputs():
        for name in chosen:
            runs += 1
            command = [opt, path, "--split-input-file"] + PIPELINES[name] + \
                ["-o", os.devnull]
            try:
                result = subprocess.run(command, capture_output=True,
                                        text=True, timeout=args.timeout)
                output = result.stdout + result.stderr
                crashed = result.returncode < 0 or CRASH.search(output)
                what = "crash (exit %d)" % result.returncode
            except subprocess.TimeoutExpired:
                output, crashed = "", True
                what = "hang (> %d s)" % args.timeout
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
    print("crash sweep: %d runs (%d pipelines), %d crashed or hung" %
          (runs, len(chosen), failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
