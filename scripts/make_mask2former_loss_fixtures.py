#!/usr/bin/env python3
"""make_mask2former_loss_fixtures.py — golden fixtures for the Mask2Former training loss.

Third-party references, float64 on float32-rounded inputs:
  * targets: mmseg's `_seg_data_to_instance_data` rule, run here with torch:
    `torch.unique(label, sorted=False)` minus the ignore value 255 (the class
    order), one `label == class` mask per class;
  * matching: HuggingFace transformers' `Mask2FormerHungarianMatcher` (its
    forward gives the matched indices; its cost matrix is rebuilt from its own
    module functions `sample_point`, `pair_wise_sigmoid_cross_entropy_loss`,
    `pair_wise_dice_loss` on the same points, as its forward builds it) and
    `scipy.optimize.linear_sum_assignment`;
  * losses: HF's `Mask2FormerLoss` (class cross-entropy with the no-object
    weight, sigmoid BCE and dice on points chosen by
    `sample_points_using_uncertainty`), weighted 2 / 5 / 5 as Rein's configs;
  * gradients of scale x the summed loss of every output with respect to
    every output's class and mask logits: torch autograd through HF's loss.

Random points. ctpipe draws its points from its SplitMix64 stream (CTCore):
a coordinate is `(next() >> 40) * 2**-24`. This script runs the same stream
(`SplitMix64` below) and replaces `torch.rand` while HF's loss runs, so every
`torch.rand(*shape)` HF calls returns the stream's next prod(shape) draws
(float64, row-major) — the matcher's `rand(1, P, 2)`, then the importance
sampling's `rand(n, 3P, 2)` and `rand(n, P - int(0.75 P), 2)`. Each decoder
output is passed to `Mask2FormerLoss.forward` on its own, in ctpipe's order
(initial prediction first), so the draws happen in ctpipe's order. The draws
of each call are saved too, so a test can check the stream itself.

HF against mmdet (mmdet/models/dense_heads/mask2former_head.py, the match
costs, HungarianAssigner, CrossEntropyLoss, DiceLoss), as checked by reading:
  * class loss: both `sum_i w_i ce_i / sum_i w_i` with w = 1 for classes and
    0.1 for no object (HF: nn.CrossEntropyLoss(weight) mean; mmdet: avg_factor
    = class_weight[labels].sum()). Same.
  * mask BCE: HF mean over points per mask, summed, / num_masks; mmdet sum /
    (num_masks * num_points). Same.
  * dice: both naive dice 1 - (2 sum(s t) + 1) / (sum s + sum t + 1). Same.
  * costs: both -softmax prob, BCE mean over points (pos/neg einsum), naive
    dice eps 1, on one set of uniform points per image. Same. HF clamps the
    cost to +-1e10 and turns NaN into 0 before scipy; mmdet passes it as it
    is (scipy raises on NaN); ctpipe raises a typed error.
  * num_masks differs: HF = number of targets in the batch, clamped to >= 1
    (averaged over processes); mmdet = sum over images of max(matched, 1),
    averaged over processes, >= 1. They agree for one image with
    1 <= targets <= queries. For the "tall" case (more targets than queries)
    this script replaces HF's `get_num_masks` with mmdet's value (the matched
    count), which is what ctpipe implements.
  * an image without targets: mmdet's zero-match branch makes the mask terms
    0 and keeps the class term (every query "no object"); HF's loss is not
    used there — the "empty" case's reference is torch's weighted
    F.cross_entropy directly.
  * the order of the matched pairs (ascending query) and of the targets
    (ascending class) agree; topk's order among the chosen points is
    irrelevant (the losses sum over points).

Also written: lsa_cases.json, a few hundred cost matrices (random reals,
tie-heavy small integers, constants; wide and tall) with scipy's answer.

Run once from the repository root (numpy, scipy, torch, transformers):
    python3 scripts/make_mask2former_loss_fixtures.py
Outputs go to Tests/TrainingTests/Fixtures (committed, ~150 KB).
"""
import json
import math
import os

import numpy as np
import scipy.optimize
import torch
import torch.nn.functional as F
from transformers import Mask2FormerConfig
from transformers.models.mask2former import modeling_mask2former as hf

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests/TrainingTests/Fixtures")
torch.set_default_dtype(torch.float64)
MASK64 = (1 << 64) - 1


