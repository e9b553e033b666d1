#!/usr/bin/env python3
"""make_adapter_fixtures.py — golden fixtures for the adapter, head, checkpoint
and sliding-window inference tests.

Everything here is an independent implementation of method.md §2, §3.1, §5 and
datasets.md §8, written with scipy and PyTorch:
  * the orthonormal 2-D DCT-II and its inverse: scipy.fft.dctn / idctn(norm="ortho");
  * the frequency masks of every filter variant (numpy, float64);
  * the Causal-Tune / Rein adapter (PyTorch; the DCT as explicit cosine matrices,
    checked against scipy here) with full and low-rank tokens;
  * a tiny DINOv2 (official parameter names, 2 register tokens) with an adapter
    after every block and the linear head (PyTorch), written as ctpipe
    checkpoints (safetensors, Rein/MMSeg tensor names, configuration JSON under
    the `ctpipe.config` metadata key), one embedding the backbone and others
    referencing a separate backbone file;
  * slide inference (crop 28, stride 14) on small images, one needing padding,
    then F.interpolate(bilinear, align_corners=False) to an output size and argmax.

Run once from the repository root (needs numpy, scipy, torch, safetensors):
    python3 scripts/make_adapter_fixtures.py
Outputs go to Tests/ModelTests/Fixtures/adapter and Tests/InferenceTests/Fixtures;
they are committed.
"""
import json
import math
import os

import numpy as np
import scipy.fft
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL_OUT = os.path.join(ROOT, "Tests/ModelTests/Fixtures/adapter")
INFER_OUT = os.path.join(ROOT, "Tests/InferenceTests/Fixtures")
torch.set_default_dtype(torch.float64)   # references in double precision, saved as float32
RNG = np.random.default_rng(20240611)


def save_npy(folder, name, array):
    np.save(os.path.join(folder, name), np.ascontiguousarray(np.asarray(array, dtype=np.float32)))


# ---------------------------------------------------------------- DCT and masks

def dct_fixtures():
    for (h, w, c) in [(5, 7, 6), (16, 16, 8), (1, 6, 3), (4, 1, 2)]:
        x = RNG.standard_normal((h, w, c))
        y = RNG.standard_normal((h, w, c))
        name = f"dct_{h}x{w}x{c}"
        save_npy(MODEL_OUT, name + "_x.npy", x.reshape(h * w, c))
        save_npy(MODEL_OUT, name + "_y.npy", y.reshape(h * w, c))
        save_npy(MODEL_OUT, name + "_forward.npy", scipy.fft.dctn(x, type=2, axes=(0, 1), norm="ortho").reshape(h * w, c))
        save_npy(MODEL_OUT, name + "_inverse.npy", scipy.fft.idctn(y, type=2, axes=(0, 1), norm="ortho").reshape(h * w, c))


def mask(filter_kind, dl, dh, h, w):
    """method.md §2.1 step 2 and §2.2, float64."""
    u = np.arange(h)[:, None] / h
    v = np.arange(w)[None, :] / w
    d2 = u * u + v * v
    low = 1 - np.exp(-d2 / (2 * dl * dl))
    high = np.exp(-d2 / (2 * dh * dh))
    if filter_kind == "bandpass":
        return low * high
    if filter_kind == "lowcut":
        return low
    if filter_kind == "highcut":
        return high
    if filter_kind == "none":
        return np.ones((h, w))
    assert filter_kind == "released"
    n = min(h, w)
    v1, v2 = math.floor(0.1 * n), math.floor(0.7 * n)
    k = np.maximum(np.arange(h)[:, None], np.arange(w)[None, :]).astype(np.float64)
    noncausal = np.where(k <= v1, 1 - 0.95 * k / max(v1, 1), np.where(k <= v2, 0.01, 0.3 * (k - v2) / (n - v2)))
    if v1 == 0:
        noncausal = np.where(k == 0, 1.0, noncausal)
    return 1 - noncausal


MASK_CASES = [("bandpass", 0.2, 0.7, 32, 32), ("bandpass", 0.3, 0.5, 5, 7), ("lowcut", 0.2, 0.7, 12, 9),
              ("highcut", 0.2, 0.7, 12, 9), ("none", 0.2, 0.7, 3, 4), ("released", 0.2, 0.7, 32, 32),
              ("released", 0.2, 0.7, 20, 30), ("released", 0.2, 0.7, 4, 6)]


