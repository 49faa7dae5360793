"""Fuzz targets: one function per kind of input seqocr takes from a user or a file, each ``target(data: bytes)``.

The contract every target checks: the code under test returns a result, or raises a :class:`SeqocrError` whose
message is one line; any other exception is a crash (the runner keeps the input). The runner adds the other two
halves of the contract: a time limit per input and a memory limit (``scripts/fuzz.py``).

Each target feeds ``data`` to the very functions the command line and the service call, through real files in a
private temporary folder: the TFRecord reader and the training stream, LMDB datasets, image decoding, labels
files, YAML configs and ``--set``, ``.pt`` checkpoints, ``.safetensors`` weights, and the HTTP API (in process,
through the ASGI app, with a stub reader: this target is about parsing requests, not reading signs).
"""

from __future__ import annotations

import asyncio
import functools
import io
import random
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from seqocr.charset import Charset
from seqocr.errors import SeqocrError
from seqocr.imaging.preprocess import DEFAULT_MAX_PIXELS, ImageSpec, eval_transform, load_image, train_transform
from seqocr.inference.reader import Reader

SPEC = ImageSpec(16, 16, 4)  # small views: the targets test decoding and framing, not resizing speed
MAX_CHARS = 37


class ContractError(AssertionError):
    """A SeqocrError that is not one line: the CLI would print a broken message."""


def expect(fn: Callable, *args, **kwargs):
    """``fn(*args, **kwargs)``, or None when it raised a SeqocrError of one line (the contract)."""
    try:
        return fn(*args, **kwargs)
    except SeqocrError as e:
        message = str(e)
        if not message or "\n" in message or "\r" in message:
            raise ContractError(f"{type(e).__name__} not on one line: {message!r}") from e
        return None


@functools.cache
def workdir() -> Path:
    """This process's scratch folder (removed at exit by the runner's temporary-folder cleanup)."""
    return Path(tempfile.mkdtemp(prefix="seqocr-fuzz-"))


@functools.cache
def charset() -> Charset:
    return Charset.fsns()


def _write(name: str, data: bytes) -> Path:
    path = workdir() / name
    path.write_bytes(data)
    return path


# -- TFRecord ---------------------------------------------------------------------------------------------------
def _stream_items(path: Path) -> None:
    """Every item the training stream makes of the file (framing, Example parsing, label checks, image decoding)."""
    from seqocr.data.stream import ShardStream
    from seqocr.data.tfrecord import parse_fsns, read_records

    stream = ShardStream([path], read_records, parse_fsns, SPEC, charset(), MAX_CHARS, shuffle=False, epochs=1)
    for _ in stream:
        pass


def tfrecord(data: bytes) -> None:
    """A TFRecord file as it is on disk: lengths, checksums, truncation, then what the records hold."""
    from seqocr.data.tfrecord import FsnsReport, read_fsns

    path = _write("shard.tfrecord", data)
    expect(lambda: list(read_fsns(path, charset())))
    expect(lambda: list(read_fsns(path, charset(), skip_bad=True, report=FsnsReport())))
    expect(_stream_items, path)


