"""Datasets for training and evaluation, and the batch collation where labels become token ids.

Every dataset is map-style and indexed by a *key* ``(index, position)``: ``index`` picks the sample and
``position`` (the sample's global rank in the training stream) seeds its augmentation, so a run is reproducible
and resumable from the step counter alone. An item is ``(image (3, H, V·W) float32, text, where)`` or, when the
image cannot be read, ``(None, reason, where)``: :func:`collate` drops it and the training loop counts it.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from ..charset import EOS, PAD, Charset
from ..errors import ConfigError, DataError
from ..preprocess import ImageSpec, eval_transform, load_image, train_transform
from .labels import SkipReport, read_labels

Key = tuple[int, int]


def sample_rng(seed: int, position: int) -> random.Random:
    return random.Random(zlib.crc32(f"{seed}:{position}".encode()))


class LabelsDataset(Dataset):
    """Images listed in a labels file."""

    def __init__(self, path: str, charset: Charset, spec: ImageSpec, max_chars: int, augment: bool = False,
                 seed: int = 0, max_skip_fraction: float = 0.01):
        self.samples, self.report = read_labels(path, charset, max_chars)
        self.report.check(path, max_skip_fraction)
        self.spec, self.augment, self.seed = spec, augment, seed

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, key: Key | int):
        index, position = key if isinstance(key, tuple) else (key, key)
        s = self.samples[index]
        try:
            img = load_image(s.path, f"{s.where} ({s.path})")
        except DataError as e:
            return None, str(e), s.where
        x = train_transform(img, self.spec, sample_rng(self.seed, position)) if self.augment \
            else eval_transform(img, self.spec)
        return x, s.text, s.where


class SynthDataset(Dataset):
    """Generated signs: sample ``index`` is a pure function of (seed, index, split)."""

    def __init__(self, seed: int, size: int, spec: ImageSpec, split: str = "train", augment: bool = False,
                 max_chars: int = 37, invented: float = 0.0):
        from .synth import MAX_LEN as MAX_LABEL  # Pillow rendering; imported lazily
        from .synth import synth_sample

        if max_chars < MAX_LABEL:
            raise ConfigError(f"generated labels have up to {MAX_LABEL} characters; model.max_len must be at "
                              f"least {MAX_LABEL + 1}, not {max_chars + 1}")
        self._sample = synth_sample
        self.seed, self.size, self.spec, self.split, self.augment = seed, size, spec, split, augment
        self.invented = invented
        self.report = SkipReport(total=size)

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, key: Key | int):
        index, position = key if isinstance(key, tuple) else (key, key)
        img, text = self._sample(self.seed, index, self.split, self.invented)
        x = train_transform(img, self.spec, sample_rng(self.seed, position)) if self.augment \
            else eval_transform(img, self.spec)
        return x, text, f"synth:{self.split}:{self.seed}:{index}"


class StreamSampler(Sampler[Key]):
    """An endless stream of ``(index, position)`` keys from global position ``start``.

    Epoch e is a permutation of the dataset drawn from ``seed + e`` (the identity when ``shuffle`` is off).
    Distributed rank r of w takes positions r, r + w, r + 2w, ...: one global batch of w × B samples is a
    contiguous stretch of the permutation, so every sample is read exactly once per epoch across ranks, and
    resuming at ``start = step · B · w`` replays exactly what an uninterrupted run would have seen.
    """

    def __init__(self, size: int, seed: int, start: int = 0, shuffle: bool = True, rank: int = 0, world: int = 1):
        self.size, self.seed, self.start, self.shuffle, self.rank, self.world = size, seed, start, shuffle, rank, world

    def __iter__(self) -> Iterator[Key]:
        position = self.start + self.rank
        epoch, order = -1, None
        while True:
            e, offset = divmod(position, self.size)
            if e != epoch:
                epoch = e
                order = (torch.randperm(self.size, generator=torch.Generator().manual_seed(self.seed + e))
                         if self.shuffle else None)
            yield (int(order[offset]) if order is not None else offset), position
            position += self.world


def encode_targets(texts: list[str], charset: Charset, steps: int, wheres: list[str]) -> torch.Tensor:
    """(B, steps) long: the characters, EOS, then PAD. Texts were validated against ``steps`` upstream."""
    out = torch.full((len(texts), steps), PAD, dtype=torch.long)
    for b, (text, where) in enumerate(zip(texts, wheres)):
        ids = charset.encode(text, where) + [EOS]
        if len(ids) > steps:
            raise DataError(f"{where}: label of {len(text)} characters does not fit {steps} decoder steps")
        out[b, : len(ids)] = torch.tensor(ids)
    return out


class Collate:
    """Stack images, encode texts; drop unreadable samples and report them as ``batch["bad"]``: (where, why)."""

    def __init__(self, charset: Charset, steps: int):
        self.charset, self.steps = charset, steps

    def __call__(self, items: list) -> dict:
        good = [it for it in items if it[0] is not None]
        bad = [(it[2], it[1]) for it in items if it[0] is None]  # (where, message)
        texts, wheres = [it[1] for it in good], [it[2] for it in good]
        images = torch.from_numpy(np.stack([it[0] for it in good])) if good else torch.empty(0)
        return {"images": images, "texts": texts, "wheres": wheres, "bad": bad,
                "targets": encode_targets(texts, self.charset, self.steps, wheres)}
