#!/usr/bin/env python3
"""make_mask2former_decoder_fixtures.py — golden fixtures for the Mask2Former
transformer decoder (MultiheadAttention, the decoder layers, the predictions)
and the semantic scores.

The reference is HuggingFace transformers' `Mask2FormerMaskedAttentionDecoder`
(with its `Mask2FormerMaskPredictor`), run in float64 on float32-rounded random
weights and inputs. HF and mmdet agree on what the decoder computes (checked by
reading both):
  * per layer: masked cross-attention (query + query_pos against memory +
    level_embed + sine position, values memory + level_embed), residual,
    norm; self-attention (query and key + query_pos, value without), residual,
    norm; FFN (Linear, ReLU, Linear), residual, norm — post-norm, HF's
    `pre_norm=False` path, mmdet's Mask2FormerTransformerDecoderLayer;
  * before layer 0 a prediction from the bare query_feat; after layer i a
    prediction whose attention mask (mask logits resized bilinearly,
    align_corners=False, to level (i + 1) % 3, sigmoid < 0.5, rows with every
    key masked unmasked) feeds layer i + 1; layer i reads level i % 3, level 0
    the lowest resolution;
  * the predictions read the post-normed queries (HF `layernorm`, mmdet
    `transformer_decoder.post_norm`).
Where they differ the fixture follows mmdet / Rein:
  * HF builds `config.decoder_layers - 1` layers (decoder_layers = 4 -> 3);
  * HF's class predictor lives outside the decoder: here `cls_embed` (Linear
    D -> K+1) is applied to each of HF's `intermediate_hidden_states`, as
    mmdet's _forward_head does;
  * query_feat = querys2feat(query_embed) and query_pos = query_embed (Rein's
    replace_query_feat=True), fed to HF as `inputs_embeds` and
    `query_position_embeddings`;
  * the memory levels are given token-major (H*W, D) lowest resolution first
    (mmdet's pixel decoder order); the script adds level_embed itself and passes
    HF's own sine encoding (Mask2FormerSinePositionEmbedding, normalize=True),
    checked here against mmdet's SinePositionalEncoding formula
    ((cumsum + 0) / (last + 1e-6) * 2pi, temperature 10000, sin/cos interleaved,
    [y; x]).
Weight names are renamed to mmdet's (the file's names, under `decode_head.`):
    layers.{i}.cross_attn.{in_proj_*, out_proj.*}   -> transformer_decoder.layers.{i}.cross_attn.attn.*
    layers.{i}.self_attn.{q,k,v}_proj.*             -> ...layers.{i}.self_attn.attn.in_proj_* (rows [q; k; v])
    layers.{i}.self_attn.out_proj.*                 -> ...layers.{i}.self_attn.attn.out_proj.*
    layers.{i}.cross_attn_layer_norm / self_attn_layer_norm / final_layer_norm
                                                    -> ...layers.{i}.norms.0 / norms.1 / norms.2
    layers.{i}.fc1 / fc2                            -> ...layers.{i}.ffn.layers.0.0 / ffn.layers.1
    layernorm                                       -> transformer_decoder.post_norm
    mask_predictor.mask_embedder.{0,1,2}.0          -> mask_embed.{0,2,4}
    (script's own) level_embed, cls_embed, querys2feat -> level_embed.weight, cls_embed.*, querys2feat.*
Semantic scores: mmseg's Mask2FormerHead.predict on the last prediction:
F.interpolate(mask logits, window, bilinear, align_corners=False), then
einsum(softmax(cls)[..., :-1], sigmoid(masks)).
Also a standalone nn.MultiheadAttention with a boolean attention mask.

Run once from the repository root (needs numpy, torch, transformers, safetensors):
    python3 scripts/make_mask2former_decoder_fixtures.py
Outputs go to Tests/ModelTests/Fixtures/mask2former_decoder; they are committed.
"""
import math
import os

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from transformers import Mask2FormerConfig
from transformers.models.mask2former.modeling_mask2former import (
    Mask2FormerMaskedAttentionDecoder, Mask2FormerSinePositionEmbedding)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests/ModelTests/Fixtures/mask2former_decoder")
D, HEADS, FFN, LAYERS, QUERIES, CLASSES = 32, 4, 64, 3, 5, 4
LEVELS = [(4, 4), (8, 8), (16, 16)]
MASK_HW = (32, 32)
WINDOW = (40, 56)


def save(name, array):
    np.save(os.path.join(OUT, name), np.ascontiguousarray(np.asarray(array, dtype=np.float32)))


def f32(t):
    return t.detach().to(torch.float32).contiguous()


