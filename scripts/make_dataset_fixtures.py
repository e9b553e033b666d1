#!/usr/bin/env python3
"""make_dataset_fixtures.py — writes tiny dataset trees in the real on-disk
layouts and encodings with Pillow, and the expected reader results computed
with numpy from the reference label tables (never from ctpipe's code).

Output: Tests/DatasetsTests/Fixtures/datasets/{cityscapes,gta5,acdc,bdd100k,
mapillary,problems_gta5}/ and Tests/DatasetsTests/Fixtures/datasets/expected.json,
a list of cases {dataset, root, split, condition, layout, samples[...],
problems[...]}; each sample has id, image, label (paths relative to the root),
metadata and the expected trainId plane (row-major list).

Run once: python3 scripts/make_dataset_fixtures.py  (deterministic; numpy seed 7)
"""
import io
import json
import pathlib
import shutil

import numpy as np
from PIL import Image

ROOT = pathlib.Path(__file__).resolve().parent.parent
FIX = ROOT / "Tests" / "DatasetsTests" / "Fixtures"
LABELS = FIX / "labels"
OUT = FIX / "datasets"
W, H = 32, 16
rng = np.random.default_rng(7)

cs = json.load(open(LABELS / "cityscapes.json"))
gta = json.load(open(LABELS / "gta5.json"))
mv = json.load(open(LABELS / "mapillary_v1.2.json"))
mcfg_text = (LABELS / "mapillary_config_v1.2.json").read_text()
mcfg = json.loads(mcfg_text)
bdd = json.load(open(LABELS / "bdd100k.json"))

CS_LUT = np.array(cs["idToTrainId"], dtype=np.uint8)
GTA_LUT = np.array(gta["lut"], dtype=np.uint8)
MV_LUT = np.array(mv["lut"], dtype=np.uint8)
CS_COLORS = np.zeros((256, 3), np.uint8)
for l in cs["labels"]:
    if l["id"] >= 0:
        CS_COLORS[l["id"]] = l["color"]
CS_PALETTE = CS_COLORS.flatten().tolist()
MV_PALETTE = [v for l in mcfg["labels"] for v in l["color"]]


def image(w=W, h=H):
    """A smooth RGB image with noise (compresses small, not constant)."""
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x * 255 // max(1, w - 1), y * 255 // max(1, h - 1), (x + y) * 255 // max(1, w + h - 2)], -1)
    return np.clip(base + rng.integers(-20, 21, (h, w, 3)), 0, 255).astype(np.uint8)


def blocks(values, w=W, h=H):
    """A label plane of 4x4 blocks drawn from `values` (each value used at least once when possible)."""
    bw, bh = (w + 3) // 4, (h + 3) // 4
    vals = list(values)
    grid = np.array([vals[i % len(vals)] for i in rng.permutation(max(bw * bh, len(vals)))[: bw * bh]])
    grid = grid.reshape(bh, bw).astype(np.uint8)
    return np.kron(grid, np.ones((4, 4), np.uint8))[:h, :w]


