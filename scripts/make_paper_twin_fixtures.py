#!/usr/bin/env python3
"""make_paper_twin_fixtures.py — a tiny released-style Rein checkpoint with the
Mask2Former head for the synthetic twins of the paper's evaluation-only
manifests (manifests/paper/*-released.json; Tests/PipelineTests/PaperTwinTests.swift).

The twin of such a manifest runs the runner's infer stage on a `head:
mask2former` model, which the manifest loads with Rein's configuration for
what shapes do not record: 8 pixel-decoder and decoder attention heads, 4
sampling points, GroupNorm with 32 groups, out_indices L/3-1, L/2-1, 2L/3-1,
L-1. The whole-model fixture of the model tests uses other values (so that it
stays small), so this script builds the same model with Rein's values instead,
reusing that script's PyTorch / HuggingFace modules
(scripts/make_mask2former_model_fixtures.py): DINOv2 C 16, 5 blocks (out
indices 0, 1, 2, 4), patch 8, position grid 4 x 4; LoRA tokens (rank 16, 10
tokens = queries) with the token -> query link; head width 32, 8 heads, 4
points, GroupNorm 32, 1 encoder layer, 3 decoder layers, 19 classes. Random
weights (seeded); the twins need a model that runs, not particular numbers.
One 32 x 32 window is run through the PyTorch model as a check that the file
is a working model.

Outputs (Tests/PipelineTests/Fixtures/paper_twin, committed):
  rein_mask2former.pth  torch.save({"meta", "state_dict": backbone.reins.*, decode_head.*})
  dinov2.pth            the backbone with the facebookresearch release's names
Run once from the repository root (numpy, torch, transformers):
    python3 scripts/make_paper_twin_fixtures.py
"""
import collections
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_mask2former_model_fixtures as m  # noqa: E402

OUT = os.path.join(m.ROOT, "Tests/PipelineTests/Fixtures/paper_twin")
CITYSCAPES = ("road", "sidewalk", "building", "wall", "fence", "pole", "traffic light", "traffic sign", "vegetation",
              "terrain", "sky", "person", "rider", "car", "truck", "bus", "train", "motorcycle", "bicycle")

# Rein's values for what checkpoint shapes do not record; small sizes elsewhere.
m.C, m.DEPTH, m.HEADS, m.PATCH, m.GRID, m.MLP = 16, 5, 1, 8, 4, 64
m.OUT_INDICES = [m.DEPTH // 3 - 1, m.DEPTH // 2 - 1, 2 * m.DEPTH // 3 - 1, m.DEPTH - 1]
m.TOKENS, m.RANK = 10, 16
m.D, m.PD_HEADS, m.POINTS, m.ENC_LAYERS, m.ENC_FFN, m.GROUPS = 32, 8, 4, 1, 64, 32
m.DEC_HEADS, m.DEC_LAYERS, m.DEC_FFN, m.CLASSES, m.LEVELS = 8, 3, 64, 19, 3
m.IMAGES = [(32, 32)]


def main():
    os.makedirs(OUT, exist_ok=True)
    seed = 20261204
    t, reins, head, images = m.build(seed)
    result = m.run(t, reins, head, images)[0]
    assert tuple(result["scores"].shape) == (m.CLASSES, 32, 32) and torch.isfinite(result["scores"]).all()
    adapter = {"backbone.reins." + k: v.detach().to(torch.float32).contiguous() for k, v in reins.state_dict().items()}
    state = collections.OrderedDict(sorted(dict(adapter, **head.state()).items()))
    meta = {"mmseg_version": "1.2.2", "iter": 40000, "epoch": 0, "seed": seed,
            "dataset_meta": {"classes": CITYSCAPES}}
    torch.save({"meta": meta, "state_dict": state}, os.path.join(OUT, "rein_mask2former.pth"))
    torch.save({k: v.to(torch.float32).contiguous() for k, v in t.items()}, os.path.join(OUT, "dinov2.pth"))
    for name in sorted(os.listdir(OUT)):
        print(f"{name}: {os.path.getsize(os.path.join(OUT, name))} bytes")
    print(len(state), "adapter and head tensors; out_indices", m.OUT_INDICES)


if __name__ == "__main__":
    main()
