#!/usr/bin/env python3
"""make_released_adapter_fixtures.py — golden fixtures for the adapters as the
authors released them (docs/causal-tune.md, "Released adapters").

A PyTorch replay of the released modules, written for ctpipe from reading the
released sources (w1oves/Rein and zhangyin1996/Causal-Tune,
rein/models/backbones/reins.py):

  * Rein `Reins` / `LoRAReins` forward on the residual stream (CLS first):
      S = softmax(f Tᵀ / √C), Δ = MLP_f(S[:, 1:] MLP_t(T[1:]) + f), f' = f + s Δ;
  * Causal-Tune's `Reins.forward`: the patch tokens (N, B, C) reshaped as memory
    to (B, C, h, w), orthonormal 2-D DCT-II per plane (float32, as
    scipy.fftpack), times 1 - mask of `MAD_decompose` (mask in float64, result
    cast to float32), reshaped as memory back to (N, B, C), Rein's token path,
    then the (N, B, C) -> (B, C, h, w) memory reshape of Δ,
    real(ifft2(Δ, norm="ortho")).clamp(0, 255), back to (N, B, C), f' = f + s·that;
  * `return_auto`'s token -> query link: transform (Linear C -> q) of all layers'
    tokens, per query channel max / mean / last over the layers, flattened with
    the three statistics adjacent per channel, then merge (Linear 3q -> q).

Parameter names and the state-dict layout follow the released modules: Rein's
Reins/LoRAReins always hold transform and merge; Causal-Tune's also hold
learnable_tokens2, mlp_token2feat2 and mlp_delta_f2 (unused by its forward).

Small sizes: C 32, 3 layers, 6 tokens, rank 4, query width 8, grids 6x6 and
12x12, batch 1 (what slide inference runs). Weights are stored under
`backbone.reins.` as the released checkpoints name them.

Run once from the repository root (numpy, scipy, torch, safetensors):
    python3 scripts/make_released_adapter_fixtures.py
Outputs go to Tests/ModelTests/Fixtures/released_adapter; they are committed.
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
OUT = os.path.join(ROOT, "Tests/ModelTests/Fixtures/released_adapter")
PREFIX = "backbone.reins."
C, LAYERS, TOKENS, RANK, QUERY = 32, 3, 6, 4, 8
torch.manual_seed(7)
RNG = np.random.default_rng(20250612)


def save_npy(name, array):
    np.save(os.path.join(OUT, name), np.ascontiguousarray(np.asarray(array, dtype=np.float32)))


def released_mask(h, w):
    """MAD_decompose's mask (the non-causal weight), float64; the kept part is 1 - mask."""
    eps = 1e-10
    k = np.maximum(np.arange(h)[:, None], np.arange(w)[None, :])
    n = min(h, w)
    v1, v2, v3 = int(n * 0.1), int(n * 0.7), n
    m = np.zeros((h, w))
    first = k <= v1
    m[first] = 1 - k[first] / (v1 + eps) * 0.95
    m[(k > v1) & (k <= v2)] = 0.01
    third = (k > v2) & (k <= v3)
    m[third] = (k[third] - v2) / (v3 - v2) * 0.3
    m[k > v3] = 0.5
    return m


