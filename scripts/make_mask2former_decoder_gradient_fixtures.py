#!/usr/bin/env python3
"""make_mask2former_decoder_gradient_fixtures.py — golden gradients of the
Mask2Former transformer decoder and of Rein's token -> query link.

Decoder: the reference setup of make_mask2former_decoder_fixtures.py (the same
seed search, weights and inputs: HF's Mask2FormerMaskedAttentionDecoder with
Rein's querys2feat, level_embed and cls_embed, 3 layers, D 32, 4 heads, FFN 64,
5 queries, 4 classes, levels 4x4, 8x8, 16x16, mask features 32x32), run in
float64 with autograd. The loss is a fixed weighted sum of every prediction's
class logits (L+1, Q, K+1) and mask logits (L+1, Q, H0, W0):
    loss = sum_k wc[k] * class_logits.flat[k] + sum_k wm[k] * mask_logits.flat[k]
    wc[k] = float32(sin(0.37 k + 0.5)),  wm[k] = float32(0.1 sin(0.11 k + 1.3))
(a formula, so the weights need no file; the tests compute the same floats).
Its gradients w.r.t. every parameter (mmdet names, as decoder.safetensors),
the memory levels (token-major, lowest resolution first), the mask features
and the query embeddings (which feed query_pos and querys2feat) are saved.
The attention masks are constants (HF detaches them), as in mmdet.

Query link: a replay of Rein's Reins.return_auto (rein/models/backbones/reins.py)
on small sizes — tokens (L 3, m 5, C 12), query_dims 8:
    t = transform(tokens).permute(1, 2, 0)                       (m, q, L)
    t = cat([max_pool1d(t, L), avg_pool1d(t, L), t[..., -1:]], -1)
    queries = merge(t.flatten(-2, -1))
with one token repeated in layers 0 and 1 (a tie in the max: max_pool1d's
backward gives the gradient to the first maximum). The loss is
sum_k wq[k] * queries.flat[k], wq[k] = float32(sin(0.37 k + 0.5)); its
gradients w.r.t. transform, merge and the tokens are saved, for full tokens
and for LoRAReins' low-rank tokens A @ B (rank 2).

Run once from the repository root (needs numpy, torch, transformers, safetensors):
    python3 scripts/make_mask2former_decoder_gradient_fixtures.py
Outputs go to Tests/ModelTests/Fixtures/mask2former_decoder_gradients; they are committed.
"""
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from transformers.models.mask2former.modeling_mask2former import Mask2FormerSinePositionEmbedding

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_mask2former_decoder_fixtures as base  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests/ModelTests/Fixtures/mask2former_decoder_gradients")


def weights(count, a, b, scale=1.0):
    k = np.arange(count, dtype=np.float64)
    return torch.from_numpy((scale * np.sin(a * k + b)).astype(np.float32).astype(np.float64))


def save(name, array):
    np.save(os.path.join(OUT, name), np.ascontiguousarray(np.asarray(array, dtype=np.float32)))


def f32(t):
    return t.detach().to(torch.float32).contiguous()


def mmdet_names(hf, level_embed, cls_embed, querys2feat):
    """HF decoder names -> the file's (mmdet) names, as make_mask2former_decoder_fixtures.py renames them."""
    w = {}
    for i in range(base.LAYERS):
        src, dst = f"layers.{i}.", f"transformer_decoder.layers.{i}."
        for part in ("in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"):
            w[dst + "cross_attn.attn." + part] = hf[src + "cross_attn." + part]
        for kind in ("weight", "bias"):
            w[dst + "self_attn.attn.in_proj_" + kind] = torch.cat([hf[src + f"self_attn.{p}_proj.{kind}"] for p in "qkv"], 0)
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
        w["cls_embed." + kind] = getattr(cls_embed, kind)
        w["querys2feat." + kind] = getattr(querys2feat, kind)
    w["level_embed.weight"] = level_embed
    return w


