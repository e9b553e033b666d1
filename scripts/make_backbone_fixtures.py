#!/usr/bin/env python3
"""make_backbone_fixtures.py — golden fixtures for the Tensor and Model tests.

Builds tiny random-weight DINOv2 models with HuggingFace transformers
(Dinov2Model, Dinov2WithRegistersModel, one SwiGLU variant), saves each as
HF safetensors (+ config.json), and the small one also as a facebookresearch
`.pth` (torch.save of the state dict under official names; float32 and float16)
and as an MMSegmentation checkpoint (`state_dict` with `backbone.` names).
Runs them in PyTorch and saves inputs and outputs (hidden state after every
block, final norm) as .npy. Also golden `torch.nn.functional.interpolate`
outputs with the exact arguments of the official DINOv2 position-embedding
resize (both flavours) and of the 14 -> 16 patch conversion, and a few
malformed `.pth` files for the error tests.

Run once from the repository root (needs torch, transformers, numpy):
    python3 scripts/make_backbone_fixtures.py
Outputs go to Tests/ModelTests/Fixtures/backbone and
Tests/TensorTests/Fixtures/interpolate; they are committed.
"""
import collections
import io
import json
import math
import os
import zipfile

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from transformers import (Dinov2Config, Dinov2Model, Dinov2WithRegistersConfig,
                          Dinov2WithRegistersModel)
from transformers.models.dinov2 import modeling_dinov2

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL_OUT = os.path.join(ROOT, "Tests/ModelTests/Fixtures/backbone")
INTERP_OUT = os.path.join(ROOT, "Tests/TensorTests/Fixtures/interpolate")


def save_npy(folder, name, array):
    np.save(os.path.join(folder, name), np.ascontiguousarray(np.asarray(array, dtype=np.float32)))


