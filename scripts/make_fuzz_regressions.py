#!/usr/bin/env python3
"""make_fuzz_regressions.py — the hostile inputs of the bad-input campaign as fuzzing
regression inputs: Tests/FuzzTests/Regressions/<target>/, one file each, made with
PyTorch (torch.save), the pickle and struct modules and Pillow, never by ctpipe.
Each once crashed, hung or over-allocated a reader; FuzzRegressionTests replays
them and scripts/fuzz.sh seeds its corpora with them.

    python3 scripts/make_fuzz_regressions.py
"""
import io
import json
import os
import struct
import zipfile
import zlib

import torch

ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "Tests", "FuzzTests", "Regressions")


def write(target, name, data):
    folder = os.path.join(ROOT, target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def torch_save(obj):
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def data_pkl(archive):
    with zipfile.ZipFile(io.BytesIO(archive)) as z:
        return z.read(next(n for n in z.namelist() if n.endswith("data.pkl")))


# Pickle: a BINUNICODE8 length near 2^63 (protocol 4 opcode 0x8d); lists nested 100000 deep.
write("pickle", "binunicode8_length_near_2_63.pkl", b"\x80\x04\x8d" + struct.pack("<Q", 2**63 - 5) + b"abc.")
write("pickle", "lists_nested_100000_deep.pkl", b"\x80\x02" + b"]" * 100000 + b"a" * 99999 + b".")

# .pth: a stride-0 view of one element claiming 10^9 (once 4 GB allocated from 9 KB);
# a block index far beyond any model (once sized the model from it); a view with a negative stride
# is not expressible through torch.save, so the stride-0 file's pickle is the pickle seed of that path.
stride0 = torch_save({"pos_embed": torch.zeros(1).expand(10**9)})
write("pth", "stride0_view_of_1e9_elements.pth", stride0)
write("pickle", "stride0_view_of_1e9_elements.pkl", data_pkl(stride0))
blocks = torch_save({"blocks.99999999999.norm1.weight": torch.ones(4), "blocks.0.norm1.weight": torch.ones(4)})
write("pth", "block_index_99999999999.pth", blocks)

# safetensors: two tensors whose byte ranges overlap (once aliased silently).
header = json.dumps({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                     "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}).encode()
write("safetensors", "overlapping_ranges.safetensors", struct.pack("<Q", len(header)) + header + bytes(12))
# ... and a shape whose element count overflows.
header = json.dumps({"a": {"dtype": "F32", "shape": [2**62, 8], "data_offsets": [0, 0]}}).encode()
write("safetensors", "element_count_overflows.safetensors", struct.pack("<Q", len(header)) + header)

# .npy: a shape whose byte count overflows.
text = "{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 8), }"
text += " " * (63 - (10 + len(text)) % 64) + "\n"
write("npy", "byte_count_overflows.npy", b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text.encode())

# Manifests: a dataset name that climbs out of the run folder; an empty name; no stage.
write("manifest", "dataset_name_escapes.json", json.dumps(
    {"version": 1, "name": "escape", "pipeline": {"version": 1, "stages": ["read", "predictions", "metric", "write"]},
     "datasets": [{"name": "../../outside", "kind": "cityscapes", "root": "../data/cityscapes", "split": "val"}],
     "predictions": {"dir": "preds"}}).encode())
write("manifest", "empty_name_no_stages.json", json.dumps(
    {"version": 1, "name": "", "pipeline": {"version": 1, "stages": []},
     "datasets": [{"kind": "cityscapes", "root": "../data/cityscapes"}]}).encode())


# Label PNG (first byte: the dataset kind, 0 = Cityscapes) whose header declares 100000 x 100000.
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 100000, 100000, 8, 0, 0, 0, 0)) \
    + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")
write("labels", "cityscapes_label_declaring_1e10_pixels.png", b"\x00" + png)
write("png", "declaring_1e10_pixels.png", png)
print("wrote", sum(len(files) for _, _, files in os.walk(ROOT)), "files under", ROOT)
