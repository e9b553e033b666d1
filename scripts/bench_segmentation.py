#!/usr/bin/env python3
"""bench_segmentation.py — adapter overhead and whole-image inference: ctpipe vs PyTorch.

Runs `ctbench segmentation` (release build) and then the same models in
PyTorch, at equal thread counts (torch.set_num_threads(n), inference_mode,
float32): a DINOv2 with the patch-16 conversion (vits: C 384, 12 blocks; with
--large also vitl: C 1024, 24 blocks), random weights, 512 x 512 input:
  * the backbone alone (official block structure, SDPA attention);
  * + linear head (LayerNorm x 4, Linear 4C -> 19, bilinear x16);
  * + Rein (m = 100 tokens) after every block;
  * + Causal-Tune (orthonormal DCT-II over the 32 x 32 grid as two matrix
    products, band-pass mask, m = 100), full tokens and rank 16;
and slide inference (512 / 341) of a 1024 x 512 image with Causal-Tune,
logits upsampled to 2048 x 1024, argmax. Prints both sides and the ratio.

    swift build -c release --product ctbench
    python3 scripts/bench_segmentation.py [--threads 2] [--runs 5] [--large]
"""
import argparse
import json
import math
import os
import subprocess
import time

import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Block(torch.nn.Module):
    def __init__(self, c, heads):
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2 = torch.nn.LayerNorm(c, eps=1e-6), torch.nn.LayerNorm(c, eps=1e-6)
        self.qkv, self.proj = torch.nn.Linear(c, 3 * c), torch.nn.Linear(c, c)
        self.fc1, self.fc2 = torch.nn.Linear(c, 4 * c), torch.nn.Linear(4 * c, c)
        self.ls1, self.ls2 = torch.nn.Parameter(torch.full((c,), 0.1)), torch.nn.Parameter(torch.full((c,), 0.1))

    def forward(self, x):
        b, n, c = x.shape
        q, k, v = self.qkv(self.norm1(x)).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        a = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, n, c)
        x = x + self.ls1 * self.proj(a)
        return x + self.ls2 * self.fc2(F.gelu(self.fc1(self.norm2(x))))


def dct_matrix(n):
    k = torch.arange(n)[:, None].float()
    x = torch.arange(n)[None, :].float()
    a = torch.full((n, 1), math.sqrt(2 / n))
    a[0, 0] = math.sqrt(1 / n)
    return a * torch.cos(math.pi * (2 * x + 1) * k / (2 * n))


class Adapter(torch.nn.Module):
    def __init__(self, kind, layers, c, m=100, rank=0, grid=32, dl=0.2, dh=0.7):
        super().__init__()
        self.kind, self.rank, self.c = kind, rank, c
        if rank:
            self.a = torch.nn.Parameter(torch.randn(layers, m, rank) * 0.1)
            self.b = torch.nn.Parameter(torch.randn(layers, rank, c) * 0.1)
        else:
            self.t = torch.nn.Parameter(torch.randn(layers, m, c) * 0.1)
        self.t2f, self.df = torch.nn.Linear(c, c), torch.nn.Linear(c, c)
        self.scale = torch.nn.Parameter(torch.tensor(1e-3))
        self.register_buffer("d", dct_matrix(grid))
        u = torch.arange(grid)[:, None] / grid
        d2 = u * u + (u * u).T
        self.register_buffer("mask", ((1 - torch.exp(-d2 / (2 * dl * dl))) * torch.exp(-d2 / (2 * dh * dh))).reshape(-1, 1))

    def forward(self, f, layer, h, w):
        t = self.a[layer] @ self.b[layer] if self.rank else self.t[layer]
        if self.kind == "causal-tune":
            g = f.reshape(h, w, -1)
            fc = (self.d @ g.reshape(h, -1)).reshape(h, w, -1).transpose(0, 1).reshape(w, -1)
            fc = (self.d @ fc).reshape(w, h, -1).transpose(0, 1).reshape(h * w, -1) * self.mask
        else:
            fc = f
        s = torch.softmax(fc @ t.T / math.sqrt(self.c), dim=-1)
        delta = self.df(s[:, 1:] @ self.t2f(t[1:]) + fc)
        if self.kind == "causal-tune":
            g = (self.d.T @ delta.reshape(h, -1)).reshape(h, w, -1).transpose(0, 1).reshape(w, -1)
            delta = (self.d.T @ g).reshape(w, h, -1).transpose(0, 1).reshape(h * w, -1)
        return f + self.scale * delta