def randomise(model, generator):
    """Replace every parameter with values that make each term matter."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            shape = p.shape
            r = torch.randn(shape, generator=generator)
            if name.endswith("lambda1"):
                p.copy_(0.5 + 0.3 * r)
            elif "norm" in name and name.endswith("weight"):
                p.copy_(1.0 + 0.2 * r)
            elif name.endswith("bias"):
                p.copy_(0.1 * r)
            elif p.dim() >= 2 and "embeddings" not in name.split(".")[-2:][0]:
                fan_in = int(np.prod(shape[1:]))
                p.copy_(r / math.sqrt(fan_in))
            else:
                p.copy_(0.5 * r)


def official_interpolate_pos_encoding(self, embeddings, height, width):
    """facebookresearch/dinov2 interpolate_pos_encoding for models without
    registers: scale_factor with the +0.1 offset, no antialias."""
    npatch = embeddings.shape[1] - 1
    N = self.position_embeddings.shape[1] - 1
    if npatch == N and width == height:
        return self.position_embeddings
    pos_embed = self.position_embeddings.float()
    class_pos_embed = pos_embed[:, 0]
    patch_pos_embed = pos_embed[:, 1:]
    dim = embeddings.shape[-1]
    h0 = height // self.patch_size
    w0 = width // self.patch_size
    M = int(math.sqrt(N))
    assert N == M * M
    sx = float(h0 + 0.1) / M
    sy = float(w0 + 0.1) / M
    patch_pos_embed = F.interpolate(
        patch_pos_embed.reshape(1, M, M, dim).permute(0, 3, 1, 2),
        scale_factor=(sx, sy), mode="bicubic", antialias=False)
    assert (h0, w0) == patch_pos_embed.shape[-2:]
    patch_pos_embed = patch_pos_embed.permute(0, 2, 3, 1).view(1, -1, dim)
    return torch.cat((class_pos_embed.unsqueeze(0), patch_pos_embed), dim=1)


def hf_to_official(state, depth):
    """HF hub names -> facebookresearch names (method.md section 1)."""
    out = collections.OrderedDict()
    out["cls_token"] = state["embeddings.cls_token"]
    out["pos_embed"] = state["embeddings.position_embeddings"]
    if "embeddings.register_tokens" in state:
        out["register_tokens"] = state["embeddings.register_tokens"]
    out["mask_token"] = state["embeddings.mask_token"]
    out["patch_embed.proj.weight"] = state["embeddings.patch_embeddings.projection.weight"]
    out["patch_embed.proj.bias"] = state["embeddings.patch_embeddings.projection.bias"]
    for i in range(depth):
        h = f"encoder.layer.{i}."
        o = f"blocks.{i}."
        out[o + "norm1.weight"] = state[h + "norm1.weight"]
        out[o + "norm1.bias"] = state[h + "norm1.bias"]
        for kind in ("weight", "bias"):
            out[o + "attn.qkv." + kind] = torch.cat(
                [state[h + f"attention.attention.{n}.{kind}"] for n in ("query", "key", "value")], 0)
        out[o + "attn.proj.weight"] = state[h + "attention.output.dense.weight"]
        out[o + "attn.proj.bias"] = state[h + "attention.output.dense.bias"]
        out[o + "ls1.gamma"] = state[h + "layer_scale1.lambda1"]
        out[o + "norm2.weight"] = state[h + "norm2.weight"]
        out[o + "norm2.bias"] = state[h + "norm2.bias"]
        if h + "mlp.fc1.weight" in state:
            for n in ("fc1", "fc2"):
                for kind in ("weight", "bias"):
                    out[o + f"mlp.{n}.{kind}"] = state[h + f"mlp.{n}.{kind}"]
        else:
            for kind in ("weight", "bias"):
                out[o + f"mlp.w12.{kind}"] = state[h + f"mlp.weights_in.{kind}"]
                out[o + f"mlp.w3.{kind}"] = state[h + f"mlp.weights_out.{kind}"]
        out[o + "ls2.gamma"] = state[h + "layer_scale2.lambda1"]
    out["norm.weight"] = state["layernorm.weight"]
    out["norm.bias"] = state["layernorm.bias"]
    return out


def hub_state_dict(model, folder):
    """The tensors exactly as save_pretrained writes them (hub names)."""
    from safetensors.torch import load_file
    model.save_pretrained(folder)
    for extra in ("generation_config.json",):
        path = os.path.join(folder, extra)
        if os.path.exists(path):
            os.remove(path)
    state = load_file(os.path.join(folder, "model.safetensors"))
    return {k: v.clone() for k, v in state.items()}


def run_model(model, pixels, name, folder):
    with torch.no_grad():
        out = model(pixel_values=pixels, output_hidden_states=True)
    states = out.hidden_states
    save_npy(folder, f"{name}_input.npy", pixels[0].numpy())
    for i, s in enumerate(states[1:]):
        save_npy(folder, f"{name}_block{i}.npy", s[0].numpy())
    save_npy(folder, f"{name}_embeddings.npy", states[0][0].numpy())
    save_npy(folder, f"{name}_final.npy", out.last_hidden_state[0].numpy())


def make_photo(height, width, generator):
    """A smooth RGB test picture with some noise (uint8, RGB order)."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    noise = torch.rand(height, width, 3, generator=generator).numpy() * 40
    image = np.stack([128 + 100 * np.sin(x / 7), 128 + 100 * np.cos(y / 5), 255 * x / width], axis=2) + noise
    return np.clip(image, 0, 255).astype(np.uint8)


