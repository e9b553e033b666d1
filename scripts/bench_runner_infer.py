#!/usr/bin/env python3
"""bench_runner_infer.py — whole-image inference end to end: `ctpipe`'s runner vs PyTorch.

ctpipe side: `ctbench runner-infer` (release build) runs a manifest with
pipelines/evaluate.json through the runner on synthetic Cityscapes frames
(2048 x 1024, resized to 1024 x 512, 3 windows of 512 at stride 341, labels at
2048 x 1024, trainid + color PNGs), with a random-weight vits14-p16 Causal-Tune
checkpoint. It creates the checkpoint and the frames under --root on first use.

PyTorch side: the same model architecture as scripts/bench_segmentation.py
(its Model / Adapter classes, random weights) on the same files, the same steps
per image: decode image and trainId label (OpenCV), keep-ratio bilinear resize
to 1024 x 512 (cv2.INTER_LINEAR), normalisation, slide inference, bilinear
upsampling of the averaged logits to the label size, argmax, confusion matrix
(numpy bincount), trainid PNG (OpenCV) and palette colour PNG (Pillow), zlib
level 6. W workers = W processes with torch.set_num_threads(2 // W) (one
worker: both threads inside the image, as ctpipe's runner does), each building
the model before the timed part starts.

Rounds alternate ctpipe and PyTorch at 1 and at 2 workers; the load average is
printed next to each measurement because the machine may be shared.

    swift build -c release --product ctbench
    python3 scripts/bench_runner_infer.py [--images 4] [--rounds 3]
"""
import argparse
import glob
import json
import multiprocessing
import os
import subprocess
import sys
import time

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_segmentation import Adapter, Model  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MEAN = np.array([123.675, 116.28, 103.53], np.float32)
STD = np.array([58.395, 57.12, 57.375], np.float32)
PALETTE = [128, 64, 128, 244, 35, 232, 70, 70, 70, 102, 102, 156, 190, 153, 153, 153, 153, 153, 250, 170, 30, 220, 220, 0,
           107, 142, 35, 152, 251, 152, 70, 130, 180, 220, 20, 60, 255, 0, 0, 0, 0, 142, 0, 0, 70, 0, 60, 100, 0, 80, 100,
           0, 0, 230, 119, 11, 32]


def load():
    return open("/proc/loadavg").read().split()[0]


