#!/usr/bin/env python3
"""bench_mpi_training.py — data-parallel training on one machine: one process with
T threads per sample against `mpirun -np R` with T/R threads each (docs/training.md,
"Several processes (MPI)"), alternating rounds, release build.

    swift build -c release --product ctpipe
    python3 scripts/bench_mpi_training.py [--rounds 3] [--iterations 6] [--threads 2] [--ranks 2]
        [--backbone vits14] [--crop 224] [--max-load 1.3] [--wait 600]

The manifest (written to a scratch folder): read + train, `--backbone` with random
weights, Causal-Tune, batch 2 x accumulate 2 (4 samples per iteration), synthetic
GTA-style data. Per run: the median of `seconds_per_iteration` over the iterations
after the first (train_log.jsonl), and for the ranks rank 0's `exchange_seconds`
(train_finish event) per iteration. Before each run it waits until the 1-minute
load average is at or below --max-load, and refuses (exit 3) after --wait seconds.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from quiet_machine import wait_quiet  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CTPIPE = os.path.join(ROOT, ".build", "release", "ctpipe")


def manifest(folder, o, name):
    data = os.path.join(folder, "data")
    return {
        "version": 1, "name": name, "seed": 0,
        "pipeline": {"version": 1, "stages": ["read", "train"]},
        "datasets": [{"name": "gta", "kind": "gta5", "root": os.path.join(data, "gta"), "role": "train",
                      "synthesize": {"count": 16, "seed": 1, "size": [2 * o.crop, o.crop]}}],
        "model": {"backbone": o.backbone, "adapter": "causal-tune", "tokens": 100},
        "training": {"iterations": o.iterations, "batch_size": 2, "accumulate": 2, "crop_size": o.crop,
                     "checkpoint_interval": o.iterations},
        "outputs": {"dir": os.path.join(folder, "runs")},
    }


def run(folder, o, ranks, index):
    name = f"r{ranks}-{index}"
    path = os.path.join(folder, name + ".json")
    with open(path, "w") as f:
        json.dump(manifest(folder, o, name), f)
    threads = max(1, o.threads // ranks)
    command = [CTPIPE, "run", path, "--quiet", "--threads", str(threads), "--no-history", "--no-report"]
    env = dict(os.environ)
    if ranks > 1:
        command = ["mpirun", "--oversubscribe", "-np", str(ranks)] + command
        env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    load = wait_quiet(o.max_load, o.wait, "bench_mpi_training")
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
    run_dir = os.path.join(folder, "runs", name)
    run_dir = os.path.join(run_dir, sorted(os.listdir(run_dir))[-1])
    with open(os.path.join(run_dir, "train_log.jsonl")) as f:
        seconds = [json.loads(line)["seconds_per_iteration"] for line in f if line.strip()]
    exchange = None
    with open(os.path.join(run_dir, "events.jsonl")) as f:
        for line in f:
            event = json.loads(line)
            if event.get("event") == "train_finish" and "exchange_seconds" in event:
                exchange = event["exchange_seconds"] / o.iterations
    return {"ranks": ranks, "threads": threads, "load": load, "median": statistics.median(seconds[1:]),
            "exchange": exchange}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--iterations", type=int, default=6)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--ranks", type=int, default=2)
    p.add_argument("--backbone", default="vits14")
    p.add_argument("--crop", type=int, default=224)
    p.add_argument("--max-load", type=float, default=1.3)
    p.add_argument("--wait", type=float, default=600)
    o = p.parse_args()
    if not os.path.exists(CTPIPE):
        sys.exit("bench_mpi_training: build first: swift build -c release --product ctpipe")
    folder = tempfile.mkdtemp(prefix="ctpipe-bench-mpi-")
    rows = []
    for r in range(o.rounds):
        order = [1, o.ranks] if r % 2 == 0 else [o.ranks, 1]
        results = {ranks: run(folder, o, ranks, r) for ranks in order}
        one, many = results[1], results[o.ranks]
        rows.append((r + 1, one, many))
        share = many["exchange"] / many["median"] if many["exchange"] is not None else float("nan")
        print(f"round {r + 1}: 1 x {one['threads']} threads {one['median']:.3f} s/it (load {one['load']:.2f}); "
              f"{o.ranks} ranks x {many['threads']} {many['median']:.3f} s/it (load {many['load']:.2f}); "
              f"speed-up {one['median'] / many['median']:.2f}x; exchange {many['exchange'] or 0:.3f} s/it ({share:.0%})")
    print("| round | load at starts | 1 rank s/it | %d ranks s/it | speed-up | exchange per iteration (share) |" % o.ranks)
    print("|---|---|---|---|---|---|")
    for r, one, many in rows:
        share = many["exchange"] / many["median"] if many["exchange"] is not None else float("nan")
        print(f"| {r} | {one['load']:.2f}, {many['load']:.2f} | {one['median']:.3f} | {many['median']:.3f} | "
              f"{one['median'] / many['median']:.2f}x | {many['exchange'] or 0:.3f} s ({share:.0%}) |")


if __name__ == "__main__":
    main()