class Model(torch.nn.Module):
    def __init__(self, c, depth, heads, adapter=None, head=True, classes=19, patch=16, grid=32):
        super().__init__()
        self.patch, self.grid = patch, grid
        self.embed = torch.nn.Conv2d(3, c, patch, patch)
        self.cls = torch.nn.Parameter(torch.zeros(1, 1, c))
        self.pos = torch.nn.Parameter(torch.randn(1, 1 + grid * grid, c) * 0.02)
        self.blocks = torch.nn.ModuleList(Block(c, heads) for _ in range(depth))
        self.adapter = adapter
        self.head = head
        self.picks = [depth // 3 - 1, depth // 2 - 1, 2 * depth // 3 - 1, depth - 1]
        self.norms = torch.nn.ModuleList(torch.nn.LayerNorm(c, eps=1e-6) for _ in range(4))
        self.cls_head = torch.nn.Linear(4 * c, classes)

    def forward(self, x):
        h, w = x.shape[2] // self.patch, x.shape[3] // self.patch
        p = self.embed(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(p.shape[0], -1, -1), p], 1) + self.pos
        feats = []
        for i, block in enumerate(self.blocks):
            x = block(x)
            if self.adapter is not None:
                x = torch.cat([x[:, :1], self.adapter(x[0, 1:], i, h, w)[None]], 1)
            if i in self.picks:
                feats.append(x[:, 1:])
        if not self.head:
            return x
        z = torch.cat([n(f) for n, f in zip(self.norms, feats)], -1)
        logits = self.cls_head(z).transpose(1, 2).reshape(1, -1, h, w)
        return F.interpolate(logits, size=(h * self.patch, w * self.patch), mode="bilinear", align_corners=False)


def median_ms(fn, runs):
    times = []
    with torch.inference_mode():
        for i in range(runs + 1):
            start = time.perf_counter()
            fn()
            if i > 0:
                times.append((time.perf_counter() - start) * 1e3)
    return sorted(times)[len(times) // 2]


def slide(model, image, crop=512, stride=341, classes=19):
    _, _, H, W = image.shape
    total = torch.zeros(1, classes, H, W)
    count = torch.zeros(1, 1, H, W)
    for r in range(max(H - crop + stride - 1, 0) // stride + 1):
        for c in range(max(W - crop + stride - 1, 0) // stride + 1):
            y2, x2 = min(r * stride + crop, H), min(c * stride + crop, W)
            y1, x1 = max(y2 - crop, 0), max(x2 - crop, 0)
            total[:, :, y1:y2, x1:x2] += model(image[:, :, y1:y2, x1:x2])
            count[:, :, y1:y2, x1:x2] += 1
    up = F.interpolate(total / count, size=(2 * H, 2 * W), mode="bilinear", align_corners=False)
    return up.argmax(1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--large", action="store_true")
    args = parser.parse_args()
    command = [os.path.join(ROOT, ".build/release/ctbench"), "segmentation", "--threads", str(args.threads),
               "--runs", str(args.runs), "--json"] + (["--large"] if args.large else [])
    ours = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} threads")
    sizes = [("vits16 (vits14 converted)", 384, 12, 6)] + ([("vitl16 (vitl14 converted)", 1024, 24, 16)] if args.large else [])
    x = torch.randn(1, 3, 512, 512)
    for name, c, depth, heads in sizes:
        torch.manual_seed(0)
        variants = {
            "backbone alone": Model(c, depth, heads, head=False),
            "head, no adapter": Model(c, depth, heads),
            "head + rein": Model(c, depth, heads, Adapter("rein", depth, c)),
            "head + causal-tune": Model(c, depth, heads, Adapter("causal-tune", depth, c)),
            "head + causal-tune r16": Model(c, depth, heads, Adapter("causal-tune", depth, c, rank=16)),
        }
        # Alternating rounds after a warm-up of every variant, as ctbench does.
        times = {v: [] for v in variants}
        with torch.inference_mode():
            for model in variants.values():
                model.eval()
                model(x)
            for _ in range(args.runs):
                for variant, model in variants.items():
                    start = time.perf_counter()
                    model(x)
                    times[variant].append((time.perf_counter() - start) * 1e3)
        medians = {v: sorted(t)[len(t) // 2] for v, t in times.items()}
        base = medians["backbone alone"]
        for variant, theirs in medians.items():
            mine = next(r for r in ours["forward"] if r["model"] == name and r["variant"] == variant)
            print(f"  {name} 512x512 {variant}: ctpipe {mine['milliseconds']:.0f} ms wall, {mine['cpuMilliseconds']:.0f} ms CPU "
                  f"({100 * mine['cpuOverheadVsBackbone']:+.1f}%), PyTorch {theirs:.0f} ms ({100 * (theirs / base - 1):+.1f}%), "
                  f"ratio PyTorch/ctpipe {theirs / mine['milliseconds']:.2f}")
        model = variants["head + causal-tune"].eval()
        frame = torch.randn(1, 3, 512, 1024)
        theirs = median_ms(lambda: slide(model, frame), max(1, args.runs // 2))
        mine = next(t for t in ours["inference"] if t["model"].startswith(name))
        print(f"  {name} + causal-tune, 1024x512 image (3 windows) -> 2048x1024 labels: "
              f"ctpipe {mine['imagesPerSecond']:.3f} images/s, PyTorch {1e3 / theirs:.3f} images/s")


if __name__ == "__main__":
    main()
