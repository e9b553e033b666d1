#!/usr/bin/env python3
"""make_transform_fixtures.py — golden fixtures for the Causal-Tune adapter's
frequency transforms (docs/causal-tune.md, "Transforms"): dct, fft and haar.

Independent implementations, in float64:
  * fft: numpy.fft.fft2(x, norm="ortho") of real channel planes, stored as split
    real / imaginary planes (C, 2, h, w), and numpy.fft.ifft2(y, norm="ortho").real
    of arbitrary (not Hermitian) split spectra;
  * haar: pywt.coeffs_to_array(pywt.wavedec2(x, "haar", mode="periodization"))
    (full depth, pywt's default level) and its inverse through
    pywt.array_to_coeffs + pywt.waverec2, square and non-square grids;
  * one whole adapter layer (method.md §2.1 with each transform, every filter at
    least once, full and low-rank tokens) in PyTorch, forward and autograd
    gradients of <g, f'> with respect to the input f and every parameter. The
    transforms inside it are matrices: scipy's orthonormal DCT-II, torch.fft for
    the DFT, and the Haar matrix built column by column from pywt (checked
    orthonormal here), so autograd differentiates exactly what pywt computes.

Run once from the repository root (needs numpy, scipy, torch, pywt, safetensors):
    python3 scripts/make_transform_fixtures.py
Outputs go to Tests/ModelTests/Fixtures/transforms; they are committed.
"""
import json
import math
import os

import numpy as np
import pywt
import scipy.fft
import torch
from safetensors.torch import save_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests/ModelTests/Fixtures/transforms")
torch.set_default_dtype(torch.float64)
RNG = np.random.default_rng(20250301)


def save_npy(name, array):
    np.save(os.path.join(OUT, name), np.ascontiguousarray(np.asarray(array, dtype=np.float32)))


# ---------------------------------------------------------------- the transforms alone

def haar_forward(plane):
    """The full-depth orthonormal Haar transform in pywt's coeffs_to_array layout."""
    array, _ = pywt.coeffs_to_array(pywt.wavedec2(plane, "haar", mode="periodization"))
    assert array.shape == plane.shape
    return array


def haar_inverse(array):
    h, w = array.shape
    _, slices = pywt.coeffs_to_array(pywt.wavedec2(np.zeros((h, w)), "haar", mode="periodization"))
    coeffs = pywt.array_to_coeffs(array, slices, output_format="wavedec2")
    return pywt.waverec2(coeffs, "haar", mode="periodization")


FFT_GRIDS = [(4, 8), (8, 8), (16, 16), (8, 4), (5, 6), (3, 1), (1, 7)]
HAAR_GRIDS = [(4, 8), (8, 8), (16, 16), (8, 4), (2, 16), (1, 4)]
CHANNELS = 3


def transform_fixtures():
    cases = []
    for (h, w) in FFT_GRIDS:
        x = RNG.standard_normal((CHANNELS, h, w))
        y = RNG.standard_normal((CHANNELS, 2, h, w))
        spectrum = np.fft.fft2(x, axes=(1, 2), norm="ortho")
        name = f"fft_{h}x{w}"
        save_npy(name + "_x.npy", x)
        save_npy(name + "_forward.npy", np.stack([spectrum.real, spectrum.imag], axis=1))
        save_npy(name + "_y.npy", y)
        save_npy(name + "_inverse.npy", np.fft.ifft2(y[:, 0] + 1j * y[:, 1], axes=(1, 2), norm="ortho").real)
        cases.append({"transform": "fft", "name": name, "height": h, "width": w, "channels": CHANNELS})
    for (h, w) in HAAR_GRIDS:
        x = RNG.standard_normal((CHANNELS, h, w))
        y = RNG.standard_normal((CHANNELS, h, w))
        name = f"haar_{h}x{w}"
        save_npy(name + "_x.npy", x)
        save_npy(name + "_forward.npy", np.stack([haar_forward(p) for p in x]))
        save_npy(name + "_y.npy", y)
        save_npy(name + "_inverse.npy", np.stack([haar_inverse(p) for p in y]))
        cases.append({"transform": "haar", "name": name, "height": h, "width": w, "channels": CHANNELS,
                      "levels": pywt.dwtn_max_level((h, w), "haar")})
    return cases


