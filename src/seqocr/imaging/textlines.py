"""Every line at the backbone's own scale: each view recomposed from its text lines.

PP-OCRv6's recognizer, whose backbone the shipped model reuses, reads one text line resized to 48 px high. A crop to
the text region (:mod:`seqocr.imaging.textcrop`) enlarges the letters, but the lines of a plate keep their ratios: a first
name painted at half the surname's height stays at half, and a two-line plate shares one crop. With ``model.crop:
lines`` each view is rebuilt as a stack of :data:`LINE_HEIGHT`-px slots (``view_height / 48`` of them, so 3 in a
144-px view), one line of text per slot, top to bottom as on the plate: every line is read at the height the
backbone was trained at, whatever its size on the plate, and the backbone's stride of 16 puts each line in 3 rows
of its map, as in the recognizer it comes from. A view with more lines than slots (a plate above, a subtitle, a
first name on its own line) shares its height out evenly among them, down to :data:`MIN_LINE` px a line.

The lines come from the same detector as the crop (:func:`seqocr.imaging.textcrop.probability_maps`): its map, thresholded,
is cut into bands of rows that hold text; a band, widened by :data:`PAD` of its height (the detector marks a
shrunk core of each line), is resized to the slot's height, left-aligned, and squeezed in width only when it is
wider than the view. When a view has more bands than even the smallest lines leave room for, the two closest
neighbours are merged until they fit; slots left over are grey, and a view where nothing is found is read whole. Training, both readers and the service
go through :func:`line_layouts` and :func:`compose`, so they read alike.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from .textcrop import MIN_SIDE, THRESHOLD, probability_maps

LINE_HEIGHT = 48          # PP-OCRv6's recognizer's line height: 3 rows of the backbone's map at stride 16
PAD = (0.5, 0.2)          # widening of a band on each side (x, y), as a share of its height in the map
MIN_LINE = 24             # a view with more lines than 48-px slots shares its height out, down to 24 px a line
GREY = (128, 128, 128)    # an empty slot: 0 after 2x/255 - 1, as PaddleOCR pads its lines
Box = tuple[int, int, int, int]
Piece = tuple[Box, Box]   # (region of the view, place in the composed view), both in pixels
Layout = tuple[Piece, ...]


def slots(view_height: int) -> int:
    """How many lines a composed view of ``view_height`` px holds at :data:`LINE_HEIGHT`."""
    return view_height // LINE_HEIGHT


def line_height(lines: int, view_height: int) -> int:
    """The height of each of ``lines`` lines in a composed view of ``view_height`` px."""
    return min(LINE_HEIGHT, view_height // max(lines, 1))


def components(mask: np.ndarray) -> list[Box]:
    """The bounding boxes (x0, y0, x1, y1, in pixels of the mask) of its 8-connected parts, found run by run: the
    runs of every row at once, then each joined to the runs it touches in the row above (union-find)."""
    padded = np.zeros((mask.shape[0], mask.shape[1] + 2), np.int8)
    padded[:, 1:-1] = mask
    ys, xs = np.nonzero(np.diff(padded, axis=1))
    starts, ends, rows = xs[::2].tolist(), xs[1::2].tolist(), ys[::2].tolist()  # run i: row rows[i], [start, end)
    parent = list(range(len(rows)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first = 0  # the first run of the row above the current one
    for i, y in enumerate(rows):
        while rows[first] < y - 1:
            first += 1
        for j in range(first, i):
            if rows[j] == y - 1 and starts[j] <= ends[i] and starts[i] <= ends[j]:  # touching, diagonals included
                parent[root(j)] = root(i)
    merged: dict[int, list[int]] = {}
    for i, y in enumerate(rows):
        m = merged.setdefault(root(i), [starts[i], y, ends[i], y + 1])
        m[:] = min(m[0], starts[i]), m[1], max(m[2], ends[i]), y + 1
    return [tuple(m) for m in merged.values()]


def bands(mask: np.ndarray) -> list[tuple[int, int]]:
    """Runs of rows of ``mask`` that hold text: [(first row, row after the last)], top to bottom. Parts taller than
    wide by half again (a pole, a noise tile's edge: not a line of writing) are left out."""
    rows = np.zeros(len(mask) + 2, np.int8)
    for x0, y0, x1, y1 in components(mask):
        if y1 - y0 <= 1.5 * (x1 - x0):
            rows[y0 + 1:y1 + 1] = 1
    edges = np.flatnonzero(np.diff(rows))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))


def _text_only(mask: np.ndarray) -> np.ndarray:
    """``mask`` without its parts taller than wide by half again (as :func:`bands` leaves them out)."""
    out = np.zeros_like(mask)
    for x0, y0, x1, y1 in components(mask):
        if y1 - y0 <= 1.5 * (x1 - x0):
            out[y0:y1, x0:x1] |= mask[y0:y1, x0:x1]
    return out


