#!/usr/bin/env python3
"""How long the search takes with every dimension searched, pipelines included.

Issue 16's goals, on this 2-core machine: GPT-3 175B (96 blocks, batch
1536, bf16, Adam) over 64 DGX A100 nodes (512 GPUs), everything searched
(`stages=0`: stage count, schedule and chunks per device, stage
boundaries and meshes, per-op shardings,
ZeRO, recomputation, microbatches, and every mesh without stages), in
under 60 s; a 1,000-layer model in under 5 min. The 1,000-layer model is
a GPT of 1,000 blocks (hidden 1024, 16 heads, sequence 1024, batch 512,
vocabulary 51200, bf16), 66k ops in the cost graph.

For each model: generate it (models/generate.py), plan it with
`autopar-opt --autopar-plan="target=<64 DGX A100> stages=0
optimizer=adam loss=softmax-cross-entropy"` single-threaded, and print the wall time, the peak
memory of the process, the plan and the repeated block the search found.
`--compare` also plans with `reuse-blocks=false` (every op solved in the
whole graph: the same plan, minutes slower) and checks the plans agree.

One run each, on the machine at hand: compare ratios, not absolute times,
across machines.

Usage: bench/pipeline_search.py [--build build] [--models gpt3,gpt1000]
                                [--compare]
"""

import argparse
import filecmp
import os
import re
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# name: (generate.py arguments, description)
MODELS = {
    "gpt3": (["gpt", "--layers", "96", "--hidden", "12288", "--heads", "96",
              "--ffn", "49152", "--vocab", "51200", "--seq", "2048",
              "--max-pos", "2048", "--batch", "1536", "--dtype", "bf16"],
             "GPT-3 175B, batch 1536"),
    "gpt1000": (["gpt", "--layers", "1000", "--hidden", "1024", "--heads",
                 "16", "--ffn", "4096", "--vocab", "51200", "--seq", "1024",
                 "--max-pos", "1024", "--batch", "512", "--dtype", "bf16"],
                "GPT of 1,000 blocks, hidden 1024, batch 512"),
}


def plan(opt, model, target, report, output, extra, tmp):
    """Runs the search; returns (wall seconds, peak memory in GiB)."""
    command = [opt, model, "--mlir-disable-threading",
               "--autopar-plan=target=%s stages=0 optimizer=adam "
               "loss=softmax-cross-entropy report=%s%s"
               % (target, report, extra), "-o", output]
    errors = os.path.join(tmp, "stderr.txt")
    start = time.perf_counter()
    with open(errors, "w") as stderr:
        process = subprocess.Popen(command, stderr=stderr)
        _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        with open(errors) as f:
            sys.exit("failed: %s\n%s" % (" ".join(command), f.read()))
    return wall, usage.ru_maxrss / 2**20


def summary(report):
    with open(report) as f:
        text = f.read()
    lines = []
    for pattern in [r"^pipeline: .*$", r"^step time: [0-9.]+ ms",
                    r"^autopar plan: .*$", r"^chosen: [^;]*; step [0-9.]+ ms",
                    r"^without stages: .*$", r"repeated block: [^\n;]*"]:
        match = re.search(pattern, text, re.MULTILINE)
        if match:
            lines.append(match.group(0))
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--models", default="gpt3,gpt1000")
    parser.add_argument("--compare", action="store_true",
                        help="also plan with reuse-blocks=false and compare")
    args = parser.parse_args()
    opt = os.path.join(args.build, "bin", "autopar-opt")
    if not os.path.exists(opt):
        sys.exit("no %s: run scripts/build.sh first" % opt)
    with tempfile.TemporaryDirectory() as tmp:
        target = os.path.join(tmp, "a100-dgx-x64.json")
        with open(target, "w") as f:
            f.write('{"preset": "a100-dgx", "name": "a100-dgx-x64", '
                    '"nodes": 64}\n')
        for name in args.models.split(","):
            if name not in MODELS:
                sys.exit("unknown model %s (have: %s)"
                         % (name, ", ".join(MODELS)))
            generate, description = MODELS[name]
            model = os.path.join(tmp, name + ".mlir")
            subprocess.run([sys.executable,
                            os.path.join(ROOT, "models", "generate.py")] +
                           generate + ["-o", model], check=True)
            print("%s on 64 DGX A100 (512 GPUs), stages=0:" % description)
            runs = [("reuse", "")]
            if args.compare:
                runs.append(("whole graph", " reuse-blocks=false"))
            outputs = []
            for label, extra in runs:
                report = os.path.join(tmp, "%s-%d.txt" % (name, len(outputs)))
                output = os.path.join(tmp, "%s-%d.mlir" % (name, len(outputs)))
                wall, peak = plan(opt, model, target, report, output, extra,
                                  tmp)
                outputs.append((report, output))
                print("  %-12s %7.1f s, %.2f GiB peak" % (label, wall, peak))
                if len(outputs) == 1:
                    for line in summary(report):
                        print("    " + line)
            if args.compare:
                same = filecmp.cmp(outputs[0][1], outputs[1][1], shallow=False)
                print("  plans (IR) %s" % ("identical" if same else "DIFFER"))
                if not same:
                    sys.exit(1)


if __name__ == "__main__":
    main()
