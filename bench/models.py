#!/usr/bin/env python3
"""Real PyTorch models through every stage of autopar, one row per model:

  export   autopar-import-torch (torchvision at its own image size, batch 8;
           transformers from small configurations; four TOSA exports)
  plan     autopar-opt --auto-shard (target a100-dgx): the search over every
           mesh of 1-8 GPUs
  train    autopar-opt --autopar-training (softmax cross-entropy, SGD)
  split    the training step planned on 2 GPUs, propagated and partitioned
           (autopar-plan mesh=2, autopar-propagate, autopar-partition)
  cuda     the partitioned step through autopar-lower-to-cuda (compile only:
           sm_90 kernels, cuBLAS/cuDNN/NCCL calls; no GPU needed)

For each stage it prints the seconds it took or the first line of the error,
and from the plan: the GPUs chosen, the predicted step, and how many ops the
planner warned about (no sharding rule: they run replicated; not analysed:
their cost is a guess). Exports are cached under ~/.cache/autopar/zoo (or
$AUTOPAR_ZOO) so that a second run measures autopar only.

    scripts/torch-env.sh >/dev/null && python3 bench/models.py \
        [--build build] [--only NAME,...] [--stages plan,train,split,cuda] \
        [--markdown] [--json FILE]

One run, one machine: compare times within a run, not across machines.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

# (row name, autopar-import-torch arguments, loss)
TORCHVISION = [
    "resnet18", "resnet50", "resnext50_32x4d", "wide_resnet50_2", "vgg16",
    "densenet121", "densenet161", "densenet169", "densenet201",
    "inception_v3", "googlenet", "squeezenet1_0", "mobilenet_v2",
    "mobilenet_v3_large", "mnasnet1_0", "efficientnet_b0",
    "efficientnet_v2_s", "regnet_y_400mf", "convnext_tiny", "vit_b_16",
    "swin_t", "maxvit_t",
]
SMALL_LM = "--batch 8 --seq-len 128"
MODELS = [(name, "torchvision:%s --batch 8" % name) for name in TORCHVISION]
MODELS += [
    ("gpt2 (4 layers, 256)", "hf:gpt2:n_layer=4,n_embd=256,n_head=4 " + SMALL_LM),
    ("bert (4 layers, 256)", "hf:bert:num_hidden_layers=4,hidden_size=256,"
     "num_attention_heads=4,intermediate_size=1024 " + SMALL_LM),
    ("llama (4 layers, 256)", "hf:llama:num_hidden_layers=4,hidden_size=256,"
     "num_attention_heads=4,num_key_value_heads=2,intermediate_size=688,"
     "vocab_size=32000 " + SMALL_LM),
    ("t5 (2+2 layers, 256)", "hf:t5:num_layers=2,num_decoder_layers=2,"
     "d_model=256,d_ff=1024,num_heads=4 " + SMALL_LM),
    ("vit (4 layers, 256)", "hf:vit:num_hidden_layers=4,hidden_size=256,"
     "num_attention_heads=4,intermediate_size=1024 --batch 8"),
    ("whisper encoder (4 layers)", "hf:whisper:encoder_layers=4,"
     "decoder_layers=2,d_model=256,encoder_attention_heads=4,"
     "decoder_attention_heads=4 --batch 8"),
    ("resnet18 (TOSA)", "torchvision:resnet18 --batch 8 --dialect tosa"),
    ("mobilenet_v2 (TOSA)", "torchvision:mobilenet_v2 --batch 8 --dialect tosa"),
    ("gpt2 (4 layers, 256, TOSA)", "hf:gpt2:n_layer=4,n_embd=256,n_head=4 "
     + SMALL_LM + " --dialect tosa"),
    ("gpt2 (4 layers, 256, bf16)", "hf:gpt2:n_layer=4,n_embd=256,n_head=4 "
     + SMALL_LM + " --dtype bf16"),
    ("bert (4 layers, 256, TOSA)", "hf:bert:num_hidden_layers=4,"
     "hidden_size=256,num_attention_heads=4,intermediate_size=1024 "
     + SMALL_LM + " --dialect tosa"),
]
STAGES = ["plan", "train", "split", "cuda"]
# The ops that do tensor work in an export (its size, for the table).
OP = re.compile(r"= (?:linalg|tensor|tosa)\.(?!empty|dim\b|const_shape)")
TRAINING = "loss=softmax-cross-entropy optimizer=sgd"


def first_error(text):
    for line in text.splitlines():
        if "error:" in line:
            return re.sub(r"^.*?error: ", "", line).strip()
    lines = [l for l in text.splitlines() if l.strip()]
    return lines[-1].strip() if lines else "failed"


def run(command, output=None):
    """(seconds, None or the first error line, stderr)."""
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        return seconds, first_error(result.stderr), result.stderr
    return seconds, None, result.stderr


def export(importer, cache, spec):
    key = re.sub(r"[^A-Za-z0-9_.=-]+", "_", spec)
    path = os.path.join(cache, key + ".mlir")
    # The export's own time is kept beside it, for the table.
    if os.path.exists(path) and os.path.exists(path + ".seconds"):
        with open(path + ".seconds") as f:
            return path, None, float(f.read())
    seconds, error, _ = run([importer] + spec.split() + ["-o", path + ".tmp"])
    if error:
        return None, error, seconds
    os.replace(path + ".tmp", path)
    with open(path + ".seconds", "w") as f:
        f.write("%.1f\n" % seconds)
    return path, None, seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--build", default="build")
    parser.add_argument("--only", default="",
                        help="comma-separated substrings of row names")
    parser.add_argument("--stages", default=",".join(STAGES))
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--json", default="")
    args = parser.parse_args()
    stages = [s for s in args.stages.split(",") if s]
    for stage in stages:
        if stage not in STAGES:
            parser.error("unknown stage '%s'; expected %s" % (stage, STAGES))
    opt = os.path.join(args.build, "bin", "autopar-opt")
    importer = os.path.join(args.build, "bin", "autopar-import-torch")
    cache = os.environ.get("AUTOPAR_ZOO", os.path.join(
        os.path.expanduser("~"), ".cache", "autopar", "zoo"))
    os.makedirs(cache, exist_ok=True)
    wanted = [w for w in args.only.split(",") if w]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, spec in MODELS:
            if wanted and not any(w in name for w in wanted):
                continue
            row = {"model": name, "spec": spec}
            model, error, seconds = export(importer, cache, spec)
            row["export"] = error or "%.1f" % seconds
            if not error:
                with open(model) as f:
                    row["ops"] = len(OP.findall(f.read()))
            if error:
                rows.append(row)
                print_row(row, stages, sys.stderr)
                continue
            step = os.path.join(tmp, "step.mlir")
            split = os.path.join(tmp, "split.mlir")
            if "plan" in stages:
                report = os.path.join(tmp, "plan.json")
                seconds, error, log = run(
                    [opt, model, "--auto-shard=target=a100-dgx report=" +
                     report, "-o", os.devnull])
                row["plan"] = error or "%.1f" % seconds
                row["replicated"] = log.count("runs replicated")
                row["estimated"] = log.count("cannot analyse")
                if not error:
                    with open(report) as f:
                        plan = json.load(f)
                    row["gpus"] = plan["plan"]["gpus"]
                    row["step_ms"] = plan["plan"]["step_time_s"] * 1e3
            if any(s in stages for s in ("train", "split", "cuda")):
                seconds, error, _ = run(
                    [opt, model, "--autopar-training=" + TRAINING, "-o", step])
                row["train"] = error or "%.1f" % seconds
            trained = row.get("train", "x")[0].isdigit()
            if trained and ("split" in stages or "cuda" in stages):
                seconds, error, _ = run(
                    [opt, step, "--autopar-plan=mesh=2 target=a100-dgx report=",
                     "--autopar-propagate", "--autopar-partition",
                     "--canonicalize", "--cse", "-o", split])
                row["split"] = error or "%.1f" % seconds
                if not error and "cuda" in stages:
                    seconds, error, _ = run(
                        [opt, split, "--autopar-lower-to-cuda", "-o",
                         os.devnull])
                    row["cuda"] = error or "%.1f" % seconds
            rows.append(row)
            print_row(row, stages, sys.stderr)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    if args.markdown:
        print("| " + " | ".join(["model", "ops", "export s", "plan s", "GPUs",
                                 "step ms", "replicated", "estimated"] +
                                [s + " s" for s in stages[1:]]) + " |")
        print("|" + "---|" * (8 + len(stages) - 1))
        for row in rows:
            cells = [row["model"], str(row.get("ops", "-")), row["export"],
                     row.get("plan", "-"),
                     str(row.get("gpus", "-")),
                     "%.2f" % row["step_ms"] if "step_ms" in row else "-",
                     str(row.get("replicated", "-")),
                     str(row.get("estimated", "-"))]
            cells += [row.get(s, "-") for s in stages[1:]]
            print("| " + " | ".join(cells) + " |")
    failed = [r for r in rows if any(
        not str(r.get(s, "0")).replace(".", "").isdigit() and
        r.get(s) is not None for s in ["export"] + stages)]
    return 1 if failed else 0


def print_row(row, stages, stream):
    parts = ["%-28s" % row["model"], "%5s ops" % row.get("ops", "-"),
             "export " + str(row["export"])]
    for stage in stages:
        if stage in row:
            parts.append("%s %s" % (stage, row[stage]))
        if stage == "plan" and "gpus" in row:
            parts.append("(%s GPUs, %.2f ms, %d replicated, %d estimated)" % (
                row["gpus"], row["step_ms"], row["replicated"],
                row["estimated"]))
    stream.write("  ".join(parts) + "\n")
    stream.flush()


if __name__ == "__main__":
    sys.exit(main())