def mmdet_sine(h, w, feats):
    """mmdet SinePositionalEncoding(normalize=True, offset=0), no padding: (H*W, 2F)."""
    y = torch.arange(1, h + 1, dtype=torch.float64)[:, None].expand(h, w)
    x = torch.arange(1, w + 1, dtype=torch.float64)[None, :].expand(h, w)
    y = y / (h + 1e-6) * 2 * math.pi
    x = x / (w + 1e-6) * 2 * math.pi
    dim_t = 10000 ** (2 * (torch.arange(feats, dtype=torch.float64) // 2) / feats)
    px, py = x[..., None] / dim_t, y[..., None] / dim_t
    px = torch.stack((px[..., 0::2].sin(), px[..., 1::2].cos()), dim=3).flatten(2)
    py = torch.stack((py[..., 0::2].sin(), py[..., 1::2].cos()), dim=3).flatten(2)
    return torch.cat((py, px), dim=2).reshape(h * w, 2 * feats)


def masking_stats(masks):
    """(partially masked rows, fully masked rows, smallest |resized logit|) over the masks the layers read."""
    partial = full = 0
    margin = float("inf")
    for i in range(LAYERS):
        h, w = LEVELS[i % 3]
        r = F.interpolate(masks[i], size=(h, w), mode="bilinear", align_corners=False)[0].flatten(1)
        m = r.sigmoid() < 0.5
        full += int((m.sum(-1) == m.shape[-1]).sum())
        partial += int(((m.sum(-1) > 0) & (m.sum(-1) < m.shape[-1])).sum())
        margin = min(margin, float(r.abs().min()))
    return partial, full, margin


def build(seed):
    torch.manual_seed(seed)
    config = Mask2FormerConfig(hidden_dim=D, num_attention_heads=HEADS, dim_feedforward=FFN, decoder_layers=LAYERS + 1,
                               num_queries=QUERIES, mask_feature_size=D, pre_norm=False, dropout=0.0,
                               activation_function="relu")
    decoder = Mask2FormerMaskedAttentionDecoder(config).eval()
    with torch.no_grad():
        for name, p in decoder.named_parameters():
            if name.endswith("layer_norm.weight") or name == "layernorm.weight":
                p.copy_(1 + 0.2 * torch.randn_like(p))
            else:
                p.copy_(torch.randn_like(p) / math.sqrt(p.shape[-1] if p.dim() > 1 else D))
                if p.dim() == 1:
                    p.mul_(0.5)
        # A negative bias on every mask-embedding channel against positive mask
        # features: some queries predict empty masks (fully masked rows).
        decoder.mask_predictor.mask_embedder.layers[2].layers[0].bias.sub_(0.1)
        for p in decoder.parameters():
            p.copy_(p.to(torch.float32).to(p.dtype))
    level_embed = torch.randn(3, D).float()
    cls_embed = torch.nn.Linear(D, CLASSES + 1)
    querys2feat = torch.nn.Linear(D, D)
    for lin in (cls_embed, querys2feat):
        with torch.no_grad():
            lin.weight.copy_(torch.randn_like(lin.weight) / math.sqrt(D))
            lin.bias.copy_(0.5 * torch.randn_like(lin.bias))
    query_embed = torch.randn(QUERIES, D).float()
    mask_features = (torch.randn(D, *MASK_HW).abs() + 0.05).float()
    memory = [torch.randn(h * w, D).float() for h, w in LEVELS]
    return config, decoder, level_embed, cls_embed, querys2feat, query_embed, mask_features, memory


def run(decoder, level_embed, cls_embed, querys2feat, query_embed, mask_features, memory):
    dec = decoder.double()
    cls_embed, querys2feat = cls_embed.double(), querys2feat.double()
    sine = Mask2FormerSinePositionEmbedding(num_pos_feats=D // 2, normalize=True)
    positions, values = [], []
    for (h, w), m in zip(LEVELS, memory):
        pos = sine(torch.Size([1, D, h, w]), "cpu", torch.float64).flatten(2)[0].T      # (H*W, D)
        assert torch.allclose(pos, mmdet_sine(h, w, D // 2), atol=1e-9), "HF sine encoding differs from mmdet's"
        positions.append(pos[:, None, :])
        values.append((m.double() + level_embed[len(values)].double())[:, None, :])
    with torch.no_grad():
        query_feat = querys2feat(query_embed.double())
        out = dec(inputs_embeds=query_feat[:, None, :], multi_stage_positional_embeddings=positions,
                  pixel_embeddings=mask_features.double()[None], encoder_hidden_states=values,
                  query_position_embeddings=query_embed.double()[:, None, :], feature_size_list=LEVELS, return_dict=True)
        classes = torch.stack([cls_embed(h[:, 0, :]) for h in out.intermediate_hidden_states])     # (L+1, Q, K+1)
        masks = list(out.masks_queries_logits)                                                   # (1, Q, H0, W0) each
    return classes, masks


def semantic(classes, masks):
    """mmseg Mask2FormerHead.predict on the last prediction, for one window."""
    resized = F.interpolate(masks[-1], size=WINDOW, mode="bilinear", align_corners=False)
    scores = F.softmax(classes[-1], dim=-1)[..., :-1]
    return torch.einsum("qc,qhw->chw", scores, resized[0].sigmoid())


def multihead_attention_case():
    torch.manual_seed(7)
    attn = torch.nn.MultiheadAttention(D, HEADS).double().eval()
    with torch.no_grad():
        for p in attn.parameters():
            p.copy_((torch.randn_like(p) / math.sqrt(D)).float().double())
    q, kv = 6, 9
    query = torch.randn(q, D).float()
    key = torch.randn(kv, D).float()
    value = torch.randn(kv, D).float()
    mask = torch.rand(q, kv) < 0.4
    mask[:, 0] = False
    with torch.no_grad():
        out, _ = attn(query.double()[:, None], key.double()[:, None], value.double()[:, None], attn_mask=mask)
        plain, _ = attn(query.double()[:, None], key.double()[:, None], value.double()[:, None])
    tensors = {"attn." + k: f32(v) for k, v in attn.state_dict().items()}
    save_file(tensors, os.path.join(OUT, "mha.safetensors"))
    save("mha_query.npy", query)
    save("mha_key.npy", key)
    save("mha_value.npy", value)
    save("mha_mask.npy", mask.float())
    save("mha_out_masked.npy", out[:, 0])
    save("mha_out.npy", plain[:, 0])


def main():
    os.makedirs(OUT, exist_ok=True)
    for seed in range(100):
        parts = build(seed)
        classes, masks = run(*parts[1:])
        partial, full, margin = masking_stats(masks)
        if partial > 0 and full > 0 and margin > 1e-3:
            break
    print(f"seed {seed}: {partial} partially and {full} fully masked rows, smallest |logit| {margin:.2e}")
    config, decoder, level_embed, cls_embed, querys2feat, query_embed, mask_features, memory = parts
    hf = {k: f32(v) for k, v in decoder.state_dict().items()}
    w = {}
    for i in range(LAYERS):
        src, dst = f"layers.{i}.", f"transformer_decoder.layers.{i}."
        for part in ("in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"):
            w[dst + "cross_attn.attn." + part] = hf[src + "cross_attn." + part]
        for kind in ("weight", "bias"):
            w[dst + "self_attn.attn.in_proj_" + kind] = torch.cat(
                [hf[src + f"self_attn.{p}_proj.{kind}"] for p in "qkv"], dim=0)
            w[dst + "self_attn.attn.out_proj." + kind] = hf[src + "self_attn.out_proj." + kind]
            w[dst + "norms.0." + kind] = hf[src + "cross_attn_layer_norm." + kind]
            w[dst + "norms.1." + kind] = hf[src + "self_attn_layer_norm." + kind]
            w[dst + "norms.2." + kind] = hf[src + "final_layer_norm." + kind]
            w[dst + "ffn.layers.0.0." + kind] = hf[src + "fc1." + kind]
            w[dst + "ffn.layers.1." + kind] = hf[src + "fc2." + kind]
    for kind in ("weight", "bias"):
        w["transformer_decoder.post_norm." + kind] = hf["layernorm." + kind]
        for j in range(3):
            w[f"mask_embed.{2 * j}." + kind] = hf[f"mask_predictor.mask_embedder.{j}.0." + kind]
        w["cls_embed." + kind] = f32(getattr(cls_embed, kind))
        w["querys2feat." + kind] = f32(getattr(querys2feat, kind))
    w["level_embed.weight"] = f32(level_embed)
    assert sum(v.numel() for v in hf.values()) + level_embed.numel() + sum(
        p.numel() for m in (cls_embed, querys2feat) for p in m.parameters()) == sum(v.numel() for v in w.values())
    save_file({"decode_head." + k: v for k, v in w.items()}, os.path.join(OUT, "decoder.safetensors"))
    save("query_embed.npy", query_embed)
    save("mask_features.npy", mask_features)
    for (h, wd), m in zip(LEVELS, memory):
        save(f"memory_{h}x{wd}.npy", m)
    save("class_logits.npy", classes)
    save("mask_logits.npy", torch.cat(masks, dim=0))
    save("semantic_scores.npy", semantic(classes, masks))
    multihead_attention_case()
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print(f"wrote {len(os.listdir(OUT))} files, {total / 1024:.0f} KB, to {OUT}")


if __name__ == "__main__":
    main()
