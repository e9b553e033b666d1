#!/usr/bin/env python3
"""bench_backbone.py — DINOv2 vits14 forward: ctpipe vs PyTorch at equal thread counts.

For each thread count, runs `ctbench backbone` (release build) and the same
forward in PyTorch (HuggingFace Dinov2Model, random weights, C = 384, 12 blocks,
SDPA attention, torch.inference_mode, torch.set_num_threads(n)) at 518 x 518
(patch 14) and 512 x 512 (patch 16, grid 32), alternating the two for
`--rounds` rounds of `--runs` timed runs each, and prints each side's best time
(the run least disturbed by other processes on a shared machine), ctpipe's
GFLOP/s against the sgemm rate it measured, and the ratio PyTorch / ctpipe
(> 1: ctpipe is faster).

    swift build -c release --product ctbench
    python3 scripts/bench_backbone.py [--threads 1 2] [--runs 3] [--rounds 3]
"""
import argparse
import json
import os
import subprocess
import time

import torch
from transformers import Dinov2Config, Dinov2Model

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


MODELS = {}


def torch_time(patch, grid, size, runs):
    """Best of `runs` timed forwards after one warm-up."""
    key = (patch, grid)
    if key not in MODELS:
        config = Dinov2Config(hidden_size=384, num_hidden_layers=12, num_attention_heads=6, mlp_ratio=4,
                              patch_size=patch, image_size=patch * grid, attn_implementation="sdpa")
        MODELS[key] = Dinov2Model(config).eval()
    model = MODELS[key]
    x = torch.randn(1, 3, size, size)
    times = []
    with torch.inference_mode():
        for i in range(runs + 1):
            start = time.perf_counter()
            model(pixel_values=x)
            if i > 0:
                times.append((time.perf_counter() - start) * 1e3)
    return min(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    binary = os.path.join(ROOT, ".build/release/ctbench")
    print(f"torch {torch.__version__}, CPU capability {torch.backends.cpu.get_cpu_capability()}")
    for n in args.threads:
        torch.set_num_threads(n)
        best_ours, best_theirs, sgemm = {}, {}, 0.0
        for _ in range(args.rounds):
            out = subprocess.run([binary, "backbone", "--threads", str(n), "--runs", str(args.runs), "--json"],
                                 check=True, capture_output=True, text=True).stdout
            ours = json.loads(out)
            sgemm = max(sgemm, ours["sgemmGflops"])
            for result, (patch, grid) in zip(ours["results"], [(14, 37), (16, 32)]):
                name = result["name"]
                if name not in best_ours or result["bestMilliseconds"] < best_ours[name]["bestMilliseconds"]:
                    best_ours[name] = result
                theirs = torch_time(patch, grid, result["height"], args.runs)
                best_theirs[name] = min(best_theirs.get(name, float("inf")), theirs)
        print(f"threads {n}: sgemm {sgemm:.1f} GFLOP/s (best round)")
        for name, result in best_ours.items():
            ms = result["bestMilliseconds"]
            gflops = result["gflops"] * result["milliseconds"] / ms
            theirs = best_theirs[name]
            print(f"  {name} {result['height']}x{result['width']}: ctpipe {ms:.0f} ms "
                  f"({gflops:.1f} GFLOP/s, {100 * gflops / sgemm:.0f}% of sgemm), "
                  f"PyTorch {theirs:.0f} ms, ratio PyTorch/ctpipe {theirs / ms:.2f}")


if __name__ == "__main__":
    main()
