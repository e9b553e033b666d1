#!/usr/bin/env python3
"""make_mask2former_model_fixtures.py — the whole-model golden fixture of a Rein
model with the Mask2Former head: frozen DINOv2 + Rein's LoRA adapter with the
token -> query link + mmseg's Mask2Former head, from normalised image to the
(K, H, W) semantic scores of one window.

A tiny model, written for ctpipe from reading the released code (w1oves/Rein:
rein/models/backbones/{dino_v2,reins_dinov2,reins}.py,
rein/models/heads/rein_mask2former.py, configs/_base_/models/rein_dinov2_mask2former.py;
mmdet's Mask2FormerHead / MSDeformAttnPixelDecoder / Mask2FormerTransformerDecoder;
mmseg's Mask2FormerHead.predict), run in float64 on float32-rounded weights and
images:

  Backbone (ReinsDinoVisionTransformer.forward_features, own replay):
    x = [cls, patch_embed(image)] + pos_embed (stored 4 x 4 grid; a 4 x 6 patch
        grid resizes it bicubically with scale_factor ((h + 0.1) / 4, (w + 0.1) / 4),
        Rein's interpolate_pos_encoding; a 4 x 4 grid takes it as is);
    after every block l: x = reins.forward(x, l) (LoRAReins: tokens T_l = A_l B_l,
        S = softmax(f T_lᵀ / √C), f += scale · mlp_delta_f(S[:, 1:] mlp_token2feat(T_l[1:]) + f),
        the CLS token untouched);
    after blocks out_indices = [0, 1, 2, 3]: the patch tokens as (C, h, w) maps (no norm);
    DinoVisionTransformer.forward: F.interpolate bilinear, align_corners=False,
        scale_factor 4, 2, (none), 0.5 on maps 0, 1, 3;
    reins.return_auto (link_token_to_query): queries (m, D) = merge(cat(max, mean,
        last over layers of transform(T)), the three adjacent per channel).
  Head (ReinMask2FormerHead.forward, replace_query_feat=True):
    pixel decoder = HuggingFace's Mask2FormerPixelDecoder (mmdet's
        MSDeformAttnPixelDecoder; see make_pixel_decoder_fixtures.py, whose
        GroupNorm(8, D) replacement and HF -> mmdet names are used here) on the
        four maps, highest resolution first -> mask features (D, h0, w0) and three
        memory levels, lowest resolution first;
    decoder_input_projs are Identity (feat_channels == decoder width, as Rein);
    value_l = memory_l + level_embed[l], positions = mmdet's SinePositionalEncoding
        (normalize=True, D/2 features per axis);
    query_feat = querys2feat(queries), query_pos = queries;
    transformer decoder = HuggingFace's Mask2FormerMaskedAttentionDecoder +
        mask predictor (mmdet's Mask2FormerTransformerDecoder + _forward_head; see
        make_mask2former_decoder_fixtures.py for the names and decoder_layers = L + 1);
        cls_embed on the last post-normed queries.
  Scores (mmseg Mask2FormerHead.predict on one window = the image):
    F.interpolate(mask logits, (H, W), bilinear, align_corners=False);
    scores (K, H, W) = einsum(softmax(cls)[..., :-1], sigmoid(masks)).

Patch 8 (not 4): the mask features are then at half the window size, so the
last bilinear resize of predict is a real ×2 (a released patch-16 model's is ×4)
instead of an identity.

Outputs (Tests/ModelTests/Fixtures/mask2former_model):
  checkpoint.pth  torch.save({"meta": {...}, "state_dict": {backbone.reins.*, decode_head.*}})
                  as MMSegmentation saves a Rein model (no other backbone tensors);
  dinov2.pth      the backbone's state dict with the facebookresearch release's names;
  image0.npy (3, 32, 32), image1.npy (3, 32, 48)  normalised images;
  scores0.npy (K, 32, 32), scores1.npy (K, 32, 48)  semantic scores;
  config.json     every size chosen here.
Run once from the repository root (needs numpy, torch, transformers):
    python3 scripts/make_mask2former_model_fixtures.py
The outputs are committed.
"""
import collections
import json
import math
import os
import re

