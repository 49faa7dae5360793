"""Datasets for training and evaluation, and the batch collation where labels become token ids.

Every dataset is a :class:`SourceDataset`, map-style, indexed by a key ``(index, position)``, giving the items of
:mod:`.items` (the TFRecord stream, :mod:`.stream`, gives the same items);
:class:`Collate` drops the unusable ones and the training loop counts them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from ..charset import EOS, PAD, Charset
from ..errors import ConfigError, DataError
from ..fsns import MAX_LABEL
from ..imaging.preprocess import ImageSpec, load_image
from ..shares import PLAIN, Shares
from .items import Key, item_augmentation, make_item, synth_where
from .labels import SkipReport, read_labels
from .lmdb_store import close_env, image_key, label_key, opened_here, read_num_samples, shared_env, stored_label_problem

if TYPE_CHECKING:
    import lmdb


class SourceDataset(Dataset):
    """The map-style dataset of an indexed source: item ``index`` is :meth:`load` ``(index)`` named :meth:`where`
    ``(index)``, made into a training or evaluation item (:func:`.items.make_item`: decoded, augmented by the
    sample's own generator at ``position``, or an unreadable sample's reason). A kind of source supplies the three
    methods; the sampling, augmentation and error contract are this class's."""

    spec: ImageSpec
    augment: bool | str
    seed: int

    def __len__(self) -> int:  # pragma: no cover - every kind has its own
        raise NotImplementedError

    def where(self, index: int) -> str:  # pragma: no cover
        raise NotImplementedError

    def load(self, index: int) -> tuple:  # pragma: no cover
        raise NotImplementedError

    def __getitem__(self, key: Key | int):
        index, position = key if isinstance(key, tuple) else (key, key)
        return make_item(lambda: self.load(index), self.where(index), self.spec,
                         *item_augmentation(self.augment, self.seed, position))


class LabelsDataset(SourceDataset):
    """Images listed in a labels file."""

    def __init__(self, path: str, charset: Charset, spec: ImageSpec, max_chars: int, augment: bool | str = False,
                 seed: int = 0, max_skip_fraction: float = 0.01):
        self.samples, self.report = read_labels(path, charset, max_chars)
        self.report.check(path, max_skip_fraction)
        self.spec, self.augment, self.seed = spec, augment, seed

    def __len__(self) -> int:
        return len(self.samples)

    def where(self, index: int) -> str:
        return self.samples[index].named

    def load(self, index: int) -> tuple:
        s = self.samples[index]
        return load_image(s.path, f"{s.where} ({s.path})"), s.text, None


class SynthDataset(SourceDataset):
    """Generated signs: sample ``index`` is a pure function of (seed, index, split)."""

    def __init__(self, seed: int, size: int, spec: ImageSpec, split: str = "train", augment: bool | str = False,
                 max_chars: int = MAX_LABEL, glyphs: bool = False, shares: Shares = PLAIN):
        if max_chars < MAX_LABEL:
            raise ConfigError(f"generated labels have up to {MAX_LABEL} characters; model.max_len must be at "
                              f"least {MAX_LABEL + 1}, not {max_chars + 1}")
        self.seed, self.size, self.spec, self.split, self.augment = seed, size, spec, split, augment
        self.glyphs = glyphs  # items carry each character's box per view
        self.shares = shares  # which shares of the signs depart from the plain set
        self.report = SkipReport(total=size)

    def __len__(self) -> int:
        return self.size

    def where(self, index: int) -> str:
        return synth_where(self.split, self.seed, index)

    def load(self, index: int) -> tuple:
        from .synth import synth_glyphs  # Pillow rendering; imported lazily

        record = synth_glyphs(self.seed, index, self.split, self.shares)
        return record if self.glyphs else record[:3]


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
        batch = {"images": images, "texts": texts, "wheres": wheres, "bad": bad,
                 "targets": encode_targets(texts, self.charset, self.steps, wheres)}
        if good and all(len(it) > 3 for it in good):  # glyph boxes (B, steps, V, 4), NaN past each text
            glyphs = np.full((len(good), self.steps, *good[0][3].shape[1:]), np.nan, np.float32)
            for b, it in enumerate(good):
                glyphs[b, :len(it[3])] = it[3]
            batch["glyphs"] = torch.from_numpy(glyphs)
        return batch


class LmdbDataset(SourceDataset):
    """An LMDB folder in the DTRB/PARSeq layout, with :class:`LabelsDataset`'s item contract. ``where`` is
    ``PATH:i``, ``i`` the 1-based sample number of keys ``image-%09d``/``label-%09d``.

    Construction reads every label once (no image) to leave out those the model cannot learn (counted in
    ``report``); what stays in memory is ``index``, one integer per kept sample: texts are read back with the
    images. The dataset holds no environment: the first read in each process opens one (:func:`shared_env`),
    so it pickles to spawned DataLoader workers and forked ones open their own."""

    def __init__(self, path: str | Path, charset: Charset, spec: ImageSpec, max_chars: int,
                 augment: bool | str = False, seed: int = 0, max_skip_fraction: float = 0.01):
        self.path = Path(path)
        self.spec, self.augment, self.seed = spec, augment, seed
        self.report = SkipReport()
        self._root = self.path.resolve()
        was_open = opened_here(self._root)
        try:
            with shared_env(self.path, self._root).begin() as txn:
                self.index = self._scan(txn, charset, max_chars)
        finally:
            if not was_open:  # stay lazy: leave nothing open for workers to inherit
                close_env(self.path)
        self.report.check(str(self.path), max_skip_fraction)

    def _scan(self, txn: lmdb.Transaction, charset: Charset, max_chars: int) -> np.ndarray:
        n = read_num_samples(txn, self.path)
        self.report.total = n
        index = np.empty(n, dtype=np.int32 if n < 2**31 else np.int64)
        kept = 0
        for i in range(1, n + 1):
            reason = stored_label_problem(txn.get(label_key(i)), charset, max_chars)
            if reason is not None:
                self.report.skip(reason, f"{self.path}:{i}: {reason}")
                continue
            index[kept] = i
            kept += 1
        return index[:kept].copy()

    def __len__(self) -> int:
        return len(self.index)

    def where(self, index: int) -> str:
        return f"{self.path}:{int(self.index[index])}"

    def load(self, index: int) -> tuple:
        i, where = int(self.index[index]), self.where(index)
        with shared_env(self.path, self._root).begin() as txn:
            text = txn.get(label_key(i)).decode("utf-8")  # checked at construction
            image = txn.get(image_key(i))
        if image is None:
            raise DataError(f"{where}: no {image_key(i).decode()} key")
        return load_image(image, where), text, None
