"""Where the model looked: each decoded character's attention drawn over the views. numpy + Pillow, no torch.

A reading's ``attention`` (:class:`~seqocr.inference.postprocess.Reading`) is (N, V, R, W) for its N characters:
weights over V views, R rows and W columns of the model's memory, summing to 1 per character. The memory is
coarser than the image (the shipped model: 8 x 32 cells per 128 x 128 view, a cell every 16 pixels down and 4
across; the reference model: one row of 64 column bands, the same band in every view), so a map is stretched
over its view with bilinear smoothing. Every map is shown relative to its own peak: where the weight is, not how
peaked it is.

Used by ``seqocr read --show`` (:func:`render_reading`), ``seqocr eval --report`` (:func:`attention_strip`) and
the service (:func:`attention_payload`, drawn by the page in the browser). Where the model cuts its views itself
(:mod:`seqocr.model.pixels`), the views drawn are the regions its reading gives, and the whole image is drawn with
those regions outlined (:func:`image_with_regions`).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from ..imaging.preprocess import ImageSpec, cut_region, view_crops, view_images
from .postprocess import Reading

# heat ramp from weak to strong (position, RGB): deep blue, magenta, orange, pale yellow
_RAMP = ((0.0, (20, 20, 160)), (0.4, (200, 30, 130)), (0.75, (255, 150, 20)), (1.0, (255, 250, 150)))
_FONTS = ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "DejaVuSans.ttf")
BACKGROUND, INK, MUTED = (255, 255, 255), (20, 20, 20), (110, 110, 110)


@lru_cache(maxsize=8)
def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """DejaVu Sans where installed (it has every FSNS character), else Pillow's own font."""
    for name in _FONTS:
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default(size=size)


def heat_colours(w: np.ndarray) -> np.ndarray:
    """Weights in [0, 1], any shape -> RGB uint8 (..., 3) along the heat ramp."""
    xs = [p for p, _ in _RAMP]
    return np.stack([np.interp(w, xs, [c[i] for _, c in _RAMP]) for i in range(3)], -1).round().astype(np.uint8)


def normalise(maps: np.ndarray) -> np.ndarray:
    """(N, ...) maps -> each divided by its own peak (an all-zero map stays zero)."""
    maps = np.asarray(maps, dtype=np.float32)
    peak = maps.reshape(len(maps), -1).max(1) if len(maps) else np.zeros(0, np.float32)
    return maps / np.where(peak > 0, peak, 1.0).reshape(-1, *([1] * (maps.ndim - 1)))


