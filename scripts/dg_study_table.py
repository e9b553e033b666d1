#!/usr/bin/env python3
"""dg_study_table.py — the markdown tables of docs/dg-study.md from the run
folders of scripts/dg_study.sh.

For each variant (OUT_DIR/runs/<name>/), the latest complete seed sweep
(seeds-*/summary.json, format ctpipe-seeds): per evaluated set and for the
ACDC average, the mean and sample standard deviation over the seeds as the
sweep wrote them, and each seed's value; from each seed's run folder the mean
training loss of the last 50 iterations (train_log.jsonl) and the number of
trained values (the adapter's and head's tensors in model.safetensors:
backbone.reins.* and decode_head.*; the frozen backbone is embedded too, as it
was randomly initialised, and is not counted); OUT_DIR/timings.tsv (written
by dg_study.sh) gives the wall time of each variant's sweep.

    python3 scripts/dg_study_table.py OUT_DIR          (standard library only)
"""
import json
import os
import struct
import sys

SETS = [("cityscapes-synth", "Cityscapes-synth (clear)"), ("acdc-synth/fog", "fog"), ("acdc-synth/night", "night"),
        ("acdc-synth/rain", "rain"), ("acdc-synth/snow", "snow")]
AVERAGE = "ACDC"
ORDER = ["dg-none", "dg-rein", "dg-causal-tune-bandpass-dct", "dg-causal-tune-lowcut-dct", "dg-causal-tune-highcut-dct",
         "dg-causal-tune-bandpass-fft", "dg-causal-tune-bandpass-haar", "dg-causal-tune-bandpass-dct-mask2former"]


def label(name):
    if name == "dg-none":
        return "none (head only)"
    if name == "dg-rein":
        return "rein"
    parts = name.split("-")
    mask, transform = parts[3], parts[4]
    head = ", Mask2Former head" if parts[5:] == ["mask2former"] else ""
    return f"causal-tune {mask}, {transform}{head}"


def latest_sweep(variant_folder):
    sweeps = sorted(d for d in os.listdir(variant_folder) if d.startswith("seeds-"))
    for sweep in reversed(sweeps):
        path = os.path.join(variant_folder, sweep, "summary.json")
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                summary = json.load(f)
            if summary.get("format") == "ctpipe-seeds" and summary.get("complete"):
                return os.path.join(variant_folder, sweep), summary
    return None, None


def last_loss(run_folder, count=50):
    with open(os.path.join(run_folder, "train_log.jsonl"), encoding="utf-8") as f:
        losses = [json.loads(line)["loss"] for line in f if line.strip()]
    tail = losses[-count:]
    return sum(tail) / len(tail)


def trained_values(model_file):
    with open(model_file, "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(length))
    total = 0
    for name, entry in header.items():
        if name.startswith("backbone.reins.") or name.startswith("decode_head."):
            n = 1
            for s in entry["shape"]:
                n *= s
            total += n
    return total


def row_of(summary, key, name):
    return next((r for r in summary[key] if r["name"] == name), None)


def cell(row, digits=2):
    if row is None or row.get("mean") is None:
        return "-"
    std = row.get("std")
    return f"{row['mean']:.{digits}f} ± {std:.{digits}f}" if std is not None else f"{row['mean']:.{digits}f}"


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: dg_study_table.py OUT_DIR")
    out = sys.argv[1]
    runs = os.path.join(out, "runs")
    timings = {}
    if os.path.exists(os.path.join(out, "timings.tsv")):
        with open(os.path.join(out, "timings.tsv"), encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    name, seconds = line.split("\t")
                    timings[name] = int(seconds)
    names = [n for n in ORDER if os.path.isdir(os.path.join(runs, n))]
    names += sorted(n for n in os.listdir(runs) if os.path.isdir(os.path.join(runs, n)) and n not in ORDER)
    found = []
    for name in names:
        folder, summary = latest_sweep(os.path.join(runs, name))
        if summary is None:
            print(f"{name}: no complete seed sweep, left out", file=sys.stderr)
            continue
        seed_runs = [os.path.join(folder, r["run_dir"]) for r in summary["runs"]]
        losses = [last_loss(r) for r in seed_runs]
        values = {trained_values(os.path.join(r, "model.safetensors")) for r in seed_runs}
        found.append((name, summary, losses, values))
    if not found:
        sys.exit(f"{runs}: no complete seed sweeps")
    seeds = found[0][1]["seeds"]
    print(f"mIoU (%), mean ± sample standard deviation over seeds {', '.join(map(str, seeds))} "
          f"(from each variant's summary.json); {AVERAGE} = mean of the four conditions; train loss: mean of the "
          "last 50 iterations, averaged over the seeds; time: wall seconds of the variant's sweep (every seed, "
          "training and evaluation; timings.tsv).\n")
    print("| variant | " + " | ".join(title for _, title in SETS) + f" | {AVERAGE} | train loss | trained values | time (s) |")
    print("|---" * (len(SETS) + 5) + "|")
    for name, summary, losses, values in found:
        cells = [cell(row_of(summary, "datasets", key)) for key, _ in SETS]
        average = cell(row_of(summary, "averages", AVERAGE))
        loss = sum(losses) / len(losses)
        print(f"| {label(name)} | " + " | ".join(cells) + f" | {average} | {loss:.3f} | "
              + ", ".join(f"{v:,}".replace(",", " ") for v in sorted(values)) + f" | {timings.get(name, '-')} |")
    print(f"\nPer seed: clear set / {AVERAGE} average (mIoU %).\n")
    print("| variant | " + " | ".join(f"seed {s}" for s in seeds) + " |")
    print("|---" * (len(seeds) + 1) + "|")
    for name, summary, _, _ in found:
        clear = {v["seed"]: v["mIoU"] for v in row_of(summary, "datasets", SETS[0][0])["values"]}
        acdc = {v["seed"]: v["mIoU"] for v in row_of(summary, "averages", AVERAGE)["values"]}
        print(f"| {label(name)} | " + " | ".join(
            f"{clear[s]:.2f} / {acdc[s]:.2f}" if clear.get(s) is not None and acdc.get(s) is not None else "-"
            for s in seeds) + " |")


if __name__ == "__main__":
    main()