def slide(model, image, out_h, out_w, crop=512, stride=341, classes=19):
    _, _, h, w = image.shape
    total = torch.zeros(1, classes, h, w)
    count = torch.zeros(1, 1, h, w)
    for r in range(max(h - crop + stride - 1, 0) // stride + 1):
        for c in range(max(w - crop + stride - 1, 0) // stride + 1):
            y2, x2 = min(r * stride + crop, h), min(c * stride + crop, w)
            y1, x1 = max(y2 - crop, 0), max(x2 - crop, 0)
            total[:, :, y1:y2, x1:x2] += model(image[:, :, y1:y2, x1:x2])
            count[:, :, y1:y2, x1:x2] += 1
    up = F.interpolate(total / count, size=(out_h, out_w), mode="bilinear", align_corners=False)
    return up.argmax(1)[0].to(torch.uint8).numpy()


def process(model, image_path, label_path, out_dir, confusion):
    bgr = cv2.imread(image_path, cv2.IMREAD_COLOR)
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    label = cv2.imread(label_path, cv2.IMREAD_UNCHANGED)
    h, w = rgb.shape[:2]
    scale = min(1024 / max(h, w), 512 / min(h, w))
    nw, nh = int(w * scale + 0.5), int(h * scale + 0.5)
    resized = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_LINEAR)
    x = torch.from_numpy(((resized.astype(np.float32) - MEAN) / STD).transpose(2, 0, 1).copy())[None]
    prediction = slide(model, x, label.shape[0], label.shape[1])
    valid = label < 19
    confusion += np.bincount(19 * label[valid].astype(np.int64) + prediction[valid], minlength=19 * 19).reshape(19, 19)
    name = os.path.basename(image_path).replace("_leftImg8bit.png", "")
    cv2.imwrite(os.path.join(out_dir, "trainid", name + ".png"), prediction, [cv2.IMWRITE_PNG_COMPRESSION, 6])
    color = Image.fromarray(np.where(prediction < 19, prediction, 255).astype(np.uint8), mode="P")
    color.putpalette(PALETTE + [0] * (768 - len(PALETTE)))
    color.save(os.path.join(out_dir, "color", name + ".png"), compress_level=6)


def worker(pairs, out_dir, threads, ready, go, results):
    """One worker process: builds the model (same seed, same weights in every worker), waits for the start."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = Model(384, 12, 6, Adapter("causal-tune", 12, 384)).eval()
    ready.put(True)
    go.wait()
    confusion = np.zeros((19, 19), np.int64)
    start, cpu0 = time.perf_counter(), time.process_time()
    with torch.inference_mode():
        for image_path, label_path in pairs:
            process(model, image_path, label_path, out_dir, confusion)
    results.put((start, time.perf_counter(), time.process_time() - cpu0, int(confusion.sum())))


def torch_run(pairs, workers, out_dir):
    """W spawned processes (no fork after OpenMP), each with 2 // W threads; timed from the common start."""
    for sub in ("trainid", "color"):
        os.makedirs(os.path.join(out_dir, sub), exist_ok=True)
    threads = max(1, 2 // workers)
    context = multiprocessing.get_context("spawn")
    ready, results, go = context.Queue(), context.Queue(), context.Event()
    procs = [context.Process(target=worker, args=(pairs[i::workers], out_dir, threads, ready, go, results))
             for i in range(workers)]
    for p in procs:
        p.start()
    for _ in procs:
        ready.get()
    go.set()
    done = [results.get() for _ in procs]
    for p in procs:
        p.join()
    seconds = max(d[1] for d in done) - min(d[0] for d in done)
    return seconds, sum(d[2] for d in done), sum(d[3] for d in done)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--root", default="/tmp/ctpipe-bench-runner-infer")
    args = parser.parse_args()
    binary = os.path.join(ROOT, ".build/release/ctbench")

    def ctpipe(workers):
        out = subprocess.run([binary, "runner-infer", "--images", str(args.images), "--rounds", "1", "--workers", str(workers),
                              "--root", args.root], check=True, capture_output=True, text=True)
        report = json.loads(out.stdout)
        report["results"][0]["checkpoint_load_seconds"] = report["checkpoint_load_seconds"]
        return report["results"][0]

    ctpipe(1)  # creates the checkpoint and the frames on first use; warms the page cache
    images = sorted(glob.glob(os.path.join(args.root, "cityscapes/leftImg8bit/val/*/*_leftImg8bit.png")))
    pairs = [(p, p.replace("leftImg8bit/val", "gtFine/val").replace("_leftImg8bit.png", "_gtFine_labelTrainIds.png"))
             for p in images]
    assert len(pairs) == args.images, pairs
    print(f"torch {torch.__version__}; {args.images} images of 2048x1024 per measurement")
    rows = []
    for rnd in range(args.rounds):
        for workers in (1, 2):
            before = load()
            mine = ctpipe(workers)
            rows.append(("ctpipe", workers, mine["images_per_second"], mine["process_cpu_s_per_image"], before, mine["load_after"]))
            print(f"round {rnd} ctpipe  {workers} worker(s): {mine['images_per_second']:.3f} images/s, "
                  f"CPU {mine['process_cpu_s_per_image']:.2f} s/image, load {before} -> {mine['load_after']} "
                  f"(run includes the checkpoint load, {mine['checkpoint_load_seconds']:.2f} s alone)", flush=True)
            before = load()
            seconds, cpu, pixels = torch_run(pairs, workers, os.path.join(args.root, f"torch-out-{workers}"))
            rows.append(("pytorch", workers, args.images / seconds, cpu / args.images, before, load()))
            print(f"round {rnd} PyTorch {workers} worker(s): {args.images / seconds:.3f} images/s, "
                  f"CPU {cpu / args.images:.2f} s/image, load {before} -> {load()} ({pixels} labelled pixels)", flush=True)
    print("best of the rounds (images/s; CPU s/image median):")
    for workers in (1, 2):
        ours = [r for r in rows if r[0] == "ctpipe" and r[1] == workers]
        theirs = [r for r in rows if r[0] == "pytorch" and r[1] == workers]
        a, b = max(r[2] for r in ours), max(r[2] for r in theirs)
        ca = sorted(r[3] for r in ours)[len(ours) // 2]
        cb = sorted(r[3] for r in theirs)[len(theirs) // 2]
        print(f"  {workers} worker(s): ctpipe {a:.3f}, PyTorch {b:.3f}, ratio ctpipe/PyTorch {a / b:.2f}; "
              f"CPU ctpipe {ca:.2f} s, PyTorch {cb:.2f} s, ratio PyTorch/ctpipe {cb / ca:.2f}")


if __name__ == "__main__":
    main()
