#!/usr/bin/env python3
"""make_imageio_fixtures.py — golden files for the ImageIO tests.

Writes small PNG/JPEG files (valid and broken) into Tests/ImageIOTests/Fixtures/
and, for every valid file, the pixels that third-party decoders produce:

  * Pillow (libjpeg-turbo, zlib)   — 8-bit PNG modes, palette index planes, JPEG
  * OpenCV IMREAD_UNCHANGED / COLOR — 16-bit PNG samples, 16->8 reduction

Expected pixels are stored as .npy arrays (H, W, C); a manifest.json lists,
per file, the header facts and which .npy holds which decode mode. ctpipe's
own code never produces an expected value here.

Files Pillow cannot write (2/4-bit grey, 16-bit grey+alpha, Adam7-interlaced,
deliberately broken files) are written by the small PNG writer below, which
cycles through all five row filters so that un-filtering is exercised too;
their expected pixels still come from Pillow/OpenCV decoding them.

Resize goldens: cv2.resize INTER_LINEAR / INTER_NEAREST and Pillow NEAREST on
small random rasters of 1..4 channels.

Run once from the repository root:  python3 scripts/make_imageio_fixtures.py
"""
import io
import json
import os
import shutil
import struct
import zlib

import cv2
import numpy as np
import PIL
from PIL import Image, features

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "Tests", "ImageIOTests", "Fixtures")
RNG = np.random.default_rng(20240611)

W, H = 21, 13          # PNG fixture size: odd, not a multiple of 8 (partial bytes at 1/2/4 bit)
JW, JH = 37, 21        # JPEG fixture size: not a multiple of 8 or 16 (partial MCUs)

manifest = {
    "generator": "scripts/make_imageio_fixtures.py",
    "pillow": PIL.__version__,
    "pillow_libjpeg_turbo": features.version("libjpeg_turbo"),
    "opencv": cv2.__version__,
    "numpy": np.__version__,
    "png": [],
    "jpeg": [],
    "broken": [],
    "resize": [],
}


# ----------------------------------------------------------------- helpers --

def path(*parts):
    return os.path.join(OUT, *parts)


def save_npy(name, array):
    array = np.ascontiguousarray(array)
    if array.ndim == 2:
        array = array[:, :, None]
    assert array.dtype in (np.uint8, np.dtype("<u2")), array.dtype
    np.save(path(name), array.astype(array.dtype.newbyteorder("<")), allow_pickle=False)
    return name


def chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def pack_row(samples, bit_depth):
    """samples: 1-D array of integer samples of one row (all channels interleaved)."""
    if bit_depth == 16:
        return samples.astype(">u2").tobytes()
    if bit_depth == 8:
        return samples.astype(np.uint8).tobytes()
    per_byte = 8 // bit_depth
    out = bytearray()
    for i in range(0, len(samples), per_byte):
        byte = 0
        group = samples[i:i + per_byte]
        for j in range(per_byte):
            value = int(group[j]) if j < len(group) else 0
            byte |= value << (8 - bit_depth * (j + 1))
        out.append(byte)
    return bytes(out)


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def filter_rows(rows, bpp, first_filter):
    """Filters each packed row with types cycling 0..4 (starting at first_filter)."""
    out = bytearray()
    prev = bytes(len(rows[0])) if rows else b""
    for index, row in enumerate(rows):
        kind = (first_filter + index) % 5
        filtered = bytearray(len(row))
        for i, x in enumerate(row):
            a = row[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            predictor = (0, a, b, (a + b) // 2, paeth(a, b, c))[kind]
            filtered[i] = (x - predictor) & 0xFF
        out.append(kind)
        out += filtered
        prev = row
    return bytes(out)


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def raw_png(samples, bit_depth, color_type, palette=None, trns=None, interlace=False):
    """A PNG from an (H, W, C) array of stored samples (indices for palette files)."""
    h, w, c = samples.shape
    bpp = max(1, c * bit_depth // 8)
    if interlace:
        passes = []
        for number, (x0, y0, dx, dy) in enumerate(ADAM7):
            sub = samples[y0::dy, x0::dx]
            if sub.shape[0] == 0 or sub.shape[1] == 0:
                continue
            rows = [pack_row(sub[y].reshape(-1), bit_depth) for y in range(sub.shape[0])]
            passes.append(filter_rows(rows, bpp, number))
        data = b"".join(passes)
    else:
        rows = [pack_row(samples[y].reshape(-1), bit_depth) for y in range(h)]
        data = filter_rows(rows, bpp, 0)
    out = b"\x89PNG\r\n\x1a\n"
    out += chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, bit_depth, color_type, 0, 0, 1 if interlace else 0))
    if palette is not None:
        out += chunk(b"PLTE", bytes(np.asarray(palette, np.uint8).reshape(-1)))
    if trns is not None:
        out += chunk(b"tRNS", trns)
    out += chunk(b"IDAT", zlib.compress(data, 9))
    out += chunk(b"IEND", b"")
    return out


def smooth(h, w, c, maximum, noise):
    """Gradients plus noise: realistic for photos, still hitting the extremes."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    planes = []
    for k in range(c):
        base = (np.sin(x / (3.0 + k) + k) + np.cos(y / (4.0 + k))) * 0.25 + 0.5
        planes.append(base)
    img = np.stack(planes, axis=2) * maximum
    img += RNG.normal(0, noise * maximum, img.shape)
    img = np.clip(np.rint(img), 0, maximum)
    img[0, 0, :] = 0
    img[-1, -1, :] = maximum
    return img.astype(np.uint16 if maximum > 255 else np.uint8)


def pillow_array(file):
    with Image.open(file) as im:
        im.load()
        return np.array(im)


def pillow_convert(file, mode):
    with Image.open(file) as im:
        im.load()
        return np.array(im.convert(mode))


def cv_unchanged(file):
    a = cv2.imread(file, cv2.IMREAD_UNCHANGED)
    assert a is not None, file
    if a.ndim == 3 and a.shape[2] == 3:
        a = a[:, :, ::-1]
    elif a.ndim == 3 and a.shape[2] == 4:
        a = a[:, :, [2, 1, 0, 3]]
    return a


def cv_color(file):
    a = cv2.imread(file, cv2.IMREAD_COLOR)
    assert a is not None, file
    return a[:, :, ::-1]


def same(a, b, what):
    a = a if a.ndim == 3 else a[:, :, None]
    b = b if b.ndim == 3 else b[:, :, None]
    assert a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b), f"{what}: references disagree"


# ------------------------------------------------------------------- PNG ----

CITYSCAPES_LIKE = np.array([(128, 64, 128), (244, 35, 232), (70, 70, 70), (102, 102, 156), (190, 153, 153),
                            (153, 153, 153), (250, 170, 30), (220, 220, 0), (107, 142, 35), (152, 251, 152),
                            (70, 130, 180), (220, 20, 60), (255, 0, 0), (0, 0, 142), (0, 0, 70),
                            (0, 60, 100), (0, 80, 100), (0, 0, 230), (119, 11, 32)], np.uint8)


def palette_of(size):
    if size <= len(CITYSCAPES_LIKE):
        return CITYSCAPES_LIKE[:size]
    extra = RNG.integers(0, 256, (size - len(CITYSCAPES_LIKE), 3), dtype=np.uint8)
    return np.concatenate([CITYSCAPES_LIKE, extra])


def label_plane(h, w, classes):
    """Blocky label map (regions, like a segmentation mask) with some noise."""
    y, x = np.mgrid[0:h, 0:w]
    plane = ((x // 4) + (y // 3) * 3) % classes
    flips = RNG.random((h, w)) < 0.1
    plane[flips] = RNG.integers(0, classes, flips.sum())
    plane[0, 0] = 0
    plane[-1, -1] = classes - 1
    return plane.astype(np.uint8)


def add_png(name, data, header, modes, note):
    """Writes the file, then records the expected arrays computed by `modes`."""
    file = path("png", name)
    with open(file, "wb") as f:
        f.write(data)
    entry = {"file": "png/" + name, "note": note, **header, "expected": {}}
    saved = []
    for mode, (reference, compute) in modes.items():
        array = compute(file)
        array = array if array.ndim == 3 else array[:, :, None]
        # Modes that decode to the same samples share one .npy.
        npy = next((n for n, a in saved if a.dtype == array.dtype and np.array_equal(a, array)), None)
        if npy is None:
            npy = save_npy(f"png/{os.path.splitext(name)[0]}.{mode}.npy", array)
            saved.append((npy, array))
        entry["expected"][mode] = {"npy": npy, "reference": reference}
    manifest["png"].append(entry)


def header(width, height, bit_depth, color_type, palette_size=0, interlace=False, transparency=False):
    return {"width": width, "height": height, "bit_depth": bit_depth, "color_type": color_type,
            "palette_size": palette_size, "interlaced": interlace, "transparency": transparency}


def grey_scaled(file, bit_depth):
    """Pillow's low-bit grey modes, as 8-bit (Pillow scales 2/4-bit by replication; '1' becomes 0/255)."""
    with Image.open(file) as im:
        im.load()
        return np.array(im.convert("L"))


def make_png():
    os.makedirs(path("png"), exist_ok=True)
    variants = [("", False), ("_adam7", True)]

    # Grey 1/2/4 bit: samples scaled to 8 bit in .native and .rgb.
    for bits in (1, 2, 4):
        for suffix, interlace in variants:
            samples = RNG.integers(0, 1 << bits, (H, W, 1)).astype(np.uint8)
            samples[0, 0] = 0
            samples[-1, -1] = (1 << bits) - 1
            data = raw_png(samples, bits, 0, interlace=interlace)
            add_png(f"gray{bits}{suffix}.png", data, header(W, H, bits, "gray", interlace=interlace), {
                "native": ("Pillow convert('L')", lambda f, b=bits: grey_scaled(f, b)),
                "rgb": ("Pillow convert('RGB')", lambda f: pillow_convert(f, "RGB")),
            }, f"{bits}-bit grey, scaled to 8 bit by bit replication")

    # 8-bit grey, grey+alpha, RGB, RGBA (Pillow writes the plain ones; Adam7 via the raw writer).
    for name, ctype, channels, pmode in (("gray8", 0, 1, "L"), ("graya8", 4, 2, "LA"),
                                         ("rgb8", 2, 3, "RGB"), ("rgba8", 6, 4, "RGBA")):
        for suffix, interlace in variants:
            samples = smooth(H, W, channels, 255, 0.08)
            if interlace:
                data = raw_png(samples, 8, ctype, interlace=True)
            else:
                buffer = io.BytesIO()
                Image.fromarray(samples[:, :, 0] if channels == 1 else samples, mode=pmode).save(buffer, "PNG")
                data = buffer.getvalue()
            ctname = {0: "gray", 4: "gray_alpha", 2: "rgb", 6: "rgba"}[ctype]
            modes = {"native": ("Pillow np.array", pillow_array),
                     "rgb": ("Pillow convert('RGB')", lambda f: pillow_convert(f, "RGB"))}
            if channels in (2, 4):
                modes["rgba"] = ("Pillow convert('RGBA')", lambda f: pillow_convert(f, "RGBA"))
            add_png(f"{name}{suffix}.png", data, header(W, H, 8, ctname, interlace=interlace), modes,
                    f"8-bit {ctname}")

    # 16-bit: OpenCV keeps 16 bit (IMREAD_UNCHANGED); .rgb is the high byte (OpenCV IMREAD_COLOR).
    for name, ctype, channels in (("gray16", 0, 1), ("graya16", 4, 2), ("rgb16", 2, 3), ("rgba16", 6, 4)):
        for suffix, interlace in variants:
            samples = smooth(H, W, channels, 65535, 0.08)
            data = raw_png(samples, 16, ctype, interlace=interlace)
            ctname = {0: "gray", 4: "gray_alpha", 2: "rgb", 6: "rgba"}[ctype]

            def native(f, c=channels):
                a = cv_unchanged(f)
                if c == 2:   # OpenCV expands grey+alpha to BGRA
                    assert np.array_equal(a[:, :, 0], a[:, :, 1])
                    a = a[:, :, [0, 3]]
                if c == 1:
                    same(a, pillow_array(f), "16-bit grey: OpenCV vs Pillow I;16")
                return a

            def rgb(f, c=channels):
                a = cv_color(f)
                if c in (3, 4):
                    same(a, pillow_convert(f, "RGB"), "16-bit colour -> RGB: OpenCV vs Pillow")
                return a

            modes = {"native": ("OpenCV IMREAD_UNCHANGED (BGR->RGB)", native),
                     "rgb": ("OpenCV IMREAD_COLOR (BGR->RGB)", rgb)}
            if channels == 4:
                modes["rgba"] = ("Pillow convert('RGBA') (high byte)", lambda f: pillow_convert(f, "RGBA"))
            add_png(f"{name}{suffix}.png", data, header(W, H, 16, ctname, interlace=interlace), modes,
                    f"16-bit {ctname}")

    # Palette 1/2/4/8 bit (index plane is what label files mean), some smaller than 2^bits.
    for bits, size in ((1, 2), (2, 3), (4, 11), (8, 34)):
        for suffix, interlace in variants:
            plane = label_plane(H, W, size)
            pal = palette_of(size)
            data = raw_png(plane[:, :, None], bits, 3, palette=pal, interlace=interlace)
            add_png(f"pal{bits}{suffix}.png", data, header(W, H, bits, "palette", size, interlace), {
                "native": ("Pillow np.array (mode P: indices)", pillow_array),
                "rgb": ("Pillow convert('RGB')", lambda f: pillow_convert(f, "RGB")),
            }, f"{bits}-bit palette with {size} colours")

    # Palette with tRNS (shorter than the palette: remaining entries are opaque).
    for bits, size in ((8, 20), (4, 9)):
        plane = label_plane(H, W, size)
        pal = palette_of(size)
        trns = bytes([0, 128, 255, 7, 64][: min(5, size)])
        data = raw_png(plane[:, :, None], bits, 3, palette=pal, trns=trns)
        add_png(f"pal{bits}_trns.png", data, header(W, H, bits, "palette", size, transparency=True), {
            "native": ("Pillow np.array (mode P: indices)", pillow_array),
            "rgb": ("Pillow convert('RGB')", lambda f: pillow_convert(f, "RGB")),
            "rgba": ("Pillow convert('RGBA')", lambda f: pillow_convert(f, "RGBA")),
        }, f"{bits}-bit palette, tRNS with {len(trns)} entries")

    # Grey / RGB with a tRNS colour key.
    grey = smooth(H, W, 1, 255, 0.05)
    key = int(grey[3, 5, 0])
    data = raw_png(grey, 8, 0, trns=struct.pack(">H", key))
    add_png("gray8_trns.png", data, header(W, H, 8, "gray", transparency=True), {
        "native": ("Pillow np.array", pillow_array),
        "rgb": ("Pillow convert('RGB')", lambda f: pillow_convert(f, "RGB")),
        "rgba": ("Pillow convert('RGBA') (tRNS key -> alpha 0)", lambda f: pillow_convert(f, "RGBA")),
    }, f"8-bit grey, tRNS key {key}")

    rgb = smooth(H, W, 3, 255, 0.05)
    rgb[2, 2:6] = (10, 200, 30)
    data = raw_png(rgb, 8, 2, trns=struct.pack(">HHH", 10, 200, 30))
    add_png("rgb8_trns.png", data, header(W, H, 8, "rgb", transparency=True), {
        "native": ("Pillow np.array", pillow_array),
        "rgb": ("Pillow convert('RGB')", lambda f: pillow_convert(f, "RGB")),
        "rgba": ("Pillow convert('RGBA') (tRNS key -> alpha 0)", lambda f: pillow_convert(f, "RGBA")),
    }, "8-bit RGB, tRNS key (10, 200, 30)")

    g16 = smooth(H, W, 1, 65535, 0.05)
    data = raw_png(g16, 16, 0, trns=struct.pack(">H", int(g16[1, 1, 0])))
    add_png("gray16_trns.png", data, header(W, H, 16, "gray", transparency=True), {
        "native": ("OpenCV IMREAD_UNCHANGED", cv_unchanged),
        "rgb": ("OpenCV IMREAD_COLOR", cv_color),
    }, "16-bit grey with a tRNS key (native keeps samples; tRNS reported only)")

    # A label file as Cityscapes stores it: 8-bit grey ids.
    ids = label_plane(H, W, 34)
    buffer = io.BytesIO()
    Image.fromarray(ids, mode="L").save(buffer, "PNG")
    add_png("label_ids.png", buffer.getvalue(), header(W, H, 8, "gray"), {
        "native": ("Pillow np.array", pillow_array),
    }, "Cityscapes-style grey label ids")


# ------------------------------------------------------------------ JPEG ----

def add_jpeg(name, data, info, note, rgb_reference=True):
    file = path("jpeg", name)
    with open(file, "wb") as f:
        f.write(data)
    base = os.path.splitext(name)[0]
    entry = {"file": "jpeg/" + name, "note": note, **info, "expected": {}}
    with Image.open(file) as im:
        im.load()
        native = np.array(im)
        assert im.mode in ("L", "RGB"), im.mode
        rgb = np.array(im.convert("RGB"))
    entry["expected"]["native"] = {"npy": save_npy(f"jpeg/{base}.native.npy", native),
                                   "reference": "Pillow default decode (libjpeg-turbo, islow, fancy upsampling)"}
    entry["expected"]["rgb"] = ({"npy": entry["expected"]["native"]["npy"], "reference": "Pillow default decode"}
                                if native.ndim == 3 else
                                {"npy": save_npy(f"jpeg/{base}.rgb.npy", rgb), "reference": "Pillow convert('RGB')"})
    # OpenCV bundles its own libjpeg-turbo build; record whether it agrees (documentation only).
    cv = cv2.imread(file, cv2.IMREAD_UNCHANGED)
    cv = cv if cv.ndim == 2 else cv[:, :, ::-1]
    entry["opencv_agrees_with_pillow"] = bool(np.array_equal(cv.reshape(native.shape), native))
    manifest["jpeg"].append(entry)


def make_jpeg():
    os.makedirs(path("jpeg"), exist_ok=True)
    rgb = smooth(JH, JW, 3, 255, 0.04)
    rgb[5:12, 7:30] = (250, 20, 20)          # hard edges: chroma subsampling matters
    grey = smooth(JH, JW, 1, 255, 0.04)[:, :, 0]

    def pil(array, **options):
        buffer = io.BytesIO()
        Image.fromarray(array).save(buffer, "JPEG", **options)
        return buffer.getvalue()

    def cv(array, *params):
        ok, encoded = cv2.imencode(".jpg", array[:, :, ::-1] if array.ndim == 3 else array, list(params))
        assert ok
        return encoded.tobytes()

    def info(components, progressive, space):
        return {"width": JW, "height": JH, "components": components, "progressive": progressive,
                "color_space": space}

    add_jpeg("gray_baseline.jpg", pil(grey, quality=90), info(1, False, "gray"), "grey baseline")
    add_jpeg("gray_progressive.jpg", pil(grey, quality=90, progressive=True), info(1, True, "gray"),
             "grey progressive")
    add_jpeg("ycc444.jpg", pil(rgb, quality=92, subsampling=0), info(3, False, "ycbcr"), "YCbCr 4:4:4")
    add_jpeg("ycc422.jpg", pil(rgb, quality=92, subsampling=1), info(3, False, "ycbcr"), "YCbCr 4:2:2 (h2v1)")
    add_jpeg("ycc420.jpg", pil(rgb, quality=92, subsampling=2), info(3, False, "ycbcr"), "YCbCr 4:2:0 (h2v2)")
    add_jpeg("ycc420_progressive.jpg", pil(rgb, quality=85, subsampling=2, progressive=True),
             info(3, True, "ycbcr"), "YCbCr 4:2:0 progressive")
    add_jpeg("ycc440.jpg", cv(rgb, cv2.IMWRITE_JPEG_QUALITY, 90, cv2.IMWRITE_JPEG_SAMPLING_FACTOR,
                              cv2.IMWRITE_JPEG_SAMPLING_FACTOR_440), info(3, False, "ycbcr"), "YCbCr 4:4:0 (h1v2), OpenCV-encoded")
    add_jpeg("ycc411.jpg", cv(rgb, cv2.IMWRITE_JPEG_QUALITY, 90, cv2.IMWRITE_JPEG_SAMPLING_FACTOR,
                              cv2.IMWRITE_JPEG_SAMPLING_FACTOR_411), info(3, False, "ycbcr"), "YCbCr 4:1:1 (h4v1), OpenCV-encoded")
    add_jpeg("ycc420_restart.jpg", cv(rgb, cv2.IMWRITE_JPEG_QUALITY, 80, cv2.IMWRITE_JPEG_RST_INTERVAL, 2),
             info(3, False, "ycbcr"), "YCbCr 4:2:0 with restart markers every 2 MCUs, OpenCV-encoded")
    add_jpeg("rgb_nontransformed.jpg", pil(rgb, quality=90, keep_rgb=True), info(3, False, "rgb"),
             "RGB components without the YCbCr transform (Adobe transform 0)")

    # CMYK: must be rejected.
    cmyk = np.concatenate([rgb, grey[:, :, None]], axis=2)
    buffer = io.BytesIO()
    Image.fromarray(cmyk, mode="CMYK").save(buffer, "JPEG", quality=90)
    with open(path("broken", "cmyk.jpg"), "wb") as f:
        f.write(buffer.getvalue())
    manifest["broken"].append({"file": "broken/cmyk.jpg", "codec": "jpeg",
                               "expect": ["CMYK"], "note": "CMYK (Adobe) JPEG written by Pillow: rejected"})
    return pil(rgb, quality=92, subsampling=2)


# ---------------------------------------------------------------- broken ----

def chunks_of(data):
    """(offset, length, type) of every chunk after the signature."""
    out, offset = [], 8
    while offset + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[offset:offset + 8])
        out.append((offset, length, kind))
        offset += 12 + length
    return out