def mask_fixtures():
    index = []
    for i, (kind, dl, dh, h, w) in enumerate(MASK_CASES):
        save_npy(MODEL_OUT, f"mask_{i}.npy", mask(kind, dl, dh, h, w))
        index.append({"file": f"mask_{i}.npy", "filter": kind, "dl": dl, "dh": dh, "height": h, "width": w})
    with open(os.path.join(MODEL_OUT, "masks.json"), "w") as f:
        json.dump(index, f, indent=1)


# ---------------------------------------------------------------- adapter (PyTorch)

def dct_matrix(n):
    """Orthonormal DCT-II matrix D (n x n): F = D f."""
    k = torch.arange(n)[:, None].double()
    x = torch.arange(n)[None, :].double()
    d = torch.cos(math.pi * (2 * x + 1) * k / (2 * n))
    a = torch.full((n, 1), math.sqrt(2 / n))
    a[0, 0] = math.sqrt(1 / n)
    return a * d


def dct2(f, h, w):
    """f (N, C) token-major -> orthonormal 2-D DCT-II over the h x w grid, per channel."""
    g = f.reshape(h, w, -1)
    return torch.einsum("ux,vy,xyc->uvc", dct_matrix(h), dct_matrix(w), g).reshape(h * w, -1)


def idct2(F_, h, w):
    g = F_.reshape(h, w, -1)
    return torch.einsum("ux,vy,uvc->xyc", dct_matrix(h), dct_matrix(w), g).reshape(h * w, -1)


class Adapter(torch.nn.Module):
    """method.md §2: tokens per layer (full or A·B), shared MLP_t, MLP_f and s."""

    def __init__(self, kind, filter_kind, dl, dh, layers, m, c, rank, gen):
        super().__init__()
        self.kind, self.filter_kind, self.dl, self.dh, self.m, self.c, self.rank = kind, filter_kind, dl, dh, m, c, rank
        val = math.sqrt(6.0 / float(3 * 16 * 16 + c))
        if rank == 0:
            self.tokens = torch.nn.Parameter((torch.rand(layers, m, c, generator=gen) * 2 - 1) * val * 20)
        else:
            self.tokens_a = torch.nn.Parameter((torch.rand(layers, m, rank, generator=gen) * 2 - 1) * 0.8)
            self.tokens_b = torch.nn.Parameter((torch.rand(layers, rank, c, generator=gen) * 2 - 1) * 0.8)
        self.scale = torch.nn.Parameter(torch.tensor(0.7))
        self.mlp_token2feat = torch.nn.Linear(c, c)
        self.mlp_delta_f = torch.nn.Linear(c, c)
        with torch.no_grad():
            for lin in (self.mlp_token2feat, self.mlp_delta_f):
                lin.weight.copy_(torch.randn(c, c, generator=gen) / math.sqrt(c))
                lin.bias.copy_(0.1 * torch.randn(c, generator=gen))

    def layer_tokens(self, layer):
        return self.tokens[layer] if self.rank == 0 else self.tokens_a[layer] @ self.tokens_b[layer]

    def delta(self, f, layer, h, w):
        """Δ in the adapter's domain (frequency for Causal-Tune), before the inverse transform."""
        t = self.layer_tokens(layer)
        if self.kind == "causal-tune":
            m = torch.from_numpy(mask(self.filter_kind, self.dl, self.dh, h, w)).reshape(h * w, 1)
            fc = dct2(f, h, w) * m
        else:
            fc = f
        attn = torch.softmax(fc @ t.T / math.sqrt(self.c), dim=-1)
        return self.mlp_delta_f(attn[:, 1:] @ self.mlp_token2feat(t[1:]) + fc)

    def forward(self, f, layer, h, w):
        d = self.delta(f, layer, h, w)
        if self.kind == "causal-tune":
            d = idct2(d, h, w)
        return f + self.scale * d, d

    def state(self):
        p = "backbone.reins."
        out = {p + "scale": self.scale.detach().reshape([]),
               p + "mlp_token2feat.weight": self.mlp_token2feat.weight.detach(),
               p + "mlp_token2feat.bias": self.mlp_token2feat.bias.detach(),
               p + "mlp_delta_f.weight": self.mlp_delta_f.weight.detach(),
               p + "mlp_delta_f.bias": self.mlp_delta_f.bias.detach()}
        if self.rank == 0:
            out[p + "learnable_tokens"] = self.tokens.detach()
        else:
            out[p + "learnable_tokens_a"] = self.tokens_a.detach()
            out[p + "learnable_tokens_b"] = self.tokens_b.detach()
        return out


# ---------------------------------------------------------------- tiny DINOv2 + head (PyTorch)