import numpy as np
import torch
import torch.nn.functional as F
from transformers import Mask2FormerConfig
from transformers.models.mask2former.modeling_mask2former import (
    Mask2FormerMaskedAttentionDecoder, Mask2FormerPixelDecoder, Mask2FormerSinePositionEmbedding)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests/ModelTests/Fixtures/mask2former_model")

# Backbone (C differs from the head's D so that a width mix-up cannot pass).
C, DEPTH, HEADS, PATCH, GRID, MLP = 16, 4, 4, 8, 4, 64
OUT_INDICES = [0, 1, 2, 3]
# Adapter: m tokens (= queries), rank r, query width = D.
TOKENS, RANK = 5, 4
# Head.
D, PD_HEADS, POINTS, ENC_LAYERS, ENC_FFN, GROUPS = 32, 4, 4, 2, 64, 8
DEC_HEADS, DEC_LAYERS, DEC_FFN, CLASSES, LEVELS = 4, 3, 64, 3, 3
IMAGES = [(32, 32), (32, 48)]
CLASS_NAMES = ("road", "car", "sky")


def f32(t):
    """float32 values held as float64 (the precision the reference runs in)."""
    return t.detach().to(torch.float32).to(torch.float64)


def save_npy(name, array):
    np.save(os.path.join(OUT, name), np.ascontiguousarray(np.asarray(array, dtype=np.float32)))


# ---------------------------------------------------------------- backbone + adapter

def tiny_dinov2(gen):
    """Official DINOv2 names (facebookresearch release), no registers, LayerScale, MLP."""
    def r(*shape, s=1.0, mean=0.0):
        return f32(mean + s * torch.randn(*shape, generator=gen, dtype=torch.float64))
    t = {"cls_token": r(1, 1, C, s=0.5), "pos_embed": r(1, 1 + GRID * GRID, C, s=0.5),
         "mask_token": torch.zeros(1, C, dtype=torch.float64),
         "patch_embed.proj.weight": r(C, 3, PATCH, PATCH, s=1 / math.sqrt(3 * PATCH * PATCH)),
         "patch_embed.proj.bias": r(C, s=0.1)}
    for i in range(DEPTH):
        b = f"blocks.{i}."
        t.update({b + "norm1.weight": r(C, s=0.2, mean=1), b + "norm1.bias": r(C, s=0.1),
                  b + "attn.qkv.weight": r(3 * C, C, s=1 / math.sqrt(C)), b + "attn.qkv.bias": r(3 * C, s=0.1),
                  b + "attn.proj.weight": r(C, C, s=1 / math.sqrt(C)), b + "attn.proj.bias": r(C, s=0.1),
                  b + "ls1.gamma": r(C, s=0.3, mean=0.5),
                  b + "norm2.weight": r(C, s=0.2, mean=1), b + "norm2.bias": r(C, s=0.1),
                  b + "mlp.fc1.weight": r(MLP, C, s=1 / math.sqrt(C)), b + "mlp.fc1.bias": r(MLP, s=0.1),
                  b + "mlp.fc2.weight": r(C, MLP, s=1 / math.sqrt(MLP)), b + "mlp.fc2.bias": r(C, s=0.1),
                  b + "ls2.gamma": r(C, s=0.3, mean=0.5)})
    t["norm.weight"] = r(C, s=0.2, mean=1)      # in the release; Rein's pyramid never applies it
    t["norm.bias"] = r(C, s=0.1)
    return t