# ---------------------------------------------------------------- one adapter layer (PyTorch)

def mask(filter_kind, dl, dh, h, w):
    """method.md §2.1 step 2 / §2.2 on the index grid u/h, v/w, float64."""
    u = np.arange(h)[:, None] / h
    v = np.arange(w)[None, :] / w
    d2 = u * u + v * v
    low = 1 - np.exp(-d2 / (2 * dl * dl))
    high = np.exp(-d2 / (2 * dh * dh))
    return {"bandpass": low * high, "lowcut": low, "highcut": high, "none": np.ones((h, w))}[filter_kind]


def dct_matrix(n):
    """Orthonormal DCT-II matrix (n x n) from scipy: column j is dct(e_j, norm="ortho")."""
    return torch.from_numpy(scipy.fft.dct(np.eye(n), type=2, axis=0, norm="ortho"))


def haar_matrix(h, w):
    """H (hw x hw): vec(haar_forward(x)) = H vec(x), built from pywt; orthonormal."""
    n = h * w
    H = np.zeros((n, n))
    for j in range(n):
        e = np.zeros(n)
        e[j] = 1
        H[:, j] = haar_forward(e.reshape(h, w)).reshape(n)
    assert np.allclose(H @ H.T, np.eye(n), atol=1e-12)
    return torch.from_numpy(H)


def forward_transform(kind, f, h, w):
    """f (N, C) token-major -> a list of frequency blocks (N, C): one, or real and imaginary parts."""
    c = f.shape[1]
    g = f.reshape(h, w, c)
    if kind == "dct":
        return [torch.einsum("ux,vy,xyc->uvc", dct_matrix(h), dct_matrix(w), g).reshape(h * w, c)]
    if kind == "fft":
        F = torch.fft.fft2(g, dim=(0, 1), norm="ortho").reshape(h * w, c)
        return [F.real, F.imag]
    return [haar_matrix(h, w) @ f]


def inverse_transform(kind, parts, h, w):
    c = parts[0].shape[1]
    if kind == "dct":
        g = parts[0].reshape(h, w, c)
        return torch.einsum("ux,vy,uvc->xyc", dct_matrix(h), dct_matrix(w), g).reshape(h * w, c)
    if kind == "fft":
        Z = torch.complex(parts[0], parts[1]).reshape(h, w, c)
        return torch.fft.ifft2(Z, dim=(0, 1), norm="ortho").real.reshape(h * w, c)
    return haar_matrix(h, w).T @ parts[0]


class Adapter(torch.nn.Module):
    """method.md §2.1 with a choice of transform: tokens per layer, shared MLP_t, MLP_f and s."""

    def __init__(self, transform, filter_kind, dl, dh, layers, m, c, rank, gen):
        super().__init__()
        self.transform, self.filter_kind, self.dl, self.dh, self.c, self.rank = transform, filter_kind, dl, dh, c, rank
        if rank == 0:
            self.tokens = torch.nn.Parameter(torch.randn(layers, m, c, generator=gen) * 0.6)
        else:
            self.tokens_a = torch.nn.Parameter(torch.randn(layers, m, rank, generator=gen) * 0.6)
            self.tokens_b = torch.nn.Parameter(torch.randn(layers, rank, c, generator=gen) * 0.6)
        self.scale = torch.nn.Parameter(torch.tensor(0.37))
        self.mlp_token2feat = torch.nn.Linear(c, c)
        self.mlp_delta_f = torch.nn.Linear(c, c)
        with torch.no_grad():
            for lin in (self.mlp_token2feat, self.mlp_delta_f):
                lin.weight.copy_(torch.randn(c, c, generator=gen) / math.sqrt(c))
                lin.bias.copy_(0.1 * torch.randn(c, generator=gen))

    def layer_tokens(self, layer):
        return self.tokens[layer] if self.rank == 0 else self.tokens_a[layer] @ self.tokens_b[layer]

    def forward(self, f, layer, h, w):
        t = self.layer_tokens(layer)
        m = torch.from_numpy(mask(self.filter_kind, self.dl, self.dh, h, w)).reshape(h * w, 1)
        values = self.mlp_token2feat(t[1:])
        deltas = []
        for part in forward_transform(self.transform, f, h, w):   # the same token path on each part
            fc = part * m
            attn = torch.softmax(fc @ t.T / math.sqrt(self.c), dim=-1)
            deltas.append(self.mlp_delta_f(attn[:, 1:] @ values + fc))
        return f + self.scale * inverse_transform(self.transform, deltas, h, w)

    def named(self):
        out = {"scale": self.scale, "mlp_token2feat.weight": self.mlp_token2feat.weight,
               "mlp_token2feat.bias": self.mlp_token2feat.bias, "mlp_delta_f.weight": self.mlp_delta_f.weight,
               "mlp_delta_f.bias": self.mlp_delta_f.bias}
        if self.rank == 0:
            out["learnable_tokens"] = self.tokens
        else:
            out["learnable_tokens_a"] = self.tokens_a
            out["learnable_tokens_b"] = self.tokens_b
        return out


