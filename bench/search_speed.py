#!/usr/bin/env python3
"""How long the search takes, and how that grows with graph and mesh size.

Generates GPT-style graphs (models/generate.py gpt: batch 8, sequence 256,
hidden 512, 8 heads, so that even the 1020-block graph has a plan that fits
in memory) of about 1k, 10k and 100k ops (ops in the function body,
the nodes of the search's cost graph; the ops nested in linalg bodies are
counted separately), then times `autopar-opt --autopar-plan` single-threaded
(`--mlir-disable-threading`, pinned to one core with taskset when present):

  * one mesh (mesh=2x4 on a 64-GPU A100 cluster, 8 nodes of 8);
  * the full sweep over every candidate mesh up to 64 GPUs;
  * on the 10k graph: one mesh of growing size, and full sweeps over
    clusters of 8, 16, 32 and 64 GPUs.

Each figure is the search pass alone (from --mlir-timing) and the whole
command (parse, search, print). One run each, on the machine at hand:
compare ratios, not absolute times, across machines.

Usage: bench/search_speed.py [--build build] [--sizes 1000,10000,100000]
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OPS_PER_LAYER = 98  # GPT block ops in the function body (measured below)


def count_ops(opt, path):
    """Ops in the function body, and ops in total (bodies included, from
    --print-op-stats)."""
    top = 0
    with open(path) as f:
        for line in f:
            if re.match(r"^    [%a-z]", line):
                top += 1
    stats = subprocess.run([opt, path, "--print-op-stats", "-o", os.devnull],
                           capture_output=True, text=True, check=True).stderr
    total = sum(int(m) for m in re.findall(r"^\s+\S+\s*,\s*(\d+)$", stats,
                                           re.MULTILINE))
    return top, total


def plan(opt, model, options, cpu_pin):
    command = cpu_pin + [opt, model, "--mlir-disable-threading",
                         "--mlir-timing", "--autopar-plan=" + options,
                         "-o", os.devnull]
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit("failed: %s\n%s" % (" ".join(command), result.stderr))
    search = None
    for line in result.stderr.splitlines():
        match = re.match(r"\s*([0-9.]+) \(.*\)\s+Plan$", line)
        if match:
            search = float(match.group(1))
    return search, wall


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--sizes", default="1000,10000,100000",
                        help="approximate op counts of the GPT graphs")
    args = parser.parse_args()
    opt = os.path.join(args.build, "bin", "autopar-opt")
    if not os.path.exists(opt):
        sys.exit("no %s: run scripts/build.sh first" % opt)
    cpu_pin = ["taskset", "-c", "0"] if shutil.which("taskset") else []

    with tempfile.TemporaryDirectory() as tmp:
        def cluster(nodes):
            path = os.path.join(tmp, "a100x%d.json" % nodes)
            with open(path, "w") as f:
                f.write('{"preset": "a100-dgx", "nodes": %d}\n' % nodes)
            return path

        a100x64 = cluster(8)
        models = {}
        print("graphs (GPT blocks: batch 8, sequence 256, hidden 512):")
        for size in [int(s) for s in args.sizes.split(",")]:
            layers = max(1, round(size / OPS_PER_LAYER))
            path = os.path.join(tmp, "gpt%d.mlir" % layers)
            subprocess.run([sys.executable,
                            os.path.join(ROOT, "models", "generate.py"), "gpt",
                            "--layers", str(layers), "--seq", "256",
                            "--hidden", "512", "--heads", "8", "-o", path],
                           check=True)
            top, total = count_ops(opt, path)
            models[size] = path
            print("  %7d ops requested: %4d layers, %6d ops in the graph, "
                  "%7d with bodies" % (size, layers, top, total))

        print("\nop count (a100-dgx x 8 nodes = 64 GPUs), seconds "
              "(search / whole command):")
        print("  %8s  %22s  %22s" % ("ops", "one mesh (2x4)", "full sweep"))
        for size, path in models.items():
            one = plan(opt, path, "target=%s mesh=2x4 report=" % a100x64,
                       cpu_pin)
            sweep = plan(opt, path, "target=%s report=" % a100x64, cpu_pin)
            print("  %8d  %10.2f / %8.2f  %10.2f / %8.2f"
                  % (size, one[0], one[1], sweep[0], sweep[1]))

        middle = sorted(models)[len(models) // 2]
        path = models[middle]
        print("\nmesh size on the %d-op graph, seconds (search / whole "
              "command):" % middle)
        for mesh in ["4", "8", "2x4", "8x8", "64"]:
            result = plan(opt, path, "target=%s mesh=%s report=" % (a100x64, mesh),
                          cpu_pin)
            print("  one mesh %-5s %10.2f / %8.2f" % (mesh, *result))
        for nodes in [1, 2, 4, 8]:
            result = plan(opt, path, "target=%s report=" % cluster(nodes),
                          cpu_pin)
            print("  sweep to %2d GPUs %7.2f / %8.2f" % (8 * nodes, *result))


if __name__ == "__main__":
    main()
