#!/usr/bin/env python3
"""make_rein_init_fixtures.py — the initialisation bounds of Rein's adapter
tokens (method.md §2.1, docs/causal-tune.md), from a replay of the released
modules' `create_model` (w1oves/Rein, rein/models/backbones/reins.py):

  * `Reins`: learnable_tokens (L, m, C) uniform(-v, v),
        v = sqrt(6 / (3 * patch_size * patch_size + embed_dims));
  * `LoRAReins` (lora_dim r): learnable_tokens_a (L, m, r) and
        learnable_tokens_b (L, r, C), both uniform(-v_r, v_r),
        v_r = sqrt(6 / (3 * patch_size * patch_size + (embed_dims * lora_dim) ** 0.5)).

The replay builds the tensors with torch.nn.init.uniform_ exactly as the
released code does, reads back the bound it used, and checks that the tensors
lie inside it and fill it. Cases: the paper's DINOv2 ViT-L (C 1024, 24 layers,
100 tokens, lora_dim 16 as the released configs), ViT-S and ViT-B with rank 16,
the `tiny` backbone of ctpipe's synthetic runs (C 192, 6 layers) with ranks 16
and 4, and a small case; patch_size 16 everywhere (the configs' value).

Run once from the repository root (needs torch):
    python3 scripts/make_rein_init_fixtures.py
Output: Tests/ModelTests/Fixtures/rein_init/bounds.json (committed).
"""
import json
import math
import os
from functools import reduce
from operator import mul

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests/ModelTests/Fixtures/rein_init")


class ReinsTokens(torch.nn.Module):
    """The token part of Reins.create_model (patch_size, embed_dims, num_layers, token_length)."""

    def __init__(self, num_layers, embed_dims, patch_size, token_length):
        super().__init__()
        self.learnable_tokens = torch.nn.Parameter(torch.empty([num_layers, token_length, embed_dims]))
        self.val = math.sqrt(6.0 / float(3 * reduce(mul, (patch_size, patch_size), 1) + embed_dims))
        torch.nn.init.uniform_(self.learnable_tokens.data, -self.val, self.val)


class LoRAReinsTokens(torch.nn.Module):
    """The token part of LoRAReins.create_model."""

    def __init__(self, num_layers, embed_dims, patch_size, token_length, lora_dim):
        super().__init__()
        self.learnable_tokens_a = torch.nn.Parameter(torch.empty([num_layers, token_length, lora_dim]))
        self.learnable_tokens_b = torch.nn.Parameter(torch.empty([num_layers, lora_dim, embed_dims]))
        self.val = math.sqrt(6.0 / float(3 * reduce(mul, (patch_size, patch_size), 1) + (embed_dims * lora_dim) ** 0.5))
        torch.nn.init.uniform_(self.learnable_tokens_a.data, -self.val, self.val)
        torch.nn.init.uniform_(self.learnable_tokens_b.data, -self.val, self.val)


CASES = [  # (name, embed_dims, num_layers, token_length, lora_dim)
    ("vitl14", 1024, 24, 100, 16),
    ("vitb14", 768, 12, 100, 16),
    ("vits14", 384, 12, 100, 16),
    ("tiny", 192, 6, 100, 16),
    ("tiny-r4", 192, 6, 20, 4),
    ("small", 64, 3, 100, 4),
]
PATCH = 16


def main():
    torch.manual_seed(16)
    os.makedirs(OUT, exist_ok=True)
    cases = []
    for name, c, layers, m, r in CASES:
        full = ReinsTokens(layers, c, PATCH, m)
        lora = LoRAReinsTokens(layers, c, PATCH, m, r)
        for tensor, bound in [(full.learnable_tokens, full.val), (lora.learnable_tokens_a, lora.val),
                              (lora.learnable_tokens_b, lora.val)]:
            top = float(tensor.detach().abs().max())
            assert top <= bound and top > 0.95 * bound, (name, top, bound)
        cases.append({"name": name, "embed_dims": c, "num_layers": layers, "token_length": m, "lora_dim": r,
                      "patch_size": PATCH, "full_bound": full.val, "lora_bound": lora.val})
        print(f"{name}: C {c}, r {r}: Reins bound {full.val:.9f}, LoRAReins bound {lora.val:.9f}")
    with open(os.path.join(OUT, "bounds.json"), "w") as f:
        json.dump({"source": "w1oves/Rein rein/models/backbones/reins.py (Reins, LoRAReins create_model), replayed",
                   "cases": cases}, f, indent=1)


if __name__ == "__main__":
    main()
