#!/usr/bin/env python3
"""bench_backbone.py — DINOv2 forward throughput and memory: ctpipe vs PyTorch at equal thread counts.

Configurations (random weights at the real size):
  vits14 518 x 518, patch 14 (stored 37 x 37 grid), batch 1 and 4
  vits14 512 x 512, Rein-style patch-16 conversion (grid 32), batch 1 and 4
  vitl14 512 x 512, patch 16, batch 1

For each thread count and each of `--rounds` rounds, every configuration runs
once on each side, alternating, each in its own process so that the process's
peak RSS is that configuration's:
  ctpipe:  `ctbench backbone --model M --size S --batch B --threads N --runs R --json`
           (release build; reports its own cblas_sgemm 2048^3 rate, measured first)
  PyTorch: this script in `--torch-worker` mode: HuggingFace Dinov2Model (SDPA
           attention), torch.inference_mode(), torch.set_num_threads(N),
           peak RSS from getrusage(RUSAGE_SELF).ru_maxrss at the end.
Each side keeps its best run over all rounds (the run least disturbed by other
processes on a shared machine). GFLOP/s for both sides use the same FLOP count
(ctbench's DINOv2Config.flops, see BENCHMARKS.md), against the best sgemm rate
ctbench measured at that thread count.

    swift build -c release --product ctbench
    python3 scripts/bench_backbone.py [--threads 1 2] [--runs 3] [--rounds 3] [--json-out FILE]
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = os.path.join(ROOT, ".build/release/ctbench")

CONFIGS = [("vits14", 518, 1), ("vits14", 518, 4), ("vits14", 512, 1), ("vits14", 512, 4), ("vitl14", 512, 1)]
ARCH = {"vits14": (384, 12, 6), "vitl14": (1024, 24, 16)}   # C, blocks, heads (MLP 4C)


def torch_worker(model, size, batch, threads, runs):
    """One configuration in this process: best and median ms per batch, peak RSS."""
    import torch
    from transformers import Dinov2Config, Dinov2Model
    torch.set_num_threads(threads)
    c, depth, heads = ARCH[model]
    patch = 14 if size % 14 == 0 else 16
    grid = 37 if patch == 14 else 32
    config = Dinov2Config(hidden_size=c, num_hidden_layers=depth, num_attention_heads=heads, mlp_ratio=4,
                          patch_size=patch, image_size=patch * grid, attn_implementation="sdpa")
    net = Dinov2Model(config).eval()
    weight_bytes = sum(p.numel() * p.element_size() for p in net.parameters())
    x = torch.randn(batch, 3, size, size)
    times = []
    with torch.inference_mode():
        for i in range(runs + 1):
            start = time.perf_counter()
            net(pixel_values=x)
            if i > 0:
                times.append((time.perf_counter() - start) * 1e3)
    times.sort()
    return {"bestMilliseconds": times[0], "milliseconds": times[len(times) // 2], "weightBytes": weight_bytes,
            "peakRSSBytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            "torch": torch.__version__, "capability": torch.backends.cpu.get_cpu_capability()}


def torch_matmul_rate(threads, n=2048, runs=3):
    import torch
    torch.set_num_threads(threads)
    a, b = torch.randn(n, n), torch.randn(n, n)
    best = float("inf")
    for _ in range(runs + 1):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return {"gflops": 2 * n ** 3 / best / 1e9}


def run_json(command):
    return json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)


def worker_command(*args):
    return [sys.executable, os.path.abspath(__file__), *args]


def gb(b):
    return f"{b / 1e9:.2f} GB"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json-out")
    parser.add_argument("--torch-worker", nargs=5, metavar=("MODEL", "SIZE", "BATCH", "THREADS", "RUNS"))
    parser.add_argument("--torch-matmul", type=int, metavar="THREADS")
    args = parser.parse_args()
    if args.torch_worker:
        m, s, b, n, r = args.torch_worker
        print(json.dumps(torch_worker(m, int(s), int(b), int(n), int(r))))
        return
    if args.torch_matmul:
        print(json.dumps(torch_matmul_rate(args.torch_matmul)))
        return

    load = os.getloadavg()
    print(f"load average at start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs")
    record = {"loadAtStart": load, "threads": {}}
    for n in args.threads:
        ours, theirs, sgemm = {}, {}, 0.0
        for _ in range(args.rounds):
            for model, size, batch in CONFIGS:
                key = (model, size, batch)
                report = run_json([BINARY, "backbone", "--model", model, "--size", str(size), "--batch", str(batch),
                                   "--threads", str(n), "--runs", str(args.runs), "--json"])
                sgemm = max(sgemm, report["sgemmGflops"])
                result = report["results"][0]
                if key not in ours or result["bestMilliseconds"] < ours[key]["bestMilliseconds"]:
                    ours[key] = result
                t = run_json(worker_command("--torch-worker", model, str(size), str(batch), str(n), str(args.runs)))
                if key not in theirs or t["bestMilliseconds"] < theirs[key]["bestMilliseconds"]:
                    theirs[key] = t
        matmul = run_json(worker_command("--torch-matmul", str(n)))["gflops"]
        first = next(iter(theirs.values()))
        print(f"\nthreads {n}: ctbench sgemm 2048^3 {sgemm:.1f} GFLOP/s (best of {args.rounds} rounds); "
              f"torch {first['torch']} ({first['capability']}) matmul 2048^3 {matmul:.1f} GFLOP/s")
        print("| config | tokens | ctpipe images/s | GFLOP/s (% of sgemm) | PyTorch images/s | GFLOP/s | "
              "ctpipe / PyTorch | weights | ctpipe peak RSS | PyTorch peak RSS |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        rows = []
        for key in CONFIGS:
            o, t = ours[key], theirs[key]
            model, size, batch = key
            flops = o["flopsPerImage"] * batch
            og, tg = flops / o["bestMilliseconds"] / 1e6, flops / t["bestMilliseconds"] / 1e6
            oi, ti = batch * 1e3 / o["bestMilliseconds"], batch * 1e3 / t["bestMilliseconds"]
            print(f"| {model} {size}x{size} p{o['patch']} b{batch} | {o['tokens']} | {oi:.3f} | "
                  f"{og:.1f} ({100 * og / sgemm:.0f} %) | {ti:.3f} | {tg:.1f} | {oi / ti:.2f} | "
                  f"{gb(o['weightBytes'])} | {gb(o['peakRSSBytes'])} | {gb(t['peakRSSBytes'])} |")
            rows.append({"model": model, "size": size, "batch": batch, "ctpipe": o, "pytorch": t,
                         "ctpipeGflops": og, "pytorchGflops": tg, "ratio": oi / ti})
        large = ours[("vitl14", 512, 1)]
        limit = large["weightBytes"] + 1.5e9
        print(f"vitl14 512 RSS target: {gb(large['peakRSSBytes'])} <= weights + 1.5 GB = {gb(limit)}: "
              f"{'met' if large['peakRSSBytes'] <= limit else 'MISSED'}")
        record["threads"][str(n)] = {"sgemmGflops": sgemm, "torchMatmulGflops": matmul, "rows": rows}
    load = os.getloadavg()
    print(f"\nload average at end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    record["loadAtEnd"] = load
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(record, f, indent=1)


if __name__ == "__main__":
    main()
