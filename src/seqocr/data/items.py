"""A dataset item, the same for every source (torch-free).

An item is ``(image (3, H, V·W) float32, text, where)`` or, when the sample cannot be used, ``(None, reason,
where)``: the batch collation drops it and the training loop counts it. A generated sample can carry a fourth
element: where each character of its text is in each view, ``(len(text), V, 4)`` boxes in fractions of the view
(NaN: nowhere), for an attention loss. A sample is addressed by a *key*
``(index, position)``: ``index`` picks the sample and ``position`` (its global rank in the training stream) seeds
its augmentation, so a run is reproducible and resumable from the step counter alone.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Callable

from ..errors import DataError
from ..imaging.preprocess import ImageSpec, eval_transform, tiles, train_transform

Key = tuple[int, int]
Item = tuple  # (image | None, text | reason, where) or (image, text, where, glyph boxes)


def synth_where(split: str, seed: int, i: int) -> str:
    """How generated sign ``i`` is named in messages and predictions: ``synth:SPLIT:SEED:I``."""
    return f"synth:{split}:{seed}:{i}"


def sample_rng(seed: int, position: int) -> random.Random:
    return random.Random(zlib.crc32(f"{seed}:{position}".encode()))


def item_augmentation(augment: bool | str, seed: int, position: int) -> tuple[random.Random | None, bool]:
    """``make_item``'s ``rng`` and ``on_device`` for a dataset's ``augment`` (False, True: in the worker, "device":
    on the training device) and the sample's draw (``seed``, ``position``)."""
    return (sample_rng(seed, position) if augment else None), augment == "device"


def make_item(load: Callable[[], tuple], where: str, spec: ImageSpec, rng: random.Random | None,
              on_device: bool = False) -> Item:
    """The item of one sample. ``load()`` gives its image, its label and how many of its views are real (None:
    all), and maybe its glyph boxes per tile (L, V, 4), or raises :class:`DataError`, which becomes the item's
    reason. With ``rng`` the image gets the training augmentation drawn from it (the boxes follow the crops),
    else the evaluation resize; with ``on_device`` it is left to the training device: the item's image is then
    its uint8 tiles (:func:`~seqocr.imaging.preprocess.tiles`) and its boxes stay in fractions of them."""
    try:
        img, text, present, *glyphs = load()
    except DataError as e:
        return None, str(e), where
    if glyphs:
        if on_device:
            x, boxes = tiles(img, spec, present, glyphs[0])
        elif rng is None:
            x, boxes = eval_transform(img, spec, present, glyphs[0])
        else:
            x, boxes = train_transform(img, spec, rng, present, glyphs[0])
        return x, text, where, boxes
    if on_device:
        return tiles(img, spec, present), text, where
    x = train_transform(img, spec, rng, present) if rng is not None else eval_transform(img, spec, present)
    return x, text, where
