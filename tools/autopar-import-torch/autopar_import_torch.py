"""autopar-import-torch: a PyTorch nn.Module as linalg on tensors for autopar.

    autopar-import-torch MODEL [options] [-o FILE]

MODEL is one of
  torchvision:NAME[:key=value,...]   a torchvision classification model built
                                     untrained (no download), e.g.
                                     torchvision:resnet50
  hf:ARCH[:key=value,...]            a Hugging Face transformers model built
                                     from a configuration only (no hub
                                     access), ARCH one of gpt2, bert, llama,
                                     t5, vit, whisper; keys override the
                                     configuration, e.g. hf:gpt2:n_layer=2
  FILE.py:CLASS[:key=value,...]      a user's module, CLASS(**keys)

The module is exported in evaluation mode (dropout off, batch norm with its
running statistics) through torch.export and torch-mlir's FX importer, as
MLIR text in linalg on tensors. By default parameters and buffers become
arguments of @forward, ahead of the inputs, marked `autopar.role = "param"`
(parameters) and `"state"` (buffers), the inputs `"input"`, so that
autopar's planner and training pass see weights as weights.
"""

import argparse
import importlib.util
import os
import re
import sys
import time

DTYPES = {"f32": "float32", "bf16": "bfloat16", "f16": "float16"}


def fail(message):
    sys.stderr.write("autopar-import-torch: error: %s\n" % message)
    sys.exit(1)


def parse_value(text):
    """A key=value override's value: int, float, bool or string."""
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    if text in ("true", "True"):
        return True
    if text in ("false", "False"):
        return False
    return text


def parse_overrides(text, spec):
    overrides = {}
    if not text:
        return overrides
    for item in text.split(","):
        if "=" not in item:
            fail("'%s' in '%s': overrides are key=value" % (item, spec))
        key, value = item.split("=", 1)
        overrides[key.strip()] = parse_value(value.strip())
    return overrides


def split_spec(spec):
    """('torchvision'|'hf'|'file', name, overrides) from MODEL."""
    for kind in ("torchvision", "hf"):
        if spec.startswith(kind + ":"):
            rest = spec[len(kind) + 1:]
            name, _, overrides = rest.partition(":")
            return kind, name, parse_overrides(overrides, spec)
    match = re.match(r"^(.*\.py):([A-Za-z_][A-Za-z_0-9]*)(?::(.*))?$", spec)
    if match:
        return "file", (match.group(1), match.group(2)), parse_overrides(
            match.group(3), spec)
    fail("'%s' is not a model: use torchvision:NAME, hf:ARCH or FILE.py:CLASS"
         % spec)


# --- Model builders --------------------------------------------------------
# Each returns (Call, example inputs, input names). Inputs are built from the
# options: batch, image size, sequence length.


class Call:
    """A model with the keyword arguments it is called with, computed from
    its inputs (attention masks, no caches, tuples rather than dicts); the
    export keeps its first output (the logits)."""

    def __init__(self, model, keywords=lambda *inputs: {}, positional=None):
        self.model = model
        self.keywords = keywords
        # How many of the inputs the model takes positionally (all when
        # None); the rest reach it through `keywords` only.
        self.positional = positional

    def __call__(self, model, inputs):
        """`model` (this call's model or a functional stand-in for it)
        called on `inputs` as this call calls its model."""
        positional = inputs if self.positional is None \
            else inputs[:self.positional]
        return model(*positional, **self.keywords(*inputs))


def build_torchvision(torch, name, overrides, args):
    import torchvision

    try:
        builder = torchvision.models.get_model_builder(name)
    except ValueError:
        names = sorted(torchvision.models.list_models(torchvision.models))
        fail("torchvision has no classification model '%s'; it has: %s"
             % (name, ", ".join(names)))
    kwargs = {"weights": None}
    # Inception v3 and GoogLeNet add auxiliary heads in training mode and
    # want them off for an untrained export.
    if name in ("inception_v3", "googlenet"):
        kwargs.update(aux_logits=False, init_weights=False)
    kwargs.update(overrides)
    model = builder(**kwargs)
    size = args.image_size or (299 if name == "inception_v3" else 224)
    shape = args.input_shape or [args.batch, 3, size, size]
    return Call(model), [torch.randn(*shape)], ["image"]


