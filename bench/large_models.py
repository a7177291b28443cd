#!/usr/bin/env python3
"""Plans for large language models on A100 and H100 clusters, as searched
and as published configurations pin them (issue 15, item 8).

For each row: generate the model (models/generate.py gpt, bf16, so it
trains with f32 masters: 16 bytes per parameter with Adam), plan it with
`autopar-opt --autopar-plan` (the step's cross-entropy loss priced:
loss=softmax-cross-entropy) on a cluster of N DGX nodes (the a100-dgx or
h100-dgx preset with `nodes`), and print from the plan's JSON report:

  * the chosen mesh, step configuration (ZeRO stage, recomputation,
    microbatches) and predicted step time;
  * model TFLOP/s per GPU: 6 * parameters * tokens (forward and backward,
    no recomputation) plus the attention scores and context
    (12 * layers * seq^2 * hidden per sample), over the step time and GPUs;
    Megatron's published figures count recomputed forwards too (their
    formula, 96*B*s*l*h^2*(1 + s/(6h) + V/(16*l*h)), also printed): with
    full recomputation they read 4/3 higher for the same step;
  * memory per GPU, the plan's parameter state and activations, beside the
    ZeRO paper's formula for the chosen stage under pure data parallelism over
    the plan's GPUs (16 bytes per parameter with Adam, 2 + 2 + 12 sharded
    as the stage says) and Korthikanti et al.'s activations per layer
    (without tensor parallelism): s*b*h*(34 + 5*a*s/h) bytes without
    recomputation, s*b*h*34 with selective, 2*s*b*h per layer plus one
    layer's with full, for the b samples of a microbatch per GPU;
  * the search time (the whole command, one run).

Rows: the default set prices GPT-3 175B as Megatron-LM's Table 2 ZeRO-3
configuration (384 A100, batch 1536, pinned: data parallelism only,
zero=3, full recomputation) beside the search's own plan for the same
batch and cluster, and the search on 8 and 64 nodes at batch 8. The LLaMA
rows use generate.py's LLaMA block (grouped-query attention, SwiGLU,
RMSNorm, untied head; no rotary embedding: elementwise work the counts
leave out); parameters are the generator's own count (68.98 B and 8.03 B,
as published).

Usage: bench/large_models.py [--build build] [--rows table2,gpt3-8,gpt3-64]
       [--out DIR]

One run on the machine at hand; a GPT-3 plan takes one to two minutes on
2 cores.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# name: (generator model, layers, hidden, heads, kv heads, ffn, vocab, seq,
# note)
MODELS = {
    "gpt3-175b": ("gpt", 96, 12288, 96, 96, 4 * 12288, 51200, 2048,
                  "GPT-3 175B"),
    "llama2-70b": ("llama", 80, 8192, 64, 8, 28672, 32000, 4096,
                   "LLaMA-2 70B (GQA 8 KV heads, SwiGLU, RMSNorm; no RoPE)"),
    "llama3-8b": ("llama", 32, 4096, 32, 8, 14336, 128256, 8192,
                  "LLaMA-3 8B (GQA 8 KV heads, SwiGLU, RMSNorm; no RoPE)"),
}

# name: (model, batch, preset, nodes, plan options, published TFLOP/s or None)
ROWS = {
    "table2": ("gpt3-175b", 1536, "a100-dgx", 48,
               "mesh=384 parallelism=data optimizer=adam zero=3 "
               "recompute=full microbatches=1", 144),
    "table2-searched": ("gpt3-175b", 1536, "a100-dgx", 48, "optimizer=adam",
                        144),
    "gpt3-8": ("gpt3-175b", 8, "a100-dgx", 8, "optimizer=adam", None),
    "gpt3-64": ("gpt3-175b", 8, "a100-dgx", 64, "optimizer=adam", None),
    "gpt3-64-h100": ("gpt3-175b", 8, "h100-dgx", 64, "optimizer=adam", None),
    "llama2-70b-8": ("llama2-70b", 8, "a100-dgx", 8, "optimizer=adam", None),
    "llama3-8b-1": ("llama3-8b", 8, "h100-dgx", 1, "optimizer=adam", None),
}


def generator_options(model, batch):
    kind, layers, hidden, heads, kv_heads, ffn, vocab, seq, _ = MODELS[model]
    options = [kind, "--layers", str(layers), "--hidden", str(hidden),
               "--heads", str(heads), "--ffn", str(ffn), "--vocab", str(vocab),
               "--seq", str(seq), "--batch", str(batch)]
    if kind == "llama":
        options += ["--kv-heads", str(kv_heads)]
    else:
        options += ["--max-pos", str(seq)]
    return options


def parameters(model):
    """The generator's own parameter count (--summary)."""
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "models", "generate.py")] +
        generator_options(model, 1) + ["--summary"],
        check=True, capture_output=True, text=True)
    for line in result.stdout.splitlines():
        if line.startswith("params:"):
            return int(line.split()[1])
    raise RuntimeError("generate.py --summary printed no parameter count")


def generate(model, batch, directory):
    path = os.path.join(directory, "%s-b%d.mlir" % (model, batch))
    if not os.path.exists(path):
        subprocess.run(
            [sys.executable, os.path.join(ROOT, "models", "generate.py")] +
            generator_options(model, batch) + ["--dtype", "bf16", "-o", path],
            check=True)
    return path


def megatron_flops(batch, seq, layers, hidden, vocab):
    """Megatron-LM's FLOPs per step of its GPT (SC'21, with the recomputed
    forward): 96 B s l h^2 (1 + s/(6h) + V/(16 l h))."""
    return (96 * batch * seq * layers * hidden * hidden *
            (1 + seq / (6 * hidden) + vocab / (16 * layers * hidden)))


