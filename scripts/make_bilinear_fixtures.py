#!/usr/bin/env python3
"""make_bilinear_fixtures.py — golden values for Bilinear.resize (Tests/TensorTests/BilinearTests.swift).

torch.nn.functional.interpolate(mode="bilinear", align_corners=False) of random planes
(P, H, W): upsampling by 16 (the linear head's 32 x 32 patch logits, here 4 x 3 -> 64 x 48),
an uneven upsampling, a downsampling, a single row and column, and `scale_factor=0.5` of an
odd size. Run once; the small .npy files are committed.

    python3 scripts/make_bilinear_fixtures.py
"""
import json
import os

import numpy as np
import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests/TensorTests/Fixtures/bilinear")

# name: (planes, input h, input w, {"size": (h, w)} or {"scale_factor": s})
CASES = {
    "up16": (3, 4, 3, {"size": (64, 48)}),
    "uneven": (2, 5, 7, {"size": (13, 9)}),
    "down": (2, 11, 17, {"size": (4, 6)}),
    "line": (2, 1, 1, {"size": (3, 5)}),
    "half_odd": (2, 7, 9, {"scale_factor": 0.5}),
}


def main():
    os.makedirs(OUT, exist_ok=True)
    generator = torch.Generator().manual_seed(2026)
    index = {}
    for name, (planes, h, w, how) in CASES.items():
        x = torch.randn(1, planes, h, w, generator=generator)
        y = F.interpolate(x, mode="bilinear", align_corners=False, **how)
        np.save(os.path.join(OUT, f"{name}_in.npy"), x[0].numpy().astype(np.float32))
        np.save(os.path.join(OUT, f"{name}_out.npy"), y[0].numpy().astype(np.float32))
        index[name] = {"planes": planes, "in": [h, w], "out": list(y.shape[2:]),
                       **({"scale_factor": how["scale_factor"]} if "scale_factor" in how else {})}
    with open(os.path.join(OUT, "cases.json"), "w") as f:
        json.dump(index, f, indent=1, sort_keys=True)
    print(f"{len(CASES)} cases written to {OUT}")


if __name__ == "__main__":
    main()
