#!/usr/bin/env python3
"""make_augment_identity_fixtures.py — golden data for the training pipeline
with every random transform off (Tests/AugmentTests, AugmentSettingsTests).

With `training.augment` = {"short_edges": [], "flip_probability": 0,
"photometric": false}, an image of the crop's size goes through the random
crop unchanged (a crop of its own size) and through mmseg's
SegDataPreProcessor only: float32, (x - mean) / std per RGB channel, planar,
no padding. The reference below is numpy float32 arithmetic, as torch does it.

Run once (numpy only); the outputs are committed under
Tests/AugmentTests/Fixtures:
  identity_in.npy     (24, 24, 3) uint8 RGB image
  identity_label.npy  (24, 24) uint8 trainIds with some 255
  identity_out.npy    (3, 24, 24) float32, the normalised image
"""
import os

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
AUG = os.path.join(ROOT, "Tests/AugmentTests/Fixtures")

MEAN = np.array([123.675, 116.28, 103.53], np.float32).reshape(3, 1, 1)
STD = np.array([58.395, 57.12, 57.375], np.float32).reshape(3, 1, 1)


def save(name, array):
    np.save(os.path.join(AUG, name), np.ascontiguousarray(array))


def main():
    rng = np.random.default_rng(20250612)
    size = 24
    image = rng.integers(0, 256, size=(size, size, 3), dtype=np.uint8)
    image[0, :, :] = 0                      # a black row
    image[1, :, :] = 255                    # a white row
    label = rng.integers(0, 19, size=(size, size), dtype=np.uint8)
    label[2:6, 3:9] = 255                   # an ignored block
    out = (image.transpose(2, 0, 1).astype(np.float32) - MEAN) / STD
    assert out.dtype == np.float32
    save("identity_in.npy", image)
    save("identity_label.npy", label)
    save("identity_out.npy", out)


if __name__ == "__main__":
    main()
