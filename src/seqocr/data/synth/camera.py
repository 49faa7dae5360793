"""The camera: each view's frame (``TILE`` px, ``VIEWS`` of them), lighting and colour, sensor noise, blur and
JPEG compression, and the noise banks they draw from."""

from __future__ import annotations

import functools
import io
import math
import random

import numpy as np
from PIL import Image, ImageChops, ImageFilter

TILE, VIEWS = 150, 4


NOISE_SIGMAS = (2, 4, 6, 9)
SHADING = (0.12, 0.22, 0.32, 0.45)  # strengths of the linear shading ramps


@functools.lru_cache(maxsize=1)
def _banks() -> tuple[tuple[Image.Image, ...], np.ndarray, tuple[Image.Image, ...]]:
    """Fixed banks: gaussian sensor noise around 128 (one image per sigma of :data:`NOISE_SIGMAS`), FSNS-style
    uniform RGB noise, and linear shading ramps in 8 directions x :data:`SHADING` strengths (L masks)."""
    nrng = np.random.default_rng(20240612)
    unit = nrng.standard_normal((2 * TILE, 2 * TILE, 3), dtype=np.float32)
    gauss = tuple(Image.fromarray(np.clip(128 + unit * s, 0, 255).astype(np.uint8), "RGB") for s in NOISE_SIGMAS)
    uniform = nrng.integers(0, 256, (2 * TILE, 2 * TILE * VIEWS, 3), dtype=np.uint8)
    t = np.linspace(0.0, 1.0, TILE, dtype=np.float32)
    ramps = []
    for k in range(8):
        a = k * math.pi / 4
        r = np.add.outer(t * np.float32(round(math.sin(a), 6)), t * np.float32(round(math.cos(a), 6)))
        r = (r - r.min()) / max(float(r.max() - r.min()), 1e-6)
        ramps += [Image.fromarray((r * amount * 255).astype(np.uint8), "L") for amount in SHADING]
    return gauss, uniform, tuple(ramps)


def _lut(gains: list[float], contrast: float, brightness: float) -> list[int]:
    """A 768-entry RGB lookup table: ``(v - 128) * contrast * gain + 128 + brightness``, clipped."""
    v = np.arange(256, dtype=np.float32) - 128
    out = v[None] * (np.asarray(gains, np.float32)[:, None] * np.float32(contrast)) + np.float32(128 + brightness)
    return np.clip(out, 0, 255).astype(np.uint8).ravel().tolist()


def _light(view: Image.Image, rng: random.Random) -> Image.Image:
    """Lighting and colour, each a single Pillow call: linear shading, darkening with a colour cast, haze (lower
    contrast towards a light or dark tone), brightening, desaturation."""
    _, _, ramps = _banks()
    size = view.size
    if rng.random() < 0.6:
        view.paste((0, 0, 0), (0, 0), ramps[rng.randrange(len(ramps))].crop((0, 0) + size))
    if rng.random() < 0.7:
        g = rng.uniform(0.65, 1.0)
        view = ImageChops.multiply(view, Image.new("RGB", size, tuple(round(255 * g * rng.uniform(0.88, 1.0))
                                                                      for _ in range(3))))
    if rng.random() < 0.45:
        tone = rng.choice((rng.randint(150, 230), rng.randint(20, 70)))
        haze = tuple(max(0, min(255, tone + rng.randint(-15, 15))) for _ in range(3))
        view = Image.blend(view, Image.new("RGB", size, haze), rng.uniform(0.05, 0.3))
    if rng.random() < 0.3:
        view = ImageChops.screen(view, Image.new("RGB", size, (rng.randint(10, 70),) * 3))
    sat = rng.uniform(0.5, 1.15)
    if abs(sat - 1) > 0.03:
        view = Image.blend(view.convert("L").convert("RGB"), view, sat)
    return view


def _sensor(view: Image.Image, rng: random.Random) -> Image.Image:
    """Gaussian sensor noise from the bank (a random crop of one of :data:`NOISE_SIGMAS`), sometimes none."""
    gauss, _, _ = _banks()
    k = rng.randrange(len(NOISE_SIGMAS) + 1)
    if k == len(NOISE_SIGMAS):
        return view
    x, y = rng.randrange(2 * TILE - view.width + 1), rng.randrange(2 * TILE - view.height + 1)
    return ImageChops.add(view, gauss[k].crop((x, y, x + view.width, y + view.height)), 1.0, -128)


def _camera(view: Image.Image, rng: random.Random) -> Image.Image:
    """Camera: lighting, sensor noise, blur (gaussian, motion or defocus)."""
    view = _sensor(_light(view, rng), rng)
    r, f = rng.random(), view.width / TILE  # blur sizes are in tile pixels
    if r < 0.15:
        return view.filter(ImageFilter.GaussianBlur(rng.uniform(0.4, 1.0) * f))
    if r < 0.20 and view.width > 100:
        return view.filter(_motion_kernel(rng.randrange(4)))
    if r < 0.24:
        return view.filter(ImageFilter.BoxBlur(rng.uniform(1.5, 2.5) * f))
    return view


def _encode(views: list[Image.Image], rng: random.Random) -> list[Image.Image]:
    """JPEG at a random quality 20-70 (most of the time), applied to the small views side by side in one strip,
    then each view scaled back up to TILE x TILE."""
    if rng.random() < 0.88:
        strip = Image.new("RGB", (sum(v.width for v in views), max(v.height for v in views)))
        x = 0
        for v in views:
            strip.paste(v, (x, 0))
            x += v.width
        buf = io.BytesIO()
        strip.save(buf, "JPEG", quality=rng.randint(40, 90))
        strip = Image.open(buf).convert("RGB")
        xs = np.cumsum([0] + [v.width for v in views]).tolist()
        views = [strip.crop((x0, 0, x0 + v.width, v.height)) for x0, v in zip(xs, views)]
    return [v if v.width == TILE else v.resize((TILE, TILE), Image.Resampling.BILINEAR) for v in views]


@functools.lru_cache(maxsize=4)
def _motion_kernel(direction: int) -> ImageFilter.Kernel:
    """A 5x5 line kernel: motion blur horizontal, vertical or along a diagonal."""
    k = np.zeros((5, 5), np.float32)
    for i in range(5):
        k[((2, i, i, 4 - i)[direction], (i, 2, i, i)[direction])] = 1
    return ImageFilter.Kernel((5, 5), k.ravel().tolist(), scale=5)
