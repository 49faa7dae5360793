"""TFRecord files and FSNS's ``tf.train.Example`` records, without TensorFlow.

A TFRecord file is a sequence of records, each framed as (little-endian)::

    uint64 length | uint32 masked_crc32c(the 8 length bytes) | payload[length] | uint32 masked_crc32c(payload)

with ``masked = ((crc >> 15) | (crc << 17)) + 0xa282ead8 mod 2**32``. Both checksums of every record are verified
(TensorFlow's reader does the same; the ``tfrecord`` PyPI package checks neither). A payload whose checksum fails
still has intact framing, so with ``skip_bad`` it is skipped and counted; a bad length checksum or a file cut
short leaves no way to find the next record, so it ends the file, also counted.

Dependencies: ``google-crc32c`` (C CRC32C) and ``protobuf``; the ``tf.train.Example`` message is built at run time
in a private descriptor pool, so nothing is compiled and nothing clashes with TensorFlow's own copy if loaded.
"""

from __future__ import annotations

import functools
import logging
import os
import struct
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..charset import Charset
from ..errors import DataError, SeqocrError
from ..fsns import MAX_LABEL
from ..fsutil import atomic_write
from .labels import SkipReport

_MASK_DELTA = 0xA282EAD8
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
REQUIRED_KEYS = ("image/encoded", "image/format", "image/width", "image/orig_width", "image/class",
                 "image/unpadded_class", "image/text")

log = logging.getLogger(__name__)