def position_embedding(t, rows, cols):
    """DinoVisionTransformer.interpolate_pos_encoding for a rows x cols patch grid."""
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
    """One DINOv2 block (LayerNorm eps 1e-6, LayerScale, exact GELU), x (B, T, C)."""
    b = f"blocks.{i}."
    y = F.layer_norm(x, (C,), t[b + "norm1.weight"], t[b + "norm1.bias"], eps=1e-6)
    bsz, n, _ = x.shape
    q, k, v = F.linear(y, t[b + "attn.qkv.weight"], t[b + "attn.qkv.bias"]).reshape(
        bsz, n, 3, HEADS, C // HEADS).permute(2, 0, 3, 1, 4)
    a = torch.softmax(q @ k.transpose(-1, -2) * (C // HEADS) ** -0.5, dim=-1) @ v
    x = x + t[b + "ls1.gamma"] * F.linear(a.transpose(1, 2).reshape(bsz, n, C), t[b + "attn.proj.weight"], t[b + "attn.proj.bias"])
    y = F.layer_norm(x, (C,), t[b + "norm2.weight"], t[b + "norm2.bias"], eps=1e-6)
    y = F.linear(F.gelu(F.linear(y, t[b + "mlp.fc1.weight"], t[b + "mlp.fc1.bias"])), t[b + "mlp.fc2.weight"], t[b + "mlp.fc2.bias"])
    return x + t[b + "ls2.gamma"] * y


class LoRAReins(torch.nn.Module):
    """Rein's LoRAReins (link_token_to_query=True, query_dims = D): the parameters
    and state-dict names of the released module (learnable_tokens deleted)."""

    def __init__(self, gen):
        super().__init__()
        def u(*shape, s):
            return torch.nn.Parameter(f32((torch.rand(*shape, generator=gen, dtype=torch.float64) * 2 - 1) * s))
        self.scale = torch.nn.Parameter(torch.tensor(0.6, dtype=torch.float64))
        self.mlp_token2feat = torch.nn.Linear(C, C, dtype=torch.float64)
        self.mlp_delta_f = torch.nn.Linear(C, C, dtype=torch.float64)
        self.transform = torch.nn.Linear(C, D, dtype=torch.float64)
        self.merge = torch.nn.Linear(3 * D, D, dtype=torch.float64)
        self.learnable_tokens_a = u(DEPTH, TOKENS, RANK, s=1.2)
        self.learnable_tokens_b = u(DEPTH, RANK, C, s=1.2)
        with torch.no_grad():
            for lin in (self.mlp_token2feat, self.mlp_delta_f, self.transform, self.merge):
                lin.weight.copy_(f32(torch.randn(lin.weight.shape, generator=gen, dtype=torch.float64) / math.sqrt(lin.in_features)))
                lin.bias.copy_(f32(0.1 * torch.randn(lin.bias.shape, generator=gen, dtype=torch.float64)))

    def get_tokens(self, layer):
        if layer == -1:
            return self.learnable_tokens_a @ self.learnable_tokens_b
        return self.learnable_tokens_a[layer] @ self.learnable_tokens_b[layer]

    def forward(self, x, layer):
        """Reins.forward(batch_first=True, has_cls_token=True) on (B, T, C)."""
        feats = x.permute(1, 0, 2)
        cls, feats = torch.tensor_split(feats, [1], dim=0)
        tokens = self.get_tokens(layer)
        attn = torch.softmax(torch.einsum("nbc,mc->nbm", feats, tokens) * C ** -0.5, dim=-1)
        delta = torch.einsum("nbm,mc->nbc", attn[:, :, 1:], self.mlp_token2feat(tokens[1:, :]))
        delta = self.mlp_delta_f(delta + feats)
        feats = feats + delta * self.scale
        return torch.cat([cls, feats], dim=0).permute(1, 0, 2)

    def queries(self):
        """Reins.return_auto's link: (m, D)."""
        tokens = self.transform(self.get_tokens(-1)).permute(1, 2, 0)               # (m, D, L)
        tokens = torch.cat([F.max_pool1d(tokens, kernel_size=DEPTH), F.avg_pool1d(tokens, kernel_size=DEPTH),
                            tokens[:, :, -1].unsqueeze(-1)], dim=-1)                  # (m, D, 3)
        return self.merge(tokens.flatten(-2, -1))


def pyramid(t, reins, image):
    """ReinsDinoVisionTransformer.forward on one image (1, 3, H, W): the four maps."""
    _, _, height, width = image.shape
    rows, cols = height // PATCH, width // PATCH
    x = F.conv2d(image, t["patch_embed.proj.weight"], t["patch_embed.proj.bias"], stride=PATCH).flatten(2).transpose(1, 2)
    x = torch.cat([t["cls_token"].expand(1, -1, -1), x], dim=1) + position_embedding(t, rows, cols)
    outs = []
    for i in range(DEPTH):
        x = block(t, i, x)
        x = reins(x, i)
        if i in OUT_INDICES:
            outs.append(x[:, 1:, :].permute(0, 2, 1).reshape(1, -1, rows, cols).contiguous())
    outs[0] = F.interpolate(outs[0], scale_factor=4, mode="bilinear", align_corners=False)
    outs[1] = F.interpolate(outs[1], scale_factor=2, mode="bilinear", align_corners=False)
    outs[3] = F.interpolate(outs[3], scale_factor=0.5, mode="bilinear", align_corners=False)
    return outs


# ---------------------------------------------------------------- head

PIXEL_DECODER_NAMES = [   # HF -> mmdet, under decode_head.pixel_decoder. (make_pixel_decoder_fixtures.py)
    (r"input_projections\.(\d+)\.0\.(weight|bias)", r"input_convs.\1.conv.\2"),
    (r"input_projections\.(\d+)\.1\.(weight|bias)", r"input_convs.\1.gn.\2"),
    (r"level_embed", r"level_encoding.weight"),
    (r"encoder\.layers\.(\d+)\.self_attn\.(sampling_offsets|attention_weights|value_proj|output_proj)\.(weight|bias)",
     r"encoder.layers.\1.self_attn.\2.\3"),
    (r"encoder\.layers\.(\d+)\.self_attn_layer_norm\.(weight|bias)", r"encoder.layers.\1.norms.0.\2"),
    (r"encoder\.layers\.(\d+)\.fc1\.(weight|bias)", r"encoder.layers.\1.ffn.layers.0.0.\2"),
    (r"encoder\.layers\.(\d+)\.fc2\.(weight|bias)", r"encoder.layers.\1.ffn.layers.1.\2"),
    (r"encoder\.layers\.(\d+)\.final_layer_norm\.(weight|bias)", r"encoder.layers.\1.norms.1.\2"),
    (r"adapter_1\.0\.weight", r"lateral_convs.0.conv.weight"),
    (r"adapter_1\.1\.(weight|bias)", r"lateral_convs.0.gn.\1"),
    (r"layer_1\.0\.weight", r"output_convs.0.conv.weight"),
    (r"layer_1\.1\.(weight|bias)", r"output_convs.0.gn.\1"),
    (r"mask_projection\.(weight|bias)", r"mask_feature.\1"),
]


def pixel_decoder_name(hf):
    for pattern, repl in PIXEL_DECODER_NAMES:
        if re.fullmatch(pattern, hf):
            return "pixel_decoder." + re.sub(pattern, repl, hf)
    raise KeyError(f"no mmdet name for pixel decoder tensor {hf}")


def decoder_names(hf):
    """HF Mask2FormerMaskedAttentionDecoder state dict -> mmdet names (relative to decode_head.)."""
    w = {}
    for i in range(DEC_LAYERS):
        src, dst = f"layers.{i}.", f"transformer_decoder.layers.{i}."
        for part in ("in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"):
            w[dst + "cross_attn.attn." + part] = hf.pop(src + "cross_attn." + part)
        for kind in ("weight", "bias"):
            w[dst + "self_attn.attn.in_proj_" + kind] = torch.cat([hf.pop(src + f"self_attn.{p}_proj.{kind}") for p in "qkv"], dim=0)
            w[dst + "self_attn.attn.out_proj." + kind] = hf.pop(src + "self_attn.out_proj." + kind)
            w[dst + "norms.0." + kind] = hf.pop(src + "cross_attn_layer_norm." + kind)
            w[dst + "norms.1." + kind] = hf.pop(src + "self_attn_layer_norm." + kind)
            w[dst + "norms.2." + kind] = hf.pop(src + "final_layer_norm." + kind)
            w[dst + "ffn.layers.0.0." + kind] = hf.pop(src + "fc1." + kind)
            w[dst + "ffn.layers.1." + kind] = hf.pop(src + "fc2." + kind)
    for kind in ("weight", "bias"):
        w["transformer_decoder.post_norm." + kind] = hf.pop("layernorm." + kind)
        for j in range(3):
            w[f"mask_embed.{2 * j}." + kind] = hf.pop(f"mask_predictor.mask_embedder.{j}.0." + kind)
    assert not hf, f"HF decoder tensors left unnamed: {sorted(hf)}"
    return w


class Head:
    """ReinMask2FormerHead (replace_query_feat=True) from HF modules, float64."""

    def __init__(self, gen):
        def randn(*shape, scale=1.0, mean=0.0):
            return f32(mean + scale * torch.randn(*shape, generator=gen, dtype=torch.float64))
        config = Mask2FormerConfig(feature_size=D, mask_feature_size=D, hidden_dim=D, encoder_layers=ENC_LAYERS,
                                   encoder_feedforward_dim=ENC_FFN, num_attention_heads=PD_HEADS, common_stride=4,
                                   feature_strides=[4, 8, 16, 32], dropout=0.0, dim_feedforward=DEC_FFN,
                                   decoder_layers=DEC_LAYERS + 1, num_queries=TOKENS, pre_norm=False,
                                   activation_function="relu")
        assert PD_HEADS == DEC_HEADS, "HF's config has one head count for both"
        self.pixel_decoder = Mask2FormerPixelDecoder(config, feature_channels=[C] * 4)
        for parent in self.pixel_decoder.modules():     # mmdet's norm_cfg group count
            for name, child in parent.named_children():
                if isinstance(child, torch.nn.GroupNorm):
                    setattr(parent, name, torch.nn.GroupNorm(GROUPS, child.num_channels, eps=child.eps))
        self.pixel_decoder = self.pixel_decoder.to(torch.float64).eval()
        assert self.pixel_decoder.encoder.layers[0].self_attn.n_points == POINTS
        self.decoder = Mask2FormerMaskedAttentionDecoder(config).to(torch.float64).eval()
        assert len(self.decoder.layers) == DEC_LAYERS
        with torch.no_grad():
            for name, p in self.pixel_decoder.named_parameters():
                shape = tuple(p.shape)
                if p.dim() == 1 and re.search(r"(norm|\.1)\.weight$", name):
                    p.copy_(randn(*shape, scale=0.2, mean=1.0))
                elif name == "level_embed":
                    p.copy_(randn(*shape))
                elif "sampling_offsets" in name:
                    p.copy_(randn(*shape, scale=(2.0 if name.endswith("bias") else 0.6 / D ** 0.5)))
                elif p.dim() == 1:
                    p.copy_(randn(*shape, scale=0.1))
                else:
                    p.copy_(randn(*shape, scale=1.0 / int(np.prod(shape[1:])) ** 0.5))
            for name, p in self.decoder.named_parameters():
                if name.endswith("layer_norm.weight") or name == "layernorm.weight":
                    p.copy_(randn(*p.shape, scale=0.2, mean=1.0))
                elif p.dim() == 1:
                    p.copy_(randn(*p.shape, scale=0.5 / math.sqrt(D)))
                else:
                    p.copy_(randn(*p.shape, scale=1.0 / math.sqrt(p.shape[-1])))
        self.level_embed = randn(LEVELS, D)
        self.cls_embed = (randn(CLASSES + 1, D, scale=1 / math.sqrt(D)), randn(CLASSES + 1, scale=0.5))
        self.querys2feat = (randn(D, D, scale=1 / math.sqrt(D)), randn(D, scale=0.5))

    def state(self):
        """decode_head.* tensors under mmseg / mmdet names, float32."""
        pd = {pixel_decoder_name(k): v for k, v in self.pixel_decoder.state_dict().items()}
        hf_pd = set(dict(self.pixel_decoder.named_parameters())) | set(dict(self.pixel_decoder.named_buffers()))
        assert len(pd) == len(hf_pd), "every pixel decoder tensor is named once"
        w = dict(pd, **decoder_names(dict(self.decoder.state_dict())))
        w["level_embed.weight"] = self.level_embed
        w["cls_embed.weight"], w["cls_embed.bias"] = self.cls_embed
        w["querys2feat.weight"], w["querys2feat.bias"] = self.querys2feat
        return {"decode_head." + k: v.to(torch.float32).contiguous() for k, v in w.items()}

    def forward(self, maps, queries, window):
        """Predictions of every stage and the semantic scores of the window."""
        with torch.no_grad():
            out = self.pixel_decoder(maps)
            memory = list(out.multi_scale_features)                 # (1, D, h, w), lowest resolution first
            sizes = [tuple(m.shape[-2:]) for m in memory]
            sine = Mask2FormerSinePositionEmbedding(num_pos_feats=D // 2, normalize=True)
            positions = [sine(m.shape, "cpu", torch.float64).flatten(2).permute(2, 0, 1) for m in memory]   # (hw, 1, D)
            values = [m.flatten(2).permute(2, 0, 1) + self.level_embed[i] for i, m in enumerate(memory)]
            query_feat = F.linear(queries, *self.querys2feat)
            dec = self.decoder(inputs_embeds=query_feat[:, None, :], multi_stage_positional_embeddings=positions,
                               pixel_embeddings=out.mask_features, encoder_hidden_states=values,
                               query_position_embeddings=queries[:, None, :], feature_size_list=sizes, return_dict=True)
            classes = [F.linear(h[:, 0, :], *self.cls_embed) for h in dec.intermediate_hidden_states]   # (Q, K+1)
            masks = list(dec.masks_queries_logits)                                                       # (1, Q, h0, w0)
            resized = F.interpolate(masks[-1], size=window, mode="bilinear", align_corners=False)
            scores = torch.einsum("qc,qhw->chw", F.softmax(classes[-1], dim=-1)[..., :-1], resized[0].sigmoid())
        return scores, masks, sizes, out.mask_features


def masking_stats(masks, sizes):
    """(masked, partially masked rows, fully masked rows, smallest |resized logit|) over the masks layers 0..L-1 read."""
    masked = partial = full = 0
    margin = float("inf")
    for i in range(DEC_LAYERS):
        r = F.interpolate(masks[i], size=sizes[i % LEVELS], mode="bilinear", align_corners=False)[0].flatten(1)
        m = r.sigmoid() < 0.5
        masked += int(m.sum())
        full += int((m.sum(-1) == m.shape[-1]).sum())
        partial += int(((m.sum(-1) > 0) & (m.sum(-1) < m.shape[-1])).sum())
        margin = min(margin, float(r.abs().min()))
    return masked, partial, full, margin


# ---------------------------------------------------------------- main

def build(seed):
    gen = torch.Generator().manual_seed(seed)
    t = tiny_dinov2(gen)
    reins = LoRAReins(gen)
    head = Head(gen)
    images = [f32(torch.randn(1, 3, h, w, generator=gen, dtype=torch.float64)) for h, w in IMAGES]
    return t, reins, head, images


def run(t, reins, head, images):
    results = []
    with torch.no_grad():
        queries = reins.queries()
        for image in images:
            maps = pyramid(t, reins, image)
            scores, masks, sizes, mask_features = head.forward(maps, queries, tuple(image.shape[-2:]))
            results.append({"scores": scores, "stats": masking_stats(masks, sizes), "levels": [list(m.shape[-2:]) for m in maps],
                            "memory": [list(s) for s in sizes], "mask": list(mask_features.shape[-2:])})
    return results


def main():
    os.makedirs(OUT, exist_ok=True)
    for seed in range(200):
        parts = build(20261203 + seed)
        results = run(*parts)
        stats = [r["stats"] for r in results]
        if all(s[1] > 0 and s[3] > 2e-3 for s in stats):
            break
    else:
        raise SystemExit("no seed gives partially masked rows with a margin")
    t, reins, head, images = parts
    print(f"seed {20261203 + seed}: per image (masked keys, partially masked rows, fully masked rows, smallest |logit|) =", stats)

    adapter = {"backbone.reins." + k: v.detach().to(torch.float32).contiguous() for k, v in reins.state_dict().items()}
    state = collections.OrderedDict(sorted(dict(adapter, **head.state()).items()))
    meta = {"mmseg_version": "1.2.2", "iter": 40000, "epoch": 0, "seed": 20261203 + seed,
            "dataset_meta": {"classes": CLASS_NAMES, "palette": [[128, 64, 128], [0, 0, 142], [70, 130, 180]]}}
    torch.save({"meta": meta, "state_dict": state}, os.path.join(OUT, "checkpoint.pth"))
    torch.save({k: v.to(torch.float32).contiguous() for k, v in t.items()}, os.path.join(OUT, "dinov2.pth"))
    for i, (image, result) in enumerate(zip(images, results)):
        save_npy(f"image{i}.npy", image[0])
        save_npy(f"scores{i}.npy", result["scores"])
    # Slide inference of image 1 (32 x 48) as mmseg's slide_inference: crop 32, stride 16 ->
    # windows at x 0 and 16, each window's scores added where it lies, divided by the count.
    crop, stride = 32, 16
    image = images[1]
    _, _, height, width = image.shape
    total = torch.zeros(CLASSES, height, width, dtype=torch.float64)
    count = torch.zeros(height, width, dtype=torch.float64)
    with torch.no_grad():
        queries = reins.queries()
        for yi in range(max(height - crop + stride - 1, 0) // stride + 1):
            for xi in range(max(width - crop + stride - 1, 0) // stride + 1):
                y1, x1 = yi * stride, xi * stride
                y2, x2 = min(y1 + crop, height), min(x1 + crop, width)
                y1, x1 = max(y2 - crop, 0), max(x2 - crop, 0)
                window = image[:, :, y1:y2, x1:x2]
                scores, _, _, _ = head.forward(pyramid(t, reins, window), queries, tuple(window.shape[-2:]))
                total[:, y1:y2, x1:x2] += scores
                count[y1:y2, x1:x2] += 1
    slide = total / count
    top2 = torch.topk(slide, 2, dim=0).values
    save_npy("slide1.npy", slide)
    np.save(os.path.join(OUT, "slide1_labels.npy"), slide.argmax(0).numpy().astype(np.uint8))
    save_npy("slide1_margin.npy", top2[0] - top2[1])
    adapter_names = sorted(adapter)
    head_names = sorted(k for k in state if k.startswith("decode_head."))
    config = {
        "backbone": {"embed_dim": C, "depth": DEPTH, "heads": HEADS, "patch": PATCH, "position_grid": GRID, "mlp_hidden": MLP,
                     "registers": 0, "out_indices": OUT_INDICES, "layer_norm_eps": 1e-6},
        "adapter": {"kind": "rein", "tokens": TOKENS, "rank": RANK, "query_link": True, "query_dims": D, "scale": 0.6},
        "pixel_decoder": {"in_channels": [C] * 4, "feat_channels": D, "out_channels": D, "heads": PD_HEADS, "points": POINTS,
                          "levels": LEVELS, "encoder_layers": ENC_LAYERS, "encoder_ffn": ENC_FFN, "group_norm_groups": GROUPS},
        "decoder": {"embed_dim": D, "heads": DEC_HEADS, "layers": DEC_LAYERS, "ffn": DEC_FFN, "queries": TOKENS,
                    "classes": CLASSES, "levels": LEVELS, "mask_channels": D},
        "classes": list(CLASS_NAMES),
        "adapter_tensors": adapter_names,
        "head_tensor_count": len(head_names),
        "cases": [{"image": f"image{i}.npy", "scores": f"scores{i}.npy", "height": h, "width": w,
                   "grid": [h // PATCH, w // PATCH], "pyramid": r["levels"], "memory_levels": r["memory"], "mask_features": r["mask"],
                   "masked_keys": r["stats"][0], "partially_masked_rows": r["stats"][1], "fully_masked_rows": r["stats"][2],
                   "smallest_mask_logit": r["stats"][3]}
                  for i, ((h, w), r) in enumerate(zip(IMAGES, results))],
    }
    with open(os.path.join(OUT, "config.json"), "w") as f:
        json.dump(config, f, indent=1)
    for name in sorted(os.listdir(OUT)):
        print(f"{name}: {os.path.getsize(os.path.join(OUT, name))} bytes")
    print("total", sum(os.path.getsize(os.path.join(OUT, n)) for n in os.listdir(OUT)), "bytes;",
          len(adapter_names), "adapter and", len(head_names), "head tensors;",
          "scores", [tuple(r["scores"].shape) for r in results])


if __name__ == "__main__":
    main()
