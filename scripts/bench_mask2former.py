#!/usr/bin/env python3
"""bench_mask2former.py — a Rein model with the Mask2Former head: ctpipe vs PyTorch.

Runs `ctbench mask2former` (release build at .build/release/ctbench) and then
the same model in PyTorch at the same thread count (torch.set_num_threads(n),
inference_mode, float32), random weights at the real sizes with Rein's
configuration:
  * backbone: DINOv2 vits (C 384, 12 blocks, 6 heads) or vitl (C 1024, 24
    blocks, 16 heads) with the patch-16 conversion (position grid 32), official
    block structure, SDPA attention;
  * adapter: Rein after every block on the patch tokens, LoRA tokens T_l = A_l B_l
    (m 100, r 16): f += scale · mlp_delta_f(softmax(f T_lᵀ / √C)[:, 1:] ·
    mlp_token2feat(T_l[1:]) + f), as matrix products; what depends on the
    parameters alone (T_l, mlp_token2feat(T_l[1:]), the linked queries) is made
    once, outside the timing, as ctpipe's prepared adapter is;
  * feature pyramid: the adapted patch tokens after blocks L/3-1, L/2-1, 2L/3-1,
    L-1 as maps, F.interpolate bilinear scale factors 4, 2, 1, 0.5;
  * head: HuggingFace's Mask2FormerPixelDecoder (mmdet's MSDeformAttnPixelDecoder:
    256 channels, 3 levels, 6 encoder layers, 8 heads, 4 points, FFN 1024, its
    own GroupNorm(32)) and Mask2FormerMaskedAttentionDecoder + mask predictor
    (mmdet's 9-layer decoder: HF decoder_layers = 10; 8 heads, FFN 2048, 100
    queries), level embeddings and sine positions, querys2feat, cls_embed (19 + 1);
  * scores: mmseg's predict, F.interpolate(mask logits, window, bilinear) then
    einsum(softmax(cls)[..., :-1], sigmoid(masks)).
Cases, timed in alternating rounds after a warm-up round as ctbench does:
  (a) the head alone on one S x S window's pyramid; (b) the whole model on one
  S x S window; (c) slide inference (mmseg's slide_inference: crop S, stride 2S/3)
  of a 2S x S image, scores averaged, argmax at the image size. S = 512 unless
  --size (a smaller S only to see both sides run). Peak RSS (VmHWM) of each side.
Before each side it waits until the 1-minute load average is at or below
--max-load (1.3), and refuses (exit 3) after --wait seconds without that.

    swift build -c release --product ctbench
    python3 scripts/bench_mask2former.py [--model vits|vitl] [--threads 2] [--runs 5] [--size 512]
        [--max-load 1.3] [--wait 600] [--json FILE]
"""
import argparse
import json
import math
import os
import subprocess
import sys
import time

import torch
import torch.nn.functional as F
from transformers import Mask2FormerConfig
from transformers.models.mask2former.modeling_mask2former import (
    Mask2FormerMaskedAttentionDecoder, Mask2FormerPixelDecoder, Mask2FormerSinePositionEmbedding)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_common import peak_rss_bytes as peak_rss  # noqa: E402
from bench_torch_models import Block  # noqa: E402
from quiet_machine import wait_quiet  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = {"vits": (384, 12, 6), "vitl": (1024, 24, 16)}
PATCH, GRID = 16, 32
TOKENS, RANK, QUERY_DIMS = 100, 16, 256
D, CLASSES = 256, 19


# ---------------------------------------------------------------- backbone + Rein

class Rein(torch.nn.Module):
    """Rein's LoRAReins with the token -> query link (names as released)."""

    def __init__(self, layers, c):
        super().__init__()
        self.layers, self.c = layers, c
        bound = math.sqrt(6.0 / float(3 * PATCH * PATCH + c))
        self.learnable_tokens_a = torch.nn.Parameter(torch.empty(layers, TOKENS, RANK).uniform_(-bound, bound))
        self.learnable_tokens_b = torch.nn.Parameter(torch.empty(layers, RANK, c).uniform_(-bound, bound))
        self.scale = torch.nn.Parameter(torch.tensor(0.1))
        self.mlp_token2feat, self.mlp_delta_f = torch.nn.Linear(c, c), torch.nn.Linear(c, c)
        self.transform, self.merge = torch.nn.Linear(c, QUERY_DIMS), torch.nn.Linear(3 * QUERY_DIMS, QUERY_DIMS)

    def prepare(self):
        """What depends on the parameters alone: per layer T_l (m, C) and mlp_token2feat(T_l[1:]) (m-1, C);
        the queries (m, q) of return_auto's link (max, mean, last over layers of transform(T), merged)."""
        tokens = self.learnable_tokens_a @ self.learnable_tokens_b                    # (L, m, C)
        self.tokens_t = tokens.transpose(1, 2).contiguous() / math.sqrt(self.c)       # (L, C, m), scaled
        self.values = self.mlp_token2feat(tokens[:, 1:])                              # (L, m-1, C)
        t = self.transform(tokens).permute(1, 2, 0)                                   # (m, q, L)
        t = torch.stack([t.amax(-1), t.mean(-1), t[:, :, -1]], dim=-1)                # (m, q, 3)
        self.queries = self.merge(t.flatten(-2, -1))                                  # (m, q)

    def forward(self, f, layer):
        """f (N, C) patch tokens of one image."""
        s = torch.softmax(f @ self.tokens_t[layer], dim=-1)
        delta = self.mlp_delta_f(torch.addmm(f, s[:, 1:], self.values[layer]))
        return f.add_(delta, alpha=float(self.scale))


