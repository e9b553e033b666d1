#!/usr/bin/env python3
"""bench_imageio.py — ctpipe's PNG/JPEG codecs against Pillow on the same files.

Generates realistic test files once (smooth content with sensor-like noise, so
compression ratios resemble real driving-scene data):

  * rgb_2048x1024.png      — Cityscapes-sized RGB frame
  * labels_1914x1052.png   — GTA5-sized palette label map (34 classes)
  * frame_1280x720.jpg     — BDD100K-sized JPEG, quality 90, 4:2:0

then, in one run, times ctpipe (`swift run -c release ctbench imageio FILES`,
which prints JSON) and Pillow in this process on the same bytes, and prints
MB of decoded pixels per second for both and the ratio ctpipe / Pillow.

Both sides decode from bytes already in memory, take the fastest of repeated
runs (at least 5 runs and --seconds of work) measured in CPU time of the
calling thread (the codecs are single-threaded; on a shared machine CPU time
does not count the time spent waiting for a core), and encode at zlib level 6
(Pillow's default compress_level). Palette files decode to their index plane
on both sides (Pillow mode "P"). ctpipe and Pillow alternate for --rounds
rounds and each keeps its best time, so load from other processes on a shared
machine does not favour either side.

Usage (repository root):
  python3 scripts/bench_imageio.py [--seconds 1.0] [--rounds 3] [--dir /tmp/ctpipe-bench-imageio]
"""
import argparse
import io
import json
import os
import subprocess
import sys
import time

import cv2
import numpy as np
import PIL
from PIL import Image, features

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def scene(h, w, rng):
    """Low-frequency colour fields plus fine noise: compresses like a photo."""
    base = rng.integers(0, 256, (h // 64 + 2, w // 64 + 2, 3), dtype=np.uint8)
    img = cv2.resize(base, (w, h), interpolation=cv2.INTER_CUBIC).astype(np.float32)
    y, x = np.mgrid[0:h, 0:w]
    img += (np.sin(x / 37.0) * np.cos(y / 53.0) * 30)[:, :, None]
    img += rng.normal(0, 3.0, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def labels(h, w, rng, classes=34):
    """Piecewise-constant regions like a segmentation mask."""
    coarse = rng.integers(0, classes, (h // 48 + 1, w // 48 + 1), dtype=np.uint8)
    plane = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_NEAREST)
    warp = (np.sin(np.arange(w) / 23.0) * 9).astype(int)
    return np.take_along_axis(plane, (np.arange(h)[:, None] + warp[None, :]).clip(0, h - 1), axis=0)


def make_files(folder):
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(0)
    files = {
        "rgb_2048x1024.png": lambda p: Image.fromarray(scene(1024, 2048, rng)).save(p, "PNG"),
        "labels_1914x1052.png": lambda p: save_palette(labels(1052, 1914, rng), p, rng),
        "frame_1280x720.jpg": lambda p: Image.fromarray(scene(720, 1280, rng)).save(p, "JPEG", quality=90),
    }
    paths = []
    for name, make in files.items():
        path = os.path.join(folder, name)
        if not os.path.exists(path):
            make(path)
        paths.append(path)
    return paths


def save_palette(plane, path, rng):
    im = Image.fromarray(plane, mode="P")
    im.putpalette(rng.integers(0, 256, 34 * 3, dtype=np.uint8).tolist())
    im.save(path, "PNG")


def measure(body, seconds, min_runs=5):
    times = []
    start = time.perf_counter()
    while len(times) < min_runs or time.perf_counter() - start < seconds:
        t0 = time.thread_time()
        body()
        times.append(time.thread_time() - t0)
    return min(times)


def pillow(path, seconds):
    data = open(path, "rb").read()

    def decode():
        im = Image.open(io.BytesIO(data))
        im.load()
        return im

    im = decode()
    result = {"decode": measure(decode, seconds), "pixel_bytes": im.width * im.height * len(im.getbands())}
    if im.format == "PNG":
        def encode():
            buffer = io.BytesIO()
            im.save(buffer, "PNG", compress_level=6)
            return buffer
        result["encode"] = measure(encode, seconds)
        result["encoded_bytes"] = len(encode().getvalue())
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="minimum timed work per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="alternating ctpipe/Pillow rounds")
    parser.add_argument("--dir", default="/tmp/ctpipe-bench-imageio", help="where the generated files live")
    args = parser.parse_args()
    files = make_files(args.dir)

    subprocess.run(["swift", "build", "-c", "release", "--product", "ctbench"], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    binary = subprocess.run(["swift", "build", "-c", "release", "--show-bin-path"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout.strip() + "/ctbench"
    best_ours, best_ref = {}, {}
    for _ in range(args.rounds):
        run = json.loads(subprocess.run([binary, "imageio", "--seconds", str(args.seconds), *files],
                                        check=True, capture_output=True, text=True).stdout)
        for entry in run:
            kept = best_ours.setdefault(entry["file"], entry)
            for key in ("decode_best_s", "encode_best_s"):
                if key in entry and entry[key] is not None:
                    kept[key] = min(kept[key], entry[key])
        for file in files:
            ref = pillow(file, args.seconds)
            kept = best_ref.setdefault(file, ref)
            for key in ("decode", "encode"):
                if key in ref:
                    kept[key] = min(kept[key], ref[key])

    print(f"Pillow {PIL.__version__} (libjpeg-turbo {features.version('libjpeg_turbo')}, zlib {features.version('zlib')}); "
          f"ctpipe: system libpng/libjpeg-turbo/zlib; thread CPU time, best of {args.rounds} "
          f"alternating rounds, each >= 5 runs and >= {args.seconds:g} s")
    header = f"{'file':24} {'op':7} {'ctpipe MB/s':>12} {'Pillow MB/s':>12} {'ratio':>7}   sizes (ctpipe / Pillow)"
    print(header)
    print("-" * len(header))
    for file in files:
        entry, ref = best_ours[file], best_ref[file]
        name = os.path.basename(file)
        assert ref["pixel_bytes"] == entry["pixel_bytes"], (name, ref["pixel_bytes"], entry["pixel_bytes"])
        mb = entry["pixel_bytes"] / 1e6
        rows = [("decode", entry["decode_best_s"], ref["decode"], "")]
        if "encode" in ref:
            rows.append(("encode", entry["encode_best_s"], ref["encode"],
                         f"{entry['encoded_bytes'] / 1e3:.0f} kB / {ref['encoded_bytes'] / 1e3:.0f} kB"))
        for op, t_ours, t_ref, note in rows:
            print(f"{name:24} {op:7} {mb / t_ours:12.1f} {mb / t_ref:12.1f} {t_ref / t_ours:7.2f}   {note}")


if __name__ == "__main__":
    sys.exit(main())
