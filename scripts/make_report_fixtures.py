#!/usr/bin/env python3
"""Per-image scores of the runner's scoring fixture, computed with numpy, for the
report's worst-images gallery: each image's own mIoU (mean IoU over the classes
whose union is not empty in that image, MMSeg's intersect-and-union rule) and
pixel accuracy, and the gallery order (lowest mIoU first, ties by sample id).
Run once; the output Tests/PipelineTests/Fixtures/score/per_image.json is committed.

    python3 scripts/make_report_fixtures.py
"""
import json
import os

import numpy as np
from PIL import Image

HERE = os.path.dirname(__file__)
ROOT = os.path.join(HERE, "..", "Tests", "PipelineTests", "Fixtures", "score")
LABELS = json.load(open(os.path.join(HERE, "..", "Tests", "DatasetsTests", "Fixtures", "labels", "cityscapes.json")))
ID_TO_TRAIN = np.array(LABELS["idToTrainId"], dtype=np.uint8)

scores = {}
gt_root = os.path.join(ROOT, "cityscapes", "gtFine", "val")
for city in sorted(os.listdir(gt_root)):
    for name in sorted(os.listdir(os.path.join(gt_root, city))):
        stem = name.replace("_gtFine_labelIds.png", "")
        train = ID_TO_TRAIN[np.array(Image.open(os.path.join(gt_root, city, name)))]
        pred = np.array(Image.open(os.path.join(ROOT, "predictions", city, stem + ".png")))
        keep = train != 255
        gt, pr = train[keep].astype(np.int64), pred[keep].astype(np.int64)
        inter = np.bincount(gt[gt == pr], minlength=19)[:19]
        area_label = np.bincount(gt, minlength=19)[:19]
        area_pred = np.bincount(pr[pr < 19], minlength=19)[:19]
        union = area_label + area_pred - inter
        iou = inter[union > 0] / union[union > 0]
        scores[f"{city}/{stem}"] = {
            "mIoU": float(iou.mean() * 100) if iou.size else None,
            "aAcc": float(inter.sum() / area_label.sum() * 100) if area_label.sum() else None,
            "pixels": int(area_label.sum()),
        }
order = sorted((k for k in scores if scores[k]["mIoU"] is not None), key=lambda k: (scores[k]["mIoU"], k))
with open(os.path.join(ROOT, "per_image.json"), "w") as f:
    json.dump({"scores": scores, "gallery_order": order}, f, indent=1)
print("wrote", os.path.join(ROOT, "per_image.json"), order)