class Backbone(torch.nn.Module):
    def __init__(self, c, depth, heads):
        super().__init__()
        self.c = c
        self.embed = torch.nn.Conv2d(3, c, PATCH, PATCH)
        self.cls = torch.nn.Parameter(torch.randn(1, 1, c) * 0.02)
        self.pos = torch.nn.Parameter(torch.randn(1, 1 + GRID * GRID, c) * 0.02)
        self.blocks = torch.nn.ModuleList(Block(c, heads) for _ in range(depth))
        self.reins = Rein(depth, c)
        self.picks = [depth // 3 - 1, depth // 2 - 1, 2 * depth // 3 - 1, depth - 1]

    def position(self, h, w):
        if (h, w) == (GRID, GRID):
            return self.pos
        grid = self.pos[:, 1:].reshape(1, GRID, GRID, self.c).permute(0, 3, 1, 2)
        grid = F.interpolate(grid, size=(h, w), mode="bicubic", align_corners=False)
        return torch.cat([self.pos[:, :1], grid.permute(0, 2, 3, 1).reshape(1, h * w, self.c)], dim=1)

    def forward(self, image):
        """The four pyramid maps (1, C, ·, ·) at strides 4, 8, 16, 32."""
        h, w = image.shape[2] // PATCH, image.shape[3] // PATCH
        x = torch.cat([self.cls, self.embed(image).flatten(2).transpose(1, 2)], 1) + self.position(h, w)
        maps = []
        for i, block in enumerate(self.blocks):
            x = block(x)
            x = torch.cat([x[:, :1], self.reins(x[0, 1:], i)[None]], 1)
            if i in self.picks:
                maps.append(x[0, 1:].transpose(0, 1).reshape(1, self.c, h, w))
        return [F.interpolate(maps[0], scale_factor=4, mode="bilinear", align_corners=False),
                F.interpolate(maps[1], scale_factor=2, mode="bilinear", align_corners=False),
                maps[2].contiguous(),
                F.interpolate(maps[3], scale_factor=0.5, mode="bilinear", align_corners=False)]


# ---------------------------------------------------------------- head

class Head(torch.nn.Module):
    """mmseg's Mask2Former head as Rein runs it (replace_query_feat) from HF's modules."""

    def __init__(self, c):
        super().__init__()
        config = Mask2FormerConfig(feature_size=D, mask_feature_size=D, hidden_dim=D, encoder_layers=6,
                                   encoder_feedforward_dim=1024, num_attention_heads=8, common_stride=4,
                                   feature_strides=[4, 8, 16, 32], dropout=0.0, dim_feedforward=2048,
                                   decoder_layers=10, num_queries=TOKENS, pre_norm=False, activation_function="relu")
        self.pixel_decoder = Mask2FormerPixelDecoder(config, feature_channels=[c] * 4)
        assert self.pixel_decoder.encoder.layers[0].self_attn.n_points == 4
        assert all(m.num_groups == 32 for m in self.pixel_decoder.modules() if isinstance(m, torch.nn.GroupNorm))
        self.decoder = Mask2FormerMaskedAttentionDecoder(config)
        assert len(self.decoder.layers) == 9
        self.level_embed = torch.nn.Parameter(torch.randn(3, D))
        self.querys2feat = torch.nn.Linear(QUERY_DIMS, D)
        self.cls_embed = torch.nn.Linear(D, CLASSES + 1)
        self.sine = Mask2FormerSinePositionEmbedding(num_pos_feats=D // 2, normalize=True)

    def decode(self, maps, queries):
        """The pixel decoder and the transformer decoder on one window's pyramid (maps of batch 1) with the
        adapter's queries (m, q): HF's decoder output, every prediction (the initial one, then one per layer)."""
        out = self.pixel_decoder(maps, return_dict=True)
        memory = list(out.multi_scale_features)                                     # lowest resolution first
        sizes = [tuple(m.shape[-2:]) for m in memory]
        positions = [self.sine(m.shape, m.device, m.dtype).flatten(2).permute(2, 0, 1) for m in memory]
        values = [m.flatten(2).permute(2, 0, 1) + self.level_embed[i] for i, m in enumerate(memory)]
        return self.decoder(inputs_embeds=self.querys2feat(queries)[:, None, :], multi_stage_positional_embeddings=positions,
                            pixel_embeddings=out.mask_features, encoder_hidden_states=values,
                            query_position_embeddings=queries[:, None, :], feature_size_list=sizes, return_dict=True)

    def forward(self, maps, queries, window):
        """Semantic scores (K, H, W) of one window from its pyramid and the adapter's queries (m, q)."""
        dec = self.decode(maps, queries)
        classes = self.cls_embed(dec.intermediate_hidden_states[-1][:, 0, :])      # (Q, K + 1)
        masks = F.interpolate(dec.masks_queries_logits[-1], size=window, mode="bilinear", align_corners=False)[0]
        return torch.einsum("qc,qhw->chw", F.softmax(classes, dim=-1)[:, :-1], masks.sigmoid())


class Model(torch.nn.Module):
    def __init__(self, name):
        super().__init__()
        c, depth, heads = MODELS[name]
        self.backbone, self.head = Backbone(c, depth, heads), Head(c)

    def forward(self, window):
        return self.head(self.backbone(window), self.backbone.reins.queries, tuple(window.shape[-2:]))


def slide(model, image, crop, stride):
    """mmseg's slide_inference on (1, 3, H, W): the window scores summed, divided by the count, argmax."""
    _, _, H, W = image.shape
    total = torch.zeros(CLASSES, H, W)
    count = torch.zeros(1, H, W)
    for r in range(max(H - crop + stride - 1, 0) // stride + 1):
        for c in range(max(W - crop + stride - 1, 0) // stride + 1):
            y2, x2 = min(r * stride + crop, H), min(c * stride + crop, W)
            y1, x1 = max(y2 - crop, 0), max(x2 - crop, 0)
            total[:, y1:y2, x1:x2] += model(image[:, :, y1:y2, x1:x2])
            count[:, y1:y2, x1:x2] += 1
    return (total / count).argmax(0)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", choices=sorted(MODELS), default="vits")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--size", type=int, default=512, help="window side S (the slide image is 2S x S)")
    p.add_argument("--max-load", type=float, default=1.3)
    p.add_argument("--wait", type=float, default=600)
    p.add_argument("--ctbench", default=os.path.join(ROOT, ".build/release/ctbench"))
    p.add_argument("--json", help="write both sides' results to this file")
    o = p.parse_args()

    load = wait_quiet(o.max_load, o.wait, "bench_mask2former")
    command = [o.ctbench, "mask2former", "--model", o.model, "--threads", str(o.threads), "--runs", str(o.runs),
               "--size", str(o.size), "--json"]
    ours = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
    print(f"ctpipe: {' '.join(command[1:])} (1-minute load at start {load:.2f})")

    load = wait_quiet(o.max_load, o.wait, "bench_mask2former")
    torch.set_num_threads(o.threads)
    torch.manual_seed(0)
    s = o.size
    with torch.inference_mode():
        model = Model(o.model).eval()
        model.backbone.reins.prepare()
        rss_model = peak_rss()
        window = torch.randn(1, 3, s, s)
        image = torch.randn(1, 3, s, 2 * s)
        maps = model.backbone(window)
        queries = model.backbone.reins.queries
        crop, stride = s, s * 2 // 3
        cases = [("head alone", lambda: model.head(maps, queries, (s, s))),
                 ("whole model", lambda: model(window)),
                 ("slide", lambda: slide(model, image, crop, stride))]
        wall = [[] for _ in cases]
        cpu = [[] for _ in cases]
        for round in range(o.runs + 1):
            for k, (_, fn) in enumerate(cases):
                w0, c0 = time.perf_counter(), time.process_time()
                fn()
                if round > 0:
                    wall[k].append((time.perf_counter() - w0) * 1e3)
                    cpu[k].append((time.process_time() - c0) * 1e3)
    theirs = [{"milliseconds": sorted(w)[len(w) // 2], "bestMilliseconds": min(w), "cpuMilliseconds": sorted(c)[len(c) // 2]}
              for w, c in zip(wall, cpu)]
    rss = peak_rss()
    print(f"PyTorch {torch.__version__}: {o.threads} threads (1-minute load at start {load:.2f})")
    print(f"{ours['model']}; window {s}x{s}; slide {ours['slideImage']} crop {ours['crop']} stride {ours['stride']} "
          f"({ours['windows']} windows); {o.runs} runs after a warm-up")
    for mine, t in zip(ours["cases"], theirs):
        print(f"  {mine['name']}: ctpipe median {mine['milliseconds']:.1f} ms (best {mine['bestMilliseconds']:.1f}, "
              f"CPU {mine['cpuMilliseconds']:.1f}), PyTorch median {t['milliseconds']:.1f} ms (best {t['bestMilliseconds']:.1f}, "
              f"CPU {t['cpuMilliseconds']:.1f}); ratio PyTorch/ctpipe {t['milliseconds'] / mine['milliseconds']:.2f}")
    print(f"  peak RSS: ctpipe {ours['peakRSSAfterModelBytes'] >> 20} MiB after the model, {ours['peakRSSBytes'] >> 20} MiB at the end; "
          f"PyTorch {rss_model >> 20} MiB after the model, {rss >> 20} MiB at the end")
    if o.json:
        with open(o.json, "w") as f:
            json.dump({"ctpipe": ours, "pytorch": {"torch": torch.__version__, "threads": o.threads, "cases": theirs,
                                                  "peakRSSAfterModelBytes": rss_model, "peakRSSBytes": rss}}, f, indent=1)


if __name__ == "__main__":
    main()
