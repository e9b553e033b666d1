#!/usr/bin/env python3
"""bench_runner_infer.py — whole-image inference end to end: `ctpipe`'s runner vs PyTorch.

ctpipe side: `ctbench runner-infer --workers W --threads T` (release build) runs a manifest
with pipelines/evaluate.json through the runner on synthetic Cityscapes frames (2048 x 1024,
resized to 1024 x 512, 3 windows of 512 at stride 341, labels at 2048 x 1024, trainid +
color PNGs), with a random-weight vits14-p16 Causal-Tune checkpoint; its time includes
building the model from the checkpoint. 1 worker runs each frame on all T threads, W
workers one frame each on T / W threads (docs/threading.md).

PyTorch side (this script's `--torch-run W`): the same model architecture
(scripts/bench_torch_models.py, random weights) on the same files, the same steps per
image: decode image and trainId label (OpenCV), keep-ratio bilinear resize to 1024 x 512
(cv2.INTER_LINEAR), normalisation, slide inference, bilinear upsampling of the averaged
logits to the label size, argmax, confusion matrix (numpy bincount), trainid PNG (OpenCV)
and palette colour PNG (Pillow), zlib level 6. W workers = W spawned processes with
torch.set_num_threads(T // W), each building the model before the common start.

Checkpoint and frames are made under --root once (scripts/bench_scaling.py's `prepare`).
Per round and worker count two processes, alternating which goes first, each started on
a quiet machine (load at its start recorded; scripts/bench_common.py). The table gives
images/s best and median over the rounds, CPU s per image, and ctpipe / PyTorch.

    swift build -c release --product ctbench --product ctpipe
    python3 scripts/bench_runner_infer.py [--images 4] [--rounds 2] [--threads 2] [--workers 1,2]
        [--root DIR] [--max-load 1.3] [--wait 600] [--json F] [--markdown F]
"""
import argparse
import glob
import json
import multiprocessing
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_common import (Session, add_options, binary, loads_text, markdown_table, median,  # noqa: E402
                          require_binaries, self_command, sides)
from bench_scaling import prepare  # noqa: E402

MEAN = [123.675, 116.28, 103.53]
STD = [58.395, 57.12, 57.375]
PALETTE = [128, 64, 128, 244, 35, 232, 70, 70, 70, 102, 102, 156, 190, 153, 153, 153, 153, 153, 250, 170, 30, 220, 220, 0,
           107, 142, 35, 152, 251, 152, 70, 130, 180, 220, 20, 60, 255, 0, 0, 0, 0, 142, 0, 0, 70, 0, 60, 100, 0, 80, 100,
           0, 0, 230, 119, 11, 32]


def process(model, image_path, label_path, out_dir, confusion):
    import cv2
    import numpy as np
    import torch
    from PIL import Image
    from bench_torch_models import slide
    bgr = cv2.imread(image_path, cv2.IMREAD_COLOR)
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    label = cv2.imread(label_path, cv2.IMREAD_UNCHANGED)
    h, w = rgb.shape[:2]
    scale = min(1024 / max(h, w), 512 / min(h, w))
    nw, nh = int(w * scale + 0.5), int(h * scale + 0.5)
    resized = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_LINEAR)
    mean, std = np.array(MEAN, np.float32), np.array(STD, np.float32)
    x = torch.from_numpy(((resized.astype(np.float32) - mean) / std).transpose(2, 0, 1).copy())[None]
    prediction = slide(model, x, label.shape[0], label.shape[1]).to(torch.uint8).numpy()
    valid = label < 19
    confusion += np.bincount(19 * label[valid].astype(np.int64) + prediction[valid], minlength=19 * 19).reshape(19, 19)
    name = os.path.basename(image_path).replace("_leftImg8bit.png", "")
    cv2.imwrite(os.path.join(out_dir, "trainid", name + ".png"), prediction, [cv2.IMWRITE_PNG_COMPRESSION, 6])
    color = Image.fromarray(np.where(prediction < 19, prediction, 255).astype(np.uint8), mode="P")
    color.putpalette(PALETTE + [0] * (768 - len(PALETTE)))
    color.save(os.path.join(out_dir, "color", name + ".png"), compress_level=6)


def worker(pairs, out_dir, threads, ready, go, results):
    """One worker process: builds the model (same seed, same weights in every worker), waits for the start."""
    import numpy as np
    import torch
    from bench_torch_models import Adapter, Model
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
    results.put((start, time.perf_counter(), time.process_time() - cpu0, int(confusion.sum()), torch.__version__))


