#!/usr/bin/env python3
"""Reductions in the CUDA backend's training steps, before and after
autopar-reductions-inner splits them (issue 17; compile only, no GPU).

A reduction runs one GPU thread per output element, each combining its
chain of elements one dependent load after another. On an H200 (2026-12-04,
bench/gpu/results/h200-gpu-checks-2026-12-04.log) AlexNet b128's conv bias
gradients took 241 ms of a 282 ms step: about 0.44 us per element of a
chain. This prints, for each model's training step, every reduction's
threads and chain length (the pass's `report` remarks, run on the IR that
autopar-lower-to-cuda hands it) and the time that model predicts, unsplit
and split:

    time = sum over generics of ceil(threads / 270336) x chain x 0.44 us
           (+ 3.6 us per extra launch of a split)

It predicts; only a GPU measures (scripts/gpu-checks.sh --profile).

    python3 bench/reduction_chains.py [--build build] [--models alexnet,gpt2]
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GPU_THREADS = 270336
SECONDS_PER_ELEMENT = 0.44e-6
LAUNCH_SECONDS = 3.6e-6

MODELS = {
    "alexnet": ("AlexNet b128 227px, momentum",
                ["alexnet", "--batch", "128"],
                "loss=softmax-cross-entropy optimizer=momentum lr=0.0001"),
    "gpt2": ("GPT-2 small b8 x 1024, momentum",
             ["gpt", "--batch", "8"],
             "loss=softmax-cross-entropy optimizer=momentum lr=0.0001"),
    "cnn": ("AlexNet/8 b8 67px (gpu-checks' CNN), momentum",
            ["alexnet", "--batch", "8", "--image", "67", "--width", "8",
             "--classes", "16"],
            "loss=softmax-cross-entropy optimizer=momentum lr=0.01"),
}

REMARK = re.compile(r"remark: reduction: threads (\d+) chain (\d+)"
                    r"(?:; split (\d+) x (\d+) then (\d+) x (\d+))?")


def waves(threads):
    return (threads + GPU_THREADS - 1) // GPU_THREADS


def run(cmd, **kw):
    result = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if result.returncode != 0:
        sys.exit("failed: %s\n%s" % (" ".join(cmd), result.stderr[-2000:]))
    return result


def measure(build, name, tmp):
    title, generate, training = MODELS[name]
    opt = os.path.join(build, "bin", "autopar-opt")
    model = os.path.join(tmp, name + ".mlir")
    run([sys.executable, os.path.join(ROOT, "models", "generate.py")] +
        generate + ["-o", model])
    train = os.path.join(tmp, name + ".train.mlir")
    run([opt, model, "--autopar-training=" + training, "-o", train])
    # The IR autopar-reductions-inner gets inside autopar-lower-to-cuda.
    dump = run([opt, train, "--autopar-lower-to-cuda=format=isa",
                "-mlir-print-ir-before=autopar-reductions-inner",
                "-mlir-print-ir-module-scope", "-mlir-disable-threading",
                "-o", os.devnull]).stderr
    start = dump.index("// -----// IR Dump Before")
    start = dump.index("\n", start) + 1
    end = dump.find("// -----// IR Dump", start)
    before = os.path.join(tmp, name + ".before.mlir")
    with open(before, "w") as f:
        f.write(dump[start:end if end >= 0 else len(dump)])
    remarks = run([opt, before, "--autopar-reductions-inner=gpu-threads=%d "
                   "report=1" % GPU_THREADS, "-o", os.devnull]).stderr
    rows = []
    for m in REMARK.finditer(remarks):
        threads, chain = int(m.group(1)), int(m.group(2))
        unsplit = waves(threads) * chain * SECONDS_PER_ELEMENT
        split = unsplit
        if m.group(3):
            t1, c1, t2, c2 = (int(m.group(i)) for i in range(3, 7))
            split = ((waves(t1) * c1 + waves(t2) * c2) * SECONDS_PER_ELEMENT +
                     LAUNCH_SECONDS)
        rows.append((unsplit, split, threads, chain, m.group(0)))
    return title, rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--models", default="alexnet,gpt2")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models.split(","):
            title, rows = measure(args.build, name, tmp)
            total = sum(r[0] for r in rows)
            after = sum(r[1] for r in rows)
            split = sum(1 for r in rows if r[1] != r[0])
            print("%s: %d reductions, %d split; predicted %.2f ms unsplit, "
                  "%.2f ms split (x%.1f)" % (title, len(rows), split,
                                             total * 1e3, after * 1e3,
                                             total / after if after else 0))
            for unsplit, after_one, threads, chain, text in sorted(
                    rows, key=lambda r: -r[0])[:6]:
                print("  %9.3f ms -> %7.3f ms  threads %8d chain %7d%s" % (
                    unsplit * 1e3, after_one * 1e3, threads, chain,
                    "" if after_one == unsplit else
                    "  (" + text.split("; ")[1] + ")"))


if __name__ == "__main__":
    main()
