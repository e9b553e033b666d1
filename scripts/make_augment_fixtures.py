#!/usr/bin/env python3
"""make_augment_fixtures.py — golden data for the Augment and Metrics tests.

Run once (numpy + opencv-python-headless); the outputs are committed under
Tests/AugmentTests/Fixtures and Tests/MetricsTests/Fixtures.

References:
- OpenCV (cv2.cvtColor BGR2HSV/HSV2BGR, cv2.resize INTER_NEAREST) is called
  directly.
- mmcv 2.x / mmseg 1.x are not installable here (they need torch), so their
  transform logic is re-implemented below line by line from their source
  (mmcv/image/geometric.py rescale_size/_scale_size, mmseg
  ResizeShortestEdge._get_output_shape, RandomCrop.crop_bbox,
  PhotoMetricDistortion.convert/brightness/contrast/saturation/hue) with the
  numpy RNG replaced by injected draws. mmseg works on BGR images: the
  references run on BGR and the fixtures store RGB.
- MMSeg IoUMetric.intersect_and_union / total_area_to_metrics re-implemented
  in numpy (exact int64 histograms; MMSeg uses float32 histc).
"""
import json
import os
import sys

import cv2
import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
AUG = os.path.join(ROOT, "Tests/AugmentTests/Fixtures")
MET = os.path.join(ROOT, "Tests/MetricsTests/Fixtures")


# ---------------------------------------------------------------- mmcv / mmseg
def scale_size(size, scale):                     # mmcv _scale_size
    w, h = size
    return int(w * float(scale) + 0.5), int(h * float(scale) + 0.5)


def rescale_size(old_size, scale):               # mmcv rescale_size (tuple scale)
    w, h = old_size
    max_long_edge = max(scale)
    max_short_edge = min(scale)
    scale_factor = min(max_long_edge / max(h, w), max_short_edge / min(h, w))
    return scale_size((w, h), scale_factor)


def shortest_edge_target(h, w, short_edge_length, max_size):   # mmseg ResizeShortestEdge
    size = short_edge_length * 1.0
    scale = size / min(h, w)
    if h < w:
        new_h, new_w = size, scale * w
    else:
        new_h, new_w = scale * h, size
    if max(new_h, new_w) > max_size:
        scale = max_size * 1.0 / max(new_h, new_w)
        new_h *= scale
        new_w *= scale
    return int(new_w + 0.5), int(new_h + 0.5)


def crop_bbox(seg, crop_size, cat_max_ratio, ignore_index, draws):  # mmseg RandomCrop
    requests = []

    def randint(lo, hi):
        requests.append([lo, hi])
        v = draws.pop(0)
        assert lo <= v < hi
        return v

    def generate(img):
        margin_h = max(img.shape[0] - crop_size[0], 0)
        margin_w = max(img.shape[1] - crop_size[1], 0)
        offset_h = randint(0, margin_h + 1)
        offset_w = randint(0, margin_w + 1)
        return offset_h, offset_h + crop_size[0], offset_w, offset_w + crop_size[1]

    box = generate(seg)
    if cat_max_ratio < 1.:
        for _ in range(10):
            y1, y2, x1, x2 = box
            seg_temp = seg[y1:y2, x1:x2]
            labels, cnt = np.unique(seg_temp, return_counts=True)
            cnt = cnt[labels != ignore_index]
            if len(cnt) > 1 and np.max(cnt) / np.sum(cnt) < cat_max_ratio:
                break
            box = generate(seg)
    y1, y2, x1, x2 = box
    return [y1, min(y2, seg.shape[0]), x1, min(x2, seg.shape[1])], requests


def convert(img, alpha=1, beta=0):              # mmseg PhotoMetricDistortion.convert
    img = img.astype(np.float32) * alpha + beta
    img = np.clip(img, 0, 255)
    return img.astype(np.uint8)


def pmd_brightness(img, beta):
    return convert(img, beta=beta)


def pmd_contrast(img, alpha):
    return convert(img, alpha=alpha)


def pmd_saturation(img, alpha):
    img = cv2.cvtColor(img, cv2.COLOR_BGR2HSV)
    img[:, :, 1] = convert(img[:, :, 1], alpha=alpha)
    return cv2.cvtColor(img, cv2.COLOR_HSV2BGR)


