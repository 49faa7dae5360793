"""FSNS TFRecords -> PNG files plus a labels file, as the reference's ``tf2file_v3.py`` does, but resumable.

``out/<split>.txt`` holds ``<split>/000000001.png<TAB>text`` lines (paths relative to it; numbered from 1 over the
shards in name order, where the reference used unsorted ``os.listdir`` and absolute paths). The PNG bytes are
written as stored. Each image goes to a temporary name and is renamed, and the labels file is written last, the
same way: a killed run leaves nothing that looks complete, and rerunning it reuses the images already in place
(same name and bytes) and finishes the job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ..charset import Charset
from ..errors import DataError
from ..fsutil import atomic_write
from .labels import sample_problem, write_labels
from .tfrecord import FsnsRecord, FsnsReport, RecordError, read_fsns, shard_paths

_LINE_BREAKS = re.compile(r"[\t\n\r\v\f\x1c-\x1e\x85\u2028\u2029]")  # a tab, or what str.splitlines splits on


@dataclass
class ConvertSummary:
    labels: Path
    shards: int
    written: int = 0  # images written by this run
    reused: int = 0  # images already in place from an interrupted run
    report: FsnsReport = field(default_factory=FsnsReport)

    @property
    def converted(self) -> int:
        return self.written + self.reused

    def __str__(self) -> str:
        return (f"{self.labels}: {self.converted} images from {self.shards} files ({self.reused} already in place); "
                + self.report.summary())


def convert_fsns(tfrecord_root: str | Path, split: str, out_dir: str | Path, charset: Charset,
                 skip_bad: bool = False, progress: bool = True) -> ConvertSummary:
    """Convert one FSNS split. Bad records stop it with a :class:`DataError` naming file and record (the images
    written so far stay, so a rerun resumes), or with ``skip_bad`` are skipped and counted in the summary."""
    from tqdm import tqdm

    out = Path(out_dir)
    labels = out / f"{split}.txt"
    if labels.exists():
        raise DataError(f"{out}: already holds a finished conversion ({labels}); choose another --out")
    if out.exists() and not out.is_dir():
        raise DataError(f"{out}: exists and is not a folder")
    shards = shard_paths(tfrecord_root, split)
    made = [f for f in (out, out / split) if not f.exists()]
    (out / split).mkdir(parents=True, exist_ok=True)
    summary = ConvertSummary(labels, len(shards))
    rows: list[tuple[str, str]] = []
    with tqdm(desc=f"convert {split}", unit="rec", disable=not progress) as bar:
        try:
            for shard in shards:
                bar.set_postfix_str(shard.name, refresh=False)
                for rec in read_fsns(shard, charset, skip_bad, summary.report):
                    _add(rec, out, split, rows, summary, skip_bad, charset)
                    bar.update()
        except RecordError as e:
            raise RecordError(f"{e}; the {len(rows)} images converted so far are kept: rerun with --skip-bad to "
                              f"skip bad records and finish", e.reason) from None
    _remove_leftovers(out / split)
    if not rows:
        for folder in reversed(made):  # the folders this run created, if still empty
            if not any(folder.iterdir()):
                folder.rmdir()
        raise DataError(f"{tfrecord_root}: no usable {split} records ({summary.report.summary()})")
    write_labels(labels, rows)
    return summary


def _add(rec: FsnsRecord, out: Path, split: str, rows: list[tuple[str, str]], summary: ConvertSummary,
         skip_bad: bool, charset: Charset) -> None:
    """Place ``rec``'s image under the next number and list it, unless it cannot be a labels-file sample. Images
    are only ``verify()``-ed (no full decode: ~0.1 ms), so converting a million records stays fast."""
    if _LINE_BREAKS.search(rec.text):
        problem = "label with a tab or line break", f"{rec.where}: label with a tab or line break"
    else:
        problem = sample_problem(rec.encoded, rec.text, rec.where, charset, None, decode=False)
    if problem is not None:
        reason, message = problem
        if not skip_bad:
            raise RecordError(message, reason)
        summary.report.skip(reason, message)
        return
    name = f"{split}/{len(rows) + 1:09d}.png"
    _place(out / name, rec.encoded, summary)
    rows.append((name, rec.text))


def _place(target: Path, data: bytes, summary: ConvertSummary) -> None:
    """Write ``data`` to ``target`` unless an earlier, interrupted run already did (same bytes)."""
    try:
        if target.stat().st_size == len(data) and target.read_bytes() == data:
            summary.reused += 1
            return
    except FileNotFoundError:
        pass
    with atomic_write(target) as tmp:
        tmp.write_bytes(data)
    summary.written += 1


def _remove_leftovers(folder: Path) -> None:
    """Temporary files of a killed run whose record a rerun did not reach (it was skipped this time)."""
    for tmp in folder.glob(".*.png.tmp"):
        tmp.unlink()