class SplitMix64:
    """CTCore's SplitMix64: state += gamma, then the mixer."""

    def __init__(self, seed):
        self.state = seed & MASK64

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)

    def coordinate(self):
        return (self.next() >> 40) * 2.0 ** -24


class StreamRand:
    """Stands in for torch.rand: the stream's next draws, recorded per call."""

    def __init__(self, seed):
        self.stream = SplitMix64(seed)
        self.calls = []

    def __call__(self, *size, device=None, dtype=None, **kwargs):
        if len(size) == 1 and isinstance(size[0], (tuple, list, torch.Size)):
            size = tuple(size[0])
        count = math.prod(size)
        values = [self.stream.coordinate() for _ in range(count)]
        self.calls.append(values)
        return torch.tensor(values, dtype=torch.float64).reshape(size)


def f32(array):
    return np.asarray(array, dtype=np.float32).astype(np.float64)


def targets_like_mmseg(label):
    """mmseg Mask2FormerHead._seg_data_to_instance_data on one label."""
    gt = torch.from_numpy(label.astype(np.int64))[None]
    classes = torch.unique(gt, sorted=False, return_inverse=False, return_counts=False)
    labels = classes[classes != 255]
    masks = torch.stack([(gt == c)[0] for c in labels]).to(torch.float64) if len(labels) else \
        torch.zeros((0,) + label.shape)
    return labels, masks