def pmd_hue(img, delta):
    img = cv2.cvtColor(img, cv2.COLOR_BGR2HSV)
    img[:, :, 0] = (img[:, :, 0].astype(int) + delta) % 180
    return cv2.cvtColor(img, cv2.COLOR_HSV2BGR)


def pmd(img, d):                                 # PhotoMetricDistortion.transform, draws fixed
    if d["brightness"] is not None:
        img = pmd_brightness(img, d["brightness"])
    if d["contrastFirst"] and d["contrast"] is not None:
        img = pmd_contrast(img, d["contrast"])
    if d["saturation"] is not None:
        img = pmd_saturation(img, d["saturation"])
    if d["hue"] is not None:
        img = pmd_hue(img, d["hue"])
    if not d["contrastFirst"] and d["contrast"] is not None:
        img = pmd_contrast(img, d["contrast"])
    return img


def normalize_pad(rgb, size):                    # SegDataPreProcessor (float32, as torch)
    mean = np.array([123.675, 116.28, 103.53], np.float32).reshape(3, 1, 1)
    std = np.array([58.395, 57.12, 57.375], np.float32).reshape(3, 1, 1)
    x = rgb.transpose(2, 0, 1).astype(np.float32)
    x = (x - mean) / std
    out = np.zeros((3, size[1], size[0]), np.float32)
    out[:, :x.shape[1], :x.shape[2]] = x
    return out


# ------------------------------------------------------------------- helpers
def weighted_checksum(a):
    """sum_i a[i] * w[i] mod 2^64 with w[i] = (i * 0x9E3779B1 mod 2^32) | 1."""
    flat = a.reshape(-1).astype(np.uint64)
    i = np.arange(flat.size, dtype=np.uint64)
    w = ((i * np.uint64(0x9E3779B1)) & np.uint64(0xFFFFFFFF)) | np.uint64(1)
    with np.errstate(over="ignore"):
        return int(np.sum(flat * w, dtype=np.uint64))


def all_triples():
    a = np.arange(1 << 24, dtype=np.uint32)
    return np.stack([(a >> 16) & 255, (a >> 8) & 255, a & 255], -1).astype(np.uint8)


def save(folder, name, array):
    np.save(os.path.join(folder, name), np.ascontiguousarray(array))