def decoder_case():
    for seed in range(100):
        parts = base.build(seed)
        classes, masks = base.run(*parts[1:])
        partial, full, margin = base.masking_stats(masks)
        if partial > 0 and full > 0 and margin > 1e-3:
            break
    print(f"decoder: seed {seed} (as make_mask2former_decoder_fixtures.py)")
    _, decoder, level_embed, cls_embed, querys2feat, query_embed, mask_features, memory = base.build(seed)
    dec = decoder.double()
    cls_embed, querys2feat = cls_embed.double(), querys2feat.double()
    level_embed = level_embed.double().requires_grad_()
    query_embed = query_embed.double().requires_grad_()
    mask_features = mask_features.double().requires_grad_()
    memory = [m.double().requires_grad_() for m in memory]
    sine = Mask2FormerSinePositionEmbedding(num_pos_feats=base.D // 2, normalize=True)
    positions, values = [], []
    for l, ((h, w), m) in enumerate(zip(base.LEVELS, memory)):
        positions.append(sine(torch.Size([1, base.D, h, w]), "cpu", torch.float64).flatten(2)[0].T[:, None, :])
        values.append((m + level_embed[l])[:, None, :])
    query_feat = querys2feat(query_embed)
    out = dec(inputs_embeds=query_feat[:, None, :], multi_stage_positional_embeddings=positions,
              pixel_embeddings=mask_features[None], encoder_hidden_states=values,
              query_position_embeddings=query_embed[:, None, :], feature_size_list=base.LEVELS, return_dict=True)
    classes = torch.stack([cls_embed(h[:, 0, :]) for h in out.intermediate_hidden_states])      # (L+1, Q, K+1)
    masks = torch.cat(list(out.masks_queries_logits), 0)                                       # (L+1, Q, H0, W0)
    # The forward agrees with the committed forward fixture.
    ref_classes = np.load(os.path.join(base.OUT, "class_logits.npy"))
    assert np.abs(classes.detach().numpy() - ref_classes).max() < 1e-5
    loss = (weights(classes.numel(), 0.37, 0.5).view_as(classes) * classes).sum() \
        + (weights(masks.numel(), 0.11, 1.3, 0.1).view_as(masks) * masks).sum()
    leaves = dict(dec.named_parameters())
    params = list(leaves.values()) + [level_embed, query_embed, mask_features] + memory \
        + list(cls_embed.parameters()) + list(querys2feat.parameters())
    grads = torch.autograd.grad(loss, params)
    g = dict(zip([id(p) for p in params], grads))
    hf = {name: g[id(p)] for name, p in leaves.items()}
    named = mmdet_names(hf, g[id(level_embed)], type("G", (), {"weight": g[id(cls_embed.weight)], "bias": g[id(cls_embed.bias)]}),
                        type("G", (), {"weight": g[id(querys2feat.weight)], "bias": g[id(querys2feat.bias)]}))
    save_file({"decode_head." + k: f32(v) for k, v in named.items()}, os.path.join(OUT, "decoder_gradients.safetensors"))
    save("d_query_embed.npy", g[id(query_embed)])
    save("d_mask_features.npy", g[id(mask_features)])
    for (h, w), m in zip(base.LEVELS, memory):
        save(f"d_memory_{h}x{w}.npy", g[id(m)])
    save("loss.npy", np.array([loss.item()]))


def link_case():
    torch.manual_seed(11)
    L, m, c, q, r = 3, 5, 12, 8, 2
    transform = torch.nn.Linear(c, q).double()
    merge = torch.nn.Linear(3 * q, q).double()
    with torch.no_grad():
        for p in list(transform.parameters()) + list(merge.parameters()):
            p.copy_(p.float().double())
    tensors = {"transform.weight": f32(transform.weight), "transform.bias": f32(transform.bias),
               "merge.weight": f32(merge.weight), "merge.bias": f32(merge.bias)}

    def return_auto(tokens):
        t = transform(tokens).permute(1, 2, 0)
        t = torch.cat([F.max_pool1d(t, kernel_size=L), F.avg_pool1d(t, kernel_size=L), t[:, :, -1].unsqueeze(-1)], dim=-1)
        return merge(t.flatten(-2, -1))

    full = (torch.rand(L, m, c) * 2 - 1).float().double()
    full[1, 2] = full[0, 2]                                          # a tie in the max over layers
    a = (torch.rand(L, m, r) * 2 - 1).float().double().requires_grad_()
    b = (torch.rand(L, r, c) * 2 - 1).float().double().requires_grad_()
    full.requires_grad_()
    for name, tokens, leaves in (("full", full, [full]), ("lowrank", a @ b, [a, b])):
        queries = return_auto(tokens)
        loss = (weights(queries.numel(), 0.37, 0.5).view_as(queries) * queries).sum()
        link = [transform.weight, transform.bias, merge.weight, merge.bias]
        grads = torch.autograd.grad(loss, link + leaves)
        out = {"d_transform.weight": grads[0], "d_transform.bias": grads[1], "d_merge.weight": grads[2],
               "d_merge.bias": grads[3]}
        if name == "full":
            out["d_learnable_tokens"] = grads[4]
            tensors["learnable_tokens"] = f32(full)
        else:
            out["d_learnable_tokens_a"], out["d_learnable_tokens_b"] = grads[4], grads[5]
            tensors["learnable_tokens_a"], tensors["learnable_tokens_b"] = f32(a), f32(b)
        tensors.update({f"{name}.{k}": f32(v) for k, v in out.items()})
        tensors[f"{name}.queries"] = f32(queries)
    save_file(tensors, os.path.join(OUT, "query_link.safetensors"))


def main():
    os.makedirs(OUT, exist_ok=True)
    decoder_case()
    link_case()
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print(f"wrote {len(os.listdir(OUT))} files, {total / 1024:.0f} KB, to {OUT}")


if __name__ == "__main__":
    main()
