"""What every reader shares, torch-free: images in, :class:`~seqocr.postprocess.Reading`s out, in batches.

A reader supplies ``read_arrays(batch)`` for preprocessed images (N, 3, H, V·W); the PyTorch
:class:`~seqocr.predictor.Predictor` and the ONNX Runtime :class:`~seqocr.onnx_reader.OnnxReader` differ only
there, so both preprocess and decode with the very same code.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from .charset import Charset
from .config import DataConfig
from .postprocess import Reading
from .preprocess import ImageSpec, eval_transform, load_image


class Reader:
    charset: Charset
    spec: ImageSpec

    def read_arrays(self, batch: np.ndarray) -> list[Reading]:  # pragma: no cover - abstract
        raise NotImplementedError

    def read(self, images: Sequence[str | Path | Image.Image], batch_size: int = 32) -> list[Reading]:
        """Paths or PIL images -> one reading each, in order."""
        out: list[Reading] = []
        for i in range(0, len(images), batch_size):
            chunk = [im if isinstance(im, Image.Image) else load_image(im) for im in images[i:i + batch_size]]
            out += self.read_arrays(np.stack([eval_transform(im.convert("RGB"), self.spec) for im in chunk]))
        return out


def iter_labelled(source: str, charset: Charset, max_chars: int, synth_n: int = 256,
                  max_skip_fraction: float = DataConfig.max_skip_fraction):
    """``(image, text, where)`` of a labels file or a ``synth:...`` source, torch-free (for ``eval --onnx``)."""
    from .data import EVAL_SYNTH_SEED, parse_synth
    from .data.labels import read_labels
    from .errors import DataError

    if source == "synth" or source.startswith("synth:"):
        from .data.synth import synth_sample

        o = parse_synth(source, synth_n, EVAL_SYNTH_SEED, "test")
        for i in range(o["n"]):
            img, text = synth_sample(o["seed"], i, o["split"], o["invented"])
            yield img, text, f"synth:{o['split']}:{o['seed']}:{i}"
        return
    if not Path(source).is_file():
        raise DataError(f"{source}: eval --onnx reads a labels file or synth:...; evaluate an LMDB or TFRecord "
                        "source with the PyTorch model (eval --checkpoint), or convert TFRecords with `seqocr convert`")
    samples, report = read_labels(source, charset, max_chars)
    report.check(source, max_skip_fraction)  # as the PyTorch evaluation does
    if report.skipped:
        print(f"{source}: {report.summary()}", file=sys.stderr)  # stdout may be --json
    for s in samples:
        try:
            yield load_image(s.path, f"{s.where} ({s.path})"), s.text, s.where
        except DataError as e:
            yield None, str(e), s.where


def evaluate_reader(reader: Reader, samples, batch_size: int = 32):
    """Metrics and rows ``(where, gt, prediction, confidence)`` of any reader over ``(image, text, where)``."""
    from .calibration import expected_calibration_error
    from .metrics import RecognitionMeter

    meter, rows, bad, chunk = RecognitionMeter(), [], 0, []

    def flush() -> None:
        readings = reader.read([im for im, _, _ in chunk], batch_size)
        meter.update([t for _, t, _ in chunk], [r.text for r in readings])
        rows.extend((w, t, r.text, r.confidence) for (_, t, w), r in zip(chunk, readings))
        chunk.clear()

    for item in samples:
        if item[0] is None:
            bad += 1
            continue
        chunk.append(item)
        if len(chunk) == batch_size:
            flush()
    if chunk:
        flush()
    metrics = meter.compute()
    metrics["unreadable"] = bad
    metrics["ece"] = expected_calibration_error([r[3] for r in rows], [r[1] == r[2] for r in rows])
    return metrics, rows