def make_label(rng, height, width, classes, ignore_rows=0):
    label = np.full((height, width), classes[0], dtype=np.uint8)
    for c in classes[1:]:
        for _ in range(2):
            y0, x0 = rng.integers(0, height - 4), rng.integers(0, width - 4)
            label[y0:y0 + rng.integers(4, height // 2), x0:x0 + rng.integers(4, width // 2)] = c
    if ignore_rows:
        label[:ignore_rows, :] = 255
        label[:, -2:] = 255
    return label


def run_case(name, seed, queries, k, h0, w0, height, width, label, outputs, points, scale, mmdet_num_masks):
    rng = np.random.default_rng(seed)
    class_logits = f32(rng.normal(0, 2, (outputs, queries, k + 1)))
    mask_logits = f32(rng.normal(0, 3, (outputs, queries, h0, w0)))
    labels, masks = targets_like_mmseg(label)
    config = Mask2FormerConfig(num_labels=k, no_object_weight=0.1, class_weight=2.0, mask_weight=5.0, dice_weight=5.0,
                               train_num_points=points, oversample_ratio=3.0, importance_sample_ratio=0.75)
    loss_module = hf.Mask2FormerLoss(config, weight_dict={})
    matched = min(queries, len(labels))
    if mmdet_num_masks:
        loss_module.get_num_masks = lambda class_labels, device: torch.tensor(float(max(matched, 1)))
    # HF's matched indices, recorded as its loss computes them.
    matcher_results = []
    matcher_forward = loss_module.matcher.forward

    def recording_forward(*args, **kwargs):
        result = matcher_forward(*args, **kwargs)
        matcher_results.append(result)
        return result

    loss_module.matcher.forward = recording_forward
    cls = torch.tensor(class_logits, requires_grad=True)
    msk = torch.tensor(mask_logits, requires_grad=True)
    stream_seed = seed * 1000 + 17
    fake = StreamRand(stream_seed)
    saved_rand = torch.rand
    torch.rand = fake
    per_output = []
    total = 0
    try:
        for o in range(outputs):
            first_call = len(fake.calls)
            if len(labels):
                losses = loss_module(msk[o][None], cls[o][None], [masks], [labels])
                loss_cls, loss_mask, loss_dice = 2 * losses["loss_cross_entropy"], 5 * losses["loss_mask"], \
                    5 * losses["loss_dice"]
                # The matcher's points are the first draw of this output; rebuild its cost matrix.
                point_coordinates = torch.tensor(fake.calls[first_call]).reshape(1, points, 2)
                with torch.no_grad():
                    probs = cls[o].softmax(-1)
                    cost_class = -probs[:, labels]
                    tm = hf.sample_point(masks[:, None], point_coordinates.repeat(len(labels), 1, 1),
                                         align_corners=False).squeeze(1)
                    pm = hf.sample_point(msk[o][:, None], point_coordinates.repeat(queries, 1, 1),
                                         align_corners=False).squeeze(1)
                    cost = 5 * hf.pair_wise_sigmoid_cross_entropy_loss(pm, tm) + 2 * cost_class + \
                        5 * hf.pair_wise_dice_loss(pm, tm)
                indices = matcher_results[-1]
                rows, cols = scipy.optimize.linear_sum_assignment(cost.numpy())
                hf_rows, hf_cols = indices[0]
                assert list(rows) == hf_rows.tolist() and list(cols) == hf_cols.tolist()
                entry = dict(cost=cost.flatten().tolist(), match_queries=rows.tolist(), match_targets=cols.tolist(),
                             matcher_points=fake.calls[first_call])
            else:
                # mmdet's zero-match branch: every query is "no object", mask terms 0.
                target = torch.full((queries,), k, dtype=torch.long)
                weight = torch.ones(k + 1)
                weight[k] = 0.1
                loss_cls = 2 * F.cross_entropy(cls[o], target, weight=weight)
                loss_mask = loss_dice = torch.zeros(())
                entry = dict(cost=[], match_queries=[], match_targets=[], matcher_points=[])
            entry.update(class_loss=loss_cls.item(), mask_loss=loss_mask.item(), dice_loss=loss_dice.item())
            per_output.append(entry)
            total = total + loss_cls + loss_mask + loss_dice
    finally:
        torch.rand = saved_rand
    (scale * total).backward()
    return dict(name=name, seed=stream_seed, queries=queries, classes=k, mask_height=h0, mask_width=w0,
                height=height, width=width, outputs=outputs, points=points, scale=scale,
                label=label.flatten().tolist(), target_classes=labels.tolist(),
                class_logits=class_logits.flatten().tolist(), mask_logits=mask_logits.flatten().tolist(),
                per_output=per_output, total=float(total.item()),
                class_gradients=cls.grad.flatten().tolist(), mask_gradients=(msk.grad if msk.grad is not None else torch.zeros_like(msk)).flatten().tolist(),
                draws=len(fake.calls))


def lsa_cases():
    rng = np.random.default_rng(7)
    cases = []

    def add(cost):
        rows, cols = scipy.optimize.linear_sum_assignment(cost)
        cases.append(dict(rows=int(cost.shape[0]), columns=int(cost.shape[1]),
                          cost=[float(v) if not float(v).is_integer() else int(v) for v in cost.flatten()],
                          row_ind=rows.tolist(), col_ind=cols.tolist()))

    for r in range(1, 8):
        for c in range(1, 8):
            add(np.round(rng.random((r, c)), 4))
            add(rng.integers(0, 3, (r, c)).astype(np.float64))
            add(rng.integers(0, 2, (r, c)).astype(np.float64))
            add(rng.integers(-3, 5, (r, c)).astype(np.float64))
    for r, c in [(1, 1), (3, 3), (4, 7), (7, 4), (6, 6)]:
        add(np.full((r, c), 2.0))
    for r, c in [(12, 19), (19, 12), (20, 20), (30, 9), (9, 30)]:
        add(np.round(rng.normal(0, 1, (r, c)), 3))
        add(rng.integers(0, 3, (r, c)).astype(np.float64))
    return cases


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(3)
    cases = [
        run_case("main", 1, queries=6, k=4, h0=8, w0=10, height=32, width=40,
                 label=make_label(rng, 32, 40, [2, 0, 3], ignore_rows=3), outputs=3, points=64, scale=1.0,
                 mmdet_num_masks=False),
        run_case("tall", 2, queries=3, k=5, h0=8, w0=8, height=32, width=32,
                 label=make_label(rng, 32, 32, [4, 1, 0, 3, 2]), outputs=3, points=64, scale=0.5,
                 mmdet_num_masks=True),
        run_case("empty", 3, queries=6, k=4, h0=8, w0=8, height=32, width=32,
                 label=np.full((32, 32), 255, dtype=np.uint8), outputs=3, points=64, scale=1.0,
                 mmdet_num_masks=False),
    ]
    with open(os.path.join(OUT, "mask2former_loss_cases.json"), "w") as f:
        json.dump(cases, f, separators=(",", ":"))
    with open(os.path.join(OUT, "lsa_cases.json"), "w") as f:
        json.dump(lsa_cases(), f, separators=(",", ":"))
    for c in cases:
        print(c["name"], "targets", c["target_classes"], "total", c["total"], "draw calls", c["draws"])


if __name__ == "__main__":
    main()
