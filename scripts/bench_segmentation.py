#!/usr/bin/env python3
"""bench_segmentation.py — what the adapter and the head add to the backbone: ctpipe vs PyTorch.

Per model (vits and vitl with the patch-16 conversion, 512 x 512, random weights) and
round, two processes, alternating which goes first (quiet machine before each, load at
its start recorded; scripts/bench_common.py):
  ctpipe:  `ctbench segmentation --model M --variants V --no-slide --threads N --runs R --json`
  PyTorch: this script's `--torch-worker`: the same models (scripts/bench_torch_models.py:
           official block structure with SDPA attention, Causal-Tune's DCT as two matrix
           products with the orthonormal cosine matrix, m = 100), torch.inference_mode(),
           torch.set_num_threads(N), float32.
Inside each process the backbone alone and every variant (backbone + linear head + the
adapter; default Causal-Tune, m = 100, full tokens) run once per pass, passes alternate,
R timed passes after a warm-up: medians of wall time and of process CPU time (all
threads). The overhead of a variant is its median over the backbone's in the same process,
minus one; the table gives each side's median over the rounds, in the same run.
--slide adds slide inference of a 1024 x 512 image (3 windows of 512 at stride 341,
logits upsampled to 2048 x 1024, argmax) on both sides.

    swift build -c release --product ctbench
    python3 scripts/bench_segmentation.py [--models vits,vitl] [--threads 2] [--runs 3] [--rounds 2]
        [--variants causal-tune | all] [--slide] [--max-load 1.3] [--wait 600] [--json F] [--markdown F]
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_common import (Session, add_options, binary, loads_text, markdown_table, median,  # noqa: E402
                          require_binaries, self_command, sides)

VARIANTS = {"none": "head, no adapter", "rein": "head + rein", "causal-tune": "head + causal-tune",
            "causal-tune-r16": "head + causal-tune r16"}
CTBENCH_MODEL = {"vits": "vits16 (vits14 converted)", "vitl": "vitl16 (vitl14 converted)"}
BASE = "backbone alone"


def torch_worker(name, variants, threads, runs, with_slide):
    """The PyTorch side of one model in this process: medians of wall and CPU ms per variant, alternating passes."""
    import torch
    from bench_torch_models import ARCH, Adapter, Model, slide
    torch.set_num_threads(threads)
    c, depth, heads = ARCH[name]
    torch.manual_seed(0)
    models = {BASE: Model(c, depth, heads, head=False)}
    for key in variants:
        if key == "none":
            models[VARIANTS[key]] = Model(c, depth, heads)
        else:
            kind, rank = ("rein", 0) if key == "rein" else ("causal-tune", 16 if key.endswith("r16") else 0)
            models[VARIANTS[key]] = Model(c, depth, heads, Adapter(kind, depth, c, rank=rank))
    x = torch.randn(1, 3, 512, 512)
    wall = {v: [] for v in models}
    cpu = {v: [] for v in models}
    with torch.inference_mode():
        for model in models.values():
            model.eval()
        for run in range(runs + 1):
            for variant, model in models.items():
                w0, c0 = time.perf_counter(), time.process_time()
                model(x)
                if run > 0:
                    wall[variant].append((time.perf_counter() - w0) * 1e3)
                    cpu[variant].append((time.process_time() - c0) * 1e3)
        result = {"torch": torch.__version__, "threads": threads,
                  "forward": [{"variant": v, "milliseconds": median(wall[v]), "cpuMilliseconds": median(cpu[v])}
                              for v in models]}
        if with_slide:
            model = models.get(VARIANTS["causal-tune"]) or Model(c, depth, heads, Adapter("causal-tune", depth, c)).eval()
            frame = torch.randn(1, 3, 512, 1024)
            times = []
            for run in range(max(1, runs // 2) + 1):
                w0 = time.perf_counter()
                slide(model, frame, 1024, 2048)
                if run > 0:
                    times.append(time.perf_counter() - w0)
            result["slideSecondsPerImage"] = median(times)
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default="vits,vitl")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--variants", default="causal-tune", help="comma list of none, rein, causal-tune, "
                        "causal-tune-r16, or all (default causal-tune)")
    parser.add_argument("--slide", action="store_true", help="also slide inference of a 1024 x 512 image")
    parser.add_argument("--torch-worker", metavar="MODEL", help=argparse.SUPPRESS)
    add_options(parser)
    args = parser.parse_args()
    variants = list(VARIANTS) if args.variants == "all" else args.variants.split(",")
    if any(v not in VARIANTS for v in variants):
        parser.error(f"--variants takes {', '.join(VARIANTS)} or all")
    if args.torch_worker:
        print(json.dumps(torch_worker(args.torch_worker, variants, args.threads, args.runs, args.slide)))
        return
    require_binaries("bench_segmentation", "ctbench")
    session = Session("bench_segmentation", args)
    models = args.models.split(",")
    samples = {(m, side): [] for m in models for side in ("ctpipe", "pytorch")}
    for r in range(args.rounds):
        for m in models:
            for side in sides(r):
                if side == "ctpipe":
                    command = [binary("ctbench"), "segmentation", "--model", m, "--variants", ",".join(variants),
                               "--threads", args.threads, "--runs", args.runs, "--json"] + ([] if args.slide else ["--no-slide"])
                else:
                    command = self_command(__file__, "--torch-worker", m, "--variants", ",".join(variants),
                                           "--threads", args.threads, "--runs", args.runs, *(["--slide"] if args.slide else []))
                run = session.measure(f"round {r + 1} {m} {side}", [str(a) for a in command])
                report = run.json()
                rows = report["forward"] if side == "pytorch" else \
                    [f for f in report["forward"] if f["model"] == CTBENCH_MODEL[m]]
                entry = {"load": run.load, "peakRSS": run.peak_rss,
                         "wall": {f["variant"]: f["milliseconds"] for f in rows},
                         "cpu": {f["variant"]: f["cpuMilliseconds"] for f in rows}}
                if args.slide:
                    entry["slide"] = report["slideSecondsPerImage"] if side == "pytorch" else \
                        next(t["secondsPerImage"] for t in report["inference"] if t["model"].startswith(CTBENCH_MODEL[m]))
                samples[(m, side)].append(entry)

    def summary(m, side, variant):
        runs = samples[(m, side)]
        return {"wall": median([e["wall"][variant] for e in runs]), "cpu": median([e["cpu"][variant] for e in runs]),
                "wallOverhead": median([e["wall"][variant] / e["wall"][BASE] - 1 for e in runs]),
                "cpuOverhead": median([e["cpu"][variant] / e["cpu"][BASE] - 1 for e in runs])}

    table, record = [], []
    for m in models:
        for variant in [BASE] + [VARIANTS[v] for v in variants]:
            o, t = summary(m, "ctpipe", variant), summary(m, "pytorch", variant)

            def pct(x):
                return "—" if variant == BASE else f"{100 * x:+.1f} %"
            table.append([f"{m} 512 {variant}", f"{o['wall']:.0f}", pct(o["wallOverhead"]), f"{o['cpu']:.0f}",
                          pct(o["cpuOverhead"]), f"{t['wall']:.0f}", pct(t["wallOverhead"]), f"{t['cpu']:.0f}",
                          pct(t["cpuOverhead"]), f"{t['wall'] / o['wall']:.2f}"])
            record.append({"model": m, "variant": variant, "ctpipe": o, "pytorch": t})
    sections = [
        f"{args.threads} threads on both sides; medians over {args.rounds} rounds of each process's median of "
        f"{args.runs} passes; overheads over the backbone alone in the same process.",
        markdown_table(["model, variant", "ctpipe wall ms", "overhead", "CPU ms", "overhead", "PyTorch wall ms",
                        "overhead", "CPU ms", "overhead", "PyTorch / ctpipe (wall)"], table),
        markdown_table(["model", "loads at starts ctpipe", "PyTorch", "peak RSS ctpipe", "PyTorch"],
                       [[m, loads_text(e["load"] for e in samples[(m, "ctpipe")]),
                         loads_text(e["load"] for e in samples[(m, "pytorch")]),
                         f"{max(e['peakRSS'] for e in samples[(m, 'ctpipe')]) / 2 ** 20:.0f} MiB",
                         f"{max(e['peakRSS'] for e in samples[(m, 'pytorch')]) / 2 ** 20:.0f} MiB"] for m in models]),
    ]
    if args.slide:
        sections.append(markdown_table(
            ["model", "slide 1024x512 (3 windows) ctpipe s/image", "PyTorch s/image", "PyTorch / ctpipe"],
            [[m, f"{median([e['slide'] for e in samples[(m, 'ctpipe')]]):.2f}",
              f"{median([e['slide'] for e in samples[(m, 'pytorch')]]):.2f}",
              f"{median([e['slide'] for e in samples[(m, 'pytorch')]]) / median([e['slide'] for e in samples[(m, 'ctpipe')]]):.2f}"]
             for m in models]))
    session.report("Adapter + head overhead", sections,
                   {"threads": args.threads, "runs": args.runs, "rounds": args.rounds, "rows": record,
                    "samples": {f"{m} {side}": v for (m, side), v in samples.items()}})


if __name__ == "__main__":
    main()