def save(path, array, mode, palette=None):
    """Saves with Pillow: L (grey), P (indices + palette), RGB or RGBA."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode == "P":
        im = Image.new("P", (array.shape[1], array.shape[0]))
        im.putpalette(palette)
        im.putdata(array.flatten().tolist())
    else:
        im = Image.fromarray(array).convert(mode)
    im.save(path)


def sample(root, sid, img, lab, trainids, **meta):
    return {"id": sid, "image": str(img.relative_to(root)), "label": str(lab.relative_to(root)),
            "width": int(trainids.shape[1]), "height": int(trainids.shape[0]),
            "train_ids": trainids.flatten().tolist(), **meta}


cases = []
if OUT.exists():
    shutil.rmtree(OUT)

# Cityscapes: labelIds (all 34 ids occur) + generated labelTrainIds + colour.
root = OUT / "cityscapes"
raw, conv = [], []
for city, seq, frame in [("frankfurt", 0, 19), ("frankfurt", 1, 294), ("lindau", 0, 19)]:
    stem = f"{city}_{seq:06d}_{frame:06d}"
    img = root / "leftImg8bit/val" / city / f"{stem}_leftImg8bit.png"
    save(img, image(), "RGB")
    ids = blocks(range(34))
    train = CS_LUT[ids]
    gt = root / "gtFine/val" / city
    save(gt / f"{stem}_gtFine_labelIds.png", ids, "L")
    save(gt / f"{stem}_gtFine_labelTrainIds.png", train, "L")
    rgba = np.concatenate([CS_COLORS[ids], np.full((H, W, 1), 255, np.uint8)], -1)
    save(gt / f"{stem}_gtFine_color.png", rgba, "RGBA")
    sid = f"{city}/{stem}"
    raw.append(sample(root, sid, img, gt / f"{stem}_gtFine_labelIds.png", train, city=city))
    conv.append(sample(root, sid, img, gt / f"{stem}_gtFine_labelTrainIds.png", train, city=city))
key = lambda s: s["image"].encode()
cases.append({"dataset": "cityscapes", "root": "cityscapes", "split": "val", "layout": "raw", "resolved": "raw",
              "samples": sorted(raw, key=key), "problems": []})
cases.append({"dataset": "cityscapes", "root": "cityscapes", "split": "val", "layout": "auto", "resolved": "converted",
              "samples": sorted(conv, key=key), "problems": []})

# GTA5: palette labels, index = Cityscapes labelId, palette = Cityscapes colours.
root = OUT / "gta5"
raw, conv = [], []
for n in [1, 2, 3]:
    img = root / "images" / f"{n:05d}.png"
    save(img, image(), "RGB")
    ids = blocks(range(34))
    train = GTA_LUT[ids]
    save(root / "labels" / f"{n:05d}.png", ids, "P", CS_PALETTE)
    save(root / "labels" / f"{n:05d}_labelTrainIds.png", train, "L")
    raw.append(sample(root, f"{n:05d}", img, root / "labels" / f"{n:05d}.png", train))
    conv.append(sample(root, f"{n:05d}", img, root / "labels" / f"{n:05d}_labelTrainIds.png", train))
cases.append({"dataset": "gta5", "root": "gta5", "split": None, "layout": "raw", "resolved": "raw", "samples": raw, "problems": []})
cases.append({"dataset": "gta5", "root": "gta5", "split": None, "layout": "auto", "resolved": "converted", "samples": conv, "problems": []})

# ACDC: one or two frames per condition, sequences as folders, a _ref folder that must be ignored.
root = OUT / "acdc"
raw, conv = {}, {}
frames = {"fog": [("GOPR0475", 41), ("GOPR0476", 7)], "night": [("GOPR0351", 120)], "rain": [("GOPR0400", 3)],
          "snow": [("GOPR0122", 55)]}
for cond, items in frames.items():
    for seq, fr in items:
        stem = f"{seq}_frame_{fr:06d}"
        img = root / "rgb_anon" / cond / "val" / seq / f"{stem}_rgb_anon.png"
        save(img, image(), "RGB")
        save(root / "rgb_anon" / cond / "val_ref" / seq / f"{stem}_rgb_ref_anon.png", image(), "RGB")
        ids = blocks(range(34))
        train = CS_LUT[ids]
        gt = root / "gt" / cond / "val" / seq
        save(gt / f"{stem}_gt_labelIds.png", ids, "L")
        save(gt / f"{stem}_gt_labelTrainIds.png", train, "L")
        save(gt / f"{stem}_gt_labelColor.png", CS_COLORS[ids], "RGB")
        sid = f"{cond}/{seq}/{stem}"
        raw.setdefault(cond, []).append(sample(root, sid, img, gt / f"{stem}_gt_labelIds.png", train, condition=cond, sequence=seq))
        conv.setdefault(cond, []).append(sample(root, sid, img, gt / f"{stem}_gt_labelTrainIds.png", train, condition=cond, sequence=seq))
order = ["fog", "night", "rain", "snow"]
cases.append({"dataset": "acdc", "root": "acdc", "split": "val", "layout": "raw", "resolved": "raw",
              "samples": [s for c in order for s in sorted(raw[c], key=key)], "problems": []})
cases.append({"dataset": "acdc", "root": "acdc", "split": "val", "layout": "auto", "resolved": "converted",
              "samples": [s for c in order for s in sorted(conv[c], key=key)], "problems": []})
cases.append({"dataset": "acdc", "root": "acdc", "split": "val", "condition": "fog", "layout": "auto", "resolved": "converted",
              "samples": sorted(conv["fog"], key=key), "problems": []})

# BDD100K: JPEG images, trainId masks (0..18 and 255), colormaps.
root = OUT / "bdd100k"
items = []
for stem in ["7d2f7975-e0c1c5a7", "0a0a0b1a-7c39d841"]:
    img = root / "images/10k/val" / f"{stem}.jpg"
    img.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image()).save(img, quality=90)
    train = blocks(list(range(19)) + [255])
    save(root / "labels/sem_seg/masks/val" / f"{stem}.png", train, "L")
    colors = np.zeros((256, 3), np.uint8)
    for c in bdd["classes"]:
        colors[c["trainId"]] = c["colorInSemSegToml"]
    save(root / "labels/sem_seg/colormaps/val" / f"{stem}.png", colors[train], "RGB")
    items.append(sample(root, stem, img, root / "labels/sem_seg/masks/val" / f"{stem}.png", train))
cases.append({"dataset": "bdd100k", "root": "bdd100k", "split": "val", "layout": "auto", "resolved": "raw",
              "samples": sorted(items, key=key), "problems": []})

# Mapillary: JPEGs of several sizes and orientations, v1.2 palette labels, config at the root,
# converted trainId labels, and the half-size validation copies made as mapillary_resize.py does.
root = OUT / "mapillary"
root.mkdir(parents=True, exist_ok=True)
(root / "config_v1.2.json").write_text(mcfg_text)
split_items = {"training": [("--jRsD9anHdGxv4ZOCQktA", 32, 24), ("Zx_3kq-0aB1c2D3e4F5g6h", 24, 32)],
               "validation": [("a1B2c3D4e5F6g7H8i9J0kL", 32, 18), ("-_AbCdEfGhIjKlMnOpQrSt", 30, 22)]}
for split, keys in split_items.items():
    short = "train" if split == "training" else "val"
    raw, conv, half = [], [], []
    for k, w, h in keys:
        img = root / split / "images" / f"{k}.jpg"
        img.parent.mkdir(parents=True, exist_ok=True)
        pixels = image(w, h)
        Image.fromarray(pixels).save(img, quality=92)
        idx = blocks(range(66), w, h)
        train = MV_LUT[idx]
        save(root / split / "v1.2/labels" / f"{k}.png", idx, "P", MV_PALETTE)
        save(root / "cityscapes_trainIdLabel" / short / "label" / f"{k}.png", train, "L")
        meta = {"original_width": w, "original_height": h}
        raw.append(sample(root, k, img, root / split / "v1.2/labels" / f"{k}.png", train, **meta))
        conv.append(sample(root, k, img, root / "cityscapes_trainIdLabel" / short / "label" / f"{k}.png", train, **meta))
        if split == "validation":
            hw, hh = w // 2, h // 2
            himg = root / "half/val_img" / f"{k}.jpg"
            himg.parent.mkdir(parents=True, exist_ok=True)
            Image.open(img).resize((hw, hh), Image.BICUBIC).save(himg)
            hl = np.array(Image.fromarray(train).resize((hw, hh), Image.NEAREST))
            save(root / "half/val_label" / f"{k}.png", hl, "L")
            half.append(sample(root, k, himg, root / "half/val_label" / f"{k}.png", hl, **meta))
    cases.append({"dataset": "mapillary", "root": "mapillary", "split": split, "layout": "raw", "resolved": "raw",
                  "samples": sorted(raw, key=key), "problems": []})
    cases.append({"dataset": "mapillary", "root": "mapillary", "split": split, "layout": "converted", "resolved": "converted",
                  "samples": sorted(conv, key=key), "problems": []})
    if half:
        cases.append({"dataset": "mapillary", "root": "mapillary", "split": split, "layout": "auto", "resolved": "half",
                      "samples": sorted(half, key=key), "problems": []})

# A GTA5 tree with one of every problem (raw layout).
root = OUT / "problems_gta5"
ok = blocks(range(34))
save(root / "images/00001.png", image(), "RGB")
save(root / "labels/00001.png", ok, "P", CS_PALETTE)
save(root / "images/00002.png", image(), "RGB")                     # label 32x14: size mismatch
save(root / "labels/00002.png", blocks(range(34), W, 14), "P", CS_PALETTE)
save(root / "images/00003.png", image(), "RGB")                     # no label
save(root / "labels/00004.png", ok, "P", CS_PALETTE)                # no image
bad = ok.copy()
bad[0, :3] = 34
bad[1, :2] = 200                                                    # values outside 0..33
save(root / "images/00005.png", image(), "RGB")
save(root / "labels/00005.png", bad, "P", CS_PALETTE)
buf = io.BytesIO()
Image.fromarray(image()).save(buf, format="PNG")
(root / "images/00006.png").write_bytes(buf.getvalue()[:20])        # truncated image header
save(root / "labels/00006.png", ok, "P", CS_PALETTE)
save(root / "images/00007.png", image(), "RGB")
buf = io.BytesIO()
p = Image.new("P", (W, H)); p.putpalette(CS_PALETTE); p.putdata(ok.flatten().tolist()); p.save(buf, format="PNG")
(root / "labels/00007.png").write_bytes(buf.getvalue()[:60])        # truncated label data
listing_problems = [{"file": "images/00003.png", "kind": "image_without_label"},
                    {"file": "labels/00004.png", "kind": "label_without_image"}]
scan_problems = [{"file": "labels/00002.png", "kind": "size_mismatch"},
                 {"file": "labels/00005.png", "kind": "unknown_label_values"},
                 {"file": "images/00006.png", "kind": "unreadable_file"},
                 {"file": "labels/00007.png", "kind": "unreadable_file"}]
cases.append({"dataset": "gta5", "root": "problems_gta5", "split": None, "layout": "auto", "resolved": "raw",
              "samples": None, "sample_ids": ["00001", "00002", "00005", "00006", "00007"],
              "problems": listing_problems, "scan_problems": scan_problems,
              "unknown_values": {"34": 3, "200": 2}})

with open(OUT / "expected.json", "w") as f:
    json.dump({"cases": cases}, f, separators=(",", ":"))
total = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
print(f"wrote {len(cases)} cases under {OUT.relative_to(ROOT)} ({total} bytes)")
