#!/usr/bin/env python3
"""The cost model's single-GPU predictions next to PyTorch measurements.

Reads a JSON written by bench/gpu/torch_reference.py on a GPU (results are
kept in bench/gpu/results/), runs `autopar-opt --autopar-analyze` on the
same models for the matching target preset, and prints measured and
predicted times with their ratio (predicted / measured: above 1 the model
is pessimistic).

Usage: bench/gpu/compare.py RESULT.json [--target h200-dgx] [--build build]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def analyze(opt, args, target, tmp):
    model = subprocess.run([sys.executable, os.path.join(ROOT, "models", "generate.py")] + args,
                           check=True, capture_output=True, text=True).stdout
    report = os.path.join(tmp, "report.json")
    subprocess.run([opt, "--autopar-analyze=target=%s report=%s" % (target, report),
                    "-o", os.devnull], input=model, check=True, text=True)
    with open(report) as f:
        return json.load(f)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("result")
    parser.add_argument("--target", default=None,
                        help="preset (default: from the GPU name)")
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    args = parser.parse_args()
    with open(args.result) as f:
        measured = json.load(f)
    target = args.target
    if target is None:
        name = measured["gpu"].lower()
        target = next((p for p in ("h200", "h100", "a100", "v100", "p100")
                       if p in name), "h100") + "-dgx"
        target = {"v100-dgx": "v100-dgx1", "p100-dgx": "p100-dgx1"}.get(target, target)
    opt = os.path.join(args.build, "bin", "autopar-opt")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for batch in (128, 512):
            report = analyze(opt, ["alexnet", "--batch", str(batch)], target, tmp)
            rows.append(("AlexNet b%d f32 training step" % batch,
                         measured["alexnet_%d_step_s" % batch],
                         report["total"]["step_time_s"]))
            layers = {}
            for layer in report["layers"]:
                key = layer["loc"].split(".")[0]
                layers[key] = layers.get(key, 0) + layer["time_fwd_s"]
            for name, seconds in measured["alexnet_%d_layers_fwd_s" % batch].items():
                rows.append(("  %s forward" % name, seconds, layers.get(name, 0)))
        for dtype in ("f32", "bf16"):
            report = analyze(opt, ["gpt", "--layers", "12", "--batch", "8",
                                   "--seq", "1024", "--dtype", dtype], target, tmp)
            rows.append(("GPT-2 small 8x1024 %s training step" % dtype,
                         measured["gpt2_8x1024_%s_step_s" % dtype],
                         report["total"]["step_time_s"]))
    print("%s (PyTorch %s) against target %s"
          % (measured["gpu"], measured["torch"], target))
    print("GEMM 8192^3: f32 %.1f TFLOP/s, bf16 %.1f TFLOP/s; copy %.2f TB/s; "
          "eager launch %.1f us"
          % (measured["gemm_f32_flops"] / 1e12, measured["gemm_bf16_flops"] / 1e12,
             measured["copy_bandwidth_bytes_per_s"] / 1e12,
             measured["launch_overhead_s"] * 1e6))
    print("%-36s %12s %12s %7s" % ("", "measured ms", "predicted ms", "ratio"))
    for name, got, predicted in rows:
        print("%-36s %12.3f %12.3f %7.2f" % (name, got * 1e3, predicted * 1e3,
                                            predicted / got))


if __name__ == "__main__":
    main()
