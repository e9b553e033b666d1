#!/usr/bin/env python3
"""Writes the runner's scoring fixture: a tiny Cityscapes-layout tree, prediction
PNGs, and the expected confusion matrix computed with numpy (the MMSeg
intersect-and-union rule: pixels whose ground truth is 255 are dropped;
predictions outside 0..18 count in no prediction area, but their pixels still
count in the ground-truth area).

Run once; the outputs under Tests/PipelineTests/Fixtures/score are committed.
    python3 scripts/make_runner_fixtures.py
"""
import json
import os

import numpy as np
from PIL import Image

ROOT = os.path.join(os.path.dirname(__file__), "..", "Tests", "PipelineTests", "Fixtures", "score")
LABELS = json.load(open(os.path.join(os.path.dirname(__file__), "..", "Tests", "DatasetsTests", "Fixtures", "labels", "cityscapes.json")))
ID_TO_TRAIN = np.array(LABELS["idToTrainId"], dtype=np.uint8)

rng = np.random.default_rng(20261129)
W, H = 24, 12
samples = [("frankfurt", 0, 19), ("frankfurt", 0, 20), ("lindau", 3, 7), ("munster", 1, 2), ("munster", 1, 5)]
confusion = np.zeros((19, 19), dtype=np.int64)
area_label = np.zeros(19, dtype=np.int64)
for city, seq, frame in samples:
    stem = f"{city}_{seq:06d}_{frame:06d}"
    img_dir = os.path.join(ROOT, "cityscapes", "leftImg8bit", "val", city)
    gt_dir = os.path.join(ROOT, "cityscapes", "gtFine", "val", city)
    pred_dir = os.path.join(ROOT, "predictions", city)
    for d in (img_dir, gt_dir, pred_dir):
        os.makedirs(d, exist_ok=True)
    Image.fromarray(rng.integers(0, 256, (H, W, 3), dtype=np.uint8), "RGB").save(os.path.join(img_dir, stem + "_leftImg8bit.png"))
    label_ids = rng.choice(np.arange(34, dtype=np.uint8), size=(H, W))
    Image.fromarray(label_ids, "L").save(os.path.join(gt_dir, stem + "_gtFine_labelIds.png"))
    train = ID_TO_TRAIN[label_ids]
    # predictions: mostly right, some wrong classes, some out-of-range values
    pred = train.copy()
    noise = rng.random((H, W))
    pred[noise < 0.3] = rng.integers(0, 19, size=int((noise < 0.3).sum()), dtype=np.uint8)
    pred[(noise >= 0.3) & (noise < 0.35)] = 200
    pred[pred == 255] = rng.integers(0, 19, size=int((pred == 255).sum()), dtype=np.uint8)
    Image.fromarray(pred, "L").save(os.path.join(pred_dir, stem + ".png"))
    keep = train != 255
    gt, pr = train[keep].astype(np.int64), pred[keep].astype(np.int64)
    valid = pr < 19
    np.add.at(confusion, (gt[valid], pr[valid]), 1)
    area_label += np.bincount(gt, minlength=19)[:19]

inter = np.diag(confusion)
area_pred = confusion.sum(0)
union = area_pred + area_label - inter
iou = np.where(union > 0, inter / np.maximum(union, 1), np.nan)
expected = {
    "confusion": confusion.tolist(),
    "mIoU": float(np.nanmean(iou) * 100),
    "aAcc": float(inter.sum() / area_label.sum() * 100),
    "area_label": area_label.tolist(),
    "samples": len(samples),
}
with open(os.path.join(ROOT, "expected.json"), "w") as f:
    json.dump(expected, f, indent=1)
print("wrote", ROOT)
