#!/usr/bin/env python3
"""Published large-scale training runs priced as given and as searched,
beside the measured figure, with the error per row (issue 16, item 7;
Megatron-LM's Table 1 is bench/megatron_table1.py).

Rows (the figures as shared/DESIGN.md transcribes them):

  * Megatron-LM SC'21 Table 2, GPT-3 175B, batch 1536, A100 80 GB:
    ZeRO-3 without model parallelism on 384 / 768 / 1536 GPUs (microbatch
    4 / 2 / 1 per GPU: one microbatch, as published) at 144 / 88 / 44
    TFLOP/s per GPU, pinned `mesh=N parallelism=data zero=3 recompute=full
    microbatches=1`; PTD-P with t x p = 96 (taken as t = 8, p = 12, 1F1B,
    microbatch 1: batch / d microbatches) at 153 / 149 / 141, pinned
    `stages=12 schedule=1f1b mesh=dx8 parallelism=data-tensor zero=0
    recompute=full microbatches=1536/d` (parallelism=data-tensor: d splits
    the batch, t within each op, heads apart from the batch, as Megatron
    splits them).
    TFLOP/s by Megatron's count, 96 B s l h^2 (1 + s/(6h) + V/(16 l h)).
    Both 2021 systems wrote the attention's scores (Megatron's fused
    softmax kernels; FlashAttention came in 2022): these rows are priced
    with `cudnn-attention=0`, the attention as its decomposition.
  * torchtitan (PyTorch), Llama 3.1 8B on 8 H100, FSDP, local batch 2,
    sequence 8192, selective recomputation: 5,762 tokens/s per GPU; 70B on
    256 H100, FSDP 32 x TP 8, local batch 16, full recomputation: 829.
    Pinned `zero=3` on `mesh=8 parallelism=data` and `mesh=32x8
    parallelism=data-tensor` (TP 8 within each op, FSDP over 32). The
    model is generate.py's LLaMA block (grouped-query attention, SwiGLU,
    RMSNorm; no rotary embedding), the h100-dgx preset with 96 GB (the runs
    used 96 GB H100s at 500 W; the preset's clocks are the 700 W part's).
    Their attention is priced as cuDNN's fused attention autopar builds
    (the default; torchtitan ran PyTorch's SDPA flash attention, eager).
    The 70B figure is very likely a Float8 run: torchtitan's own async-TP
    benchmark (docs, June 2025) measured the same configuration with
    torch.compile at 597.3 tokens/s per GPU in bf16 and 809.8 with float8
    tensorwise (652.4 and 942.4 with async TP); row `titan-70b-256-bf16`
    compares with the bf16 figure. autopar plans bf16 (no float8).

For each row: the model generated at the row's global batch (bf16, Adam:
f32 masters), its attention chains fused (`autopar-fuse-attention`, as
auto-shard and autopar-run do; --unfused plans them as written),
`autopar-opt --autopar-plan` with the row's pins on its
cluster (when the model predicts more memory than the GPUs hold, again
with the limit lifted: the configuration ran; the predicted memory is
printed, beside the measured one where published), the predicted step
and the row's metric beside the published one (error: predicted /
published - 1); with --searched also the plan with
nothing pinned but the optimizer (`stages=0 optimizer=adam`: the stage
count, schedule, meshes, ZeRO, recomputation and microbatches searched) and how much
faster than the published configuration it predicts. No cost-model
constant was fitted to any of these rows.

Usage: bench/published_runs.py [--build build] [--rows t2-zero3-384,...]
                               [--searched] [--unfused] [--out DIR]

One run on the machine at hand; each as-given row takes seconds to a
minute on 2 cores, each searched row up to a few minutes.
"""

import argparse
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import large_models  # noqa: E402  (the generator and planner helpers)

ROOT = large_models.ROOT
large_models.MODELS.update({
    "llama31-8b": ("llama", 32, 4096, 32, 8, 14336, 128256, 8192,
                   "Llama 3.1 8B (no RoPE)"),
    "llama31-70b": ("llama", 80, 8192, 64, 8, 28672, 128256, 8192,
                    "Llama 3.1 70B (no RoPE)"),
})

