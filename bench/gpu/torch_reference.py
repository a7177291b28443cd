#!/usr/bin/env python3
"""Reference measurements on the present GPU with PyTorch eager.

What the cost model is checked against (bench/gpu/compare.py): achieved
GEMM FLOP/s, memory bandwidth and kernel launch overhead; per-layer forward
times and whole training steps (forward, backward, SGD with momentum) of
the models that models/generate.py emits, built layer for layer the same:

  * AlexNet (tf_cnn_benchmarks: 227x227, 64-192-384-384-256, no LRN or
    dropout), f32 with TF32 off, mini-batch 128 and 512; mini-batch 128
    in bf16 (parameters and activations);
  * GPT-2 small (12 blocks, hidden 768, 12 heads, sequence 1024, tied
    embedding), batch 8, f32 (TF32 off) and bf16 (parameters and
    activations in bf16).

Usage: torch_reference.py [--out FILE.json]. Needs torch and one GPU.
"""

import argparse
import json
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def cuda_time(fn, warmup=3, iters=10):
    """Median seconds of fn() over iters runs, timed with CUDA events."""
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(iters):
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end) / 1e3)
    times.sort()
    return times[len(times) // 2]


def gemm(dtype, n=8192):
    a = torch.randn(n, n, device="cuda", dtype=dtype)
    b = torch.randn(n, n, device="cuda", dtype=dtype)
    seconds = cuda_time(lambda: a @ b)
    return 2 * n ** 3 / seconds


def bandwidth():
    x = torch.empty(1 << 28, device="cuda", dtype=torch.float32)  # 1 GiB
    y = torch.empty_like(x)
    seconds = cuda_time(lambda: y.copy_(x))
    return 2 * x.numel() * 4 / seconds


def launch_overhead():
    x = torch.zeros(1, device="cuda")
    n = 2000

    def many():
        for _ in range(n):
            x.add_(1)

    return cuda_time(many, warmup=1, iters=5) / n


class AlexNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 11, 4, 0)
        self.conv2 = nn.Conv2d(64, 192, 5, 1, 2)
        self.conv3 = nn.Conv2d(192, 384, 3, 1, 1)
        self.conv4 = nn.Conv2d(384, 384, 3, 1, 1)
        self.conv5 = nn.Conv2d(384, 256, 3, 1, 1)
        self.fc6 = nn.Linear(9216, 4096)
        self.fc7 = nn.Linear(4096, 4096)
        self.fc8 = nn.Linear(4096, 1000)

    def layers(self):
        pool = lambda x: F.max_pool2d(x, 3, 2)
        return [
            ("conv1", lambda x: F.relu(self.conv1(x))), ("pool1", pool),
            ("conv2", lambda x: F.relu(self.conv2(x))), ("pool2", pool),
            ("conv3", lambda x: F.relu(self.conv3(x))),
            ("conv4", lambda x: F.relu(self.conv4(x))),
            ("conv5", lambda x: F.relu(self.conv5(x))), ("pool5", pool),
            ("fc6", lambda x: F.relu(self.fc6(torch.flatten(x, 1)))),
            ("fc7", lambda x: F.relu(self.fc7(x))),
            ("fc8", lambda x: self.fc8(x)),
        ]

    def forward(self, x):
        for _, layer in self.layers():
            x = layer(x)
        return x


