#!/usr/bin/env python3
"""bench_backbone.py — DINOv2 forward time and memory: ctpipe vs PyTorch at the same thread count.

Configurations MODEL:SIZE:BATCH (random weights at the real size; a size that is a multiple
of 14 runs patch 14 at the stored 37 x 37 grid, otherwise the Rein-style patch-16
conversion, grid 32): by default vits14:512:1 and vitl14:512:1; `--configs all` adds
vits14 518 batch 1 and 4 and vits14 512 batch 4.

Per thread count, round and configuration two processes, alternating which goes first
(quiet machine before each, load at its start recorded; scripts/bench_common.py), so
that each process's peak RSS is that configuration's:
  ctpipe:  `ctbench backbone --model M --size S --batch B --threads N --runs R --json`
           (it first measures its cblas_sgemm 2048^3 rate, row-blocked over the N threads
           as every Linear layer runs it; "% of sgemm" is the forward's GFLOP/s over that
           rate, both in the same process)
  PyTorch: this script's `--torch-worker`: HuggingFace Dinov2Model (attn_implementation
           "sdpa"), torch.inference_mode(), torch.set_num_threads(N), float32.
Each process: one warm-up forward, R timed. The table gives per side the best run over
all rounds (the least disturbed) and the median of the processes' medians; the ratio is
PyTorch ms / ctpipe ms for both. GFLOP/s use ctbench's FLOP count (DINOv2Config.flops).

    swift build -c release --product ctbench
    python3 scripts/bench_backbone.py [--configs vits14:512:1,vitl14:512:1 | all] [--threads 2]
        [--runs 3] [--rounds 2] [--max-load 1.3] [--wait 600] [--json F] [--markdown F]
"""
import argparse
import json
import os
import resource
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_common import (Session, add_options, binary, loads_text, markdown_table, median, mib,  # noqa: E402
                          require_binaries, self_command, sides)

DEFAULT = "vits14:512:1,vitl14:512:1"
ALL = "vits14:518:1,vits14:518:4,vits14:512:1,vits14:512:4,vitl14:512:1"
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
    x = torch.randn(batch, 3, size, size)
    times = []
    with torch.inference_mode():
        for i in range(runs + 1):
            start = time.perf_counter()
            net(pixel_values=x)
            if i > 0:
                times.append((time.perf_counter() - start) * 1e3)
    return {"bestMilliseconds": min(times), "milliseconds": median(times),
            "attention": net.config._attn_implementation, "threads": torch.get_num_threads(),
            "peakRSSBytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            "torch": torch.__version__, "capability": torch.backends.cpu.get_cpu_capability()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--configs", default=DEFAULT, help=f"MODEL:SIZE:BATCH list, or all ({ALL})")
    parser.add_argument("--threads", type=int, nargs="+", default=[2])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json-out", help=argparse.SUPPRESS)   # the former name of --json
    parser.add_argument("--torch-worker", nargs=5, metavar=("MODEL", "SIZE", "BATCH", "THREADS", "RUNS"),
                        help=argparse.SUPPRESS)
    add_options(parser)
    args = parser.parse_args()
    if args.torch_worker:
        m, s, b, n, r = args.torch_worker
        print(json.dumps(torch_worker(m, int(s), int(b), int(n), int(r))))
        return
    args.json = args.json or args.json_out
    configs = [(m, int(s), int(b)) for m, s, b in (c.split(":") for c in (ALL if args.configs == "all" else args.configs).split(","))]
    require_binaries("bench_backbone", "ctbench")
    session = Session("bench_backbone", args)
    samples = {}
    for n in args.threads:
        for r in range(args.rounds):
            for config in configs:
                model, size, batch = config
                for side in sides(r):
                    if side == "ctpipe":
                        command = [binary("ctbench"), "backbone", "--model", model, "--size", str(size), "--batch",
                                   str(batch), "--threads", str(n), "--runs", str(args.runs), "--json"]
                    else:
                        command = self_command(__file__, "--torch-worker", model, size, batch, n, args.runs)
                    run = session.measure(f"threads {n} round {r + 1} {model} {size} b{batch} {side}", command)
                    report = run.json()
                    if side == "ctpipe":
                        result = dict(report["results"][0], sgemmGflops=report["sgemmGflops"])
                    else:
                        result = report
                    samples.setdefault((n, config, side), []).append(dict(result, load=run.load))

    tables, record = [], []
    for n in args.threads:
        rows = []
        for config in configs:
            model, size, batch = config
            ours, theirs = samples[(n, config, "ctpipe")], samples[(n, config, "pytorch")]
            o = min(ours, key=lambda x: x["bestMilliseconds"])
            t = min(theirs, key=lambda x: x["bestMilliseconds"])
            om, tm = median([x["milliseconds"] for x in ours]), median([x["milliseconds"] for x in theirs])
            rows.append([f"{model} {size}x{size} p{o['patch']} batch {batch} ({o['tokens']} tokens)",
                         f"{o['bestMilliseconds']:.0f} ({om:.0f})",
                         f"{o['gflops']:.1f} ({100 * o['fractionOfSgemm']:.0f} % of {o['sgemmGflops']:.1f})",
                         f"{t['bestMilliseconds']:.0f} ({tm:.0f})",
                         f"{t['bestMilliseconds'] / o['bestMilliseconds']:.2f} ({tm / om:.2f})",
                         mib(max(x["peakRSSBytes"] for x in ours)), mib(max(x["peakRSSBytes"] for x in theirs)),
                         loads_text(x["load"] for x in ours) + " / " + loads_text(x["load"] for x in theirs)])
            record.append({"threads": n, "model": model, "size": size, "batch": batch, "ctpipe": ours, "pytorch": theirs,
                           "ratioBest": t["bestMilliseconds"] / o["bestMilliseconds"], "ratioMedian": tm / om})
        first = samples[(n, configs[0], "pytorch")][0]
        tables.append(f"{n} threads (PyTorch {first['torch']}, {first['capability']}, attention {first['attention']}, "
                      f"{first['threads']} threads):")
        tables.append(markdown_table(
            ["configuration", "ctpipe ms best (median)", "ctpipe GFLOP/s (of its sgemm GFLOP/s, same process)",
             "PyTorch ms best (median)", "PyTorch / ctpipe best (median)", "ctpipe peak RSS", "PyTorch peak RSS",
             "loads at starts ctpipe / PyTorch"], rows))
        if ("vitl14", 512, 1) in configs:
            large = max(samples[(n, ("vitl14", 512, 1), "ctpipe")], key=lambda x: x["peakRSSBytes"])
            limit = large["weightBytes"] + 1.5e9
            tables.append(f"vitl14 512 peak RSS {large['peakRSSBytes'] / 1e9:.2f} GB <= weights + 1.5 GB = "
                          f"{limit / 1e9:.2f} GB: {'met' if large['peakRSSBytes'] <= limit else 'MISSED'}.")
    session.report("Backbone forward", tables,
                   {"runs": args.runs, "rounds": args.rounds, "rows": record})


if __name__ == "__main__":
    main()