def merge_closest(runs: list[tuple[int, int]], most: int) -> list[tuple[int, int]]:
    """``runs`` with the two closest neighbours merged, again and again, until at most ``most`` are left."""
    runs = list(runs)
    while len(runs) > most:
        k = min(range(len(runs) - 1), key=lambda i: runs[i + 1][0] - runs[i][1])
        runs[k:k + 2] = [(runs[k][0], runs[k + 1][1])]
    return runs


def line_regions(mask: np.ndarray, most: int) -> list[tuple[float, float, float, float]]:
    """The text lines of a detector mask, at most ``most``: (x0, y0, x1, y1) in fractions of the view, each band
    widened by :data:`PAD` and kept inside the view; none when the mask holds nothing but slivers."""
    h, w = mask.shape
    mask, out = _text_only(mask), []
    for r0, r1 in merge_closest(bands(mask), most):
        cols = np.flatnonzero(mask[r0:r1].any(0))
        if (r1 - r0) / h < MIN_SIDE / 2 and (cols[-1] + 1 - cols[0]) / w < MIN_SIDE:
            continue  # a speck, not a line
        px, py = PAD[0] * (r1 - r0), PAD[1] * (r1 - r0) + 1
        out.append((max(0.0, (cols[0] - px) / w), max(0.0, (r0 - py) / h),
                    min(1.0, (cols[-1] + 1 + px) / w), min(1.0, (r1 + py) / h)))
    return out


def line_layout(regions: list[tuple[float, float, float, float]], view: tuple[int, int], size: tuple[int, int]) -> Layout:
    """Each region (fractions of a view of ``view`` = (w, h) px) in its slot of a composed view of ``size`` =
    (W, H) px: :func:`line_height` px high, as wide as its aspect asks up to W, left-aligned."""
    (w, h), (cw, ch) = view, size
    pieces, high = [], line_height(len(regions), ch)
    for k, (x0, y0, x1, y1) in enumerate(regions):
        src = (round(x0 * w), round(y0 * h), max(round(x1 * w), round(x0 * w) + 1), max(round(y1 * h), round(y0 * h) + 1))
        wide = round((src[2] - src[0]) * high / (src[3] - src[1]))
        pieces.append((src, (0, k * high, max(1, min(cw, wide)), (k + 1) * high)))
    return tuple(pieces) if pieces else (((0, 0, w, h), (0, 0, cw, ch)),)


def line_layouts(views: list[Image.Image], size: tuple[int, int], threads: int = 1) -> list[Layout]:
    """Where each view's lines go in its composed view of ``size`` = (W, H) px. Views that are the same image
    are detected once."""
    distinct = list({id(v): v for v in views}.values())
    maps = dict(zip(map(id, distinct), probability_maps(distinct, threads)))
    most = size[1] // MIN_LINE
    return [line_layout(line_regions(maps[id(v)] > THRESHOLD, most), v.size, size) for v in views]


def around(layout: Layout) -> Box:
    """The box around the regions of a view that a layout reads, in that view's pixels."""
    sources = [src for src, _ in layout]
    return (min(s[0] for s in sources), min(s[1] for s in sources), max(s[2] for s in sources),
            max(s[3] for s in sources))


def compose(view: Image.Image, layout: Layout, size: tuple[int, int],
            resample: Image.Resampling = Image.Resampling.BILINEAR) -> Image.Image:
    """The composed view: each piece of ``view`` resized into its place on a grey canvas of ``size``."""
    out = Image.new("RGB", size, GREY)
    for src, dst in layout:
        out.paste(view.crop(src).resize((dst[2] - dst[0], dst[3] - dst[1]), resample), dst[:2])
    return out


def layout_glyphs(boxes: np.ndarray, layout: Layout, view: tuple[int, int], size: tuple[int, int]) -> np.ndarray:
    """Glyph boxes (L, 4) in fractions of a view of ``view`` = (w, h) px -> in fractions of its composed view of
    ``size``: each moved with the piece its centre falls in (the first, where pieces overlap); NaN where none."""
    (w, h), (cw, ch) = view, size
    out = np.full_like(boxes, np.nan, dtype=np.float32)
    cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2 * w, (boxes[:, 1] + boxes[:, 3]) / 2 * h
    free = np.isfinite(cx) & np.isfinite(cy)
    for (x0, y0, x1, y1), (u0, v0, u1, v1) in layout:
        inside = free & (cx >= x0) & (cx < x1) & (cy >= y0) & (cy < y1)
        sx, sy = (u1 - u0) / (x1 - x0), (v1 - v0) / (y1 - y0)
        b = boxes[inside]
        out[inside, 0] = (u0 + (b[:, 0] * w - x0).clip(0, x1 - x0) * sx) / cw
        out[inside, 2] = (u0 + (b[:, 2] * w - x0).clip(0, x1 - x0) * sx) / cw
        out[inside, 1] = (v0 + (b[:, 1] * h - y0).clip(0, y1 - y0) * sy) / ch
        out[inside, 3] = (v0 + (b[:, 3] * h - y0).clip(0, y1 - y0) * sy) / ch
        free &= ~inside
    return out