def add_broken(name, data, codec, expect, note):
    with open(path("broken", name), "wb") as f:
        f.write(data)
    manifest["broken"].append({"file": "broken/" + name, "codec": codec, "expect": expect, "note": note})


def make_broken(jpeg_bytes):
    os.makedirs(path("broken"), exist_ok=True)
    noisy = RNG.integers(0, 256, (24, 24, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(noisy).save(buffer, "PNG")
    good = buffer.getvalue()
    idat = [c for c in chunks_of(good) if c[2] == b"IDAT"][0]
    offset, length, _ = idat

    add_broken("truncated_idat.png", good[: offset + 8 + length // 2], "png", ["truncated"],
               "valid PNG cut in the middle of its IDAT chunk")

    crc = bytearray(good)
    crc[offset + 8 + length + 3] ^= 0xFF
    add_broken("bad_crc_idat.png", bytes(crc), "png", ["image data", "CRC"], "IDAT chunk with a wrong CRC")

    body = bytearray(good[offset + 8: offset + 8 + length])
    body[0] ^= 0x0F                                 # zlib header check fails
    zl = good[:offset] + chunk(b"IDAT", bytes(body)) + good[offset + 12 + length:]
    add_broken("bad_zlib.png", zl, "png", ["image data", "IDAT", "header check"],
               "IDAT with a valid CRC around a broken zlib header")

    add_broken("bad_signature.png", b"\x89PNX\r\n\x1a\n" + good[8:], "png", ["signature"],
               "PNG with a damaged signature")
    add_broken("empty.png", b"", "png", ["empty"], "zero-length file")
    add_broken("garbage_after_signature.png", good[:8] + bytes(np.random.default_rng(7).integers(0, 256, 200, dtype=np.uint8)),
               "png", ["invalid PNG header"], "valid PNG signature followed by random bytes")

    tiny = zlib.compress(b"\x00" * 64)
    huge = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 60000, 60000, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", tiny) + chunk(b"IEND", b""))
    add_broken("huge_ihdr.png", huge, "png", ["60000x60000", "limit"],
               "IHDR declares 60000x60000 RGB (10 GB) with a 70-byte IDAT: rejected before allocating")
    big = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 8000, 8000, 8, 6, 0, 0, 0))
           + chunk(b"IDAT", tiny) + chunk(b"IEND", b""))
    add_broken("huge_ihdr_small_data.png", big, "png", ["8000x8000", "compressed"],
               "IHDR declares 8000x8000 RGBA (256 MB, under the 64 MP pixel limit) with a tiny IDAT: "
               "no deflate stream that short can hold it")

    add_broken("truncated.jpg", jpeg_bytes[: len(jpeg_bytes) * 6 // 10], "jpeg", ["premature end"],
               "baseline JPEG cut at 60% of its entropy-coded data")
    sof = jpeg_bytes.find(b"\xff\xc0")
    hugej = bytearray(jpeg_bytes)
    hugej[sof + 5: sof + 9] = struct.pack(">HH", 60000, 60000)
    add_broken("huge_sof.jpg", bytes(hugej), "jpeg", ["60000x60000", "limit"],
               "JPEG whose SOF declares 60000x60000: rejected by the pixel limit before decoding")
    add_broken("bad_signature.jpg", b"\xff\xd9" + jpeg_bytes[2:], "jpeg", ["signature"], "JPEG without SOI")


# ---------------------------------------------------------------- resize ----

def make_resize():
    os.makedirs(path("resize"), exist_ok=True)
    targets_full = [(15, 9), (58, 34), (40, 23), (17, 29), (5, 3), (70, 4), (1, 1), (29, 17)]
    targets_small = [(15, 9), (40, 23)]
    for channels in (1, 2, 3, 4):
        src = smooth(17, 29, channels, 255, 0.15)
        src[4:9, 10:20] = 255
        src[11:14, 3:25] = 0
        save_npy(f"resize/src_c{channels}.npy", src)
        even = smooth(12, 18, channels, 255, 0.2)
        save_npy(f"resize/src_even_c{channels}.npy", even)
        cases = [("src_c%d" % channels, t) for t in (targets_full if channels in (1, 3) else targets_small)]
        cases.append(("src_even_c%d" % channels, (9, 6)))       # exact 2x down: OpenCV switches to INTER_AREA
        cases.append(("src_even_c%d" % channels, (36, 24)))     # exact 2x up
        for source, (w, h) in cases:
            image = np.load(path("resize", source + ".npy"))
            out = cv2.resize(image[:, :, 0] if channels == 1 else image, (w, h), interpolation=cv2.INTER_LINEAR)
            name = f"resize/linear_{source}_{w}x{h}.npy"
            save_npy(name, out)
            manifest["resize"].append({"kind": "linear", "source": f"resize/{source}.npy", "width": w, "height": h,
                                       "npy": name, "reference": "cv2.resize INTER_LINEAR"})

    labels = label_plane(17, 29, 34)
    labels[RNG.random(labels.shape) < 0.05] = 255
    save_npy("resize/labels.npy", labels)
    for w, h in [(15, 9), (58, 34), (40, 23), (61, 37), (13, 29), (29, 17), (3, 2), (87, 51)]:
        cvout = cv2.resize(labels, (w, h), interpolation=cv2.INTER_NEAREST)
        name = f"resize/nearest_opencv_{w}x{h}.npy"
        save_npy(name, cvout)
        manifest["resize"].append({"kind": "nearest_opencv", "source": "resize/labels.npy", "width": w, "height": h,
                                   "npy": name, "reference": "cv2.resize INTER_NEAREST"})
        pilout = np.array(Image.fromarray(labels, mode="L").resize((w, h), Image.NEAREST))
        name = f"resize/nearest_pillow_{w}x{h}.npy"
        save_npy(name, pilout)
        manifest["resize"].append({"kind": "nearest_pillow", "source": "resize/labels.npy", "width": w, "height": h,
                                   "npy": name, "reference": "PIL.Image.resize NEAREST"})


def tricky_nearest_sizes():
    """(source, target) widths <= 256 where the naive floor(x * src/dst) picks a
    different pixel than OpenCV's floor(x * (1/(dst/src))), resp. Pillow's
    accumulated coordinate: the order of floating-point operations matters."""
    cv_pair = pil_pair = None
    for src in range(2, 257):
        for dst in range(2, 400):
            xs = np.arange(dst, dtype=np.float64)
            naive = np.minimum(np.floor(xs * (src / dst)), src - 1)
            opencv = np.minimum(np.floor(xs * (1.0 / (dst / src))), src - 1)
            if cv_pair is None and not np.array_equal(naive, opencv):
                cv_pair = (src, dst)
            a = src / dst
            acc, xo = [], a * 0.5
            for _ in range(dst):
                acc.append(min(int(xo), src - 1))
                xo += a
            naive_centre = np.minimum(np.floor((xs + 0.5) * a), src - 1)
            if pil_pair is None and not np.array_equal(naive_centre, np.array(acc)):
                pil_pair = (src, dst)
            if cv_pair and pil_pair:
                return cv_pair, pil_pair
    raise RuntimeError("no tricky sizes found")


def make_tricky_nearest():
    cv_pair, pil_pair = tricky_nearest_sizes()
    for kind, (src, dst) in (("nearest_opencv", cv_pair), ("nearest_pillow", pil_pair)):
        ramp = np.arange(src, dtype=np.uint8)[None, :]
        source = f"resize/ramp_{src}.npy"
        save_npy(source, ramp)
        if kind == "nearest_opencv":
            out = cv2.resize(ramp, (dst, 1), interpolation=cv2.INTER_NEAREST)
        else:
            out = np.array(Image.fromarray(ramp, mode="L").resize((dst, 1), Image.NEAREST))
        name = f"resize/{kind}_ramp_{src}_to_{dst}.npy"
        save_npy(name, out)
        manifest["resize"].append({"kind": kind, "source": source, "width": dst, "height": 1, "npy": name,
                                   "reference": "1-row ramp where the naive index formula is off by one"})


def main():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(path("broken"))
    make_png()
    jpeg_bytes = make_jpeg()
    make_broken(jpeg_bytes)
    make_resize()
    make_tricky_nearest()
    with open(path("manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
        f.write("\n")
    total = sum(os.path.getsize(os.path.join(d, n)) for d, _, ns in os.walk(OUT) for n in ns)
    print(f"wrote {sum(len(manifest[k]) for k in ('png', 'jpeg', 'broken', 'resize'))} fixtures, "
          f"{total / 1024:.0f} KiB, into {os.path.relpath(OUT, ROOT)}")
    disagree = [e["file"] for e in manifest["jpeg"] if not e["opencv_agrees_with_pillow"]]
    print("JPEG files where OpenCV's decode differs from Pillow's:", disagree or "none")


if __name__ == "__main__":
    main()