class RecordError(DataError):
    """One bad record. ``reason`` is a short category for skip counts; the message names file, record and byte."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason


# -- dependencies -------------------------------------------------------------------------------------------
@functools.cache
def _crc32c():
    try:
        import google_crc32c
    except ImportError:
        raise SeqocrError("TFRecord files need the google-crc32c package: pip install google-crc32c") from None
    return google_crc32c.value


@functools.cache
def _example_class():
    """``tensorflow.Example`` (tensorflow/core/example/{example,feature}.proto) as a dynamic protobuf class."""
    try:
        from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
    except ImportError:
        raise SeqocrError("TFRecord files need the protobuf package: pip install protobuf") from None
    F = descriptor_pb2.FieldDescriptorProto
    fd = descriptor_pb2.FileDescriptorProto(name="seqocr/tf_example.proto", package="tensorflow", syntax="proto3")

    def message(name: str, *fields: tuple, parent=None):
        m = (parent.nested_type if parent is not None else fd.message_type).add(name=name)
        for number, (fname, ftype, label, type_name) in enumerate(fields, 1):
            m.field.add(name=fname, number=number, type=ftype, label=label, type_name=type_name or None)
        return m

    rep, opt = F.LABEL_REPEATED, F.LABEL_OPTIONAL
    message("BytesList", ("value", F.TYPE_BYTES, rep, ""))
    message("FloatList", ("value", F.TYPE_FLOAT, rep, ""))
    message("Int64List", ("value", F.TYPE_INT64, rep, ""))
    feature = message("Feature", ("bytes_list", F.TYPE_MESSAGE, opt, ".tensorflow.BytesList"),
                      ("float_list", F.TYPE_MESSAGE, opt, ".tensorflow.FloatList"),
                      ("int64_list", F.TYPE_MESSAGE, opt, ".tensorflow.Int64List"))
    feature.oneof_decl.add(name="kind")
    for f in feature.field:
        f.oneof_index = 0
    features = message("Features", ("feature", F.TYPE_MESSAGE, rep, ".tensorflow.Features.FeatureEntry"))
    entry = message("FeatureEntry", ("key", F.TYPE_STRING, opt, ""), ("value", F.TYPE_MESSAGE, opt,
                    ".tensorflow.Feature"), parent=features)
    entry.options.map_entry = True
    message("Example", ("features", F.TYPE_MESSAGE, opt, ".tensorflow.Features"))
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fd)
    desc = pool.FindMessageTypeByName("tensorflow.Example")
    if hasattr(message_factory, "GetMessageClass"):  # protobuf >= 4.22
        return message_factory.GetMessageClass(desc)
    return message_factory.MessageFactory(pool).GetPrototype(desc)  # protobuf 3.20 - 4.21


# -- framing ------------------------------------------------------------------------------------------------
def masked_crc(data: bytes) -> int:
    crc = _crc32c()(data)
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + _MASK_DELTA) & 0xFFFFFFFF


def frame(payload: bytes) -> bytes:
    """One record, framed and checksummed as TensorFlow writes it."""
    length = struct.pack("<Q", len(payload))
    return (length + struct.pack("<I", masked_crc(length)) + payload
            + struct.pack("<I", masked_crc(payload)))


def write_records(path: str | Path, payloads: Iterable[bytes]) -> int:
    """Write a TFRecord file atomically (temporary file, then rename); returns the number of records."""
    n = 0
    with atomic_write(path) as tmp, open(tmp, "wb") as f:
        for n, payload in enumerate(payloads, 1):
            f.write(frame(payload))
    return n


def iter_records(path: str | Path, skip_bad: bool = False, report: SkipReport | None = None
                 ) -> Iterator[tuple[int, bytes]]:
    """``(record index, payload)`` of every record, both checksums verified; the index counts from 0.

    A bad record raises :class:`RecordError` naming the file, the record and its byte offset. With ``skip_bad``
    it is counted in ``report`` instead (by reason); a payload checksum failure skips that record, anything
    that breaks the framing (bad length checksum, file cut short) ends the file. ``report.total`` counts every
    record met, bad ones included.
    """
    path = Path(path)
    report = report if report is not None else SkipReport()
    try:
        with open(path, "rb") as f:
            yield from _records(f, path, skip_bad, report)
    except OSError as e:
        raise DataError(f"{path}: cannot read TFRecord file ({e.strerror})") from None


def _records(f, path: Path, skip_bad: bool, report: SkipReport) -> Iterator[tuple[int, bytes]]:
    index = offset = 0
    size = os.fstat(f.fileno()).st_size  # once per file: a record's declared length is checked against it
    while header := f.read(12):
        report.total += 1
        try:
            payload = _read_record(f, header, size, f"{path}:record {index} (byte {offset})")
        except RecordError as e:
            if not skip_bad:
                raise
            if e.reason != "payload checksum mismatch":
                report.skip(e.reason, f"{e}; rest of the file skipped")
                return
            report.skip(e.reason, str(e))
        else:
            yield index, payload
        offset = f.tell()
        index += 1


def _read_record(f, header: bytes, size: int, where: str) -> bytes:
    """The payload of the record whose 12 header bytes were just read from ``f`` (a file of ``size`` bytes);
    ``f`` is left after its footer."""
    if len(header) < 12:
        raise RecordError(f"{where}: truncated file (header has {len(header)} of 12 bytes)", "truncated file")
    (length,), (length_crc,) = struct.unpack("<Q", header[:8]), struct.unpack("<I", header[8:])
    if masked_crc(header[:8]) != length_crc:
        raise RecordError(f"{where}: length checksum mismatch (corrupt record header)", "length checksum mismatch")
    # checked before reading: a damaged header can declare up to 2**64 bytes, which f.read would try to allocate
    payload, footer = (f.read(length), f.read(4)) if length + 4 <= size - f.tell() else (b"", b"")
    if len(payload) < length or len(footer) < 4:
        raise RecordError(f"{where}: truncated file (record of {length} bytes cut short)", "truncated file")
    if masked_crc(payload) != struct.unpack("<I", footer)[0]:
        raise RecordError(f"{where}: payload checksum mismatch (corrupt data)", "payload checksum mismatch")
    return payload


# -- tf.train.Example ---------------------------------------------------------------------------------------
def encode_example(features: Mapping[str, Sequence[bytes] | Sequence[int] | Sequence[float]]) -> bytes:
    """A serialised ``tf.train.Example``. The list kind follows the values' type; an empty list is int64."""
    ex = _example_class()()
    for key, values in features.items():
        values = list(values)
        kind = ("bytes_list" if values and isinstance(values[0], bytes)
                else "float_list" if values and isinstance(values[0], float) else "int64_list")
        values_list = getattr(ex.features.feature[key], kind)
        values_list.SetInParent()  # an empty list is still a list of this kind, as TensorFlow writes it
        values_list.value.extend(values)
    return ex.SerializeToString(deterministic=True)


