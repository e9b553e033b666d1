#!/usr/bin/env python3
"""bench_mask2former_training.py — one training iteration of Causal-Tune with the
Mask2Former head: ctpipe vs PyTorch, side by side.

ctpipe's side is `ctbench mask2former-training --model vits|vitl --threads N
--runs R [--checkpointing] --json` (release build at .build/release/ctbench).
The PyTorch side is this script in its worker mode (`--torch-worker`). Every
measurement is its own process, so getrusage's ru_maxrss is that
configuration's peak resident set size.

One iteration, PyTorch side (torch.set_num_threads(n), float32, default
torch.backends.mkldnn, random weights, batch 1, a 512 x 512 crop):
  * backbone: HuggingFace `Dinov2Model` (SDPA attention) with the patch-16
    conversion: vits (C 384, 12 blocks, 6 heads) or vitl (C 1024, 24 blocks,
    16 heads), FFN 4C, position grid 32 x 32 (no interpolation at 512);
    `requires_grad_(False)` on all of it;
  * Causal-Tune after every block on the 1024 patch tokens f (CLS untouched):
    Fc = (D_h F D_wᵀ) ⊙ M per channel (orthonormal DCT-II matrices D, 32 x 32,
    as batched matrix products over the token-major stream), M the band-pass
    mask (1 − exp(−d²/2·0.2²))·exp(−d²/2·0.7²), d² = (u/h)² + (v/w)²;
    S = softmax(Fc T_lᵀ / √C); Δ = MLP_f(S[:, 1:] MLP_t(T_l[1:]) + Fc);
    f += s · D_hᵀ Δ D_w. m = 100 tokens, T_l = A_l B_l of rank 16 (--rank 0:
    full (m, C) tokens; when ctbench's JSON reports `rank`, the PyTorch side
    uses that). T_l, MLP_t(T_l[1:]) and the queries are computed once per
    iteration for all layers at once (they depend on the parameters alone);
  * queries: Rein's `return_auto` link — transform (C → 256) of every layer's
    tokens, max / mean / last over the layers, interleaved per channel, merge
    (768 → 256): (100, 256) queries, replace_query_feat (query_pos = queries,
    query_feat = querys2feat(queries));
  * feature pyramid: the adapted patch tokens after blocks L/3−1, L/2−1,
    2L/3−1, L−1 as (C, 32, 32) maps, F.interpolate bilinear ×4, ×2, ×1, ×0.5;
  * head: HuggingFace's `Mask2FormerPixelDecoder` (256 wide, 3 levels, 6
    encoder layers, 8 heads, 4 points, FFN 1024, GroupNorm 32) and
    `Mask2FormerMaskedAttentionDecoder` (9 layers, 8 heads, FFN 2048, 100
    queries) with level embeddings and sine positions, cls_embed (19 + 1) —
    scripts/bench_mask2former.py's `Head`, shared;
  * loss: HuggingFace's `Mask2FormerLoss` over all 10 predictions (the initial
    one and one per decoder layer: deep supervision, as mmdet): Hungarian
    matcher on 12 544 uniform points, BCE and dice on 12 544 points by
    importance sampling (3× oversampling, 0.75 importance), weights class 2 /
    mask 5 / dice 5, no-object 0.1; the target a random 512 x 512 label of
    8 x 8 blocks drawn from a few classes (--label-classes, 5), one binary mask
    per class present;
  * loss.backward(), then one torch.optim.AdamW step (lr 1e-4, weight decay
    0.05; none on norms, tokens, scale, level embeddings — Rein's groups;
    fused=True) over the trainable parameters: the adapter and the whole head.
  * --checkpointing: each backbone block with its adapter under
    torch.utils.checkpoint (non-reentrant), so only the blocks' inputs are kept
    and the blocks run twice.
The first iteration is a warm-up, excluded; it also counts the FLOPs
(torch.utils.flop_counter: matrix products, convolutions, attention, forward
and backward; elementwise work and grid_sample not counted) and the bytes
autograd saves for backward (saved_tensors_hooks, distinct storages, parameters
excluded: `activationBytes`).

Why this PyTorch iteration is an efficient one: the frozen backbone has
requires_grad False, so no weight gradients are computed or stored and autograd
keeps only what the input gradients need (a frozen Linear saves its weight, not
its input); attention is SDPA (the fused CPU flash kernel, no N x N matrix kept
for backward); the DCT is two matrix products per transform, batched over the
channels, no FFT library round trips or Python loops over pixels or channels;
the adapter's parameter-only work is done once per iteration for all layers;
the loss samples points with grid_sample as HF and mmdet do; the optimiser is
the fused AdamW kernel (fused=True: one pass over each tensor; for 20 M values
several times faster than foreach=True on 2 cores).

FLOPs per iteration counted that way (forward + backward, no checkpointing):
vits 439 GFLOP, vitl 2073 GFLOP (rank-16 tokens, 5 target classes). The
table's GFLOP/s divides the PyTorch count without checkpointing by each side's
median seconds, for both variants (the same model, so the same work up to the
kernels' own choices; recomputation is not counted as useful work). The worker
also reports the median seconds of its phases (`phaseSeconds`: forward, loss,
backward, optimiser step).

The harness alternates the sides per round (ctpipe first in even rounds,
PyTorch first in odd ones), waits before every process for a 1-minute load
average at or below --max-load (1.3 for the 2-core machine;
scripts/quiet_machine.py, exit 3 after --wait seconds without it) and records
the load at each start. Each side keeps, per model and variant, the median
over rounds of its per-process median and its best iteration. The
checkpointing variant runs in the first --checkpointing-rounds rounds only
(0: never). --sides pytorch (or ctpipe) runs one side alone. Prints a Markdown
table (both sides from the same run, ratio PyTorch / ctpipe, peak RSS and saved
activations with and without checkpointing, the largest load at a start, the
commands) and, with --json-out, every sample. A missing ctbench, or one without
the `mask2former-training` subcommand, is refused (exit 2) before anything runs.

Keys read from ctbench's JSON: secondsPerIteration (required; the median),
best or bestSecondsPerIteration, cpuSeconds or cpuSecondsPerIteration,
peakRSSBytes or peakRSSMegabytes, activationBytes or activationMegabytes, and,
if present, rank (the adapter's token rank; also adapter.rank). Missing
optional keys show as "—".

    swift build -c release --product ctbench
    python3 scripts/bench_mask2former_training.py [--model vits vitl] [--threads 2] [--rounds 3] [--runs 1]
        [--checkpointing-rounds 1] [--max-load 1.3] [--wait 600] [--json-out FILE]
    python3 scripts/bench_mask2former_training.py --torch-worker --model vits [--threads 2] [--runs 1] [--checkpointing]
"""
import argparse
import json
import math
import os
import resource
import shlex
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from quiet_machine import wait_quiet  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SUBCOMMAND = "mask2former-training"
MODELS = ("vits", "vitl")