def main():
    os.makedirs(AUG, exist_ok=True)
    os.makedirs(MET, exist_ok=True)
    rng = np.random.default_rng(20240531)
    fx = {"opencv": cv2.__version__, "numpy": np.__version__}

    # --- sizes -------------------------------------------------------------
    keep = []
    for (w, h) in [(2048, 1024), (1914, 1052), (2016, 1512), (960, 540), (1512, 2016), (1280, 720),
                   (1920, 1080), (1052, 1914), (333, 777), (5000, 300)]:
        for scale in [(1024, 512), (2048, 1024), (1280, 720), (960, 540), (1920, 1080), (512, 1024)]:
            keep.append({"size": [w, h], "scale": list(scale), "out": list(rescale_size((w, h), scale))})
    fx["keepRatio"] = keep
    fx["scales512"] = [int(512 * x * 0.1) for x in range(5, 21)]
    fx["scales1024"] = [int(1024 * x * 0.1) for x in range(5, 21)]
    shortest = []
    for (w, h) in [(1914, 1052), (2048, 1024), (2016, 1512), (1512, 2016), (1920, 1080), (1280, 720),
                   (5000, 300), (300, 5000), (777, 777)]:
        for max_size, scales in [(2048, fx["scales512"]), (4096, fx["scales1024"])]:
            for s in scales:
                target = shortest_edge_target(h, w, s, max_size)
                shortest.append({"size": [w, h], "short": s, "max": max_size, "target": list(target),
                                 "out": list(rescale_size((w, h), target))})
    fx["shortestEdge"] = shortest

    # --- label nearest resize through keep-ratio (cv2 INTER_NEAREST) --------
    label = rng.integers(0, 20, size=(23, 37), dtype=np.uint8)
    save(AUG, "nearest_in.npy", label)
    out_size = rescale_size((37, 23), (20, 10))
    save(AUG, "nearest_out.npy", cv2.resize(label, out_size, interpolation=cv2.INTER_NEAREST))
    fx["nearestScale"] = [20, 10]
    # a size pair where OpenCV's floor(d * (1 / (dst/src))) and floor(d * src/dst) differ
    # (Mapillary 2016 wide at short edge 972 -> 1296 wide); own generator, other fixtures unchanged
    wide = np.random.default_rng(7).integers(0, 19, size=(3, 2016), dtype=np.uint8)
    save(AUG, "nearest_wide_in.npy", wide)
    save(AUG, "nearest_wide_out.npy", cv2.resize(wide, (1296, 2), interpolation=cv2.INTER_NEAREST))

    # --- RandomCrop ---------------------------------------------------------
    seg = np.full((30, 40), 1, np.uint8)          # mostly class 1
    seg[:, 30:] = 2                               # a band of class 2 on the right
    seg[0:10, 0:10] = 255                         # ignore block top-left
    seg[20:30, 0:12] = 3                          # class 3 bottom-left
    save(AUG, "crop_label.npy", seg)
    crop_cases = []
    scenarios = [
        ("first accepted", [5, 20] + [0, 0] * 10),
        ("third accepted", [0, 0, 5, 0, 14, 24] + [0, 0] * 8),
        ("ignore-only then mixed", [0, 0, 14, 0] + [0, 0] * 9),
        ("never accepted, 11th unchecked", [2, 3] * 10 + [7, 9]),
        ("single class rejected", [3, 12, 14, 24] + [0, 0] * 9),
    ]
    for name, draws in scenarios:
        box, requests = crop_bbox(seg, (16, 16), 0.75, 255, list(draws))
        crop_cases.append({"name": name, "draws": draws[:len(requests)], "requests": requests, "box": box})
    # crop larger than the image in one dimension
    box, requests = crop_bbox(seg, (16, 64), 0.75, 255, [3, 0] * 11)
    crop_cases.append({"name": "crop wider than image", "cropWidth": 64, "draws": [3, 0] * (len(requests) // 2),
                       "requests": requests, "box": box})
    fx["crop"] = crop_cases

    # --- HSV: all 2^24 inputs, as checksums ------------------------------------
    t = all_triples()                                  # (r, g, b) for RGB2HSV
    bgr = t[:, ::-1].copy()
    hsv = cv2.cvtColor(bgr.reshape(4096, 4096, 3), cv2.COLOR_BGR2HSV).reshape(-1, 3)
    vec = cv2.cvtColor(t.reshape(4096, 4096, 3), cv2.COLOR_HSV2BGR).reshape(-1, 3)[:, ::-1]   # -> RGB
    sca = cv2.cvtColor(t.reshape(-1, 1, 3), cv2.COLOR_HSV2BGR).reshape(-1, 3)[:, ::-1]
    fx["hsvChecksums"] = {"toHSV": weighted_checksum(hsv), "toRGBVector": weighted_checksum(vec),
                          "toRGBScalar": weighted_checksum(sca)}
    pick = rng.integers(0, 1 << 24, size=2048)
    save(AUG, "hsv_sample_index.npy", pick.astype(np.uint32).view(np.uint8).reshape(-1, 4))
    save(AUG, "hsv_sample.npy", np.stack([hsv[pick], vec[pick], sca[pick]], 1))   # (2048, 3, 3)

    # --- PhotoMetricDistortion steps on a 70-wide image (64 vector + 6 tail) --
    img_rgb = rng.integers(0, 256, size=(9, 70, 3), dtype=np.uint8)
    img_rgb[0, :, :] = 0                                # a black row
    img_rgb[1, :, :] = 255                              # a white row
    img_rgb[2, :, 1] = img_rgb[2, :, 0]; img_rgb[2, :, 2] = img_rgb[2, :, 0]   # greys
    save(AUG, "pmd_in.npy", img_rgb)
    img = img_rgb[:, :, ::-1].copy()                    # BGR, as mmseg
    steps = [("brightness", 17.3), ("brightness", -25.9), ("brightness", 31.99),
             ("contrast", 0.63), ("contrast", 1.41), ("saturation", 0.55), ("saturation", 1.37),
             ("hue", -18), ("hue", 7), ("hue", 17)]
    outs = []
    for kind, value in steps:
        f = {"brightness": pmd_brightness, "contrast": pmd_contrast,
             "saturation": pmd_saturation, "hue": pmd_hue}[kind]
        outs.append(f(img.copy(), value)[:, :, ::-1])
    save(AUG, "pmd_steps.npy", np.stack(outs))
    fx["pmdSteps"] = [{"kind": k, "value": v} for k, v in steps]
    full = [
        {"brightness": 12.5, "contrastFirst": True, "contrast": 1.3, "saturation": 0.7, "hue": -5},
        {"brightness": -20.25, "contrastFirst": False, "contrast": 0.8, "saturation": 1.2, "hue": 11},
        {"brightness": None, "contrastFirst": False, "contrast": None, "saturation": 1.45, "hue": None},
    ]
    save(AUG, "pmd_full.npy", np.stack([pmd(img.copy(), d)[:, :, ::-1] for d in full]))
    fx["pmdFull"] = full

    # --- Flip and Normalize ---------------------------------------------------
    small = rng.integers(0, 256, size=(5, 7, 3), dtype=np.uint8)
    save(AUG, "norm_in.npy", small)
    save(AUG, "norm_out.npy", normalize_pad(small, (8, 6)))
    save(AUG, "flip_out.npy", small[:, ::-1])
    fx["normalizePad"] = [8, 6]

    with open(os.path.join(AUG, "augment.json"), "w") as f:
        json.dump(fx, f, indent=1)

    # --- Metrics: MMSeg IoUMetric on random planes ----------------------------
    K = 19
    n, h, w = 6, 24, 32
    labels = rng.integers(0, K, size=(n, h, w), dtype=np.uint8)
    labels[labels == 7] = 6                             # class 7 never labelled ...
    preds = labels.copy()
    flip = rng.random((n, h, w)) < 0.35
    preds[flip] = rng.integers(0, K, size=int(flip.sum()), dtype=np.uint8)
    preds[preds == 7] = 8                               # ... nor predicted: undefined IoU
    preds[preds == 9] = 10                              # class 9 labelled, never predicted
    labels[rng.random((n, h, w)) < 0.1] = 255           # ignore
    labels[0, 0, :5] = [19, 20, 40, 200, 254]           # labels outside 0..K-1 (not ignore)
    preds[1, 0, :4] = [19, 25, 255, 100]                # predictions outside 0..K-1
    preds[2, 3, 3] = 7                                  # one stray prediction of 7 on an ignored pixel
    labels[2, 3, 3] = 255
    save(MET, "labels.npy", labels)
    save(MET, "preds.npy", preds)
    inter = np.zeros(K, np.int64); union = np.zeros(K, np.int64)
    area_pred = np.zeros(K, np.int64); area_label = np.zeros(K, np.int64)
    for p, l in zip(preds, labels):                     # intersect_and_union
        mask = l != 255
        p = p[mask].astype(np.int64); l = l[mask].astype(np.int64)
        it = p[p == l]

        def hist(x):
            x = x[(x >= 0) & (x <= K - 1)]
            return np.bincount(x, minlength=K)
        ai, ap, al = hist(it), hist(p), hist(l)
        inter += ai; area_pred += ap; area_label += al; union += ap + al - ai
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = inter / union
        acc = inter / area_label
    aacc = inter.sum() / area_label.sum()
    # confusion matrix of in-range pairs, rows ground truth
    conf = np.zeros((K, K), np.int64)
    for p, l in zip(preds, labels):
        m = (l < K) & (p < K)
        np.add.at(conf, (l[m].astype(int), p[m].astype(int)), 1)

    def nan_to_none(v):
        return [None if np.isnan(x) else float(x) for x in v]
    met = {"classCount": K, "images": n, "intersection": inter.tolist(), "union": union.tolist(),
           "areaPred": area_pred.tolist(), "areaLabel": area_label.tolist(),
           "iou": nan_to_none(iou), "acc": nan_to_none(acc), "aAcc": float(aacc),
           "mIoU": float(np.nanmean(iou)), "mAcc": float(np.nanmean(acc)), "confusion": conf.tolist()}
    with open(os.path.join(MET, "iou_metric.json"), "w") as f:
        json.dump(met, f, indent=1)
    print("fixtures written", file=sys.stderr)


if __name__ == "__main__":
    main()
