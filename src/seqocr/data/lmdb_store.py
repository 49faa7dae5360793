"""LMDB datasets in the text-recognition field's standard layout, so that databases made by
deep-text-recognition-benchmark's or PARSeq's ``create_lmdb_dataset.py`` read here and ours read there.

One LMDB environment per folder (``data.mdb`` + ``lock.mdb``; PARSeq finds datasets by globbing ``**/data.mdb``),
unnamed main database, keys ASCII::

    num-samples        b"12345"            decimal count N
    image-000000001    the image FILE's bytes (PNG, JPEG, ... exactly as on disk, never re-encoded)
    label-000000001    the text, UTF-8
    ...                indices 1..N, ``%09d``

Readers open it read-only with ``lock=False, readahead=False, meminit=False`` (as DTRB and PARSeq do); that is
only safe on a finished database, which is why :func:`pack_lmdb` builds in a hidden ``.NAME.partial`` sibling and
renames it when done, and writes ``num-samples`` in the very last transaction.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import lmdb
from tqdm import tqdm

from ..charset import Charset
from ..errors import DataError
from .labels import SkipReport, label_problem, sample_problem

RawSample = tuple[bytes, str, str]  # (image file bytes, text, where)

NUM_SAMPLES = b"num-samples"
READ_OPTIONS = {"readonly": True, "lock": False, "readahead": False, "meminit": False}  # DTRB's and PARSeq's
CHUNK_SAMPLES = 1000  # commit every this many samples (DTRB's create_lmdb_dataset does the same) ...
CHUNK_BYTES = 64 << 20  # ... or this many buffered image bytes, whichever comes first
INITIAL_MAP_SIZE = 64 << 20  # doubled whenever a commit hits MDB_MAP_FULL
_LMDB_FILES = {"data.mdb", "lock.mdb"}
# py-lmdb >= 3 bundles LMDB 0.9 and 1.0, whose file formats differ, and defaults to 1.0 when
# LMDB_DEFAULT_LIB_VERSION=1; py-lmdb < 3 (what DTRB and PARSeq setups have) cannot open 1.0's, so we write 0.9's.
_WRITE_FORMAT = {"lib_version": 0} if hasattr(lmdb.Environment, "lib_version") else {}


def image_key(i: int) -> bytes:
    return b"image-%09d" % i


def label_key(i: int) -> bytes:
    return b"label-%09d" % i


# -- sources -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SampleSource:
    """A re-iterable source of ``(image bytes, text, where)`` whose length is known up front (for the progress
    bar). Nothing is read until it is iterated, one sample at a time."""

    size: int
    make: Callable[[], Iterator[RawSample]]

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Iterator[RawSample]:
        return self.make()


# -- writing -------------------------------------------------------------------------------------------------
@dataclass
class PackSummary:
    """What :func:`pack_lmdb` wrote: ``written`` samples (keys 1..written), and those it skipped, by reason."""

    out: Path
    written: int = 0
    image_bytes: int = 0
    report: SkipReport = field(default_factory=SkipReport)

    def summary(self) -> str:
        text = f"{self.out}: {self.written} samples, {self.image_bytes / 1e6:.1f} MB of images"
        return f"{text}; {self.report.summary()}" if self.report.skipped else text


def _claim_partial(out: Path) -> Path:
    """The temporary folder to build ``out`` in. Refuses an existing ``out``; clears what a killed run left."""
    if out.exists():
        raise DataError(f"{out}: exists; choose another --out")
    partial = out.parent / f".{out.name}.partial"
    if partial.exists():
        leftovers = {p.name for p in partial.iterdir()} if partial.is_dir() else {"?"}
        if not leftovers <= _LMDB_FILES:
            raise DataError(f"{partial}: holds files other than an unfinished LMDB ({sorted(leftovers)}); "
                            "remove it or choose another --out")
        shutil.rmtree(partial)
    partial.mkdir(parents=True)
    return partial


def _put_chunk(env: lmdb.Environment, items: list[tuple[bytes, bytes]]) -> None:
    """Write ``items`` in one transaction, doubling the map until they fit. A map sized on demand rather than
    DTRB's fixed 1 TiB, because Windows allocates the whole map on disk and a capped address space (``ulimit
    -v``, 32-bit) refuses to map it; on Linux the file only grows by the pages written, either way."""
    while True:
        try:
            with env.begin(write=True) as txn:
                for key, value in items:
                    txn.put(key, value)
            return
        except lmdb.MapFullError:  # the transaction was aborted: grow and write the whole chunk again
            env.set_mapsize(env.info()["map_size"] * 2)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # Windows cannot open a folder; its rename is durable enough
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write(env: lmdb.Environment, samples: Iterable[RawSample], summary: PackSummary, skip_bad: bool,
           charset: Charset | None, max_chars: int | None) -> None:
    chunk: list[tuple[bytes, bytes]] = []
    chunk_bytes = 0
    for image, text, where in samples:
        summary.report.total += 1
        problem = sample_problem(image, text, where, charset, max_chars)
        if problem is not None:
            if not skip_bad:
                raise DataError(problem[1])
            summary.report.skip(*problem)
            continue
        summary.written += 1
        summary.image_bytes += len(image)
        chunk += [(image_key(summary.written), image), (label_key(summary.written), text.encode("utf-8"))]
        chunk_bytes += len(image)
        if len(chunk) >= 2 * CHUNK_SAMPLES or chunk_bytes >= CHUNK_BYTES:
            _put_chunk(env, chunk)
            chunk, chunk_bytes = [], 0
    if chunk:
        _put_chunk(env, chunk)
    if summary.written == 0:
        raise DataError(f"{summary.out}: no samples to write ({summary.report.summary()})")
    _put_chunk(env, [(NUM_SAMPLES, str(summary.written).encode("ascii"))])  # last: marks the DB complete


def pack_lmdb(out: str | Path, samples: Iterable[RawSample], *, total: int | None = None, progress: bool = True,
              skip_bad: bool = False, charset: Charset | None = None, max_chars: int | None = None,
              map_size: int = INITIAL_MAP_SIZE) -> PackSummary:
    """Write ``samples`` to a new LMDB folder ``out`` in the DTRB/PARSeq layout, keys numbered from 1 in the
    order given. Each sample is checked (:func:`sample_problem`); a bad one raises :class:`DataError` naming its
    ``where``, or with ``skip_bad`` is left out and counted in ``summary.report``. The database is built in
    ``.NAME.partial`` beside ``out`` and renamed to ``out`` only when complete, so a killed run leaves nothing
    that looks finished (the next run clears the partial folder and starts over). ``map_size`` is only the
    initial map: it grows as needed. ``total``, the progress bar's, defaults to ``len(samples)`` when it has one
    (tqdm's own default)."""
    out = Path(out)
    summary = PackSummary(out)
    partial = _claim_partial(out)
    try:
        env = lmdb.open(str(partial), map_size=map_size, subdir=True, sync=False, metasync=False, **_WRITE_FORMAT)
        try:
            bar = tqdm(samples, total=total, desc="pack", unit="img", disable=not progress)
            _write(env, bar, summary, skip_bad, charset, max_chars)
            env.sync(True)  # commits skipped fsync (an unfinished DB is thrown away anyway): flush once, here
        finally:
            env.close()
        os.replace(partial, out)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    _fsync_dir(out.parent)
    return summary


# -- reading -------------------------------------------------------------------------------------------------
def open_lmdb(path: Path) -> lmdb.Environment:
    """Open a finished database read-only, with DTRB's and PARSeq's options: no lock file (read-only media work,
    readers never wait), no readahead (reads are random), no zeroing of pages."""
    if not path.exists():
        raise DataError(f"{path}: no such LMDB folder")
    if not path.is_dir() or not (path / "data.mdb").is_file():
        raise DataError(f"{path}: not an LMDB database (expected a folder holding data.mdb)")
    try:
        return lmdb.open(str(path), subdir=True, **READ_OPTIONS)
    except lmdb.Error as e:
        raise DataError(f"{path}: not an LMDB database ({str(e).split(': ', 1)[-1]})") from None


_OPEN: dict[Path, tuple[int, lmdb.Environment]] = {}  # this process's environments, by resolved folder


def opened_here(key: Path) -> bool:
    return _OPEN.get(key, (None, None))[0] == os.getpid()


def shared_env(path: Path, key: Path | None = None) -> lmdb.Environment:
    """This process's environment on ``path``, opened on first use and shared by every dataset reading it:
    py-lmdb >= 3 refuses to open the same files twice in one process. One inherited through a fork is closed
    (which, with ``lock=False``, only unmaps it in this process) and reopened: LMDB forbids using it. ``key`` is
    ``path.resolve()``, which a caller reading many items computes once."""
    key = key or path.resolve()
    pid, env = _OPEN.get(key, (None, None))
    if env is not None and pid == os.getpid():
        return env
    if env is not None:
        env.close()
    env = open_lmdb(path)
    _OPEN[key] = (os.getpid(), env)
    return env


def close_env(path: Path) -> None:
    """Close this process's environment on ``path``, if open; datasets reopen it when next read."""
    pid, env = _OPEN.pop(path.resolve(), (None, None))
    if env is not None and pid == os.getpid():
        env.close()


def stored_label_problem(raw: bytes | None, charset: Charset, max_chars: int) -> str | None:
    """Why a label stored in LMDB cannot be used (a short reason), or None if it can."""
    if raw is None:
        return "missing label"
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return "label not UTF-8"
    problem = label_problem(text, charset, max_chars, "")
    return problem and problem[0]


def stored_lmdb(path: Path, report: SkipReport) -> Iterator[RawSample]:
    """``(image bytes, text, where)`` of every sample of a database as stored, in order, labels unchecked (the
    consumer checks them); a label that is missing or not UTF-8 has no text and is counted in ``report`` instead.
    ``where`` is ``PATH:i``, as :class:`~.datasets.LmdbDataset` names it. Torch-free (``eval --onnx``, ``pack``).
    A database this process already holds open (a training set validated on) is read through that environment."""
    key = path.resolve()
    shared = opened_here(key)
    env = shared_env(path, key) if shared else open_lmdb(path)
    try:
        with env.begin() as txn:
            n = read_num_samples(txn, path)
            report.total += n
            for i in range(1, n + 1):
                raw = txn.get(label_key(i))
                reason = "missing label" if raw is None else None
                try:
                    text = raw.decode("utf-8") if raw is not None else ""
                except UnicodeDecodeError:
                    reason = "label not UTF-8"
                if reason is not None:
                    report.skip(reason, f"{path}:{i}: {reason}")
                    continue
                yield txn.get(image_key(i)) or b"", text, f"{path}:{i}"
    finally:
        if not shared:
            env.close()


def read_num_samples(txn: lmdb.Transaction, path: Path) -> int:
    raw = txn.get(NUM_SAMPLES)
    if raw is None:
        raise DataError(f"{path}: LMDB has no 'num-samples' key, so it is not a finished text-recognition dataset "
                        "(expected keys num-samples, image-%09d, label-%09d)")
    try:
        n = int(raw.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        raise DataError(f"{path}: 'num-samples' is {raw[:32]!r}, not a decimal count") from None
    if n <= 0:
        raise DataError(f"{path}: no samples ('num-samples' is {n})")
    entries = txn.stat()["entries"]  # every sample has two keys: a larger count is a lie (and would be a huge index)
    if n > (entries - 1) // 2:
        raise DataError(f"{path}: 'num-samples' is {n}, but the database holds only {entries} keys (2 per sample)")
    return n