LAYERS, TOKENS, WIDTH, LAYER = 2, 5, 8, 1
# (transform, filter, dl, dh, h, w, rank): every transform with every filter, square and not.
LAYER_CASES = [
    ("dct", "bandpass", 0.2, 0.7, 5, 6, 0), ("dct", "lowcut", 0.2, 0.7, 4, 8, 2),
    ("dct", "highcut", 0.2, 0.7, 8, 8, 0), ("dct", "none", 0.2, 0.7, 3, 5, 0),
    ("fft", "bandpass", 0.2, 0.7, 4, 8, 0), ("fft", "lowcut", 0.15, 0.5, 5, 6, 0),
    ("fft", "highcut", 0.2, 0.7, 8, 8, 0), ("fft", "none", 0.2, 0.7, 6, 4, 2),
    ("haar", "bandpass", 0.2, 0.7, 4, 8, 0), ("haar", "lowcut", 0.2, 0.7, 8, 8, 0),
    ("haar", "highcut", 0.3, 0.5, 8, 4, 2), ("haar", "none", 0.2, 0.7, 4, 4, 0),
]


def layer_fixtures():
    cases = []
    for i, (transform, filter_kind, dl, dh, h, w, rank) in enumerate(LAYER_CASES):
        gen = torch.Generator().manual_seed(100 + i)
        adapter = Adapter(transform, filter_kind, dl, dh, LAYERS, TOKENS, WIDTH, rank, gen)
        n = h * w
        f = torch.randn(n, WIDTH, generator=gen).requires_grad_(True)
        g = torch.randn(n, WIDTH, generator=gen)
        out = adapter(f, LAYER, h, w)
        (out * g).sum().backward()
        tensors = {name: p.detach().clone() for name, p in adapter.named().items()}
        tensors["scale"] = tensors["scale"].reshape([])
        tensors.update({"grad." + name: p.grad.detach().clone().reshape(p.shape) for name, p in adapter.named().items()})
        tensors.update({"input": f.detach(), "upstream": g, "output": out.detach(), "grad.input": f.grad.detach()})
        name = f"layer_{transform}_{filter_kind}_{h}x{w}"
        save_file({k: v.to(torch.float32).contiguous() for k, v in tensors.items()}, os.path.join(OUT, name + ".safetensors"))
        cases.append({"name": name, "transform": transform, "filter": filter_kind, "dl": dl, "dh": dh, "height": h,
                      "width": w, "rank": rank, "layers": LAYERS, "tokens": TOKENS, "channels": WIDTH, "layer": LAYER})
    return cases


def main():
    os.makedirs(OUT, exist_ok=True)
    index = {"transforms": transform_fixtures(), "layers": layer_fixtures()}
    with open(os.path.join(OUT, "cases.json"), "w") as f:
        json.dump(index, f, indent=1)
        f.write("\n")
    print(f"wrote {len(index['transforms'])} transform cases and {len(index['layers'])} adapter layer cases to {OUT}")


if __name__ == "__main__":
    main()