# name: (model, batch, preset, nodes, pinned options, metric, published,
# the published configuration in words)
ROWS = {}
# Memory per GPU the published runs measured, GiB.
PUBLISHED_MEMORY = {"titan-8b-8": 82.4, "titan-70b-256": 71.9}
# The GPUs' memory where the published runs used another than the preset's.
CAPACITY = {"titan-8b-8": 96 * 1024 ** 3, "titan-70b-256": 96 * 1024 ** 3}
for gpus, tflops in ((384, 144), (768, 88), (1536, 44)):
    ROWS["t2-zero3-%d" % gpus] = (
        "gpt3-175b", 1536, "a100-dgx", gpus // 8,
        "mesh=%d parallelism=data zero=3 recompute=full microbatches=1 "
        "cudnn-attention=0" % gpus, "tflops", tflops,
        "ZeRO-3, %d data, microbatch %d" % (gpus, 1536 // gpus))
for gpus, tflops in ((384, 153), (768, 149), (1536, 141)):
    d = gpus // 96
    ROWS["t2-ptdp-%d" % gpus] = (
        "gpt3-175b", 1536, "a100-dgx", gpus // 8,
        "stages=12 schedule=1f1b mesh=%dx8 parallelism=data-tensor zero=0 "
        "recompute=full "
        "microbatches=%d cudnn-attention=0" % (d, 1536 // d), "tflops", tflops,
        "PTD-P t=8 p=12 d=%d, microbatch 1" % d)
ROWS["titan-8b-8"] = (
    "llama31-8b", 16, "h100-dgx", 1,
    "mesh=8 parallelism=data zero=3 recompute=selective microbatches=1",
    "tokens", 5762, "FSDP 8, local batch 2, selective")
ROWS["titan-70b-256"] = (
    "llama31-70b", 512, "h100-dgx", 32,
    "mesh=32x8 parallelism=data-tensor zero=3 recompute=full "
    "microbatches=1", "tokens", 829,
    "FSDP 32 x TP 8, local batch 16, full")
# The same configuration in bf16, as torchtitan's async-TP benchmark
# measured it (vanilla TP, torch.compile; 809.8 with float8 tensorwise).
ROWS["titan-70b-256-bf16"] = ROWS["titan-70b-256"][:6] + (
    597.3, "the same, bf16, torch.compile (vanilla TP)")
CAPACITY["titan-70b-256-bf16"] = CAPACITY["titan-70b-256"]


def describe(report):
    """Step time, plan in words and the most memory a GPU holds."""
    if "pipeline" in report:
        p = report["pipeline"]
        stage_mesh = p["stages_detail"][0]["mesh"] if p.get(
            "stages_detail") else ""
        return (p["step_time_s"], "%d stages x %s, %s, zero %d, recompute "
                "%s, %d microbatches" % (p["stages"], stage_mesh,
                                         p["schedule"], p["zero"],
                                         p["recompute"], p["microbatches"]),
                max(device["memory_bytes"] for device in p["devices"]))
    chosen = report["plan"]
    step = chosen["step"]
    return (chosen["step_time_s"], "%s, zero %d, recompute %s, %d "
            "microbatches" % (chosen["mesh"], step["zero"], step["recompute"],
                              step["microbatches"]),
            chosen["memory_per_gpu_bytes"])


def metric(kind, model, batch, gpus, step):
    _, layers, hidden, _, _, _, vocab, seq, _ = large_models.MODELS[model]
    if kind == "tokens":
        return batch * seq / step / gpus
    return (large_models.megatron_flops(batch, seq, layers, hidden, vocab) /
            step / gpus / 1e12)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--rows", default=",".join(ROWS))
    parser.add_argument("--searched", action="store_true",
                        help="also plan each row with everything searched")
    parser.add_argument("--unfused", action="store_true",
                        help="plan the attention chains as written (no "
                             "autopar-fuse-attention)")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    opt = os.path.join(args.build, "bin", "autopar-opt")
    directory = args.out or tempfile.mkdtemp(prefix="autopar-published-")
    os.makedirs(directory, exist_ok=True)
    print("| row | published configuration | GPUs | plan | step | "
          "metric: predicted (published) | error | memory/GPU | plan time |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name in args.rows.split(","):
        model, batch, preset, nodes, pins, kind, published, words = ROWS[name]
        gpus = nodes * 8
        unit = "TFLOP/s/GPU" if kind == "tflops" else "tokens/s/GPU"
        path = large_models.generate(model, batch, directory)
        runs = [("as given", pins + " optimizer=adam")]
        if args.searched:
            # The software the row ran (its attention) is no plan choice.
            software = [pin for pin in pins.split()
                        if pin.startswith("cudnn-attention=")]
            runs.append(("searched", " ".join(["stages=0 optimizer=adam"] +
                                              software)))
        given_step = None
        for label, options in runs:
            report, seconds, errors = large_models.plan(
                opt, path, preset, nodes, options, directory,
                "%s-%s" % (name, label.replace(" ", "-")), CAPACITY.get(name),
                fuse_attention=not args.unfused)
            if report is None and label == "as given":
                # The published configuration ran: priced with the memory
                # limit lifted when the model predicts more than the GPUs
                # hold (the per-op strategies then need not save memory).
                report, more, errors = large_models.plan(
                    opt, path, preset, nodes, options, directory,
                    "%s-lifted" % name, 1024 ** 4,
                    fuse_attention=not args.unfused)
                seconds += more
                label = "as given, memory limit lifted"
            if report is None:
                print("| %s | %s | %d | %s error: %s | | | | | %.0f s |" %
                      (name, words, gpus, label, " ".join(errors), seconds))
                continue
            step, text, memory = describe(report)
            value = metric(kind, model, batch, gpus, step)
            if label.startswith("as given"):
                given_step = step
                error = "%+.0f%%" % (100 * (value / published - 1))
            else:
                error = ("%+.0f%% step vs given" %
                         (100 * (step / given_step - 1))
                         if given_step else "")
            memory_text = "%.1f GiB" % (memory / 1024.0 ** 3)
            if label.startswith("as given") and name in PUBLISHED_MEMORY:
                memory_text += " (%.1f, %+.0f%%)" % (
                    PUBLISHED_MEMORY[name],
                    100 * (memory / 1024.0 ** 3 / PUBLISHED_MEMORY[name] - 1))
            print("| %s | %s | %d | %s: %s | %.2f s | %.0f %s (%d) | %s | "
                  "%s | %.0f s |" %
                  (name, words if label.startswith("as given") else "", gpus,
                   label,
                   text, step, value, unit, published, error, memory_text,
                   seconds))
            sys.stdout.flush()
    print("\nmodels and reports in", directory)


if __name__ == "__main__":
    main()
