"""Data sources. ``build_dataset(source, ...)`` turns a source string from a config or the CLI into a dataset:

* ``synth`` or ``synth:split=test,n=256,seed=1``: the generator (train split by default; ``invented=0.4``
  invents the proper names of that share of signs, ``independent=F`` draws their type, particle and name apart,
  ``extras=F`` paints a secondary line under the name of that share of plates);
* a path to a labels file of ``path<TAB>text`` lines;
* an LMDB folder (``data.mdb`` inside) in the field's layout (``num-samples``, ``image-%09d``, ``label-%09d``);
* a folder of FSNS TFRecord shards (e.g. ``fsns/train``), streamed with no conversion (:mod:`.stream`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path

from ..charset import Charset
from ..config import DataConfig, is_synth
from ..errors import DataError
from ..preprocess import ImageSpec, load_image

log = logging.getLogger(__name__)

EVAL_SYNTH_SEED = 10_000  # `eval synth` and validation draw from here up, far from the training seeds (0, 1, 2...)


SHARES = ("invented", "independent", "extras")  # synth:... options that are shares of the names (data/synth/names.py)


def parse_synth(source: str, default_n: int, default_seed: int, default_split: str = "train") -> dict:
    opts = {"split": default_split, "n": default_n, "seed": default_seed, **dict.fromkeys(SHARES, 0.0)}
    _, _, rest = source.partition(":")
    for item in filter(None, rest.split(",")):
        key, sep, value = item.partition("=")
        if not sep or key not in opts:
            raise DataError(f"data source {source!r}: expected synth:split=S,n=N,seed=K,invented=F,independent=F,extras=F, "
                            f"got {item!r}")
        try:
            opts[key] = value if key == "split" else float(value) if key in SHARES else int(value)
        except ValueError:
            raise DataError(f"data source {source!r}: {key} must be a number, got {value!r}") from None
    for key in SHARES:
        if not 0.0 <= opts[key] <= 1.0:
            raise DataError(f"data source {source!r}: {key} is a share in [0, 1]")
    if opts["split"] not in ("train", "test"):
        raise DataError(f"data source {source!r}: split must be train or test")
    return opts


SOURCE_KINDS = ("synth", "lmdb", "tfrecords", "labels")


def source_kind(source: str) -> str:
    """Which kind of data source ``source`` names, the one test every reader of sources asks: ``synth`` (the
    generator), ``lmdb`` (a folder holding data.mdb), ``tfrecords`` (another folder: FSNS shards), ``labels`` (a
    file of path<TAB>text lines). :class:`DataError` for a path that does not exist."""
    if is_synth(source):
        return "synth"
    path = Path(source)
    if not path.exists():
        raise DataError(f"{source}: no such labels file, LMDB folder or TFRecord folder (or 'synth')")
    if path.is_dir():
        return "lmdb" if (path / "data.mdb").exists() else "tfrecords"
    return "labels"


def build_dataset(source: str, charset: Charset, spec: ImageSpec, max_chars: int, *, augment: bool | str = False,
                  seed: int = 0, synth_n: int = 256, synth_split: str = "train", max_skip_fraction: float = 0.01,
                  stream: dict | None = None, synth_invented: float = 0.0, synth_independent: float = 0.0,
                  synth_extras: float = 0.0, synth_glyphs: bool = False):
    """A map-style dataset, or for TFRecord shards an endless :class:`~.stream.ShardStream` configured by
    ``stream`` (batch_size, start_step, rank, world; ``epochs=1, shuffle=False`` for evaluation). Generated
    signs carry their glyph boxes with ``synth_glyphs`` (an attention loss needs them)."""
    from .datasets import LabelsDataset, SynthDataset

    kind, path = source_kind(source), Path(source)
    if kind == "synth":
        o = parse_synth(source, synth_n, seed, synth_split)
        return SynthDataset(o["seed"], o["n"], spec, o["split"], augment, max_chars,
                            o["invented"] or synth_invented, synth_glyphs, o["independent"] or synth_independent,
                            o["extras"] or synth_extras)
    if kind == "lmdb":
        from .datasets import LmdbDataset

        return LmdbDataset(path, charset, spec, max_chars, augment, seed, max_skip_fraction)
    if kind == "tfrecords":
        from .stream import ShardStream
        from .tfrecord import folder_shards, parse_fsns, read_records

        return ShardStream(folder_shards(path), read_records, parse_fsns, spec, charset, max_chars,
                           augment=augment, seed=seed, **(stream or {}))
    return LabelsDataset(source, charset, spec, max_chars, augment, seed, max_skip_fraction)


def iter_labelled(source: str, charset: Charset, max_chars: int, synth_n: int = 256,
                  max_skip_fraction: float = DataConfig.max_skip_fraction, warn: Callable[[str], None] = log.warning):
    """``(image, text, where)`` of any source, torch-free (for ``eval --onnx``); an unreadable image is
    ``(None, reason, where)``, and skipped labels are summed up to ``warn`` (more than ``max_skip_fraction`` of
    them is an error, as for the PyTorch evaluation)."""
    from .labels import SkipReport, read_labels

    kind = source_kind(source)
    if kind == "synth":
        from .synth import synth_sample

        o = parse_synth(source, synth_n, EVAL_SYNTH_SEED, "test")
        for i in range(o["n"]):
            img, text = synth_sample(o["seed"], i, o["split"], o["invented"], o["independent"], o["extras"])
            yield img, text, f"synth:{o['split']}:{o['seed']}:{i}"
        return
    if kind in ("lmdb", "tfrecords"):
        report = SkipReport()
        yield from _decoded(_raw_labelled(kind, Path(source), charset, max_chars, report))
        report.check(source, max_skip_fraction)
        if report.skipped:
            warn(f"{source}: {report.summary()}")
        return
    samples, report = read_labels(source, charset, max_chars)
    report.check(source, max_skip_fraction)  # as the PyTorch evaluation does
    if report.skipped:
        warn(f"{source}: {report.summary()}")
    for s in samples:
        try:
            yield load_image(s.path, f"{s.where} ({s.path})"), s.text, s.named
        except DataError as e:
            yield None, str(e), s.named


def _raw_labelled(kind: str, path: Path, charset: Charset, max_chars: int, report) -> Iterator[tuple[bytes, str, str]]:
    """``(image bytes, text, where)`` of the usable samples of an LMDB or a TFRecord folder, in order; the others
    counted in ``report``."""
    if kind == "lmdb":
        from .lmdb_store import labelled_lmdb

        yield from labelled_lmdb(path, charset, max_chars, report)
        return
    from .labels import label_problem
    from .tfrecord import FsnsReport, folder_shards, read_fsns

    records = FsnsReport()
    for shard in folder_shards(path):
        for rec in read_fsns(shard, charset, skip_bad=True, report=records):
            report.total += 1
            problem = label_problem(rec.text, charset, max_chars, rec.where)
            if problem is not None:
                report.skip(*problem)
                continue
            yield rec.encoded, rec.text, rec.where
    report.total += records.skipped  # records that could not be read at all: counted, by their reason
    report.reasons.update(records.reasons)
    report.examples.extend(records.examples[:max(0, 3 - len(report.examples))])


def _decoded(samples: Iterator[tuple[bytes, str, str]]) -> Iterator[tuple]:
    """Each image decoded, or ``(None, reason, where)`` when it cannot be."""
    for data, text, where in samples:
        try:
            yield load_image(data, where), text, where
        except DataError as e:
            yield None, str(e), where
