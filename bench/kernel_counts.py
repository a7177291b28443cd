#!/usr/bin/env python3
"""Kernels per training step that autopar-lower-to-cuda builds, without and
with fusion (issue 17, item 2). Compile only: no GPU needed; kernels are
emitted as PTX (`format=isa`, no ptxas), so a model takes seconds.

For each model: the training step (`--autopar-training`), lowered with
`fuse=false` (every linalg op its own kernel, as before fusion) and with
the default `fuse=true` (autopar-fuse-elementwise: elementwise producers
inside their users, gradients accumulated into zeros written directly; then
autopar-fuse-parallel-loops: neighbouring loop nests over the same bounds
whose accesses line up as one, a fill inside the reduction that
accumulates into it; neighbouring nests on disjoint buffers, such as the
optimizer's update of each parameter, as one), both without and with
autopar-row-kernels (a block per row for long row reductions and the
ops over the same rows that read them: a softmax in one kernel). Counts the
kernels of the step (`gpu.launch_func` ops) and the cuBLAS/cuBLASLt and
cuDNN calls, and prints a table with the ratio. Then, for the fused
program, what one step runs (from the host code after
autopar-order-on-stream, each op counted as many times as the host loops
around it iterate): kernel launches, library calls, and the host's waits
for the GPU (autopar_cuda_synchronize); and the same for the step as
autopar-run builds it (`--compile-only --dump-ir`: planned for one GPU,
partitioned, private to its driver, its updates written over its
arguments; the host's one wait is then the driver's, after the step),
and whether `--cuda-graph` captures that step into a CUDA graph (its
launches then one graph launch a step from the host; else the reason
autopar-capture-graphs gives).

    python3 bench/kernel_counts.py [--build build] [--models mlp,gpt,...]

(`--models gpt2` adds GPT-2 small b8 x 1024, about a minute; `hf-gpt2` a
Hugging Face GPT-2 as torch-mlir exports it, test/CUDA/Inputs'
1-block one, `hf-gpt2-tosa` the same in TOSA, `hf-gpt2-bf16` in bf16;
`hf-gpt2-4`,
`hf-gpt2-4-tosa` and `hf-gpt2-4-bf16` bench/models.py's 4-block exports,
from its cache.)
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ZOO = os.environ.get("AUTOPAR_ZOO", os.path.expanduser("~/.cache/autopar/zoo"))

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
    "gpt2": ("GPT-2 small b8 x 1024, Adam",
             ["gpt", "--batch", "8"],
             "loss=softmax-cross-entropy optimizer=adam lr=0.0001"),
    "gpt-bf16": ("GPT 2 blocks as gpt, bf16 model, Adam",
                 ["gpt", "--batch", "4", "--layers", "2", "--seq", "64",
                  "--hidden", "128", "--heads", "4", "--ffn", "512",
                  "--vocab", "512", "--max-pos", "64", "--dtype", "bf16"],
                 "loss=softmax-cross-entropy optimizer=adam lr=0.001"),
    "gpt2-bf16": ("GPT-2 small b8 x 1024, bf16 model, Adam",
                  ["gpt", "--batch", "8", "--dtype", "bf16"],
                  "loss=softmax-cross-entropy optimizer=adam lr=0.0001"),
    # Exports (a file instead of generator arguments): torch-mlir's forms.
    "hf-gpt2": ("HF GPT-2 export, 1 block 64 wide, b2 x 16, momentum",
                os.path.join(ROOT, "test", "CUDA", "Inputs",
                             "hf-gpt2-tiny.mlir"),
                "loss=softmax-cross-entropy optimizer=momentum lr=0.01"),
    "hf-gpt2-tosa": ("HF GPT-2 TOSA export, as hf-gpt2, momentum",
                     os.path.join(ROOT, "test", "CUDA", "Inputs",
                                  "hf-gpt2-tiny-tosa.mlir"),
                     "loss=softmax-cross-entropy optimizer=momentum lr=0.01"),
    "hf-gpt2-bf16": ("HF GPT-2 bf16 export, as hf-gpt2, momentum",
                     os.path.join(ROOT, "test", "CUDA", "Inputs",
                                  "hf-gpt2-tiny-bf16.mlir"),
                     "loss=softmax-cross-entropy optimizer=momentum lr=0.01"),
    # bench/models.py's exports (need torch once: scripts/torch-env.sh).
    "hf-gpt2-4": ("HF GPT-2 export, 4 blocks 256 wide, b8 x 128, Adam",
                  os.path.join(ZOO, "hf_gpt2_n_layer=4_n_embd=256_"
                               "n_head=4_--batch_8_--seq-len_128.mlir"),
                  "loss=softmax-cross-entropy optimizer=adam lr=0.001"),
    "hf-gpt2-4-tosa": ("HF GPT-2 TOSA export, as hf-gpt2-4, Adam",
                       os.path.join(ZOO, "hf_gpt2_n_layer=4_n_embd=256_"
                                    "n_head=4_--batch_8_--seq-len_128_"
                                    "--dialect_tosa.mlir"),
                       "loss=softmax-cross-entropy optimizer=adam lr=0.001"),
    "hf-gpt2-4-bf16": ("HF GPT-2 bf16 export, as hf-gpt2-4, Adam",
                       os.path.join(ZOO, "hf_gpt2_n_layer=4_n_embd=256_"
                                    "n_head=4_--batch_8_--seq-len_128_"
                                    "--dtype_bf16.mlir"),
                       "loss=softmax-cross-entropy optimizer=adam lr=0.001"),
}
DEFAULT_MODELS = "mlp,alexnet,gpt,llama,hf-gpt2,hf-gpt2-tosa,hf-gpt2-bf16"

CONFIGS = {
    "unfused": "fuse=false",
    "fused": "fuse=true row-kernels=0",
    "rows": "fuse=true",
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


def host_ops(dump, func="train_step"):
    """(line, times) for each op line of `func` in an IR dump after
    autopar-order-on-stream, `times` the trip counts of the host loops
    (constant bounds) around it multiplied."""
    match = re.search(r"func\.func (private )?@%s\(" % func, dump)
    body = dump[match.start():]
    end = re.search(r"\n  }( loc\(#loc\d*\))?\n", body)
    body = body[:end.start()] if end else body
    constants = {m.group(1): int(m.group(2)) for m in re.finditer(
        r"(%c[\w]*) = arith.constant (-?\d+) : index", body)}
    stack = [1]
    for line in body.splitlines()[1:]:
        text = line.strip()
        if text.startswith("}"):
            stack.pop()
            if text.endswith("{"):
                stack.append(stack[-1])
            continue
        times = stack[-1]
        yield text, times
        if text.endswith("{"):
            loop = re.search(r"scf\.for %\S+ = (%\S+) to (%\S+) step (%\S+)",
                             text)
            trip = 1
            if loop and all(v in constants for v in loop.groups()):
                lo, hi, step = (constants[v] for v in loop.groups())
                trip = max(0, -(-(hi - lo) // step))
            stack.append(times * trip)


def is_library_call(text):
    return re.search(r"call @autopar_(cuda_gemm|cuda_conv2d|cuda_attention)",
                     text)


def per_step(dump, func="train_step"):
    """Launches, library calls and host waits one call of `func` runs, from
    the IR dump after autopar-order-on-stream (host_ops)."""
    totals = {"launches": 0, "library": 0, "waits": 0}
    for text, times in host_ops(dump, func):
        if "gpu.launch_func" in text:
            totals["launches"] += times
        if is_library_call(text):
            totals["library"] += times
        if "call @autopar_cuda_synchronize" in text:
            totals["waits"] += times
    return totals


def model_path(key, tmp):
    """MODELS[key]'s model: its file, or generated into `tmp`; None (and a
    message) when an export is missing."""
    generator = MODELS[key][1]
    if isinstance(generator, str):
        if not os.path.exists(generator):
            print("%s: no %s (bench/models.py --only 'gpt2 (4 layers' "
                  "exports it)" % (key, generator), file=sys.stderr)
            return None
        return generator
    model = os.path.join(tmp, key + ".mlir")
    run([sys.executable, os.path.join(ROOT, "models", "generate.py")]
        + generator + ["-o", model])
    return model


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--models", default=DEFAULT_MODELS)
    args = parser.parse_args()
    opt = os.path.join(args.build, "bin", "autopar-opt")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for key in args.models.split(","):
            name, _, training = MODELS[key]
            step = os.path.join(tmp, key + ".step.mlir")
            model = model_path(key, tmp)
            if model is None:
                continue
            run([opt, model, "--autopar-training=" + training, "-o", step])
            counts = {}
            for config, options in CONFIGS.items():
                lowered = subprocess.run(
                    [opt, step, "--autopar-lower-to-cuda=format=isa " + options,
                     "--mlir-print-ir-after=autopar-order-on-stream"],
                    check=True, capture_output=True, text=True)
                counts[config] = count(lowered.stdout)
                counts[config].update(per_step(lowered.stderr))
            # The step as autopar-run builds and runs it.
            driver = os.path.join(tmp, key + ".driver.mlir")
            run([os.path.join(args.build, "bin", "autopar-run"), "-n", "1",
                 model, "--backend=cuda", "--compile-only", "--steps", "2",
                 "--training=" + training, "--dump-ir=" + driver])
            lowered = subprocess.run(
                [opt, driver, "--autopar-lower-to-cuda=format=isa",
                 "--mlir-print-ir-after=autopar-order-on-stream",
                 "-o", os.devnull],
                check=True, capture_output=True, text=True)
            counts["run"] = per_step(lowered.stderr)
            # The same with --cuda-graph: captured, or why not.
            graphed = subprocess.run(
                [os.path.join(args.build, "bin", "autopar-run"), "-n", "1",
                 model, "--backend=cuda", "--compile-only", "--steps", "2",
                 "--training=" + training, "--cuda-graph"],
                check=True, capture_output=True, text=True)
            why = re.search(r"runs without a CUDA graph: ([^\n]*)",
                            graphed.stderr)
            counts["run"]["graph"] = ("no: " + why.group(1)) if why else "yes"
            rows.append((name, counts["unfused"], counts["fused"],
                         counts["rows"], counts["run"]))
    print("| model (training step) | kernels, fuse=false | fused, "
          "row-kernels=0 | fused with row kernels | ratio | cuBLAS calls "
          "| cuDNN calls |")
    print("|---|---|---|---|---|---|---|")
    for name, before, fused, after, _ in rows:
        ratio = after["kernels"] / before["kernels"] if before["kernels"] else 0
        print("| %s | %d | %d | %d | %.2f | %d | %d |" % (
            name, before["kernels"], fused["kernels"], after["kernels"], ratio,
            after["cublas"], after["cudnn"]))
    print()
    print("| model (training step) | launches per step, row-kernels=0 | "
          "launches per step | library calls | host waits | autopar-run's "
          "step: launches, library calls, waits inside it | captured by "
          "--cuda-graph |")
    print("|---|---|---|---|---|---|---|")
    for name, _, fused, after, built in rows:
        print("| %s | %d | %d | %d | %d | %d, %d, %d | %s |" % (
            name, fused["launches"], after["launches"], after["library"],
            after["waits"], built["launches"], built["library"],
            built["waits"], built["graph"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
