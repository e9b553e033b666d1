#!/usr/bin/env python3
"""make_pixel_decoder_gradient_fixtures.py — golden gradients for the training
path of Mask2Former's pixel decoder and of the feature pyramid's resizes.

Pixel decoder: the reference module of make_pixel_decoder_fixtures.py
(HuggingFace's Mask2FormerPixelDecoder, 32 channels, 4 heads, 2 encoder layers,
FFN 64, 24 mask channels, GroupNorm(8, 32) — see that script's docstring for
why it is the mmdet MSDeformAttnPixelDecoder and how the names map), loaded
from that script's committed weights and inputs (decoder.safetensors,
input{0..3}.npy), run in float64 with autograd. The loss is a fixed weighted
sum of both outputs,
    L = Σ w_mask ⊙ mask_features + Σ w_multi ⊙ multi_scale
(mask features (24, 24, 32) channel-major; multi-scale features token-major,
the three encoder levels lowest resolution first, as the forward fixture), with
    w[i] = sin(0.7·i + 0.3) · cos(0.013·i)   (i the flat index, float32-rounded),
weights a test recomputes instead of reading. Saved: the gradient of L w.r.t.
every parameter under its mmdet name (gradients.safetensors) and w.r.t. the
four input maps (input{i}_grad.npy, (C_i, H_i, W_i)).

Feature pyramid: for a 5 x 7 and a 4 x 6 patch grid of 3 channels, token-major
patches (h·w, C) -> maps (C, h, w) -> F.interpolate(bilinear,
align_corners=False, scale_factor s) for s = 4, 2, 1 (no resize), 0.5; the
gradient of Σ_j Σ w ⊙ level_j w.r.t. the patches (same weight formula over
each level's flat index), saved as pyramid_{h}x{w}_grad.npy (h·w, C).

Everything runs in float64 on float32 values and is saved as float32. Run once
from the repository root (needs torch, transformers, safetensors), after
make_pixel_decoder_fixtures.py:
    python3 scripts/make_pixel_decoder_gradient_fixtures.py
Outputs go to Tests/ModelTests/Fixtures/pixel_decoder_gradients; they are committed.
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_pixel_decoder_fixtures import PREFIX, mmdet_name  # noqa: E402
from transformers import Mask2FormerConfig  # noqa: E402
from transformers.models.mask2former.modeling_mask2former import Mask2FormerPixelDecoder  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCE = os.path.join(ROOT, "Tests/ModelTests/Fixtures/pixel_decoder")
OUT = os.path.join(ROOT, "Tests/ModelTests/Fixtures/pixel_decoder_gradients")


def weights(count):
    i = np.arange(count, dtype=np.float64)
    return torch.from_numpy((np.sin(0.7 * i + 0.3) * np.cos(0.013 * i)).astype(np.float32).astype(np.float64))


def save_npy(name, array):
    np.save(os.path.join(OUT, name), np.ascontiguousarray(np.asarray(array, dtype=np.float32)))


def pixel_decoder_gradients():
    channels, mask_channels, heads, layers, ffn, groups = 32, 24, 4, 2, 64, 8
    in_channels = [8, 12, 16, 20]
    config = Mask2FormerConfig(feature_size=channels, mask_feature_size=mask_channels, encoder_layers=layers,
                               encoder_feedforward_dim=ffn, num_attention_heads=heads, common_stride=4,
                               feature_strides=[4, 8, 16, 32], dropout=0.0)
    model = Mask2FormerPixelDecoder(config, feature_channels=in_channels)
    for parent in model.modules():
        for name, child in parent.named_children():
            if isinstance(child, torch.nn.GroupNorm):
                setattr(parent, name, torch.nn.GroupNorm(groups, child.num_channels, eps=child.eps))
    model = model.to(torch.float64).eval()
    stored = load_file(os.path.join(SOURCE, "decoder.safetensors"))
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(stored[PREFIX + mmdet_name(name)].to(torch.float64))
    features = [torch.from_numpy(np.load(os.path.join(SOURCE, f"input{i}.npy")).astype(np.float64))[None].requires_grad_(True)
                for i in range(4)]
    out = model(features)
    mask = out.mask_features[0]
    memory = torch.cat([m[0].flatten(1).transpose(0, 1) for m in out.multi_scale_features], 0)
    # The forward fixture's outputs: the same module on the same values.
    assert np.allclose(mask.detach().numpy(), np.load(os.path.join(SOURCE, "mask_features.npy")), atol=1e-5)
    assert np.allclose(memory.detach().numpy(), np.load(os.path.join(SOURCE, "multi_scale.npy")), atol=1e-5)
    loss = (weights(mask.numel()) * mask.flatten()).sum() + (weights(memory.numel()) * memory.flatten()).sum()
    loss.backward()
    grads = {}
    for name, p in model.named_parameters():
        grads[PREFIX + mmdet_name(name)] = p.grad.to(torch.float32).contiguous()
    assert set(grads) == set(stored), "a gradient for every stored tensor"
    save_file(grads, os.path.join(OUT, "gradients.safetensors"))
    for i, x in enumerate(features):
        save_npy(f"input{i}_grad.npy", x.grad[0])
    print("pixel decoder:", len(grads), "gradients, loss", loss.item())


def pyramid_gradients():
    c = 3
    for h, w in [(5, 7), (4, 6)]:
        patches = torch.zeros(h * w, c, dtype=torch.float64, requires_grad=True)
        grid = patches.transpose(0, 1).reshape(1, c, h, w)
        loss = 0
        for s in (4.0, 2.0, 1.0, 0.5):
            level = grid if s == 1 else F.interpolate(grid, scale_factor=s, mode="bilinear", align_corners=False)
            loss = loss + (weights(level.numel()) * level.flatten()).sum()
        loss.backward()
        save_npy(f"pyramid_{h}x{w}_grad.npy", patches.grad)
        print("pyramid", h, w, "levels", [int(s * h) for s in (4, 2, 1, 0.5)])


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    pixel_decoder_gradients()
    pyramid_gradients()