C, DEPTH, HEADS, PATCH, GRID, REGS, HIDDEN, K = 16, 4, 2, 7, 4, 2, 32, 5
HEAD_BLOCKS = [0, 1, 3, 3]


def tiny_backbone(gen):
    def r(*shape, s=1.0):
        return torch.randn(*shape, generator=gen) * s
    t = {"cls_token": r(1, 1, C, s=0.5), "pos_embed": r(1, 1 + GRID * GRID, C, s=0.5),
         "register_tokens": r(1, REGS, C, s=0.5),
         "patch_embed.proj.weight": r(C, 3, PATCH, PATCH, s=1 / math.sqrt(3 * PATCH * PATCH)),
         "patch_embed.proj.bias": r(C, s=0.1), "norm.weight": 1 + r(C, s=0.2), "norm.bias": r(C, s=0.1)}
    for i in range(DEPTH):
        b = f"blocks.{i}."
        t.update({b + "norm1.weight": 1 + r(C, s=0.2), b + "norm1.bias": r(C, s=0.1),
                  b + "attn.qkv.weight": r(3 * C, C, s=1 / math.sqrt(C)), b + "attn.qkv.bias": r(3 * C, s=0.1),
                  b + "attn.proj.weight": r(C, C, s=1 / math.sqrt(C)), b + "attn.proj.bias": r(C, s=0.1),
                  b + "ls1.gamma": 0.5 + r(C, s=0.3), b + "norm2.weight": 1 + r(C, s=0.2), b + "norm2.bias": r(C, s=0.1),
                  b + "mlp.fc1.weight": r(HIDDEN, C, s=1 / math.sqrt(C)), b + "mlp.fc1.bias": r(HIDDEN, s=0.1),
                  b + "mlp.fc2.weight": r(C, HIDDEN, s=1 / math.sqrt(HIDDEN)), b + "mlp.fc2.bias": r(C, s=0.1),
                  b + "ls2.gamma": 0.5 + r(C, s=0.3)})
    return t


