"""What every reader shares, torch-free: images in, :class:`~seqocr.inference.postprocess.Reading`s out, in batches.

A reader supplies ``read_arrays(batch)`` for preprocessed images (N, 3, H, V·W); the PyTorch
:class:`~seqocr.inference.predictor.Predictor` and the ONNX Runtime
:class:`~seqocr.inference.onnx_reader.OnnxReader` differ only there, so both preprocess and decode with the very
same code. A reader reads the images it is given: where they come from (files, datasets) is its caller's choice.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from ..charset import Charset
from ..preprocess import ImageSpec, eval_transform, load_image
from .postprocess import Reading


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
