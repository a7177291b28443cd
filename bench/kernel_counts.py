#!/usr/bin/env python3
"""Kernels per training step that autopar-lower-to-cuda builds, without and
with fusion (issue 17, item 2). Compile only: no GPU needed; kernels are
emitted as PTX (`format=isa`, no ptxas), so a model takes seconds.

For each model: the training step (`--autopar-training`), lowered with
`fuse=false` (every linalg op its own kernel, as before fusion) and with
the default `fuse=true` (autopar-fuse-elementwise: elementwise producers
inside their users, gradients accumulated into zeros written directly; then
scf-parallel-loop-fusion: a fill inside the reduction that accumulates into
it, neighbouring loop nests over the same bounds as one). Counts the
kernel launches of the step (`gpu.launch_func`) and the cuBLAS/cuBLASLt
and cuDNN calls, and prints a table with the ratio.

    python3 bench/kernel_counts.py [--build build] [--models mlp,gpt,...]
"""
import argparse
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

MODELS = {
    "mlp": ("MLP 512-1024-1024-16 b64, momentum",
            ["mlp", "--batch", "64", "--layers", "512,1024,1024,16"],
            "loss=mse optimizer=momentum lr=0.01"),
    "alexnet": ("AlexNet/8 b8 67px, momentum",
                ["alexnet", "--batch", "8", "--image", "67", "--width", "8",
                 "--classes", "16"],
                "loss=softmax-cross-entropy optimizer=momentum lr=0.01"),
    "gpt": ("GPT 2 blocks (seq 64, hidden 128, 4 heads) b4, Adam",
            ["gpt", "--batch", "4", "--layers", "2", "--seq", "64",
             "--hidden", "128", "--heads", "4", "--ffn", "512", "--vocab",
             "512", "--max-pos", "64"],
            "loss=softmax-cross-entropy optimizer=adam lr=0.001"),
    "llama": ("LLaMA 2 blocks (seq 64, hidden 128, GQA 4/2) b4, Adam",
              ["llama", "--batch", "4", "--layers", "2", "--seq", "64",
               "--hidden", "128", "--heads", "4", "--kv-heads", "2", "--ffn",
               "344", "--vocab", "512"],
              "loss=softmax-cross-entropy optimizer=adam lr=0.001"),
}


def run(cmd, **kwargs):
    return subprocess.run(cmd, check=True, capture_output=True, text=True,
                          **kwargs).stdout


def count(text):
    return {
        "kernels": text.count("gpu.launch_func"),
        "cublas": text.count("call @autopar_cuda_gemm"),
        "cudnn": text.count("call @autopar_cuda_conv2d"),
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--models", default=",".join(MODELS))
    args = parser.parse_args()
    opt = os.path.join(args.build, "bin", "autopar-opt")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for key in args.models.split(","):
            name, generator, training = MODELS[key]
            model = os.path.join(tmp, key + ".mlir")
            step = os.path.join(tmp, key + ".step.mlir")
            run([sys.executable, os.path.join(ROOT, "models", "generate.py")]
                + generator + ["-o", model])
            run([opt, model, "--autopar-training=" + training, "-o", step])
            counts = {}
            for fuse in ("false", "true"):
                lowered = run([opt, step, "--autopar-lower-to-cuda=format=isa fuse=" + fuse])
                counts[fuse] = count(lowered)
            rows.append((name, counts["false"], counts["true"]))
    print("| model (training step) | kernels, fuse=false | kernels, fused | ratio "
          "| cuBLAS calls | cuDNN calls |")
    print("|---|---|---|---|---|---|")
    for name, before, after in rows:
        ratio = after["kernels"] / before["kernels"] if before["kernels"] else 0
        print("| %s | %d | %d | %.2f | %d | %d |" % (
            name, before["kernels"], after["kernels"], ratio, after["cublas"],
            after["cudnn"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
