#!/usr/bin/env python3
"""bench_resize.py — the resizes of inference and the test pipeline, ctpipe against PyTorch.

Three steps, each as the pipelines run it (same shapes, random inputs):
  head upsampling  19 x 32 x 32 patch logits -> 512 x 512
                   ctpipe: Bilinear.resize; PyTorch: F.interpolate(bilinear, align_corners=False)
  resize + argmax  19 x 512 x 1024 averaged logits -> labels 2048 x 1024
                   ctpipe: Bilinear.resizedArgmax (fused); PyTorch: F.interpolate then argmax(1),
                   as MMSegmentation's slide inference and its prediction
  test pipeline    2048 x 1024 RGB frame -> normalised planes 3 x 512 x 1024
                   ctpipe: TestPipeline.apply; PyTorch side: cv2.resize INTER_LINEAR (the INTER_AREA
                   shortcut for an exact halving; what MMSegmentation's Resize calls) then the
                   data preprocessor's float conversion and (x - mean) / std into planes, in torch

ctpipe: `ctbench resize --threads N --runs R --json`; PyTorch: this script's worker mode with
torch.set_num_threads(N) and cv2.setNumThreads(N). Each side in its own process per round, the
order flipped every round, every process started on a quiet machine (scripts/bench_common.py);
per process the median of R timed runs after one warm-up; the table gives the median over rounds.

    swift build -c release --product ctbench
    python3 scripts/bench_resize.py [--threads 1,2] [--runs 15] [--rounds 3] [--json F] [--markdown F]
"""
import argparse
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_common import (Session, add_options, binary, loads_text, markdown_table, median,  # noqa: E402
                          require_binaries, self_command, sides)

STEPS = [("head_upsampling", "head upsampling, 19 × 32 × 32 → 512 × 512"),
         ("resize_argmax", "resize + argmax, 19 × 512 × 1024 → labels 2048 × 1024"),
         ("test_pipeline", "test pipeline, 2048 × 1024 RGB → 3 × 512 × 1024")]


def worker(threads, runs):
    import cv2
    import numpy as np
    import torch
    import torch.nn.functional as F
    torch.set_num_threads(threads)
    cv2.setNumThreads(threads)
    g = torch.Generator().manual_seed(1)
    patch = torch.rand(1, 19, 32, 32, generator=g) * 2 - 1
    frame = torch.rand(1, 19, 512, 1024, generator=g) * 2 - 1
    rgb = np.random.default_rng(3).integers(0, 256, (1024, 2048, 3), dtype=np.uint8)
    mean = torch.tensor([123.675, 116.28, 103.53]).view(3, 1, 1)
    std = torch.tensor([58.395, 57.12, 57.375]).view(3, 1, 1)

    def test_pipeline():
        small = cv2.resize(rgb, (1024, 512), interpolation=cv2.INTER_LINEAR)
        return (torch.from_numpy(small).permute(2, 0, 1).float() - mean) / std

    steps = {
        "head_upsampling": lambda: F.interpolate(patch, size=(512, 512), mode="bilinear", align_corners=False),
        "resize_argmax": lambda: F.interpolate(frame, size=(1024, 2048), mode="bilinear", align_corners=False).argmax(1),
        "test_pipeline": test_pipeline,
    }
    out = {}
    with torch.inference_mode():
        for key, step in steps.items():
            step()
            times = []
            for _ in range(runs):
                start = time.perf_counter()
                step()
                times.append((time.perf_counter() - start) * 1e3)
            out[key] = statistics.median(times)
    print(json.dumps({"threads": threads, "milliseconds": out}))


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--torch-worker":
        worker(int(sys.argv[2]), int(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", default="1,2", help="thread counts, comma-separated (default 1,2)")
    parser.add_argument("--runs", type=int, default=15, help="timed runs per process (default 15)")
    add_options(parser, rounds=3)
    args = parser.parse_args()
    require_binaries("bench_resize", "ctbench")
    session = Session("bench_resize", args)
    counts = [int(t) for t in args.threads.split(",")]
    results = {(t, side): [] for t in counts for side in ("ctpipe", "pytorch")}
    loads = {(t, side): [] for t in counts for side in ("ctpipe", "pytorch")}
    for r in range(args.rounds):
        for t in counts:
            for side in sides(r):
                command = ([binary("ctbench"), "resize", "--threads", str(t), "--runs", str(args.runs), "--json"]
                           if side == "ctpipe" else self_command(__file__, "--torch-worker", t, args.runs))
                m = session.measure(f"round {r + 1} {t} thread(s) {side}", command)
                results[(t, side)].append(m.json()["milliseconds"])
                loads[(t, side)].append(m.load)
    rows = []
    for t in counts:
        for key, name in STEPS:
            ours = median([x[key] for x in results[(t, "ctpipe")]])
            theirs = median([x[key] for x in results[(t, "pytorch")]])
            rows.append([name, t, f"{ours:.2f}", f"{theirs:.2f}", f"{theirs / ours:.2f}"])
    table = markdown_table(["step", "threads", "ctpipe ms", "PyTorch ms", "PyTorch / ctpipe"], rows)
    load_rows = [[t, loads_text(loads[(t, "ctpipe")]), loads_text(loads[(t, "pytorch")])] for t in counts]
    note = (f"Medians over {args.rounds} rounds of each process's median of {args.runs} runs; random inputs "
            "(the argmax's classes compete everywhere). PyTorch " + _torch_version() + ".")
    session.report("Inference resizes and the test pipeline", [note, table,
                   markdown_table(["threads", "loads at starts ctpipe", "PyTorch"], load_rows)],
                   {"results": {f"{t}/{side}": v for (t, side), v in results.items()}})


def _torch_version():
    import torch
    return torch.__version__


if __name__ == "__main__":
    main()