def spread(grid: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A map (R, W) stretched to ``size`` (w, h) pixels (h, w). A weight sits on one memory cell (4 x 16 pixels of
    a view for the shipped model), so it is blurred over about a cell: a peaked map reads as a spot, not a dot."""
    cells = Image.fromarray(np.clip(grid, 0.0, 1.0).astype(np.float32) * 255).convert("L")
    radius = 0.6 * max(size[0] / grid.shape[1], size[1] / grid.shape[0])
    return np.asarray(cells.resize(size, Image.Resampling.BILINEAR).filter(ImageFilter.GaussianBlur(radius)),
                      dtype=np.float32)


def overlay(view: Image.Image, w: np.ndarray) -> Image.Image:
    """A view dimmed to grey under a heat map ``w`` (h, w) in [0, 1] of its size."""
    size = (w.shape[1], w.shape[0])
    base = view.convert("L").resize(size, Image.Resampling.BILINEAR).point(lambda p: 40 + p * 0.45).convert("RGB")
    heat = Image.fromarray(heat_colours(w), "RGB")
    return Image.composite(heat, base, Image.fromarray((np.sqrt(w) * 230).astype(np.uint8), "L"))


def views_of(image: Image.Image, spec: ImageSpec, regions: np.ndarray | None = None) -> list[Image.Image]:
    """The V views the model saw: the ``regions`` of the image it read where it cut its views itself (a reading's
    :attr:`~.postprocess.Reading.regions`, (V, 4) in the image's pixels); else a multi-view strip's tiles, or a
    single photo repeated (preprocess.view_images), each cut to the region the model read (``spec.crop``)."""
    image = image.convert("RGB")
    if regions is not None:
        return [image.crop(tuple(round(c) for c in box)) for box in np.asarray(regions).tolist()]
    views = view_images(image, spec.num_views)
    return [cut_region(v, box, spec) for v, box in zip(views, view_crops(views, spec))]


REGION_COLOURS = ((230, 60, 60), (40, 150, 230), (60, 180, 80), (240, 170, 20))  # view 1, 2, 3, 4 (then again)


def image_with_regions(image: Image.Image, regions: np.ndarray, width: int) -> Image.Image:
    """The whole image, ``width`` pixels wide, with the region each view read outlined (view 1 red, 2 blue, 3 green,
    4 amber; a region read by several views, as a photo's, in the first one's colour) and numbered."""
    scale = width / image.width
    out = image.convert("RGB").resize((width, max(1, round(image.height * scale))), Image.Resampling.BILINEAR)
    draw, small = ImageDraw.Draw(out), font(12)
    seen: dict[tuple, int] = {}
    for v, box in enumerate(np.asarray(regions, dtype=np.float64).tolist()):
        key = tuple(round(c) for c in box)
        if key in seen:
            continue
        seen[key] = v
        x0, y0, x1, y1 = (round(c * scale) for c in box)
        colour = REGION_COLOURS[v % len(REGION_COLOURS)]
        draw.rectangle((x0, y0, max(x0, x1 - 1), max(y0, y1 - 1)), outline=colour, width=2)
        draw.text((x0 + 4, y0 + 2), str(v + 1), font=small, fill=colour)
    return out


def side_by_side(views: Sequence[Image.Image], px: int, gap: int = 0) -> Image.Image:
    """The views resized to ``px`` x ``px``, left to right, ``gap`` pixels apart."""
    out = Image.new("RGB", (len(views) * (px + gap) - gap, px), BACKGROUND)
    for v, view in enumerate(views):
        out.paste(view.resize((px, px), Image.Resampling.BILINEAR), (v * (px + gap), 0))
    return out


def stacked(top: Image.Image, bottom: Image.Image, gap: int = 6) -> Image.Image:
    """``top`` above ``bottom``, ``gap`` pixels apart, on the background."""
    out = Image.new("RGB", (max(top.width, bottom.width), top.height + gap + bottom.height), BACKGROUND)
    out.paste(top, (0, 0))
    out.paste(bottom, (0, top.height + gap))
    return out


def show_char(c: str) -> str:
    return "␣" if c == " " else c


def prob_colour(p: float) -> tuple[int, int, int]:
    """Red (0) through amber to green (1): how sure the model was of a character."""
    p = min(max(p, 0.0), 1.0)
    return (int(200 - 150 * p), int(60 + 110 * p), 60) if p >= 0.5 else (200, int(60 + 180 * p), 60)


def panel(views: Sequence[Image.Image], maps: np.ndarray, view_px: int) -> Image.Image:
    """One character: the V views side by side, each under its map; ``maps`` (V, R, W) already normalised."""
    out = Image.new("RGB", (len(views) * view_px + len(views) - 1, view_px), BACKGROUND)
    heat = np.stack([spread(m, (view_px, view_px)) for m in maps])
    heat /= max(float(heat.max()), 1e-6)  # one scale for all views: a view the model hardly used stays dark
    for v, view in enumerate(views):
        out.paste(overlay(view, heat[v]), (v * (view_px + 1), 0))
    return out


def attention_strip(image: Image.Image, reading: Reading, spec: ImageSpec, view_px: int = 48, columns: int = 5
                    ) -> Image.Image | None:
    """One small panel per character (the views under its attention, the character and its probability under
    them), ``columns`` to a row; None when the reading has no attention or no characters."""
    if reading.attention is None or not len(reading.attention):
        return None
    views, maps = views_of(image, spec, reading.regions), normalise(reading.attention)
    small = font(max(10, view_px // 3))
    width = len(views) * view_px + len(views) - 1
    cell_w, cell_h = width + 8, view_px + view_px // 3 + 10
    rows = -(-len(maps) // columns)
    out = Image.new("RGB", (min(columns, len(maps)) * cell_w, rows * cell_h), BACKGROUND)
    draw = ImageDraw.Draw(out)
    for k, (c, p) in enumerate(zip(reading.text, reading.char_probs)):
        x, y = (k % columns) * cell_w, (k // columns) * cell_h
        out.paste(panel(views, maps[k], view_px), (x, y))
        draw.text((x, y + view_px + 2), f"{k + 1}: {show_char(c)}", font=small, fill=INK)
        draw.text((x + width, y + view_px + 2), f"{p:.2f}", font=small, fill=prob_colour(p), anchor="ra")
    return out


def text_cells(draw: ImageDraw.ImageDraw, reading: Reading, xy: tuple[int, int], width: int, size: int = 22
               ) -> int:
    """The text, one cell per character with its probability under it, wrapped at ``width``; returns the height
    drawn (0 when there is no text)."""
    big, small = font(size), font(max(9, size // 2))
    cell_w, cell_h = int(size * 1.7), int(size * 2.2)
    per_row = max(1, width // cell_w)
    for k, (c, p) in enumerate(zip(reading.text, reading.char_probs)):
        x, y = xy[0] + (k % per_row) * cell_w, xy[1] + (k // per_row) * cell_h
        draw.rectangle((x, y, x + cell_w - 2, y + cell_h - 2), outline=prob_colour(p), width=2)
        draw.text((x + cell_w // 2, y + 3), show_char(c), font=big, fill=INK, anchor="ma")
        draw.text((x + cell_w // 2, y + cell_h - 4), f"{p:.2f}", font=small,
                  fill=prob_colour(p), anchor="md")
    return -(-len(reading.text) // per_row) * cell_h


def render_reading(image: Image.Image, reading: Reading, spec: ImageSpec, title: str = "", view_px: int = 150
                   ) -> Image.Image:
    """``read --show``'s picture of one reading: where the model cut its views on the whole image (a model that
    cuts them itself: the reading's regions), the views as the model saw them, the text with each character's
    probability, then one panel per character with its attention over the views."""
    views = views_of(image, spec, reading.regions)
    width = max(len(views) * (view_px + 4), 600)
    whole = None if reading.regions is None else image_with_regions(image, reading.regions, width)
    strip = attention_strip(image, reading, spec)
    head = font(15)
    lines = [title] if title else []
    status = "rejected (below --min-confidence)" if reading.rejected else f"{len(reading.text)} characters"
    lines.append(f"confidence {reading.confidence:.3f}, {status}")
    tall = (120 + 22 * len(lines) + view_px + 50 * len(reading.text) + (strip.height if strip else 0)
            + (whole.height + 10 if whole else 0))  # cropped below
    canvas = Image.new("RGB", (max(width, strip.width if strip else 0) + 20, tall), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    y = 10
    for line in lines:
        draw.text((10, y), line, font=head, fill=MUTED)
        y += 22
    if whole is not None:
        canvas.paste(whole, (10, y))
        y += whole.height + 10
    canvas.paste(side_by_side(views, view_px, gap=4), (10, y))
    y += view_px + 10
    y += text_cells(draw, reading, (10, y), canvas.width - 20) + 10
    if strip is not None:
        canvas.paste(strip, (10, y))
        y += strip.height
    elif not reading.rejected and reading.text:
        draw.text((10, y), "no attention maps (the ONNX reader has none)", font=head, fill=MUTED)
        y += 22
    return canvas.crop((0, 0, canvas.width, y + 10))


def show_names(inputs: Sequence[str], folder: Path) -> list[Path]:
    """One output file per input, ``STEM.attention.png`` in ``folder`` (never an input's own name), ``STEM-2...``
    for the second input with the same stem (case folded, for case-insensitive file systems), in input order."""
    used: set[str] = set()
    out = []
    for name in inputs:
        stem = Path(name).stem.lstrip(".") or "image"  # no hidden files
        candidate, n = stem, 1
        while candidate.casefold() in used:
            n += 1
            candidate = f"{stem}-{n}"
        used.add(candidate.casefold())
        out.append(folder / f"{candidate}.attention.png")
    return out


def attention_payload(maps: np.ndarray) -> dict:
    """A reading's maps (N, V, R, W) for JSON, small: each map scaled to its own peak, rounded to bytes 0..255,
    flattened row-major (views, then rows, then columns) and base64-encoded, one string per character. The
    service sends this with ``attention=1``: about half the size of a JSON list of the same integers."""
    maps = np.asarray(maps, dtype=np.float32)
    shape = list(maps.shape[1:]) if maps.ndim == 4 else []
    scaled = np.rint(normalise(maps) * 255).astype(np.uint8).reshape(len(maps), int(np.prod(shape)))
    return {"shape": shape, "levels": 255, "encoding": "base64 uint8",
            "maps": [base64.b64encode(m.tobytes()).decode("ascii") for m in scaled]}
