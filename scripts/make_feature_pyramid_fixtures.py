#!/usr/bin/env python3
"""make_feature_pyramid_fixtures.py — golden fixtures for the adapted DINOv2's
four Mask2Former feature maps and for reading MMSegmentation / mmengine checkpoints.

Feature pyramid: an independent PyTorch replay of Rein's ReinsDinoVisionTransformer
(w1oves/Rein, rein/models/backbones/{dino_v2,reins_dinov2,reins}.py) on a tiny
DINOv2 (official names, no registers, 6 blocks, patch 4, a 4 x 4 position grid):
  tokens = [cls, patch_embed(x)] + pos_embed (bicubic, scale_factor (n + 0.1) / G
           when the grid is not G x G, as Rein's interpolate_pos_encoding);
  after every block the adapter refines the patch tokens (Rein's LoRAReins with
  link_token_to_query, or the Causal-Tune adapter of make_adapter_fixtures.py, or none);
  Rein's query link (return_auto): transform every layer's tokens, max / mean / last over
  the layers, merge -> (m, Q) queries;
  after blocks out_indices (default L/3-1, L/2-1, 2L/3-1, L-1 = 1, 2, 3, 5) the patch
  tokens (B, C, H, W), no norm; then F.interpolate bilinear, align_corners=False, with
  scale_factor 4, 2, (none), 0.5.
Weights go through float32 before the reference runs (in float64), as Swift sees them.

Checkpoints: the adapter and a few head tensors saved with torch.save the way
MMSegmentation / mmengine save them (state_dict next to meta, message_hub, optimizer
and param_schedulers holding numpy arrays and scalars, classes of this script,
OrderedDicts, dict and list subclasses, sets, tuples, None, big integers), under
`model`, bare, with the backbone added (Rein's generate_full_weights.py), with pickle
protocol 4, and two that must be refused.

Run once from the repository root (needs numpy, torch, safetensors):
    python3 scripts/make_feature_pyramid_fixtures.py
Outputs go to Tests/ModelTests/Fixtures/pyramid; they are committed.
"""
import collections
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests/ModelTests/Fixtures/pyramid")
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from make_adapter_fixtures import Adapter as CausalTuneReference  # noqa: E402  (the adapter's own reference)

