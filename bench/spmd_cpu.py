#!/usr/bin/env python3
"""Partitioned training steps on CPU ranks: step time and communication.

For each model and plan, runs `autopar-run --check` on 1, 2 and 4 MPI
ranks (training step, K steps, seeded data) and reports

  * the collectives of one step counted in the partitioned IR after
    clean-up and grouping (count and bytes each device sends in, per kind), as
    autopar-run prints them;
  * the median step time over the steps after the first (between barriers,
    so the slowest rank's time);
  * the check against one process (largest relative error).

All runs of a table are made in one invocation, on the machine at hand:
compare the ratios between rank counts, not absolute times across
machines. With fewer cores than ranks, ranks share cores (mpirun
--oversubscribe) and the time per step grows: that measures the runtime's
overhead, not a speed-up.

Usage: bench/spmd_cpu.py [--build build] [--steps 6]
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

MODELS = {
    "mlp": (["mlp", "--batch", "64", "--layers", "512,1024,1024,16"],
            "loss=mse optimizer=momentum lr=0.01", []),
    "cnn": (["alexnet", "--batch", "8", "--image", "67", "--width", "8",
             "--classes", "16"],
            "loss=softmax-cross-entropy optimizer=momentum lr=0.01", []),
    "gpt": (["gpt", "--batch", "4", "--layers", "2", "--seq", "32",
             "--hidden", "64", "--heads", "4", "--vocab", "64",
             "--max-pos", "32"],
            "loss=mse optimizer=sgd lr=0.01", ["--int-range", "64"]),
}
# (label, autopar-plan options, extra autopar-run options)
PLANS = [("data", "parallelism=data", []),
         ("data, ungrouped", "parallelism=data", ["--group-collectives=false"]),
         ("tensor", "parallelism=tensor", [])]


def run(build, model_file, training, extra, ranks, plan, steps):
    command = [os.path.join(build, "bin", "autopar-run"), "-n", str(ranks),
               model_file, "--training=" + training, "--steps", str(steps),
               "--check", "--plan=" + plan] + extra
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit("failed: %s\n%s%s" % (" ".join(command), result.stdout,
                                       result.stderr))
    text = result.stdout
    comm = re.search(r"cleaned up for .*collectives per step: (.*)",
                     text).group(1)
    times = [float(t) for t in re.findall(r"step \d+: ([0-9.]+) ms", text)]
    error = float(re.search(r"max relative error ([0-9.e+-]+) \(tol",
                            text).group(1))
    return comm, statistics.median(times[1:] or times), error


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--models", default="mlp,cnn,gpt")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models.split(","):
            generate, training, extra = MODELS[name]
            model_file = os.path.join(tmp, name + ".mlir")
            subprocess.run([sys.executable,
                            os.path.join(ROOT, "models", "generate.py")] +
                           generate + ["-o", model_file], check=True)
            print("%s (%s), training: %s" % (name, " ".join(generate),
                                              training))
            base = None
            for label, plan, options in PLANS:
                for ranks in (1, 2, 4):
                    comm, ms, error = run(args.build, model_file, training,
                                          extra + options, ranks, plan,
                                          args.steps)
                    if ranks == 1:
                        base = ms
                    print("  %-16s %d rank%s  step %8.3f ms  (%.2fx of 1)  "
                          "error %.1e  %s" % (label, ranks,
                                              " " if ranks == 1 else "s",
                                              ms, ms / base, error, comm))
            print()


if __name__ == "__main__":
    main()
