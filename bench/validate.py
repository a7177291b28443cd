#!/usr/bin/env python3
"""Validates autopar's single-GPU predictions against published measurements.

Runs `autopar-opt --autopar-analyze` on models from models/generate.py and
prints predicted figures next to published ones, as ratios:

  * the WAP paper's AlexNet (tf_cnn_benchmarks) on one TITAN Xp: 2482 img/s
    at mini-batch 2048 (its Table 1) and 2560 img/s at mini-batch 128 (its
    Table 2);
  * Megatron-LM's per-GPU throughput for its GPT configurations on A100
    (Narayanan et al., SC'21: 137-163 TFLOP/s per GPU, bf16), compared with
    the predicted throughput of one transformer block on one A100.

Usage: bench/validate.py [--build build] [--json]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Megatron-LM (SC'21) Table 1: name, hidden, heads, layers, GPUs, TFLOP/s
# per GPU. Sequence 2048, vocabulary 51200.
MEGATRON = [
    ("1.7B", 2304, 24, 24, 32, 137),
    ("3.6B", 3072, 32, 30, 64, 138),
    ("7.5B", 4096, 32, 36, 128, 142),
    ("18.4B", 6144, 48, 40, 256, 135),
    ("39.1B", 8192, 64, 48, 512, 138),
    ("76.1B", 10240, 80, 60, 1024, 140),
    ("145.6B", 12288, 96, 80, 1536, 148),
    ("310.1B", 16384, 128, 96, 1920, 155),
    ("529.6B", 20480, 128, 105, 2520, 163),
    ("1T", 25600, 160, 128, 3072, 163),
]


def analyze(opt, model_args, target, extra=""):
    """Generates a model and returns autopar-analyze's JSON report."""
    ir = subprocess.run(
        [sys.executable, os.path.join(ROOT, "models", "generate.py")] + model_args,
        check=True, capture_output=True, text=True).stdout
    with tempfile.TemporaryDirectory() as tmp:
        report = os.path.join(tmp, "report.json")
        subprocess.run(
            [opt, "-o", os.devnull,
             f"--autopar-analyze=target={target} report={report} {extra}".strip()],
            input=ir, check=True, capture_output=True, text=True)
        with open(report) as f:
            return json.load(f)


def block_tflops(report, prefix="h.0."):
    """Achieved TFLOP/s of the ops of one transformer block (forward and
    backward), from the per-op predictions."""
    flops = seconds = 0.0
    for layer in report["layers"]:
        if layer["loc"].startswith(prefix):
            flops += layer["flops"] + layer["bwd_flops"]
            seconds += layer["time_fwd_s"] + layer["time_bwd_s"]
    return flops / seconds / 1e12


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--json", action="store_true", help="print JSON rows")
    args = parser.parse_args()
    opt = os.path.join(args.build, "bin", "autopar-opt")

    rows = []
    # The WAP paper's AlexNet on one TITAN Xp (f32, SGD with momentum).
    for batch, published, source in [(2048, 2482, "WAP Table 1"),
                                      (128, 2560, "WAP Table 2")]:
        report = analyze(opt, ["alexnet", "--batch", str(batch)], "titanxp-pcie-4")
        predicted = report["total"]["samples_per_s"]
        rows.append({"what": f"AlexNet batch {batch}, 1x TITAN Xp, img/s",
                     "source": source, "published": published,
                     "predicted": predicted})

    # One GPT block of each Megatron configuration on one A100 (bf16,
    # micro-batch 1, sequence 2048).
    for name, hidden, heads, layers, gpus, published in MEGATRON:
        report = analyze(opt, ["gpt", "--batch", "1", "--seq", "2048",
                               "--hidden", str(hidden), "--heads", str(heads),
                               "--layers", "1", "--vocab", "51200",
                               "--max-pos", "2048", "--dtype", "bf16"],
                         "a100-dgx")
        rows.append({"what": f"GPT {name} block, 1x A100, TFLOP/s",
                     "source": f"Megatron-LM SC'21 ({gpus} GPUs)",
                     "published": published,
                     "predicted": block_tflops(report)})

    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"{'what':44} {'source':30} {'published':>10} {'predicted':>10} "
          f"{'ratio':>6}  within 25%")
    for row in rows:
        ratio = row["predicted"] / row["published"]
        print(f"{row['what']:44} {row['source']:30} {row['published']:10.1f} "
              f"{row['predicted']:10.1f} {ratio:6.2f}  "
              f"{'yes' if abs(ratio - 1) <= 0.25 else 'NO'}")


if __name__ == "__main__":
    main()