torch.set_default_dtype(torch.float64)
C, DEPTH, HEADS, PATCH, GRID, HIDDEN = 8, 6, 2, 4, 4, 16
OUT_INDICES = [DEPTH // 3 - 1, DEPTH // 2 - 1, 2 * DEPTH // 3 - 1, DEPTH - 1]
TOKENS, LORA, QUERY = 5, 3, 8


def f32(t):
    return t.detach().float().double()


def save_npy(name, array):
    np.save(os.path.join(OUT, name), np.ascontiguousarray(np.asarray(array, dtype=np.float32)))


# ---------------------------------------------------------------- tiny DINOv2 (official names)

def tiny_dinov2(gen):
    def r(*shape, s=1.0):
        return f32(torch.randn(*shape, generator=gen) * s)
    t = {"cls_token": r(1, 1, C, s=0.5), "pos_embed": r(1, 1 + GRID * GRID, C, s=0.5), "mask_token": r(1, C, s=0.1),
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


def position_embedding(t, rows, cols):
    """Rein's interpolate_pos_encoding for a rows x cols patch grid (batch-first tokens)."""
    pos = t["pos_embed"]
    n = pos.shape[1] - 1
    if rows * cols == n and rows == cols:
        return pos
    g = int(math.sqrt(n))
    grid = pos[:, 1:].reshape(1, g, g, C).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, scale_factor=((rows + 0.1) / g, (cols + 0.1) / g), mode="bicubic")
    assert grid.shape[-2:] == (rows, cols)
    return torch.cat([pos[:, :1], grid.permute(0, 2, 3, 1).reshape(1, -1, C)], dim=1)


def block(t, i, x):
    """One DINOv2 block (LayerScale), x (B, T, C)."""
    b = f"blocks.{i}."
    y = F.layer_norm(x, (C,), t[b + "norm1.weight"], t[b + "norm1.bias"], eps=1e-6)
    bsz, n, _ = x.shape
    q, k, v = F.linear(y, t[b + "attn.qkv.weight"], t[b + "attn.qkv.bias"]).reshape(bsz, n, 3, HEADS, C // HEADS).permute(2, 0, 3, 1, 4)
    a = torch.softmax(q @ k.transpose(-1, -2) * (C // HEADS) ** -0.5, dim=-1) @ v
    x = x + t[b + "ls1.gamma"] * F.linear(a.transpose(1, 2).reshape(bsz, n, C), t[b + "attn.proj.weight"], t[b + "attn.proj.bias"])
    y = F.layer_norm(x, (C,), t[b + "norm2.weight"], t[b + "norm2.bias"], eps=1e-6)
    y = F.linear(F.gelu(F.linear(y, t[b + "mlp.fc1.weight"], t[b + "mlp.fc1.bias"])), t[b + "mlp.fc2.weight"], t[b + "mlp.fc2.bias"])
    return x + t[b + "ls2.gamma"] * y


# ---------------------------------------------------------------- Rein's LoRA adapter

class LoRARein(torch.nn.Module):
    """Rein's LoRAReins (link_token_to_query) on (T, B, C) sequence-first features."""

    def __init__(self, gen):
        super().__init__()
        def u(*shape, s):
            return torch.nn.Parameter(f32((torch.rand(*shape, generator=gen) * 2 - 1) * s))
        self.learnable_tokens_a = u(DEPTH, TOKENS, LORA, s=1.2)
        self.learnable_tokens_b = u(DEPTH, LORA, C, s=1.2)
        self.scale = torch.nn.Parameter(torch.tensor(0.6))
        self.mlp_token2feat = torch.nn.Linear(C, C)
        self.mlp_delta_f = torch.nn.Linear(C, C)
        self.transform = torch.nn.Linear(C, QUERY)
        self.merge = torch.nn.Linear(3 * QUERY, QUERY)
        with torch.no_grad():
            for lin in (self.mlp_token2feat, self.mlp_delta_f, self.transform, self.merge):
                lin.weight.copy_(f32(torch.randn(lin.weight.shape, generator=gen) / math.sqrt(lin.in_features)))
                lin.bias.copy_(f32(0.1 * torch.randn(lin.bias.shape, generator=gen)))

    def tokens(self, layer):
        return self.learnable_tokens_a[layer] @ self.learnable_tokens_b[layer]

    def forward(self, x, layer):
        """Batch-first (B, T, C) with the CLS token first, as ReinsDinoVisionTransformer calls it."""
        feats = x.permute(1, 0, 2)
        cls, feats = torch.tensor_split(feats, [1], dim=0)
        t = self.tokens(layer)
        attn = torch.softmax(torch.einsum("nbc,mc->nbm", feats, t) * C ** -0.5, dim=-1)
        delta = torch.einsum("nbm,mc->nbc", attn[:, :, 1:], self.mlp_token2feat(t[1:]))
        delta = self.mlp_delta_f(delta + feats)
        feats = feats + delta * self.scale
        return torch.cat([cls, feats], dim=0).permute(1, 0, 2)


def rein_queries(rein):
    """Rein's return_auto with link_token_to_query: (m, Q) queries from every layer's tokens."""
    p = rein.transform(rein.learnable_tokens_a @ rein.learnable_tokens_b).permute(1, 2, 0)   # (m, Q, L)
    pooled = torch.cat([F.max_pool1d(p, kernel_size=DEPTH), F.avg_pool1d(p, kernel_size=DEPTH), p[:, :, -1].unsqueeze(-1)], dim=-1)
    return rein.merge(pooled.flatten(-2, -1))


class CausalTuneBatchFirst(torch.nn.Module):
    """The Causal-Tune reference adapter (make_adapter_fixtures.py) on batch-first tokens."""

    def __init__(self, gen):
        super().__init__()
        self.inner = CausalTuneReference("causal-tune", "released", 0.2, 0.7, DEPTH, TOKENS, C, 0, gen)
        with torch.no_grad():
            for p in self.inner.parameters():
                p.copy_(f32(p))
        self.grid = None

    def forward(self, x, layer):
        h, w = self.grid
        return torch.stack([torch.cat([xb[:1], self.inner(xb[1:], layer, h, w)[0]]) for xb in x])


def pyramid(t, adapter, images, out_indices):
    """ReinsDinoVisionTransformer.forward on images (B, 3, H, W): the four maps."""
    bsz, _, height, width = images.shape
    rows, cols = height // PATCH, width // PATCH
    x = F.conv2d(images, t["patch_embed.proj.weight"], t["patch_embed.proj.bias"], stride=PATCH).flatten(2).transpose(1, 2)
    x = torch.cat([t["cls_token"].expand(bsz, -1, -1), x], dim=1) + position_embedding(t, rows, cols)
    if isinstance(adapter, CausalTuneBatchFirst):
        adapter.grid = (rows, cols)
    outs = []
    for i in range(DEPTH):
        x = block(t, i, x)
        if adapter is not None:
            x = adapter(x, i)
        if i in out_indices:
            outs.append(x[:, 1:, :].permute(0, 2, 1).reshape(bsz, -1, rows, cols).contiguous())
    outs[0] = F.interpolate(outs[0], scale_factor=4, mode="bilinear", align_corners=False)
    outs[1] = F.interpolate(outs[1], scale_factor=2, mode="bilinear", align_corners=False)
    outs[3] = F.interpolate(outs[3], scale_factor=0.5, mode="bilinear", align_corners=False)
    return outs


def flat_levels(outs):
    """(B, Σ C·h_j·w_j): per image its four levels, channel-major, one after another."""
    return torch.cat([o.reshape(o.shape[0], -1) for o in outs], dim=1)


# ---------------------------------------------------------------- checkpoints as mmengine writes them

class RunRecord:
    """A class of this script: Swift must keep it opaque (never look it up)."""
    def __init__(self, name):
        self.name = name
        self.history = [1.5, 2.5]


class Registry(dict):
    pass


class Sequence(list):
    pass


class KeywordOnly:
    """Pickled with NEWOBJ_EX at protocol 4."""
    def __new__(cls, *, tag):
        obj = super().__new__(cls)
        obj.tag = tag
        return obj

    def __getnewargs_ex__(self):
        return (), {"tag": self.tag}


def head_tensors(gen):
    return {"decode_head.query_embed.weight": f32(torch.randn(4, C, generator=gen)),
            "decode_head.cls_embed.weight": f32(torch.randn(3, C, generator=gen)),
            "decode_head.cls_embed.bias": f32(torch.randn(3, generator=gen)),
            "decode_head.pixel_decoder.level_encoding.weight": f32(torch.randn(3, C, generator=gen))}


def meta_entry():
    return {"mmseg_version": "1.2.2", "epoch": 0, "iter": 40000, "seed": 2 ** 80 + 7, "ratio": 0.25, "flag": True,
            "nothing": None, "env": ("cuda", 11.8),
            "dataset_meta": {"classes": ("road", "sidewalk", "building"), "palette": [[128, 64, 128], [244, 35, 232], [70, 70, 70]]},
            "array": np.arange(6, dtype=np.float32).reshape(2, 3), "scalar": np.float64(0.5), "count": np.int64(7),
            "record": RunRecord("iter_40000"), "ordered": collections.OrderedDict([("a", 1), ("b", (2, 3))]),
            "registry": Registry(x=1, y=[1, 2]), "sequence": Sequence([1, 2, 3]),
            "counts": collections.defaultdict(list, {"k": [1]}), "tags": {"rein", "dinov2"}, "dtype": torch.float32,
            "size": torch.Size([2, 3])}


def mmengine_checkpoint(state, params):
    optimizer = torch.optim.AdamW(params, lr=1e-4)
    loss = sum((p * p).sum() for p in params)
    loss.backward()
    optimizer.step()
    return {"meta": meta_entry(), "state_dict": collections.OrderedDict(sorted(state.items())),
            "message_hub": {"log_scalars": {"train/loss": RunRecord("loss")}, "runtime_info": {"iter": 40000},
                            "resumed_keys": {"epoch": True}},
            "optimizer": optimizer.state_dict(),
            "param_schedulers": [{"by_epoch": False, "base_values": [1e-4], "last_step": 40000, "_get_lr_called_within_step": False}]}


def checkpoint_fixtures(rein_state, rein_params, ct_state, head, backbone):
    files = {}
    def save(name, obj, **kw):
        path = os.path.join(OUT, name)
        torch.save(obj, path, **kw)
        files[name] = os.path.getsize(path)
    rein = dict(rein_state, **head)
    rein["decode_head.pixel_decoder.num_batches_tracked"] = torch.tensor(3)   # an integer buffer: skipped
    save("rein_mmengine.pth", mmengine_checkpoint(rein, rein_params))
    save("ct_model.pth", {"meta": {"note": "model key"}, "model": dict(ct_state, **head)})
    save("rein_bare.pth", collections.OrderedDict(sorted(rein_state.items())))
    # Rein's generate_full_weights.py: the adapter checkpoint with the backbone added under `backbone.`.
    full = dict(rein_state, **head, **{"backbone." + k: v.float() for k, v in backbone.items()})
    save("rein_full_weights.pth", {"meta": {"iter": 40000}, "state_dict": full})
    p4 = {"meta": dict(meta_entry(), frozen=frozenset({1, 2}), keyword=KeywordOnly(tag="x")), "state_dict": dict(head)}
    save("head_protocol4.pth", p4, pickle_protocol=4)
    save("empty_state.pth", {"meta": {"iter": 1}, "state_dict": collections.OrderedDict()})
    save("foreign.pth", {"state_dict": {"encoder.weight": torch.ones(2, 2), "decode_head.conv_seg.bias": torch.zeros(2)}})
    return files


# ---------------------------------------------------------------- main

def main():
    os.makedirs(OUT, exist_ok=True)
    gen = torch.Generator().manual_seed(20240901)
    t = tiny_dinov2(gen)
    save_file({k: v.float().contiguous() for k, v in t.items()}, os.path.join(OUT, "tiny_dinov2.safetensors"))
    rein = LoRARein(gen)
    ct = CausalTuneBatchFirst(gen)
    head = head_tensors(gen)
    rein_state = {"backbone.reins." + k: v.detach().float() for k, v in rein.state_dict().items()}
    ct_state = {k: v.float() for k, v in ct.inner.state().items()}

    # Images 20 x 28 (grid 5 x 7: position embedding resized, odd sides for the x0.5 level) and 16 x 16 (grid 4 x 4).
    wide = f32(torch.randn(2, 3, 5 * PATCH, 7 * PATCH, generator=gen))
    square = f32(torch.randn(1, 3, GRID * PATCH, GRID * PATCH, generator=gen))
    save_npy("image_5x7.npy", wide)
    save_npy("image_4x4.npy", square)
    cases = []
    with torch.no_grad():
        for name, adapter, images, indices in [("rein", rein, wide, OUT_INDICES), ("causal_tune", ct, wide[:1], OUT_INDICES),
                                               ("plain", None, square, OUT_INDICES), ("plain_blocks", None, wide[1:], [0, 2, 4, 5])]:
            outs = pyramid(t, adapter, images, indices)
            save_npy(f"{name}_levels.npy", flat_levels(outs))
            cases.append({"name": name, "blocks": indices, "batch": images.shape[0],
                          "levels": [list(o.shape[1:]) for o in outs]})
        save_npy("rein_queries.npy", rein_queries(rein))
        plain = flat_levels(pyramid(t, None, wide[:1], OUT_INDICES))
        adapted = flat_levels(pyramid(t, rein, wide[:1], OUT_INDICES))
    with open(os.path.join(OUT, "cases.json"), "w") as f:
        json.dump({"embed_dim": C, "depth": DEPTH, "heads": HEADS, "patch": PATCH, "tokens": TOKENS, "rank": LORA,
                   "cases": cases}, f, indent=1)
    params = [p.detach().clone().requires_grad_() for p in list(rein.parameters())[2:4]]   # optimizer state: a few tensors
    files = checkpoint_fixtures(rein_state, params, ct_state, head, t)
    print("default out indices", OUT_INDICES, "; max |rein - no adapter| =", float((adapted - plain).abs().max()))
    for name, size in files.items():
        print(f"{name}: {size} bytes")
    print("written to", OUT)


if __name__ == "__main__":
    main()