class Block(nn.Module):
    def __init__(self, hidden, heads):
        super().__init__()
        self.heads = heads
        self.ln_1 = nn.LayerNorm(hidden, eps=1e-5)
        self.qkv = nn.Linear(hidden, 3 * hidden)
        self.proj = nn.Linear(hidden, hidden)
        self.ln_2 = nn.LayerNorm(hidden, eps=1e-5)
        self.fc = nn.Linear(hidden, 4 * hidden)
        self.mlp_proj = nn.Linear(4 * hidden, hidden)

    def forward(self, x):
        b, s, h = x.shape
        q, k, v = self.qkv(self.ln_1(x)).split(h, dim=2)
        shape = (b, s, self.heads, h // self.heads)
        q, k, v = (t.view(shape).transpose(1, 2) for t in (q, k, v))
        # Explicit attention (as the generated IR computes it), not flash.
        scores = q @ k.transpose(-1, -2) / math.sqrt(h // self.heads)
        mask = torch.ones(s, s, device=x.device, dtype=torch.bool).tril()
        scores = scores.masked_fill(~mask, float("-inf"))
        y = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, s, h)
        x = x + self.proj(y)
        return x + self.mlp_proj(F.gelu(self.fc(self.ln_2(x)),
                                        approximate="tanh"))


class GPT(nn.Module):
    def __init__(self, layers=12, hidden=768, heads=12, vocab=50257, seq=1024):
        super().__init__()
        self.wte = nn.Embedding(vocab, hidden)
        self.wpe = nn.Embedding(seq, hidden)
        self.blocks = nn.ModuleList(Block(hidden, heads) for _ in range(layers))
        self.ln_f = nn.LayerNorm(hidden, eps=1e-5)

    def forward(self, ids):
        x = self.wte(ids) + self.wpe.weight[: ids.shape[1]]
        for block in self.blocks:
            x = block(x)
        return self.ln_f(x) @ self.wte.weight.t()


def train_step_time(model, inputs):
    """Seconds of forward + backward (sum of the outputs as the loss) +
    SGD with momentum."""
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9)

    def step():
        optimizer.zero_grad(set_to_none=True)
        model(inputs).float().sum().backward()
        optimizer.step()

    return cuda_time(step)


def layer_times(model, x):
    times = {}
    with torch.no_grad():
        for name, layer in model.layers():
            times[name] = cuda_time(lambda: layer(x))
            x = layer(x)
    return times


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="torch_reference.json")
    args = parser.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.benchmark = True
    torch.manual_seed(0)

    result = {
        "gpu": torch.cuda.get_device_name(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "gemm_f32_flops": gemm(torch.float32),
        "gemm_bf16_flops": gemm(torch.bfloat16),
        "copy_bandwidth_bytes_per_s": bandwidth(),
        "launch_overhead_s": launch_overhead(),
    }
    print(json.dumps(result, indent=1), flush=True)

    alexnet = AlexNet().cuda()
    for batch in (128, 512):
        images = torch.randn(batch, 3, 227, 227, device="cuda")
        result["alexnet_%d_layers_fwd_s" % batch] = layer_times(alexnet, images)
        result["alexnet_%d_step_s" % batch] = train_step_time(alexnet, images)
        print("alexnet", batch, result["alexnet_%d_step_s" % batch], flush=True)
    alexnet = alexnet.to(torch.bfloat16)
    images = torch.randn(128, 3, 227, 227, device="cuda", dtype=torch.bfloat16)
    result["alexnet_128_bf16_step_s"] = train_step_time(alexnet, images)
    print("alexnet 128 bf16", result["alexnet_128_bf16_step_s"], flush=True)
    del alexnet, images
    torch.cuda.empty_cache()

    for dtype, name in ((torch.float32, "f32"), (torch.bfloat16, "bf16")):
        gpt = GPT().cuda().to(dtype)
        ids = torch.randint(0, 50257, (8, 1024), device="cuda")
        result["gpt2_8x1024_%s_step_s" % name] = train_step_time(gpt, ids)
        print("gpt2", name, result["gpt2_8x1024_%s_step_s" % name], flush=True)
        del gpt
        torch.cuda.empty_cache()

    with open(args.out, "w") as f:
        json.dump(result, f, indent=1, sort_keys=True)
    print(json.dumps(result, indent=1, sort_keys=True))


if __name__ == "__main__":
    start = time.time()
    main()
    print("took %.1f s" % (time.time() - start))