class ReleasedReins(torch.nn.Module):
    """Rein's Reins (rank 0) / LoRAReins (rank > 0); `causal` adds Causal-Tune's
    frequency path and its unused second token set."""

    def __init__(self, rank, causal):
        super().__init__()
        self.rank, self.causal = rank, causal
        full_bound = math.sqrt(6.0 / (3 * 16 * 16 + C))
        if rank == 0:
            self.learnable_tokens = torch.nn.Parameter(torch.empty(LAYERS, TOKENS, C).uniform_(-1, 1))
        self.scale = torch.nn.Parameter(torch.tensor(0.5))
        self.mlp_token2feat = torch.nn.Linear(C, C)
        self.mlp_delta_f = torch.nn.Linear(C, C)
        if causal:
            self.learnable_tokens2 = torch.nn.Parameter(torch.empty(LAYERS, TOKENS, C).uniform_(-full_bound, full_bound))
            self.mlp_token2feat2 = torch.nn.Linear(C, C)
            self.mlp_delta_f2 = torch.nn.Linear(C, C)
        self.transform = torch.nn.Linear(C, QUERY)
        self.merge = torch.nn.Linear(3 * QUERY, QUERY)
        if rank > 0:
            self.learnable_tokens_a = torch.nn.Parameter(torch.empty(LAYERS, TOKENS, rank).uniform_(-1, 1))
            self.learnable_tokens_b = torch.nn.Parameter(torch.empty(LAYERS, rank, C).uniform_(-1, 1))
        with torch.no_grad():
            for lin in [self.mlp_token2feat, self.mlp_delta_f]:
                lin.weight.mul_(3)
                lin.bias.uniform_(-0.5, 0.5)
            if causal:
                # A few channels with large biases so that the inverse transform crosses 255.
                self.mlp_delta_f.bias[[3, 17]] = torch.tensor([900.0, -700.0])

    def tokens(self, layer=None):
        t = self.learnable_tokens_a @ self.learnable_tokens_b if self.rank > 0 else self.learnable_tokens
        return t if layer is None else t[layer]

    def token_path(self, f, t):
        """(N, B, C) -> Δ (N, B, C)."""
        logits = torch.einsum("nbc,mc->nbm", f, t) * C ** -0.5
        s = F.softmax(logits, dim=-1)
        mixed = torch.einsum("nbm,mc->nbc", s[:, :, 1:], self.mlp_token2feat(t[1:])) + f
        return self.mlp_delta_f(mixed)

    def forward(self, x, layer):
        """x (B, 1 + N, C), CLS first; returns the refined stream."""
        stream = x.permute(1, 0, 2)
        cls, f = stream[:1], stream[1:]
        n, b, c = f.shape
        t = self.tokens(layer)
        if not self.causal:
            f = f + self.scale * self.token_path(f, t)
        else:
            side = int(math.isqrt(n))
            planes = f.reshape(b, c, side, side).detach().numpy().astype(np.float32)
            spectrum = scipy.fft.dctn(planes, type=2, axes=(-2, -1), norm="ortho").astype(np.float32)
            kept = (spectrum.astype(np.float64) * (1 - released_mask(side, side))).astype(np.float32)
            fc = torch.from_numpy(kept).reshape(n, b, c)
            delta = self.token_path(fc, t).reshape(b, c, side, side).to(torch.complex64)
            back = torch.real(torch.fft.ifft2(delta, norm="ortho")).clamp(0, 255).reshape(n, b, c).float()
            f = f.reshape(n, b, c) + self.scale * back
        return torch.cat([cls, f], dim=0).permute(1, 0, 2)

    def queries(self):
        q = self.transform(self.tokens()).permute(1, 2, 0)             # (m, q, L)
        stats = torch.stack([q.amax(dim=-1), q.mean(dim=-1), q[:, :, -1]], dim=-1)   # (m, q, 3)
        return self.merge(stats.reshape(TOKENS, 3 * QUERY))


def make(name, rank, causal, grids):
    module = ReleasedReins(rank, causal)
    state = {PREFIX + k: v.detach().contiguous() for k, v in module.state_dict().items()}
    save_file(state, os.path.join(OUT, name + ".safetensors"))
    info = {"name": name, "rank": rank, "causal": causal, "tensors": sorted(state.keys()), "grids": []}
    with torch.no_grad():
        for side in grids:
            n = side * side
            x = torch.from_numpy(RNG.standard_normal((1, 1 + n, C)).astype(np.float32) * 2)
            one = module(x, 1)
            chained = x
            for layer in range(LAYERS):
                chained = module(chained, layer)
            assert torch.equal(one[:, 0], x[:, 0]) and torch.equal(chained[:, 0], x[:, 0])
            tag = f"{name}_{side}x{side}"
            save_npy(tag + "_in.npy", x[0, 1:].numpy())
            save_npy(tag + "_layer1.npy", one[0, 1:].numpy())
            save_npy(tag + "_chained.npy", chained[0, 1:].numpy())
            entry = {"side": side}
            if causal:
                # How much of the inverse transform the clamp cut (both ends must be exercised).
                planes = (one[0, 1:] - x[0, 1:]) / module.scale
                entry["clamped_low"] = float((planes <= 0).float().mean())
                entry["clamped_high"] = float((planes >= 255 - 1e-3).float().mean())
                assert entry["clamped_low"] > 0.05 and entry["clamped_high"] > 0.001, entry
            info["grids"].append(entry)
        save_npy(name + "_queries.npy", module.queries().numpy())
    return info


def mask_fixtures():
    cases = []
    for (h, w) in [(6, 6), (12, 12), (20, 20), (32, 32), (4, 13), (9, 3)]:
        file = f"mad_mask_{h}x{w}.npy"
        save_npy(file, 1 - released_mask(h, w))
        cases.append({"file": file, "height": h, "width": w})
    return cases


def main():
    os.makedirs(OUT, exist_ok=True)
    index = {
        "embed_dim": C, "layers": LAYERS, "tokens": TOKENS, "rank": RANK, "query_dims": QUERY,
        "variants": [
            make("rein_full", 0, False, [6]),
            make("rein_lora", RANK, False, [6]),
            make("ctr_full", 0, True, [6]),
            make("ctr_lora", RANK, True, [6, 12]),
        ],
        "masks": mask_fixtures(),
    }
    with open(os.path.join(OUT, "index.json"), "w") as fh:
        json.dump(index, fh, indent=1, sort_keys=True)
        fh.write("\n")
    print(json.dumps(index["variants"], indent=1))


if __name__ == "__main__":
    main()
