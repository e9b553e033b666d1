#!/usr/bin/env python3
"""make_pixel_decoder_fixtures.py — golden fixtures for Mask2Former's pixel
decoder (mmdet MSDeformAttnPixelDecoder) and the layers it is built from.

The reference is HuggingFace's `Mask2FormerPixelDecoder`
(transformers.models.mask2former.modeling_mask2former), which computes what
mmdet's MSDeformAttnPixelDecoder computes for Rein's configuration:
  * input projections of the three lowest-resolution maps (1x1 conv with bias +
    GroupNorm), listed lowest resolution first — mmdet's input_convs order;
  * the normalised sine encoding (normalize=True, 2π, eps 1e-6, offset 0) plus a
    learned per-level embedding (HF `level_embed` Parameter (3, C), mmdet
    `level_encoding` nn.Embedding (3, C): the same (levels, C) table, row 0 the
    lowest resolution);
  * reference points at pixel centres, (i + 0.5) / size (HF linspace; mmdet's
    MlvlPointGenerator with offset 0.5 divided by size · stride — the same
    values up to float rounding), no padding, valid ratios 1;
  * post-norm encoder layers: value = value_proj(x) (no position), query =
    x + pos, offsets / size, softmax over levels·points per head, bilinear
    grid_sample(align_corners=False, zeros), output_proj, + x, LayerNorm;
    FFN fc1, ReLU, fc2, + x, LayerNorm (eps 1e-5 both);
  * the FPN level: lateral 1x1 conv without bias + GroupNorm, plus the
    bilinear (align_corners=False) upsampled highest-resolution encoder output,
    3x3 conv without bias + GroupNorm + ReLU; the 1x1 mask projection with bias;
  * multi-scale outputs: the three encoder levels, lowest resolution first.
The one place the fixture departs from HF is GroupNorm's group count: HF fixes
32 groups, mmdet takes it from norm_cfg (Rein: 32 groups of 256 channels, 8 per
group). With this fixture's 32 channels 32 groups would be per-channel, so the
HF module's GroupNorms are replaced by GroupNorm(8, 32) (4 channels per group)
and ctpipe's decoder is built with 8 groups.

HF -> mmdet tensor names (under `decode_head.pixel_decoder.`):
  input_projections.{i}.0.{weight,bias}      -> input_convs.{i}.conv.{weight,bias}
  input_projections.{i}.1.{weight,bias}      -> input_convs.{i}.gn.{weight,bias}
  level_embed                                -> level_encoding.weight
  encoder.layers.{k}.self_attn.X.{weight,bias} -> encoder.layers.{k}.self_attn.X.{weight,bias}
      (X: sampling_offsets, attention_weights, value_proj, output_proj)
  encoder.layers.{k}.self_attn_layer_norm.*  -> encoder.layers.{k}.norms.0.*
  encoder.layers.{k}.fc1.*                   -> encoder.layers.{k}.ffn.layers.0.0.*
  encoder.layers.{k}.fc2.*                   -> encoder.layers.{k}.ffn.layers.1.*
  encoder.layers.{k}.final_layer_norm.*      -> encoder.layers.{k}.norms.1.*
  adapter_1.0.weight                         -> lateral_convs.0.conv.weight   (no bias in either)
  adapter_1.1.{weight,bias}                  -> lateral_convs.0.gn.{weight,bias}
  layer_1.0.weight                           -> output_convs.0.conv.weight    (no bias in either)
  layer_1.1.{weight,bias}                    -> output_convs.0.gn.{weight,bias}
  mask_projection.{weight,bias}              -> mask_feature.{weight,bias}

Also plain Conv2d (kernel 1, 3, 5; padding k // 2) and GroupNorm fixtures
against torch.nn.functional.

Weights are drawn, rounded to float32, and the reference runs in float64 on
those values; everything is saved as float32. Run once from the repository
root (needs torch, transformers, safetensors):
    python3 scripts/make_pixel_decoder_fixtures.py
Outputs go to Tests/ModelTests/Fixtures/pixel_decoder; they are committed.
"""
import os
import re

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from transformers import Mask2FormerConfig
from transformers.models.mask2former.modeling_mask2former import Mask2FormerPixelDecoder

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests/ModelTests/Fixtures/pixel_decoder")
PREFIX = "decode_head.pixel_decoder."
torch.manual_seed(20260312)
GEN = torch.Generator().manual_seed(7)


def f32(t):
    """float32 values held as float64 (the precision the reference runs in)."""
    return t.detach().to(torch.float32).to(torch.float64)


