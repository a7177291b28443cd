#!/usr/bin/env python3
"""Checks autopar-training's gradients against finite differences on CPU.

  gradcheck.py --opt autopar-opt --runner mlir-runner --libs DIR MODEL.mlir
               [--loss auto|softmax-cross-entropy|mse] [--checks 4]
               [--h 1e-6] [--tol 1e-6] [--seed 1]

Builds the training step of MODEL (f64 recommended) with
`--autopar-training="... optimizer=sgd lr=0 return-gradients=true"`, then a
`@main` that fills every argument with seeded random values, calls the step
once for the analytic gradients and, for `--checks` elements of every
parameter, twice more with the element moved by +h and -h for the central
difference (loss(+h) - loss(-h)) / 2h. The relative error
|g - fd| / max(|g|, |fd|, 1e-3) (relative, absolute below 1e-3) is
computed inside the program (printing
is only 6 digits) and printed with both values; the module is lowered with
`--autopar-lower-to-cpu` and run by mlir-runner. Prints one line per
checked element and the maximum relative error; exits 1 above --tol.
"""

import argparse
import os
import re
import subprocess
import sys


def run(command, **kwargs):
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        sys.exit("failed: %s\n%s%s" % (" ".join(command), result.stdout,
                                       result.stderr))
    return result.stdout


def split_types(text):
    """Top-level comma-separated types of a signature fragment."""
    types, depth, current = [], 0, ""
    for ch in text:
        if ch in "<(":
            depth += 1
        elif ch in ">)":
            depth -= 1
        if ch == "," and depth == 0:
            types.append(current.strip())
            current = ""
        else:
            current += ch
    if current.strip():
        types.append(current.strip())
    return types


def parse_tensor(type_text):
    match = re.match(r"tensor<((?:\d+x)*)(\w+)>", type_text)
    shape = [int(d) for d in match.group(1).split("x") if d]
    return shape, match.group(2)


class Random:
    def __init__(self, seed):
        self.state = seed * 2654435761 % 2 ** 32 or 1

    def next(self):
        self.state = (1103515245 * self.state + 12345) % 2 ** 31
        return self.state / 2 ** 31


def dense(shape, element, values):
    """A dense literal of `shape` (nested brackets) and its type."""
    type_text = "tensor<%s%s>" % ("".join("%dx" % d for d in shape), element)
    fmt = str if element.startswith("i") else (lambda v: "%.17e" % v)

    def nest(dims, flat):
        if not dims:
            return fmt(flat[0])
        step = len(flat) // dims[0]
        return "[%s]" % ", ".join(nest(dims[1:], flat[i * step:(i + 1) * step])
                                  for i in range(dims[0]))

    return "dense<%s> : %s" % (nest(shape, values), type_text), type_text


