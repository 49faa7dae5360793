"""The kinds of data source, in one registry (:data:`SOURCES`): each recognises its names by one test and gives

* its samples as stored, ``(image bytes, text, where)`` (:meth:`Source.raw`: what ``seqocr pack`` checks and writes),
* a dataset for training (:meth:`Source.dataset`: indexed, or streamed and sharded),
* its labelled images, torch-free (:meth:`Source.labelled`): what every evaluation reads (``eval``, its report,
  training's validation, the calibration set), each torchrun rank its share.

``pack``, ``eval`` and ``train`` ask :func:`find_source` and never test a kind themselves, so every kind works
everywhere. A new kind is one class here and one entry in :data:`SOURCES`. Source names:

* ``synth`` or ``synth:split=test,n=256,seed=1,invented=F,independent=F,extras=F,small_names=F,clutter=F,numbers=F,
  few_views=F,fonts=F``: the generator (the shares: :class:`~seqocr.shares.Shares`);
* a folder holding ``data.mdb``: an LMDB database in the field's layout;
* another folder: FSNS TFRecord shards, streamed with no conversion;
* a file: a labels file of ``path<TAB>text`` lines, paths relative to it.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import ClassVar

from ..charset import Charset
from ..config import is_synth
from ..errors import DataError
from ..imaging.preprocess import ImageSpec, load_image
from ..shares import PLAIN, Shares
from .items import synth_where
from .labels import SkipReport

log = logging.getLogger(__name__)
RawSample = tuple[bytes, str, str]  # image bytes, text, where
SHARES = Shares.names()  # synth:... options that are shares of the signs


@dataclass
class SynthDefaults:
    """What a ``synth`` name leaves unsaid, from the caller's config: how many signs, from which seed and split,
    which shares of the signs depart from the plain set (:class:`~seqocr.shares.Shares`), and whether the samples carry
    their glyph boxes (an attention loss needs them)."""

    n: int = 256
    seed: int = 0
    split: str = "train"
    shares: Shares = PLAIN  # frozen: one value shared by every default is safe
    glyphs: bool = False


class Source:
    """One data source, named by ``name``; subclasses are the kinds."""

    kind: ClassVar[str]

    def __init__(self, name: str, synth: SynthDefaults | None = None):
        self.name, self.path = name, Path(name)

    @classmethod
    def recognises(cls, name: str) -> bool:  # pragma: no cover - every kind has its own
        raise NotImplementedError

    def raw(self, charset: Charset, report: SkipReport, skip_bad: bool = True) -> Iterator[RawSample]:
        """Every sample as stored, in order, labels unchecked (the consumer checks them); ``report.total`` counts
        them. A record with no usable text at all (a corrupt TFRecord, an LMDB label missing or not UTF-8) is
        counted in ``report`` and skipped, or without ``skip_bad`` (where the kind can tell) is a DataError."""
        raise NotImplementedError  # pragma: no cover

    def raw_count(self) -> int | None:
        """How many samples :meth:`raw` will give, when known up front (for a progress bar)."""
        return None

    def dataset(self, charset: Charset, spec: ImageSpec, max_chars: int, *, augment: bool | str = False,
                seed: int = 0, max_skip_fraction: float = 0.01, stream: dict | None = None):
        raise NotImplementedError  # pragma: no cover

    def labelled(self, charset: Charset, max_chars: int, max_skip_fraction: float,
                 warn: Callable[[str], None], shard: tuple[int, int] = (0, 1)) -> Iterator[tuple]:
        """``(image, text, where)`` of every usable sample, decoded; an unreadable image is ``(None, reason,
        where)``; skipped labels are summed up to ``warn`` (over ``max_skip_fraction`` of them: an error).
        ``shard`` ``(rank, world)``: of the usable samples, only every ``world``-th from the ``rank``-th, the
        others not decoded (each torchrun rank evaluates its share; every rank checks every label)."""
        from .labels import label_problem

        report, kept = SkipReport(), 0
        for data, text, where in self.raw(charset, report):
            problem = label_problem(text, charset, max_chars, where)
            if problem is not None:
                report.skip(*problem)
                continue
            kept += 1
            if (kept - 1) % shard[1] != shard[0]:
                continue
            try:
                yield load_image(data, where), text, where
            except DataError as e:
                yield None, str(e), where
        report.check(self.name, max_skip_fraction)
        if report.skipped:
            warn(f"{self.name}: {report.summary()}")


class SynthSource(Source):
    kind = "synth"

    def __init__(self, name: str, synth: SynthDefaults | None = None):
        super().__init__(name)
        self.options = parse_synth(name, synth or SynthDefaults())

    @classmethod
    def recognises(cls, name: str) -> bool:
        return is_synth(name)

    def signs(self, shard: tuple[int, int] = (0, 1)) -> Iterator[tuple]:
        from .synth import synth_sample

        o = self.options
        for i in range(shard[0], o.n, shard[1]):
            img, text = synth_sample(o.seed, i, o.split, o.shares)
            yield img, text, synth_where(o.split, o.seed, i)

    def raw(self, charset: Charset, report: SkipReport, skip_bad: bool = True) -> Iterator[RawSample]:
        for img, text, where in self.signs():
            report.total += 1
            buf = io.BytesIO()
            img.save(buf, format="PNG")
            yield buf.getvalue(), text, where

    def raw_count(self) -> int:
        return self.options.n

    def dataset(self, charset, spec, max_chars, *, augment=False, seed=0, max_skip_fraction=0.01, stream=None):
        from .datasets import SynthDataset

        o = self.options
        return SynthDataset(o.seed, o.n, spec, o.split, augment, max_chars, o.glyphs, o.shares)

    def labelled(self, charset, max_chars, max_skip_fraction, warn, shard=(0, 1)):
        yield from self.signs(shard)  # drawn to fit: no label to skip


class LmdbSource(Source):
    kind = "lmdb"

    @classmethod
    def recognises(cls, name: str) -> bool:
        return (Path(name) / "data.mdb").is_file()

    def raw(self, charset, report, skip_bad=True):
        from .lmdb_store import stored_lmdb

        yield from stored_lmdb(self.path, report)

    def dataset(self, charset, spec, max_chars, *, augment=False, seed=0, max_skip_fraction=0.01, stream=None):
        from .datasets import LmdbDataset

        return LmdbDataset(self.path, charset, spec, max_chars, augment, seed, max_skip_fraction)


class TfrecordSource(Source):
    kind = "tfrecords"

    def __init__(self, name: str, synth: SynthDefaults | None = None, shards: list[Path] | None = None):
        super().__init__(name)
        self.shards = shards  # None: every visible file of the folder (tfrecord.folder_shards)

    @classmethod
    def recognises(cls, name: str) -> bool:
        return Path(name).is_dir()  # after LmdbSource: a folder without data.mdb

    def shard_list(self) -> list[Path]:
        from .tfrecord import folder_shards

        return self.shards if self.shards is not None else folder_shards(self.path)

    def raw(self, charset, report, skip_bad=True):
        from .tfrecord import FsnsReport, read_fsns

        records = FsnsReport()
        for shard in self.shard_list():
            for rec in read_fsns(shard, charset, skip_bad, report=records):
                yield rec.encoded, rec.text, rec.where
        report.total += records.total  # records that could not be read at all: counted, by their reason
        report.reasons.update(records.reasons)
        report.examples.extend(records.examples[:max(0, 3 - len(report.examples))])
        if records.mismatches:
            log.warning("%s: %s", self.name, records.summary())

    def dataset(self, charset, spec, max_chars, *, augment=False, seed=0, max_skip_fraction=0.01, stream=None):
        from .stream import ShardStream
        from .tfrecord import parse_fsns, read_records

        return ShardStream(self.shard_list(), read_records, parse_fsns, spec, charset, max_chars, augment=augment,
                           seed=seed, **(stream or {}))


class LabelsSource(Source):
    kind = "labels"

    @classmethod
    def recognises(cls, name: str) -> bool:
        return Path(name).is_file()

    def raw(self, charset, report, skip_bad=True):
        from .labels import label_rows

        for n, name, text in label_rows(self.path):  # a missing file or a line without a tab: an error, at once
            report.total += 1
            image = self.path.parent / name
            try:
                data = image.read_bytes()
            except (OSError, ValueError):  # missing, unreadable, a NUL byte in the name: a bad sample downstream
                data = b""
            yield data, text, f"{self.path}:{n} ({image})"

    def raw_count(self) -> int:
        from .labels import label_rows

        return len(label_rows(self.path))

    def dataset(self, charset, spec, max_chars, *, augment=False, seed=0, max_skip_fraction=0.01, stream=None):
        from .datasets import LabelsDataset

        return LabelsDataset(self.name, charset, spec, max_chars, augment, seed, max_skip_fraction)

    def labelled(self, charset, max_chars, max_skip_fraction, warn, shard=(0, 1)):
        from .labels import read_labels

        samples, report = read_labels(self.path, charset, max_chars)
        report.check(self.name, max_skip_fraction)  # as training's data does
        if report.skipped:
            warn(f"{self.name}: {report.summary()}")
        for s in samples[shard[0]::shard[1]]:
            try:
                yield load_image(s.path, f"{s.where} ({s.path})"), s.text, s.named
            except DataError as e:
                yield None, str(e), s.named


SOURCES: tuple[type[Source], ...] = (SynthSource, LmdbSource, TfrecordSource, LabelsSource)  # first match wins


def find_source(name: str, synth: SynthDefaults | None = None) -> Source:
    """The source ``name`` names (:data:`SOURCES`, in order); :class:`DataError` when none does."""
    for kind in SOURCES:
        if kind.recognises(name):
            return kind(name, synth)
    raise DataError(f"{name}: no such labels file, LMDB folder or TFRecord folder (or 'synth')")


def stored(source: Source, charset: Charset, skip_bad: bool = False, warn: Callable[[str], None] | None = None
           ) -> Iterator[RawSample]:
    """``source.raw`` for ``seqocr pack``: a record with no usable text stops it (naming the record) unless
    ``skip_bad``; what was skipped is summed up to ``warn`` at the end."""
    report = SkipReport()
    for sample in source.raw(charset, report, skip_bad):
        if report.skipped and not skip_bad:
            break
        yield sample
    if report.skipped and not skip_bad:
        raise DataError(f"{report.examples[0]} (--skip-bad skips such records)")
    if report.skipped and warn is not None:
        warn(f"{source.name}: {report.summary()}")


def parse_synth(name: str, defaults: SynthDefaults) -> SynthDefaults:
    """``defaults`` with what a ``synth:key=value,...`` name sets; a bad option is a :class:`DataError`."""
    opts = {"split": defaults.split, "n": defaults.n, "seed": defaults.seed, **asdict(defaults.shares)}
    _, _, rest = name.partition(":")
    for item in filter(None, rest.split(",")):
        key, sep, value = item.partition("=")
        if not sep or key not in opts:
            raise DataError(f"data source {name!r}: expected synth:split=S,n=N,seed=K"
                            f"{''.join(f',{k}=F' for k in SHARES)}, got {item!r}")
        try:
            opts[key] = value if key == "split" else float(value) if key in SHARES else int(value)
        except ValueError:
            raise DataError(f"data source {name!r}: {key} must be a number, got {value!r}") from None
    for key in SHARES:
        if not 0.0 <= opts[key] <= 1.0:
            raise DataError(f"data source {name!r}: {key} is a share in [0, 1]")
    if opts["split"] not in ("train", "test"):
        raise DataError(f"data source {name!r}: split must be train or test")
    if opts["n"] <= 0:
        raise DataError(f"data source {name!r}: n must be positive")
    return SynthDefaults(opts["n"], opts["seed"], opts["split"], Shares(**{k: opts[k] for k in SHARES}),
                         defaults.glyphs)
