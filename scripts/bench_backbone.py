#!/usr/bin/env python3
"""bench_backbone.py — DINOv2 vits14 forward: ctpipe vs PyTorch at equal thread counts.

For each thread count, runs `ctbench backbone` (release build) and then the
same forward in PyTorch (HuggingFace Dinov2Model, random weights, C = 384,
12 blocks, SDPA attention, torch.inference_mode, torch.set_num_threads(n)) at
518 x 518 (patch 14) and 512 x 512 (patch 16, grid 32), and prints median
times and the ratio PyTorch / ctpipe (> 1: ctpipe is faster).

    swift build -c release --product ctbench
    python3 scripts/bench_backbone.py [--threads 1 2] [--runs 5]
"""
import argparse
import json
import os
import subprocess
import time

import torch
from transformers import Dinov2Config, Dinov2Model

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def torch_time(patch, grid, size, runs):
    config = Dinov2Config(hidden_size=384, num_hidden_layers=12, num_attention_heads=6, mlp_ratio=4,
                          patch_size=patch, image_size=patch * grid, attn_implementation="sdpa")
    model = Dinov2Model(config).eval()
    x = torch.randn(1, 3, size, size)
    times = []
    with torch.inference_mode():
        for i in range(runs + 1):
            start = time.perf_counter()
            model(pixel_values=x)
            if i > 0:
                times.append((time.perf_counter() - start) * 1e3)
    return sorted(times)[len(times) // 2]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    binary = os.path.join(ROOT, ".build/release/ctbench")
    print(f"torch {torch.__version__}, {torch.backends.cpu.get_cpu_capability()}")
    for n in args.threads:
        out = subprocess.run([binary, "backbone", "--threads", str(n), "--runs", str(args.runs), "--json"],
                             check=True, capture_output=True, text=True).stdout
        ours = json.loads(out)
        torch.set_num_threads(n)
        print(f"threads {n}: sgemm {ours['sgemmGflops']:.1f} GFLOP/s")
        for result, (patch, grid) in zip(ours["results"], [(14, 37), (16, 32)]):
            theirs = torch_time(patch, grid, result["height"], args.runs)
            print(f"  {result['name']} {result['height']}x{result['width']}: ctpipe {result['milliseconds']:.0f} ms "
                  f"({result['gflops']:.1f} GFLOP/s, {100 * result['fractionOfSgemm']:.0f}% of sgemm), "
                  f"PyTorch {theirs:.0f} ms, ratio PyTorch/ctpipe {theirs / result['milliseconds']:.2f}")


if __name__ == "__main__":
    main()
