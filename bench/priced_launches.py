#!/usr/bin/env python3
"""Kernel launches the cost model prices against those the CUDA lowering
builds, per layer, forward and backward (issue 17: "priced as built").
Compile only: no GPU needed.

For each model: the forward function's workload report
(`--autopar-analyze`, JSON: each layer's `launches` and `bwd_launches`,
what the planner charges a launch overhead for) and the training step
(`--autopar-training`, as bench/kernel_counts.py builds it) lowered by
`autopar-lower-to-cuda` (`format=isa`, the IR after
autopar-order-on-stream with its locations). Each kernel launch and each
cuBLAS/cuBLASLt or cuDNN call of the step (times the trip counts of the
host loops around it) is charged to the layer its location names (the
first layer a fused location lists); those before the first kernel of the
loss are the forward's, those after it the backward's; the loss (priced
with `loss=` as the training string names it, at location `loss`) counts
its gradient as its forward; launches at no layer's location are counted
apart (before the last layer's backward) or as the update's (after it). Prints, per model, the layers whose priced and built
counts differ, and the totals.

    python3 bench/priced_launches.py [--build build] [--models gpt,...]
                                     [--fuse-attention] [--all-layers]

The models are bench/kernel_counts.py's (`gpt2`, GPT-2 small, takes about
a minute). `--fuse-attention` runs autopar-fuse-attention on the model
first (as auto-shard and autopar-run do).
"""
import argparse
import collections
import json
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kernel_counts  # noqa: E402  (the models and the host-loop counting)

ROOT = kernel_counts.ROOT


run = kernel_counts.run


def resolve_locations(text):
    """The location aliases (#locN = loc(...)) of an IR dump, resolved."""
    aliases = dict(re.findall(r"^(#loc\d*) = loc\((.*)\)$", text, re.M))

    def resolve(name, depth=0):
        body = aliases.get(name, name)
        if depth > 8:
            return body
        return re.sub(r"#loc\d*", lambda m: resolve(m.group(0), depth + 1),
                      body)
    return resolve


def names_of(location):
    """The quoted names of a location (a fused location's, in order)."""
    return re.findall(r'"([^"]*)"(?!:)', location)


def built_launches(dump, layers, epilogues, func="train_step"):
    """(layer or None, count) per launch or library call of `func`, in
    order, each counted as often as the host loops around it iterate
    (kernel_counts.host_ops). `layers` maps each layer's location to its
    position; `epilogues` an epilogue's location to its product's."""
    resolve = resolve_locations(dump)
    out = []
    for text, times in kernel_counts.host_ops(dump, func):
        if ("gpu.launch_func" not in text and
                not kernel_counts.is_library_call(text)):
            continue
        loc = re.search(r"loc\((#loc\d*)\)\s*$", text)
        names = names_of(resolve(loc.group(1))) if loc else []
        known = [n for n in names if n in layers]
        # The earliest layer a fused location names; a product's call
        # carries its epilogue's location: charge the product.
        layer = min(known, key=lambda n: layers[n]) if known else None
        if layer is not None and layer in epilogues:
            layer = epilogues[layer]
        out.append((layer, times))
    return out


def compare(opt, model, training, fuse_attention, tmp, key):
    if fuse_attention:
        fused = os.path.join(tmp, key + ".fused.mlir")
        run([opt, model, "--autopar-fuse-attention", "--mlir-print-debuginfo",
             "-o", fused])
        model = fused
    report = os.path.join(tmp, key + ".json")
    # The step's loss priced too (at location `loss`, forward only: its
    # gradient is one of its ops).
    loss = [o for o in training.split() if o.startswith("loss=")]
    run([opt, model, "--autopar-analyze=report=%s %s" % (report,
                                                        " ".join(loss)),
         "-o", os.devnull])
    layers = json.load(open(report))["layers"]
    priced = collections.OrderedDict()
    epilogues = {}
    product = None
    for layer in layers:
        entry = priced.setdefault(layer["loc"], [0.0, 0.0])
        entry[0] += layer["launches"]
        entry[1] += layer.get("bwd_launches", 0.0)
        if layer["launches"] > 0:
            product = layer["loc"]
        if layer["in_gemm_epilogue"] and product:
            epilogues[layer["loc"]] = product
    step = os.path.join(tmp, key + ".step.mlir")
    run([opt, model, "--autopar-training=" + training,
         "--mlir-print-debuginfo", "-o", step])
    lowered = subprocess.run(
        [opt, step, "--autopar-lower-to-cuda=format=isa",
         "--mlir-print-debuginfo",
         "--mlir-print-ir-after=autopar-order-on-stream", "-o", os.devnull],
        check=True, capture_output=True, text=True).stderr
    order = {loc: i for i, loc in enumerate(priced)}
    launches = built_launches(lowered, order, epilogues)
    built = {loc: [0, 0] for loc in priced}
    other = {"unlocated": 0, "update": 0}
    last_layer = max((i for i, (layer, _) in enumerate(launches) if layer),
                     default=-1)
    backward = False
    for i, (layer, times) in enumerate(launches):
        if layer == "loss" and "loss" in priced:
            # The loss and its gradient (priced as the loss's forward), then
            # the backward.
            backward = True
            built[layer][0] += times
        elif layer is None:
            # (One before any layer's, a 16-bit step's parameter casts,
            # starts nothing.)
            backward = backward or any(l for l, _ in launches[:i])
            other["unlocated" if i < last_layer else "update"] += times
        else:
            built[layer][1 if backward else 0] += times
    return priced, built, other


def fmt(value):
    return ("%g" % value) if value == int(value) else ("%.2f" % value)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--models", default="mlp,alexnet,gpt,llama")
    parser.add_argument("--fuse-attention", action="store_true")
    parser.add_argument("--all-layers", action="store_true")
    args = parser.parse_args()
    opt = os.path.join(args.build, "bin", "autopar-opt")
    summary = []
    with tempfile.TemporaryDirectory() as tmp:
        for key in args.models.split(","):
            name, _, training = kernel_counts.MODELS[key]
            model = kernel_counts.model_path(key, tmp)
            if model is None:
                continue
            priced, built, other = compare(opt, model, training,
                                           args.fuse_attention, tmp, key)
            print("## %s" % name)
            print("| layer | forward priced | built | backward priced "
                  "| built |")
            print("|---|---|---|---|---|")
            totals = [0.0, 0, 0.0, 0]
            for loc, (fwd, bwd) in priced.items():
                got = built[loc]
                totals[0] += fwd
                totals[1] += got[0]
                totals[2] += bwd
                totals[3] += got[1]
                if args.all_layers or fwd != got[0] or bwd != got[1]:
                    print("| %s | %s | %d | %s | %d |" % (
                        loc, fmt(fwd), got[0], fmt(bwd), got[1]))
            print("| all layers | %s | %d | %s | %d |" % (
                fmt(totals[0]), totals[1], fmt(totals[2]), totals[3]))
            print("\nat no layer (built): %d, update (built): %d\n" % (
                other["unlocated"], other["update"]))
            summary.append((name, totals))
    print("| model | forward priced / built | backward priced / built |")
    print("|---|---|---|")
    for name, (fp, fb, bp, bb) in summary:
        print("| %s | %s / %d | %s / %d |" % (name, fmt(fp), fb, fmt(bp), bb))


if __name__ == "__main__":
    main()