def torch_run(pairs, workers, threads, out_dir):
    """W spawned processes (no fork after OpenMP), each with threads // W threads; timed from the common start."""
    for sub in ("trainid", "color"):
        os.makedirs(os.path.join(out_dir, sub), exist_ok=True)
    context = multiprocessing.get_context("spawn")
    ready, results, go = context.Queue(), context.Queue(), context.Event()
    procs = [context.Process(target=worker, args=(pairs[i::workers], out_dir, max(1, threads // workers), ready, go, results))
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
    return {"seconds": seconds, "images_per_second": len(pairs) / seconds,
            "process_cpu_s_per_image": sum(d[2] for d in done) / len(pairs),
            "labelled_pixels": sum(d[3] for d in done), "torch": done[0][4]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2, help="threads in all on each side (default 2)")
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--root", default="/tmp/ctpipe-bench-runner-infer")
    parser.add_argument("--torch-run", type=int, metavar="WORKERS", help=argparse.SUPPRESS)
    add_options(parser)
    args = parser.parse_args()
    if args.torch_run:
        images = sorted(glob.glob(os.path.join(args.root, "cityscapes/leftImg8bit/val/*/*_leftImg8bit.png")))
        pairs = [(p, p.replace("leftImg8bit/val", "gtFine/val").replace("_leftImg8bit.png", "_gtFine_labelTrainIds.png"))
                 for p in images]
        print(json.dumps(torch_run(pairs, args.torch_run, args.threads,
                                   os.path.join(args.root, f"torch-out-{args.torch_run}"))))
        return
    workers = [int(w) for w in args.workers.split(",")]
    if min(workers) < 1 or args.images < max(workers):
        parser.error("--workers are positive and at most --images (one frame per worker at least)")
    require_binaries("bench_runner_infer", "ctbench", "ctpipe")
    prepare(args.root, args.images)
    session = Session("bench_runner_infer", args)
    samples = {}
    for r in range(args.rounds):
        for w in workers:
            for side in sides(r):
                if side == "ctpipe":
                    command = [binary("ctbench"), "runner-infer", "--images", str(args.images), "--rounds", "1",
                               "--workers", str(w), "--threads", str(args.threads), "--root", args.root]
                else:
                    command = self_command(__file__, "--torch-run", w, "--threads", args.threads, "--root", args.root)
                run = session.measure(f"round {r + 1} {w} worker(s) {side}", command)
                report = run.json()
                result = dict(report["results"][0], checkpoint_load_seconds=report["checkpoint_load_seconds"]) \
                    if side == "ctpipe" else report
                samples.setdefault((w, side), []).append(dict(result, load=run.load, peak_rss=run.peak_rss))
    rows = []
    for w in workers:
        ours, theirs = samples[(w, "ctpipe")], samples[(w, "pytorch")]
        ob, om = max(x["images_per_second"] for x in ours), median([x["images_per_second"] for x in ours])
        tb, tm = max(x["images_per_second"] for x in theirs), median([x["images_per_second"] for x in theirs])
        oc, tc = median([x["process_cpu_s_per_image"] for x in ours]), median([x["process_cpu_s_per_image"] for x in theirs])
        rows.append([f"{w} ({max(1, args.threads // w)} thread(s) per frame)", f"{ob:.3f} ({om:.3f})", f"{tb:.3f} ({tm:.3f})",
                     f"{ob / tb:.2f} ({om / tm:.2f})", f"{oc:.2f} / {tc:.2f}",
                     loads_text(x["load"] for x in ours) + " / " + loads_text(x["load"] for x in theirs)])
    torch_version = samples[(workers[0], "pytorch")][0]["torch"]
    note = (f"{args.images} synthetic 2048x1024 frames per measurement, {args.threads} threads in all on each side; "
            f"PyTorch {torch_version}. ctpipe's time includes building the model from the checkpoint "
            f"({median([x['checkpoint_load_seconds'] for v in workers for x in samples[(v, 'ctpipe')]]):.2f} s alone); "
            f"PyTorch's workers build theirs before the clock starts.")
    table = markdown_table(["workers", "ctpipe images/s best (median)", "PyTorch images/s best (median)",
                            "ctpipe / PyTorch best (median)", "CPU s per image ctpipe / PyTorch",
                            "loads at starts ctpipe / PyTorch"], rows)
    session.report("Whole frames through the runner", [note, table],
                   {"images": args.images, "threads": args.threads, "rounds": args.rounds,
                    "samples": {f"{w} {side}": v for (w, side), v in samples.items()}})


if __name__ == "__main__":
    main()
