"""Read the plate, not the wall: each view cropped to its text before it is resized.

PP-OCRv6's recognizer, whose backbone the shipped model reuses, was trained on text lines 48 px high; a whole
150-px FSNS view resized to the model's view size leaves its letters at a third of that. With ``model.crop: text``
each view is first cut down to the region PP-OCRv6's own text detector (``PP-OCRv6_det_small.onnx``, Apache-2.0, in
the rapidocr wheel beside the recognizer) finds text in, widened by a margin and grown to the view's aspect ratio,
so the same pixels carry larger letters (measured in BENCHMARKS.md, "route (b)"). The crop needs the image
alone. Here it runs outside the model, with the wheel's ONNX file, for training's data workers (through
:mod:`seqocr.imaging.preprocess`) and for an ONNX file exported before the crop was in the graph; the readers of a model
crop with the same rule inside it, as tensor operations, with the detector's weights in the model's files
(:mod:`seqocr.model.pixels`; the boxes are the same, tests/test_pixels.py).

The detector reads every view of an image in one batch, each resized to :data:`DET_SIDE` square, prepared as
rapidocr's ``DetPreProcess`` does (BGR, x / 255, mean 0.5, std 0.5); its box is the union of the pixels whose
probability exceeds :data:`THRESHOLD` (rapidocr's DB threshold). A view where it finds nothing, or only a sliver (a
noise tile's edge), is read whole.
"""

from __future__ import annotations

import os

import numpy as np
from PIL import Image

from ..ppocr_files import DETECTOR, wheel_file

DET_SIDE = 96             # the detector's input side (a multiple of 32): as good as 128 (and 128 as 192) at half the pixels
THRESHOLD = 0.3
MIN_SIDE = 0.04           # a box under 4 % of the view in either side is a sliver, not a plate
MARGIN = (0.12, 0.08)     # widening on each side, as a share of the view (x, y): line ends are the likeliest cut
Box = tuple[int, int, int, int]  # x0, y0, x1, y1 in pixels of a view

_sessions: dict[tuple[int, int], object] = {}  # (process id, threads) -> session: forked workers make their own


def _session(threads: int):
    key = (os.getpid(), threads)
    if key not in _sessions:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = threads
        _sessions[key] = ort.InferenceSession(str(wheel_file(DETECTOR, "model.crop: text")), options, providers=["CPUExecutionProvider"])
    return _sessions[key]


def probability_maps(views: list[Image.Image], threads: int = 1) -> np.ndarray:
    """The detector's text probability (N, DET_SIDE, DET_SIDE) for each view."""
    x = np.stack([np.asarray(v.convert("RGB").resize((DET_SIDE, DET_SIDE), Image.Resampling.BILINEAR), np.float32)
                  for v in views])
    x = ((x[..., ::-1] / 255.0 - 0.5) / 0.5).transpose(0, 3, 1, 2)  # RGB -> BGR, NCHW, as rapidocr feeds it
    return _session(threads).run(None, {"x": np.ascontiguousarray(x, np.float32)})[0][:, 0]


def mask_box(mask: np.ndarray) -> tuple[float, float, float, float] | None:
    """The bounding box of a mask's true pixels in fractions of its size (x0, y0, x1, y1); None when it has none."""
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    if not len(rows):
        return None
    h, w = mask.shape
    return cols[0] / w, rows[0] / h, (cols[-1] + 1) / w, (rows[-1] + 1) / h


def grow(box: tuple[float, float, float, float], size: tuple[int, int], aspect: float) -> Box:
    """A found box (fractions) widened by :data:`MARGIN`, then grown about its centre until its width / height is
    ``aspect`` (the model's view shape: no distortion), kept inside the view of ``size`` (w, h) pixels, where it
    is clipped when the view cannot hold it."""
    w, h = size
    x0, y0, x1, y1 = box
    x0, x1 = max(0.0, x0 - MARGIN[0]) * w, min(1.0, x1 + MARGIN[0]) * w
    y0, y1 = max(0.0, y0 - MARGIN[1]) * h, min(1.0, y1 + MARGIN[1]) * h
    tw, th = x1 - x0, y1 - y0                              # the text with its margins
    bw, bh = max(tw, th * aspect), max(th, tw / aspect)    # the side that is short for the aspect grows
    if bw > w:                                             # as wide as the view: as high as the aspect asks
        bw, bh = w, min(h, max(th, w / aspect))
    if bh > h:
        bw, bh = min(w, max(tw, h * aspect)), h
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    left = min(max(cx - bw / 2, 0.0), w - bw)
    top = min(max(cy - bh / 2, 0.0), h - bh)
    out = (round(left), round(top), round(left + bw), round(top + bh))
    return out if out[2] > out[0] and out[3] > out[1] else (0, 0, w, h)


def text_boxes(views: list[Image.Image], aspect: float, threads: int = 1) -> list[Box]:
    """Each view's crop (pixels of that view): the detected text grown to ``aspect`` (:func:`grow`), or the whole
    view where no text, or only a sliver, was found. Views that are the same image are detected once."""
    distinct = list({id(v): v for v in views}.values())  # a repeated view (a photo, a noise tile's stand-in) once
    maps = dict(zip(map(id, distinct), probability_maps(distinct, threads)))
    boxes = []
    for v in views:
        found = mask_box(maps[id(v)] > THRESHOLD)
        if found is None or min(found[2] - found[0], found[3] - found[1]) < MIN_SIDE:
            boxes.append((0, 0, *v.size))
        else:
            boxes.append(grow(found, v.size, aspect))
    return boxes
