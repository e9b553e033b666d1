"""bench_torch_models.py — the PyTorch side of the segmentation benchmarks (bench_segmentation.py,
bench_training.py, bench_runner_infer.py; the transformer block also bench_mask2former.py).

DINOv2 with the Rein-style patch-16 conversion (grid 32 for a 512 x 512 crop, no position
resize): the official block structure with SDPA attention (F.scaled_dot_product_attention);
the adapters after every block on the patch tokens, Rein or Causal-Tune (orthonormal DCT-II
over the grid as two matrix products, band-pass mask, m tokens, optionally rank r); the
linear head (LayerNorm x 4 on blocks L/3-1, L/2-1, 2L/3-1, L-1, Linear 4C -> classes,
bilinear upsampling by the patch size); mmseg's slide inference. Random weights.
"""
import math

import torch
import torch.nn.functional as F

ARCH = {"vits": (384, 12, 6), "vitl": (1024, 24, 16)}   # C, blocks, heads (MLP 4C)


class Block(torch.nn.Module):
    def __init__(self, c, heads):
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2 = torch.nn.LayerNorm(c, eps=1e-6), torch.nn.LayerNorm(c, eps=1e-6)
        self.qkv, self.proj = torch.nn.Linear(c, 3 * c), torch.nn.Linear(c, c)
        self.fc1, self.fc2 = torch.nn.Linear(c, 4 * c), torch.nn.Linear(4 * c, c)
        self.ls1, self.ls2 = torch.nn.Parameter(torch.full((c,), 0.1)), torch.nn.Parameter(torch.full((c,), 0.1))

    def forward(self, x):
        b, n, c = x.shape
        q, k, v = self.qkv(self.norm1(x)).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        a = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, n, c)
        x = x + self.ls1 * self.proj(a)
        return x + self.ls2 * self.fc2(F.gelu(self.fc1(self.norm2(x))))


def dct_matrix(n):
    """Orthonormal DCT-II matrix (n, n)."""
    k = torch.arange(n)[:, None].float()
    x = torch.arange(n)[None, :].float()
    a = torch.full((n, 1), math.sqrt(2 / n))
    a[0, 0] = math.sqrt(1 / n)
    return a * torch.cos(math.pi * (2 * x + 1) * k / (2 * n))


class Adapter(torch.nn.Module):
    """Rein (`kind` "rein") or Causal-Tune ("causal-tune") after every block, on one image's patch tokens."""

    def __init__(self, kind, layers, c, m=100, rank=0, grid=32, dl=0.2, dh=0.7):
        super().__init__()
        self.kind, self.rank, self.c = kind, rank, c
        if rank:
            self.a = torch.nn.Parameter(torch.randn(layers, m, rank) * 0.1)
            self.b = torch.nn.Parameter(torch.randn(layers, rank, c) * 0.1)
        else:
            self.t = torch.nn.Parameter(torch.randn(layers, m, c) * 0.1)
        self.t2f, self.df = torch.nn.Linear(c, c), torch.nn.Linear(c, c)
        self.scale = torch.nn.Parameter(torch.tensor(1e-3))
        self.register_buffer("d", dct_matrix(grid))
        u = torch.arange(grid)[:, None] / grid
        d2 = u * u + (u * u).T
        self.register_buffer("mask", ((1 - torch.exp(-d2 / (2 * dl * dl))) * torch.exp(-d2 / (2 * dh * dh))).reshape(-1, 1))

    def forward(self, f, layer, h, w):
        t = self.a[layer] @ self.b[layer] if self.rank else self.t[layer]
        if self.kind == "causal-tune":
            g = f.reshape(h, w, -1)
            fc = (self.d @ g.reshape(h, -1)).reshape(h, w, -1).transpose(0, 1).reshape(w, -1)
            fc = (self.d @ fc).reshape(w, h, -1).transpose(0, 1).reshape(h * w, -1) * self.mask
        else:
            fc = f
        s = torch.softmax(fc @ t.T / math.sqrt(self.c), dim=-1)
        delta = self.df(s[:, 1:] @ self.t2f(t[1:]) + fc)
        if self.kind == "causal-tune":
            g = (self.d.T @ delta.reshape(h, -1)).reshape(h, w, -1).transpose(0, 1).reshape(w, -1)
            delta = (self.d.T @ g).reshape(w, h, -1).transpose(0, 1).reshape(h * w, -1)
        return f + self.scale * delta

    def trainable(self):
        """(decayed, not decayed) parameters: the MLPs; the tokens and the scale."""
        tokens = [self.a, self.b] if self.rank else [self.t]
        return list(self.t2f.parameters()) + list(self.df.parameters()), tokens + [self.scale]


class Model(torch.nn.Module):
    def __init__(self, c, depth, heads, adapter=None, head=True, classes=19, patch=16, grid=32):
        super().__init__()
        self.patch, self.grid = patch, grid
        self.embed = torch.nn.Conv2d(3, c, patch, patch)
        self.cls = torch.nn.Parameter(torch.zeros(1, 1, c))
        self.pos = torch.nn.Parameter(torch.randn(1, 1 + grid * grid, c) * 0.02)
        self.blocks = torch.nn.ModuleList(Block(c, heads) for _ in range(depth))
        self.adapter = adapter
        self.head = head
        self.picks = [depth // 3 - 1, depth // 2 - 1, 2 * depth // 3 - 1, depth - 1]
        self.norms = torch.nn.ModuleList(torch.nn.LayerNorm(c, eps=1e-6) for _ in range(4))
        self.cls_head = torch.nn.Linear(4 * c, classes)

    def backbone_parameters(self):
        return [*self.embed.parameters(), self.cls, self.pos, *self.blocks.parameters()]

    def forward(self, x):
        batch, h, w = x.shape[0], x.shape[2] // self.patch, x.shape[3] // self.patch
        p = self.embed(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(batch, -1, -1), p], 1) + self.pos
        feats = []
        for i, block in enumerate(self.blocks):
            x = block(x)
            if self.adapter is not None:
                # The adapter works on one image's patch tokens (as ctpipe's does).
                x = torch.cat([x[:, :1], torch.stack([self.adapter(x[b, 1:], i, h, w) for b in range(batch)])], 1)
            if i in self.picks:
                feats.append(x[:, 1:])
        if not self.head:
            return x
        z = torch.cat([n(f) for n, f in zip(self.norms, feats)], -1)
        logits = self.cls_head(z).transpose(1, 2).reshape(batch, -1, h, w)
        return F.interpolate(logits, size=(h * self.patch, w * self.patch), mode="bilinear", align_corners=False)


def slide(model, image, out_h, out_w, crop=512, stride=341, classes=19):
    """mmseg's slide inference of one image: windows clamped to the border, logits averaged where they
    overlap, upsampled bilinearly to out_h x out_w; the argmax labels (out_h, out_w)."""
    _, _, h, w = image.shape
    total = torch.zeros(1, classes, h, w)
    count = torch.zeros(1, 1, h, w)
    for r in range(max(h - crop + stride - 1, 0) // stride + 1):
        for c in range(max(w - crop + stride - 1, 0) // stride + 1):
            y2, x2 = min(r * stride + crop, h), min(c * stride + crop, w)
            y1, x1 = max(y2 - crop, 0), max(x2 - crop, 0)
            total[:, :, y1:y2, x1:x2] += model(image[:, :, y1:y2, x1:x2])
            count[:, :, y1:y2, x1:x2] += 1
    up = F.interpolate(total / count, size=(out_h, out_w), mode="bilinear", align_corners=False)
    return up.argmax(1)[0]