def plan(opt, model_path, preset, nodes, options, directory, name,
         memory_capacity=None, fuse_attention=True):
    """Plans on `nodes` of `preset` (with `memory_capacity` bytes per GPU
    when given), the attention chains fused first (autopar-fuse-attention,
    as auto-shard and autopar-run do) unless `fuse_attention` is false: the
    JSON report, the seconds, the first error lines. The step's loss, a
    cross-entropy over the vocabulary, is priced with the model (loss=)
    unless `options` names another."""
    if "loss=" not in options:
        options += " loss=softmax-cross-entropy"
    spec = {"preset": preset, "name": "%s-x%d" % (preset, nodes),
            "nodes": nodes}
    suffix = ""
    if memory_capacity is not None:
        spec["gpu"] = {"memory_capacity": memory_capacity}
        suffix = "-%d" % memory_capacity
    target = os.path.join(directory, "%s-%d%s.json" % (preset, nodes, suffix))
    with open(target, "w") as f:
        json.dump(spec, f)
    report = os.path.join(directory, name + ".json")
    command = [opt, model_path] + (
        ["--autopar-fuse-attention"] if fuse_attention else []) + [
        "--autopar-plan=target=%s report=%s %s" % (target, report, options),
        "-o", os.devnull]
    start = time.monotonic()
    result = subprocess.run(command, capture_output=True, text=True)
    seconds = time.monotonic() - start
    if result.returncode != 0:
        return None, seconds, result.stderr.strip().splitlines()[:3]
    with open(report) as f:
        return json.load(f), seconds, []


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--rows", default="table2,table2-searched,gpt3-8,gpt3-64")
    parser.add_argument("--out", default=None,
                        help="keep models and reports here (default: a "
                             "temporary directory)")
    args = parser.parse_args()
    opt = os.path.join(args.build, "bin", "autopar-opt")
    directory = args.out or tempfile.mkdtemp(prefix="autopar-large-")
    os.makedirs(directory, exist_ok=True)

    print("| row | model | batch | cluster | plan | step | TFLOP/s/GPU, "
          "Megatron's count (published) | memory/GPU | of which parameter state | ZeRO "
          "formula, data only | activations (plan) | Korthikanti, t=1 | search |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name in args.rows.split(","):
        model, batch, preset, nodes, options, published = ROWS[name]
        kind, layers, hidden, heads, _, ffn, vocab, seq, note = MODELS[model]
        path = generate(model, batch, directory)
        report, seconds, errors = plan(opt, path, preset, nodes, options,
                                       directory, name)
        cluster = "%d x %s" % (nodes, preset)
        if report is None:
            print("| %s | %s | %d | %s | error: %s | | | | | | | | %.0f s |" %
                  (name, note, batch, cluster, " ".join(errors), seconds))
            continue
        chosen = report["plan"]
        gpus = chosen["gpus"]
        step = chosen["step_time_s"]
        params = parameters(model)
        flops = batch * (6 * params * seq + 12 * layers * seq * seq * hidden)
        tflops = flops / step / gpus / 1e12
        # Megatron's count is for its GPT block.
        megatron = (megatron_flops(batch, seq, layers, hidden, vocab) / step /
                    gpus / 1e12) if kind == "gpt" else None
        config = chosen["step"]
        zero = config["zero"]
        # The data-parallel group: the GPUs a replicated parameter's state
        # is sharded over, at most all of them.
        memory = chosen["memory"]
        gib = 1024.0 ** 3
        planned_state = (memory["parameters_bytes"] +
                         memory["gradients_bytes"] + memory["master_bytes"] +
                         memory["optimizer_state_bytes"])
        # The ZeRO paper's formula for pure data parallelism over all the
        # plan's GPUs: 2 + 2 + 12 bytes per parameter, sharded by stage.
        d = float(gpus)
        zero_bytes = params * {0: 16, 1: 4 + 12 / d, 2: 2 + 14 / d,
                               3: 16 / d}[zero]
        # Korthikanti et al. per layer (16-bit, no tensor parallelism), for
        # the samples of one microbatch a GPU holds: none keeps
        # s*b*h*(34 + 5*a*s/h), selective drops the 5*a*s/h term, full keeps
        # the layer input (2*s*b*h) and recomputes one layer at a time.
        microbatch = max(1, batch // max(1, config["microbatches"]))
        b = max(1.0, microbatch / gpus)
        layer = seq * b * hidden * (34 + 5 * heads * seq / hidden)
        activations = {
            "none": layer * layers,
            "selective": seq * b * hidden * 34 * layers,
            "full": 2 * seq * b * hidden * layers + layer,
        }[config["recompute"]]
        published_text = ("%.0f, %.0f" % (tflops, megatron)
                          if megatron is not None else "%.0f" % tflops)
        if published:
            published_text += " (%d)" % published
        print("| %s | %s | %d | %s | %d GPUs %s, zero %d, recompute %s, "
              "%d microbatches | %.2f s | %s | %.1f GiB%s | %.1f GiB | "
              "%.1f GiB | %.1f GiB | %.1f GiB | %.0f s |" %
              (name, note, batch, cluster, gpus, chosen["mesh"], zero,
               config["recompute"], config["microbatches"], step,
               published_text, chosen["memory_per_gpu_bytes"] / gib,
               "" if chosen["fits_memory"] else " (does not fit)",
               planned_state / gib, zero_bytes / gib,
               memory["activations_bytes"] / gib, activations / gib,
               seconds))
    print("\nmodels and reports in", directory)


if __name__ == "__main__":
    main()
