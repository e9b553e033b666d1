#!/usr/bin/env python3
"""make_mask2former_decay_fixtures.py — the AdamW parameter groups Rein's
Mask2Former configs give every tensor, for ctpipe's training layout test.

Rein's configs (w1oves/Rein configs/dinov2/rein_dinov2_mask2former_512x512_bs1x4.py
and the 1024 x 1024 / citys2acdc ones) build the optimiser with
PEFTOptimWrapperConstructor, whose add_params is mmengine's
DefaultOptimWrapperConstructor.add_params for the parameters that require
gradients, with

  optimizer = AdamW(lr=1e-4, weight_decay=0.05, eps=1e-8, betas=(0.9, 0.999))
  paramwise_cfg = dict(custom_keys={"norm": dict(decay_mult=0.0),
                                    "query_embed": embed_multi, "level_embed": embed_multi,
                                    "learnable_tokens": embed_multi, "reins.scale": embed_multi},
                       norm_decay_mult=0.0)       embed_multi = dict(lr_mult=1.0, decay_mult=0.0)

The rules depend on module types (a GroupNorm / LayerNorm module's parameters
take norm_decay_mult), so this script builds a torch module tree with the
released model's structure and names, read from the released code — Rein's
ReinsDinoVisionTransformer (DINOv2 blocks + `reins`: Reins or LoRAReins with
the token -> query link) and ReinMask2FormerHead (mmdet's Mask2FormerHead with
query_embed / query_feat deleted, querys2feat added; MSDeformAttnPixelDecoder
with ConvModule(conv, gn) convolutions; Mask2FormerTransformerDecoder) — at the
sizes of Tests/ModelTests/Fixtures/mask2former_model, every parameter
trainable (the frozen backbone's tensors are then simply not in a frozen
layout). It runs mmengine's own DefaultOptimWrapperConstructor on it when
mmengine is importable (`pip install --target DIR mmengine==0.10.7 addict yapf
termcolor rich`, then PYTHONPATH=DIR), else the same rules reimplemented below
(`replay_rules`); the fixture records which one produced it.

Output: Tests/TrainingTests/Fixtures/mask2former_decay/groups.json:
  {"source": ..., "base_lr": 1e-4, "base_weight_decay": 0.05,
   "models": {"rein_lora": [{"name", "lr_mult", "decay_mult"}, ...], "rein": [...]}}
"""

import json
import os

import torch
import torch.nn as nn

OUT = "Tests/TrainingTests/Fixtures/mask2former_decay"
BASE_LR, BASE_WD = 1e-4, 0.05
EMBED_MULTI = dict(lr_mult=1.0, decay_mult=0.0)
PARAMWISE = dict(custom_keys={"norm": dict(decay_mult=0.0), "query_embed": EMBED_MULTI, "level_embed": EMBED_MULTI,
                              "learnable_tokens": EMBED_MULTI, "reins.scale": EMBED_MULTI},
                 norm_decay_mult=0.0)

# The fixture model's sizes (Tests/ModelTests/Fixtures/mask2former_model/config.json).
C, DEPTH, PATCH, GRID, HIDDEN = 16, 4, 8, 4, 64
TOKENS, RANK, QUERY_DIMS = 5, 4, 32
FEAT, OUT_CH, HEADS, POINTS, LEVELS, ENC_LAYERS, ENC_FFN, GROUPS = 32, 32, 4, 4, 3, 2, 64, 8
DEC_LAYERS, DEC_FFN, CLASSES = 3, 64, 3


class Module(nn.Module):
    """A plain container."""


def conv_module(cin, cout, k, bias):
    m = Module()
    m.conv = nn.Conv2d(cin, cout, k, bias=bias)
    m.gn = nn.GroupNorm(GROUPS, cout)
    return m


def ffn(dim, hidden):
    m = Module()
    m.layers = nn.Sequential(nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Dropout()), nn.Linear(hidden, dim), nn.Dropout())
    return m