# ---------------------------------------------------------------- PyTorch worker

def torch_worker(name, threads, runs, checkpointing, rank, label_classes):
    import torch
    import torch.nn.functional as F
    from torch.utils.checkpoint import checkpoint
    from torch.utils.flop_counter import FlopCounterMode, sdpa_backward_flop_count, sdpa_flop_count
    from transformers import Dinov2Config, Dinov2Model, Mask2FormerConfig
    from transformers.models.mask2former.modeling_mask2former import Mask2FormerLoss
    import bench_mask2former as m2f
    from bench_torch_models import dct_matrix

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    c, depth, heads = m2f.MODELS[name]
    grid, patch, size, tokens, query_dims = m2f.GRID, m2f.PATCH, 512, m2f.TOKENS, m2f.QUERY_DIMS

    class CausalTune(torch.nn.Module):
        """Causal-Tune after every block, Rein's names, with the token -> query link."""

        def __init__(self):
            super().__init__()
            bound = math.sqrt(6.0 / float(3 * patch * patch + (math.sqrt(c * rank) if rank else c)))
            if rank:
                self.learnable_tokens_a = torch.nn.Parameter(torch.empty(depth, tokens, rank).uniform_(-bound, bound))
                self.learnable_tokens_b = torch.nn.Parameter(torch.empty(depth, rank, c).uniform_(-bound, bound))
            else:
                self.learnable_tokens = torch.nn.Parameter(torch.empty(depth, tokens, c).uniform_(-bound, bound))
            self.scale = torch.nn.Parameter(torch.tensor(1e-3))
            self.mlp_token2feat, self.mlp_delta_f = torch.nn.Linear(c, c), torch.nn.Linear(c, c)
            self.transform, self.merge = torch.nn.Linear(c, query_dims), torch.nn.Linear(3 * query_dims, query_dims)
            d = dct_matrix(grid)
            self.register_buffer("d", d)
            self.register_buffer("dt", d.T.contiguous())
            u = torch.arange(grid, dtype=torch.float64)[:, None] / grid
            d2 = u * u + (u * u).T
            band = (1 - torch.exp(-d2 / (2 * 0.2 ** 2))) * torch.exp(-d2 / (2 * 0.7 ** 2))
            self.register_buffer("mask", band.reshape(-1, 1).float())

        def prepare(self):
            """What depends on the parameters alone, for all layers at once: T_lᵀ/√C (L, C, m), MLP_t(T_l[1:])
            (L, m-1, C), and the queries (m, q) of return_auto's link."""
            t = self.learnable_tokens_a @ self.learnable_tokens_b if rank else self.learnable_tokens
            keys = t.transpose(1, 2) / math.sqrt(c)
            values = self.mlp_token2feat(t[:, 1:])
            q = self.transform(t).permute(1, 2, 0)                                # (m, q, L)
            q = torch.stack([q.amax(-1), q.mean(-1), q[:, :, -1]], dim=-1)       # (m, q, 3)
            return keys, values, self.merge(q.flatten(-2, -1))

        def forward(self, x, keys, values):
            """x (B, 1 + N, C) -> the stream with its patch tokens adapted by this layer's keys (C, m), values."""
            b = x.shape[0]
            f = x[:, 1:]
            fc = (self.d @ f.reshape(b, grid, grid * c)).reshape(b, grid, grid, c)
            fc = (self.d @ fc).reshape(b, grid * grid, c) * self.mask            # D_h F D_wᵀ, masked
            s = torch.softmax(fc @ keys, dim=-1)
            delta = self.mlp_delta_f(torch.baddbmm(fc, s[:, :, 1:], values.expand(b, -1, -1)))
            out = (self.dt @ delta.reshape(b, grid, grid * c)).reshape(b, grid, grid, c)
            out = (self.dt @ out).reshape(b, grid * grid, c)                     # D_hᵀ Δ D_w
            return torch.cat([x[:, :1], f + self.scale * out], dim=1)

    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            config = Dinov2Config(hidden_size=c, num_hidden_layers=depth, num_attention_heads=heads, mlp_ratio=4,
                                  patch_size=patch, image_size=size, layerscale_value=0.1, attn_implementation="sdpa")
            self.backbone = Dinov2Model(config)
            assert self.backbone.config._attn_implementation == "sdpa"
            self.backbone.requires_grad_(False)
            self.reins = CausalTune()
            self.head = m2f.Head(c)
            self.picks = [depth // 3 - 1, depth // 2 - 1, 2 * depth // 3 - 1, depth - 1]

        def block(self, x, i, keys, values):
            return self.reins(self.backbone.encoder.layer[i](x), keys, values)

        def forward(self, image):
            """(class logits (B, Q, K+1), mask logits (B, Q, H/4, W/4)) of every prediction, initial first."""
            keys, values, queries = self.reins.prepare()
            x = self.backbone.embeddings(image)
            maps = []
            for i in range(self.picks[-1] + 1):
                if checkpointing:
                    x = checkpoint(self.block, x, i, keys[i], values[i], use_reentrant=False)
                else:
                    x = self.block(x, i, keys[i], values[i])
                if i in self.picks:
                    maps.append(x[:, 1:].transpose(1, 2).reshape(x.shape[0], c, grid, grid))
            maps = [F.interpolate(maps[0], scale_factor=4, mode="bilinear", align_corners=False),
                    F.interpolate(maps[1], scale_factor=2, mode="bilinear", align_corners=False),
                    maps[2],
                    F.interpolate(maps[3], scale_factor=0.5, mode="bilinear", align_corners=False)]
            dec = self.head.decode(maps, queries)
            classes = [self.head.cls_embed(h.transpose(0, 1)) for h in dec.intermediate_hidden_states]
            return classes, list(dec.masks_queries_logits)

    model = Model().train()
    loss_config = Mask2FormerConfig(num_labels=m2f.CLASSES, no_object_weight=0.1, class_weight=2.0, mask_weight=5.0,
                                    dice_weight=5.0, train_num_points=12544, oversample_ratio=3.0,
                                    importance_sample_ratio=0.75)
    weights = {"loss_cross_entropy": 2.0, "loss_mask": 5.0, "loss_dice": 5.0}
    criterion = Mask2FormerLoss(loss_config, weights)

    no_decay_ids = {id(p) for mod in model.modules() if isinstance(mod, (torch.nn.LayerNorm, torch.nn.GroupNorm))
                    for p in mod.parameters(recurse=False)}
    decay, no_decay = [], []
    for pname, p in model.named_parameters():
        if not p.requires_grad:
            continue
        plain = id(p) in no_decay_ids or "learnable_tokens" in pname or pname == "reins.scale" or "level_embed" in pname
        (no_decay if plain else decay).append(p)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=1e-4, fused=True)
    trainable = sum(p.numel() for p in decay + no_decay)

    gen = torch.Generator().manual_seed(5)
    image = torch.randn(1, 3, size, size, generator=gen)
    present = torch.randperm(m2f.CLASSES, generator=gen)[:label_classes]
    blocks = present[torch.randint(0, label_classes, (8, 8), generator=gen)]
    label = blocks.repeat_interleave(size // 8, 0).repeat_interleave(size // 8, 1)
    class_labels = torch.unique(label)
    mask_labels = (label[None] == class_labels[:, None, None]).float()

    def iteration(phases=None):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        classes, masks = model(image)
        t1 = time.perf_counter()
        aux = [{"masks_queries_logits": mk, "class_queries_logits": cl} for mk, cl in zip(masks[:-1], classes[:-1])]
        losses = criterion(masks[-1], classes[-1], [mask_labels], [class_labels], auxiliary_predictions=aux)
        loss = sum(v * next(w for k, w in weights.items() if k in key) for key, v in losses.items())
        t2 = time.perf_counter()
        loss.backward()
        t3 = time.perf_counter()
        opt.step()
        if phases is not None:
            for k, v in zip(("forward", "loss", "backward", "step"), (t1 - t0, t2 - t1, t3 - t2, time.perf_counter() - t3)):
                phases.setdefault(k, []).append(v)
        return loss.detach().item()

    # Warm-up: FLOPs and the bytes autograd keeps for backward.
    aten = torch.ops.aten
    mapping = {aten._scaled_dot_product_flash_attention_for_cpu:
               lambda q, k, v, *a, out_shape=None, **kw: sdpa_flop_count(q, k, v),
               aten._scaled_dot_product_flash_attention_for_cpu_backward:
               lambda g, q, k, v, *a, out_shape=None, **kw: sdpa_backward_flop_count(g, q, k, v)}
    param_storages = {p.untyped_storage().data_ptr() for p in model.parameters()} | {
        b.untyped_storage().data_ptr() for b in model.buffers()}
    saved = {}

    def pack(t):
        if isinstance(t, torch.Tensor) and t.device.type == "cpu" and not t.is_sparse:
            try:
                storage = t.untyped_storage()
                if storage.data_ptr() not in param_storages:
                    saved[storage.data_ptr()] = storage.nbytes()
            except (RuntimeError, NotImplementedError):
                pass
        return t

    counter = FlopCounterMode(display=False, custom_mapping=mapping)
    with counter, torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        warm_loss = iteration()
    flops = counter.get_total_flops()
    activation_bytes = sum(saved.values())

    times, cpu, phases = [], [], {}
    for _ in range(runs):
        start, cpu0 = time.perf_counter(), time.process_time()
        iteration(phases)
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - cpu0)
    return {"side": "pytorch", "torch": torch.__version__, "model": name, "threads": threads, "runs": runs,
            "activationCheckpointing": checkpointing, "rank": rank, "tokens": tokens,
            "targets": int(class_labels.numel()),
            "secondsPerIteration": statistics.median(times), "best": min(times), "cpuSeconds": statistics.median(cpu),
            "seconds": times, "phaseSeconds": {k: statistics.median(v) for k, v in phases.items()},
            "peakRSSBytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            "activationBytes": activation_bytes, "flops": flops, "trainableValues": trainable,
            "warmupLoss": warm_loss, "mkldnn": torch.backends.mkldnn.is_available()}