def randn(*shape, scale=1.0, mean=0.0):
    return f32(mean + scale * torch.randn(*shape, generator=GEN, dtype=torch.float64))


def save_npy(name, array):
    np.save(os.path.join(OUT, name), np.ascontiguousarray(np.asarray(array, dtype=np.float32)))


NAME_MAP = [
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


def mmdet_name(hf):
    for pattern, repl in NAME_MAP:
        if re.fullmatch(pattern, hf):
            return re.sub(pattern, repl, hf)
    raise KeyError(f"no mmdet name for {hf}")


def pixel_decoder_fixture():
    channels, mask_channels, heads, layers, ffn, groups = 32, 24, 4, 2, 64, 8
    in_channels = [8, 12, 16, 20]
    sizes = [(24, 32), (12, 16), (6, 8), (3, 4)]      # strides 4, 8, 16, 32 of a 96 x 128 image
    config = Mask2FormerConfig(feature_size=channels, mask_feature_size=mask_channels, encoder_layers=layers,
                               encoder_feedforward_dim=ffn, num_attention_heads=heads, common_stride=4,
                               feature_strides=[4, 8, 16, 32], dropout=0.0)
    model = Mask2FormerPixelDecoder(config, feature_channels=in_channels)
    # mmdet's norm_cfg group count (see the file comment).
    for parent in model.modules():
        for name, child in parent.named_children():
            if isinstance(child, torch.nn.GroupNorm):
                setattr(parent, name, torch.nn.GroupNorm(groups, child.num_channels, eps=child.eps))
    model = model.to(torch.float64).eval()

    tensors = {}
    with torch.no_grad():
        for name, p in model.named_parameters():
            shape = tuple(p.shape)
            if p.dim() == 1 and re.search(r"(norm|\.1)\.weight$", name):   # LayerNorm and GroupNorm scales
                value = randn(*shape, scale=0.2, mean=1.0)
            elif name == "level_embed":
                value = randn(*shape)
            elif "sampling_offsets" in name:
                # offsets of a few pixels, some falling outside the maps (zero padding)
                value = randn(*shape, scale=(2.0 if name.endswith("bias") else 0.6 / channels ** 0.5))
            elif p.dim() == 1:
                value = randn(*shape, scale=0.1)
            else:
                fan_in = int(np.prod(shape[1:]))
                value = randn(*shape, scale=1.0 / fan_in ** 0.5)
            p.copy_(value)
            tensors[PREFIX + mmdet_name(name)] = value.to(torch.float32).contiguous()
    hf_names = set(dict(model.named_parameters()).keys()) | set(dict(model.named_buffers()).keys())
    assert len(tensors) == len(hf_names), "every HF tensor is mapped once"

    features = [randn(1, c, h, w) for c, (h, w) in zip(in_channels, sizes)]
    with torch.no_grad():
        out = model(features)
    save_file(tensors, os.path.join(OUT, "decoder.safetensors"))
    for i, x in enumerate(features):
        save_npy(f"input{i}.npy", x[0])
    save_npy("mask_features.npy", out.mask_features[0])
    # token-major (h·w, C) per level, lowest resolution first, concatenated
    memory = torch.cat([m[0].flatten(1).transpose(0, 1) for m in out.multi_scale_features], 0)
    save_npy("multi_scale.npy", memory)
    print("decoder:", len(tensors), "tensors,", sum(t.numel() for t in tensors.values()), "values;",
          "multi-scale", [tuple(m.shape) for m in out.multi_scale_features], "mask", tuple(out.mask_features.shape))


def layer_fixtures():
    cin, cout, h, w = 5, 7, 6, 9
    x = randn(cin, h, w)
    save_npy("conv_input.npy", x)
    for k in (1, 3, 5):
        weight, bias = randn(cout, cin, k, k, scale=0.3), randn(cout, scale=0.1)
        y = F.conv2d(x[None], weight, bias, padding=k // 2)[0]
        save_npy(f"conv{k}_weight.npy", weight)
        save_npy(f"conv{k}_bias.npy", bias)
        save_npy(f"conv{k}_output.npy", y)
    c, groups = 12, 3
    x = randn(c, h, w, scale=2.0, mean=0.5)
    weight, bias = randn(c, scale=0.2, mean=1.0), randn(c, scale=0.1)
    save_npy("group_norm_input.npy", x)
    save_npy("group_norm_weight.npy", weight)
    save_npy("group_norm_bias.npy", bias)
    save_npy("group_norm_output.npy", F.group_norm(x[None], groups, weight, bias, eps=1e-5)[0])


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    pixel_decoder_fixture()
    layer_fixtures()