def backbone(lora):
    """Rein's DinoVisionTransformer + reins (ReinsDinoVisionTransformer)."""
    b = Module()
    b.patch_embed = Module()
    b.patch_embed.proj = nn.Conv2d(3, C, PATCH, PATCH)
    b.cls_token = nn.Parameter(torch.zeros(1, 1, C))
    b.pos_embed = nn.Parameter(torch.zeros(1, GRID * GRID + 1, C))
    b.mask_token = nn.Parameter(torch.zeros(1, C))
    blocks = []
    for _ in range(DEPTH):
        blk = Module()
        blk.norm1 = nn.LayerNorm(C)
        blk.attn = Module()
        blk.attn.qkv = nn.Linear(C, 3 * C)
        blk.attn.proj = nn.Linear(C, C)
        blk.ls1 = Module()
        blk.ls1.gamma = nn.Parameter(torch.ones(C))
        blk.norm2 = nn.LayerNorm(C)
        blk.mlp = Module()
        blk.mlp.fc1 = nn.Linear(C, HIDDEN)
        blk.mlp.fc2 = nn.Linear(HIDDEN, C)
        blk.ls2 = Module()
        blk.ls2.gamma = nn.Parameter(torch.ones(C))
        blocks.append(blk)
    b.blocks = nn.ModuleList(blocks)
    b.norm = nn.LayerNorm(C)
    r = Module()
    if lora:
        r.learnable_tokens_a = nn.Parameter(torch.zeros(DEPTH, TOKENS, RANK))
        r.learnable_tokens_b = nn.Parameter(torch.zeros(DEPTH, RANK, C))
    else:
        r.learnable_tokens = nn.Parameter(torch.zeros(DEPTH, TOKENS, C))
    r.scale = nn.Parameter(torch.tensor(1e-3))
    r.mlp_token2feat = nn.Linear(C, C)
    r.mlp_delta_f = nn.Linear(C, C)
    r.transform = nn.Linear(C, QUERY_DIMS)
    r.merge = nn.Linear(QUERY_DIMS * 3, QUERY_DIMS)
    b.reins = r
    return b


def head():
    """ReinMask2FormerHead(replace_query_feat=True) on mmdet's Mask2FormerHead."""
    h = Module()
    p = Module()
    p.input_convs = nn.ModuleList([conv_module(C, FEAT, 1, True) for _ in range(LEVELS)])
    p.encoder = Module()
    layers = []
    for _ in range(ENC_LAYERS):
        layer = Module()
        layer.self_attn = Module()
        layer.self_attn.sampling_offsets = nn.Linear(FEAT, HEADS * LEVELS * POINTS * 2)
        layer.self_attn.attention_weights = nn.Linear(FEAT, HEADS * LEVELS * POINTS)
        layer.self_attn.value_proj = nn.Linear(FEAT, FEAT)
        layer.self_attn.output_proj = nn.Linear(FEAT, FEAT)
        layer.ffn = ffn(FEAT, ENC_FFN)
        layer.norms = nn.ModuleList([nn.LayerNorm(FEAT) for _ in range(2)])
        layers.append(layer)
    p.encoder.layers = nn.ModuleList(layers)
    p.level_encoding = nn.Embedding(LEVELS, FEAT)
    p.lateral_convs = nn.ModuleList([conv_module(C, FEAT, 1, False)])
    p.output_convs = nn.ModuleList([conv_module(FEAT, FEAT, 3, False)])
    p.mask_feature = nn.Conv2d(FEAT, OUT_CH, 1)
    h.pixel_decoder = p
    d = Module()
    layers = []
    for _ in range(DEC_LAYERS):
        layer = Module()
        for attn in ("self_attn", "cross_attn"):
            wrapper = Module()
            wrapper.attn = nn.MultiheadAttention(FEAT, HEADS)
            setattr(layer, attn, wrapper)
        layer.ffn = ffn(FEAT, DEC_FFN)
        layer.norms = nn.ModuleList([nn.LayerNorm(FEAT) for _ in range(3)])
        layers.append(layer)
    d.layers = nn.ModuleList(layers)
    d.post_norm = nn.LayerNorm(FEAT)
    h.transformer_decoder = d
    h.decoder_input_projs = nn.ModuleList([nn.Identity() for _ in range(LEVELS)])
    h.level_embed = nn.Embedding(LEVELS, FEAT)
    h.cls_embed = nn.Linear(FEAT, CLASSES + 1)
    h.mask_embed = nn.Sequential(nn.Linear(FEAT, FEAT), nn.ReLU(), nn.Linear(FEAT, FEAT), nn.ReLU(), nn.Linear(FEAT, OUT_CH))
    h.querys2feat = nn.Linear(FEAT, FEAT)
    return h


