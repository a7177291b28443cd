#!/usr/bin/env python3
"""Megatron-LM's published configurations priced as given (issue 16,
item 7): Narayanan et al. SC'21, Table 1 (GPT, A100 80 GB, sequence 2048,
vocabulary 51200, mixed precision; t tensor, p pipeline, d = GPUs / (t p)
data), with the stage count, the per-stage mesh (d x t), activation
recomputation (full, as the paper ran), what each mesh axis splits (d
the batch, t within each op: `parallelism=data-tensor`) and the schedule
pinned: the
interleaved 1F1B schedule, which the paper's section 5.1 says these runs
used ("we use the interleaved pipeline schedule with the scatter/gather
optimization enabled"). The paper does not give each row's chunks per
device (v) or microbatch size, so those are searched
(`schedule=interleaved` leaves `virtual-stages=` at 0: v from 2 to 8).

For each row: generate the model (models/generate.py gpt, bf16, the row's
batch), plan it with `autopar-opt --autopar-plan="stages=p mesh=dxt
parallelism=data-tensor zero=0 recompute=full optimizer=adam loss=softmax-cross-entropy
schedule=interleaved"` (the step's loss priced too, as Megatron's
vocabulary-parallel cross-entropy runs it) on the row's number of DGX A100
nodes (p = 1: the same without stages=), and print the predicted step time
and TFLOP/s per GPU by Megatron's own count,
96 B s l h^2 (1 + s/(6h) + V/(16 l h)) / (step x GPUs), next to the
published figure and the relative error. No constant of the cost model
was fitted to these rows.

With --searched, each row is also planned with nothing pinned but the
optimizer and loss (`stages=0 schedule=auto optimizer=adam`: stage count, stage
mesh, schedule, ZeRO, recomputation and microbatches searched) and printed beside it: the
search's plan, its predicted step and TFLOP/s, and how much faster than
the published configuration as given it predicts (the issue's goal: never
slower).

Usage: bench/megatron_table1.py [--build build] [--rows 1,5,7] [--out DIR]
                                [--searched]

One run on the machine at hand; rows with many layers take a minute or
more each on 2 cores (each candidate microbatch count solves the whole
model's shardings on the stage mesh).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from large_models import megatron_flops  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# row: (parameters B, heads, hidden, layers, t, p, GPUs, batch, TFLOP/s)
TABLE1 = {
    1: (1.7, 24, 2304, 24, 1, 1, 32, 512, 137),
    2: (3.6, 32, 3072, 30, 2, 1, 64, 512, 138),
    3: (7.5, 32, 4096, 36, 4, 1, 128, 512, 142),
    4: (18.4, 48, 6144, 40, 8, 1, 256, 1024, 135),
    5: (39.1, 64, 8192, 48, 8, 2, 512, 1536, 138),
    6: (76.1, 80, 10240, 60, 8, 4, 1024, 1792, 140),
    7: (145.6, 96, 12288, 80, 8, 8, 1536, 2304, 148),
    8: (310.1, 128, 16384, 96, 8, 16, 1920, 2160, 155),
    9: (529.6, 128, 20480, 105, 8, 35, 2520, 2520, 163),
    10: (1008.0, 160, 25600, 128, 8, 64, 3072, 3072, 163),
}
SEQ = 2048
VOCAB = 51200


def summarize(report, describe_pipeline):
    """A plan report's step time, plan text and first-stage (or per-GPU)
    memory; `describe_pipeline` words a pipeline plan."""
    if "pipeline" in report:
        pipeline = report["pipeline"]
        return (pipeline["step_time_s"], describe_pipeline(pipeline),
                pipeline["devices"][0]["memory_bytes"])
    chosen = report["plan"]
    return (chosen["step_time_s"], "%s, %d microbatches" %
            (chosen["mesh"], chosen["step"]["microbatches"]),
            chosen["memory_per_gpu_bytes"])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--rows", default=",".join(str(r) for r in TABLE1))
    parser.add_argument("--out", default=None)
    parser.add_argument("--searched", action="store_true",
                        help="also plan each row with everything searched")
    args = parser.parse_args()
    opt = os.path.join(args.build, "bin", "autopar-opt")
    directory = args.out or tempfile.mkdtemp(prefix="autopar-megatron-")
    os.makedirs(directory, exist_ok=True)
    print("| row | model | t, p, d | GPUs | batch | plan | step | TFLOP/s/GPU "
          "(published) | error | first stage memory | plan time |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for row in (int(r) for r in args.rows.split(",")):
        billions, heads, hidden, layers, t, p, gpus, batch, published = \
            TABLE1[row]
        d = gpus // (t * p)
        model = os.path.join(directory, "gpt-%d.mlir" % row)
        subprocess.run(
            [sys.executable, os.path.join(ROOT, "models", "generate.py"),
             "gpt", "--layers", str(layers), "--hidden", str(hidden),
             "--heads", str(heads), "--ffn", str(4 * hidden), "--vocab",
             str(VOCAB), "--seq", str(SEQ), "--max-pos", str(SEQ),
             "--batch", str(batch), "--dtype", "bf16", "-o", model],
            check=True)
        target = os.path.join(directory, "a100-%d.json" % row)
        with open(target, "w") as f:
            json.dump({"preset": "a100-dgx", "name": "a100-dgx-x%d" %
                       (gpus // 8), "nodes": gpus // 8}, f)
        report = os.path.join(directory, "plan-%d.json" % row)
        mesh = "%dx%d" % (d, t) if t > 1 and d > 1 else str(d * t)
        # What the axes split, as Megatron does: d the batch, t within each
        # op (parallelism=data-tensor; heads apart from the batch).
        roles = ("data-tensor" if t > 1 and d > 1 else
                 "tensor" if t > 1 else "data")
        options = ("target=%s mesh=%s parallelism=%s zero=0 recompute=full "
                   "optimizer=adam loss=softmax-cross-entropy report=%s" %
                   (target, mesh, roles, report))
        if p > 1:
            options += " stages=%d schedule=interleaved" % p
        start = time.monotonic()
        result = subprocess.run([opt, model, "--autopar-plan=" + options,
                                 "-o", os.devnull],
                                capture_output=True, text=True)
        seconds = time.monotonic() - start
        name = "%.1fB" % billions
        if result.returncode != 0:
            print("| %d | %s | %d, %d, %d | %d | %d | error: %s | | | | | "
                  "%.0f s |" % (row, name, t, p, d, gpus, batch,
                                result.stderr.strip().splitlines()[0],
                                seconds))
            continue
        with open(report) as f:
            step, text, memory = summarize(
                json.load(f),
                lambda pipeline: "interleaved x%d, %d microbatches" %
                (pipeline["virtual_stages"], pipeline["microbatches"]))
        flops = megatron_flops(batch, SEQ, layers, hidden, VOCAB)
        tflops = flops / step / gpus / 1e12
        print("| %d | %s | %d, %d, %d | %d | %d | %s | %.2f s | %.0f (%d) | "
              "%+.0f%% | %.1f GiB | %.0f s |" %
              (row, name, t, p, d, gpus, batch, text, step, tflops, published,
               100 * (tflops / published - 1), memory / 1024.0 ** 3,
               seconds))
        if args.searched:
            searched_report = os.path.join(directory, "searched-%d.json" % row)
            start = time.monotonic()
            result = subprocess.run(
                [opt, model, "--autopar-plan=target=%s stages=0 "
                 "schedule=auto optimizer=adam loss=softmax-cross-entropy "
                 "report=%s" % (target, searched_report),
                 "-o", os.devnull], capture_output=True, text=True)
            searched_seconds = time.monotonic() - start
            if result.returncode != 0:
                print("|   | searched | | | | error: %s | | | | | %.0f s |" %
                      (result.stderr.strip().splitlines()[0],
                       searched_seconds))
                continue
            with open(searched_report) as f:
                searched_step, searched_text, searched_memory = summarize(
                    json.load(f),
                    lambda pipeline: "%d stages%s, %d microbatches" % (
                        pipeline["stages"],
                        " x%d" % pipeline["virtual_stages"]
                        if pipeline["virtual_stages"] > 1 else "",
                        pipeline["microbatches"]))
            print("|   | searched | | | | %s | %.2f s | %.0f | %+.0f%% vs "
                  "given | %.1f GiB | %.0f s |" %
                  (searched_text, searched_step,
                   flops / searched_step / gpus / 1e12,
                   100 * (searched_step / step - 1),
                   searched_memory / 1024.0 ** 3, searched_seconds))
    print("\nmodels and reports in", directory)


if __name__ == "__main__":
    main()
