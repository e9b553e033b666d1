#!/usr/bin/env python3
"""bench_training.py — one training iteration: ctpipe vs PyTorch autograd.

The model of method.md with the patch-16 conversion (grid 32), random weights,
512 x 512 crops: frozen DINOv2 backbone (requires_grad False), Causal-Tune
after every block (m = 100 full tokens; the orthonormal DCT as matrix products),
linear head; cross-entropy (ignore 255); AdamW (lr 1e-4, wd 0.05; no decay on
norms, tokens, s). One iteration = forward + backward over the batch + one
optimiser step. PyTorch runs the batch as one tensor (the adapter per image),
float32, torch.set_num_threads(n); ctpipe one image at a time with n threads
inside it. Each configuration runs in its own process, so the peak resident
set size (getrusage ru_maxrss) is that configuration's. Prints a table.

    swift build -c release --product ctbench
    python3 scripts/bench_training.py [--threads 2] [--runs 3] [--configs vits:1,vits:4,vitl:1]
"""
import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def torch_iteration(name, batch, threads, runs):
    import torch
    import torch.nn.functional as F
    sys.path.insert(0, os.path.join(ROOT, "scripts"))
    from bench_segmentation import Block, dct_matrix

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    c, depth, heads = {"vits": (384, 12, 6), "vitl": (1024, 24, 16)}[name]
    grid, patch, m, classes = 32, 16, 100, 19

    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = torch.nn.Conv2d(3, c, patch, patch)
            self.cls = torch.nn.Parameter(torch.zeros(1, 1, c))
            self.pos = torch.nn.Parameter(torch.randn(1, 1 + grid * grid, c) * 0.02)
            self.blocks = torch.nn.ModuleList(Block(c, heads) for _ in range(depth))
            for p in self.parameters():
                p.requires_grad_(False)
            self.tokens = torch.nn.Parameter(torch.randn(depth, m, c) * 0.1)
            self.t2f, self.df = torch.nn.Linear(c, c), torch.nn.Linear(c, c)
            self.scale = torch.nn.Parameter(torch.tensor(1e-3))
            self.register_buffer("d", dct_matrix(grid))
            u = torch.arange(grid)[:, None] / grid
            d2 = u * u + (u * u).T
            self.register_buffer("mask", ((1 - torch.exp(-d2 / 0.08)) * torch.exp(-d2 / 0.98)).reshape(-1, 1))
            self.picks = [depth // 3 - 1, depth // 2 - 1, 2 * depth // 3 - 1, depth - 1]
            self.norms = torch.nn.ModuleList(torch.nn.LayerNorm(c, eps=1e-6) for _ in range(4))
            self.head = torch.nn.Linear(4 * c, classes)

        def adapt(self, f, layer):
            t = self.tokens[layer]
            g = f.reshape(grid, grid * c)
            fc = (self.d @ g).reshape(grid, grid, c).transpose(0, 1).reshape(grid, grid * c)
            fc = (self.d @ fc).reshape(grid, grid, c).transpose(0, 1).reshape(grid * grid, c) * self.mask
            s = torch.softmax(fc @ t.T / math.sqrt(c), dim=-1)
            delta = self.df(s[:, 1:] @ self.t2f(t[1:]) + fc)
            g = (self.d.T @ delta.reshape(grid, grid * c)).reshape(grid, grid, c).transpose(0, 1).reshape(grid, grid * c)
            delta = (self.d.T @ g).reshape(grid, grid, c).transpose(0, 1).reshape(grid * grid, c)
            return f + self.scale * delta

        def forward(self, x):
            p = self.embed(x).flatten(2).transpose(1, 2)
            x = torch.cat([self.cls.expand(p.shape[0], -1, -1), p], 1) + self.pos
            feats = []
            for i, block in enumerate(self.blocks[:max(self.picks) + 1]):
                x = block(x)
                x = torch.cat([x[:, :1], torch.stack([self.adapt(x[b, 1:], i) for b in range(x.shape[0])])], 1)
                if i in self.picks:
                    feats.append(x[:, 1:])
            z = torch.cat([n(f) for n, f in zip(self.norms, feats)], -1)
            logits = self.head(z).transpose(1, 2).reshape(x.shape[0], classes, grid, grid)
            return F.interpolate(logits, size=(512, 512), mode="bilinear", align_corners=False)

    model = Model()
    decay = [model.t2f.weight, model.t2f.bias, model.df.weight, model.df.bias, model.head.weight, model.head.bias]
    no_decay = [model.tokens, model.scale] + [p for n in model.norms for p in n.parameters()]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05}, {"params": no_decay, "weight_decay": 0.0}], lr=1e-4)
    x = torch.randn(batch, 3, 512, 512)
    y = torch.randint(0, classes, (batch, 512, 512))
    times, cpu = [], []
    for run in range(runs + 1):
        start, cpu0 = time.perf_counter(), time.process_time()
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y, ignore_index=255)
        loss.backward()
        opt.step()
        if run > 0:
            times.append(time.perf_counter() - start)
            cpu.append(time.process_time() - cpu0)
    times.sort()
    cpu.sort()
    return {"secondsPerIteration": times[len(times) // 2], "bestSecondsPerIteration": times[0],
            "cpuSecondsPerIteration": cpu[len(cpu) // 2],
            "imagesPerSecond": batch / times[len(times) // 2],
            "peakRSSMegabytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "torch": torch.__version__}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--configs", default="vits:1,vits:4,vitl:1")
    parser.add_argument("--torch-only", nargs=2, metavar=("MODEL", "BATCH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.torch_only:
        print(json.dumps(torch_iteration(args.torch_only[0], int(args.torch_only[1]), args.threads, args.runs)))
        return
    rows = []
    for config in args.configs.split(","):
        name, batch = config.split(":")
        ours = json.loads(subprocess.run([os.path.join(ROOT, ".build/release/ctbench"), "training", "--model", name, "--batch", batch,
                                          "--threads", str(args.threads), "--runs", str(args.runs), "--json"],
                                         check=True, capture_output=True, text=True).stdout)
        theirs = json.loads(subprocess.run([sys.executable, os.path.abspath(__file__), "--threads", str(args.threads), "--runs",
                                            str(args.runs), "--torch-only", name, batch],
                                           check=True, capture_output=True, text=True).stdout)
        rows.append((name, int(batch), ours, theirs))
        print(f"{name} 512x512 batch {batch}, {args.threads} threads: ctpipe {ours['secondsPerIteration']:.2f} s/it "
              f"(best {ours['bestSecondsPerIteration']:.2f}, CPU {ours['cpuSecondsPerIteration']:.2f} s; "
              f"{ours['imagesPerSecond']:.2f} img/s, peak RSS {ours['peakRSSMegabytes']:.0f} MB); PyTorch {theirs['torch']} "
              f"{theirs['secondsPerIteration']:.2f} s/it (best {theirs['bestSecondsPerIteration']:.2f}, CPU {theirs['cpuSecondsPerIteration']:.2f} s; "
              f"{theirs['imagesPerSecond']:.2f} img/s, peak RSS {theirs['peakRSSMegabytes']:.0f} MB); "
              f"speed ratio (best wall) {theirs['bestSecondsPerIteration'] / ours['bestSecondsPerIteration']:.2f}x, "
              f"(CPU) {theirs['cpuSecondsPerIteration'] / ours['cpuSecondsPerIteration']:.2f}x", flush=True)


if __name__ == "__main__":
    main()
