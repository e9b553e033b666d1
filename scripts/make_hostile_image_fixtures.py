#!/usr/bin/env python3
"""Writes the hostile image headers of Tests/ImageIOTests/Fixtures/hostile/ (docs/reliability.md).

Each file is a few dozen bytes whose header declares far more pixels than the
decode limit (64 MP by default): a PNG IHDR of 100000 x 100000, and progressive
(SOF2) JPEGs whose only scan is a DC scan of a few zero bytes. Before the limit,
libjpeg decoded such a file into full-size coefficient buffers (16000 x 16000:
over half a gigabyte touched) before noticing the missing data.
Standard library only; the bytes are the same as Tests/ImageIOTests/DecodeLimitTests.swift builds.
"""
import os
import struct
import zlib

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "ImageIOTests", "Fixtures", "hostile")


def chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def png(width, height):
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", bytes([0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01])) + chunk(b"IEND", b""))


def progressive_jpeg(width, height):
    out = b"\xff\xd8"
    out += b"\xff\xdb\x00\x43\x00" + bytes([1] * 64)                                   # DQT
    out += b"\xff\xc2\x00\x0b\x08" + struct.pack(">HH", height, width) + bytes([1, 1, 0x11, 0])  # SOF2, grey
    out += b"\xff\xc4\x00\x14\x00" + bytes([1] + [0] * 15) + b"\x00"                   # DHT: DC code "0" -> 0
    out += b"\xff\xda\x00\x08" + bytes([1, 1, 0x00, 0, 0, 0x00])                      # SOS: DC first scan
    out += bytes(4) + b"\xff\xd9"
    return out


def main():
    os.makedirs(OUT, exist_ok=True)
    files = {
        "ihdr_100000x100000.png": png(100000, 100000),
        "progressive_60000x60000.jpg": progressive_jpeg(60000, 60000),
        "progressive_16000x16000.jpg": progressive_jpeg(16000, 16000),
    }
    for name, data in files.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
        print(name, len(data), "bytes")


if __name__ == "__main__":
    main()
