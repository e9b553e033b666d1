#!/usr/bin/env python3
"""make_mmseg_export_fixtures.py — third-party checks of the MMSegmentation
.pth files `ctpipe convert-weights --to mmseg` writes.

Default mode: PyTorch's own torch.save writes a tiny mmengine-style checkpoint
  {"meta": {...}, "state_dict": OrderedDict(name -> tensor)}
of known values (names under backbone.reins.* and decode_head.*: a 0-d scale,
1-D, 2-D and 4-D tensors, one of them a non-contiguous view) into
Tests/ModelTests/Fixtures/mmseg_export/torch_saved.pth, and the names, shapes
and values into expected.json. The model tests read it with ctpipe's reader,
write the same tensors with ctpipe's writer and read that back: both must agree
with expected.json.

--check FILE --against SAFETENSORS: torch.load(FILE, weights_only=True) a .pth
ctpipe wrote and verify that its state dict has exactly the ctpipe safetensors
file's adapter and head tensors (and its backbone tensors when the .pth holds
any), each float32, contiguous, of the same shape and bit-identical values, and
that `meta` is a plain dict. Exits 1 on the first difference. Files to check:
`CTPIPE_EXPORT_CHECK_DIR=DIR swift test --skip-build --filter ConvertMMSegCommandTests`
keeps the test's model.safetensors, model.pth and whole.pth (with the backbone)
in DIR.

torch 2.x, numpy; run from the repository root.
"""

import argparse
import collections
import json
import os
import struct
import sys

import numpy as np
import torch

OUT = "Tests/ModelTests/Fixtures/mmseg_export"


def known_state_dict():
    def ramp(shape, scale, shift):
        n = int(np.prod(shape)) if shape else 1
        return (torch.arange(n, dtype=torch.float64) * scale + shift).to(torch.float32).reshape(shape)

    sd = collections.OrderedDict()
    sd["backbone.reins.learnable_tokens"] = ramp([2, 3, 4], 0.125, -1.5)
    sd["backbone.reins.scale"] = torch.tensor(0.001, dtype=torch.float32)           # 0-d, as Rein declares it
    sd["backbone.reins.mlp_token2feat.weight"] = ramp([4, 4], -0.25, 2.0)
    sd["backbone.reins.mlp_token2feat.bias"] = ramp([4], 1e-3, -3e-3)
    # A non-contiguous view (a transpose): torch.save records its strides.
    sd["decode_head.cls_embed.weight"] = ramp([3, 5], 0.5, -3.0).t()
    sd["decode_head.pixel_decoder.mask_feature.weight"] = ramp([2, 3, 1, 1], 1.0 / 3.0, 0.1)
    sd["decode_head.level_embed.weight"] = torch.tensor([[1e-30, -0.0, 3.4e38], [float(np.float32(np.pi)), -7.0, 65504.0]],
                                                        dtype=torch.float32)
    return sd


def make():
    os.makedirs(OUT, exist_ok=True)
    sd = known_state_dict()
    meta = {"iter": 40000, "mmseg_version": "1.2.2",
            "dataset_meta": {"classes": ("road", "car", "sky"), "palette": [[128, 64, 128], [0, 0, 142], [70, 130, 180]]}}
    torch.save({"meta": meta, "state_dict": sd}, os.path.join(OUT, "torch_saved.pth"))
    expected = {"tensors": [{"name": k, "shape": list(v.shape), "values": [float(x) for x in v.contiguous().reshape(-1).tolist()]}
                            for k, v in sd.items()],
                "classes": list(meta["dataset_meta"]["classes"]), "iter": meta["iter"]}
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
    print("wrote", OUT)


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    base = 8 + n
    out = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        assert entry["dtype"] == "F32", f"{name}: dtype {entry['dtype']}"
        start, end = entry["data_offsets"]
        out[name] = np.frombuffer(data[base + start:base + end], dtype="<f4").reshape(entry["shape"])
    return out


def check(path, against):
    def fail(message):
        print(f"FAIL {path}: {message}")
        sys.exit(1)

    loaded = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(loaded, dict) or set(loaded) != {"meta", "state_dict"}:
        fail(f"top level is {type(loaded).__name__} with keys {sorted(loaded) if isinstance(loaded, dict) else '-'}")
    if not isinstance(loaded["meta"], dict):
        fail("meta is not a dict")
    sd = loaded["state_dict"]
    if not isinstance(sd, collections.OrderedDict):
        fail(f"state_dict is a {type(sd).__name__}, not an OrderedDict")
    reference = read_safetensors(against)
    with_backbone = any(k.startswith("backbone.") and not k.startswith("backbone.reins.") for k in sd)
    wanted = {k for k in reference
              if k.startswith("backbone.reins.") or k.startswith("decode_head.") or (with_backbone and k.startswith("backbone."))}
    if set(sd) != wanted:
        fail(f"names differ: only in the .pth {sorted(set(sd) - wanted)[:5]}, missing {sorted(wanted - set(sd))[:5]}")
    for name, tensor in sd.items():
        if not isinstance(tensor, torch.Tensor) or tensor.dtype != torch.float32:
            fail(f"{name}: {type(tensor).__name__} {getattr(tensor, 'dtype', '')}, expected a float32 tensor")
        if not tensor.is_contiguous():
            fail(f"{name}: not contiguous")
        expected = reference[name]
        if list(tensor.shape) != list(expected.shape):
            fail(f"{name}: shape {list(tensor.shape)}, the safetensors file has {list(expected.shape)}")
        if not np.array_equal(tensor.numpy().reshape(-1).view(np.uint32), np.array(expected, dtype="<f4").reshape(-1).view(np.uint32)):
            fail(f"{name}: values differ")
    print(f"OK {path}: {len(sd)} float32 tensors match {against} bit for bit"
          f"{' (backbone included)' if with_backbone else ''}; meta keys {sorted(loaded['meta'])}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", metavar="FILE", help="a .pth ctpipe wrote")
    parser.add_argument("--against", metavar="SAFETENSORS", help="the ctpipe Mask2Former file it was exported from")
    args = parser.parse_args()
    if args.check:
        if not args.against:
            parser.error("--check needs --against")
        check(args.check, args.against)
    else:
        make()


if __name__ == "__main__":
    main()
