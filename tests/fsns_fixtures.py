"""Builders of real FSNS-format TFRecord files for the tfrecord and convert tests."""

from __future__ import annotations

import io
import random
import struct
from pathlib import Path

from PIL import Image

from seqocr.charset import Charset
from seqocr.data.synth import street_name, synth_sample
from seqocr.data.tfrecord import write_fsns


def small_png(i: int) -> bytes:
    """A tiny PNG whose bytes differ for every ``i`` (fast; convert never decodes images)."""
    buf = io.BytesIO()
    Image.new("RGB", (16, 4), (i % 256, i // 256 % 256, 7)).save(buf, format="PNG")
    return buf.getvalue()


def small_samples(n: int, seed: int = 0) -> list[tuple[bytes, str]]:
    """``n`` (PNG bytes, street name) pairs: tiny images, realistic FSNS labels."""
    return [(small_png(i), street_name(random.Random(seed * 1_000_003 + i))) for i in range(n)]


def synth_samples(n: int, seed: int = 0) -> list[tuple[bytes, str]]:
    """``n`` realistic 600x150 generated signs as (PNG bytes, label)."""
    out = []
    for i in range(n):
        img, text = synth_sample(seed, i)
        buf = io.BytesIO()
        img.save(buf, format="PNG")
        out.append((buf.getvalue(), text))
    return out


def write_split(root: Path, split: str, samples: list[tuple[bytes, str]], shards: int = 2,
                nested: bool = True) -> list[Path]:
    """FSNS's shard layout (``root/split/split-0000k-of-0000n``, or ``root/split-...`` if not ``nested``),
    samples dealt out in order: shard 0 holds the first ones."""
    folder = root / split if nested else root
    folder.mkdir(parents=True, exist_ok=True)
    per = -(-len(samples) // shards)
    paths = []
    for k in range(shards):
        path = folder / f"{split}-{k:05d}-of-{shards:05d}"
        write_fsns(path, samples[k * per:(k + 1) * per], Charset.fsns())
        paths.append(path)
    return paths


def record_offsets(path: Path) -> list[int]:
    """Byte offset of every record in a TFRecord file, from its length fields (no checks)."""
    data, offsets, pos = path.read_bytes(), [], 0
    while pos < len(data):
        offsets.append(pos)
        pos += 16 + struct.unpack("<Q", data[pos:pos + 8])[0]
    return offsets


def flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x40
    path.write_bytes(bytes(data))


def truncate(path: Path, size: int) -> None:
    path.write_bytes(path.read_bytes()[:size])
