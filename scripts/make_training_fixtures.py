#!/usr/bin/env python3
"""make_training_fixtures.py — golden fixtures for the Training tests.

A reference implementation of method.md §1–4 in PyTorch (float64, autograd):
  * a tiny DINOv2 (official parameter names) with the Causal-Tune / Rein adapter
    after every block (the DCT as explicit orthonormal cosine matrices, checked
    against scipy) and the linear head (per-block LayerNorm, Linear 4C -> K,
    F.interpolate bilinear, align_corners=False);
  * cross-entropy with ignore index 255, averaged over the non-ignored pixels
    of the whole batch (F.cross_entropy(..., ignore_index=255, reduction="sum") / count);
  * the gradient of that loss for every trainable tensor, from torch.autograd,
    for a batch of two images: frozen backbone with Causal-Tune (full and
    low-rank tokens, a non-square grid), Rein, no adapter, and full
    fine-tuning (trainable backbone);
  * torch.optim.AdamW steps (two parameter groups: decay 0.05 and 0) under a
    poly schedule with warm-up, as ctpipe's optimiser runs them.

Models are written as ctpipe checkpoints (safetensors, Rein/MMSeg names,
configuration JSON under the `ctpipe.config` metadata key); gradients as
safetensors under the same names.

Run once from the repository root (needs numpy, scipy, torch, safetensors):
    python3 scripts/make_training_fixtures.py
Outputs go to Tests/TrainingTests/Fixtures (committed, ~150 KB).
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
OUT = os.path.join(ROOT, "Tests/TrainingTests/Fixtures")
torch.set_default_dtype(torch.float64)

C, DEPTH, HEADS, PATCH, HIDDEN, K, REGS = 16, 3, 2, 4, 32, 5, 1
HEAD_BLOCKS = [0, 1, 2, 2]


def dct_matrix(n):
    """Orthonormal DCT-II matrix D (n x n): F = D f."""
    k = torch.arange(n)[:, None].double()
    x = torch.arange(n)[None, :].double()
    d = torch.cos(math.pi * (2 * x + 1) * k / (2 * n))
    a = torch.full((n, 1), math.sqrt(2 / n))
    a[0, 0] = math.sqrt(1 / n)
    return a * d


def dct2(f, h, w):
    return torch.einsum("ux,vy,xyc->uvc", dct_matrix(h), dct_matrix(w), f.reshape(h, w, -1)).reshape(h * w, -1)


def idct2(f, h, w):
    return torch.einsum("ux,vy,uvc->xyc", dct_matrix(h), dct_matrix(w), f.reshape(h, w, -1)).reshape(h * w, -1)


def mask(kind, dl, dh, h, w):
    u = np.arange(h)[:, None] / h
    v = np.arange(w)[None, :] / w
    d2 = u * u + v * v
    low = 1 - np.exp(-d2 / (2 * dl * dl))
    high = np.exp(-d2 / (2 * dh * dh))
    return {"bandpass": low * high, "lowcut": low, "highcut": high, "none": np.ones((h, w))}[kind]


def randn(gen, *shape, s=1.0):
    return (torch.randn(*shape, generator=gen) * s).float().double()


def backbone_params(gen, grid):
    t = {"cls_token": randn(gen, 1, 1, C, s=0.5), "pos_embed": randn(gen, 1, 1 + grid * grid, C, s=0.5),
         "register_tokens": randn(gen, 1, REGS, C, s=0.5),
         "patch_embed.proj.weight": randn(gen, C, 3, PATCH, PATCH, s=1 / math.sqrt(3 * PATCH * PATCH)),
         "patch_embed.proj.bias": randn(gen, C, s=0.1), "norm.weight": 1 + randn(gen, C, s=0.2), "norm.bias": randn(gen, C, s=0.1)}
    for i in range(DEPTH):
        b = f"blocks.{i}."
        t.update({b + "norm1.weight": 1 + randn(gen, C, s=0.2), b + "norm1.bias": randn(gen, C, s=0.1),
                  b + "attn.qkv.weight": randn(gen, 3 * C, C, s=1 / math.sqrt(C)), b + "attn.qkv.bias": randn(gen, 3 * C, s=0.1),
                  b + "attn.proj.weight": randn(gen, C, C, s=1 / math.sqrt(C)), b + "attn.proj.bias": randn(gen, C, s=0.1),
                  b + "ls1.gamma": 0.5 + randn(gen, C, s=0.3), b + "norm2.weight": 1 + randn(gen, C, s=0.2),
                  b + "norm2.bias": randn(gen, C, s=0.1),
                  b + "mlp.fc1.weight": randn(gen, HIDDEN, C, s=1 / math.sqrt(C)), b + "mlp.fc1.bias": randn(gen, HIDDEN, s=0.1),
                  b + "mlp.fc2.weight": randn(gen, C, HIDDEN, s=1 / math.sqrt(HIDDEN)), b + "mlp.fc2.bias": randn(gen, C, s=0.1),
                  b + "ls2.gamma": 0.5 + randn(gen, C, s=0.3)})
    return t


def adapter_params(gen, m, rank):
    p = "backbone.reins."
    t = {p + "scale": torch.tensor(0.6), p + "mlp_token2feat.weight": randn(gen, C, C, s=1 / math.sqrt(C)),
         p + "mlp_token2feat.bias": randn(gen, C, s=0.1), p + "mlp_delta_f.weight": randn(gen, C, C, s=1 / math.sqrt(C)),
         p + "mlp_delta_f.bias": randn(gen, C, s=0.1)}
    if rank == 0:
        t[p + "learnable_tokens"] = randn(gen, DEPTH, m, C, s=1.0)
    else:
        t[p + "learnable_tokens_a"] = randn(gen, DEPTH, m, rank, s=0.7)
        t[p + "learnable_tokens_b"] = randn(gen, DEPTH, rank, C, s=0.7)
    return t


def head_params(gen):
    h = {}
    for j in range(len(HEAD_BLOCKS)):
        h[f"decode_head.norms.{j}.weight"] = 1 + randn(gen, C, s=0.2)
        h[f"decode_head.norms.{j}.bias"] = randn(gen, C, s=0.1)
    h["decode_head.conv_seg.weight"] = randn(gen, K, 4 * C, s=1 / math.sqrt(4 * C))
    h["decode_head.conv_seg.bias"] = randn(gen, K, s=0.1)
    return h


def position(t, grid, h, w):
    """method.md §1.2 with the `size` flavour: F.interpolate(size=(h, w), bicubic, align_corners=False)."""
    pos = t["pos_embed"][0]
    if (h, w) == (grid, grid):
        return pos
    g = pos[1:].T.reshape(1, C, grid, grid)
    g = F.interpolate(g, size=(h, w), mode="bicubic", align_corners=False)[0].reshape(C, h * w).T
    return torch.cat([pos[:1], g])


def block(t, i, x):
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


def adapter(t, spec, f, layer, h, w):
    """method.md §2.1 (causal-tune) / §2.2 (rein)."""
    kind, filt, dl, dh, m, rank = spec
    p = "backbone.reins."
    tok = t[p + "learnable_tokens"][layer] if rank == 0 else t[p + "learnable_tokens_a"][layer] @ t[p + "learnable_tokens_b"][layer]
    if kind == "causal-tune":
        fc = dct2(f, h, w) * torch.from_numpy(mask(filt, dl, dh, h, w)).reshape(h * w, 1)
    else:
        fc = f
    s = torch.softmax(fc @ tok.T / math.sqrt(C), dim=-1)
    z = s[:, 1:] @ F.linear(tok[1:], t[p + "mlp_token2feat.weight"], t[p + "mlp_token2feat.bias"]) + fc
    d = F.linear(z, t[p + "mlp_delta_f.weight"], t[p + "mlp_delta_f.bias"])
    if kind == "causal-tune":
        d = idct2(d, h, w)
    return f + t[p + "scale"] * d


def forward(t, spec, grid, image):
    """image (3, H, W) normalised -> logits (K, H, W)."""
    hh, ww = image.shape[1] // PATCH, image.shape[2] // PATCH
    pos = position(t, grid, hh, ww)
    p = F.conv2d(image[None], t["patch_embed.proj.weight"], t["patch_embed.proj.bias"], stride=PATCH)[0]
    p = p.reshape(C, -1).T + pos[1:]
    x = torch.cat([t["cls_token"][0] + pos[:1], t["register_tokens"][0], p])
    first = 1 + REGS
    feats = {}
    for i in range(max(HEAD_BLOCKS) + 1):
        x = block(t, i, x)
        if spec[0] != "none":
            x = torch.cat([x[:first], adapter(t, spec, x[first:], i, hh, ww)])
        feats[i] = x[first:]
    normed = [F.layer_norm(feats[b], (C,), t[f"decode_head.norms.{j}.weight"], t[f"decode_head.norms.{j}.bias"], eps=1e-6)
              for j, b in enumerate(HEAD_BLOCKS)]
    logits = F.linear(torch.cat(normed, dim=1), t["decode_head.conv_seg.weight"], t["decode_head.conv_seg.bias"])
    planes = logits.T.reshape(1, K, hh, ww)
    return F.interpolate(planes, size=image.shape[1:], mode="bilinear", align_corners=False)[0]


def config_json(spec, grid, trainable):
    kind, filt, dl, dh, m, rank = spec
    return json.dumps({"version": 1, "backbone_name": "tiny",
                       "backbone": {"embed_dim": C, "depth": DEPTH, "heads": HEADS, "patch_size": PATCH, "registers": REGS,
                                    "grid_size": grid, "ffn_hidden": HIDDEN, "ffn": "mlp", "interpolation": "size",
                                    "layer_norm_eps": 1e-6},
                       "trainable": trainable,
                       "adapter": {"kind": kind, "filter": filt, "dl": dl, "dh": dh, "tokens": m, "rank": rank},
                       "head": {"blocks": HEAD_BLOCKS, "classes": K, "layer_norm_eps": 1e-6}})


def f32(d):
    return {k: v.detach().float().contiguous() for k, v in d.items()}


# (name, (kind, filter, dl, dh, tokens, rank), grid, image H, W, trainable)
CASES = [("ct_full", ("causal-tune", "bandpass", 0.3, 0.6, 6, 0), 4, 16, 20, False),
         ("ct_lowrank", ("causal-tune", "lowcut", 0.2, 0.7, 5, 3), 4, 16, 16, False),
         ("rein", ("rein", "bandpass", 0.2, 0.7, 6, 0), 4, 20, 16, False),
         ("none", ("none", "bandpass", 0.2, 0.7, 100, 0), 4, 16, 16, False),
         ("ct_trainable", ("causal-tune", "highcut", 0.2, 0.7, 4, 0), 4, 16, 16, True)]


def gradient_fixtures():
    gen = torch.Generator().manual_seed(2024)
    index = []
    for name, spec, grid, H, W, trainable in CASES:
        backbone = backbone_params(gen, grid)
        params = {"backbone." + k: v for k, v in backbone.items()}
        if spec[0] != "none":
            params.update(adapter_params(gen, spec[4], spec[5]))
        params.update(head_params(gen))
        # Two images; labels with ignored pixels (255), one class never present.
        images = [randn(gen, 3, H, W) for _ in range(2)]
        labels = [torch.randint(0, K - 1, (H, W), generator=gen) for _ in range(2)]
        for lab in labels:
            lab[torch.rand(H, W, generator=gen) < 0.2] = 255
        leaves = {k: v.clone().requires_grad_(True) for k, v in params.items()}
        t = {k[len("backbone."):] if k.startswith("backbone.") and not k.startswith("backbone.reins.") else k: v
             for k, v in leaves.items()}
        total, count = 0, 0
        for img, lab in zip(images, labels):
            logits = forward(t, spec, grid, img)
            total = total + F.cross_entropy(logits[None], lab[None], ignore_index=255, reduction="sum")
            count += int((lab != 255).sum())
        loss = total / count
        loss.backward()
        trainable_names = [k for k in leaves if not k.startswith("backbone.") or k.startswith("backbone.reins.")]
        if trainable:
            used = [f"blocks.{i}." for i in range(max(HEAD_BLOCKS) + 1)]
            trainable_names += [k for k in leaves if k.startswith("backbone.") and not k.startswith("backbone.reins.")
                                and not k.startswith("backbone.norm.") and
                                (not k.startswith("backbone.blocks.") or any(k.startswith("backbone." + u) for u in used))]
        grads = {k: leaves[k].grad.reshape(leaves[k].shape) for k in trainable_names}
        stored = dict(params)
        stored["decode_head.conv_seg.weight"] = stored["decode_head.conv_seg.weight"].reshape(K, 4 * C, 1, 1)
        save_file(f32(stored), os.path.join(OUT, f"{name}.safetensors"),
                  metadata={"ctpipe.config": config_json(spec, grid, trainable)})
        save_file(f32(grads), os.path.join(OUT, f"{name}_grads.safetensors"))
        for i, (img, lab) in enumerate(zip(images, labels)):
            np.save(os.path.join(OUT, f"{name}_image{i}.npy"), img.float().numpy())
            np.save(os.path.join(OUT, f"{name}_label{i}.npy"), lab.to(torch.uint8).numpy())
        index.append({"name": name, "height": H, "width": W, "loss": float(loss.detach()), "pixels": count,
                      "tensors": len(grads)})
        print(f"{name}: loss {float(loss.detach()):.6f}, {len(grads)} gradient tensors")
    with open(os.path.join(OUT, "gradient_cases.json"), "w") as f:
        json.dump(index, f, indent=1)


def adamw_fixture():
    """torch.optim.AdamW (single-tensor CPU path) in float32, two groups, poly lr with warm-up."""
    torch.set_default_dtype(torch.float32)
    gen = torch.Generator().manual_seed(5)
    shapes = {"w": (4, 3), "b": (3,), "norm": (5,)}
    params = {k: torch.randn(*s, generator=gen).requires_grad_(True) for k, s in shapes.items()}
    initial = {k: v.detach().clone() for k, v in params.items()}
    lr, wd, betas, eps = 1e-2, 0.05, (0.9, 0.999), 1e-8
    opt = torch.optim.AdamW([{"params": [params["w"], params["b"]], "weight_decay": wd},
                             {"params": [params["norm"]], "weight_decay": 0.0}], lr=lr, betas=betas, eps=eps)
    total, warmup, power = 6, 2, 0.9
    out = {f"initial.{k}": v for k, v in initial.items()}
    lrs = []
    for step in range(4):
        factor = (1 - step / total) ** power * (min(1.0, (step + 1) / warmup))
        for g in opt.param_groups:
            g["lr"] = lr * factor
        lrs.append(lr * factor)
        for k, p in params.items():
            p.grad = torch.randn(*shapes[k], generator=gen) * (0.1 if step % 2 else 3.0)
            out[f"grad{step}.{k}"] = p.grad.clone()
        opt.step()
        for k, p in params.items():
            out[f"step{step}.{k}"] = p.detach().clone()
    save_file({k: v.contiguous() for k, v in out.items()}, os.path.join(OUT, "adamw_steps.safetensors"),
              metadata={"lr": str(lr), "weight_decay": str(wd), "eps": str(eps), "total": str(total), "warmup": str(warmup),
                        "power": str(power), "lrs": json.dumps(lrs)})
    torch.set_default_dtype(torch.float64)


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    probe = torch.randn(4 * 5, 3)
    ref = scipy.fft.dctn(probe.numpy().reshape(4, 5, 3), type=2, axes=(0, 1), norm="ortho").reshape(20, 3)
    assert np.abs(dct2(probe, 4, 5).numpy() - ref).max() < 1e-12
    gradient_fixtures()
    adamw_fixture()
    print("written to", OUT)