def make_models(generator):
    global SQUARE_INPUT
    os.makedirs(MODEL_OUT, exist_ok=True)
    SQUARE_INPUT = torch.randn(1, 3, 42, 42, generator=generator)

    # 1. Plain DINOv2: C = 16, 2 heads, 2 blocks, patch 14, stored grid 3 x 3.
    config = Dinov2Config(hidden_size=16, num_hidden_layers=2, num_attention_heads=2, mlp_ratio=4,
                          patch_size=14, image_size=42, layer_norm_eps=1e-6, hidden_act="gelu")
    model = Dinov2Model(config).eval()
    randomise(model, generator)
    small = os.path.join(MODEL_OUT, "small")
    state = hub_state_dict(model, small)
    # Official interpolation (the numerical contract): grid 2 x 3 (down), 5 x 2 (up and down),
    # and the stored 3 x 3 (no resize).
    original = modeling_dinov2.Dinov2Embeddings.interpolate_pos_encoding
    modeling_dinov2.Dinov2Embeddings.interpolate_pos_encoding = official_interpolate_pos_encoding
    try:
        run_model(model, torch.randn(1, 3, 28, 42, generator=generator), "small_28x42", MODEL_OUT)
        run_model(model, torch.randn(1, 3, 70, 28, generator=generator), "small_70x28", MODEL_OUT)
        run_model(model, SQUARE_INPUT, "small_42x42", MODEL_OUT)
    finally:
        modeling_dinov2.Dinov2Embeddings.interpolate_pos_encoding = original
    # The `ctpipe features --image` path: a PNG, cv2.resize INTER_LINEAR to 28 x 42,
    # ImageNet normalisation (method.md §5), the official forward.
    photo = make_photo(40, 60, torch.Generator().manual_seed(99))   # own stream: other fixtures unchanged
    cv2.imwrite(os.path.join(MODEL_OUT, "photo_40x60.png"), photo[:, :, ::-1])
    resized = cv2.resize(photo, (42, 28), interpolation=cv2.INTER_LINEAR).astype(np.float32)
    mean = np.array([123.675, 116.28, 103.53], np.float32)
    std = np.array([58.395, 57.12, 57.375], np.float32)
    normalised = torch.from_numpy(((resized - mean) / std).transpose(2, 0, 1).copy())[None]
    modeling_dinov2.Dinov2Embeddings.interpolate_pos_encoding = official_interpolate_pos_encoding
    try:
        with torch.no_grad():
            out = model(pixel_values=normalised).last_hidden_state
    finally:
        modeling_dinov2.Dinov2Embeddings.interpolate_pos_encoding = original
    save_npy(MODEL_OUT, "photo_28x42_final.npy", out[0].numpy())

    # HF's own resize (size=, no offset, no antialias), for the `.size` flavour.
    pixels = torch.from_numpy(np.load(os.path.join(MODEL_OUT, "small_28x42_input.npy")))[None]
    with torch.no_grad():
        hf = model(pixel_values=pixels).last_hidden_state
    save_npy(MODEL_OUT, "small_28x42_hfsize_final.npy", hf[0].numpy())

    official = hf_to_official(state, config.num_hidden_layers)
    torch.save(official, os.path.join(MODEL_OUT, "small_official.pth"))
    # The MMSeg checkpoint doubles as the float16 variant (storages upcast on load).
    mmseg_state = collections.OrderedDict(("backbone." + k, v.half()) for k, v in official.items())
    mmseg_state["backbone.reins.learnable_tokens"] = torch.zeros(2, 3, 16)
    mmseg_state["backbone.reins.scale"] = torch.tensor(1e-3)
    mmseg_state["decode_head.conv_seg.weight"] = torch.zeros(19, 16, 1, 1)
    mmseg = {
        "meta": {"mmseg_version": "1.2.2", "epoch": 1, "iter": 40000, "seed": np.int64(7),
                 "dataset_meta": {"classes": ("road", "sidewalk"), "palette": [[128, 64, 128], [244, 35, 232]]},
                 "lr": 1e-4, "ok": True, "nothing": None, "blob": b"\x00\x01"},
        "state_dict": mmseg_state,
    }
    torch.save(mmseg, os.path.join(MODEL_OUT, "small_mmseg.pth"))

    # 2. With 4 registers: C = 16, 2 heads, 2 blocks, grid 3 x 3; HF = official `_reg` resize.
    config = Dinov2WithRegistersConfig(hidden_size=16, num_hidden_layers=2, num_attention_heads=2, mlp_ratio=4,
                                       patch_size=14, image_size=42, num_register_tokens=4, layer_norm_eps=1e-6)
    model = Dinov2WithRegistersModel(config).eval()
    randomise(model, generator)
    hub_state_dict(model, os.path.join(MODEL_OUT, "reg"))
    run_model(model, torch.randn(1, 3, 42, 56, generator=generator), "reg_42x56", MODEL_OUT)

    # 3. SwiGLU FFN (the vitg14 block): C = 16, 2 heads, 1 block.
    config = Dinov2Config(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, mlp_ratio=4,
                          patch_size=14, image_size=42, use_swiglu_ffn=True)
    model = Dinov2Model(config).eval()
    randomise(model, generator)
    hub_state_dict(model, os.path.join(MODEL_OUT, "swiglu"))
    run_model(model, SQUARE_INPUT, "swiglu_42x42", MODEL_OUT)
    os.remove(os.path.join(MODEL_OUT, "swiglu_42x42_input.npy"))  # same as small_42x42_input.npy


