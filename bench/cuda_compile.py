#!/usr/bin/env python3
"""Compile time of autopar-lower-to-cuda (sm_90 fatbins, ptxas from the CUDA
toolkit; no GPU needed), with every kernel in one GPU module (the default,
autopar-merge-gpu-modules) against one module per kernel (merge-kernels=false,
upstream outlining's layout), on training steps of zoo models. One run, both
variants of a model back to back on the same machine; prints a table with
the ratio.

    python3 bench/cuda_compile.py [--build build]
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

MODELS = [
    ("mlp 512-1024-1024-16 b64 momentum", ["mlp", "--batch", "64", "--layers", "512,1024,1024,16"],
     "loss=mse optimizer=momentum"),
    ("alexnet/16 b8 sgd", ["alexnet", "--batch", "8", "--image", "67", "--width", "16", "--classes", "16"],
     "loss=softmax-cross-entropy optimizer=sgd"),
    ("resnet50/16 b2 adam", ["resnet50", "--batch", "2", "--image", "32", "--width", "16", "--classes", "10"],
     "loss=softmax-cross-entropy optimizer=adam"),
]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", default="build")
    args = parser.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    opt = os.path.join(args.build, "bin", "autopar-opt")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, gen, training in MODELS:
            model = os.path.join(tmp, "model.mlir")
            step = os.path.join(tmp, "step.mlir")
            subprocess.run([sys.executable, os.path.join(root, "models", "generate.py")] + gen +
                           ["-o", model], check=True)
            subprocess.run([opt, model, "--autopar-training=" + training, "-o", step], check=True)
            times = {}
            for merge in ("false", "true"):
                start = time.perf_counter()
                out = subprocess.run([opt, step, "--autopar-lower-to-cuda=merge-kernels=" + merge],
                                     check=True, capture_output=True, text=True).stdout
                times[merge] = time.perf_counter() - start
                if merge == "true":
                    kernels = out.count("gpu.launch_func")
            rows.append((name, kernels, times["false"], times["true"]))
    print("%-36s %8s %14s %14s %7s" % ("training step", "kernels", "per kernel s", "one module s", "ratio"))
    for name, kernels, apart, merged in rows:
        print("%-36s %8d %14.1f %14.1f %6.2fx" % (name, kernels, apart, merged, apart / merged))
    return 0


if __name__ == "__main__":
    sys.exit(main())
