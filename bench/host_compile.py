#!/usr/bin/env python3
"""Compile time of a CUDA training step's host program (the code that
enqueues its kernels and library calls) at each LLVM level, as autopar-run
JIT-compiles it (same target machine, same level; `--compile-only` compiles
it to an object in memory, so no GPU is needed). Also the lowering with
ptxas, for scale. One run, the levels of a model back to back. Three
steps, as scripts/gpu-checks.sh runs them: the driver's step loop (and
its deallocations) is part of the host program.

    python3 bench/host_compile.py [--build build] [--levels 0,2] [--models gpt2,alexnet]

autopar-run JIT-compiles a CUDA program's host code at -O0 unless -O is given
(or --check adds the CPU reference's loops, or --emulate-gpu makes the
kernels host code): it only makes calls, in a fixed order.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

MODELS = {
    "gpt2": ("GPT-2 small b8x1024 f32", ["gpt", "--batch", "8"], ["--int-range", "50257"]),
    "alexnet": ("AlexNet b128 f32", ["alexnet", "--batch", "128"], []),
    "mlp": ("MLP 512-1024-1024-16 b64", ["mlp", "--batch", "64", "--layers", "512,1024,1024,16"], []),
}
TRAINING = "loss=softmax-cross-entropy optimizer=momentum lr=0.0001"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", default="build")
    parser.add_argument("--levels", default="0,2")
    parser.add_argument("--models", default="gpt2,alexnet")
    args = parser.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    run = os.path.join(args.build, "bin", "autopar-run")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for key in args.models.split(","):
            title, gen, extra = MODELS[key]
            model = os.path.join(tmp, key + ".mlir")
            subprocess.run([sys.executable, os.path.join(root, "models", "generate.py")] + gen +
                           ["-o", model], check=True)
            for level in args.levels.split(","):
                out = subprocess.run([run, "-n", "1", "-O" + level, model, "--backend=cuda",
                                      "--compile-only", "--steps", "3", "--training=" + TRAINING] + extra,
                                     capture_output=True, text=True)
                text = out.stdout + out.stderr
                if out.returncode != 0:
                    sys.stderr.write(text)
                    return 1
                lowered = re.search(r"lowered and its kernels compiled in ([0-9.]+) s", text)
                launches = re.search(r"(\d+) host functions, (\d+) kernels", text)
                host = re.search(r"host program compiled \(-O(\d)\) in ([0-9.]+) s: (\d+) bytes", text)
                if not (lowered and host):
                    sys.stderr.write(text)
                    return 1
                rows.append((title, level, float(lowered.group(1)), float(host.group(2)),
                             int(host.group(3))))
    print("%-28s %5s %14s %16s %14s" % ("training step", "level", "lowering s", "host program s",
                                           "host bytes"))
    for title, level, lowered, host, size in rows:
        print("%-28s %5s %14.1f %16.1f %14d" % (title, "-O" + level, lowered, host, size))
    by = {}
    for title, level, _, host, _ in rows:
        by.setdefault(title, {})[level] = host
    for title, levels in by.items():
        if "0" in levels and "2" in levels and levels["0"] > 0:
            print("%s: -O2 / -O0 host compile time %.1fx" % (title, levels["2"] / levels["0"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
