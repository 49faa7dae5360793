"""Small builders used by several test files: tiny models and configs, generated and FSNS-format data, and the
repository's root (tests never depend on the working directory)."""

from __future__ import annotations

import contextlib
import io
import os
import random
import struct
import zlib
from pathlib import Path

import pytest
import torch
from PIL import Image

from seqocr.charset import Charset
from seqocr.config import Config, ModelConfig
from seqocr.data.labels import SkipReport
from seqocr.data.lmdb_store import SampleSource
from seqocr.data.sources import LabelsSource, SynthDefaults, SynthSource
from seqocr.data.synth import street_name, synth_sample
from seqocr.data.tfrecord import write_fsns
from seqocr.model import build_model
from seqocr.train.checkpoint import save_checkpoint

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"
SAMPLES = ROOT / "src" / "seqocr" / "resources" / "samples"


def write_synth_folder(root: Path, n: int, seed: int = 0, split: str = "train") -> Path:
    """A folder of generated images and its labels file (paths relative to it); returns the labels path."""
    (root / "img").mkdir(parents=True, exist_ok=True)
    lines = []
    for i in range(n):
        img, text = synth_sample(seed, i, split)
        img.save(root / "img" / f"{i}.png")
        lines.append(f"img/{i}.png\t{text}\n")
    labels = root / "labels.tsv"
    labels.write_text("".join(lines), encoding="utf-8")
    return labels


def tiny_model_config(name: str = "default", **kw) -> ModelConfig:
    base = {"name": name, "view_height": 16, "view_width": 16, "max_len": 8, "hidden": 16,
            "channels": [4, 8, 8, 8], "attention_dim": 8, "embed_dim": 8, "dropout": 0.0}
    base.update(kw)
    return ModelConfig().replace(**base)


def tiny_config(tmp_path, **sections) -> Config:
    cfg = Config.from_dict({"model": {**tiny_model_config(max_len=38).to_dict()}, "train": {
        "steps": 4, "batch_size": 4, "ckpt_every": 2, "log_every": 1, "out_dir": str(tmp_path / "run"),
        "warmup_steps": 1}, "data": {"val_size": 4, "augment": False}})
    for section, values in sections.items():
        if section == "model":
            cfg.model = cfg.model.replace(**values)
            continue
        for k, v in values.items():
            setattr(getattr(cfg, section), k, v)
    return cfg


def tiny_checkpoint(tmp_path, name, fsns):
    kw = {"max_len": 38} if name == "default" else {"view_height": 128, "view_width": 128, "max_len": 64}
    cfg = Config()
    cfg.model = tiny_model_config(name, **kw)
    torch.manual_seed(0)
    model = build_model(cfg.model, len(fsns))
    model.train()
    m = cfg.model
    model(torch.randn(4, 3, m.view_height, 4 * m.view_width), torch.randint(3, 50, (4, m.max_len)))  # BN stats
    path = tmp_path / f"{name}.pt"
    save_checkpoint(path, cfg=cfg, charset=fsns, model=model, step=7)
    return path