def decode_example(payload: bytes, where: str) -> dict[str, list]:
    """``{key: values}`` of a serialised ``tf.train.Example``; a feature with no kind set has no values."""
    from google.protobuf.message import DecodeError

    ex = _example_class()()
    try:
        ex.ParseFromString(payload)
    except DecodeError as e:
        raise RecordError(f"{where}: not a tf.train.Example ({e})", "not a tf.train.Example") from None
    out = {}
    for key, feature in ex.features.feature.items():
        kind = feature.WhichOneof("kind")
        out[key] = list(getattr(feature, kind).value) if kind else []
    return out


# -- FSNS ---------------------------------------------------------------------------------------------------
@dataclass
class FsnsRecord:
    """One FSNS example. ``classes`` are charset-file ids padded to 37 with the null id (133)."""

    encoded: bytes  # the PNG file, as stored
    format: str
    width: int
    orig_width: int  # num_of_views = int(4 * orig_width / width) in attention_ocr
    height: int | None  # present in FSNS files, ignored by attention_ocr; None when absent
    classes: list[int]
    unpadded_classes: list[int]
    text: str
    where: str  # "path:record N", for messages


@dataclass
class FsnsReport(SkipReport):
    """Skipped records by reason, plus records kept although ``image/class`` disagrees with ``image/text``."""

    mismatches: int = 0
    mismatch_examples: list[str] = field(default_factory=list)

    def mismatch(self, message: str) -> None:
        self.mismatches += 1
        if len(self.mismatch_examples) < 3:
            self.mismatch_examples.append(message)

    def summary(self) -> str:
        why = ", ".join(f"{n} {r}" for r, n in self.reasons.most_common())
        text = f"read {self.total} records, skipped {self.skipped}" + (f" ({why})" if why else "")
        if self.mismatches:
            text += (f"; {self.mismatches} kept whose image/class disagrees with image/text, first: "
                     + "; ".join(self.mismatch_examples))
        return text


_SHAPES = {"image/encoded": (bytes, 1), "image/format": (bytes, 1), "image/width": (int, 1),
           "image/orig_width": (int, 1), "image/height": (int, 1), "image/class": (int, MAX_LABEL),
           "image/unpadded_class": (int, None), "image/text": (bytes, 1)}
_KIND_NAMES = {bytes: "byte string", int: "integer", float: "float"}


def parse_fsns(payload: bytes, where: str) -> FsnsRecord:
    """Decode one FSNS record, checking every key's presence, kind and length (:class:`RecordError` if bad)."""
    feats = decode_example(payload, where)
    for key in REQUIRED_KEYS:
        if key not in feats:
            raise RecordError(f"{where}: missing key {key}", f"missing {key}")
    for key, (kind, count) in _SHAPES.items():
        values = feats.get(key)
        if values is None:
            continue
        if (values and not isinstance(values[0], kind)) or (count is not None and len(values) != count):
            found = f"{len(values)} {_KIND_NAMES[type(values[0])]}(s)" if values else "none"
            raise RecordError(f"{where}: {key} should hold {count or 'any number of'} {_KIND_NAMES[kind]}(s), "
                              f"found {found}", f"malformed {key}")
    try:
        text = feats["image/text"][0].decode("utf-8")
    except UnicodeDecodeError as e:
        raise RecordError(f"{where}: image/text is not UTF-8 ({e.reason} at byte {e.start})",
                          "image/text not UTF-8") from None
    fmt = feats["image/format"][0].decode("latin-1")
    height = feats.get("image/height")
    return FsnsRecord(feats["image/encoded"][0], fmt, feats["image/width"][0], feats["image/orig_width"][0],
                      height[0] if height else None, feats["image/class"], feats["image/unpadded_class"], text,
                      where)


def class_mismatch(rec: FsnsRecord, charset: Charset) -> str | None:
    """Why ``rec``'s class arrays disagree with its text (compared after the charset's normalisation), or None."""
    n = len(rec.unpadded_classes)
    if rec.classes[:n] != rec.unpadded_classes or any(c != charset.source_null for c in rec.classes[n:]):
        return f"{rec.where}: image/class is not image/unpadded_class padded with {charset.source_null}"
    try:
        from_class = charset.decode_source_ids(rec.unpadded_classes)
        from_text = charset.normalize(rec.text)
    except DataError as e:
        return f"{rec.where}: {e}"
    if from_class != from_text:
        return f"{rec.where}: image/class reads {from_class!r}, image/text {rec.text!r}"
    return None