def block_forward(t, i, x):
    b = f"blocks.{i}."
    y = F.layer_norm(x, (C,), t[b + "norm1.weight"], t[b + "norm1.bias"], eps=1e-6)
    qkv = F.linear(y, t[b + "attn.qkv.weight"], t[b + "attn.qkv.bias"])
    n = x.shape[0]
    q, k, v = qkv.reshape(n, 3, HEADS, C // HEADS).permute(1, 2, 0, 3)
    a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(C // HEADS), dim=-1) @ v
    a = a.permute(1, 0, 2).reshape(n, C)
    x = x + t[b + "ls1.gamma"] * F.linear(a, t[b + "attn.proj.weight"], t[b + "attn.proj.bias"])
    y = F.layer_norm(x, (C,), t[b + "norm2.weight"], t[b + "norm2.bias"], eps=1e-6)
    y = F.linear(F.gelu(F.linear(y, t[b + "mlp.fc1.weight"], t[b + "mlp.fc1.bias"])), t[b + "mlp.fc2.weight"], t[b + "mlp.fc2.bias"])
    return x + t[b + "ls2.gamma"] * y


def model_forward(t, adapter, head, image, tokens_out=None):
    """image (3, H, W) normalised, H = W = PATCH * GRID (no position resize) -> logits (K, H, W).
    `tokens_out` (a list) receives the residual stream after the last block, adapter applied."""
    hh, ww = image.shape[1] // PATCH, image.shape[2] // PATCH
    assert (hh, ww) == (GRID, GRID)
    p = F.conv2d(image[None], t["patch_embed.proj.weight"], t["patch_embed.proj.bias"], stride=PATCH)[0]
    p = p.reshape(C, -1).T + t["pos_embed"][0, 1:]
    x = torch.cat([t["cls_token"][0] + t["pos_embed"][0, :1], t["register_tokens"][0], p])
    first = 1 + REGS
    feats = {}
    for i in range(DEPTH):
        x = block_forward(t, i, x)
        if adapter is not None:
            x = torch.cat([x[:first], adapter(x[first:], i, hh, ww)[0]])
        feats[i] = x[first:]
    if tokens_out is not None:
        tokens_out.append(x)
    normed = [F.layer_norm(feats[b], (C,), head[f"decode_head.norms.{j}.weight"], head[f"decode_head.norms.{j}.bias"], eps=1e-6)
              for j, b in enumerate(HEAD_BLOCKS)]
    logits = F.linear(torch.cat(normed, dim=1), head["decode_head.conv_seg.weight"][:, :, 0, 0], head["decode_head.conv_seg.bias"])
    planes = logits.T.reshape(1, K, hh, ww)
    return F.interpolate(planes, size=image.shape[1:], mode="bilinear", align_corners=False)[0]


def tiny_head(gen):
    h = {}
    for j in range(len(HEAD_BLOCKS)):
        h[f"decode_head.norms.{j}.weight"] = 1 + 0.2 * torch.randn(C, generator=gen)
        h[f"decode_head.norms.{j}.bias"] = 0.1 * torch.randn(C, generator=gen)
    h["decode_head.conv_seg.weight"] = torch.randn(K, 4 * C, 1, 1, generator=gen) / math.sqrt(4 * C)
    h["decode_head.conv_seg.bias"] = 0.1 * torch.randn(K, generator=gen)
    return h


def config_json(adapter_kind, filter_kind, dl, dh, m, rank, backbone_weights):
    cfg = {"version": 1, "backbone_name": "tiny",
           "backbone": {"embed_dim": C, "depth": DEPTH, "heads": HEADS, "patch_size": PATCH, "registers": REGS,
                        "grid_size": GRID, "ffn_hidden": HIDDEN, "ffn": "mlp", "interpolation": "antialiased",
                        "layer_norm_eps": 1e-6},
           "trainable": False,
           "adapter": {"kind": adapter_kind, "filter": filter_kind, "dl": dl, "dh": dh, "tokens": m, "rank": rank},
           "head": {"blocks": HEAD_BLOCKS, "classes": K, "layer_norm_eps": 1e-6}}
    if backbone_weights:
        cfg["backbone_weights"] = backbone_weights
    return json.dumps(cfg)


def f32(d):
    return {k: v.detach().float().contiguous() for k, v in d.items()}


# (name, kind, filter, dl, dh, tokens, rank, embed backbone)
MODELS = [("ct_full", "causal-tune", "bandpass", 0.3, 0.6, 6, 0, True),
          ("ct_lowrank", "causal-tune", "released", 0.2, 0.7, 7, 3, False),
          ("rein_full", "rein", "bandpass", 0.2, 0.7, 6, 0, False),
          ("rein_lowrank", "rein", "bandpass", 0.2, 0.7, 5, 2, False),
          ("none", "none", "bandpass", 0.2, 0.7, 100, 0, False)]


def model_fixtures():
    gen = torch.Generator().manual_seed(7)
    backbone = tiny_backbone(gen)
    save_file(f32({"backbone." + k: v for k, v in backbone.items()}), os.path.join(MODEL_OUT, "tiny_backbone.safetensors"),
              metadata={"ctpipe.config": json.dumps({"backbone": json.loads(config_json("none", "none", 0.2, 0.7, 2, 0, None))["backbone"]})})
    head = tiny_head(gen)
    # Parameters go through float32 before the reference runs, as Swift sees them.
    backbone = {k: v.float().double() for k, v in backbone.items()}
    head = {k: v.float().double() for k, v in head.items()}
    images = {"window": torch.randn(3, PATCH * GRID, PATCH * GRID, generator=gen).float().double()}
    save_npy(MODEL_OUT, "model_input.npy", images["window"])
    summary = []
    for (name, kind, filt, dl, dh, m, rank, embed) in MODELS:
        adapter = None
        tensors = dict(head)
        if kind != "none":
            adapter = Adapter(kind, filt, dl, dh, DEPTH, m, C, rank, gen)
            with torch.no_grad():
                for p in adapter.parameters():
                    p.copy_(p.float().double())
            tensors.update(adapter.state())
            # The adapter alone on a non-square grid: patches (5 x 7 grid) after layer 1.
            f = torch.randn(35, C, generator=gen).float().double() * 2
            out, delta = adapter(f, 1, 5, 7)
            save_npy(MODEL_OUT, f"{name}_adapter_in.npy", f)
            save_npy(MODEL_OUT, f"{name}_adapter_out.npy", out.detach())
            save_npy(MODEL_OUT, f"{name}_adapter_delta.npy", (out - f).detach() / adapter.scale.detach())
        if embed:
            tensors.update({"backbone." + k: v for k, v in backbone.items()})
        metadata = {"ctpipe.config": config_json(kind, filt, dl, dh, m, rank, None if embed else "tiny_backbone.safetensors")}
        save_file(f32(tensors), os.path.join(MODEL_OUT, f"{name}.safetensors"), metadata=metadata)
        if name == "ct_full":
            save_file(f32(tensors), os.path.join(INFER_OUT, f"{name}.safetensors"), metadata=metadata)
        with torch.no_grad():
            last = []
            logits = model_forward(backbone, adapter, head, images["window"], last)
            plain = model_forward(backbone, None, head, images["window"])
        save_npy(MODEL_OUT, f"{name}_logits.npy", logits)
        if name == "ct_full":
            save_npy(MODEL_OUT, f"{name}_block{DEPTH - 1}.npy", last[0])
        summary.append((name, float((logits - plain).abs().max())))
        if name == "ct_full":
            slide_fixtures(backbone, adapter, head, name)
    return summary


# ---------------------------------------------------------------- slide inference

MEAN = torch.tensor([123.675, 116.28, 103.53]).reshape(3, 1, 1)
STD = torch.tensor([58.395, 57.12, 57.375]).reshape(3, 1, 1)
CROP, STRIDE = PATCH * GRID, 14


def slide(backbone, adapter, head, image):
    """datasets.md §8 slide_inference with method.md §5 padding (bottom/right, value 0 after normalisation)."""
    _, H, W = image.shape
    rows = max(H - CROP + STRIDE - 1, 0) // STRIDE + 1
    cols = max(W - CROP + STRIDE - 1, 0) // STRIDE + 1
    total = torch.zeros(K, H, W)
    count = torch.zeros(1, H, W)
    windows = []
    for r in range(rows):
        for c in range(cols):
            y1, x1 = r * STRIDE, c * STRIDE
            y2, x2 = min(y1 + CROP, H), min(x1 + CROP, W)
            y1, x1 = max(y2 - CROP, 0), max(x2 - CROP, 0)
            crop = image[:, y1:y2, x1:x2]
            padded = F.pad(crop, (0, CROP - crop.shape[2], 0, CROP - crop.shape[1]), value=0)
            out = model_forward(backbone, adapter, head, padded)
            total[:, y1:y2, x1:x2] += out[:, :y2 - y1, :x2 - x1]
            count[:, y1:y2, x1:x2] += 1
            windows.append([y1, y2, x1, x2])
    return total / count, windows


def slide_fixtures(backbone, adapter, head, name):
    gen = torch.Generator().manual_seed(11)
    cases = []
    for (H, W, outH, outW) in [(34, 47, 71, 93), (20, 45, 13, 30)]:
        pixels = torch.randint(0, 256, (H, W, 3), generator=gen, dtype=torch.uint8)
        normalised = (pixels.permute(2, 0, 1).double() - MEAN) / STD
        normalised = normalised.float().double()
        with torch.no_grad():
            avg, windows = slide(backbone, adapter, head, normalised)
            up = F.interpolate(avg[None], size=(outH, outW), mode="bilinear", align_corners=False)[0]
        top2 = torch.topk(up, 2, dim=0).values
        tag = f"slide_{H}x{W}"
        np.save(os.path.join(INFER_OUT, tag + "_image.npy"), pixels.numpy())
        save_npy(INFER_OUT, tag + "_logits.npy", avg)
        np.save(os.path.join(INFER_OUT, tag + "_labels.npy"), up.argmax(0).to(torch.uint8).numpy())
        # Pixels whose two best classes are within 1e-3: float rounding may flip their argmax.
        np.save(os.path.join(INFER_OUT, tag + "_ambiguous.npy"), ((top2[0] - top2[1]) < 1e-3).to(torch.uint8).numpy())
        cases.append({"tag": tag, "height": H, "width": W, "output_height": outH, "output_width": outW,
                      "crop": CROP, "stride": STRIDE, "windows": windows, "model": f"{name}.safetensors"})
    with open(os.path.join(INFER_OUT, "slide_cases.json"), "w") as f:
        json.dump(cases, f, indent=1)


if __name__ == "__main__":
    os.makedirs(MODEL_OUT, exist_ok=True)
    os.makedirs(INFER_OUT, exist_ok=True)
    # The cosine-matrix DCT used by the adapter reference equals scipy's.
    probe = torch.randn(5 * 7, 3)
    ref = scipy.fft.dctn(probe.numpy().reshape(5, 7, 3), type=2, axes=(0, 1), norm="ortho").reshape(35, 3)
    assert np.abs(dct2(probe, 5, 7).numpy() - ref).max() < 1e-12
    assert np.abs(idct2(dct2(probe, 5, 7), 5, 7).numpy() - probe.numpy()).max() < 1e-12
    dct_fixtures()
    mask_fixtures()
    for name, effect in model_fixtures():
        print(f"{name}: max |logits - logits without adapter| = {effect:.4f}")
    print("written to", MODEL_OUT, "and", INFER_OUT)
