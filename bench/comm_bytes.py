#!/usr/bin/env python3
"""Communication per training step: predicted against counted.

For each model and plan (compile only, full-size models, no execution):

  1. autopar-training builds the training step, autopar-plan plans the
     forward pass on the target (JSON report), autopar-propagate gives the
     step the plan;
  2. autopar-report-communication predicts the collectives of the forward
     pass and of the step from the annotations (the resharding steps the
     planner prices), and after autopar-partition counts them in the
     partitioned IR.

It prints, per model and plan, the predicted and counted collectives of
the step (they must agree exactly: count and bytes each device puts in,
per kind; the script exits non-zero otherwise), the forward collectives of
the plan report (which must equal the forward prediction), the cost
model's time for the step's collectives, and the search's own estimate of
one step's communication (`comm_s` of the plan report: forward and
backward resharding plus a gradient all-reduce per weight, the model the
search optimises), so the gap between the search's approximation and the
program it produces is visible.

Usage: bench/comm_bytes.py [--build build]
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

MODELS = {
    "mlp b256": (["mlp", "--batch", "256", "--layers", "1024,4096,4096,1024"],
                 "loss=mse optimizer=momentum"),
    "alexnet b128": (["alexnet", "--batch", "128"],
                     "loss=softmax-cross-entropy optimizer=momentum"),
    "gpt 2 blocks b8": (["gpt", "--batch", "8", "--layers", "2", "--seq",
                         "128", "--hidden", "512", "--heads", "8", "--vocab",
                         "1024", "--max-pos", "128"],
                        "loss=mse optimizer=adam"),
}
PLANS = [
    ("searched 4", "mesh=4 max-gpus=4"),
    ("data 4", "mesh=4 max-gpus=4 parallelism=data"),
    ("tensor 4", "mesh=4 max-gpus=4 parallelism=tensor"),
    ("data-tensor 2x2", "mesh=2x2 max-gpus=4 parallelism=data-tensor"),
]
TARGET = "a100-dgx"


def parse(line):
    """'all_gather 4 (814100 B) ...; 0.0368 ms on t' -> ({kind: (n, B)}, ms)"""
    collectives, _, rest = line.partition(";")
    entries = {kind: (int(n), int(b)) for kind, n, b in
               re.findall(r"(\w+) (\d+) \((\d+) B\)", collectives)}
    ms = float(re.search(r"([0-9.]+) ms", rest).group(1))
    return entries, ms


def describe(entries):
    if not entries:
        return "none"
    return " ".join("%s %d (%d B)" % (k, n, b)
                    for k, (n, b) in sorted(entries.items()))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    args = parser.parse_args()
    opt = os.path.join(args.build, "bin", "autopar-opt")
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name, (gen, training) in MODELS.items():
            model = os.path.join(tmp, "model.mlir")
            subprocess.run([sys.executable,
                            os.path.join(ROOT, "models", "generate.py")] +
                           gen + ["-o", model], check=True)
            for label, plan in PLANS:
                report = os.path.join(tmp, "plan.json")
                command = [
                    opt, model, "--autopar-training=" + training,
                    "--autopar-plan=%s target=%s report=%s" % (plan, TARGET,
                                                               report),
                    "--autopar-propagate", "--autopar-report-communication=report=-",
                    "--autopar-partition", "--autopar-report-communication=report=-",
                    "-o", os.devnull]
                result = subprocess.run(command, capture_output=True,
                                        text=True)
                if result.returncode != 0:
                    sys.exit("failed: %s\n%s" % (" ".join(command),
                                                 result.stderr))
                lines = {}
                for line in result.stdout.splitlines():
                    match = re.match(r"@(\w+) (predicted|counted): (.*)",
                                     line)
                    if match:
                        lines[(match.group(1), match.group(2))] = \
                            parse(match.group(3))
                with open(report) as f:
                    planned = json.load(f)
                forward_plan = {k: (v["count"], v["bytes"]) for k, v in
                                planned["forward_collectives"].items()}
                forward, _ = lines[("forward", "predicted")]
                step, step_ms = lines[("train_step", "predicted")]
                counted, counted_ms = lines[("train_step", "counted")]
                agree = step == counted and forward == forward_plan
                failures += not agree
                total = sum(b for _, b in step.values())
                print("%-16s %-16s mesh %-8s step %s: %s" % (
                    name, label, planned["plan"]["mesh"],
                    "agree" if agree else "DISAGREE", describe(step)))
                print("%-16s %-16s   %.2f MB/device, predicted %.3f ms "
                      "(counted %.3f ms); search's estimate %.3f ms" % (
                          "", "", total / 1e6, step_ms, counted_ms,
                          planned["plan"]["comm_s"] * 1e3))
                if not agree:
                    print("  counted:  %s\n  forward (plan report): %s\n"
                          "  forward (predicted): %s" % (
                              describe(counted), describe(forward_plan),
                              describe(forward)))
    if failures:
        sys.exit("%d plan(s) where prediction and count disagree" % failures)


if __name__ == "__main__":
    main()