def _token_ids(torch, args, vocab):
    shape = args.input_shape or [args.batch, args.seq_len]
    generator = torch.Generator().manual_seed(0)
    return torch.randint(0, vocab, shape, generator=generator,
                         dtype=torch.int64)


# Language models: (configuration class, model class, configuration
# defaults, keyword arguments beside the attention mask).
LANGUAGE_MODELS = {
    "gpt2": ("GPT2Config", "GPT2LMHeadModel", {}, {"use_cache": False}),
    "bert": ("BertConfig", "BertForMaskedLM", {}, {}),
    "llama": ("LlamaConfig", "LlamaForCausalLM",
              {"hidden_size": 256, "intermediate_size": 688,
               "num_attention_heads": 4, "num_key_value_heads": 4,
               "num_hidden_layers": 2, "vocab_size": 32000},
              {"use_cache": False}),
    "t5": ("T5Config", "T5ForConditionalGeneration", {}, {"use_cache": False}),
}


def build_hf(torch, arch, overrides, args):
    try:
        import transformers
    except ImportError:
        fail("the transformers package is missing from the importer's "
             "environment (scripts/torch-env.sh installs it)")
    tuples = lambda *inputs: {"return_dict": False}
    if arch in LANGUAGE_MODELS:
        config_class, model_class, defaults, keywords = LANGUAGE_MODELS[arch]
        if arch == "gpt2" and "vocab_size" in overrides:
            # GPT-2's special tokens are its last one (50256).
            for key in ("bos_token_id", "eos_token_id"):
                overrides.setdefault(key, overrides["vocab_size"] - 1)
        config = getattr(transformers, config_class)(
            **dict(defaults, **overrides))
        model = getattr(transformers, model_class)(config)
        ids = _token_ids(torch, args, config.vocab_size)

        def call_keywords(x, mask=None):
            called = dict(keywords, return_dict=False, attention_mask=(
                torch.ones_like(x) if mask is None else mask))
            if arch == "t5":  # the decoder reads the input ids too
                called["decoder_input_ids"] = x
            return called

        call = Call(model, call_keywords, positional=1)
        inputs, names = [ids], ["input_ids"]
        if args.padding_mask:
            # Each sequence padded at its end: row r keeps its first
            # S - r * S / (2 * batch) tokens (at least one).
            mask = torch.ones_like(ids)
            batch, seq = ids.shape[0], ids.shape[-1]
            for row in range(batch):
                mask[row, max(1, seq - row * seq // (2 * batch)):] = 0
            inputs.append(mask)
            names.append("attention_mask")
    elif arch == "vit":
        if args.image_size:
            overrides.setdefault("image_size", args.image_size)
        config = transformers.ViTConfig(**overrides)
        model = transformers.ViTForImageClassification(config)
        shape = args.input_shape or [args.batch, config.num_channels,
                                     config.image_size, config.image_size]
        call, inputs, names = Call(model, tuples), [torch.randn(*shape)], \
            ["pixel_values"]
    elif arch == "whisper":
        config = transformers.WhisperConfig(**overrides)
        model = transformers.WhisperForAudioClassification(config)
        frames = 2 * config.max_source_positions
        shape = args.input_shape or [args.batch, config.num_mel_bins, frames]
        call, inputs, names = Call(model, tuples), [torch.randn(*shape)], \
            ["input_features"]
    else:
        fail("unknown Hugging Face architecture '%s': use gpt2, bert, llama, "
             "t5, vit or whisper" % arch)
    # sdpa attention does not export through torch-mlir (FRONTEND.md).
    model.config._attn_implementation = "eager"
    return call, inputs, names


def build_file(torch, where, overrides, args):
    path, cls = where
    if not os.path.exists(path):
        fail("'%s' does not exist" % path)
    spec = importlib.util.spec_from_file_location("autopar_user_module", path)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
    spec.loader.exec_module(module)
    if not hasattr(module, cls):
        fail("'%s' defines no '%s'" % (path, cls))
    model = getattr(module, cls)(**overrides)
    if not args.input_shape:
        if not hasattr(module, "example_inputs"):
            fail("'%s' has no example_inputs(batch) function: give "
                 "--input-shape" % path)
        inputs = list(module.example_inputs(args.batch))
        return Call(model), inputs, ["input%d" % i for i in range(len(inputs))]
    names = dict(DTYPES, i64="int64", i32="int32")
    dtype = getattr(torch, names.get(args.input_dtype, args.input_dtype), None)
    if dtype is not None and not dtype.is_floating_point:
        return Call(model), [torch.zeros(*args.input_shape, dtype=dtype)], \
            ["input"]
    return Call(model), [torch.randn(*args.input_shape, dtype=dtype)], \
        ["input"]


# --- Export ----------------------------------------------------------------


def params_as_args(torch, select, names):
    """A module whose forward takes `select`'s model's parameters and buffers
    (`names`) as arguments ahead of its inputs (torch.func.functional_call),
    so that the export has no weight constants. The model is held outside
    the module tree so that torch.export lifts nothing of it."""

    class ParamsAsArgs(torch.nn.Module):
        def forward(self, *args):
            state = dict(zip(names, args[:len(names)]))
            inputs = tuple(args[len(names):])
            return first_output(select(
                lambda *positional, **keywords: torch.func.functional_call(
                    select.model, state, positional, keywords), inputs))

    return ParamsAsArgs()


def first_output(outputs):
    while isinstance(outputs, (tuple, list)):
        outputs = outputs[0]
    if hasattr(outputs, "to_tuple"):
        return first_output(outputs.to_tuple())
    return outputs


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="autopar-import-torch",
        description="Export a PyTorch nn.Module as linalg on tensors for "
        "autopar (torch-mlir's FX importer).",
        epilog="Examples: autopar-import-torch torchvision:resnet18 "
        "--batch 8 --image-size 64 -o resnet18.mlir; autopar-import-torch "
        "hf:gpt2:n_layer=2 --batch 4 --seq-len 64 -o gpt2.mlir")
    parser.add_argument("model", help="torchvision:NAME, hf:ARCH or "
                        "FILE.py:CLASS, each with optional :key=value,...")
    parser.add_argument("-o", "--output", default="-",
                        help="output file (default: stdout)")
    parser.add_argument("--batch", type=int, default=8,
                        help="batch size of the example input (default 8)")
    parser.add_argument("--image-size", type=int, default=0,
                        help="image height and width (vision models)")
    parser.add_argument("--seq-len", type=int, default=128,
                        help="sequence length (language models, default 128)")
    parser.add_argument("--input-shape", default="",
                        help="the input's shape, e.g. 8x3x32x32 (overrides "
                        "--batch/--image-size/--seq-len)")
    parser.add_argument("--input-dtype", default="f32",
                        help="element type of a FILE.py model's input built "
                        "from --input-shape: f32, bf16, f16, i64, i32")
    parser.add_argument("--dtype", choices=sorted(DTYPES), default="f32",
                        help="parameter and activation type (default f32)")
    parser.add_argument("--params-as-args", dest="params_as_args",
                        action="store_true", default=True,
                        help="parameters and buffers become arguments "
                        "(default)")
    parser.add_argument("--params-as-constants", dest="params_as_args",
                        action="store_false",
                        help="keep weights as constants in the IR (large "
                        "files: every weight is written out)")
    parser.add_argument("--dialect", choices=["linalg", "tosa"],
                        default="linalg",
                        help="linalg on tensors (default) or TOSA, as "
                        "torch-mlir lowers it; autopar imports TOSA itself")
    parser.add_argument("--func-name", default="forward",
                        help="name of the exported function")
    parser.add_argument("--padding-mask", action="store_true",
                        help="hf language models: the attention mask is an "
                        "input (int64, batch x seq; the example pads each "
                        "sequence at its end) instead of all ones")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the random initialisation")
    args = parser.parse_args(argv)
    if args.input_shape:
        try:
            args.input_shape = [int(d) for d in args.input_shape.split("x")]
        except ValueError:
            fail("--input-shape '%s' is not a shape like 8x3x32x32"
                 % args.input_shape)
    if args.batch < 1 or args.seq_len < 1 or args.image_size < 0:
        fail("--batch, --seq-len and --image-size must be positive")

    kind, name, overrides = split_spec(args.model)
    if args.padding_mask and (kind != "hf" or name not in LANGUAGE_MODELS):
        fail("--padding-mask is for Hugging Face language models (hf:%s)"
             % ", hf:".join(sorted(LANGUAGE_MODELS)))
    start = time.time()
    try:
        import torch
        from torch_mlir import fx
        from torch_mlir import ir
    except ImportError as error:
        fail("%s: run scripts/torch-env.sh to create the importer's "
             "environment" % error)
    torch.manual_seed(args.seed)

    builders = {"torchvision": build_torchvision, "hf": build_hf,
                "file": build_file}
    try:
        call, inputs, input_names = builders[kind](torch, name, overrides,
                                                   args)
    except TypeError as error:  # an override the model does not take
        if kind != "hf":
            raise
        fail("hf:%s: %s" % (name, error))
    model = call.model
    model.eval()
    dtype = getattr(torch, DTYPES[args.dtype])
    if dtype != torch.float32:
        model.to(dtype)  # in place
        inputs = [x.to(dtype) if x.is_floating_point() else x
                  for x in inputs]

    params = list(model.named_parameters())
    buffers = [(n, b) for n, b in model.named_buffers()]
    if args.params_as_args:
        names = [n for n, _ in params] + [n for n, _ in buffers]
        tensors = [p.detach() for _, p in params] + [b for _, b in buffers]
        exported = params_as_args(torch, call, names)
        example = tuple(tensors) + tuple(inputs)
        roles = ["param"] * len(params) + ["state"] * len(buffers) + \
            ["input"] * len(inputs)
    else:
        class WeightsAsConstants(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.inner = model

            def forward(self, *x):
                return first_output(call(self.inner, x))

        exported = WeightsAsConstants()
        example = tuple(inputs)
        roles = ["input"] * len(inputs)

    with torch.no_grad():
        try:
            module = fx.export_and_import(
                exported, *example,
                output_type="tosa" if args.dialect == "tosa"
                else "linalg-on-tensors",
                func_name=args.func_name)
        except Exception as error:  # torch.export and torch-mlir raise many
            message = str(error).strip().splitlines()
            fail("%s could not be exported: %s: %s" % (
                args.model, type(error).__name__,
                message[0] if message else ""))

    with module.context:
        func = None
        for op in module.body.operations:
            if op.operation.name == "func.func" and \
                    ir.StringAttr(op.attributes["sym_name"]).value == \
                    args.func_name:
                func = op
        if func is None:
            fail("the export has no function @%s" % args.func_name)
        count = len(ir.FunctionType(
            ir.TypeAttr(func.attributes["function_type"]).value).inputs)
        if count != len(roles):
            fail("the export has %d arguments where %d were expected "
                 "(%d parameters, %d buffers, %d inputs)" % (
                     count, len(roles), len(params), len(buffers),
                     len(inputs)))
        func.attributes["arg_attrs"] = ir.ArrayAttr.get([
            ir.DictAttr.get({"autopar.role": ir.StringAttr.get(role)})
            for role in roles])
        text = str(module)

    header = "// autopar-import-torch %s: batch %d, %s, %d parameter " \
        "tensors (%d elements), %d buffers, inputs %s\n" % (
            args.model, args.batch, args.dtype, len(params),
            sum(p.numel() for _, p in params), len(buffers),
            ", ".join("%s %s" % (n, "x".join(str(d) for d in x.shape))
                      for n, x in zip(input_names, inputs)))
    if args.output == "-":
        sys.stdout.write(header + text)
    else:
        with open(args.output, "w") as out:
            out.write(header + text)
    sys.stderr.write("autopar-import-torch: %s: %d parameter tensors, "
                     "%d buffers, %d inputs -> %s (%.1f s)\n" % (
                         args.model, len(params), len(buffers), len(inputs),
                         args.output if args.output != "-" else "stdout",
                         time.time() - start))
    return 0


if __name__ == "__main__":
    sys.exit(main())