def execute(args, training, lines, functions=()):
    """Appends `functions` (lines of whole functions) and `lines` (the body
    of @main) to the training module, lowers it with
    --autopar-lower-to-cpu, runs it with mlir-runner and returns the
    numbers it printed."""
    lines = list(functions) + lines + ["  return", "}"]
    module = training.rstrip()
    assert module.endswith("}")
    module = module[:-1] + "\n".join("  " + l for l in lines) + "\n}\n"
    if args.keep:
        with open(args.keep, "w") as f:
            f.write(module)
    pipeline = "--autopar-lower-to-cpu"
    if args.lower_options:
        pipeline += "=" + args.lower_options
    lowered = run([args.opt, pipeline], input=module)
    libs = ",".join(os.path.join(args.libs, name) for name in
                    ("libmlir_c_runner_utils.so", "libmlir_runner_utils.so"))
    output = run([args.runner, "-e", "main", "-entry-point-result=void",
                  "-" + args.jit_opt, "-shared-libs=" + libs], input=lowered)
    return [float(x) for x in output.split()]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("--opt", required=True)
    parser.add_argument("--runner", required=True)
    parser.add_argument("--libs", required=True)
    parser.add_argument("--loss", default="softmax-cross-entropy")
    parser.add_argument("--checks", type=int, default=4)
    parser.add_argument("--h", type=float, default=1e-6)
    parser.add_argument("--tol", type=float, default=1e-6)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", help="write the harness here")
    parser.add_argument("--lower-options", default="",
                        help="options of autopar-lower-to-cpu, e.g. "
                             "attention-block-bytes=256")
    parser.add_argument("--jit-opt", default="O2",
                        help="mlir-runner's optimisation level (O0 compiles "
                        "big harnesses faster)")
    parser.add_argument("--result", type=int,
                        help="the forward result that is the model's output")
    parser.add_argument("--int-range", type=int, default=1000,
                        help="integer inputs (token ids) are drawn from "
                        "[0, this)")
    parser.add_argument("--max-params", type=int, default=0,
                        help="check at most this many parameters, evenly "
                        "spaced from the first to the last (large models)")
    parser.add_argument("--train-steps", type=int, default=0,
                        help="instead of checking gradients, run this many "
                        "training steps and check that the loss falls")
    parser.add_argument("--optimizer", default="momentum")
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--fall", type=float, default=0.5,
                        help="the last loss must be below this fraction of "
                        "the first")
    args = parser.parse_args()

    if args.train_steps:
        options = "loss=%s optimizer=%s lr=%r" % (args.loss, args.optimizer,
                                                  args.lr)
    else:
        options = "loss=%s optimizer=sgd lr=0 return-gradients=true" % args.loss
    if args.result is not None:
        options += " result=%d" % args.result
    training = run([args.opt, args.model, "--autopar-training=" + options])
    signature = re.search(r"func\.func @train_step\((.*?)\)\s*->\s*\((.*?)\)\s*\{",
                          training, re.S)
    arg_types = [re.sub(r"%\w+: ", "", re.sub(r"\{[^}]*\}", "", t)).strip()
                 for t in split_types(signature.group(1))]
    result_types = [re.sub(r"\{[^}]*\}", "", t).strip()
                    for t in split_types(signature.group(2))]
    # Parameters: the arguments with role "param", in order.
    arg_texts = split_types(signature.group(1))
    params = [i for i, t in enumerate(arg_texts) if 'autopar.role = "param"' in t]
    labels = [i for i, t in enumerate(arg_texts) if 'autopar.role = "label"' in t]
    num_params = len(params)
    loss_index = num_params  # sgd: new params, then the loss, then gradients
    grad_index = loss_index + 1

    arg_texts = split_types(signature.group(1))
    random = Random(args.seed)
    lines = ["func.func @main() {"]
    values = []
    for i, type_text in enumerate(arg_types):
        shape, element = parse_tensor(type_text)
        count = 1
        for d in shape:
            count *= d
        if element.startswith("i"):
            data = [int(random.next() * args.int_range) for _ in range(count)]
        else:
            # Parameters scaled by 1/sqrt(fan-in) so that activations stay
            # near 1 and no ReLU or max is within h of a kink by accident.
            scale = 1.0
            if 'autopar.role = "param"' in arg_texts[i] and len(shape) > 1:
                scale = (count // shape[0]) ** -0.5
            data = [scale * (2 * random.next() - 1) for _ in range(count)]
        values.append((shape, element, data))
    # Labels index the classes of the logits (the model's output).
    if labels:
        logits_shape = None
        forward = re.search(r"func\.func @forward\((.*?)\)\s*->\s*(tensor<[^>]*>)",
                            training, re.S)
        if forward:
            logits_shape, _ = parse_tensor(forward.group(2))
        for i in labels:
            shape, element, data = values[i]
            if element.startswith("i") and logits_shape:
                values[i] = (shape, element,
                             [d % logits_shape[-1] for d in data])
    states = [i for i, t in enumerate(arg_texts) if 'autopar.role = "state"' in t]
    for i in states:
        shape, element, data = values[i]
        values[i] = (shape, element, [0.0] * len(data))
    for i, (shape, element, data) in enumerate(values):
        literal, type_text = dense(shape, element, data)
        lines.append("  %%a%d = arith.constant %s" % (i, literal))

    all_args = ", ".join("%%a%d" % i for i in range(len(arg_types)))
    signature_text = "(%s) -> (%s)" % (", ".join(arg_types), ", ".join(result_types))
    n_results = len(result_types)
    if args.train_steps:
        return train(args, training, lines, arg_types, result_types, params,
                     states, signature_text)
    lines.append("  %%r:%d = call @train_step(%s) : %s" % (n_results, all_args,
                                                          signature_text))
    lines.append("  %%h = arith.constant %.17e : f64" % args.h)
    lines.append("  %%two_h = arith.constant %.17e : f64" % (2 * args.h))
    lines.append("  %tiny = arith.constant 1.0e-3 : f64")
    checked = []
    # One @probe_<p> per checked parameter: the step's loss with one element
    # of the parameter set to a value. Main calls it twice per checked
    # element, so that the step has one call site per parameter (each call
    # site's argument and result plumbing is code the JIT compiles: calling
    # the step itself twice per element made main most of the program).
    functions = []
    arg_list = ", ".join("%%a%d: %s" % (i, t) for i, t in enumerate(arg_types))
    loss_element = result_types[loss_index][7:-1]
    chosen = list(range(len(params)))
    if args.max_params and len(params) > args.max_params:
        n = args.max_params
        chosen = sorted({round(k * (len(params) - 1) / (n - 1)) for k in range(n)})
    for p, arg in enumerate(params):
        if p not in chosen:
            continue
        shape, element, _ = values[arg]
        count = 1
        for d in shape:
            count *= d
        picks = sorted({int(random.next() * count) for _ in range(args.checks)})
        ptype = arg_types[arg]
        rank_indices = ", ".join("%%i%d" % k for k in range(len(shape)))
        functions.append("func.func @probe_%d(%s%s, %%v: f64) -> %s {"
                         % (p, arg_list,
                            "".join(", %%i%d: index" % k
                                    for k in range(len(shape))),
                            loss_element))
        functions.append("  %%t = tensor.insert %%v into %%a%d[%s] : %s"
                         % (arg, rank_indices, ptype))
        functions.append("  %%r:%d = call @train_step(%s) : %s"
                         % (n_results, ", ".join(
                             "%t" if i == arg else "%%a%d" % i
                             for i in range(len(arg_types))), signature_text))
        functions.append("  %%l = tensor.extract %%r#%d[] : %s"
                         % (loss_index, result_types[loss_index]))
        functions.append("  return %%l : %s" % loss_element)
        functions.append("}")
        probe_type = "(%s%s, f64) -> %s" % (
            ", ".join(arg_types), ", index" * len(shape), loss_element)
        for flat in picks:
            index = []
            rest = flat
            for d in reversed(shape):
                index.append(rest % d)
                rest //= d
            index.reverse()
            tag = "p%d_%d" % (p, flat)
            idx_names = []
            for k, v in enumerate(index):
                lines.append("  %%%s_i%d = arith.constant %d : index" % (tag, k, v))
                idx_names.append("%%%s_i%d" % (tag, k))
            idx = ", ".join(idx_names)
            lines.append("  %%%s_g = tensor.extract %%r#%d[%s] : %s"
                         % (tag, grad_index + p, idx, ptype))
            lines.append("  %%%s_v = tensor.extract %%a%d[%s] : %s" % (tag, arg, idx, ptype))
            for sign, op in (("plus", "addf"), ("minus", "subf")):
                lines.append("  %%%s_%s_v = arith.%s %%%s_v, %%h : f64" % (tag, sign, op, tag))
                lines.append("  %%%s_%s_l = call @probe_%d(%s) : %s"
                             % (tag, sign, p, ", ".join(
                                 [all_args] + idx_names +
                                 ["%%%s_%s_v" % (tag, sign)]), probe_type))
            lines.append("  %%%s_d = arith.subf %%%s_plus_l, %%%s_minus_l : f64" % (tag, tag, tag))
            lines.append("  %%%s_fd = arith.divf %%%s_d, %%two_h : f64" % (tag, tag))
            lines.append("  %%%s_e = arith.subf %%%s_g, %%%s_fd : f64" % (tag, tag, tag))
            lines.append("  %%%s_ae = math.absf %%%s_e : f64" % (tag, tag))
            lines.append("  %%%s_ag = math.absf %%%s_g : f64" % (tag, tag))
            lines.append("  %%%s_af = math.absf %%%s_fd : f64" % (tag, tag))
            lines.append("  %%%s_m1 = arith.maximumf %%%s_ag, %%%s_af : f64" % (tag, tag, tag))
            lines.append("  %%%s_m = arith.maximumf %%%s_m1, %%tiny : f64" % (tag, tag))
            lines.append("  %%%s_rel = arith.divf %%%s_ae, %%%s_m : f64" % (tag, tag, tag))
            lines.append("  vector.print %%%s_g : f64" % tag)
            lines.append("  vector.print %%%s_fd : f64" % tag)
            lines.append("  vector.print %%%s_rel : f64" % tag)
            checked.append("param %d element %d" % (p, flat))
    numbers = execute(args, training, lines, functions)
    worst = 0.0
    for k, what in enumerate(checked):
        g, fd, rel = numbers[3 * k:3 * k + 3]
        worst = max(worst, rel)
        print("%-24s analytic %13.6e  finite difference %13.6e  rel %.2e"
              % (what, g, fd, rel))
    print("checked %d elements, max relative error %.2e (tolerance %.0e): %s"
          % (len(checked), worst, args.tol, "PASS" if worst <= args.tol else "FAIL"))
    sys.exit(0 if worst <= args.tol else 1)


def train(args, training, lines, arg_types, result_types, params, states,
          signature_text):
    """Runs the steps, feeding each step's parameters and state to the next;
    prints the losses; the last must be below args.fall x the first."""
    names = ["%%a%d" % i for i in range(len(arg_types))]
    n_results = len(result_types)
    loss_type = result_types[-1]
    for step in range(args.train_steps):
        lines.append("  %%s%d:%d = call @train_step(%s) : %s"
                     % (step, n_results, ", ".join(names), signature_text))
        lines.append("  %%l%d = tensor.extract %%s%d#%d[] : %s"
                     % (step, step, n_results - 1, loss_type))
        lines.append("  vector.print %%l%d : %s" % (step, loss_type[7:-1]))
        # Results: new parameters, new state (and Adam's step), the loss.
        for k, arg in enumerate(params + states):
            names[arg] = "%%s%d#%d" % (step, k)
    losses = execute(args, training, lines)
    for step, loss in enumerate(losses):
        print("step %d loss %.6f" % (step, loss))
    ok = losses[-1] < args.fall * losses[0]
    print("loss %.6f -> %.6f (ratio %.3f, must be below %.2f): %s"
          % (losses[0], losses[-1], losses[-1] / losses[0], args.fall,
             "PASS" if ok else "FAIL"))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
