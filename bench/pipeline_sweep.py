#!/usr/bin/env python3
"""Random pipeline configurations run by autopar-run against one process.

Each draw picks a model (an 8-hidden-layer MLP, a 2- or 4-block GPT, a
2-block bf16 GPT; batch 16), a stage count P (2-4), a schedule (GPipe,
1F1B, interleaved with 2-3 chunks a device), what each stage's GPUs do
(nothing, data or tensor parallelism over 2), a ZeRO stage (0-3 with data
parallelism; also one per stage), recomputation (none, selective, full,
the plan's choice, or one per stage), a microbatch count the schedule
takes (it divides the batch; 1F1B at least P, interleaved a multiple of
P), an optimizer (SGD or momentum: Adam turns gradients that are zero up
to rounding into updates of rounding noise, docs/partition.md), and runs

    autopar-run -O0 -n N MODEL --training=... --plan=... --steps 2 --check

A draw PASSES when the check passes, is REFUSED when autopar-plan declines
the configuration with its own located error (a model with fewer layers
than chunks, microbatches of one sample over data-parallel GPUs), and
FAILS otherwise (a check beyond its tolerance, an error
from a later pass, a crash, a hang past --timeout). Session #42's sweep
found that every pipeline of the GPT with recompute=full failed to
partition.

    python3 bench/pipeline_sweep.py [--build build] [--draws 40] [--seed 1]
        [--max-ranks 8] [--timeout 300]

Exit status: 0 when no draw failed.
"""
import argparse
import os
import random
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

MODELS = {
    "mlp": ["mlp", "--layers", "16,32,32,32,32,32,32,32,32,8",
            "--batch", "16"],
    "gpt": ["gpt", "--layers", "2", "--hidden", "32", "--heads", "2",
            "--ffn", "64", "--vocab", "64", "--seq", "8", "--batch", "16"],
    "gpt4": ["gpt", "--layers", "4", "--hidden", "32", "--heads", "4",
             "--ffn", "64", "--vocab", "64", "--seq", "8", "--batch", "16"],
    "gpt-bf16": ["gpt", "--layers", "2", "--hidden", "32", "--heads", "2",
                 "--ffn", "64", "--vocab", "64", "--seq", "8", "--batch",
                 "16", "--dtype", "bf16"],
}
BATCH = 16


def draw(rng, max_ranks):
    """One configuration: (model, ranks, training options, plan options)."""
    model = rng.choice(sorted(MODELS))
    parallelism = rng.choice(["none", "data", "data", "tensor"])
    width = 1 if parallelism == "none" else 2
    stages = rng.choice([p for p in (2, 3, 4) if p * width <= max_ranks])
    schedule = rng.choice(["gpipe", "1f1b", "interleaved"])
    counts = [m for m in (1, 2, 4, 8, 16) if BATCH % m == 0]
    if schedule == "1f1b":
        counts = [m for m in counts if m >= stages]
    if schedule == "interleaved":
        counts = [m for m in counts if m % stages == 0]
    if not counts:
        schedule = "gpipe"
        counts = [1, 2, 4, 8]
    plan = ["stages=%d" % stages, "schedule=%s" % schedule,
            "microbatches=%d" % rng.choice(counts)]
    if schedule == "interleaved":
        plan.append("virtual-stages=%d" % rng.choice([2, 3]))
    if parallelism != "none":
        plan.append("parallelism=%s" % parallelism)
    if parallelism == "data":
        if rng.random() < 0.3:
            plan.append("zero=" + ",".join(rng.choice("0123")
                                           for _ in range(stages)))
        else:
            plan.append("zero=%s" % rng.choice("0123"))
    recompute = rng.choice(["none", "selective", "full", None, "per stage"])
    if recompute == "per stage":
        plan.append("recompute=" + ",".join(
            rng.choice(["none", "selective", "full"]) for _ in range(stages)))
    elif recompute:
        plan.append("recompute=%s" % recompute)
    loss = "mse" if model == "mlp" else "softmax-cross-entropy"
    training = "loss=%s optimizer=%s" % (loss, rng.choice(["sgd",
                                                            "momentum"]))
    return model, stages * width, training, " ".join(plan)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--draws", type=int, default=40)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-ranks", type=int, default=8)
    parser.add_argument("--timeout", type=int, default=300)
    args = parser.parse_args()
    run = os.path.join(args.build, "bin", "autopar-run")
    rng = random.Random(args.seed)
    tmp = tempfile.mkdtemp(prefix="autopar-pipeline-sweep-")
    paths = {}
    for name, options in MODELS.items():
        paths[name] = os.path.join(tmp, name + ".mlir")
        subprocess.run([sys.executable, os.path.join(ROOT, "models",
                                                     "generate.py")]
                       + options + ["-o", paths[name]], check=True,
                       stdout=subprocess.DEVNULL)
    print("pipeline sweep: %d draws (seed %d)" % (args.draws, args.seed))
    passed = refused = failed = 0
    for _ in range(args.draws):
        model, ranks, training, plan = draw(rng, args.max_ranks)
        command = [run, "-O0", "-n", str(ranks), paths[model],
                   "--training=" + training, "--plan=" + plan, "--steps",
                   "2", "--check"]
        if model.endswith("bf16"):
            command += ["--tol", "3e-2"]
        start = time.time()
        try:
            result = subprocess.run(command, capture_output=True, text=True,
                                    timeout=args.timeout)
            output, code = result.stdout + result.stderr, result.returncode
        except subprocess.TimeoutExpired:
            output, code = "timed out after %d s" % args.timeout, None
        errors = [line for line in output.splitlines() if "error:" in line]
        status = None
        if code == 0 and "check: max relative error" in output:
            status = "PASS"
        elif code == 1 and errors and "autopar-plan:" in errors[0]:
            status = "REFUSED"
        if status is None:
            status = "FAIL"
        passed += status == "PASS"
        refused += status == "REFUSED"
        failed += status == "FAIL"
        detail = ""
        if status != "PASS":
            lines = errors or [line for line in output.splitlines()
                               if "check:" in line] or [output[-300:]]
            detail = " | " + lines[0].strip()[:300]
        print("%-7s %5.1f s  -n %d %s %s  [%s]%s" % (
            status, time.time() - start, ranks, model, plan, training,
            detail), flush=True)
    print("pass %d, refused at planning %d, failures %d" % (passed, refused,
                                                           failed))
    print("pipeline sweep: %s" % ("PASS" if failed == 0 else "FAIL"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