def png_header(width: int, height: int) -> bytes:
    """The first bytes of a PNG that says it is width x height: enough for Pillow to open it, nothing to decode."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) + \
        chunk(b"IEND", b"")


def small_png(i: int) -> bytes:
    """A tiny PNG whose bytes differ for every ``i`` (fast; convert never decodes images)."""
    buf = io.BytesIO()
    Image.new("RGB", (16, 4), (i % 256, i // 256 % 256, 7)).save(buf, format="PNG")
    return buf.getvalue()


def small_samples(n: int, seed: int = 0) -> list[tuple[bytes, str]]:
    """``n`` (PNG bytes, street name) pairs: tiny images, realistic FSNS labels."""
    return [(small_png(i), street_name(random.Random(seed * 1_000_003 + i))) for i in range(n)]


def synth_samples(n: int, seed: int = 0) -> list[tuple[bytes, str]]:
    """``n`` realistic 600x150 generated signs as (PNG bytes, label)."""
    out = []
    for i in range(n):
        img, text = synth_sample(seed, i)
        buf = io.BytesIO()
        img.save(buf, format="PNG")
        out.append((buf.getvalue(), text))
    return out


def write_split(root: Path, split: str, samples: list[tuple[bytes, str]], shards: int = 2,
                nested: bool = True) -> list[Path]:
    """FSNS's shard layout (``root/split/split-0000k-of-0000n``, or ``root/split-...`` if not ``nested``),
    samples dealt out in order: shard 0 holds the first ones."""
    folder = root / split if nested else root
    folder.mkdir(parents=True, exist_ok=True)
    per = -(-len(samples) // shards)
    paths = []
    for k in range(shards):
        path = folder / f"{split}-{k:05d}-of-{shards:05d}"
        write_fsns(path, samples[k * per:(k + 1) * per], Charset.fsns())
        paths.append(path)
    return paths


def record_offsets(path: Path) -> list[int]:
    """Byte offset of every record in a TFRecord file, from its length fields (no checks)."""
    data, offsets, pos = path.read_bytes(), [], 0
    while pos < len(data):
        offsets.append(pos)
        pos += 16 + struct.unpack("<Q", data[pos:pos + 8])[0]
    return offsets


def flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x40
    path.write_bytes(bytes(data))


def truncate(path: Path, size: int) -> None:
    path.write_bytes(path.read_bytes()[:size])


def skip_or_fail(reason: str):
    """Skip with ``reason``, except under CI (``CI`` set, as .ci/run's environment has it), where what is missing
    should have been installed by `make test`: there the test fails with the reason instead of hiding."""
    if os.environ.get("CI", "").lower() not in ("", "0", "false"):
        pytest.fail(f"{reason} (CI is set: make test installs it)")
    pytest.skip(reason)


def tiny_crop_checkpoint(tmp_path, crop: str, view_height: int, view_width: int) -> Path:
    """A tiny untrained model that reads with ``model.crop: crop`` (12 decoder steps), saved as ``m.pt``."""
    fsns = Charset.fsns()
    cfg = Config()
    cfg.model = tiny_model_config(max_len=12, view_height=view_height, view_width=view_width, crop=crop)
    torch.manual_seed(0)
    model = build_model(cfg.model, len(fsns)).train()
    model(torch.randn(2, 3, view_height, 4 * view_width), torch.randint(3, 50, (2, 12)))  # BatchNorm statistics
    save_checkpoint(tmp_path / "m.pt", cfg=cfg, charset=fsns, model=model, step=1)
    return tmp_path / "m.pt"


def assert_crop_reads_alike(tmp_path, crop: str, view_height: int, view_width: int) -> None:
    """A tiny model that reads with ``model.crop: crop`` reads three bundled samples alike in PyTorch and, exported,
    in ONNX Runtime (the crop travels in the checkpoint and in the ONNX file's metadata)."""
    import numpy as np

    from seqocr.inference.export import export_onnx
    from seqocr.inference.onnx_reader import OnnxReader
    from seqocr.inference.predictor import Predictor

    torch_reader = Predictor.from_checkpoint(tiny_crop_checkpoint(tmp_path, crop, view_height, view_width))
    onnx_reader = OnnxReader(export_onnx(tmp_path / "m.pt", tmp_path / "m.onnx"))
    assert torch_reader.spec.crop == onnx_reader.spec.crop == crop
    images = [str(SAMPLES / f"sign-000000{i}.png") for i in range(3)]
    got, want = onnx_reader.read(images), torch_reader.read(images)
    assert [r.text for r in got] == [r.text for r in want]
    np.testing.assert_allclose([r.confidence for r in got], [r.confidence for r in want], atol=1e-4)


@contextlib.contextmanager
def in_process(app):
    """``app`` served by uvicorn on a loopback port in a thread of this process: its base URL, then shut down."""
    import threading

    import uvicorn

    from seqocr.serve import bind

    sock = bind("127.0.0.1", 0)
    sock.listen()  # connections queue from here, whether or not the server thread has started
    server = uvicorn.Server(uvicorn.Config(app, log_level="error"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(30)


def samples_from_labels(labels_path: str | Path) -> SampleSource:
    """The images of a labels file as stored, for :func:`pack_lmdb`, which checks the labels. The file itself is
    read now (a missing file or a line without a tab raises at once); a missing image yields empty bytes."""
    source = LabelsSource(str(labels_path))
    return SampleSource(source.raw_count(), lambda: source.raw(None, SkipReport()))


def samples_from_synth(n: int, seed: int = 0, split: str = "train") -> SampleSource:
    """Generated signs, PNG-encoded, for :func:`pack_lmdb`; sample ``i`` is ``synth_sample(seed, i, split)``, its
    ``where`` the same as :class:`SynthDataset`'s."""
    source = SynthSource("synth", SynthDefaults(n, seed, split))
    return SampleSource(n, lambda: source.raw(None, SkipReport()))