# ---------------------------------------------------------------- harness

def read_ctbench(report):
    """The keys the table needs from ctbench's JSON, tolerant of the names."""
    def first(*keys, scale=1.0):
        for k in keys:
            if isinstance(report.get(k), (int, float)):
                return report[k] * scale
        return None
    if first("secondsPerIteration") is None:
        raise ValueError("no numeric `secondsPerIteration` in ctbench's JSON (keys: " + ", ".join(sorted(report)) + ")")
    rank = report.get("rank")
    if rank is None and isinstance(report.get("adapter"), dict):
        rank = report["adapter"].get("rank")
    return {"secondsPerIteration": first("secondsPerIteration"),
            "best": first("best", "bestSecondsPerIteration", "bestSeconds"),
            "cpuSeconds": first("cpuSeconds", "cpuSecondsPerIteration"),
            "peakRSSBytes": first("peakRSSBytes") or first("peakRSSMegabytes", scale=1 << 20),
            "activationBytes": first("activationBytes") or first("activationMegabytes", scale=1 << 20),
            "rank": rank if isinstance(rank, int) else None}


def fail(message, code):
    print(f"bench_mask2former_training: {message}", file=sys.stderr)
    sys.exit(code)


def check_ctbench(binary):
    """Refuses early, with the reason, when ctbench is missing or has no mask2former-training subcommand."""
    if not os.access(binary, os.X_OK):
        fail(f"no ctbench at {binary}; build it with `swift build -c release --product ctbench` "
             "(or pass --ctbench PATH, or --sides pytorch for the PyTorch side alone)", 2)
    usage = subprocess.run([binary], capture_output=True, text=True)
    text = usage.stderr + usage.stdout
    if text.startswith("usage: ctbench "):
        families = text.split()[2].split("|")
        if SUBCOMMAND not in families:
            fail(f"{binary} has no `{SUBCOMMAND}` subcommand (it has: {', '.join(families)}); "
                 "build a ctbench that has it, or run --sides pytorch", 2)