def tf_example(data: bytes) -> None:
    """One record's payload, framed with correct checksums, so that mutations reach the Example parsing."""
    from seqocr.data.tfrecord import write_records

    path = workdir() / "example.tfrecord"
    write_records(path, [data, data[: len(data) // 2]])
    tfrecord(path.read_bytes())


# -- LMDB -------------------------------------------------------------------------------------------------------
ENTRY_SEP = b"\xff\xfe"  # between the entries of the lmdb target's input: KEY=VALUE ENTRY_SEP KEY=VALUE ...


def lmdb_entries(data: bytes) -> dict[bytes, bytes]:
    """The (key, value) pairs of the lmdb target's input; an entry with no ``=`` is a key with an empty value."""
    out = {}
    for entry in data.split(ENTRY_SEP):
        key, _, value = entry.partition(b"=")
        if key and len(key) <= 511:  # LMDB's own key size limit: not ours to test
            out[key] = value
    return out


def lmdb(data: bytes) -> None:
    """An LMDB database whose keys and values are the input (missing keys, wrong types, huge or negative
    num-samples, bad labels, bad images), read as training reads it: the dataset, then every item."""
    import lmdb as lmdb_lib

    from seqocr.data.datasets import LmdbDataset
    from seqocr.data.lmdb_store import close_env

    path = workdir() / "db"
    shutil.rmtree(path, ignore_errors=True)
    with lmdb_lib.open(str(path), map_size=64 << 20, subdir=True) as env, env.begin(write=True) as txn:
        for key, value in lmdb_entries(data).items():
            txn.put(key, value)
    try:
        ds = expect(LmdbDataset, path, charset(), SPEC, MAX_CHARS, max_skip_fraction=1.0)
        for i in range(len(ds) if ds is not None else 0):
            ds[i]
    finally:
        close_env(path)


# -- images -----------------------------------------------------------------------------------------------------
def image(data: bytes) -> None:
    """Image bytes decoded as the service does (pixel limit from the header) and as training does (no limit of
    ours), then resized as evaluation and augmented as training."""
    img = expect(load_image, data, "fuzz", max_pixels=DEFAULT_MAX_PIXELS)
    if img is not None:
        eval_transform(img, SPEC)
        train_transform(img, SPEC, random.Random(len(data)))
    if len(data) < 4096:  # a large input takes the path above only: it is the expensive one
        expect(load_image, data, "fuzz")


# -- labels files -----------------------------------------------------------------------------------------------
def _labels_folder() -> Path:
    folder = workdir() / "labels"
    if not folder.is_dir():
        folder.mkdir()
        buf = io.BytesIO()
        from PIL import Image

        Image.new("RGB", (64, 16), (200, 200, 200)).save(buf, format="PNG")
        (folder / "a.png").write_bytes(buf.getvalue())
        (folder / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    return folder


def labels(data: bytes) -> None:
    """A labels file (encodings, BOM, CRLF, NUL bytes, long lines, tabs in text), read by every reader of one:
    training's dataset and its items, ``pack``'s source and the torch-free evaluation."""
    from seqocr.data import iter_labelled
    from seqocr.data.datasets import LabelsDataset
    from seqocr.data.labels import SkipReport
    from seqocr.data.sources import LabelsSource

    path = _labels_folder() / "labels.tsv"
    path.write_bytes(data)
    ds = expect(LabelsDataset, str(path), charset(), SPEC, MAX_CHARS, max_skip_fraction=1.0)
    for i in range(len(ds) if ds is not None else 0):
        ds[i]
    source = expect(LabelsSource, str(path))  # as pack reads it: the count first, then each image as stored
    if source is not None and expect(source.raw_count) is not None:
        expect(lambda: list(source.raw(None, SkipReport())))
    expect(lambda: list(iter_labelled(str(path), charset(), MAX_CHARS, max_skip_fraction=1.0, warn=lambda _: None)))


def labels_roundtrip(data: bytes) -> None:
    """Property: rows written by ``write_labels`` read back unchanged, whatever the characters, as long as a name
    holds no tab and neither holds a line break."""
    from seqocr.data.labels import label_rows, write_labels

    text = data.decode("utf-8", errors="replace")
    rows = []
    for line in text.split("\n"):
        name, _, label = line.replace("\r", "").partition("\t")
        if name.strip() and label.strip() and not name.startswith("\ufeff"):
            rows.append((name, label))
    if not rows:
        return
    path = workdir() / "roundtrip.tsv"
    write_labels(path, rows)
    back = [(name, label) for _, name, label in label_rows(path)]
    assert back == rows, f"labels file round trip: wrote {rows!r}, read {back!r}"


# -- configs ----------------------------------------------------------------------------------------------------
SET_MARK = b"\n--set\n"  # the config target's input: YAML, then SET_MARK, then one --set item per line


def config(data: bytes) -> None:
    """A YAML config (wrong types, anchors, huge numbers, not UTF-8) and ``--set`` values, read and checked by its
    architecture as every command does; a config that loads must survive its own round trip through a dict."""
    from seqocr.config import Config, load_config
    from seqocr.model import check_config

    yaml_part, _, sets = data.partition(SET_MARK)
    path = _write("config.yaml", yaml_part)
    overrides = [line for line in sets.decode("utf-8", errors="replace").split("\n") if line]
    cfg = expect(lambda *args: check_config(load_config(*args)), path, overrides)
    if cfg is not None:
        assert Config.from_dict(cfg.to_dict()).to_dict() == cfg.to_dict()


# -- weights ----------------------------------------------------------------------------------------------------
def _load_and_read(path: Path) -> None:
    import torch

    from seqocr.model.weights import load_model

    loaded = expect(load_model, path)
    if loaded is not None:
        model, cfg, _, _ = loaded
        m = cfg.model
        with torch.no_grad():
            model.greedy(torch.zeros(1, 3, m.view_height, m.num_views * m.view_width))


def checkpoint(data: bytes) -> None:
    """A training checkpoint (``.pt``: a zip holding a pickle), loaded as ``read``/``serve``/``export`` load it."""
    _load_and_read(_write("model.pt", data))


def safetensors(data: bytes) -> None:
    """Exported weights (``.safetensors``: a JSON header, raw tensors, our config in the metadata)."""
    _load_and_read(_write("model.safetensors", data))


# -- HTTP -------------------------------------------------------------------------------------------------------
class StubReader(Reader):
    """A reader that reads nothing: one fixed reading per image, so the http target exercises only the API."""

    spec = SPEC
    charset = Charset.fsns()  # what /healthz names and /v1/dataset checks labels against

    def read_arrays(self, batch: np.ndarray, **options):
        from seqocr.inference.postprocess import Reading

        return [Reading("x", 0.5, [0.5]) for _ in batch]


@functools.cache
def _app():
    from seqocr.serve import Limits, create_app

    return create_app(StubReader(), Limits(max_body_bytes=256 * 1024, max_images=8, max_pixels=1 << 20))


@functools.cache
def _loop() -> asyncio.AbstractEventLoop:
    return asyncio.new_event_loop()


CHUNK = b"\x00CHUNK\x00"  # in the http target's body: where one received chunk ends and the next begins


def split_request(data: bytes) -> tuple[list[tuple[bytes, bytes]], list[bytes]]:
    """The http target's input: header lines (``name: value``), a blank line, then the body; :data:`CHUNK` in
    the body cuts it into the chunks the server receives one by one (how a slow upload arrives)."""
    head, _, body = data.partition(b"\n\n")
    headers = []
    for line in head.split(b"\n"):
        name, sep, value = line.partition(b":")
        if sep and name.strip():
            headers.append((name.strip().lower(), value.strip()))
    return headers, body.split(CHUNK)


async def asgi_request(app, method: str, path: str, headers: list[tuple[bytes, bytes]], chunks: list[bytes]
                       ) -> tuple[int, bytes]:
    """Send one request to an ASGI app, its body in ``chunks``; ``(status, response body)``."""
    pending = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)]
    sent: list[dict] = []

    async def receive() -> dict:
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "path": path,
             "raw_path": path.encode(), "query_string": b"", "root_path": "", "scheme": "http",
             "headers": headers, "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000)}
    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    return start["status"], b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


def http(data: bytes) -> None:
    """``POST /v1/read`` with the input's headers and body: every answer is 200 with results or a 4xx with a
    one-line ``{"error": ...}``; never a 500."""
    import json

    headers, chunks = split_request(data)
    status, body = _loop().run_until_complete(asgi_request(_app(), "POST", "/v1/read", headers, chunks))
    answer = json.loads(body)
    if status == 200:
        assert isinstance(answer["results"], list) and answer["results"], answer
    else:
        assert 400 <= status < 500, (status, answer)
        assert "\n" not in answer["error"], answer


TARGETS: dict[str, Callable[[bytes], None]] = {
    "tfrecord": tfrecord, "tf_example": tf_example, "lmdb": lmdb, "image": image, "labels": labels,
    "labels_roundtrip": labels_roundtrip, "config": config, "checkpoint": checkpoint, "safetensors": safetensors,
    "http": http,
}
