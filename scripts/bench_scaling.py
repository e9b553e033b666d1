#!/usr/bin/env python3
"""bench_scaling.py — thread scaling of the single-sample paths: 1 thread vs 2 threads (target t1/t2 >= 1.8).

Model: the random-weight vits14-p16 Causal-Tune checkpoint (m = 100, linear head, backbone
embedded) that `ctbench runner-infer` uses, written once by
`ctbench runner-infer --write-checkpoint`; frames: synthetic Cityscapes val frames of
2048 x 1024 from `ctpipe synth` (seed 7, the runner benchmarks' frames), under --root.

Paths, each measured with --low and --high threads (default 1 and 2):
  infer:    `ctpipe infer --checkpoint CKPT --threads N FRAME...` (keep-ratio resize to
            1024 x 512, 3 windows of 512 at stride 341, labels at 2048 x 1024, trainid PNG);
            time per frame from its JSON (model loading excluded; an image's wall time since the
            previous one was done, the first's since the start): the median over the
            frames after the first when --frames > 1 (the first pays the one-time set-up),
            else the one frame.
  features: `ctpipe features --checkpoint CKPT --image FRAME --size 512x1024 --threads N`:
            one forward of the backbone with the adapter on the resized frame (2049 tokens),
            its JSON's seconds (decode and resize excluded).
  runner:   `ctbench runner-infer --workers 1 --threads N --images F`: `Runner.run` on a
            manifest with pipelines/evaluate.json (the path of `ctpipe run --jobs 1
            --threads N`), per frame = (run time - the checkpoint load it includes, timed
            alone in the same process) / F.
Per round and path the two thread counts run in their own processes, the order flipped
every round, each started on a quiet machine (load at its start recorded;
scripts/bench_common.py). The table gives per path the median over rounds of t1, t2 and
of the rounds' t1/t2, and the best of each.

    swift build -c release --product ctbench --product ctpipe
    python3 scripts/bench_scaling.py [--paths infer,features,runner] [--frames 2] [--rounds 2]
        [--low 1] [--high 2] [--root DIR] [--max-load 1.3] [--wait 600] [--json F] [--markdown F]
"""
import argparse
import glob
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_common import (Session, add_options, binary, loads_text, markdown_table, median,  # noqa: E402
                          require_binaries, run_process, sides)

PATHS = ("infer", "features", "runner")
CHECKPOINT = "vits14-p16-causal-tune.safetensors"   # the name `ctbench runner-infer` looks for under its root


def prepare(root, frames):
    """The checkpoint and exactly `frames` synthetic frames under `root` (made once, reused)."""
    os.makedirs(root, exist_ok=True)
    checkpoint = os.path.join(root, CHECKPOINT)
    if not os.path.exists(checkpoint):
        run_process([binary("ctbench"), "runner-infer", "--write-checkpoint", checkpoint])
    data = os.path.join(root, "cityscapes")
    pattern = os.path.join(data, "leftImg8bit/val/*/*_leftImg8bit.png")
    if len(glob.glob(pattern)) != frames:
        shutil.rmtree(data, ignore_errors=True)
        run_process([binary("ctpipe"), "synth", "--dataset", "cityscapes", "--out", data, "--count", str(frames),
                     "--size", "2048x1024", "--split", "val", "--seed", "7"])
    images = sorted(glob.glob(pattern))
    assert len(images) == frames, images
    return checkpoint, images


def command(path, threads, root, checkpoint, images):
    out = os.path.join(root, f"out-{path}-t{threads}")
    if path == "infer":
        return [binary("ctpipe"), "infer", "--checkpoint", checkpoint, "--out-dir", out, "--threads", str(threads),
                "--format", "trainid", *images]
    if path == "features":
        return [binary("ctpipe"), "features", "--checkpoint", checkpoint, "--image", images[0], "--size", "512x1024",
                "--threads", str(threads), "--out", out + ".npy"]
    return [binary("ctbench"), "runner-infer", "--workers", "1", "--threads", str(threads), "--images", str(len(images)),
            "--rounds", "1", "--root", root]


def seconds_per_frame(path, report):
    if path == "infer":
        times = [image["seconds"] for image in report["images"]]
        return median(times[1:]) if len(times) > 1 else times[0]
    if path == "features":
        return report["seconds"]
    result = report["results"][0]
    return (result["seconds"] - report["checkpoint_load_seconds"]) / result["images"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--paths", default=",".join(PATHS))
    parser.add_argument("--frames", type=int, default=2, help="frames per infer / runner process (default 2)")
    parser.add_argument("--low", type=int, default=1)
    parser.add_argument("--high", type=int, default=2)
    parser.add_argument("--root", default="/tmp/ctpipe-bench-scaling")
    add_options(parser)
    args = parser.parse_args()
    paths = args.paths.split(",")
    if any(p not in PATHS for p in paths) or args.frames < 1:
        parser.error(f"--paths takes {', '.join(PATHS)}; --frames at least 1")
    require_binaries("bench_scaling", "ctbench", "ctpipe")
    checkpoint, images = prepare(args.root, args.frames)
    session = Session("bench_scaling", args)
    samples = {}
    for r in range(args.rounds):
        for path in paths:
            for threads in sides(r, args.low, args.high):
                run = session.measure(f"round {r + 1} {path} {threads} thread(s)",
                                      command(path, threads, args.root, checkpoint, images))
                samples.setdefault((path, threads), []).append({"seconds": seconds_per_frame(path, run.json()),
                                                                "load": run.load})
    rows, record = [], []
    what = {"infer": f"`ctpipe infer`, 2048x1024 frame -> 1024x512, 3 windows (median of frames 2..{args.frames})"
                     if args.frames > 1 else "`ctpipe infer`, one 2048x1024 frame -> 1024x512, 3 windows",
            "features": "`ctpipe features`, 2048x1024 frame -> 1024x512, backbone + Causal-Tune",
            "runner": f"runner (pipelines/evaluate.json), 1 worker, {args.frames} frame(s)"}
    for path in paths:
        low, high = samples[(path, args.low)], samples[(path, args.high)]
        ratios = [a["seconds"] / b["seconds"] for a, b in zip(low, high)]
        t1, t2 = median([x["seconds"] for x in low]), median([x["seconds"] for x in high])
        b1, b2 = min(x["seconds"] for x in low), min(x["seconds"] for x in high)
        rows.append([what[path], f"{t1:.3f} ({b1:.3f})", f"{t2:.3f} ({b2:.3f})", f"{median(ratios):.2f} ({b1 / b2:.2f})",
                     ", ".join(f"{x:.2f}" for x in ratios),
                     loads_text(x["load"] for x in low) + " / " + loads_text(x["load"] for x in high)])
        record.append({"path": path, "low": low, "high": high, "ratios": ratios})
    table = markdown_table(["path", f"s per frame, {args.low} thread(s): median (best)", f"{args.high} threads",
                            f"t{args.low}/t{args.high} median of rounds (best / best)", "per round",
                            f"loads at starts {args.low} / {args.high}"], rows)
    note = ("Model: random-weight vits14 converted to patch 16 with Causal-Tune (m = 100) and the linear head "
            "(`ctbench runner-infer --write-checkpoint`); frames from `ctpipe synth --dataset cityscapes --seed 7 "
            "--size 2048x1024`. Target t1/t2 >= 1.8.")
    session.report("Thread scaling of the single-sample paths", [note, table],
                   {"frames": args.frames, "low": args.low, "high": args.high, "rounds": args.rounds, "rows": record})


if __name__ == "__main__":
    main()