def run_json(command, who):
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
        if who == "ctpipe" and done.returncode == 2 and tail.startswith("usage: ctbench"):
            fail(f"{command[0]} has no `{SUBCOMMAND}` subcommand ({tail}); build a ctbench that has it", 2)
        fail(f"{who} failed (exit {done.returncode}): {shlex.join(command)}\n{tail}", 1)
    try:
        return json.loads(done.stdout)
    except json.JSONDecodeError:
        fail(f"{who} printed no JSON: {shlex.join(command)}\n{done.stdout[:500]}", 1)


def fmt(x, spec, scale=1.0):
    return "—" if x is None else format(x / scale, spec)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", nargs="+", choices=MODELS, default=list(MODELS))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--runs", type=int, default=1, help="measured iterations per process, after its warm-up")
    p.add_argument("--checkpointing-rounds", type=int, default=1,
                   help="rounds that also run the activation-checkpointing variant (0: none)")
    p.add_argument("--sides", default="ctpipe,pytorch", help="ctpipe,pytorch (default), or one of them")
    p.add_argument("--rank", type=int, default=16, help="PyTorch side's token rank unless ctbench reports one (0: full)")
    p.add_argument("--label-classes", type=int, default=5)
    p.add_argument("--max-load", type=float, default=1.3)
    p.add_argument("--wait", type=float, default=600)
    p.add_argument("--ctbench", default=os.path.join(ROOT, ".build/release/ctbench"))
    p.add_argument("--json-out")
    p.add_argument("--torch-worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--checkpointing", action="store_true", help=argparse.SUPPRESS)
    o = p.parse_args()

    if o.torch_worker:
        if len(o.model) != 1:
            fail("--torch-worker takes one --model", 2)
        print(json.dumps(torch_worker(o.model[0], o.threads, max(1, o.runs), o.checkpointing, o.rank,
                                      o.label_classes), indent=1))
        return

    sides = [s for s in o.sides.split(",") if s]
    if not sides or any(s not in ("ctpipe", "pytorch") for s in sides):
        fail(f"--sides {o.sides!r}: use ctpipe, pytorch or both", 2)
    if "ctpipe" in sides:
        check_ctbench(o.ctbench)
    rank = {name: o.rank for name in o.model}
    samples = {}          # (model, variant, side) -> list of per-process reports
    loads, commands = [], {}
    for r in range(o.rounds):
        variants = ["plain"] + (["checkpointing"] if r < o.checkpointing_rounds else [])
        order = sides if r % 2 == 0 else sides[::-1]
        for name in o.model:
            for variant in variants:
                flag = ["--checkpointing"] if variant == "checkpointing" else []
                for side in order:
                    if side == "ctpipe":
                        command = [o.ctbench, SUBCOMMAND, "--model", name, "--threads", str(o.threads),
                                   "--runs", str(o.runs)] + flag + ["--json"]
                    else:
                        command = [sys.executable, os.path.abspath(__file__), "--torch-worker", "--model", name,
                                   "--threads", str(o.threads), "--runs", str(o.runs), "--rank", str(rank[name]),
                                   "--label-classes", str(o.label_classes)] + flag
                    load = wait_quiet(o.max_load, o.wait, "bench_mask2former_training")
                    loads.append(load)
                    raw = run_json(command, side)
                    report = read_ctbench(raw) if side == "ctpipe" else raw
                    if side == "ctpipe" and report["rank"] is not None and report["rank"] != rank[name]:
                        print(f"ctbench reports rank {report['rank']}; the PyTorch side follows", file=sys.stderr)
                        rank[name] = report["rank"]
                        for v in ("plain", "checkpointing"):
                            samples.pop((name, v, "pytorch"), None)
                    report = dict(report, loadAtStart=load, round=r, raw=raw if side == "ctpipe" else None)
                    samples.setdefault((name, variant, side), []).append(report)
                    commands[(name, variant, side)] = shlex.join(["python3"] + command[1:] if side == "pytorch" else command)
                    print(f"round {r + 1}/{o.rounds} {name} {variant} {side}: {report['secondsPerIteration']:.2f} s/it "
                          f"(load at start {load:.2f})", file=sys.stderr, flush=True)

    def summary(name, variant, side):
        runs = samples.get((name, variant, side))
        if not runs:
            return None
        pick = lambda k: [x[k] for x in runs if x.get(k) is not None]  # noqa: E731
        med = lambda k: statistics.median(pick(k)) if pick(k) else None  # noqa: E731
        return {"median": med("secondsPerIteration"), "best": min(pick("best")) if pick("best") else None,
                "cpuSeconds": med("cpuSeconds"), "peakRSSBytes": max(pick("peakRSSBytes")) if pick("peakRSSBytes") else None,
                "activationBytes": med("activationBytes"), "flops": med("flops"), "processes": len(runs),
                "maxLoadAtStart": max(x["loadAtStart"] for x in runs)}

    torch_version = next((x["torch"] for k, v in samples.items() if k[2] == "pytorch" for x in v), None)
    print(f"One training iteration, Causal-Tune + Mask2Former, 512 x 512, batch 1, {o.threads} threads; "
          f"median of per-process medians over {o.rounds} rounds ({o.runs} iteration(s) per process after a warm-up); "
          f"PyTorch {torch_version or '—'}. Ratio = PyTorch / ctpipe (above 1: ctpipe faster).\n")
    print("| model | activation checkpointing | ctpipe s/it (best) | PyTorch s/it (best) | ratio median (best) "
          "| CPU s ctpipe / PyTorch | GFLOP/s ctpipe / PyTorch | peak RSS MiB ctpipe / PyTorch "
          "| saved activations MiB ctpipe / PyTorch | max load at start |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    rows = []
    flops_plain = {}
    for name in o.model:
        for variant in ("plain", "checkpointing"):
            a, b = summary(name, variant, "ctpipe"), summary(name, variant, "pytorch")
            if a is None and b is None:
                continue
            if variant == "plain" and b and b["flops"]:
                flops_plain[name] = b["flops"]
            gflop = flops_plain.get(name, b["flops"] if b else None)
            ratio = b["median"] / a["median"] if a and b else None
            ratio_best = b["best"] / a["best"] if a and b and a["best"] and b["best"] else None
            gfs = lambda s: gflop / s["median"] / 1e9 if s and gflop and s["median"] else None  # noqa: E731
            load = max(s["maxLoadAtStart"] for s in (a, b) if s)
            g = lambda s, k: s[k] if s else None  # noqa: E731
            print(f"| {name} | {'on' if variant == 'checkpointing' else 'off'} "
                  f"| {fmt(g(a, 'median'), '.2f')} ({fmt(g(a, 'best'), '.2f')}) "
                  f"| {fmt(g(b, 'median'), '.2f')} ({fmt(g(b, 'best'), '.2f')}) "
                  f"| {fmt(ratio, '.2f')} ({fmt(ratio_best, '.2f')}) "
                  f"| {fmt(g(a, 'cpuSeconds'), '.2f')} / {fmt(g(b, 'cpuSeconds'), '.2f')} "
                  f"| {fmt(gfs(a), '.1f')} / {fmt(gfs(b), '.1f')} "
                  f"| {fmt(g(a, 'peakRSSBytes'), '.0f', 1 << 20)} / {fmt(g(b, 'peakRSSBytes'), '.0f', 1 << 20)} "
                  f"| {fmt(g(a, 'activationBytes'), '.0f', 1 << 20)} / {fmt(g(b, 'activationBytes'), '.0f', 1 << 20)} "
                  f"| {load:.2f} |")
            rows.append({"model": name, "activationCheckpointing": variant == "checkpointing", "ctpipe": a, "pytorch": b,
                         "ratio": ratio, "ratioBest": ratio_best, "flops": gflop,
                         "commands": {s: commands.get((name, variant, s)) for s in sides}})
    print()
    for name in o.model:
        if name in flops_plain:
            print(f"- {name}: {flops_plain[name] / 1e9:.0f} GFLOP per iteration (forward + backward, PyTorch's count), "
                  f"PyTorch token rank {rank[name]}")
    print(f"- 1-minute load at the start of each of the {len(loads)} processes: at most {max(loads):.2f} "
          f"(bound {o.max_load})")
    print(f"- command: python3 scripts/bench_mask2former_training.py {shlex.join(sys.argv[1:])}")
    seen = set()
    for (name, variant, side), command in sorted(commands.items()):
        generic = command.replace(ROOT + "/", "")
        if generic not in seen:
            seen.add(generic)
            print(f"  - {side}: `{generic}`")
    if o.json_out:
        with open(o.json_out, "w") as f:
            json.dump({"threads": o.threads, "rounds": o.rounds, "runs": o.runs, "maxLoad": o.max_load,
                       "loadsAtStart": loads, "torch": torch_version, "rows": rows,
                       "samples": [{"model": k[0], "variant": k[1], "side": k[2], "reports": v}
                                   for k, v in samples.items()]}, f, indent=1)


if __name__ == "__main__":
    main()