def read_fsns(path: str | Path, charset: Charset, skip_bad: bool = False, report: FsnsReport | None = None
              ) -> Iterator[FsnsRecord]:
    """The FSNS records of one TFRecord file, in order.

    Class/text disagreements are counted in ``report`` (pass one to see them) and the record is still yielded:
    ``image/text`` is the label. Bad records raise :class:`RecordError`, or with ``skip_bad`` are counted and
    skipped (see :func:`iter_records`).
    """
    report = report if report is not None else FsnsReport()
    for index, payload in iter_records(path, skip_bad, report):
        where = f"{path}:record {index}"
        try:
            rec = parse_fsns(payload, where)
        except RecordError as e:
            if not skip_bad:
                raise
            report.skip(e.reason, str(e))
            continue
        if (why := class_mismatch(rec, charset)) is not None:
            report.mismatch(why)
        yield rec


def png_size(png: bytes, where: str = "image") -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk."""
    if len(png) < 24 or not png.startswith(_PNG_SIGNATURE) or png[12:16] != b"IHDR":
        raise DataError(f"{where}: not a PNG file")
    return struct.unpack(">II", png[16:24])


def fsns_example(png: bytes, text: str, charset: Charset, orig_width: int | None = None, where: str = "") -> bytes:
    """One serialised FSNS ``tf.train.Example`` (ids in the charset file's numbering, as in FSNS)."""
    if charset.source_null is None:
        raise DataError(f"charset {charset.name} has no <nul> id, so it cannot write FSNS class arrays")
    ids = [charset.source_ids[t - charset.offset] for t in charset.encode(text, where)]
    if len(ids) > MAX_LABEL:
        raise DataError(f"{where}: label {text!r} is longer than FSNS's {MAX_LABEL} characters")
    width, height = png_size(png, where)
    return encode_example({
        "image/encoded": [png], "image/format": [b"PNG"], "image/width": [width],
        "image/orig_width": [width if orig_width is None else orig_width],
        "image/class": ids + [charset.source_null] * (MAX_LABEL - len(ids)), "image/unpadded_class": ids,
        "image/text": [text.encode("utf-8")], "image/height": [height]})


def write_fsns(path: str | Path, samples: Iterable[tuple[bytes, str]], charset: Charset,
               orig_width: int | None = None) -> int:
    """Write ``(PNG bytes, text)`` samples as one FSNS TFRecord file (atomically); returns the record count.

    ``image/width``/``image/height`` come from the PNG header (600 and 150 for FSNS-shaped images);
    ``orig_width`` defaults to the width, which attention_ocr reads as 4 views.
    """
    path = Path(path)
    return write_records(path, (fsns_example(png, text, charset, orig_width, f"{path}: sample {i}")
                                for i, (png, text) in enumerate(samples)))


def shard_paths(root: str | Path, split: str) -> list[Path]:
    """The split's TFRecord files in name order: ``root/split/split*`` (FSNS's layout) or else ``root/split-*``."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: no such folder of FSNS TFRecord files")
    folder = root / split
    found = sorted(p for p in folder.glob(f"{split}*") if p.is_file()) if folder.is_dir() else []
    found = found or sorted(p for p in root.glob(f"{split}-*") if p.is_file())
    if not found:
        raise DataError(f"{root}: no {split} files (looked for {folder}/{split}* and {root}/{split}-*)")
    return found


def folder_shards(folder: str | Path) -> list[Path]:
    """Every TFRecord shard of a folder (its visible files, in name order); DataError if none."""
    folder = Path(folder)
    shards = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    if not shards:
        raise DataError(f"{folder}: no TFRecord files in this folder")
    return shards


def read_records(path: Path) -> Iterator[tuple[int, bytes]]:
    """Streaming reader: like :func:`iter_records`, but a corrupt record is skipped with a warning instead of
    stopping training (its CRC failure is logged once, naming file and record)."""
    report = SkipReport()
    yield from iter_records(path, skip_bad=True, report=report)
    for message in report.examples:
        log.warning("skipped: %s", message)
