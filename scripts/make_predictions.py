#!/usr/bin/env python3
"""make_predictions.py — a prediction folder derived from a dataset's trainId labels.

Copies every `*_labelTrainIds.png` (Cityscapes/ACDC layout; GTA5 `labels/*_labelTrainIds.png`)
below ROOT into OUT/<relative folder>/<stem>.png as an 8-bit trainId PNG, with a deterministic
fraction of the labelled pixels changed to another class, and with classes listed in --drop
replaced by road (0) everywhere, so a "worse model" can be simulated for regression tests.
Pillow + numpy only. Used by scripts/nightly.sh demos, scripts/check_report.sh and
scripts/slurm_selftest.sh.

    python3 scripts/make_predictions.py ROOT OUT [--corrupt 0.1] [--seed 0] [--drop 11,12]
"""
import argparse
import os
import sys

import numpy as np
from PIL import Image


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root")
    parser.add_argument("out")
    parser.add_argument("--corrupt", type=float, default=0.1, help="fraction of labelled pixels changed")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--drop", default="", help="comma-separated trainIds predicted as road instead")
    args = parser.parse_args()
    drop = [int(x) for x in args.drop.split(",") if x]
    rng = np.random.default_rng(args.seed)
    count = 0
    for folder, _, files in sorted(os.walk(args.root)):
        for name in sorted(files):
            if not name.endswith("_labelTrainIds.png"):
                continue
            label = np.array(Image.open(os.path.join(folder, name)))
            pred = label.copy()
            mask = (label != 255) & (rng.random(label.shape) < args.corrupt)
            pred[mask] = (label[mask].astype(np.int32) + rng.integers(1, 19, size=int(mask.sum()))) % 19
            for t in drop:
                pred[label == t] = 0
            pred[label == 255] = 0
            rel = os.path.relpath(folder, args.root)
            # Cityscapes: gtFine/val/<city>/<stem>_gtFine_labelTrainIds.png -> OUT/<city>/<stem>.png
            parts = rel.split(os.sep)
            sub = os.sep.join(parts[2:]) if len(parts) > 2 and parts[0] in ("gtFine", "gt") else rel
            stem = name.replace("_gtFine_labelTrainIds.png", "").replace("_gt_labelTrainIds.png", "").replace("_labelTrainIds.png", "")
            target = os.path.join(args.out, sub, stem + ".png")
            os.makedirs(os.path.dirname(target), exist_ok=True)
            Image.fromarray(pred.astype(np.uint8), mode="L").save(target)
            count += 1
    print(f"{count} predictions written to {args.out}")
    return 0 if count else 1


if __name__ == "__main__":
    sys.exit(main())
