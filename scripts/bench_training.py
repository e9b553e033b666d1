#!/usr/bin/env python3
"""bench_training.py — one training iteration: ctpipe vs PyTorch autograd, same thread count.

The PEFT model of the paper with the patch-16 conversion (grid 32), random weights, 512 x 512
crops: frozen DINOv2 backbone, Causal-Tune after every block (m = 100 full tokens), linear
head; cross-entropy (ignore 255); AdamW (lr 1e-4, weight decay 0.05 on the MLPs and the head,
none on the tokens, the scale and the head's norms). One iteration = forward + backward over
the batch + one optimiser step. Default configuration vits:1 (vits, batch 1); vits:4 and
vitl:1 by --configs.

The PyTorch side is the efficient one: the backbone's parameters have requires_grad False
(no weight gradients are computed for them; the worker checks it and reports the trainable
count next to ctpipe's), attention is SDPA (F.scaled_dot_product_attention), the DCT is two
matrix products with the orthonormal cosine matrix, the batch runs as one tensor (the
adapter per image), float32, torch.set_num_threads(N) (scripts/bench_torch_models.py).
ctpipe (`ctbench training`) runs the images of a batch one after the other, N threads inside.

Per configuration and round two processes, alternating which goes first (quiet machine
before each, load at its start recorded; scripts/bench_common.py): each one warm-up iteration
then R timed; peak RSS is the process's ru_maxrss. The table gives per side the best
iteration over all rounds and the median of the processes' medians, the CPU time (user +
system) per iteration, peak RSS, and PyTorch / ctpipe.

    swift build -c release --product ctbench
    python3 scripts/bench_training.py [--configs vits:1[,vits:4,vitl:1]] [--threads 2] [--runs 3]
        [--rounds 2] [--max-load 1.3] [--wait 600] [--json F] [--markdown F]
"""
import argparse
import json
import os
import resource
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_common import (Session, add_options, binary, loads_text, markdown_table, median,  # noqa: E402
                          require_binaries, self_command, sides)


def torch_iteration(name, batch, threads, runs):
    import torch
    import torch.nn.functional as F
    from bench_torch_models import ARCH, Adapter, Model

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    c, depth, heads = ARCH[name]
    classes = 19
    model = Model(c, depth, heads, Adapter("causal-tune", depth, c), classes=classes)
    for p in model.backbone_parameters():
        p.requires_grad_(False)
    decay, no_decay = model.adapter.trainable()
    decay += list(model.cls_head.parameters())
    no_decay += [p for n in model.norms for p in n.parameters()]
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert {id(p) for p in trainable} == {id(p) for p in decay + no_decay}, "only the adapter and the head train"
    assert not any(p.requires_grad for p in model.backbone_parameters()), "the backbone is frozen"
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05}, {"params": no_decay, "weight_decay": 0.0}], lr=1e-4)
    x = torch.randn(batch, 3, 512, 512)
    y = torch.randint(0, classes, (batch, 512, 512))
    times, cpu = [], []
    for run in range(runs + 1):
        start, cpu0 = time.perf_counter(), time.process_time()
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y, ignore_index=255)
        loss.backward()
        opt.step()
        if run > 0:
            times.append(time.perf_counter() - start)
            cpu.append(time.process_time() - cpu0)
    return {"secondsPerIteration": median(times), "bestSecondsPerIteration": min(times),
            "cpuSecondsPerIteration": median(cpu), "imagesPerSecond": batch / median(times),
            "peakRSSMegabytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "trainableValues": sum(p.numel() for p in trainable), "threads": torch.get_num_threads(),
            "torch": torch.__version__}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--configs", default="vits:1", help="MODEL:BATCH list, models vits and vitl (default vits:1)")
    parser.add_argument("--torch-only", nargs=2, metavar=("MODEL", "BATCH"), help=argparse.SUPPRESS)
    add_options(parser)
    args = parser.parse_args()
    if args.torch_only:
        print(json.dumps(torch_iteration(args.torch_only[0], int(args.torch_only[1]), args.threads, args.runs)))
        return
    require_binaries("bench_training", "ctbench")
    session = Session("bench_training", args)
    configs = [(name, int(batch)) for name, batch in (c.split(":") for c in args.configs.split(","))]
    samples = {}
    for r in range(args.rounds):
        for name, batch in configs:
            for side in sides(r):
                if side == "ctpipe":
                    command = [binary("ctbench"), "training", "--model", name, "--batch", str(batch),
                               "--threads", str(args.threads), "--runs", str(args.runs), "--json"]
                else:
                    command = self_command(__file__, "--threads", args.threads, "--runs", args.runs,
                                           "--torch-only", name, batch)
                run = session.measure(f"round {r + 1} {name} batch {batch} {side}", command)
                samples.setdefault((name, batch, side), []).append(dict(run.json(), load=run.load))
    rows, record = [], []
    for name, batch in configs:
        ours, theirs = samples[(name, batch, "ctpipe")], samples[(name, batch, "pytorch")]

        def stats(runs):
            return {"best": min(x["bestSecondsPerIteration"] for x in runs),
                    "median": median([x["secondsPerIteration"] for x in runs]),
                    "cpu": median([x["cpuSecondsPerIteration"] for x in runs]),
                    "rss": max(x["peakRSSMegabytes"] for x in runs)}
        o, t = stats(ours), stats(theirs)
        rows.append([f"{name}16 ({name}14 converted) 512, batch {batch}", f"{o['best']:.2f} / {o['median']:.2f}",
                     f"{o['cpu']:.2f}", f"{o['rss']:.0f} MiB", f"{t['best']:.2f} / {t['median']:.2f}", f"{t['cpu']:.2f}",
                     f"{t['rss']:.0f} MiB", f"{t['best'] / o['best']:.2f} / {t['median'] / o['median']:.2f}",
                     f"{ours[0]['trainableValues']} / {theirs[0]['trainableValues']}",
                     loads_text(x["load"] for x in ours) + " / " + loads_text(x["load"] for x in theirs)])
        record.append({"model": name, "batch": batch, "ctpipe": ours, "pytorch": theirs, "summary": {"ctpipe": o, "pytorch": t}})
    torch_version = next(iter(samples[(configs[0][0], configs[0][1], "pytorch")]))["torch"]
    note = (f"{args.threads} threads on both sides. PyTorch {torch_version}: backbone requires_grad False, SDPA "
            f"attention, the DCT as matrix products, torch.set_num_threads({args.threads}), float32, AdamW with the "
            f"same two groups. Each process: one warm-up iteration, then {args.runs}; best over all "
            f"{args.rounds} rounds / median of the processes' medians.")
    table = markdown_table(["model, batch", "ctpipe s/it best / median", "CPU s/it", "peak RSS",
                            "PyTorch s/it best / median", "CPU s/it", "peak RSS", "PyTorch / ctpipe best / median",
                            "trainable values ctpipe / PyTorch", "loads at starts ctpipe / PyTorch"], rows)
    session.report("Training step", [note, table],
                   {"threads": args.threads, "runs": args.runs, "rounds": args.rounds, "rows": record})


if __name__ == "__main__":
    main()