def model(lora):
    m = Module()
    m.backbone = backbone(lora)
    m.decode_head = head()
    return m


def replay_rules(m):
    """DefaultOptimWrapperConstructor.add_params with Rein's paramwise_cfg (no bias / dwconv / flat rules set)."""
    keys = sorted(sorted(PARAMWISE["custom_keys"]), key=len, reverse=True)
    groups = {}

    def add(module, prefix):
        is_norm = isinstance(module, (nn.modules.batchnorm._BatchNorm, nn.modules.instancenorm._InstanceNorm,
                                      nn.GroupNorm, nn.LayerNorm))
        for name, _ in module.named_parameters(recurse=False):
            full = f"{prefix}.{name}" if prefix else name
            lr, wd = BASE_LR, BASE_WD
            for key in keys:
                if key in f"{prefix}.{name}":
                    lr = BASE_LR * PARAMWISE["custom_keys"][key].get("lr_mult", 1.0)
                    wd = BASE_WD * PARAMWISE["custom_keys"][key].get("decay_mult", 1.0)
                    break
            else:
                if is_norm:
                    wd = BASE_WD * PARAMWISE["norm_decay_mult"]
            groups[full] = (lr, wd)
        for child, sub in module.named_children():
            add(sub, f"{prefix}.{child}" if prefix else child)

    add(m, "")
    return groups


def mmengine_groups(m):
    from mmengine.optim import DefaultOptimWrapperConstructor
    import mmengine
    constructor = DefaultOptimWrapperConstructor(
        dict(optimizer=dict(type="AdamW", lr=BASE_LR, weight_decay=BASE_WD, eps=1e-8, betas=(0.9, 0.999))), PARAMWISE)
    optimizer = constructor(m).optimizer
    names = {id(p): n for n, p in m.named_parameters()}
    groups = {}
    for g in optimizer.param_groups:
        for p in g["params"]:
            groups[names[id(p)]] = (g["lr"], g["weight_decay"])
    return groups, f"mmengine {mmengine.__version__} DefaultOptimWrapperConstructor"


def main():
    out = {"base_lr": BASE_LR, "base_weight_decay": BASE_WD, "paramwise_cfg": PARAMWISE, "models": {}}
    for variant, lora in (("rein_lora", True), ("rein", False)):
        m = model(lora)
        replayed = replay_rules(m)
        try:
            groups, source = mmengine_groups(m)
            assert groups == replayed, "mmengine and the replayed rules disagree"
        except ImportError:
            groups, source = replayed, "Rein's paramwise rules replayed in Python (mmengine not importable)"
        order = [n for n, _ in m.named_parameters()]
        assert set(order) == set(groups)
        out["models"][variant] = [{"name": n, "lr_mult": groups[n][0] / BASE_LR, "decay_mult": groups[n][1] / BASE_WD}
                                  for n in order]
        out["source"] = source
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "groups.json"), "w") as f:
        json.dump(out, f, indent=1)
    print("wrote", OUT, "from", out["source"])


if __name__ == "__main__":
    main()