def write_zip(path, entries):
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as z:
        for name, data in entries:
            z.writestr(zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0)), data)


def make_bad_files():
    # A pickle using the text INT opcode ('I'), which torch.save never writes.
    bad_pickle = b"\x80\x02}q\x00X\x01\x00\x00\x00aq\x01I7\ns."
    write_zip(os.path.join(MODEL_OUT, "bad_opcode.pth"),
              [("archive/data.pkl", bad_pickle), ("archive/version", b"3\n")])
    # A pickle that calls a global outside torch's tensor-rebuild set as the state dict.
    evil = b"\x80\x02cos\nsystem\nq\x00X\x04\x00\x00\x00trueq\x01\x85q\x02Rq\x03."
    write_zip(os.path.join(MODEL_OUT, "bad_global.pth"),
              [("archive/data.pkl", evil), ("archive/version", b"3\n")])
    # The legacy (pre-1.6, non-zip) torch.save format.
    buffer = io.BytesIO()
    torch.save({"x": torch.zeros(2)}, buffer, _use_new_zipfile_serialization=False)
    with open(os.path.join(MODEL_OUT, "legacy_format.pth"), "wb") as f:
        f.write(buffer.getvalue())


def bicubic(grid_hwc, **kwargs):
    x = torch.from_numpy(grid_hwc).permute(2, 0, 1)[None]
    y = F.interpolate(x, mode="bicubic", align_corners=False, **kwargs)
    return y[0].permute(1, 2, 0).contiguous().numpy()


def make_interpolation(generator):
    os.makedirs(INTERP_OUT, exist_ok=True)
    big = torch.randn(37, 37, 2, generator=generator).numpy()     # the released 37 x 37 grid, 2 channels
    small = torch.randn(5, 7, 3, generator=generator).numpy()
    save_npy(INTERP_OUT, "grid37.npy", big)
    save_npy(INTERP_OUT, "grid5x7.npy", small)
    cases = {}
    for name, grid, (h, w) in (("grid37", big, (24, 40)), ("grid5x7", small, (9, 13)), ("grid5x7", small, (3, 4))):
        G_h, G_w = grid.shape[:2]
        tag = f"{name}_to_{h}x{w}"
        # Official non-register flavour: scale_factor with the +0.1 offset.
        out = bicubic(grid, scale_factor=((h + 0.1) / G_h, (w + 0.1) / G_w), antialias=False)
        assert out.shape[:2] == (h, w)
        save_npy(INTERP_OUT, f"{tag}_offset.npy", out)
        # `_reg` flavour: size=, antialias=True.
        save_npy(INTERP_OUT, f"{tag}_antialias.npy", bicubic(grid, size=(h, w), antialias=True))
        # HF Dinov2Model / conversion flavour: size=, no antialias.
        save_npy(INTERP_OUT, f"{tag}_size.npy", bicubic(grid, size=(h, w), antialias=False))
        cases[tag] = [h, w]
    # Rein-style conversion: position grid 37 -> 32, kernel 14 -> 16 (size=, no antialias).
    save_npy(INTERP_OUT, "grid37_to_32x32_size.npy", bicubic(big, size=(32, 32), antialias=False))
    kernel = torch.randn(2, 3, 14, 14, generator=generator)
    save_npy(INTERP_OUT, "kernel14.npy", kernel.numpy())
    save_npy(INTERP_OUT, "kernel14_to_16.npy",
             F.interpolate(kernel, size=(16, 16), mode="bicubic", align_corners=False).numpy())
    with open(os.path.join(INTERP_OUT, "cases.json"), "w") as f:
        json.dump(cases, f, indent=1, sort_keys=True)


def main():
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(1234)
    make_interpolation(generator)
    make_models(generator)
    make_bad_files()
    total = 0
    for folder in (MODEL_OUT, INTERP_OUT):
        for root, _, files in os.walk(folder):
            total += sum(os.path.getsize(os.path.join(root, f)) for f in files)
    print(f"fixtures written: {total / 1024:.0f} KiB in total")


if __name__ == "__main__":
    main()
